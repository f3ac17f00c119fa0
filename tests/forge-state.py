#!/usr/bin/env python3
"""Writes a lastgood state record the way an attacker with another OS on the
machine could: well formed (CRC right, so it is not "corrupt"), independently
of lastgood, from the layout in agent/state.c. Used by the red-team tests
(tests/integration/test-attacks.sh) and the VM scenario `forged`.

  forge-state.py OUT VERSION [FIELD=VALUE ...] [key=KEYFILE]

VERSION 4 is the signed 512-byte record: its MAC is HMAC-SHA256 under
KEYFILE's 32 bytes when key= is given, else zero (the attacker does not
have the key). VERSION 3 is the older 384-byte layout, which has no MAC.
FIELD is one of the names below; last_action is the LadderAction number."""
import hashlib
import hmac
import struct
import sys
import zlib

NUMBERS = dict(generation=1, total_boots=1, failed_boots=0, step_failed_boots=0, in_boot=0,
               safe_mode_requested=0, incident=0, ladder_step=0, internal_errors=0, boot_mode=0,
               last_action=0)
STRINGS = dict(culprit="", boot_id="", key="")


def record(version, f):
    size = 512 if version >= 4 else 384
    s = lambda v, n: v.encode().ljust(n, b"\0")
    b = b"LGST" + struct.pack("<HHQQ8I4Q", version, size, f["generation"], f["total_boots"], f["failed_boots"],
                              f["step_failed_boots"], f["in_boot"], f["safe_mode_requested"], f["incident"],
                              f["ladder_step"], f["internal_errors"], f["boot_mode"], 0, 0, 0, 0)
    b += s("", 37) + s(f["boot_id"], 37) + struct.pack("<I", f["last_action"]) + s(f["culprit"], 64) + s("", 40)
    b += s("", 65)  # confirmed_kernel
    if version >= 4:
        b += struct.pack("<Q", 0) + s("", 65)  # the event log's head: none
        b = b.ljust(size - 36, b"\0")
        key = open(f["key"], "rb").read() if f["key"] else None
        b += hmac.new(key, b, hashlib.sha256).digest() if key else bytes(32)
    b = b.ljust(size - 4, b"\0")
    return b + struct.pack("<I", zlib.crc32(b))


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    out, version = sys.argv[1], int(sys.argv[2])
    f = dict(NUMBERS, **STRINGS)
    for a in sys.argv[3:]:
        k, v = a.split("=", 1)
        if k not in f:
            raise SystemExit("forge-state.py: unknown field %r" % k)
        f[k] = v if k in STRINGS else int(v, 0)
    open(out, "wb").write(record(version, f))


if __name__ == "__main__":
    main()
