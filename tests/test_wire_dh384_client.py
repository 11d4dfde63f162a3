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
