"""The checksums against every case of vectors/crc32.json."""

import zlib

from hypothesis import given, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire.crc import crc16_xmodem, crc32r, crc32r_words
from tests.vectors import cases


class CRC32RTests(TestCase):
    def test_vectors(self):
        for case in cases("crc32.json", "crc32_skype"):
            data = bytes.fromhex(case["data_hex"])
            self.assertEqual(crc32r(data), int(case["crc_hex"], 16), case)
            self.assertEqual(zlib.crc32(data), int(case["standard_crc32_hex"], 16))

    def test_words_vectors(self):
        for case in cases("crc32.json", "crc32_skype_words"):
            words = [int(w, 16) for w in case["words_hex"]]
            self.assertEqual(crc32r_words(*words), int(case["crc_hex"], 16), case)
            self.assertEqual(
                crc32r(bytes.fromhex(case["bytes_le_hex"])), int(case["crc_hex"], 16)
            )

    def test_check_value(self):
        self.assertEqual(crc32r(b"123456789"), 0x340BC6D9)
        self.assertEqual(crc32r(b""), 0xFFFFFFFF)

    @given(st.binary(), st.binary())
    def test_running_register(self, a, b):
        self.assertEqual(crc32r(b, crc32r(a)), crc32r(a + b))


class CRC16Tests(TestCase):
    def test_vectors(self):
        for case in cases("crc32.json", "crc16_xmodem"):
            data = bytes.fromhex(case["data_hex"])
            self.assertEqual(crc16_xmodem(data), int(case["crc_hex"], 16), case)

    def test_check_value(self):
        self.assertEqual(crc16_xmodem(b"123456789"), 0x31C3)
