"""Allocation and work bounds of the wire decoders against hostile input.

The issue's rule: decoders enforce limits (nesting depth, item count, total
size) so that a 20-byte packet can never allocate megabytes.  Memory is
measured with :mod:`tracemalloc` (peak allocation during one decode); work is
measured as the number of Python-level function calls the decoder makes
(``sys.setprofile``), so the bounds are deterministic and independent of the
machine's speed -- no wall-clock assertion.

The hostile inputs are built with our own encoders so that they are the
*cheapest* encodings of expensive structures (the worst case per input byte),
plus length, count and repeat fields that claim far more than is present.
"""

import sys
import tracemalloc

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire import (
    compress42,
    dh384,
    fragments,
    https_prelude,
    objects,
    server_transport,
    tcp,
    tcp_commands,
    tcp_records,
    udp,
    udp_commands,
)
from blissnode.wire.compress42 import BIG_MODEL, ITEM, SMALL_MODEL, RangeEncoder, encode_number
from blissnode.wire.errors import LimitExceeded, ProtocolError
from blissnode.wire.objects import (
    Blob,
    Int,
    Int64,
    IntArray,
    Limits,
    NestedList,
    ObjectList,
    String,
    decode_object_lists,
    decode_objects,
    encode_objects,
)

#: Peak allocation allowed for one decode of an input of at most 64 bytes.
SMALL_INPUT_PEAK = 1 << 20
#: Python calls a decoder may make per input byte (measured worst case,
#: nested 0x42 lists replaying their 16-item history: about 45).
CALLS_PER_BYTE = 100
CALLS_FIXED = 2000


def peak_allocation(fn, *args, **kwargs):
    """Peak bytes allocated while ``fn`` runs (its ProtocolError swallowed)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        try:
            fn(*args, **kwargs)
        except ProtocolError:
            pass
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def call_count(fn, *args, **kwargs):
    """Python and C function calls made while ``fn`` runs."""
    count = [0]

    def profile(frame, event, arg):
        if event in ("call", "c_call"):
            count[0] += 1

    sys.setprofile(profile)
    try:
        fn(*args, **kwargs)
    except ProtocolError:
        pass
    finally:
        sys.setprofile(None)
    return count[0]


def largest(make, size):
    """``make(n)`` for (about) the largest ``n`` whose result fits in ``size``
    bytes; exact for small sizes, a proportional estimate for large ones
    (encoding 64 KiB of items a dozen times would dominate the test time)."""
    if size > 4096:
        n = max(1, 256 * size // len(make(256)))
        data = make(n)
        while len(data) > size:
            n = n * 97 // 100
            data = make(n)
        return data
    lo, hi = 0, 1
    while len(make(hi)) <= size:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if len(make(mid)) <= size:
            lo = mid
        else:
            hi = mid
    return make(lo)


def crafted42(*steps, pad=0):
    """A 0x42 list (marker included) coded step by step: ("f", table,
    symbol) or ("n", model, number), then ``pad`` zero bytes."""
    enc = RangeEncoder()
    for kind, table, value in steps:
        if kind == "f":
            enc.encode_freq(table, value)
        else:
            encode_number(enc, table, value)
    return bytes(enc.finish()) + bytes(pad)


#: Cheapest encodings of expensive object structures, by name: n -> bytes.
OBJECT_BOMBS = {
    "empty strings 0x42": lambda n: encode_objects([String(0, b"")] * n, True),
    "history replays 0x42": lambda n: encode_objects(
        [NestedList(0, [String(0, b"")] * 16)] * n, True),
    "long string 0x42": lambda n: encode_objects([String(0, b"\xc3" * n)], True),
    "zero intarray 0x42": lambda n: encode_objects([IntArray(0, [0] * n)], True),
    "zero int64s 0x42": lambda n: encode_objects([Int64(0, 0)] * n, True),
    "empty blobs 0x42": lambda n: encode_objects([Blob(0, b"")] * n, True),
    "empty lists 0x41": lambda n: b"\x41\x00" * n,
    "empty lists 0x42": lambda n: b"\x42\x15" * n,
    "nested 0x41": lambda n: b"\x41\x01\x05\x00" * n + b"\x41\x00",
    "nested empty 0x41": lambda n: b"\x41" + bytes([min(n, 127)]) + b"\x05\x00\x41\x00" * n,
    "ints 0x41": lambda n: b"\x41" + bytes([min(n, 127)]) + b"\x00\x00\x00" * n,
}

#: Fields that claim much more than the input holds.
CLAIMS = {
    "0x41 count 2**32-1": b"\x41\xff\xff\xff\xff\x0f" + b"\x00" * 20,
    "0x41 blob 2**32-1": b"\x41\x01\x04\x00\xff\xff\xff\xff\x0f" + b"\x00" * 20,
    "0x41 intarray 2**32-1": b"\x41\x01\x06\x00\xff\xff\xff\xff\x0f" + b"\x00" * 20,
    "0x42 blob 2**31": crafted42(
        ("f", ITEM, 7), ("n", SMALL_MODEL, 0), ("n", BIG_MODEL, 2**31), ("f", ITEM, 0), pad=8),
    "0x42 intarray 2**30-1": crafted42(
        ("f", ITEM, 11), ("n", SMALL_MODEL, 0), ("n", BIG_MODEL, 0x3FFFFFFF), pad=8),
    "0x42 int64 of 9 bytes": crafted42(
        ("f", ITEM, 12), ("n", SMALL_MODEL, 0), ("n", BIG_MODEL, 9), ("f", ITEM, 0)),
}


class NestingTests(TestCase):
    def nested41(self, levels):
        return b"\x41\x01\x05\x00" * (levels - 1) + b"\x41\x00"

    def test_deep_0x41_nesting_is_a_limit_not_a_recursion_error(self):
        data = self.nested41(20000)
        for depth in (1, 16, objects.MAX_DECODE_DEPTH):
            self.assertRaises(LimitExceeded, decode_objects, data,
                              limits=Limits(max_depth=depth))
            self.assertRaises(LimitExceeded, decode_object_lists, data,
                              limits=Limits(max_depth=depth))

    def test_deep_0x42_nesting_is_a_limit_not_a_recursion_error(self):
        # Our encoder refuses such depths; lift its limit (and Python's) to
        # build 3000 levels once, then decode under the normal stack.
        nested = ObjectList()
        for _ in range(2999):
            nested = ObjectList([NestedList(1, nested)])
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(old + 7000)
        try:
            data = compress42.encode_list42(nested, objects._ENCODE_MODEL, 10**6)
        finally:
            sys.setrecursionlimit(old)
        for depth in (1, 16, objects.MAX_DECODE_DEPTH):
            self.assertRaises(LimitExceeded, decode_objects, data,
                              limits=Limits(max_depth=depth))
            self.assertRaises(LimitExceeded, decode_object_lists, b"\x41\x01\x05\x00" + data,
                              limits=Limits(max_depth=depth))

    def test_max_depth_is_capped(self):
        """Regression: Limits(max_depth=5000) let a deep 0x41 list raise
        RecursionError; the knob is now bounded by MAX_DECODE_DEPTH."""
        self.assertRaises(ValueError, Limits, max_depth=objects.MAX_DECODE_DEPTH + 1)
        self.assertRaises(ValueError, Limits, max_depth=0)
        deepest = self.nested41(objects.MAX_DECODE_DEPTH)
        limits = Limits(max_depth=objects.MAX_DECODE_DEPTH)
        self.assertEqual(len(decode_objects(deepest, limits=limits)), 1)
        self.assertRaises(LimitExceeded, decode_objects, b"\x41\x01\x05\x00" + deepest,
                          limits=limits)

    def test_recursion_per_level_is_small(self):
        """The deepest list allowed decodes with only ~200 frames of stack to
        spare, so a decoder called deep inside a reactor cannot overflow."""
        deepest41 = self.nested41(objects.MAX_DECODE_DEPTH)
        nested = ObjectList()
        for _ in range(objects.MAX_DECODE_DEPTH - 1):
            nested = ObjectList([NestedList(1, nested)])
        deepest42 = encode_objects(nested, compressed=True)
        limits = Limits(max_depth=objects.MAX_DECODE_DEPTH)
        frame, depth = sys._getframe(), 0
        while frame is not None:
            frame, depth = frame.f_back, depth + 1
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(depth + 3 * objects.MAX_DECODE_DEPTH + 20)
        try:
            for data in (deepest41, deepest42):
                self.assertEqual(len(decode_objects(data, limits=limits)), 1)
        finally:
            sys.setrecursionlimit(old)


