#!/bin/bash
# make fuzz — builds every libFuzzer target (tests/fuzz/fuzz-*.c) with clang
# against all of lastgood's modules, and runs each for a bounded time on its
# seed corpus (tests/fuzz/corpus/<name>/). New inputs go to a scratch copy of
# the corpus; crashes are saved under tests/fuzz/artifacts/ and fail the run
# (turn each into a regression seed in the corpus and a unit test).
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]   (default 60; 0: build only)
#
# The sources are the Makefile's (make print-lib-srcs), and so are the
# warnings (make print-warn-flags: -Wall -Wextra -Werror …).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-60}
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang)" >&2; exit 1; }
OUT=${BUILDDIR:-build}/fuzz
mkdir -p "$OUT" tests/fuzz/artifacts
PKGS="efivar blkid yaml-0.1 nettle zlib libarchive"
SRCS=$(make -s --no-print-directory print-lib-srcs)
WARN=$(make -s --no-print-directory print-warn-flags)
FLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE $WARN -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. $(pkg-config --cflags $PKGS)"

# The modules are compiled once, without the fuzzer's main.
objs=()
for s in $SRCS; do
  o=$OUT/obj/${s%.c}.o
  mkdir -p "$(dirname "$o")"
  if [[ ! -e $o || $s -nt $o ]]; then
    $CC ${FLAGS/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,} -c "$s" -o "$o"
  fi
  objs+=("$o")
done

fail=0
for t in tests/fuzz/fuzz-*.c; do
  name=$(basename "$t" .c); name=${name#fuzz-}
  bin=$OUT/fuzz-$name
  $CC $FLAGS "$t" "${objs[@]}" $(pkg-config --libs $PKGS) -ldl -o "$bin"
  if ((SECS == 0)); then
    echo "fuzz: built $bin"
    continue
  fi
  corpus=tests/fuzz/corpus/$name
  work=$OUT/corpus-$name
  rm -rf "$work"; mkdir -p "$work"
  [[ -d $corpus ]] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  dict=(); [[ -f tests/fuzz/$name.dict ]] && dict=(-dict=tests/fuzz/$name.dict)
  echo "fuzz: $name for ${SECS}s ($(ls "$work" | wc -l) seeds)"
  if ! "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix=tests/fuzz/artifacts/"$name"- "${dict[@]}" "$work" >"$OUT/$name.log" 2>&1; then
    echo "fuzz: $name FOUND A CRASH — see $OUT/$name.log and tests/fuzz/artifacts/" >&2
    tail -30 "$OUT/$name.log" >&2
    fail=1
  else
    grep -E 'stat::number_of_executed_units|cov:' "$OUT/$name.log" | tail -2 | sed 's/^/  /'
  fi
done
exit $fail
