"""
SupernodeHandlers, command by command, through the real protocols on fake
transports: slots, node list, searches, publish, push forwarding, firewall
test, channel fetch, and the GUESS hooks a version module overrides.
"""

import time

from twisted.internet.task import Clock
from twisted.trial import unittest
from zope.interface.verify import verifyClass, verifyObject

from blissnode.store.directory import OnlineEntry
from blissnode.supernode.handlers import SLOT_COUNT, SupernodeHandlers
from blissnode.supernode.interfaces import TCP_COMMANDS, UDP_COMMANDS, ISupernodeHandlers
from blissnode.supernode.request import UDP, Request, notification
from blissnode.supernode.request import request as make_request
from blissnode.wire import udp as wire_udp
from blissnode.wire.node_record import NodeRecord
from blissnode.wire.objects import (
    Addr,
    Blob,
    Int,
    Int64,
    IntArray,
    NestedList,
    NetAddr,
    ObjectList,
    String,
    encode_objects,
)
from blissnode.wire.tcp_commands import KIND_REPLY, KIND_REQUEST, Command
from tests.supernode_helpers import (
    ClassicTCPClient,
    client_datagram,
    drain,
    make_node,
    objects_of,
    open_reply,
    request_plaintext,
    tcp_session,
    udp_protocol,
)

PEER = ("10.1.2.3", 40000)
NODE_ID = 0x11B44ED518ACB339


def udp_ask(proto, cmd, objects, rid=0x100, pid=0x101, peer=PEER):
    body = encode_objects(objects, compressed=True)
    proto.datagramReceived(client_datagram(request_plaintext(cmd, rid, body), pid, peer[0]), peer)
    sent = proto.transport.take()
    return [c for data, _ in sent for c in open_reply(data, peer[0])]


def accepted_session(node, peer=("192.0.2.9", 2000), node_id=NODE_ID, listen_port=37058):
    proto, transport = tcp_session(node, peer)
    client = ClassicTCPClient()
    proto.dataReceived(client.opening())
    client.receive(drain(transport))
    proto.dataReceived(client.packet(1, [make_request(
        30, 2, [Int(1, 2), Int64(0x0D, node_id), Int(0x10, listen_port)])]))
    client.receive(drain(transport))
    client.records.clear()
    return proto, transport, client


class ContractTests(unittest.TestCase):

    def test_provides_interface(self):
        verifyClass(ISupernodeHandlers, SupernodeHandlers)
        verifyObject(ISupernodeHandlers, SupernodeHandlers())
        self.assertIs(SupernodeHandlers.udp_commands, UDP_COMMANDS)
        self.assertIs(SupernodeHandlers.tcp_commands, TCP_COMMANDS)
        for name in list(UDP_COMMANDS.values()) + list(TCP_COMMANDS.values()):
            self.assertTrue(callable(getattr(SupernodeHandlers, name)), name)

    def test_guess_constants_overridable(self):
        class Mine(SupernodeHandlers):
            STACK_VERSION = 52
            SUPERNODE_MARKS = (7, 1)

            def channel_list(self, request):
                return [NestedList(1, [Int(0, 2), Int(1, 9)])]

        node = make_node()
        handlers = Mine()
        proto, transport = tcp_session(node)
        proto.handlers = handlers
        client = ClassicTCPClient()
        proto.dataReceived(client.opening())
        client.receive(drain(transport))
        proto.dataReceived(client.packet(1, [make_request(30, 2, [Int64(0x0D, 1)])]))
        client.receive(drain(transport))
        reply, stats, channels = client.commands()
        self.assertEqual(objects_of(reply).value(0x0B), 52)
        self.assertEqual(objects_of(reply).value(0x21), (7, 1))
        self.assertEqual(len(objects_of(channels).get_all(1)), 1)


class UDPHandlerTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node(public_ip="198.51.100.5", udp_port=33033)
        self.proto = udp_protocol(self.node)

    def opened(self, cmd, objects, **kw):
        replies = []
        body = encode_objects(objects, compressed=True)
        pid = kw.get("pid", 0x101)
        self.proto.datagramReceived(
            client_datagram(request_plaintext(cmd, 0x100, body), pid, PEER[0], "198.51.100.5"),
            PEER)
        for data, _ in self.proto.transport.take():
            opened = wire_udp.decrypt_datagram(data, "198.51.100.5", PEER[0])
            self.assertTrue(opened.crc_ok)
            from blissnode.wire.udp_commands import parse_payload
            replies.extend(parse_payload(opened.plaintext))
        return replies

    def test_slot_query(self):
        reply, = self.opened(6, [Int(0, 1481), Int(5, 5)])
        self.assertEqual((reply.cmd, reply.kind, reply.request_id), (8, KIND_REPLY, 0x100))
        lst, = reply.objects().get_all(6, NestedList)
        self.assertEqual(lst.value.value(0), 1481)
        self.assertEqual(lst.value.value(3), NetAddr("198.51.100.5", 33033))
        self.assertEqual(lst.value.value(7), 1)

    def test_refill(self):
        reply, = self.opened(6, [Int(4, 16), Int(5, 6)])
        lists = reply.objects().get_all(6, NestedList)
        self.assertEqual(len(lists), 16)
        slots = [l.value.value(0) for l in lists]
        self.assertEqual(len(set(slots)), 16)
        self.assertTrue(all(0 <= s < SLOT_COUNT for s in slots))

    def test_refill_capped(self):
        reply, = self.opened(6, [Int(4, 100000), Int(5, 6)])
        self.assertEqual(len(reply.objects().get_all(6, NestedList)),
                         SupernodeHandlers.MAX_REFILL_SLOTS)

    def test_node_list(self):
        reply, = self.opened(44, [Int(0x12, 10), Int(0x13, 7), Int(0x14, 1)])
        self.assertEqual(reply.cmd, 45)
        objs = reply.objects()
        self.assertEqual(objs.value(0x11), NetAddr("198.51.100.5", 33033))
        self.assertEqual(len(objs.get_all(0x1A, NestedList)), 1)
        # We are the relay candidate (supernode.relay): the 6.x attribute shape.
        attrs = objs.value(0x1A)
        self.assertEqual([(it.type, it.id) for it in attrs],
                         [(0, 0), (0, 2), (0, 3), (0, 4), (0, 0xA), (3, 0x10), (0, 0x12),
                          (0, 0x21)])
        self.assertEqual(attrs.value(0x10), b"ZZ")

    def test_node_list_without_relay(self):
        self.node.config.relay.total = 0
        reply, = self.opened(44, [Int(0x12, 10), Int(0x13, 7), Int(0x14, 1)])
        self.assertEqual([it.id for it in reply.objects().value(0x1A)], [0])

    def test_search_not_found(self):
        query = [NestedList(0, [String(0, b"nobody"), Int(1, 0), Int(2, 16)]),
                 IntArray(1, [16, 11])]
        reply, = self.opened(14, query)
        self.assertEqual(reply.cmd, 15)
        self.assertEqual(list(reply.objects()), [Int(1, 1)])

    def test_search_found_exact_and_prefix(self):
        d = self.node.directory
        d.register(OnlineEntry("a", user_name="echo123", user_record=b"A" * 10))
        d.register(OnlineEntry("b", user_name="echo1234", user_record=b"B" * 10))
        d.register(OnlineEntry("c", user_name="echo999"))  # no record: not returned
        query = [NestedList(0, [String(0, b"echo123"), Int(1, 0), Int(2, 16)])]
        reply, = self.opened(14, query)
        hits = reply.objects().get_all(0, NestedList)
        self.assertEqual([(h.value.value(0x0B), h.value.value(0x10)) for h in hits],
                         [(b"A" * 10, b"echo123")])
        self.assertEqual(reply.objects().value(1), 1)
        query = [NestedList(0, [String(0, b"ECHO"), Int(1, 5), Int(2, 16)])]
        reply, = self.opened(14, query, pid=0x102)
        names = [h.value.value(0x10) for h in reply.objects().get_all(0, NestedList)]
        self.assertEqual(names, [b"echo123", b"echo1234"])

    def test_extended_search(self):
        replies = []
        body14 = encode_objects([NestedList(0, [String(0, b"x"), Int(1, 0), Int(2, 16)])])
        body18 = encode_objects([NestedList(0, [String(0, b"x")]), IntArray(1, [16])])
        plain = request_plaintext(18, 1, body18) + request_plaintext(14, 2, body14)
        self.proto.datagramReceived(client_datagram(plain, 3, PEER[0], "198.51.100.5"), PEER)
        (data, _), = self.proto.transport.take()
        opened = wire_udp.decrypt_datagram(data, "198.51.100.5", PEER[0])
        from blissnode.wire.udp_commands import parse_payload
        replies = parse_payload(opened.plaintext)
        self.assertEqual([(r.cmd, r.request_id) for r in replies], [(19, 1), (15, 2)])
        self.assertEqual(list(replies[0].objects()), [Int(1, 1)])

    def test_publish_request_form(self):
        replies = self.opened(12, [Int(0x1F, 1), Blob(0x0B, b"rec")])
        self.assertEqual([(r.cmd, r.kind) for r in replies], [(12, KIND_REPLY)])

    def test_push_target_offline(self):
        record = NodeRecord(b"\x01" * 8, 1, NetAddr("192.168.0.2", 1), last_addr=NetAddr(
            "192.0.2.1", 2)).encode()
        reply, = self.opened(53, [Int(0, 2), Blob(1, record), Int(2, 67),
                                  NestedList(3, [String(0, b"nobody")]), Int(4, 28)])
        self.assertEqual(reply.cmd, 54)
        self.assertEqual(list(reply.objects()), [Int(6, 3)])

    def test_push_malformed(self):
        reply, = self.opened(53, [Int(0, 2)])
        self.assertEqual(reply.cmd, 54)


class PushForwardingTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node()
        self.udp = udp_protocol(self.node)
        self.target, self.target_t, self.target_c = accepted_session(self.node)

    def push(self, node_id=NODE_ID, name=b"callee", inner_cmd=67, rid=0x4444, pid=0x4445):
        record = NodeRecord(node_id.to_bytes(8, "big"), 1, NetAddr("192.168.0.2", 65072),
                            last_addr=NetAddr("200.105.211.150", 65072)).encode()
        inner = [String(0, name), Int(3, 77)]
        body = encode_objects([Int(0, 2), Blob(1, record), Int(2, inner_cmd),
                               NestedList(3, inner), Int(4, 28)], compressed=True)
        self.udp.datagramReceived(
            client_datagram(request_plaintext(53, rid, body), pid, PEER[0]), PEER)

    def test_only_forwarded_queries_are_pushed(self):
        # Issue 17.7: a forged presence command (our cmd 100) is refused.
        self.push(inner_cmd=SupernodeHandlers.PRESENCE_PUSH_CMD)
        (data, _addr), = self.udp.transport.take()
        reply, = open_reply(data, PEER[0])
        self.assertEqual(reply.cmd, 54)
        self.target_c.receive(drain(self.target_t))
        self.assertEqual(self.target_c.commands(), [])

    def test_pushes_per_address_limited(self):
        burst = self.node.config.push_burst
        for i in range(burst + 10):
            self.push(rid=0x1000 + i, pid=0x2000 + i)
        self.target_c.receive(drain(self.target_t))
        self.assertEqual(len(self.target_c.commands()), burst)

    def test_forward_and_pass_reply_back(self):
        self.push()
        # No immediate UDP answer: the answer is the target's.
        self.assertEqual(self.udp.transport.take(), [])
        self.target_c.receive(drain(self.target_t))
        forwarded, = self.target_c.commands()
        self.assertEqual((forwarded.cmd, forwarded.kind), (67, KIND_REQUEST))
        self.assertEqual(objects_of(forwarded).value(0), b"callee")
        # The target answers cmd 70 (session accept) on its TCP session.
        self.target.dataReceived(self.target_c.packet(9, [Command(
            70, KIND_REPLY, forwarded.request_id, b"\x41\x00")]))
        (data, addr), = self.udp.transport.take()
        self.assertEqual(addr, PEER)
        reply, = open_reply(data, PEER[0])
        self.assertEqual((reply.cmd, reply.kind, reply.request_id), (70, KIND_REPLY, 0x4444))
        self.assertEqual(reply.body, b"\x41\x00")
        # The reply packet from the target got an ack (no request in it).
        self.target_c.records.clear()
        self.target_c.receive(drain(self.target_t))
        self.assertEqual(type(self.target_c.records[0]).__name__, "AckRecord")

    def test_forward_by_name_when_node_id_unknown(self):
        self.node.directory.update(self.target.session_id, user_name="callee")
        self.push(node_id=0x99)
        self.target_c.receive(drain(self.target_t))
        self.assertEqual([c.cmd for c in self.target_c.commands()], [67])

    def test_duplicate_push_forwarded_once(self):
        self.push()
        self.push()
        self.target_c.receive(drain(self.target_t))
        self.assertEqual(len(self.target_c.commands()), 1)

    def test_late_or_unknown_reply_ignored(self):
        self.push()
        self.target_c.receive(drain(self.target_t))
        forwarded, = self.target_c.commands()
        self.node.reactor.advance(self.node.config.push_ttl + 1)
        self.target.dataReceived(self.target_c.packet(9, [Command(
            70, KIND_REPLY, forwarded.request_id, b"\x41\x00")]))
        self.assertEqual(self.udp.transport.take(), [])

    def test_target_gone(self):
        self.target.connectionLost(None)
        self.push()
        (data, _), = self.udp.transport.take()
        self.assertEqual(open_reply(data, PEER[0])[0].cmd, 54)


class TCPHandlerTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node()
        self.udp = udp_protocol(self.node)
        self.proto, self.transport, self.client = accepted_session(self.node)

    def ask(self, commands, pid=0x50):
        self.client.records.clear()
        self.proto.dataReceived(self.client.packet(pid, commands))
        self.client.receive(drain(self.transport))
        return self.client.records

    def test_channel_fetch_empty(self):
        packet, = self.ask([make_request(48, 7, [Int(0, 256)])])
        reply, = packet.commands
        self.assertEqual((reply.cmd, reply.request_id), (48, 7))
        self.assertEqual(len(objects_of(reply)), 0)

    def test_slot_queries(self):
        packet, = self.ask([make_request(6, 8, [Int(4, 16), Int(5, 6)]),
                            make_request(6, 9, [Int(0, 45), Int(5, 5)])])
        self.assertEqual([(c.cmd, c.request_id) for c in packet.commands], [(8, 8), (8, 9)])

    def test_firewall_test(self):
        packet, = self.ask([make_request(40, 10, []), notification(37, []),
                            notification(38, [])])
        reply, = packet.commands
        self.assertEqual(reply.cmd, 42)
        objs = objects_of(reply)
        token = objs.value(0x19)
        self.assertTrue(1 <= token < 0x10000)
        self.assertEqual(objs.value(0x11), self.node.public_address())
        self.node.reactor.advance(1)
        # cmd 43 over UDP to the client's listening port ...
        (data, addr), = self.udp.transport.take()
        self.assertEqual(addr, ("192.0.2.9", 37058))
        cmd43, = open_reply(data, "192.0.2.9")
        self.assertEqual((cmd43.cmd, cmd43.objects().value(0x19)), (43, token))
        # ... and a TCP connection to the same port.
        host, port, factory, timeout, bind = self.node.reactor.tcpClients[-1]
        self.assertEqual((host, port), ("192.0.2.9", 37058))

    def test_firewall_tests_limited_per_session(self):
        # Issue 17.8: each cmd 40 used to open a connection; now at most
        # firewall_tests_per_session per session (cmd 42 is still answered).
        limit = self.node.config.firewall_tests_per_session
        for i in range(limit + 6):
            self.node.reactor.advance(0)  # a new reactor turn: a fresh work budget
            packet, = self.ask([make_request(40, 10 + i, [])], pid=0x50 + i)
            self.assertEqual(packet.commands[0].cmd, 42)
        self.node.reactor.advance(1)
        self.assertEqual(len(self.node.reactor.tcpClients), limit)

    def test_publish_on_tcp(self):
        records = self.ask([notification(60, [Blob(0x0B, b"record")])])
        self.assertEqual(type(records[0]).__name__, "AckRecord")
        entry = self.successResultOf(self.node.directory.get(self.proto.session_id))
        self.assertEqual(entry.user_record, b"record")

    def test_udp_datagrams_use_session_handlers(self):
        self.assertIs(self.node.handler_sets.for_udp_peer(self.node.tcp_sessions.for_udp_peer(("192.0.2.9", 37058))),
                      self.proto.handlers)
        self.assertIsNot(self.node.tcp_sessions.for_udp_peer(("192.0.2.9", 1)), None)
        self.assertIs(self.node.tcp_sessions.for_udp_peer(("192.0.2.10", 1)), None)

    def test_user_search_tcp(self):
        self.node.directory.register(OnlineEntry("x", user_name="bigbones", user_record=b"R"))
        packet, = self.ask([make_request(14, 11, [
            NestedList(0, [String(0, b"bigbones"), Int(1, 0), Int(2, 16)])])])
        reply, = packet.commands
        self.assertEqual(len(objects_of(reply).get_all(0, NestedList)), 1)

    def test_unknown_command_acked(self):
        records = self.ask([make_request(999, 12, [])])
        self.assertEqual(type(records[0]).__name__, "AckRecord")

    def test_users_online_counts(self):
        self.assertEqual(self.node.users_online(), 1)
        other, _, _ = accepted_session(self.node, ("192.0.2.50", 1), node_id=5)
        self.assertEqual(self.node.users_online(), 2)


class RequestLevelTests(unittest.TestCase):
    """Direct calls with a Request (what a version module's test does)."""

    def test_probe_body_exact(self):
        node = make_node()
        cmd = Command(27, KIND_REQUEST, 0x0E18, b"\x42\x15")
        req = Request(cmd, ObjectList(), PEER, node, UDP)
        reply, = SupernodeHandlers().udp_probe(req)
        self.assertEqual(reply.encode().hex(), "04e3010e184215")

    def test_address_query(self):
        node = make_node()
        cmd = Command(35, KIND_REQUEST, 5, b"\x42\x15")
        reply, = SupernodeHandlers().udp_address_query(Request(cmd, ObjectList(), PEER, node, UDP))
        self.assertEqual(objects_of(reply).value(0x11), NetAddr(*PEER))
        self.assertIsInstance(objects_of(reply)[0], Addr)


def _signed_records():
    """Our credential key, and signed records of two users (the reference
    client's presence_record: credential + user-signed block)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from blissnode.client.event import presence_record
    from blissnode.wire.credentials import build_credential, minutes_since_epoch
    from blissnode.wire.rsa_raw import RsaPrivate

    key = RsaPrivate.from_numbers(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers())
    expiry = minutes_since_epoch() + 30 * 1440
    records = {}
    for name in ("Alice.Test", "bob.test"):
        user = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        modulus = user.public_key().public_numbers().n.to_bytes(128, "big")
        cred = build_credential(name, modulus, expiry, {9: expiry}, key.raw)
        records[name] = presence_record(cred.raw, user, b"\x01" * 27)
    return key, records


_pids = iter(range(0x200, 0x10000))


def _udp_publish(proto, record, peer):
    body = encode_objects([Blob(0x0B, record)], compressed=True)
    proto.datagramReceived(client_datagram(request_plaintext(12, None, body, kind=1),
                                           next(_pids), peer[0]), peer)
    proto.transport.take()


class RecordNameTests(unittest.TestCase):
    """A published record whose credential opens with our credential key
    and whose user-signed block checks names its user; the user can then be
    found by name.  Forged and foreign records are dropped (issue 17.7)."""

    def setUp(self):
        self.key, self.records = _signed_records()
        self.node = make_node(reactor=Clock())
        self.node.reactor.advance(time.time())
        self.node.credential_key = self.key.public

    def test_name_from_record(self):
        node, record = self.node, self.records["Alice.Test"]
        self.assertEqual(node.publications.user_name_of(record), "Alice.Test")
        self.assertIsNone(node.publications.user_name_of(record[:100]))
        self.assertIsNone(node.publications.user_name_of(b"\x00" * 400))
        proto, transport, client = accepted_session(node)
        proto.dataReceived(client.packet(5, [notification(60, [Blob(0x0B, record)])]))
        entry, = self.successResultOf(node.directory.lookup_name("alice.test"))
        self.assertEqual(entry.session_id, proto.session_id)
        self.assertEqual(proto.user_name, "Alice.Test")
        udp = udp_protocol(node)
        replies = udp_ask(udp, 14, [NestedList(0, [String(0, b"alice.test"), Int(1, 0),
                                                   Int(2, 16)])])
        hit, = replies[0].objects().get_all(0, NestedList)
        self.assertEqual(hit.value.value(0x0B), record)
        self.assertEqual(hit.value.value(0x10), b"Alice.Test")

    def test_tampered_block_refused(self):
        node, record = self.node, bytearray(self.records["Alice.Test"])
        record[-5] ^= 1  # inside the user-signed block
        proto, transport, client = accepted_session(node)
        proto.dataReceived(client.packet(5, [notification(60, [Blob(0x0B, bytes(record))])]))
        self.assertEqual(self.successResultOf(node.directory.lookup_name("alice.test")), [])
        self.assertIsNone(proto.user_name)
        # a block cut from bob's record after alice's credential
        alice, bob = self.records["Alice.Test"], self.records["bob.test"]
        spliced = alice[:4 + 260] + bob[4 + 260:]
        proto.dataReceived(client.packet(6, [notification(60, [Blob(0x0B, spliced)])]))
        self.assertEqual(self.successResultOf(node.directory.lookup_name("alice.test")), [])

    def test_session_publishes_for_its_own_user_only(self):
        node = self.node
        proto, transport, client = accepted_session(node)
        proto.dataReceived(client.packet(5, [notification(60, [Blob(
            0x0B, self.records["Alice.Test"])])]))
        proto.dataReceived(client.packet(6, [notification(60, [Blob(
            0x0B, self.records["bob.test"])])]))
        self.assertEqual(self.successResultOf(node.directory.lookup_name("bob.test")), [])
        self.assertEqual(proto.user_name, "Alice.Test")

    def test_udp_republish_of_a_search_hit_refused(self):
        # bob's genuine record, sent over UDP by someone bob is not
        node = self.node
        udp = udp_protocol(node)
        _udp_publish(udp, self.records["bob.test"], ("203.0.113.66", 4000))
        self.assertEqual(self.successResultOf(node.directory.lookup_name("bob.test")), [])
        # bob, signed in to the event server from that IP, may publish over UDP
        class EventConnection(object):
            session_id, role, peer = "e1", "event", "203.0.113.66"
        node.core.sessions.add_user(EventConnection(), "Bob.Test")
        _udp_publish(udp, self.records["bob.test"], ("203.0.113.66", 4000))
        entry, = self.successResultOf(node.directory.lookup_name("bob.test"))
        self.assertEqual(entry.session_id, "udp:203.0.113.66:4000")
        # over TCP from the same NAT address the session's rule applies
        proto, transport, client = accepted_session(node, peer=("198.51.100.5", 2000))
        proto.dataReceived(client.packet(5, [notification(60, [Blob(
            0x0B, self.records["bob.test"])])]))
        _udp_publish(udp, self.records["Alice.Test"], ("198.51.100.5", 4001))
        self.assertEqual(self.successResultOf(node.directory.lookup_name("alice.test")), [])


    def test_udp_publish_for_a_user_held_by_another_process(self):
        # Workers: bob's sessions are on another worker (only the shared
        # directory knows them); his UDP datagrams reach this one.
        node = self.node
        self.successResultOf(node.directory.register(OnlineEntry(
            "w2-0badc0de.s7", user_name="bob.test", public_addr=("203.0.113.77", 5000))))
        udp = udp_protocol(node)
        _udp_publish(udp, self.records["bob.test"], ("203.0.113.78", 4000))  # not his IP
        self.assertEqual(
            [e.session_id for e in self.successResultOf(node.directory.lookup_name("bob.test"))],
            ["w2-0badc0de.s7"])
        _udp_publish(udp, self.records["bob.test"], ("203.0.113.77", 4000))
        self.assertEqual(
            sorted(e.session_id for e in self.successResultOf(
                node.directory.lookup_name("bob.test"))),
            ["udp:203.0.113.77:4000", "w2-0badc0de.s7"])


class NodeScheduleTests(unittest.TestCase):
    def test_stop_cancels_scheduled_work(self):
        from twisted.internet.task import Clock

        from tests.supernode_helpers import make_node

        clock = Clock()
        node = make_node(reactor=clock)
        ran = []
        node.schedule(0.5, ran.append, "late")
        node.schedule(0.1, ran.append, "early")
        clock.advance(0.2)
        self.assertEqual(ran, ["early"])
        node.stop()
        clock.advance(1)
        self.assertEqual(ran, ["early"])
        self.assertEqual(clock.getDelayedCalls(), [])
