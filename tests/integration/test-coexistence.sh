#!/bin/bash
# docs/coexistence.md's recommended configuration, checked: with
# attributed_crash_threshold above the boot loader's tries, a module broken
# by a new kernel (content unchanged, crash record in the module) is left
# alone while the loader falls back, and quarantined only if the loop goes
# on; with the defaults it is quarantined at once (the case the page warns of).
source "$(dirname "$0")/lib.sh"

policy() {
  write_policy "version: 1
boot:
  max_failed_boots: 3
  state: file
components:
  - name: alpha
    content: [/etc/alpha]
    kernel_modules: [fakesensor]
$1"
}
setup() {
  policy "$1"
  mkdir -p "$ROOT/etc/alpha" "$ROOT/etc/modprobe.d" "$ROOT/etc/systemd/system"
  echo alpha-good >"$ROOT/etc/alpha/rules.bin"
  boot; lg confirm; assert_rc 0 "initial confirm"
}
module_crash_boot() { cp "$FIXTURES/pstore/sensor-module"/dmesg-efi-* "$PSTORE/"; boot; }
quarantined() { lg status --json; jq -r '.components[0].quarantined' <<<"$OUT"; }

t_defaults_quarantine_at_the_first_attributed_crash() {
  setup ""
  boot                # the boot that crashes (in the module)
  module_crash_boot   # its successor sees the record
  assert_eq "$(quarantined)" true "attributed_crash_threshold 1: quarantined at boot 2"
}

t_recommended_config_waits_for_the_loader_fallback() {
  setup "recovery:
  attributed_crash_threshold: 3"
  boot                                     # boot 1: new kernel, crashes
  module_crash_boot                        # boot 2: nothing to restore, quarantine waits
  assert_eq "$(quarantined)" false "boot 2: waits"
  lg status --json; assert_eq "$(jq -r .failed_boots <<<"$OUT")" 1
  module_crash_boot                        # boot 3: the loader's older kernel (tries=2)
  assert_eq "$(quarantined)" false "boot 3: still waits, the older kernel is on trial"
  lg confirm; assert_rc 0 "the older kernel confirms"
  assert_eq "$(status_field incident_open)" false "incident over, sensor on"
  # The loop goes on whatever kernel boots: the ladder continues.
  boot; module_crash_boot; module_crash_boot; module_crash_boot
  assert_eq "$(quarantined)" true "the sensor's own loop: quarantined at its threshold"
}

run_tests
