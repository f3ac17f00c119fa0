#!/bin/bash
# Makes the real crash records in tests/fixtures/pstore/: for each scenario,
# boots Debian 12's kernel under OVMF (real UEFI NVRAM, efi-pstore) into a
# busybox initramfs that crashes the way the scenario says; the panic
# (oops=panic panic=1) is written by efi-pstore into the NVRAM; a second boot
# with the same NVRAM mounts pstore and prints each record base64-encoded on
# the serial console, from which this script writes the files.
#
#   sensor-content   fakesensor parsing malformed content: NULL dereference
#   sensor-module    a broken fakesensor build: NULL call at load, any content
#   sysrq            an unrelated panic, echo c > /proc/sysrq-trigger, no module
#   sysrq-sensor-loaded  the same panic with a healthy fakesensor loaded
#                    (tainted OE, yet not the culprit)
#   injected-segfault  the same, and just before it a program whose file name
#                    holds oops lines (lib.sh's VM_INJECT_SH) segfaults
#
# Usage: tests/vm/make-pstore-fixtures.sh [SCENARIO…]   (as root; ~1 min each)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$VM_DIR/deps.sh" >&2
kver=$("$VM_DIR/kernel.sh")
sensor=$("$VM_DIR/sensor/build.sh" "$kver")
kdir=$(vm_kdir "$kver")
out_root=$TOP/tests/fixtures/pstore
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(sensor-content sensor-module sysrq sysrq-sensor-loaded injected-segfault)

work=$CACHE/fixtures
rm -rf "$work"
mkdir -p "$work"
tree=$work/initramfs
vm_busybox_tree "$tree" "$kver" efivarfs efi_pstore
install -D -m 0644 "$sensor/good/fakesensor.ko" "$tree/opt/good/fakesensor.ko"
install -D -m 0644 "$sensor/broken/fakesensor.ko" "$tree/opt/broken/fakesensor.ko"
install -D -m 0644 "$sensor/bad.rules" "$tree/opt/bad.rules"
install -D -m 0644 "$sensor/good.rules" "$tree/opt/good.rules"
install -D -m 0755 "$sensor/segv" "$tree/usr/lib/lgtest/segv"
printf '%s\n' "$VM_INJECT_SH" >"$tree/opt/inject.sh"
cat >"$tree/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r ko; do insmod "$ko"; done </etc/modules.order
mount -t efivarfs efivarfs /sys/firmware/efi/efivars
mount -t pstore pstore /sys/fs/pstore
mode=$(sed -n 's/.*lgfix=\([a-z-]*\).*/\1/p' /proc/cmdline)
set -- /sys/fs/pstore/dmesg-*
if [ -e "$1" ]; then
        # Kernel messages on the console would land inside the base64.
        echo 1 >/proc/sys/kernel/printk
        for f in "$@"; do
                echo "LGFIX-BEGIN ${f##*/}"
                base64 "$f"
                echo "LGFIX-END"
                rm -f "$f"   # efi-pstore records live in NVRAM: free it
        done
        echo "LGFIX-DONE"
        poweroff -f
fi
mkdir -p /etc/fakesensor
case "$mode" in
sensor-content)
        cp /opt/bad.rules /etc/fakesensor/rules.bin
        insmod /opt/good/fakesensor.ko ;;
sensor-module)
        cp /opt/good.rules /etc/fakesensor/rules.bin
        insmod /opt/broken/fakesensor.ko ;;
sysrq)
        echo c >/proc/sysrq-trigger ;;
sysrq-sensor-loaded)
        cp /opt/good.rules /etc/fakesensor/rules.bin
        insmod /opt/good/fakesensor.ko
        echo c >/proc/sysrq-trigger ;;
injected-segfault)
        cp /opt/good.rules /etc/fakesensor/rules.bin
        insmod /opt/good/fakesensor.ko
        sh /opt/inject.sh
        echo c >/proc/sysrq-trigger ;;
esac
echo "LGFIX-NOCRASH"
poweroff -f
INIT
chmod 0755 "$tree/init"
vm_cpio "$tree" "$work/initrd.img"

for sc in "${scenarios[@]}"; do
        vm_log "fixture $sc"
        logs=$ARTIFACTS/fixtures/$sc
        rm -rf "$logs"
        mkdir -p "$logs"
        vars=$work/vars-$sc.fd
        vm_fresh_vars "$vars"
        for n in 1 2; do
                how=$(vm_run "$logs/boot-$n.log" "$BOOT_TIMEOUT" \
                        -drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE" \
                        -drive "if=pflash,format=raw,file=$vars" \
                        -kernel "$kdir/boot/vmlinuz-$kver" -initrd "$work/initrd.img" \
                        -append "console=ttyS0 oops=panic panic=1 lgfix=$sc")
                vm_log "  boot $n: $how"
        done
        grep -q LGFIX-DONE "$logs/boot-2.log" || vm_die "$sc: no records printed (see $logs)"
        dest=$out_root/$sc
        rm -rf "$dest"
        mkdir -p "$dest"
        tr -d '\r' <"$logs/boot-2.log" | awk -v dest="$dest" '
                /^LGFIX-BEGIN / { name = $2; file = dest "/" name ".b64"; next }
                /^LGFIX-END/ { close(file); name = ""; next }
                name != "" { print > file }'
        for f in "$dest"/*.b64; do
                base64 -d "$f" >"${f%.b64}"
                rm -f "$f"
        done
        ls -l "$dest" >&2
done
