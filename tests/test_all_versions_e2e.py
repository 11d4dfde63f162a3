"""
All eight versions end to end, over loopback, against ONE service built by
:func:`blissnode.tap.makeService` (what ``twistd -n blissnode`` runs):
supernode (UDP + TCP), login server and event server.

For each version two users register and sign in with the reference clients
(login -> supernode accept + client information + presence record -> event
server), add each other (authorisation request + accept), see each other
online (presence query, and broadcasts on both the event connection and the
supernode session), exchange an offline message (recipient signed out when
it is sent, delivered exactly once at the next sign-in), and sign out.
"""

import os

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from blissnode.client.event import EventClientError, sign_in
from blissnode.client.login import generate_user_key
from blissnode.event import codes as C
from blissnode.supernode.handlers import SupernodeHandlers
from tests.event_helpers import LABELS, LOOPBACK
from tests.service_helpers import start_service

PASSWORD = "correct horse"


def _presence_commands(supernode):
    """The presence states pushed on a supernode session (GUESS cmd 100)."""
    out = []
    for command in supernode.protocol.received:
        if command.cmd == SupernodeHandlers.PRESENCE_PUSH_CMD:
            out.extend(C.parse_presence(command.objects()))
    return out


class AllVersionsTests(TestCase):
    timeout = 300

    @defer.inlineCallbacks
    def setUp(self):
        from blissnode.keys import load_server_keys

        data_dir = os.path.join(self.mktemp(), "data")
        self.service, self.ports = yield start_service(self, [
            "--data-dir", data_dir, "--public-ip", LOOPBACK,
            "--supernode-tcp", "tcp:0:interface=127.0.0.1",
            "--supernode-udp", "udp:0:interface=127.0.0.1",
            "--supernode-https", "tcp:0:interface=127.0.0.1",
            "--login-tcp", "tcp:0:interface=127.0.0.1",
            "--event-tcp", "tcp:0:interface=127.0.0.1",
            "--registration", "open",  # the users sign up from the client
            # every test user registers from 127.0.0.1
            "--registrations-per-address", "100"])
        keys = load_server_keys(data_dir)
        self.login_n, self.cred_n = keys.login_modulus, keys.credential_modulus
        self.event = self.service.getServiceNamed("event-tcp").factory.service
        self.user_keys = [generate_user_key(), generate_user_key()]

    def sign_in(self, label, name, key, register=False):
        return sign_in(reactor, label, name, (LOOPBACK, self.ports["login-tcp"]),
                       (LOOPBACK, self.ports["event-tcp"]), self.login_n,
                       credential_modulus=self.cred_n, password=PASSWORD,
                       user_key=self.user_keys[key], register=register,
                       supernode_address=(LOOPBACK, self.ports["supernode-tcp"]))

    @defer.inlineCallbacks
    def check_version(self, label):
        suffix = label.replace(".", "_")
        na, nb = "alice_" + suffix, "bob_" + suffix
        a = yield self.sign_in(label, na, 0, register=True)
        b = yield self.sign_in(label, nb, 1, register=True)
        self.assertEqual(a.login.credential.name, na, label)
        # The supernode knows both by name (published records), the event
        # server sees them online through its directory hook and connections.
        for name in (na, nb):
            entries = yield self.service.supernode.directory.lookup_name(name)
            self.assertEqual(len(entries), 1, (label, name))
            self.assertEqual(self.event.presence.anchors(name),
                             {("supernode", entries[0].session_id),
                              ("event", self.event.connections_of(name)[0].connection_id)},
                             (label, name))

        # Add each other: an authorisation request, answered.
        entry = yield a.event.add_contact(nb, "hello from " + label)
        self.assertEqual((entry.name, entry.state), (nb, "pending_out"), label)
        yield b.event.protocol.wait_push(lambda r: r.push_code == C.GUESS_PUSH_INBOX)
        (request,) = yield b.event.inbox()
        self.assertEqual((request.sender, request.kind, request.text),
                         (na, "auth_request", "hello from " + label), label)
        accepted = yield b.event.accept(na)
        self.assertEqual(accepted.state, "authorized", label)

        # See each other online: the presence query and the broadcasts.
        for me, other in ((a, nb), (b, na)):
            states = yield me.event.presence()
            self.assertEqual(states[other].status, C.STATUS_ONLINE, (label, me.name))
            yield me.event.wait_presence(other, online=True)
            yield me.supernode.wait_for(SupernodeHandlers.PRESENCE_PUSH_CMD) \
                if not _presence_commands(me.supernode) else None
            self.assertIn(other, [s.name for s in _presence_commands(me.supernode)
                                  if s.online], (label, me.name))
        (mine,) = yield a.event.contacts()
        self.assertEqual((mine.key, mine.state), ("u/" + nb, "authorized"), label)

        # Bob signs out: Alice is told on both of her connections.
        pushes_before = len(_presence_commands(a.supernode))
        yield b.close()
        yield a.event.wait_presence(nb, online=False)
        while len(_presence_commands(a.supernode)) == pushes_before:
            yield a.supernode.wait_for(SupernodeHandlers.PRESENCE_PUSH_CMD)
        self.assertFalse(_presence_commands(a.supernode)[-1].online, label)
        self.assertFalse(self.event.presence.connected(nb), label)

        # An offline message, delivered exactly once at the next sign-in.
        seq, status = yield a.event.send(nb, "while you were out (%s)" % label)
        self.assertEqual(status, C.STATUS_OFFLINE, label)
        self.assertIsNotNone(seq, label)
        b = yield self.sign_in(label, nb, 1)
        yield a.event.wait_presence(nb, online=True, after=C.PresenceState(nb, C.STATUS_OFFLINE))
        messages = yield b.event.inbox()
        self.assertEqual([(m.sender, m.kind, m.text) for m in messages],
                         [(na, "message", "while you were out (%s)" % label)], label)
        self.assertEqual((yield b.event.inbox()), [], label)
        yield b.close()
        b = yield self.sign_in(label, nb, 1)
        self.assertEqual((yield b.event.inbox()), [], label)

        # Sign out.
        yield a.close()
        yield b.event.wait_presence(na, online=False)
        yield b.close()
        yield self.event.broadcaster.idle()
        for name in (na, nb):
            self.assertFalse(self.event.presence.connected(name), (label, name))
            self.assertEqual((yield self.service.supernode.directory.lookup_name(name)), [],
                             (label, name))

    @defer.inlineCallbacks
    def test_every_version(self):
        for label in LABELS:
            yield self.check_version(label)
        stats = self.event.broadcaster.stats
        self.assertGreater(stats.broadcasts, 0)
        self.assertEqual(stats.dropped, 0)

    @defer.inlineCallbacks
    def test_wrong_password_refused_on_every_server(self):
        yield self.sign_in("6.16.0.105", "carol_wrong", 0, register=True).addCallback(
            lambda s: s.close())
        with self.assertRaises(EventClientError):
            yield sign_in(reactor, "6.16.0.105", "carol_wrong", (LOOPBACK, self.ports["login-tcp"]),
                          (LOOPBACK, self.ports["event-tcp"]), self.login_n, password="nope")
