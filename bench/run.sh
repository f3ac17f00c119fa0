#!/bin/bash
# make bench — one table, every comparison run side by side in the same
# invocation (these machines are noisy: read the ratios, not the absolutes).
# Each figure: median (min–max) of repeated runs.
#
#   BENCH_RUNS=N      iterations for the healthy path (default 100)
#   BENCH_QUICK=1     small trees only (skips the 250 MB / 200k-file runs)
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
OUT=${BENCH_OUT:-$TOP/bench/results}
mkdir -p "$OUT" build/bench
RUNS=${BENCH_RUNS:-100}
W=$(mktemp -d /var/tmp/lastgood-bench.XXXXXX)   # on disk, not tmpfs: fsync must cost what it costs
trap 'rm -rf "$W"' EXIT

cc -O2 -Wall -o build/bench/floor bench/floor.c
cc -O2 -Wall -o build/bench/runner bench/runner.c
LG=$TOP/lastgood
[[ -x $LG ]] || make -s lastgood

fmt() { awk '{printf "%8.2f ms (%.2f–%.2f)", $1/1000, $2/1000, $3/1000}' <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{split(a,x," "); split(b,y," "); printf "%.2f×", x[1]/y[1]}'; }
row() { printf '| %-46s | %-30s | %-8s | %s |\n' "$1" "$2" "$3" "$4"; }

# strace -c over one iteration: total syscalls and fsync-family calls
syscalls() {
  local f=$W/strace.txt
  strace -f -c -o "$f" "$@" >/dev/null 2>&1 || true
  awk '$NF=="total"{t=$4} /fsync|fdatasync|sync_file_range/{s+=$4} END{printf "%d syscalls, %d fsync", t, s}' "$f"
}

echo "## Healthy boot path ($RUNS iterations; boot + confirm, file backend)"
echo
mkdir -p "$W/root/etc/lastgood" "$W/floor"
printf 'version: 1\nboot:\n  state: file\n' >"$W/root/etc/lastgood/policy.yaml"
chmod 0644 "$W/root/etc/lastgood/policy.yaml"
export EFIVARFS_PATH=$W/no-efivarfs/   # no UEFI here: the file backend, as configured

floor=$(build/bench/runner "$RUNS" 5 build/bench/floor "$W/floor" \; build/bench/floor "$W/floor")
lg=$(build/bench/runner "$RUNS" 5 "$LG" --root "$W/root" --cmdline quiet boot \; "$LG" --root "$W/root" confirm)
row "what" "wall (median, min–max)" "vs floor" "peak RSS, syscalls"
row "---" "---" "---" "---"
row "floor (2× read+write+fsync+rename+fsync dir)" "$(fmt "$floor")" "1.00×" "$(awk '{print $4" KiB"}' <<<"$floor"), $(syscalls build/bench/floor "$W/floor")"
row "lastgood boot + confirm" "$(fmt "$lg")" "$(ratio "$lg" "$floor")" "$(awk '{print $4" KiB"}' <<<"$lg"), boot: $(LASTGOOD_BOOT_ID=strace-1 syscalls "$LG" --root "$W/root" --cmdline quiet boot); confirm: $(syscalls "$LG" --root "$W/root" confirm)"
if command -v grub-editenv >/dev/null; then
  grub-editenv "$W/grubenv" create
  ge=$(build/bench/runner "$RUNS" 5 /usr/bin/grub-editenv "$W/grubenv" set boot_counter=3 \; /usr/bin/grub-editenv "$W/grubenv" unset boot_counter)
  row "grub-editenv set + unset boot_counter (greenboot)" "$(fmt "$ge")" "$(ratio "$ge" "$floor")" "$(awk '{print $4" KiB"}' <<<"$ge"), $(syscalls /usr/bin/grub-editenv "$W/grubenv" set boot_counter=3) (in place, O_TRUNC: not atomic)"
fi
if [[ -x /usr/lib/systemd/systemd-bless-boot ]]; then
  row "systemd-bless-boot" "n/a" "" "needs a booted systemd-boot with boot counting (not runnable here)"
fi
echo

if [[ -x bench/snapshot.sh ]]; then
  bench/snapshot.sh "$W"
fi
