#!/bin/bash
# Fleet reporting: the Prometheus textfile written by `boot` and `confirm`
# (promtool check metrics), the circuit-breaker rules (promtool check rules,
# promtool test rules), and `status --json` against docs/status.schema.json
# in several states (Debian's python3-jsonschema, run with /usr/bin/python3
# so that a developer's own python does not stand in for it).
source "$(dirname "$0")/lib.sh"

RULES=$TOP/dist/prometheus/lastgood.rules.yml
RULES_TEST=$TOP/dist/prometheus/lastgood.rules.test.yml
SCHEMA=$TOP/docs/status.schema.json
PROM=/var/lib/prometheus/node-exporter/lastgood.prom

# A policy whose health check passes, with one component.
healthy_policy() {
  write_policy 'version: 1
boot:
  max_failed_boots: 3
  state: file
confirm:
  health_checks:
    - name: ok
      command: ["/bin/true"]
      timeout: 10s
components:
  - name: examplesensor
    content: [/etc/examplesensor]'
  mkdir -p "$ROOT/etc/examplesensor"
  echo good >"$ROOT/etc/examplesensor/rules"
}

# validate FILE — status JSON against the schema; prints the validator's error.
validate() {
  /usr/bin/python3 - "$SCHEMA" "$1" <<'PY'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
try:
    jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))
except jsonschema.ValidationError as e:
    print("schema: %s at %s" % (e.message, "/".join(map(str, e.absolute_path))))
    sys.exit(1)
PY
}

# status_validates LABEL — `status --json` now validates.
status_validates() {
  lg status --json
  assert_rc 0 "status --json ($1)"
  printf '%s\n' "$OUT" >"$T/status-$1.json"
  local why
  why=$(validate "$T/status-$1.json" 2>&1) || fail "status --json ($1) does not match the schema: $why: $OUT"
}

prom_check() {
  assert_file "$ROOT$PROM"
  [[ -e "$ROOT$PROM" ]] || return 0
  local out
  out=$(promtool check metrics <"$ROOT$PROM" 2>&1) || fail "promtool check metrics: $out"
}

t_rules_check() {
  local out
  out=$(promtool check rules "$RULES" 2>&1) || fail "promtool check rules: $out"
}

t_rules_unit_tests() {
  local out
  out=$(cd "$(dirname "$RULES_TEST")" && promtool test rules "$(basename "$RULES_TEST")" 2>&1) ||
    fail "promtool test rules: $out"
}

# The rule tests are not vacuous: with the threshold raised out of reach
# the same tests fail.
t_rules_unit_tests_can_fail() {
  mkdir -p "$T/rules"
  sed 's/ratio_by_ring > 0.05/ratio_by_ring > 0.5/' "$RULES" >"$T/rules/lastgood.rules.yml"
  cp "$RULES_TEST" "$T/rules/"
  if (cd "$T/rules" && promtool test rules lastgood.rules.test.yml >/dev/null 2>&1); then
    fail "promtool test rules passed against a broken rule"
  fi
}

t_schema_is_valid_and_strict() {
  # A hand-made output that follows the contract validates…
  cat >"$T/good.json" <<'JSON'
{"schema_version":1,"version":"0.1","backend":"efivar","backend_location":"LastGoodState-f36dce15-2f3f-49cd-bff5-775e57d91dcf","state_ok":true,"state_problem":null,"boot_mode":"recovery","boot_id":"b1","failed_boots":3,"threshold":3,"total_boots":9,"in_boot":true,"last_confirmed_boot":{"time_usec":1700000000000000,"time":"2023-11-14T22:13:20Z","boot_id":"b0"},"safe_mode_requested":0,"safe_mode_active":false,"incident":1,"ladder":["restore-content","quarantine","safe-mode"],"ladder_step":1,"culprit":"examplesensor","last_action":"restore-content","last_action_time_usec":1700000100000000,"internal_errors":0,"last_error":null,"policy_errors":[],"policy_files":["/etc/lastgood/policy.yaml"],"policy_fallback":null,"components":[{"name":"examplesensor","quarantined":false,"newest_snapshot":"20231114T221320Z","newest_snapshot_time_usec":1700000000000000,"content_changed":true}]}
JSON
  validate "$T/good.json" >/dev/null || fail "the contract example does not validate"
  # …and the schema refuses what breaks the contract.
  local mut
  for mut in 'del(.failed_boots)' '.boot_mode="crashed"' '.schema_version=2' '.threshold="3"' \
    '.components[0].quarantined=null' '.last_confirmed_boot={"time_usec":1}' '.backend="nvram"' \
    '.ladder=["reboot"]' '.failed_boots=-1' 'del(.policy_fallback)' '.policy_fallback={"kind":"defaults","reason":"x"}'; do
    jq "$mut" "$T/good.json" >"$T/bad.json"
    validate "$T/bad.json" >/dev/null 2>&1 && fail "schema accepted: $mut"
  done
  return 0
}

t_status_json_in_several_states() {
  healthy_policy
  status_validates fresh
  boot
  status_validates first-boot
  assert_eq "$(jq -r .in_boot <<<"$OUT")" true "in_boot after boot"
  # failed_boots counts the earlier boots that were never confirmed.
  boot; boot; boot
  status_validates loop
  assert_eq "$(jq -r .failed_boots <<<"$OUT")" 3 "failed_boots after four unconfirmed boots"
  lg confirm
  assert_rc 0 "confirm"
  status_validates confirmed
  assert_eq "$(jq -r '.last_confirmed_boot.boot_id' <<<"$OUT")" "$BOOT_ID" "last confirmed boot id"
  lg safe-mode --next-boot
  status_validates safe-mode-requested
  boot
  status_validates safe-mode
  assert_eq "$(jq -r .boot_mode <<<"$OUT")" safe "boot_mode after a safe-mode request"
}

t_status_json_with_policy_errors() {
  write_policy 'version: 1
boot:
  max_failed_boots: 0
  frobnicate: yes'
  boot
  status_validates policy-errors
  [[ $(jq '.policy_errors | length' <<<"$OUT") -ge 1 ]] || fail "policy_errors empty: $OUT"
}

# Issue 11 finding 5: a fallback policy, in status --json and the textfile.
t_status_json_and_textfile_with_policy_fallback() {
  healthy_policy
  mkdir -p "$ROOT/var/lib/prometheus/node-exporter"
  boot; lg confirm; assert_rc 0 "confirm"
  status_validates valid-policy
  assert_eq "$(jq -c .policy_fallback <<<"$OUT")" null
  printf 'frobnicate: "a \\ \\"quoted\\" value"\n' >>"$ROOT/etc/lastgood/policy.yaml"
  boot
  status_validates last-good
  assert_eq "$(jq -r .policy_fallback.kind <<<"$OUT")" last-good
  prom_check
  grep -q '^lastgood_policy_fallback{kind="last-good",reason="/etc/lastgood/policy.yaml:13:1: unknown key .frobnicate."} 1$' "$ROOT$PROM" ||
    fail "textfile: $(grep fallback "$ROOT$PROM")"
  rm "$ROOT/var/lib/lastgood/policy.last-good"
  boot
  status_validates strict
  assert_eq "$(jq -r .policy_fallback.kind <<<"$OUT")" strict
  prom_check
}

t_status_json_with_corrupt_state() {
  healthy_policy
  mkdir -p "$ROOT/var/lib/lastgood"
  head -c 256 /dev/urandom >"$ROOT/var/lib/lastgood/state"
  status_validates corrupt
  assert_eq "$(jq -r .state_ok <<<"$OUT")" false "state_ok with a corrupt record"
}

t_textfile_after_boot_and_confirm() {
  healthy_policy
  mkdir -p "$ROOT/var/lib/prometheus/node-exporter"
  boot
  assert_rc 0 "boot"
  prom_check
  grep -qx 'lastgood_failed_boots 0' "$ROOT$PROM" || fail "failed_boots after the first boot: $(cat "$ROOT$PROM")"
  boot
  grep -qx 'lastgood_failed_boots 1' "$ROOT$PROM" || fail "failed_boots after a second boot: $(cat "$ROOT$PROM")"
  grep -qx 'lastgood_boot_mode{mode="normal"} 1' "$ROOT$PROM" || fail "boot mode: $(cat "$ROOT$PROM")"
  grep -qx 'lastgood_quarantined{component="examplesensor"} 0' "$ROOT$PROM" || fail "quarantined series"
  lg confirm
  assert_rc 0 "confirm"
  prom_check
  grep -qx 'lastgood_failed_boots 0' "$ROOT$PROM" || fail "failed_boots after confirm: $(cat "$ROOT$PROM")"
  grep -qE '^lastgood_last_confirmed_boot_timestamp_seconds [1-9][0-9]{9}' "$ROOT$PROM" ||
    fail "no confirmed timestamp: $(cat "$ROOT$PROM")"
  grep -qE '^lastgood_known_good_snapshot_timestamp_seconds\{component="examplesensor"\} [1-9]' "$ROOT$PROM" ||
    fail "no snapshot timestamp after confirm: $(cat "$ROOT$PROM")"
  # Atomic replacement: no temp file left for the collector to trip on.
  assert_eq "$(ls -A "$ROOT/var/lib/prometheus/node-exporter")" lastgood.prom "textfile directory"
}

t_textfile_in_recovery() {
  healthy_policy
  mkdir -p "$ROOT/var/lib/prometheus/node-exporter"
  boot; boot; boot; boot
  prom_check
  grep -qx 'lastgood_failed_boots 3' "$ROOT$PROM" || fail "failed_boots: $(cat "$ROOT$PROM")"
  grep -qx 'lastgood_failed_boots_threshold 3' "$ROOT$PROM" || fail "threshold: $(cat "$ROOT$PROM")"
}

# No collector installed: boot neither fails nor creates its directory.
t_textfile_without_collector() {
  healthy_policy
  boot
  assert_rc 0 "boot"
  assert_no_file "$ROOT/var/lib/prometheus"
}

t_textfile_disabled() {
  healthy_policy
  printf 'report:\n  prometheus_textfile: ""\n' >>"$ROOT/etc/lastgood/policy.yaml"
  mkdir -p "$ROOT/var/lib/prometheus/node-exporter"
  boot
  assert_rc 0 "boot"
  assert_no_file "$ROOT$PROM"
}

# A real recovery: the changed component is restored; status names it and
# the textfile counts it, with its timestamp for the fleet rule.
t_after_a_recovery() {
  healthy_policy
  mkdir -p "$ROOT/var/lib/prometheus/node-exporter"
  boot
  lg confirm
  assert_rc 0 "confirm (takes the known-good snapshot)"
  echo bad >"$ROOT/etc/examplesensor/rules"
  boot; boot; boot; boot
  status_validates recovered
  [[ $(jq -r .last_action <<<"$OUT") != null ]] || fail "no last_action after recovery: $OUT"
  assert_eq "$(jq -r .culprit <<<"$OUT")" examplesensor "culprit"
  prom_check
  grep -qE '^lastgood_recoveries_total\{component="examplesensor",action="restore-content"\} 1$' "$ROOT$PROM" ||
    fail "recovery not counted: $(grep recover "$ROOT$PROM")"
  grep -qE '^lastgood_last_recovery_timestamp_seconds\{component="examplesensor",action="restore-content"\} [1-9]' "$ROOT$PROM" ||
    fail "no recovery timestamp: $(grep recover "$ROOT$PROM")"
}

run_tests
