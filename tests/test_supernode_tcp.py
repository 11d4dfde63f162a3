"""
The supernode's TCP sessions: prelude classification, classic and DH-384
handshakes, client accept (cmd 30 -> 31, then 11 + 47), acks, version
switching, timeouts, limits and bad input -- on StringTransport and over
real loopback sockets.  The client side is built from blissnode.wire only.
"""

from twisted.internet import defer, reactor
from twisted.logger import LogLevel, globalLogPublisher
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.trial import unittest

from blissnode.supernode.request import notification, request as make_request
from blissnode.supernode.tcp import SupernodeTCPFactory
from blissnode.versions.registry import VersionRegistry
from blissnode.wire import dh384, https_prelude
from blissnode.wire.objects import Int, Int64, String
from blissnode.wire.tcp_commands import KIND_NOTIFICATION, KIND_REPLY
from blissnode.wire.tcp_records import AckRecord, PacketRecord, PaddingRecord
from tests.supernode_helpers import (
    ClassicTCPClient,
    TCPClientProtocol,
    drain,
    make_node,
    objects_of,
    tcp_session,
    two_version_registry,
)
from tests.vectors import cases

NODE_ID = 0xCB979E2BCFB3746B
ACCEPT_BODY = [Int(1, 2), Int64(0x0D, NODE_ID), Int(0x10, 37058)]


def accept_packet(client, pid=0x6D30, rid=0x6D2F):
    return client.packet(pid, [make_request(30, rid, ACCEPT_BODY)])


def handshake(proto, transport, client=None, padding=b""):
    client = client or ClassicTCPClient()
    proto.dataReceived(client.opening(padding))
    records = client.receive(drain(transport))
    return client, records


class HandshakeTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node()

    def test_classic_seed_exchange(self):
        proto, transport = tcp_session(self.node)
        client, records = handshake(proto, transport)
        self.assertEqual(client.server_greeting.final, 3)
        self.assertNotEqual(client.server_greeting.tag, 1)
        # The first record must be a padding record (EPYCS checks it).
        self.assertIsInstance(records[0], PaddingRecord)
        self.assertTrue(14 <= len(records[0].filler) <= 58)
        self.assertEqual(proto.state, "records")
        self.assertEqual(self.node.half_open.get("127.0.0.1"), 0)

    def test_opening_in_pieces_and_final_byte_01(self):
        proto, transport = tcp_session(self.node)
        client = ClassicTCPClient(greeting_final=1)
        data = client.opening()
        for i in range(len(data)):
            proto.dataReceived(data[i:i + 1])
        client.receive(drain(transport))
        self.assertEqual(proto.state, "records")

    def test_client_padding_and_pipelined_accept(self):
        proto, transport = tcp_session(self.node)
        client = ClassicTCPClient()
        opening = client.opening(PaddingRecord(b"x" * 35).encode())
        proto.dataReceived(opening + accept_packet(client))
        client.receive(drain(transport))
        self.assertEqual([c.cmd for c in client.commands()], [31, 11, 47])

    def test_ssl_prelude(self):
        for case in cases("udp_packets.json", "ssl_templates"):
            proto, transport = tcp_session(self.node)
            hello = bytes.fromhex(case["client_hello_template_hex"]) + b"c" * 16
            self.assertEqual(len(hello), int(case["client_hello_total_length"]), case)
            proto.dataReceived(hello[:10])
            self.assertEqual(transport.value(), b"")
            proto.dataReceived(hello[10:])
            server_hello = drain(transport)
            self.assertEqual(server_hello.hex(), case["server_hello_hex"], case)
            self.assertEqual(len(server_hello), int(case["server_hello_length"]), case)
            client, records = handshake(proto, transport)
            self.assertIsInstance(records[0], PaddingRecord, case)
            self.assertEqual(proto.prelude, "sslv2_hello")

    def test_http_gets_404_and_close(self):
        for request in (b"GET / HTTP/1.0\r\n\r\n", b"POST /x HTTP/1.1\r\n", b"HEAD / HTTP/1.0\r\n"):
            proto, transport = tcp_session(self.node)
            proto.dataReceived(request)
            self.assertEqual(transport.value(), b"HTTP/1.0 404 Not Found\r\n\r\n")
            self.assertTrue(transport.disconnecting)

    def test_tls_record_closed(self):
        proto, transport = tcp_session(self.node)
        proto.dataReceived(b"\x16\x03\x01\x00\x00" + b"\x00" * 20)
        self.assertEqual(transport.value(), b"")
        self.assertTrue(transport.disconnecting)

    def test_prelude_classify_vectors(self):
        # Every tcp_prelude_classify case through the protocol: the ones that
        # must close are closed; the SSL/seed ones are not.
        for case in cases("udp_packets.json", "tcp_prelude_classify"):
            proto, transport = tcp_session(self.node)
            data = bytes.fromhex(case["first_bytes_hex"])
            proto.dataReceived(data)
            closed = transport.disconnecting or proto.state == "closed"
            cls = case["cls"]
            if cls in ("http", "tls_record"):
                self.assertTrue(closed, case)
            elif cls in ("need_more", "sslv2_hello", "skype_seed", "skype_seed_or_dh384"):
                self.assertFalse(closed, case)
            proto.connectionLost(None)

    def test_dh384_handshake(self):
        proto, transport = tcp_session(self.node)
        self.assertTrue(transport.no_delay)
        dh = dh384.ClientHandshake(filler=b"f" * 43)
        proto.dataReceived(dh.start())
        self.assertEqual(proto.state, "dh")
        # Write 1: B + filler, without our hash (the relay order).
        [first] = transport.take_writes()
        out, done = dh.receive(first)
        self.assertFalse(done)
        proto.dataReceived(out)
        # Write 2: our hash ALONE -- SOS2 recv()s it by itself (ERRATA).
        [second] = transport.take_writes()
        self.assertEqual(second, dh384.server_hash(dh.K))
        out, done = dh.receive(second)
        self.assertTrue(done)
        self.assertEqual(dh.remainder, b"")
        # Write 3, a later reactor turn: our seed exchange + padding record.
        self.node.reactor.advance(0)
        [third] = transport.take_writes()
        client = ClassicTCPClient(K=dh.K)
        records = client.receive(third)
        self.assertIsInstance(records[0], PaddingRecord)
        proto.dataReceived(client.opening())
        proto.dataReceived(accept_packet(client))
        client.receive(drain(transport))
        self.assertEqual([c.cmd for c in client.commands()], [31, 11, 47])
        self.assertTrue(proto.dh)

    def test_dh384_client_seed_before_ours_is_answered_after_ours(self):
        # "Both sides send independently" (ERRATA): a client that sends its
        # seed exchange and cmd 30 before our seed exchange left still gets
        # our seed exchange first, then the replies.
        proto, transport = tcp_session(self.node)
        dh = dh384.ClientHandshake()
        proto.dataReceived(dh.start())
        out, _ = dh.receive(transport.take_writes()[0])
        client = ClassicTCPClient(K=dh.K)
        proto.dataReceived(out + client.opening() + accept_packet(client))
        writes = transport.take_writes()
        self.assertEqual(writes[0], dh384.server_hash(dh.K))
        records = client.receive(b"".join(writes[1:]))
        self.assertIsInstance(records[0], PaddingRecord)
        self.assertEqual([c.cmd for c in client.commands()], [31, 11, 47])
        self.node.reactor.advance(0)
        self.assertEqual(transport.take_writes(), [])

    def test_no_dh384_after_the_443_prelude(self):
        # ERRATA: 44 real 443 connections, none with DH-384.
        proto, transport = tcp_session(self.node)
        hello = https_prelude.build_client_hello(b"c" * 16)
        proto.dataReceived(hello + dh384.ClientHandshake().start())
        self.assertEqual(proto.state, "closed")

    def test_no_dh384_on_the_443_listener(self):
        proto, transport = tcp_session(self.node, allow_dh=False)
        proto.dataReceived(dh384.ClientHandshake().start())
        self.assertEqual(proto.state, "closed")

    def test_443_client_that_does_not_wait_for_the_server_hello(self):
        # ERRATA: real clients on 443 never wait for the ServerHello; the
        # prelude, the seed exchange and a packet come in one segment.
        proto, transport = tcp_session(self.node, allow_dh=False)
        client = ClassicTCPClient()
        hello = https_prelude.build_client_hello(b"c" * 16)
        proto.dataReceived(hello + client.opening() + accept_packet(client))
        data = drain(transport)
        self.assertEqual(data[:https_prelude.SERVER_HELLO_LENGTH],
                         https_prelude.SERVER_HELLO_TEMPLATE)
        client.receive(data[https_prelude.SERVER_HELLO_LENGTH:])
        self.assertEqual([c.cmd for c in client.commands()], [31, 11, 47])

    def test_dh384_wrong_client_hash_closes(self):
        proto, transport = tcp_session(self.node)
        dh = dh384.ClientHandshake()
        proto.dataReceived(dh.start())
        drain(transport)
        proto.dataReceived(b"\x00" * (dh384.MAX_FILLER + dh384.HASH_SIZE))
        self.assertTrue(transport.disconnecting or proto.state == "closed")

    def test_handshake_timeout(self):
        proto, transport = tcp_session(self.node)
        proto.dataReceived(b"\x01\x02\x03")
        self.node.reactor.advance(self.node.config.handshake_timeout + 1)
        self.assertEqual(proto.state, "closed")
        proto.connectionLost(None)
        self.assertEqual(self.node.half_open.get("127.0.0.1"), 0)
        self.assertEqual(self.node.tcp_sessions.all(), [])

    def test_48_bytes_without_greeting_is_dh_then_garbage_closes(self):
        proto, transport = tcp_session(self.node)
        proto.dataReceived(b"\x01" * 60)  # not a greeting: taken as a DH value
        self.assertEqual(proto.state, "dh")
        # The client hash never appears -> closed.
        proto.dataReceived(b"\x02" * 80)
        self.assertEqual(proto.state, "closed")


class AcceptTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node()
        self.proto, self.transport = tcp_session(self.node, ("192.0.2.7", 1184))
        self.client, _ = handshake(self.proto, self.transport)

    def send(self, pid, commands):
        self.proto.dataReceived(self.client.packet(pid, commands))
        return self.client.receive(drain(self.transport))

    def test_accept_sequence(self):
        records = self.send(0x6D30, [make_request(30, 0x6D2F, ACCEPT_BODY)])
        self.assertEqual(len(records), 2)
        first, second = records
        reply, = first.commands
        self.assertEqual((reply.cmd, reply.kind, reply.request_id), (31, KIND_REPLY, 0x6D2F))
        objs = objects_of(reply)
        self.assertEqual(objs.value(0x0B), 44)
        self.assertEqual(objs.value(0x0C), 802011429)
        self.assertEqual(objs.value(0x10), 33000)
        addr = objs.value(0x11)
        self.assertEqual((addr.ip, addr.port), ("192.0.2.7", 1184))
        self.assertEqual(objs.value(0x21), (0, 0))
        self.assertEqual([(c.cmd, c.kind) for c in second.commands],
                         [(11, KIND_NOTIFICATION), (47, KIND_NOTIFICATION)])
        self.assertEqual(objects_of(second.commands[0]).value(9), 1)
        self.assertEqual(len(objects_of(second.commands[1])), 0)
        self.assertEqual(second.packet_id, (first.packet_id + 1) & 0xFFFF)
        entry, = self.successResultOf(self.node.directory.lookup_node_id(NODE_ID))
        self.assertEqual(entry.public_addr, ("192.0.2.7", 1184))
        self.assertEqual(entry.listen_port, 37058)

    def test_notifications_acked_requests_answered(self):
        self.send(1, [make_request(30, 2, ACCEPT_BODY)])
        info = [Int(0, 28), String(0x0E, b"0/1.4.0.84"), String(0x5D, b"0/1.4.0.84")]
        records = self.send(0x6D33, [notification(37, info), notification(38, []),
                                     make_request(6, 0x6D34, [Int(0, 45), Int(5, 5)])])
        # A packet with a request gets the reply, no ack.
        self.assertEqual(len(records), 1)
        self.assertIsInstance(records[0], PacketRecord)
        self.assertEqual(records[0].commands[0].cmd, 8)
        records = self.send(0x166E, [notification(37, info)])
        self.assertEqual(records, [AckRecord(0x166E)])

    def test_cmd_37_switches_handlers(self):
        node = make_node(registry=two_version_registry())
        proto, transport = tcp_session(node)
        client, _ = handshake(proto, transport)
        self.assertEqual(proto.version.label, "1.4.0.84")
        info = [String(0x5D, b"0/5.5.0.124")]
        proto.dataReceived(client.packet(1, [notification(37, info)]))
        self.assertEqual(proto.version.label, "5.5.0.124")
        proto.dataReceived(client.packet(2, [make_request(30, 3, ACCEPT_BODY)]))
        client.receive(drain(transport))
        reply = [c for c in client.commands() if c.cmd == 31][0]
        self.assertEqual(objects_of(reply).value(0x0B), 52)

    def test_unknown_version_nearest_older(self):
        node = make_node(registry=two_version_registry())
        proto, transport = tcp_session(node)
        client, _ = handshake(proto, transport)
        info = [String(0x5D, b"0/6.16.0.105//")]
        proto.dataReceived(client.packet(1, [notification(37, info)]))
        self.assertEqual(proto.version.label, "5.5.0.124")
        self.flushLoggedErrors()

    def test_version_lines_are_throttled_and_truncated(self):
        """A peer that switches its cmd 37 version string back and forth,
        each 20 KB long, gets one short log line, not one per packet."""
        from twisted.logger import formatEvent, globalLogPublisher
        lines = []

        def observer(event):
            text = formatEvent(event)
            if "served as" in text:
                lines.append(text)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        node = make_node(registry=two_version_registry())
        proto, transport = tcp_session(node)
        client, _ = handshake(proto, transport)
        for i in range(40):
            label = b"0/5.5.0.124/" if i % 2 else b"0/4.1.0.130/"
            info = [String(0x5D, label + b"x" * 20000)]
            proto.dataReceived(client.packet(1 + i, [notification(37, info)]))
        self.assertEqual(proto.version.label, "5.5.0.124")
        self.assertEqual(len(lines), 1)
        self.assertLess(len(lines[0]), 600)

    def test_unknown_version_rejected(self):
        node = make_node(registry=two_version_registry("reject"), unknown_versions="reject")
        proto, transport = tcp_session(node)
        client, _ = handshake(proto, transport)
        info = [String(0x5D, b"0/6.16.0.105//")]
        proto.dataReceived(client.packet(1, [notification(37, info)]))
        self.assertTrue(transport.disconnecting)

    def older_than_every_version(self, policy):
        """A session with the eight plugin versions whose cmd 37 says
        ``2/1.2.0.18/`` (the real client of the IRC06 capture); returns the
        session, its transport, its client and the warnings logged."""
        registry = VersionRegistry.from_plugins(policy)
        node = make_node(registry=registry, unknown_versions=policy)
        proto, transport = tcp_session(node)
        client, _ = handshake(proto, transport)
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        info = [String(0x0E, b"2/1.2.0.18/"), String(0x5D, b"2/1.2.0.18/")]
        proto.dataReceived(client.packet(1, [notification(37, info)]))
        warnings = [e for e in events if e.get("log_level") == LogLevel.warn]
        return node, proto, transport, client, warnings

    def test_older_than_every_version_served_as_oldest(self):
        node, proto, transport, client, warnings = self.older_than_every_version("nearest")
        oldest = node.registry.get("1.4.0.84")
        self.assertFalse(transport.disconnecting)
        self.assertNotEqual(proto.state, "closed")
        self.assertIs(proto.version, oldest)
        self.assertIs(proto.handlers, node.handler_sets.for_version(oldest))
        self.assertEqual(proto.version_string, "2/1.2.0.18/")
        self.assertEqual(len(warnings), 1, warnings)
        self.assertEqual((warnings[0]["requested"], warnings[0]["served"]),
                         ("2/1.2.0.18/", "1.4.0.84"))
        # The session goes on: cmd 30 is answered by the 1.4.0.84 handlers.
        proto.dataReceived(client.packet(2, [make_request(30, 3, ACCEPT_BODY)]))
        client.receive(drain(transport))
        self.assertEqual([c.cmd for c in client.commands()], [31, 11, 47])
        reply = client.commands()[0]
        self.assertEqual(objects_of(reply).value(0x0B), 44)
        self.assertFalse(transport.disconnecting)
        entry, = self.successResultOf(node.directory.lookup_node_id(NODE_ID))
        self.assertEqual(entry.client_version, "1.4.0.84")
        proto.connectionLost(None)

    def test_older_than_every_version_rejected(self):
        node, proto, transport, client, _ = self.older_than_every_version("reject")
        # The notification is acked, then the session is closed (as for any
        # version the reject policy refuses).
        self.assertEqual(client.receive(drain(transport)), [AckRecord(1)])
        self.assertTrue(transport.disconnecting)
        self.assertEqual(proto.state, "closed")

    def test_refused_when_full(self):
        node = make_node(max_clients=0)
        proto, transport = tcp_session(node)
        client, _ = handshake(proto, transport)
        proto.dataReceived(accept_packet(client))
        client.receive(drain(transport))
        self.assertEqual([c.cmd for c in client.commands()], [32])
        self.assertTrue(transport.disconnecting)

    def test_idle_timeout_and_directory_cleanup(self):
        self.send(1, [make_request(30, 2, ACCEPT_BODY)])
        self.node.reactor.advance(self.node.config.idle_timeout - 1)
        self.send(3, [notification(37, [])])
        self.node.reactor.advance(self.node.config.idle_timeout - 1)
        self.assertNotEqual(self.proto.state, "closed")
        self.node.reactor.advance(2)
        self.assertEqual(self.proto.state, "closed")
        self.proto.connectionLost(None)
        self.assertEqual(self.successResultOf(self.node.directory.count()), 0)
        self.assertEqual(self.node.users_online(), 0)

    def test_keepalive_probe(self):
        node = make_node(keepalive_interval=30)
        proto, transport = tcp_session(node)
        client, _ = handshake(proto, transport)
        node.reactor.advance(30)
        records = client.receive(drain(transport))
        self.assertEqual(records, [PaddingRecord(b"")])
        proto.connectionLost(None)

    def test_garbage_record_closes_only_this_session(self):
        other, other_t = tcp_session(self.node, ("192.0.2.8", 5))
        other_client, _ = handshake(other, other_t)
        self.proto.dataReceived(self.client.raw(b"\xff\xff\xff\xff\xff\xff"))
        self.assertEqual(self.proto.state, "closed")
        other.dataReceived(accept_packet(other_client))
        other_client.receive(drain(other_t))
        self.assertEqual([c.cmd for c in other_client.commands()], [31, 11, 47])

    def test_bad_command_body_closes(self):
        self.proto.dataReceived(self.client.raw(PacketRecord(1, []).encode()))
        self.assertEqual(self.proto.state, "closed")

    def test_handler_exception_closes_session(self):
        handlers = self.proto.handlers

        def boom(request):
            raise RuntimeError("bug")
        handlers.tcp_channel_fetch = boom
        self.addCleanup(delattr, handlers, "tcp_channel_fetch")
        self.send(1, [make_request(48, 2, [Int(0, 256)])])
        self.assertEqual(self.proto.state, "closed")
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_half_open_limit(self):
        node = make_node(max_half_open=2)
        sessions = [tcp_session(node, ("198.51.100.1", 1000 + i)) for i in range(3)]
        self.assertEqual([p.state for p, _ in sessions], ["prelude", "prelude", "closed"])
        self.assertTrue(sessions[2][1].disconnecting)
        other, _ = tcp_session(node, ("198.51.100.2", 1))
        self.assertEqual(other.state, "prelude")
        # Completing a handshake frees a slot.
        handshake(*sessions[0])
        again, _ = tcp_session(node, ("198.51.100.1", 2000))
        self.assertEqual(again.state, "prelude")

    def test_truncated_stream_then_close(self):
        data = self.client.packet(1, [make_request(30, 2, ACCEPT_BODY)])
        self.proto.dataReceived(data[:-3])
        self.assertEqual(drain(self.transport), b"")
        self.proto.connectionLost(None)
        self.assertEqual(self.node.tcp_sessions.all(), [])


class HostilePeerLimitsTests(unittest.TestCase):
    """The shared limits of issue 17 as the supernode uses them: sessions per
    address, packets run per reactor turn."""

    def test_sessions_per_address(self):
        node = make_node(max_sessions_per_address=3, connect_burst=100)
        same = [tcp_session(node, ("192.0.2.9", 2000 + i))[1] for i in range(6)]
        self.assertEqual([t.disconnecting for t in same], [False] * 3 + [True] * 3)
        _, other = tcp_session(node, ("192.0.2.10", 2000))
        self.assertFalse(other.disconnecting)

    def test_pipelined_packets_run_a_few_per_turn(self):
        node = make_node()
        proto, transport = tcp_session(node, ("192.0.2.7", 1184))
        client, _ = handshake(proto, transport)
        proto.dataReceived(client.packet(1, [make_request(30, 2, ACCEPT_BODY)]))
        client.receive(drain(transport))
        node.reactor.advance(0)  # a new reactor turn: a fresh budget
        packets = b"".join(client.packet(10 + i, [make_request(6, 100 + i, [Int(0, 45), Int(5, 5)])])
                           for i in range(40))
        proto.dataReceived(packets)
        # This turn runs the budget; the rest waits for later turns
        # (callLater(0): the reactor serves other connections in between).
        answered = [len(client.receive(drain(transport)))]
        self.assertEqual(answered[0], node.config.packets_per_turn, answered)
        self.assertTrue(node.reactor.getDelayedCalls())
        node.reactor.advance(0)
        answered.append(len(client.receive(drain(transport))))
        self.assertEqual(sum(answered), 40)


class LoopbackTests(unittest.TestCase):
    """Real sockets: classic handshake and accept; 443 prelude; DH-384."""

    def setUp(self):
        self.node = make_node(reactor=reactor, udp_port=0, tcp_port=0)
        self.port = reactor.listenTCP(0, SupernodeTCPFactory(self.node), interface="127.0.0.1")
        self.node.config.tcp_port = self.port.getHost().port
        self.addCleanup(self.port.stopListening)

    @defer.inlineCallbacks
    def connect(self, first):
        proto = TCPClientProtocol(None, first)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port.getHost().port)
        yield connectProtocol(endpoint, proto)
        self.addCleanup(proto.transport.loseConnection)
        return proto

    @defer.inlineCallbacks
    def test_classic_accept(self):
        client = ClassicTCPClient()
        proto = yield self.connect(client.opening())
        proto.client = client
        yield proto.wait_for(lambda p: len(p.data) >= 14 + 16, reactor)
        client.receive(bytes(proto.data))
        proto.data.clear()
        proto.transport.write(accept_packet(client))
        yield proto.wait_for(lambda p: len(client.receive(bytes(p.data)) if p.data else ())
                             or len(client.commands()) >= 3, reactor)
        self.assertEqual([c.cmd for c in client.commands()], [31, 11, 47])
        addr = objects_of(client.commands()[0]).value(0x11)
        self.assertEqual(addr.port, proto.transport.getHost().port)

    @defer.inlineCallbacks
    def test_https_prelude(self):
        proto = yield self.connect(https_prelude.build_client_hello(b"\x01" * 16))
        yield proto.wait_for(lambda p: len(p.data) >= 79, reactor)
        self.assertEqual(bytes(proto.data[:5]), b"\x16\x03\x01\x00\x4a")
        proto.data.clear()
        client = ClassicTCPClient()
        proto.transport.write(client.opening())
        yield proto.wait_for(lambda p: len(p.data) >= 30, reactor)
        records = client.receive(bytes(proto.data))
        self.assertIsInstance(records[0], PaddingRecord)

    @defer.inlineCallbacks
    def test_http_404(self):
        proto = yield self.connect(b"GET / HTTP/1.0\r\n\r\n")
        yield proto.lost_d
        self.assertEqual(bytes(proto.data), b"HTTP/1.0 404 Not Found\r\n\r\n")

    @defer.inlineCallbacks
    def test_dh384(self):
        dh = dh384.ClientHandshake()
        proto = yield self.connect(dh.start())
        yield proto.wait_for(lambda p: len(p.data) >= 48, reactor)
        out, done = dh.receive(bytes(proto.data))
        proto.data.clear()
        proto.transport.write(out)
        if not done:
            yield proto.wait_for(lambda p: len(p.data) >= 8, reactor)
            out, done = dh.receive(bytes(proto.data))
            proto.data.clear()
        self.assertTrue(done)
        client = ClassicTCPClient(K=dh.K)
        proto.transport.write(client.opening() + accept_packet(client))
        buffered = bytearray(dh.remainder)

        def complete(p):
            buffered.extend(p.data)
            p.data.clear()
            client.receive(bytes(buffered))
            buffered.clear()
            return len(client.commands()) >= 3
        yield proto.wait_for(complete, reactor)
        self.assertEqual([c.cmd for c in client.commands()], [31, 11, 47])


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


class FuzzTests(unittest.TestCase):
    """Random streams before and after the handshake: the session answers
    or closes, the handler never raises."""

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.binary(max_size=120), max_size=6))
    def test_random_opening(self, chunks):
        node = make_node()
        proto, transport = tcp_session(node)
        for chunk in chunks:
            proto.dataReceived(chunk)
        proto.connectionLost(None)
        self.assertEqual(self.flushLoggedErrors(), [])
        self.assertEqual(node.tcp_sessions.all(), [])
        self.assertEqual(node.half_open.get("127.0.0.1"), 0)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.binary(max_size=80), max_size=5), st.booleans())
    def test_random_records_after_handshake(self, chunks, as_packet):
        node = make_node()
        proto, transport = tcp_session(node)
        client, _ = handshake(proto, transport)
        for chunk in chunks:
            if as_packet:
                from blissnode.wire.tcp_records import encode_record_header
                body = b"\x00\x01" + chunk
                chunk = encode_record_header(len(body), 0) + body
            proto.dataReceived(client.raw(chunk))
        self.assertEqual(self.flushLoggedErrors(), [])
        proto.connectionLost(None)
