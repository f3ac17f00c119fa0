#!/bin/bash
# make check-vm — end-to-end crash-loop tests in a UEFI VM (issue 4, §2).
#
#   tests/vm/run.sh [SCENARIO…]
#
# Scenarios: content nopstore daemon module safemode unrelated bystander
# powercut hang helpdesk injection forged control (default: all). Each boots Debian 12's kernel under
# QEMU/TCG + OVMF from a GPT disk built without mounts, lastgood running from
# the initramfs, and asserts on the serial logs
# (tests/vm/artifacts/<scenario>/boot-N.log), on the disk afterwards
# (debugfs, no mount) and on the UEFI NVRAM (the OVMF variable store file). `control` is scenario 1 with lastgood removed from
# the image: it must NOT recover, which proves lastgood is what recovers.
#
# Environment: LG_VM_BIN (the lastgood binary to put in the guest, default
# ./lastgood), LG_VM_BOOT_TIMEOUT (s per boot, default 180), LG_VM_KEEP=1
# (keep disk images in cache/run).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$VM_DIR/image.sh"

ALL=(content nopstore daemon module safemode unrelated bystander powercut hang helpdesk injection forged control)
BASE_CMDLINE="root=LABEL=lgroot ro console=ttyS0,115200 oops=panic panic=1 loglevel=6"

# --- setup -----------------------------------------------------------------

vm_prepare() {
        "$VM_DIR/deps.sh" >&2 || vm_die "deps"
        KVER=$("$VM_DIR/kernel.sh") || vm_die "kernel"
        SENSOR_DIR=$("$VM_DIR/sensor/build.sh" "$KVER") || vm_die "sensor build"
        LG_BIN=${LG_VM_BIN:-$TOP/lastgood}
        [[ -x $LG_BIN ]] || vm_die "no lastgood binary at $LG_BIN (make lastgood)"
        RUN=$CACHE/run
        mkdir -p "$RUN" "$ARTIFACTS"
        vm_log "kernel $KVER, accel $(vm_accel), lastgood $LG_BIN"
        vm_build_initramfs "$KVER" "$LG_BIN" "$RUN/initrd-lastgood.img"
        vm_build_initramfs "$KVER" "" "$RUN/initrd-none.img"
}

# The power-cut scenario needs lastgood's fault points (a release build with
# -DLASTGOOD_FAULT_INJECTION: no sanitizers, so it runs in the guest as is).
vm_fault_build() {
        local b=$CACHE/build-fault
        make -s -C "$TOP" BUILDDIR="$b" CC="cc -DLASTGOOD_FAULT_INJECTION" "$b/release/lastgood" >&2 ||
                return 1
        vm_build_initramfs "$KVER" "$b/release/lastgood" "$RUN/initrd-fault.img"
        FAULT_BIN=$b/release/lastgood
}

# sc_setup NAME [--no-lastgood] [--fault] [--cmdline EXTRA] [--policy FILE]
sc_setup() {
        SC=$1
        shift
        local with=1 fault=0 extra="" policy=$VM_DIR/policy.yaml initrd
        while (($#)); do
                case $1 in
                --no-lastgood) with=0 ;;
                --fault) fault=1 ;;
                --cmdline) extra=$2; shift ;;
                --policy) policy=$2; shift ;;
                esac
                shift
        done
        SC_DIR=$ARTIFACTS/$SC
        rm -rf "$SC_DIR"
        mkdir -p "$SC_DIR"
        DISK=$RUN/$SC.img
        VARS=$RUN/$SC.vars
        vm_fresh_vars "$VARS"
        local bin=$LG_BIN
        initrd=$RUN/initrd-lastgood.img
        if ((fault)); then
                bin=$FAULT_BIN
                initrd=$RUN/initrd-fault.img
        fi
        if ((!with)); then
                bin=""
                initrd=$RUN/initrd-none.img
        fi
        vm_build_root "$KVER" "$bin" "$SENSOR_DIR" "$policy" "$RUN/$SC.root"
        vm_build_disk "$RUN/$SC.root" "$KVER" "$initrd" "$BASE_CMDLINE $extra" "$DISK"
        rm -rf "$RUN/$SC.root"
        BOOTN=0
        SC_FAILS=0
        SC_START=$(date +%s)
}

# --- one boot, and what it looked like --------------------------------------

# sc_boot [--actions SCRIPT] [--env SHELL] [--crash] [--before-crash SCRIPT]
# — boots once (SCRIPT for --before-crash runs after the sensor's unit, just
# before the crash point, whether or not --crash is given); sets
# LOG, HOW (poweroff|panic|cut|reset|timeout), CONFIRMED (0/1), SENSOR_STATE
# (loaded|not-loaded|masked|none), SECS, and prints a one-line narration.
sc_boot() {
        local actions="" env="" crash=0 before=""
        while (($#)); do
                case $1 in
                --actions) actions=$2; shift ;;
                --env) env=$2; shift ;;
                --crash) crash=1 ;;
                --before-crash) before=$2; shift ;;
                esac
                shift
        done
        BOOTN=$((BOOTN + 1))
        LOG=$SC_DIR/boot-$BOOTN.log
        local ctl=$RUN/$SC.ctl args=()
        [[ -n $actions ]] && args+=(actions.sh "#!/bin/sh
$actions")
        [[ -n $env ]] && args+=(initramfs.env "$env")
        ((crash)) && args+=(crash "1")
        [[ -n $before ]] && args+=(before-crash.sh "$before")
        vm_control "$ctl" "${args[@]}"
        local t0 t1 how
        t0=$(date +%s.%N)
        how=$(vm_boot "$DISK" "$VARS" "$ctl" "$LOG")
        t1=$(date +%s.%N)
        SECS=$(echo "$t1 - $t0" | bc)
        tr -d '\r' <"$LOG" >"$LOG.tmp" && mv "$LOG.tmp" "$LOG"
        if [[ $how == timeout ]]; then
                HOW=timeout
        elif grep -q 'lgtest: POWER CUT' "$LOG"; then
                HOW=cut
        elif grep -qE '^\[ *[0-9.]+\] Kernel panic - not syncing' "$LOG"; then
                HOW=panic
        elif grep -q 'lgtest: POWEROFF' "$LOG"; then
                HOW=poweroff
        else
                HOW=reset
        fi
        CONFIRMED=0
        grep -q '^lgtest: CONFIRMED' "$LOG" && CONFIRMED=1
        SENSOR_STATE=none
        grep -q 'lgtest: SENSOR NOT LOADED' "$LOG" && SENSOR_STATE=not-loaded
        grep -q 'fakesensor.service is masked' "$LOG" && SENSOR_STATE=masked
        grep -q 'lgtest: SENSOR LOADED' "$LOG" && SENSOR_STATE=loaded
        awk '/^LGTEST-STATUS-BEGIN/{f=1;next} /^LGTEST-STATUS-END/{f=0} f' "$LOG" >"$SC_DIR/boot-$BOOTN.status.json"
        local why="" decision
        case $HOW in
        panic) why=" — $(boot_panic_reason "$LOG")" ;;
        reset) why=" — reset with no panic (watchdog?)" ;;
        timeout) why=" — no progress in ${BOOT_TIMEOUT}s, plug pulled" ;;
        cut) why=" — $(grep -m1 'lgtest: POWER CUT' "$LOG" | sed 's/.*POWER CUT/power cut/')" ;;
        esac
        decision=$(boot_decision "$LOG")
        echo "$BOOTN $HOW $CONFIRMED $SENSOR_STATE $SECS" >>"$SC_DIR/boots.txt"
        printf '  boot %d (%4.0fs): %s%s; sensor %s%s\n' "$BOOTN" "$SECS" "$HOW" "$why" "$SENSOR_STATE" \
                "$( ((CONFIRMED)) && echo '; CONFIRMED')" >&2
        [[ -n $decision ]] && printf '           lastgood: %s\n' "$decision" >&2
        return 0
}

# The kernel's one-line reason: the BUG/panic line and the faulting function.
boot_panic_reason() {
        local bug rip
        bug=$(grep -m1 -E '^\[ *[0-9.]+\] (BUG: |Kernel panic - not syncing: )' "$1" | sed -E 's/^\[ *[0-9.]+\] //')
        rip=$(grep -m1 -oE '^\[ *[0-9.]+\] RIP: 0010:[^ ]+( \[[a-z_0-9]+\])?' "$1" | sed 's/.*RIP: 0010://')
        echo "${bug}${rip:+ at $rip}"
}

# lastgood's own lines from the early boot (its mode/decision): everything it
# said before the root's userspace took over.
boot_decision() {
        awk '/lgtest: root init|lgtest: SYSTEM UP|Welcome to Debian/ { exit } /lastgood/ && !/^lgtest/' "$1" |
                sed -E 's/^\[ *[0-9.]+\] //' | head -n 4 | paste -sd '|' | sed 's/|/ | /g'
}

# --- assertions ------------------------------------------------------------

ok() { printf '    ok: %s\n' "$*" >&2; }
bad() {
        printf '    FAIL: %s\n' "$*" >&2
        SC_FAILS=$((SC_FAILS + 1))
}
check() { # check "description" command…
        local d=$1
        shift
        if "$@"; then ok "$d"; else bad "$d"; fi
}
log_has() { grep -qE -- "$2" "$1"; }
disk_file_is() { # disk_file_is root|state PATH EXPECTED-FILE
        cmp -s <(vm_disk_cat "$DISK" "$1" "$2") "$3"
}
# Every file beneath a directory of the guest's root, copied to the host.
# Live efi-pstore records (dump-type* variables) left in the NVRAM.
nvram_pstore_count() { python3 "$VM_DIR/ovmf-vars.py" "$VARS" | grep -c '^dump-type' || true; }
nvram_dump() { python3 "$VM_DIR/ovmf-vars.py" "$VARS" >"$SC_DIR/nvram.txt" 2>&1 || true; }

# boot_until_confirmed MAX [sc_boot args] — boots until a confirmed boot, at
# most MAX times; sets RECOVERED.
boot_until_confirmed() {
        local max=$1 i
        shift
        RECOVERED=0
        for ((i = 0; i < max; i++)); do
                sc_boot "$@"
                if ((CONFIRMED)); then
                        RECOVERED=1
                        return 0
                fi
        done
        return 0
}

sc_end() {
        nvram_dump
        local secs=$(($(date +%s) - SC_START))
        if ((SC_FAILS == 0)); then
                printf 'PASS %s (%d boots, %ds)\n' "$SC" "$BOOTN" "$secs" | tee -a "$ARTIFACTS/summary.txt" >&2
                PASSED+=("$SC")
        else
                printf 'FAIL %s (%d checks failed, %d boots, %ds; logs in %s)\n' "$SC" "$SC_FAILS" "$BOOTN" "$secs" \
                        "$SC_DIR" | tee -a "$ARTIFACTS/summary.txt" >&2
                FAILED+=("$SC")
        fi
        [[ ${LG_VM_KEEP:-0} == 1 ]] || rm -f "$DISK"
}

# Time to recovery: from the start of the first failed boot to the end of the
# confirmed one, over the boots in between (what a user waits).
ttr_begin() { TTR_T0=$(date +%s.%N); TTR_B0=$BOOTN; }
ttr_end() { # ttr_end LABEL
        local s
        ((RECOVERED)) || return 0
        s=$(echo "$(date +%s.%N) - $TTR_T0" | bc)
        printf '%s: %d boots, %.0f s from the first crash to the confirmed healthy boot\n' \
                "$1" "$((BOOTN - TTR_B0))" "$s" | tee -a "$ARTIFACTS/time-to-recovery.txt" >&2
}

# --- the scenarios ---------------------------------------------------------

# Boot 1 of most scenarios: a healthy boot (lastgood confirm snapshots the
# content as known good), then the vendor's update lands.
healthy_then_update() {
        sc_boot --actions "$1"
        check "boot 1 is healthy and confirmed" test "$HOW" = poweroff -a "$CONFIRMED" = 1
        check "boot 1 ran the sensor with the shipped content" log_has "$LOG" 'content version 2024.07.18-good'
        check "the update was applied" log_has "$LOG" 'fakesensor-update: .* installed'
}

final_report_actions='echo LGTEST-LOG-BEGIN; lastgood log; echo LGTEST-LOG-END
lastgood log verify && echo "lgtest: LOG VERIFIED"
lastgood quarantine list'
# The same with each event's evidence (key=value lines under the event).
evidence_report_actions=${final_report_actions/lastgood log;/lastgood -v log;}

# The event log printed by the last boot's report actions.
events_of() { sed -n '/LGTEST-LOG-BEGIN/,/LGTEST-LOG-END/p' "$1"; }
# The event types in it (lastgood log's 4th column: SEQ DATE TIME TYPE …).
event_types_of() { events_of "$1" | awk '$1 ~ /^[0-9]+$/ { print $4 }'; }

# Scenario 1's outcome (fast and full tiers): boot 2 crashed on the bad
# content, boot 3 restored it and was confirmed.
fast_path_checks() {
        check "boot 2 crashed in fakesensor's content parser" log_has "$SC_DIR/boot-2.log" 'RIP: 0010:fs_parse_rules.*\[fakesensor\]'
        check "recovered: a confirmed healthy boot" test "$RECOVERED" = 1
        check "recovery at the fast-path threshold (1 crash, the next boot healthy)" test "$BOOTN" = 3
        check "the healthy boot ran the sensor with the known-good content" log_has "$LOG" 'content version 2024.07.18-good'
        check "the event log verifies" log_has "$LOG" 'lgtest: LOG VERIFIED'
        check "on disk: /etc/fakesensor/rules.bin is the known-good content" disk_file_is root /etc/fakesensor/rules.bin "$SENSOR_DIR/good.rules"
}

# 1. A bad content update → crash loop → restore at the fast-path threshold.
scenario_content() {
        sc_setup content
        healthy_then_update "fakesensor-update content bad.rules"
        ttr_begin
        boot_until_confirmed 6 --actions "$final_report_actions"
        ttr_end "scenario 1 (content, attributed crash)"
        fast_path_checks
        check "lastgood said it restored fakesensor" log_has "$LOG" 'lastgood.*(restor|restore-content).*fakesensor|lastgood.*fakesensor.*restor'
        check "the event log verifies" log_has "$LOG" 'lgtest: LOG VERIFIED'
        check "the event log names the crash record as evidence" \
                bash -c "sed -n '/LGTEST-LOG-BEGIN/,/LGTEST-LOG-END/p' '$LOG' | grep -qiE 'pstore|crash record|fs_parse_rules|attribut'"
        check "on disk: /etc/fakesensor/rules.bin is the known-good content" disk_file_is root /etc/fakesensor/rules.bin "$SENSOR_DIR/good.rules"
        vm_disk_rdump "$DISK" root /var/lib/lastgood "$SC_DIR/var-lib-lastgood"
        check "on disk: the bad content is kept (quarantine/forensics)" \
                bash -c "grep -rlq '2024.07.19-bad' '$SC_DIR/var-lib-lastgood'"
        check "on disk: the crash record was archived under /var/lib/lastgood/crashes" \
                bash -c "find '$SC_DIR/var-lib-lastgood' -path '*/crashes/*' -type f -exec grep -l fs_parse_rules {} + | grep -q ."
        check "NVRAM: no efi-pstore record left behind" test "$(nvram_pstore_count)" = 0
        check "state partition: lastgood's state file exists" bash -c "vm_disk_ls '$DISK' state / | grep -q lastgood"
        sc_end
}

# 2. The same with efi-pstore disabled: the boot after the update fails with
# no crash record, and the content changed since the last confirmed boot is
# the suspect. Restoring is low impact (protection stays on), so it needs no
# max_failed_boots: the next boot restores (issue 10) — 2 boots.
scenario_nopstore() {
        sc_setup nopstore --cmdline "efi_pstore.pstore_disable=1"
        healthy_then_update "fakesensor-update content bad.rules"
        ttr_begin
        boot_until_confirmed 7 --actions "$final_report_actions"
        ttr_end "scenario 2 (content, no crash record)"
        local crashes
        crashes=$(grep -lE '^\[ *[0-9.]+\] Kernel panic - not syncing' "$SC_DIR"/boot-*.log | wc -l)
        check "recovered: a confirmed healthy boot" test "$RECOVERED" = 1
        check "restored at the first failed boot with no record (1 crash, then the healthy boot)" \
                test "$crashes" = 1 -a "$BOOTN" = 3
        check "no crash record was written (efi-pstore disabled)" test "$(nvram_pstore_count)" = 0
        check "the healthy boot ran the known-good content" log_has "$LOG" 'content version 2024.07.18-good'
        check "the event log verifies" log_has "$LOG" 'lgtest: LOG VERIFIED'
        check "on disk: /etc/fakesensor/rules.bin is the known-good content" disk_file_is root /etc/fakesensor/rules.bin "$SENSOR_DIR/good.rules"
        sc_end
}

# 2b. A user-space sensor (no module; `fakesensord`, a second component
# named by its process) loads a bad content update and crashes the kernel
# from its own process: the record names no module, only `Comm: fakesensord`
# with RIP in core sysrq code. That is strong attribution by comm: the next
# boot restores its content — 2 boots after the update.
daemon_policy() { # daemon_policy OUT — the guest policy plus fakesensord
        awk '/^recovery:/ { print "  - name: fakesensord"
                            print "    content: [/etc/fakesensord]"
                            print "    processes: [\"fakesensord\"]"
                            print "    units: [fakesensord.service]"
                            print "    quarantine: allow" }
             { print }' "$VM_DIR/policy.yaml" >"$1"
}

scenario_daemon() {
        local pol=$RUN/daemon-policy.yaml events
        daemon_policy "$pol"
        sc_setup daemon --policy "$pol"
        sc_boot --actions "fakesensord-update content bad.rules"
        check "boot 1 is healthy and confirmed" test "$HOW" = poweroff -a "$CONFIRMED" = 1
        check "boot 1 ran the daemon with its shipped content" \
                bash -c "grep -q 'fakesensord: content version 2024.08.01-good loaded' '$LOG' && grep -q 'lgtest: DAEMON RUNNING' '$LOG'"
        check "the daemon's update was applied" log_has "$LOG" 'fakesensord-update: content bad.rules installed'
        ttr_begin
        boot_until_confirmed 6 --actions "$evidence_report_actions"
        ttr_end "scenario daemon (user-space sensor, attributed by its comm)"
        local b2=$SC_DIR/boot-2.log
        check "boot 2: the daemon loaded the bad content and the kernel panicked" \
                bash -c "grep -q 'fakesensord: loading malformed content' '$b2' && grep -q 'Kernel panic - not syncing: sysrq triggered crash' '$b2'"
        check "boot 2: the crashing task is the daemon (Comm: fakesensord)" \
                log_has "$b2" '^\[ *[0-9.]+\] CPU: [0-9]+ PID: [0-9]+ Comm: fakesensord '
        check "boot 2: the kernel sensor had loaded (it is not the one that crashed)" log_has "$b2" 'lgtest: SENSOR LOADED'
        check "recovered: a confirmed healthy boot" test "$RECOVERED" = 1
        check "recovered in 2 boots after the update (1 crash, the next boot restores, confirmed)" test "$BOOTN" = 3
        check "the healthy boot ran the daemon with its known-good content" \
                bash -c "grep -q 'fakesensord: content version 2024.08.01-good loaded' '$LOG' && grep -q 'lgtest: DAEMON RUNNING' '$LOG'"
        check "the healthy boot ran the kernel sensor too" test "$SENSOR_STATE" = loaded
        events=$(events_of "$LOG")
        check "the event log: fakesensord's content restored" \
                bash -c "grep -qE '^[0-9]+ .* recovery-restore +fakesensord ' <<<\"\$1\"" _ "$events"
        check "the event log: attributed by the crashing task's comm, strong" \
                bash -c "grep -qi 'attribut' <<<\"\$1\" && grep -qE 'crashing task fakesensord \(strong\)' <<<\"\$1\"" _ "$events"
        check "the event log: the kernel sensor was never a step's target" \
                bash -c "! grep -qE '^[0-9]+ .* (recovery-[a-z-]+) +fakesensor ' <<<\"\$1\"" _ "$events"
        check "the event log verifies" log_has "$LOG" 'lgtest: LOG VERIFIED'
        check "on disk: /etc/fakesensord/rules.bin is the known-good content" \
                disk_file_is root /etc/fakesensord/rules.bin "$SENSOR_DIR/daemon-good.rules"
        check "on disk: the kernel sensor's content untouched" disk_file_is root /etc/fakesensor/rules.bin "$SENSOR_DIR/good.rules"
        check "on disk: no quarantine, no unit masked" \
                bash -c "! vm_disk_ls '$DISK' root /etc/modprobe.d | grep -q lastgood && ! vm_disk_ls '$DISK' root /etc/systemd/system | grep -q fakesensor"
        sc_end
}

# 3. A bad module update: restoring content is not enough → quarantine.
scenario_module() {
        sc_setup module
        healthy_then_update "fakesensor-update module fakesensor-1.1-broken.ko
fakesensor-update content good2.rules"
        ttr_begin
        boot_until_confirmed 8 --actions "lastgood quarantine list; lastgood quarantine list --json"
        ttr_end "scenario 3 (module, restore then quarantine)"
        check "the broken module crashed at load" log_has "$SC_DIR/boot-2.log" 'RIP: 0010:fs_attach_hooks.*\[fakesensor\]'
        check "recovered: a confirmed healthy boot" test "$RECOVERED" = 1
        check "the ladder escalated: content restored first, crash again" \
                bash -c "grep -lE '^\[ *[0-9.]+\] Kernel panic' '$SC_DIR'/boot-*.log | wc -l | grep -qE '^[2-9]'"
        check "the healthy boot runs without the sensor" test "$SENSOR_STATE" != loaded
        check "modprobe fakesensor refused (quarantine modprobe.d)" log_has "$LOG" 'lgtest: modprobe fakesensor blocked'
        check "on disk: modprobe.d quarantine file blacklists fakesensor" \
                bash -c "vm_disk_cat '$DISK' root /etc/modprobe.d/#lastgood-quarantine.conf | grep -q 'install fakesensor /bin/false'"
        check "on disk: fakesensor.service masked" \
                bash -c "vm_disk_ls '$DISK' root /etc/systemd/system | grep -q fakesensor.service"
        check "quarantine list shows fakesensor" log_has "$LOG" 'fakesensor'
        # The vendor ships a fixed module; the admin releases the quarantine.
        sc_boot --actions "fakesensor-update module fakesensor-1.2-fixed.ko
lastgood quarantine release fakesensor && echo 'lgtest: RELEASED'"
        check "quarantine release succeeded" log_has "$LOG" 'lgtest: RELEASED'
        sc_boot
        check "after release, the sensor loads again (fixed build) and the boot is confirmed" \
                test "$SENSOR_STATE" = loaded -a "$CONFIRMED" = 1
        check "on disk: no quarantine modprobe.d file left" \
                bash -c "! vm_disk_ls '$DISK' root /etc/modprobe.d | grep -q lastgood-quarantine"
        check "on disk: content back in /etc/fakesensor" \
                bash -c "vm_disk_cat '$DISK' root /etc/fakesensor/rules.bin | grep -q 'FAKESENSOR-RULES 1'"
        sc_end
}

# 4. Helpdesk safe mode: one boot without the sensor, then back to normal.
scenario_safemode() {
        sc_setup safemode
        sc_boot --actions "lastgood safe-mode --next-boot && echo 'lgtest: SAFE MODE REQUESTED'"
        check "boot 1 healthy, sensor loaded" test "$CONFIRMED" = 1 -a "$SENSOR_STATE" = loaded
        check "safe-mode --next-boot accepted" log_has "$LOG" 'lgtest: SAFE MODE REQUESTED'
        sc_boot
        check "boot 2 ran without the sensor" test "$SENSOR_STATE" != loaded
        check "boot 2: modprobe fakesensor refused too (runtime modprobe.d)" log_has "$LOG" 'lgtest: modprobe fakesensor blocked'
        check "boot 2 said safe mode" log_has "$LOG" 'lastgood.*safe'
        check "boot 2 confirmed" test "$CONFIRMED" = 1
        check "on disk: nothing persistent (no /etc/modprobe.d/lastgood*)" \
                bash -c "! vm_disk_ls '$DISK' root /etc/modprobe.d | grep -q lastgood"
        check "on disk: nothing persistent (no mask in /etc/systemd/system)" \
                bash -c "! vm_disk_ls '$DISK' root /etc/systemd/system | grep -q fakesensor"
        sc_boot
        check "boot 3 runs the sensor again" test "$SENSOR_STATE" = loaded -a "$CONFIRMED" = 1
        sc_end
}

# 5. A crash loop not caused by the sensor: nothing is disabled, and the
# event log says why.
scenario_unrelated() {
        sc_setup unrelated
        sc_boot
        check "boot 1 healthy" test "$CONFIRMED" = 1
        for _ in 1 2 3 4; do sc_boot --crash; done
        check "every crashing boot still ran the sensor" \
                bash -c "for f in '$SC_DIR'/boot-[2-5].log; do grep -q 'SENSOR LOADED' \$f || exit 1; done"
        check "the crashes were sysrq panics, not the sensor" log_has "$SC_DIR/boot-2.log" 'sysrq triggered crash'
        sc_boot --actions "$final_report_actions"
        check "boot 6 (cause gone) healthy with the sensor" test "$CONFIRMED" = 1 -a "$SENSOR_STATE" = loaded
        check "the event log explains that no component was a suspect" \
                bash -c "sed -n '/LGTEST-LOG-BEGIN/,/LGTEST-LOG-END/p' '$LOG' | grep -qiE 'suspect|no component|not attribut|unchanged'"
        check "the event log verifies" log_has "$LOG" 'lgtest: LOG VERIFIED'
        check "on disk: content untouched" disk_file_is root /etc/fakesensor/rules.bin "$SENSOR_DIR/good.rules"
        check "on disk: no quarantine" bash -c "! vm_disk_ls '$DISK' root /etc/modprobe.d | grep -q lastgood"
        sc_end
}

# 5b. The same with a fresh sensor update: fakesensor's content was updated
# to a new good version after the last confirmed boot (it "changed"), then
# another program (`crashme`) crashes the kernel at every boot. Each crash
# record names the core kernel and another process, which clears the sensor
# (recency never blames a component the record points away from): after 6
# crashes — past max_failed_boots twice over — its content (the fresh one),
# module and unit are untouched, it ran at every boot, no safe mode.
scenario_bystander() {
        sc_setup bystander
        healthy_then_update "fakesensor-update content good2.rules"
        local i f events
        for i in 1 2 3 4 5 6; do sc_boot --before-crash /usr/lib/lgtest/crashme; done
        for ((i = 2; i <= 7; i++)); do
                f=$SC_DIR/boot-$i.log
                check "boot $i: crashme's sysrq panic (Comm: crashme), the sensor loaded with the fresh content" \
                        bash -c "grep -q 'Kernel panic - not syncing: sysrq triggered crash' '$f' &&
                                 grep -qE '^\[ *[0-9.]+\] CPU: [0-9]+ PID: [0-9]+ Comm: crashme ' '$f' &&
                                 grep -q 'SENSOR LOADED.*content version 2024.07.20-good' '$f'"
                check "boot $i: lastgood took no step (no restore, quarantine or safe mode)" \
                        bash -c "! awk '/lgtest: root init/ { exit } /lastgood/' '$f' | grep -qiE 'mode=safe|restore-content|quarantin'"
        done
        sc_boot --actions "$evidence_report_actions"
        check "boot 8 (cause gone) healthy with the sensor on its fresh content" \
                test "$CONFIRMED" = 1 -a "$SENSOR_STATE" = loaded
        check "boot 8 ran the fresh content" log_has "$LOG" 'SENSOR LOADED.*content version 2024.07.20-good'
        events=$(events_of "$LOG")
        check "the event log: no suspect past max_failed_boots, each record clears fakesensor: core kernel, crashme (x4)" \
                test "$(grep -c 'no-suspect .*fakesensor: cleared: the crash was in the core kernel (crashme)' <<<"$events")" -ge 4
        check "the event log: no step taken (no restore, quarantine or safe-mode event)" \
                bash -c "! event_types_of '$LOG' | grep -qiE 'restore|quarantin|safe'"
        check "the event log verifies" log_has "$LOG" 'lgtest: LOG VERIFIED'
        check "on disk: content is the fresh update (not restored)" \
                disk_file_is root /etc/fakesensor/rules.bin "$SENSOR_DIR/good2.rules"
        check "on disk: module untouched" disk_file_is root "/lib/modules/$KVER/extra/fakesensor.ko" "$SENSOR_DIR/good/fakesensor.ko"
        check "on disk: no quarantine modprobe.d file" bash -c "! vm_disk_ls '$DISK' root /etc/modprobe.d | grep -q lastgood"
        check "on disk: fakesensor.service not masked" bash -c "! vm_disk_ls '$DISK' root /etc/systemd/system | grep -q fakesensor"
        sc_end
}

# 6. Power cuts during the restore: the next boot converges.
scenario_powercut() {
        if [[ -z ${FAULT_BIN:-} ]] && ! vm_fault_build; then
                SC=powercut SC_DIR=$ARTIFACTS/powercut BOOTN=0 SC_FAILS=0 SC_START=$(date +%s) DISK=/nonexistent VARS=/dev/null
                bad "cannot build lastgood with fault injection"
                sc_end
                return
        fi
        sc_setup powercut --fault
        healthy_then_update "fakesensor-update content bad.rules"
        sc_boot
        check "boot 2 crashed (bad content)" test "$HOW" = panic
        # Keep the crashed machine (disk + NVRAM) and replay the recovery boot
        # from it, once to list the durable steps, then once per cut point.
        cp --sparse=always "$DISK" "$RUN/powercut.base.img"
        cp "$VARS" "$RUN/powercut.base.vars"
        local trace="export LASTGOOD_FAULT_TRACE=/run/lgtest/fault.trace"
        sc_boot --env "$trace"
        awk '/^LGTEST-FAULT-TRACE-BEGIN/{f=1;next} /^LGTEST-FAULT-TRACE-END/{f=0} f' "$LOG" >"$SC_DIR/fault-points.txt"
        local n
        n=$(wc -l <"$SC_DIR/fault-points.txt")
        check "the recovery boot passed durable steps (fault points: $n)" test "$n" -gt 0
        check "the uncut recovery boot is healthy" test "$CONFIRMED" = 1
        # Where to cut: the first point of each kind, and every point of the
        # restore itself (intent, staging, exchange, keep, cleanup, state);
        # LG_VM_POWERCUT_ALL=1 cuts at every point (slow: ~45 s each).
        local points=() p
        if [[ ${LG_VM_POWERCUT_ALL:-0} == 1 ]]; then
                points=($(seq 1 "$n"))
        else
                points=($(awk '!seen[$2]++ || $2 ~ /^(restore-|snapshot-|state-write)/ { print $1 }' "$SC_DIR/fault-points.txt"))
        fi
        for p in "${points[@]}"; do
                cp --sparse=always "$RUN/powercut.base.img" "$DISK"
                cp "$RUN/powercut.base.vars" "$VARS"
                sc_boot --env "$trace
export LASTGOOD_FAULT_AT=$p"
                check "cut $p: the power was cut at point $p ($(sed -n "${p}p" "$SC_DIR/fault-points.txt"))" test "$HOW" = cut
                local c
                c=$(vm_disk_cat "$DISK" root /etc/fakesensor/rules.bin | sha256sum | cut -c1-64)
                check "cut $p: content wholly old or wholly new" \
                        test "$c" = "$(sha256sum <"$SENSOR_DIR/good.rules" | cut -c1-64)" -o "$c" = "$(sha256sum <"$SENSOR_DIR/bad.rules" | cut -c1-64)"
                boot_until_confirmed 5 --actions "$final_report_actions"
                check "cut $p: the next boots converge to a confirmed healthy boot" test "$RECOVERED" = 1
                check "cut $p: the event log still verifies" log_has "$LOG" 'lgtest: LOG VERIFIED'
                check "cut $p: with the known-good content" disk_file_is root /etc/fakesensor/rules.bin "$SENSOR_DIR/good.rules"
                check "cut $p: the count was reset (status: confirmed)" \
                        bash -c "grep -qE '\"(consecutive_failed|unconfirmed|failed_boots|count)[a-z_]*\": *0' '$SC_DIR/boot-$BOOTN.status.json'"
        done
        rm -f "$RUN/powercut.base.img" "$RUN/powercut.base.vars"
        sc_end
}

# 7. A hang with no crash: the i6300esb watchdog resets the guest; the hang
# counts as a failed boot with no crash record, so (as in scenario 2) the
# content changed since the last confirmed boot is restored at the next boot.
scenario_hang() {
        sc_setup hang
        healthy_then_update "fakesensor-update content spin.rules"
        ttr_begin
        boot_until_confirmed 7 --actions "$final_report_actions"
        ttr_end "scenario 7 (hang, watchdog reset, no crash record)"
        check "boot 2 hung in the sensor and was reset by the watchdog (no panic, no poweroff)" \
                bash -c "grep -q 'compiling rule' '$SC_DIR/boot-2.log' && ! grep -qE '^\[ *[0-9.]+\] Kernel panic' '$SC_DIR/boot-2.log' && ! grep -q 'lgtest: POWEROFF' '$SC_DIR/boot-2.log'"
        check "no boot needed the harness's timeout" bash -c "! grep -q ' timeout ' '$SC_DIR/boots.txt'"
        check "recovered: a confirmed healthy boot" test "$RECOVERED" = 1
        check "the hang counted as a failed boot: the next boot restored the changed content (2 boots)" \
                bash -c "test '$BOOTN' = 3 && grep -qE 'lastgood.*restore-content.*fakesensor' '$LOG'"
        check "the healthy boot ran the known-good content" log_has "$LOG" 'content version 2024.07.18-good'
        check "on disk: /etc/fakesensor/rules.bin is the known-good content" disk_file_is root /etc/fakesensor/rules.bin "$SENSOR_DIR/good.rules"
        sc_end
}

# 8. Helpdesk code on the kernel command line (safe_mode.require_code): a
# valid one-time code gives one safe-mode boot; the same code again is
# refused and the machine boots normally.
scenario_helpdesk() {
        local key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
        local sec=$RUN/helpdesk.secret pol=$RUN/helpdesk-policy.yaml code
        printf 'algorithm=sha256\ncounter=0\nkey=%s\n' "$key" >"$sec"
        chmod 600 "$sec"
        code=$("$LG_BIN" helpdesk code --secret-file "$sec" --counter 0 | grep -oE '^[0-9]{8}$' | head -1)
        { cat "$VM_DIR/policy.yaml"; printf 'safe_mode:\n  require_code: true\n'; } >"$pol"
        sc_setup helpdesk --cmdline "lastgood.safemode=$code" --policy "$pol"
        # Boot 1: no secret enrolled yet, so the code is refused; the boot
        # enrolls the helpdesk secret (as `lastgood helpdesk enroll` would).
        sc_boot --actions "mkdir -p /var/lib/lastgood && printf 'algorithm=sha256\\ncounter=0\\nkey=$key\\n' >/var/lib/lastgood/helpdesk.secret && chmod 600 /var/lib/lastgood/helpdesk.secret && echo 'lgtest: SECRET ENROLLED'"
        check "helpdesk code computed" test -n "$code"
        check "boot 1: no secret yet → normal boot, sensor loaded" test "$SENSOR_STATE" = loaded -a "$CONFIRMED" = 1
        check "boot 1: secret enrolled" log_has "$LOG" 'lgtest: SECRET ENROLLED'
        sc_boot
        check "boot 2: valid one-time code → safe mode, sensor off" test "$SENSOR_STATE" != loaded
        check "boot 2 said safe mode" log_has "$LOG" 'lastgood.*mode=safe'
        sc_boot
        check "boot 3: the same code again → refused, normal boot" test "$SENSOR_STATE" = loaded -a "$CONFIRMED" = 1
        check "boot 3 logged the refusal" log_has "$LOG" 'wrong or already used helpdesk code'
        sc_end
}

# 9. Planted oops lines (issue 10): at every boot a user's program whose file
# name holds "RIP: 0010:fs_init+0x85 [fakesensor]" and "Modules linked in:
# fakesensor(OE+)" segfaults, so the real kernel logs those lines (the x86
# segfault message prints the name; each '\n' starts a line), then an
# unrelated panic follows. Only the crash that killed the machine (its fatal
# block, kernel-level lines) is evidence: fakesensor is never attributed.
# Were the planted RIP read as evidence (checked with a parser that takes the
# dump's first RIP), it would be strong attribution, which needs no change:
# quarantine at the 3rd crash (restoring unchanged content is skipped), safe
# mode at the 4th. 6 crashes pass max_failed_boots twice over.
scenario_injection() {
        sc_setup injection
        sc_boot
        check "boot 1 healthy, sensor loaded" test "$CONFIRMED" = 1 -a "$SENSOR_STATE" = loaded
        local i f
        for i in 1 2 3 4 5 6; do sc_boot --crash --before-crash "$VM_INJECT_SH"; done
        check "the real kernel logged the planted lines, each with the segfault's <6> prefix (boot 2)" \
                bash -c "grep -qE '^lgtest: kmsg: <6>\[ *[0-9.]+\] RIP: 0010:fs_init\+0x85 \[fakesensor\]\$' '$SC_DIR/boot-2.log' &&
                         grep -qE '^lgtest: kmsg: <6>\[ *[0-9.]+\] Modules linked in: fakesensor\(OE\+\)\$' '$SC_DIR/boot-2.log'"
        for ((i = 2; i <= 7; i++)); do
                f=$SC_DIR/boot-$i.log
                check "boot $i: the segfault, then the unrelated sysrq panic, the sensor loaded" \
                        bash -c "grep -q 'segfault at 0' '$f' && grep -q 'sysrq triggered crash' '$f' && grep -q 'SENSOR LOADED' '$f'"
                check "boot $i: lastgood took no step and named no culprit" \
                        bash -c "! awk '/lgtest: root init/ { exit } /lastgood/' '$f' | grep -qiE 'mode=safe|restore-content|quarantin|RIP in fakesensor'"
        done
        sc_boot --actions "$final_report_actions"
        check "boot 8 (cause gone) healthy with the sensor" test "$CONFIRMED" = 1 -a "$SENSOR_STATE" = loaded
        local events
        events=$(sed -n '/LGTEST-LOG-BEGIN/,/LGTEST-LOG-END/p' "$LOG")
        check "the event log: no suspect, each record clears fakesensor (x4)" \
                test "$(grep -c 'no-suspect .*fakesensor: cleared: the crash was in the core kernel' <<<"$events")" -ge 4
        check "the event log: fakesensor cleared, the crash was in the core kernel (init)" \
                grep -q 'cleared: the crash was in the core kernel (init)' <<<"$events"
        check "the event log: no step was taken (no restore, quarantine or safe-mode event)" \
                bash -c "! awk '\$1 ~ /^[0-9]+\$/ { print \$4 }' <<<\"\$1\" | grep -qiE 'restore|quarantin|safe'" _ "$events"
        check "the event log verifies" log_has "$LOG" 'lgtest: LOG VERIFIED'
        check "on disk: content untouched" disk_file_is root /etc/fakesensor/rules.bin "$SENSOR_DIR/good.rules"
        check "on disk: module untouched" disk_file_is root "/lib/modules/$KVER/extra/fakesensor.ko" "$SENSOR_DIR/good/fakesensor.ko"
        check "on disk: no quarantine modprobe.d file" bash -c "! vm_disk_ls '$DISK' root /etc/modprobe.d | grep -q lastgood"
        check "on disk: fakesensor.service not masked" bash -c "! vm_disk_ls '$DISK' root /etc/systemd/system | grep -q fakesensor"
        vm_disk_rdump "$DISK" root /var/lib/lastgood "$SC_DIR/var-lib-lastgood"
        check "on disk: the archived crash records hold the planted RIP line" \
                bash -c "find '$SC_DIR/var-lib-lastgood' -path '*/crashes/*' -type f -exec grep -lF '] RIP: 0010:fs_init+0x85 [fakesensor]' {} + | grep -q ."
        sc_end
}

# 10. Forged state (issue 11): any OS booted on the machine can write the
# UEFI variable lastgood counts in. Between boots the host rewrites it in the
# OVMF variable store, as SetVariable() from another OS would: a record that
# says 50 failed boots, a quarantine step done against fakesensor and 2^32-1
# safe-mode boots pending — first signed with a guessed key, then in the
# older layout that has no MAC. Neither turns the sensor off: each is
# distrusted (the previous boot counts as failed; the record names no
# culprit, step or request). Control: a safe-mode request signed with the
# root's own key (read off the disk, as only root can) is honoured, once:
# proof that the forged variable is what lastgood read, and that the MAC is
# what stopped the forgeries.
STATE_VAR=LastGoodState-f36dce15-2f3f-49cd-bff5-775e57d91dcf

efivar_policy() { # efivar_policy OUT — the guest policy with state: efivar
        sed -e 's/^  state: file$/  state: efivar/' -e '/^  state_device:/d' -e '/^  state_file:/d' \
                "$VM_DIR/policy.yaml" >"$1"
}

# forge_nvram VERSION FIELD=VALUE… — replaces the state variable in $VARS by
# a record from tests/forge-state.py, one generation ahead of the live one.
forge_nvram() {
        local gen
        gen=$(python3 "$VM_DIR/ovmf-vars.py" "$VARS" --dump "$STATE_VAR" |
                python3 -c 'import struct, sys; print(struct.unpack_from("<Q", sys.stdin.buffer.read(), 8)[0])') ||
                return 1
        python3 "$TOP/tests/forge-state.py" "$RUN/forged.rec" "$1" generation=$((gen + 1)) total_boots=$((gen + 1)) \
                "${@:2}" && python3 "$VM_DIR/ovmf-vars.py" "$VARS" --set "$STATE_VAR" "$RUN/forged.rec"
}

# The fields an attacker sets to turn the sensor off (last_action 2 is
# quarantine, recovery/ladder.h).
FORGED_FIELDS=(failed_boots=50 step_failed_boots=50 in_boot=1 incident=1 ladder_step=1 last_action=2
        culprit=fakesensor safe_mode_requested=4294967295)

# forged_boot_checks WHAT — the boot after a forgery kept the sensor on.
forged_boot_checks() {
        check "$1: the boot is healthy and confirmed, the sensor loaded" test "$CONFIRMED" = 1 -a "$SENSOR_STATE" = loaded
        check "$1: lastgood distrusted the record" log_has "$LOG" 'State record .*not authenticated'
        check "$1: no safe mode, no quarantine, no restore" \
                bash -c "! awk '/lgtest: root init/ { exit } /lastgood/' '$LOG' | grep -qiE 'mode=safe|restore-content|quarantin'"
        check "$1: the record lastgood wrote back is its own again (v4, signed)" \
                bash -c "python3 '$VM_DIR/ovmf-vars.py' '$VARS' --dump $STATE_VAR | head -c 6 | cmp -s - <(printf 'LGST\\x04\\x00')"
}

scenario_forged() {
        local pol=$RUN/forged-policy.yaml events
        efivar_policy "$pol"
        sc_setup forged --policy "$pol"
        sc_boot
        check "boot 1 healthy, sensor loaded" test "$CONFIRMED" = 1 -a "$SENSOR_STATE" = loaded
        check "NVRAM: the state record is a 512-byte UEFI variable" \
                test "$(python3 "$VM_DIR/ovmf-vars.py" "$VARS" | awk -v v="$STATE_VAR" '$1 == v { print $3 }')" = 512
        check "on disk: the key that signs it is on the root file system" \
                test "$(vm_disk_cat "$DISK" root /var/lib/lastgood/state.key | wc -c)" = 32
        head -c 32 /dev/urandom >"$RUN/forged.guess"
        check "forged from outside: v4 record signed with a guessed key" \
                forge_nvram 4 "${FORGED_FIELDS[@]}" key="$RUN/forged.guess"
        sc_boot
        forged_boot_checks "boot 2 (v4, guessed key)"
        check "forged from outside: v3 record (no MAC)" forge_nvram 3 "${FORGED_FIELDS[@]}"
        sc_boot
        forged_boot_checks "boot 3 (v3, unsigned)"
        vm_disk_cat "$DISK" root /var/lib/lastgood/state.key >"$RUN/forged.key"
        check "control: a safe-mode request signed with the root's key" \
                forge_nvram 4 safe_mode_requested=1 key="$RUN/forged.key"
        sc_boot
        check "control, boot 4: the signed request is honoured (safe mode, sensor off)" \
                test "$SENSOR_STATE" != loaded -a "$CONFIRMED" = 1
        check "control, boot 4 said safe mode" log_has "$LOG" 'lastgood.*mode=safe'
        sc_boot --actions "$evidence_report_actions"
        check "boot 5: once only — normal boot, sensor loaded" test "$CONFIRMED" = 1 -a "$SENSOR_STATE" = loaded
        events=$(events_of "$LOG")
        check "the event log: both forgeries recorded as unauthenticated records" \
                test "$(grep -c 'state-corrupt .*state record is not authenticated' <<<"$events")" = 2
        check "the event log: no restore or quarantine event" \
                bash -c "! event_types_of '$LOG' | grep -qiE 'restore|quarantin'"
        check "the event log verifies" log_has "$LOG" 'lgtest: LOG VERIFIED'
        check "on disk: content untouched" disk_file_is root /etc/fakesensor/rules.bin "$SENSOR_DIR/good.rules"
        check "on disk: no quarantine modprobe.d file" bash -c "! vm_disk_ls '$DISK' root /etc/modprobe.d | grep -q lastgood"
        check "on disk: fakesensor.service not masked" bash -c "! vm_disk_ls '$DISK' root /etc/systemd/system | grep -q fakesensor"
        rm -f "$RUN/forged.rec" "$RUN/forged.guess" "$RUN/forged.key"
        sc_end
}

# Control: scenario 1 without lastgood in the image. The machine must stay in
# its crash loop — otherwise the other scenarios prove nothing.
scenario_control() {
        sc_setup control --no-lastgood
        sc_boot --actions "fakesensor-update content bad.rules"
        check "boot 1 healthy (no lastgood)" test "$HOW" = poweroff -a "$SENSOR_STATE" = loaded
        local i crashes=0
        for i in 1 2 3 4; do
                sc_boot
                [[ $HOW == panic ]] && crashes=$((crashes + 1))
        done
        check "without lastgood the machine stays in its crash loop (4 of 4 boots crashed)" test "$crashes" = 4
        sc_end
}

# --- main ------------------------------------------------------------------

main() {
        local want=("$@")
        ((${#want[@]})) || want=("${ALL[@]}")
        local s
        for s in "${want[@]}"; do
                declare -F "scenario_$s" >/dev/null || vm_die "unknown scenario '$s' (known: ${ALL[*]})"
        done
        PASSED=()
        FAILED=()
        vm_prepare
        : >"$ARTIFACTS/summary.txt"
        : >"$ARTIFACTS/time-to-recovery.txt"
        for s in "${want[@]}"; do
                vm_log "scenario $s"
                "scenario_$s"
        done
        echo >&2
        cat "$ARTIFACTS/summary.txt" >&2
        [[ -s $ARTIFACTS/time-to-recovery.txt ]] && cat "$ARTIFACTS/time-to-recovery.txt" >&2
        echo "check-vm: ${#PASSED[@]} passed, ${#FAILED[@]} failed"
        ((${#FAILED[@]} == 0))
}

export -f vm_part_offset vm_disk_cat vm_disk_ls events_of event_types_of
export VM_ROOT_START VM_STATE_START
# demo.sh sources this file for its functions.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
        main "$@"
fi
