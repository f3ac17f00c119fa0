#!/bin/sh
# lastgood — dracut pre-pivot hook (the root is mounted, normally read-only,
# at $NEWROOT; nothing has started from it yet). The dracut twin of
# dist/initramfs-tools/scripts/local-bottom/lastgood.
#
# Counts this boot durably and, when the machine is in a crash loop, performs
# the recovery step (restore content, quarantine, safe mode) before the
# security components on the root get a chance to start. lastgood remounts
# the root read-write itself, and only when a step must write.
#
# dracut *sources* hooks (into /init, or dracut-pre-pivot.service's shell):
# an `exit` or a failing command under `set -e` here would end that shell and
# the boot with it. So everything is in a function that returns, never exits,
# and every failure is logged and ignored: this hook never fails the boot.

lastgood_mounted() { # lastgood_mounted DIR — is DIR a mount point?
        while read -r _lg_dev _lg_mnt _lg_rest; do
                [ "$_lg_mnt" = "$1" ] && return 0
        done </proc/mounts
        return 1
}

lastgood_pre_pivot() {
        _lg_bin=@SBINDIR@/lastgood
        _lg_root=${NEWROOT:-/sysroot}
        [ -x "$_lg_bin" ] || return 0
        [ -d "$_lg_root" ] || return 0

        # UEFI variables (state backend, safe-mode requests) and the previous
        # boots' crash records. A machine without UEFI has neither (lastgood
        # then uses its file backend).
        modprobe -q efivarfs 2>/dev/null
        modprobe -q efi_pstore 2>/dev/null
        if [ -d /sys/firmware/efi/efivars ] && ! lastgood_mounted /sys/firmware/efi/efivars; then
                mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
        fi
        if [ -d /sys/fs/pstore ] && ! lastgood_mounted /sys/fs/pstore; then
                mount -t pstore pstore /sys/fs/pstore 2>/dev/null
        fi

        mkdir -p /run/lastgood
        # lastgood resolves every path beneath --root, /run included: runtime-only
        # configuration (safe mode's /run/modprobe.d, /run/systemd masks) must
        # land in this /run, the tmpfs that switch-root moves onto $NEWROOT/run —
        # not in the read-only root's empty /run directory. --runtime-root /
        # says so for safe mode; the bind mount covers every other /run path,
        # as the initramfs-tools script does.
        _lg_bound=
        if [ -d "$_lg_root/run" ] && ! lastgood_mounted "$_lg_root/run"; then
                mount -o bind /run "$_lg_root/run" 2>/dev/null && _lg_bound=1
        fi
        "$_lg_bin" --root "$_lg_root" --runtime-root / boot || echo "lastgood: boot step exited $?, continuing the boot" >&2
        if [ -n "$_lg_bound" ]; then
                umount "$_lg_root/run" 2>/dev/null || umount -l "$_lg_root/run" 2>/dev/null ||
                        echo "lastgood: could not unmount $_lg_root/run, continuing the boot" >&2
        fi
        # Tells lastgood-boot.service that this boot is counted: /run moves to
        # the real root at switch-root.
        : >/run/lastgood/booted
        return 0
}

lastgood_pre_pivot
unset -f lastgood_pre_pivot lastgood_mounted
unset _lg_bin _lg_root _lg_bound _lg_dev _lg_mnt _lg_rest
