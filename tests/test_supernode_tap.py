"""The supernode in the twistd plugin: options, shared node, real protocols."""

import os

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.python import usage
from twisted.trial.unittest import TestCase

from blissnode import tap
from blissnode.supernode.tcp import SupernodeTCPFactory
from blissnode.supernode.udp import SupernodeDatagramProtocol
from blissnode.wire import udp as wire_udp
from tests.supernode_helpers import (
    ClassicTCPClient,
    TCPClientProtocol,
    UDPClient,
    open_reply,
    request_plaintext,
)

ALL_ZERO = ["--supernode-tcp", "tcp:0:interface=127.0.0.1",
            "--supernode-udp", "udp:0:interface=127.0.0.1",
            "--supernode-https", "tcp:0:interface=127.0.0.1",
            "--login-tcp", "tcp:0:interface=127.0.0.1",
            "--event-tcp", "tcp:0:interface=127.0.0.1"]


class OptionTests(TestCase):

    def parse(self, extra):
        options = tap.Options()
        options.parseOptions(ALL_ZERO + list(extra))
        return options

    def test_defaults(self):
        options = self.parse([])
        self.assertEqual(options["public-ip"], "127.0.0.1")
        self.assertEqual(options["max-half-open"], 16)
        self.assertEqual(options["udp-rate"], 50.0)
        self.assertEqual(options["unknown-versions"], "nearest")
        text = str(tap.Options())
        for name in ("--public-ip", "--max-half-open", "--udp-rate", "--unknown-versions"):
            self.assertIn(name, text)

    def test_bad_values(self):
        for extra in (["--public-ip", "example.org"], ["--public-ip", "::1"],
                      ["--max-half-open", "0"], ["--udp-rate", "x"],
                      ["--unknown-versions", "newest"], ["--relay-per-client", "0"],
                      ["--relay-total", "-1"], ["--relay-rate", "fast"],
                      ["--relay-idle-timeout", "0"]):
            self.assertRaises(usage.UsageError, self.parse, extra)

    def test_relay_limits(self):
        options = self.parse(["--relay-per-client", "2", "--relay-total", "9",
                              "--relay-rate", "1000", "--relay-idle-timeout", "30",
                              "--relay-join-timeout", "5"])
        limits = tap.relay_limits(options)
        self.assertEqual((limits.per_client, limits.total, limits.rate, limits.idle_timeout,
                          limits.join_timeout), (2, 9, 1000, 30.0, 5.0))
        node = tap.make_supernode(self.parse(["--relay-total", "0"]))
        self.assertFalse(node.relay_enabled)
        self.assertEqual(tap.make_supernode(self.parse([])).config.relay.total, 4096)

    def test_node_config(self):
        options = self.parse(["--public-ip", "192.0.2.1", "--max-half-open", "3",
                              "--udp-rate", "7", "--unknown-versions", "reject",
                              "--data-dir", os.path.join(self.mktemp(), "d")])
        svc = tap.makeService(options)
        node = svc.supernode
        self.assertEqual(node.public_ip, "192.0.2.1")
        self.assertEqual(node.config.max_half_open, 3)
        self.assertEqual(node.config.udp_rate, 7.0)
        self.assertEqual(node.registry.unknown_policy, "reject")
        self.assertIsInstance(svc.getServiceNamed("supernode-udp").protocol,
                              SupernodeDatagramProtocol)
        for name in ("supernode-tcp", "supernode-https"):
            factory = svc.getServiceNamed(name).factory
            self.assertIsInstance(factory, SupernodeTCPFactory)
            self.assertIs(factory.node, node)

    def test_loopback_warning_when_listening_everywhere(self):
        from twisted.logger import globalLogPublisher
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        options = tap.Options()
        options.parseOptions(["--supernode-udp", "udp:0", "--public-ip", "127.0.0.1",
                              "--data-dir", os.path.join(self.mktemp(), "d")])
        tap.make_supernode(options)
        self.assertTrue(any("loopback" in e.get("log_format", "") for e in events))

    def test_public_ip_required_beyond_loopback(self):
        # Listening on all interfaces without --public-ip: one line, no start.
        options = tap.Options()
        options.parseOptions(["--supernode-udp", "udp:0",
                              "--data-dir", os.path.join(self.mktemp(), "d")])
        e = self.assertRaises(SystemExit, tap.make_supernode, options)
        self.assertIn("--public-ip is required", str(e.code))
        self.assertNotIn("\n", str(e.code))

    def test_public_ip_from_the_interface(self):
        options = tap.Options()
        options.parseOptions(["--supernode-udp", "udp:0:interface=192.0.2.7",
                              "--supernode-tcp", "tcp:0:interface=192.0.2.7",
                              "--supernode-https", "none"])
        self.assertEqual(options["public-ip"], "192.0.2.7")
        options = tap.Options()
        options.parseOptions(ALL_ZERO)
        self.assertEqual(options["public-ip"], "127.0.0.1")
        for extra in (["--public-ip", "0.0.0.0"], ["--supernode-udp", "udp:0:interface=x"]):
            self.assertRaises(usage.UsageError, tap.Options().parseOptions, ALL_ZERO[:2] + extra)


class RunningTests(TestCase):

    @defer.inlineCallbacks
    def test_udp_probe_and_tcp_accept(self):
        options = tap.Options()
        options.parseOptions(ALL_ZERO + ["--data-dir", os.path.join(self.mktemp(), "d")])
        svc = tap.makeService(options)
        svc.privilegedStartService()
        svc.startService()
        self.addCleanup(svc.stopService)
        node = svc.supernode
        udp_port = svc.getServiceNamed("supernode-udp").port.getHost().port
        tcp_port = svc.getServiceNamed("supernode-tcp").port.getHost().port
        self.assertEqual(node.config.udp_port, udp_port)
        self.assertEqual(node.config.tcp_port, tcp_port)

        client = UDPClient()
        cport = reactor.listenUDP(0, client, interface="127.0.0.1")
        self.addCleanup(cport.stopListening)
        cport.write(wire_udp.encrypt_payload("127.0.0.1", "127.0.0.1", 2, 9,
                                             request_plaintext(27, 1)),
                    ("127.0.0.1", udp_port))
        data = yield client.next(reactor)
        self.assertEqual(open_reply(data)[0].cmd, 28)

        for name in ("supernode-tcp", "supernode-https"):
            port = svc.getServiceNamed(name).port.getHost().port
            tcp = ClassicTCPClient()
            proto = TCPClientProtocol(tcp, tcp.opening())
            yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), proto)
            yield proto.wait_for(lambda p: len(p.data) >= 30, reactor)
            proto.transport.loseConnection()
            yield proto.lost_d
            self.assertEqual(tcp.receive(bytes(proto.data))[0].record_type, 3)
