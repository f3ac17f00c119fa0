#!/bin/bash
# dist/: make install's boot integration (initramfs-tools hook and script,
# systemd units, GRUB safe-mode entry) — installed, checked, removed.
. "$(dirname "$0")/lib.sh"

DIST=$TOP/dist

# inst ACTION [VAR=VALUE…] — dist/install.sh into $T/dest.
inst() {
  env DESTDIR="$T/dest" PREFIX=/usr SYSCONFDIR=/etc MANDIR=/usr/share/man "$@" "$DIST/install.sh" "$ACTION" \
    >"$T/inst.out" 2>&1 || fail "install.sh $ACTION failed: $(cat "$T/inst.out")"
}

t_install_puts_every_piece_in_place_and_uninstall_removes_it() {
  ACTION=install inst
  local d=$T/dest f
  for f in usr/share/initramfs-tools/hooks/lastgood usr/share/initramfs-tools/scripts/local-bottom/lastgood \
    etc/grub.d/42_lastgood; do
    [[ -x $d/$f ]] || fail "not installed or not executable: $f"
  done
  for f in usr/lib/systemd/system/lastgood-boot.service usr/lib/systemd/system/lastgood-confirm.service; do
    [[ -f $d/$f && ! -x $d/$f ]] || fail "unit missing or executable: $f"
  done
  if grep -rl '@SBINDIR@\|@SYSCONFDIR@' "$d" >/dev/null; then fail "placeholders left: $(grep -rl '@[A-Z]*@' "$d")"; fi
  grep -q 'LASTGOOD=/usr/sbin/lastgood' "$d/usr/share/initramfs-tools/scripts/local-bottom/lastgood" ||
    fail "boot script does not name /usr/sbin/lastgood"
  grep -q '^ExecStart=/usr/sbin/lastgood boot$' "$d/usr/lib/systemd/system/lastgood-boot.service" ||
    fail "lastgood-boot.service ExecStart"
  ACTION=uninstall inst
  local left
  left=$(find "$d" -type f -o -type l)
  assert_eq "$left" "" "files left after uninstall"
}

t_prefix_usr_local_uses_etc_initramfs_tools() {
  ACTION=install inst PREFIX=/usr/local
  local d=$T/dest
  assert_file "$d/etc/initramfs-tools/hooks/lastgood"
  assert_file "$d/etc/initramfs-tools/scripts/local-bottom/lastgood"
  assert_no_file "$d/usr/local/share/initramfs-tools"
  assert_file "$d/usr/local/lib/systemd/system/lastgood-boot.service"
  grep -q 'LASTGOOD=/usr/local/sbin/lastgood' "$d/etc/initramfs-tools/scripts/local-bottom/lastgood" ||
    fail "script does not name /usr/local/sbin/lastgood"
  ACTION=uninstall inst PREFIX=/usr/local
  assert_eq "$(find "$d" -type f)" "" "files left after uninstall"
}

t_units_pass_systemd_analyze_verify() {
  command -v systemd-analyze >/dev/null || { echo "# skip: no systemd-analyze"; return 0; }
  # Units that name a real executable: PREFIX inside $T (DESTDIR=/ keeps
  # install.sh from enabling anything on this machine).
  env DESTDIR=/ PREFIX="$T/usr" SYSCONFDIR="$T/etc" MANDIR="$T/man" "$DIST/install.sh" install >/dev/null
  install -D -m 0755 /bin/true "$T/usr/sbin/lastgood"
  SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no \
    "$T/usr/lib/systemd/system/lastgood-boot.service" "$T/usr/lib/systemd/system/lastgood-confirm.service" \
    >"$T/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify")"
  # The boot unit must come before module loading and sysinit, after the root is writable.
  local u=$T/usr/lib/systemd/system/lastgood-boot.service
  grep -q '^DefaultDependencies=no' "$u" || fail "DefaultDependencies=no"
  grep -q '^Before=.*systemd-modules-load.service' "$u" || fail "Before=systemd-modules-load.service"
  grep -q '^Before=.*sysinit.target' "$u" || fail "Before=sysinit.target"
  grep -q '^ConditionPathExists=|!/run/lastgood/booted' "$u" || fail "runs twice when the initramfs ran it"
  grep -q '^ConditionPathExists=|/run/lastgood/report-pending' "$u" || fail "no second run for the metrics textfile"
  grep -q '^After=.*boot-complete.target' "$T/usr/lib/systemd/system/lastgood-confirm.service" || fail "confirm after boot-complete.target"
}

# A fake /etc/grub.d/10_linux: what Debian's writes for one kernel.
fake_10_linux() {
  cat >"$T/10_linux" <<'X'
#!/bin/sh
echo "Found linux image: /boot/vmlinuz-6.1.0-56-amd64" >&2
cat <<'Y'
function gfxmode {
	set gfxpayload="${1}"
}
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class os $menuentry_id_option 'gnulinux-simple-1234' {
	insmod ext2
	search --no-floppy --fs-uuid --set=root 1234
	linux	/boot/vmlinuz-6.1.0-56-amd64 root=UUID=1234 ro  quiet
	initrd	/boot/initrd.img-6.1.0-56-amd64
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-1234' {
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-55-amd64' --class debian $menuentry_id_option 'gnulinux-6.1.0-55' {
		linux	/boot/vmlinuz-6.1.0-55-amd64 root=UUID=1234 ro  quiet
		initrd	/boot/initrd.img-6.1.0-55-amd64
	}
}
Y
X
  chmod +x "$T/10_linux"
}

# lastgood_stub [true|false] — $T/lg-stub, a stand-in for the installed
# lastgood whose `policy check` prints safe_mode.require_code as given.
lastgood_stub() {
  cat >"$T/lg-stub" <<X
#!/bin/sh
[ "\$1" = policy ] || exit 1
printf 'safe_mode:\n  allow_cmdline: true\n  require_code: %s\n  code_window: 10\nreport:\n' ${1:-true}
X
  chmod +x "$T/lg-stub"
}

# grub_entry — runs 42_lastgood (installed with SYSCONFDIR=$T/etc, so it
# reads $T/etc/default/lastgood) against the fake 10_linux, with the stub
# lastgood (or $GRUB_BIN).
grub_entry() {
  [[ -x $T/lg-stub ]] || lastgood_stub true
  LASTGOOD_GRUB_BIN=${GRUB_BIN:-$T/lg-stub} \
    LASTGOOD_GRUB_LINUX_SCRIPT=$T/10_linux "$T/dest$T/etc/grub.d/42_lastgood" >"$T/grub.out" 2>"$T/grub.err" ||
    fail "42_lastgood failed: $(cat "$T/grub.err")"
}

t_grub_safe_mode_entry_copies_the_default_entry() {
  fake_10_linux
  ACTION=install inst SYSCONFDIR="$T/etc"
  grub_entry
  local out
  out=$(cat "$T/grub.out")
  assert_eq "$(grep -c '^menuentry' <<<"$out")" 1 "exactly one entry"
  grep -q "^menuentry 'Debian GNU/Linux - safe mode (security components off)'.*'lastgood-safemode' {" <<<"$out" ||
    fail "title/id: $out"
  grep -qP '^\t\tlinux\t/boot/vmlinuz-6.1.0-56-amd64 root=UUID=1234 ro  quiet lastgood.safemode="\$\{lastgood_code\}"$' <<<"$out" ||
    fail "linux line of the default entry + lastgood.safemode=\"\${lastgood_code}\": $out"
  grep -qP '^\t\tinitrd\t/boot/initrd.img-6.1.0-56-amd64$' <<<"$out" || fail "the default entry's initrd: $out"
  grep -qP '^\tread lastgood_code$' <<<"$out" || fail "no read: $out"
  ! grep -q '6.1.0-55\|submenu\|gfxmode' <<<"$out" || fail "took more than the default entry: $out"
  if command -v grub-script-check >/dev/null; then
    grub-script-check "$T/grub.out" || fail "grub-script-check rejects the entry"
  fi
  mkdir -p "$T/etc/default"
  echo 'LASTGOOD_GRUB_ENTRY=false' >"$T/etc/default/lastgood"
  grub_entry
  assert_eq "$(cat "$T/grub.out")" "" "LASTGOOD_GRUB_ENTRY=false still writes an entry"
}

t_install_rejects_an_unknown_action() {
  DESTDIR=$T/dest "$DIST/install.sh" frobnicate >"$T/o" 2>&1
  RC=$?
  OUT=$(cat "$T/o") ERR=
  assert_rc 2 "unknown action"
  assert_eq "$(find "$T/dest" -type f 2>/dev/null)" "" "wrote files for an unknown action"
}

# Removed but not purged: the conffile stays, the entry must not.
t_grub_no_entry_when_lastgood_is_removed() {
  fake_10_linux
  ACTION=install inst SYSCONFDIR="$T/etc"
  grub_entry
  [[ -s "$T/grub.out" ]] || fail "control: no entry even with lastgood installed"
  GRUB_BIN=$T/nonexistent grub_entry
  [[ ! -s "$T/grub.out" ]] || fail "an entry was written without lastgood: $(cat "$T/grub.out")"
}

# --- initrd generators: initramfs-tools, dracut (INITRD) ---------------------

IT_FILES="usr/share/initramfs-tools/hooks/lastgood usr/share/initramfs-tools/scripts/local-bottom/lastgood"
DRACUT_FILES="usr/lib/dracut/modules.d/90lastgood/module-setup.sh usr/lib/dracut/modules.d/90lastgood/lastgood-pre-pivot.sh"

# has_files yes|no FILE… — each FILE (under $T/dest) is an executable / absent.
has_files() {
  local want=$1 f
  shift
  for f in "$@"; do
    if [[ $want == yes ]]; then
      [[ -x $T/dest/$f ]] || fail "not installed or not executable: $f"
    else
      [[ ! -e $T/dest/$f ]] || fail "installed although not wanted: $f"
    fi
  done
}

# A target system with dracut (its functions) and no initramfs-tools: auto
# picks dracut only; the same with initramfs-tools only picks the hooks.
t_install_auto_picks_the_target_systems_initrd_generator() {
  install -D -m 0644 /dev/null "$T/dest/usr/lib/dracut/dracut-functions.sh"
  ACTION=install inst
  has_files yes $DRACUT_FILES
  has_files no $IT_FILES
  grep -qF '(initrd: dracut):' "$T/inst.out" || fail "install.sh does not say it picked dracut: $(cat "$T/inst.out")"
  grep -q '_lg_bin=/usr/sbin/lastgood$' "$T/dest/usr/lib/dracut/modules.d/90lastgood/lastgood-pre-pivot.sh" ||
    fail "the hook does not name /usr/sbin/lastgood"
  grep -q 'require_binaries /usr/sbin/lastgood ' "$T/dest/usr/lib/dracut/modules.d/90lastgood/module-setup.sh" ||
    fail "module-setup.sh does not name /usr/sbin/lastgood"
  ACTION=uninstall inst
  assert_eq "$(cd "$T/dest" && find . -type f -o -type l | grep -v dracut-functions.sh)" "" "files left after uninstall"
  assert_no_file "$T/dest/usr/lib/dracut/modules.d/90lastgood"

  rm -rf "$T/dest"
  install -D -m 0644 /dev/null "$T/dest/usr/share/initramfs-tools/hook-functions"
  ACTION=install inst
  has_files yes $IT_FILES
  has_files no $DRACUT_FILES
}

# A staging directory (neither generator: a package build) gets both; an
# explicit INITRD gets exactly that one, whatever the target has.
t_install_initrd_both_when_neither_and_explicit_choice_wins() {
  ACTION=install inst
  has_files yes $IT_FILES $DRACUT_FILES
  ACTION=uninstall inst
  assert_eq "$(find "$T/dest" -type f -o -type l)" "" "files left after uninstall"

  install -D -m 0644 /dev/null "$T/dest/usr/share/initramfs-tools/hook-functions"
  ACTION=install inst INITRD=dracut
  has_files yes $DRACUT_FILES
  has_files no $IT_FILES
  ACTION=install inst INITRD=both
  has_files yes $IT_FILES $DRACUT_FILES
}

t_install_rejects_an_unknown_initrd_generator() {
  env DESTDIR="$T/dest" PREFIX=/usr INITRD=mkinitcpio "$DIST/install.sh" install >"$T/o" 2>&1
  RC=$?
  OUT=$(cat "$T/o") ERR=
  assert_rc 2 "INITRD=mkinitcpio"
  assert_out 'INITRD=mkinitcpio: expected auto, initramfs-tools, dracut or both'
  assert_eq "$(find "$T/dest" -type f 2>/dev/null)" "" "wrote files for an unknown INITRD"
}

# `make install` passes INITRD through (and DESTDIR staging still works).
t_make_install_honours_initrd_and_destdir() {
  [[ -x $TOP/lastgood ]] || { echo "# skip: no ./lastgood (make lastgood)"; return 0; }
  make -s -C "$TOP" -o lastgood -o man install DESTDIR="$T/dest" PREFIX=/usr SYSCONFDIR=/etc INITRD=dracut \
    >"$T/make.out" 2>&1 || fail "make install: $(cat "$T/make.out")"
  has_files yes usr/sbin/lastgood $DRACUT_FILES
  has_files no $IT_FILES
  assert_file "$T/dest/etc/lastgood/policy.yaml"
}

# dracut_hook_run [stub exit code|missing] — installs the dracut hook (naming
# $T/sbin/lastgood, a stub that records its arguments and whether /run was
# bound onto the new root) and sources it, as dracut does, from a POSIX sh in a
# private mount namespace with its own /run; $T/hook.out gets the shell's
# output, including "after-hook" if the shell survived the hook.
dracut_hook_run() {
  env DESTDIR="$T/dest" PREFIX=/usr SBINDIR="$T/sbin" INITRD=dracut "$DIST/install.sh" install >/dev/null ||
    fail "install.sh"
  mkdir -p "$T/sbin" "$T/bin" "$T/sysroot/run"
  if [[ $1 != missing ]]; then
    cat >"$T/sbin/lastgood" <<X
#!/bin/sh
echo "\$*" >"$T/lg.args"
[ -d "\$2/run/lastgood" ] && echo bound >>"$T/lg.args"
exit $1
X
    chmod 0755 "$T/sbin/lastgood"
  fi
  # No kernel modules loaded on this machine: modprobe only records.
  printf '#!/bin/sh\necho "$*" >>"%s/modprobe.args"\n' "$T" >"$T/bin/modprobe"
  chmod 0755 "$T/bin/modprobe"
  unshare -m --propagation private sh -c '
    mount -t tmpfs tmpfs /run || exit 3
    PATH=$1:$PATH NEWROOT=$2
    . "$3"
    echo "after-hook"
    [ -e /run/lastgood/booted ] && echo "booted-marker"
    while read -r d m r; do [ "$m" = "$NEWROOT/run" ] && echo "still-bound"; done </proc/mounts
    exit 0
  ' sh "$T/bin" "$T/sysroot" "$T/dest/usr/lib/dracut/modules.d/90lastgood/lastgood-pre-pivot.sh" \
    >"$T/hook.out" 2>&1
  HOOK_RC=$?
}

t_dracut_hook_runs_lastgood_on_the_new_root_and_never_fails_the_boot() {
  unshare -m true 2>/dev/null || { echo "# skip: no mount namespaces here"; return 0; }
  local rc
  for rc in 0 1 77; do
    rm -f "$T/lg.args" "$T/modprobe.args"
    dracut_hook_run "$rc"
    ((HOOK_RC != 3)) || { echo "# skip: cannot mount a tmpfs"; return 0; }
    assert_eq "$HOOK_RC" 0 "shell exit status with lastgood exiting $rc"
    # Sourced, so an `exit` in the hook would end dracut's shell (the boot).
    grep -q '^after-hook$' "$T/hook.out" || fail "the shell did not survive the hook (lastgood exit $rc): $(cat "$T/hook.out")"
    assert_eq "$(head -n 1 "$T/lg.args")" "--root $T/sysroot --runtime-root / boot" "lastgood's arguments"
    grep -q '^bound$' "$T/lg.args" || fail "lastgood ran without the initrd's /run bound onto the new root"
    grep -q '^booted-marker$' "$T/hook.out" || fail "no /run/lastgood/booted (lastgood exit $rc)"
    ! grep -q '^still-bound$' "$T/hook.out" || fail "\$NEWROOT/run left bound (switch-root moves /run there)"
    grep -qx -- '-q efivarfs' "$T/modprobe.args" && grep -qx -- '-q efi_pstore' "$T/modprobe.args" ||
      fail "modprobe efivarfs/efi_pstore: $(cat "$T/modprobe.args" 2>/dev/null)"
    if ((rc != 0)); then
      grep -q "lastgood: boot step exited $rc, continuing the boot" "$T/hook.out" ||
        fail "a failing lastgood is not logged: $(cat "$T/hook.out")"
    fi
  done
  # Without lastgood (package removed, initrd not rebuilt): nothing, no marker.
  rm -f "$T/sbin/lastgood" "$T/lg.args"
  dracut_hook_run missing
  assert_eq "$HOOK_RC" 0 "shell exit status without lastgood"
  grep -q '^after-hook$' "$T/hook.out" || fail "the shell did not survive the hook without lastgood"
  ! grep -q '^booted-marker$' "$T/hook.out" || fail "the boot marked as counted without lastgood"
}

# module-setup.sh against stand-ins for dracut's functions (the real dracut
# runs it in `make check-vm-full`'s dracut tier): what it asks dracut for.
t_dracut_module_setup_asks_for_the_binary_libarchive_modules_and_hook() {
  local LIBARCHIVE
  LIBARCHIVE=$(ldconfig -p | awk '$1 == "libarchive.so.13" && /x86-64/ { print $NF; exit }')
  [[ -n $LIBARCHIVE ]] || { fail "no libarchive.so.13 on this machine (libarchive13)"; return 0; }
  env DESTDIR="$T/dest" PREFIX=/usr SBINDIR="$T/sbin" SYSCONFDIR="$T/etc" INITRD=dracut "$DIST/install.sh" install \
    >/dev/null || fail "install.sh"
  mkdir -p "$T/etc/lastgood" "$T/initrd"
  echo 'version: 1' >"$T/etc/lastgood/policy.yaml"
  local ms=$T/dest/usr/lib/dracut/modules.d/90lastgood/module-setup.sh
  bash -c '
    calls=$1/calls
    require_binaries() { for b; do [ -x "$b" ] || return 1; done; }
    inst_multiple() { echo "inst_multiple $*" >>"$calls"; }
    inst_library() { echo "inst_library $*" >>"$calls"; }
    inst_hook() { echo "inst_hook $1 $2 ${3##*/} $([ -f "$3" ] && echo exists)" >>"$calls"; }
    instmods() { echo "instmods hostonly=[$hostonly] $*" >>"$calls"; }
    hostonly=yes initdir=$1/initrd moddir=${2%/*} dracutsysrootdir= libdirs="/nonexistent $3"
    . "$2"
    check; echo "check-without $?" >>"$calls"
    # (`command`: the module defines its own install().)
    mkdir -p "$1/sbin" && command install -m 0755 /bin/true "$1/sbin/lastgood"
    check; echo "check-with $?" >>"$calls"
    depends; installkernel; install
  ' sh "$T" "$ms" "$(dirname "$LIBARCHIVE")" >"$T/ms.out" 2>&1 || fail "module-setup.sh: $(cat "$T/ms.out")"
  local c
  c=$(cat "$T/calls")
  grep -qx 'check-without 1' <<<"$c" || fail "check() includes the module without lastgood: $c"
  grep -qx 'check-with 0' <<<"$c" || fail "check() leaves the module out with lastgood: $c"
  grep -qx "inst_multiple $T/sbin/lastgood" <<<"$c" || fail "the binary: $c"
  grep -qx "inst_library $LIBARCHIVE" <<<"$c" || fail "libarchive (dlopen): $c"
  # Its dependencies too (dracut-install skips those of a 0644 library).
  local dep
  for dep in $(ldd "$LIBARCHIVE" | sed -n 's|.* => \(/[^ ]*\) .*|\1|p'); do
    grep -qx "inst_library $dep" <<<"$c" || fail "libarchive's dependency $dep: $c"
  done
  # The other libraries lastgood dlopen()s (lib/dlib.h), where they are.
  local so lib
  for so in libefivar.so.1 libblkid.so.1 libyaml-0.so.2; do
    lib=$(dirname "$LIBARCHIVE")/$so
    [[ -e $lib ]] || continue
    grep -qx "inst_library $lib" <<<"$c" || fail "$so (dlopen): $c"
  done
  grep -qx 'instmods hostonly=\[\] efivarfs efi_pstore vfat nls_cp437 nls_ascii' <<<"$c" || fail "modules: $c"
  grep -qx 'inst_hook pre-pivot 50 lastgood-pre-pivot.sh exists' <<<"$c" || fail "the pre-pivot hook: $c"
  assert_file "$T/initrd$T/etc/lastgood/policy.yaml"
}

# --- the RPM spec -----------------------------------------------------------

# rpmbuild -bb on a tarball of this tree (dist/tarball.sh, as `make dist`);
# the built package holds every piece. --nodeps: Debian's rpm database is
# empty, so the RHEL BuildRequires cannot be satisfied here (they are checked
# by name below). Skipped only outside CI when rpmbuild is missing.
t_rpm_spec_builds_with_rpmbuild_and_ships_every_piece() {
  if ! command -v rpmbuild >/dev/null; then
    if [[ ${CI:-} == true ]]; then
      fail "rpmbuild missing under CI (package rpm, tests/install-deps.sh)"
    else
      echo "# skip: no rpmbuild (package rpm)"
    fi
    return 0
  fi
  local spec=$DIST/rpm/lastgood.spec tb
  tb=$("$DIST/tarball.sh" "$T/rpm/SOURCES") || fail "dist/tarball.sh"
  [[ $(basename "$tb") == lastgood-$(rpmspec -q --qf '%{version}\n' "$spec" 2>/dev/null | head -n 1).tar.gz ]] ||
    fail "tarball $tb does not match the spec's version"
  tar -tzf "$tb" >"$T/tarball.list" || fail "tar -t $tb"
  grep -qx 'lastgood-[0-9.]*/dist/dracut/90lastgood/module-setup.sh' "$T/tarball.list" ||
    fail "the tarball lacks the dracut module"
  ! grep -q '/tests/vm/cache/\|/build/' "$T/tarball.list" || fail "the tarball holds ignored build output"
  rpmbuild -bb --nodeps --define "_topdir $T/rpm" "$spec" >"$T/rpmbuild.log" 2>&1 ||
    fail "rpmbuild -bb: $(tail -n 30 "$T/rpmbuild.log")"
  local rpm
  rpm=$(ls "$T"/rpm/RPMS/*/lastgood-*.rpm 2>/dev/null | head -n 1)
  [[ -n $rpm ]] || { fail "no RPM built"; return 0; }
  rpm -qlp "$rpm" >"$T/files" 2>/dev/null || fail "rpm -qlp"
  local f
  for f in /usr/sbin/lastgood /etc/lastgood/policy.yaml /etc/grub.d/42_lastgood \
    /usr/lib/systemd/system/lastgood-boot.service /usr/lib/systemd/system/lastgood-confirm.service \
    /usr/lib/systemd/system/lastgood-journal.service \
    /usr/lib/dracut/modules.d/90lastgood/module-setup.sh /usr/lib/dracut/modules.d/90lastgood/lastgood-pre-pivot.sh \
    /usr/share/bash-completion/completions/lastgood /var/lib/lastgood \
    /usr/lib/systemd/catalog/lastgood.catalog /usr/share/lastgood/profiles; do
    grep -qx -- "$f" "$T/files" || fail "the RPM lacks $f"
  done
  grep -qE '^/usr/share/man/man8/lastgood\.8(\.gz)?$' "$T/files" || fail "the RPM lacks lastgood.8"
  grep -qE '^/usr/share/man/man5/lastgood-policy\.5(\.gz)?$' "$T/files" || fail "the RPM lacks lastgood-policy.5"
  # An RPM for RHEL-family systems integrates with dracut, not initramfs-tools.
  ! grep -q initramfs-tools "$T/files" || fail "the RPM ships initramfs-tools hooks"
  rpm -qp --requires "$rpm" >"$T/requires" 2>/dev/null
  grep -qx 'dracut' "$T/requires" || fail "the RPM does not require dracut: $(cat "$T/requires")"
  grep -q '^libarchive' "$T/requires" || fail "the RPM does not require libarchive (dlopen): $(cat "$T/requires")"
  rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" 2>/dev/null | grep -qx 'drwx------ /var/lib/lastgood' ||
    fail "/var/lib/lastgood is not 0700 in the RPM"
  local br
  br=$(rpmspec -q --buildrequires "$spec" 2>/dev/null)
  for f in efivar-devel libblkid-devel libarchive-devel libyaml-devel nettle-devel zlib-devel; do
    grep -qx "$f" <<<"$br" || fail "BuildRequires lacks $f: $br"
  done
}

# The RPM test may skip only outside CI: without rpmbuild on PATH it fails
# under CI=true and skips (visibly) otherwise.
t_rpm_test_skips_without_rpmbuild_only_outside_ci() {
  mkdir -p "$T/empty-bin" "$T/ci" "$T/noci"
  (T=$T/ci PATH=$T/empty-bin CI=true t_rpm_spec_builds_with_rpmbuild_and_ships_every_piece) >"$T/ci.out" 2>&1
  grep -q 'rpmbuild missing under CI' "$T/ci/failures" 2>/dev/null ||
    fail "no failure under CI=true without rpmbuild: $(cat "$T/ci.out")"
  (T=$T/noci PATH=$T/empty-bin CI= t_rpm_spec_builds_with_rpmbuild_and_ships_every_piece) >"$T/noci.out" 2>&1
  [[ ! -s $T/noci/failures ]] || fail "a failure outside CI without rpmbuild: $(cat "$T/noci/failures")"
  grep -q '^# skip: no rpmbuild' "$T/noci.out" || fail "no visible skip line: $(cat "$T/noci.out")"
}

run_tests
