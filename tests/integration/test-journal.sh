#!/bin/bash
# Events recorded before journald runs (in the initramfs) reach the journal
# later, once each, with structured fields: `lastgood log forward`.
source "$(dirname "$0")/lib.sh"

# Listens on a datagram socket like journald's and stores what arrives.
listen() { # SOCKET OUTDIR
  python3 - "$1" "$2" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2] + "/ready", "w").close()
i = 0
while True:
    data = s.recv(1 << 20)
    with open("%s/msg-%03d" % (sys.argv[2], i), "wb") as f:
        f.write(data)
    i += 1
PY
  LISTENER=$!
  for _ in $(seq 50); do [[ -e "$2/ready" ]] && return; sleep 0.1; done
}

make_events() {
  write_policy 'version: 1
boot:
  max_failed_boots: 1
  state: file
components:
  - name: sensor
    content: [/etc/sensor]
    kernel_modules: [fakesensor]'
  mkdir -p "$ROOT/etc/sensor"; echo good >"$ROOT/etc/sensor/rules.bin"
  boot; lg confirm
  echo bad >"$ROOT/etc/sensor/rules.bin"
  boot
  cp "$FIXTURES"/pstore/sensor-content/dmesg-efi-* "$PSTORE/"
  boot; assert_out 'restore-content'
}

t_forward_sends_each_event_once_with_fields() {
  make_events
  mkdir -p "$T/j"
  listen "$T/journal.sock" "$T/j"
  LASTGOOD_JOURNAL_SOCKET=$T/journal.sock lg log forward; assert_rc 0
  local n; n=$(grep -c . "$ROOT/var/lib/lastgood/events.jsonl")
  sleep 0.3
  assert_eq "$(ls "$T/j" | grep -c msg-)" "$n" "one datagram per event"
  local restore; restore=$(grep -l '^LASTGOOD_TYPE=recovery-restore$' "$T"/j/msg-* | head -1)
  [[ -n "$restore" ]] || fail "no recovery-restore message"
  grep -qx 'MESSAGE_ID=dc19036c2ac839d0b792ce2b385a3760' "$restore" || fail "MESSAGE_ID missing: $(cat "$restore")"
  grep -qx 'COMPONENT=sensor' "$restore" || fail "COMPONENT missing"
  grep -qx 'ACTION=restore-content' "$restore" || fail "ACTION missing: $(grep ACTION "$restore")"
  grep -q '^LASTGOOD_EVIDENCE_CRASH_RECORD=.*fakesensor' "$restore" || fail "evidence missing"
  # Idempotent: nothing is sent twice.
  LASTGOOD_JOURNAL_SOCKET=$T/journal.sock lg log forward; assert_out '^0 events'
  boot
  LASTGOOD_JOURNAL_SOCKET=$T/journal.sock lg log forward; assert_out '^[1-9][0-9]* event'
  kill "$LISTENER" 2>/dev/null
}

t_forward_without_journal_fails_and_keeps_cursor() {
  make_events
  LASTGOOD_JOURNAL_SOCKET=$T/nonexistent.sock lg log forward; assert_rc 1
  assert_no_file "$ROOT/var/lib/lastgood/journal-cursor"
}

run_tests
