"""AES-256-CTR with Skype's counter layout and type-5 session records
(spec/tcp.md 7, 9) against every case of vectors/tcp_frames.json."""

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire.aes_ctr import (
    ZERO_KEY,
    SessionPlaintext,
    aes_ctr,
    counter_block,
    decode_session_plaintext,
    direction_words,
    open_session_record,
    seal_session_record,
    seq_from_trailer,
    session_chk,
    session_key,
    trailer,
)
from blissnode.wire.crc import crc16_xmodem, crc32r
from blissnode.wire.errors import ChecksumError, ProtocolError
from blissnode.wire.tcp_records import SessionRecord, decode_record
from tests.vectors import cases

FILE = "tcp_frames.json"
SETTINGS = settings(max_examples=200, deadline=None)


def h(text):
    return bytes.fromhex(text.replace(" ", ""))


def ecb_keystream(key, x, seq, first_block, nblocks):
    """Reference: the counter blocks of tcp.md 7.2 through plain AES (ECB)."""
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    blocks = b"".join(counter_block(x, seq, first_block + i) for i in range(nblocks))
    return enc.update(blocks) + enc.finalize()


class ChecksumVectorTests(TestCase):
    """The crc16 / crc32r kinds of tcp_frames.json (the trailers' inputs)."""

    def test_crc16(self):
        for case in cases(FILE, "crc16"):
            value = crc16_xmodem(h(case["data_hex"]))
            self.assertEqual(value, case["crc16"], case)
            self.assertEqual(value.to_bytes(2, "big"), h(case["crc16_be_hex"]), case)

    def test_crc32r(self):
        for case in cases(FILE, "crc32r"):
            value = crc32r(h(case["data_hex"]))
            self.assertEqual(value, case["crc32r"], case)
            self.assertEqual((value & 0xFFFF).to_bytes(2, "little"), h(case["low16_le_hex"]), case)


class AesCtrTests(TestCase):
    def test_vectors(self):
        for case in cases(FILE, "aes_ctr"):
            key = h(case["aes256_key_hex"])
            out = aes_ctr(key, case["x"], case["seq"], h(case["input_hex"]))
            self.assertEqual(out, h(case["output_hex"]), case)
            self.assertEqual(aes_ctr(key, case["x"], case["seq"], out), h(case["input_hex"]), case)

    def test_counter_block_layout(self):
        self.assertEqual(counter_block(0x12345678, 7, 2), h("12345678 12345678 00000000 00070002"))
        self.assertEqual(counter_block(0xFFFFFFFF, 0x1FFFF, 0x10001), h("ffffffff ffffffff 00000000 00000001"))

    def test_against_ecb(self):
        key = bytes(range(32))
        data = bytes(range(256)) * 3
        for x, seq in [(0, 0), (1, 5), (0xFFFFFFFF, 0xFFFF), (0xA5A5A5A5, 0x12345)]:
            stream = ecb_keystream(key, x, seq, 0, (len(data) + 15) // 16)
            expected = bytes(a ^ b for a, b in zip(data, stream))
            self.assertEqual(aes_ctr(key, x, seq, data), expected, (x, seq))

    def test_low_word_wraps_without_carry(self):
        # seq 0xFFFF: block 0x10000 has low word 0 and the third word stays 0.
        key = bytes(range(32, 64))
        nblocks = 0x10000 + 2
        data = bytes(nblocks * 16)
        out = aes_ctr(key, 0x01020304, 0xFFFF, data)
        tail = ecb_keystream(key, 0x01020304, 0xFFFF, 0xFFFF, 3)
        self.assertEqual(out[-48:], tail)
        self.assertEqual(counter_block(0x01020304, 0xFFFF, 0x10000)[8:], bytes(8))

    def test_bad_key(self):
        self.assertRaises(ValueError, aes_ctr, bytes(16), 0, 0, b"x")


class SessionRecordTests(TestCase):
    def test_vectors(self):
        for case in cases(FILE, "session_record"):
            key = h(case["aes256_key_hex"])
            plaintext = h(case["plaintext_hex"])
            raw = h(case["record_hex"])
            self.assertEqual(crc16_xmodem(plaintext).to_bytes(2, "big"), h(case["crc16_hex"]), case)
            sealed = seal_session_record(plaintext, key, case["x"], case["seq"], case["sid_rx"])
            self.assertEqual(sealed.encode(), raw, case)
            record, end = decode_record(raw)
            self.assertEqual((record, end), (sealed, len(raw)), case)
            seq, opened = open_session_record(record, key, case["x"], sid_rx=case["sid_rx"])
            self.assertEqual((seq, opened), (case["seq"] & 0xFFFF, plaintext), case)
            parsed = decode_session_plaintext(opened)
            self.assertEqual((parsed.tid, parsed.cmd), (case["tid"], case["cmd"]), case)
            self.assertEqual(parsed.encode(), plaintext, case)

    def test_worked_example_7_1(self):
        plaintext = h("b1ea03 6d 4100")
        self.assertEqual(SessionPlaintext(0xF531, 0x6D, h("4100")).encode(), plaintext)
        self.assertEqual(aes_ctr(ZERO_KEY, 0, 0, plaintext + h("bfb5")), h("6d7fc315e340363c"))
        self.assertEqual(trailer(h("6d7fc315e340363c"), 0), 0xCF32)
        self.assertEqual(session_chk(h("6d7fc315e340363c32cf"), 0), 0xE64C)
        self.assertEqual(seal_session_record(plaintext, ZERO_KEY, 0, 0, 0).encode(), h("1b05e64c6d7fc315e340363c32cf"))

    def test_wrong_key_or_x(self):
        case = cases(FILE, "session_record")[3]
        record, _ = decode_record(h(case["record_hex"]))
        self.assertRaises(ChecksumError, open_session_record, record, ZERO_KEY, case["x"])
        self.assertRaises(ChecksumError, open_session_record, record, h(case["aes256_key_hex"]), case["x"] ^ 1)
        self.assertRaises(ChecksumError, open_session_record, record, h(case["aes256_key_hex"]), case["x"], sid_rx=case["sid_rx"] + 1)

    def test_too_short(self):
        self.assertRaises(ProtocolError, open_session_record, SessionRecord(0, b"\x01", 0), ZERO_KEY, 0)

    def test_session_key_vectors(self):
        for case in cases(FILE, "session_key"):
            key = session_key(h(case["nonce_initiator_hex"]), h(case["nonce_responder_hex"]))
            self.assertEqual(key, h(case["aes256_key_hex"]), case)

    def test_direction_words(self):
        x_ir, x_ri = direction_words(0x1234, 0x5678)
        self.assertEqual((x_ir, x_ri), (0x12345678, 0xEDCBA987))

    def test_invalid_plaintexts(self):
        for raw in ["", "80", "b1ea03", "b1ea036d", "b1ea036d43"]:
            self.assertRaises(ProtocolError, decode_session_plaintext, h(raw))

    @given(
        st.binary(min_size=32, max_size=32),
        st.integers(0, 2**32 - 1),
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.binary(max_size=100),
    )
    @SETTINGS
    def test_round_trip(self, key, x, seq, sid, tid, cmd, rest):
        plaintext = SessionPlaintext(tid, cmd, b"\x41" + rest).encode()
        record = seal_session_record(plaintext, key, x, seq, sid)
        parsed, _ = decode_record(record.encode())
        self.assertEqual(open_session_record(parsed, key, x, sid_rx=sid), (seq, plaintext))
        self.assertEqual(seq_from_trailer(record.ciphertext, record.trailer), seq)

    @given(st.integers(0, 0xFFFF), st.binary(max_size=60), st.integers(0, 0xFFFF))
    @SETTINGS
    def test_random_records(self, chk, ciphertext, trl):
        try:
            seq, plaintext = open_session_record(SessionRecord(chk, ciphertext, trl), ZERO_KEY, 0)
        except ProtocolError:
            return
        try:
            decode_session_plaintext(plaintext)
        except ProtocolError:
            pass

    @given(st.binary(max_size=40))
    @SETTINGS
    def test_random_plaintexts(self, data):
        try:
            decode_session_plaintext(data)
        except ProtocolError:
            pass
