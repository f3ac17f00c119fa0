#!/bin/bash
# Safe-mode requests through the real binary, boot after boot: the ESP
# request file (boots=N), lastgood.safemode= on the kernel command line, and
# the helpdesk codes they carry when the policy requires one. Each boot
# confirms before the next, so only the request makes a boot safe.
source "$(dirname "$0")/lib.sh"

BASE='version: 1
boot:
  max_failed_boots: 3
  state: file'

# The code-free path is an explicit choice: require_code is true as shipped.
POLICY="$BASE
safe_mode:
  require_code: false"

POLICY_CODE="$BASE
safe_mode:
  require_code: true"

SECRET=/var/lib/lastgood/helpdesk.secret

# esp_request TEXT — leave TEXT in the test ESP's request file.
esp_request() {
  mkdir -p "$T/esp/EFI/lastgood"
  printf '%s\n' "$1" >"$T/esp/EFI/lastgood/safemode"
}

# events TYPE — the messages of the events of TYPE, one a line.
events() { lg log --json; jq -r --arg t "$1" '.[] | select(.type == $t) | .message' <<<"$OUT"; }
# actors TYPE — the actor evidence of the events of TYPE, one a line.
actors() { lg log --json; jq -r --arg t "$1" '.[] | select(.type == $t) | .evidence.actor' <<<"$OUT"; }

# The regression test for boots=N being ignored: boots=2 gave one safe boot.
t_esp_request_boots_2_gives_two_safe_boots() {
  write_policy "$POLICY"
  boot_confirmed
  esp_request 'boots=2'
  boot_confirmed; assert_eq "$MODE" mode=safe "first boot after the request"
  assert_no_file "$T/esp/EFI/lastgood/safemode"
  assert_eq "$(status_field safe_mode_requested)" 1 "one more safe boot pending"
  boot_confirmed; assert_eq "$MODE" mode=safe "second boot after the request"
  boot_confirmed; assert_eq "$MODE" mode=normal "third boot after the request"
  assert_eq "$(status_field safe_mode_requested)" 0 "nothing pending"
  assert_eq "$(actors safe-mode-requested)" "ESP request" "the event names the ESP request"
}

t_esp_request_without_boots_is_one_boot() {
  write_policy "$POLICY"
  esp_request ''
  boot_confirmed; assert_eq "$MODE" mode=safe "the request's boot"
  boot_confirmed; assert_eq "$MODE" mode=normal "the next boot"
}

# A request for N boots means N safe boots, whether it comes from the ESP or
# from `safe-mode --next-boot --boots N`; two requests overlap, they do not
# add up, and no request may pend more than the bound (10).
t_requests_overlap_and_are_bounded() {
  write_policy "$POLICY"
  boot_confirmed
  lg safe-mode --next-boot --boots 3; assert_rc 0
  esp_request 'boots=2'
  boot_confirmed; assert_eq "$MODE" mode=safe "boot 1"
  assert_eq "$(status_field safe_mode_requested)" 2 "the longer request wins, not the sum"
  boot_confirmed; boot_confirmed
  boot_confirmed; assert_eq "$MODE" mode=normal "after three boots"

  esp_request 'boots=100'
  boot_confirmed; assert_eq "$MODE" mode=safe "boots=100"
  assert_eq "$(status_field safe_mode_requested)" 9 "capped at 10 boots in all"
  assert_eq "$(events safe-mode-requested | tail -1 | grep -c 'capped')" 1 "the event says it was capped"
  lg safe-mode --next-boot --boots 11; assert_rc 2 "--boots above the same bound"
}

t_esp_code_required() {
  write_policy "$POLICY_CODE"
  lg helpdesk enroll; assert_rc 0
  boot_confirmed
  esp_request 'boots=2'
  boot_confirmed; assert_eq "$MODE" mode=normal "no code, code required"
  assert_no_file "$T/esp/EFI/lastgood/safemode"
  assert_eq "$(events safe-mode-code-rejected | grep -c 'carries no helpdesk code')" 1 "refusal logged"

  lg helpdesk code --secret-file "$ROOT$SECRET" --counter 0; local code=$OUT
  esp_request "code=$code boots=2"
  boot_confirmed; assert_eq "$MODE" mode=safe "valid code"
  boot_confirmed; assert_eq "$MODE" mode=safe "second of boots=2"
  boot_confirmed; assert_eq "$MODE" mode=normal "then normal"
  assert_eq "$(actors safe-mode-requested)" "ESP request, helpdesk code #0" "the event names the code"

  esp_request "$code"
  boot_confirmed; assert_eq "$MODE" mode=normal "the same code again"
  assert_eq "$(events safe-mode-code-rejected | grep -c 'wrong or already used')" 1 "reuse logged"
}

t_cmdline_helpdesk_code_names_its_counter() {
  write_policy "$POLICY_CODE"
  lg helpdesk enroll; assert_rc 0
  boot_confirmed
  lg helpdesk code --secret-file "$ROOT$SECRET" --counter 2; local code=$OUT
  CMDLINE="quiet lastgood.safemode=$code"
  boot_confirmed; assert_eq "$MODE" mode=safe "code on the command line"
  assert_eq "$(actors safe-mode-requested)" "console: helpdesk code #2" "the event names the console and the code"
  boot_confirmed; assert_eq "$MODE" mode=normal "the same command line again"
  CMDLINE="quiet lastgood.safemode"
  boot_confirmed; assert_eq "$MODE" mode=normal "no code, code required"
  assert_eq "$(events safe-mode-code-rejected | wc -l)" 2 "both refusals logged"
  lg log verify; assert_rc 0 "the log stays a valid chain"
}

t_cmdline_refused_when_not_allowed() {
  write_policy "$BASE
safe_mode:
  require_code: false
  allow_cmdline: false"
  CMDLINE="quiet lastgood.safemode=1"
  boot_confirmed; assert_eq "$MODE" mode=normal "allow_cmdline: false"
  assert_eq "$(events safe-mode-code-rejected | grep -c 'allow_cmdline')" 1 "refusal logged"
}

run_tests
