"""
The cluster link between processes (blissnode.cluster.link, .codec), with
two or three cores in one test on one in-memory bus and a fake clock: the
presence each process sees, deliveries and pushes for sessions held by
another process, liveness.  tests/test_workers.py runs the same over Redis
between real worker processes.
"""

from twisted.internet import task
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from blissnode.cluster import codec
from blissnode.cluster.link import CLUSTER_CHANNEL, ClusterLink
from blissnode.core.delivery import (
    IDeliveryTarget,
    InboxChanged,
    PresenceChanged,
    PushRequest,
    SessionInfo,
)
from blissnode.core.hub import Core
from blissnode.core.presence import EVENT_ANCHOR
from blissnode.store.bus import MemoryBus
from blissnode.wire.presence import (
    STATUS_AWAY,
    STATUS_INVISIBLE,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    PresenceState,
)


@implementer(IDeliveryTarget)
class Target(object):
    role = "event"

    def __init__(self, session_id):
        self.session_id = session_id
        self.got = []

    def deliver(self, message):
        self.got.append(message)
        return True

    def describe(self):
        return SessionInfo(self.session_id, self.role, [], None)

    def close_session(self, reason):
        pass


class Community(object):
    """Processes (cores with links) on one memory bus and one clock."""

    def __init__(self, case):
        self.clock = task.Clock()
        self.bus = MemoryBus(reactor=self.clock)
        self.case = case
        self.links = {}

    def start(self, tag):
        core = Core(clock=self.clock, instance=tag)
        link = ClusterLink(core, self.bus, clock=self.clock)
        link.startService()
        self.links[tag] = link
        self.case.addCleanup(lambda: link.running and link.stopService())
        self.settle()
        return core

    def settle(self):
        for _ in range(10):
            self.clock.advance(0)


class PresenceAcrossProcessesTests(TestCase):
    def setUp(self):
        self.net = Community(self)
        self.a = self.net.start("a.")
        self.b = self.net.start("b.")
        self.heard = []
        self.b.on_presence_change(self.heard.append)

    def test_a_user_online_in_one_process_is_online_in_the_other(self):
        self.assertFalse(self.b.presence.connected("Alice"))
        self.a.presence.anchor("Alice", (EVENT_ANCHOR, 1))
        self.net.settle()
        self.assertTrue(self.b.presence.connected("alice"))
        self.assertFalse(self.b.presence.connected_here("alice"))
        self.assertEqual(self.b.presence.state("alice").status, STATUS_ONLINE)
        self.assertEqual(self.heard, ["alice"])

    def test_status_mood_and_sign_out_follow(self):
        self.a.presence.anchor("alice", (EVENT_ANCHOR, 1))
        self.net.clock.advance(1)
        self.a.presence.set_status("alice", STATUS_AWAY, "lunch", set_mood=True)
        self.net.settle()
        state = self.b.presence.state("alice")
        self.assertEqual((state.status, state.mood), (STATUS_AWAY, "lunch"))
        self.net.clock.advance(5)
        self.a.presence.release("alice", (EVENT_ANCHOR, 1))
        self.net.settle()
        state = self.b.presence.state("alice")
        self.assertEqual(state.status, STATUS_OFFLINE)
        self.assertEqual(state.last_online, int(self.net.clock.seconds()))
        self.assertFalse(self.b.presence.connected("alice"))

    def test_invisible_reads_offline_elsewhere_too(self):
        self.a.presence.anchor("alice", (EVENT_ANCHOR, 1))
        self.a.presence.set_status("alice", STATUS_INVISIBLE)
        self.net.settle()
        self.assertTrue(self.b.presence.connected("alice"))
        self.assertEqual(self.b.presence.state("alice").status, STATUS_OFFLINE)
        self.assertEqual(self.b.presence.own_state("alice").status, STATUS_INVISIBLE)

    def test_the_state_changed_last_wins_between_processes(self):
        # Supernode session on a, event connection (which sets the status) on b.
        self.a.presence.anchor("alice", ("supernode", "a.s1"))
        self.net.settle()
        self.net.clock.advance(1)
        self.b.presence.anchor("alice", (EVENT_ANCHOR, 7))
        self.net.clock.advance(1)
        self.b.presence.set_status("alice", STATUS_AWAY)
        self.net.settle()
        self.assertEqual(self.a.presence.state("alice").status, STATUS_AWAY)
        self.assertEqual(self.b.presence.state("alice").status, STATUS_AWAY)
        # b's connection closes: a still has her, with the latest status.
        self.b.presence.release("alice", (EVENT_ANCHOR, 7))
        self.net.settle()
        self.assertTrue(self.b.presence.connected("alice"))
        self.assertTrue(self.a.presence.connected("alice"))

    def test_a_new_process_learns_who_is_online_from_the_others(self):
        for i in range(300):
            self.a.presence.anchor("user%03d" % i, (EVENT_ANCHOR, i))
        self.a.presence.set_status("user007", STATUS_AWAY, "x" * 1000, set_mood=True)
        self.net.settle()
        c = self.net.start("c.")
        self.assertEqual(c.presence.remote_count(), 300)
        self.assertEqual(c.presence.state("user007").status, STATUS_AWAY)
        self.assertEqual(c.presence.state("user007").mood, "x" * 1000)

    def test_a_process_that_says_bye_takes_its_users_offline(self):
        self.a.presence.anchor("alice", (EVENT_ANCHOR, 1))
        self.net.settle()
        self.net.links["a."].stopService()
        self.net.settle()
        self.assertFalse(self.b.presence.connected("alice"))
        self.assertNotIn("a.", self.net.links["b."].peers)

    def test_a_silent_process_is_forgotten_after_the_timeout(self):
        self.a.presence.anchor("alice", (EVENT_ANCHOR, 1))
        self.net.settle()
        # a dies without a word: stop its heartbeat only.
        link = self.net.links["a."]
        link._loop.stop()
        link.running = False
        for _ in range(3):
            self.net.clock.advance(5)
            self.net.settle()
        self.assertTrue(self.b.presence.connected("alice"))
        for _ in range(3):
            self.net.clock.advance(5)
            self.net.settle()
        self.assertFalse(self.b.presence.connected("alice"))
        self.assertIn("alice", self.heard)

    def test_unreadable_messages_are_dropped_and_counted(self):
        for payload in (b"\xff", b"[]", b'{"v":1}', b'{"v":9,"w":"x.","q":1,"t":"alive"}',
                        codec.encode("x.", 1, "presence", n=5, s=2),
                        codec.encode("x.", 2, "sync", u=[["a", "b"]]),
                        codec.encode("x.", 3, "deliver", n="bob", m={"k": "nope"})):
            self.net.bus.publish(CLUSTER_CHANNEL, payload)
        self.net.settle()
        self.assertEqual(self.net.links["b."].stats.bad, 7)
        self.assertFalse(self.b.presence.connected("bob"))


class DeliveryAcrossProcessesTests(TestCase):
    def setUp(self):
        self.net = Community(self)
        self.a = self.net.start("a.")
        self.b = self.net.start("b.")

    def test_deliver_reaches_the_user_in_every_process_once(self):
        here, there = Target("a.e1"), Target("b.e1")
        self.a.sessions.add_user(here, "bob")
        self.b.sessions.add_user(there, "bob")
        sent = []
        self.a.deliver("bob", InboxChanged(3)).addCallback(sent.append)
        self.net.settle()
        self.assertEqual(sent, [1])
        self.assertEqual(here.got, [InboxChanged(3)])
        self.assertEqual(there.got, [InboxChanged(3)])

    def test_deliver_here_stays_here(self):
        there = Target("b.e1")
        self.b.sessions.add_user(there, "bob")
        self.a.deliver_here("bob", InboxChanged(1))
        self.net.settle()
        self.assertEqual(there.got, [])

    def test_presence_and_push_messages_travel_unchanged(self):
        for message in (PresenceChanged(PresenceState("alice", STATUS_AWAY, "m\u00e9", 12)),
                        PresenceChanged(PresenceState("alice", STATUS_OFFLINE)),
                        InboxChanged(0),
                        PushRequest(67, b"\x41\x01\x00\x00", ("1.2.3.4", 5), 0x1234)):
            self.assertEqual(codec.decode_delivery(codec.encode_delivery(message)), message)

    def test_a_push_reaches_the_session_held_by_the_other_process(self):
        target = Target("b.s4")
        self.b.sessions.add(target)
        self.assertTrue(self.a.session_reachable("b.s4"))
        self.assertFalse(self.a.session_reachable("c.s4"))   # no such process
        self.assertFalse(self.a.session_reachable("s4"))     # untagged
        push = PushRequest(67, b"\x41\x00", ("10.0.0.9", 4000), 77)
        self.assertTrue(self.a.send_to_session("b.s4", push))
        self.net.settle()
        self.assertEqual(target.got, [push])
        self.assertFalse(self.a.send_to_session("c.s1", push))

    def test_a_push_for_a_gone_process_is_refused(self):
        self.net.links["b."].stopService()
        self.net.settle()
        self.assertFalse(self.a.session_reachable("b.s4"))
        self.assertFalse(self.a.send_to_session("b.s4", InboxChanged(1)))

    def test_session_ids_carry_the_process_tag(self):
        self.assertEqual(self.a.new_session_id("s"), "a.s1")
        self.assertEqual(self.a.holder_of("a.s1"), "a.")
        self.assertIsNone(self.a.holder_of("udp:1.2.3.4:5"))
        self.assertIsNone(Core(clock=task.Clock()).holder_of("s1"))

    def test_a_link_needs_a_tag(self):
        self.assertRaises(ValueError, ClusterLink, Core(clock=task.Clock()), MemoryBus())
