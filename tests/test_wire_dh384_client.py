"""The client side of the DH-384 pre-handshake (wire.dh384.ClientHandshake)."""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire import dh384
from blissnode.wire.errors import ProtocolError
from tests.vectors import cases


def _pair(case):
    client = dh384.ClientHandshake(dh384.KeyPair(int(case["a_hex"], 16)))
    server = dh384.KeyPair(int(case["b_hex"], 16))
    return client, server


def _run(client, server, chunk=None):
    """Drive a ClientHandshake against a ServerHandshake; return what each
    side received after the handshake (remainders)."""
    to_server = client.start()
    to_client = b""
    out, done = server.receive(to_server)
    to_client += out
    tail = b"SEEDGREETING"
    to_client_stream = to_client
    sent_tail = False
    c_done = False
    pos = 0
    for _ in range(200):
        step = chunk or len(to_client_stream)
        piece = to_client_stream[pos:pos + step]
        pos += len(piece)
        reply, c_done = client.receive(piece)
        if reply:
            more, s_done = server.receive(reply)
            to_client_stream += more
            if s_done and not sent_tail:
                to_client_stream += tail
                sent_tail = True
        if c_done and pos >= len(to_client_stream):
            break
    return c_done, client.remainder + to_client_stream[pos:]


class VectorTests(TestCase):
    def test_every_dh384_case(self):
        all_cases = cases("tcp_frames.json", "dh384")
        self.assertTrue(all_cases)
        for case in all_cases:
            client, _ = _pair(case)
            start = client.start()
            self.assertEqual(start.hex(), case["A_hex"], case)
            out, done = client.receive(bytes.fromhex(case["B_hex"]))
            self.assertEqual(out.hex(), case["client_hash_hex"], case)
            self.assertFalse(done, case)
            self.assertEqual(client.K.hex(), case["K_hex"], case)
            out, done = client.receive(bytes.fromhex(case["server_hash_hex"]) + b"rest")
            self.assertEqual(out, b"", case)
            self.assertTrue(done, case)
            self.assertEqual(client.remainder, b"rest", case)

    def test_filler_is_sent_after_A(self):
        case = cases("tcp_frames.json", "dh384")[0]
        client = dh384.ClientHandshake(dh384.KeyPair(int(case["a_hex"], 16)), filler=b"x" * 11)
        self.assertEqual(client.start(), bytes.fromhex(case["A_hex"]) + b"x" * 11)

    def test_filler_limit(self):
        self.assertRaises(ValueError, dh384.ClientHandshake, filler=b"x" * (dh384.MAX_FILLER + 1))

    def test_receive_before_start(self):
        self.assertRaises(ValueError, dh384.ClientHandshake().receive, b"x")


class EachBigIntTests(TestCase):
    """The DH-384 vectors (A, K) on every big-integer implementation
    (wire.bigint: gmpy2 is a dependency, so its absence fails here)."""

    def test_python_and_gmpy2(self):
        from blissnode.wire import bigint
        self.assertEqual(sorted(bigint.IMPLEMENTATIONS), ["gmpy2", "python"])
        for name, implementation in sorted(bigint.IMPLEMENTATIONS.items()):
            self.patch(dh384, "_bigint", implementation)
            for case in cases("tcp_frames.json", "dh384"):
                a = dh384.KeyPair(int(case["a_hex"], 16))
                self.assertEqual(a.public_bytes().hex(), case["A_hex"], name)
                self.assertEqual(a.shared_secret(bytes.fromhex(case["B_hex"])).hex(),
                                 case["K_hex"], name)


class AgainstServerTests(TestCase):
    def test_both_server_orders_and_chunkings(self):
        for case in cases("tcp_frames.json", "dh384"):
            for hash_with_public in (True, False):
                for filler in (b"", b"f" * 11, b"g" * dh384.MAX_FILLER):
                    for chunk in (None, 1, 7):
                        client, keys = _pair(case)
                        server = dh384.ServerHandshake(keys, filler=filler,
                                                       hash_with_public=hash_with_public)
                        done, rest = _run(client, server, chunk)
                        what = (case["A_hex"][:8], hash_with_public, len(filler), chunk)
                        self.assertTrue(done, what)
                        self.assertEqual(rest, b"SEEDGREETING", what)
                        self.assertEqual(client.K, server.K, what)
                        self.assertEqual(client.K.hex(), case["K_hex"], what)

    def test_wrong_server_hash_is_refused(self):
        case = cases("tcp_frames.json", "dh384")[0]
        client, _ = _pair(case)
        client.start()
        client.receive(bytes.fromhex(case["B_hex"]))
        with self.assertRaises(ProtocolError):
            client.receive(b"\x00" * (dh384.MAX_FILLER + dh384.HASH_SIZE))

    def test_degenerate_public_value_is_refused(self):
        for bad in (0, 1, dh384.P - 1, dh384.P):
            client = dh384.ClientHandshake()
            client.start()
            with self.assertRaises(ProtocolError, msg=hex(bad)):
                client.receive(bad.to_bytes(48, "big"))

    def test_after_done_bytes_go_to_remainder(self):
        case = cases("tcp_frames.json", "dh384")[1]
        client, _ = _pair(case)
        client.start()
        client.receive(bytes.fromhex(case["B_hex"]) + bytes.fromhex(case["server_hash_hex"]))
        self.assertEqual(client.receive(b"abc"), (b"", True))
        self.assertEqual(client.remainder, b"abc")


class FuzzTests(TestCase):
    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=200), st.integers(min_value=1, max_value=64))
    def test_random_bytes(self, data, chunk):
        client = dh384.ClientHandshake(dh384.KeyPair(12345))
        client.start()
        try:
            for i in range(0, len(data), chunk):
                client.receive(data[i:i + chunk])
        except ProtocolError:
            pass


class RealFillerRangeTests(TestCase):
    """ERRATA (78 real DH-384 openings, nDPI 2015): clients sent 0..63
    filler bytes after A (first segments of 48..111 bytes) and servers 1..64
    after B; tcp.md 3's bound of 48 refused 12 of the 78 real openings."""

    def test_limit_covers_every_real_size(self):
        self.assertEqual(dh384.MAX_FILLER, 64)

    def _server_side(self, case, filler_size):
        keys = dh384.KeyPair(int(case["b_hex"], 16))
        client_keys = dh384.KeyPair(int(case["a_hex"], 16))
        server = dh384.ServerHandshake(keys, hash_with_public=False)
        opening = bytes.fromhex(case["A_hex"]) + bytes(range(filler_size))
        self.assertEqual(len(opening), 48 + filler_size)
        out, done = server.receive(opening)
        self.assertFalse(done)
        self.assertEqual(out, bytes.fromhex(case["B_hex"]))
        K = client_keys.shared_secret(out)
        out, done = server.receive(dh384.client_hash(K) + b"SEED")
        return out, done, server, K

    def test_server_accepts_real_client_openings_48_to_111_bytes(self):
        case = cases("tcp_frames.json", "dh384")[0]
        for size in (0, 9, 24, 48, 49, 63):
            out, done, server, K = self._server_side(case, size)
            self.assertTrue(done, size)
            self.assertEqual(out, dh384.server_hash(K), size)
            self.assertEqual(server.remainder, b"SEED", size)

    def test_server_refuses_a_hash_past_64_filler_bytes(self):
        case = cases("tcp_frames.json", "dh384")[0]
        with self.assertRaises(ProtocolError):
            self._server_side(case, dh384.MAX_FILLER + 1)

    def test_client_finds_the_hash_past_every_real_server_filler(self):
        case = cases("tcp_frames.json", "dh384")[0]
        for size in (1, 6, 9, 11, 50, 64):
            client, keys = _pair(case)
            client.start()
            B = keys.public_bytes()
            out, done = client.receive(B + bytes(size))
            self.assertFalse(done, size)
            self.assertEqual(out, dh384.client_hash(client.K), size)
            out, done = client.receive(dh384.server_hash(client.K) + b"rest")
            self.assertTrue(done, size)
            self.assertEqual(client.remainder, b"rest", size)

    def test_client_may_send_up_to_64_filler_bytes(self):
        client = dh384.ClientHandshake(filler=b"f" * 64)
        self.assertEqual(len(client.start()), 48 + 64)
