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


class ObjectListBoundsTests(TestCase):
    def test_small_bombs_allocate_little(self):
        """The worst 64-byte object payloads allocate well under 1 MiB."""
        for name, make in OBJECT_BOMBS.items():
            data = largest(make, 64)
            for fn in (decode_object_lists, decode_objects):
                peak = peak_allocation(fn, data)
                self.assertLess(peak, SMALL_INPUT_PEAK, (name, fn.__name__, peak))

    def test_claims_are_checked_before_allocating(self):
        for name, data in CLAIMS.items():
            self.assertLessEqual(len(data), 64, name)
            self.assertRaises(ProtocolError, decode_objects, data)
            big = Limits(max_value_bytes=1 << 40, max_list_items=1 << 40,
                         max_total_items=1 << 40)
            self.assertRaises(ProtocolError, decode_objects, data, limits=big)
            peak = peak_allocation(decode_objects, data, limits=big)
            self.assertLess(peak, 64 * 1024, (name, peak))

    def test_work_is_linear_in_the_input(self):
        """Decoding does at most CALLS_PER_BYTE calls per input byte, also for
        inputs built to maximise the work (history replays cost the range
        decoder nothing per replayed item, but every list costs bits)."""
        for name, make in OBJECT_BOMBS.items():
            for size in (64, 2048):
                data = largest(make, size)
                calls = call_count(decode_object_lists, data)
                self.assertLessEqual(calls, CALLS_PER_BYTE * len(data) + CALLS_FIXED,
                                     (name, size, calls))
        for name, data in CLAIMS.items():
            calls = call_count(decode_objects, data)
            self.assertLessEqual(calls, CALLS_PER_BYTE * len(data) + CALLS_FIXED, (name, calls))

    def test_record_sized_bombs(self):
        """At the size of a maximal TCP record body (64 KiB) the limits cap
        what the worst payloads can build."""
        for name, make in OBJECT_BOMBS.items():
            data = largest(make, tcp_records.DEFAULT_MAX_BODY)
            peak = peak_allocation(decode_object_lists, data)
            self.assertLess(peak, 4 << 20, (name, peak))

    def test_back_to_back_empty_lists_are_counted(self):
        """Regression: ``41 00`` repeated used to build one ObjectList per two
        input bytes without any limit (30 MB from a 1 MiB payload); every
        top-level list now counts as an item."""
        limit = objects.DEFAULT_LIMITS.max_total_items
        for empty in (b"\x41\x00", b"\x42\x15"):
            lists, rest, _ = decode_object_lists(empty * limit)
            self.assertEqual((len(lists), rest), (limit, b""))
            self.assertRaises(LimitExceeded, decode_object_lists, empty * (limit + 1))
            self.assertRaises(LimitExceeded, decode_object_lists, empty * 3,
                              limits=Limits(max_total_items=2))
        # Items inside the lists and the lists themselves share the budget.
        data = encode_objects([Int(1, 1)]) * 2
        self.assertEqual(len(decode_object_lists(data, limits=Limits(max_total_items=4))[0]), 2)
        self.assertRaises(LimitExceeded, decode_object_lists, data,
                          limits=Limits(max_total_items=3))

    @settings(max_examples=150, deadline=None)
    @given(st.binary(max_size=64), st.sampled_from([b"", b"\x41", b"\x42"]))
    def test_random_small_inputs(self, data, marker):
        data = (marker + data)[:64]
        self.assertLess(peak_allocation(decode_object_lists, data), SMALL_INPUT_PEAK)
        self.assertLessEqual(call_count(decode_object_lists, data),
                             CALLS_PER_BYTE * len(data) + CALLS_FIXED)


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


class StreamBufferTests(TestCase):
    def test_record_parser_refuses_large_claims_at_once(self):
        for header in (b"\xff\xff\xff\xff\x0f", tcp_records.encode_record_header(0x10001, 0)):
            parser = tcp_records.RecordParser()
            self.assertRaises(LimitExceeded, parser.feed, header)
            self.assertRaises(ProtocolError, parser.feed, b"\x00")
        # A header longer than 5 bytes is refused after 5 bytes.
        parser = tcp_records.RecordParser()
        self.assertEqual(parser.feed(b"\x80" * 4), [])
        self.assertRaises(ProtocolError, parser.feed, b"\x80")

    def test_record_parser_buffer_is_bounded(self):
        """Byte-by-byte input towards a maximal record: the buffer holds the
        bytes received and never more than header + max_body."""
        parser = tcp_records.RecordParser(max_body=300)
        header = tcp_records.encode_record_header(299, 1)
        fed = 0
        for byte in header + b"\x03" + bytes(298):
            self.assertLessEqual(parser.buffered, len(header) + 300)
            records = parser.feed(bytes([byte]))
            fed += 1
            self.assertEqual(parser.buffered, 0 if records else fed)
        self.assertEqual(parser.buffered, 0)

    def test_small_stream_allocations(self):
        """A 64-byte chunk into the stream-side parsers allocates little,
        whatever it claims."""
        inputs = [
            b"\xff\xff\xff\x0f" + bytes(60),
            tcp_records.encode_record_header(0x10000, 0) + bytes(60),
            b"\x03\x03" * 32,
            b"\x17\x03\x01\xff\xff" + bytes(59),
            server_transport.CLIENT_HELLO * 12,
            b"\x80\x46\x01\x03\x01" + bytes(59),
            b"\xff\xff" + bytes(62),
        ]

        def feed_all(data):
            for fn in (tcp_records.RecordParser().feed,
                       server_transport.ServerRecordParser().feed,
                       tcp.StreamDecoder().feed,
                       tcp.decode_stream,
                       https_prelude.decide_prelude,
                       https_prelude.parse_client_hello,
                       udp.parse_datagram,
                       udp_commands.parse_payload,
                       tcp_commands.decode_commands,
                       dh384.ServerHandshake(dh384.KeyPair(5)).receive):
                try:
                    fn(data)
                except ProtocolError:
                    pass

        for data in inputs:
            self.assertLess(peak_allocation(feed_all, data), SMALL_INPUT_PEAK, data.hex())

    def test_server_record_parser_limit(self):
        parser = server_transport.ServerRecordParser(max_payload=1000)
        self.assertRaises(LimitExceeded, parser.feed, b"\x17\x03\x01\x03\xe9")
        parser = server_transport.ServerRecordParser(max_payload=1000)
        self.assertEqual(parser.feed(b"\x17\x03\x01\x03\xe8" + bytes(999)), [])
        self.assertEqual(parser.buffered, 1004)

    def test_dh_handshake_gives_up_early(self):
        """A peer that never sends the hash is refused after A + 48 filler
        + 8 bytes, so the handshake buffer stays below 104 bytes."""
        server = dh384.ServerHandshake(dh384.KeyPair(5))
        a = dh384.KeyPair(7).public_bytes()
        server.receive(a)
        with self.assertRaises(ProtocolError):
            for _ in range(dh384.MAX_FILLER + dh384.HASH_SIZE):
                server.receive(b"\x00")
        self.assertLessEqual(len(server._buf), dh384.MAX_FILLER + dh384.HASH_SIZE)

    def test_command_and_payload_counts(self):
        command = tcp_commands.Command(1, 1, None, b"\x41\x00").encode()
        self.assertRaises(LimitExceeded, tcp_commands.decode_commands,
                          command * (tcp_commands.MAX_COMMANDS + 1))
        self.assertRaises(LimitExceeded, udp_commands.parse_payload,
                          command * (udp_commands.MAX_PAYLOAD_COMMANDS + 1))


class ReassemblyBoundsTests(TestCase):
    def test_flood_of_stray_fragments(self):
        """Fragments of thousands of messages that never complete: the
        reassembler keeps at most max_pending messages and max_total_bytes."""
        r = fragments.Reassembler(max_pending=8, max_total_bytes=20000)
        chunk = bytes(fragments.MAX_FRAGMENT_DATA)
        for n in range(2000):
            self.assertIsNone(r.add(("peer", n), n % 127, False, chunk))
            self.assertLessEqual(len(r), 8)
            self.assertLessEqual(r.total_bytes, 20000)

    def test_one_message_is_bounded(self):
        r = fragments.Reassembler(max_message_bytes=3000)
        chunk = bytes(1400)
        r.add("k", 0, False, chunk)
        r.add("k", 1, False, chunk)
        self.assertRaises(LimitExceeded, r.add, "k", 2, False, chunk)
        self.assertEqual((len(r), r.total_bytes), (0, 0))
        self.assertRaises(LimitExceeded, r.add, "k", 0, False,
                          bytes(fragments.MAX_FRAGMENT_DATA + 1))
        for index in (-1, fragments.MAX_FRAGMENTS):
            self.assertRaises(ProtocolError, r.add, "k", index, True, b"x")
