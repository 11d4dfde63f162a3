"""21- and 27-byte node records and their log text form (login.md 5.2)
against vectors/login.json kind node_record."""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire.errors import ProtocolError
from blissnode.wire.node_record import (
    NodeRecord,
    decode_node_record,
    parse_node_text,
)
from blissnode.wire.objects import NetAddr

SETTINGS = settings(max_examples=300, deadline=None)

from tests.vectors import cases  # noqa: E402


def addr(text):
    ip, port = text.rsplit(":", 1)
    return NetAddr(ip, int(port))


class NodeRecordVectorTests(TestCase):
    def test_vectors(self):
        all_cases = cases("login.json", "node_record")
        self.assertEqual(len(all_cases), 15)
        for case in all_cases:
            raw = bytes.fromhex(case["record"])
            self.assertEqual(len(raw), case["length"], case)
            rec = decode_node_record(raw)
            f = case["fields"]
            self.assertEqual(rec.to_json(), f, case)
            self.assertEqual(rec.node_id.hex(), f["node_id"], case)
            self.assertEqual(rec.flag, f["flag"], case)
            self.assertEqual(rec.alive, f["flag"] == 1, case)
            self.assertEqual(rec.lan, addr(f["lan"]), case)
            if case["length"] == 27:
                self.assertTrue(rec.is_long)
                self.assertEqual(rec.supernode, addr(f["supernode"]), case)
                self.assertEqual(rec.public, addr(f["public"]), case)
                self.assertEqual(parse_node_text(case["text"]), rec, case)
            else:
                self.assertFalse(rec.is_long)
                self.assertEqual(rec.last_addr, addr(f["last_addr"]), case)
                self.assertRaises(ProtocolError, parse_node_text, case["text"])
            self.assertEqual(rec.text(), case["text"], case)
            self.assertEqual(rec.encode(), raw, case)
            built = NodeRecord(bytes.fromhex(f["node_id"]), f["flag"], addr(f["lan"]),
                               supernode=addr(f["supernode"]) if "supernode" in f else None,
                               public=addr(f["public"]) if "public" in f else None,
                               last_addr=addr(f["last_addr"]) if "last_addr" in f else None)
            self.assertEqual(built.encode(), raw, case)
            self.assertEqual(rec.node_id_int, int(f["node_id"], 16))

    def test_invalid(self):
        for n in (0, 1, 20, 22, 26, 28, 100):
            self.assertRaises(ProtocolError, decode_node_record, bytes(n))
        for text in ("", "0x", "0x11b44ed518acb339-x-1.2.3.4:5",
                     "0x11b44ed518acb33-s-s1.2.3.4:5-r1.2.3.4:5-l1.2.3.4:5",
                     "0x11b44ed518acb339-s-s1.2.3.4:5-r1.2.3.4:5-l1.2.3.256:5",
                     "0x11b44ed518acb339-s-s1.2.3.4:5-r1.2.3.4:65536-l1.2.3.4:5",
                     "0x11b44ed518acb339-s-s1.2.3.4:5-r1.2.3.4:5-l1.2.3.4:5 "):
            self.assertRaises(ProtocolError, parse_node_text, text)
        self.assertRaises(TypeError, decode_node_record, "00" * 21)

    def test_encode_errors(self):
        a = NetAddr("1.2.3.4", 5)
        self.assertRaises(ValueError, NodeRecord(bytes(7), 1, a, a, a).encode)
        self.assertRaises(ValueError, NodeRecord(bytes(8), 256, a, a, a).encode)
        self.assertRaises(ValueError, NodeRecord(bytes(8), 1, a, a).encode)
        self.assertRaises(ValueError, NodeRecord(bytes(8), 1, a, a, None, a).encode)
        self.assertRaises(ValueError, NodeRecord(bytes(8), 1, NetAddr("1.2.3.4", 70000), a, a).encode)

    def test_other_flag_values_kept(self):
        # GUESS: a flag byte other than 0/1 is kept verbatim and printed "s"
        raw = bytes(8) + b"\x07" + bytes(18)
        rec = decode_node_record(raw)
        self.assertEqual(rec.flag, 7)
        self.assertEqual(rec.encode(), raw)
        self.assertIn("-s-", rec.text())


class NodeRecordPropertyTests(TestCase):
    @SETTINGS
    @given(st.binary(max_size=40))
    def test_random_bytes(self, data):
        try:
            rec = decode_node_record(data)
        except ProtocolError:
            self.assertNotIn(len(data), (21, 27))
            return
        self.assertEqual(rec.encode(), data)

    @SETTINGS
    @given(st.binary(min_size=27, max_size=27), st.sampled_from([0, 1]))
    def test_long_text_round_trip(self, data, flag):
        data = data[:8] + bytes([flag]) + data[9:]
        rec = decode_node_record(data)
        self.assertEqual(parse_node_text(rec.text()), rec)
        self.assertEqual(parse_node_text(rec.text()).encode(), data)

    @SETTINGS
    @given(st.text(max_size=90))
    def test_random_text(self, text):
        try:
            rec = parse_node_text(text)
        except ProtocolError:
            return
        self.assertEqual(rec.text().lower(), text.lower())
