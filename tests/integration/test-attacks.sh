#!/bin/bash
# Red-team cases: whoever can reach the console, boot another OS, or write a
# file lastgood reads must not gain a way to turn security components off,
# and must never make a boot hang (issue 11). One place for all of them: add
# your own t_* functions, each with its negative control.
source "$(dirname "$0")/lib.sh"

# --- The GRUB safe-mode entry ------------------------------------------------

# attack_10_linux — a /etc/grub.d/10_linux stand-in whose entries carry
# --unrestricted, as many hardening guides configure it.
attack_10_linux() {
  cat >"$T/10_linux" <<'X'
#!/bin/sh
cat <<'Y'
menuentry 'Debian GNU/Linux' --class debian --unrestricted --class os $menuentry_id_option 'gnulinux-simple-1234' {
	insmod ext2
	search --no-floppy --fs-uuid --set=root 1234
	linux	/boot/vmlinuz-6.1.0-56-amd64 root=UUID=1234 ro  quiet
	initrd	/boot/initrd.img-6.1.0-56-amd64
}
menuentry 'Debian GNU/Linux, with Linux 6.1.0-55-amd64' --unrestricted $menuentry_id_option 'gnulinux-6.1.0-55' {
	linux	/boot/vmlinuz-6.1.0-55-amd64 root=UUID=1234 ro  quiet
}
Y
X
  chmod +x "$T/10_linux"
}

# grub_generate — dist/grub.d/42_lastgood (placeholders filled in) against
# $T/10_linux, asking the real lastgood about the policy beneath $ROOT;
# the fragment in $T/grub.out.
grub_generate() {
  sed -e "s#@SBINDIR@#$T/sbin#g" -e "s#@SYSCONFDIR@#$T/etc#g" "$TOP/dist/grub.d/42_lastgood" >"$T/42_lastgood"
  chmod +x "$T/42_lastgood"
  mkdir -p "$T/sbin"
  printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$LG_BIN" "$ROOT" >"$T/sbin/lastgood"
  chmod +x "$T/sbin/lastgood"
  LASTGOOD_GRUB_LINUX_SCRIPT=$T/10_linux "$T/42_lastgood" >"$T/grub.out" 2>"$T/grub.err" ||
    fail "42_lastgood failed: $(cat "$T/grub.err")"
}

# The shipped policy: require_code is true, so the entry is generated; it
# must not inherit --unrestricted, must check the code with regexp (exactly
# 8 digits) and pass it as one quoted word, so "12345678 init=/bin/sh"
# typed at the prompt never reaches the kernel's command line.
t_grub_entry_is_protected_and_takes_one_checked_code() {
  attack_10_linux
  install -D -m 0644 "$TOP/config/policy.yaml" "$ROOT/etc/lastgood/policy.yaml"
  "$T/10_linux" | grep -q -- '--unrestricted' || fail "control: the stand-in 10_linux has no --unrestricted"
  grub_generate
  local out
  out=$(cat "$T/grub.out")
  assert_eq "$(grep -c '^menuentry' <<<"$out")" 1 "the shipped policy gives one safe-mode entry"
  ! grep -q -- '--unrestricted' <<<"$out" || fail "the safe-mode entry carries --unrestricted: $out"
  grub-script-check "$T/grub.out" || fail "grub-script-check rejects the entry: $out"

  # The code length is lastgood's (agent/hotp.h), not a guess.
  local digits
  digits=$(awk '$2 == "HOTP_DIGITS" { print $3 }' "$TOP/agent/hotp.h")
  [[ -n $digits ]] || fail "control: HOTP_DIGITS not found in agent/hotp.h"
  # The regexp GRUB runs; GRUB's regexp is POSIX ERE, as grep -E.
  local re
  re=$(grep -oP "^\tif regexp '\K[^']+(?=' \"\\$\{lastgood_code\}\"; then$)" <<<"$out")
  assert_eq "$re" "^[0-9]{$digits}\$" "the code check"
  grep -qE "$re" <<<"12345678" || fail "control: the check refuses a well-formed code"
  local bad
  for bad in "12345678 init=/bin/sh" "1234567" "123456789" "" "1" "1234567a" '$(x)5678'; do
    ! grep -qE "$re" <<<"$bad" || fail "the check lets through [$bad]"
  done

  # Every use of the code is quoted, and the only kernel line sits inside the check.
  assert_eq "$(grep -o '.\${lastgood_code}' <<<"$out" | sort -u)" '"${lastgood_code}' "an unquoted use of the code"
  awk '/^\tif regexp /{i=1} /^\telse$/{i=0} /^[ \t]*(linux|initrd)[ \t]/ && !i {bad=1} END{exit bad}' \
    "$T/grub.out" || fail "a linux/initrd line outside the code check: $out"
  grep -qP '^\t\tlinux\t/boot/vmlinuz-6.1.0-56-amd64 .* lastgood.safemode="\$\{lastgood_code\}"$' <<<"$out" ||
    fail "the code is not passed as one quoted word: $out"
}

# No codes required: no entry at all (it would be a password-free "security
# off" item). Control: the same policy with require_code true gives one.
t_grub_no_entry_without_require_code() {
  attack_10_linux
  write_policy 'version: 1
safe_mode:
  require_code: false'
  grub_generate
  assert_eq "$(cat "$T/grub.out")" "" "an entry without require_code"
  grep -q 'require_code is not true' "$T/grub.err" || fail "no reason given: $(cat "$T/grub.err")"
  write_policy 'version: 1
safe_mode:
  require_code: true'
  grub_generate
  assert_eq "$(grep -c '^menuentry' "$T/grub.out")" 1 "control: require_code true gives the entry"
}

# --- Console requests when codes are required -------------------------------

# As shipped (no safe_mode key at all), a bare lastgood.safemode, an empty
# or "1"/"yes" value, or an empty ESP file never give safe mode — enrolled
# secret or not. Controls: require_code: false honours the same command line;
# root's `safe-mode --next-boot` stays code-free under the shipped default.
t_bare_safemode_refused_as_shipped() {
  write_policy 'version: 1
boot:
  state: file'
  local c
  for enrolled in no yes; do
    [[ $enrolled == yes ]] && { lg helpdesk enroll; assert_rc 0 "enroll"; }
    for c in "lastgood.safemode" "lastgood.safemode=" "lastgood.safemode=1" "lastgood.safemode=yes" \
      'lastgood.safemode="12345678 init=/bin/sh"'; do
      CMDLINE="quiet $c"
      boot_confirmed; assert_eq "$MODE" mode=normal "[$c] (enrolled: $enrolled)"
    done
    CMDLINE=quiet
    mkdir -p "$T/esp/EFI/lastgood"; : >"$T/esp/EFI/lastgood/safemode"
    boot_confirmed; assert_eq "$MODE" mode=normal "an empty ESP request (enrolled: $enrolled)"
  done

  lg safe-mode --next-boot; assert_rc 0 "safe-mode --next-boot"
  boot_confirmed; assert_eq "$MODE" mode=safe "root's --next-boot needs no code"

  write_policy 'version: 1
boot:
  state: file
safe_mode:
  require_code: false'
  CMDLINE="quiet lastgood.safemode"
  boot_confirmed; assert_eq "$MODE" mode=safe "control: require_code false honours a bare lastgood.safemode"
}


# ---- finding 8: a vendor's modprobe.d "install" line cannot outrank a block ----

ATTACK_MODPROBE_POLICY='version: 1
boot:
  max_failed_boots: 2
  state: file
components:
  - name: edr
    content: [/etc/edr]
    kernel_modules: [fakesensor]'

# The real modprobe (kmod) reading the test root's configuration in kmod's
# own order (libkmod.c default_config_paths; -C may be given several times):
# one sorted list across these, a name in an earlier one hiding a later one.
attack_modprobe() {
  mkdir -p "$ROOT/lib/modules/$(uname -r)"
  modprobe -d "$ROOT" -C "$ROOT/etc/modprobe.d" -C "$ROOT/run/modprobe.d" -C "$ROOT/usr/local/lib/modprobe.d" \
    -C "$ROOT/usr/lib/modprobe.d" -C "$ROOT/lib/modprobe.d" -n -v "$1" 2>&1
}

attack_vendor_files() {
  mkdir -p "$ROOT/etc/modprobe.d" "$ROOT/usr/lib/modprobe.d" "$ROOT/etc/edr"
  echo 'install fakesensor /sbin/modprobe --ignore-install fakesensor' >"$ROOT/usr/lib/modprobe.d/00-vendor.conf"
  echo 'install fakesensor /sbin/modprobe --ignore-install fakesensor $CMDLINE_OPTS' >"$ROOT/etc/modprobe.d/0-vendor.conf"
  echo good >"$ROOT/etc/edr/rules"
}

# attack_modprobe_setup — the policy, the vendor's files, a confirmed boot.
attack_modprobe_setup() {
  write_policy "$ATTACK_MODPROBE_POLICY"
  attack_vendor_files
  grep -q 'ignore-install' <<<"$(attack_modprobe fakesensor)" || fail "setup: the vendor line is not in effect"
  boot; lg confirm; assert_rc 0 "confirm"
}

# block_wins FILE OLD WHAT — kmod runs /bin/false for fakesensor with
# lastgood's FILE in place; control: renamed to its OLD name, the vendor's
# line wins again (so the name is what makes the block stick).
block_wins() {
  local out
  out=$(attack_modprobe fakesensor)
  grep -qx 'install /bin/false *' <<<"$out" || fail "the vendor's install line outranks $3: $out"
  mv "$1" "$(dirname "$1")/$2"
  out=$(attack_modprobe fakesensor)
  grep -q 'ignore-install' <<<"$out" || fail "control: $3 under the old name was expected to lose: $out"
}

t_attack_vendor_install_line_loses_to_quarantine() {
  command -v modprobe >/dev/null || { echo "# skip: no modprobe"; return 0; }
  attack_modprobe_setup
  lg quarantine apply edr; assert_rc 0 "quarantine apply"
  block_wins "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf" lastgood-quarantine.conf "the quarantine"
}

t_attack_vendor_install_line_loses_to_safe_mode() {
  command -v modprobe >/dev/null || { echo "# skip: no modprobe"; return 0; }
  attack_modprobe_setup
  lg safe-mode --next-boot; assert_rc 0 "safe-mode --next-boot"
  boot; assert_out 'mode=safe'
  block_wins "$ROOT/run/modprobe.d/#lastgood-safemode.conf" lastgood-safemode.conf "safe mode"
}

# Upgrading: the old generated file goes (its blocks are in the new one); an
# admin's file that only shares the old name stays.
t_attack_quarantine_removes_its_legacy_modprobe_file() {
  attack_modprobe_setup
  printf '# Generated by lastgood: kernel modules of quarantined components.\ninstall old /bin/false\n' \
    >"$ROOT/etc/modprobe.d/lastgood-quarantine.conf"
  lg quarantine apply edr; assert_rc 0 "quarantine apply"
  assert_no_file "$ROOT/etc/modprobe.d/lastgood-quarantine.conf"
  assert_file "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf"
  # A quarantine an older lastgood left under the old name: the next boot
  # moves it, and the block wins again.
  mv "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf" "$ROOT/etc/modprobe.d/lastgood-quarantine.conf"
  boot
  assert_no_file "$ROOT/etc/modprobe.d/lastgood-quarantine.conf"
  grep -qx 'install fakesensor /bin/false' "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf" ||
    fail "boot did not move the legacy block: $(ls "$ROOT/etc/modprobe.d")"
  lg quarantine release edr; assert_rc 0
  echo 'options snd index=1' >"$ROOT/etc/modprobe.d/lastgood-quarantine.conf"
  lg quarantine apply edr; assert_rc 0 "quarantine apply (admin's file)"
  assert_eq "$(cat "$ROOT/etc/modprobe.d/lastgood-quarantine.conf")" 'options snd index=1' "an admin's file was touched"
}

# ---- finding 10a: the metrics textfile is never written through a symlink ----

# node_exporter's directory belongs to its user; a symlink put there must not
# make root write lastgood.prom elsewhere (here /etc/cron.d, inside the root:
# a symlink out of it is already resolved inside). Control: the same path as
# a real directory is written.
t_attack_textfile_not_written_through_symlinked_dir() {
  write_policy 'version: 1
boot:
  state: file'
  mkdir -p "$ROOT/var/lib/prometheus" "$ROOT/etc/cron.d" "$T/outside"
  ln -s /etc/cron.d "$ROOT/var/lib/prometheus/node-exporter"
  boot; assert_rc 0 "boot"
  assert_no_file "$ROOT/etc/cron.d/lastgood.prom"
  [[ -z $(ls -A "$ROOT/etc/cron.d") ]] || fail "something was written through the link: $(ls -A "$ROOT/etc/cron.d")"
  assert_err 'Failed to write the metrics textfile'
  # A symlink higher up, and one pointing out of the root.
  rm "$ROOT/var/lib/prometheus/node-exporter"
  mv "$ROOT/var/lib/prometheus" "$ROOT/var/lib/prom-real"
  mkdir "$ROOT/var/lib/prom-real/node-exporter"
  ln -s prom-real "$ROOT/var/lib/prometheus"
  boot; assert_rc 0 "boot (link higher up)"
  assert_no_file "$ROOT/var/lib/prom-real/node-exporter/lastgood.prom"
  rm "$ROOT/var/lib/prometheus"; mkdir -p "$ROOT/var/lib/prometheus"
  ln -s "$T/outside" "$ROOT/var/lib/prometheus/node-exporter"
  boot; assert_rc 0 "boot (link out of the root)"
  [[ -z $(ls -A "$T/outside") ]] || fail "written outside the root: $(ls -A "$T/outside")"
  # Control: a real directory gets the file.
  rm "$ROOT/var/lib/prometheus/node-exporter"; mkdir "$ROOT/var/lib/prometheus/node-exporter"
  boot; assert_rc 0 "boot (real directory)"
  assert_file "$ROOT/var/lib/prometheus/node-exporter/lastgood.prom"
}

# ---- findings 3 and 4: forged state, hostile state paths ----

ATTACK_STATE_FILE=var/lib/lastgood/state

# forge_record FILE VERSION FIELD=VALUE… [key=KEYFILE] — a well-formed state
# record written independently of lastgood (tests/forge-state.py).
forge_record() { python3 "$TOP/tests/forge-state.py" "$@"; }

# lg with a time bound: a boot that hangs on a planted FIFO fails the test.
lg_bounded() {
  printf '#!/bin/sh\nexec timeout 30 %q "$@"\n' "$LG_BIN" >"$T/lg-bounded"
  chmod +x "$T/lg-bounded"
  LG_BIN=$T/lg-bounded lg "$@"
}

# Whatever sits at the state path (FIFO, socket, device, symlink to a valid
# record, directory), `boot` ends in bounded time and counts the previous
# boot as failed — never as a fresh, healthy machine (failed_boots 0).
# Control: the confirmed record as a regular file counts nothing.
t_attack_state_path_hostile_objects() {
  write_policy 'version: 1
boot:
  max_failed_boots: 3
  state: file'
  local f=$ROOT/$ATTACK_STATE_FILE kind
  for kind in regular fifo socket device symlink directory; do
    [[ $kind == device && $(id -u) != 0 ]] && continue
    rm -rf "$f" "$EFI"/*; boot; lg confirm; assert_rc 0 "$kind: confirm"
    cp "$f" "$T/good"
    case $kind in
      fifo) rm "$f"; mkfifo "$f" ;;
      socket) rm "$f"; python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$f" ;;
      device) rm "$f"; mknod "$f" c 1 5 ;; # /dev/zero
      symlink) mv "$f" "$f.real"; ln -s state.real "$f" ;;
      directory) rm "$f"; mkdir "$f" ;;
    esac
    new_boot; lg_bounded boot; assert_rc 0 "$kind: boot"
    if [[ $kind == regular ]]; then
      assert_eq "$(LG_BIN=$T/lg-bounded status_field failed_boots)" 0 "control: a confirmed record counts nothing"
      continue
    fi
    assert_err 'Corrupt state record'
    assert_eq "$(LG_BIN=$T/lg-bounded status_field failed_boots)" 1 "$kind: the previous boot counts as failed"
  done
}

# A forged generation of 2^64-1 is implausible: a corrupt copy, not a
# record after which every write is "older" (or wraps to 0).
t_attack_state_forged_max_generation() {
  write_policy 'version: 1
boot:
  state: file'
  local f=$ROOT/$ATTACK_STATE_FILE
  boot; lg confirm
  forge_record "$f" 4 generation=18446744073709551615 key="$ROOT/var/lib/lastgood/state.key"
  boot; assert_rc 0
  assert_err 'Corrupt state record'
  boot
  assert_eq "$(status_field failed_boots)" 2 "counting goes on from the conservative restart"
  python3 -c 'import struct,sys; g=struct.unpack_from("<Q", open(sys.argv[1],"rb").read(), 8)[0]; sys.exit(not 0 < g < 2**48)' "$f" ||
    fail "the generation wrapped or stayed implausible"
  # Control: the same record with a plausible generation is read.
  forge_record "$f" 4 generation=1000 total_boots=77 key="$ROOT/var/lib/lastgood/state.key"
  boot
  assert_eq "$(status_field total_boots)" 78 "control: a plausible signed record is the record"
}

# Finding 3: a record someone wrote from another OS asks for safe mode at
# every boot (2^32-1 pending). Unsigned, it asks for nothing; the control
# (the same record signed with the root's key) is honoured — and capped.
t_attack_state_forged_safe_mode_request() {
  write_policy 'version: 1
boot:
  state: file'
  local f=$ROOT/$ATTACK_STATE_FILE key=$ROOT/var/lib/lastgood/state.key
  boot; lg confirm
  assert_file "$key"
  assert_eq "$(stat -c '%a %u' "$key")" "600 $(id -u)" "the key is root-only"
  forge_record "$f" 4 generation=50 safe_mode_requested=4294967295
  boot; assert_out 'mode=normal'
  assert_err 'not authenticated'
  lg confirm
  forge_record "$f" 4 generation=60 safe_mode_requested=4294967295 key="$key"
  boot; assert_out 'mode=safe'
  assert_not_out 'not authenticated'
}

# Finding 3: a forged record that says the sensor's incident is at step 1
# with 50 failed boots, and no crash record at all: nothing is quarantined,
# signed or not — the suspect is weighed again from the root's evidence (no
# crash record, nothing changed), not taken from NVRAM.
t_attack_state_forged_ladder_does_not_quarantine() {
  write_policy 'version: 1
boot:
  max_failed_boots: 2
  state: file
recovery:
  ladder: [restore-content, quarantine]
components:
  - name: sensor
    content: [/etc/sensor]
    kernel_modules: [fakesensor]
    units: [sensor.service]'
  mkdir -p "$ROOT/etc/sensor" "$ROOT/etc/modprobe.d" "$ROOT/etc/systemd/system"
  echo good >"$ROOT/etc/sensor/rules"
  boot; lg confirm; assert_rc 0 "confirm"
  local f=$ROOT/$ATTACK_STATE_FILE key=$ROOT/var/lib/lastgood/state.key signed
  for signed in no yes; do
    forge_record "$f" 4 generation=100 total_boots=10 failed_boots=50 step_failed_boots=50 in_boot=1 \
      incident=1 ladder_step=1 last_action=1 culprit=sensor $([[ $signed == yes ]] && echo key="$key")
    boot; assert_rc 0 "boot (signed: $signed)"
    assert_not_out 'quarantine'
    assert_no_file "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf"
    [[ ! -L "$ROOT/etc/systemd/system/sensor.service" ]] || fail "the unit was masked (signed: $signed)"
    lg confirm
  done
  assert_eq "$(status_field culprit)" null "unsigned: no culprit taken from the record"
}

# The control for the test above: a real crash record naming the module
# does reach quarantine (the ladder works when the evidence is on the root).
t_attack_state_forged_ladder_control_real_crash() {
  write_policy 'version: 1
boot:
  max_failed_boots: 2
  state: file
recovery:
  ladder: [quarantine]
components:
  - name: sensor
    content: [/etc/sensor]
    kernel_modules: [fakesensor]'
  mkdir -p "$ROOT/etc/sensor" "$ROOT/etc/modprobe.d"
  echo good >"$ROOT/etc/sensor/rules"
  boot; lg confirm
  local i
  for i in 1 2 3; do cp "$FIXTURES"/pstore/sensor-module/dmesg-efi-* "$PSTORE/"; boot; done
  grep -q 'fakesensor' "$ROOT/etc/modprobe.d/#lastgood-quarantine.conf" 2>/dev/null ||
    fail "control: real crash records did not quarantine: $OUT"
}

# Upgrading from version 3 (no MAC, no key yet): the genuine count is kept
# and the boot counted conservatively. Once a key exists, the same unsigned
# record restarts the count (a forged failed_boots starts nothing).
t_attack_state_v3_upgrade_keeps_count() {
  write_policy 'version: 1
boot:
  max_failed_boots: 5
  state: file'
  local f=$ROOT/$ATTACK_STATE_FILE
  mkdir -p "$ROOT/var/lib/lastgood"
  forge_record "$f" 3 generation=9 total_boots=9 failed_boots=2 in_boot=1 culprit=sensor ladder_step=1
  boot; assert_rc 0
  assert_eq "$(status_field failed_boots)" 3 "the v3 count is kept and this boot counted"
  assert_eq "$(status_field culprit)" null "but not its culprit"
  assert_file "$ROOT/var/lib/lastgood/state.key"
  forge_record "$f" 3 generation=19 total_boots=19 failed_boots=2 in_boot=1
  boot
  assert_eq "$(status_field failed_boots)" 1 "with a key, an unsigned record's count restarts"
}

# ---- finding 7: the event log's tail is anchored in the state record ----

# log_head_seq — the head the state record carries (agent/state.h, v4).
log_head_seq() {
  python3 -c 'import struct,sys; print(struct.unpack_from("<Q", open(sys.argv[1],"rb").read(), 335)[0])' \
    "$ROOT/$ATTACK_STATE_FILE"
}

log_setup() {
  write_policy 'version: 1
boot:
  state: file'
  # Unconfirmed boots log events (boot-counted): the last boot's head is the last line.
  boot; boot; lg confirm; boot; boot
  LOG=$ROOT/var/lib/lastgood/events.jsonl
  HEAD=$(log_head_seq)
  [[ $HEAD -ge 2 && $HEAD == $(wc -l <"$LOG") ]] || fail "setup: head $HEAD, log $(wc -l <"$LOG") lines"
  lg log verify --json; assert_rc 0 "control: the untouched log"
  assert_eq "$(jq -r .anchored <<<"$OUT")" true "verify uses the state record's head"
  cp "$LOG" "$T/log.orig"
}

# Truncation, an edit of the last line, a wholesale replacement: the chain
# alone passes each, the head in the state record does not. Control: a log
# that grew past the head (confirm appends after boot's last write) passes.
t_attack_log_tail_tampering() {
  log_setup
  lg confirm; lg confirm
  lg log verify; assert_rc 0 "control: events after the head are fine"

  head -n 1 "$T/log.orig" >"$LOG"
  lg log verify; assert_rc 1 "truncated"
  assert_err 'lines were removed at the end'

  sed '$ s/"message":"/"message":"X/' "$T/log.orig" >"$LOG"
  ! cmp -s "$LOG" "$T/log.orig" || fail "setup: the last line was not edited"
  lg log verify; assert_rc 1 "last line edited"
  assert_err 'is not the line the state record saw'

  # A fresh chain computed by lastgood itself, in another root, put in place.
  local other=$T/other i
  mkdir -p "$other/etc/lastgood"; cp "$ROOT/etc/lastgood/policy.yaml" "$other/etc/lastgood/"
  # Unconfirmed boots, each logging boot-counted: a chain as long as the head.
  for i in 1 2 3 4 5 6 7 8; do
    EFIVARFS_PATH="$EFI/" LASTGOOD_BOOT_ID=$(cat /proc/sys/kernel/random/uuid) \
      "$LG_BIN" --root "$other" --pstore "$PSTORE" --cmdline quiet boot >/dev/null 2>&1
  done
  cp "$other/var/lib/lastgood/events.jsonl" "$LOG" || fail "setup: no fresh chain was made"
  [[ $(wc -l <"$LOG") -ge $HEAD ]] || fail "setup: the fresh chain is shorter than the head"
  lg log verify; assert_rc 1 "replaced by a fresh chain"
  assert_err 'freshly computed chain'

  cp "$T/log.orig" "$LOG"
  lg log verify; assert_rc 0 "control: the original back in place"
}

# A garbage line makes the next append set the log aside (.broken-*) and
# start a new chain: that passes (the head is in the log set aside);
# deleting the set-aside file does not.
t_attack_log_set_aside_file_deleted() {
  log_setup
  echo 'not an event' >>"$LOG"
  lg confirm
  local broken
  broken=$(ls "$ROOT"/var/lib/lastgood/events.jsonl.broken-* 2>/dev/null | head -1)
  [[ -n $broken ]] || fail "setup: the log was not set aside"
  lg log verify; assert_rc 0 "control: the set-aside log holds the head"
  boot; lg log verify; assert_rc 0 "control: the next boot's head, in the new chain"
  rm "$broken"
  lg log verify; assert_rc 1 "the set-aside log deleted"
  assert_err 'is missing \(deleted\?\)'
}

# The head is only taken from a record that authenticates: a forged one
# cannot make verify fail or pass; verify then says it checked the chain only.
t_attack_log_head_from_unsigned_record_ignored() {
  log_setup
  forge_record "$ROOT/$ATTACK_STATE_FILE" 4 generation=500
  lg log verify --json; assert_rc 0
  assert_eq "$(jq -r .anchored <<<"$OUT")" false "an unsigned record anchors nothing"
}

# ---- finding 5: a policy that fails closed ----

# The main policy leaves console requests code-free; a hardening drop-in
# turns codes on and keeps the EDR from ever being disabled.
hardened_and_confirmed() {
  write_policy 'version: 1
boot: {state: file}
safe_mode: {require_code: false}
components:
  - name: edr
    content: [/opt/edr]
    units: [edr.service]'
  mkdir -p "$ROOT/etc/lastgood/policy.d"
  printf 'safe_mode: {require_code: true}\ncomponents:\n  - name: edr\n    quarantine: never\n    safe_mode: keep\n' \
    >"$ROOT/etc/lastgood/policy.d/50-harden.yaml"
  chmod 0644 "$ROOT/etc/lastgood/policy.d/50-harden.yaml"
  boot; lg confirm; assert_rc 0 "confirm"
}

assert_still_hardened() { # assert_still_hardened WHAT
  lg policy check --json
  assert_eq "$(jq -r '.safe_mode.require_code' <<<"$OUT")" true "$1: require_code"
  assert_eq "$(jq -r '.components[0].quarantine' <<<"$OUT")" never "$1: quarantine"
  assert_eq "$(jq -r '.components[0].safe_mode' <<<"$OUT")" keep "$1: safe_mode"
}

t_attack_hardening_dropin_made_group_writable() {
  hardened_and_confirmed
  chmod 0664 "$ROOT/etc/lastgood/policy.d/50-harden.yaml"
  assert_still_hardened "0664 drop-in"
  assert_eq "$(status_field policy_fallback.kind)" last-good
  # Without a copy, strict settings, not the drop-in-less defaults.
  rm "$ROOT/var/lib/lastgood/policy.last-good"
  assert_still_hardened "0664 drop-in, no copy"
  assert_eq "$(status_field policy_fallback.kind)" strict
}

t_attack_hardening_dropin_with_a_newer_key() {
  hardened_and_confirmed
  printf 'safe_mode: {require_code: true, require_two_codes: true}\n' \
    >"$ROOT/etc/lastgood/policy.d/50-harden.yaml"
  assert_still_hardened "unknown key"
  # Negative control: the same drop-in, valid, is applied as written.
  printf 'safe_mode: {require_code: false}\n' >"$ROOT/etc/lastgood/policy.d/50-harden.yaml"
  lg policy check --json
  assert_rc 0
  assert_eq "$(jq -r '.safe_mode.require_code' <<<"$OUT")" false "valid drop-in applies"
  assert_eq "$(jq -r '.components[0].quarantine' <<<"$OUT")" allow "valid drop-in applies"
}

t_attack_writable_policy_directory() {
  hardened_and_confirmed
  # Whoever writes /etc/lastgood could rename a policy of theirs over the file.
  chmod 0777 "$ROOT/etc/lastgood"
  assert_still_hardened "writable /etc/lastgood"
  assert_err "/etc/lastgood:1:1: refusing untrusted policy directory"
}

run_tests
