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

# A policy whose health check passes (or runs CHECK, e.g. /bin/false), with one component.
healthy_policy() {
  write_policy "version: 1
boot:
  max_failed_boots: 3
  state: file
confirm:
  health_checks:
    - name: ok
      command: [\"${1:-/bin/true}\"]
      timeout: 10s
components:
  - name: examplesensor
    content: [/etc/examplesensor]"
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

# The content breaker's tests are not vacuous either: with N raised to 4 the
# fire case fails; with the window widened to a day the out-of-window cases
# fail; with the digest left out of the grouping the different-digests case
# fails.
t_content_breaker_tests_can_fail() {
  mkdir -p "$T/rules"
  cp "$RULES_TEST" "$T/rules/"
  local mut
  for mut in 's/vector(3)/vector(4)/' 's/< bool 3600$/< bool 86400/' \
    's/sum by (component, content_digest) (lastgood:content_recovered_1h:bool)/sum by (component) (lastgood:content_recovered_1h:bool)/'; do
    sed "$mut" "$RULES" >"$T/rules/lastgood.rules.yml"
    cmp -s "$RULES" "$T/rules/lastgood.rules.yml" && fail "test setup: '$mut' changed nothing"
    if (cd "$T/rules" && promtool test rules lastgood.rules.test.yml >/dev/null 2>&1); then
      fail "promtool test rules passed against a broken rule ($mut)"
    fi
  done
  return 0
}

# The README's Alertmanager configuration is valid (the real amtool) and
# routes both shipped breakers to the rollout receiver, nothing else.
t_readme_alertmanager_route() {
  awk '/^## Fleet monitoring/ { f = 1 } f && /^```yaml$/ { y = 1; next } y && /^```$/ { exit } y' \
    "$TOP/README.md" >"$T/am.yml"
  [[ -s $T/am.yml ]] || { fail "no yaml block in the README's Fleet monitoring section"; return; }
  local out b
  out=$(amtool check-config "$T/am.yml" 2>&1) || fail "amtool check-config: $out"
  for b in $(grep -oE 'circuit_breaker: [a-z-]+' "$RULES" | cut -d' ' -f2); do
    out=$(amtool config routes test --config.file="$T/am.yml" circuit_breaker="$b" component=falcon 2>/dev/null)
    assert_eq "$out" rollout-pause "route of circuit_breaker=$b"
  done
  out=$(amtool config routes test --config.file="$T/am.yml" alertname=NodeDown 2>/dev/null)
  assert_eq "$out" default "route of another alert"
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
  cp -p "$ROOT/etc/examplesensor/rules" "$T/bad-rules"
  boot; boot; boot; boot
  status_validates recovered
  [[ $(jq -r .last_action <<<"$OUT") != null ]] || fail "no last_action after recovery: $OUT"
  assert_eq "$(jq -r .culprit <<<"$OUT")" examplesensor "culprit"
  prom_check
  # The culprit content is named by its digest: the bad rules file, as
  # manifest_content_digest() defines it (recomputed here independently).
  local sha want
  sha=$(sha256sum <"$T/bad-rules" | cut -d' ' -f1)
  want=sha256:$(printf 'd %04d - etc/examplesensor -\nf %04d %s etc/examplesensor/rules -\n' \
    "$(stat -c %a "$ROOT/etc/examplesensor")" "$(stat -c %a "$T/bad-rules")" "$sha" | sha256sum | cut -d' ' -f1)
  grep -qxF "lastgood_recoveries_total{component=\"examplesensor\",action=\"restore-content\",content_digest=\"$want\"} 1" \
    "$ROOT$PROM" || fail "recovery not counted under digest $want: $(grep recover "$ROOT$PROM")"
  grep -qE "^lastgood_last_recovery_timestamp_seconds\{component=\"examplesensor\",action=\"restore-content\",content_digest=\"$want\"\} [1-9]" \
    "$ROOT$PROM" || fail "no recovery timestamp: $(grep recover "$ROOT$PROM")"
  # The restore event carries the same digest.
  assert_eq "$(jq -r 'select(.type == "recovery-restore") | .evidence.content_digest' "$ROOT/var/lib/lastgood/events.jsonl")" \
    "$want" "content_digest of the restore event"
  grep -qE '^lastgood_build_info\{version="[^"]+"\} 1$' "$ROOT$PROM" || fail "no build_info: $(cat "$ROOT$PROM")"
  grep -qx '# TYPE lastgood_internal_errors_total counter' "$ROOT$PROM" || fail "internal errors counter type"
}

# The read-only root of the initramfs (here: the collector directory,
# mounted read-only): no warning, no textfile, a pending marker; then the
# systemd unit's second run writes it, counts nothing, removes the marker.
t_textfile_deferred_from_a_read_only_root() {
  healthy_policy
  local dir=$ROOT/var/lib/prometheus/node-exporter
  mkdir -p "$dir"
  boot; lg confirm; assert_rc 0 "confirm"
  rm -f "$dir/lastgood.prom"
  if ! { mount --bind "$dir" "$dir" && mount -o remount,bind,ro "$dir"; } 2>/dev/null; then
    umount "$dir" 2>/dev/null
    echo "# skip: cannot mount a read-only directory here"
    return 0
  fi
  boot
  umount "$dir"
  assert_rc 0 "boot with a read-only textfile directory"
  [[ $ERR != *Read-only* && $ERR != *textfile* ]] || fail "a healthy boot warned: $ERR"
  assert_no_file "$dir/lastgood.prom"
  assert_file "$ROOT/run/lastgood/report-pending"
  local total
  total=$(status_field total_boots)
  # lastgood-boot.service: same boot, /run/lastgood/booted left by the initramfs.
  : >"$ROOT/run/lastgood/booted"
  lg boot
  assert_rc 0 "second run"
  assert_out 'already counted'
  prom_check
  grep -qx 'lastgood_failed_boots 0' "$dir/lastgood.prom" || fail "textfile: $(cat "$dir/lastgood.prom")"
  assert_no_file "$ROOT/run/lastgood/report-pending"
  assert_eq "$(status_field total_boots)" "$total" "total_boots after the second run"
}

# The second run never counts the boot again, even when it cannot read the
# state (without the /run/lastgood/booted check it would start over from a
# "corrupt" record and rewrite it).
t_second_run_never_counts_again() {
  healthy_policy
  boot; boot
  mkdir -p "$ROOT/run/lastgood" && : >"$ROOT/run/lastgood/booted"
  head -c 256 /dev/urandom >"$ROOT/var/lib/lastgood/state"
  cp "$ROOT/var/lib/lastgood/state" "$T/state.before"
  lg boot
  assert_rc 0 "second run"
  assert_out 'already counted'
  cmp -s "$ROOT/var/lib/lastgood/state" "$T/state.before" || fail "the second run rewrote the state record"
  ! grep -q '"type":"state-corrupt"' "$ROOT/var/lib/lastgood/events.jsonl" || fail "the second run recorded an event"
}

# A failed confirm rewrites the textfile too: the fleet sees the unconfirmed
# boot now.
t_textfile_after_a_failed_confirm() {
  healthy_policy /bin/false
  mkdir -p "$ROOT/var/lib/prometheus/node-exporter"
  boot; boot
  rm "$ROOT$PROM"
  lg confirm
  assert_rc 1 "confirm with a failing check"
  prom_check
  grep -qx 'lastgood_failed_boots 1' "$ROOT$PROM" || fail "failed_boots after a failed confirm: $(cat "$ROOT$PROM")"
}

# No collector directory: said once by confirm (notice and event), not at
# every run, and never by the boot itself (a healthy boot writes only its
# record); said again after it came back and went away again.
t_missing_directory_reported_once() {
  healthy_policy
  local events=$ROOT/var/lib/lastgood/events.jsonl
  boot
  [[ $ERR != *"does not exist"* ]] || fail "said by the boot: $ERR"
  lg confirm
  assert_err 'node-exporter does not exist'
  assert_eq "$(grep -c '"type":"report-dir-missing"' "$events")" 1 "events after the first confirm"
  assert_eq "$(jq -r 'select(.type == "report-dir-missing") | .evidence.directory' "$events")" \
    /var/lib/prometheus/node-exporter "directory named"
  boot
  lg confirm
  [[ $ERR != *"does not exist"* ]] || fail "said again by the second confirm: $ERR"
  assert_eq "$(grep -c '"type":"report-dir-missing"' "$events")" 1 "events after four runs"
  mkdir -p "$ROOT/var/lib/prometheus/node-exporter"
  boot
  prom_check
  rm -r "$ROOT/var/lib/prometheus/node-exporter"
  boot; lg confirm
  assert_err 'node-exporter does not exist'
  assert_eq "$(grep -c '"type":"report-dir-missing"' "$events")" 2 "events after it went missing again"
}

run_tests
