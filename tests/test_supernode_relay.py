"""
The supernode as relay (supernode.relay, cmds 73/74/75/84) on StringTransport
sessions and a test clock: the sequence, forwarding (payload unchanged, CHK
re-keyed per leg), third parties refused, both legs closing together, the
limits, the idle / join timeouts and the periodic cmd 84.
"""

from twisted.trial import unittest

from blissnode.supernode.relay import RelayLimits
from blissnode.supernode.request import request as make_request
from blissnode.wire.aes_ctr import open_session_record, seal_session_record
from blissnode.wire.objects import decode_objects
from blissnode.wire.relay_commands import RelayJoin, RelayOpen
from blissnode.wire.tcp_commands import KIND_NOTIFICATION, KIND_REPLY
from blissnode.wire.tcp_records import PacketRecord, SessionRecord
from tests.supernode_helpers import ClassicTCPClient, drain, make_node, tcp_session

KEY = bytes(range(32))


class Leg(object):
    """One client's TCP session to the relay (the client side from wire)."""

    def __init__(self, node, ip="192.0.2.1", port=40001):
        self.proto, self.transport = tcp_session(node, peer=(ip, port))
        self.client = ClassicTCPClient()
        self.proto.dataReceived(self.client.opening())
        self.client.receive(drain(self.transport))
        self.pid = 0x100

    def send(self, commands):
        self.pid += 1
        self.proto.dataReceived(self.client.packet(self.pid, commands))
        return self.take()

    def send_record(self, record):
        self.proto.dataReceived(self.client.raw(record.encode()))

    def take(self):
        return self.client.receive(drain(self.transport))

    @property
    def closed(self):
        return self.transport.disconnecting or self.proto.state == "closed"


def commands(records):
    return [c for r in records if isinstance(r, PacketRecord) for c in r.commands]


def body(command):
    return decode_objects(command.body)


class RelayTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node(relay=RelayLimits(per_client=2, total=3, rate=10000,
                                                burst=10000, idle_timeout=100,
                                                join_timeout=50))
        self.reactor = self.node.reactor

    def open(self, sid=0x1111, ip="192.0.2.1", port=40001):
        leg = Leg(self.node, ip, port)
        (reply,) = commands(leg.send([make_request(73, 7, RelayOpen(sid).items())]))
        self.assertEqual((reply.cmd, reply.kind, reply.request_id), (75, KIND_REPLY, 7))
        objs = body(reply)
        cid = objs.value(3)
        self.assertEqual((objs.value(0x1F), objs.value(0x20)), (0, 1))
        return leg, cid

    def join(self, cid, sid=0x2222, ip="192.0.2.2", port=40002):
        leg = Leg(self.node, ip, port)
        records = leg.send([make_request(74, 9, RelayJoin(sid, cid).items())])
        return leg, commands(records)

    def pair(self):
        a, cid = self.open()
        b, got = self.join(cid)
        return a, b, cid, got

    def test_open_join_and_status_to_both_legs(self):
        a, cid = self.open(sid=0x1111)
        self.assertTrue(0 < cid < 0x80000000)
        b, got = self.join(cid, sid=0x2222)
        reply, status = got
        self.assertEqual((reply.cmd, reply.kind, reply.request_id), (75, KIND_REPLY, 9))
        self.assertIsNone(body(reply).value(3))
        self.assertEqual((status.cmd, status.kind), (84, KIND_NOTIFICATION))
        self.assertEqual((body(status).value(3), body(status).value(0xE),
                          body(status).value(0xF)), (0x2222, 30, 30))
        (status_a,) = commands(a.take())
        self.assertEqual((status_a.cmd, body(status_a).value(3)), (84, 0x1111))
        conn = self.node.relay.connection(cid)
        self.assertIs(conn.opener, a.proto)
        self.assertIs(conn.joiner, b.proto)

    def test_session_records_forwarded_payload_unchanged_chk_rekeyed(self):
        a, b, cid, _ = self.pair()
        a.take()
        for seq in range(3):
            sent = seal_session_record(b"\x01\x6d\x41\x01\x03\x02hi" * (seq + 1), KEY, 5,
                                       seq, cid)
            a.send_record(sent)
            (got,) = b.take()
            self.assertIsInstance(got, SessionRecord)
            self.assertEqual(got.payload, sent.payload)
            self.assertEqual(open_session_record(got, KEY, 5, sid_rx=0x2222)[0], seq)
        back = seal_session_record(b"\x02\x47\x41\x00", KEY, 6, 0, cid)
        b.send_record(back)
        (got,) = a.take()
        self.assertEqual(got.payload, back.payload)
        open_session_record(got, KEY, 6, sid_rx=0x1111)
        conn = self.node.relay.connection(cid)
        self.assertEqual((conn.records_up, conn.records_down), (3, 1))
        self.assertEqual(conn.bytes_down, len(back.encode()))

    def test_records_before_the_join_are_held_then_forwarded(self):
        a, cid = self.open()
        early = seal_session_record(b"\x01\x43\x41\x00", bytes(32), 0, 0, cid)
        a.send_record(early)
        b, got = self.join(cid)
        self.assertEqual([c.cmd for c in got], [75, 84])
        self.assertEqual([r.payload for r in b.client.records if isinstance(r, SessionRecord)],
                         [early.payload])

    def test_third_party_with_a_wrong_id_is_refused_and_closed(self):
        a, cid = self.open()
        b, got = self.join(cid ^ 0x55)
        (reply,) = got
        self.assertEqual((reply.cmd, body(reply).value(3)), (75, 0))
        self.assertTrue(b.closed)
        self.assertFalse(a.closed)
        self.assertEqual(self.node.relay.refused, 1)

    def test_third_party_cannot_join_a_full_connection(self):
        a, b, cid, _ = self.pair()
        c, got = self.join(cid, sid=0x3333, ip="192.0.2.3")
        self.assertEqual(body(got[0]).value(3), 0)
        self.assertTrue(c.closed)
        a.take()
        b.take()
        # Records of the refused session reach nobody.
        c.proto.state = None  # still reading, as if the close had not happened
        c.send_record(seal_session_record(b"\x01\x6d\x41\x00", KEY, 0, 0, cid))
        self.assertEqual(a.take(), [])
        self.assertEqual(b.take(), [])

    def test_session_records_of_a_session_that_never_attached_go_nowhere(self):
        a, b, cid, _ = self.pair()
        a.take()
        stranger = Leg(self.node, "192.0.2.9")
        stranger.send_record(seal_session_record(b"\x01\x6d\x41\x00", KEY, 0, 0, cid))
        self.assertEqual(a.take(), [])
        self.assertEqual(b.take(), [])

    def test_either_leg_closing_closes_both(self):
        for closer in ("opener", "joiner"):
            a, b, cid, _ = self.pair()
            leaving, staying = (a, b) if closer == "opener" else (b, a)
            leaving.proto.connectionLost(None)
            self.assertTrue(staying.closed, closer)
            self.assertIsNone(self.node.relay.connection(cid))
            staying.proto.connectionLost(None)
        self.assertEqual(len(self.node.relay), 0)

    def test_limits_per_client_and_total(self):
        self.open(ip="192.0.2.1", port=1)
        self.open(ip="192.0.2.1", port=2)
        third = Leg(self.node, "192.0.2.1", 3)
        (reply,) = commands(third.send([make_request(73, 7, RelayOpen(1).items())]))
        self.assertEqual(body(reply).value(3), 0)
        self.assertTrue(third.closed)
        self.open(ip="192.0.2.5", port=1)
        full = Leg(self.node, "192.0.2.6", 1)
        (reply,) = commands(full.send([make_request(73, 7, RelayOpen(1).items())]))
        self.assertEqual(body(reply).value(3), 0)
        self.assertEqual(len(self.node.relay), 3)

    def test_nobody_joins_closes_the_opener(self):
        a, cid = self.open()
        self.reactor.advance(49)
        self.assertFalse(a.closed)
        self.reactor.advance(6)
        self.assertTrue(a.closed)
        self.assertIsNone(self.node.relay.connection(cid))

    def test_status_every_30s_and_idle_close(self):
        a, b, cid, _ = self.pair()
        a.take()
        b.take()
        self.reactor.advance(30)
        self.assertEqual([c.cmd for c in commands(a.take())], [84])
        self.assertEqual([body(c).value(3) for c in commands(b.take())], [0x2222])
        # Traffic keeps it open past the idle timeout ...
        self.reactor.advance(60)
        a.send_record(seal_session_record(b"\x01\x6d\x41\x00", KEY, 0, 0, cid))
        self.reactor.advance(60)
        self.assertFalse(a.closed)
        # ... silence does not.
        self.reactor.advance(45)
        self.assertTrue(a.closed)
        self.assertTrue(b.closed)

    def test_rate_limit_pauses_the_sender(self):
        a, b, cid, _ = self.pair()
        a.take()
        big = seal_session_record(bytes(3000), KEY, 0, 0, cid)
        for _ in range(3):
            a.send_record(big)
        self.assertEqual(a.transport.producerState, "producing")
        a.send_record(big)
        self.assertEqual(a.transport.producerState, "paused")
        # Nothing was dropped.
        self.assertEqual(len([r for r in b.take() if isinstance(r, SessionRecord)]), 4)
        self.reactor.advance(1)
        self.assertEqual(a.transport.producerState, "producing")
        self.assertEqual(b.transport.producerState, "producing")

    def test_bad_requests_refused(self):
        no_sid = Leg(self.node, "192.0.2.7")
        (reply,) = commands(no_sid.send([make_request(73, 7, [])]))
        self.assertEqual(body(reply).value(3), 0)
        self.assertTrue(no_sid.closed)
        a, cid = self.open()
        (reply,) = commands(a.send([make_request(73, 8, RelayOpen(5).items())]))
        self.assertEqual(body(reply).value(3), 0)  # one connection per session
        no_id = Leg(self.node, "192.0.2.8")
        (reply,) = commands(no_id.send([make_request(74, 9, [])]))
        self.assertEqual(body(reply).value(3), 0)
        self.assertEqual(self.node.relay.refused, 3)

    def test_relay_off(self):
        self.node.config.relay.total = 0
        leg = Leg(self.node)
        (reply,) = commands(leg.send([make_request(73, 7, RelayOpen(1).items())]))
        self.assertEqual(body(reply).value(3), 0)
