#!/bin/bash
# A component's `exclude`: live state below its content (osquery's RocksDB,
# logs, a sensor's own store) changes at every boot. It is never snapshotted,
# never a reason for suspicion, never restored and never moved aside — and
# the negative controls show what happens without it (the churn makes the
# component a suspect and a restore rolls its database back).
#
# Runs the release binary when it is built (what machines run), else the
# test build.
source "$(dirname "$0")/lib.sh"
TEST_BIN=$LG_BIN
for b in "${BUILDDIR:-$TOP/build}/release/lastgood" "$TOP/lastgood"; do
  [[ -z ${LASTGOOD_BIN:-} && -x $b ]] && { LG_BIN=$b; break; }
done

osquery_policy() { # EXCLUDE (a YAML flow list, or empty for none)
  write_policy "version: 1
boot:
  max_failed_boots: 2
  state: file
components:
  - name: osquery
    content: [/var/osquery]
${1:+    exclude: $1
}    units: [osqueryd.service]
  - name: falcon
    content: [/opt/CrowdStrike]
    exclude: [/opt/CrowdStrike/falconstore]
    kernel_modules: [falcon_lsm_serviceable]
    units: [falcon-sensor.service]"
}

OSQ_EXCLUDE='[/var/osquery/osquery.db, "/var/osquery/*.log"]'

install_sensors() {
  mkdir -p "$ROOT/var/osquery/osquery.db" "$ROOT/var/osquery/packs" "$ROOT/opt/CrowdStrike/falconstore" \
    "$ROOT/etc/systemd/system" "$ROOT/etc/modprobe.d"
  echo '{"options": {}}' >"$ROOT/var/osquery/osquery.conf"
  echo '{"queries": {}}' >"$ROOT/var/osquery/packs/it.conf"
  echo MANIFEST-000001 >"$ROOT/var/osquery/osquery.db/CURRENT"
  echo sst-0 >"$ROOT/var/osquery/osquery.db/000000.sst"
  echo start >"$ROOT/var/osquery/osqueryd.results.log"
  echo channel-good >"$ROOT/opt/CrowdStrike/C-00000291.sys"
  echo aid-1 >"$ROOT/opt/CrowdStrike/falconstore/aid"
}

# What osqueryd does while the machine runs: compactions replace the
# database's files, results are logged, a new log is started.
CHURN=0
churn() {
  CHURN=$((CHURN + 1))
  local db=$ROOT/var/osquery/osquery.db
  rm -f "$db"/*.sst
  echo "sst-$CHURN" >"$db/$(printf %06d "$CHURN").sst"
  echo "MANIFEST-$(printf %06d "$CHURN")" >"$db/CURRENT"
  echo "result $CHURN" >>"$ROOT/var/osquery/osqueryd.results.log"
  echo "$CHURN" >"$ROOT/var/osquery/osqueryd.snapshots.log"
  echo "aid-$CHURN" >"$ROOT/opt/CrowdStrike/falconstore/aid"
}

db_state() { (cd "$ROOT/var/osquery" && find osquery.db *.log -type f -exec sha256sum {} + | sort); }
content_state() { (cd "$ROOT/var/osquery" && find . -path ./osquery.db -prune -o ! -name '*.log' -type f -exec sha256sum {} + | sort); }

# Failed boots with no crash record (resets, hangs) while the database
# churns: osquery's content proper never changed, so it is no suspect and
# nothing is done to it, boot after boot.
t_live_db_churn_is_no_suspect() {
  osquery_policy "$OSQ_EXCLUDE"
  install_sensors
  boot; lg confirm; assert_rc 0 "initial confirm"
  lg snapshot list --json
  [[ $(jq '[.[] | select(.component == "osquery")] | length' <<<"$OUT") == 1 ]] ||
    fail "confirm did not snapshot osquery: $OUT"
  local content all="" i
  content=$(content_state)
  for ((i = 0; i < 6; i++)); do churn; boot; all+="$OUT"$'\n'; done
  OUT=$all
  assert_not_out 'restore-content|quarantine|mode=safe|mode=recovery'
  assert_eq "$(cat "$ROOT/var/osquery/osquery.db/CURRENT")" "MANIFEST-000006" "the database is the live one"
  assert_eq "$(content_state)" "$content" "osquery's content untouched"
  lg log --json
  jq -e 'map(select(.type | test("^recovery"))) | length == 0' <<<"$OUT" >/dev/null ||
    fail "a recovery step was taken: $OUT"
  # The snapshot holds the content, not the state.
  local snap
  snap=$(ls -d "$ROOT"/var/lib/lastgood/snapshots/osquery/*/ | tail -1)
  grep -q 'var/osquery/osquery.conf' "$snap/manifest" || fail "the snapshot lacks the content"
  ! grep -qE 'osquery\.db|\.log ' "$snap/manifest" || fail "the snapshot holds excluded state: $(cat "$snap/manifest")"
}

# Negative control: the same churn without the exclude makes osquery the
# suspect, and the restore rolls its database back to the snapshot's.
t_without_exclude_the_churn_is_a_suspect() {
  osquery_policy ""
  install_sensors
  boot; lg confirm; assert_rc 0
  churn; boot
  churn; boot
  assert_out 'mode=recovery:restore-content'
  assert_eq "$(cat "$ROOT/var/osquery/osquery.db/CURRENT")" "MANIFEST-000001" "the database was rolled back"
}

# The issue's case: Falcon's bad channel file and osquery's churning
# database, failed boots without a crash record. Falcon is the suspect and
# is restored; osquery is left alone; Falcon's own store (excluded) stays
# live through the restore and does not go to the replaced content.
t_bad_channel_file_beside_a_live_db() {
  osquery_policy "$OSQ_EXCLUDE"
  install_sensors
  boot; lg confirm; assert_rc 0
  local content
  content=$(content_state)
  echo channel-bad >"$ROOT/opt/CrowdStrike/C-00000291.sys"
  churn; boot; assert_out 'mode=normal'
  churn; boot; assert_out 'mode=recovery:restore-content'
  assert_eq "$(cat "$ROOT/opt/CrowdStrike/C-00000291.sys")" channel-good "falcon restored"
  assert_eq "$(cat "$ROOT/opt/CrowdStrike/falconstore/aid")" aid-2 "falcon's store kept live"
  assert_eq "$(content_state)" "$content" "osquery untouched"
  assert_eq "$(cat "$ROOT/var/osquery/osquery.db/CURRENT")" "MANIFEST-000002" "osquery's database untouched"
  lg log --json
  jq -e 'map(select(.type == "recovery-restore")) | length == 1 and .[0].component == "falcon"' <<<"$OUT" \
    >/dev/null || fail "not exactly one restore, of falcon: $OUT"
  local kept
  kept=$(grep -rl channel-bad "$ROOT/var/lib/lastgood" 2>/dev/null | head -1)
  [[ $kept == */replaced/* ]] || fail "the replaced channel file was not kept: [$kept]"
  [[ -z $(find "${kept%%/replaced/*}/replaced" -path '*falconstore*') ]] ||
    fail "falcon's store went to the replaced content"
  # Nothing more to do: the churn goes on, the next boots are quiet.
  local all="" i
  for ((i = 0; i < 3; i++)); do churn; boot; all+="$OUT"$'\n'; done
  OUT=$all
  assert_not_out 'restore-content|quarantine|mode=safe'
}

# Quarantine (by hand: `quarantine apply` is in the test build only) moves
# the content aside and leaves the state.
t_quarantine_leaves_the_state() {
  LG_BIN=$TEST_BIN
  osquery_policy "$OSQ_EXCLUDE"
  install_sensors
  lg quarantine apply osquery
  assert_rc 0 "quarantine apply: $ERR"
  assert_no_file "$ROOT/var/osquery/osquery.conf"
  assert_file "$ROOT/var/osquery/osquery.db/CURRENT"
  assert_file "$ROOT/var/osquery/osqueryd.results.log"
  [[ -z $(find "$ROOT/var/lib/lastgood/quarantine" -name '*.sst' -o -name '*.log' 2>/dev/null) ]] ||
    fail "the state was moved aside"
  churn
  lg quarantine release osquery
  assert_rc 0 "quarantine release: $ERR"
  assert_file "$ROOT/var/osquery/osquery.conf"
  assert_eq "$(cat "$ROOT/var/osquery/osquery.db/CURRENT")" "MANIFEST-000001" "the live database"
}

run_tests
