"""Login/event server transport (spec/login.md 2-4, tcp.md 3, 8): DH-384,
16/17 03 01 records, session seed and key, against vectors/tcp_frames.json
and vectors/login.json."""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire import dh384, objects, rc4
from blissnode.wire.errors import ChecksumError, LimitExceeded, ProtocolError
from blissnode.wire.server_transport import (
    CLIENT_HELLO,
    SERVER_HELLO,
    RecordCipher,
    ServerRecord,
    ServerRecordParser,
    check_session_seed,
    decode_server_record,
    key_exchange_record,
    login_session_key,
    open_server_record,
    parse_key_exchange,
    seal_server_record,
    server_rc4_keys,
    session_seed_from_random,
)
from tests.vectors import cases, load_vectors

SETTINGS = settings(max_examples=200, deadline=None)


def h(text):
    return bytes.fromhex(text.replace(" ", ""))


def items_from_vector(items):
    """login.json items -> ObjectList (STRING values are given as text + hex)."""
    fixed = []
    for item in items:
        value = item["value"]
        if item["type"] == 3:
            value = item["value_hex"]
        elif item["type"] == 5:
            value = [dict(x) for x in value]
        fixed.append({"type": item["type"], "id": item["id"], "value": value})
    return objects.objects_from_json(fixed)


class DH384Tests(TestCase):
    def test_tcp_frames_vectors(self):
        for case in cases("tcp_frames.json", "dh384"):
            a, b = int(case["a_hex"], 16), int(case["b_hex"], 16)
            A, B = h(case["A_hex"]), h(case["B_hex"])
            self.assertEqual(dh384.public_bytes(a), A, case)
            self.assertEqual(dh384.public_bytes(b), B, case)
            K = dh384.shared_secret(a, B)
            self.assertEqual(K, h(case["K_hex"]), case)
            self.assertEqual(dh384.shared_secret(b, A), K, case)
            self.assertEqual(dh384.client_hash(K), h(case["client_hash_hex"]), case)
            self.assertEqual(dh384.server_hash(K), h(case["server_hash_hex"]), case)

    def test_dh_login_vectors(self):
        for case in cases("login.json", "dh_login"):
            K = h(case["K"])
            if "a" in case:
                a, b = int(case["a"], 16), int(case["b"], 16)
                self.assertEqual(dh384.public_bytes(a), h(case["A"]), case)
                self.assertEqual(dh384.public_bytes(b), h(case["B"]), case)
                self.assertEqual(dh384.shared_secret(a, h(case["B"])), K, case)
                self.assertEqual(dh384.KeyPair(b).shared_secret(h(case["A"])), K, case)
            self.assertEqual(dh384.client_hash(K), h(case["hash_O_client"]), case)
            self.assertEqual(dh384.server_hash(K), h(case["hash_I_server"]), case)
            c2s, s2c = server_rc4_keys(K)
            self.assertEqual(rc4.RC4(c2s).crypt(bytes(32)), h(case["rc4_client_to_server_first32"]), case)
            self.assertEqual(rc4.RC4(s2c).crypt(bytes(32)), h(case["rc4_server_to_client_first32"]), case)

    def test_degenerate_public_values(self):
        for value in (0, 1, dh384.P - 1, dh384.P, 2**384 - 1):
            self.assertRaises(ProtocolError, dh384.parse_public, value.to_bytes(48, "big"))
        self.assertRaises(ProtocolError, dh384.parse_public, bytes(47))

    def test_keypair(self):
        one, two = dh384.KeyPair.generate(), dh384.KeyPair.generate()
        self.assertEqual(one.shared_secret(two.public_bytes()), two.shared_secret(one.public_bytes()))
        self.assertNotIn(str(one.private), repr(one))

    def test_server_handshake_relay_order(self):
        client = dh384.KeyPair(12345)
        server = dh384.ServerHandshake(dh384.KeyPair(67890), hash_with_public=False)
        out, done = server.receive(client.public_bytes() + b"xyz")
        self.assertEqual((out, done), (dh384.public_bytes(67890), False))
        K = client.shared_secret(out[:48])
        out, done = server.receive(dh384.client_hash(K) + b"REST")
        self.assertEqual((out, done, server.K, server.remainder), (dh384.server_hash(K), True, K, b"REST"))

    def test_server_handshake_no_hash(self):
        server = dh384.ServerHandshake(dh384.KeyPair(5))
        server.receive(dh384.public_bytes(7))
        self.assertRaises(LimitExceeded, server.receive, bytes(dh384.MAX_FILLER + 8))

    @given(st.binary(max_size=60))
    @SETTINGS
    def test_parse_public_random(self, data):
        try:
            dh384.parse_public(data)
        except ProtocolError:
            pass

    @given(st.binary(max_size=120), st.integers(1, 30))
    @SETTINGS
    def test_server_handshake_random(self, data, chunk):
        server = dh384.ServerHandshake(dh384.KeyPair(5))
        try:
            for i in range(0, len(data), chunk):
                server.receive(data[i : i + chunk])
        except ProtocolError:
            pass


class ServerRecordTests(TestCase):
    def test_vectors(self):
        for case in cases("tcp_frames.json", "server_record"):
            key = h(case["aes256_key_hex"])
            raw = h(case["record_hex"])
            plaintext = h(case["plaintext_hex"])
            expected_x = 0 if case["direction"] == "client_to_server" else 1
            self.assertEqual(case["x"], expected_x, case)
            self.assertEqual(seal_server_record(plaintext, key, case["x"], case["seq"]), raw, case)
            record, end = decode_server_record(raw)
            self.assertEqual((record.content_type, end), (0x17, len(raw)), case)
            self.assertEqual(open_server_record(record, key, case["x"], case["seq"]), (case["seq"], plaintext), case)
            self.assertRaises(ChecksumError, open_server_record, record, key, case["x"], case["seq"] + 1)

    def test_event_record_vectors(self):
        for case in cases("login.json", "event_record"):
            key = h(case["aes_key"])
            for side, x in (("client", 0), ("server", 1)):
                stream = h(case[side + "_stream"])
                records = ServerRecordParser().feed(stream)
                self.assertEqual([r.encode() for r in records], [h(r) for r in case[side + "_records"]], case)
                opener = RecordCipher(key, x)
                self.assertEqual([opener.open(r) for r in records], [h(p) for p in case[side + "_plaintexts"]], case)
                sealer = RecordCipher(key, x)
                self.assertEqual(b"".join(sealer.seal(h(p)) for p in case[side + "_plaintexts"]), stream, case)

    def test_hellos(self):
        for hello, ctype in ((CLIENT_HELLO, 0x16), (SERVER_HELLO, 0x17)):
            record, end = decode_server_record(hello)
            self.assertEqual((record, end, record.is_hello), (ServerRecord(ctype, b""), 5, True))

    def test_invalid(self):
        for raw in ["", "170301", "1803010000", "1703020000", "17030100", "1703010003aabb"]:
            self.assertRaises(ProtocolError, decode_server_record, h(raw))
        self.assertRaises(ProtocolError, open_server_record, ServerRecord(0x17, b"\x01"), bytes(32), 0)
        self.assertRaises(ProtocolError, open_server_record, ServerRecord(0x16, b"\x01\x02"), bytes(32), 0)
        parser = ServerRecordParser()
        self.assertRaises(ProtocolError, parser.feed, h("41"))
        self.assertRaises(ProtocolError, parser.feed, CLIENT_HELLO)
        self.assertRaises(LimitExceeded, ServerRecordParser(100).feed, h("1703010065"))

    @given(st.data())
    @SETTINGS
    def test_random_chunks(self, data):
        case = cases("login.json", "event_record")[0]
        stream = h(case["server_stream"]) + CLIENT_HELLO
        expected = ServerRecordParser().feed(stream)
        parser, got, pos = ServerRecordParser(), [], 0
        while pos < len(stream):
            n = data.draw(st.integers(1, 40))
            got += parser.feed(stream[pos : pos + n])
            pos += n
        self.assertEqual(got, expected)
        self.assertEqual(len(got), 6)

    @given(st.binary(max_size=100), st.integers(1, 20))
    @SETTINGS
    def test_random_bytes(self, data, chunk):
        parser = ServerRecordParser()
        try:
            for i in range(0, len(data), chunk):
                for record in parser.feed(data[i : i + chunk]):
                    try:
                        open_server_record(record, bytes(32), 0, 0)
                    except ProtocolError:
                        pass
        except ProtocolError:
            pass
        try:
            decode_server_record(data)
        except ProtocolError:
            pass

    @given(st.binary(min_size=32, max_size=32), st.sampled_from([0, 1]), st.integers(0, 70000), st.binary(max_size=300))
    @SETTINGS
    def test_round_trip(self, key, x, seq, plaintext):
        raw = seal_server_record(plaintext, key, x, seq)
        record, _ = decode_server_record(raw)
        self.assertEqual(open_server_record(record, key, x, seq), (seq & 0xFFFF, plaintext))


class KeyExchangeTests(TestCase):
    def test_vectors(self):
        for case in cases("login.json", "key_exchange_record"):
            raw = h(case["record"])
            record, end = decode_server_record(raw)
            self.assertEqual((record.content_type, end), (0x16, len(raw)), case)
            expected = items_from_vector(case["items"])
            compressed = case["style"] == "0x42"
            self.assertEqual(key_exchange_record(objects.encode_objects(expected, compressed)), raw, case)
            parsed = parse_key_exchange(raw)
            self.assertEqual(list(parsed.objects), list(expected), case)
            self.assertEqual(parsed.rsa_blob, expected.value(8, objects.Blob), case)
            self.assertEqual((parsed.int9, parsed.int12), (8192, 1), case)

    def test_invalid(self):
        no_blob = key_exchange_record(objects.encode_objects([objects.Int(9, 8192)]))
        short_blob = key_exchange_record(objects.encode_objects([objects.Blob(8, bytes(191))]))
        for raw in (no_blob, short_blob, CLIENT_HELLO, SERVER_HELLO, no_blob + b"\x00"):
            self.assertRaises(ProtocolError, parse_key_exchange, raw)

    @given(st.binary(max_size=60))
    @SETTINGS
    def test_random(self, body):
        for raw in (key_exchange_record(body), body):
            try:
                parse_key_exchange(raw)
            except ProtocolError:
                pass


class SessionSeedTests(TestCase):
    def test_vectors(self):
        for case in cases("login.json", "session_key"):
            r24 = h(case["r24"])
            X = session_seed_from_random(r24)
            self.assertEqual(X, h(case["X"]), case)
            self.assertEqual(check_session_seed(X)[1:], r24[1:], case)
            self.assertEqual(session_seed_from_random(check_session_seed(X)), X, case)
            self.assertEqual(login_session_key(X), h(case["aes_key"]), case)

    def test_invalid(self):
        good = session_seed_from_random(bytes(range(24)))
        bad = [good[:-1], b"\x02" + good[1:], good[:30] + b"\xff" + good[31:], good[:5] + b"\xff" + good[6:]]
        for X in bad:
            self.assertRaises(ProtocolError, check_session_seed, X)

    @given(st.binary(max_size=200))
    @SETTINGS
    def test_random(self, data):
        try:
            check_session_seed(data)
        except ProtocolError:
            pass

    def test_rc4_key_wrap(self):
        self.assertEqual(server_rc4_keys(b"\xff\x01"), (b"\xff\x01", b"\x00\x01"))


class LoginExchangeTests(TestCase):
    """The complete model sessions of login.json (kind login_exchange) taken
    apart with the transport pieces: handshake, RC4, records, AES."""

    def test_streams(self):
        for case in cases("login.json", "login_exchange"):
            client, server = h(case["client_stream"]), h(case["server_stream"])
            key = h(case["aes_key"])
            if case["variant"] == "6.16":
                hs = dh384.ServerHandshake(dh384.KeyPair(int(case["dh_b"], 16)), filler=h(case["filler_server"]))
                sent, done = b"", False
                for i in range(0, len(client), 7):
                    out, done = hs.receive(client[i : i + 7])
                    sent += out
                self.assertTrue(done, case["user"])
                self.assertEqual(hs.K, h(case["K"]), case["user"])
                c2s, s2c = server_rc4_keys(hs.K)
                plain_in = rc4.RC4(c2s).crypt(hs.remainder)
                self.assertEqual(server[: len(sent)], sent, case["user"])
                reply = rc4.RC4(s2c).crypt(server[len(sent) :])
            else:
                self.assertEqual(client[:5], CLIENT_HELLO)
                self.assertEqual(server[:5], SERVER_HELLO)
                plain_in, reply = client[5:], server[5:]
            self.assertEqual(plain_in, h(case["record1_plain"]) + h(case["record2_plain"]), case["user"])
            self.assertEqual(reply, h(case["reply_record_plain"]), case["user"])
            records = ServerRecordParser().feed(plain_in)
            self.assertEqual(len(records), 2)
            kx = parse_key_exchange(records[0])
            self.assertEqual(list(kx.objects), list(items_from_vector(case["key_exchange_items"])))
            self.assertEqual(login_session_key(h(case["X"])), key)
            self.assertEqual(RecordCipher(key, 0).open(records[1]), h(case["request_plaintext"]))
            self.assertEqual(RecordCipher(key, 1).seal(h(case["reply_plaintext"])), reply)

    def test_vector_file_has_all_variants(self):
        variants = {c["variant"] for c in load_vectors("login.json")["cases"] if c["kind"] == "login_exchange"}
        self.assertEqual(variants, {"6.16", "classic-4.x", "1.4-style-41"})


class CounterWrapTests(TestCase):
    """Issue 17.10: record 65 536 would reuse record 0's keystream."""

    def test_seal_refuses_to_wrap(self):
        from blissnode.wire.server_transport import MAX_RECORDS, KeystreamExhausted, RecordCipher
        cipher = RecordCipher(b"k" * 32, 1, seq=MAX_RECORDS - 1)
        cipher.seal(b"last")
        self.assertRaises(KeystreamExhausted, cipher.seal, b"one too many")
        self.assertEqual(cipher.seq, MAX_RECORDS)
