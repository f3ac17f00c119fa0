#!/bin/bash
# Who did it: every administrative verb that changes what protects the
# machine, and every safe-mode boot, leaves an event naming its actor
# (agent/audit.h). And ESP request files left across a confirmed boot are
# removed unheeded instead of firing at a later unconfirmed boot.
source "$(dirname "$0")/lib.sh"

POLICY='version: 1
boot:
  max_failed_boots: 3
  state: file
safe_mode:
  require_code: false
components:
  - name: sensor
    content: [/etc/sensor]
    kernel_modules: [sensor_mod]'

POLICY_CODE='version: 1
boot:
  max_failed_boots: 3
  state: file
safe_mode:
  require_code: true'

SECRET=/var/lib/lastgood/helpdesk.secret

# field TYPE KEY — the evidence KEY of the events of TYPE, one a line.
field() { lg log --json; jq -r --arg t "$1" --arg k "$2" '.[] | select(.type == $t) | .evidence[$k]' <<<"$OUT"; }
messages() { lg log --json; jq -r --arg t "$1" '.[] | select(.type == $t) | .message' <<<"$OUT"; }
# A failed boot: boot without confirming (the next boot counts it).
boot_failed() { mkdir -p "$T/esp"; new_boot; lg --esp "$T/esp" boot; assert_rc 0 boot; MODE=$(grep -oE 'mode=[a-z]+' <<<"$OUT" | head -1); }
esp_request() { mkdir -p "$T/esp/EFI/lastgood"; printf '%s\n' "$1" >"$T/esp/EFI/lastgood/safemode"; }

t_next_boot_and_cancel_name_the_sudo_user() {
  write_policy "$POLICY"
  boot_confirmed
  SUDO_USER=alice lg safe-mode --next-boot --boots 2; assert_rc 0
  assert_eq "$(field safe-mode-scheduled actor)" "alice via sudo (uid 0)" "scheduled by alice"
  assert_eq "$(field safe-mode-scheduled boots)" 2
  assert_eq "$(field safe-mode-scheduled actor_uid)" 0
  assert_eq "$(messages safe-mode-scheduled)" "safe mode requested for the next 2 boots by alice via sudo (uid 0)"
  SUDO_USER=bob lg safe-mode --cancel; assert_rc 0
  assert_eq "$(field safe-mode-cancelled actor)" "bob via sudo (uid 0)" "cancelled by bob"
  # The cancel holds: the next boot is normal, and no safe boot is recorded.
  boot_confirmed; assert_eq "$MODE" mode=normal
  assert_eq "$(field safe-mode-boot actor)" "" "no safe-mode-boot event"
  # `lastgood log` (the table) shows who.
  lg log; assert_out "cancelled by bob via sudo"
}

t_without_sudo_the_login_uid_or_uid_is_named() {
  write_policy "$POLICY"
  boot_confirmed
  unset SUDO_USER
  lg safe-mode --next-boot; assert_rc 0
  local want luid
  luid=$(cat /proc/self/loginuid 2>/dev/null || echo 4294967295)
  if [[ $luid == 4294967295 ]]; then want="root (uid 0)"
  else want="$(getent passwd "$luid" | cut -d: -f1) (login uid $luid, uid 0)"; [[ $want == " "* ]] && want="login uid $luid (uid 0)"; fi
  assert_eq "$(field safe-mode-scheduled actor)" "$want" "no sudo: login uid, else uid"
}

# The safe boot a --next-boot request causes names the requester, though
# the state record (fixed layout) holds only a count: from the log.
t_safe_boot_names_the_next_boot_requester() {
  write_policy "$POLICY"
  boot_confirmed
  SUDO_USER=carol lg safe-mode --next-boot; assert_rc 0
  boot_confirmed; assert_eq "$MODE" mode=safe
  assert_eq "$(field safe-mode-boot actor)" "safe-mode --next-boot by carol via sudo (uid 0)"
  assert_eq "$(field safe-mode-boot source)" "safe-mode --next-boot"
  boot_confirmed; assert_eq "$MODE" mode=normal
  assert_eq "$(field safe-mode-boot actor | wc -l)" 1 "one safe boot, one event"
  lg log verify; assert_rc 0
}

# Issue 12: a helpdesk-requested safe boot recorded nothing about the boot.
t_safe_boot_names_the_helpdesk_code() {
  write_policy "$POLICY_CODE"
  SUDO_USER=dave lg helpdesk enroll; assert_rc 0
  local hex; hex=$(grep -oE '[0-9a-f]{64}' <<<"$OUT" | head -1)
  assert_eq "$(field helpdesk-enrolled actor)" "dave via sudo (uid 0)" "enrolled by dave"
  # The secret never reaches the log.
  [[ -n $hex ]] && ! grep -q "$hex" "$ROOT/var/lib/lastgood/events.jsonl" || fail "the key is in the event log"
  boot_confirmed
  lg helpdesk code --secret-file "$ROOT$SECRET" --counter 1; local code=$OUT
  CMDLINE="quiet lastgood.safemode=$code"
  boot_confirmed; assert_eq "$MODE" mode=safe
  assert_eq "$(field safe-mode-boot actor)" "console: helpdesk code #1"
  CMDLINE=quiet
  esp_request ''
  lg helpdesk code --secret-file "$ROOT$SECRET" --counter 2; esp_request "$OUT"
  boot_failed; assert_eq "$MODE" mode=safe "ESP request after a failed boot"
  assert_eq "$(field safe-mode-boot actor | tail -1)" "ESP request, helpdesk code #2"
  assert_eq "$(field safe-mode-boot file | tail -1)" "EFI/lastgood/safemode"
  assert_eq "$(field safe-mode-boot esp | tail -1)" "$T/esp" "which ESP"
}

t_quarantine_release_names_the_actor() {
  write_policy "$POLICY"
  mkdir -p "$ROOT/etc/sensor"; echo x >"$ROOT/etc/sensor/x"
  lg quarantine apply sensor; assert_rc 0
  SUDO_USER=erin lg quarantine release sensor; assert_rc 0
  assert_eq "$(field quarantine-release actor)" "erin via sudo (uid 0)"
  assert_eq "$(messages quarantine-release)" "released from quarantine by erin via sudo (uid 0)"
}

t_snapshot_restore_and_import_name_the_actor() {
  write_policy "$POLICY"
  mkdir -p "$ROOT/etc/sensor"; echo good >"$ROOT/etc/sensor/rules"
  lg snapshot create sensor; assert_rc 0
  echo bad >"$ROOT/etc/sensor/rules"
  SUDO_USER=frank lg snapshot restore sensor; assert_rc 0
  assert_eq "$(field snapshot-restored actor)" "frank via sudo (uid 0)"
  assert_eq "$(cat "$ROOT/etc/sensor/rules")" good
  tar -C "$ROOT" -cf "$T/s.tar" etc/sensor
  SUDO_USER=gina lg snapshot import sensor "$T/s.tar"; assert_rc 0
  assert_eq "$(field snapshot-imported actor)" "gina via sudo (uid 0)"
  assert_eq "$(field snapshot-imported archive)" "$T/s.tar"
  # A refused import records nothing.
  echo junk >"$T/junk.tar"
  SUDO_USER=gina lg snapshot import sensor "$T/junk.tar"; assert_rc 1
  assert_eq "$(field snapshot-imported actor | wc -l)" 1 "only the import that happened"
}

# ---- ESP request files left behind ----

# A request dropped on the ESP of a running machine (which then shuts down
# cleanly) is stale at the next confirm: removed, with an event, and the
# later unconfirmed boot boots normally.
t_esp_request_left_across_a_confirmed_boot_is_removed() {
  write_policy "$POLICY"
  boot_confirmed
  esp_request ''
  # The next boot follows a confirmed one: it does not look at the ESP (no
  # --esp here: the test ESP is not the booted one), and confirms.
  new_boot; lg boot; assert_rc 0; assert_out 'mode=normal'
  lg --esp "$T/esp" confirm; assert_rc 0
  assert_no_file "$T/esp/EFI/lastgood/safemode"
  assert_eq "$(field esp-request-stale file)" "EFI/lastgood/safemode"
  assert_eq "$(field esp-request-stale esp)" "$T/esp"
  assert_eq "$(messages esp-request-stale | grep -c 'not honoured')" 1
  boot_failed; boot_failed; assert_eq "$MODE" mode=normal "the stale request does not fire"
  assert_eq "$(field safe-mode-boot actor)" "" "no safe boot"
}

# The negative: a request that is there when a boot follows an unconfirmed
# one is still honoured (the helpdesk path), and confirm without a request
# records nothing.
t_esp_request_after_a_failed_boot_still_fires() {
  write_policy "$POLICY"
  boot_confirmed
  new_boot; lg boot; lg --esp "$T/esp" confirm; assert_rc 0
  assert_eq "$(field esp-request-stale file)" "" "nothing to remove, nothing recorded"
  boot_failed
  esp_request ''
  boot_failed; assert_eq "$MODE" mode=safe "the helpdesk's request after a failed boot"
  assert_eq "$(field safe-mode-boot actor)" "ESP request"
}

# A malformed leftover is removed too (it would be refused at boot, but the
# refusal must not repeat).
t_malformed_leftover_is_removed() {
  write_policy "$POLICY"
  boot_confirmed
  esp_request 'boots=frobnicate'
  new_boot; lg boot; assert_rc 0
  lg --esp "$T/esp" confirm; assert_rc 0
  assert_no_file "$T/esp/EFI/lastgood/safemode"
  assert_eq "$(messages esp-request-stale | grep -c 'malformed')" 1
}

run_tests
