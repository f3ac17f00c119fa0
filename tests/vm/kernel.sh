#!/bin/bash
# Downloads Debian 12's kernel package (never installs it on the host) and
# unpacks it into tests/vm/cache/kernel-KVER/ (boot/vmlinuz-KVER and
# lib/modules/KVER with modules.dep). Idempotent. Prints KVER.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kver=$(vm_kver) || vm_die "cannot choose a kernel version (run tests/vm/deps.sh)"
kdir=$(vm_kdir "$kver")
if [[ -e $kdir/.done ]]; then
        echo "$kver"
        exit 0
fi

dl=$CACHE/dl
mkdir -p "$dl"
if ! ls "$dl"/linux-image-"$kver"_*.deb >/dev/null 2>&1; then
        vm_log "downloading linux-image-$kver"
        (cd "$dl" && apt-get download -q "linux-image-$kver" >&2)
fi
rm -rf "$kdir.tmp"
mkdir -p "$kdir.tmp"
dpkg -x "$(ls "$dl"/linux-image-"$kver"_*.deb | head -n1)" "$kdir.tmp"
# dpkg -x may give the tree usr/lib or lib; normalise to lib/modules.
if [[ ! -d $kdir.tmp/lib/modules/$kver && -d $kdir.tmp/usr/lib/modules/$kver ]]; then
        mkdir -p "$kdir.tmp/lib"
        mv "$kdir.tmp/usr/lib/modules" "$kdir.tmp/lib/modules"
fi
[[ -e $kdir.tmp/boot/vmlinuz-$kver ]] || vm_die "no vmlinuz in the package"
depmod -b "$kdir.tmp" "$kver"
rm -rf "$kdir"
mv "$kdir.tmp" "$kdir"
touch "$kdir/.done"
echo "$kver"
