#!/bin/bash
# Installs the Debian 12 packages lastgood needs to build and test.
# Idempotent: only what is missing is installed. Run as root.
set -euo pipefail

PKGS=(
  build-essential pkg-config
  libefivar-dev libblkid-dev libarchive-dev libyaml-dev nettle-dev zlib1g-dev 
  libkmod-dev kmod                     # libkmod.h (dlopen'ed by policy check); depmod for its tests
  libcmocka-dev                        
  libarchive-tools                     
  clang libclang-rt-14-dev             
  valgrind strace hyperfine            
  fdisk dosfstools mtools e2fsprogs util-linux  
  attr libcap2-bin                     # setfattr/getfattr, setcap/getcap (xattr tests)
  grub-common systemd-boot-efi         
  prometheus                           
  prometheus-alertmanager              # amtool: the README's Alertmanager route (test-report.sh)
  python3 python3-jsonschema jq
  faketime                             # clock-moved tests (libfaketime)
  debhelper lintian
  rpm                                  # rpmbuild, rpmspec (the RPM spec test in test-dist.sh)
  groff-base man-db                    
)
# The VM tier (make check-vm / demo) needs more; tests/vm/deps.sh installs it.

missing=()
for p in "${PKGS[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "deps: all present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "deps: missing ${missing[*]} (run 'make deps' as root)" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
