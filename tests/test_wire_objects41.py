"""Varints and the plain 0x41 object lists against every case of
vectors/objects41.json, plus the data model, the JSON shape, the limits and
property tests (random/mutated bytes, round trips)."""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire.errors import LimitExceeded, ProtocolError
from blissnode.wire.objects import (
    Addr,
    Blob,
    DEFAULT_LIMITS,
    Int,
    Int64,
    IntArray,
    Limits,
    NestedList,
    NetAddr,
    ObjectList,
    String,
    decode_object_list_at,
    decode_object_lists,
    decode_objects,
    encode_objects,
    objects_from_json,
    objects_to_json,
)
from blissnode.wire.varint import decode_varint, encode_varint
from tests.vectors import cases

SETTINGS = settings(max_examples=300, deadline=None)


# --- strategies shared with test_wire_objects42 -----------------------------

u32 = st.integers(0, 0xFFFFFFFF)
ids = st.one_of(st.integers(0, 40), u32)
addrs = st.builds(
    lambda ip, port: NetAddr("%d.%d.%d.%d" % tuple(ip), port),
    st.binary(min_size=4, max_size=4),
    st.integers(0, 0xFFFF),
)
leaf_items = st.one_of(
    st.builds(Int, ids, u32),
    st.builds(Int64, ids, st.integers(0, 2**64 - 1)),
    st.builds(Addr, ids, addrs),
    st.builds(String, ids, st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b"x"))),
    st.builds(String, ids, st.text(max_size=20).map(lambda s: s.replace("\x00", "").encode())),
    st.builds(Blob, ids, st.binary(max_size=40)),
    st.builds(IntArray, ids, st.lists(u32, max_size=6)),
)


def _item_lists(children):
    return st.lists(st.one_of(leaf_items, st.builds(NestedList, ids, children)), max_size=6)


#: Random object lists, at most 5 levels deep, a few dozen items.
object_lists = st.recursive(
    st.lists(leaf_items, max_size=6), _item_lists, max_leaves=30
).map(ObjectList)


def mutate(data, edits):
    """Apply (position, byte) overwrites, inserts and deletions to ``data``."""
    b = bytearray(data)
    for kind, pos, val in edits:
        if not b and kind != "insert":
            continue
        pos %= len(b) + (kind == "insert")
        if kind == "set":
            b[pos] = val
        elif kind == "insert":
            b.insert(pos, val)
        else:
            del b[pos]
    return bytes(b)


edit_lists = st.lists(
    st.tuples(
        st.sampled_from(["set", "insert", "delete"]),
        st.integers(0, 1 << 16),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=4,
)


def decode_or_reject(test, data):
    """A decoder either returns a value or raises ProtocolError."""
    try:
        lists, rest, fmt = decode_object_lists(data)
    except ProtocolError:
        pass
    else:
        test.assertIn(fmt, ("41", "42"))
        test.assertIsInstance(rest, bytes)
        for objlist in lists:
            test.assertIsInstance(objlist, ObjectList)
    try:
        decode_objects(data)
    except ProtocolError:
        pass


# --- varints -----------------------------------------------------------------


class VarintTests(TestCase):
    def test_vectors(self):
        for case in cases("objects41.json", "varint"):
            encoded = bytes.fromhex(case["encoded_hex"])
            self.assertEqual(encode_varint(case["value"]), encoded, case)
            self.assertEqual(decode_varint(encoded), (case["value"], len(encoded)), case)
            self.assertEqual(
                decode_varint(b"\xaa" + encoded + b"\x01", 1),
                (case["value"], len(encoded) + 1),
                case,
            )

    def test_truncated(self):
        for data in (b"", b"\x80", b"\xff\xff", b"\x80\x80\x80\x80"):
            self.assertRaises(ProtocolError, decode_varint, data)
        self.assertRaises(ProtocolError, decode_varint, b"\x01", 1)

    def test_overlong(self):
        self.assertRaises(ProtocolError, decode_varint, b"\x80\x80\x80\x80\x80\x01")
        self.assertRaises(ProtocolError, decode_varint, b"\xff" * 100)

    def test_non_minimal_accepted(self):
        self.assertEqual(decode_varint(b"\x80\x00"), (0, 2))
        self.assertEqual(decode_varint(b"\x81\x80\x80\x80\x00"), (1, 5))

    def test_high_bits_of_fifth_byte_dropped(self):
        # The reference keeps value mod 2**32.
        self.assertEqual(decode_varint(b"\xff\xff\xff\xff\x7f"), (0xFFFFFFFF, 5))

    def test_wide_values(self):
        data = encode_varint(2**40 + 5)
        self.assertEqual(decode_varint(data, max_bytes=10, mask=None), (2**40 + 5, len(data)))

    def test_negative(self):
        self.assertRaises(ValueError, encode_varint, -1)

    @SETTINGS
    @given(st.integers(0, 0xFFFFFFFF))
    def test_round_trip(self, n):
        data = encode_varint(n)
        self.assertLessEqual(len(data), 5)
        self.assertEqual(decode_varint(data), (n, len(data)))

    @SETTINGS
    @given(st.binary(max_size=8), st.integers(0, 8))
    def test_random_bytes(self, data, offset):
        try:
            value, end = decode_varint(data, offset)
        except ProtocolError:
            return
        self.assertTrue(0 <= value <= 0xFFFFFFFF)
        self.assertTrue(offset < end <= offset + 5)


# --- 0x41 vectors -----------------------------------------------------------------


class Vectors41Tests(TestCase):
    def test_decode_all_lists(self):
        for case in cases("objects41.json", "list"):
            got = decode_objects(bytes.fromhex(case["encoded_hex"]))
            self.assertEqual(objects_to_json(got), case["list"], case["name"])

    def test_encode_all_lists(self):
        encoded_cases = [c for c in cases("objects41.json", "list") if not c.get("decode_only")]
        self.assertEqual(len(encoded_cases), 125)
        for case in encoded_cases:
            objlist = objects_from_json(case["list"])
            self.assertEqual(
                encode_objects(objlist).hex(), case["encoded_hex"], case["name"]
            )
            self.assertEqual(
                encode_objects(objlist, compressed=False).hex(), case["encoded_hex"]
            )

    def test_json_shape_round_trip(self):
        for case in cases("objects41.json", "list"):
            self.assertEqual(objects_to_json(objects_from_json(case["list"])), case["list"])

    def test_invalid(self):
        invalid = cases("objects41.json", "invalid")
        self.assertEqual(len(invalid), 11)
        for case in invalid:
            data = bytes.fromhex(case["encoded_hex"])
            self.assertRaises(ProtocolError, decode_objects, data)
            self.assertRaises(ProtocolError, decode_object_lists, data)

    def test_vector_lists_as_several_lists(self):
        # Every vector list, concatenated with the next one plus trailing bytes.
        lists = cases("objects41.json", "list")
        for a, b in zip(lists, lists[1:]):
            data = bytes.fromhex(a["encoded_hex"] + b["encoded_hex"]) + b"\x00\xff"
            got, rest, fmt = decode_object_lists(data)
            self.assertEqual(
                [objects_to_json(x) for x in got], [a["list"], b["list"]], a["name"]
            )
            self.assertEqual((rest, fmt), (b"\x00\xff", "41"))


# --- 0x41 specifics -----------------------------------------------------------------


class Plain41Tests(TestCase):
    def test_worked_example(self):
        # spec/objects.md 3.2
        objlist = ObjectList([Int(3, 9375), String(0, b"xot_iam"), Int(0x1B, 1)])
        data = bytes.fromhex("410300039f490300786f745f69616d00001b01")
        self.assertEqual(encode_objects(objlist), data)
        self.assertEqual(decode_objects(data), objlist)

    def test_login_reply_two_lists(self):
        # spec/objects.md 3.2, the Skype 6.16 login reply layout.
        credentials = bytes(range(256)) + b"\x01\x02\x03\x04"
        data = (
            bytes.fromhex("41020001e82000020141" "04003a02003c00042484 02")
            + credentials
            + bytes.fromhex("053241 00")
        )
        lists, rest, fmt = decode_object_lists(data)
        self.assertEqual(
            lists,
            [
                ObjectList([Int(1, 0x1068), Int(2, 1)]),
                ObjectList(
                    [Int(0x3A, 2), Int(0x3C, 0), Blob(0x24, credentials), NestedList(0x32, [])]
                ),
            ],
        )
        self.assertEqual((rest, fmt), (b"", "41"))
        self.assertEqual(b"".join(encode_objects(x) for x in lists), data)

    def test_supernode_addr(self):
        # spec/objects.md 1: 02 11 58 C0 DF 39 C0 2F = 88.192.223.57:49199
        objlist = decode_objects(bytes.fromhex("4101021158c0df39c02f"))
        self.assertEqual(objlist, ObjectList([Addr(0x11, NetAddr("88.192.223.57", 49199))]))

    def test_empty(self):
        self.assertEqual(decode_objects(b"\x41\x00"), ObjectList())
        self.assertEqual(encode_objects(ObjectList()), b"\x41\x00")

    def test_trailing_bytes(self):
        self.assertRaises(ProtocolError, decode_objects, b"\x41\x00\x00")
        self.assertEqual(decode_object_list_at(b"\x41\x00\x00"), (ObjectList(), 2))
        self.assertEqual(decode_object_list_at(b"\xee\x41\x00", 1), (ObjectList(), 3))
        self.assertEqual(decode_object_lists(b"\x41\x00\x00"), ([ObjectList()], b"\x00", "41"))

    def test_several_lists_mixed_encodings(self):
        first = ObjectList([Int(1, 2)])
        second = ObjectList([Blob(4, b"abc"), Int(0, 7)])
        data = encode_objects(first) + encode_objects(second, compressed=True) + b"zz"
        lists, rest, fmt = decode_object_lists(data)
        self.assertEqual(lists, [first, ObjectList([Int(0, 7), Blob(4, b"abc")])])
        self.assertEqual((rest, fmt), (b"zz", "41"))

    def test_not_a_list(self):
        for data in (b"", b"\x00", b"\x43\x00", bytearray(b"\x40")):
            self.assertRaises(ProtocolError, decode_objects, data)
            self.assertRaises(ProtocolError, decode_object_lists, data)

    def test_nested_42_inside_41(self):
        # spec 3.4: a type-5 value not starting with 0x41 goes to the 0x42 decoder.
        inner = ObjectList([Int(9, 7917455)])
        data = b"\x41\x02\x05\x07" + encode_objects(inner, compressed=True) + b"\x00\x01\x05"
        self.assertEqual(
            decode_objects(data), ObjectList([NestedList(7, inner), Int(1, 5)])
        )

    def test_non_minimal_varints_accepted(self):
        self.assertEqual(
            decode_objects(bytes.fromhex("4181000081008500")), ObjectList([Int(1, 5)])
        )

    def test_bytearray_and_memoryview_input(self):
        data = encode_objects(ObjectList([String(1, b"abc")]))
        self.assertEqual(decode_objects(bytearray(data)), decode_objects(memoryview(data)))


class ModelTests(TestCase):
    def test_lookup(self):
        objlist = ObjectList(
            [
                Int(3, 1),
                Addr(3, NetAddr("1.2.3.4", 5)),
                Addr(3, NetAddr("5.6.7.8", 9)),
                String(0, b"x"),
            ]
        )
        self.assertEqual(objlist.get(3), Int(3, 1))
        self.assertEqual(objlist.get(3, Addr), Addr(3, NetAddr("1.2.3.4", 5)))
        self.assertEqual(objlist.get(3, 2), Addr(3, NetAddr("1.2.3.4", 5)))
        self.assertEqual(len(objlist.get_all(3, Addr)), 2)
        self.assertEqual(len(objlist.get_all(3)), 3)
        self.assertIsNone(objlist.get(7))
        self.assertEqual(objlist.value(0), b"x")
        self.assertEqual(objlist.value(0, Int, default=-1), -1)
        self.assertEqual(len(objlist), 4)
        self.assertEqual(objlist[3], String(0, b"x"))
        self.assertEqual(list(objlist)[0].type, 0)

    def test_text(self):
        self.assertEqual(String(0, "ä".encode()).text, "ä")
        self.assertRaises(ProtocolError, lambda: String(0, b"\xff").text)

    def test_equality_and_hash(self):
        a = ObjectList([NestedList(1, [IntArray(2, [1, 2])])])
        b = ObjectList([NestedList(1, ObjectList([IntArray(2, (1, 2))]))])
        self.assertEqual(a, b)
        self.assertEqual(hash(a), hash(b))

    def test_encoder_rejects_unrepresentable(self):
        bad = [
            Int(0, 2**32),
            Int(0, -1),
            Int(2**32, 0),
            Int64(0, 2**64),
            String(0, b"a\x00b"),
            String(0, "text"),
            Blob(0, None),
            Addr(0, NetAddr("1.2.3", 1)),
            Addr(0, NetAddr("1.2.3.256", 1)),
            Addr(0, NetAddr("1.2.3.4", 65536)),
            Addr(0, ("1.2.3.4", 5)),
            IntArray(0, [2**32]),
        ]
        for item in bad:
            for compressed in (False, True):
                self.assertRaises(
                    (ValueError, TypeError), encode_objects, [item], compressed
                )
        self.assertRaises(TypeError, encode_objects, [object()])

    def test_encoder_rejects_absurd_nesting(self):
        objlist = ObjectList()
        for _ in range(100):
            objlist = ObjectList([NestedList(0, objlist)])
        self.assertRaises(ValueError, encode_objects, objlist)
        self.assertRaises(ValueError, encode_objects, objlist, True)

    def test_json_rejects_bad_shapes(self):
        bad = [
            {},
            [{"type": 0, "id": 1}],
            [{"type": 9, "id": 1, "value": 0}],
            [{"type": 0, "id": "1", "value": 0}],
            [{"type": 0, "id": 1, "value": True}],
            [{"type": 2, "id": 1, "value": ["1.2.3.4", 5]}],
            [{"type": 3, "id": 1, "value": "zz"}],
            [{"type": 6, "id": 1, "value": 5}],
            [{"type": 5, "id": 1, "value": {}}],
        ]
        for shape in bad:
            self.assertRaises(ValueError, objects_from_json, shape)


# --- limits ----------------------------------------------------------------------


class Limits41Tests(TestCase):
    def test_huge_blob_claim(self):
        data = b"\x41\x01\x04\x01" + encode_varint(2**31) + b"\x00" * 12
        self.assertEqual(len(data), 21)
        self.assertRaises(ProtocolError, decode_objects, data)

    def test_huge_counts(self):
        for data in (
            b"\x41" + encode_varint(2**32 - 1) + b"\x00\x00\x00",
            b"\x41\x01\x06\x01" + encode_varint(2**31) + b"\x00" * 10,
        ):
            self.assertRaises(ProtocolError, decode_objects, data)

    def test_depth(self):
        def nested(levels):
            objlist = ObjectList()
            for _ in range(levels - 1):
                objlist = ObjectList([NestedList(1, objlist)])
            return encode_objects(objlist)

        limits = Limits(max_depth=8)
        decode_objects(nested(8), limits=limits)
        self.assertRaises(LimitExceeded, decode_objects, nested(9), limits=limits)
        decode_objects(nested(DEFAULT_LIMITS.max_depth))
        self.assertRaises(LimitExceeded, decode_objects, nested(DEFAULT_LIMITS.max_depth + 1))
        # A long run of nested-list headers fails fast, without RecursionError.
        self.assertRaises(LimitExceeded, decode_objects, b"\x41\x01\x05\x00" * 5000)

    def test_items(self):
        data = encode_objects(ObjectList([Int(i, i) for i in range(10)]))
        decode_objects(data, limits=Limits(max_list_items=10))
        self.assertRaises(LimitExceeded, decode_objects, data, limits=Limits(max_list_items=9))
        nested = encode_objects(ObjectList([NestedList(0, [Int(1, 1)] * 5)] * 3))
        decode_objects(nested, limits=Limits(max_total_items=18))
        self.assertRaises(
            LimitExceeded, decode_objects, nested, limits=Limits(max_total_items=17)
        )

    def test_value_bytes(self):
        data = encode_objects(
            ObjectList([Blob(0, b"x" * 50), String(1, b"y" * 30), IntArray(2, [1] * 5)])
        )
        decode_objects(data, limits=Limits(max_value_bytes=100))
        self.assertRaises(LimitExceeded, decode_objects, data, limits=Limits(max_value_bytes=99))

    def test_input_size(self):
        data = encode_objects(ObjectList([Blob(0, b"x" * 100)]))
        self.assertRaises(LimitExceeded, decode_objects, data, limits=Limits(max_input_size=50))
        self.assertRaises(
            LimitExceeded, decode_object_lists, data, limits=Limits(max_input_size=50)
        )


# --- properties ------------------------------------------------------------------


class Properties41Tests(TestCase):
    @SETTINGS
    @given(st.binary(max_size=64))
    def test_random_bytes(self, data):
        decode_or_reject(self, b"\x41" + data)
        decode_or_reject(self, data)

    @SETTINGS
    @given(object_lists, edit_lists)
    def test_mutated_encodings(self, objlist, edits):
        decode_or_reject(self, mutate(encode_objects(objlist), edits))

    @SETTINGS
    @given(st.sampled_from(range(126)), edit_lists)
    def test_mutated_vectors(self, index, edits):
        case = cases("objects41.json", "list")[index]
        decode_or_reject(self, mutate(bytes.fromhex(case["encoded_hex"]), edits))

    @SETTINGS
    @given(object_lists)
    def test_round_trip(self, objlist):
        data = encode_objects(objlist)
        self.assertEqual(decode_objects(data), objlist)
        self.assertEqual(decode_object_list_at(data + b"\x41"), (objlist, len(data)))
        self.assertEqual(objects_from_json(objects_to_json(objlist)), objlist)
