#!/bin/bash
# The command line a person expects (issue 12 §3), on the real binary:
# `VERB --help` and `help VERB` for every verb `lastgood --help` lists, usage
# errors that show the verb's synopsis (and exit 2), --json from every verb
# that prints, the `log` filters, and the bash completion.
source "$(dirname "$0")/lib.sh"

COMPLETION=$TOP/dist/bash-completion/lastgood # complete_words (lib.sh) sources it

# The verbs, as `lastgood --help` lists them: a new verb is checked too.
verbs() {
  "$LG_BIN" --help | sed -n '/^Verbs:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'
}

# json_ok WHAT — $OUT is exactly one JSON value (jq -e on the rest).
json_ok() {
  [[ $(jq -s length <<<"$OUT" 2>/dev/null) == 1 ]] || { fail "$1: not one JSON value: [$OUT] err=[$ERR]"; return 1; }
}
# boot_schema_ok WHAT — $OUT follows docs/boot.schema.json.
boot_schema_ok() {
  printf '%s' "$OUT" >"$T/boot.json"
  local why
  why=$(schema_check "$TOP/docs/boot.schema.json" "$T/boot.json") || fail "$1: $why: $OUT"
}

# json_has WHAT FILTER — FILTER (jq) holds on $OUT.
json_has() {
  json_ok "$1" && { jq -e "$2" <<<"$OUT" >/dev/null || fail "$1: $2 does not hold on $OUT"; }
}

t_every_verb_has_help() {
  local v n=0 help
  for v in $(verbs); do
    n=$((n + 1))
    lg "$v" --help
    assert_rc 0 "$v --help"
    assert_out "^Usage: lastgood $v( |$)"
    assert_out "^Exit status: "
    [[ -z $ERR ]] || fail "$v --help wrote to stderr: $ERR"
    help=$OUT
    lg "$v" -h
    assert_rc 0 "$v -h"
    assert_eq "$OUT" "$help" "$v -h is $v --help"
    lg help "$v"
    assert_rc 0 "help $v"
    assert_eq "$OUT" "$help" "help $v is $v --help"
  done
  ((n >= 10)) || fail "lastgood --help lists only $n verbs"
  # the verbs the issue names are all there
  for v in boot confirm status safe-mode policy snapshot quarantine log helpdesk help; do
    grep -qx -- "$v" <<<"$(verbs)" || fail "lastgood --help lacks $v"
  done
}

# --help anywhere among the verb's arguments wins over them: it runs nothing.
t_help_among_arguments_runs_nothing() {
  lg safe-mode --next-boot --help
  assert_rc 0
  assert_out '^Usage: lastgood safe-mode --next-boot \[--boots N\] \| --cancel$'
  lg status --json
  assert_eq "$(jq -r .safe_mode_requested <<<"$OUT")" 0 "--help recorded a safe-mode request"
  lg snapshot restore nosuch -h
  assert_rc 0
  assert_out '^       lastgood snapshot restore COMPONENT \[ID\]$'
  # --root is not even opened
  "$LG_BIN" --root "$T/does-not-exist" help boot >"$T/out" 2>&1
  assert_eq "$?" 0 "help with a bad --root"
}

t_help_alone_is_the_global_help() {
  lg --help
  local g=$OUT
  lg help
  assert_rc 0
  assert_eq "$OUT" "$g" "help = --help"
  assert_out "^Verbs:"
  assert_out "lastgood help VERB"
  lg help nosuchverb
  assert_rc 2 "help of an unknown verb"
  assert_err "unknown verb 'nosuchverb'"
}

# usage CASE… — each a command line that is a usage error of its verb: exit
# 2, the verb's synopsis on stderr, never its description, nothing on stdout.
t_usage_errors_show_the_synopsis() {
  local line verb
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    eval "set -- $line"
    verb=$1
    lg "$@"
    assert_rc 2 "$line"
    assert_err "^usage: lastgood $verb( |$)"
    grep -q '^Exit status' <<<"$ERR" && fail "$line: the usage error shows the description: $ERR"
    [[ -z $OUT ]] || fail "$line: wrote to stdout: $OUT"
  done <<'EOF'
boot extra
confirm extra
status extra
safe-mode
safe-mode --bogus
safe-mode --next-boot --cancel
safe-mode --next-boot --boots 0
policy frob
policy check a b
snapshot frob
snapshot restore
snapshot import onlyone
snapshot create --bogus
snapshot list --bogus
snapshot verify -x
snapshot restore --bogus
snapshot import alpha --bogus
quarantine
quarantine frob
quarantine release
quarantine release --bogus
log frob
log verify forward
log -n
log -n many
log --type nosuchtype
log --since yesterday
log --component bad/name
log --bogus
helpdesk frob
helpdesk code
helpdesk enroll --bogus
help a b
EOF
  lg safe-mode
  assert_err '^usage: lastgood safe-mode --next-boot \[--boots N\] \| --cancel$'
  lg quarantine frob
  assert_err "unknown subcommand 'frob'"
  assert_err '^       lastgood quarantine release COMPONENT$'
}

# Exit 2 that is not a usage error (a policy with problems) shows no synopsis.
t_policy_errors_are_not_usage_errors() {
  write_policy 'version: 1
boot:
  max_failed_boots: many'
  lg policy check
  assert_rc 2
  assert_err 'policy.yaml:3:'
  grep -q '^usage:' <<<"$ERR" && fail "policy errors show the synopsis: $ERR"
  return 0
}

setup_good() { setup_two_sensors; }

t_boot_json_healthy_and_again() {
  setup_good
  new_boot; lg --json boot
  assert_rc 0
  json_has "boot --json" '.mode == "normal" and .failed_boots == 0 and .threshold == 2 and .action == null
    and .culprit == null and .evidence == {} and .already_counted == false and .internal_error == false
    and (.total_boots | type) == "number" and (.summary | type) == "string"'
  boot_schema_ok "healthy boot --json"
  # the second run in the same boot (the systemd unit) only reports
  lg boot --json
  assert_rc 0
  json_has "second boot --json" '.already_counted == true and .summary == "already counted in this boot"'
  boot_schema_ok "second boot --json"
  # without --json: the console line, unchanged
  new_boot; lg boot
  assert_out '^lastgood: boot [0-9]+: mode=normal failed_boots=1/2'
}

# The crash names alpha's module: one object with the action, the culprit
# and every component's evidence, as the events record it.
t_boot_json_recovery_names_culprit_and_evidence() {
  setup_good
  echo alpha-bad >"$ROOT/etc/alpha/rules.bin"
  boot
  cp "$FIXTURES"/pstore/sensor-content/dmesg-efi-* "$PSTORE/"
  new_boot; lg boot --json
  assert_rc 0
  json_has "recovery boot --json" '.mode == "recovery" and .action == "restore-content" and .culprit == "alpha"
    and .suspect == "attributed" and .failed_boots == 1
    and (.crash_record | test("fakesensor")) and (.culprit_evidence | test("attributed"))
    and (.evidence.alpha | test("^attributed")) and (.evidence.beta | type) == "string"
    and (.evidence_summary | test("alpha: attributed"))'
  boot_schema_ok "recovery boot --json"
  # the same words as the event log's evidence.NAME
  local words=$(jq -r .evidence.beta <<<"$OUT")
  lg log --json
  assert_eq "$(jq -r 'map(select(.type == "recovery-restore")) | .[-1].evidence["evidence.beta"]' <<<"$OUT")" \
    "$words" "boot --json and the event agree"
}

# boot never fails the boot because of --json: a root it cannot open still
# exits 0.
# The schema check itself refuses what breaks the schema.
t_boot_schema_refuses_a_wrong_object() {
  OUT='{"total_boots":1,"mode":"sideways","action":null}'
  printf '%s' "$OUT" >"$T/bad.json"
  schema_check "$TOP/docs/boot.schema.json" "$T/bad.json" >/dev/null && fail "a wrong mode and missing keys passed"
  return 0
}

t_boot_json_exits_0_on_errors() {
  "$LG_BIN" --root "$T/does-not-exist" --json boot >"$T/out" 2>"$T/err"
  assert_eq "$?" 0 "boot --json with a bad root"
}

t_json_of_every_verb() {
  setup_good
  lg --json confirm
  assert_rc 0
  json_has "confirm --json" '.confirmed == true and .already_confirmed == true'
  new_boot; lg boot; lg confirm --json
  json_has "confirm --json" '.confirmed == true and .already_confirmed == false and .failed_checks == 0'
  lg status --json; json_has "status --json" '.schema_version == 1'
  lg safe-mode --next-boot --boots 2 --json
  assert_rc 0
  json_has "safe-mode --json" '.cancelled == false and .safe_boots_requested == 2'
  lg safe-mode --cancel --json
  json_has "safe-mode --cancel --json" '.cancelled == true and .safe_boots_requested == 0'
  lg policy check --json; json_has "policy check --json" '.components | length == 2'
  lg snapshot list --json; json_has "snapshot list --json" 'length == 2 and all(.[]; .component and .id)'
  lg snapshot verify --json; json_has "snapshot verify --json" 'length == 2 and all(.[]; .ok)'
  lg snapshot create --force alpha --json; json_has "snapshot create --json" '.[0].component == "alpha" and .[0].created'
  lg snapshot restore alpha --json; json_has "snapshot restore --json" '.component == "alpha" and (.id | length > 0)'
  tar -C "$ROOT" -cf "$T/beta.tar" etc/beta
  lg snapshot import beta "$T/beta.tar" --json
  assert_rc 0 "import"
  json_has "snapshot import --json" '.component == "beta" and (.id | length > 0)'
  lg quarantine list --json; json_has "quarantine list --json" '.quarantined == []'
  lg quarantine apply alpha; assert_rc 0 "quarantine apply (test builds)"
  lg quarantine list --json; json_has "quarantine list --json" '.quarantined[0].component == "alpha"'
  lg quarantine release alpha --json; json_has "quarantine release --json" '.released == "alpha"'
  lg log --json; json_has "log --json" 'length > 0 and all(.[]; .seq and .type)'
  lg log verify --json; json_has "log verify --json" '.intact == true'
  LASTGOOD_JOURNAL_SOCKET=$T/nonexistent.sock lg log forward --json
  assert_rc 1 "log forward without a journal"
  [[ -z $OUT ]] || fail "a failed log forward printed: $OUT"
  lg helpdesk enroll --json; json_has "helpdesk enroll --json" '.key_hex | length == 64'
  lg helpdesk code --secret-file "$ROOT/var/lib/lastgood/helpdesk.secret" --count 2 --json
  json_has "helpdesk code --json" 'length == 2 and (.[0].code | test("^[0-9]{8}$"))'
  local code=$(jq -r '.[0].code' <<<"$OUT")
  lg helpdesk verify "$code" --json; json_has "helpdesk verify --json" '.accepted == true'
  lg helpdesk verify "$code" --json; json_has "helpdesk verify --json (reused)" '.accepted == false'
}

# craft_events — a valid chain of events with chosen times, types and
# components (TIME TYPE COMPONENT per line on stdin; "-" for null).
craft_events() {
  local prev i=0 when type comp c
  prev=$(printf '0%.0s' {1..64})
  mkdir -p "$ROOT/var/lib/lastgood"
  : >"$ROOT/var/lib/lastgood/events.jsonl"
  while read -r when type comp; do
    i=$((i + 1))
    [[ $comp == - ]] && c=null || c="\"$comp\""
    line=$(printf '{"seq":%d,"time":"%s","boot_id":null,"type":"%s","component":%s,"action":null,"message":"event %d","evidence":{},"prev":"%s"}' \
      "$i" "$when" "$type" "$c" "$i" "$prev")
    printf '%s\n' "$line" >>"$ROOT/var/lib/lastgood/events.jsonl"
    prev=$(printf '%s' "$line" | sha256sum | cut -d' ' -f1)
  done
}

# seqs ARGS… — the seq numbers `log --json ARGS…` shows, space-separated.
seqs() { lg log --json "$@"; jq -r '[.[].seq] | join(" ")' <<<"$OUT"; }

t_log_filters() {
  local old recent
  old=$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%S.000000Z)
  recent=$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%S.000000Z)
  craft_events <<EOF
2026-11-20T08:00:00.000000Z boot-counted -
2026-11-21T09:30:00.000000Z recovery-restore alpha
2026-11-22T10:00:00.000000Z boot-counted alpha
2026-11-23T11:00:00.000000Z recovery-quarantine beta
$old crash-record alpha
$recent boot-confirmed -
EOF
  lg log verify; assert_rc 0 "the crafted log is a valid chain"
  assert_eq "$(seqs)" "1 2 3 4 5 6" "no filter"
  assert_eq "$(seqs -n 2)" "5 6" "-n 2"
  assert_eq "$(seqs --lines=1)" "6" "--lines=1"
  assert_eq "$(seqs -n 0)" "" "-n 0"
  assert_eq "$(seqs -n 100)" "1 2 3 4 5 6" "-n beyond the log"
  assert_eq "$(seqs --component alpha)" "2 3 5" "--component"
  assert_eq "$(seqs --component nosuch)" "" "--component of no event"
  assert_eq "$(seqs --type boot-counted)" "1 3" "--type"
  assert_eq "$(seqs --type boot-counted,recovery-quarantine)" "1 3 4" "--type list"
  assert_eq "$(seqs --type boot-counted --type boot-confirmed)" "1 3 6" "--type repeated"
  assert_eq "$(seqs --since 2026-11-22)" "3 4 5 6" "--since a date"
  assert_eq "$(seqs --since 2026-11-21T09:30)" "2 3 4 5 6" "--since a time (inclusive)"
  assert_eq "$(seqs --since '2026-11-21 09:30:01Z')" "3 4 5 6" "--since a time with seconds"
  assert_eq "$(seqs --since -1h)" "6" "--since -1h"
  assert_eq "$(seqs --since 4h)" "5 6" "--since 4h"
  assert_eq "$(seqs --since -30d)" "1 2 3 4 5 6" "--since -30d"
  assert_eq "$(seqs --component alpha --type boot-counted,crash-record -n 1)" "5" "combined"
  assert_eq "$(seqs --since 2026-11-21 --component alpha --type recovery-restore)" "2" "combined with --since"
  # the table shows the same, and says when nothing matches
  lg log --component beta
  assert_rc 0
  assert_out '^4 +2026-11-23 11:00:00 recovery-quarantine +beta '
  assert_not_out 'alpha'
  lg log --component alpha --type boot-confirmed
  assert_rc 0
  assert_out '^No matching events\.$'
  # negative: what the filters refuse
  lg log --type nosuchtype
  assert_rc 2
  assert_err "unknown event type 'nosuchtype' \(valid: boot-counted, .*recovery-restore.*\)"
  lg log --type boot-counted,bogus
  assert_rc 2 "one unknown type in a list"
  lg log --type ,
  assert_rc 2 "an empty type list"
  lg log --since 2026-02-30
  assert_rc 2 "an impossible date"
  lg log --since soon
  assert_rc 2
  assert_err 'YYYY-MM-DD'
  lg log -n -1
  assert_rc 2 "a negative -n"
  # verify always checks the whole chain: filters are refused with it, and
  # a broken line outside any filter's reach is still found
  lg log verify -n 1
  assert_rc 2 "verify with a filter"
  sed -i '2s/event 2/event two/' "$ROOT/var/lib/lastgood/events.jsonl"
  lg log verify
  assert_rc 1 "tampered line 2"
  assert_err 'line 3'
  assert_eq "$(seqs -n 1)" "6" "filters still show the rest"
}

words_of() { sort | tr '\n' ' '; }

t_bash_completion_every_verb_and_option() {
  bash -n "$COMPLETION" || fail "syntax"
  assert_eq "$(complete_words "$LG_BIN" '' | words_of)" "$(verbs | words_of)" "verbs: those of --help"
  assert_eq "$(complete_words "$LG_BIN" help sa | words_of)" "safe-mode " "help VERB"
  assert_eq "$(complete_words "$LG_BIN" log '' | words_of)" "forward verify " "log forward and verify"
  assert_eq "$(complete_words "$LG_BIN" log - | words_of)" "--component --help --json --lines --since --type -n " \
    "log options"
  assert_eq "$(complete_words "$LG_BIN" snapshot '' | words_of)" "create import list restore verify " "snapshot"
  assert_eq "$(complete_words "$LG_BIN" snapshot create - | words_of)" "--force --help --json " "create options"
  assert_eq "$(complete_words "$LG_BIN" quarantine '' | words_of)" "list release " "quarantine"
  assert_eq "$(complete_words "$LG_BIN" safe-mode --n | words_of)" "--next-boot " "safe-mode options"
  assert_eq "$(complete_words "$LG_BIN" helpdesk code --s | words_of)" "--secret-file --sha1 " "code options"
  assert_eq "$(complete_words "$LG_BIN" log --type recovery-r | words_of)" "recovery-restore " "event types"
  assert_eq "$(complete_words "$LG_BIN" log --type boot-counted,crash-record-n | words_of)" \
    "boot-counted,crash-record-not-counted " "the last of a type list"
  write_policy 'components:
  - name: examplesensor
  - name: edr'
  assert_eq "$(complete_words "$LG_BIN" --root "$ROOT" log --component '' | words_of)" "edr examplesensor " \
    "components for --component"
  assert_eq "$(complete_words "$LG_BIN" --root "$ROOT" quarantine release '' | words_of)" "edr examplesensor " \
    "components for release"
  # profile names for profile enable|disable, from `profile list --json`
  if grep -qx profile <<<"$(verbs)"; then
    mkdir -p "$ROOT/usr/share/lastgood/profiles"
    printf 'components:\n  - name: acme\n' >"$ROOT/usr/share/lastgood/profiles/acme-edr.yaml"
    assert_eq "$(complete_words "$LG_BIN" --root "$ROOT" profile enable '' | words_of)" "acme-edr " "profile names"
  fi
  # every verb with sub-verbs completes them (a verb added later is checked too)
  local v
  for v in $(verbs); do
    lg help "$v"
    if grep -qE "^(Usage:|      ) lastgood $v [a-z]" <<<"$OUT"; then
      [[ -n $(complete_words "$LG_BIN" "$v" '') ]] || fail "no completion for the sub-verbs of $v"
    fi
  done
  # the binary cannot run: the static lists still offer log forward
  assert_eq "$(complete_words /nonexistent/lastgood log '' | words_of)" "forward verify " "static log sub-verbs"
}

run_tests
