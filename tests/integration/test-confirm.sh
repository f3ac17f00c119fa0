#!/bin/bash
# `lastgood confirm` beyond its health checks: crash records a confirmed boot
# left in pstore (a non-fatal oops) never count against a later boot, and
# the kernel release of each confirmed boot is recorded.
source "$(dirname "$0")/lib.sh"

POLICY='version: 1
boot:
  max_failed_boots: 2
  state: file
components:
  - name: alpha
    content: [/etc/alpha]
    kernel_modules: [fakesensor]'
CRASHES=var/lib/lastgood/crashes

# alpha installed and confirmed good.
setup_confirmed() {
  write_policy "$POLICY"
  mkdir -p "$ROOT/etc/alpha"
  echo alpha-good >"$ROOT/etc/alpha/rules.bin"
  boot; lg confirm; assert_rc 0 "initial confirm"
}

# A boot with a non-fatal oops in alpha's module (panic_on_oops=0, Debian's
# default): the record it wrote stays in pstore, and the boot goes on.
boot_with_nonfatal_oops() {
  boot
  cp "$FIXTURES"/pstore/sensor-content/dmesg-efi-* "$PSTORE/"
}

# A later boot fails without a crash record (a reset); the next one counts it.
reset_then_boot() { boot; boot; }

t_record_from_a_confirmed_boot_does_not_count() {
  setup_confirmed
  boot_with_nonfatal_oops
  local n; n=$(ls "$PSTORE" | wc -l)
  lg confirm; assert_rc 0 "confirm"
  assert_err "crash records? found in pstore .*archived, not counted"
  assert_eq "$(ls -A "$PSTORE")" "" "pstore cleared"
  assert_eq "$(ls "$ROOT/$CRASHES" | grep -c '\.from-confirmed-boot$')" "$n" "every record archived as not counted"
  assert_eq "$(ls "$ROOT/$CRASHES" | grep -vc '\.from-confirmed-boot$')" 0 "none archived as counted"
  lg log --json
  jq -e --arg n "$n" 'map(select(.type == "crash-record-not-counted")) | length == 1 and (.[0].evidence.records == $n)
      and (.[0].evidence.archive | endswith(".from-confirmed-boot"))' <<<"$OUT" >/dev/null ||
    fail "no crash-record-not-counted event with the archive: $OUT"
  reset_then_boot
  assert_out 'previous boot failed \(unknown\); 1 of 2'
  assert_not_out 'alpha|attributed|restore-content|quarantine'
  lg log --json
  jq -e 'map(select(.type == "boot-counted")) | .[-1].evidence.evidence | test("no crash record")' <<<"$OUT" \
    >/dev/null || fail "the failed boot is not one without a crash record: $OUT"
  lg status; assert_not_out 'attributed'
}

# A record that appears after the confirm (a later non-fatal oops), or that a
# power cut kept the confirm from archiving, is archived by the next confirm
# of the same boot, which still writes no state record.
t_second_confirm_archives_what_is_left() {
  setup_confirmed
  boot; lg confirm; assert_rc 0
  cp "$FIXTURES"/pstore/sysrq/dmesg-efi-* "$PSTORE/"
  local n; n=$(ls "$PSTORE" | wc -l)
  local before; before=$(stat -c '%i %Y' "$ROOT/var/lib/lastgood/state")
  lg confirm; assert_rc 0; assert_out "already confirmed"
  assert_eq "$(ls -A "$PSTORE")" "" "pstore cleared"
  assert_eq "$(ls "$ROOT/$CRASHES" | grep -c '\.from-confirmed-boot$')" "$n" "archived as not counted"
  assert_eq "$(stat -c '%i %Y' "$ROOT/var/lib/lastgood/state")" "$before" "no state write"
}

# The negative control: the same boots, but the archive fails at confirm (a
# file stands where the crash archive directory goes). The confirm stands
# (exit 0, a warning), and the record left in pstore is taken for the reset
# boot's: alpha is attributed. What the test above rules out.
t_record_left_in_pstore_counts_against_a_later_boot() {
  setup_confirmed
  boot_with_nonfatal_oops
  local n; n=$(ls "$PSTORE" | wc -l)
  rm -rf "${ROOT:?}/$CRASHES"; echo in-the-way >"$ROOT/$CRASHES"
  lg confirm
  assert_rc 0 "a failed archive never fails the confirm"
  assert_out "Boot confirmed"
  assert_err "Failed to archive the crash records left in .*, ignoring"
  assert_eq "$(ls "$PSTORE" | wc -l)" "$n" "the records stay in pstore"
  lg log --json
  jq -e 'map(select(.type == "crash-record-not-counted")) | length == 0' <<<"$OUT" >/dev/null ||
    fail "an event for an archive that failed: $OUT"
  reset_then_boot
  assert_out 'attributed: RIP in fakesensor'     # one reset, and alpha is acted on
  lg log --json
  jq -e 'map(select(.component == "alpha" and (.evidence.evidence // "" | test("alpha: attributed")))) | length > 0' \
    <<<"$OUT" >/dev/null || fail "the stale record did not count against alpha: $OUT"
}

# The release of each confirmed boot is in the state record; a boot before
# any confirm, or whose release cannot be read, has none (""). The release
# of the running kernel is the default.
t_confirm_records_the_kernel_release() {
  setup_confirmed
  local rec=$ROOT/var/lib/lastgood/state
  grep -qaF -- "$(uname -r)" "$rec" || fail "the running kernel's release is not recorded"
  boot; LASTGOOD_KERNEL_RELEASE=6.1.0-57-amd64 lg confirm; assert_rc 0
  grep -qaF 6.1.0-57-amd64 "$rec" || fail "the simulated release is not recorded"
  # a kernel update: the next confirmed boot records the new release
  boot; LASTGOOD_KERNEL_RELEASE=6.1.0-58-amd64 lg confirm; assert_rc 0
  grep -qaF 6.1.0-58-amd64 "$rec" || fail "the new release is not recorded"
  grep -qaF 6.1.0-57-amd64 "$rec" && fail "the old release is still recorded"
  # unreadable: recorded as unknown, the confirm stands
  boot; LASTGOOD_KERNEL_RELEASE= lg confirm; assert_rc 0
  assert_err "Failed to read the kernel release, recording it as unknown"
  grep -qaF 6.1.0-58-amd64 "$rec" && fail "a stale release is kept"
  lg status; assert_rc 0 "the record still reads"
}

run_tests
