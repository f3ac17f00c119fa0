#!/bin/bash
# `status` tells the truth: a fresh install is not "confirmed", a crash loop
# that touches nothing is an open incident with its reason, and a user who
# cannot read the state gets an error and a non-zero exit, not made-up values.
source "$(dirname "$0")/lib.sh"

SCHEMA=$TOP/docs/status.schema.json
POLICY='version: 1
boot:
  max_failed_boots: 3
  state: file
components:
  - name: sensor
    content: [/etc/sensor]
    kernel_modules: [sensor_mod]'

status_json_valid() {
  lg status --json; assert_rc 0 "status --json ($1)"
  printf '%s\n' "$OUT" >"$T/s.json"
  local why; why=$(schema_check "$SCHEMA" "$T/s.json" 2>&1) || fail "status --json ($1) does not match the schema: $why"
}

t_fresh_install_is_not_confirmed() {
  write_policy "$POLICY"
  lg status; assert_rc 0
  assert_out 'This boot: +not yet confirmed'
  assert_not_out '\(confirmed\)'
  assert_out 'Last confirmed: +never'
  status_json_valid fresh
  assert_eq "$(jq -r .confirmed <<<"$OUT")" false
  assert_eq "$(jq -r .state_record_found <<<"$OUT")" false
  assert_eq "$(jq -r .incident_open <<<"$OUT")" false
  # A record without a confirmed boot (safe-mode --next-boot on a fresh
  # install writes one with in_boot 0) is not confirmed either.
  lg safe-mode --next-boot; assert_rc 0
  lg status; assert_out 'This boot: +normal \(not yet confirmed\)'
  assert_eq "$(status_field confirmed)" false
}

t_confirmed_boot_says_confirmed() {
  write_policy "$POLICY"
  boot_confirmed
  lg status; assert_out 'This boot: +normal \(confirmed\)'
  assert_not_out 'OPEN'
  status_json_valid confirmed
  assert_eq "$(jq -r .confirmed <<<"$OUT")" true
  assert_eq "$(jq -r .state_record_found <<<"$OUT")" true
}

# Four failed boots, the content unchanged, no crash record: no suspect, so
# nothing is touched — and status must say so, not "normal, incident 0".
t_no_suspect_crash_loop_is_an_open_incident() {
  write_policy "$POLICY"
  mkdir -p "$ROOT/etc/sensor"; echo a >"$ROOT/etc/sensor/a"
  boot_confirmed
  for _ in 1 2 3 4; do new_boot; lg boot; done
  lg status; assert_rc 0
  assert_out 'Failed boots: +3'
  assert_out 'Incident: +OPEN, crash loop, no component touched'
  assert_out 'no suspect'
  status_json_valid loop
  assert_eq "$(jq -r .incident_open <<<"$OUT")" true
  assert_eq "$(jq -r .incident <<<"$OUT")" 0 "no incident number: nothing was blamed"
  local reason; reason=$(jq -r .incident_reason <<<"$OUT")
  [[ $reason == *"no suspect"* ]] || fail "reason: $reason"
  # Below the threshold it is only counting, not an incident.
  lg confirm; assert_rc 0
  new_boot; lg boot; new_boot; lg boot
  assert_eq "$(status_field incident_open)" false "1 of 3 failed boots"
  assert_eq "$(status_field incident_reason)" null
  # The event of the earlier incident does not leak into a new one's reason.
  new_boot; lg boot; new_boot; lg boot
  assert_eq "$(status_field incident_open)" true
}

# An incident with a culprit: restored content, the step named.
t_incident_with_culprit_shows_its_step() {
  write_policy "$POLICY"
  mkdir -p "$ROOT/etc/sensor"; echo good >"$ROOT/etc/sensor/a"
  boot_confirmed
  echo bad >"$ROOT/etc/sensor/a"
  new_boot; lg boot; new_boot; lg boot
  lg status; assert_out 'Incident: +OPEN, #1, ladder step 1, culprit sensor'
  assert_eq "$(status_field incident_open)" true
  lg confirm; assert_rc 0
  lg status; assert_not_out 'OPEN'
}

# Not root: the key (0600) and the state directory (0700) are root's. The
# status must fail, not show a distrusted or empty record as the truth.
t_unreadable_state_is_an_error() {
  write_policy "$POLICY"
  boot_confirmed
  chmod 0755 "$T"   # let nobody reach the test root (mktemp makes it 0700)
  local nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups env EFIVARFS_PATH="$EFI/" LIBEFIVAR_OPS=efivarfs
    "$LG_BIN" --root "$ROOT" --pstore "$PSTORE")
  "${nobody[@]}" status >"$T/o" 2>"$T/e"; RC=$?; OUT=$(cat "$T/o"); ERR=$(cat "$T/e")
  assert_rc 1 "status as nobody"
  assert_err 'Cannot read the boot state as uid 65534: permission denied'
  assert_eq "$OUT" "" "no made-up status on stdout"
  "${nobody[@]}" --json status >"$T/o" 2>"$T/e"; RC=$?; OUT=$(cat "$T/o")
  assert_rc 1 "status --json as nobody"
  assert_eq "$OUT" "" "no made-up JSON"
  # A readable state directory with an unreadable record: the same.
  chmod 0755 "$ROOT/var/lib/lastgood"
  "${nobody[@]}" status >"$T/o" 2>"$T/e"; RC=$?; ERR=$(cat "$T/e")
  assert_rc 1 "record 0600 in a readable directory"
  assert_err 'permission denied'
  # The negative: root reads the same state (exit 0, confirmed).
  lg status; assert_rc 0; assert_out '\(confirmed\)'
}

run_tests
