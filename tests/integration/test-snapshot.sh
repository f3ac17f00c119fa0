#!/bin/bash
# Known-good content snapshots: `lastgood snapshot create|list|verify|restore|import`,
# hostile archives (imported and planted), pruning, and power cuts at every
# durable step of create and restore.
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
MKHOSTILE=$FIXTURES/archives/mkhostile.py
SNAPS=var/lib/lastgood/snapshots/sensor

policy_sensor() {
  write_policy "version: 1
components:
  - name: sensor
    content: [/etc/sensor]
${1:-}"
}

# A content tree with modes, symlinks (relative, inside), an empty dir and a
# file big enough for a truncation to hit its data.
make_content() {
  local d=$ROOT/etc/sensor
  mkdir -p "$d/sub" "$d/empty"
  echo hello >"$d/a.conf"; chmod 0640 "$d/a.conf"
  printf '#!/bin/sh\necho engine\n' >"$d/bin"; chmod 0755 "$d/bin"
  head -c 300000 /dev/urandom >"$d/big.bin"
  ln -s a.conf "$d/link"
  ln -s ../a.conf "$d/sub/up"
  chmod 0750 "$d/sub"
  echo "inside root, outside content" >"$ROOT/etc/canary"
}

# What the tree is: names, types, modes, owners, link targets, sizes, hashes.
tree_sig() {
  (cd "$1" && find . -printf '%p %y %m %U:%G %l %s\n' | sort
   find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}
save_live() { rm -rf "$T/copy"; cp -a "$ROOT/etc/sensor" "$T/copy"; }
assert_live_unchanged() {
  [[ "$(tree_sig "$ROOT/etc/sensor")" == "$(tree_sig "$T/copy")" ]] || fail "live content changed: $*"
}
assert_no_leftovers() {
  local left
  left=$(find "$ROOT" -name '.lastgood-restore*' -o -name '.work' -o -name 'restore.intent' 2>/dev/null)
  [[ -z "$left" ]] || fail "leftovers: $left"
}
# Nothing written outside the staging dir: canaries untouched or absent.
setup_canaries() {
  CANARY=$T/outside; export CANARY
  mkdir -p "$CANARY"
}
assert_canaries() {
  assert_eq "$(cat "$ROOT/etc/canary")" "inside root, outside content" "canary in the root"
  assert_eq "$(ls -A "$CANARY")" "" "canary dir outside the root"
  local f
  for f in canary-dotdot canary-escape canary-hardlink; do
    assert_no_file "$T/$f"; assert_no_file "$ROOT/$f"; assert_no_file "$ROOT/etc/$f"
  done
  assert_no_file "$ROOT/etc/other"
}
newest_snap() { ls -d "$ROOT/$SNAPS"/*/ 2>/dev/null | tail -1; }
n_snaps() { ls -d "$ROOT/$SNAPS"/*/ 2>/dev/null | wc -l; }

t_create_list_verify_restore_roundtrip() {
  policy_sensor; make_content; save_live
  lg snapshot create; assert_rc 0 "create"; assert_out "sensor: created snapshot"
  lg snapshot list --json; assert_rc 0
  assert_eq "$(jq -r '.[0].component' <<<"$OUT")" sensor
  assert_eq "$(jq -r '.[0].entries' <<<"$OUT")" 8 "entries"
  assert_eq "$(jq -r '.[0].compression' <<<"$OUT")" zstd
  assert_eq "$(jq -r '.[0].bad' <<<"$OUT")" false
  lg snapshot verify sensor; assert_rc 0 "verify"; assert_out "ok"
  # wreck the live content in every way, then restore
  echo broken >"$ROOT/etc/sensor/a.conf"; chmod 0777 "$ROOT/etc/sensor/bin"
  rm -r "$ROOT/etc/sensor/empty" "$ROOT/etc/sensor/link"; ln -s /etc/passwd "$ROOT/etc/sensor/sub/up2"
  echo new >"$ROOT/etc/sensor/added"
  lg snapshot restore sensor; assert_rc 0 "restore"; assert_out "restored snapshot"
  assert_live_unchanged "after restore"
  local keep; keep=$(ls -d "$ROOT"/var/lib/lastgood/replaced/sensor/*/etc/sensor)
  assert_eq "$(cat "$keep/a.conf")" broken "replaced content kept"
  assert_file "$keep/added"
  assert_no_leftovers
}

t_restore_content_path_missing_and_file_path() {
  write_policy "version: 1
components:
  - name: sensor
    content: [/etc/sensor, /usr/lib/sensor/engine.so]"
  make_content; mkdir -p "$ROOT/usr/lib/sensor"; echo v1 >"$ROOT/usr/lib/sensor/engine.so"
  save_live
  lg snapshot create; assert_rc 0
  rm -rf "$ROOT/etc/sensor"; echo v2 >"$ROOT/usr/lib/sensor/engine.so"
  lg snapshot restore sensor; assert_rc 0 "restore"
  assert_live_unchanged "dir restored from nothing"
  assert_eq "$(cat "$ROOT/usr/lib/sensor/engine.so")" v1 "single file restored"
  assert_no_leftovers
}

t_unchanged_content_makes_no_new_snapshot() {
  policy_sensor; make_content
  lg snapshot create; assert_rc 0; assert_out created
  sleep 0.1
  lg snapshot create; assert_rc 0; assert_out "unchanged since snapshot"
  assert_eq "$(n_snaps)" 1 "snapshots after an unchanged create"
  touch "$ROOT/etc/sensor/a.conf"   # stat data moves, content does not
  lg snapshot create; assert_rc 0; assert_out "unchanged"
  assert_eq "$(n_snaps)" 1 "snapshots after a touch"
  echo changed >>"$ROOT/etc/sensor/a.conf"
  lg snapshot create; assert_rc 0; assert_out created
  assert_eq "$(n_snaps)" 2 "snapshots after a change"
  lg snapshot create --force; assert_rc 0; assert_out created
  assert_eq "$(n_snaps)" 3 "forced"
}

t_keep_and_max_bytes_prune_oldest() {
  policy_sensor "snapshots:
  keep: 2"
  make_content
  local i
  for i in 1 2 3 4; do echo "$i" >"$ROOT/etc/sensor/a.conf"; lg snapshot create; assert_rc 0; done
  assert_eq "$(n_snaps)" 2 "keep: 2"
  echo 0 >"$ROOT/etc/sensor/a.conf"
  lg snapshot restore sensor; assert_rc 0
  assert_eq "$(cat "$ROOT/etc/sensor/a.conf")" 4 "newest kept"
  policy_sensor "snapshots:
  keep: 10
  max_bytes: 1M"
  head -c 700000 /dev/urandom >"$ROOT/etc/sensor/big.bin"; lg snapshot create; assert_rc 0
  assert_eq "$(n_snaps)" 2 "max_bytes: 1M"
  head -c 700000 /dev/urandom >"$ROOT/etc/sensor/big.bin"; lg snapshot create; assert_rc 0
  assert_eq "$(n_snaps)" 1 "max_bytes exceeded: only the newest stays"
  lg snapshot list --json; (( $(jq -r '.[0].expanded_bytes' <<<"$OUT") > 700000 )) || fail "the newest was pruned"
}

t_failed_verification_is_never_restored() {
  policy_sensor; make_content
  lg snapshot create; assert_rc 0; local old; old=$(basename "$(newest_snap)")
  save_live
  echo v2 >"$ROOT/etc/sensor/a.conf"; lg snapshot create; assert_rc 0
  local new; new=$(newest_snap)
  # corrupt the newest: flip bytes in the middle of its archive
  printf 'XXXXXXXX' | dd of="$new/content.tar.zst" bs=1 seek=2000 conv=notrunc status=none
  echo v3 >"$ROOT/etc/sensor/a.conf"
  lg snapshot restore sensor; assert_rc 0 "restore falls back"
  assert_out "restored snapshot $old"
  assert_err "Refusing snapshot sensor/$(basename "$new")"
  assert_live_unchanged "older verified snapshot restored"
  lg snapshot list --json
  assert_eq "$(jq -r ".[] | select(.id==\"$(basename "$new")\") | .bad" <<<"$OUT")" true "marked bad"
  lg snapshot verify sensor; assert_rc 1 "verify reports it"
  lg snapshot restore sensor "$(basename "$new")"; assert_rc 1 "explicit restore of a bad one"
  # with only bad snapshots, restore fails and touches nothing
  rm -rf "$ROOT/$SNAPS/$old"; save_live
  lg snapshot restore sensor; assert_rc 1 "nothing usable"
  assert_live_unchanged "no usable snapshot"
}

t_usage_errors() {
  policy_sensor; make_content
  lg snapshot create nosuch; assert_rc 2; assert_err "Unknown component 'nosuch'"
  lg snapshot restore; assert_rc 2
  lg snapshot restore nosuch; assert_rc 2
  lg snapshot frobnicate; assert_rc 2
  lg snapshot import sensor; assert_rc 2
  lg snapshot restore sensor not-an-id; assert_rc 2
}

t_import_valid_archive() {
  policy_sensor; setup_canaries
  $PY "$MKHOSTILE" ok "$T/vendor.tar.gz" || fail "mkhostile"
  lg snapshot import sensor "$T/vendor.tar.gz"; assert_rc 0 "import"; assert_out "imported"
  lg snapshot verify sensor; assert_rc 0
  lg snapshot restore sensor; assert_rc 0 "restore the import"
  assert_eq "$(cat "$ROOT/etc/sensor/vendor.conf")" vendor
  assert_eq "$(readlink "$ROOT/etc/sensor/lib/current")" ../vendor.conf
  assert_eq "$(stat -c %U "$ROOT/etc/sensor/vendor.conf")" root
  lg snapshot list --json; assert_eq "$(jq -r '.[0].source' <<<"$OUT")" import
}

t_gzip_fallback_when_zstd_is_unavailable() {
  policy_sensor; make_content; save_live
  LASTGOOD_TEST_NO_ZSTD=1 lg snapshot create; assert_rc 0
  assert_file "$(newest_snap)/content.tar.gz"
  echo broken >"$ROOT/etc/sensor/a.conf"
  LASTGOOD_TEST_NO_ZSTD=1 lg snapshot restore sensor; assert_rc 0
  assert_live_unchanged "gzip round trip"
}

# ---- hostile archives through `snapshot import` ----

# import_refused KIND MESSAGE [ENV…]
import_refused() {
  local kind=$1 msg=$2; shift 2
  policy_sensor; make_content; save_live; setup_canaries
  $PY "$MKHOSTILE" "$kind" "$T/h.tar.gz" || { fail "mkhostile $kind"; return; }
  (($#)) && export "$@"
  lg snapshot import sensor "$T/h.tar.gz"
  assert_rc 1 "import $kind"
  assert_err "$msg"
  assert_eq "$(n_snaps)" 0 "nothing stored for $kind"
  assert_live_unchanged "import $kind"
  assert_canaries
  assert_no_leftovers
}

t_import_refuses_dotdot() { import_refused dotdot "entry 'etc/sensor/../../../canary-dotdot': unsafe path"; }
t_import_refuses_absolute_path() { import_refused absolute "entry '/.*/abs': unsafe path"; }
t_import_refuses_symlink_then_write_through() { import_refused symlink_write "entry 'etc/sensor/evil/pwned': its parent is not a directory"; }
t_import_refuses_absolute_symlink_target() { import_refused abs_symlink "entry 'etc/sensor/evil': absolute symlink target"; }
t_import_refuses_escaping_symlink_target() { import_refused escape_symlink "entry 'etc/sensor/evil': symlink target escapes the content path"; }
t_import_refuses_hardlink() { import_refused hardlink "entry 'etc/sensor/hl': hard links are not allowed"; }
t_import_refuses_device_node() { import_refused device "entry 'etc/sensor/dev': device nodes are not allowed"; }
t_import_refuses_fifo() { import_refused fifo "entry 'etc/sensor/fifo': FIFOs are not allowed"; }
t_import_refuses_setuid() { import_refused setuid "entry 'etc/sensor/suid': setuid/setgid files are not accepted"; }
t_import_refuses_entry_outside_content() { import_refused outside "entry 'etc/other/x': outside the component's content paths"; }
t_import_refuses_huge_entry_count() { import_refused many "more than 50 entries" LASTGOOD_TEST_MAX_ENTRIES=50; }
t_import_refuses_expansion_bomb() { import_refused bomb "entry 'etc/sensor/bomb': expanded size exceeds 1048576 bytes" LASTGOOD_TEST_MAX_EXPANDED_BYTES=1048576; }
# What restore would refuse, or restore as root for anyone to change (issue 11).
t_import_refuses_world_writable_file() { import_refused world_writable "entry 'etc/sensor/ww.conf': world-writable \(mode 0666\)"; }
t_import_refuses_world_writable_dir() { import_refused world_writable_dir "entry 'etc/sensor/wwdir': world-writable \(mode 0777\)"; }
t_import_refuses_overlong_name() { import_refused long_name "entry 'etc/sensor/n{256}': a path component longer than 255 bytes"; }
# Control: a 255-byte name and group-writable modes import and restore.
t_import_accepts_what_fits() {
  policy_sensor; setup_canaries
  $PY "$MKHOSTILE" fits "$T/fits.tar.gz" || fail "mkhostile"
  lg snapshot import sensor "$T/fits.tar.gz"; assert_rc 0 "import"
  lg snapshot restore sensor; assert_rc 0 "restore"
  assert_eq "$(cat "$ROOT/etc/sensor/grp/$(printf 'n%.0s' {1..255})")" fits
  assert_eq "$(stat -c %a "$ROOT/etc/sensor/grp")" 775
}
t_import_refuses_truncated_archive() {
  policy_sensor; setup_canaries
  $PY "$MKHOSTILE" bomb "$T/full.tar" || fail mkhostile
  head -c 100000 "$T/full.tar" >"$T/h.tar"
  lg snapshot import sensor "$T/h.tar"; assert_rc 1; assert_err "truncated"
  assert_eq "$(n_snaps)" 0 "nothing stored"
  echo 'not a tar at all' >"$T/junk.tar"
  lg snapshot import sensor "$T/junk.tar"; assert_rc 1; assert_err "not a readable tar archive|unreadable"
  assert_eq "$(n_snaps)" 0 "nothing stored"
}

# ---- hostile archives planted into the snapshot store ----

# plant KIND: replaces the newest snapshot's archive by BASE + hostile part.
plant() {
  local snap; snap=$(newest_snap)
  bsdtar -cf "$T/base.tar" "@$snap/content.tar.zst" || fail "bsdtar"
  $PY "$MKHOSTILE" "$1" "$T/h.tar.gz" "$T/base.tar" || fail "mkhostile $1"
  rm -f "$snap/content.tar.zst"; cp "$T/h.tar.gz" "$snap/content.tar.gz"
  sed -i 's/^compression zstd$/compression gzip/' "$snap/meta"
}

# planted_refused KIND MESSAGE [ENV…]
planted_refused() {
  local kind=$1 msg=$2; shift 2
  policy_sensor; make_content; setup_canaries
  lg snapshot create; assert_rc 0
  plant "$kind"
  echo v2 >"$ROOT/etc/sensor/a.conf"; save_live
  (($#)) && export "$@"
  lg snapshot restore sensor
  assert_rc 1 "restore of planted $kind"
  assert_err "Refusing snapshot sensor/.*$msg"
  assert_live_unchanged "planted $kind"
  assert_canaries
  assert_no_leftovers
  assert_file "$(newest_snap)/bad"
}

t_planted_dotdot() { planted_refused dotdot "entry 'etc/sensor/../../../canary-dotdot': unsafe path"; }
t_planted_absolute_path() { planted_refused absolute "unsafe path"; }
t_planted_symlink_then_write_through() { planted_refused symlink_write "entry 'etc/sensor/evil': not in the manifest"; }
t_planted_absolute_symlink_target() { planted_refused abs_symlink "absolute symlink target"; }
t_planted_escaping_symlink_target() { planted_refused escape_symlink "symlink target escapes the content path"; }
t_planted_hardlink() { planted_refused hardlink "hard links are not allowed"; }
t_planted_device_node() { planted_refused device "device nodes are not allowed"; }
t_planted_fifo() { planted_refused fifo "FIFOs are not allowed"; }
t_planted_setuid_not_in_manifest() { planted_refused setuid "entry 'etc/sensor/bin': setuid/setgid bit not recorded in the manifest"; }
t_planted_hash_mismatch() { planted_refused hash "entry 'etc/sensor/bin': content differs from the manifest \\(sha256\\)"; }
t_planted_extra_entry() { planted_refused extra "entry 'etc/sensor/extra': not in the manifest"; }
t_planted_huge_entry_count() { planted_refused many "entry 'etc/sensor/many': more than 8 entries" LASTGOOD_TEST_MAX_ENTRIES=8; }
t_planted_expansion_bomb() { planted_refused bomb "entry 'etc/sensor/bomb': expanded size exceeds 1048576" LASTGOOD_TEST_MAX_EXPANDED_BYTES=1048576; }
t_planted_truncated_archive() {
  policy_sensor; make_content; setup_canaries
  lg snapshot create; assert_rc 0
  local a; a=$(newest_snap)/content.tar.zst
  truncate -s $(($(stat -c %s "$a") / 2)) "$a"
  echo v2 >"$ROOT/etc/sensor/a.conf"; save_live
  lg snapshot restore sensor; assert_rc 1
  assert_err "Refusing snapshot sensor/.*(truncated|corrupt)"
  assert_live_unchanged "truncated"; assert_no_leftovers
}
t_planted_missing_entry() {
  policy_sensor; make_content
  lg snapshot create; assert_rc 0
  local snap; snap=$(newest_snap)
  bsdtar -cf "$T/base.tar" "@$snap/content.tar.zst"
  bsdtar -czf "$snap/content.tar.gz" --exclude etc/sensor/big.bin "@$T/base.tar"
  rm "$snap/content.tar.zst"; sed -i 's/^compression zstd$/compression gzip/' "$snap/meta"
  echo v2 >"$ROOT/etc/sensor/a.conf"; save_live
  lg snapshot restore sensor; assert_rc 1
  assert_err "entry 'etc/sensor/big.bin': in the manifest but missing from the archive"
  assert_live_unchanged "missing entry"; assert_no_leftovers
}
t_planted_hostile_manifest() {
  policy_sensor; make_content
  lg snapshot create; assert_rc 0
  local m; m=$(newest_snap)/manifest
  sed -i 's| etc/sensor/a.conf | etc/sensor/../../canary |' "$m"
  echo v2 >"$ROOT/etc/sensor/a.conf"; save_live
  lg snapshot restore sensor; assert_rc 1
  assert_err "Refusing snapshot sensor/.*manifest line [0-9]+: (unsafe path|entries not sorted)"
  assert_live_unchanged "hostile manifest"; assert_no_leftovers
}

# ---- power cuts ----

# Kills `snapshot create` at every durable step; the next command recovers.
t_power_cut_at_every_step_of_create() {
  policy_sensor; make_content
  LASTGOOD_FAULT_TRACE=$T/trace lg snapshot create; assert_rc 0
  local n; n=$(wc -l <"$T/trace")
  ((n >= 5)) || fail "only $n fault points in create"
  rm -rf "$ROOT/var/lib/lastgood"
  local i
  for ((i = 1; i <= n; i++)); do
    LASTGOOD_FAULT_AT=$i lg snapshot create
    [[ "$RC" == 0 || "$ERR" == *"fault injection: killed"* ]] || fail "point $i: rc $RC: $ERR"
    lg snapshot verify; [[ "$RC" == 0 ]] || fail "point $i: verify after recovery: $ERR"
    local s; s=$(n_snaps); ((s <= 1)) || fail "point $i: $s snapshots"
    assert_no_leftovers
    lg snapshot create; assert_rc 0 "point $i: create after recovery"
    rm -rf "$ROOT/var/lib/lastgood"
  done
  echo "# create: $n fault points" >&2
}

# Kills (and fails with ENOSPC) `snapshot restore` at every durable step:
# live content is wholly old or wholly new, and a rerun converges.
t_power_cut_at_every_step_of_restore() {
  policy_sensor; make_content
  lg snapshot create; assert_rc 0
  cp -a "$ROOT/etc/sensor" "$T/v1"
  echo v2 >"$ROOT/etc/sensor/a.conf"; rm -r "$ROOT/etc/sensor/empty"; echo x >"$ROOT/etc/sensor/new"
  cp -a "$ROOT/etc/sensor" "$T/v2"
  LASTGOOD_FAULT_TRACE=$T/trace lg snapshot restore sensor; assert_rc 0
  local n; n=$(wc -l <"$T/trace")
  ((n >= 8)) || fail "only $n fault points in restore"
  local i mode sig1 sig2 sig
  sig1=$(tree_sig "$T/v1"); sig2=$(tree_sig "$T/v2")
  for mode in kill ENOSPC; do
    for ((i = 1; i <= n; i++)); do
      rm -rf "$ROOT/etc/sensor" "$ROOT/var/lib/lastgood/replaced"; cp -a "$T/v2" "$ROOT/etc/sensor"
      if [[ $mode == kill ]]; then
        LASTGOOD_FAULT_AT=$i lg snapshot restore sensor
      else
        LASTGOOD_FAULT_AT=$i LASTGOOD_FAULT_ERRNO=ENOSPC lg snapshot restore sensor
      fi
      sig=$(tree_sig "$ROOT/etc/sensor" 2>/dev/null)
      [[ "$sig" == "$sig1" || "$sig" == "$sig2" ]] || fail "$mode at $i: live content is neither old nor new"
      lg snapshot list; assert_rc 0 "$mode at $i: list (recovers)"
      sig=$(tree_sig "$ROOT/etc/sensor" 2>/dev/null)
      [[ "$sig" == "$sig1" || "$sig" == "$sig2" ]] || fail "$mode at $i: after recovery neither old nor new"
      assert_no_leftovers
      if [[ "$sig" == "$sig1" ]]; then
        # finished: the replaced content must have been kept
        [[ -n "$(find "$ROOT/var/lib/lastgood/replaced" -name new 2>/dev/null)" ]] ||
          fail "$mode at $i: replaced content lost"
      fi
      lg snapshot restore sensor; assert_rc 0 "$mode at $i: rerun"
      [[ "$(tree_sig "$ROOT/etc/sensor")" == "$sig1" ]] || fail "$mode at $i: rerun did not converge"
    done
  done
  echo "# restore: $n fault points" >&2
}

# ---- extended attributes ----

# The test root's file system must hold user.* and security.* xattrs (ext4
# does; tmpfs keeps user.* only since 6.6, security.* needs root): skip
# where it cannot, saying so.
need_xattrs() {
  local f=$ROOT/.xattr-probe
  : >"$f"
  if ! command -v setfattr >/dev/null || ! command -v setcap >/dev/null; then
    echo "# SKIP ${FUNCNAME[1]}: setfattr/setcap missing (packages attr, libcap2-bin)" >&2; rm -f "$f"; return 1
  fi
  if ! setfattr -n user.lastgood -v 1 "$f" 2>/dev/null || ! setcap cap_net_raw+ep "$f" 2>/dev/null; then
    echo "# SKIP ${FUNCNAME[1]}: $(test_tmpdir) cannot hold user.* and security.capability xattrs" >&2
    rm -f "$f"; return 1
  fi
  rm -f "$f"
}
# The kept xattrs of the content, one line per file and attribute.
xattr_sig() {
  (cd "$1" && getfattr -R -h -d -m '^(user|security)\.' -e hex . 2>/dev/null |
    awk '/^# file: /{f=$3; next} NF{print f, $0}' | sort)
}
make_xattr_content() {
  make_content
  setfattr -n user.vendor.build -v 4711 "$ROOT/etc/sensor/a.conf"
  setfattr -n user.dir -v d "$ROOT/etc/sensor/sub"
  # a service user's binary: a chown after the capability would clear it
  chown 1234:1234 "$ROOT/etc/sensor/bin"; setcap cap_net_raw+ep "$ROOT/etc/sensor/bin"
  setfattr -n security.ima -v 0x0302 "$ROOT/etc/sensor/big.bin"
}

t_xattrs_survive_snapshot_damage_restore() {
  need_xattrs || return 0
  policy_sensor; make_xattr_content; save_live
  local want; want=$(xattr_sig "$ROOT/etc/sensor")
  [[ "$want" == *user.vendor.build* && "$want" == *security.capability* && "$want" == *security.ima* ]] ||
    fail "setup: xattrs missing: $want"
  lg snapshot create; assert_rc 0
  grep -q ' security.capability=[0-9a-f]\{64\}$' "$(newest_snap)/manifest" || fail "capability not in the manifest"
  # damage: strip every attribute (content and stat otherwise the same)
  setcap -r "$ROOT/etc/sensor/bin"; setfattr -x user.vendor.build "$ROOT/etc/sensor/a.conf"
  setfattr -x user.dir "$ROOT/etc/sensor/sub"; setfattr -x security.ima "$ROOT/etc/sensor/big.bin"
  assert_eq "$(xattr_sig "$ROOT/etc/sensor")" "" "stripped"
  lg snapshot restore sensor "$(basename "$(newest_snap)")"; assert_rc 0 "restore"
  assert_eq "$(xattr_sig "$ROOT/etc/sensor")" "$want" "xattrs after restore"
  assert_eq "$(getcap "$ROOT/etc/sensor/bin")" "$ROOT/etc/sensor/bin cap_net_raw=ep" "capability restored"
  assert_live_unchanged "content after restore"
  lg snapshot create; assert_rc 0; assert_out "unchanged" "restored content is the snapshot's"
}

t_xattr_change_is_a_change() {
  need_xattrs || return 0
  policy_sensor "snapshots:
  keep: 10"
  make_xattr_content
  lg snapshot create; assert_rc 0; assert_out created
  touch "$ROOT/etc/sensor/bin"; lg snapshot create; assert_rc 0; assert_out "unchanged"
  setcap cap_net_admin+ep "$ROOT/etc/sensor/bin"   # same bytes, another capability
  lg snapshot create; assert_rc 0; assert_out created "a changed security.capability"
  assert_eq "$(n_snaps)" 2 "snapshots after a capability change"
  setcap -r "$ROOT/etc/sensor/bin"
  lg snapshot create; assert_rc 0; assert_out created "a dropped security.capability"
  setfattr -n user.dir -v other "$ROOT/etc/sensor/sub"
  lg snapshot create; assert_rc 0; assert_out created "a directory's user xattr"
  assert_eq "$(n_snaps)" 4 "snapshots after each xattr change"
}

# The staged tree is checked before the swap: an extraction that lost the
# attributes is refused and the live content stays.
t_restore_refuses_staged_tree_without_xattrs() {
  need_xattrs || return 0
  policy_sensor; make_xattr_content
  lg snapshot create; assert_rc 0
  echo v2 >"$ROOT/etc/sensor/a.conf"; save_live
  LASTGOOD_TEST_EXTRACT_NO_XATTRS=1 lg snapshot restore sensor; assert_rc 1
  assert_err "extracted with other extended attributes than the manifest's \(manifest: user.vendor.build; extracted: none\)"
  assert_live_unchanged "extraction without xattrs"; assert_no_leftovers
}

# A manifest whose xattrs do not match the archive's fails verification.
t_planted_manifest_xattr_mismatch() {
  need_xattrs || return 0
  policy_sensor; make_xattr_content
  lg snapshot create; assert_rc 0
  local m; m=$(newest_snap)/manifest; cp "$m" "$T/manifest"
  sed -i '/ etc\/sensor\/bin /s/ security.capability=[0-9a-f]*$/ -/' "$m"
  lg snapshot verify sensor; assert_rc 1 "capability dropped from the manifest"
  assert_err "entry 'etc/sensor/bin': security.capability not recorded in the manifest"
  cp "$T/manifest" "$m"; rm -f "$(newest_snap)/bad"
  lg snapshot verify sensor; assert_rc 0 "the original verifies"
  sed -i "/ etc\/sensor\/empty /s/ -\$/ user.x=$(printf %064d 0)/" "$m"
  lg snapshot verify sensor; assert_rc 1 "an xattr the archive lacks"
  assert_err "entry 'etc/sensor/empty': extended attributes differ from the manifest"
}

# An archive carrying a capability its manifest does not record is refused.
t_planted_capability_not_in_manifest() {
  need_xattrs || return 0
  policy_sensor; make_content; setup_canaries
  lg snapshot create; assert_rc 0
  local snap; snap=$(newest_snap)
  setcap cap_sys_admin+ep "$ROOT/etc/sensor/bin"
  (cd "$ROOT" && bsdtar --format pax --xattrs -czf "$T/evil.tar.gz" etc/sensor) || fail bsdtar
  setcap -r "$ROOT/etc/sensor/bin"
  rm "$snap/content.tar.zst"; cp "$T/evil.tar.gz" "$snap/content.tar.gz"
  sed -i 's/^compression zstd$/compression gzip/' "$snap/meta"
  echo v2 >"$ROOT/etc/sensor/a.conf"; save_live
  lg snapshot restore sensor; assert_rc 1
  assert_err "Refusing snapshot sensor/.*entry 'etc/sensor/bin': security.capability not recorded in the manifest"
  assert_live_unchanged "planted capability"; assert_no_leftovers
  [[ -z "$(getcap "$ROOT/etc/sensor/bin")" ]] || fail "capability reached the live file"
}

t_import_refuses_capability_keeps_user_xattrs() {
  need_xattrs || return 0
  policy_sensor; mkdir -p "$T/src/etc/sensor"
  echo v >"$T/src/etc/sensor/x"; setfattr -n user.vendor -v 1 "$T/src/etc/sensor/x"
  (cd "$T/src" && bsdtar --format pax --xattrs -czf "$T/ok.tar.gz" etc/sensor) || fail bsdtar
  lg snapshot import sensor "$T/ok.tar.gz"; assert_rc 0 "import with a user xattr"
  lg snapshot restore sensor; assert_rc 0
  assert_eq "$(getfattr --only-values -n user.vendor "$ROOT/etc/sensor/x" 2>/dev/null)" 1 "user xattr imported"
  setcap cap_net_raw+ep "$T/src/etc/sensor/x"
  (cd "$T/src" && bsdtar --format pax --xattrs -czf "$T/cap.tar.gz" etc/sensor) || fail bsdtar
  lg snapshot import sensor "$T/cap.tar.gz"; assert_rc 1 "import with a capability"
  assert_err "entry 'etc/sensor/x': file capabilities \\(security.capability\\) are not accepted in an import"
  assert_eq "$(n_snaps)" 1 "nothing stored for the refused import"
}

# Snapshots from before xattrs were kept (manifest version 1): they verify
# and restore, an xattr change alone is no change, and a stat-cache
# refresh keeps the manifest at version 1 ("not recorded" stays "unknown").
t_version1_manifest_still_works() {
  policy_sensor; make_content; save_live
  lg snapshot create; assert_rc 0
  local m; m=$(newest_snap)/manifest
  sed -i -e '1s/^lastgood-manifest 2 /lastgood-manifest 1 /' -e '2,$s/ [^ ]*$//' "$m"
  lg snapshot verify sensor; assert_rc 0 "version 1 verifies"
  if need_xattrs; then
    setfattr -n user.new -v 1 "$ROOT/etc/sensor/a.conf"
    lg snapshot create; assert_rc 0; assert_out "unchanged" "unknown xattrs are not a change"
    setfattr -x user.new "$ROOT/etc/sensor/a.conf"
  fi
  assert_eq "$(head -c 20 "$m")" "lastgood-manifest 1 " "still version 1 after a cache refresh"
  echo broken >"$ROOT/etc/sensor/a.conf"
  lg snapshot restore sensor "$(basename "$(newest_snap)")"; assert_rc 0 "version 1 restores"
  assert_live_unchanged "version 1 restore"
}

# The release binary (what runs on machines, with its real speed) when it is
# built, else the test build.
release_bin() {
  local b
  for b in "${BUILDDIR:-$TOP/build}/release/lastgood" "$TOP/lastgood"; do
    [[ -x "$b" ]] && { echo "$b"; return; }
  done
  echo "$LG_BIN"
}

# The vendor's updater: rewrites FILE in place, again and again, alternating
# version A and version B (same size), in chunks with pauses so that a
# reader overlapping a rewrite would see both; short quiet spells between
# rewrites, and with "spells" also long ones (0.4 s) that let snapshots
# through. Runs until killed.
# The updater also records, in $T/updater.stall, its longest gap (ms)
# between two writes of one rewrite: a gap longer than lastgood's racy
# margin (50 ms: the updater descheduled under load) leaves a half-written
# file stable for that long, and then a snapshot of it is the file as it
# was, not a torn read.
start_updater() { # FILE busy|spells
  : >"$T/updater.stall"
  "$PY" - "$1" "$T/vA" "$T/vB" "$2" "$T/updater.stall" <<'PYEOF' &
import os, sys, time
path, a, b, mode, stall = sys.argv[1:6]
va, vb = open(a, "rb").read(), open(b, "rb").read()
fd = os.open(path, os.O_WRONLY)
n = 0
worst = 0.0
while True:
    n += 1
    v = vb if n % 2 else va
    last = None
    for o in range(0, len(v), 65536):
        os.pwrite(fd, v[o:o + 65536], o)
        t = time.monotonic()
        if last is not None and t - last > worst:
            worst = t - last
            with open(stall, "w") as f:
                f.write("%d\n" % (worst * 1000))
        last = t
        time.sleep(0.0002)
    time.sleep(0.4 if mode == "spells" and n % 5 == 0 else (n % 3) * 0.02)
PYEOF
  UPDATER=$!
}
stop_updater() { kill "$UPDATER" 2>/dev/null; wait "$UPDATER" 2>/dev/null; }

# Every stored snapshot, extracted, holds exactly one version of FILE (a
# path below etc/sensor: the installed one, A or B); prints how many there are.
snapshots_hold_one_version() {
  local d n=0 x
  for d in "$ROOT/$SNAPS"/*/; do
    n=$((n + 1)); x=$T/extract/$n; mkdir -p "$x"
    bsdtar -xf "$d"/content.tar.* -C "$x" || fail "cannot extract $d"
    if ! { cmp -s "$x/etc/sensor/$1" "$T/vA" || cmp -s "$x/etc/sensor/$1" "$T/vB" || cmp -s "$x/etc/sensor/$1" "$T/v0"; }; then
      local stall; stall=$(cat "$T/updater.stall" 2>/dev/null || echo 0)
      ((${stall:-0} >= 50)) ||
        fail "snapshot $(basename "$d") holds a torn $1 (not one version; the updater never paused ${stall:-0} ms mid-write)"
      echo "# snapshot $(basename "$d"): half-written $1, stable for the updater's ${stall} ms stall (load): as it was" >&2
    fi
    assert_eq "$(cat "$x/etc/sensor/a.conf")" conf "the rest of snapshot $(basename "$d")"
  done
  echo "$n"
}

# A snapshot racing an updater. `confirm` snapshots only content that was in
# place when the boot began: while the updater rewrites a file during the
# boot, no confirm stores a snapshot of it, and says why. `snapshot create`
# (no such bound) racing it stores only snapshots that hold one version,
# retried or refused (-EBUSY) otherwise. Once the updater is done, the next
# confirmed boot takes the content it left.
t_snapshot_racing_an_updater() {
  local LG_BIN; LG_BIN=$(release_bin)
  policy_sensor "snapshots:
  keep: 100
  max_bytes: 1G"
  mkdir -p "$ROOT/etc/sensor"; echo conf >"$ROOT/etc/sensor/a.conf"
  head -c 2097152 /dev/zero | tr '\0' A >"$T/vA"
  head -c 2097152 /dev/zero | tr '\0' B >"$T/vB"
  head -c 2097152 /dev/zero | tr '\0' O >"$T/v0"
  cp "$T/v0" "$ROOT/etc/sensor/channel.bin"     # as installed: neither A nor B
  sleep 0.1
  boot; lg confirm; assert_rc 0 "first confirm"
  assert_eq "$(n_snaps)" 1 "the first known-good snapshot"

  # Busy: it writes within every boot before the confirm.
  local i held=0 end n
  boot
  start_updater "$ROOT/etc/sensor/channel.bin" busy
  for i in 1 2 3; do
    sleep 0.3
    lg confirm; assert_rc 0 "confirm while the updater runs"
    grep -q "changed during this boot (/etc/sensor/channel.bin); it becomes known-good at the next confirmed boot" \
      <<<"$ERR" && held=$((held + 1))
    boot
  done
  assert_eq "$(n_snaps)" 1 "no confirm stored content that changed during its boot"
  ((held > 0)) || fail "confirm never said why it took no snapshot: [$ERR]"
  stop_updater

  start_updater "$ROOT/etc/sensor/channel.bin" spells
  local stored=0 busy=0
  end=$((SECONDS + 4))
  while ((SECONDS < end)); do
    lg snapshot create
    if [[ $RC == 0 ]]; then grep -q "created snapshot" <<<"$OUT" && stored=$((stored + 1))
    elif grep -q "not storing a torn snapshot" <<<"$ERR"; then busy=$((busy + 1))
    else fail "snapshot create: rc=$RC [$ERR]"; fi
  done
  stop_updater
  echo "racing: $stored snapshots stored, $busy refused as busy"
  n=$(snapshots_hold_one_version channel.bin)
  ((stored > 0 && n == stored + 1)) || fail "stored $stored snapshots while the updater ran, $n in the store"

  # Quiet again: what the updater left becomes known-good at the next boot.
  cp "$ROOT/etc/sensor/channel.bin" "$T/left"
  sleep 0.1
  boot; lg confirm; assert_rc 0
  grep -q "changed during this boot" <<<"$ERR" && fail "held back after the updater stopped: [$ERR]"
  lg snapshot verify sensor; assert_rc 0 "every stored snapshot verifies"
  local last; last=$(newest_snap); mkdir -p "$T/last"
  bsdtar -xf "$last"/content.tar.* -C "$T/last"
  cmp -s "$T/last/etc/sensor/channel.bin" "$T/left" || fail "the newest snapshot is not what the updater left"
}

run_tests
