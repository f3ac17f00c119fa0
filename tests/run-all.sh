#!/bin/bash
# Runs the unit tests (cmocka, sanitized build) and the integration tests
# (the real binary against temporary roots). Prints one summary line per
# suite and a total; exits non-zero if anything failed.
#
#   tests/run-all.sh [unit|integration]...
set -uo pipefail
cd "$(dirname "$0")/.."

suites=("$@")
((${#suites[@]})) || suites=(unit integration)

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
total_pass=0
total_fail=0
failed_names=()

run_unit() {
  local b out rc n
  for b in ${BUILDDIR:-build}/test/unit/test-*; do
    [[ -x "$b" ]] || continue
    out=$("$b" 2>&1); rc=$?
    n=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
    total_pass=$((total_pass + ${n:-0}))
    if ((rc != 0)); then
      echo "$out" | grep -E 'FAILED|ERROR|Sanitizer|runtime error' | head -20
      total_fail=$((total_fail + 1)); failed_names+=("unit:$(basename "$b")")
      echo "FAIL unit $(basename "$b")"
    else
      echo "ok   unit $(basename "$b") (${n:-0} tests)"
    fi
  done
}

run_integration() {
  local t rc
  for t in tests/integration/test-*.sh; do
    out=$(bash "$t" 2>&1); rc=$?
    local np nf
    np=$(sed -n 's/^# passed: \([0-9]*\).*/\1/p' <<<"$out" | tail -1)
    nf=$(sed -n 's/.*failed: \([0-9]*\)$/\1/p' <<<"$out" | tail -1)
    total_pass=$((total_pass + ${np:-0}))
    if ((rc != 0)); then
      echo "$out" | grep -E '^(not ok|#)' | head -40
      total_fail=$((total_fail + ${nf:-1})); failed_names+=("integration:$(basename "$t")")
      echo "FAIL integration $(basename "$t")"
    else
      echo "ok   integration $(basename "$t") (${np:-0} tests)"
    fi
  done
}

for s in "${suites[@]}"; do
  "run_$s"
done
echo "SUMMARY: ${total_pass} passed, ${total_fail} failed"
if ((total_fail)); then
  printf 'failed: %s\n' "${failed_names[@]}"
  exit 1
fi
