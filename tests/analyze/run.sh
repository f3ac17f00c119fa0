#!/bin/bash
# make analyze — clang-tidy (checks in .clang-tidy) over every C file of
# lib/ config/ recovery/ agent/, compiled as the test build is (the Makefile
# passes its flags in TIDY_FLAGS). Each finding is compared with
# tests/analyze/baseline.txt, by file, check and message (not by line, so
# that edits elsewhere in a file do not disturb it): a finding that is not
# in the baseline fails the run; a baseline entry that no longer occurs is
# reported, so the baseline only ever shrinks.
#
#   make analyze                          check against the baseline
#   make analyze ANALYZE_FLAGS=--baseline rewrite the baseline (review the diff!)
#
# A false positive is silenced where it stands, with a NOLINT(check) comment
# that says why; a real finding is fixed, not baselined.
set -euo pipefail
cd "$(dirname "$0")/../.."
TIDY=${TIDY:-clang-tidy}
command -v "$TIDY" >/dev/null || { echo "analyze: $TIDY not found (apt-get install clang-tidy)" >&2; exit 1; }
OUT=${BUILDDIR:-build}/analyze
BASELINE=tests/analyze/baseline.txt
FLAGS=${TIDY_FLAGS:?set by make analyze}
SRCS=${SRCS:-$(ls lib/*.c config/*.c recovery/*.c agent/*.c)}
rm -rf "$OUT"
mkdir -p "$OUT"

# One clang-tidy per file, in parallel; a file that does not compile fails.
export TIDY FLAGS OUT
printf '%s\n' $SRCS | xargs -P "$(nproc)" -I{} bash -c '
  log=$OUT/$(tr / _ <<<"{}").log
  if ! "$TIDY" --quiet "{}" -- $FLAGS >"$log" 2>"$log.err"; then
    cat "$log" "$log.err" >&2; echo "analyze: clang-tidy failed on {}" >&2; exit 255
  fi'

# "FILE:LINE:COL: warning: MESSAGE [CHECK]", once each (a header is seen by
# every file that includes it), then keyed without LINE:COL.
# A long message can span lines: they are joined up to its "[CHECK]".
cat "$OUT"/*.log |
  awk '/^[^ ]+:[0-9]+:[0-9]+: warning: / { w = $0; if (w ~ / \[[^]]+\]$/) { print w; w = "" }; next }
       w != "" { w = w " " $0; if ($0 ~ / \[[^]]+\]$/) { print w; w = "" } }' |
  sed "s|^$PWD/||; s|^\./||" | sort -u >"$OUT/findings.txt"
key() { sed -E 's/^([^:]*):[0-9]+:[0-9]+: warning: /\1: /' "$@" | sort; }

if [[ ${1:-} == --baseline ]]; then
  { echo "# clang-tidy findings accepted for now (FILE: MESSAGE [CHECK]); make analyze fails on any other."
    echo "# Fix them and delete their lines; never add one for new code."
    key "$OUT/findings.txt"; } >"$BASELINE"
  echo "analyze: wrote $(grep -vc '^#' "$BASELINE") findings to $BASELINE"
  exit 0
fi

key "$OUT/findings.txt" >"$OUT/current.txt"
grep -v '^#' "$BASELINE" 2>/dev/null | sort >"$OUT/baseline.txt" || true
# comm on sorted lists with repeats: a finding twice in a file needs two lines.
comm -23 "$OUT/current.txt" "$OUT/baseline.txt" >"$OUT/new.txt"
comm -13 "$OUT/current.txt" "$OUT/baseline.txt" >"$OUT/gone.txt"
n=$(wc -l <"$OUT/findings.txt")
if [[ -s $OUT/gone.txt ]]; then
  echo "analyze: $(wc -l <"$OUT/gone.txt") baseline entries no longer occur; delete them from $BASELINE:"
  sed 's/^/  /' "$OUT/gone.txt"
fi
if [[ -s $OUT/new.txt ]]; then
  echo "analyze: NEW findings (fix them, or NOLINT(check) a false positive with the reason):" >&2
  # With their line numbers, and clang-tidy's explanation in $OUT/*.log.
  while IFS= read -r k; do
    f=${k%%: *}; rest=${k#*: }
    grep -F -- "$rest" "$OUT/findings.txt" | grep -F -- "$f:" | sed 's/^/  /' >&2
  done < <(uniq "$OUT/new.txt")
  echo "analyze: details in $OUT/*.log" >&2
  exit 1
fi
echo "analyze: $n findings, all in the baseline ($(grep -vc '^#' "$BASELINE" 2>/dev/null || echo 0) entries); nothing new"
