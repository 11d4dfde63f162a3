"""
End to end, over loopback: the real supernode (UDP + TCP + port-443 style
listener) and the reference client (:mod:`blissnode.client`) imitating each
of the eight supported client versions.
"""

from twisted.internet import defer, reactor, task
from twisted.trial.unittest import TestCase

from blissnode.client.profiles import PROFILES, profile_for
from blissnode.client.tcp import connect_supernode
from blissnode.client.transcript import Transcript
from blissnode.client.udp import UdpClient
from blissnode.supernode.handlers import SupernodeHandlers
from blissnode.supernode.node import SupernodeConfig, SupernodeNode
from blissnode.supernode.tcp import SupernodeTCPFactory
from blissnode.supernode.udp import SupernodeDatagramProtocol
from blissnode.versions.registry import VersionRegistry
from blissnode.wire.objects import Int, NestedList, String
from tests.service_helpers import start_service

LOOPBACK = "127.0.0.1"
LABELS = ["1.4.0.84", "2.5.0.151", "3.8.0.188", "4.1.0.130", "4.2.0.187",
          "5.5.0.124", "5.9.66.114", "6.16.0.105"]


class Supernode:
    """The real supernode on loopback: UDP and TCP on one port number when
    the kernel allows it, plus a second TCP listener for the 443 prelude."""

    def __init__(self):
        config = SupernodeConfig(public_ip=LOOPBACK, seed_pool_size=16)
        self.node = SupernodeNode(config, registry=VersionRegistry.from_plugins(), reactor=reactor)
        self.ports = []
        self.udp = reactor.listenUDP(0, SupernodeDatagramProtocol(self.node), interface=LOOPBACK)
        self.ports.append(self.udp)
        self.udp_port = self.udp.getHost().port
        factory = SupernodeTCPFactory(self.node)
        try:
            self.tcp = reactor.listenTCP(self.udp_port, factory, interface=LOOPBACK)
        except Exception:
            self.tcp = reactor.listenTCP(0, factory, interface=LOOPBACK)
        self.ports.append(self.tcp)
        self.tcp_port = self.tcp.getHost().port
        self.node.config.udp_port = self.udp_port
        self.node.config.tcp_port = self.tcp_port
        self.https = reactor.listenTCP(0, SupernodeTCPFactory(self.node, allow_dh=False), interface=LOOPBACK)
        self.ports.append(self.https)
        self.https_port = self.https.getHost().port
        self.node.start()

    @defer.inlineCallbacks
    def stop(self):
        for session in list(self.node.tcp_sessions.all()):
            session.transport.loseConnection()
        for port in self.ports:
            yield port.stopListening()
        self.node.stop()


class _Base(TestCase):
    timeout = 30

    def setUp(self):
        self.server = Supernode()
        self.addCleanup(self.server.stop)
        self.transcript = Transcript(reactor)

    def udp_client(self, profile, public_ip=None):
        client = UdpClient(profile, (LOOPBACK, self.server.udp_port), reactor,
                           public_ip=public_ip, transcript=self.transcript)
        port = reactor.listenUDP(0, client, interface=LOOPBACK)
        self.addCleanup(client.stop)
        return client, port.getHost().port

    @defer.inlineCallbacks
    def session(self, profile, https=False, **kw):
        port = self.server.https_port if https else self.server.tcp_port
        session = yield connect_supernode(reactor, LOOPBACK, port, profile, https=https,
                                          transcript=self.transcript, **kw)
        self.addCleanup(session.close)
        return session

    def what(self, label):
        return "%s\n%s" % (label, "\n".join(self.transcript.lines()))


class UdpProbeTests(_Base):
    @defer.inlineCallbacks
    def check_probe(self, label):
        profile = PROFILES[label]
        client, client_port = self.udp_client(profile)
        self.assertEqual(client.public_ip, "0.0.0.0")
        reply = yield client.probe()
        what = self.what(label)
        self.assertEqual(reply.cmd, 28, what)
        self.assertEqual(reply.kind, 3, what)
        # 0.0.0.0-keyed probe -> NACK teaching our address -> kind-3 resend.
        self.assertEqual(len(self.transcript.find("nack", "received")), 1, what)
        self.assertEqual(len(self.transcript.find("resend", "sent")), 1, what)
        self.assertEqual(self.transcript.find("nack", "received")[0].details["your_ip"],
                         LOOPBACK, what)
        self.assertEqual(client.public_ip, LOOPBACK, what)
        # Keyed with the learned address, the next request needs no NACK.
        reply = yield client.address_query()
        self.assertEqual(reply.cmd, 36, what)
        addr = reply.objects().value(0x11, 2)
        self.assertEqual((addr.ip, addr.port), (LOOPBACK, client_port), what)
        reply = yield client.slot_query(45, 12)
        self.assertEqual(reply.cmd, 8, what)
        slot = reply.objects().value(6, 5)
        self.assertEqual(slot.value(0, 0), 45, what)
        self.assertEqual((slot.value(3, 2).ip, slot.value(3, 2).port),
                         (LOOPBACK, self.server.udp_port), what)
        replies = yield client.search("nobody.here")
        self.assertEqual([r.cmd for r in replies], [15], what)
        self.assertEqual(replies[-1].objects().value(1, 0), 1, what)
        reply = yield client.node_list()
        self.assertEqual(reply.cmd, 45, what)
        self.assertEqual(len(self.transcript.find("nack", "received")), 1, what)

    @defer.inlineCallbacks
    def check_known_ip(self, label):
        """A client that already knows its address (5.x after cmd 31) is
        answered without a NACK."""
        client, _ = self.udp_client(PROFILES[label], public_ip=LOOPBACK)
        reply = yield client.probe()
        self.assertEqual(reply.cmd, 28, self.what(label))
        self.assertEqual(self.transcript.find("nack"), [], self.what(label))

    @defer.inlineCallbacks
    def check_publish(self, label):
        profile = PROFILES[label]
        client, client_port = self.udp_client(profile, public_ip=LOOPBACK)
        record = b"\x00\x00\x01\x04\x00\x00\x00\x01" + bytes(range(256)) * 2
        packet_id = yield client.publish(record)
        acks = self.transcript.find("ack", "received")
        self.assertEqual(len(acks), 1, self.what(label))
        self.assertEqual(acks[0].details["packet_id"], packet_id)


class TcpSessionTests(_Base):
    @defer.inlineCallbacks
    def check_session(self, label, https=False):
        profile = PROFILES[label]
        session = yield self.session(profile, https=https)
        what = self.what(label)
        if https:
            self.assertEqual(len(self.transcript.find("ssl server hello", "received")), 1, what)
        self.assertEqual(len(self.transcript.find("dh384 hash", "received")),
                         1 if profile.dh384 and not https else 0, what)
        self.assertEqual(session.protocol.server_greeting.final, 3, what)
        accepted = yield session.accept()
        what = self.what(label)
        self.assertEqual(accepted.reply.cmd, 31, what)
        self.assertTrue(accepted.supernode, what)
        self.assertEqual(accepted.public_address.ip, LOOPBACK, what)
        self.assertEqual(accepted.public_address.port,
                         session.protocol.transport.getHost().port, what)
        self.assertEqual(accepted.stack_version, 52 if profile.major >= 5 else 44, what)
        self.assertEqual(accepted.objects.value(0x10, 0), self.server.tcp_port, what)
        self.assertIsNotNone(accepted.stats, what)
        self.assertGreaterEqual(accepted.stats.value(9, 0), 1, what)
        self.assertIsNotNone(accepted.channels, what)
        # We acked the cmd 11 + 47 packet (notifications only).
        self.assertTrue(self.transcript.find("ack", "sent", "tcp"), what)
        if profile.sends_cmd48:
            reply = yield session.channel_fetch()
            self.assertEqual(reply.cmd, 48, self.what(label))
        reply = yield session.slot_query()
        lists = reply.objects().get_all(6, 5)
        self.assertEqual(reply.cmd, 8, self.what(label))
        self.assertEqual(len(lists), 16, self.what(label))
        reply = yield session.slot_query(1198, 5)
        slot = reply.objects().value(6, 5)
        self.assertEqual(slot.value(0, 0), 1198, self.what(label))
        self.assertEqual(slot.value(3, 2).ip, LOOPBACK, self.what(label))
        acked = yield session.client_info()
        self.assertIsInstance(acked, int)
        reply = yield session.firewall_test()
        self.assertEqual(reply.cmd, 42, self.what(label))
        self.assertEqual(reply.objects().value(0x11, 2).ip, LOOPBACK, self.what(label))
        self.assertIsNotNone(reply.objects().value(0x19, 0), self.what(label))
        # Let the server's connect-back (cmd 43) run before we tear down.
        yield task.deferLater(reactor, SupernodeHandlers.FIREWALL_TEST_DELAY + 0.3,
                              lambda: None)
        yield session.close()
        self.assertTrue(self.transcript.find("closed"), self.what(label))

    @defer.inlineCallbacks
    def check_firewall_token_over_udp(self, label):
        """cmd 40 -> 42, then cmd 43 with the same token reaches our UDP
        socket (the client's listening port)."""
        profile = PROFILES[label]
        udp, udp_port = self.udp_client(profile)
        yield udp.probe()
        session = yield self.session(profile, listen_port=udp_port)
        yield session.accept()
        reply = yield session.firewall_test()
        token = reply.objects().value(0x19, 0)
        note = yield udp.notifications.get()
        self.assertEqual(note.cmd, 43, self.what(label))
        self.assertEqual(note.objects().value(0x19, 0), token, self.what(label))
        self.assertTrue(self.transcript.find("ack", "sent", "udp"), self.what(label))

    @defer.inlineCallbacks
    def check_push(self, label):
        """cmd 53 for a connected target is forwarded to its session as the
        inner request; its reply comes back to the pusher; for an unknown
        target the answer is cmd 54 {INT 6 = 3}."""
        profile = PROFILES[label]
        target = yield self.session(profile)
        yield target.accept()
        record = profile.node_record(target.node_id, (LOOPBACK, target.listen_port),
                                     (LOOPBACK, self.server.udp_port), (LOOPBACK, 1))
        pusher, _ = self.udp_client(profile, public_ip=LOOPBACK)
        inner = [String(0, b"target.user"), Int(3, 77)]
        reply = yield pusher.push(record, 67, inner)
        what = self.what(label)
        self.assertEqual(reply.cmd, 70, what)
        self.assertEqual([c.cmd for c in target.protocol.forwarded], [67], what)
        forwarded = target.protocol.forwarded[0].objects()
        self.assertEqual(forwarded.value(0, 3), b"target.user", what)
        other = profile.node_record(0x1122334455667788, (LOOPBACK, 1), (LOOPBACK, 2),
                                    (LOOPBACK, 3))
        reply = yield pusher.push(other, 81, [NestedList(7, [])])
        self.assertEqual(reply.cmd, 54, self.what(label))
        self.assertEqual(reply.objects().value(6, 0), 3, self.what(label))


def _add(cls, name, check, *args):
    def test(self):
        return getattr(self, check)(*args)
    test.__name__ = name
    setattr(cls, name, test)


for _label in LABELS:
    _tag = _label.replace(".", "_")
    _add(UdpProbeTests, "test_probe_nack_resend_%s" % _tag, "check_probe", _label)
    _add(UdpProbeTests, "test_probe_known_ip_%s" % _tag, "check_known_ip", _label)
    _add(UdpProbeTests, "test_publish_acked_%s" % _tag, "check_publish", _label)
    _add(TcpSessionTests, "test_session_%s" % _tag, "check_session", _label)
    _add(TcpSessionTests, "test_session_443_%s" % _tag, "check_session", _label, True)
    _add(TcpSessionTests, "test_firewall_udp_%s" % _tag, "check_firewall_token_over_udp",
         _label)
    _add(TcpSessionTests, "test_push_%s" % _tag, "check_push", _label)


class ProfileTests(TestCase):
    def test_eight_profiles(self):
        self.assertEqual(sorted(PROFILES, key=lambda l: tuple(map(int, l.split(".")))), LABELS)

    def test_fallback_profile(self):
        p = profile_for("5.6.0.1")
        self.assertTrue(p.dh384)
        self.assertEqual(p.version_text(), "0/5.6.0.1//")
        self.assertRaises(ValueError, profile_for, "1.2.0.18")

    def test_cmd30_bodies(self):
        old = PROFILES["1.4.0.84"].cmd30_objects(0xCB979E2BCFB3746B, 37058)
        self.assertEqual([(i.TYPE, i.id, i.value) for i in old],
                         [(0, 1, 2), (1, 0xD, 0xCB979E2BCFB3746B), (0, 0x10, 37058)])
        new = PROFILES["5.5.0.124"].cmd30_objects(0xE03E31AE403AE012, 57608)
        self.assertEqual([(i.TYPE, i.id, i.value) for i in new],
                         [(0, 1, 15), (0, 0xB, 52), (1, 0xD, 0xE03E31AE403AE012),
                          (0, 0x10, 57608), (0, 0x23, 0), (0, 0x2C, 1)])

    def test_node_records(self):
        # supernode.md 7.1 worked examples.
        r21 = PROFILES["1.4.0.84"].node_record(
            0x11b44ed518acb339, ("192.168.0.2", 0xa373), ("200.105.211.150", 65072))
        self.assertEqual(r21.hex(), "11b44ed518acb33901c0a80002a373c869d396fe30")
        r27 = PROFILES["6.16.0.105"].node_record(
            0xe03e31ae403ae012, ("192.168.1.75", 57608), ("65.55.223.25", 40021),
            ("95.52.236.102", 57608))
        self.assertEqual(r27.hex(), "e03e31ae403ae01201c0a8014be1084137df199c555f34ec66e108")


class TapBuiltTests(TestCase):
    """The same conversation against the service ``twistd -n blissnode``
    runs: built by :func:`blissnode.tap.makeService` on loopback ports
    chosen by the kernel (login and event listeners off)."""

    timeout = 60

    @defer.inlineCallbacks
    def setUp(self):

        self.service, self.ports = yield start_service(self, [
            "--data-dir", self.mktemp(),
            "--supernode-tcp", "tcp:0:interface=127.0.0.1",
            "--supernode-udp", "udp:0:interface=127.0.0.1",
            "--supernode-https", "tcp:0:interface=127.0.0.1",
            "--login-tcp", "none", "--event-tcp", "none"])
        self.transcript = Transcript(reactor)

    @defer.inlineCallbacks
    def test_every_version(self):
        for label in LABELS:
            profile = PROFILES[label]
            client = UdpClient(profile, (LOOPBACK, self.ports["supernode-udp"]), reactor,
                               transcript=self.transcript)
            reactor.listenUDP(0, client, interface=LOOPBACK)
            try:
                reply = yield client.probe()
            finally:
                yield client.stop()
            self.assertEqual(reply.cmd, 28, label)
            for name, https in (("supernode-tcp", False), ("supernode-https", True)):
                session = yield connect_supernode(reactor, LOOPBACK, self.ports[name], profile,
                                                  https=https, transcript=self.transcript)
                accepted = yield session.accept()
                self.assertEqual(accepted.reply.cmd, 31, (label, name))
                self.assertEqual(accepted.objects.value(0x10, 0),
                                 self.ports["supernode-tcp"], (label, name))
                reply = yield session.slot_query(7)
                self.assertEqual(reply.cmd, 8, (label, name))
                yield session.client_info()
                yield session.close()
        self.assertEqual(len(self.transcript.find("nack", "received")), len(LABELS))
