"""The one dotted-quad parser/formatter shared by wire.objects and wire.udp."""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire.ipv4 import format_dotted_quad, parse_dotted_quad
from blissnode.wire.objects import NetAddr
from blissnode.wire.udp import ip_to_bytes, ip_to_int, ip_to_str

BAD = ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "1.2.3.4 ", " 1.2.3.4",
       "0x7f.0.0.1", "1..2.3", "1.2.3.0004", "\u0661.2.3.4", "1.2.3.\u00b2", "10.1",
       "+1.2.3.4", "1.2.3.4\n"]


class DottedQuadTests(TestCase):
    def test_known(self):
        for text, raw in [("0.0.0.0", b"\x00" * 4), ("255.255.255.255", b"\xff" * 4),
                          ("78.36.112.176", bytes([78, 36, 112, 176])),
                          ("010.001.000.009", bytes([10, 1, 0, 9]))]:
            self.assertEqual(parse_dotted_quad(text), raw, text)
            self.assertEqual(format_dotted_quad(raw), text.replace("010.001.000.009",
                                                                   "10.1.0.9"), text)

    def test_rejects_the_same_everywhere(self):
        """objects (ADDR items) and udp (keying) accept exactly the same text."""
        for text in BAD + [None, 1.5, b"1.2.3.4"]:
            self.assertRaises(ValueError, parse_dotted_quad, text)
            self.assertRaises(ValueError, NetAddr(text, 1).ip_bytes)
            if not isinstance(text, bytes):
                self.assertRaises(ValueError, ip_to_int, text)

    @settings(max_examples=200, deadline=None)
    @given(st.binary(min_size=4, max_size=4))
    def test_round_trip(self, raw):
        text = format_dotted_quad(raw)
        self.assertEqual(parse_dotted_quad(text), raw)
        self.assertEqual(NetAddr.from_bytes(raw, 1).ip_bytes(), raw)
        self.assertEqual((ip_to_bytes(text), ip_to_str(raw), ip_to_str(text)), (raw, text, text))
        self.assertEqual(ip_to_int(text), int.from_bytes(raw, "big"))
        self.assertEqual(format_dotted_quad(memoryview(raw)), text)
