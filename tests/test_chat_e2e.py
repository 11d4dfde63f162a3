"""
Two reference clients talk, end to end over loopback, against ONE service
built by :func:`blissnode.tap.makeService`: for every version with session
records (4.x - 6.x) both sign in through login + event + supernode, then a
message goes directly (A dials B's listening port), one through the
supernode as relay (cmd 44/45, 73/75, the cmd 53 push of 67, B's 74, 84,
session records), and one back from B to A through the relay; when B is
offline the text becomes an offline message.

The session between the two clients is the reference client's own
protocol check (client.peer, GUESS parts marked there), not interop with
real clients; the relay's part (73/74/75/84, forwarding) follows SOS2.
"""

import os
import socket

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from blissnode.client.chat import ChatReceiver, send_chat
from blissnode.client.event import sign_in
from blissnode.client.login import generate_user_key
from tests.event_helpers import LOOPBACK
from tests.service_helpers import start_service

PASSWORD = "correct horse"
#: Versions whose clients use type-5 session records (tcp.md 7).
SESSION_LABELS = ["4.1.0.130", "4.2.0.187", "5.5.0.124", "5.9.66.114", "6.16.0.105"]


class Inbox(object):
    def __init__(self):
        self.messages = []
        self._waiters = []

    def __call__(self, message, driver):
        self.messages.append((message.peer_name, message.text))
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(message)

    def next(self):
        d = defer.Deferred()
        self._waiters.append(d)
        return d


class ChatTests(TestCase):
    timeout = 300
    #: More server options (a subclass's).
    extra_options = ()

    @defer.inlineCallbacks
    def setUp(self):
        from blissnode.keys import load_server_keys

        data_dir = os.path.join(self.mktemp(), "data")
        # One main port for TCP and UDP, as deployed (cmd 45 names it; the
        # relay is its TCP side).
        main = _free_port()
        self.service, self.ports = yield start_service(self, [
            "--data-dir", data_dir, "--public-ip", LOOPBACK,
            "--supernode-tcp", "tcp:%d:interface=127.0.0.1" % main,
            "--supernode-udp", "udp:%d:interface=127.0.0.1" % main,
            "--supernode-https", "none",
            "--login-tcp", "tcp:0:interface=127.0.0.1",
            "--event-tcp", "tcp:0:interface=127.0.0.1",
            # the users sign up from the client, all from 127.0.0.1
            "--registration", "open", "--registrations-per-address", "100"]
            + list(self.extra_options))
        keys = load_server_keys(data_dir)
        self.login_n, self.cred_n = keys.login_modulus, keys.credential_modulus
        self.cred_key = keys.credential_public
        self.relay = self.service.supernode.relay
        self.user_keys = [generate_user_key(), generate_user_key()]
        self.listeners = {}

    @defer.inlineCallbacks
    def client(self, label, name, key, register=False):
        """Sign in with a listener for direct sessions and a receiver."""
        inbox = Inbox()
        receiver = ChatReceiver(reactor, self.cred_key, inbox)
        port = reactor.listenTCP(0, receiver.factory(), interface=LOOPBACK)
        self.addCleanup(port.stopListening)
        self.listeners[name] = port
        signed = yield sign_in(reactor, label, name, (LOOPBACK, self.ports["login-tcp"]),
                               (LOOPBACK, self.ports["event-tcp"]), self.login_n,
                               credential_modulus=self.cred_n, password=PASSWORD,
                               user_key=self.user_keys[key], register=register,
                               supernode_address=(LOOPBACK, self.ports["supernode-tcp"]),
                               listen_port=port.getHost().port)
        receiver.attach(signed)
        self.addCleanup(receiver.close)
        return signed, receiver, inbox

    def send(self, signed, to, text, via_relay=False):
        return send_chat(reactor, signed, to, text, self.cred_key,
                         (LOOPBACK, self.ports["supernode-udp"]), via_relay=via_relay)

    @defer.inlineCallbacks
    def check_version(self, label):
        suffix = label.replace(".", "_")
        na, nb = "alice_" + suffix, "bob_" + suffix
        a, a_recv, a_inbox = yield self.client(label, na, 0, register=True)
        b, b_recv, b_inbox = yield self.client(label, nb, 1, register=True)

        # Directly: A dials B's listening port.
        got = b_inbox.next()
        result = yield self.send(a, nb, "hello direct (%s)" % label)
        self.assertEqual((result.path, result.acked), ("direct", True), label)
        message = yield got
        self.assertEqual((message.peer_name, message.text), (na, "hello direct (%s)" % label))

        # Through the relay, A -> B.
        forwarded = self.relay.forwarded_records
        got = b_inbox.next()
        result = yield self.send(a, nb, "hello relay (%s)" % label, via_relay=True)
        self.assertEqual((result.path, result.acked), ("relay", True), label)
        self.assertEqual(result.relay, "%s:%d" % (LOOPBACK, self.ports["supernode-tcp"]))
        message = yield got
        self.assertEqual((message.peer_name, message.text), (na, "hello relay (%s)" % label))
        # 67, 68, 69, 87, 0x6D and 0x47 crossed the relay.
        self.assertGreaterEqual(self.relay.forwarded_records - forwarded, 6, label)

        # And back, B -> A through the relay.
        got = a_inbox.next()
        result = yield self.send(b, na, "hi back (%s)" % label, via_relay=True)
        self.assertEqual(result.path, "relay", label)
        message = yield got
        self.assertEqual((message.peer_name, message.text), (nb, "hi back (%s)" % label))

        # B's leg closed with A's: nothing stays relayed.
        yield _until(lambda: len(self.relay) == 0)

        # B signs out: the text becomes an offline message.
        yield b_recv.close()
        yield b.close()
        result = yield self.send(a, nb, "while you were out (%s)" % label)
        self.assertEqual(result.path, "offline", label)
        self.assertIsNotNone(result.seq, label)
        b, b_recv, _ = yield self.client(label, nb, 1)
        messages = yield b.event.inbox()
        self.assertEqual([(m.sender, m.text) for m in messages],
                         [(na, "while you were out (%s)" % label)], label)
        yield b_recv.close()
        yield a_recv.close()
        yield b.close()
        yield a.close()

    @defer.inlineCallbacks
    def test_unreachable_peer_falls_back_to_the_relay(self):
        a, a_recv, _ = yield self.client("6.16.0.105", "alice_nat", 0, register=True)
        b, b_recv, b_inbox = yield self.client("6.16.0.105", "bob_nat", 1, register=True)
        # B is "behind NAT": nothing accepts at the address its record names.
        yield self.listeners["bob_nat"].stopListening()
        got = b_inbox.next()
        result = yield self.send(a, "bob_nat", "around the NAT")
        self.assertEqual((result.path, result.acked), ("relay", True))
        self.assertIsNotNone(result.direct_error)
        message = yield got
        self.assertEqual(message.text, "around the NAT")
        for closing in (a_recv, b_recv, a, b):
            yield closing.close()

    @defer.inlineCallbacks
    def test_every_version_with_session_records(self):
        for label in SESSION_LABELS:
            yield self.check_version(label)
        self.assertEqual(self.relay.refused, 0)


class SeparateRelayPortTests(TestCase):
    """``--relay-tcp``: cmd 45 names the relay's own port, and both legs of
    a relayed connection meet there (what ``--workers`` relies on)."""

    timeout = 120
    extra_options = ("--relay-tcp", "tcp:0:interface=127.0.0.1")
    setUp = ChatTests.setUp
    client = ChatTests.client
    send = ChatTests.send

    @defer.inlineCallbacks
    def test_the_relay_listens_on_its_own_port(self):
        relay_port = self.service.supernode.config.relay_port
        self.assertNotIn(relay_port, (0, self.ports["supernode-tcp"]))
        a, a_recv, _ = yield self.client("6.16.0.105", "alice_rp", 0, register=True)
        b, b_recv, b_inbox = yield self.client("6.16.0.105", "bob_rp", 1, register=True)
        got = b_inbox.next()
        result = yield self.send(a, "bob_rp", "via the relay port", via_relay=True)
        self.assertEqual((result.path, result.acked), ("relay", True))
        self.assertEqual(result.relay, "%s:%d" % (LOOPBACK, relay_port))
        self.assertEqual((yield got).text, "via the relay port")
        self.assertGreaterEqual(self.relay.forwarded_records, 6)
        for closing in (a_recv, b_recv, a, b):
            yield closing.close()


def _free_port():
    """A port free for both TCP and UDP on loopback (now)."""
    for _ in range(50):
        with socket.socket() as t:
            t.bind((LOOPBACK, 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((LOOPBACK, port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port")


def _until(check, interval=0.05, limit=100):
    d = defer.Deferred()

    def poll(n):
        if check():
            d.callback(None)
        elif n <= 0:
            d.errback(AssertionError("condition not reached"))
        else:
            reactor.callLater(interval, poll, n - 1)
    poll(limit)
    return d
