#!/bin/bash
# The shipped profiles (dist/profiles/*.yaml): each passes `policy check` alone and all of them
# together (no error, no component name shared by two profiles), each says where its names come
# from and what it chose for quarantine and safe mode; and the Falcon profile end to end on a
# temporary root laid out like a real Falcon install (tests/fixtures/profiles/): a confirmed boot,
# a bad channel-file update, a crash record naming falcon_lsm_serviceable, the restore, and the
# negative controls (a crash in another module, or in core code, leaves Falcon's content alone).
source "$(dirname "$0")/lib.sh"

# LASTGOOD_PROFILES_DIR: another copy, to check that these tests catch a broken profile.
PROFILES=${LASTGOOD_PROFILES_DIR:-$TOP/dist/profiles}
PF=$FIXTURES/profiles
# The products issue 12 asks for; a profile removed or renamed fails t_every_product_has_a_profile.
EXPECTED="auditd elastic-endpoint falcon mdatp osquery sentinelone wazuh"
CHANNEL=opt/CrowdStrike/channels/C-00000291-00000000-00000031.bin

# The shipped profiles' names (NAME.yaml), one a line, sorted.
profile_names() { (cd "$PROFILES" && ls -- *.yaml | sed 's/\.yaml$//' | sort); }

# A copy of each profile, root-owned 0644 (a checkout may be group-writable, which the policy
# trust check rightly refuses).
profile_copy() {
  mkdir -p "$T/profiles"
  install -m 0644 "$PROFILES/$1.yaml" "$T/profiles/$1.yaml"
  echo "$T/profiles/$1.yaml"
}

# enable_profiles NAME… — as `lastgood profile enable` would: into the root's policy.d.
enable_profiles() {
  mkdir -p "$ROOT/etc/lastgood/policy.d"
  local n
  for n in "$@"; do install -m 0644 "$PROFILES/$n.yaml" "$ROOT/etc/lastgood/policy.d/$n.yaml"; done
}

# name_clash — after `lg --json policy check` of the root's policy.d: a message when the drop-ins
# do not give one component each, each named once (entries merge by name, so a name used by two
# profiles would make one silently amend the other instead of failing); nothing otherwise.
name_clash() {
  local files names unique
  files=$(ls "$ROOT/etc/lastgood/policy.d" | wc -l)
  names=$(jq '.components | length' <<<"$OUT")
  unique=$(jq '[.components[].name] | unique | length' <<<"$OUT")
  [[ $names == "$files" && $unique == "$files" ]] ||
    echo "component names clash: $files profiles give $names components ($unique names):" \
      "$(jq -c '[.components[].name]' <<<"$OUT")"
}

# check_merged — `policy check` of the root's policy.d: exit 0, no error, no name clash.
check_merged() {
  lg --json policy check
  assert_rc 0 "policy check of the enabled profiles"
  jq -e '.errors == []' <<<"$OUT" >/dev/null ||
    fail "policy check reports errors: $(jq -c .errors <<<"$OUT")"
  local clash; clash=$(name_clash)
  [[ -z $clash ]] || fail "$clash"
}

t_every_product_has_a_profile() {
  local n found
  found=$(profile_names | tr '\n' ' ')
  for n in $EXPECTED; do [[ -e $PROFILES/$n.yaml ]] || fail "no profile $n.yaml (have: $found)"; done
}

# Each profile alone: no error, exactly one component, named like its file (so that
# `profile enable falcon` gives component falcon), with an explicit, commented choice of
# quarantine and safe_mode and a cited source.
t_every_profile_passes_policy_check_alone() {
  local f name copy n=0
  for f in "$PROFILES"/*.yaml; do
    name=$(basename "$f" .yaml)
    copy=$(profile_copy "$name")
    lg --json policy check "$copy"
    assert_rc 0 "policy check $name.yaml"
    jq -e --arg n "$name" '.errors == [] and (.components | length) == 1 and .components[0].name == $n' \
      <<<"$OUT" >/dev/null || fail "$name.yaml: errors or not one component named $name: $OUT"
    grep -qE '^    quarantine: (allow|never)$' "$f" || fail "$name.yaml sets no quarantine explicitly"
    grep -qE '^    safe_mode: (disable|keep)$' "$f" || fail "$name.yaml sets no safe_mode explicitly"
    grep -qE '^# quarantine: (allow|never), safe_mode: (disable|keep)' "$f" ||
      fail "$name.yaml does not say why it chose its quarantine and safe_mode"
    grep -qE '^# Sources?\b' "$f" || fail "$name.yaml cites no source"
    # Cited and chosen values agree with what the parser took.
    grep -qE "^    quarantine: $(jq -r '.components[0].quarantine' <<<"$OUT")\$" "$f" ||
      fail "$name.yaml: quarantine parsed differently from the file"
    n=$((n + 1))
  done
  ((n >= 7)) || fail "only $n profiles checked"
}

t_all_profiles_together_pass_policy_check() {
  # shellcheck disable=SC2046
  enable_profiles $(profile_names)
  check_merged
}

# Negative controls: the two checks above fail on a profile with an error and on a name clash.
t_policy_check_fails_on_a_broken_profile() {
  local copy
  copy=$(profile_copy falcon)
  # A glob in a content path: refused (it would name a file called '*').
  sed -i 's|content: \[/opt/CrowdStrike\]|content: [/opt/CrowdStrike/*]|' "$copy"
  grep -q 'CrowdStrike/\*\]' "$copy" || { fail "test setup: the edit did not apply"; return; }
  lg policy check "$copy"
  assert_rc 2 "a broken profile"
  assert_err "falcon.yaml:[0-9]+:[0-9]+:"
  # The same file enabled among the others: the merged check reports it.
  enable_profiles mdatp wazuh
  install -m 0644 "$copy" "$ROOT/etc/lastgood/policy.d/falcon.yaml"
  lg --json policy check
  [[ $RC != 0 ]] || jq -e '.errors != []' <<<"$OUT" >/dev/null ||
    fail "a broken enabled profile passes the merged check: rc=$RC $OUT"
}

t_a_name_clash_is_caught() {
  enable_profiles mdatp wazuh
  lg --json policy check
  [[ -z $(name_clash) ]] || fail "a clash reported where there is none: $(name_clash)"
  # A second profile reusing the component name mdatp: valid, and silently merged by name.
  sed 's|/etc/opt/microsoft/mdatp/managed|/etc/opt/microsoft/mdatp/other|' "$PROFILES/mdatp.yaml" \
    >"$ROOT/etc/lastgood/policy.d/zz-mdatp-copy.yaml"
  chmod 0644 "$ROOT/etc/lastgood/policy.d/zz-mdatp-copy.yaml"
  lg --json policy check
  assert_rc 0 "the clash itself is valid policy"
  [[ -n $(name_clash) ]] || fail "two profiles naming the component mdatp were not caught: $OUT"
}

# ---- Falcon end to end ----

# A machine with every shipped profile enabled and Falcon installed (tests/fixtures/profiles/
# falcon-tree: /opt/CrowdStrike with its daemons, falconstore, archives and channel files, and the
# unit), booted and confirmed: confirm takes Falcon's known-good snapshot.
setup_falcon() {
  write_policy 'version: 1
boot:
  max_failed_boots: 2
  state: file'
  local all n
  all=$(profile_names)
  if [[ ${VIA_VERB:-} ]]; then
    # As installed (make install), enabled with `lastgood profile enable` (symlinks into policy.d).
    mkdir -p "$ROOT/usr/share/lastgood/profiles"
    install -m 0644 "$PROFILES"/*.yaml "$ROOT/usr/share/lastgood/profiles/"
    for n in $all; do lg profile enable "$n"; assert_rc 0 "profile enable $n"; done
    [[ -L $ROOT/etc/lastgood/policy.d/falcon.yaml ]] || fail "profile enable falcon made no link"
  else
    # shellcheck disable=SC2086
    enable_profiles $all
  fi
  cp -a "$PF/falcon-tree/." "$ROOT/"
  chmod 0600 "$ROOT/opt/CrowdStrike/falconstore"
  chmod 0750 "$ROOT/opt/CrowdStrike"
  mkdir -p "$ROOT/etc/systemd/system" "$ROOT/etc/modprobe.d"
  boot; assert_out 'mode=normal'
  lg confirm; assert_rc 0 "the first confirm"
  lg snapshot list --json
  jq -e 'map(select(.component == "falcon" and .entries >= 10 and (.bad | not))) | length == 1' \
    <<<"$OUT" >/dev/null || fail "confirm took no known-good snapshot of falcon: $OUT"
  GOOD_SUM=$(sha256sum "$ROOT/$CHANNEL" | cut -d' ' -f1)
}

# The sensor's cloud pushes a bad channel file; falconctl changes a setting in falconstore
# (excluded live state) at the same time.
bad_channel_update() {
  printf 'malformed channel file C-00000291 v32\n\0\0\0\0' >"$ROOT/$CHANNEL"
  echo 'tags=after-the-update' >>"$ROOT/opt/CrowdStrike/falconstore"
}

# One failed boot whose predecessor left the crash record in tests/fixtures/DIR.
crash_boot() {
  cp "$FIXTURES/$1"/dmesg-efi-* "$PSTORE/"
  boot
}

# crash_loop DIR N — N failed boots, each after the crash record in DIR (a path); $OUT then holds
# what all of them printed.
crash_loop() {
  local all="" i
  for ((i = 1; i <= $2; i++)); do cp "$1"/dmesg-efi-* "$PSTORE/"; boot; all+="boot $i: $OUT"$'\n'; done
  OUT=$all
}

falcon_restore_flow() {
  setup_falcon
  bad_channel_update
  boot; assert_out 'mode=normal'                # the boot that panics
  # Made from the real Debian 6.1 record tests/fixtures/pstore/sensor-content with the module
  # renamed (tests/fixtures/profiles/README.md).
  crash_boot profiles/pstore-falcon-lsm
  assert_out 'mode=recovery:restore-content'
  assert_out 'restored falcon content'
  assert_eq "$(sha256sum "$ROOT/$CHANNEL" | cut -d' ' -f1)" "$GOOD_SUM" "the channel file is known-good"
  grep -q 'tags=after-the-update' "$ROOT/opt/CrowdStrike/falconstore" ||
    fail "falconstore (excluded) was rolled back: $(cat "$ROOT/opt/CrowdStrike/falconstore")"
  [[ -x $ROOT/opt/CrowdStrike/falcond ]] || fail "the daemon lost its mode in the restore"
  grep -rqa 'malformed channel file' "$ROOT/var/lib/lastgood/quarantine/falcon" ||
    fail "the replaced (bad) channel file was not kept for forensics"
  # Restoring keeps the sensor on: nothing masked, nothing blacklisted.
  assert_no_file "$ROOT/etc/systemd/system/falcon-sensor.service"
  assert_no_file "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf"
  assert_eq "$(status_field culprit)" falcon "culprit"
  lg log --json
  jq -e 'map(select(.type == "recovery-restore")) | length == 1 and (.[0]
         | .component == "falcon"
           and (.evidence.crash_record | test("RIP fs_parse_rules.*\\[falcon_lsm_serviceable\\]"))
           and .evidence.suspect == "attributed"
           and (.evidence.culprit_evidence | test("RIP in falcon_lsm_serviceable \\(strong\\)"))
           and (.evidence["evidence.mdatp"] | test("^cleared")))' <<<"$OUT" >/dev/null ||
    fail "no recovery-restore event attributing falcon through falcon_lsm_serviceable: $OUT"
  lg log verify; assert_rc 0 "event chain intact"
  lg confirm; assert_rc 0 "the restored machine confirms"
  assert_eq "$(status_field failed_boots)" 0 "confirm ends the incident"
}

t_falcon_bad_channel_file_restored_after_crash_in_its_module() { falcon_restore_flow; }
# The same with the profiles installed and enabled the way an admin does it.
t_falcon_enabled_with_profile_enable_restores_too() { VIA_VERB=1 falcon_restore_flow; }

# User mode: no module, the crashing task is falcon-sensor-bpf, printed cut to 15 characters
# (falcon-scripts #291's shape, tests/fixtures/pstore-synthetic/falcon-comm): the profile's
# processes pattern attributes it.
t_falcon_user_mode_crash_attributed_by_process() {
  setup_falcon
  bad_channel_update
  boot
  crash_boot pstore-synthetic/falcon-comm
  assert_out 'mode=recovery:restore-content'
  assert_eq "$(sha256sum "$ROOT/$CHANNEL" | cut -d' ' -f1)" "$GOOD_SUM" "restored"
  lg log --json
  jq -e 'map(select(.type == "recovery-restore" and .component == "falcon"))
         | .[0].evidence.culprit_evidence | test("falcon-sensor-b")' <<<"$OUT" >/dev/null ||
    fail "not attributed through its process: $OUT"
}

# Negative control: the same bad update, but the kernel crashed in another module (the real record,
# fakesensor's RIP): Falcon is cleared and its content stays as it is.
t_falcon_content_left_alone_when_another_module_crashed() {
  setup_falcon
  bad_channel_update
  local bad_sum; bad_sum=$(sha256sum "$ROOT/$CHANNEL" | cut -d' ' -f1)
  boot
  # The loop goes on past max_failed_boots (2): every crash record names fakesensor.
  crash_loop "$FIXTURES/pstore/sensor-content" 2
  assert_not_out 'restore-content|quarantine|mode=safe'
  assert_out 'no suspect'
  assert_eq "$(sha256sum "$ROOT/$CHANNEL" | cut -d' ' -f1)" "$bad_sum" "falcon's content untouched"
  assert_no_file "$ROOT/var/lib/lastgood/quarantine/falcon"
  lg log --json
  jq -e 'map(select(.type == "recovery-restore")) | length == 0' <<<"$OUT" >/dev/null ||
    fail "something was restored: $OUT"
  jq -e 'map(select(.type == "no-suspect")) | .[-1].message
         | test("falcon: cleared: the crash was in fakesensor")' \
    <<<"$OUT" >/dev/null || fail "the no-suspect event does not say why falcon is cleared: $OUT"
}

# Negative control: a crash in core code while falcon_lsm_serviceable was only being loaded
# (weak: "Modules linked in: falcon_lsm_serviceable(OE+)") is no evidence against Falcon either.
t_falcon_module_merely_loaded_is_no_evidence() {
  setup_falcon
  bad_channel_update
  local bad_sum; bad_sum=$(sha256sum "$ROOT/$CHANNEL" | cut -d' ' -f1)
  boot
  mkdir -p "$T/rec"
  sed 's/fakesensor/falcon_lsm_serviceable/g' "$FIXTURES"/pstore-synthetic/loading-only/dmesg-efi-* \
    >"$T/rec/dmesg-efi-180000040001001"
  grep -q 'falcon_lsm_serviceable(OE+)' "$T/rec/dmesg-efi-180000040001001" ||
    { fail "test setup: the record does not list the module as loading"; return; }
  crash_loop "$T/rec" 2
  assert_out 'no suspect'
  assert_not_out 'restore-content|quarantine|mode=safe'
  assert_eq "$(sha256sum "$ROOT/$CHANNEL" | cut -d' ' -f1)" "$bad_sum" "falcon's content untouched"
}

# ---- Defender: its two definition paths ----

# Only one of the two documented definition paths exists on a machine; the snapshot records the
# other as absent. A failed boot with no crash record after an update that also moved the
# definitions (the installer's migration to /opt on a noexec /var) puts back what booted: the
# /var definitions, and the new /opt tree moved aside with the replaced content, not deleted.
t_mdatp_definitions_restored_where_they_booted_from() {
  write_policy 'version: 1
boot:
  max_failed_boots: 2
  state: file'
  enable_profiles mdatp
  local var=$ROOT/var/opt/microsoft/mdatp/definitions.noindex
  local opt=$ROOT/opt/microsoft/mdatp/definitions.noindex
  mkdir -p "$var/1.417.659.0" "$ROOT/etc/opt/microsoft/mdatp/managed" "$ROOT/etc/systemd/system"
  echo 'definitions 1.417.659.0' >"$var/1.417.659.0/mpavbase.vdm"
  echo '{"antivirusEngine": {"enforcementLevel": "real_time"}}' \
    >"$ROOT/etc/opt/microsoft/mdatp/managed/mdatp_managed.json"
  boot; lg confirm; assert_rc 0 "confirm"
  lg snapshot list --json
  jq -e 'map(select(.component == "mdatp" and .entries >= 3)) | length == 1' <<<"$OUT" >/dev/null ||
    fail "no snapshot of mdatp's definitions and managed configuration: $OUT"
  mkdir -p "$opt/1.419.1.0"
  echo 'definitions 1.419.1.0 (bad)' >"$opt/1.419.1.0/mpavbase.vdm"
  echo 'definitions 1.419.1.0 (bad)' >"$var/1.417.659.0/mpavbase.vdm"
  boot; assert_out 'mode=normal'               # the boot that hangs: no crash record
  boot; assert_out 'mode=recovery:restore-content'
  assert_out 'restored mdatp content'
  assert_eq "$(cat "$var/1.417.659.0/mpavbase.vdm")" 'definitions 1.417.659.0' "/var definitions back"
  assert_no_file "$opt"
  grep -rqa '1.419.1.0 (bad)' "$ROOT/var/lib/lastgood/quarantine/mdatp" ||
    fail "the replaced definitions were not kept"
  assert_no_file "$ROOT/etc/systemd/system/mdatp.service"     # restoring keeps Defender on
}

# ---- auditd: rules that panic the kernel ----

# The audit rules confirmed good, then a compliance drop-in with -f 2 and a rule set the machine
# cannot keep up with early in boot.
setup_audit_rules() {
  write_policy 'version: 1
boot:
  max_failed_boots: 2
  state: file'
  enable_profiles auditd
  mkdir -p "$ROOT/etc/audit/rules.d" "$ROOT/etc/systemd/system"
  printf -- '-D\n-b 8192\n-f 1\n' >"$ROOT/etc/audit/rules.d/10-base.rules"
  cp "$ROOT/etc/audit/rules.d/10-base.rules" "$ROOT/etc/audit/audit.rules"
  boot; lg confirm; assert_rc 0 "confirm"
  local flood='-a always,exit -F arch=b64 -S all -k everything'
  printf -- '-f 2\n%s\n' "$flood" >"$ROOT/etc/audit/rules.d/99-compliance.rules"
  printf -- '-D\n-b 8192\n-f 2\n%s\n' "$flood" >"$ROOT/etc/audit/audit.rules"     # augenrules' output
}

# No crash record (pstore full or absent): the changed rules are restored, auditing stays on.
t_auditd_panicking_rules_restored_after_a_failed_boot() {
  setup_audit_rules
  boot; assert_out 'mode=normal'
  boot; assert_out 'mode=recovery:restore-content'
  assert_out 'restored auditd content'
  assert_no_file "$ROOT/etc/audit/rules.d/99-compliance.rules"
  grep -q -- '-f 2' "$ROOT/etc/audit/audit.rules" && fail "the compiled rules still set -f 2"
  assert_no_file "$ROOT/etc/systemd/system/auditd.service"     # not masked: auditing stays on
}

# The audit subsystem's panic (the real record's shape: a direct panic, no RIP, no module, in
# whatever task was being audited) names auditd by its panic_messages: the next boot restores the
# rules, never more (quarantine: never). Control: the same record with another panic message
# (the VFS's) clears auditd and leaves the rules as they are.
audit_record() { # audit_record MESSAGE — $T/rec holds the core-panic record saying MESSAGE
  rm -rf "$T/rec"; mkdir -p "$T/rec"
  sed -e "s/VFS: Unable to mount root fs on unknown-block(0,0)/$1/" \
    -e 's/PID: 1 Comm: swapper\/0/PID: 312 Comm: systemd-udevd/' -e 's/mount_block_root/audit_log_lost/' \
    "$FIXTURES"/pstore-synthetic/core-panic/dmesg-efi-* >"$T/rec/dmesg-efi-170000300001001"
  grep -q "not syncing: $1" "$T/rec/dmesg-efi-170000300001001" ||
    fail "test setup: no panic '$1' in the record"
}

t_auditd_audit_panic_record_restores_the_rules() {
  setup_audit_rules
  boot
  audit_record 'audit: backlog limit exceeded'
  crash_loop "$T/rec" 1
  assert_out 'mode=recovery:restore-content'
  assert_out 'restored auditd content'
  assert_no_file "$ROOT/etc/audit/rules.d/99-compliance.rules"
  assert_no_file "$ROOT/etc/systemd/system/auditd.service"     # not masked: auditing stays on
  lg log --json
  jq -e 'map(select(.evidence["evidence.auditd"] // "" | test("panic .audit: backlog limit exceeded. \\(strong\\)"))) | length >= 1' \
    <<<"$OUT" >/dev/null || fail "auditd not attributed by its panic message: $OUT"
  # Still crashing after the restore: the strongest evidence, and still no quarantine.
  crash_loop "$T/rec" 3
  assert_not_out 'quarantine'
}

t_auditd_other_panic_record_names_no_component() {
  setup_audit_rules
  boot
  audit_record 'VFS: Unable to mount root fs on unknown-block(8,1)'
  crash_loop "$T/rec" 2
  assert_not_out 'restore-content|quarantine|mode=safe'
  assert_file "$ROOT/etc/audit/rules.d/99-compliance.rules"
  lg log --json
  jq -e 'map(select(.evidence["evidence.auditd"] // "" | test("^cleared"))) | length >= 1' <<<"$OUT" \
    >/dev/null || fail "auditd not cleared by the core-kernel record: $OUT"
}

run_tests
