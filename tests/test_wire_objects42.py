"""The compressed 0x42 object lists against every case of
vectors/objects42.json (decode, byte-exact encode, arith_len / raw tail), the
spec's worked examples, the range coder primitives, hostile inputs, limits and
property tests."""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire import compress42
from blissnode.wire.compress42 import (
    BIG,
    BIG_MODEL,
    CHAR_CLASSES,
    CHARS,
    ITEM,
    NEXT,
    SMALL,
    SMALL_MODEL,
    RangeDecoder,
    RangeEncoder,
    decode_number,
    encode_number,
)
from blissnode.wire.errors import LimitExceeded, ProtocolError
from blissnode.wire.objects import (
    Addr,
    Blob,
    Int,
    Int64,
    IntArray,
    Limits,
    NestedList,
    NetAddr,
    ObjectList,
    String,
    decode_42_parts,
    decode_object_lists,
    decode_objects,
    encode_objects,
    objects_from_json,
    objects_to_json,
)
from tests.test_wire_limits import (
    CALLS_FIXED,
    CALLS_PER_BYTE,
    SMALL_INPUT_PEAK,
    call_count,
    peak_allocation,
)
from tests.test_wire_objects41 import SETTINGS, decode_or_reject, edit_lists, mutate, object_lists
from tests.vectors import cases


def list_cases():
    out = [c for c in cases("objects42.json") if "kind" not in c]
    assert len(out) == 120, len(out)
    return out


def expected_tail(items):
    """The raw tail a list must carry, computed from its JSON form (spec 4.8):
    depth-first over the id-sorted items, BLOB bytes, ADDR as LE ip + LE port,
    INT64 as its significant bytes LE."""
    out = b""
    for it in sorted(items, key=lambda d: d["id"]):
        t, v = it["type"], it["value"]
        if t == 1:
            out += v.to_bytes((v.bit_length() + 7) // 8, "little")
        elif t == 2:
            ip = bytes(int(x) for x in v["ip"].split("."))
            out += ip[::-1] + v["port"].to_bytes(2, "little")
        elif t == 4:
            out += bytes.fromhex(v)
        elif t == 5:
            out += expected_tail(v)
    return out


def sorted_by_id(objlist):
    """What a 0x42 decoder returns for ``objlist``: every level stably sorted by id."""
    return ObjectList(
        sorted(
            (NestedList(it.id, sorted_by_id(it.value)) if it.TYPE == 5 else it for it in objlist),
            key=lambda it: it.id,
        )
    )


# --- vectors -----------------------------------------------------------------------


class Vectors42Tests(TestCase):
    def test_decode_all(self):
        for case in list_cases():
            got = decode_objects(bytes.fromhex(case["encoded_hex"]))
            self.assertEqual(objects_to_json(got), case["list"], case["name"])

    def test_encode_all_byte_exact(self):
        for case in list_cases():
            source = objects_from_json(case.get("input_order", case["list"]))
            self.assertEqual(
                encode_objects(source, compressed=True).hex(), case["encoded_hex"], case["name"]
            )

    def test_input_order_cases(self):
        # Unsorted input encodes like its sorted form; the decoder returns it sorted.
        with_order = [c for c in list_cases() if "input_order" in c]
        self.assertEqual(len(with_order), 34)
        for case in with_order:
            unsorted = objects_from_json(case["input_order"])
            self.assertEqual(
                objects_to_json(sorted_by_id(unsorted)), case["list"], case["name"]
            )
            self.assertEqual(
                encode_objects(objects_from_json(case["list"]), compressed=True).hex(),
                case["encoded_hex"],
                case["name"],
            )

    def test_arith_len_and_raw_tail(self):
        # arith_len = marker + arithmetic part; the rest is the raw tail.
        for case in list_cases():
            data = bytes.fromhex(case["encoded_hex"])
            objlist, tail, end = decode_42_parts(data)
            self.assertEqual((tail, end), (case["arith_len"], len(data)), case["name"])
            self.assertEqual(data[tail:], expected_tail(case["list"]), case["name"])
            # The decoder finds the same boundary when other bytes follow.
            self.assertEqual(
                decode_42_parts(data + b"\xffABC")[1:], (tail, len(data)), case["name"]
            )

    def test_followed_by_more_data(self):
        # The next list starts right after the raw tail (spec 4.3.4).
        all_cases = list_cases()
        for a, b in zip(all_cases, all_cases[1:]):
            data = bytes.fromhex(a["encoded_hex"] + b["encoded_hex"]) + b"\x07"
            lists, rest, fmt = decode_object_lists(data)
            self.assertEqual(
                [objects_to_json(x) for x in lists], [a["list"], b["list"]], a["name"]
            )
            self.assertEqual((rest, fmt), (b"\x07", "42"))

    def test_invalid(self):
        invalid = cases("objects42.json", "invalid")
        self.assertEqual(len(invalid), 5)
        for case in invalid:
            data = bytes.fromhex(case["encoded_hex"])
            self.assertRaises(ProtocolError, decode_objects, data)
            if data[:1] == b"\x42":
                self.assertRaises(ProtocolError, decode_object_lists, data)
                self.assertRaises(ProtocolError, decode_42_parts, data)

    def test_same_lists_in_both_vector_files(self):
        # The same named list decodes identically from its 0x41 and 0x42 forms.
        plain = {c["name"]: c for c in cases("objects41.json", "list")}
        shared = 0
        for case in list_cases():
            other = plain.get(case["name"])
            if other is None:
                continue
            shared += 1
            from41 = decode_objects(bytes.fromhex(other["encoded_hex"]))
            self.assertEqual(
                objects_to_json(sorted_by_id(from41)), case["list"], case["name"]
            )
        self.assertGreater(shared, 40)


# --- worked examples (spec 4.9) ----------------------------------------------------


class WorkedExamplesTests(TestCase):
    def check(self, objlist, hex_):
        data = bytes.fromhex(hex_)
        self.assertEqual(encode_objects(objlist, compressed=True), data)
        self.assertEqual(decode_objects(data), sorted_by_id(objlist))

    def test_one_integer(self):
        self.check(ObjectList([Int(9, 7917455)]), "42b09f39bc4cdc")

    def test_one_integer_step_by_step(self):
        # The table of spec 4.9.1: (low, range, output) after each primitive.
        enc = RangeEncoder()
        steps = [
            (lambda: enc.encode_freq(ITEM, 6), 0x54200000, 0x07800000, ""),
            (lambda: enc.encode_freq(SMALL, 4), 0x582BF000, 0x009EE800, ""),
            (lambda: enc.encode_bits(0, 2), 0x582BF000, 0x0027BA00, ""),
            (lambda: enc.encode_freq(BIG, 16), 0x4DF88820, 0x05B177E0, ""),
            (lambda: enc.encode_freq(BIG, 3), 0x4F7430FD, 0x002AB2C8, ""),
            (lambda: enc.encode_bits(3, 2), 0x94371300, 0x0AACB200, "b0"),
            (lambda: enc.encode_bits(53135, 16), 0x9CDE1D14, 0x00000AAC, "b0"),
            (lambda: enc.encode_bits(56, 6), 0x266A8000, 0x002AB000, "b09f39"),
            (lambda: enc.encode_freq(ITEM, 0), 0x6A800000, 0x0708E100, "b09f39bc"),
        ]
        for n, (step, low, rng, out) in enumerate(steps):
            step()
            self.assertEqual((enc.low, enc.range), (low, rng), "step %d" % (n,))
            self.assertEqual(enc.out.hex(), "42" + out, "step %d" % (n,))
        self.assertEqual(enc.finish().hex(), "42b09f39bc4cdc")

    def test_strings(self):
        self.check(ObjectList([String(0, b"en"), Int(1, 300)]), "42dc0160080696")

    def test_history_repeat(self):
        values = [(2, 208866633), (256, 20177385), (3, 205236707), (4, 2), (5, 23)]
        objlist = ObjectList([NestedList(1, [Int(0, a), Int(1, b)]) for a, b in values])
        self.check(
            objlist,
            "42f64386839f7c2cb6edeb3c093be8f867662ce6979aa0b8c4178487957c",
        )

    def test_raw_tail(self):
        addrs = [
            ("66.131.62.190", 37198),
            ("122.100.208.99", 57096),
            ("76.111.220.149", 40261),
            ("76.16.73.84", 50902),
            ("142.177.127.137", 26151),
        ]
        inner = [Int(0, 45)] + [Addr(3, NetAddr(ip, port)) for ip, port in addrs] + [Int(7, 10)]
        data = bytes.fromhex(
            "42f8eb97b872b7238914be3e83424e9163d0647a08df95dc6f4c459d5449104cd6c6897fb18e2766"
        )
        self.check(ObjectList([NestedList(6, inner)]), data.hex())
        self.assertEqual(decode_42_parts(data)[1:], (10, 40))

    def test_empty(self):
        self.check(ObjectList(), "4215")


# --- constants and primitives -----------------------------------------------------


class TablesTests(TestCase):
    def test_cumulative_tables(self):
        tables = [ITEM, SMALL, BIG] + list(CHARS) + list(NEXT)
        for table in tables:
            self.assertEqual((table[0], table[-1]), (0, 0x1000), table)
            self.assertTrue(all(a < b for a, b in zip(table, table[1:])), table)
        self.assertEqual((len(ITEM), len(SMALL), len(BIG)), (14, 10, 18))
        self.assertEqual([len(t) for t in NEXT], [12] * 11)

    def test_classes_partition_bytes(self):
        members = b"".join(CHAR_CLASSES)
        self.assertEqual(sorted(members), list(range(256)))
        for c, table in enumerate(CHARS):
            self.assertEqual(len(table), len(CHAR_CLASSES[c]) + 1, c)
        self.assertEqual(compress42.INITIAL_MTF, (0, 4, 3, 5, 2, 6, 1))

    @SETTINGS
    @given(
        st.lists(
            st.one_of(
                st.tuples(st.just("sym"), st.integers(0, 24), st.integers(0, 200)),
                st.tuples(st.just("bits"), st.integers(1, 16), st.integers(0, 0xFFFF)),
                st.tuples(st.just("small"), st.just(0), st.integers(0, 0xFFFFFFFF)),
                st.tuples(st.just("big"), st.just(0), st.integers(0, 0xFFFFFFFF)),
            ),
            max_size=60,
        )
    )
    def test_coder_round_trip(self, ops):
        tables = [ITEM, SMALL, BIG] + list(CHARS) + list(NEXT)
        script = []
        for kind, a, b in ops:
            if kind == "sym":
                table = tables[a]
                script.append((kind, table, b % (len(table) - 1)))
            elif kind == "bits":
                script.append((kind, a, b & ((1 << a) - 1)))
            else:
                script.append((kind, SMALL_MODEL if kind == "small" else BIG_MODEL, b))
        enc = RangeEncoder()
        for kind, a, b in script:
            if kind == "sym":
                enc.encode_freq(a, b)
            elif kind == "bits":
                enc.encode_bits(b, a)
            else:
                encode_number(enc, a, b)
        data = bytes(enc.finish()) + b"tail"
        dec = RangeDecoder(data, 0, len(data))
        for kind, a, b in script:
            if kind == "sym":
                got = dec.decode_freq(a)
            elif kind == "bits":
                got = dec.decode_bits(a)
            else:
                got = decode_number(dec, a)
            self.assertEqual(got, b)
        self.assertEqual(dec.finish(), len(data) - 4)


# --- hostile input and limits ----------------------------------------------------


def crafted(*ops, pad=0):
    """Hand-made 0x42 bytes: ("f", table, symbol), ("n", model, value)."""
    enc = RangeEncoder()
    for op in ops:
        if op[0] == "f":
            enc.encode_freq(op[1], op[2])
        else:
            encode_number(enc, op[1], op[2])
    return bytes(enc.finish()) + b"\x00" * pad


# ITEM symbols for the types at their initial MTF position [0, 4, 3, 5, 2, 6, 1].
SYM_INT, SYM_BLOB, SYM_LIST, SYM_INTARRAY, SYM_INT64 = 1, 7, 9, 11, 12


class Hostile42Tests(TestCase):
    def assertCheap(self, data, **kwargs):
        """``decode_objects(data, **kwargs)`` raises ProtocolError after a
        bounded amount of work and memory -- counted, not timed (a claim of
        2**31 bytes or 2**30 ints must not be acted on): at most
        CALLS_PER_BYTE calls per input byte and SMALL_INPUT_PEAK bytes, the
        budgets of tests/test_wire_limits.py."""
        self.assertRaises(ProtocolError, decode_objects, data, **kwargs)
        calls = call_count(decode_objects, data, **kwargs)
        self.assertLessEqual(calls, CALLS_PER_BYTE * len(data) + CALLS_FIXED,
                             (data.hex(), kwargs, calls))
        peak = peak_allocation(decode_objects, data, **kwargs)
        self.assertLessEqual(peak, SMALL_INPUT_PEAK, (data.hex(), kwargs, peak))

    def test_huge_blob_claim(self):
        data = crafted(("f", ITEM, SYM_BLOB), ("n", SMALL_MODEL, 0), ("n", BIG_MODEL, 2**31),
                       ("f", ITEM, 0), pad=10)
        self.assertLessEqual(len(data), 20)
        self.assertRaises(ProtocolError, decode_objects, data)
        self.assertRaises(
            ProtocolError, decode_objects, data, limits=Limits(max_value_bytes=2**40)
        )
        self.assertCheap(data)
        self.assertCheap(data, limits=Limits(max_value_bytes=2**40))

    def test_huge_intarray_claim(self):
        head = [("f", ITEM, SYM_INTARRAY), ("n", SMALL_MODEL, 0)]
        data = crafted(*head, ("n", BIG_MODEL, 0x3FFFFFFF), pad=10)
        self.assertRaises(LimitExceeded, decode_objects, data)
        # Even with no byte budget the count cannot outrun the input.
        self.assertRaises(
            ProtocolError, decode_objects, data, limits=Limits(max_value_bytes=2**40)
        )
        self.assertCheap(data)
        self.assertCheap(data, limits=Limits(max_value_bytes=2**40))
        data = crafted(*head, ("n", BIG_MODEL, 0x40000000), pad=10)
        self.assertRaises(
            ProtocolError, decode_objects, data, limits=Limits(max_value_bytes=2**40)
        )
        self.assertCheap(data, limits=Limits(max_value_bytes=2**40))

    def test_int64_too_long(self):
        data = crafted(("f", ITEM, SYM_INT64), ("n", SMALL_MODEL, 0), ("n", BIG_MODEL, 9),
                       ("f", ITEM, 0))
        self.assertRaises(ProtocolError, decode_objects, data)
        ok = crafted(("f", ITEM, SYM_INT64), ("n", SMALL_MODEL, 0), ("n", BIG_MODEL, 8),
                     ("f", ITEM, 0)) + b"\x01" * 8
        self.assertEqual(decode_objects(ok), ObjectList([Int64(0, 0x0101010101010101)]))

    def test_number_longer_than_32_bits(self):
        enc = RangeEncoder()
        enc.encode_freq(ITEM, SYM_INT)
        encode_number(enc, BIG_MODEL, 2**32 - 1)
        enc.encode_freq(ITEM, 0)
        self.assertEqual(decode_objects(bytes(enc.finish())), ObjectList([Int(0, 2**32 - 1)]))
        too_long = crafted(("f", ITEM, SYM_INT), ("f", BIG, 16), ("n", BIG_MODEL, 17), pad=8)
        self.assertRaises(ProtocolError, decode_objects, too_long)
        nested_escape = crafted(("f", ITEM, SYM_INT), ("f", BIG, 16), ("f", BIG, 16), pad=8)
        self.assertRaises(ProtocolError, decode_objects, nested_escape)

    def test_repeat_beyond_history(self):
        def two_records(repeat):
            return crafted(
                ("f", ITEM, SYM_LIST), ("n", SMALL_MODEL, 0),  # LIST id 0
                ("f", ITEM, SYM_INT), ("n", BIG_MODEL, 7), ("f", ITEM, 0),  # {INT 0 = 7}
                ("f", ITEM, 1),  # LIST id 0 again (type 5 now at the front)
                ("n", SMALL_MODEL, repeat), ("n", BIG_MODEL, 8), ("f", ITEM, 0),
                ("f", ITEM, 0),
            )

        record = lambda v: NestedList(0, [Int(0, v)])  # noqa: E731
        self.assertEqual(decode_objects(two_records(1)), ObjectList([record(7), record(8)]))
        self.assertEqual(encode_objects([record(7), record(8)], True), two_records(1))
        self.assertRaises(ProtocolError, decode_objects, two_records(2))
        self.assertRaises(ProtocolError, decode_objects, two_records(17))

    def test_depth(self):
        def nested(levels):
            objlist = ObjectList()
            for _ in range(levels - 1):
                objlist = ObjectList([NestedList(1, objlist)])
            return encode_objects(objlist, compressed=True)

        decode_objects(nested(8), limits=Limits(max_depth=8))
        self.assertRaises(LimitExceeded, decode_objects, nested(9), limits=Limits(max_depth=8))
        # ... counted across a 0x41 parent too.
        inner = nested(7)
        data = b"\x41\x01\x05\x01" + inner
        decode_objects(data, limits=Limits(max_depth=8))
        data = b"\x41\x01\x05\x01\x41\x01\x05\x01" + inner
        self.assertRaises(LimitExceeded, decode_objects, data, limits=Limits(max_depth=8))

    def test_items_and_bytes(self):
        objlist = [NestedList(0, [Int(i, 1) for i in range(10)]), String(1, b"ab" * 10)]
        data = encode_objects(objlist, True)
        fits = Limits(max_list_items=10, max_total_items=12, max_value_bytes=20)
        decode_objects(data, limits=fits)
        for limits in (
            Limits(max_list_items=9),
            Limits(max_total_items=11),
            Limits(max_value_bytes=19),
        ):
            self.assertRaises(LimitExceeded, decode_objects, data, limits=limits)

    def test_truncations_of_vectors(self):
        # Every proper prefix of a vector either fails or decodes to a list
        # (a prefix can be a valid shorter encoding), never anything else.
        for case in list_cases()[:60]:
            data = bytes.fromhex(case["encoded_hex"])
            for n in range(len(data)):
                decode_or_reject(self, data[:n])


# --- properties ------------------------------------------------------------------


class Properties42Tests(TestCase):
    @SETTINGS
    @given(st.binary(max_size=64))
    def test_random_bytes(self, data):
        decode_or_reject(self, b"\x42" + data)

    @SETTINGS
    @given(st.sampled_from(range(120)), edit_lists)
    def test_mutated_vectors(self, index, edits):
        case = list_cases()[index]
        decode_or_reject(self, mutate(bytes.fromhex(case["encoded_hex"]), edits))

    @SETTINGS
    @given(object_lists, edit_lists)
    def test_mutated_encodings(self, objlist, edits):
        decode_or_reject(self, mutate(encode_objects(objlist, compressed=True), edits))

    @SETTINGS
    @given(object_lists)
    def test_round_trip(self, objlist):
        data = encode_objects(objlist, compressed=True)
        decoded = decode_objects(data)
        self.assertEqual(decoded, sorted_by_id(objlist))
        # Sorted input gives the same bytes; re-encoding is byte-identical.
        self.assertEqual(encode_objects(decoded, compressed=True), data)
        # Both encodings carry the same list.
        self.assertEqual(sorted_by_id(decode_objects(encode_objects(objlist))), decoded)
        # The raw tail is where spec 4.8 says.
        _, tail, end = decode_42_parts(data + b"\x42")
        self.assertEqual(data[tail:end], expected_tail(objects_to_json(objlist)))
        self.assertEqual(end, len(data))

    @SETTINGS
    @given(st.lists(object_lists, min_size=1, max_size=3), st.booleans(), st.binary(max_size=4))
    def test_several_lists(self, objlists, compressed, rest):
        if rest[:1] in (b"\x41", b"\x42"):
            rest = b"\x00" + rest
        data = b"".join(encode_objects(x, compressed) for x in objlists) + rest
        lists, got_rest, fmt = decode_object_lists(data)
        want = [sorted_by_id(x) if compressed else x for x in objlists]
        self.assertEqual((lists, got_rest, fmt), (want, rest, "42" if compressed else "41"))
