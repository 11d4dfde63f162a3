"""The relay command bodies (wire.relay_commands) byte for byte, and the CHK
re-keying a relay applies to the session records it forwards."""

import random

from twisted.trial.unittest import TestCase

from blissnode.wire.aes_ctr import open_session_record, seal_session_record, session_chk
from blissnode.wire.errors import ChecksumError
from blissnode.wire.objects import Int, NetAddr, ObjectList, decode_objects, encode_objects
from blissnode.wire.relay_commands import (
    RelayAccepted,
    RelayCandidate,
    RelayJoin,
    RelayOpen,
    RelayStatus,
    rekey_session_record,
)
from blissnode.wire.tcp_records import SessionRecord, decode_record


def encoded(items):
    return encode_objects(ObjectList(items)).hex()


class BodyBytesTests(TestCase):
    def test_cmd73_carries_the_senders_session_id(self):
        self.assertEqual(encoded(RelayOpen(0x1234).items()), "41010003b424")
        self.assertEqual(RelayOpen.from_objects(decode_objects(bytes.fromhex("41010003b424"))),
                         RelayOpen(0x1234))

    def test_cmd74_session_id_and_connection_id(self):
        self.assertEqual(encoded(RelayJoin(0x1234, 7).items()), "41020003b424000407")
        self.assertEqual(RelayJoin.from_objects(decode_objects(bytes.fromhex("41020003b424000407"))),
                         RelayJoin(0x1234, 7))

    def test_cmd75_with_and_without_connection_id(self):
        self.assertEqual(encoded(RelayAccepted(7).items()), "4103000307001f00002001")
        self.assertEqual(encoded(RelayAccepted().items()), "4102001f00002001")
        back = RelayAccepted.from_objects(decode_objects(bytes.fromhex("4102001f00002001")))
        self.assertIsNone(back.connection_id)
        self.assertEqual(back.status, 0)

    def test_cmd84_receivers_session_id_and_intervals(self):
        self.assertEqual(encoded(RelayStatus(0x1234).items()), "41030003b424000e1e000f1e")
        self.assertEqual(RelayStatus.from_objects(decode_objects(
            bytes.fromhex("41030003b424000e1e000f1e"))), RelayStatus(0x1234, 30, 30))

    def test_relay_candidate_list_7(self):
        item = RelayCandidate(7, NetAddr("127.0.0.1", 33033)).item()
        self.assertEqual(encoded([item]), "41010507410300030702087f000001810900101e")
        body = decode_objects(bytes.fromhex("41020003050507410300030702087f000001810900101e"))
        self.assertEqual(RelayCandidate.all_in(body),
                         [RelayCandidate(7, NetAddr("127.0.0.1", 33033), 30)])

    def test_missing_items_read_as_none(self):
        empty = ObjectList([])
        self.assertEqual(RelayOpen.from_objects(empty), RelayOpen(None))
        self.assertEqual(RelayJoin.from_objects(ObjectList([Int(3, 1)])), RelayJoin(1, None))
        self.assertEqual(RelayCandidate.all_in(empty), [])


class RekeyTests(TestCase):
    def test_rekeyed_chk_is_the_one_built_for_the_receiver(self):
        rng = random.Random(12)
        for _ in range(200):
            key = bytes(rng.randrange(256) for _ in range(32))
            plain = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            sid_a, sid_b = rng.randrange(0x10000), rng.randrange(0x10000)
            x, seq = rng.randrange(1 << 32), rng.randrange(0x10000)
            sent = seal_session_record(plain, key, x, seq, sid_a)
            for_b = rekey_session_record(sent, sid_a, sid_b)
            self.assertEqual(for_b, seal_session_record(plain, key, x, seq, sid_b))
            # The payload is forwarded unchanged, only the two CHK bytes differ.
            self.assertEqual(for_b.payload, sent.payload)
            self.assertEqual(len(for_b.encode()), len(sent.encode()))
            self.assertEqual(open_session_record(for_b, key, x, sid_b), (seq, plain))

    def test_unkeyed_record_fails_the_receivers_chk(self):
        sent = seal_session_record(b"\x01\x6d\x41\x00", bytes(32), 0, 0, 5)
        with self.assertRaises(ChecksumError):
            open_session_record(sent, bytes(32), 0, sid_rx=6)
        open_session_record(rekey_session_record(sent, 5, 6), bytes(32), 0, sid_rx=6)

    def test_spec_worked_example_rekeyed(self):
        # tcp.md 7.1: 1b 05 e6 4c ... with sid_rx = 0; for sid 1 CHK ^= 2.
        raw = bytes.fromhex("1b05e64c6d7fc315e340363c32cf")
        record, _ = decode_record(raw)
        self.assertIsInstance(record, SessionRecord)
        again = rekey_session_record(record, 0, 1)
        self.assertEqual(again.encode().hex(), "1b05e64e6d7fc315e340363c32cf")
        self.assertEqual(again.chk, session_chk(record.payload, 1))
