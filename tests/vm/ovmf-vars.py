#!/usr/bin/env python3
"""Lists the live UEFI variables in an OVMF variable store file (the guest's
NVRAM, OVMF_VARS_4M.fd copy), one per line: NAME-GUID ATTRS SIZE.
With --dump NAME-GUID, writes that variable's data to stdout; with
--set NAME-GUID FILE, replaces that live variable's data by FILE's bytes the
way the firmware's variable driver does (the old copy marked deleted, the new
one appended with the same attributes): what another OS booted on the machine
can do through SetVariable().

Format (edk2 MdeModulePkg VariableFormat.h): a firmware volume, then a
VARIABLE_STORE_HEADER whose signature is gEfiAuthenticatedVariableGuid,
then AUTHENTICATED_VARIABLE_HEADERs (StartId 0x55AA), each followed by its
UTF-16 name and its data, 4-byte aligned. State 0x3F = added; deleted and
in-transition states are skipped (edk2 keeps them until reclaim)."""
import struct
import sys
import uuid

AUTH_GUID = uuid.UUID("aaf32c78-947b-439a-a180-2e144ec37792").bytes_le
VAR_ADDED = 0x3F
VAR_IN_DELETED_TRANSITION = 0xFE
VAR_DELETED = 0xFD
HDR = struct.Struct("<HBBIQ16sIII16s")


def variables(blob):
    off = blob.find(AUTH_GUID)
    if off < 0:
        raise SystemExit("no authenticated variable store found")
    size = struct.unpack_from("<I", blob, off + 16)[0]
    end = min(off + size, len(blob))
    p = off + 28
    while p + HDR.size <= end:
        (start, state, _r, attrs, _mc, _ts, _pk, nsz, dsz, guid) = HDR.unpack_from(blob, p)
        if start != 0x55AA:
            break
        name = blob[p + HDR.size:p + HDR.size + nsz].decode("utf-16-le", "replace").rstrip("\0")
        data = blob[p + HDR.size + nsz:p + HDR.size + nsz + dsz]
        live = state in (VAR_ADDED, VAR_ADDED & VAR_IN_DELETED_TRANSITION)
        yield live, "%s-%s" % (name, uuid.UUID(bytes_le=guid)), attrs, data, p
        p += HDR.size + nsz + dsz
        p = (p + 3) & ~3
    yield None, None, None, None, p  # where the next variable would go


def set_variable(blob, want, data):
    blob = bytearray(blob)
    off = blob.find(AUTH_GUID)
    end = min(off + struct.unpack_from("<I", blob, off + 16)[0], len(blob))
    old = None
    for live, name, _a, _d, p in variables(bytes(blob)):
        if live is None:
            free = p
        elif live and name == want:
            old = p
    if old is None:
        raise SystemExit("no live variable %s" % want)
    hdr = list(HDR.unpack_from(blob, old))
    nsz = hdr[7]
    name = bytes(blob[old + HDR.size:old + HDR.size + nsz])
    hdr[1] = VAR_ADDED
    hdr[8] = len(data)
    new = HDR.pack(*hdr) + name + data
    if free + len(new) > end or blob[free:free + len(new)] != b"\xff" * len(new):
        raise SystemExit("no room left in the variable store")
    blob[free:free + len(new)] = new
    blob[old + 2] &= VAR_DELETED
    return bytes(blob)


def main():
    blob = open(sys.argv[1], "rb").read()
    if len(sys.argv) > 4 and sys.argv[2] == "--set":
        data = open(sys.argv[4], "rb").read()
        open(sys.argv[1], "wb").write(set_variable(blob, sys.argv[3], data))
        return 0
    if len(sys.argv) > 3 and sys.argv[2] == "--dump":
        for live, name, _a, data, _p in variables(blob):
            if live and name == sys.argv[3]:
                sys.stdout.buffer.write(data)
                return 0
        return 1
    for live, name, attrs, data, _p in variables(blob):
        if live:
            print("%s 0x%x %d" % (name, attrs, len(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
