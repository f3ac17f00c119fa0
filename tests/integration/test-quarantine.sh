#!/bin/bash
# `lastgood quarantine list|release` through the binary: a round trip back to
# the prior bytes (diff -r and a stat/sha256 listing against a pre-copy, with
# a pre-existing unit override and modprobe.d file), two components, the
# `quarantine: never` refusal, exit codes, the event log, a real EXDEV, a
# power cut at every durable step of apply and release, and a damaged
# registry read as "quarantined, state unknown".
#
# The ladder applies quarantines at boot; until then the test build's hidden
# `quarantine apply COMPONENT` (compiled only with fault injection) reaches
# quarantine_apply() from here.
source "$(dirname "$0")/lib.sh"

POLICY='components:
  - name: vendor
    content: [/opt/vendor/defs, /opt/vendor/rules.bin, /opt/vendor/missing]
    kernel_modules: [vendor_av, vendor-net]
    units: [vendor-agent.service, vendor-helper.service, vendor-update.timer]
  - name: beta
    content: [/opt/beta]
    kernel_modules: [beta_mod]
  - name: edr
    content: [/opt/edr]
    kernel_modules: [edr_core]
    units: [edr.service]
    quarantine: never'

# The system under test: a unit override and a modprobe.d file of the same
# name as ours exist before, content with modes, owners and a symlink.
populate() {
  write_policy "$POLICY"
  (
    cd "$ROOT" || exit 1
    mkdir -p etc/modprobe.d etc/systemd/system lib/systemd/system opt/vendor/defs/sub opt/beta opt/edr
    printf 'options snd slots=1\n' >etc/modprobe.d/other.conf
    printf 'blacklist old_driver\n' >etc/modprobe.d/#lastgood-quarantine.conf
    chmod 0600 etc/modprobe.d/#lastgood-quarantine.conf
    printf '[Service]\nExecStart=/opt/vendor/agent --override\n' >etc/systemd/system/vendor-agent.service
    chmod 0640 etc/systemd/system/vendor-agent.service
    printf '[Service]\nExecStart=/opt/vendor/helper\n' >lib/systemd/system/vendor-helper.service
    ln -s /lib/systemd/system/vendor-helper.service etc/systemd/system/vendor-helper.service
    printf 'sig1' >opt/vendor/defs/a.sig
    printf 'sig2' >opt/vendor/defs/sub/b.sig
    chmod 0600 opt/vendor/defs/sub/b.sig
    chown 1234:4321 opt/vendor/defs/a.sig
    ln -s a.sig opt/vendor/defs/current
    seq 1 5000 >opt/vendor/rules.bin
    printf 'beta' >opt/beta/data
    printf 'edr' >opt/edr/data
    find etc opt lib -exec touch -h -d @1600000000 {} +
  )
}

# Names, types, modes, owners, sizes, link targets, file mtimes and hashes.
tree_sig() {
  (
    cd "$1" || exit 1
    find etc opt lib ! -type d -printf '%p %y %m %U %G %s %l\n' | LC_ALL=C sort
    find etc opt lib -type d -printf '%p %m %U %G\n' | LC_ALL=C sort
    find etc opt lib -type f -printf '%p %T@\n' | LC_ALL=C sort
    find etc opt lib -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
  )
}

precopy() {
  mkdir -p "$T/pre"
  cp -a "$ROOT/etc" "$ROOT/opt" "$ROOT/lib" "$T/pre/"
  tree_sig "$T/pre" >"$T/pre.sig"
}

assert_as_before() {
  diff -r --no-dereference "$T/pre/etc" "$ROOT/etc" >"$T/diff" 2>&1 || fail "etc differs: $(head -5 "$T/diff")"
  diff -r --no-dereference "$T/pre/opt" "$ROOT/opt" >"$T/diff" 2>&1 || fail "opt differs: $(head -5 "$T/diff")"
  tree_sig "$ROOT" >"$T/now.sig"
  cmp -s "$T/pre.sig" "$T/now.sig" || fail "tree listing differs ${1:-}: $(diff "$T/pre.sig" "$T/now.sig" | head -6)"
}

t_list_empty() {
  lg quarantine list
  assert_rc 0
  assert_out 'No component is quarantined'
  lg quarantine list --json
  assert_rc 0
  assert_eq "$(jq -c . <<<"$OUT")" '{"quarantined":[]}' "empty JSON list"
}

t_usage_and_exit_codes() {
  lg quarantine frob
  assert_rc 2
  assert_err 'unknown subcommand'
  lg quarantine release
  assert_rc 2
  lg quarantine release ../etc
  assert_rc 2
  assert_err 'not a valid component name'
  lg quarantine release vendor
  assert_rc 1
  assert_err 'vendor is not quarantined'
}

t_roundtrip_prior_bytes() {
  populate
  precopy
  lg quarantine apply vendor
  assert_rc 0 "apply"
  assert_out '2 modules, 3 units, 2 content paths \(1 absent\)'
  grep -q '^install vendor_av /bin/false$' "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf" || fail "no install line"
  grep -q '^blacklist old_driver$' "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf" || fail "prior lines dropped"
  assert_eq "$(readlink "$ROOT/etc/systemd/system/vendor-agent.service")" /dev/null "override masked"
  assert_eq "$(readlink "$ROOT/etc/systemd/system/vendor-update.timer")" /dev/null "timer masked"
  assert_no_file "$ROOT/opt/vendor/defs"
  assert_file "$ROOT/var/lib/lastgood/quarantine/vendor/1/content/opt%2Fvendor%2Fdefs/sub/b.sig"

  lg quarantine list
  assert_rc 0
  assert_out '^vendor: quarantined since'
  assert_out 'content:  /opt/vendor/defs \(kept at /var/lib/lastgood/quarantine/vendor/1/content/opt%2Fvendor%2Fdefs\)'
  lg quarantine list --json
  assert_eq "$(jq -r '.quarantined[0].component' <<<"$OUT")" vendor
  assert_eq "$(jq -r '.quarantined[0].state' <<<"$OUT")" active
  assert_eq "$(jq -r '.quarantined[0].units | length' <<<"$OUT")" 3
  assert_eq "$(jq -r '.quarantined[0].content[1].path' <<<"$OUT")" /opt/vendor/rules.bin

  lg quarantine release vendor
  assert_rc 0 "release"
  assert_out 'Released vendor'
  assert_as_before
  assert_no_file "$ROOT/var/lib/lastgood/quarantine/vendor"
  assert_no_file "$ROOT/var/lib/lastgood/quarantine/registry"
  grep -q '"type":"quarantine-release","component":"vendor"' "$ROOT/var/lib/lastgood/events.jsonl" ||
    fail "no quarantine-release event"
  lg quarantine release vendor
  assert_rc 1
  assert_err 'vendor is not quarantined'
}

t_two_components_release_one() {
  populate
  precopy
  lg quarantine apply vendor
  assert_rc 0
  LASTGOOD_TEST_INCIDENT=2 lg quarantine apply beta
  assert_rc 0
  lg quarantine release vendor
  assert_rc 0
  local conf=$ROOT/etc/modprobe.d/#lastgood-quarantine.conf
  grep -q '^blacklist beta_mod$' "$conf" || fail "beta's blacklist is gone"
  grep -q '^install beta_mod /bin/false$' "$conf" || fail "beta's install line is gone"
  ! grep -q vendor_av "$conf" || fail "vendor's block is still there"
  assert_no_file "$ROOT/opt/beta"
  lg quarantine list --json
  assert_eq "$(jq -c '[.quarantined[].component]' <<<"$OUT")" '["beta"]'
  lg quarantine release beta
  assert_rc 0
  assert_as_before
}

# units globs: each installed unit file that matches is masked (in /etc,
# /run and the vendor directories), and released byte for byte; a glob that
# matches nothing is said and masks nothing; a symlinked unit directory that
# leads out of the root contributes nothing. Controls: a unit of another type
# or name stays, and the glob itself is never a link name.
t_unit_globs_mask_installed_units() {
  write_policy 'components:
  - name: mdatp
    content: [/opt/mdatp]
    units: ["mdatp*.service", "nothing-here*.service"]'
  mkdir -p "$ROOT/opt/mdatp" "$ROOT/usr/lib/systemd/system" "$ROOT/lib/systemd/system" \
    "$ROOT/etc/systemd/system" "$ROOT/run/systemd/system" "$T/outside"
  echo x >"$ROOT/opt/mdatp/data"
  echo '[Service]' >"$ROOT/usr/lib/systemd/system/mdatp.service"
  echo '[Service]' >"$ROOT/lib/systemd/system/mdatp-update.service"
  echo '[Service]' >"$ROOT/run/systemd/system/mdatp-run.service"
  echo '[Socket]' >"$ROOT/usr/lib/systemd/system/mdatp.socket"
  echo '[Service]' >"$ROOT/usr/lib/systemd/system/other.service"
  echo '[Service]' >"$T/outside/mdatp-escaped.service"
  rm -rf "$ROOT/usr/local/lib/systemd"
  ln -s "$T/outside" "$ROOT/usr/lib/systemd/system/escape"
  rm -rf "$ROOT/run/systemd/system" && ln -s "$T/outside" "$ROOT/run/systemd/system"
  lg quarantine apply mdatp
  assert_rc 0 "apply"
  assert_out '0 modules, 2 units'
  assert_out 'units nothing-here\*.service matched no installed unit'
  local u
  for u in mdatp.service mdatp-update.service; do
    assert_eq "$(readlink "$ROOT/etc/systemd/system/$u")" /dev/null "$u masked"
  done
  for u in mdatp.socket other.service 'mdatp*.service' 'nothing-here*.service' mdatp-escaped.service escape; do
    assert_no_file "$ROOT/etc/systemd/system/$u"
  done
  lg quarantine list --json
  assert_eq "$(jq -c '.quarantined[0].units' <<<"$OUT")" '["mdatp-update.service","mdatp.service"]' "registry"
  lg quarantine release mdatp; assert_rc 0 "release"
  assert_no_file "$ROOT/etc/systemd/system/mdatp.service"
  assert_no_file "$ROOT/etc/systemd/system/mdatp-update.service"
  assert_file "$ROOT/usr/lib/systemd/system/mdatp.service"
}

t_never_is_refused() {
  populate
  precopy
  lg quarantine apply edr
  assert_rc 1
  assert_err 'never'
  assert_as_before
  lg quarantine list --json
  assert_eq "$(jq -c '.quarantined' <<<"$OUT")" '[]'
}

t_release_conflict_changes_nothing() {
  populate
  lg quarantine apply vendor
  mkdir "$ROOT/opt/vendor/defs"
  lg quarantine release vendor
  assert_rc 1
  assert_err 'Nothing was changed'
  lg quarantine list --json
  assert_eq "$(jq -r '.quarantined[0].state' <<<"$OUT")" active
  rmdir "$ROOT/opt/vendor/defs"
  lg quarantine release vendor
  assert_rc 0
}

# A separate /var: the content crosses filesystems and is copied.
t_real_exdev() {
  populate
  precopy
  mkdir -p "$ROOT/var/lib/lastgood"
  if ! unshare -m true 2>/dev/null; then
    echo "# skipped: no mount namespaces here"
    return 0
  fi
  unshare -m bash -c '
    mount -t tmpfs tmpfs "$0/var/lib/lastgood" || exit 3
    "$1" --root "$0" quarantine apply vendor || exit 4
    [ -e "$0/var/lib/lastgood/quarantine/vendor/1/content/opt%2Fvendor%2Fdefs/a.sig" ] || exit 5
    [ ! -e "$0/opt/vendor/defs" ] || exit 6
    "$1" --root "$0" quarantine release vendor || exit 7
  ' "$ROOT" "$LG_BIN" >"$T/out" 2>"$T/err"
  local rc=$?
  ((rc == 3)) && { echo "# skipped: cannot mount"; return 0; }
  ((rc == 0)) || fail "EXDEV run failed ($rc): $(cat "$T/out" "$T/err")"
  grep -q 'copied' "$T/out" || fail "apply did not report the copy: $(cat "$T/out")"
  assert_as_before
}

# A power cut at each durable step of OP (apply or release); then `release`
# (which first finishes what was interrupted) must converge to the prior bytes.
cut_loop() {
  local op=$1 n rc total
  populate
  precopy
  cp -a "$ROOT" "$T/template"
  if [[ $op == release ]]; then
    lg quarantine apply vendor
    assert_rc 0
  fi
  LASTGOOD_FAULT_TRACE=$T/trace lg quarantine "$op" vendor
  assert_rc 0 "clean $op"
  total=$(wc -l <"$T/trace")
  ((total >= 8)) || fail "only $total fault points in $op"
  for ((n = 1; n <= total; n++)); do
    rm -rf "$ROOT"
    cp -a "$T/template" "$ROOT"
    if [[ $op == release ]]; then
      lg quarantine apply vendor
      assert_rc 0
    fi
    LASTGOOD_FAULT_AT=$n lg quarantine "$op" vendor
    assert_rc 137 "cut at $n"
    # The next run finishes or undoes the step, then releases what remains.
    lg quarantine release vendor
    [[ $RC == 0 || ($RC == 1 && $ERR == *"not quarantined"*) ]] || fail "release after cut at $n: rc=$RC err=$ERR"
    lg quarantine list --json
    assert_eq "$(jq -c '.quarantined' <<<"$OUT")" '[]' "registry after cut at $n"
    assert_as_before "after cut at $n"
    if [[ -s "$T/failures" ]]; then return 0; fi
  done
  return 0
}

# A damaged registry reads as "quarantined, state unknown", never as "not
# quarantined": status says so, confirm takes no known-good snapshot of the
# component, and a crash loop does not blame (and restore) it again.
UNKNOWN_POLICY='version: 1
boot:
  max_failed_boots: 1
  state: file
components:
  - name: vendor
    content: [/opt/vendor/defs]'

torn_registry() {
  mkdir -p "$ROOT/var/lib/lastgood/quarantine"
  printf 'lastgood-quarantine-registry 1\nentry vendor active 1 1 -\ncontent /opt/vendor/de' \
    >"$ROOT/var/lib/lastgood/quarantine/registry"
}

t_corrupt_registry_status_and_confirm() {
  write_policy "$UNKNOWN_POLICY"
  mkdir -p "$ROOT/opt/vendor/defs"
  echo good >"$ROOT/opt/vendor/defs/a.sig"
  torn_registry
  lg status --json
  assert_rc 0
  assert_eq "$(jq -c '.components[0] | [.name, .quarantined, .quarantine_state_known]' <<<"$OUT")" \
    '["vendor",true,false]' "status --json of a component in unknown state"
  lg status
  assert_out 'vendor +QUARANTINED, state unknown'
  lg quarantine list
  assert_rc 1
  boot
  lg confirm
  assert_rc 0
  assert_err 'treating vendor as quarantined \(state unknown\)'
  lg snapshot list --json
  assert_eq "$(jq -c '[.[] | select(.component == "vendor")] | length' <<<"$OUT")" 0 \
    "confirm took a known-good snapshot of a component whose quarantine state is unknown"
  # The same root with the registry gone: the component is live, and
  # confirm snapshots it (the check above is not vacuous).
  rm "$ROOT/var/lib/lastgood/quarantine/registry"
  lg status --json
  assert_eq "$(jq -c '.components[0] | [.quarantined, .quarantine_state_known]' <<<"$OUT")" '[false,true]'
  boot
  lg confirm
  lg snapshot list --json
  assert_eq "$(jq -c '[.[] | select(.component == "vendor")] | length' <<<"$OUT")" 1 "snapshot once live"
}

t_corrupt_registry_no_culprit() {
  write_policy "$UNKNOWN_POLICY"
  mkdir -p "$ROOT/opt/vendor/defs"
  echo good >"$ROOT/opt/vendor/defs/a.sig"
  boot
  lg confirm
  assert_rc 0
  echo bad >"$ROOT/opt/vendor/defs/a.sig"
  torn_registry
  boot; boot; boot
  assert_out 'vendor: quarantine state unknown'
  assert_eq "$(cat "$ROOT/opt/vendor/defs/a.sig")" bad "a component in unknown quarantine state was restored"
  assert_eq "$(status_field culprit)" null "culprit"
}

t_power_cut_apply() { cut_loop apply; }
t_power_cut_release() { cut_loop release; }

run_tests
