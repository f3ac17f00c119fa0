#!/bin/bash
# `lastgood policy check`: the bad-policy corpus with exact FILE:LINE:COL
# messages, drop-in merging, trust (owner/mode), --root confinement, --json.
source "$(dirname "$0")/lib.sh"

BAD=$FIXTURES/policy-bad
GOOD=$FIXTURES/policy-good
NOBODY=$(id -u nobody)

# Cases too large or too binary to commit: NAME.expect is in $BAD, the input
# is made here.
gen_case() {
  case "$1" in
    deep) head -c 100000 /dev/zero | tr '\0' '[' ;;
    deep-block) python3 -c "import sys; sys.stdout.write('boot:\n' + ''.join('  ' * i + 'k%d:\n' % i for i in range(1, 70)))" ;;
    binary) printf '\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00' ;;
    oversized) echo "version: 1"; head -c 300000 /dev/zero | tr '\0' '#'; echo ;;
    bad-utf8) printf 'version: 1\nboot:\n  state: au\xfftomatic\n' ;;
    bad-utf8-overlong) printf 'version: 1\n# caf\xc3\xa9 ok\nboot:\n  state_file: "/var/lib/caf\xc3\xa9/\xc0\xaf"\n' ;;
    too-many-components) echo "components:"; for i in $(seq 1 65); do echo "  - name: c$i"; done ;;
    *) return 1 ;;
  esac
}

# corpus_file NAME — the case's input, root-owned 0644 under $T (checkouts
# may be group-writable, which the trust check would rightly refuse).
# $ERR without `policy check`'s warnings about what this machine lacks
# (test-policy-layers.sh checks those).
errors_only() { grep -v -E '(^|: )warning: ' <<<"$ERR"; }

corpus_file() {
  local dst=$T/corpus/$1.yaml
  mkdir -p "$T/corpus"
  if [[ -e $BAD/$1.yaml ]]; then cp "$BAD/$1.yaml" "$dst"; else gen_case "$1" >"$dst" || return 1; fi
  chmod 0644 "$dst"
  echo "$dst"
}

t_bad_corpus_exact_messages() {
  local n=0 expect f name want
  for expect in "$BAD"/*.expect; do
    name=$(basename "$expect" .expect)
    f=$(corpus_file "$name") || { fail "$name: no input"; continue; }
    lg policy check "$f"
    assert_rc 2 "$name"
    want=$(sed "s|^FILE:|$f:|" "$expect")
    [[ -n "$want" ]] || fail "$name: empty .expect"
    assert_eq "$ERR" "$want" "$name: stderr"
    # Nothing of a bad file applies: the dump shows the defaults.
    assert_out '^  max_failed_boots: 3$'
    n=$((n + 1))
  done
  ((n >= 20)) || fail "only $n bad cases"
}

t_every_bad_yaml_has_an_expect() {
  local f
  for f in "$BAD"/*.yaml; do
    [[ -e ${f%.yaml}.expect ]] || fail "$(basename "$f") has no .expect"
  done
}

t_deep_nesting_refused_fast() {
  local f start ms
  f=$(corpus_file deep)
  assert_eq "$(stat -c %s "$f")" 100000 "deep input size"
  start=$(date +%s%N)
  lg policy check "$f"
  ms=$((($(date +%s%N) - start) / 1000000))
  assert_rc 2
  assert_err 'nesting deeper than 64 levels'
  # A guard, not a benchmark: unguarded libyaml needs tens of seconds.
  ((ms < 2000)) || fail "deep nesting took ${ms} ms"
}

t_good_corpus() {
  local f dst
  for f in "$GOOD"/*.yaml; do
    dst=$T/$(basename "$f")
    install -m 0644 "$f" "$dst"
    lg policy check "$dst"
    assert_rc 0 "$(basename "$f")"
    assert_eq "$(errors_only)" "" "$(basename "$f") stderr"
  done
}

t_full_policy_values() {
  install -m 0644 "$GOOD/full.yaml" "$T/full.yaml"
  lg policy check "$T/full.yaml" --json
  assert_rc 0
  local j=$OUT
  assert_eq "$(jq -r '.boot.max_failed_boots' <<<"$j")" 5
  assert_eq "$(jq -r '.boot.state' <<<"$j")" file
  assert_eq "$(jq -r '.boot.state_device' <<<"$j")" PARTLABEL=lastgood-state
  assert_eq "$(jq -r '.boot.count_unknown_failures' <<<"$j")" false
  assert_eq "$(jq -c '.confirm.health_checks[0].command' <<<"$j")" '["/usr/bin/systemctl","is-system-running","--wait"]'
  assert_eq "$(jq -r '.confirm.health_checks[0].timeout' <<<"$j")" 2min
  assert_eq "$(jq -r '.confirm.health_checks[1].timeout' <<<"$j")" 90s
  assert_eq "$(jq -c '.components[0].kernel_modules' <<<"$j")" '["examplesensor","example_helper"]'
  assert_eq "$(jq -r '.components[0].quarantine' <<<"$j")" never
  assert_eq "$(jq -r '.components[0].safe_mode' <<<"$j")" keep
  assert_eq "$(jq -r '.components[0].max_failed_boots' <<<"$j")" 2
  assert_eq "$(jq -r '.components[1].max_failed_boots' <<<"$j")" 5
  assert_eq "$(jq -c '.recovery.ladder' <<<"$j")" '["quarantine","safe-mode"]'
  assert_eq "$(jq -r '.recovery.suspect_window' <<<"$j")" 7d
  assert_eq "$(jq -r '.snapshots.max_bytes' <<<"$j")" $((512 << 20))
  assert_eq "$(jq -r '.safe_mode.code_window' <<<"$j")" 20
  assert_eq "$(jq -r '.report.prometheus_textfile' <<<"$j")" ""
  assert_eq "$(jq -c '.errors' <<<"$j")" '[]'
}

# The identity keys (issue 10) in both dialects, and back through the parser.
t_identity_keys_dump() {
  install -m 0644 "$GOOD/falcon.yaml" "$T/falcon.yaml"
  lg policy check "$T/falcon.yaml"
  assert_rc 0
  assert_out '^    kernel_modules: \["falcon_lsm_serviceable", "falcon_nf_netcontain", "falcon_lsm_pinned_\*"\]$'
  assert_out '^    processes: \["falcon-sensor\*"\]$'
  assert_out '^    bpf_programs: \["falcon_\*"\]$'
  assert_out '^    exclude: \["/opt/CrowdStrike/falconstore", "/opt/CrowdStrike/\*.log"\]$'
  printf '%s\n' "$OUT" >"$T/dump.yaml"; chmod 0644 "$T/dump.yaml"
  lg policy check "$T/dump.yaml"
  assert_rc 0 "the dump of the identity keys is a valid policy"
  lg policy check "$T/falcon.yaml" --json
  assert_rc 0
  assert_eq "$(jq -c '.components[0].kernel_modules' <<<"$OUT")" \
    '["falcon_lsm_serviceable","falcon_nf_netcontain","falcon_lsm_pinned_*"]'
  assert_eq "$(jq -c '.components[0].processes' <<<"$OUT")" '["falcon-sensor*"]'
  assert_eq "$(jq -c '.components[0].bpf_programs' <<<"$OUT")" '["falcon_*"]'
  assert_eq "$(jq -c '.components[0].units' <<<"$OUT")" '["falcon-sensor.service"]'
  assert_eq "$(jq -c '.components[0].exclude' <<<"$OUT")" '["/opt/CrowdStrike/falconstore","/opt/CrowdStrike/*.log"]'
}

t_shipped_policy_passes() {
  install -m 0644 "$TOP/config/policy.yaml" "$ROOT/etc/lastgood/policy.yaml"
  lg policy check
  assert_rc 0
  assert_eq "$ERR" "" "stderr"
  assert_out '^components: \[\]$'
  assert_out '^  require_suspect: true$'
  assert_out '^  safe_mode_without_suspect: false$'
  assert_out '^#   /etc/lastgood/policy.yaml$'
  # And as a FILE argument.
  install -m 0644 "$TOP/config/policy.yaml" "$T/policy.yaml"
  lg policy check "$T/policy.yaml"
  assert_rc 0
}

t_missing_policy_means_defaults() {
  lg policy check --json
  assert_rc 0
  assert_eq "$ERR" ""
  assert_eq "$(jq -c '[.boot.max_failed_boots, .files, .recovery.ladder]' <<<"$OUT")" \
    '[3,[],["restore-content","quarantine","safe-mode"]]'
}

t_missing_explicit_file_is_an_error() {
  lg policy check "$T/nope.yaml"
  assert_rc 2
  assert_eq "$ERR" "$T/nope.yaml:1:1: cannot open: No such file or directory"
}

t_policy_option_is_read_alone() {
  write_policy 'boot: {max_failed_boots: 4}'
  printf 'boot: {max_failed_boots: 6}\n' >"$T/other.yaml"; chmod 0644 "$T/other.yaml"
  lg --policy "$T/other.yaml" policy check
  assert_rc 0
  assert_out '^  max_failed_boots: 6$'
}

dropin() { # dropin NAME YAML
  mkdir -p "$ROOT/etc/lastgood/policy.d"
  printf '%s\n' "$2" >"$ROOT/etc/lastgood/policy.d/$1"
  chmod 0644 "$ROOT/etc/lastgood/policy.d/$1"
}

t_dropins_override_and_merge_components() {
  write_policy 'version: 1
boot:
  max_failed_boots: 3
  state: efivar
components:
  - name: a
    content: [/opt/a]
    units: [a.service]
    quarantine: never
    max_failed_boots: 2'
  # Written out of order: reading must be lexical, not readdir order.
  dropin 20-late.yaml 'boot: {max_failed_boots: 7}'
  dropin 10-early.yaml 'boot:
  max_failed_boots: 5
components:
  - name: a
    units: [a2.service]
  - name: b
    kernel_modules: [b-mod]'
  dropin 30-ignored.yaml.bak 'boot: {max_failed_boots: 9}'
  dropin .40-hidden.yaml 'boot: {max_failed_boots: 9}'
  lg policy check --json
  assert_rc 0
  local j=$OUT
  assert_eq "$(jq -r '.boot.max_failed_boots' <<<"$j")" 7 "later drop-in wins"
  assert_eq "$(jq -r '.boot.state' <<<"$j")" efivar "unset keys stay"
  assert_eq "$(jq -c '.components | map(.name)' <<<"$j")" '["a","b"]'
  assert_eq "$(jq -c '.components[0].units' <<<"$j")" '["a2.service"]' "a's units overridden"
  assert_eq "$(jq -c '.components[0].content' <<<"$j")" '["/opt/a"]' "a's content kept"
  assert_eq "$(jq -r '.components[0].quarantine' <<<"$j")" never "a's quarantine kept"
  assert_eq "$(jq -r '.components[0].max_failed_boots' <<<"$j")" 2
  assert_eq "$(jq -c '.components[1].kernel_modules' <<<"$j")" '["b_mod"]'
  assert_eq "$(jq -r '.components[1].quarantine' <<<"$j")" allow "b gets defaults"
  assert_eq "$(jq -c '.files' <<<"$j")" \
    '["/etc/lastgood/policy.yaml","/etc/lastgood/policy.d/10-early.yaml","/etc/lastgood/policy.d/20-late.yaml"]'
}

t_half_valid_dropin_applies_nothing() {
  write_policy 'boot: {max_failed_boots: 4}'
  dropin 50-bad.yaml 'boot:
  max_failed_boots: 9
  colour: blue
components:
  - name: evil
    content: [/etc/evil]'
  lg policy check --json
  assert_rc 2
  assert_eq "$ERR" "/etc/lastgood/policy.d/50-bad.yaml:3:3: unknown key 'boot.colour'"
  assert_eq "$(jq -r '.boot.max_failed_boots' <<<"$OUT")" 4
  assert_eq "$(jq -c '.components' <<<"$OUT")" '[]'
  assert_eq "$(jq -c '.errors | length' <<<"$OUT")" 1
}

# Trust: each of these fails if the check is removed (the value applies and
# the exit is 0).
trust_refused() { # trust_refused PATH-AS-SHOWN UID MODE KIND
  assert_rc 2
  assert_eq "$ERR" "$1:1:1: refusing untrusted policy ${4:-file}: owner uid $2, mode $3; it must be owned by root and not writable by group or other"
  assert_out '^  max_failed_boots: 3$'
}

t_trust_refuses_non_root_owner() {
  write_policy 'boot: {max_failed_boots: 9}'
  chown nobody "$ROOT/etc/lastgood/policy.yaml"
  lg policy check
  trust_refused /etc/lastgood/policy.yaml "$NOBODY" 0644
}

t_trust_refuses_group_writable() {
  write_policy 'boot: {max_failed_boots: 9}'
  chmod 0664 "$ROOT/etc/lastgood/policy.yaml"
  lg policy check
  trust_refused /etc/lastgood/policy.yaml 0 0664
}

t_trust_refuses_world_writable() {
  write_policy 'boot: {max_failed_boots: 9}'
  chmod 0646 "$ROOT/etc/lastgood/policy.yaml"
  lg policy check
  trust_refused /etc/lastgood/policy.yaml 0 0646
}

t_trust_refuses_untrusted_dropin() {
  dropin 10-a.yaml 'boot: {max_failed_boots: 9}'
  chown nobody "$ROOT/etc/lastgood/policy.d/10-a.yaml"
  lg policy check
  trust_refused /etc/lastgood/policy.d/10-a.yaml "$NOBODY" 0644
}

t_trust_refuses_writable_dropin_dir() {
  dropin 10-a.yaml 'boot: {max_failed_boots: 9}'
  chmod 0777 "$ROOT/etc/lastgood/policy.d"
  lg policy check
  trust_refused /etc/lastgood/policy.d 0 0777 directory
}

# Issue 11 finding 5: the directory holding policy.yaml and policy.d is as
# trusted as the files (whoever writes it can rename another file over them).
t_trust_refuses_writable_config_dir() {
  write_policy 'boot: {max_failed_boots: 9}'
  dropin 10-a.yaml 'boot: {max_failed_boots: 8}'
  chmod 0777 "$ROOT/etc/lastgood"
  lg policy check
  trust_refused /etc/lastgood 0 0777 directory
  chmod 0755 "$ROOT/etc/lastgood"
  chown nobody "$ROOT/etc/lastgood"
  lg policy check
  trust_refused /etc/lastgood "$NOBODY" 0755 directory
  chown root "$ROOT/etc/lastgood"
  lg policy check
  assert_rc 0 "trusted again"
  assert_out '^  max_failed_boots: 8$'
}

t_trust_refuses_explicit_file() {
  printf 'boot: {max_failed_boots: 9}\n' >"$T/p.yaml"
  chmod 0644 "$T/p.yaml"; chown nobody "$T/p.yaml"
  lg policy check "$T/p.yaml"
  trust_refused "$T/p.yaml" "$NOBODY" 0644
}

t_symlinks_cannot_escape_root() {
  printf 'boot: {max_failed_boots: 9}\n' >"$T/outside.yaml"; chmod 0644 "$T/outside.yaml"
  # Absolute and relative links out of the root resolve inside it (and
  # find nothing there), so the outside file is never read.
  ln -s "$T/outside.yaml" "$ROOT/etc/lastgood/policy.yaml"
  lg policy check
  assert_rc 0
  assert_out '^  max_failed_boots: 3$'
  rm "$ROOT/etc/lastgood/policy.yaml"
  ln -s ../../../outside.yaml "$ROOT/etc/lastgood/policy.yaml"
  lg policy check
  assert_rc 0
  assert_out '^  max_failed_boots: 3$'
}

t_fifo_policy_does_not_hang() {
  mkfifo -m 0644 "$ROOT/etc/lastgood/policy.yaml"
  timeout 20 "$LG_BIN" --root "$ROOT" policy check >"$T/out" 2>"$T/err"
  assert_eq "$?" 2 "exit status"
  assert_eq "$(cat "$T/err")" "/etc/lastgood/policy.yaml:1:1: not a regular file"
}

t_json_output_parses() {
  install -m 0644 "$GOOD/full.yaml" "$ROOT/etc/lastgood/policy.yaml"
  lg --json policy check
  assert_rc 0
  jq -e . <<<"$OUT" >/dev/null || fail "invalid JSON: $OUT"
  # With errors too, and they are listed in the JSON.
  write_policy 'boot: {max_failed_boots: 0}'
  lg --json policy check
  assert_rc 2
  jq -e . <<<"$OUT" >/dev/null || fail "invalid JSON: $OUT"
  assert_eq "$(jq -r '.errors[0]' <<<"$OUT")" \
    "/etc/lastgood/policy.yaml:1:26: boot.max_failed_boots: expected an integer from 1 to 50, got '0'"
}

t_dump_is_a_valid_policy() {
  install -m 0644 "$GOOD/full.yaml" "$T/full.yaml"
  lg policy check "$T/full.yaml"
  assert_rc 0
  printf '%s\n' "$OUT" >"$T/dump.yaml"; chmod 0644 "$T/dump.yaml"
  local first=$OUT
  lg policy check "$T/dump.yaml"
  assert_rc 0
  assert_eq "$(grep -v '^#' <<<"$OUT")" "$(grep -v '^#' <<<"$first")" "dump round trip"
}

t_unknown_subverb() {
  lg policy frobnicate
  assert_rc 2
  assert_err "unknown sub-verb 'frobnicate'"
}

# Finding 6 (issue 11): content nested across components, across files.
# Each fails if the nesting check is removed (the drop-in applies, exit 0).
t_nested_content_across_files_refused() {
  write_policy 'components:
  - name: outer
    content: [/opt/vendor]'
  dropin 10-inner.yaml 'components:
  - name: inner
    content: [/opt/vendor/plugin]'
  lg policy check --json
  assert_rc 2
  assert_eq "$(errors_only)" "/etc/lastgood/policy.d/10-inner.yaml:3:15: components[0].content[0]: '/opt/vendor/plugin' lies in content '/opt/vendor' of component 'outer': restoring one would roll back the other (the outer component must exclude the inner path)"
  assert_eq "$(jq -c '.components | map(.name)' <<<"$OUT")" '["outer"]' "the drop-in applied nothing"
  # The other direction: a drop-in widening a component over another's content.
  rm "$ROOT/etc/lastgood/policy.d/10-inner.yaml"
  write_policy 'components:
  - name: inner
    content: [/opt/vendor/plugin]
  - name: outer
    content: [/opt/vendor/x]'
  dropin 10-widen.yaml 'components:
  - name: outer
    content: [/opt/vendor]'
  lg policy check
  assert_rc 2
  assert_err "10-widen.yaml:3:15: components\\[0\\].content\\[0\\]: '/opt/vendor' holds content '/opt/vendor/plugin' of component 'inner'"
  # A drop-in dropping the exclude that made the nesting acceptable.
  rm "$ROOT/etc/lastgood/policy.d/10-widen.yaml"
  write_policy 'components:
  - name: outer
    content: [/opt/vendor]
    exclude: [/opt/vendor/plugin]
  - name: inner
    content: [/opt/vendor/plugin]'
  lg policy check
  assert_rc 0 "outer excludes inner"
  dropin 20-noexclude.yaml 'components:
  - name: outer
    exclude: []'
  lg policy check
  assert_rc 2
  assert_err "20-noexclude.yaml:2:5: components\\[0\\].content\\[0\\]: '/opt/vendor' holds content '/opt/vendor/plugin' of component 'inner'"
}

t_nested_content_excluded_by_glob_is_fine() {
  write_policy 'components:
  - name: outer
    content: [/opt/vendor]
    exclude: ["/opt/vendor/ext-*"]'
  dropin 10-inner.yaml 'components:
  - name: inner
    content: [/opt/vendor/ext-scanner/bin]
  - name: sibling
    content: [/opt/vendorx]'
  lg policy check --json
  assert_rc 0
  assert_eq "$(errors_only)" ""
  assert_eq "$(jq -c '.components | map(.name)' <<<"$OUT")" '["outer","inner","sibling"]'
}

# ---- Issue 11 finding 5: an invalid policy falls back to the last good one ----

LAST_GOOD=var/lib/lastgood/policy.last-good
FB_POLICY='version: 1
boot:
  state: file
safe_mode:
  require_code: true
components:
  - name: edr
    content: [/opt/edr]
    quarantine: never
    safe_mode: keep'

# A boot under FB_POLICY, confirmed healthy: its policy becomes last-good.
confirmed_under_fb_policy() {
  write_policy "$FB_POLICY"
  boot; lg confirm; assert_rc 0 "confirm"
  assert_file "$ROOT/$LAST_GOOD"
  assert_eq "$(stat -c '%a %u' "$ROOT/$LAST_GOOD")" "600 0" "last-good copy is root-only"
}

t_last_good_written_at_confirm_only_when_changed() {
  lg policy check; assert_rc 0
  assert_no_file "$ROOT/$LAST_GOOD"
  confirmed_under_fb_policy
  local before; before=$(stat -c %i "$ROOT/$LAST_GOOD")
  lg confirm; assert_rc 0
  assert_eq "$(stat -c %i "$ROOT/$LAST_GOOD")" "$before" "unchanged policy: no rewrite"
  write_policy "$FB_POLICY
    max_failed_boots: 2"
  lg confirm; assert_rc 0
  [[ $(stat -c %i "$ROOT/$LAST_GOOD") != "$before" ]] || fail "a changed policy was not stored"
  grep -q 'max_failed_boots: 2' "$ROOT/$LAST_GOOD" || fail "the stored copy is not the new policy"
  # An invalid policy is never stored, not even by confirm.
  cp "$ROOT/$LAST_GOOD" "$T/copy"
  write_policy "$FB_POLICY
    colour: blue"
  lg confirm
  cmp -s "$ROOT/$LAST_GOOD" "$T/copy" || fail "an invalid policy replaced the copy"
}

t_typo_in_main_policy_uses_last_good() {
  confirmed_under_fb_policy
  write_policy "${FB_POLICY/state: file/stat: file}"
  lg status --json
  assert_eq "$(jq -r '.policy_fallback.kind' <<<"$OUT")" last-good
  assert_eq "$(jq -r '.policy_fallback.reason' <<<"$OUT")" "/etc/lastgood/policy.yaml:3:3: unknown key 'boot.stat'"
  assert_eq "$(jq -r '.backend' <<<"$OUT")" file "state: file kept"
  assert_eq "$(jq -c '.components | map(.name)' <<<"$OUT")" '["edr"]' "components kept"
  assert_eq "$(jq -c '.policy_files' <<<"$OUT")" "[\"/$LAST_GOOD\"]"
  lg status
  assert_out '^Policy: +INVALID, the last-known-good copy is in use'
  lg policy check --json
  assert_rc 2
  assert_eq "$(jq -r '.safe_mode.require_code' <<<"$OUT")" true
  assert_eq "$(jq -r '.components[0].quarantine' <<<"$OUT")" never
  # Negative control: with the policy fixed, no fallback.
  write_policy "$FB_POLICY"
  lg status --json
  assert_eq "$(jq -r '.policy_fallback' <<<"$OUT")" null
}

t_fallback_reported_in_event_log_and_metrics() {
  mkdir -p "$ROOT/var/lib/prometheus/node-exporter"
  confirmed_under_fb_policy
  write_policy "$FB_POLICY
    colour: blue"
  boot; assert_rc 0
  grep -q '"policy_fallback":"last-good"' "$ROOT/var/lib/lastgood/events.jsonl" || fail "no fallback in the event log"
  local prom=$ROOT/var/lib/prometheus/node-exporter/lastgood.prom
  grep -qE '^lastgood_policy_fallback\{kind="last-good",reason="/etc/lastgood/policy.yaml:[0-9]+:[0-9]+: unknown key .*"\} 1$' "$prom" ||
    fail "no fallback in the metrics: $(grep fallback "$prom")"
  # Negative control: a valid policy reports none.
  write_policy "$FB_POLICY"
  boot; assert_rc 0
  grep -qE '^lastgood_policy_fallback\{kind="none"\} 0$' "$prom" || fail "metrics: $(grep fallback "$prom")"
}

t_no_copy_means_strict() {
  write_policy 'version: 1
safe_mode:
  allow_cmdline: true
  require_code: false
components:
  - name: edr
    content: [/opt/edr]'
  dropin 10-typo.yaml 'boot: {max_failed_boot: 4}'
  lg policy check --json
  assert_rc 2
  assert_eq "$(jq -r '.safe_mode.require_code' <<<"$OUT")" true "strict: codes required"
  assert_eq "$(jq -r '.safe_mode.allow_cmdline' <<<"$OUT")" false "strict: no command line"
  assert_eq "$(jq -r '.components[0].quarantine' <<<"$OUT")" never "strict: never quarantined"
  assert_eq "$(jq -r '.components[0].safe_mode' <<<"$OUT")" keep "strict: kept in safe mode"
  lg status --json
  assert_eq "$(jq -r '.policy_fallback.kind' <<<"$OUT")" strict
  # Negative control: the same policy without the broken drop-in is taken as written.
  rm "$ROOT/etc/lastgood/policy.d/10-typo.yaml"
  lg policy check --json
  assert_rc 0
  assert_eq "$(jq -r '.safe_mode.allow_cmdline' <<<"$OUT")" true
  assert_eq "$(jq -r '.components[0].quarantine' <<<"$OUT")" allow
}

t_untrusted_last_good_copy_is_not_used() {
  confirmed_under_fb_policy
  write_policy "$FB_POLICY
    colour: blue"
  chmod 0606 "$ROOT/$LAST_GOOD"
  lg status --json
  assert_eq "$(jq -r '.policy_fallback.kind' <<<"$OUT")" strict "a writable copy is refused"
  jq -r '.policy_errors[]' <<<"$OUT" | grep -q "^/$LAST_GOOD:1:1: refusing untrusted policy file" ||
    fail "the refused copy is not reported: $OUT"
}

t_explicit_policy_file_never_falls_back() {
  confirmed_under_fb_policy
  printf 'boot: {colour: blue}\n' >"$T/p.yaml"; chmod 0644 "$T/p.yaml"
  lg policy check --json "$T/p.yaml"
  assert_rc 2
  assert_eq "$(jq -c '.components' <<<"$OUT")" '[]' "policy check FILE checks FILE alone"
}

run_tests
