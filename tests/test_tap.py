"""The twistd plugin, its options and the service it builds."""

import os
import stat

from twisted.application.service import IServiceMaker
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.trial.unittest import TestCase

from blissnode import tap
from blissnode.listeners import parse_udp_description, UDPDescription

ALL_ZERO = ["--supernode-tcp", "tcp:0:interface=127.0.0.1",
            "--supernode-udp", "udp:0:interface=127.0.0.1",
            "--supernode-https", "tcp:0:interface=127.0.0.1",
            "--login-tcp", "tcp:0:interface=127.0.0.1",
            "--event-tcp", "tcp:0:interface=127.0.0.1"]


class PluginTests(TestCase):
    def test_discoverable(self):
        makers = [p for p in getPlugins(IServiceMaker) if p.tapname == "blissnode"]
        self.assertEqual(len(makers), 1)
        self.assertIs(makers[0].options, tap.Options)


class OptionsTests(TestCase):
    def test_help_documents_every_option(self):
        text = str(tap.Options())
        for name, default, _role, _transport, _help in tap.LISTENERS:
            self.assertIn("--" + name, text)
            self.assertIn(default, text)
        self.assertIn("--data-dir", text)

    def test_defaults_are_unprivileged(self):
        options = tap.Options()
        options.parseOptions([])
        for name, _default, _role, transport, _help in tap.LISTENERS:
            port = int(options[name].split(":")[1])
            self.assertGreaterEqual(port, 1024, name)

    def test_bad_udp_description(self):
        options = tap.Options()
        self.assertRaises(usage.UsageError, options.parseOptions,
                          ["--supernode-udp", "tcp:33000"])

    def test_parse_udp_description(self):
        self.assertEqual(parse_udp_description("udp:33000"), UDPDescription(33000, ""))
        self.assertEqual(parse_udp_description("udp:5:interface=127.0.0.1"),
                         UDPDescription(5, "127.0.0.1"))
        for bad in ["udp:", "udp:x", "udp:70000", "udp:1:iface=a", "tcp:1"]:
            self.assertRaises(ValueError, parse_udp_description, bad)


class ServiceTests(TestCase):
    def make(self, extra=()):
        data_dir = os.path.join(self.mktemp(), "data")
        options = tap.Options()
        options.parseOptions(ALL_ZERO + ["--data-dir", data_dir] + list(extra))
        return data_dir, tap.makeService(options)

    def test_data_dir_created_private(self):
        data_dir, _svc = self.make()
        mode = stat.S_IMODE(os.stat(data_dir).st_mode)
        self.assertEqual(mode, 0o700)

    def test_one_listener_per_option(self):
        _dir, svc = self.make()
        names = sorted(s.name for s in svc)
        self.assertEqual(names, sorted(n for n, *_ in tap.LISTENERS))

    def test_none_disables(self):
        _dir, svc = self.make(["--event-tcp", "none"])
        self.assertNotIn("event-tcp", [s.name for s in svc])

    @defer.inlineCallbacks
    def test_start_accept_stop(self):
        _dir, svc = self.make()
        svc.privilegedStartService()
        svc.startService()
        try:
            https = svc.getServiceNamed("supernode-https")
            port = https.port
            udp = svc.getServiceNamed("supernode-udp")
            self.assertNotEqual(udp.port.getHost().port, 0)
            closed = defer.Deferred()
            received = []

            class Watch(Protocol):
                def connectionMade(self):
                    self.transport.write(b"GET / HTTP/1.0\r\n\r\n")

                def dataReceived(self, data):
                    received.append(data)

                def connectionLost(self, reason):
                    closed.callback(None)

            endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
            yield connectProtocol(endpoint, Watch())
            # A Skype node answers HTTP with a bare 404 and closes (udp.md 9.1).
            yield closed
            self.assertEqual(b"".join(received), b"HTTP/1.0 404 Not Found\r\n\r\n")
        finally:
            yield svc.stopService()


class HostilePeerOptionsTests(TestCase):
    """The limits of docs/security.rst reach the factories and the node."""

    def test_limits_reach_every_listener(self):
        from blissnode.login.protocol import LoginServerFactory
        from blissnode.event.protocol import EventServerFactory
        from blissnode.seenseeds import MemorySeenSeeds
        data_dir = os.path.join(self.mktemp(), "data")
        options = tap.Options()
        options.parseOptions(ALL_ZERO + ["--data-dir", data_dir, "--max-per-address", "10",
                                         "--connect-rate", "4",
                                         "--registrations-per-address", "3"])
        svc = tap.makeService(options)
        factories = {s.name: getattr(s, "factory", None) for s in svc}
        login, event = factories["login-tcp"], factories["event-tcp"]
        self.assertIsInstance(login, LoginServerFactory)
        self.assertIsInstance(event, EventServerFactory)
        self.assertEqual(login.admission.max_per_address, 5)
        self.assertEqual(event.admission.max_per_address, 10)
        self.assertEqual(event.admission.rate.rate, 4.0)
        self.assertEqual(login.registrations.burst, 3)
        self.assertIs(login.seen_seeds, event.seen_seeds)  # one store for both
        self.assertIsInstance(login.seen_seeds, MemorySeenSeeds)
        self.assertEqual(svc.supernode.admission.max_per_address, 10)

    def test_background_priority_reaches_both_pools(self):
        data_dir = os.path.join(self.mktemp(), "data")
        for given, expected in ((None, "idle"), ("low", "low"), ("normal", "normal")):
            options = tap.Options()
            options.parseOptions(ALL_ZERO + ["--data-dir", data_dir] + (
                ["--background-priority", given] if given else []))
            svc = tap.makeService(options)
            self.assertEqual(svc.private_ops.priority, expected)
            self.assertEqual(svc.store.hashing.priority, expected)

    def test_bad_values_refused(self):
        for extra in (["--max-per-address", "0"], ["--connect-rate", "x"],
                      ["--background-priority", "realtime"],
                      ["--seen-seeds", "file:///x"], ["--registrations-per-address", "-1"]):
            self.assertRaises(usage.UsageError, tap.Options().parseOptions, extra)

    def test_world_writable_data_dir_refused(self):
        base = self.mktemp()
        os.makedirs(base)
        os.chmod(base, 0o777)
        options = tap.Options()
        options.parseOptions(ALL_ZERO + ["--data-dir", base])
        self.assertRaises(SystemExit, tap.makeService, options)


class SharedBackendOptionsTests(TestCase):
    def test_defaults(self):
        options = tap.Options()
        options.parseOptions([])
        self.assertEqual((options["database"], options["directory"]), ("sqlite:", "memory"))

    def test_bad_values_refused(self):
        for extra in (["--database", "mysql://x"], ["--database", "sqlite://host/x"],
                      ["--directory", "memcached://x"], ["--directory-ttl", "0"],
                      ["--directory-ttl", "soon"]):
            self.assertRaises(usage.UsageError, tap.Options().parseOptions, extra)


class SharedBackendServiceTests(TestCase):
    """The server on PostgreSQL and Redis: what one process writes, another sees."""

    @defer.inlineCallbacks
    def test_postgresql_and_redis(self):
        from blissnode.store.directory import OnlineEntry
        from blissnode.store.postgresql import PostgreSQLStoreService
        from blissnode.store.redisdirectory import RedisDirectory
        from tests.services import postgresql_schema_url, redis_url

        database, directory = postgresql_schema_url(self), redis_url()
        data_dir = os.path.join(self.mktemp(), "data")
        options = tap.Options()
        options.parseOptions(ALL_ZERO + ["--data-dir", data_dir, "--database", database,
                                         "--directory", directory, "--directory-ttl", "60"])
        svc = tap.makeService(options)
        self.assertIsInstance(svc.store, PostgreSQLStoreService)
        svc.privilegedStartService()
        svc.startService()
        try:
            yield svc.store.ready
            self.assertIsNone(svc.store.open_error)
            yield svc.store.accounts.create_account("echo123", bytes(16))
            # Another process's view of the same database and directory.
            other = PostgreSQLStoreService(database)
            other.startService()
            self.addCleanup(other.stopService)
            self.assertEqual((yield other.accounts.check_credential("echo123", bytes(16))).name,
                             "echo123")
            sid = "tap-test-%s" % (os.getpid(),)
            yield svc.supernode.directory.register(OnlineEntry(sid, user_name="echo123"))
            view = RedisDirectory(directory)
            view.startService()
            self.addCleanup(view.stopService)
            self.assertEqual([e.session_id for e in (yield view.lookup_name("echo123"))
                              if e.session_id == sid], [sid])
            yield view.remove(sid)
        finally:
            yield svc.stopService()
