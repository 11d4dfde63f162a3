"""Address search and the fit rules, on raw bytes (blissnode.patch.addresses)."""

import struct

from twisted.trial.unittest import TestCase

from blissnode.patch.addresses import AddressOptions, scan_addresses
from blissnode.patch.known import KnownAddress
from blissnode.patch.report import NOT_REPLACED, REPLACED
from blissnode.patch.targets import server_targets
from tests.patch_fixtures import addr_be, cstr, delphi

LOGIN = KnownAddress("91.190.218.40", 33033, "login", "6.x", "test")
NAME = KnownAddress("dir1.sd.skype.net", 9010, "login", "?", "test", guess=True)


def scan(data, server="192.0.2.10", addresses=(LOGIN,), **options):
    result = scan_addresses(data, list(addresses), server_targets(server),
                            AddressOptions(**options))
    out = bytearray(data)
    for e in result.edits:
        out[e.offset:e.end] = e.new
    return result.matches, bytes(out)


class TextTests(TestCase):
    def test_boundaries(self):
        data = b"\0" + cstr("191.190.218.40") + cstr("91.190.218.401") + cstr("91.190.218.40.1")
        matches, out = scan(data)
        self.assertEqual(matches, [])
        self.assertEqual(out, data)

    def test_same_length_needs_no_nul(self):
        data = b"x91.190.218.40:33033\x01"
        matches, out = scan(data, server="91.190.218.41")
        self.assertEqual(out, b"x91.190.218.41:33033\x01")
        self.assertEqual(matches[0].status, REPLACED)

    def test_port_other_than_the_known_one_is_rewritten_too(self):
        matches, out = scan(b"\0" + cstr("91.190.218.40:443"), server="192.0.2.10:4000")
        self.assertEqual(out, b"\0" + b"192.0.2.10:4000" + b"\0" * 3)

    def test_embedded_in_a_longer_string(self):
        data = b"\0" + cstr("connect 91.190.218.40:33033 now")
        matches, out = scan(data)
        self.assertEqual(out, b"\0connect 192.0.2.10:33033 now\0\0\0\0")
        self.assertEqual(matches[0].old, "connect 91.190.218.40:33033 now")
        self.assertEqual(matches[0].offset, 9)

    def test_delphi_length_only_with_its_marker(self):
        matches, out = scan(b"\0" * 8 + delphi("91.190.218.40:33033"))
        self.assertEqual(out[8:], b"\xff\xff\xff\xff" + struct.pack("<I", 16)
                         + b"192.0.2.10:33033\0\0\0\0")
        self.assertIn("Delphi", matches[0].form)
        plain = b"\x01\x02\x03\x04" + struct.pack("<I", 19) + cstr("91.190.218.40:33033")
        matches, out = scan(plain)
        self.assertEqual(out[:8], plain[:8])
        self.assertNotIn("Delphi", matches[0].form)

    def test_wide_delphi_and_unterminated_wide(self):
        text = "91.190.218.40:33033"
        unicode_const = (b"\xb0\x04\x02\x00\xff\xff\xff\xff" + struct.pack("<I", len(text))
                         + text.encode("utf-16-le") + b"\0\0")
        matches, out = scan(b"\0\0" + unicode_const)
        self.assertEqual(out[2 + 8:2 + 12], struct.pack("<I", 16))
        self.assertEqual(out[14:14 + 32], "192.0.2.10:33033".encode("utf-16-le"))
        matches, out = scan(b"\0\0" + text.encode("utf-16-le") + b"\x05\x06")
        self.assertEqual(matches[0].status, NOT_REPLACED)
        self.assertEqual(matches[0].form, "text-utf16le:port")

    def test_name_case_insensitive_and_name_targets(self):
        data = b"\0" + cstr("DIR1.SD.SKYPE.NET")
        matches, out = scan(data, server="login.example", addresses=(NAME,))
        self.assertEqual(out, b"\0login.example\0\0\0\0\0")
        self.assertIn("keeps using port 9010", matches[0].reason)

    def test_too_long_for_a_name(self):
        matches, out = scan(b"\0" + cstr("dir1.sd.skype.net"),
                            server="a-much-longer-name.example.org", addresses=(NAME,))
        self.assertEqual(matches[0].status, NOT_REPLACED)
        self.assertTrue(matches[0].routing[0].startswith("hosts file: <IPv4 address of "))


class BinaryTests(TestCase):
    def test_adjacent_port_required(self):
        data = b"\x07" + addr_be("91.190.218.40", 33033) + b"\x07" + addr_be("91.190.218.40", 1)
        matches, out = scan(data)
        self.assertEqual([m.status for m in matches], [REPLACED, NOT_REPLACED])
        self.assertEqual(out[1:7], addr_be("192.0.2.10", 33033))
        self.assertEqual(out[8:14], data[8:14])
        self.assertEqual(matches[1].form, "binary ip BE (lone)")

    def test_lone_little_endian(self):
        data = b"\x07\x07" + bytes(reversed([91, 190, 218, 40])) + b"\x07\x07"
        matches, out = scan(data, lone_binary=True)
        self.assertEqual(out, b"\x07\x07" + bytes([10, 2, 0, 192]) + b"\x07\x07")
        self.assertEqual(matches[0].form, "binary ip LE (lone)")

    def test_taken_ranges_are_skipped(self):
        data = b"\x07" + addr_be("91.190.218.40", 33033)
        result = scan_addresses(data, [LOGIN], server_targets("192.0.2.10"),
                                taken=[(0, 4)])
        self.assertEqual(result.matches, [])


class SharedHostTests(TestCase):
    """Two entries for one host (a plugin adds another port) match each text
    or binary address once."""

    OTHER = KnownAddress("91.190.218.40", 443, "login", "?", "test")

    def test_text_takes_the_entry_of_its_port(self):
        for addresses in ((LOGIN, self.OTHER), (self.OTHER, LOGIN)):
            matches, out = scan(b"\0" + cstr("91.190.218.40:443") + cstr("91.190.218.40"),
                                addresses=addresses)
            self.assertEqual([m.what for m in matches],
                             ["login server 91.190.218.40:443",   # the port it names
                              "login server %s" % (addresses[0],)])  # no port: the first
            self.assertEqual(out, b"\x00192.0.2.10:33033\0\0" + b"192.0.2.10\0\0\0\0")

    def test_lone_binary_once(self):
        data = b"\x07" + bytes([91, 190, 218, 40]) + b"\x07"
        matches, out = scan(data, addresses=(LOGIN, self.OTHER), lone_binary=True)
        self.assertEqual(len(matches), 1)
        self.assertEqual(out[1:5], bytes([192, 0, 2, 10]))
