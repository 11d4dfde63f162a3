"""
``--workers N``: the shared sockets, the options a worker gets, and a real
``twistd -n blissnode --workers 2`` on a real PostgreSQL and Redis
(tests/services.py), with the reference clients signing in, finding each
other, pushing and seeing each other's presence across the two worker
processes, and a worker killed and restarted.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from twisted.internet import defer, reactor, task
from twisted.python import usage
from twisted.trial.unittest import TestCase

from blissnode import tap
from blissnode.client.chat import ChatReceiver, send_chat
from blissnode.client.event import sign_in
from blissnode.client.login import generate_user_key
from blissnode.client.profiles import PROFILES
from blissnode.client.tcp import connect_supernode
from blissnode.client.udp import UdpClient
from blissnode.cluster.sockets import (
    UnshareableListener,
    open_shared_listeners,
    open_worker_listeners,
    parse_tcp_description,
)
from blissnode.event import codes as C
from blissnode.keys import load_server_keys
from blissnode.store.redisdirectory import RedisDirectory
from blissnode.supernode.handlers import SupernodeHandlers
from blissnode.wire.objects import Int, NestedList, String
from tests.services import postgresql_schema_url, redis_url

LOOPBACK = "127.0.0.1"
PASSWORD = "correct horse"


def _free_port(kind=socket.SOCK_STREAM):
    """A port free for both TCP and UDP on loopback (the main supernode port)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind((LOOPBACK, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


def _free_port_pair():
    """A TCP port whose next port is free too (``--relay-tcp`` with 2 workers)."""
    for _ in range(100):
        base = _free_port()
        try:
            with socket.socket() as s:
                s.bind((LOOPBACK, base + 1))
            return base
        except OSError:
            continue
    raise RuntimeError("no two free consecutive ports")


def _presence_pushes(supernode):
    """The presence states pushed on a supernode session (GUESS cmd 100)."""
    out = []
    for command in supernode.protocol.received:
        if command.cmd == SupernodeHandlers.PRESENCE_PUSH_CMD:
            out.extend(C.parse_presence(command.objects()))
    return out


class WorkerOptionsTests(TestCase):
    def parse(self, *argv):
        options = tap.Options()
        options.parseOptions(list(argv))
        return options

    def test_more_than_one_worker_needs_shared_storage(self):
        with self.assertRaises(usage.UsageError) as e:
            self.parse("--workers", "2")
        self.assertIn("--database postgresql://", str(e.exception))
        self.assertIn("--directory redis://", str(e.exception))
        with self.assertRaises(usage.UsageError) as e:
            self.parse("--workers", "2", "--database", "postgresql://u@h/db")
        self.assertNotIn("--database", str(e.exception).split("needs", 1)[1])
        for bad in ("0", "x", "65"):
            self.assertRaises(usage.UsageError, self.parse, "--workers", bad)
        self.assertEqual(self.parse("--workers", "2", "--database", "postgresql://u@h/db",
                                    "--directory", "redis://h:1/0")["workers"], 2)

    def test_a_worker_gets_the_same_options(self):
        options = self.parse("--public-ip", "10.1.2.3", "--event-addresses",
                             "10.0.0.1:12350,10.0.0.2:1", "--udp-rate", "7",
                             "--supernode-tcp", "tcp:4000:interface=10.1.2.3",
                             "--registration", "closed", "--workers", "1")
        argv = tap.options_to_argv(options)
        self.assertFalse([a for a in argv if a.startswith("--workers")])
        again = self.parse(*argv)
        for name, _short, _default, _help in tap.Options.optParameters:
            if name != "workers":
                self.assertEqual(again[name], options[name], name)
        none = self.parse("--event-addresses", "none")
        self.assertEqual(self.parse(*tap.options_to_argv(none))["event-addresses"], ())


class SharedSocketTests(TestCase):
    def test_only_plain_tcp_and_udp_listeners_can_be_shared(self):
        self.assertEqual(parse_tcp_description("tcp:33033:interface=127.0.0.1:backlog=9"),
                         parse_tcp_description("tcp:33033:backlog=9:interface=127.0.0.1"))
        for bad in ("ssl:443", "unix:/tmp/x", "tcp:x", "tcp:1:reuse=1"):
            self.assertRaises(UnshareableListener, parse_tcp_description, bad)

    def test_one_port_for_every_worker_and_a_udp_source_sticks_to_one(self):
        (udp, tcp) = open_shared_listeners(
            [("u", "udp:0:interface=127.0.0.1", "udp"),
             ("t", "tcp:0:interface=127.0.0.1", "tcp")], 3)
        self.addCleanup(udp.close)
        self.addCleanup(tcp.close)
        self.assertEqual(len({s.getsockname() for s in udp.sockets}), 1)
        self.assertEqual(len({s.getsockname() for s in tcp.sockets}), 1)
        self.assertEqual(udp.description(), "udp:%d:interface=127.0.0.1" % (udp.port,))
        # Every datagram of one source reaches the same socket, whatever the count.
        sources = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(12)]
        for s in sources:
            self.addCleanup(s.close)
            s.bind((LOOPBACK, 0))
        for _ in range(5):
            for s in sources:
                s.sendto(b"x", (LOOPBACK, udp.port))
        time.sleep(0.2)
        seen = {}
        for index, sock in enumerate(udp.sockets):
            while True:
                try:
                    _data, source = sock.recvfrom(16)
                except BlockingIOError:
                    break
                seen.setdefault(source, set()).add(index)
        self.assertEqual(len(seen), 12)
        self.assertTrue(all(len(v) == 1 for v in seen.values()), seen)

    def test_a_relay_port_per_worker(self):
        base = _free_port_pair()
        relay = open_worker_listeners("relay-tcp", "tcp:%d:interface=127.0.0.1" % base, 2)
        self.addCleanup(relay.close)
        self.assertEqual(relay.ports, [base, base + 1])
        # Each port is one worker's alone: a connection to it reaches its socket.
        for index, port in enumerate(relay.ports):
            client = socket.create_connection((LOOPBACK, port))
            self.addCleanup(client.close)
            time.sleep(0.05)
            accepted, _ = relay.sockets[index].accept()
            accepted.close()
        self.assertRaises(UnshareableListener, open_worker_listeners, "relay-tcp",
                          "tcp:65535", 2)

    def test_a_port_in_use_is_one_clear_error(self):
        taken = socket.create_server((LOOPBACK, 0))
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        with self.assertRaises(OSError) as e:
            open_shared_listeners([("u", "udp:0:interface=127.0.0.1", "udp"),
                                   ("login-tcp", "tcp:%d:interface=127.0.0.1" % (port,),
                                    "tcp")], 2)
        self.assertIn("login-tcp: cannot listen on 127.0.0.1:%d" % (port,), str(e.exception))


class _Server(object):
    """``twistd -n blissnode --workers 2`` as a child process; its log lines
    are collected by a reader thread."""

    def __init__(self, case, argv):
        self.lines = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n",
             "--pidfile=", "--logfile=-", "blissnode"] + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=case.mktemp_dir)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.process.stdout:
            with self._lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def log(self):
        with self._lock:
            return list(self.lines)

    def matching(self, pattern):
        return [m for m in (re.search(pattern, line) for line in self.log()) if m]

    @defer.inlineCallbacks
    def wait_for(self, pattern, count=1, timeout=60.0):
        deadline = time.monotonic() + timeout
        while len(self.matching(pattern)) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("no %r (x%d) in the log:\n%s"
                                     % (pattern, count, "\n".join(self.log()[-60:])))
            yield task.deferLater(reactor, 0.1, lambda: None)
        return self.matching(pattern)

    def stop(self, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        return self.process.returncode


class TwoWorkerProcessesTests(TestCase):
    timeout = 240

    @defer.inlineCallbacks
    def setUp(self):
        self.mktemp_dir = tempfile.mkdtemp(prefix="blissnode-workers-")
        self.data_dir = os.path.join(self.mktemp_dir, "data")
        database = postgresql_schema_url(self)
        # One Redis database for this test alone (the default key prefixes).
        self.redis = redis_url().rsplit("/", 1)[0] + "/9"
        import redis
        client = redis.Redis.from_url(self.redis)
        client.flushdb()
        client.close()
        main = _free_port()
        self.relay_base = _free_port_pair()
        self.ports = {"supernode": main, "login": _free_port(), "event": _free_port(),
                      "https": _free_port()}
        self.server = _Server(self, [
            "--workers", "2", "--data-dir", self.data_dir, "--database", database,
            "--directory", self.redis, "--public-ip", LOOPBACK, "--registration", "open",
            "--registrations-per-address", "100",
            "--relay-tcp", "tcp:%d:interface=127.0.0.1" % self.relay_base,
            "--supernode-tcp", "tcp:%d:interface=127.0.0.1" % main,
            "--supernode-udp", "udp:%d:interface=127.0.0.1" % main,
            "--supernode-https", "tcp:%d:interface=127.0.0.1" % self.ports["https"],
            "--login-tcp", "tcp:%d:interface=127.0.0.1" % self.ports["login"],
            "--event-tcp", "tcp:%d:interface=127.0.0.1" % self.ports["event"]])
        self.addCleanup(self.server.stop)
        yield self.server.wait_for(r"worker (\d) running", count=2)
        yield self.server.wait_for(r"\[worker \d\].*process .* is on the bus", count=2)
        keys = load_server_keys(self.data_dir)
        self.login_n, self.cred_n = keys.login_modulus, keys.credential_modulus
        self.directory = RedisDirectory(self.redis, reactor=reactor)
        self.directory.startService()
        self.addCleanup(self.directory.stopService)

    def sign_in(self, name, key, register=False, listen_port=None):
        return sign_in(reactor, "6.16.0.105", name, (LOOPBACK, self.ports["login"]),
                       (LOOPBACK, self.ports["event"]), self.login_n,
                       credential_modulus=self.cred_n, password=PASSWORD, user_key=key,
                       register=register,
                       supernode_address=(LOOPBACK, self.ports["supernode"]),
                       listen_port=listen_port)

    @defer.inlineCallbacks
    def holder(self, name):
        entries = yield self.directory.lookup_name(name)
        self.assertEqual(len(entries), 1, (name, entries))
        return entries[0].session_id.split(".")[0].split("-")[0]

    @defer.inlineCallbacks
    def event_worker(self, name, sign_ins):
        """The worker ("w0", "w1") whose event server logged ``name``'s
        ``sign_ins``-th sign-in."""
        lines = yield self.server.wait_for(
            r"\[worker (\d)\] .*event: %s signed in" % (re.escape(name),), count=sign_ins)
        return "w" + lines[sign_ins - 1].group(1)

    @defer.inlineCallbacks
    def test_clients_on_two_workers_find_push_and_see_each_other(self):
        keys = [generate_user_key(), generate_user_key()]
        # Alice's supernode session and event connection on one worker (each
        # connection lands where the kernel puts it; the worker that holds
        # bob is killed below, and alice must outlive it).
        a = yield self.sign_in("alice.wk", keys[0], register=True)
        for attempt in range(40):
            worker_a = yield self.holder("alice.wk")
            if worker_a == (yield self.event_worker("alice.wk", attempt + 1)):
                break
            yield a.close()
            a = yield self.sign_in("alice.wk", keys[0])
        self.addCleanup(lambda: a.close())
        # Bob's supernode session and event connection both on the other
        # worker (each connection lands where the kernel puts it).
        b = yield self.sign_in("bobby.wk", keys[1], register=True)
        for attempt in range(40):
            event_worker = yield self.event_worker("bobby.wk", attempt + 1)
            if worker_a not in ((yield self.holder("bobby.wk")), event_worker):
                break
            yield b.close()
            b = yield self.sign_in("bobby.wk", keys[1])
        self.addCleanup(lambda: b.close())
        worker_b = yield self.holder("bobby.wk")
        self.assertNotEqual(worker_a, worker_b)

        # Contacts across the workers: the request reaches bob's inbox.
        yield a.event.add_contact("bobby.wk", "hi")
        yield b.event.protocol.wait_push(lambda r: r.push_code == C.GUESS_PUSH_INBOX)
        (request,) = yield b.event.inbox()
        self.assertEqual((request.sender, request.kind), ("alice.wk", "auth_request"))
        yield b.event.accept("alice.wk")

        # Presence: each sees the other online, on the event connection and
        # as a supernode push, whichever worker holds what.
        for me, other in ((a, "bobby.wk"), (b, "alice.wk")):
            states = yield me.event.presence()
            self.assertEqual(states[other].status, C.STATUS_ONLINE, me.name)
            yield me.event.wait_presence(other, online=True)
            while other not in [s.name for s in _presence_pushes(me.supernode) if s.online]:
                yield me.supernode.wait_for(SupernodeHandlers.PRESENCE_PUSH_CMD)

        # Finding: a UDP search from four source ports (so, most likely, both
        # workers) finds bob, whichever worker holds him.
        profile = PROFILES["6.16.0.105"]
        for _ in range(4):
            udp = UdpClient(profile, (LOOPBACK, self.ports["supernode"]), reactor)
            reactor.listenUDP(0, udp, interface=LOOPBACK)
            self.addCleanup(udp.stop)
            yield udp.probe()
            replies = yield udp.search("bobby.wk")
            names = [h.value.value(0x10) for r in replies
                     for h in r.objects().get_all(0, NestedList)]
            self.assertEqual(names, [b"bobby.wk"])

        # Pushes: from eight UDP source ports (the kernel spreads them over
        # both workers), each reaches the target's session on its worker and
        # its answer comes back.
        target = yield connect_supernode(reactor, LOOPBACK, self.ports["supernode"], profile)
        self.addCleanup(target.close)
        yield target.accept()
        entries = []
        for _ in range(50):
            entries = [e for e in (yield self.directory.lookup_node_id(target.node_id))]
            if entries:
                break
            yield task.deferLater(reactor, 0.1, lambda: None)
        record = profile.node_record(target.node_id, (LOOPBACK, target.listen_port),
                                     (LOOPBACK, self.ports["supernode"]), (LOOPBACK, 1))
        for i in range(8):
            pusher = UdpClient(profile, (LOOPBACK, self.ports["supernode"]), reactor,
                               public_ip=LOOPBACK)
            reactor.listenUDP(0, pusher, interface=LOOPBACK)
            self.addCleanup(pusher.stop)
            reply = yield pusher.push(record, 67, [String(0, b"target.user"), Int(3, i)])
            self.assertEqual(reply.cmd, 70, i)
        self.assertEqual(len(target.protocol.forwarded), 8)

        # A worker dies: the master restarts it, its users go offline for the
        # others at once, and its directory entries are removed.
        pids = self.server.matching(r"worker (\d) started \(pid (\d+), tag (w\d-[0-9a-f]+\.)\)")
        victim = [m for m in pids if "w" + m.group(1) == worker_b][-1]
        os.kill(int(victim.group(2)), signal.SIGKILL)
        yield self.server.wait_for(r"worker %s .*exited on signal" % victim.group(1))
        try:
            yield a.event.wait_presence("bobby.wk", online=False)
        except Exception:
            print("\n".join(self.server.log()[-80:]))
            raise
        for _ in range(50):
            if not (yield self.directory.lookup_name("bobby.wk")):
                break
            yield task.deferLater(reactor, 0.1, lambda: None)
        self.assertEqual((yield self.directory.lookup_name("bobby.wk")), [])
        yield self.server.wait_for(r"worker (\d) running", count=3)
        # Bob signs in again (on whichever worker), alice sees him.
        b = yield self.sign_in("bobby.wk", keys[1])
        self.addCleanup(lambda: b.close())
        yield a.event.wait_presence("bobby.wk", online=True, after=C.PresenceState("bobby.wk",
                                                                              C.STATUS_OFFLINE))

    @defer.inlineCallbacks
    def test_relayed_chat_between_clients_on_either_worker(self):
        # Each worker relays on its own port (--relay-tcp), so both legs of a
        # relayed connection reach the worker that opened it, whichever
        # workers hold the two clients' sessions (alice signs in anew each
        # time, from new ports: her sessions and her UDP requests land on
        # either worker).
        keys = load_server_keys(self.data_dir)
        received = []
        receiver = ChatReceiver(reactor, keys.credential_public,
                                lambda message, driver: received.append(message.text))
        port = reactor.listenTCP(0, receiver.factory(), interface=LOOPBACK)
        self.addCleanup(port.stopListening)
        b = yield self.sign_in("bobby.rl", generate_user_key(), register=True,
                               listen_port=port.getHost().port)
        receiver.attach(b)
        self.addCleanup(receiver.close)
        self.addCleanup(lambda: b.close())
        alice_key = generate_user_key()
        relays = set()
        for i in range(6):
            a = yield self.sign_in("alice.rl", alice_key, register=not i)
            result = yield send_chat(reactor, a, "bobby.rl", "relayed %d" % i,
                                     keys.credential_public,
                                     (LOOPBACK, self.ports["supernode"]), via_relay=True)
            self.assertEqual((result.path, result.acked), ("relay", True), i)
            relays.add(result.relay)
            yield a.close()
        for _ in range(100):
            if len(received) == 6:
                break
            yield task.deferLater(reactor, 0.05, lambda: None)
        self.assertEqual(sorted(received), sorted("relayed %d" % i for i in range(6)))
        # Every relay named is one of the two workers' relay ports.
        self.assertLessEqual(relays, {"%s:%d" % (LOOPBACK, self.relay_base + i)
                                      for i in range(2)})

    def test_the_master_stops_its_workers(self):
        pids = [int(m.group(1)) for m in self.server.matching(r"started \(pid (\d+)")]
        self.assertEqual(len(pids), 2)
        # twistd ends with the signal that stopped it (as the shell sees
        # "killed by SIGTERM"), after a clean shutdown.
        self.assertEqual(self.server.stop(), -signal.SIGTERM)
        for pid in pids:
            self.assertRaises(ProcessLookupError, os.kill, pid, 0)
        self.assertTrue(self.server.matching(r"worker \d stopped"))
