#!/bin/bash
# make demo — a real crash loop, recovered by lastgood, in a UEFI VM.
#
# As root on a Debian 12 machine: installs what it needs, builds lastgood and
# the fake EDR sensor, and boots Debian's kernel (QEMU/TCG + OVMF) from a GPT
# disk. The sensor gets a bad content update; every boot then panics in the
# sensor's parser — until lastgood, running from the initramfs before the
# sensor loads, reads the crash record, restores the known-good content and
# the machine comes back. Each boot is narrated; the serial logs are kept in
# tests/vm/artifacts/demo/. A few minutes.
set -uo pipefail
VM_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$VM_DIR/../.." && pwd)

say() { printf '%s\n' "$*"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
        say "make demo needs root (it installs packages and builds a VM image)." >&2
        exit 1
fi

step "Setting up (packages, lastgood, kernel, sensor, disk image)"
t_setup=$(date +%s)
"$TOP/tests/install-deps.sh" >/dev/null || { say "installing build dependencies failed" >&2; exit 1; }
"$VM_DIR/deps.sh" >/dev/null || { say "installing VM dependencies failed" >&2; exit 1; }
if [[ -z ${LG_VM_BIN:-} ]]; then   # (LG_VM_BIN: use a lastgood built elsewhere)
        make -s -C "$TOP" lastgood >/dev/null || { say "building lastgood failed" >&2; exit 1; }
fi

# run.sh's machinery (sc_setup, sc_boot, …) without running its scenarios.
. "$VM_DIR/run.sh"
vm_prepare
say "kernel: Debian linux-image-$KVER   firmware: OVMF (UEFI NVRAM)   accel: $(vm_accel)"
say "sensor: fakesensor.ko (out-of-tree module), content /etc/fakesensor/rules.bin"
sc_setup demo
say "disk: GPT — ESP (systemd-boot, kernel, initrd with lastgood), root ext4, state PARTLABEL=lastgood-state"
say "setup took $(($(date +%s) - t_setup)) s"

# What lastgood printed in the initramfs this boot.
lastgood_said() {
        awk '/lgtest: root init|lgtest: SYSTEM UP|Welcome to Debian/ { exit } /lastgood/ && !/^lgtest/' "$LOG" |
                sed -E 's/^\[ *[0-9.]+\] //; s/^/      | /' | head -n 12
}
sensor_line() {
        grep -m1 'lgtest: SENSOR' "$LOG" | sed 's/^lgtest: //; s/SENSOR LOADED/sensor loaded:/; s/SENSOR NOT LOADED/sensor not loaded/'
}
narrate() {
        local what=$1
        say "boot $BOOTN ($(printf '%.0f' "$SECS") s): $what"
        local said
        said=$(lastgood_said)
        if [[ -n $said ]]; then
                say "    lastgood (initramfs, before the sensor loads):"
                say "$said"
        fi
        case $HOW in
        panic) say "    kernel: $(boot_panic_reason "$LOG")" ;;
        poweroff) say "    $(sensor_line)$( ((CONFIRMED)) && echo '; lastgood confirm: boot CONFIRMED')" ;;
        *) say "    ended: $HOW" ;;
        esac
}

step "Boot 1: a healthy machine; then the vendor pushes a content update"
sc_boot --actions "fakesensor-update content bad.rules" 2>/dev/null
narrate "healthy"
say "    update applied: $(grep -m1 -o 'fakesensor-update: .*' "$LOG" || echo '?') (content 2024.07.19-bad: a zero-filled header)"

step "The crash loop"
t0=$(date +%s.%N)
b0=$BOOTN
recovered=0
crashes=0
report_actions='echo LGTEST-STATUS2-BEGIN; lastgood status; echo LGTEST-STATUS2-END
echo LGTEST-LOG-BEGIN; lastgood log; echo LGTEST-LOG-END
lastgood log verify >/dev/null 2>&1 && echo "lgtest: LOG VERIFIED"'
for _ in 1 2 3 4 5 6; do
        sc_boot --actions "$report_actions" 2>/dev/null
        if [[ $HOW == panic ]]; then
                crashes=$((crashes + 1))
                narrate "CRASHED"
        elif ((CONFIRMED)); then
                narrate "HEALTHY AGAIN"
                recovered=1
                break
        else
                narrate "$HOW"
        fi
done
secs=$(printf '%.0f' "$(echo "$(date +%s.%N) - $t0" | bc)")

if ((recovered)); then
        step "Inside the recovered guest: lastgood status"
        sed -n '/^LGTEST-STATUS2-BEGIN/,/^LGTEST-STATUS2-END/p' "$LOG" | sed '1d;$d' | sed 's/^/    /'
        step "Inside the recovered guest: lastgood log"
        sed -n '/^LGTEST-LOG-BEGIN/,/^LGTEST-LOG-END/p' "$LOG" | sed '1d;$d' | sed 's/^/    /'
        grep -q 'lgtest: LOG VERIFIED' "$LOG" && say "    (lastgood log verify: the hash chain is intact)"
        content=$(vm_disk_cat "$DISK" root /etc/fakesensor/rules.bin | sed -n 's/^version //p')
        say
        say "serial logs: $SC_DIR/boot-*.log"
        say "VERDICT: RECOVERED — $crashes crash(es), back to a confirmed healthy boot in $((BOOTN - b0)) boots / ${secs} s, content $content restored, no one at the keyboard."
        rm -f "$DISK"
        exit 0
fi
say
say "serial logs: $SC_DIR/boot-*.log"
say "VERDICT: NOT RECOVERED — still failing after $((BOOTN - b0)) boots ($crashes crashes, ${secs} s)."
exit 1
