#!/bin/bash
# Installs what the VM tier needs (Debian 12, as root). Idempotent: installs
# only what is missing. The kernel headers match the kernel tests/vm/kernel.sh
# unpacks, so the fake sensor module is built for the kernel that boots.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS=(
        qemu-system-x86 ovmf           # the VM and its UEFI firmware (real NVRAM)
        cpio busybox-static kmod       # the initramfs and the guest userspace
        mtools dosfstools fdisk e2fsprogs util-linux  # GPT, ESP and ext4 images without mounts
        systemd-boot-efi               # the guest's UEFI boot loader on the ESP
        build-essential                # the out-of-tree sensor module
        debootstrap                    # the full tier (run-full.sh)
)

have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${PKGS[@]}"; do
        have "$p" || missing+=("$p")
done

updated=0
apt_update() {
        ((updated)) && return 0
        apt-get update -qq
        updated=1
}

# The kernel ABI: choosing it needs the package lists.
if [[ ! -s $CACHE/kver ]] && ! apt-cache show linux-headers-amd64 >/dev/null 2>&1; then
        [[ $(id -u) -eq 0 ]] && apt_update
fi
kver=$(vm_kver) || vm_die "no linux-image-6.1.0-NN-amd64 with matching headers in the package lists (apt-get update?)"
have "linux-headers-$kver" || missing+=("linux-headers-$kver")

if ((${#missing[@]} == 0)); then
        echo "vm deps: all present (kernel $kver)"
        exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
        echo "vm deps: missing ${missing[*]} (run tests/vm/deps.sh as root)" >&2
        exit 1
fi
echo "vm deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_update
apt-get install -y -qq --no-install-recommends "${missing[@]}"
