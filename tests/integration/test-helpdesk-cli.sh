#!/bin/bash
# `lastgood helpdesk enroll | code | verify` through the real binary: the
# machine side and the helpdesk side agree, a code works once, the escrowed
# key (hex or base32) gives the same codes as the machine's secret.
source "$(dirname "$0")/lib.sh"

SECRET=/var/lib/lastgood/helpdesk.secret

t_enroll_shows_key_once_and_stores_it_root_only() {
  lg helpdesk enroll
  assert_rc 0 "enroll"
  assert_out '^  hex        [0-9a-f]{64}$'
  assert_out '^  base32     ([A-Z2-7]{4} ){12}[A-Z2-7]{4}$'
  assert_out 'otpauth://hotp/lastgood\?secret=[A-Z2-7]{52}&algorithm=SHA256&digits=8&counter=0'
  assert_eq "$(stat -c '%a %u' "$ROOT$SECRET")" "600 0" "secret file mode and owner"
  local first=$OUT
  lg helpdesk enroll
  assert_rc 1 "second enroll without --force"
  assert_err 'already exists.*--force'
  lg helpdesk enroll --force
  assert_rc 0 "enroll --force"
  [[ "$OUT" != "$first" ]] || fail "--force did not make a new key"
  lg helpdesk enroll --bogus
  assert_rc 2 "unknown option"
}

t_code_accepted_once() {
  lg helpdesk enroll
  lg helpdesk code --secret-file "$ROOT$SECRET"
  assert_rc 0 "code"
  assert_out '^[0-9]{8}$'
  local code=$OUT
  lg helpdesk verify "$code"
  assert_rc 0 "first use"
  assert_out 'accepted'
  lg helpdesk verify "$code"
  assert_rc 1 "second use"
  assert_out 'refused'
  # The machine's file now says counter=1: code reads the next one from it.
  lg helpdesk code --secret-file "$ROOT$SECRET"
  [[ "$OUT" != "$code" ]] || fail "code did not move on"
  lg helpdesk verify "$OUT"
  assert_rc 0 "next code"
}

t_escrowed_key_gives_the_same_codes() {
  lg --json helpdesk enroll
  assert_rc 0 "enroll --json"
  jq -r .key_hex <<<"$OUT" >"$T/key.hex"
  { echo "# escrow for machine 42"; jq -r .key_base32 <<<"$OUT" | sed 's/..../& /g' | tr A-Z a-z; } >"$T/key.b32"
  lg helpdesk code --secret-file "$ROOT$SECRET" --count 5
  local machine=$OUT
  lg helpdesk code --secret-file "$T/key.hex" --count 5 --counter 0
  assert_eq "$OUT" "$machine" "codes from the hex escrow"
  lg helpdesk code --secret-file "$T/key.b32" --count 5 --counter 0
  assert_eq "$OUT" "$machine" "codes from the base32 escrow"
  # The helpdesk at counter 3 (the window allows skipping ahead).
  lg helpdesk code --secret-file "$T/key.hex" --counter 3
  lg helpdesk verify "$OUT"
  assert_rc 0 "code 3 inside the window"
  grep -qx 'counter=4' "$ROOT$SECRET" || fail "counter not advanced to 4: $(grep counter "$ROOT$SECRET")"
  # SHA-1 keys give different codes.
  lg helpdesk code --secret-file "$T/key.hex" --counter 0 --sha1
  [[ "$OUT" != "$(head -1 <<<"$machine" | cut -d' ' -f2)" ]] || fail "--sha1 changed nothing"
}

t_rfc4226_through_the_cli() {
  # RFC 4226 Appendix D key, base32; the 8-digit forms of its codes.
  echo GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ >"$T/rfc.key"
  lg --json helpdesk code --secret-file "$T/rfc.key" --sha1 --count 10 --counter 0
  assert_eq "$(jq -r '.[].code' <<<"$OUT" | tr '\n' ' ')" \
    "84755224 94287082 37359152 26969429 40338314 68254676 18287922 82162583 73399871 45520489 " "RFC 4226 codes"
}

t_window_is_enforced() {
  lg helpdesk enroll
  lg helpdesk code --secret-file "$ROOT$SECRET" --counter 10
  lg helpdesk verify "$OUT"
  assert_rc 1 "code beyond the default window of 10"
  write_policy 'version: 1
safe_mode:
  code_window: 20'
  lg helpdesk code --secret-file "$ROOT$SECRET" --counter 10
  lg helpdesk verify "$OUT"
  assert_rc 0 "the same code with code_window: 20"
}

t_verify_refuses_exposed_secret() {
  lg helpdesk enroll
  lg helpdesk code --secret-file "$ROOT$SECRET"
  local code=$OUT
  chmod 0644 "$ROOT$SECRET"
  lg helpdesk verify "$code"
  assert_rc 1 "world-readable secret"
  assert_err 'mode 0600'
  chmod 0600 "$ROOT$SECRET"
  lg helpdesk verify "$code"
  assert_rc 0 "after chmod 0600"
}

t_verify_without_enrollment() {
  lg helpdesk verify 12345678
  assert_rc 1 "not enrolled"
  assert_err 'enroll'
}

t_usage_errors() {
  lg helpdesk code
  assert_rc 2 "code without --secret-file"
  lg helpdesk code --secret-file /nonexistent --count 0
  assert_rc 2 "--count 0"
  lg helpdesk code --secret-file /nonexistent --counter -1
  assert_rc 2 "--counter -1"
  lg helpdesk verify
  assert_rc 2 "verify without a code"
  lg helpdesk frobnicate
  assert_rc 2 "unknown command"
  echo 'not a key' >"$T/bad.key"
  lg helpdesk code --secret-file "$T/bad.key"
  assert_rc 1 "unparsable key file"
}

run_tests
