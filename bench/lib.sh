# Functions of make bench (sourced by bench/run.sh, which sets TOP, B, W, M,
# LG, PAIRS, TREE_PAIRS).

# kv KEY LINE — one value of pair's key=value output.
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
# fmt_ratio LINE — "1.12× (1.02–1.31)"
fmt_ratio() { printf '%.2f× (%.2f–%.2f)' "$(kv ratio "$1")" "$(kv ratio_p10 "$1")" "$(kv ratio_p90 "$1")"; }
# verdict VALUE LIMIT — "met" or "**missed**"
verdict() { awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l) ? "met" : "**missed**" }'; }
row() { local out="|" c; for c in "$@"; do out+=" $c |"; done; echo "$out"; }
# pair N A-SEQ… :: B-SEQ… — bench/pair with one warm-up pair.
pair() { local n=$1; shift; "$B/pair" "$n" 1 "$@"; }

# syscalls CMD… — "N syscalls, D+R fsync" for one run (D of data, R of a
# directory; a temp file renamed since counts as data). One run only: a
# second `boot` in the same boot would do nothing.
syscalls() {
  local f=$W/strace.txt total data=0 dir=0 p
  strace -f -qq -y -o "$f" "$@" >/dev/null 2>&1 || true
  total=$(grep -cvE 'resumed>|^[0-9]+ +(\+\+\+|---)' "$f")
  while read -r p; do
    if [[ -d $p ]]; then dir=$((dir + 1)); else data=$((data + 1)); fi
  done < <(grep -oE ' (fsync|fdatasync|syncfs)\([0-9]+<[^>]*>' "$f" | sed -E 's/.*<(.*)>/\1/')
  echo "$total syscalls, $data+$dir fsync"
}

# syscount CMD… — "N syscalls, F fsync, S syncfs" from strace's summary
# (-c: no per-call log, so the 200k-file tree takes a minute, not an hour).
syscount() {
  local f=$W/strace-c.txt
  strace -f -c -o "$f" "$@" >/dev/null 2>&1 || true
  awk '$NF == "total" { t = $4 } $NF == "fsync" || $NF == "fdatasync" { fs += $4 } $NF == "syncfs" { ss += $4 }
       END { printf "%d syscalls, %d fsync, %d syncfs", t, fs, ss }' "$f"
}

# instructions CMD… — instructions executed (callgrind's Ir), the dynamic
# loader included: the same from run to run, whatever the neighbours do.
instructions() {
  local f=$W/callgrind.out
  rm -f "$f"
  valgrind --tool=callgrind --callgrind-out-file="$f" "$@" >/dev/null 2>&1 || true
  sed -n 's/^summary: *//p; s/^totals: *//p' "$f" | head -1 | awk '{ print $1 }'
}

# ---- the healthy path ---------------------------------------------------

# The shipped default policy with three shipped profiles enabled (the
# profiles' content laid out as small fake trees), the event log and the
# Prometheus textfile on — what a fleet machine runs.
BENCH_PROFILES=${BENCH_PROFILES:-}
healthy_root() { # healthy_root DIR
  local r=$1 p n=0 c
  mkdir -p "$r/etc/lastgood/policy.d" "$r/var/lib/prometheus/node-exporter" "$r/floor" "$r/pstore"
  install -m 0644 "$TOP/config/policy.yaml" "$r/etc/lastgood/policy.yaml"
  PROFILES_USED=()
  if [[ -d $TOP/dist/profiles ]]; then
    for p in ${BENCH_PROFILES:-$(ls "$TOP/dist/profiles" | grep '\.yaml$' | head -3)}; do
      p=${p%.yaml}
      install -m 0644 "$TOP/dist/profiles/$p.yaml" "$r/etc/lastgood/policy.d/$p.yaml"
      PROFILES_USED+=("$p")
    done
  fi
  # Each content path: a directory of 20 small files (a file where the
  # path has an extension).
  while read -r c; do
    [[ -n $c ]] || continue
    case ${c##*/} in
      *.*) mkdir -p "$r$(dirname "$c")"; head -c 4096 /dev/urandom >"$r$c" ;;
      *) mkdir -p "$r$c"
         for ((n = 0; n < 20; n++)); do head -c 2048 /dev/urandom >"$r$c/file$n.bin"; done ;;
    esac
  done < <("$LG" --root "$r" --json policy check 2>/dev/null | jq -r '.components[].content[]?' 2>/dev/null)
  # The first boot and confirm take the known-good snapshots.
  LASTGOOD_BOOT_ID=00000000-0000-4000-8000-0000000000aa "$LG" --root "$r" --pstore "$r/pstore" --cmdline quiet boot \
    >/dev/null 2>&1
  "$LG" --root "$r" --pstore "$r/pstore" confirm >/dev/null 2>&1 || {
    echo "bench: confirm failed on the healthy root $r" >&2
    "$LG" --root "$r" --pstore "$r/pstore" confirm >&2 || true
    return 1
  }
}

bench_healthy() {
  local d=$W/healthy t=$M/healthy line cpu ins_b ins_c ins_f f_b f_c
  healthy_root "$d"
  healthy_root "$t"
  local boot=("$LG" --root "$d" --pstore "$d/pstore" --cmdline quiet boot)
  local confirm=("$LG" --root "$d" --pstore "$d/pstore" confirm)
  local tboot=("$LG" --root "$t" --pstore "$t/pstore" --cmdline quiet boot)
  local tconfirm=("$LG" --root "$t" --pstore "$t/pstore" confirm)
  echo "## Healthy path: \`boot\` + \`confirm\` vs the floor ($PAIRS pairs)"
  echo
  echo "Policy: the shipped default ($(
    ((${#PROFILES_USED[@]})) && echo "with the profiles ${PROFILES_USED[*]}" || echo "no shipped profiles found"
  )), file backend, event log and Prometheus textfile on. The floor (bench/floor.c) is the"
  echo "durable work each invocation must do: read a record, write a temp file, fsync, rename, fsync the directory."
  echo
  line=$(pair "$PAIRS" "${boot[@]}" \; "${confirm[@]}" :: "$B/floor" "$d/floor" \; "$B/floor" "$d/floor")
  cpu=$(pair "$PAIRS" "${tboot[@]}" \; "${tconfirm[@]}" :: "$B/floor" "$t/floor" \; "$B/floor" "$t/floor")
  local above
  above=$(awk -v a="$(kv a_cpu_ms "$cpu")" -v b="$(kv b_cpu_ms "$cpu")" 'BEGIN { printf "%.2f", (a - b) / 2 }')
  local sc_b sc_c sc_f f_bd f_cd
  export LASTGOOD_BOOT_ID=00000000-0000-4000-8000-0000000000bb
  sc_b=$(syscalls "${boot[@]}")
  sc_c=$(syscalls "${confirm[@]}")
  sc_f=$(syscalls "$B/floor" "$d/floor")
  read -r f_b f_bd < <(sed -E 's/.* ([0-9]+)\+([0-9]+) fsync/\1 \2/' <<<"$sc_b")
  read -r f_c f_cd < <(sed -E 's/.* ([0-9]+)\+([0-9]+) fsync/\1 \2/' <<<"$sc_c")
  LASTGOOD_BOOT_ID=00000000-0000-4000-8000-0000000000cc
  ins_b=$(instructions "${tboot[@]}")
  ins_c=$(instructions "${tconfirm[@]}")
  ins_f=$(instructions "$B/floor" "$t/floor")
  unset LASTGOOD_BOOT_ID
  row "what" "ratio (p10–p90)" "wall, median" "CPU, median" "stable counters" "target"
  row "---" "---" "---" "---" "---" "---"
  row "boot + confirm, on disk" "**$(fmt_ratio "$line")**" "$(kv a_ms "$line") ms vs $(kv b_ms "$line") ms" \
    "$(kv a_cpu_ms "$line") vs $(kv b_cpu_ms "$line") ms" "peak RSS $(kv a_rss_kib "$line") KiB" \
    "≤ 1.2×: $(verdict "$(kv ratio "$line")" 1.2)"
  row "boot + confirm, tmpfs (CPU)" "$(fmt_ratio "$cpu")" "$(kv a_ms "$cpu") ms vs $(kv b_ms "$cpu") ms" \
    "$(kv a_cpu_ms "$cpu") vs $(kv b_cpu_ms "$cpu") ms: **$above ms** above the floor per invocation" \
    "instructions: boot $ins_b, confirm $ins_c, floor $ins_f" "≤ 0.3 ms: $(verdict "$above" 0.3)"
  row "durable writes" "" "" "" \
    "boot: $sc_b; confirm: $sc_c; floor (each): $sc_f" \
    "one each (1+1 fsync): boot $( ((f_b == 1 && f_bd == 1)) && echo met || echo '**missed**'), confirm $( ((f_c == 1 && f_cd == 1)) && echo met || echo '**missed**')"
  echo
  printf 'healthy %s\nhealthy_tmpfs %s\nhealthy_cpu_above_floor_ms=%s instructions_boot=%s instructions_confirm=%s instructions_floor=%s fsync_boot=%s+%s fsync_confirm=%s+%s\n' \
    "$line" "$cpu" "$above" "$ins_b" "$ins_c" "$ins_f" "$f_b" "$f_bd" "$f_c" "$f_cd" >>"$OUT/results.txt"
}

# ---- trees: restore, snapshot, unchanged confirm --------------------------

tree_root() { # tree_root DIR FILES BYTES
  local r=$1
  rm -rf "$r"
  mkdir -p "$r/etc/lastgood" "$r/srv" "$r/pstore"
  printf 'version: 1\nboot:\n  state: file\ncomponents:\n  - name: bench\n    content: [/srv/content]\nsnapshots:\n  keep: 100\n  max_bytes: 1T\n' \
    >"$r/etc/lastgood/policy.yaml"
  chmod 0644 "$r/etc/lastgood/policy.yaml"
  python3 "$TOP/bench/mktree.py" "$r/srv/content" "$2" "$3"
}

bench_trees() {
  local sizes=() spec n bytes r g label id arch
  for n in ${BENCH_SIZES:-$([[ -n ${BENCH_QUICK:-} ]] && echo 1000 || echo 1000 20000 200000)}; do
    # 12.5 MB at 1k files, 250 MB above (the 200k tree: many small files).
    sizes+=("$n $((n <= 1000 ? 12500000 : 250000000))")
  done
  echo "## Trees: restore, snapshot, unchanged confirm ($TREE_PAIRS pairs each)"
  echo
  echo "References: \`bsdtar -xf\` + \`sync\` (restore), \`bsdtar --zstd -cf\` + \`sync\` (snapshot), \`git status"
  echo "--porcelain\` with the repository outside the tree (confirm: the same job, one lstat per file against an index)."
  echo "lastgood's restore includes verification against the manifest and the atomic swap."
  echo
  row "what" "ratio (p10–p90)" "lastgood, median" "reference, median" "CPU lastgood / reference" "peak RSS" \
    "syscalls: lastgood / reference (one run)" "target"
  row "---" "---" "---" "---" "---" "---" "---" "---"
  for spec in "${sizes[@]}"; do
    read -r n bytes <<<"$spec"
    label="$((n / 1000))k files, $((bytes / 1000000)) MB"
    r=$W/tree
    tree_root "$r" "$n" "$bytes"
    local L=("$LG" --root "$r" --pstore "$r/pstore")
    local s
    s=$(pair "$TREE_PAIRS" + /bin/rm -rf "$r/var/lib/lastgood/snapshots/bench" \; "${L[@]}" snapshot create --force bench \
      :: + /bin/rm -f "$W/bt.tar.zst" \; /usr/bin/bsdtar --zstd -cf "$W/bt.tar.zst" -C "$r" srv/content \; /bin/sync)
    "${L[@]}" snapshot create --force bench >/dev/null 2>&1
    id=$("${L[@]}" --json snapshot list 2>/dev/null | jq -r '[.[] | select(.component=="bench")][-1].id')
    arch=$(ls "$r/var/lib/lastgood/snapshots/bench/$id/"*.tar* | head -1)
    local x
    x=$(pair "$TREE_PAIRS" + /bin/rm -rf "$r/var/lib/lastgood/replaced" \; "${L[@]}" snapshot restore bench "$id" \
      :: + /bin/rm -rf "$W/bt-out" \; + /bin/mkdir "$W/bt-out" \; /usr/bin/bsdtar -xf "$arch" -C "$W/bt-out" \; /bin/sync)
    rm -rf "$W/bt-out" "$r/var/lib/lastgood/replaced"
    # Unchanged confirm: each after a boot (preparation); the first confirm
    # took the known-good snapshot. git's index refreshed once beforehand.
    g=$W/git-$n
    rm -rf "$g"
    git init -q --bare "$g"
    git --git-dir="$g" --work-tree="$r/srv/content" add -A >/dev/null
    git --git-dir="$g" --work-tree="$r/srv/content" -c user.name=b -c user.email=b@b commit -qm t >/dev/null
    git --git-dir="$g" --work-tree="$r/srv/content" status --porcelain >/dev/null
    LASTGOOD_BOOT_ID=00000000-0000-4000-8000-0000000000dd "${L[@]}" --cmdline quiet boot >/dev/null 2>&1
    "${L[@]}" confirm >/dev/null 2>&1
    local c
    c=$(pair "$TREE_PAIRS" + "${L[@]}" --cmdline quiet boot \; "${L[@]}" confirm \
      :: /usr/bin/git --git-dir="$g" --work-tree="$r/srv/content" status --porcelain)
    # One counted run of each, after the pairs (the same preparation).
    local sc_s sc_sr sc_x sc_xr sc_c sc_cr
    rm -rf "$r/var/lib/lastgood/snapshots/bench"
    sc_s=$(syscount "${L[@]}" snapshot create --force bench)
    rm -f "$W/bt.tar.zst"
    sc_sr=$(syscount sh -c '/usr/bin/bsdtar --zstd -cf "$1" -C "$2" srv/content && /bin/sync' sh "$W/bt.tar.zst" "$r")
    id=$("${L[@]}" --json snapshot list 2>/dev/null | jq -r '[.[] | select(.component=="bench")][-1].id')
    arch=$(ls "$r/var/lib/lastgood/snapshots/bench/$id/"*.tar* | head -1)
    rm -rf "$r/var/lib/lastgood/replaced"
    sc_x=$(syscount "${L[@]}" snapshot restore bench "$id")
    rm -rf "$W/bt-out" && mkdir "$W/bt-out"
    sc_xr=$(syscount sh -c '/usr/bin/bsdtar -xf "$1" -C "$2" && /bin/sync' sh "$arch" "$W/bt-out")
    rm -rf "$W/bt-out" "$r/var/lib/lastgood/replaced"
    LASTGOOD_BOOT_ID=00000000-0000-4000-8000-0000000000de "${L[@]}" --cmdline quiet boot >/dev/null 2>&1
    "${L[@]}" confirm >/dev/null 2>&1
    LASTGOOD_BOOT_ID=00000000-0000-4000-8000-0000000000df "${L[@]}" --cmdline quiet boot >/dev/null 2>&1
    sc_c=$(LASTGOOD_BOOT_ID=00000000-0000-4000-8000-0000000000df syscount "${L[@]}" confirm)
    sc_cr=$(syscount /usr/bin/git --git-dir="$g" --work-tree="$r/srv/content" status --porcelain)
    row "snapshot create — $label" "$(fmt_ratio "$s")" "$(kv a_ms "$s") ms" "$(kv b_ms "$s") ms" \
      "$(kv a_cpu_ms "$s") / $(kv b_cpu_ms "$s") ms" "$(kv a_rss_kib "$s") KiB" "$sc_s / $sc_sr" "—"
    row "snapshot restore — $label" "**$(fmt_ratio "$x")**" "$(kv a_ms "$x") ms" "$(kv b_ms "$x") ms" \
      "$(kv a_cpu_ms "$x") / $(kv b_cpu_ms "$x") ms" "$(kv a_rss_kib "$x") KiB" "$sc_x / $sc_xr" \
      "≤ 1.1×: $(verdict "$(kv ratio "$x")" 1.1)"
    local tgt="—"
    ((n >= 20000)) && tgt="≤ 1.0×: $(verdict "$(kv ratio "$c")" 1.0)"
    row "confirm, unchanged — $label" "**$(fmt_ratio "$c")**" "$(kv a_ms "$c") ms" "$(kv b_ms "$c") ms" \
      "$(kv a_cpu_ms "$c") / $(kv b_cpu_ms "$c") ms" "$(kv a_rss_kib "$c") KiB" "$sc_c / $sc_cr" "$tgt"
    printf 'create_%s %s syscalls="%s"\nrestore_%s %s syscalls="%s"\nconfirm_%s %s syscalls="%s"\n' \
      "$n" "$s" "$sc_s" "$n" "$x" "$sc_x" "$n" "$c" "$sc_c" >>"$OUT/results.txt"
    rm -rf "$r" "$g" "$W/bt.tar.zst"
  done
  echo
}
