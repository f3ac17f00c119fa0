#!/bin/bash
# Builds the fast tier's guest (source it after lib.sh):
#   - an initramfs (busybox) that mounts the root read-only and runs the real
#     dist/initramfs-tools/scripts/local-bottom/lastgood, as initramfs-tools does;
#   - a root tree (busybox + kmod + lastgood + fakesensor) whose /sbin/init
#     mimics systemd's order: remount rw, watchdog, lastgood-boot.service's
#     fallback, the sensor's unit, lastgood confirm, then the test's actions;
#   - a GPT disk: ESP (vfat, systemd-boot, kernel, initrd; filled with
#     mtools), root (ext4 by mke2fs -d) and PARTLABEL=lastgood-state (ext4),
#     all without mounting anything on the host.

# Layout of the disk image, in MiB.
VM_ESP_START=1 VM_ESP_SIZE=64
VM_ROOT_START=65 VM_ROOT_SIZE=160
VM_STATE_START=225 VM_STATE_SIZE=32
VM_DISK_SIZE=258

# vm_copy_exec_as SRC DEST TREE — SRC installed as TREE/DEST, with its libraries.
vm_copy_exec_as() {
        local src=$1 dest=$2 tree=$3 lib
        install -D -m 0755 "$src" "$tree$dest"
        while read -r lib; do
                [[ -e $tree$lib ]] || install -D -m 0755 "$lib" "$tree$lib"
        done < <(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' | sort -u)
}

# lastgood, its libraries and those it dlopen()s (lib/dlib.h), as the
# initramfs-tools hook does.
vm_install_lastgood() {
        local bin=$1 tree=$2 lib so
        vm_copy_exec_as "$bin" /usr/sbin/lastgood "$tree"
        for so in libarchive.so.13 libefivar.so.1 libblkid.so.1 libyaml-0.so.2; do
                lib=$(ldconfig -p | awk -v l="$so" '$1 == l { print $NF; exit }')
                [[ -n $lib ]] && vm_copy_exec_as "$lib" "$lib" "$tree"
        done
        return 0
}

# vm_depmod TREE KVER — modules.dep for the modules copied into TREE.
vm_depmod() {
        local f kdir
        kdir=$(vm_kdir "$2")
        for f in modules.order modules.builtin modules.builtin.modinfo; do
                cp "$kdir/lib/modules/$2/$f" "$1/lib/modules/$2/$f"
        done
        depmod -b "$1" "$2"
}

# vm_build_initramfs KVER LASTGOOD-BIN|"" OUT
vm_build_initramfs() {
        local kver=$1 bin=$2 out=$3 tree
        tree=$(mktemp -d "$CACHE/initramfs.XXXXXX")
        vm_busybox_tree "$tree" "$kver" virtio_pci virtio_blk crc32c_generic ext4 efivarfs efi_pstore
        ln -s ../bin/busybox "$tree/sbin/modprobe"   # the kernel's modprobe_path
        vm_depmod "$tree" "$kver"
        mkdir -p "$tree/scripts/local-bottom"
        # What initramfs-tools' scripts expect from /scripts/functions.
        cat >"$tree/scripts/functions" <<'EOF'
log_success_msg() { echo "Success: $*"; }
log_failure_msg() { echo "Failure: $*"; }
log_warning_msg() { echo "Warning: $*"; }
log_begin_msg() { echo "Begin: $* ..."; }
log_end_msg() { echo "done."; }
panic() { echo "PANIC: $*"; exec sh; }
EOF
        sed -e 's|@SBINDIR@|/usr/sbin|g' -e 's|@SYSCONFDIR@|/etc|g' \
                "$TOP/dist/initramfs-tools/scripts/local-bottom/lastgood" >"$tree/scripts/local-bottom/lastgood"
        chmod 0755 "$tree/scripts/local-bottom/lastgood"
        [[ -n $bin ]] && vm_install_lastgood "$bin" "$tree"
        cat >"$tree/init" <<'EOF'
#!/bin/sh
# The fast tier's initramfs init: what initramfs-tools' init does, minus udev.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc -o nodev,noexec,nosuid proc /proc
mount -t sysfs -o nodev,noexec,nosuid sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 udev /dev
mount -t tmpfs -o nodev,nosuid,size=10%,mode=0755 tmpfs /run
echo "lgtest: initramfs"
modprobe virtio_pci
modprobe virtio_blk
# ext4 asks for crc32c through the crypto API (request_module): load it.
modprobe crc32c_generic
modprobe ext4
root=$(sed -n 's/.*root=\([^ ]*\).*/\1/p' /proc/cmdline)
dev=
for i in $(seq 1 100); do
        dev=$(findfs "$root" 2>/dev/null) && break
        sleep 0.1
done
[ -n "$dev" ] || { echo "lgtest: root $root not found"; sleep 5; poweroff -f; }
rootmnt=/root
mount -t ext4 -o ro "$dev" "$rootmnt" || { echo "lgtest: cannot mount root"; poweroff -f; }
# The harness's control disk (a tar, serial lgtest-ctl): per-boot settings.
mkdir -p /run/lgtest
# Found by its serial: virtio disks may probe in either order.
ctl=
for i in $(seq 1 50); do
        for d in /sys/block/vd*; do
                [ "$(cat "$d/serial" 2>/dev/null)" = lgtest-ctl ] && ctl=/dev/${d##*/}
        done
        [ -n "$ctl" ] && [ -b "$ctl" ] && break
        sleep 0.1
done
tar -xf "$ctl" -C /run/lgtest 2>/dev/null || echo "lgtest: no control disk"
[ -r /run/lgtest/initramfs.env ] && . /run/lgtest/initramfs.env
export rootmnt
for s in /scripts/local-bottom/*; do
        [ -x "$s" ] && "$s"
done
if [ -n "$LASTGOOD_FAULT_TRACE" ] && [ -s "$LASTGOOD_FAULT_TRACE" ]; then
        echo "LGTEST-FAULT-TRACE-BEGIN"
        cat "$LASTGOOD_FAULT_TRACE"
        echo "LGTEST-FAULT-TRACE-END"
fi
# Power cut at a fault point (scenario 6): lastgood was SIGKILLed at point N;
# reboot at once, without syncing, so unsynced writes are lost as in a real cut.
if [ -n "$LASTGOOD_FAULT_AT" ] && [ -s "$LASTGOOD_FAULT_TRACE" ] &&
   grep -q "^$LASTGOOD_FAULT_AT " "$LASTGOOD_FAULT_TRACE"; then
        echo "lgtest: POWER CUT at fault point $(grep "^$LASTGOOD_FAULT_AT " "$LASTGOOD_FAULT_TRACE")"
        echo b >/proc/sysrq-trigger
fi
mount -o move /run "$rootmnt/run"
mount -o move /dev "$rootmnt/dev"
umount /sys /proc
exec switch_root "$rootmnt" /sbin/init
EOF
        chmod 0755 "$tree/init"
        vm_cpio "$tree" "$out"
        rm -rf "$tree"
}

# vm_install_sensor TREE KVER SENSOR-DIR — the fake sensor as its vendor
# installs it: the module, its content, the update payloads and the updater;
# plus the test's lgtest-actions.
vm_install_sensor() {
        local tree=$1 kver=$2 sensor=$3
        install -D -m 0644 "$sensor/good/fakesensor.ko" "$tree/lib/modules/$kver/extra/fakesensor.ko"
        install -D -m 0644 "$sensor/good.rules" "$tree/etc/fakesensor/rules.bin"
        # The vendor's update payloads, applied by fakesensor-update.
        install -D -m 0644 "$sensor/bad.rules" "$tree/usr/share/fakesensor/updates/bad.rules"
        install -m 0644 "$sensor/spin.rules" "$sensor/good2.rules" "$tree/usr/share/fakesensor/updates/"
        install -m 0644 "$sensor/broken/fakesensor.ko" "$tree/usr/share/fakesensor/updates/fakesensor-1.1-broken.ko"
        install -m 0644 "$sensor/good/fakesensor.ko" "$tree/usr/share/fakesensor/updates/fakesensor-1.2-fixed.ko"
        # The second vendor's user-space sensor (no module): the daemon, its
        # content and its update payloads, applied by fakesensord-update.
        install -D -m 0755 "$sensor/fakesensord" "$tree/usr/sbin/fakesensord"
        install -D -m 0644 "$sensor/daemon-good.rules" "$tree/etc/fakesensord/rules.bin"
        install -D -m 0644 "$sensor/daemon-bad.rules" "$tree/usr/share/fakesensord/updates/bad.rules"
        # Not the sensors': a user's program that segfaults (scenario
        # `injection`) and one that crashes the kernel (scenario `bystander`).
        install -D -m 0755 "$sensor/segv" "$tree/usr/lib/lgtest/segv"
        install -D -m 0755 "$sensor/crashme" "$tree/usr/lib/lgtest/crashme"
        mkdir -p "$tree/usr/sbin"
        # Both tiers' last step: the harness's actions, then "POWEROFF".
        cat >"$tree/usr/sbin/lgtest-actions" <<'EOF'
#!/bin/sh
# (sh, not exec: initramfs-tools mounts /run noexec.)
if [ -f /run/lgtest/actions.sh ]; then
        echo "lgtest: running the test's actions"
        sh /run/lgtest/actions.sh
        echo "lgtest: actions done rc=$?"
fi
sync
echo "lgtest: POWEROFF"
EOF
        chmod 0755 "$tree/usr/sbin/lgtest-actions"
        cat >"$tree/usr/sbin/fakesensor-update" <<EOF
#!/bin/sh
# The sensor vendor's updater: replaces content or the module atomically.
set -e
case "\$1" in
content)
        cp "/usr/share/fakesensor/updates/\$2" /etc/fakesensor/rules.bin.new
        sync /etc/fakesensor/rules.bin.new
        mv /etc/fakesensor/rules.bin.new /etc/fakesensor/rules.bin ;;
module)
        d=/lib/modules/$kver/extra
        cp "/usr/share/fakesensor/updates/\$2" \$d/fakesensor.ko.new
        sync \$d/fakesensor.ko.new
        mv \$d/fakesensor.ko.new \$d/fakesensor.ko ;;
*)
        echo "usage: fakesensor-update content|module FILE" >&2; exit 2 ;;
esac
sync
echo "fakesensor-update: \$1 \$2 installed"
EOF
        chmod 0755 "$tree/usr/sbin/fakesensor-update"
        cat >"$tree/usr/sbin/fakesensord-update" <<'EOF'
#!/bin/sh
# fakesensord's vendor updater: replaces its content atomically.
set -e
[ "$1" = content ] || { echo "usage: fakesensord-update content FILE" >&2; exit 2; }
cp "/usr/share/fakesensord/updates/$2" /etc/fakesensord/rules.bin.new
sync /etc/fakesensord/rules.bin.new
mv /etc/fakesensord/rules.bin.new /etc/fakesensord/rules.bin
sync
echo "fakesensord-update: content $2 installed"
EOF
        chmod 0755 "$tree/usr/sbin/fakesensord-update"
}

# vm_build_root KVER LASTGOOD-BIN|"" SENSOR-DIR POLICY-FILE DIR
vm_build_root() {
        local kver=$1 bin=$2 sensor=$3 policy=$4 tree=$5 kdir ko a
        kdir=$(vm_kdir "$kver")
        rm -rf "$tree"
        mkdir -p "$tree"/{bin,sbin,usr/sbin,usr/bin,dev,proc,sys,run,tmp,mnt,root,boot/efi}
        mkdir -p "$tree"/etc/{lastgood/policy.d,fakesensor,modprobe.d,systemd/system} "$tree/var/lib/lastgood"
        chmod 1777 "$tree/tmp"
        install -m 0755 /bin/busybox "$tree/bin/busybox"
        for a in $("$tree/bin/busybox" --list); do
                case $a in modprobe | insmod | rmmod | lsmod | depmod | modinfo) continue ;; esac
                [[ -e $tree/bin/$a ]] || ln -s busybox "$tree/bin/$a"
        done
        # Real kmod: honours /etc/modprobe.d and /run/modprobe.d (blacklist,
        # install … /bin/false), which lastgood's quarantine and safe mode use.
        vm_copy_exec_as /bin/kmod /bin/kmod "$tree"
        for a in modprobe insmod rmmod lsmod depmod modinfo; do ln -s ../bin/kmod "$tree/sbin/$a"; done
        while read -r ko; do
                [[ -n $ko ]] && install -D -m 0644 "$kdir$ko" "$tree$ko"
        done < <(vm_kmod_deps "$kver" i6300esb)
        vm_install_sensor "$tree" "$kver" "$sensor"
        vm_depmod "$tree" "$kver"
        [[ -n $bin ]] && vm_install_lastgood "$bin" "$tree"
        install -m 0644 "$policy" "$tree/etc/lastgood/policy.yaml"
        printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tree/etc/passwd"
        printf 'root:x:0:\n' >"$tree/etc/group"
        echo lastgood-vm >"$tree/etc/hostname"
        cat >"$tree/sbin/init" <<'EOF'
#!/bin/sh
# The fast tier's init: systemd's order for what matters here, in a script.
# (/sbin/modprobe by path: busybox sh would run its own modprobe applet,
# which ignores modprobe.d's "install" lines; /sbin/modprobe is kmod.)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
is_mnt() { grep -q " $1 " /proc/mounts 2>/dev/null; }
is_mnt /proc || mount -t proc proc /proc
is_mnt /sys || mount -t sysfs sysfs /sys
is_mnt /dev || mount -t devtmpfs devtmpfs /dev
is_mnt /run || mount -t tmpfs tmpfs /run
# systemd-remount-fs.service
mount -o remount,rw /
hostname -F /etc/hostname
echo "lgtest: root init"
# systemd's RuntimeWatchdogSec: PID 1 pets the hardware watchdog.
if /sbin/modprobe i6300esb 2>/dev/null && [ -e /dev/watchdog ]; then
        watchdog -T 10 -t 2 /dev/watchdog && echo "lgtest: hardware watchdog armed (10 s)"
fi
is_mnt /sys/firmware/efi/efivars || mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
# lastgood-boot.service: only when the initramfs did not count this boot.
if [ ! -e /run/lastgood/booted ] && [ -x /usr/sbin/lastgood ]; then
        echo "lgtest: lastgood-boot.service fallback"
        lastgood boot
fi
# A unit is masked by a /dev/null link in /etc or /run/systemd/system:
# prints where.
unit_masked() {
        for d in /etc/systemd/system /run/systemd/system; do
                [ "$(readlink "$d/$1" 2>/dev/null)" = /dev/null ] && { echo "$d"; return 0; }
        done
        return 1
}
# fakesensor.service (ExecStart=modprobe fakesensor), unless masked.
masked=$(unit_masked fakesensor.service)
if [ -n "$masked" ]; then
        echo "lgtest: fakesensor.service is masked ($masked)"
        # Whatever else might load the module (udev, a dependency) must be
        # refused too: modprobe.d's "install fakesensor /bin/false".
        if /sbin/modprobe fakesensor 2>/dev/null; then
                echo "lgtest: modprobe fakesensor NOT blocked"
        else
                echo "lgtest: modprobe fakesensor blocked"
        fi
else
        echo "lgtest: starting fakesensor.service"
        /sbin/modprobe fakesensor || echo "lgtest: fakesensor.service failed"
fi
if grep -q '^fakesensor ' /proc/modules; then
        echo "lgtest: SENSOR LOADED build $(cat /sys/module/fakesensor/version 2>/dev/null)," \
                "$(dmesg | grep -o 'content version [^,]*' | tail -n 1)"
else
        echo "lgtest: SENSOR NOT LOADED"
fi
# fakesensord.service (Type=forking, ExecStart=/usr/sbin/fakesensord), unless
# masked: the user-space sensor, which has no module.
if [ -x /usr/sbin/fakesensord ]; then
        masked=$(unit_masked fakesensord.service)
        if [ -n "$masked" ]; then
                echo "lgtest: fakesensord.service is masked ($masked)"
        else
                echo "lgtest: starting fakesensord.service"
                /usr/sbin/fakesensord || echo "lgtest: fakesensord.service failed"
        fi
        if pidof fakesensord >/dev/null; then
                echo "lgtest: DAEMON RUNNING"
        else
                echo "lgtest: DAEMON NOT RUNNING"
        fi
fi
# What another process does just before the crash below (scenario `injection`:
# a user's program segfaults), from the control disk.
[ -f /run/lgtest/before-crash.sh ] && sh /run/lgtest/before-crash.sh
# A crash loop that is not the sensor's (scenario 5): something else on
# the system panics every boot, after the sensor is up.
if [ -e /run/lgtest/crash ]; then
        echo "lgtest: unrelated component crashing the kernel"
        echo c >/proc/sysrq-trigger
fi
echo "lgtest: SYSTEM UP"
: >/run/lgtest-up
# lastgood-confirm.service
if [ -x /usr/sbin/lastgood ]; then
        if lastgood -v confirm; then
                echo "lgtest: CONFIRMED"
        else
                echo "lgtest: CONFIRM FAILED rc=$?"
        fi
        echo "LGTEST-STATUS-BEGIN"
        lastgood status --json
        echo "LGTEST-STATUS-END"
fi
lgtest-actions
# What systemd-shutdown does before the power goes: the root read-only, which
# checkpoints the ext4 journal, so the harness's debugfs (it does not replay
# journals) reads the files this boot wrote.
mount -o remount,ro / || echo "lgtest: remount ro failed"
poweroff -f
EOF
        chmod 0755 "$tree/sbin/init"
}

# vm_build_disk ROOT-TREE KVER INITRD CMDLINE OUT
vm_build_disk() {
        local tree=$1 kver=$2 initrd=$3 cmdline=$4 out=$5 kdir tmp
        kdir=$(vm_kdir "$kver")
        tmp=$(mktemp -d "$CACHE/disk.XXXXXX")
        rm -f "$out"
        truncate -s "${VM_DISK_SIZE}M" "$out"
        sfdisk -q "$out" <<EOF
label: gpt
start=${VM_ESP_START}MiB, size=${VM_ESP_SIZE}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition"
start=${VM_ROOT_START}MiB, size=${VM_ROOT_SIZE}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="lgroot"
start=${VM_STATE_START}MiB, size=${VM_STATE_SIZE}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="lastgood-state"
EOF
        # ESP: systemd-boot as the removable-media loader, the kernel, the initrd.
        truncate -s "${VM_ESP_SIZE}M" "$tmp/esp.img"
        mkfs.vfat -n ESP "$tmp/esp.img" >/dev/null
        mmd -i "$tmp/esp.img" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
        mcopy -i "$tmp/esp.img" /usr/lib/systemd/boot/efi/systemd-bootx64.efi ::/EFI/BOOT/BOOTX64.EFI
        mcopy -i "$tmp/esp.img" "$kdir/boot/vmlinuz-$kver" ::/vmlinuz
        mcopy -i "$tmp/esp.img" "$initrd" ::/initrd.img
        printf 'default lastgood-vm.conf\ntimeout 0\nconsole-mode keep\n' >"$tmp/loader.conf"
        printf 'title lastgood VM\nlinux /vmlinuz\ninitrd /initrd.img\noptions %s\n' "$cmdline" >"$tmp/entry.conf"
        mcopy -i "$tmp/esp.img" "$tmp/loader.conf" ::/loader/loader.conf
        mcopy -i "$tmp/esp.img" "$tmp/entry.conf" ::/loader/entries/lastgood-vm.conf
        # Root and state: ext4 filled from the staging tree, no mounts.
        mke2fs -q -t ext4 -L lgroot -d "$tree" "$tmp/root.img" "${VM_ROOT_SIZE}M" >/dev/null
        mke2fs -q -t ext4 -L lgstate "$tmp/state.img" "${VM_STATE_SIZE}M" >/dev/null
        dd if="$tmp/esp.img" of="$out" bs=1M seek="$VM_ESP_START" conv=notrunc,sparse status=none
        dd if="$tmp/root.img" of="$out" bs=1M seek="$VM_ROOT_START" conv=notrunc,sparse status=none
        dd if="$tmp/state.img" of="$out" bs=1M seek="$VM_STATE_START" conv=notrunc,sparse status=none
        rm -rf "$tmp"
}

# vm_part_offset root|state — byte offset of that partition in the disk image.
vm_part_offset() {
        case $1 in
        root) echo $((VM_ROOT_START * 1048576)) ;;
        state) echo $((VM_STATE_START * 1048576)) ;;
        esac
}

# Reads a file out of the disk's root or state filesystem without mounting
# (debugfs on "image?offset=N"): vm_disk_cat DISK root|state PATH
vm_disk_cat() { debugfs -R "cat $3" "$1?offset=$(vm_part_offset "$2")" 2>/dev/null; }

# vm_disk_ls DISK root|state DIR — debugfs's ls -l of DIR.
vm_disk_ls() { debugfs -R "ls -l $3" "$1?offset=$(vm_part_offset "$2")" 2>/dev/null; }

# vm_disk_rdump DISK root|state DIR DEST — copies DIR out of the image into DEST/.
vm_disk_rdump() {
        rm -rf "$4"
        mkdir -p "$4"
        debugfs -R "rdump $3 $4" "$1?offset=$(vm_part_offset "$2")" >/dev/null 2>&1
}

# vm_control TAR [FILE-NAME CONTENT]… — the per-boot control disk (a tar that
# the guest finds by its serial, lgtest-ctl): initramfs.env, actions.sh, crash.
vm_control() {
        local out=$1 d
        shift
        d=$(mktemp -d "$CACHE/ctl.XXXXXX")
        while (($# >= 2)); do
                printf '%s\n' "$2" >"$d/$1"
                chmod 0755 "$d/$1"
                shift 2
        done
        tar -C "$d" -cf "$out" .
        # A whole number of 512-byte sectors, and never empty.
        truncate -s 64K "$out"
        rm -rf "$d"
}

# vm_boot DISK VARS CONTROL LOG [extra QEMU args…] — one boot of the disk.
vm_boot() {
        local disk=$1 vars=$2 ctl=$3 log=$4
        shift 4
        vm_run "$log" "$BOOT_TIMEOUT" \
                -drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE" \
                -drive "if=pflash,format=raw,file=$vars" \
                -drive "if=virtio,format=raw,file=$disk,cache=unsafe" \
                -drive "if=none,id=lgctl,format=raw,file=$ctl,readonly=on" \
                -device virtio-blk-pci,drive=lgctl,serial=lgtest-ctl \
                -device i6300esb "$@"
}
