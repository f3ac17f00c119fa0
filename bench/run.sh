#!/bin/bash
# make bench — paired benchmarks (issue 13). This machine's disk is shared
# and noisy: a single median swings ×1.6 between runs. So every figure is a
# pair: the measured command and its reference run in the same iteration,
# alternating which goes first, many times; the table shows the median of
# the per-pair ratios with its spread (10th–90th percentile), and beside it
# what the neighbours barely move: CPU time, syscalls, fsyncs and, for the
# healthy path, instructions counted by callgrind (the same run to run).
#
#   BENCH_PAIRS=N       pairs for the healthy path (default 100)
#   BENCH_TREE_PAIRS=N  pairs for restore, snapshot and confirm (default 10)
#   BENCH_QUICK=1       the 1k-file tree only (the full run adds 20k and 200k
#                       files: about an hour on a 2-core VM)
#   BENCH_SIZES="N …"   the trees' file counts (default 1000 20000 200000;
#                       " ": no tree, the healthy path alone)
#   BENCH_OUT=DIR       where results.md and results.txt go (bench/results)
#   LG=PATH             the lastgood binary (default ./lastgood, a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
B=$TOP/build/bench
OUT=${BENCH_OUT:-$TOP/bench/results}
PAIRS=${BENCH_PAIRS:-100}
TREE_PAIRS=${BENCH_TREE_PAIRS:-10}
LG=${LG:-$TOP/lastgood}
mkdir -p "$OUT" "$B"
# On disk, not tmpfs: fsync must cost what it costs. The tmpfs twin is for
# the CPU figure, where fsync costs nothing.
W=$(mktemp -d /var/tmp/lastgood-bench.XXXXXX)
M=$(mktemp -d /dev/shm/lastgood-bench.XXXXXX)
trap 'rm -rf "$W" "$M"' EXIT

need=()
for t in strace valgrind bsdtar git jq python3; do command -v "$t" >/dev/null || need+=("$t"); done
if ((${#need[@]})); then
  echo "bench: missing ${need[*]} (apt-get install strace valgrind libarchive-tools git jq python3)" >&2
  exit 2
fi
[[ -x $LG ]] || make -s lastgood
cc -O2 -Wall -o "$B/floor" bench/floor.c
cc -O2 -Wall -o "$B/pair" bench/pair.c
export EFIVARFS_PATH=$W/no-efivarfs/ # no UEFI here: the file backend, as `state: auto` falls back to

. bench/lib.sh
: >"$OUT/results.txt"

{
  echo "# make bench — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, lastgood $("$LG" --version | cut -d' ' -f2)"
  echo
  echo "Each ratio is the median of per-pair ratios (10th–90th percentile in brackets);"
  echo "wall and CPU are medians. Load while it ran: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)."
  echo
  bench_healthy
  bench_trees
} | tee "$OUT/results.md"
