"""The core the roles share: delivery across roles, presence from the
directory, stream hand-off -- and no push lost when the directory answers
late (issue 11: the old event server dropped pushes whenever the directory's
Deferred fired after the call returned)."""

from twisted.internet import defer, task
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from blissnode.core.delivery import IDeliveryTarget, InboxChanged, PresenceChanged
from blissnode.core.hub import Core
from blissnode.store.directory import MemoryDirectory, OnlineEntry
from blissnode.wire.presence import STATUS_AWAY, PresenceState, parse_presence
from blissnode.wire.tcp_commands import KIND_NOTIFICATION
from tests.supernode_helpers import ClassicTCPClient, make_node, tcp_session
from tests.test_supernode_tcp import accept_packet


@implementer(IDeliveryTarget)
class Target(object):
    def __init__(self, session_id, role="event", accept=True):
        self.session_id = session_id
        self.role = role
        self.accept = accept
        self.got = []

    def deliver(self, message):
        self.got.append(message)
        return self.accept


class LateDirectory(MemoryDirectory):
    """A directory whose lookups answer only when the test says so (a
    network directory such as Redis)."""

    def __init__(self):
        MemoryDirectory.__init__(self)
        self.waiting = []

    def lookup_name(self, name):
        d = defer.Deferred()
        inner = MemoryDirectory.lookup_name(self, name)
        self.waiting.append((d, inner))
        return d

    def answer(self):
        waiting, self.waiting = self.waiting, []
        for d, inner in waiting:
            inner.chainDeferred(d)


STATE = PresenceState("bobby01", STATUS_AWAY, "lunch")


class DeliveryTests(TestCase):
    def test_user_targets_and_directory_sessions(self):
        core = Core(clock=task.Clock())
        event = Target("e1")
        core.sessions.add_user(event, "Alice01")
        session = Target("s1", role="supernode")
        core.sessions.add(session)
        core.directory.register(OnlineEntry("s1", user_name="alice01"))
        core.directory.register(OnlineEntry("s2", user_name="alice01"))  # not local
        sent = self.successResultOf(core.deliver("alice01", PresenceChanged(STATE)))
        self.assertEqual(sent, 2)
        self.assertEqual(event.got, [PresenceChanged(STATE)])
        self.assertEqual(session.got, [PresenceChanged(STATE)])

    def test_no_push_lost_when_the_directory_answers_late(self):
        directory = LateDirectory()
        core = Core(directory=directory, clock=task.Clock())
        session = Target("s1", role="supernode")
        core.sessions.add(session)
        directory.register(OnlineEntry("s1", user_name="alice01"))
        d = core.deliver("alice01", PresenceChanged(STATE))
        self.assertNoResult(d)
        self.assertEqual(session.got, [])
        directory.answer()
        self.assertEqual(self.successResultOf(d), 1)
        self.assertEqual(session.got, [PresenceChanged(STATE)])

    def test_a_failing_target_does_not_stop_the_others(self):
        core = Core(clock=task.Clock())

        class Broken(Target):
            def deliver(self, message):
                raise RuntimeError("boom")
        core.sessions.add_user(Broken("e1"), "alice01")
        good = Target("e2")
        core.sessions.add_user(good, "alice01")
        self.assertEqual(self.successResultOf(core.deliver("alice01", InboxChanged(3))), 1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_removed_targets_get_nothing(self):
        core = Core(clock=task.Clock())
        event = Target("e1")
        core.sessions.add_user(event, "alice01")
        core.sessions.remove(event)
        self.assertEqual(self.successResultOf(core.deliver("alice01", InboxChanged(1))), 0)
        self.assertEqual(core.sessions.for_user("alice01"), [])


class PresenceTests(TestCase):
    def test_directory_entries_anchor_presence_and_listeners_hear(self):
        core = Core(clock=task.Clock())
        changes = []
        core.on_presence_change(changes.append)
        core.directory.register(OnlineEntry("s1"))
        core.directory.update("s1", user_name="Alice01")
        self.assertTrue(core.presence.connected("alice01"))
        core.directory.remove("s1")
        self.assertFalse(core.presence.connected("alice01"))
        self.assertEqual(changes, ["alice01", "alice01"])


class SupernodeTargetTests(TestCase):
    """A supernode session is a delivery target: a presence change becomes
    its version's notification (GUESS cmd 100 with LIST 0x49)."""

    def test_presence_push_on_an_accepted_session(self):
        node = make_node()
        proto, transport = tcp_session(node)
        client = ClassicTCPClient()
        proto.dataReceived(client.opening())
        proto.dataReceived(accept_packet(client))
        client.receive(transport.value())
        transport.clear()
        self.assertIs(node.core.sessions.get(proto.session_id), proto)
        node.directory.update(proto.session_id, user_name="alice01")
        sent = self.successResultOf(node.core.deliver("alice01", PresenceChanged(STATE)))
        self.assertEqual(sent, 1)
        [command] = [c for p in client.receive(transport.value())
                     if hasattr(p, "commands") for c in p.commands]
        self.assertEqual((command.cmd, command.kind), (100, KIND_NOTIFICATION))
        self.assertEqual(parse_presence(command.objects()), [STATE])
        proto.connectionLost(None)
        self.assertIsNone(node.core.sessions.get(proto.session_id))

    def test_not_accepted_sessions_are_not_pushed(self):
        node = make_node()
        proto, _transport = tcp_session(node)
        self.assertFalse(proto.deliver(PresenceChanged(STATE)))


class StreamTests(TestCase):
    def test_offer_and_find(self):
        core = Core(clock=task.Clock())
        self.assertIsNone(core.stream_factory("event"))
        factory = object()
        core.offer_stream("event", factory)
        self.assertIs(core.stream_factory("event"), factory)


class OperatorTests(TestCase):
    """What an operator does through the core: list the live sessions of
    every role, end one, end all of a user's (account deleted, suspended)."""

    def test_list_and_end_over_real_session_objects(self):
        node = make_node()
        proto, transport = tcp_session(node)
        client = ClassicTCPClient()
        proto.dataReceived(client.opening())
        proto.dataReceived(accept_packet(client))
        node.directory.update(proto.session_id, user_name="alice01")
        proto.user_name = "alice01"
        [info] = node.core.live_sessions()
        self.assertEqual((info.session_id, info.role, info.users, info.version),
                         (proto.session_id, "supernode", ("alice01",), "1.4.0.84"))
        self.assertEqual(info.to_json()["peer"], "127.0.0.1:40001")
        self.assertEqual(self.successResultOf(node.core.end_sessions_of("alice01", "deleted")),
                         1)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(node.core.end_session("nope", "x"))

    def test_end_one(self):
        core = Core(clock=task.Clock())

        class Closable(Target):
            closed = None

            def close_session(self, reason):
                self.closed = reason
        t = Closable("e9")
        core.sessions.add_user(t, "bobby01")
        self.assertTrue(core.end_session("e9", "kicked"))
        self.assertEqual(t.closed, "kicked")
