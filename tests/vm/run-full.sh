#!/bin/bash
# make check-vm-full — scenario 1 on a real Debian 12 userspace, two tiers:
#
#   tests/vm/run-full.sh [initramfs-tools] [dracut] [dracut-shell]
#                        (default: initramfs-tools dracut)
#
# initramfs-tools (scenario "full"):
# A debootstrapped bookworm (minbase + systemd + udev + initramfs-tools),
# lastgood installed into it with `make install` (binary, policy, the
# initramfs-tools hook and script, the systemd units, the GRUB script), the
# fake sensor as a systemd unit, a real `update-initramfs` inside the tree;
# then the same crash loop as scenario 1: a bad content update → a crash →
# lastgood, run by the real initramfs-tools script, restores the content →
# a boot confirmed by lastgood-confirm.service under real systemd.
#
# dracut (scenario "full-dracut"): the same bookworm with Debian's dracut
# package instead of initramfs-tools; `make install` (INITRD=auto) must pick
# dist/dracut/90lastgood, the initrd is built by the real `dracut` inside the
# tree (a systemd-based initrd: the hook runs from dracut-pre-pivot.service),
# then the same crash loop. It also builds the .deb (from `make dist`) and
# checks that the tree's apt would install it removing nothing (dracut stays).
# dracut-shell (on demand): the same initrd without dracut's systemd modules,
# so the hook runs from dracut's shell /init.
#
# The debootstrap results are cached in tests/vm/cache/full/base and
# base-dracut (first run ~1–2 min each plus downloads). Serial logs:
# tests/vm/artifacts/full{,-dracut}/boot-N.log.
set -uo pipefail
. "$(dirname "$0")/run.sh"

FULL=$CACHE/full
INCLUDE=systemd,systemd-sysv,kmod,udev,initramfs-tools,busybox,linux-base,libefivar1,libblkid1,libyaml-0-2,libarchive13,libnettle8,zlib1g
MIRROR=${LG_VM_MIRROR:-http://deb.debian.org/debian}

# full_base_dir FLAVOR — the cached debootstrap for initramfs-tools|dracut[-shell].
full_base_dir() { [[ $1 == dracut* ]] && echo "$FULL/base-dracut" || echo "$FULL/base"; }

full_base() { # full_base FLAVOR
        local flavor=$1 base include=$INCLUDE
        base=$(full_base_dir "$flavor")
        # dracut conflicts with initramfs-tools: one or the other.
        [[ $flavor == dracut* ]] && include=${INCLUDE/initramfs-tools/dracut}
        local stamp="bookworm minbase $include"
        if [[ -e $base/.stamp && $(<"$base/.stamp") == "$stamp" ]]; then
                return 0
        fi
        vm_log "debootstrap bookworm (minbase + systemd + $flavor)"
        rm -rf "$base" "$base.tmp"
        mkdir -p "$FULL"
        debootstrap --variant=minbase --include="$include" bookworm "$base.tmp" "$MIRROR" \
                >"$FULL/debootstrap-$flavor.log" 2>&1 ||
                { tail -20 "$FULL/debootstrap-$flavor.log" >&2; vm_die "debootstrap failed"; }
        rm -rf "$base.tmp/var/cache/apt/archives/"*.deb
        echo "$stamp" >"$base.tmp/.stamp"
        mv "$base.tmp" "$base"
}

# The kernel's modules, less what a virtio VM never loads.
full_kernel() {
        local root=$1 kdir
        kdir=$(vm_kdir "$KVER")
        install -D -m 0644 "$kdir/boot/vmlinuz-$KVER" "$root/boot/vmlinuz-$KVER"
        install -m 0644 "$kdir/boot/config-$KVER" "$kdir/boot/System.map-$KVER" "$root/boot/"
        mkdir -p "$root/lib/modules"
        cp -a "$kdir/lib/modules/$KVER" "$root/lib/modules/"
        local d
        for d in drivers/gpu drivers/net drivers/media drivers/infiniband drivers/staging \
                drivers/bluetooth drivers/iio drivers/isdn drivers/mtd sound net; do
                rm -rf "$root/lib/modules/$KVER/kernel/$d"
        done
}

full_root() { # full_root ROOT FLAVOR
        local root=$1 flavor=$2 policy=$VM_DIR/policy-full.yaml
        rm -rf "$root"
        cp -a "$(full_base_dir "$flavor")" "$root"
        rm -f "$root/.stamp"
        full_kernel "$root"
        vm_install_sensor "$root" "$KVER" "$SENSOR_DIR"
        chroot "$root" depmod "$KVER"
        echo lastgood-vm >"$root/etc/hostname"
        echo 'LABEL=lgroot / ext4 defaults 0 1' >"$root/etc/fstab"
        if [[ $flavor == initramfs-tools ]]; then
                # The initramfs: initramfs-tools with its own init, only the modules
                # this VM needs (MODULES=dep would look at the build host).
                printf 'MODULES=list\nCOMPRESS=gzip\n' >"$root/etc/initramfs-tools/conf.d/lastgood-vm.conf"
                printf 'virtio_pci\nvirtio_blk\ncrc32c_generic\next4\n' >>"$root/etc/initramfs-tools/modules"
        fi

        # lastgood, the way an admin installs it.
        # (LG_VM_BIN: a binary built elsewhere replaces ./lastgood, which make
        # must then not try to rebuild.)
        local keep=()
        [[ -n ${LG_VM_BIN:-} ]] && keep=(-o lastgood)
        make -s -C "$TOP" "${keep[@]}" install DESTDIR="$root" PREFIX=/usr SYSCONFDIR=/etc >&2 || vm_die "make install"
        [[ -n ${LG_VM_BIN:-} ]] && install -m 0755 "$LG_VM_BIN" "$root/usr/sbin/lastgood"
        install -m 0644 "$policy" "$root/etc/lastgood/policy.yaml"

        # The sensor's unit, and the test's own unit that reports and powers off.
        cat >"$root/etc/systemd/system/fakesensor.service" <<'EOF'
[Unit]
Description=fakesensor EDR sensor (test)
After=systemd-modules-load.service local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/modprobe fakesensor

[Install]
WantedBy=multi-user.target
EOF
        cat >"$root/usr/local/sbin/lgtest-finish" <<'EOF'
#!/bin/sh
# Waits for lastgood-confirm.service to finish, reports on the serial
# console in the fast tier's words, runs the harness's actions, powers off.
exec >/dev/ttyS0 2>&1
echo "lgtest: root init (systemd)"
echo "lgtest: lastgood-boot.service ran: $(systemctl show -p ConditionResult --value lastgood-boot.service)"
if grep -q '^fakesensor ' /proc/modules; then
        echo "lgtest: SENSOR LOADED build $(cat /sys/module/fakesensor/version 2>/dev/null)," \
                "$(dmesg | grep -o 'content version [^,]*' | tail -n 1)"
else
        echo "lgtest: SENSOR NOT LOADED"
fi
echo "lgtest: SYSTEM UP"
st=unknown
for i in $(seq 1 300); do
        st=$(systemctl show -p ActiveState --value lastgood-confirm.service)
        case $st in active | activating | reloading) sleep 1 ;; *) break ;; esac
done
res=$(systemctl show -p Result --value lastgood-confirm.service)
code=$(systemctl show -p ExecMainStatus --value lastgood-confirm.service)
if [ "$st" = inactive ] && [ "$res" = success ] && [ "$code" = 0 ]; then
        echo "lgtest: CONFIRMED"
else
        echo "lgtest: CONFIRM FAILED ($st $res $code)"
        journalctl -b -u lastgood-confirm.service --no-pager | tail -n 20
fi
echo "LGTEST-STATUS-BEGIN"
lastgood status --json
echo "LGTEST-STATUS-END"
mkdir -p /run/lgtest
ctl=
for d in /sys/block/vd*; do
        [ "$(cat "$d/serial" 2>/dev/null)" = lgtest-ctl ] && ctl=/dev/${d##*/}
done
tar -xf "$ctl" -C /run/lgtest || echo "lgtest: no control disk ($ctl)"
lgtest-actions
systemctl poweroff --force --force
EOF
        chmod 0755 "$root/usr/local/sbin/lgtest-finish"
        cat >"$root/etc/systemd/system/lgtest-finish.service" <<'EOF'
[Unit]
Description=lastgood VM test: report and power off
After=lastgood-confirm.service fakesensor.service multi-user.target

[Service]
# exec, not oneshot: this unit must not hold the boot's job queue, or
# `systemctl is-system-running --wait` (lastgood's health check) would wait
# for it while it waits for lastgood confirm.
Type=exec
ExecStart=/usr/local/sbin/lgtest-finish

[Install]
WantedBy=multi-user.target
EOF
        systemctl --root="$root" enable lastgood-boot.service lastgood-confirm.service \
                fakesensor.service lgtest-finish.service >/dev/null 2>"$SC_DIR/enable.log" ||
                vm_die "systemctl enable"
        # No login prompts on the serial console: the test talks there.
        systemctl --root="$root" mask serial-getty@ttyS0.service getty@tty1.service >/dev/null 2>&1

        if [[ $flavor == dracut* ]]; then
                # Not host-only (that would look at the build host; dracut also
                # drops it by itself without /proc in the chroot), gzip, no
                # early microcode cpio (the test lists the image with cpio).
                # dracut-shell: without dracut's systemd modules, the shell /init.
                local omit=()
                [[ $flavor == dracut-shell ]] && omit=(--omit "systemd systemd-initrd dracut-systemd")
                vm_log "dracut (the real one, with lastgood's module) ${omit[*]}"
                chroot "$root" dracut --force --no-hostonly --no-early-microcode --gzip "${omit[@]}" --kver "$KVER" \
                        --add-drivers "virtio_pci virtio_blk crc32c_generic ext4" "/boot/initrd.img-$KVER" \
                        >"$SC_DIR/dracut.log" 2>&1 || { tail "$SC_DIR/dracut.log" >&2; vm_die "dracut failed"; }
                return 0
        fi
        vm_log "update-initramfs (the real one, with lastgood's hook)"
        chroot "$root" update-initramfs -c -k "$KVER" >"$SC_DIR/update-initramfs.log" 2>&1 ||
                { tail "$SC_DIR/update-initramfs.log" >&2; vm_die "update-initramfs failed"; }
}

# full_deb_check ROOT — builds the Debian package from a `make dist` tarball
# (outside the tree: its `dh clean` would remove ./lastgood) and asks the
# tree's own apt what installing it would do (issue 12: `Recommends:
# initramfs-tools` made apt remove dracut). Sets DEB_REMOVES: the packages apt
# would remove ("" for none), or "unbuilt: …" when it could not tell.
full_deb_check() {
        local root=$1 d=$FULL/deb tb deb
        rm -rf "$d"
        mkdir -p "$d"
        DEB_REMOVES="unbuilt: see $SC_DIR/deb-build.log"
        tb=$("$TOP/dist/tarball.sh" "$d" 2>"$SC_DIR/deb-build.log") && tar -xzf "$tb" -C "$d" || return 0
        (cd "$d"/lastgood-*/ && env -u BUILDDIR dpkg-buildpackage -b -us -uc) >>"$SC_DIR/deb-build.log" 2>&1 ||
                return 0
        deb=$(ls "$d"/lastgood_*.deb 2>/dev/null | head -n 1)
        [[ -n $deb ]] || return 0
        cp "$deb" "$root/tmp/lastgood.deb"
        chroot "$root" apt-get install -s /tmp/lastgood.deb >"$SC_DIR/apt-simulate.log" 2>&1
        rm -f "$root/tmp/lastgood.deb"
        DEB_REMOVES="unknown: see $SC_DIR/apt-simulate.log"
        grep -q '^Inst lastgood' "$SC_DIR/apt-simulate.log" || return 0
        DEB_REMOVES=$(awk '$1 == "Remv" { printf " %s", $2 }' "$SC_DIR/apt-simulate.log")
}

scenario_full() { # scenario_full initramfs-tools|dracut
        local flavor=$1
        SC=full
        [[ $flavor == dracut* ]] && SC=full-$flavor
        SC_DIR=$ARTIFACTS/$SC
        rm -rf "$SC_DIR"
        mkdir -p "$SC_DIR"
        full_base "$flavor"
        local root=$FULL/root
        full_root "$root" "$flavor"
        # What make install picked (INITRD=auto looks at the tree).
        local picked=0
        if [[ $flavor == dracut* ]]; then
                [[ -x $root/usr/lib/dracut/modules.d/90lastgood/module-setup.sh &&
                   ! -e $root/usr/share/initramfs-tools/scripts/local-bottom/lastgood ]] && picked=1
        else
                [[ -x $root/usr/share/initramfs-tools/scripts/local-bottom/lastgood &&
                   ! -e $root/usr/lib/dracut/modules.d/90lastgood ]] && picked=1
        fi
        [[ $flavor == dracut ]] && full_deb_check "$root"
        local initrd=$root/boot/initrd.img-$KVER
        # What the hook put in the initramfs.
        zcat "$initrd" | cpio -t --quiet 2>/dev/null >"$SC_DIR/initramfs-files.txt" || true
        # libarchive's own dependencies, as the tree's ldd sees them.
        chroot "$root" ldd /usr/lib/x86_64-linux-gnu/libarchive.so.13 2>/dev/null |
                sed -n 's|.* => /[^ ]*/\([^/ ]*\) .*|\1|p' >"$SC_DIR/libarchive-deps.txt"
        DISK=$RUN/$SC.img
        VARS=$RUN/$SC.vars
        vm_fresh_vars "$VARS"
        local mb
        mb=$(du -sm "$root" | cut -f1)
        VM_ROOT_SIZE=$(((mb * 13 / 10 + 63) / 64 * 64))
        VM_STATE_START=$((VM_ROOT_START + VM_ROOT_SIZE))
        VM_DISK_SIZE=$((VM_STATE_START + VM_STATE_SIZE + 1))
        export VM_STATE_START
        vm_build_disk "$root" "$KVER" "$initrd" "$BASE_CMDLINE" "$DISK"
        rm -rf "$root"
        BOOTN=0
        SC_FAILS=0
        SC_START=$(date +%s)
        if [[ ${LG_VM_FULL_BUILD_ONLY:-0} == 1 ]]; then
                vm_log "built $DISK (LG_VM_FULL_BUILD_ONLY=1: not booting)"
                return 0
        fi

        check "make install picked $flavor's integration (and only it)" test "$picked" = 1
        check "the initramfs has lastgood" grep -q 'usr/sbin/lastgood$' "$SC_DIR/initramfs-files.txt"
        if [[ $flavor == dracut* ]]; then
                check "the initramfs has the pre-pivot hook" \
                        grep -q 'lib/dracut/hooks/pre-pivot/50-lastgood-pre-pivot.sh$' "$SC_DIR/initramfs-files.txt"
        fi
        if [[ $flavor == dracut ]]; then
                check "the initramfs is systemd-based (dracut-pre-pivot.service runs the hook)" \
                        grep -q 'systemd/system/dracut-pre-pivot.service$' "$SC_DIR/initramfs-files.txt"
        elif [[ $flavor == dracut-shell ]]; then
                check "the initramfs is shell-based (dracut's /init runs the hook)" \
                        test -z "$(grep 'systemd/system/dracut-pre-pivot.service$' "$SC_DIR/initramfs-files.txt")"
        else
                check "the initramfs has the boot script" grep -q 'scripts/local-bottom/lastgood$' "$SC_DIR/initramfs-files.txt"
        fi
        check "the initramfs has libarchive (dlopen'd for restores)" grep -q 'libarchive.so' "$SC_DIR/initramfs-files.txt"
        local dep missing=
        for dep in $(<"$SC_DIR/libarchive-deps.txt"); do
                grep -q "/$dep\$" "$SC_DIR/initramfs-files.txt" || missing+=" $dep"
        done
        check "the initramfs has libarchive's dependencies (missing:${missing:- none})" \
                test -s "$SC_DIR/libarchive-deps.txt" -a -z "$missing"
        check "the initramfs has efi-pstore" grep -q 'efi-pstore.ko' "$SC_DIR/initramfs-files.txt"
        if [[ $flavor == dracut ]]; then
                check "apt would install the .deb here removing nothing (removes:${DEB_REMOVES:- nothing})" \
                        test -z "$DEB_REMOVES"
        fi

        healthy_then_update "fakesensor-update content bad.rules"
        check "boot 1: lastgood-boot.service skipped (the initramfs counted the boot)" \
                log_has "$LOG" 'lastgood-boot.service ran: no'
        ttr_begin
        boot_until_confirmed 6 --actions "$final_report_actions"
        ttr_end "full tier ($flavor), scenario 1"
        fast_path_checks
        check "the confirmed boot was confirmed by lastgood-confirm.service" log_has "$LOG" 'Started .*lastgood-confirm'
        sc_end
}

main_full() {
        PASSED=()
        FAILED=()
        vm_prepare
        : >"$ARTIFACTS/summary.txt"
        : >"$ARTIFACTS/time-to-recovery.txt"
        BOOT_TIMEOUT=${LG_VM_BOOT_TIMEOUT:-300}
        local flavors=("$@") f
        ((${#flavors[@]})) || flavors=(initramfs-tools dracut)
        for f in "${flavors[@]}"; do
                case $f in
                initramfs-tools | dracut | dracut-shell) scenario_full "$f" ;;
                *) vm_die "unknown tier '$f' (initramfs-tools, dracut, dracut-shell)" ;;
                esac
        done
        echo "check-vm-full: ${#PASSED[@]} passed, ${#FAILED[@]} failed"
        ((${#FAILED[@]} == 0))
}

main_full "$@"
