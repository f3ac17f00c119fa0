#!/bin/bash
# The ladder end to end against a temporary root: who is a suspect (a crash
# record attributing it, or a change with no crash record; a record pointing
# elsewhere clears), restore, quarantine, safe mode, anti-tamper, and
# crash-record lines a user planted.
source "$(dirname "$0")/lib.sh"

POLICY=$TWO_SENSORS_POLICY

# Two components installed and confirmed good (snapshots taken by confirm).
setup_good() { setup_two_sensors "$@"; }

etc_listing() { (cd "$ROOT/etc" && find . \( -type f -o -type l \) -printf '%p %l %m\n' | sort; find . -type f -exec sha256sum {} + | sort); }

fail_boots() { local i; for ((i = 0; i < $1; i++)); do boot; done; }

# One failed boot whose predecessor left the crash record FIXTURE (under
# tests/fixtures), or none ("-").
record_boot() {
  [[ $1 == - ]] || cp "$FIXTURES/$1"/dmesg-efi-* "$PSTORE/"
  boot
}

# No crash record (a reset, a hang): a component whose content changed since
# the last confirmed boot is restored after ONE failed boot (restore keeps
# the sensor on); the newer change first, the other at the next failed boot.
t_changed_content_is_restored_after_one_failed_boot() {
  setup_good
  echo alpha-update >"$ROOT/etc/alpha/rules.bin"
  sleep 0.05
  echo beta-bad >"$ROOT/etc/beta/rules.bin"
  boot; assert_out 'mode=normal'               # the boot that will fail
  boot; assert_out 'mode=recovery:restore-content'
  assert_eq "$(cat "$ROOT/etc/beta/rules.bin")" beta-good "beta restored"
  assert_eq "$(cat "$ROOT/etc/alpha/rules.bin")" alpha-update "alpha untouched"
  local kept
  kept=$(grep -rl beta-bad "$ROOT/var/lib/lastgood/quarantine" 2>/dev/null | head -1)
  [[ -n "$kept" ]] || fail "the replaced (bad) content was not kept for forensics"
  lg log --json
  jq -e 'map(select(.type == "recovery-restore" and .component == "beta")) | .[-1].evidence
         | .suspect == "changed" and (.culprit_evidence | test("changed since the last confirmed boot: 1 file"))
           and (.evidence | test("alpha: changed since the last confirmed boot"))' <<<"$OUT" >/dev/null ||
    fail "no recovery-restore event for beta with its evidence in words: $OUT"
  # the loop goes on: beta is back to known-good, alpha is the suspect now
  boot; assert_out 'mode=recovery:restore-content'
  assert_eq "$(cat "$ROOT/etc/alpha/rules.bin")" alpha-good "alpha restored next"
  assert_eq "$(status_field culprit)" alpha "the evidence moved, and so did the ladder"
  lg log verify; assert_rc 0 "event chain intact"
  lg confirm; assert_rc 0
  assert_eq "$(status_field failed_boots)" 0 "confirm ends the incident"
  assert_eq "$(status_field ladder_step)" 0 "ladder reset"
}

t_crash_record_names_component_fast_path() {
  setup_good
  echo alpha-bad >"$ROOT/etc/alpha/rules.bin"
  sleep 0.05
  echo beta-newer >"$ROOT/etc/beta/rules.bin"     # beta is newer, but the crash names alpha's module
  boot
  cp "$FIXTURES"/pstore/sensor-content/dmesg-efi-* "$PSTORE/"
  boot
  assert_out 'mode=recovery:restore-content'      # after 1 failed boot, not 2
  assert_eq "$(cat "$ROOT/etc/alpha/rules.bin")" alpha-good "alpha restored"
  assert_eq "$(cat "$ROOT/etc/beta/rules.bin")" beta-newer "beta untouched"
  assert_eq "$(status_field culprit)" alpha "culprit"
  [[ -z "$(ls -A "$PSTORE")" ]] || fail "crash records not cleared from pstore: $(ls "$PSTORE")"
  [[ -n "$(ls -A "$ROOT/var/lib/lastgood/crashes" 2>/dev/null)" ]] || fail "crash records not archived"
  lg log --json
  jq -e 'map(select(.type == "recovery-restore")) | .[0].evidence.crash_record | test("fakesensor")' <<<"$OUT" \
    >/dev/null || fail "the event does not carry the crash evidence: $OUT"
}

t_unrelated_crash_with_nothing_changed_touches_nothing() {
  setup_good
  local before; before=$(cd "$ROOT/etc" && find . -type f -exec sha256sum {} + | sort)
  boot
  cp "$FIXTURES"/pstore/sysrq-sensor-loaded/dmesg-efi-* "$PSTORE/"
  boot; boot
  cp "$FIXTURES"/pstore/sysrq/dmesg-efi-* "$PSTORE/"
  boot
  assert_not_out 'restore-content|quarantine'
  assert_out 'no suspect'
  assert_eq "$(cd "$ROOT/etc" && find . -type f -exec sha256sum {} + | sort)" "$before" "nothing under /etc changed"
  lg log --json
  jq -e 'map(select(.type == "no-suspect")) | length >= 1' <<<"$OUT" >/dev/null || fail "no no-suspect event: $OUT"
  jq -e 'map(select(.type == "no-suspect")) | .[-1].message | test("no component|names none")' <<<"$OUT" >/dev/null ||
    fail "the no-suspect event does not say why: $OUT"
}

# Wall-clock trust: a change is decided from the manifest, not its age. With
# the clock a day ahead (a one-hour suspect_window would have hidden the
# change) or a day behind, a new change is restored after one failed boot;
# a change already confirmed (in the known-good snapshot) is no suspect.
# (faketime: tests/install-deps.sh installs it.)
clock_moved() {
  local shift=$1
  setup_good "$POLICY
recovery:
  suspect_window: 1h"
  echo beta-bad >"$ROOT/etc/beta/rules.bin"
  FAKETIME_BOOT="$shift" boot
  FAKETIME_BOOT="$shift" boot; assert_out 'mode=recovery:restore-content'
  assert_eq "$(cat "$ROOT/etc/beta/rules.bin")" beta-good "clock $shift: the new change restored"
  lg confirm; assert_rc 0
  # an old change: confirmed, so known-good, whatever the clock says
  echo beta-2 >"$ROOT/etc/beta/rules.bin"
  boot; lg confirm; assert_rc 0
  touch -d '10 days ago' "$ROOT/etc/beta/rules.bin"
  FAKETIME_BOOT="$shift" boot
  FAKETIME_BOOT="$shift" boot; FAKETIME_BOOT="$shift" boot
  assert_not_out 'restore-content|quarantine|mode=safe'
  assert_eq "$(cat "$ROOT/etc/beta/rules.bin")" beta-2 "clock $shift: the confirmed change untouched"
}
t_clock_a_day_ahead() { clock_moved +1d; }
t_clock_a_day_behind() { clock_moved -1d; }

# Known-good content that does not end the loop is evidence that the
# content was innocent: without a crash record naming beta, or another
# change, nothing more is done to it — no quarantine, no safe mode.
t_restore_that_does_not_help_clears_the_content() {
  setup_good
  echo beta-bad >"$ROOT/etc/beta/rules.bin"
  boot; boot; assert_out 'mode=recovery:restore-content'
  local i all=""
  for ((i = 0; i < 7; i++)); do boot; all+="$OUT"$'\n'; done
  OUT=$all
  assert_not_out 'quarantine|mode=safe|mode=recovery'
  assert_out 'no suspect'
  assert_eq "$(cat "$ROOT/etc/beta/rules.bin")" beta-good "beta stays at its known-good content"
  assert_no_file "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf"
  assert_no_file "$ROOT/etc/systemd/system/beta.service"
  lg log --json
  jq -e 'map(select(.type == "no-suspect")) | .[-1].message
         | test("beta, the incident.s culprit, is no longer one") and test("beta: unchanged since the last confirmed boot")' \
    <<<"$OUT" >/dev/null || fail "the no-suspect event does not say why beta is cleared: $OUT"
}

# Another change after the restore (the updater put the bad content back)
# makes beta a suspect again: restored once more (a retry), and if it keeps
# coming back, quarantined at max_failed_boots.
t_another_change_after_restore_escalates() {
  setup_good
  : >"$ROOT/etc/systemd/system/.keep"
  echo beta-bad >"$ROOT/etc/beta/rules.bin"
  boot; boot; assert_out 'mode=recovery:restore-content'
  echo beta-bad >"$ROOT/etc/beta/rules.bin"
  boot; assert_out 'mode=recovery:restore-content'
  assert_eq "$(status_field last_action)" restore-content-retry "the second restore is a retry"
  echo beta-bad >"$ROOT/etc/beta/rules.bin"
  boot; assert_not_out 'quarantine'
  boot; assert_out 'mode=recovery:quarantine'
  grep -q 'blacklist betamod' "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf" || fail "module not blacklisted"
  [[ "$(readlink "$ROOT/etc/systemd/system/beta.service")" == /dev/null ]] || fail "unit not masked"
  assert_no_file "$ROOT/etc/beta"
  lg quarantine list --json
  jq -e '.quarantined | map(select(.component == "beta")) | length == 1' <<<"$OUT" >/dev/null || fail "registry: $OUT"
}

t_attributed_crash_after_restore_escalates_on_the_fast_path() {
  setup_good
  echo alpha-bad >"$ROOT/etc/alpha/rules.bin"
  boot
  record_boot pstore/sensor-module; assert_out 'mode=recovery:restore-content'
  # the module itself is broken: the restored content does not help
  record_boot pstore/sensor-module; assert_out 'mode=recovery:quarantine'
  # Both events name the content they acted on: the bad one the restore
  # replaced, the restored one the quarantine moved aside.
  local ev=$ROOT/var/lib/lastgood/events.jsonl d1 d2
  d1=$(jq -r 'select(.type == "recovery-restore") | .evidence.content_digest' "$ev")
  d2=$(jq -r 'select(.type == "recovery-quarantine") | .evidence.content_digest' "$ev")
  [[ $d1 =~ ^sha256:[0-9a-f]{64}$ && $d2 =~ ^sha256:[0-9a-f]{64}$ && $d1 != "$d2" ]] ||
    fail "content digests: restore [$d1], quarantine [$d2]"
  # without a crash record the next step waits for max_failed_boots
  lg quarantine release alpha; lg confirm
}

# A power cut during the restore, before the swap: the next boot undoes the
# staging and must redo the restore, not escalate to quarantine.
t_power_cut_mid_restore_redoes_the_restore() {
  setup_good
  echo beta-bad >"$ROOT/etc/beta/rules.bin"
  fail_boots 1
  # find the restore's staging step in this flow, then cut there: both runs
  # on a copy of the same tree (a copy has other inodes, which e.g. the
  # compiled manifest notices: the two runs must see the same)
  cp -a "$T/root" "$T/root.saved"
  rm -rf "$T/root"; cp -a "$T/root.saved" "$T/root"
  LASTGOOD_FAULT_TRACE=$T/trace boot; assert_out 'restore-content'
  local n; n=$(awk '$2 == "restore-stage" {print $1; exit}' "$T/trace")
  [[ -n "$n" ]] || { fail "no restore-stage fault point: $(cat "$T/trace")"; return; }
  rm -rf "$T/root"; mv "$T/root.saved" "$T/root"
  LASTGOOD_FAULT_AT=$n boot
  assert_eq "$(cat "$ROOT/etc/beta/rules.bin")" beta-bad "cut before the swap: still the old content"
  boot; assert_out 'mode=recovery:restore-content'
  assert_eq "$(cat "$ROOT/etc/beta/rules.bin")" beta-good "the restore was redone"
  assert_eq "$(status_field last_action)" restore-content-retry "recorded as a retry"
}

t_quarantine_never_is_respected() {
  setup_good "$(sed 's/    units: \[alpha.service\]/    units: [alpha.service]\n    quarantine: never/' <<<"$POLICY")"
  echo alpha-bad >"$ROOT/etc/alpha/rules.bin"
  boot
  record_boot pstore/sensor-module; assert_out 'restore-content'
  record_boot pstore/sensor-module
  assert_not_out 'mode=recovery:quarantine'
  assert_out 'mode=safe'                         # the next step instead
  assert_file "$ROOT/etc/alpha/rules.bin"
  assert_no_file "$ROOT/etc/systemd/system/alpha.service"
  assert_no_file "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf"
}

t_quarantine_release_restores_bytes() {
  setup_good
  mkdir -p "$ROOT/etc/modprobe.d" "$ROOT/etc/systemd/system"
  echo 'options betamod debug=1' >"$ROOT/etc/modprobe.d/betamod.conf"
  printf '[Unit]\nDescription=override\n' >"$ROOT/etc/systemd/system/beta.service"
  local before; before=$(etc_listing)
  lg quarantine apply beta; assert_rc 0
  [[ "$(etc_listing)" != "$before" ]] || fail "quarantine changed nothing"
  lg quarantine release beta; assert_rc 0
  assert_eq "$(etc_listing)" "$before" "release restores /etc byte for byte"
  lg quarantine release beta; assert_rc 1
}

t_safe_mode_leaves_nothing_persistent() {
  setup_good
  local before; before=$(cd "$ROOT" && find etc var -path var/lib/lastgood -prune -o -print | sort)
  lg safe-mode --next-boot
  boot; assert_out 'mode=safe'
  [[ -e "$ROOT/run/lastgood/safe-mode" ]] || fail "safe mode is not announced in /run/lastgood/safe-mode"
  grep -rqs betamod "$ROOT/run/modprobe.d/" || fail "no runtime module block"
  [[ "$(readlink "$ROOT/run/systemd/system/beta.service")" == /dev/null ]] || fail "no runtime unit mask"
  assert_eq "$(cd "$ROOT" && find etc var -path var/lib/lastgood -prune -o -print | sort)" "$before" "nothing persistent outside lastgood's state"
}

t_unknown_failures_not_counted_when_policy_says_so() {
  mkdir -p "$ROOT/etc/lastgood/policy.d"
  printf 'boot:\n  count_unknown_failures: false\n' >"$ROOT/etc/lastgood/policy.d/50-unknown.yaml"
  setup_good
  echo beta-bad >"$ROOT/etc/beta/rules.bin"
  fail_boots 4
  assert_out 'not counted'
  assert_eq "$(status_field failed_boots)" 0 "unknown failures not counted"
  cp "$FIXTURES"/pstore/sysrq/dmesg-efi-* "$PSTORE/"
  boot
  assert_eq "$(status_field failed_boots)" 1 "a crash counts"
}

# Regression: once the ladder is exhausted its event is written and the log
# still verifies (the type was missing from the event table: every such
# append failed with EINVAL, at every boot of the loop).
t_ladder_exhausted_is_logged_and_verifies() {
  setup_good "$POLICY
recovery:
  ladder: [restore-content]"
  echo alpha-bad >"$ROOT/etc/alpha/rules.bin"
  boot
  record_boot pstore/sensor-module; assert_out 'mode=recovery:restore-content'
  record_boot pstore/sensor-module; assert_out 'exhausted'
  grep -q 'Failed to append' <<<"$ERR" && fail "the event was not appended: $ERR"
  lg log --json
  jq -e 'map(select(.type == "ladder-exhausted" and .component == "alpha")) | length == 1' <<<"$OUT" >/dev/null ||
    fail "no ladder-exhausted event for alpha: $OUT"
  jq -e 'map(select(.type == "ladder-exhausted")) | .[0].message_id | test("^[0-9a-f]{32}$")' <<<"$OUT" >/dev/null ||
    fail "the ladder-exhausted event has no MESSAGE_ID: $OUT"
  lg log verify; assert_rc 0 "event chain intact after exhaustion"
}

# ---- evidence only from the crash that killed the machine (issue 10) ----

# One failed boot that left the crash record FIXTURE (pstore-synthetic/…).
crash_boot() { record_boot "pstore-synthetic/$1"; }

# alpha was restored on the fast path, attributed strong, the event saying
# why in words (a regex of the evidence, e.g. 'RIP in fakesensor \\(strong\\)').
assert_attributed_restore() {
  assert_out 'mode=recovery:restore-content'
  assert_eq "$(status_field culprit)" alpha "culprit"
  lg log --json
  jq -e --arg why "$1" 'map(select(.type == "recovery-restore" and .component == "alpha")) | .[-1].evidence
         | .attributed == "true" and .crash_strength == "strong" and (.culprit_evidence | test($why))' \
    <<<"$OUT" >/dev/null || fail "no attributed restore of alpha with /$1/: $OUT"
}

# A segfaulting binary named $'x\nRIP: 0010:fs_init+0x85/0x1000 [fakesensor]\n
# Modules linked in: fakesensor(OE+)\ny', then an unrelated panic, at every
# boot: attribution would bypass require_suspect and quarantine alpha's
# unchanged content; the planted lines must name nobody.
t_injected_lines_do_not_attribute() {
  setup_good
  local before; before=$(cd "$ROOT/etc" && find . -type f -exec sha256sum {} + | sort)
  boot
  local i
  for ((i = 0; i < 5; i++)); do
    crash_boot injected-segfault
    assert_not_out 'restore-content|quarantine|mode=safe'
  done
  assert_out 'no suspect'
  assert_eq "$(status_field culprit)" null "no culprit"
  assert_eq "$(cd "$ROOT/etc" && find . -type f -exec sha256sum {} + | sort)" "$before" "nothing under /etc changed"
  assert_no_file "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf"
  lg log --json
  jq -e 'map(select(.type == "no-suspect")) | .[-1].message | test("cleared: the crash was in the core kernel \\(sh\\)")' \
    <<<"$OUT" >/dev/null || fail "the no-suspect event does not say where the crash was: $OUT"
}

# With alpha's content changed and beta's changed later, the planted lines
# do not make alpha the culprit (recency picks beta, at the threshold); the
# negative control: the same line where the kernel prints the fatal oops's
# RIP attributes alpha, on the fast path (after one failed boot).
t_same_line_inside_the_fatal_block_attributes() {
  setup_good
  echo alpha-bad >"$ROOT/etc/alpha/rules.bin"
  sleep 0.05
  echo beta-newer >"$ROOT/etc/beta/rules.bin"
  boot
  crash_boot injected-segfault
  assert_not_out 'mode=recovery:'
  crash_boot injected-segfault
  assert_not_out 'mode=recovery:'
  assert_eq "$(cat "$ROOT/etc/alpha/rules.bin")" alpha-bad "alpha untouched"
  assert_eq "$(cat "$ROOT/etc/beta/rules.bin")" beta-newer "beta untouched: the record points elsewhere"
  lg confirm; assert_rc 0

  echo alpha-bad2 >"$ROOT/etc/alpha/rules.bin"
  sleep 0.05
  echo beta-newer2 >"$ROOT/etc/beta/rules.bin"
  boot
  crash_boot injected-inside
  assert_attributed_restore 'RIP in fakesensor \(strong\)'
  assert_eq "$(cat "$ROOT/etc/beta/rules.bin")" beta-newer2 "beta untouched"
}

# '+' (a module being loaded) alone is weak: no fast path, no attribution;
# with alpha's content changed, recency still restores it at the threshold.
t_module_being_loaded_is_weak() {
  setup_good
  echo alpha-update >"$ROOT/etc/alpha/rules.bin"
  boot
  crash_boot loading-only
  assert_out 'failed_boots=1/2'
  assert_not_out 'mode=recovery:'
  crash_boot loading-only; crash_boot loading-only
  assert_not_out 'mode=recovery:|quarantine|mode=safe'
  assert_eq "$(cat "$ROOT/etc/alpha/rules.bin")" alpha-update "alpha untouched: the crash was elsewhere"
  lg log --json
  jq -e 'map(select(.type == "no-suspect")) | .[-1].evidence.evidence
         | test("alpha: cleared: the crash was in the core kernel \\(kworker/0:2\\); fakesensor was being loaded \\(weak\\)")' \
    <<<"$OUT" >/dev/null || fail "the event does not say the evidence was weak: $OUT"
  # the negative control: the same change, the next failed boot leaving no
  # crash record, is restored
  boot; assert_out 'mode=recovery:restore-content'
  assert_eq "$(cat "$ROOT/etc/alpha/rules.bin")" alpha-good "restored without a crash record"
}

# ---- finding 1: crashing or resetting the machine must not switch the sensor off ----

# alpha's content freshly updated (a suspect by change, as an EDR's content
# is at all times), then N failed boots whose crash records are FIXTURE;
# $ALL: every boot's output.
attack_loop() {
  setup_good
  echo alpha-fresh >"$ROOT/etc/alpha/rules.bin"
  boot
  local i
  ALL=""
  for ((i = 0; i < $2; i++)); do record_boot "$1"; ALL+="$OUT"$'\n'; done
}

assert_sensor_still_on() {
  OUT=$ALL
  assert_not_out 'mode=recovery:quarantine|mode=safe'
  assert_no_file "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf"
  assert_no_file "$ROOT/etc/systemd/system/alpha.service"
  assert_file "$ROOT/etc/alpha/rules.bin"
  lg quarantine list --json
  jq -e '.quarantined | length == 0' <<<"$OUT" >/dev/null || fail "something is quarantined: $OUT"
}

# The three whose crash record points elsewhere leave alpha's content
# untouched too, and the events say why.
attack_elsewhere() {
  attack_loop "$1" 8
  assert_sensor_still_on
  OUT=$ALL; assert_not_out 'restore-content'
  assert_eq "$(cat "$ROOT/etc/alpha/rules.bin")" alpha-fresh "alpha's fresh content untouched"
  lg log --json
  jq -e --arg why "$2" 'map(select(.type == "no-suspect")) | .[-1].evidence.evidence | test("alpha: cleared: the crash was in " + $why)' \
    <<<"$OUT" >/dev/null || fail "no no-suspect event clearing alpha (/$2/): $OUT"
}
t_attack_core_kernel_panic() { attack_elsewhere pstore-synthetic/core-panic 'the core kernel \(swapper/0\)'; }
t_attack_sysrq_from_another_process() { attack_elsewhere pstore/sysrq 'the core kernel \(init\)'; }
t_attack_oops_in_another_driver() { attack_elsewhere pstore-synthetic/other-module 'other_driver'; }

# The reset button: no crash record. Restoring the known-good content is
# allowed (protection stays on) and happens once; then, the content back to
# its snapshot, nothing more: no quarantine, no safe mode, ever.
t_attack_reset_button() {
  attack_loop - 10
  assert_sensor_still_on
  OUT=$ALL
  [[ $(grep -c 'restore-content' <<<"$ALL") == 1 ]] || fail "expected exactly one restore: $ALL"
  assert_eq "$(cat "$ROOT/etc/alpha/rules.bin")" alpha-good "alpha at its known-good content"
  # and it stays on after the attacker stops
  lg confirm; assert_rc 0
  lg status --json
  jq -e '.components | map(select(.name == "alpha")) | .[0].quarantined == false' <<<"$OUT" >/dev/null ||
    fail "alpha not active after the attack: $OUT"
}

# The negative control of all four: a crash record that does name alpha's
# module climbs the ladder to quarantine within three boots.
t_attack_control_attributed_crash_quarantines() {
  attack_loop pstore/sensor-module 3
  OUT=$ALL
  assert_out 'mode=recovery:quarantine'
  assert_file "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf"
}

# The kernel release of the last confirmed boot is recorded; a failed boot
# on another kernel says so in its evidence (and blames nobody for it).
t_kernel_change_is_evidence() {
  LASTGOOD_KERNEL_RELEASE=6.1.0-57-amd64 setup_good
  LASTGOOD_KERNEL_RELEASE=6.1.0-58-amd64 boot
  LASTGOOD_KERNEL_RELEASE=6.1.0-58-amd64 boot
  assert_not_out 'mode=recovery'
  lg log --json
  jq -e '.[-1].evidence.kernel_change == "kernel changed 6.1.0-57-amd64 → 6.1.0-58-amd64 since the last confirmed boot"' \
    <<<"$OUT" >/dev/null || fail "no kernel change in the evidence: $OUT"
  # the negative control: the same kernel says nothing
  LASTGOOD_KERNEL_RELEASE=6.1.0-58-amd64 lg confirm; assert_rc 0
  LASTGOOD_KERNEL_RELEASE=6.1.0-58-amd64 boot
  LASTGOOD_KERNEL_RELEASE=6.1.0-58-amd64 boot
  lg log --json
  jq -e '.[-1].evidence | has("kernel_change") | not' <<<"$OUT" >/dev/null || fail "a kernel change without one: $OUT"
}

# ---- component identity: processes, bpf_programs, module globs (issue 10) ----

# POLICY with alpha's kernel_modules line replaced by LINE (the identity under test).
identity_policy() { sed "s|    kernel_modules: \[fakesensor\]|$1|" <<<"$POLICY"; }

# alpha changed first, beta later: without attribution, recency would pick
# beta at the threshold; attribution picks alpha after one failed boot.
identity_boot() {
  setup_good "$(identity_policy "$1")"
  echo alpha-bad >"$ROOT/etc/alpha/rules.bin"
  sleep 0.05
  echo beta-newer >"$ROOT/etc/beta/rules.bin"
  boot
  crash_boot "$2"
}

# After identity_boot: no fast path, and a second crash (the threshold)
# leaves alpha unblamed and its content as it was.
assert_not_attributed() {
  assert_out 'failed_boots=1/2'
  assert_not_out 'mode=recovery:'
  crash_boot "$1"
  [[ "$(status_field culprit)" != alpha ]] || fail "alpha blamed on $1"
  assert_eq "$(cat "$ROOT/etc/alpha/rules.bin")" alpha-bad "alpha untouched"
}

# Falcon's user-mode panic: `Comm: falcon-sensor-b` (falcon-sensor-bpf cut at
# 15), RIP in core BPF code, no module: processes attributes, strong.
t_comm_attributes_processes() {
  identity_boot '    processes: ["falcon-sensor*"]' falcon-comm
  assert_attributed_restore 'crashing task falcon-sensor-b \(strong\)'
  assert_eq "$(cat "$ROOT/etc/alpha/rules.bin")" alpha-good "alpha restored"
  assert_eq "$(cat "$ROOT/etc/beta/rules.bin")" beta-newer "beta untouched"
}

# The negative control: the same record, alpha without processes (its
# modules and BPF programs named, but not in this crash): no attribution.
t_comm_without_processes_does_not_attribute() {
  identity_boot '    kernel_modules: [fakesensor, "falcon_lsm_pinned_*"]\n    bpf_programs: ["falcon_*"]' falcon-comm
  assert_not_attributed falcon-comm
}

# RIP in this week's build of Falcon's module: the glob attributes, strong.
t_module_glob_attributes() {
  identity_boot '    kernel_modules: [falcon_lsm_serviceable, "falcon_lsm_pinned_*"]' falcon-module
  assert_attributed_restore 'RIP in falcon_lsm_pinned_16306 \(strong\)'
  assert_eq "$(cat "$ROOT/etc/alpha/rules.bin")" alpha-good "alpha restored"
}

# The negative control: alpha names last week's build by its plain name.
t_module_without_glob_does_not_attribute() {
  identity_boot '    kernel_modules: [falcon_lsm_serviceable, falcon_lsm_pinned_16305]\n    processes: ["falcon-sensor*"]' \
    falcon-module
  assert_not_attributed falcon-module
}

# A fake /lib/modules: two kernel releases, compressed and dashed file
# names, a non-module file, and Debian's build link into /usr/src (never
# followed: the module there is not installed).
fake_modules() {
  local m=$ROOT/lib/modules
  mkdir -p "$m/6.1.0-56-amd64/extra/falcon" "$m/6.1.0-57-amd64/updates" "$ROOT/usr/src/hdr"
  : >"$m/6.1.0-56-amd64/extra/falcon/falcon_lsm_pinned_16306.ko"
  : >"$m/6.1.0-57-amd64/updates/falcon-lsm-pinned-16307.ko.zst"
  : >"$m/6.1.0-57-amd64/updates/falcon_lsm_pinned_16308.ko.xz"
  : >"$m/6.1.0-57-amd64/updates/falcon_lsm_pinned_notes.txt"
  : >"$m/6.1.0-57-amd64/updates/falcon_nf_netcontain.ko"
  : >"$ROOT/usr/src/hdr/falcon_lsm_pinned_1.ko"
  ln -s ../../../usr/src/hdr "$m/6.1.0-57-amd64/build" # relative: followed, it would stay inside the root
}

# modprobe takes no globs: quarantine writes the installed modules a glob
# matches (every release), and the real modprobe refuses to load them.
t_quarantine_expands_module_globs() {
  setup_good "$(identity_policy '    kernel_modules: [fakesensor, "falcon_lsm_pinned_*", "nomatch_*"]')"
  fake_modules
  lg quarantine apply alpha; assert_rc 0 "quarantine apply"
  assert_out 'Quarantined alpha: 4 modules'
  local conf=$ROOT/etc/modprobe.d/#lastgood-quarantine.conf
  local m
  for m in fakesensor falcon_lsm_pinned_16306 falcon_lsm_pinned_16307 falcon_lsm_pinned_16308; do
    grep -qx "blacklist $m" "$conf" || fail "no blacklist line for $m: $(cat "$conf")"
    grep -qx "install $m /bin/false" "$conf" || fail "no install line for $m: $(cat "$conf")"
  done
  ! grep -qE '\*|nomatch|notes|falcon_lsm_pinned_1$|falcon_nf' "$conf" || fail "a glob or a non-match was written: $(cat "$conf")"
  if command -v modprobe >/dev/null; then
    local out
    out=$(modprobe -d "$ROOT" -C "$ROOT/etc/modprobe.d" -n -v falcon_lsm_pinned_16307 2>&1) || true
    grep -q 'install /bin/false' <<<"$out" || fail "modprobe does not see the block: $out"
    out=$(modprobe -d "$ROOT" -C "$ROOT/etc/modprobe.d" -n -v falcon_nf_netcontain 2>&1) || true
    ! grep -q 'install /bin/false' <<<"$out" || fail "modprobe blocks an unlisted module: $out"
  fi
  lg quarantine list --json
  assert_eq "$(jq -c '.quarantined[0].kernel_modules' <<<"$OUT")" \
    '["fakesensor","falcon_lsm_pinned_16306","falcon_lsm_pinned_16307","falcon_lsm_pinned_16308"]'
  lg quarantine release alpha; assert_rc 0
  assert_no_file "$conf"
}

# Through the ladder: a glob that matches nothing installed writes nothing,
# and the quarantine's event says so.
t_quarantine_says_when_a_glob_matches_nothing() {
  setup_good "$(identity_policy '    kernel_modules: ["falcon_lsm_pinned_*"]')"
  echo alpha-bad >"$ROOT/etc/alpha/rules.bin"
  boot
  crash_boot falcon-module; assert_out 'mode=recovery:restore-content'
  crash_boot falcon-module; assert_out 'mode=recovery:quarantine'
  assert_no_file "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf"
  lg log --json
  jq -e 'map(select(.type == "recovery-quarantine" and .component == "alpha")) | .[-1].message
         | test("kernel_modules falcon_lsm_pinned_\\* matched no installed module, nothing blacklisted")' \
    <<<"$OUT" >/dev/null || fail "the quarantine event does not say the glob matched nothing: $OUT"
}

# Safe mode expands the same way, into /run/modprobe.d, and lists the
# globs that matched nothing in its marker.
t_safe_mode_expands_module_globs() {
  setup_good "$(identity_policy '    kernel_modules: ["falcon_lsm_pinned_*", "nomatch_*"]')"
  fake_modules
  lg safe-mode --next-boot
  boot; assert_out 'mode=safe'
  local conf=$ROOT/run/modprobe.d/#lastgood-safemode.conf
  for m in falcon_lsm_pinned_16306 falcon_lsm_pinned_16307 falcon_lsm_pinned_16308 betamod; do
    grep -qx "install $m /bin/false" "$conf" || fail "no install line for $m: $(cat "$conf")"
  done
  ! grep -q '\*' "$conf" || fail "a glob was written: $(cat "$conf")"
  grep -qx 'kernel_modules globs matching no installed module: nomatch_\*' "$ROOT/run/lastgood/safe-mode" ||
    fail "the marker does not list the unmatched glob: $(cat "$ROOT/run/lastgood/safe-mode")"
}

run_tests
