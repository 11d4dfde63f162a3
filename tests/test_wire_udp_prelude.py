"""The port-443 prelude against udp_packets.json (tcp_prelude_classify,
ssl_templates)."""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire.errors import ProtocolError
from blissnode.wire.https_prelude import (
    CLIENT_HELLO_LENGTH,
    CLIENT_HELLO_TEMPLATE,
    CLS_HTTP,
    CLS_NEED_MORE,
    CLS_SEED_OR_DH384,
    CLS_SKYPE_SEED,
    CLS_SSLV2_HELLO,
    CLS_TLS_RECORD,
    HTTP_404,
    SERVER_HELLO_LENGTH,
    SERVER_HELLO_TEMPLATE,
    build_client_hello,
    build_server_hello,
    classify_prelude,
    decide_prelude,
    parse_client_hello,
    server_hello_record_length,
)
from tests.vectors import cases

H = bytes.fromhex


class VectorTests(TestCase):
    def test_classify(self):
        for c in cases("udp_packets.json", "tcp_prelude_classify"):
            self.assertEqual(classify_prelude(H(c["first_bytes_hex"])), c["cls"], c)

    def test_templates(self):
        for c in cases("udp_packets.json", "ssl_templates"):
            self.assertEqual(CLIENT_HELLO_TEMPLATE.hex(), c["client_hello_template_hex"])
            self.assertEqual(SERVER_HELLO_TEMPLATE.hex(), c["server_hello_hex"])
            self.assertEqual(build_server_hello().hex(), c["server_hello_hex"])
            self.assertEqual(SERVER_HELLO_LENGTH, c["server_hello_length"])
            self.assertEqual(len(SERVER_HELLO_TEMPLATE), c["server_hello_length"])
            hello = build_client_hello(bytes(range(16)))
            self.assertEqual(len(hello), c["client_hello_total_length"])
            self.assertEqual(CLIENT_HELLO_LENGTH, c["client_hello_total_length"])
            parsed, used = parse_client_hello(hello)
            self.assertEqual((used, parsed.version, len(parsed.cipher_specs),
                              parsed.session_id, parsed.challenge),
                             (72, 0x0301, 15, b"", bytes(range(16))))
            self.assertEqual(server_hello_record_length(SERVER_HELLO_TEMPLATE),
                             c["server_hello_length"])


class DecisionTests(TestCase):
    def test_sslv2(self):
        hello = build_client_hello(b"\xaa" * 16)
        for n in (1, 2, 5, 40, 71):
            d = decide_prelude(hello[:n])
            self.assertIsNone(d.consume, n)
            self.assertEqual(d.reply, b"")
        seed = b"\x79\x8a\x13\xec" + bytes(10)
        d = decide_prelude(hello + seed)
        self.assertEqual((d.cls, d.consume, d.reply, d.close, d.proceed),
                         (CLS_SSLV2_HELLO, 72, SERVER_HELLO_TEMPLATE, False, True))
        bad = bytearray(hello)
        bad[6] = 0x2e   # cipher-spec length no longer adds up
        self.assertRaises(ProtocolError, decide_prelude, bytes(bad))

    def test_others(self):
        d = decide_prelude(b"GET / HTTP/1.0\r\n\r\n")
        self.assertEqual((d.cls, d.reply, d.close), (CLS_HTTP, HTTP_404, True))
        self.assertEqual(HTTP_404, b"HTTP/1.0 404 Not Found\r\n\r\n")
        d = decide_prelude(b"\x16\x03\x01\x00\x00")
        self.assertEqual((d.cls, d.reply, d.close), (CLS_TLS_RECORD, b"", True))
        d = decide_prelude(H("798a13ecac55810065f2949c289b"))
        self.assertEqual((d.cls, d.consume, d.proceed), (CLS_SKYPE_SEED, 0, True))
        d = decide_prelude(bytes(range(0x90, 0xC0)))
        self.assertEqual((d.cls, d.consume, d.proceed), (CLS_SEED_OR_DH384, 0, True))
        for prefix in (b"", b"\x80", b"\x80\x46\x01", b"GE", b"P", b"\x16\x03"):
            self.assertEqual(classify_prelude(prefix), CLS_NEED_MORE, prefix)
            self.assertIsNone(decide_prelude(prefix).consume)

    def test_server_hello_fresh_values(self):
        out = build_server_hello(b"r" * 32, b"s" * 32)
        self.assertEqual(len(out), 79)
        self.assertEqual(out[11:43], b"r" * 32)
        self.assertEqual(out[43], 32)
        self.assertEqual(out[44:76], b"s" * 32)
        self.assertEqual(out[:11] + out[76:], SERVER_HELLO_TEMPLATE[:11] + SERVER_HELLO_TEMPLATE[76:])
        self.assertRaises(ValueError, build_server_hello, b"short")
        self.assertRaises(ValueError, build_client_hello, b"short")

    def test_server_hello_record_length(self):
        self.assertIsNone(server_hello_record_length(b"\x16\x03"))
        self.assertEqual(server_hello_record_length(b"\x16\x03\x01\x00\x02ab"), 7)
        self.assertRaises(ProtocolError, server_hello_record_length, b"\x17")
        self.assertRaises(ProtocolError, server_hello_record_length, b"\x16\x03\x02\x00\x00")

    @settings(max_examples=400, deadline=None)
    @given(st.binary(max_size=100))
    def test_random_bytes(self, data):
        self.assertIn(classify_prelude(data),
                      (CLS_NEED_MORE, CLS_SSLV2_HELLO, CLS_HTTP, CLS_TLS_RECORD,
                       CLS_SKYPE_SEED, CLS_SEED_OR_DH384))
        for fn in (decide_prelude, parse_client_hello, server_hello_record_length):
            try:
                fn(data)
            except ProtocolError:
                pass

    @settings(max_examples=300, deadline=None)
    @given(st.binary(min_size=16, max_size=16), st.integers(0, 71), st.integers(1, 255))
    def test_mutated_hello(self, challenge, pos, flip):
        hello = bytearray(build_client_hello(challenge))
        hello[pos] ^= flip
        try:
            parse_client_hello(bytes(hello))
            decide_prelude(bytes(hello))
        except ProtocolError:
            pass
