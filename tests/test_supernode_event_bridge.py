"""The event server reached through the supernode (cmd 7 and the type-4
switch), driven by the real bytes' layout.

ERRATA (nDPI 2015): a real 7.7 client, on a classic peer stream to a node,
sent cmd 7 ``{INT 0xB = 52, INT 0xC, ADDR 0x11 = 91.190.218.125:12350,
STRING 0x26 = "3/7.7.0.335", BLOB 0x2A = its node record}`` (0x42 body); the
node answered cmd 1 (same request id, body ``42 15``); both sides sent
``05 04 00``; then the client's ``16 03 01 00 e7 ...`` key exchange came in
clear, without a hello.  The supernode must do the node's part and carry
the connection to its event server in process.
"""

from twisted.internet import defer, reactor
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.trial.unittest import TestCase

from blissnode.client.vianode import EventViaNodeCore, connect_event_via_node
from blissnode.supernode.node import SupernodeConfig, SupernodeNode
from blissnode.supernode.tcp import SupernodeTCPFactory
from blissnode.wire import objects
from blissnode.wire.objects import NetAddr
from blissnode.wire.server_transport import CLIENT_HELLO
from blissnode.wire.tcp_commands import KIND_REPLY, KIND_REQUEST, Command
from blissnode.wire.tcp_records import ClearStreamRecord, PacketRecord
from tests.event_helpers import LOOPBACK, EventServerMixin, wait
from tests.supernode_helpers import ClassicTCPClient, tcp_session, make_node

#: The event server address of the real cmd 7.
REAL_EVENT_SERVER = ("91.190.218.125", 12350)


def real_cmd7(request_id, address=REAL_EVENT_SERVER):
    """cmd 7 with the real client's items (values of the capture, own node record)."""
    body = objects.encode_objects([
        objects.Int(0x0B, 52),
        objects.Int(0x0C, 1503252026),
        objects.Addr(0x11, NetAddr(*address)),
        objects.String(0x26, b"3/7.7.0.335"),
        objects.Blob(0x2A, bytes(21)),
    ], compressed=True)
    return Command(7, KIND_REQUEST, request_id, body)


class Cmd7SansIOTests(TestCase):
    """The node's side, byte by byte, on a fake transport."""

    def setUp(self):
        self.node = make_node(event_servers=[REAL_EVENT_SERVER])
        self.inner = []
        node = self.node

        class Factory(object):
            def buildProtocol(inner_self, addr):
                proto = _Recorder()
                self.inner.append(proto)
                return proto
        node.core.offer_stream("event", Factory())

    def open(self):
        proto, transport = tcp_session(self.node)
        client = ClassicTCPClient(greeting_final=0x0F)
        proto.dataReceived(client.opening())
        client.receive(transport.value())
        transport.clear()
        return proto, transport, client

    def test_cmd7_answered_with_cmd1_and_switch(self):
        proto, transport, client = self.open()
        proto.dataReceived(client.packet(0x7DC4, [real_cmd7(0x7DC5)]))
        records = client.receive(transport.value())
        transport.clear()
        [reply] = [c for r in records if isinstance(r, PacketRecord) for c in r.commands]
        self.assertEqual((reply.cmd, reply.kind, reply.request_id), (1, KIND_REPLY, 0x7DC5))
        self.assertEqual(reply.body, bytes.fromhex("4215"))
        self.assertEqual(self.inner, [])
        # The client's type-4 record and its clear key exchange in one segment.
        kx = bytes.fromhex("16030100e742cdef")
        proto.dataReceived(client.raw(ClearStreamRecord().encode()) + kx)
        # The node's own type-4 record, RC4-encrypted like every record.
        self.assertEqual(client.receive(transport.value()), [ClearStreamRecord()])
        transport.clear()
        [inner] = self.inner
        self.assertTrue(inner.bridged)
        self.assertEqual(bytes(inner.received), kx)
        # From now on both directions are clear and unchanged.
        proto.dataReceived(b"\x17\x03\x01\x00\x02ab")
        self.assertEqual(bytes(inner.received), kx + b"\x17\x03\x01\x00\x02ab")
        inner.transport.write(b"\x17\x03\x01\x00\x02cd")
        self.assertEqual(transport.value(), b"\x17\x03\x01\x00\x02cd")
        self.assertEqual(proto.state, "clear")
        # Closing from the event server closes the node's connection.
        inner.transport.loseConnection()
        self.assertTrue(transport.disconnecting)
        proto.connectionLost(None)
        self.assertTrue(inner.lost)

    def test_cmd7_for_an_address_not_served_is_not_answered(self):
        proto, transport, client = self.open()
        proto.dataReceived(client.packet(1, [real_cmd7(2, ("10.9.9.9", 12350))]))
        commands = [c for r in client.receive(transport.value()) if isinstance(r, PacketRecord)
                    for c in r.commands]
        self.assertEqual(commands, [])
        transport.clear()
        # A switch without a served cmd 7 closes the connection.
        proto.dataReceived(client.raw(ClearStreamRecord().encode()))
        self.assertEqual(proto.state, "closed")
        self.assertEqual(self.inner, [])

    def test_without_an_event_server_cmd7_is_not_served(self):
        self.node.core.offer_stream("event", None)
        proto, transport, client = self.open()
        proto.dataReceived(client.packet(1, [real_cmd7(2)]))
        self.assertEqual([c for r in client.receive(transport.value())
                          if isinstance(r, PacketRecord) for c in r.commands], [])


class _Recorder(Protocol):
    bridged = False
    lost = False

    def __init__(self):
        self.received = bytearray()

    def dataReceived(self, data):
        self.received += data

    def connectionLost(self, reason=None):
        self.lost = True


class ThroughTheNodeTests(EventServerMixin, TestCase):
    """The reference client's 7.7-style path against the real supernode and
    the real event server over loopback: contacts synced through the node."""

    @defer.inlineCallbacks
    def setUp(self):
        yield EventServerMixin.setUp(self)
        cfg = SupernodeConfig(public_ip=LOOPBACK, seed_pool_size=8,
                              event_servers=[REAL_EVENT_SERVER])
        self.node = SupernodeNode(cfg, reactor=reactor,
                                  core=self.service.core)
        self.node.core.offer_stream("event", self.factory)
        self.sn_port = reactor.listenTCP(0, SupernodeTCPFactory(self.node), interface=LOOPBACK)
        self.addCleanup(self.sn_port.stopListening)
        self.node.config.tcp_port = self.sn_port.getHost().port

    @defer.inlineCallbacks
    def test_sign_in_and_sync_through_the_node(self):
        yield self.account("alice01")
        yield self.account("bob0001")
        direct = yield self.connect("4.2.0.187", "bob0001")
        yield direct.add_contact("alice01")
        core = EventViaNodeCore(self.core("4.2.0.187", "alice01"), REAL_EVENT_SERVER,
                                version_string="3/7.7.0.335")
        session = yield connect_event_via_node(reactor, LOOPBACK, self.node.config.tcp_port,
                                               core)
        self.addCleanup(session.close)
        yield session.start()
        entries = yield session.contacts()
        self.assertIn("bob0001", [getattr(e, "name", None) for e in entries])
        self.assertTrue(core.switched)
        [carried] = [p for p in self.factory.built if p.bridged]
        self.assertEqual(carried.transport_kind, "classic")
        self.assertEqual(carried.hellos, 0)
        self.assertIn("alice01", carried.users)


class TapWiringTests(TestCase):
    def options(self, *extra):
        from blissnode import tap

        options = tap.Options()
        options.parseOptions(["--data-dir", self.mktemp(),
                              "--supernode-tcp", "tcp:0:interface=127.0.0.1",
                              "--supernode-udp", "udp:0:interface=127.0.0.1",
                              "--supernode-https", "none", "--login-tcp", "none",
                              "--event-tcp", "tcp:12999:interface=127.0.0.1"] + list(extra))
        return options

    def test_known_addresses_and_our_own(self):
        from blissnode import tap

        top = tap.makeService(self.options())
        node = top.supernode
        self.assertIsNotNone(node.event_factory)
        self.assertIn(REAL_EVENT_SERVER, node.config.event_servers)
        self.assertIn(("91.190.216.125", 12350), node.config.event_servers)
        self.assertIn(("127.0.0.1", 12999), node.config.event_servers)
        self.assertTrue(node.serves_event_server(REAL_EVENT_SERVER))

    def test_explicit_list(self):
        from blissnode import tap

        top = tap.makeService(self.options("--event-addresses", "10.0.0.5:12350"))
        self.assertEqual(top.supernode.config.event_servers,
                         frozenset([("10.0.0.5", 12350), ("127.0.0.1", 12999)]))

    def test_bad_list(self):
        from twisted.python import usage

        self.assertRaises(usage.UsageError, self.options, "--event-addresses", "nowhere")
