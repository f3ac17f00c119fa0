# Integration-test harness: sourced by tests/integration/test-*.sh.
#
# Each test is a function named t_*; run_tests runs them all, each in a fresh
# temporary root ($ROOT) and fake efivarfs ($EFI, exported as EFIVARFS_PATH
# before lastgood starts, as libefivar requires), and prints TAP-style lines
# and "# passed: N, failed: M".
#
# $LG runs the sanitized test build (fault injection compiled in);
# LASTGOOD_BIN overrides it (e.g. to run the suite against ./lastgood).

set -uo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LG_BIN=${LASTGOOD_BIN:-${BUILDDIR:-$TOP/build}/test/lastgood}
FIXTURES=$TOP/tests/fixtures
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

_fail_msgs=()

# lg ARGS… — run lastgood against $ROOT with the fake efivarfs; output in
# $OUT/$ERR files, status in $RC. FAKETIME_BOOT=OFFSET (e.g. +1d) runs it
# with the clock moved (libfaketime; ASan must then tolerate the preload).
lg() {
  local pre=()
  [[ -n ${FAKETIME_BOOT:-} ]] && pre=(env ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" faketime -f "$FAKETIME_BOOT")
  EFIVARFS_PATH="$EFI/" LIBEFIVAR_OPS=efivarfs LASTGOOD_BOOT_ID="${BOOT_ID:-}" \
    "${pre[@]}" "$LG_BIN" --root "$ROOT" --pstore "${PSTORE:-$ROOT/sys/fs/pstore}" --cmdline "${CMDLINE:-quiet}" "$@" \
    >"$T/out" 2>"$T/err"
  RC=$?
  OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
  if grep -qE 'Sanitizer|runtime error:' "$T/err"; then
    fail "sanitizer report in: lastgood $*"; cat "$T/err" >&2
  fi
  return 0
}

# A new boot: each call gets a distinct boot id.
new_boot() { BOOT_ID=$(cat /proc/sys/kernel/random/uuid); }
boot() { new_boot; lg boot "$@"; }
# boot_confirmed — one boot (ESP at $T/esp) that comes up and confirms; its
# mode (mode=normal, mode=safe, …) in $MODE.
boot_confirmed() {
  mkdir -p "$T/esp"
  new_boot; lg --esp "$T/esp" boot
  assert_rc 0 "boot"
  MODE=$(grep -oE 'mode=[a-z]+' <<<"$OUT" | head -1)
  lg confirm
}

assert_rc() { [[ "$RC" == "$1" ]] || fail "expected exit $1, got $RC (${2:-}): out=[$OUT] err=[$ERR]"; }
assert_out() { grep -qE -- "$1" <<<"$OUT" || fail "stdout lacks /$1/: [$OUT] err=[$ERR]"; }
assert_not_out() { ! grep -qE -- "$1" <<<"$OUT" || fail "stdout has /$1/: [$OUT]"; }
assert_err() { grep -qE -- "$1" <<<"$ERR" || fail "stderr lacks /$1/: [$ERR]"; }
assert_not_err() { ! grep -qE -- "$1" <<<"$ERR" || fail "stderr has /$1/: [$ERR]"; }
assert_eq() { [[ "$1" == "$2" ]] || fail "${3:-values differ}: expected [$2], got [$1]"; }
assert_file() { [[ -e "$1" ]] || fail "missing file $1"; }
assert_no_file() { [[ ! -e "$1" && ! -L "$1" ]] || fail "unexpected file $1"; }

# status_field KEY — a top-level scalar from `status --json` (needs jq).
status_field() { lg status --json; jq -r ".$1" <<<"$OUT"; }

# Two sensors, alpha and beta, each with content, a module and a unit.
TWO_SENSORS_POLICY='version: 1
boot:
  max_failed_boots: 2
  state: file
components:
  - name: alpha
    content: [/etc/alpha]
    kernel_modules: [fakesensor]
    units: [alpha.service]
  - name: beta
    content: [/etc/beta]
    kernel_modules: [betamod]
    units: [beta.service]'

# setup_two_sensors [POLICY] — alpha and beta installed and confirmed good
# (snapshots taken by confirm).
setup_two_sensors() {
  write_policy "${1:-$TWO_SENSORS_POLICY}"
  mkdir -p "$ROOT/etc/alpha" "$ROOT/etc/beta" "$ROOT/etc/systemd/system" "$ROOT/etc/modprobe.d"
  echo alpha-good >"$ROOT/etc/alpha/rules.bin"
  echo beta-good >"$ROOT/etc/beta/rules.bin"
  boot; lg confirm; assert_rc 0 "initial confirm"
  lg snapshot list --json
  [[ $(jq 'length' <<<"$OUT") -ge 2 ]] || fail "confirm did not snapshot both components: $OUT"
}

# complete_words WORDS… — what dist/bash-completion/lastgood offers for the
# last word, through bash-completion's own _init_completion when it is
# installed (a stand-in otherwise); _filedir offers FILE.
BASH_COMPLETION_LIB=${BASH_COMPLETION_LIB-/usr/share/bash-completion/bash_completion}
complete_words() {
  bash -c '
    if [[ -r $2 ]]; then
      source "$2"
    else
      _init_completion() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
    fi
    _filedir() { COMPREPLY=(FILE); }
    source "$1"; shift 2
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _lastgood
    printf "%s\n" "${COMPREPLY[@]}"' _ "$TOP/dist/bash-completion/lastgood" "$BASH_COMPLETION_LIB" "$@"
}

# schema_check SCHEMA JSONFILE — JSONFILE validates against the JSON Schema
# (draft 2020-12) SCHEMA; the first problem on stdout, exit 1, when not.
schema_check() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
try:
    jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))
except jsonschema.ValidationError as e:
    print("schema: %s at %s" % (e.message, "/".join(map(str, e.absolute_path))))
    sys.exit(1)
PY
}

# write_policy YAML — the root's /etc/lastgood/policy.yaml (root-owned, 0644).
write_policy() {
  mkdir -p "$ROOT/etc/lastgood"
  printf '%s\n' "$1" >"$ROOT/etc/lastgood/policy.yaml"
  chmod 0644 "$ROOT/etc/lastgood/policy.yaml"
}

test_tmpdir() {
  if [[ -n "${TEST_TMPDIR:-}" ]]; then echo "$TEST_TMPDIR"
  elif [[ -d /dev/shm && -w /dev/shm ]]; then echo /dev/shm
  else echo /tmp; fi
}

run_tests() {
  local pass=0 failn=0 t
  for t in $(declare -F | awk '{print $3}' | grep '^t_' | sort); do
    # tmpfs when there is one: fsync costs nothing there, and these tests
    # check behaviour, not durability timing (the VM tests and benchmarks do).
    # Every path below is "$T/…": an empty T would put the test root at /root.
    T=$(mktemp -d "$(test_tmpdir)/lastgood-it.XXXXXX") && [[ -d $T && $T == */lastgood-it.* ]] || {
      echo "Bail out! cannot create a work directory in $(test_tmpdir)" >&2
      return 2
    }
    ROOT=$T/root; EFI=$T/efivars; PSTORE=$T/pstore
    mkdir -p "$ROOT/etc/lastgood" "$ROOT/var/lib" "$EFI" "$PSTORE"
    BOOT_ID=; CMDLINE=quiet
    _fail_msgs=()
    ( "$t" ) >"$T/log" 2>&1
    local sub=$?
    # a subshell cannot update _fail_msgs: the test writes failures to a file
    if [[ -s "$T/failures" ]]; then mapfile -t _fail_msgs <"$T/failures"; fi
    if ((sub == 0)) && ((${#_fail_msgs[@]} == 0)); then
      echo "ok - $t"; pass=$((pass + 1))
    else
      echo "not ok - $t"; failn=$((failn + 1))
      printf '#   %s\n' "${_fail_msgs[@]}" | head -20
      ((sub != 0)) && echo "#   (exit $sub)" && sed 's/^/#   | /' "$T/log" | tail -20
    fi
    [[ -n "${KEEP_TMP:-}" ]] || rm -rf "$T"
  done
  echo "# passed: $pass, failed: $failn"
  ((failn == 0))
}

# Failures recorded inside the test's subshell reach run_tests via a file.
fail() { printf '%s\n' "$*" >>"$T/failures"; }
