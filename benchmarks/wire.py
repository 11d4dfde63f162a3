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

from blissnode.wire import rc4  # noqa: E402

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
