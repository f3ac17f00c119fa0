#!/bin/sh
# make dist — writes OUTDIR/lastgood-VERSION.tar.gz (top directory
# lastgood-VERSION/) from the tree's files: the tracked ones and new ones not
# yet committed, less what .gitignore excludes (build trees, VM caches) and
# what was deleted. `git archive` would take only committed files. Prints the
# tarball's path. The RPM spec (dist/rpm/lastgood.spec) builds from it.
#
#   dist/tarball.sh [OUTDIR]      (default: the current directory)
set -eu

out=${1:-.}
top=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^#define LASTGOOD_VERSION "\(.*\)"$/\1/p' "$top/agent/context.h")
[ -n "$version" ] || { echo "tarball.sh: no LASTGOOD_VERSION in agent/context.h" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
name=lastgood-$version
cd "$top"
git ls-files -z --cached --others --exclude-standard |
        xargs -0 -r sh -c 'for f; do if [ -e "$f" ] || [ -L "$f" ]; then printf "%s\0" "$f"; fi; done' sh |
        tar --null --no-recursion -T - --transform "s|^|$name/|" --owner=0 --group=0 --numeric-owner \
                --sort=name -czf "$out/$name.tar.gz.tmp"
mv -f "$out/$name.tar.gz.tmp" "$out/$name.tar.gz"
echo "$out/$name.tar.gz"
