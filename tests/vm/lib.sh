#!/bin/bash
# Shared helpers for the VM tier (tests/vm/*.sh). Source it; it does nothing
# by itself. Everything downloaded or built goes to tests/vm/cache/ (not in
# git), every boot's serial log to tests/vm/artifacts/<scenario>/boot-N.log.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$VM_DIR/../.." && pwd)
CACHE=${LG_VM_CACHE:-$VM_DIR/cache}
ARTIFACTS=${LG_VM_ARTIFACTS:-$VM_DIR/artifacts}
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
# Seconds one boot may take before the harness calls it hung and pulls the plug.
BOOT_TIMEOUT=${LG_VM_BOOT_TIMEOUT:-180}

vm_log() { printf '[vm %s] %s\n' "$(date +%T)" "$*" >&2; }
vm_die() { vm_log "FATAL: $*"; exit 1; }

# The Debian 12 kernel ABI we boot: the newest 6.1.0-NN-amd64 for which both
# the image and the headers are in the archive. Sticky once chosen (cache/kver)
# so that fixtures, modules and images stay consistent between runs; re-picked
# only when the archive no longer offers it and it is not unpacked yet.
vm_kver() {
        local f=$CACHE/kver k
        if [[ -s $f ]]; then
                k=$(<"$f")
                if [[ -e $CACHE/kernel-$k/boot/vmlinuz-$k ]] ||
                   apt-cache show "linux-headers-$k" >/dev/null 2>&1; then
                        echo "$k"
                        return 0
                fi
        fi
        local hdrs imgs
        hdrs=$(apt-cache search --names-only '^linux-headers-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' |
               sed 's/^linux-headers-//' | sort -u)
        imgs=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' |
               sed 's/^linux-image-//' | sort -u)
        k=$(comm -12 <(echo "$hdrs") <(echo "$imgs") | sort -t- -k2,2n | tail -n1)
        [[ -n $k ]] || return 1
        mkdir -p "$CACHE"
        echo "$k" >"$f"
        echo "$k"
}

vm_kdir() { echo "$CACHE/kernel-$1"; }

# -accel: KVM guests hang on the project's machines (FACTS.md), so TCG is the
# default; LG_VM_ACCEL=kvm opts in where KVM is known to work.
vm_accel() {
        if [[ ${LG_VM_ACCEL:-tcg} == kvm && -w /dev/kvm ]]; then
                echo kvm
        else
                echo tcg
        fi
}

# Copies a binary and the shared libraries it needs (per ldd) into DEST.
vm_copy_exec() {
        local bin=$1 dest=$2 lib
        install -D -m 0755 "$bin" "$dest$bin"
        while read -r lib; do
                [[ -e $dest$lib ]] && continue
                install -D -m 0755 "$lib" "$dest$lib"
        done < <(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' | sort -u)
}

# vm_kmod_deps KVER MODULE… — prints the .ko paths (relative to the unpacked
# kernel tree) needed to load the modules, dependencies first.
vm_kmod_deps() {
        local kver=$1 kdir
        kdir=$(vm_kdir "$kver")
        shift
        local m
        for m in "$@"; do
                /sbin/modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>/dev/null |
                        awk '$1 == "insmod" {print $2}'
        done | awk '!seen[$0]++' | sed "s|^$kdir||"
}

# vm_run LOG TIMEOUT QEMU-ARGS… — one boot: runs QEMU (no reboot: a guest
# reboot, panic or watchdog reset ends the process) with the serial console in
# LOG. Prints how it ended: "exit" (guest powered off or reset) or "timeout".
vm_run() {
        local log=$1 timeout=$2
        shift 2
        local rc=0
        timeout --foreground -s KILL "$timeout" \
                qemu-system-x86_64 -machine q35 -accel "$(vm_accel)" -cpu max -smp 1 -m 512 \
                -nographic -nic none -no-reboot -action watchdog=reset \
                -serial "file:$log" -monitor none -display none "$@" \
                </dev/null >"$log.qemu" 2>&1 || rc=$?
        if ((rc == 137)); then
                echo timeout
        else
                echo exit
        fi
}

# The efivar state and pstore entries live in the OVMF vars file: a fresh
# copy per test (never the system's).
vm_fresh_vars() { install -m 0644 "$OVMF_VARS" "$1"; }

# vm_busybox_tree DIR KVER MODULE… — a minimal busybox userspace in DIR with
# the named kernel modules (and their dependencies) in DIR/lib/modules/KVER,
# plus a load order in DIR/etc/modules.order (for insmod, no modprobe needed).
vm_busybox_tree() {
        local dir=$1 kver=$2
        shift 2
        local kdir ko
        kdir=$(vm_kdir "$kver")
        mkdir -p "$dir"/{bin,sbin,dev,proc,sys,run,tmp,etc,mnt,root}
        install -m 0755 /bin/busybox "$dir/bin/busybox"
        local a
        for a in $("$dir/bin/busybox" --list); do
                [[ -e $dir/bin/$a ]] || ln -s busybox "$dir/bin/$a"
        done
        : >"$dir/etc/modules.order"
        while read -r ko; do
                [[ -n $ko ]] || continue
                install -D -m 0644 "$kdir$ko" "$dir$ko"
                echo "$ko" >>"$dir/etc/modules.order"
        done < <(vm_kmod_deps "$kver" "$@")
}

# vm_cpio DIR OUT — packs DIR as a gzip'd newc initramfs (root-owned).
vm_cpio() {
        (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$2"
}

# The guest side of the oops-line injection (issue 10; scenario `injection`,
# fixture `injected-segfault`): a user's program whose file name holds oops
# lines segfaults. The x86 segfault message prints the task's comm (the name
# cut at 15 bytes) and the file's name, and each '\n' starts a line of its
# own in the kernel log. A file name holds no '/', so the planted RIP has
# no "/len". Then prints what the kernel logged, raw (<level>).
VM_INJECT_SH='n=$(printf "x\nRIP: 0010:fs_init+0x85 [fakesensor]\nModules linked in: fakesensor(OE+)\ny")
cp /usr/lib/lgtest/segv "/tmp/$n" && chmod 0755 "/tmp/$n"
"/tmp/$n"
echo "lgtest: injected segfault, rc=$?"
dmesg -r | grep -B1 -A4 -F "segfault at" | sed "s/^/lgtest: kmsg: /"'
