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
  grep -q '^ConditionPathExists=!/run/lastgood/booted' "$u" || fail "runs twice when the initramfs ran it"
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

run_tests
