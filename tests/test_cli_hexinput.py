"""Hex as people paste it."""

from twisted.trial.unittest import TestCase

from blissnode.cli.hexinput import HexInputError, parse_hex


class ParseHexTests(TestCase):
    def test_forms(self):
        self.assertEqual(parse_hex("41 03\n00"), b"\x41\x03\x00")
        self.assertEqual(parse_hex("0x41 0x03"), b"\x41\x03")
        self.assertEqual(parse_hex("41:03:0A"), b"\x41\x03\x0a")
        self.assertEqual(parse_hex("0X4103"), b"\x41\x03")

    def test_errors(self):
        for bad in ["", "   ", "4", "zz", "41 0", "0x"]:
            self.assertRaises(HexInputError, parse_hex, bad)
