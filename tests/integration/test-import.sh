#!/bin/bash
# `snapshot import` takes archives as admins make them: paths relative to /,
# the content directory included, with or without tar's "./" prefix
# (`tar -C / -cf x.tar ./etc/sensor`). Only a single leading "./" and the
# archive's own "." entry are normalised; every other unsafe path stays
# refused (the hostile-archive suite is in test-snapshot.sh).
source "$(dirname "$0")/lib.sh"

SNAPS=var/lib/lastgood/snapshots/sensor

policy_sensor() {
  write_policy 'version: 1
components:
  - name: sensor
    content: [/etc/sensor]'
}
make_content() {
  mkdir -p "$ROOT/etc/sensor/rules"
  echo v1 >"$ROOT/etc/sensor/sensor.conf"
  echo r1 >"$ROOT/etc/sensor/rules/a.rules"
  ln -sfn ../sensor.conf "$ROOT/etc/sensor/rules/current"
}
n_snaps() { ls -d "$ROOT/$SNAPS"/*/ 2>/dev/null | wc -l; }

# mktar OUT NAME:TYPE[:TARGET]… — a tar with exactly these entries (python's
# tarfile, so no tar program rewrites the names): f = file "x", d = directory
# (mode 0755; the "." entry 0777, as `tar -C / .` of a sloppy tree would),
# l = symlink to TARGET.
mktar() {
  python3 - "$@" <<'PY'
import io, sys, tarfile
out, specs = sys.argv[1], sys.argv[2:]
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    for spec in specs:
        name, kind, *rest = spec.split(":")
        ti = tarfile.TarInfo(name)
        ti.mtime = 1600000000
        if kind == "d":
            ti.type, ti.mode = tarfile.DIRTYPE, 0o777 if name in (".", "./") else 0o755
            t.addfile(ti)
        elif kind == "l":
            ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, rest[0], 0o777
            t.addfile(ti)
        else:
            ti.size, ti.mode = 2, 0o644
            t.addfile(ti, io.BytesIO(b"x\n"))
PY
}

t_import_dot_slash_archive_from_tar() {
  policy_sensor; make_content
  tar -C "$ROOT" -cf "$T/x.tar" ./etc/sensor
  local names; names=$(tar -tf "$T/x.tar")   # not piped into grep -q: pipefail and SIGPIPE
  grep -qx '\./etc/sensor/sensor.conf' <<<"$names" || fail "tar did not write ./-prefixed names: $names"
  lg snapshot import sensor "$T/x.tar"; assert_rc 0 "a ./-prefixed archive is accepted"; assert_out imported
  echo v2 >"$ROOT/etc/sensor/sensor.conf"; rm "$ROOT/etc/sensor/rules/a.rules"
  lg snapshot restore sensor; assert_rc 0 "restore the import"
  assert_eq "$(cat "$ROOT/etc/sensor/sensor.conf")" v1
  assert_eq "$(cat "$ROOT/etc/sensor/rules/a.rules")" r1
  assert_eq "$(readlink "$ROOT/etc/sensor/rules/current")" ../sensor.conf
  lg snapshot verify sensor; assert_rc 0
}

# The same content without the prefix: the same manifest.
t_import_with_and_without_prefix_agree() {
  policy_sensor; make_content
  tar -C "$ROOT" -cf "$T/a.tar" ./etc/sensor
  tar -C "$ROOT" -cf "$T/b.tar" etc/sensor
  lg snapshot import sensor "$T/a.tar"; assert_rc 0
  lg snapshot import sensor "$T/b.tar"; assert_rc 0
  lg snapshot list --json
  assert_eq "$(jq -r '[.[].entries] | unique | length' <<<"$OUT")" 1 "same entry count"
  local m=("$ROOT/$SNAPS"/*/manifest*)
  [[ -f ${m[0]} ]] || { fail "no manifest files: ${m[*]}"; return; }
  # Manifests differ only in their time stamps: the paths are the same.
  assert_eq "$(grep -ho 'etc/sensor[^ ]*' "${m[0]}" | sort)" "$(grep -ho 'etc/sensor[^ ]*' "${m[1]}" | sort)" "same paths"
}

# The "." entry of `tar -C / .`-style archives is skipped: never an entry,
# its mode never applied anywhere.
t_import_skips_the_dot_entry() {
  policy_sensor; make_content
  mktar "$T/d.tar" ./:d ./etc/sensor/:d ./etc/sensor/f:f
  lg snapshot import sensor "$T/d.tar"; assert_rc 0 "the ./ entry is skipped"
  lg snapshot list --json; assert_eq "$(jq -r '.[0].entries' <<<"$OUT")" 2 "only the content's entries"
  mktar "$T/e.tar" .:d etc/sensor:d etc/sensor/f:f
  lg snapshot import sensor "$T/e.tar"; assert_rc 0 "a bare . entry too"
}

# import_refused TAR MESSAGE — refused, nothing stored, live content untouched.
import_refused() {
  lg snapshot import sensor "$1"
  assert_rc 1 "import $(basename "$1")"
  assert_err "$2"
  assert_eq "$(n_snaps)" 0 "nothing stored for $(basename "$1")"
  assert_eq "$(cat "$ROOT/etc/sensor/sensor.conf")" v1 "live content untouched"
}

# Negative tests: the "./" allowance is one prefix, nothing more.
t_import_still_refuses_unsafe_paths() {
  policy_sensor; make_content
  mktar "$T/1.tar" ./etc/sensor/:d ./../etc/sensor/f:f;  import_refused "$T/1.tar" "unsafe path"
  mktar "$T/2.tar" ././etc/sensor/:d;                    import_refused "$T/2.tar" "unsafe path"
  mktar "$T/3.tar" ./etc/sensor/:d ./etc/sensor/./f:f;   import_refused "$T/3.tar" "unsafe path"
  mktar "$T/4.tar" ./etc/sensor/../sensor/f:f;          import_refused "$T/4.tar" "unsafe path"
  mktar "$T/5.tar" /./etc/sensor/f:f;                    import_refused "$T/5.tar" "unsafe path"
  mktar "$T/6.tar" /etc/sensor/../sensor/f:f;            import_refused "$T/6.tar" "unsafe path"
  mktar "$T/8.tar" .:f;                                  import_refused "$T/8.tar" "unsafe path"
  mktar "$T/9.tar" ./etc/sensor/:d ./etc/sensor/esc:l:../../../outside
  import_refused "$T/9.tar" "symlink|escap|outside"
  mktar "$T/10.tar" ./etc/sensor/:d ./etc/sensor/abs:l:/etc/shadow
  import_refused "$T/10.tar" "symlink|absolute"
  # Outside the content paths, prefixed or not.
  mktar "$T/11.tar" ./etc/:d ./etc/sensor/:d;            import_refused "$T/11.tar" "outside the component"
  mktar "$T/12.tar" ./etc/sensorx/f:f;                   import_refused "$T/12.tar" "outside the component"
}

run_tests
