#!/bin/bash
# Systematic fault injection: for every durable step of each flow, kill the
# process there (as a power cut would), or make the step fail with ENOSPC or
# EIO, then rerun the flow and check the invariants:
#   - the boot count is never lost (and never goes backwards while unconfirmed);
#   - the state record is always readable;
#   - component content is wholly old or wholly new;
#   - the quarantine registry agrees with the files;
#   - the event log's hash chain is intact.
# Reports how many injection points each flow has and how many were covered.
#
# Needs the test build (fault points compiled in): build/test/lastgood.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
LG=${LASTGOOD_BIN:-${BUILDDIR:-$TOP/build}/test/lastgood}
[[ "$LG" = /* ]] || LG=$TOP/$LG
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1
# tmpfs when there is one: fsync is free there, and what is checked is the
# state after a simulated power cut, not the disk's own durability.
if [[ -z "${TEST_TMPDIR:-}" && -d /dev/shm && -w /dev/shm ]]; then TEST_TMPDIR=/dev/shm; fi
W=$(mktemp -d "${TEST_TMPDIR:-/tmp}/lastgood-fault.XXXXXX")
trap 'rm -rf "$W"' EXIT
total_points=0
total_runs=0
failures=0

POLICY='version: 1
boot:
  max_failed_boots: 1
  state: file
components:
  - name: sensor
    content: [/etc/sensor]
    kernel_modules: [sensor]
    units: [sensor.service]'

lg() { # ROOT BOOT_ID ARGS…
  local root=$1 id=$2; shift 2
  EFIVARFS_PATH="$W/no-efi/" LASTGOOD_BOOT_ID="$id" "$LG" --root "$root" --pstore "$root/pstore" --cmdline quiet "$@"
}

content_hash() { (cd "$1/etc/sensor" 2>/dev/null && find . -type f -exec sha256sum {} + | sort | sha256sum | cut -c1-16) || echo absent; }

# Each scenario prepares $R up to just before the flow under test.
prep_base() {
  rm -rf "$R"; mkdir -p "$R/etc/lastgood" "$R/etc/sensor/sub" "$R/pstore" "$R/etc/systemd/system" "$R/etc/modprobe.d"
  printf '%s\n' "$POLICY" >"$R/etc/lastgood/policy.yaml"; chmod 644 "$R/etc/lastgood/policy.yaml"
  echo good >"$R/etc/sensor/rules.bin"; echo good2 >"$R/etc/sensor/sub/x"
}
prep_boot() { prep_base; lg "$R" b1 boot; lg "$R" b1 confirm; lg "$R" b2 boot; } >/dev/null 2>&1
prep_confirm() { prep_base; lg "$R" b1 boot; } >/dev/null 2>&1
prep_snapshot() { prep_base; lg "$R" b1 boot; lg "$R" b1 confirm; echo newer >"$R/etc/sensor/rules.bin"; } >/dev/null 2>&1
prep_restore() { prep_snapshot; echo bad >"$R/etc/sensor/rules.bin"; rm "$R/etc/sensor/sub/x"; lg "$R" b2 boot; } >/dev/null 2>&1
prep_quarantine() { prep_restore; lg "$R" b3 boot; echo bad >"$R/etc/sensor/rules.bin"; } >/dev/null 2>&1
prep_release() { prep_quarantine; lg "$R" b4 boot; } >/dev/null 2>&1

flow_boot() { lg "$R" "$1" boot; }
flow_confirm() { lg "$R" b1 confirm; }
flow_snapshot() { lg "$R" b1 snapshot create sensor; }
flow_restore() { lg "$R" "$1" boot; }
flow_quarantine() { lg "$R" "$1" boot; }
flow_release() { lg "$R" b5 quarantine release sensor; }

check_invariants() { # FLOW LABEL OLD_HASH NEW_HASH COUNT_BEFORE
  local flow=$1 label=$2 old=$3 new=$4 before=$5 st h
  st=$(lg "$R" check status --json 2>/dev/null) || { echo "FAIL $label: status failed"; return 1; }
  if ! jq -e . >/dev/null 2>&1 <<<"$st"; then echo "FAIL $label: status not JSON"; return 1; fi
  if [[ $(jq -r .state_ok <<<"$st") != true ]] && jq -r .state_problem <<<"$st" | grep -q Corrupt; then
    echo "FAIL $label: corrupt state record"; return 1
  fi
  local fb; fb=$(jq -r .failed_boots <<<"$st")
  if [[ $flow != confirm ]] && ((fb < before)); then echo "FAIL $label: count lost ($before -> $fb)"; return 1; fi
  local q; q=$(lg "$R" check quarantine list --json 2>/dev/null | jq -r '.quarantined | map(.component) | join(",")' 2>/dev/null || echo ERR)
  h=$(content_hash "$R")
  # The rerun is the next boot: it may legitimately escalate to quarantine,
  # which moves the content away (checked against the registry below).
  if [[ $h != "$old" && $h != "$new" && ! ( $h == absent && $q == *sensor* ) ]]; then
    echo "FAIL $label: content is neither old ($old) nor new ($new) nor quarantined: $h"; return 1
  fi
  local blk=no; grep -qs 'blacklist sensor' "$R/etc/modprobe.d/lastgood-quarantine.conf" && blk=yes
  if [[ $q == *sensor* && $blk == no ]] || [[ $q != *sensor* && $blk == yes ]]; then
    echo "FAIL $label: registry ($q) disagrees with modprobe.d (blacklisted=$blk)"; return 1
  fi
  if [[ $q == *sensor* && -e "$R/etc/sensor" ]] || [[ $q != *sensor* && ! -e "$R/etc/sensor" ]]; then
    echo "FAIL $label: registry ($q) disagrees with the content ($(ls "$R/etc" | tr '\n' ' '))"; return 1
  fi
  if [[ -e "$R/var/lib/lastgood/events.jsonl" ]] && ! lg "$R" check log verify >/dev/null 2>&1; then
    echo "FAIL $label: event log chain broken"; return 1
  fi
  return 0
}

for flow in boot confirm snapshot restore quarantine release; do
  R=$W/root
  "prep_$flow"
  old=$(content_hash "$R")
  rm -f "$W/trace"
  LASTGOOD_FAULT_TRACE=$W/trace "flow_$flow" rerun-boot >/dev/null 2>&1
  new=$(content_hash "$R")
  n=$(wc -l <"$W/trace" 2>/dev/null || echo 0)
  covered=0
  for ((i = 1; i <= n; i++)); do
    for mode in kill ENOSPC EIO; do
      "prep_$flow"
      before=$(lg "$R" check status --json 2>/dev/null | jq -r .failed_boots)
      if [[ $mode == kill ]]; then
        LASTGOOD_FAULT_AT=$i "flow_$flow" cut-boot >/dev/null 2>&1
      else
        LASTGOOD_FAULT_AT=$i LASTGOOD_FAULT_ERRNO=$mode "flow_$flow" cut-boot >/dev/null 2>&1
        rc=$?
        if [[ $flow == boot || $flow == restore || $flow == quarantine ]] && ((rc != 0)); then
          echo "FAIL $flow@$i/$mode: boot exited $rc on an injected error (must always exit 0)"; failures=$((failures + 1))
        fi
      fi
      # the rerun: the next boot (power cut) or the same command again
      "flow_$flow" after-cut >/dev/null 2>&1
      if check_invariants "$flow" "$flow@$i($(sed -n "${i}p" "$W/trace" | cut -d' ' -f2))/$mode" "$old" "$new" "${before:-0}"; then
        :
      else
        failures=$((failures + 1))
      fi
      total_runs=$((total_runs + 1))
    done
    covered=$((covered + 1))
  done
  printf '%-11s %3d injection points, %3d covered (kill, ENOSPC, EIO each)\n' "$flow" "$n" "$covered"
  total_points=$((total_points + n))
done
echo "fault injection: $total_points points, $total_runs runs, $failures failures"
((failures == 0))
