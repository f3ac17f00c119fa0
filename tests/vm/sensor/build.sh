#!/bin/bash
# Builds the fake sensor for the VM kernel into tests/vm/cache/sensor-KVER/:
#   good/fakesensor.ko     the sensor as shipped (crashes only on bad content)
#   broken/fakesensor.ko   a bad module update (crashes at load whatever the content)
# and the content files good.rules, bad.rules (malformed), spin.rules (hangs);
# plus segv, a static user-space program that reads address 0 (the
# `injection` scenario gives it a file name holding oops lines); fakesensord,
# a user-space sensor daemon (no module), with its content files
# daemon-good.rules and daemon-bad.rules; and crashme, a user's program that
# crashes the kernel (sysrq) — both static.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

kver=${1:-$(vm_kver)}
hdrs=/usr/src/linux-headers-$kver
[[ -d $hdrs ]] || vm_die "no $hdrs (run tests/vm/deps.sh)"
out=$CACHE/sensor-$kver
src=$VM_DIR/sensor
if [[ -e $out/.done && $out/.done -nt $src/fakesensor.c && $out/.done -nt $src/build.sh &&
      $out/.done -nt $src/fakesensord.c && $out/.done -nt $src/crashme.c ]]; then
        echo "$out"
        exit 0
fi
rm -rf "$out"
for variant in good broken; do
        d=$out/build-$variant
        mkdir -p "$d" "$out/$variant"
        cp "$src/fakesensor.c" "$src/Kbuild" "$d/"
        flags=
        [[ $variant == broken ]] && flags=-DFAKESENSOR_BAD_MODULE
        make -s -C "$hdrs" M="$d" FS_CFLAGS="$flags" modules >&2
        cp "$d/fakesensor.ko" "$out/$variant/"
done

printf 'FAKESENSOR-RULES 1\nversion 2024.07.18-good\nrule deny-exec /tmp/*\nrule deny-write /etc/shadow\nrule audit-connect *:4444\nend\n' >"$out/good.rules"
# The bad update: the header is zero-filled, as in a truncated download.
{ head -c 64 /dev/zero; printf 'version 2024.07.19-bad\nrule deny-exec /tmp/*\nend\n'; } >"$out/bad.rules"
printf 'FAKESENSOR-RULES 1\nversion 2024.07.19-spin\nrule spin (a+)+$\nend\n' >"$out/spin.rules"
# A later good update, to show that confirm snapshots the new content.
printf 'FAKESENSOR-RULES 1\nversion 2024.07.20-good\nrule deny-exec /tmp/*\nrule deny-exec /dev/shm/*\nend\n' >"$out/good2.rules"
# No libc, no compiler between us and the fault: a C NULL dereference may
# be compiled into ud2 (SIGILL), which prints no segfault line.
printf '.globl _start\n_start:\n\txor %%eax, %%eax\n\tmov (%%rax), %%eax\n\tud2\n' >"$out/segv.S"
gcc -static -nostdlib -o "$out/segv" "$out/segv.S" >&2
for p in fakesensord crashme; do
        gcc -static -Os -s -Wall -Werror -o "$out/$p" "$src/$p.c" >&2
done
# fakesensord's content: as shipped, and a bad update (its header zeroed).
printf 'FAKESENSORD-RULES 1\nversion 2024.08.01-good\nrule watch-exec *\nend\n' >"$out/daemon-good.rules"
{ head -c 64 /dev/zero; printf 'version 2024.08.02-bad\nrule watch-exec *\nend\n'; } >"$out/daemon-bad.rules"
touch "$out/.done"
echo "$out"
