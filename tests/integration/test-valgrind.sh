#!/bin/bash
# The release binary under valgrind (memcheck, leaks included) through the
# main flows: boot, a crash loop with restore and quarantine, confirm with a
# snapshot, status, policy check, log verify, quarantine release.
# (valgrind does not know openat2: this also exercises root_openat's
# user-space fallback.)
source "$(dirname "$0")/lib.sh"
LG_BIN=$TOP/lastgood
command -v valgrind >/dev/null || { echo "# skip: no valgrind"; echo "# passed: 0, failed: 0"; exit 0; }

vg() {
  EFIVARFS_PATH="$EFI/" LASTGOOD_BOOT_ID="${BOOT_ID:-}" valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    "$LG_BIN" --root "$ROOT" --pstore "$PSTORE" --cmdline quiet "$@" >"$T/out" 2>"$T/err"
  RC=$?; OUT=$(cat "$T/out"); ERR=$(grep -v -e 'unhandled amd64-linux syscall' -e 'You may be able' \
    -e README_MISSING -e 'Nevertheless we consider' -e 'bug_reports' "$T/err")
  ((RC != 99)) || fail "valgrind errors in: lastgood $*: $ERR"
}

t_flows_are_valgrind_clean() {
  write_policy 'version: 1
boot:
  max_failed_boots: 1
  state: file
components:
  - name: sensor
    content: [/etc/sensor]
    kernel_modules: [fakesensor]
    units: [sensor.service]'
  mkdir -p "$ROOT/etc/sensor"; echo good >"$ROOT/etc/sensor/rules.bin"
  new_boot; vg boot; assert_rc 0
  vg confirm; assert_rc 0
  echo bad >"$ROOT/etc/sensor/rules.bin"
  new_boot; vg boot
  cp "$FIXTURES"/pstore/sensor-content/dmesg-efi-* "$PSTORE/"
  new_boot; vg boot; assert_out 'restore-content'
  cp "$FIXTURES"/pstore/sensor-content/dmesg-efi-* "$PSTORE/"   # the restore did not help
  new_boot; vg boot; assert_out 'mode=recovery:quarantine'
  vg status --json; assert_rc 0
  vg policy check; assert_rc 0
  vg log verify; assert_rc 0
  vg quarantine release sensor; assert_rc 0
  vg snapshot list --json; assert_rc 0
}

run_tests
