#!/bin/bash
# The boot counter: counting, thresholds, confirm, health checks, backends
# and their fall-through, corrupt records, read-only state, no efivarfs.
source "$(dirname "$0")/lib.sh"

POLICY_FILE_BACKEND='version: 1
boot:
  max_failed_boots: 3
  state: file'

# Two components, confirmed once (their known-good snapshots), with a ladder
# of quarantine only: a change and no crash record make a suspect, and
# quarantine waits for the component's threshold (restore would not).
POLICY_COMPONENT='version: 1
boot:
  max_failed_boots: 3
  state: file
components:
  - name: sensor
    content: [/etc/sensor]
    kernel_modules: [sensor]
  - name: other
    content: [/etc/other]
    kernel_modules: [other]
    max_failed_boots: 5
recovery:
  ladder: [quarantine]'

setup_components() {  # both confirmed good, then sensor changes
  mkdir -p "$ROOT/etc/sensor" "$ROOT/etc/other"
  echo good >"$ROOT/etc/other/rules.bin"
  echo good >"$ROOT/etc/sensor/rules.bin"
  boot; lg confirm; assert_rc 0 "the baseline confirm"
  echo update >"$ROOT/etc/sensor/rules.bin"
}

t_first_boot_is_normal_and_counted() {
  write_policy "$POLICY_FILE_BACKEND"
  boot
  assert_rc 0
  assert_out 'mode=normal'
  assert_file "$ROOT/var/lib/lastgood/state"
  assert_eq "$(status_field in_boot)" true "in_boot after boot"
  assert_eq "$(status_field total_boots)" 1 "total_boots"
  assert_eq "$(status_field failed_boots)" 0 "failed_boots"
}

t_threshold_reached_exactly() {
  write_policy "$POLICY_COMPONENT"; setup_components
  boot; assert_out 'mode=normal'                       # the boot that fails
  boot; assert_out 'mode=normal'; assert_out 'failed_boots=1/3'
  boot; assert_out 'mode=normal'; assert_out 'failed_boots=2/3'
  boot; assert_out 'mode=recovery:quarantine'; assert_out 'failed_boots=3/3'
  assert_eq "$(status_field culprit)" sensor "the changed component is the culprit"
}

t_per_component_threshold() {
  write_policy "$POLICY_COMPONENT"; setup_components
  echo good >"$ROOT/etc/sensor/rules.bin"; echo newer >"$ROOT/etc/other/rules.bin"   # other changed: threshold 5
  boot
  for i in 1 2 3 4; do boot; assert_out 'mode=normal'; done
  boot; assert_out 'mode=recovery:quarantine'; assert_out 'failed_boots=5/5'
}

t_confirm_resets() {
  write_policy "$POLICY_FILE_BACKEND"
  boot; boot; boot
  assert_eq "$(status_field failed_boots)" 2 "two failed boots"
  lg confirm; assert_rc 0
  assert_eq "$(status_field failed_boots)" 0 "confirm resets the count"
  assert_eq "$(status_field in_boot)" false "confirmed"
  boot; assert_out 'failed_boots=0/3'
}

t_same_boot_is_not_counted_twice() {
  write_policy "$POLICY_FILE_BACKEND"
  boot; lg boot; lg boot
  assert_out 'already counted'
  assert_eq "$(status_field total_boots)" 1 "a rerun in the same boot does not count"
}

t_failing_health_check_keeps_boot_unconfirmed() {
  write_policy "$POLICY_FILE_BACKEND
confirm:
  health_checks:
    - name: broken
      command: [/bin/false]
      timeout: 5s"
  boot
  lg confirm; assert_rc 1
  assert_err 'broken failed'
  assert_eq "$(status_field in_boot)" true "still unconfirmed"
  boot; assert_out 'failed_boots=1/3'
}

t_hanging_health_check_times_out() {
  write_policy "$POLICY_FILE_BACKEND
confirm:
  health_checks:
    - name: hangs
      command: [/bin/sleep, \"3600\"]
      timeout: 1s"
  boot
  local start=$SECONDS
  lg confirm; assert_rc 1
  assert_err 'hangs timed out'
  ((SECONDS - start < 30)) || fail "a hung check blocked confirm for $((SECONDS - start))s"
  assert_eq "$(status_field in_boot)" true "still unconfirmed"
}

t_missing_health_check_binary_fails() {
  write_policy "$POLICY_FILE_BACKEND
confirm:
  health_checks:
    - name: ghost
      command: [/nonexistent/check]
      timeout: 5s"
  boot
  lg confirm; assert_rc 1
  assert_err 'ghost could not be started'
}

t_passing_health_checks_confirm() {
  write_policy "$POLICY_FILE_BACKEND
confirm:
  health_checks:
    - name: ok1
      command: [/bin/true]
    - name: ok2
      command: [/bin/sh, -c, \"exit 0\"]
      timeout: 10s"
  boot
  lg confirm; assert_rc 0
  assert_eq "$(status_field in_boot)" false "confirmed"
}

t_efivar_backend() {
  write_policy 'version: 1
boot:
  state: efivar'
  boot; boot
  assert_file "$EFI/LastGoodState-f36dce15-2f3f-49cd-bff5-775e57d91dcf"
  assert_no_file "$ROOT/var/lib/lastgood/state"
  assert_eq "$(status_field backend)" efivar "backend"
  assert_eq "$(status_field failed_boots)" 1 "counted in NVRAM"
  # efivarfs format: 4-byte attributes (NV|BS|RT = 7), then the record.
  assert_eq "$(od -An -tu4 -N4 "$EFI/LastGoodState-f36dce15-2f3f-49cd-bff5-775e57d91dcf" | tr -d ' ')" 7 "attributes"
}

t_auto_prefers_efivar_then_root_file() {
  write_policy 'version: 1'
  boot
  assert_file "$EFI/LastGoodState-f36dce15-2f3f-49cd-bff5-775e57d91dcf"
  # Without efivarfs, auto falls back to the file under the root.
  rm -rf "$EFI"
  EFI=$T/noefi
  boot
  assert_file "$ROOT/var/lib/lastgood/state"
  # A machine without UEFI: the file is where auto puts it, every boot,
  # not a fall-through to warn about.
  assert_not_err 'fall-through|not available'
  assert_eq "$(status_field backend)" file "backend without efivarfs"
}

t_efivarfs_absent_falls_through_to_file() {
  write_policy 'version: 1
boot:
  state: efivar'
  EFI=$T/does-not-exist
  boot; assert_rc 0
  assert_err 'UEFI variables not available'
  assert_err 'State written to /var/lib/lastgood/state \(fall-through\)'
  assert_file "$ROOT/var/lib/lastgood/state"
  boot
  assert_eq "$(status_field failed_boots)" 1 "counted in the fallback"
}

t_missing_state_device_falls_through() {
  write_policy 'version: 1
boot:
  state: file
  state_device: PARTLABEL=lastgood-state-missing'
  boot; assert_rc 0
  assert_err 'State device PARTLABEL=lastgood-state-missing not found'
  assert_file "$ROOT/var/lib/lastgood/state"
}

t_read_only_state_dir_falls_through_to_efivar() {
  write_policy "$POLICY_FILE_BACKEND"
  boot
  chmod 0500 "$ROOT/var/lib/lastgood"
  # root ignores mode bits: make the directory truly unwritable
  chattr +i "$ROOT/var/lib/lastgood" 2>/dev/null || { mount --bind -o ro "$ROOT/var/lib/lastgood" "$ROOT/var/lib/lastgood" 2>/dev/null || { chmod 0755 "$ROOT/var/lib/lastgood"; echo "# skip: cannot make a read-only dir" >&2; return 0; }; RO_MOUNT=1; }
  boot; assert_rc 0
  assert_err 'Failed to write state to /var/lib/lastgood/state'
  assert_file "$EFI/LastGoodState-f36dce15-2f3f-49cd-bff5-775e57d91dcf"
  assert_eq "$(status_field failed_boots)" 1 "the newest copy (efivar) wins"
  assert_eq "$(status_field backend)" efivar "read from the fall-through store"
  chattr -i "$ROOT/var/lib/lastgood" 2>/dev/null; [[ -n "${RO_MOUNT:-}" ]] && umount "$ROOT/var/lib/lastgood"
  chmod 0755 "$ROOT/var/lib/lastgood"
  # The next write goes to the preferred store again and still wins.
  boot
  assert_eq "$(status_field failed_boots)" 2 "newest copy wins after the primary recovers"
}

t_corrupt_records_restart_conservatively() {
  write_policy "$POLICY_FILE_BACKEND"
  local f=$ROOT/var/lib/lastgood/state kind
  for kind in crc size garbage empty magic; do
    rm -f "$f"; boot; boot; boot
    case $kind in
      crc) printf '\x55' | dd of="$f" bs=1 seek=40 conv=notrunc status=none ;;
      size) truncate -s 100 "$f" ;;
      garbage) head -c 384 /dev/urandom >"$f" ;;
      empty) : >"$f" ;;
      magic) printf 'XXXX' | dd of="$f" bs=1 seek=0 conv=notrunc status=none ;;
    esac
    boot; assert_rc 0 "$kind"
    assert_err 'Corrupt state record'
    assert_eq "$(status_field failed_boots)" 1 "$kind: counting restarts from one unconfirmed boot"
  done
}

t_oversized_record_is_corrupt_not_fatal() {
  write_policy "$POLICY_FILE_BACKEND"
  mkdir -p "$ROOT/var/lib/lastgood"
  head -c 10000000 /dev/zero >"$ROOT/var/lib/lastgood/state"
  boot; assert_rc 0
  assert_err 'Corrupt state record'
}

t_bad_policy_never_stops_the_boot() {
  write_policy 'boot: [unclosed'
  boot; assert_rc 0
  assert_out 'mode=normal'
  lg status --json; assert_rc 0
  [[ $(jq '.policy_errors | length' <<<"$OUT") -ge 1 ]] || fail "status does not show the policy errors: $OUT"
}

t_safe_mode_next_boot_once() {
  write_policy "$POLICY_FILE_BACKEND"
  boot; lg confirm
  lg safe-mode --next-boot; assert_rc 0
  assert_eq "$(status_field safe_mode_requested)" 1 "pending request"
  boot; assert_out 'mode=safe'
  lg confirm
  boot; assert_out 'mode=normal'
}

t_safe_mode_boots_n_and_cancel() {
  write_policy "$POLICY_FILE_BACKEND"
  boot; lg confirm
  lg safe-mode --next-boot --boots 2
  boot; assert_out 'mode=safe'; lg confirm
  boot; assert_out 'mode=safe'; lg confirm
  boot; assert_out 'mode=normal'; lg confirm
  lg safe-mode --next-boot; lg safe-mode --cancel
  boot; assert_out 'mode=normal'
  lg safe-mode --next-boot --boots 99; assert_rc 2
  lg safe-mode; assert_rc 2
}

t_status_json_is_valid() {
  write_policy "$POLICY_FILE_BACKEND"
  boot
  lg status --json; assert_rc 0
  jq -e '.schema_version == 1 and .backend == "file" and .threshold == 3' <<<"$OUT" >/dev/null ||
    fail "status --json: $OUT"
  lg status; assert_rc 0; assert_out 'Failed boots: +0'
}

t_usage_errors_exit_2() {
  lg frobnicate; assert_rc 2
  lg; assert_rc 2
  lg --help; assert_rc 0; assert_out 'Exit status'
  lg status extra; assert_rc 2
}

run_tests
