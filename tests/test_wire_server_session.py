"""The sans-IO login/event connection (wire.server_session), both ends,
byte for byte: the login_exchange vectors, the real two-hello opening
(ERRATA), the bridged opening (cmd 7), and the no-oracle key exchange."""

import os

from twisted.trial.unittest import TestCase

from blissnode.wire import dh384, objects
from blissnode.wire.errors import ChecksumError, ProtocolError
from blissnode.wire.server_session import (
    MAX_HELLOS,
    ClientSide,
    KeyExchanged,
    Opening,
    Record,
    Send,
    ServerSide,
)
from blissnode.wire.server_transport import CLIENT_HELLO, SERVER_HELLO, seal_server_record
from tests.event_helpers import KEYS
from tests.vectors import cases


def h(text):
    return bytes.fromhex(text)


def server_for(case):
    keypair = dh384.KeyPair(int(case["dh_b"], 16)) if "dh_b" in case else None
    return ServerSide(KEYS.login.private.raw, dh_keypair=keypair,
                      dh_filler=h(case.get("filler_server", "")))


class VectorTests(TestCase):
    def test_login_exchange_streams(self):
        """The client's stream gives the server's opening bytes, a good key
        exchange and the request record; the server's reply sealed by the
        session is the vector's reply record."""
        for case in cases("login.json", "login_exchange"):
            for chunk in (1, 7, 10 ** 6):
                server = server_for(case)
                stream = h(case["client_stream"])
                events = []
                for i in range(0, len(stream), chunk):
                    events += server.receive(stream[i:i + chunk])
                sent = b"".join(e.data for e in events if isinstance(e, Send))
                self.assertTrue(h(case["server_stream"]).startswith(sent), case["variant"])
                [kx] = [e for e in events if isinstance(e, KeyExchanged)]
                self.assertTrue(kx.seed_ok, case["variant"])
                [record] = [e.record for e in events if isinstance(e, Record)]
                seq, plain = server.open(record)
                self.assertEqual((seq, plain.hex()), (0, case["request_plaintext"]))
                reply = server.seal(h(case["reply_plaintext"]))
                self.assertTrue(h(case["server_stream"]).endswith(reply), case["variant"])


class HelloTests(TestCase):
    """ERRATA: the client sends ``16 03 01 00 00`` twice; each is answered."""

    def kx(self, client):
        return client.key_exchange()

    def test_two_hellos_answered_each(self):
        server = ServerSide(KEYS.login.private.raw)
        self.assertEqual(server.receive(CLIENT_HELLO), [Send(SERVER_HELLO)])
        client = ClientSide(lambda seed: b"", seed_r24=bytes(24))
        events = server.receive(CLIENT_HELLO + _kx_record(client))
        self.assertEqual(events[0], Send(SERVER_HELLO))
        self.assertIsInstance(events[1], KeyExchanged)
        self.assertTrue(events[1].seed_ok)
        self.assertEqual(server.hellos, 2)

    def test_too_many_hellos(self):
        server = ServerSide(KEYS.login.private.raw)
        with self.assertRaises(ProtocolError):
            server.receive(CLIENT_HELLO * (MAX_HELLOS + 1))

    def test_client_sends_the_second_hello_with_the_key_exchange(self):
        client = ClientSide(lambda seed: b"", hellos=2)
        self.assertEqual(client.start(), CLIENT_HELLO)
        client.send(b"request")
        out, records = client.receive(SERVER_HELLO)
        self.assertEqual(out[:5], CLIENT_HELLO)
        self.assertEqual(out[5:8], b"\x16\x03\x01")
        self.assertEqual(records, [])
        # The server's answer to the second hello is skipped.
        out, records = client.receive(SERVER_HELLO)
        self.assertEqual((out, records), (b"", []))

    def test_bridged_opening_takes_the_key_exchange_first(self):
        server = ServerSide(KEYS.login.private.raw, bridged=True)
        client = ClientSide(_kx_list, hellos=0)
        client.send(b"x")
        events = server.receive(client.start())
        self.assertIsInstance(events[0], KeyExchanged)
        self.assertTrue(events[0].seed_ok)
        self.assertEqual(server.transport_kind, "classic")
        self.assertIsInstance(events[1], Record)


class KeyExchangeTests(TestCase):
    def test_a_seed_for_another_key_carries_on_with_a_random_key(self):
        server = ServerSide(KEYS.login.private.raw, random_bytes=lambda n: b"\x07" * n)
        blob = os.urandom(192)
        record = _kx_bytes(blob)
        [hello, kx] = server.receive(CLIENT_HELLO + record)
        self.assertFalse(kx.seed_ok)
        self.assertIsInstance(kx.error, ProtocolError)
        self.assertTrue(server.ready)  # answers go out, sealed under a key nobody has

    def test_strict_order_refuses_a_replayed_record(self):
        server = ServerSide(KEYS.login.private.raw)
        server.keyed(bytes(32))
        record = seal_server_record(b"one", bytes(32), 0, 0)
        [first] = server.receive(record)
        self.assertEqual(server.open(first.record), (0, b"one"))
        [again] = server.receive(record)
        self.assertRaises(ChecksumError, server.open, again.record)

    def test_lenient_order_takes_the_trailer(self):
        server = ServerSide(KEYS.login.private.raw, strict_order=False)
        server.keyed(bytes(32))
        for _ in range(2):
            [event] = server.receive(seal_server_record(b"same", bytes(32), 0, 0))
            self.assertEqual(server.open(event.record), (0, b"same"))

    def test_openings_are_a_list_a_plugin_extends(self):
        class Refuse(Opening):
            name = "refuse"

            def decide(self, first, session):
                if first[:1] == b"\xee":
                    raise ProtocolError("quirk refused")
                return None
        from blissnode.wire.server_session import SERVER_OPENINGS

        server = ServerSide(KEYS.login.private.raw, openings=(Refuse(),) + SERVER_OPENINGS)
        self.assertRaises(ProtocolError, server.receive, b"\xee" * 60)
        server = ServerSide(KEYS.login.private.raw, openings=(Refuse(),) + SERVER_OPENINGS)
        self.assertEqual(server.receive(CLIENT_HELLO), [Send(SERVER_HELLO)])


def _kx_bytes(blob):
    from blissnode.wire.server_transport import key_exchange_record

    return key_exchange_record(objects.encode_objects(
        [objects.Blob(8, blob), objects.Int(9, 0x2000), objects.Int(0xC, 1)]))


def _kx_record(client):
    from blissnode.wire.rsa_raw import raw_public

    return _kx_bytes(raw_public(client.seed, KEYS.login.private.n))


def _kx_list(seed):
    from blissnode.wire.rsa_raw import raw_public

    return objects.encode_objects([objects.Blob(8, raw_public(seed, KEYS.login.private.n)),
                                   objects.Int(9, 0x2000), objects.Int(0xC, 1)])
