"""
The supernode's UDP protocol: keying, NACK/resend, ACKs, duplicates,
fragments, bad input and rate limits -- on a fake transport and over a real
loopback socket.  Client datagrams are built with blissnode.wire only.
"""

from twisted.internet import defer, reactor
from twisted.trial import unittest

from blissnode.wire import udp as wire_udp
from blissnode.wire import udp_commands
from blissnode.wire.objects import Blob, Int, NestedList, String, encode_objects
from blissnode.wire.tcp_commands import KIND_NOTIFICATION, KIND_REPLY, KIND_REQUEST, Command
from tests.supernode_helpers import (
    SERVER_IP,
    UDPClient,
    client_datagram,
    make_node,
    open_fragments,
    open_reply,
    request_plaintext,
    udp_protocol,
)
from tests.vectors import cases

PEER = ("10.1.2.3", 40000)


def _body_for(cmd, kind):
    if kind == KIND_REPLY:
        return b"\x42\x15"
    return b"\x42\x15"


class VectorTests(unittest.TestCase):
    """udp_packets.json probe_reply / address_reply / ack_decision, checked
    through the protocol (datagram in, datagram out)."""

    def test_probe_reply(self):
        for case in cases("udp_packets.json", "probe_reply"):
            node = make_node()
            proto = udp_protocol(node)
            plain = bytes.fromhex(case["request_plaintext_hex"])
            proto.datagramReceived(client_datagram(plain, 0x0100, PEER[0]), PEER)
            (data, addr), = proto.transport.take()
            self.assertEqual(addr, PEER, case)
            opened = wire_udp.decrypt_datagram(data, SERVER_IP, PEER[0])
            self.assertTrue(opened.crc_ok, case)
            self.assertEqual(opened.plaintext.hex(), case["reply_plaintext_hex"], case)

    def test_address_reply(self):
        for case in cases("udp_packets.json", "address_reply"):
            node = make_node()
            proto = udp_protocol(node)
            peer = (case["peer_ip"], case["peer_port"])
            plain = bytes.fromhex(case["request_plaintext_hex"])
            proto.datagramReceived(client_datagram(plain, 0x0200, peer[0]), peer)
            (data, addr), = proto.transport.take()
            self.assertEqual(addr, peer, case)
            opened = wire_udp.decrypt_datagram(data, SERVER_IP, peer[0])
            self.assertTrue(opened.crc_ok, case)
            self.assertEqual(opened.plaintext.hex(), case["reply_plaintext_hex"], case)

    def test_ack_decision(self):
        for case in cases("udp_packets.json", "ack_decision"):
            node = make_node()
            proto = udp_protocol(node)
            commands = []
            for i, c in enumerate(case["commands"]):
                kind = c["cmd_kind"]
                rid = 0x300 + i if kind != KIND_NOTIFICATION else None
                commands.append(Command(c["cmd"], kind, rid, _body_for(c["cmd"], kind)))
            plain = udp_commands.build_payload(commands)
            if plain:
                proto.datagramReceived(client_datagram(plain, 0x0400, PEER[0]), PEER)
            else:
                # An empty payload is bad input: nothing is sent.
                proto.datagramReceived(
                    client_datagram(b"", 0x0400, PEER[0]), PEER)
            sent = proto.transport.take()
            if case["action"] == "nothing":
                self.assertEqual(sent, [], case)
                continue
            self.assertEqual(len(sent), 1, case)
            dg = wire_udp.parse_datagram(sent[0][0])
            if case["action"] == "ack":
                self.assertIsInstance(dg, wire_udp.AckDatagram, case)
                self.assertEqual(dg.packet_id, 0x0400, case)
                self.assertEqual(dg.your_ip, PEER[0], case)
            else:
                self.assertIsInstance(dg, wire_udp.PayloadDatagram, case)
                replies = open_reply(sent[0][0], PEER[0])
                asked = [c for c in commands if c.kind == KIND_REQUEST]
                self.assertEqual([r.request_id for r in replies],
                                 [c.request_id for c in asked], case)


class PipelineTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node()
        self.proto = udp_protocol(self.node)

    def probe(self, packet_id=0x0E19, src=None, rid=0x0E18):
        plain = request_plaintext(27, rid)
        return client_datagram(plain, packet_id, src or PEER[0])

    def test_unknown_public_ip_gets_nack_then_resend_answered(self):
        self.proto.datagramReceived(self.probe(src="0.0.0.0"), PEER)
        (data, addr), = self.proto.transport.take()
        nack = wire_udp.parse_datagram(data)
        self.assertIsInstance(nack, wire_udp.NackDatagram)
        self.assertEqual(nack.packet_id, 0x0E19)
        self.assertEqual(nack.your_ip, PEER[0])
        self.assertEqual(nack.type_byte & 0x8F, 7)
        resend = wire_udp.encrypt_resend(0x0E19, nack.nseed, SERVER_IP,
                                         request_plaintext(27, 0x0E18))
        self.proto.datagramReceived(resend, PEER)
        (data, addr), = self.proto.transport.take()
        replies = open_reply(data, PEER[0])
        self.assertEqual([(r.cmd, r.kind, r.request_id) for r in replies],
                         [(28, KIND_REPLY, 0x0E18)])

    def test_resend_with_unknown_challenge_dropped(self):
        resend = wire_udp.encrypt_resend(0x0E19, 0xDEADBEEF, SERVER_IP,
                                         request_plaintext(27, 0x0E18))
        self.proto.datagramReceived(resend, PEER)
        self.assertEqual(self.proto.transport.take(), [])
        self.assertEqual(self.proto.stats["dropped"], 1)

    def test_resend_with_wrong_challenge_dropped(self):
        self.proto.datagramReceived(self.probe(src="0.0.0.0"), PEER)
        nack = wire_udp.parse_datagram(self.proto.transport.take()[0][0])
        resend = wire_udp.encrypt_resend(0x0E19, nack.nseed ^ 1, SERVER_IP,
                                         request_plaintext(27, 0x0E18))
        self.proto.datagramReceived(resend, PEER)
        self.assertEqual(self.proto.transport.take(), [])

    def test_challenge_expires(self):
        self.proto.datagramReceived(self.probe(src="0.0.0.0"), PEER)
        nack = wire_udp.parse_datagram(self.proto.transport.take()[0][0])
        self.node.reactor.advance(self.node.config.nack_ttl + 1)
        resend = wire_udp.encrypt_resend(0x0E19, nack.nseed, SERVER_IP,
                                         request_plaintext(27, 0x0E18))
        self.proto.datagramReceived(resend, PEER)
        self.assertEqual(self.proto.transport.take(), [])

    def test_unknown_resend_accepted_when_configured(self):
        node = make_node(accept_unknown_resend=True)
        proto = udp_protocol(node)
        resend = wire_udp.encrypt_resend(0x0E19, 0xDEADBEEF, SERVER_IP,
                                         request_plaintext(27, 0x0E18))
        proto.datagramReceived(resend, PEER)
        self.assertEqual(len(proto.transport.take()), 1)

    def test_duplicate_answered_identically_without_rerunning_handler(self):
        calls = []
        handlers = self.node.handler_sets.for_version(self.node.handler_sets.provisional())
        original = handlers.udp_probe

        def counting(request):
            calls.append(request)
            return original(request)
        handlers.udp_probe = counting
        self.addCleanup(delattr, handlers, "udp_probe")
        self.proto.datagramReceived(self.probe(), PEER)
        first = self.proto.transport.take()
        # Retransmission: same P and plaintext, new IV (udp.md 7).
        again = client_datagram(request_plaintext(27, 0x0E18), 0x0E19, PEER[0], iv=0x9999)
        self.proto.datagramReceived(again, PEER)
        second = self.proto.transport.take()
        self.assertEqual(first, second)
        self.assertEqual(len(calls), 1)

    def test_same_packet_id_other_plaintext_is_new(self):
        self.proto.datagramReceived(self.probe(), PEER)
        self.proto.transport.take()
        other = client_datagram(request_plaintext(35, 0x0E30), 0x0E19, PEER[0])
        self.proto.datagramReceived(other, PEER)
        (data, _), = self.proto.transport.take()
        self.assertEqual(open_reply(data, PEER[0])[0].cmd, 36)

    def test_out_of_order_and_replayed(self):
        for pid in (5, 3, 4, 3, 5):
            self.proto.datagramReceived(
                client_datagram(request_plaintext(27, pid + 0x100), pid, PEER[0]), PEER)
        sent = self.proto.transport.take()
        self.assertEqual(len(sent), 5)
        rids = [open_reply(d, PEER[0])[0].request_id for d, _ in sent]
        self.assertEqual(rids, [0x105, 0x103, 0x104, 0x103, 0x105])

    def test_notification_acked_and_record_stored(self):
        record = b"\x00\x00\x01\x04\x00\x00\x00\x01" + b"r" * 384
        body = encode_objects([Blob(0x0B, record)])
        plain = Command(12, KIND_NOTIFICATION, None, body).encode()
        self.proto.datagramReceived(client_datagram(plain, 0x500, PEER[0]), PEER)
        (data, _), = self.proto.transport.take()
        ack = wire_udp.parse_datagram(data)
        self.assertIsInstance(ack, wire_udp.AckDatagram)
        self.assertEqual(ack.packet_id, 0x500)
        entries = self.successResultOf(self.node.directory.lookup_address(PEER[0]))
        self.assertEqual([e.user_record for e in entries], [record])

    def test_two_requests_one_datagram(self):
        plain = (request_plaintext(6, 1, encode_objects([Int(0, 45), Int(5, 5)]))
                 + request_plaintext(35, 2))
        self.proto.datagramReceived(client_datagram(plain, 9, PEER[0]), PEER)
        sent = self.proto.transport.take()
        self.assertEqual(len(sent), 1)
        replies = open_reply(sent[0][0], PEER[0])
        self.assertEqual([(r.cmd, r.request_id) for r in replies], [(8, 1), (36, 2)])

    def test_large_reply_is_fragmented(self):
        # 40 published users matching a prefix -> a reply of > 1300 bytes.
        from blissnode.store.directory import OnlineEntry
        for i in range(40):
            self.node.directory.register(OnlineEntry(
                "s%d" % i, user_name="user%02d" % i, user_record=b"R" * 100))
        query = encode_objects([NestedList(0, [String(0, b"user"), Int(1, 5), Int(2, 16)])])
        plain = request_plaintext(14, 0x77, query)
        self.proto.datagramReceived(client_datagram(plain, 0x78, PEER[0]), PEER)
        sent = [d for d, _ in self.proto.transport.take()]
        self.assertGreater(len(sent), 1)
        for data in sent:
            dg = wire_udp.parse_datagram(data)
            self.assertIsInstance(dg, wire_udp.FragmentDatagram)
            self.assertEqual(dg.in_reply_to, 0x78)
        replies = open_fragments(sent, PEER[0])
        self.assertEqual(replies[0].cmd, 15)
        hits = replies[0].objects().get_all(0, NestedList)
        self.assertEqual(len(hits), 40)

    def test_fragmented_request_reassembled(self):
        plain = request_plaintext(27, 0x0E18)
        f0 = wire_udp.encrypt_fragment(PEER[0], SERVER_IP, 0x60, 0, 0, False, 1, plain[:3])
        f1 = wire_udp.encrypt_fragment(PEER[0], SERVER_IP, 0x60, 0, 1, True, 2, plain[3:])
        self.proto.datagramReceived(f1, PEER)
        self.assertEqual(self.proto.transport.take(), [])
        self.proto.datagramReceived(f0, PEER)
        (data, _), = self.proto.transport.take()
        self.assertEqual(open_reply(data, PEER[0])[0].cmd, 28)

    def test_client_nack_gets_kind3_resend(self):
        self.proto.datagramReceived(self.probe(), PEER)
        (data, _), = self.proto.transport.take()
        ours = wire_udp.parse_datagram(data)
        nack = wire_udp.NackDatagram(ours.packet_id, SERVER_IP, 0xABCDEF01, 0x47).to_bytes()
        self.proto.datagramReceived(nack, PEER)
        (data, _), = self.proto.transport.take()
        resend = wire_udp.parse_datagram(data)
        self.assertIsInstance(resend, wire_udp.ResendDatagram)
        self.assertEqual(resend.nseed, 0xABCDEF01)
        plain, ok = resend.decrypt()
        self.assertTrue(ok)
        self.assertEqual(udp_commands.parse_payload(plain)[0].cmd, 28)

    def test_client_ack_forgets_sent_datagram(self):
        self.proto.datagramReceived(self.probe(), PEER)
        (data, _), = self.proto.transport.take()
        ours = wire_udp.parse_datagram(data)
        self.assertEqual(len(self.proto.sent), 1)
        ack = wire_udp.AckDatagram(ours.packet_id, SERVER_IP, 5, 0x15).to_bytes()
        self.proto.datagramReceived(ack, PEER)
        self.assertEqual(len(self.proto.sent), 0)
        nack = wire_udp.NackDatagram(ours.packet_id, SERVER_IP, 1, 0x47).to_bytes()
        self.proto.datagramReceived(nack, PEER)
        self.assertEqual(self.proto.transport.take(), [])


class BadInputTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node()
        self.proto = udp_protocol(self.node)
        self.lines = []
        self.node.throttle.log = _ListLog(self.lines)

    def test_garbage_dropped_and_logged_once_per_interval(self):
        junk = [b"", b"\x00", b"\x00\x01\x02", b"\xff" * 40, b"\x00\x01\x05" + b"\x00" * 3,
                b"\x00\x01\x0f" + b"\x00" * 5, b"\x00\x01\x03" + b"\x00" * 10,
                b"\x00\x01\x07" + b"\x00" * 20]
        for data in junk * 5:
            self.proto.datagramReceived(data, PEER)
        self.assertEqual(self.proto.transport.take(), [])
        self.assertEqual(len(self.lines), 1)
        self.node.reactor.advance(self.node.config.log_interval + 1)
        self.proto.datagramReceived(b"\x00", PEER)
        self.assertEqual(len(self.lines), 2)

    def test_other_sources_still_logged_and_served(self):
        self.proto.datagramReceived(b"\x00", PEER)
        self.proto.datagramReceived(b"\x00", ("10.9.9.9", 1))
        self.assertEqual(len(self.lines), 2)
        self.proto.datagramReceived(
            client_datagram(request_plaintext(27, 1), 2, "10.9.9.9"), ("10.9.9.9", 1))
        self.assertEqual(len(self.proto.transport.take()), 1)

    def test_truncated_and_corrupt_payloads(self):
        good = client_datagram(request_plaintext(27, 1), 2, PEER[0])
        for n in range(3, len(good)):
            self.proto.datagramReceived(good[:n], PEER)
        # Every truncation of a kind-2 datagram fails the CRC -> NACKs only
        # (the client would resend), never a reply or an exception.
        for data, _ in self.proto.transport.take():
            self.assertIsInstance(wire_udp.parse_datagram(data), wire_udp.NackDatagram)
        self.assertEqual(self.proto.stats["errors"], 0)

    def test_valid_crc_but_bad_commands(self):
        for plain in (b"\x05", b"\x01\x02\x03", b"\x04\xda\x01\x00\x01\x99"):
            self.proto.datagramReceived(client_datagram(plain, 3, PEER[0]), PEER)
        self.assertEqual(self.proto.transport.take(), [])
        self.assertEqual(self.proto.stats["errors"], 0)

    def test_handler_exception_contained(self):
        handlers = self.node.handler_sets.for_version(self.node.handler_sets.provisional())

        def boom(request):
            raise RuntimeError("bug")
        handlers.udp_probe = boom
        self.addCleanup(delattr, handlers, "udp_probe")
        self.proto.datagramReceived(client_datagram(request_plaintext(27, 1), 2, PEER[0]), PEER)
        self.assertEqual(self.proto.transport.take(), [])
        self.assertEqual(self.proto.stats["errors"], 1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        # The next datagram is served normally.
        self.proto.datagramReceived(client_datagram(request_plaintext(35, 3), 4, PEER[0]), PEER)
        self.assertEqual(len(self.proto.transport.take()), 1)

    def test_rate_limit_per_source(self):
        node = make_node(udp_rate=2, udp_burst=3)
        proto = udp_protocol(node)
        for i in range(10):
            proto.datagramReceived(client_datagram(request_plaintext(27, i), 100 + i, PEER[0]),
                                   PEER)
        self.assertEqual(len(proto.transport.take()), 3)
        other = ("10.7.7.7", 5)
        proto.datagramReceived(client_datagram(request_plaintext(27, 1), 1, other[0]), other)
        self.assertEqual(len(proto.transport.take()), 1)
        node.reactor.advance(1.0)
        for i in range(10):
            proto.datagramReceived(client_datagram(request_plaintext(27, i), 200 + i, PEER[0]),
                                   PEER)
        self.assertEqual(len(proto.transport.take()), 2)


class _ListLog(object):
    def __init__(self, lines):
        self.lines = lines

    def warn(self, format, **kw):
        self.lines.append(format)

    def failure(self, format, failure=None, **kw):
        from twisted.python.failure import Failure
        self.lines.append(format)
        if failure is None:
            failure = Failure()
        from twisted.logger import Logger
        Logger().failure(format, failure)


class LoopbackTests(unittest.TestCase):
    """A real UDP socket on 127.0.0.1: probe keyed with 0.0.0.0 -> NACK ->
    resend -> cmd 28, then a correctly keyed address query -> cmd 36."""

    def setUp(self):
        self.node = make_node(reactor=reactor, udp_port=0, tcp_port=0)
        self.server = SupernodeDatagramProtocol_(self.node)
        self.port = reactor.listenUDP(0, self.server, interface="127.0.0.1")
        self.client = UDPClient()
        self.cport = reactor.listenUDP(0, self.client, interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.addCleanup(self.cport.stopListening)

    @defer.inlineCallbacks
    def test_probe_nack_resend(self):
        server = ("127.0.0.1", self.port.getHost().port)
        self.assertEqual(self.node.config.udp_port, server[1])
        plain = request_plaintext(27, 0x0E18)
        self.cport.write(wire_udp.encrypt_payload("0.0.0.0", "127.0.0.1", 0x0E19, 77, plain),
                         server)
        data = yield self.client.next(reactor)
        nack = wire_udp.parse_datagram(data)
        self.assertIsInstance(nack, wire_udp.NackDatagram)
        self.assertEqual(nack.your_ip, "127.0.0.1")
        self.cport.write(wire_udp.encrypt_resend(0x0E19, nack.nseed, "127.0.0.1", plain), server)
        data = yield self.client.next(reactor)
        replies = open_reply(data, nack.your_ip)
        self.assertEqual([(r.cmd, r.request_id) for r in replies], [(28, 0x0E18)])
        # Now keyed with the learned address: answered directly.
        self.cport.write(client_datagram(request_plaintext(35, 0x0E1A), 0x0E1B), server)
        data = yield self.client.next(reactor)
        reply, = open_reply(data)
        self.assertEqual(reply.cmd, 36)
        addr = reply.objects().value(0x11)
        self.assertEqual((addr.ip, addr.port), ("127.0.0.1", self.cport.getHost().port))


def SupernodeDatagramProtocol_(node):
    from blissnode.supernode.udp import SupernodeDatagramProtocol
    return SupernodeDatagramProtocol(node)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


class FuzzTests(unittest.TestCase):
    """Random and mutated datagrams: dropped or answered, never a crash."""

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(
        st.binary(max_size=200),
        st.tuples(st.sampled_from([27, 35, 6, 14, 18, 44, 53, 12, 999]),
                  st.binary(max_size=60), st.integers(0, 0xFFFF)).map(
            lambda t: client_datagram(request_plaintext(t[0], 1, b"\x42" + t[1]), t[2], PEER[0])),
        st.tuples(st.binary(min_size=1, max_size=80), st.integers(0, 0xFFFF)).map(
            lambda t: client_datagram(t[0], t[1], PEER[0]))))
    def test_never_crashes(self, data):
        node = make_node()
        proto = udp_protocol(node)
        proto.datagramReceived(data, PEER)
        self.assertEqual(proto.stats["errors"], 0)
        for out, addr in proto.transport.take():
            self.assertEqual(addr, PEER)
            wire_udp.parse_datagram(out)


class RealProbeBodyTests(unittest.TestCase):
    """ERRATA (682 real probes, 2015 and 2022): 7.x clients send cmd 27 with
    ``{BLOB 0 = 1..14 bytes, INT 0xB = 52}`` (0x41 or 0x42), not the empty
    ``42 15`` of udp.md 8; every one must get the 18-byte cmd 28 answer."""

    def setUp(self):
        self.node = make_node()
        self.proto = udp_protocol(self.node)

    def test_probes_with_a_blob_and_a_stack_version(self):
        from blissnode.wire.objects import Blob, Int, encode_objects

        rid = 0x2000
        for size in (1, 2, 7, 14):
            for compressed in (False, True):
                rid += 1
                body = encode_objects([Blob(0, bytes(range(size))), Int(0x0B, 52)],
                                      compressed=compressed)
                datagram = client_datagram(request_plaintext(27, rid, body), rid + 1, PEER[0])
                self.proto.datagramReceived(datagram, PEER)
                (data, addr), = self.proto.transport.take()
                replies = open_reply(data, PEER[0])
                self.assertEqual([(r.cmd, r.kind, r.request_id, r.body) for r in replies],
                                 [(28, KIND_REPLY, rid, b"\x42\x15")], (size, compressed))
