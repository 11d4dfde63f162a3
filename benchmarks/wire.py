#!/usr/bin/env python3
"""
Throughput of the blissnode.wire codecs, on one core.

    python benchmarks/wire.py [--quick] [--section NAME]

Each figure is one small function that returns ``(value, unit)``; the
``FIGURES`` list at the bottom says which section and implementation it
belongs to, and ``main()`` prints them as a table.  To add a section (UDP,
AES, objects, ...) write its functions and append rows to ``FIGURES``.

Figures are best-of-``REPEAT`` rates over a fixed number of operations, so
other processes on a shared machine lower them less.
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from blissnode.wire import aes_ctr, objects, rc4, udp  # noqa: E402
from blissnode.wire.udp_commands import parse_payload  # noqa: E402

REPEAT = 3
SCALE = 1.0  # --quick lowers it


def rate(fn, count):
    """Best observed ``count / seconds`` for ``fn()`` doing ``count`` operations."""
    best = float("inf")
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return count / best


def _n(base):
    return max(1, int(base * SCALE))


def _seeds(n):
    rnd = random.Random(1234)
    return [rnd.getrandbits(32) for _ in range(n)]


# ---------------------------------------------------------------------------
# RC4 (blissnode.wire.rc4)


def rc4_expansions(impl):
    """Seed expansions per second (80-byte key, no key schedule)."""
    seeds = _seeds(_n(200000 if impl.name == "c" else 10000))
    expand = impl.expand_key

    def run():
        for s in seeds:
            expand(s)

    return rate(run, len(seeds)), "seeds/s"


def rc4_expansions_ksa(impl):
    """Expansion + RC4 key schedule per second (a ready RC4 state per seed)."""
    seeds = _seeds(_n(200000 if impl.name == "c" else 5000))
    make = impl.skype_rc4

    def run():
        for s in seeds:
            make(s)

    return rate(run, len(seeds)), "seeds/s"


def rc4_copy(impl):
    """State clones per second (the seed-pool send path, spec 5)."""
    state = impl.skype_rc4(0x798A13EC)
    n = _n(200000)

    def run():
        for _ in range(n):
            state.copy()

    return rate(run, n), "copies/s"


def rc4_stream(impl, chunk=1400):
    """RC4 keystream XOR throughput in ``chunk``-byte calls."""
    state = impl.skype_rc4(0x798A13EC)
    data = os.urandom(chunk)
    n = _n(20000 if impl.name == "c" else 100)
    crypt = state.crypt

    def run():
        for _ in range(n):
            crypt(data)

    return rate(run, n * chunk), "bytes/s"


# ---------------------------------------------------------------------------
# UDP (blissnode.wire.udp): what the supernode does per received datagram


def _with_impl(impl, fn):
    """Run ``fn`` with the UDP layer using RC4 implementation ``impl``."""
    saved = udp.skype_rc4
    udp.skype_rc4 = impl.skype_rc4
    try:
        return fn()
    finally:
        udp.skype_rc4 = saved


def _probe_datagrams(n):
    rnd = random.Random(99)
    probe = bytes.fromhex("04da012a504215")
    return [udp.encrypt_payload("198.51.100.7", "192.0.2.10", rnd.getrandbits(16),
                                rnd.getrandbits(32), probe) for _ in range(n)]


def udp_deobfuscate(impl):
    """Received datagrams (a 7-byte probe) parsed, deobfuscated and CRC-checked."""
    grams = _probe_datagrams(_n(50000 if impl.name == "c" else 3000))

    def run():
        for g in grams:
            opened = udp.decrypt_datagram(g, "198.51.100.7", "192.0.2.10")
            assert opened.crc_ok

    return _with_impl(impl, lambda: rate(run, len(grams))), "datagrams/s"


def udp_probe_wire_ops(impl):
    """The bare wire work of one probe answer: open, parse the command,
    build the reply with a pre-expanded seed (pool), seal it."""
    grams = _probe_datagrams(_n(30000 if impl.name == "c" else 2000))
    reply = bytes.fromhex("04e3012a504215")

    def run():
        pool = udp.SeedPool(_seeds(64))
        for g in grams:
            opened = udp.decrypt_datagram(g, "198.51.100.7", "192.0.2.10")
            parse_payload(opened.plaintext)
            udp.seal_payload(pool, "192.0.2.10", "198.51.100.7", 7, reply)

    return _with_impl(impl, lambda: rate(run, len(grams))), "probes/s"


# ---------------------------------------------------------------------------
# AES-256-CTR (blissnode.wire.aes_ctr)


def aes_stream(chunk=1400):
    """AES-256-CTR throughput in ``chunk``-byte records (login/event traffic)."""
    key = bytes(range(32))
    data = os.urandom(chunk)
    n = _n(20000)

    def run():
        for seq in range(n):
            aes_ctr.aes_ctr(key, 1, seq, data)

    return rate(run, n * chunk), "bytes/s"


# ---------------------------------------------------------------------------
# Object lists (blissnode.wire.objects) over the lists of the test vectors


def _vector_lists():
    """The object lists of the test vectors (tests/vectors in the checkout)."""
    import json

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    base = os.environ.get("BLISSNODE_VECTORS",
                          os.path.join(here, "tests", "vectors"))
    lists = []
    for name in ("objects41.json", "objects42.json"):
        with open(os.path.join(base, name)) as f:
            for case in json.load(f)["cases"]:
                if "list" in case and case.get("kind", "list") == "list":
                    lists.append(objects.objects_from_json(case["list"]))
    return lists


def objects_roundtrip(compressed):
    """Decode + encode per second over every list of the vectors."""
    lists = _vector_lists()
    blobs = [objects.encode_objects(o, compressed=compressed) for o in lists]
    rounds = _n(20 if compressed else 200)

    def run():
        for _ in range(rounds):
            for b in blobs:
                objects.encode_objects(objects.decode_objects(b), compressed=compressed)

    return rate(run, rounds * len(blobs)), "lists/s"


def _impls():
    out = [rc4.python_impl]
    if rc4.c_impl is not None:
        out.insert(0, rc4.c_impl)
    return out


# (section, figure name, implementation name, function taking no arguments)
FIGURES = []
for _impl in _impls():
    FIGURES += [
        ("rc4", "expansion only", _impl.name, lambda i=_impl: rc4_expansions(i)),
        ("rc4", "expansion + KSA", _impl.name, lambda i=_impl: rc4_expansions_ksa(i)),
        ("rc4", "state copy", _impl.name, lambda i=_impl: rc4_copy(i)),
        ("rc4", "stream, 1400-byte chunks", _impl.name, lambda i=_impl: rc4_stream(i)),
    ]


for _impl in _impls():
    FIGURES += [
        ("udp", "datagram deobfuscate+CRC", _impl.name, lambda i=_impl: udp_deobfuscate(i)),
        ("udp", "probe: open+parse+seal(pool)", _impl.name,
         lambda i=_impl: udp_probe_wire_ops(i)),
    ]
FIGURES += [
    ("aes", "AES-256-CTR, 1400-byte recs", "openssl", aes_stream),
    ("objects", "0x41 decode+encode", "python", lambda: objects_roundtrip(False)),
    ("objects", "0x42 decode+encode", "python", lambda: objects_roundtrip(True)),
]


def _fmt(value):
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= div:
            return "%.2f %s" % (value / div, suffix)
    return "%.2f  " % value


def main(argv=None):
    global SCALE
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer operations (rough figures)")
    p.add_argument("--section", help="only this section (e.g. rc4)")
    args = p.parse_args(argv)
    if args.quick:
        SCALE = 0.1
    print("blissnode.wire benchmarks, one core, Python %s; rc4 default implementation: %s"
          % (sys.version.split()[0], rc4.IMPLEMENTATION))
    if rc4.c_impl is None:
        print("(C accelerator not built: python setup.py build_ext --inplace)")
    row = "%-8s %-28s %-8s %14s %-10s %12s"
    print(row % ("section", "figure", "impl", "rate", "unit", "us/op"))
    for section, name, impl, fn in FIGURES:
        if args.section and section != args.section:
            continue
        value, unit = fn()
        per_op = "" if unit == "bytes/s" else "%.3f" % (1e6 / value)
        print(row % (section, name, impl, _fmt(value), unit, per_op))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
