#!/bin/bash
# lastgood — dracut module: what dist/initramfs-tools/hooks/lastgood does for
# initramfs-tools. Puts lastgood, the shared libraries it links and those it
# loads at run time (lib/dlib.h), the kernel modules its boot
# step loads, the policy and the pre-pivot hook into the initrd.
#
# The hook runs at dracut's pre-pivot point (the root is mounted at $NEWROOT,
# nothing has started from it, switch-root comes next). Both kinds of dracut
# initrd run it: the shell-based one from its /init, the systemd-based one
# (dracut's systemd module, which Debian's and Fedora's dracut use whenever
# systemd is installed) from dracut-pre-pivot.service (After=initrd.target
# sysroot.mount, Before=initrd-cleanup.service, so before
# initrd-switch-root.target). One hook, no unit of our own.

# Included whenever lastgood is installed: it is not a host-specific driver.
check() {
        require_binaries @SBINDIR@/lastgood || return 1
        return 0
}

depends() {
        return 0
}

installkernel() {
        # hostonly='': these are loaded at boot whatever the build host had
        # loaded. The ESP (vfat) carries helpdesk request files, with the code
        # pages its default mount options need. Missing ones (built in, or a
        # kernel without UEFI) are skipped: instmods without -c is optional.
        hostonly='' instmods efivarfs efi_pstore vfat nls_cp437 nls_ascii
}

install() {
        inst_multiple @SBINDIR@/lastgood
        # dlopen()ed where needed (lib/dlib.h), so ldd does not list them:
        # libarchive for restores, libefivar where efivarfs exists, libblkid
        # to find devices, libyaml to parse a policy not yet compiled. Their
        # own dependencies (libxml2, libbz2, ICU, …) are installed from their
        # ldd lists: dracut-install resolves dependencies of executable files
        # only, and Debian ships libraries 0644 (without this the VM test's
        # restore failed in the initrd: dlopen, ENOPKG).
        local _dir _dep _lib
        for _lib in libarchive.so.13 libefivar.so.1 libblkid.so.1 libyaml-0.so.2; do
                for _dir in $libdirs; do
                        [[ -e $_dir/$_lib ]] || continue
                        inst_library "$_dir/$_lib"
                        for _dep in $(ldd "$_dir/$_lib" 2>/dev/null | sed -n 's|.* => \(/[^ ]*\) .*|\1|p'); do
                                inst_library "$_dep"
                        done
                        break
                done
        done
        inst_multiple -o modprobe mount umount mkdir
        inst_hook pre-pivot 50 "$moddir/lastgood-pre-pivot.sh"
        # The policy, for the record of what the initrd was built with. At boot
        # lastgood reads the root's own policy (--root), which admins edit.
        if [[ -d $dracutsysrootdir@SYSCONFDIR@/lastgood ]]; then
                mkdir -p "$initdir@SYSCONFDIR@/lastgood"
                cp -a "$dracutsysrootdir@SYSCONFDIR@/lastgood/." "$initdir@SYSCONFDIR@/lastgood/"
        fi
}
