"""Fragment planning and reassembly against udp_packets.json (fragment_plan,
fragment_reassembly), plus the limits of the reassembler."""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire.errors import LimitExceeded, ProtocolError
from blissnode.wire.fragments import (
    FRAGMENT_CHUNK,
    MAX_FRAGMENTS,
    Reassembler,
    needs_fragments,
    plan_fragments,
    split_message,
)
from blissnode.wire.udp import decrypt_datagram, encrypt_fragment
from tests.vectors import cases

H = bytes.fromhex


class VectorTests(TestCase):
    def test_fragment_plan(self):
        for c in cases("udp_packets.json", "fragment_plan"):
            self.assertEqual(c["max_chunk"], FRAGMENT_CHUNK)
            plan = plan_fragments(c["plaintext_length"], c["max_chunk"])
            got = [{"index": s.index, "last": s.last, "length": s.length,
                    "datagram_length": s.datagram_length} for s in plan]
            self.assertEqual(got, c["fragments"], c["plaintext_length"])
            self.assertEqual(sum(s.length for s in plan), c["plaintext_length"])

    def test_fragment_reassembly(self):
        for n, c in enumerate(cases("udp_packets.json", "fragment_reassembly")):
            r = Reassembler()
            results = [r.add(("peer", n), f["index"], f["last"], H(f["plaintext_hex"]))
                       for f in c["fragments_in_arrival_order"]]
            done = [x for x in results if x is not None]
            if c["complete"]:
                self.assertEqual(done, [H(c["message_hex"])], c)
                self.assertIsNotNone(results[-1], c)
                self.assertEqual((len(r), r.total_bytes), (0, 0), c)
            else:
                self.assertEqual(done, [], c)
                self.assertIsNone(c["message_hex"], c)
                self.assertEqual(len(r), 1, c)


class PlanTests(TestCase):
    def test_limits(self):
        self.assertEqual(len(plan_fragments(MAX_FRAGMENTS * FRAGMENT_CHUNK)), MAX_FRAGMENTS)
        self.assertRaises(LimitExceeded, plan_fragments, MAX_FRAGMENTS * FRAGMENT_CHUNK + 1)
        self.assertRaises(ValueError, plan_fragments, -1)
        self.assertRaises(ValueError, plan_fragments, 10, 0)
        self.assertFalse(needs_fragments(1300))
        self.assertTrue(needs_fragments(1301))

    def test_split_and_send(self):
        message = bytes(range(256)) * 20
        pieces = split_message(message)
        self.assertEqual(b"".join(p for _, p in pieces), message)
        r = Reassembler()
        out = None
        for s, chunk in reversed(pieces):
            wire = encrypt_fragment("1.2.3.4", "5.6.7.8", 0x4242, 0x1111, s.index, s.last,
                                    s.index * 77, chunk, type_byte=0x2F)
            dgram, plain, ok = decrypt_datagram(wire, "1.2.3.4", "5.6.7.8")
            self.assertTrue(ok)
            self.assertEqual(dgram.flag_byte, s.flag_byte)
            out = r.add(("1.2.3.4", dgram.packet_id), dgram.index, dgram.last, plain)
        self.assertEqual(out, message)


class ReassemblerLimitTests(TestCase):
    def test_inconsistent(self):
        r = Reassembler()
        r.add("k", 0, False, b"a")
        self.assertRaises(ProtocolError, r.add, "k", 0, False, b"b")
        self.assertEqual(len(r), 0)
        r.add("k", 2, True, b"c")
        self.assertRaises(ProtocolError, r.add, "k", 3, False, b"d")
        r.add("k", 2, True, b"c")
        self.assertRaises(ProtocolError, r.add, "k", 1, True, b"e")
        r.add("k", 4, False, b"x")
        self.assertRaises(ProtocolError, r.add, "k", 3, True, b"y")
        self.assertRaises(ProtocolError, r.add, "k", 128, True, b"y")
        self.assertEqual(len(r), 0)

    def test_duplicate_ignored(self):
        r = Reassembler()
        self.assertIsNone(r.add("k", 1, True, b"b"))
        self.assertIsNone(r.add("k", 1, True, b"b"))
        self.assertEqual(r.add("k", 0, False, b"a"), b"ab")

    def test_bounds(self):
        r = Reassembler(max_pending=2, max_message_bytes=10, max_fragment_bytes=6,
                        max_total_bytes=12)
        self.assertRaises(LimitExceeded, r.add, "a", 0, False, b"1234567")
        r.add("a", 0, False, b"123456")
        self.assertRaises(LimitExceeded, r.add, "a", 1, False, b"12345")
        self.assertEqual(len(r), 0)
        r.add("a", 0, False, b"123456")
        r.add("b", 0, False, b"123456")
        r.add("c", 0, False, b"1")          # evicts the oldest ("a")
        self.assertEqual(len(r), 2)
        self.assertEqual(r.total_bytes, 7)
        r.add("c", 1, False, b"123456")     # 13 > 12 bytes held: evicts "b"
        self.assertEqual((len(r), r.total_bytes), (1, 7))
        self.assertRaises(LimitExceeded, r.add, "c", 2, False, b"123456")
        # a single message that outgrows the whole buffer is dropped itself
        r = Reassembler(max_message_bytes=20, max_fragment_bytes=6, max_total_bytes=12)
        r.add("k", 0, False, b"123456")
        r.add("k", 1, False, b"123456")
        self.assertRaises(LimitExceeded, r.add, "k", 2, False, b"1")
        self.assertEqual((len(r), r.total_bytes), (0, 0))

    def test_expire(self):
        r = Reassembler(timeout=30.0)
        r.add("old", 0, False, b"x", now=100.0)
        r.add("new", 0, False, b"y", now=125.0)
        self.assertEqual(r.expire(131.0), 1)
        self.assertEqual(len(r), 1)
        r.discard("new")
        r.discard("unknown")
        self.assertEqual((len(r), r.total_bytes), (0, 0))

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 130), st.booleans(),
                              st.binary(max_size=8)), max_size=60))
    def test_random_fragments(self, events):
        r = Reassembler(max_pending=3, max_message_bytes=40, max_fragment_bytes=6,
                        max_total_bytes=60)
        for key, index, last, data in events:
            try:
                r.add(key, index, last, data)
            except ProtocolError:
                pass
            self.assertLessEqual(len(r), 3)
            self.assertLessEqual(r.total_bytes, 60)

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=4000), st.integers(1, 1457), st.randoms(use_true_random=False))
    def test_round_trip_any_order(self, message, chunk, rnd):
        pieces = split_message(message, chunk)
        rnd.shuffle(pieces)
        r = Reassembler()
        results = [r.add("k", s.index, s.last, data) for s, data in pieces]
        if message:
            self.assertEqual([x for x in results if x is not None], [message])
        else:
            self.assertEqual(results, [])
