#!/bin/bash
# Layered policy directories (/etc/lastgood/policy.d over /usr/lib/lastgood/policy.d),
# masking, the `profile` verb, and `policy check`'s warnings about what this
# machine lacks (content paths, units, kernel modules through libkmod).
source "$(dirname "$0")/lib.sh"

ETC_D=etc/lastgood/policy.d
VENDOR_D=usr/lib/lastgood/policy.d
PROFILES=usr/share/lastgood/profiles
KVER=6.1.0-lastgood-test

# put DIR NAME YAML — a root-owned 0644 drop-in (directories 0755).
put() {
  mkdir -p "$ROOT/$1"
  chmod 0755 "$ROOT/$1" "$(dirname "$ROOT/$1")"
  printf '%s\n' "$3" >"$ROOT/$1/$2"
  chmod 0644 "$ROOT/$1/$2"
}

# check_mfb EXPECTED [WHY] — `policy check --json` (in $OUT, $RC) gives boot.max_failed_boots EXPECTED.
check_mfb() { lg --json policy check; assert_eq "$(jq -r '.boot.max_failed_boots' <<<"$OUT")" "$1" "${2:-max_failed_boots}"; }

t_vendor_dropin_applies() {
  put "$VENDOR_D" 50-sensor.yaml 'boot: {max_failed_boots: 7}'
  check_mfb 7
  assert_rc 0
  assert_eq "$(jq -c '.files' <<<"$OUT")" '["/usr/lib/lastgood/policy.d/50-sensor.yaml"]'
}

t_etc_overrides_same_name() {
  put "$VENDOR_D" 50-sensor.yaml 'boot: {max_failed_boots: 7}'
  put "$ETC_D" 50-sensor.yaml 'boot: {max_failed_boots: 5}'
  check_mfb 5 "the /etc file wins its name"
  assert_eq "$(jq -c '.files' <<<"$OUT")" '["/etc/lastgood/policy.d/50-sensor.yaml"]' "the vendor file is not read"
  assert_eq "$(jq -c '.overridden' <<<"$OUT")" '["/usr/lib/lastgood/policy.d/50-sensor.yaml"]'
  lg policy check
  assert_out '^# overridden by the same name in /etc/lastgood/policy.d:$'
  lg status --json
  assert_eq "$(jq -c '.policy_overridden' <<<"$OUT")" '["/usr/lib/lastgood/policy.d/50-sensor.yaml"]'
  lg status
  assert_out '^  overridden +/usr/lib/lastgood/policy.d/50-sensor.yaml$'
}

t_dev_null_link_masks() {
  put "$VENDOR_D" 50-sensor.yaml 'boot: {max_failed_boots: 7}'
  mkdir -p "$ROOT/$ETC_D"
  ln -s /dev/null "$ROOT/$ETC_D/50-sensor.yaml"
  check_mfb 3 "masked: the default"
  assert_rc 0
  assert_eq "$(jq -c '.masked' <<<"$OUT")" '["/usr/lib/lastgood/policy.d/50-sensor.yaml"]'
  assert_eq "$(jq -c '.files' <<<"$OUT")" '[]'
  lg status
  assert_out '^  masked +/usr/lib/lastgood/policy.d/50-sensor.yaml$'
  # Negative control: without the mask the vendor file applies.
  rm "$ROOT/$ETC_D/50-sensor.yaml"
  check_mfb 7
}

t_empty_file_does_not_mask() {
  put "$VENDOR_D" 50-sensor.yaml 'boot: {max_failed_boots: 7}'
  mkdir -p "$ROOT/$ETC_D"
  : >"$ROOT/$ETC_D/50-sensor.yaml"; chmod 0644 "$ROOT/$ETC_D/50-sensor.yaml"
  lg policy check
  assert_rc 2
  assert_err '^/etc/lastgood/policy.d/50-sensor.yaml:1:1: empty policy'
}

t_merge_order_across_directories() {
  # One list sorted by file name, whichever directory each file is in.
  put "$VENDOR_D" 10-a.yaml 'boot: {max_failed_boots: 4}
components:
  - name: edr
    content: [/opt/edr]
    quarantine: allow'
  put "$ETC_D" 20-b.yaml 'boot: {max_failed_boots: 5}
components:
  - name: edr
    quarantine: never'
  put "$VENDOR_D" 30-c.yaml 'boot: {max_failed_boots: 6}'
  check_mfb 6
  assert_eq "$(jq -c '.files' <<<"$OUT")" \
    '["/usr/lib/lastgood/policy.d/10-a.yaml","/etc/lastgood/policy.d/20-b.yaml","/usr/lib/lastgood/policy.d/30-c.yaml"]'
  assert_eq "$(jq -r '.components[0].quarantine' <<<"$OUT")" never "20-b (etc) merges over 10-a (vendor)"
  mv "$ROOT/$VENDOR_D/30-c.yaml" "$ROOT/$VENDOR_D/05-c.yaml"
  check_mfb 5 "05-c now comes first"
}

t_group_writable_vendor_dir_refused() {
  put "$VENDOR_D" 50-sensor.yaml 'boot: {max_failed_boots: 7}'
  chmod 0775 "$ROOT/$VENDOR_D"
  lg --json policy check
  assert_rc 2
  assert_eq "$(jq -r '.boot.max_failed_boots' <<<"$OUT")" 3 "nothing of it applies"
  assert_err '^/usr/lib/lastgood/policy.d:1:1: refusing untrusted policy directory: owner uid 0, mode 0775'
  chmod 0755 "$ROOT/$VENDOR_D"
  chmod 0777 "$ROOT/usr/lib/lastgood"
  lg policy check
  assert_rc 2
  assert_err '^/usr/lib/lastgood:1:1: refusing untrusted policy directory'
  chmod 0755 "$ROOT/usr/lib/lastgood"
  check_mfb 7 "trusted again"
  assert_rc 0
}

t_untrusted_vendor_file_refused() {
  put "$VENDOR_D" 50-sensor.yaml 'boot: {max_failed_boots: 7}'
  chown nobody "$ROOT/$VENDOR_D/50-sensor.yaml"
  lg policy check
  assert_rc 2
  assert_err '^/usr/lib/lastgood/policy.d/50-sensor.yaml:1:1: refusing untrusted policy file'
}

FB_POLICY='version: 1
boot:
  state: file
components:
  - name: edr
    content: [/opt/edr]'

t_broken_vendor_dropin_falls_back_to_last_good() {
  write_policy "$FB_POLICY"
  boot; lg confirm; assert_rc 0 "confirm"
  assert_file "$ROOT/var/lib/lastgood/policy.last-good"
  put "$VENDOR_D" 50-sensor.yaml 'boot: {max_failed_boots: 99}'
  lg status --json
  assert_eq "$(jq -r '.policy_fallback.kind' <<<"$OUT")" last-good "fail closed, not defaults"
  assert_eq "$(jq -r '.policy_fallback.reason' <<<"$OUT")" \
    "/usr/lib/lastgood/policy.d/50-sensor.yaml:1:26: boot.max_failed_boots: expected an integer from 1 to 50, got '99'"
  assert_eq "$(jq -c '.components | map(.name)' <<<"$OUT")" '["edr"]'
}

# ---- symlinked drop-ins --------------------------------------------------

t_link_target_dir_must_be_trusted() {
  put "$PROFILES" acme.yaml 'boot: {max_failed_boots: 9}'
  mkdir -p "$ROOT/$ETC_D"
  ln -s "/$PROFILES/acme.yaml" "$ROOT/$ETC_D/acme.yaml"
  check_mfb 9
  assert_rc 0
  chmod 0775 "$ROOT/$PROFILES"
  lg policy check
  assert_rc 2
  assert_err "^/$PROFILES:1:1: refusing untrusted policy directory: owner uid 0, mode 0775"
}

t_link_to_link_or_dotdot_refused() {
  put "$PROFILES" acme.yaml 'boot: {max_failed_boots: 9}'
  ln -s acme.yaml "$ROOT/$PROFILES/alias.yaml"
  mkdir -p "$ROOT/$ETC_D"
  ln -s "/$PROFILES/alias.yaml" "$ROOT/$ETC_D/acme.yaml"
  lg policy check
  assert_rc 2
  assert_err "^/$ETC_D/acme.yaml:1:1: refusing symlink to '/$PROFILES/alias.yaml': it is itself a symlink"
  rm "$ROOT/$ETC_D/acme.yaml"
  ln -s "../../../$PROFILES/acme.yaml" "$ROOT/$ETC_D/acme.yaml"
  lg policy check
  assert_rc 2
  assert_err "^/$ETC_D/acme.yaml:1:1: refusing symlink to '../../../$PROFILES/acme.yaml': a drop-in link must"
}

t_dangling_link_is_an_error() {
  mkdir -p "$ROOT/$ETC_D" "$ROOT/$PROFILES"
  ln -s "/$PROFILES/gone.yaml" "$ROOT/$ETC_D/gone.yaml"
  lg policy check
  assert_rc 2
  assert_err "^/$ETC_D/gone.yaml:1:1: symlink to '/$PROFILES/gone.yaml': cannot open: No such file or directory"
}

# ---- lastgood profile -----------------------------------------------------

ALPHA='components:
  - name: alpha
    content: [/opt/alpha]
    quarantine: never'

t_profile_list_enable_disable() {
  put "$PROFILES" alpha.yaml "$ALPHA"
  put "$PROFILES" beta.yaml 'boot: {max_failed_boots: 4}'
  lg profile list
  assert_rc 0
  assert_out '^alpha +disabled$'
  assert_out '^beta +disabled$'
  lg profile enable alpha
  assert_rc 0
  assert_eq "$(readlink "$ROOT/$ETC_D/alpha.yaml")" "/$PROFILES/alpha.yaml"
  lg --json profile list
  assert_eq "$(jq -c '.profiles | map([.name, .state])' <<<"$OUT")" '[["alpha","enabled"],["beta","disabled"]]'
  lg --json policy check
  assert_rc 0
  assert_eq "$(jq -c '.components | map(.name)' <<<"$OUT")" '["alpha"]'
  lg profile enable alpha
  assert_rc 0
  assert_out 'already enabled'
  lg profile disable alpha
  assert_rc 0
  assert_no_file "$ROOT/$ETC_D/alpha.yaml"
  lg --json policy check
  assert_eq "$(jq -c '.components' <<<"$OUT")" '[]'
  lg profile disable alpha
  assert_rc 0
  assert_out 'already disabled'
  # Who changed the policy is in the event log (the no-op runs added nothing).
  SUDO_USER=erin lg log --json
  assert_eq "$(jq -r '[.[] | select(.type == "profile-enabled")] | length' <<<"$OUT")" 1
  assert_eq "$(jq -r '.[] | select(.type == "profile-enabled") | .evidence.target' <<<"$OUT")" "/$PROFILES/alpha.yaml"
  assert_eq "$(jq -r '[.[] | select(.type == "profile-disabled")] | length' <<<"$OUT")" 1
}

t_profile_events_name_the_actor() {
  put "$PROFILES" beta.yaml 'boot: {max_failed_boots: 4}'
  SUDO_USER=erin lg profile enable beta
  assert_rc 0
  lg log --json
  assert_eq "$(jq -r '.[] | select(.type == "profile-enabled") | .evidence.actor' <<<"$OUT")" "erin via sudo (uid 0)"
  # A refused change records nothing.
  lg profile enable nosuch
  lg log --json
  assert_eq "$(jq -r '[.[] | select(.type | startswith("profile-"))] | length' <<<"$OUT")" 1
}

t_profile_enable_invalid_combination_refused() {
  # alpha's content holds beta's: the merged policy is invalid (nesting).
  put "$PROFILES" beta.yaml 'components:
  - name: beta
    content: [/opt/alpha/beta]'
  put "$ETC_D" 10-local.yaml "$ALPHA"
  local before; before=$(ls -la --time-style=full-iso "$ROOT/$ETC_D")
  lg profile enable beta
  assert_rc 1
  assert_err "^/$PROFILES/beta.yaml:3:15: components\[0\].content\[0\]: '/opt/alpha/beta' lies in content '/opt/alpha'"
  assert_err 'Refusing to enable profile beta: the policy would be invalid'
  assert_no_file "$ROOT/$ETC_D/beta.yaml"
  assert_eq "$(ls -la --time-style=full-iso "$ROOT/$ETC_D")" "$before" "nothing changed"
  lg policy check
  assert_rc 0 "the policy is as valid as before"
}

t_profile_untrusted_profiles_dir_refused() {
  put "$PROFILES" beta.yaml 'boot: {max_failed_boots: 4}'
  chmod 0777 "$ROOT/$PROFILES"
  lg profile enable beta
  assert_rc 1
  assert_err "^/$PROFILES:1:1: refusing untrusted policy directory"
  assert_no_file "$ROOT/$ETC_D/beta.yaml"
}

t_profile_usage_and_unknown() {
  put "$PROFILES" beta.yaml 'boot: {max_failed_boots: 4}'
  lg profile enable nosuch
  assert_rc 2
  assert_err "Unknown profile 'nosuch'"
  lg profile enable ../beta
  assert_rc 2
  lg profile frobnicate
  assert_rc 2
  lg profile enable
  assert_rc 2
  assert_no_file "$ROOT/$ETC_D/beta.yaml"
}

t_profile_does_not_touch_local_files_or_masks() {
  put "$PROFILES" beta.yaml 'boot: {max_failed_boots: 4}'
  mkdir -p "$ROOT/$ETC_D"
  ln -s /dev/null "$ROOT/$ETC_D/beta.yaml"
  lg profile list
  assert_out '^beta +masked$'
  lg profile enable beta
  assert_rc 1
  assert_err 'is a mask'
  assert_eq "$(readlink "$ROOT/$ETC_D/beta.yaml")" /dev/null
  rm "$ROOT/$ETC_D/beta.yaml"
  put "$ETC_D" beta.yaml 'boot: {max_failed_boots: 6}'
  lg profile disable beta
  assert_rc 1
  assert_err 'is a local file'
  assert_file "$ROOT/$ETC_D/beta.yaml"
}

# The profiles H1 ships (dist/profiles), as `make install` lays them out.
t_shipped_profiles_enable_and_disable() {
  mkdir -p "$ROOT/$PROFILES"
  install -m 0644 "$TOP"/dist/profiles/*.yaml "$ROOT/$PROFILES/"
  local n f name
  n=$(ls "$TOP"/dist/profiles/*.yaml | wc -l)
  lg --json profile list
  assert_eq "$(jq '.profiles | length' <<<"$OUT")" "$n"
  for f in "$TOP"/dist/profiles/*.yaml; do
    name=$(basename "$f" .yaml)
    lg profile enable "$name"
    assert_rc 0 "enable $name"
    lg policy check
    assert_rc 0 "policy check with $name"
    lg profile disable "$name"
    assert_rc 0 "disable $name"
  done
  # A new admin: one command, then policy check says what the machine lacks.
  [[ -e $TOP/dist/profiles/falcon.yaml ]] || return 0
  lg profile enable falcon
  lg policy check
  assert_rc 0
  assert_err "^/$PROFILES/falcon.yaml:[0-9]+:[0-9]+: warning: component '[^']+': content path '/opt/CrowdStrike"
}

# ---- policy check: what this machine lacks --------------------------------

# fake_modules NAME… — modules built as tiny ELF objects in /lib/modules/$KVER
# beneath the root, indexed by the real depmod.
fake_modules() {
  local d=$ROOT/lib/modules/$KVER/extra m
  mkdir -p "$d"
  for m in "$@"; do
    echo 'static const char __attribute__((section(".modinfo"), used)) l[] = "license=GPL";' |
      gcc -x c -c - -o "$d/$m.ko"
  done
  printf 'kernel/fs/ext4.ko\n' >"$ROOT/lib/modules/$KVER/modules.builtin"
  depmod -b "$ROOT" "$KVER" 2>/dev/null || fail "depmod failed"
}

LINT='components:
  - name: acme
    content: [/opt/acme, /var/opt/acme/defs]
    units: [acme.service, "acme-*.service", getty@tty1.service]
    kernel_modules: [acme_core, "acme_lsm_*", ext4]'

t_warnings_name_file_line_col() {
  put "$ETC_D" 50-acme.yaml "$LINT"
  fake_modules other_mod
  lg policy check --kernel "$KVER"
  assert_rc 0 "warnings do not fail the check"
  local f=/$ETC_D/50-acme.yaml
  assert_err "^$f:3:15: warning: component 'acme': content path '/opt/acme' does not exist on this machine$"
  assert_err "^$f:3:26: warning: component 'acme': content path '/var/opt/acme/defs' does not exist"
  assert_err "^$f:4:13: warning: component 'acme': unit 'acme.service' is not installed"
  assert_err "^$f:4:27: warning: component 'acme': no installed unit matches 'acme-\*.service'"
  assert_err "^$f:4:45: warning: component 'acme': unit 'getty@tty1.service' is not installed"
  assert_err "^$f:5:22: warning: component 'acme': kernel module 'acme_core' is not installed for kernel $KVER$"
  assert_err "^$f:5:33: warning: component 'acme': no kernel module installed for kernel $KVER matches 'acme_lsm_\*'"
  ! grep -q "'ext4'" <<<"$ERR" || fail "a builtin module is installed: [$ERR]"
  lg --json policy check --kernel "$KVER"
  assert_eq "$(jq '.warnings | length' <<<"$OUT")" 7
}

t_no_warnings_when_present() {
  put "$ETC_D" 50-acme.yaml "$LINT"
  fake_modules acme_core acme-lsm-pinned-16306
  mkdir -p "$ROOT/opt/acme" "$ROOT/var/opt/acme/defs" "$ROOT/usr/lib/systemd/system" "$ROOT/etc/systemd/system"
  touch "$ROOT/usr/lib/systemd/system/acme.service" "$ROOT/usr/lib/systemd/system/acme-update.service" \
    "$ROOT/usr/lib/systemd/system/getty@.service"
  lg policy check --kernel "$KVER"
  assert_rc 0
  ! grep -q 'warning' <<<"$ERR" || fail "unexpected warnings: [$ERR]"
  lg --json policy check --kernel "$KVER"
  assert_eq "$(jq -c '.warnings' <<<"$OUT")" '[]'
}

t_warning_from_the_file_that_set_the_list() {
  put "$VENDOR_D" 10-acme.yaml "$LINT"
  put "$ETC_D" 20-acme.yaml 'components:
  - name: acme
    kernel_modules: [acme_other]'
  fake_modules acme_core
  lg policy check --kernel "$KVER"
  assert_err "^/$ETC_D/20-acme.yaml:3:22: warning: component 'acme': kernel module 'acme_other' is not installed"
  assert_err "^/$VENDOR_D/10-acme.yaml:3:15: warning: component 'acme': content path '/opt/acme'"
}

t_missing_module_tree_warns_once() {
  put "$ETC_D" 50-acme.yaml "$LINT"
  lg policy check --kernel 9.9.9-none
  assert_rc 0
  assert_err "^warning: /lib/modules/9.9.9-none does not exist on this machine: kernel_modules not checked"
  assert_eq "$(grep -c 'kernel_modules not checked' <<<"$ERR")" 1
}

t_modules_found_without_a_builtin_index() {
  put "$ETC_D" 50-acme.yaml 'components:
  - name: acme
    kernel_modules: [acme_core, "acme_lsm_*"]'
  fake_modules acme_core acme_lsm_x
  rm -f "$ROOT/lib/modules/$KVER"/modules.builtin*
  depmod -b "$ROOT" "$KVER" 2>/dev/null
  lg policy check --kernel "$KVER"
  assert_rc 0
  ! grep -q 'warning' <<<"$ERR" || fail "unexpected warnings: [$ERR]"
}

t_module_tree_without_index_warns() {
  put "$ETC_D" 50-acme.yaml "$LINT"
  mkdir -p "$ROOT/lib/modules/$KVER/extra"
  lg policy check --kernel "$KVER"
  assert_rc 0
  assert_err "^warning: /lib/modules/$KVER has no module index \(run depmod $KVER\): kernel_modules not checked"
  ! grep -q "kernel module 'acme_core'" <<<"$ERR" || fail "looked modules up without an index: [$ERR]"
}

# The boot path never loads libkmod; policy check does (positive control).
t_libkmod_only_loaded_by_policy_check() {
  if readelf -d "$LG_BIN" | grep -q 'NEEDED.*libkmod'; then fail "linked against libkmod"; fi
  put "$ETC_D" 50-acme.yaml "$LINT"
  fake_modules acme_core
  mkdir -p "$ROOT/var/lib/lastgood"
  LD_DEBUG=files "$LG_BIN" --root "$ROOT" --pstore "$ROOT/sys/fs/pstore" --cmdline quiet policy check \
    --kernel "$KVER" >/dev/null 2>"$T/ld-check"
  grep -q 'file=libkmod.so.2' "$T/ld-check" || fail "policy check did not load libkmod"
  EFIVARFS_PATH="$EFI/" LIBEFIVAR_OPS=efivarfs LD_DEBUG=files "$LG_BIN" --root "$ROOT" \
    --pstore "$ROOT/sys/fs/pstore" --cmdline quiet boot >/dev/null 2>"$T/ld-boot"
  grep -q 'file=libefivar' "$T/ld-boot" || fail "LD_DEBUG saw nothing of boot"
  ! grep -q 'libkmod' "$T/ld-boot" || fail "boot loaded libkmod"
}

run_tests
