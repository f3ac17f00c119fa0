#!/bin/bash
# `lastgood log` and `lastgood log verify` on the real binary: logs written
# by `boot` itself, and logs crafted (and tampered with) here.
. "$(dirname "$0")/lib.sh"

LOGF() { echo "$ROOT/var/lib/lastgood/events.jsonl"; }

# craft_log N — a valid chain of N events, built here with sha256sum (an
# independent implementation of the format the header documents).
craft_log() {
  local n=$1 prev i line
  prev=$(printf '0%.0s' {1..64})
  mkdir -p "$ROOT/var/lib/lastgood"
  : >"$(LOGF)"
  for ((i = 1; i <= n; i++)); do
    line=$(printf '{"seq":%d,"time":"2026-11-25T11:11:4%d.000000Z","boot_id":"b%d","type":"boot-counted","component":"sensor","action":null,"message":"event %d","evidence":{"index":"%d"},"prev":"%s"}' \
      "$i" "$i" "$i" "$i" "$i" "$prev")
    printf '%s\n' "$line" >>"$(LOGF)"
    prev=$(printf '%s' "$line" | sha256sum | cut -d' ' -f1)
  done
}

t_empty_log() {
  lg log
  assert_rc 0
  assert_out "No events"
  lg log --json
  assert_rc 0
  assert_eq "$OUT" "[]"
  lg log verify
  assert_rc 0
  assert_out "intact: 0 events"
}

t_crafted_log_shown_and_intact() {
  craft_log 3
  lg log
  assert_rc 0
  assert_out "^1 +2026-11-25 11:11:41 boot-counted +sensor .*event 1$"
  assert_out "^3 .*event 3$"
  lg log --json
  assert_rc 0
  assert_eq "$(jq length <<<"$OUT")" 3
  assert_eq "$(jq -r '.[1].seq' <<<"$OUT")" 2
  assert_eq "$(jq -r '.[1].evidence.index' <<<"$OUT")" 2
  assert_eq "$(jq -r '.[1].message_id' <<<"$OUT")" "76819e05420985633a479ac0be8165c9"
  assert_eq "$(jq -r '.[1].action' <<<"$OUT")" "null"
  lg log verify
  assert_rc 0
  assert_out "intact: 3 events"
  lg log verify --json
  assert_rc 0
  assert_eq "$(jq -r .intact <<<"$OUT")" true
}

# The log that boot writes is read and verified by the same binary.
t_boot_writes_a_verifiable_log() {
  boot
  boot # the previous boot never confirmed: counted, which is an event
  boot
  assert_file "$(LOGF)"
  lg log verify
  assert_rc 0
  assert_out "intact: [1-9][0-9]* events?"
  lg log --json
  assert_eq "$(jq -r '.[0].seq' <<<"$OUT")" 1
  assert_eq "$(jq -r '.[0].prev' <<<"$OUT")" "$(printf '0%.0s' {1..64})"
}

# A crash record in pstore is archived beneath the root and cleared, and
# the log stays a valid chain.
t_boot_archives_crash_records() {
  local src=$FIXTURES/pstore-synthetic/panic-loading
  cp "$src"/dmesg-* "$PSTORE"/
  boot
  boot
  assert_eq "$(find "$PSTORE" -name 'dmesg-*' | wc -l)" 0 "pstore not cleared"
  local a=$ROOT/var/lib/lastgood/crashes/20231114T223000Z-dmesg-efi-170000100001001
  assert_file "$a"
  cmp -s "$src/dmesg-efi-170000100001001" "$a" || fail "archived record differs from the original"
  lg log verify
  assert_rc 0
}

t_verify_edited_line() {
  craft_log 4
  sed -i '2s/"event 2"/"event X"/' "$(LOGF)"
  lg log verify
  assert_rc 1
  assert_err "line 3: prev does not match the hash of line 2"
  lg log verify --json
  assert_rc 1
  assert_eq "$(jq -r .intact <<<"$OUT")" false
}

t_verify_removed_line() {
  craft_log 4
  sed -i '2d' "$(LOGF)"
  lg log verify
  assert_rc 1
  assert_err "line 2: seq 3, expected 2"
}

t_verify_reordered_lines() {
  craft_log 4
  local f; f=$(LOGF)
  { sed -n 1p "$f"; sed -n 3p "$f"; sed -n 2p "$f"; sed -n 4p "$f"; } >"$f.new" && mv "$f.new" "$f"
  lg log verify
  assert_rc 1
  assert_err "line 2: seq 3, expected 2"
}

t_verify_inserted_line() {
  craft_log 3
  sed -i '2p' "$(LOGF)" # line 2 twice
  lg log verify
  assert_rc 1
  assert_err "line 3: seq 2, expected 3"
}

t_verify_torn_tail() {
  craft_log 2
  printf '{"seq":3,"time":"2026-' >>"$(LOGF)"
  lg log verify
  assert_rc 1
  assert_err "line 3: incomplete"
  # the next append (by boot) cuts the torn line off and says so
  boot
  boot
  lg log verify
  assert_rc 0
  lg log --json
  assert_eq "$(jq -r '[.[] | select(.evidence.eventlog_repaired_torn_bytes != null)] | .[0].evidence.eventlog_repaired_torn_bytes' <<<"$OUT")" 22
}

t_log_shows_bad_lines() {
  craft_log 2
  echo 'garbage' >>"$(LOGF)"
  lg log
  assert_rc 0
  assert_out "line 3 is not a valid event line"
  assert_err "not valid events"
  lg log --json
  assert_eq "$(jq -r '.[2].valid' <<<"$OUT")" false
}

t_log_escapes_terminal_codes() {
  local prev line
  prev=$(printf '0%.0s' {1..64})
  mkdir -p "$ROOT/var/lib/lastgood"
  line='{"seq":1,"time":"t","boot_id":null,"type":"internal-error","component":null,"action":null,"message":"\u001b[2Jwiped","evidence":{},"prev":"'$prev'"}'
  printf '%s\n' "$line" >"$(LOGF)"
  lg log
  assert_rc 0
  if grep -q $'\x1b' "$T/out"; then fail "raw ESC reached the terminal"; fi
  assert_out '\?\[2Jwiped'
}

t_log_symlink_refused() {
  mkdir -p "$ROOT/var/lib/lastgood"
  craft_log 1
  mv "$(LOGF)" "$T/elsewhere.jsonl"
  ln -s "$T/elsewhere.jsonl" "$(LOGF)"
  lg log verify
  assert_rc 1
  assert_err "Failed to read the event log"
}

t_log_usage() {
  lg log bogus
  assert_rc 2
  assert_err "unknown argument 'bogus'"
  lg log verify extra
  assert_rc 2
}

run_tests
