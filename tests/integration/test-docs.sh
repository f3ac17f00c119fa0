#!/bin/bash
# Documentation that cannot drift: the man pages render without warnings,
# they cover every verb, option and policy key the binary knows, their policy
# examples pass `policy check`; the bash completion completes.
source "$(dirname "$0")/lib.sh"

MAN8=$TOP/docs/man/lastgood.8
MAN5=$TOP/docs/man/lastgood-policy.5
COMPLETION=$TOP/dist/bash-completion/lastgood

render() { MANWIDTH=80 man -l "$1" 2>/dev/null; }

t_man_pages_render_without_warnings() {
  local p w
  for p in "$MAN8" "$MAN5"; do
    w=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
    [[ -z "$w" ]] || fail "$(basename "$p"): $w"
  done
  make -s -C "$TOP/docs/man" >/dev/null 2>&1 || fail "make -C docs/man failed"
}

t_man8_covers_every_verb_and_option() {
  lg --help
  local page verb opt
  page=$(render "$MAN8")
  for verb in $(sed -n '/^Verbs:/,/^$/p' <<<"$OUT" | awk 'NF && $1 != "Verbs:" { print $1 }'); do
    grep -qE "^       $verb( |$)" <<<"$page" || fail "lastgood(8) lacks the verb $verb"
  done
  for opt in $(grep -oE -- '--[a-z][a-z-]+' <<<"$OUT" | sort -u); do
    grep -qF -- "$opt" <<<"$page" || fail "lastgood(8) lacks the option $opt"
  done
  for opt in enroll --force --secret-file --counter --count --sha1 verify; do
    grep -qF -- "$opt" <<<"$page" || fail "lastgood(8) lacks helpdesk $opt"
  done
}

t_man8_lists_every_event_type() {
  # The table in agent/eventlog.c is the one source: each type and its
  # MESSAGE_ID appear in lastgood(8).
  local page n=0 name id
  page=$(render "$MAN8")
  while read -r name id; do
    n=$((n + 1))
    grep -qF -- "$name" <<<"$page" || fail "lastgood(8) lacks the event type $name"
    grep -qF -- "MESSAGE_ID=$id" <<<"$page" || fail "lastgood(8) lacks the MESSAGE_ID of $name"
  done < <(sed -n 's/^ *\[EVENT_[A-Z_]*\] = { "\([a-z-]*\)", "\([0-9a-f]\{32\}\)".*/\1 \2/p' "$TOP/agent/eventlog.c")
  ((n >= 16)) || fail "found only $n event types in agent/eventlog.c"
}

t_man5_covers_every_policy_key() {
  write_policy 'components:
  - name: x
confirm:
  health_checks:
    - name: h
      command: ["/bin/true"]'
  lg policy check
  assert_rc 0 "policy check"
  local page key section=''
  page=$(render "$MAN5")
  # Every key of the effective policy (printed as YAML) is documented.
  while IFS= read -r line; do
    [[ "$line" =~ ^([a-z_]+):  ]] && section=${BASH_REMATCH[1]}
    [[ "$line" =~ ^[a-z_]+: ]] && key=${line%%:*} && { grep -qF "$key" <<<"$page" || fail "no $key"; continue; }
    [[ "$line" =~ ^\ +-?\ *([a-z_]+): ]] || continue
    key=${BASH_REMATCH[1]}
    grep -qF -- "$key" <<<"$page" || fail "lastgood-policy(5) lacks $section.$key"
    if [[ "$line" =~ ^\ \ [a-z] ]]; then
      grep -qF -- "$section.$key" <<<"$page" || fail "lastgood-policy(5) lacks $section.$key"
    fi
  done <<<"$OUT"
}

t_man5_examples_are_valid_policies() {
  local n=0
  render "$MAN5" | awk '/^EXAMPLES/{e=1} /^FILES/{e=0} e' >"$T/examples"
  # Each example is an indented block; split on blank lines.
  awk -v dir="$T" '
    /^           / { sub(/^           /, ""); buf = buf $0 "\n"; next }
    { if (buf != "") { f = dir "/ex" ++n ".yaml"; printf "%s", buf > f; close(f); buf = "" } }
    END { if (buf != "") { f = dir "/ex" ++n ".yaml"; printf "%s", buf > f } }' "$T/examples"
  local f
  for f in "$T"/ex*.yaml; do
    [[ -e "$f" ]] || continue
    n=$((n + 1))
    chmod 0644 "$f"
    lg policy check "$f"
    assert_rc 0 "example $(basename "$f"): $(cat "$f")"
  done
  ((n >= 2)) || fail "found $n policy examples in lastgood-policy(5)"
}

# complete_words (lib.sh): what the completion offers for the last word.
t_bash_completion() {
  bash -n "$COMPLETION" || fail "syntax"
  assert_eq "$(complete_words lastgood '' | sort | tr '\n' ' ')" \
    "boot confirm help helpdesk log policy profile quarantine safe-mode snapshot status " "verbs"
  assert_eq "$(complete_words lastgood --root /x helpd)" helpdesk "verb after a global option"
  assert_eq "$(complete_words lastgood helpdesk '' | tr '\n' ' ')" "enroll code verify " "helpdesk commands"
  assert_eq "$(complete_words lastgood helpdesk code --s | sort | tr '\n' ' ')" "--secret-file --sha1 " "code options"
  assert_eq "$(complete_words lastgood helpdesk code --secret-file '')" FILE "file after --secret-file"
  write_policy 'components:
  - name: examplesensor
  - name: edr'
  assert_eq "$(complete_words "$LG_BIN" --root "$ROOT" quarantine release '' | sort | tr '\n' ' ')" \
    "edr examplesensor " "components from the policy"
}

# The one list of system directories refused as content (lib/names.c) is the
# one lastgood-policy(5) gives, entry for entry.
t_man5_lists_every_refused_system_dir() {
  local src dirs d n=0
  src=$(sed -n '/const system\[\] = {/,/};/p' "$TOP/lib/names.c")
  dirs=$(grep -o '"/[^"]*"' <<<"$src" | tr -d '"'; grep -qF '"/",' <<<"$src" && echo /)
  [[ -n "$dirs" ]] || fail "no system directory list found in lib/names.c"
  while IFS= read -r d; do
    [[ -n "$d" ]] || continue
    grep -qE -- "^\.BR? ${d//./\\.}( ,|$| )" "$MAN5" || fail "lastgood-policy(5) does not list $d"
    n=$((n + 1))
  done <<<"$(sort -u <<<"$dirs")"
  ((n >= 20)) || fail "found only $n system directories"
}

run_tests
