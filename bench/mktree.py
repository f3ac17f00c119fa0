#!/usr/bin/env python3
"""Generates a content tree for the benchmarks: N files in nested
directories, TOTAL bytes in all, half random (incompressible) and half
repetitive text, like a sensor's signature and rule files.

    mktree.py DIR N TOTAL_BYTES
"""
import os
import random
import sys

root, n, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
avg = max(1, total // n)
text = (b"rule id=%d match=\"suspicious\" action=block\n" * 64)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 97), "s%02d" % (i % 13))
    os.makedirs(d, exist_ok=True)
    size = max(1, int(avg * rnd.uniform(0.5, 1.5)))
    if i % 2:
        data = os.urandom(size)
    else:
        data = (text * (size // len(text) + 1))[:size]
    with open(os.path.join(d, "f%06d.bin" % i), "wb") as f:
        f.write(data)
