#!/bin/bash
# Snapshot, restore and unchanged-confirm benchmarks (called by bench/run.sh).
# Each comparison runs side by side, alternating, in the same invocation.
set -euo pipefail
W=$1
TOP=$(cd "$(dirname "$0")/.." && pwd)
LG=$TOP/lastgood
REPS=${BENCH_REPS:-3}
if [[ -n "${BENCH_QUICK:-}" ]]; then SIZES=("1000 12500000"); MAIN="1000 12500000"; else SIZES=("1000 12500000" "20000 250000000" "200000 250000000"); MAIN="20000 250000000"; fi
export EFIVARFS_PATH=$W/no-efivarfs/

t() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; return 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
stats() { sort -n | awk '{a[NR]=$1} END{printf "%.1f %.1f %.1f", a[int((NR+1)/2)]/1000, a[1]/1000, a[NR]/1000}'; }
fmt() { awk '{printf "%8.1f ms (%.1f–%.1f)", $1, $2, $3}' <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{split(a,x," "); split(b,y," "); printf "%.2f×", x[1]/y[1]}'; }
row() { printf '| %-46s | %-30s | %-8s |\n' "$1" "$2" "$3"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

setup_root() { # N BYTES
  R=$W/snap-root
  rm -rf "$R"; mkdir -p "$R/etc/lastgood" "$R/srv"
  printf 'version: 1\nboot:\n  state: file\ncomponents:\n  - name: bench\n    content: [/srv/content]\nsnapshots:\n  keep: 100\n  max_bytes: 100G\n' >"$R/etc/lastgood/policy.yaml"
  chmod 0644 "$R/etc/lastgood/policy.yaml"
  python3 "$TOP/bench/mktree.py" "$R/srv/content" "$1" "$2"
}

echo "## Snapshot and restore ($REPS repetitions each, alternating; page cache warm)"
echo
row "what" "wall (median, min–max)" "ratio"
row "---" "---" "---"
for spec in "${SIZES[@]}"; do
  set -- $spec; n=$1; bytes=$2
  label="${n} files, $((bytes / 1000000)) MB"
  setup_root "$n" "$bytes"
  c_lg=(); c_bt=(); r_lg=(); r_bt=(); u_lg=()
  for ((i = 0; i < REPS; i++)); do
    c_lg+=("$(t "$LG" --root "$R" snapshot create --force bench)")
    c_bt+=("$(t bsdtar --zstd -cf "$W/bt.tar.zst" -C "$R" srv/content)")
  done
  id=$("$LG" --root "$R" snapshot list --json | jq -r '[.[] | select(.component=="bench")][-1].id')
  arch=$(ls "$R"/var/lib/lastgood/snapshots/bench/"$id"/*.tar* | head -1)
  for ((i = 0; i < REPS; i++)); do
    r_lg+=("$(t "$LG" --root "$R" snapshot restore bench "$id")")
    rm -rf "$W/bt-out" "$R"/var/lib/lastgood/quarantine; mkdir -p "$W/bt-out"
    r_bt+=("$(t bsdtar -xf "$arch" -C "$W/bt-out")")
  done
  # confirm with unchanged content (the manifest comparison only), each
  # after a healthy boot: the first confirm takes the known-good snapshot.
  LASTGOOD_BOOT_ID=bench-init "$LG" --root "$R" boot >/dev/null 2>&1
  "$LG" --root "$R" confirm >/dev/null 2>&1
  for ((i = 0; i < REPS; i++)); do
    LASTGOOD_BOOT_ID=bench-$i "$LG" --root "$R" boot >/dev/null 2>&1
    u_lg+=("$(t "$LG" --root "$R" confirm)")
  done
  cl=$(printf '%s\n' "${c_lg[@]}" | stats); cb=$(printf '%s\n' "${c_bt[@]}" | stats)
  rl=$(printf '%s\n' "${r_lg[@]}" | stats); rb=$(printf '%s\n' "${r_bt[@]}" | stats)
  ul=$(printf '%s\n' "${u_lg[@]}" | stats)
  /usr/bin/time -o "$W/rss" -f '%M' "$LG" --root "$R" snapshot restore bench "$id" >/dev/null 2>&1 || true
  rss_r=$(tail -1 "$W/rss")
  /usr/bin/time -o "$W/rss" -f '%M' "$LG" --root "$R" confirm >/dev/null 2>&1 || true
  rss_c=$(tail -1 "$W/rss")
  row "snapshot create — $label" "$(fmt "$cl")" "$(ratio "$cl" "$cb")"
  row "  bsdtar --zstd -cf" "$(fmt "$cb")" "1.00×"
  row "snapshot restore — $label" "$(fmt "$rl")" "$(ratio "$rl" "$rb")"
  row "  bsdtar -xf into an empty dir" "$(fmt "$rb")" "1.00×"
  row "confirm, content unchanged — $label" "$(fmt "$ul")" "target < 100 ms"
  row "  peak RSS: restore / confirm" "${rss_r} KiB / ${rss_c} KiB" ""
done
echo
