"""
Presence fan-out in bounded slices (blissnode.event.presence, issue 14): a
broadcast to many watchers is delivered a slice per reactor turn, every
watcher still gets it exactly once, and the count adds up.
"""

from twisted.internet import defer, task
from twisted.trial.unittest import TestCase

from blissnode.core.presence import Presence
from blissnode.event import codes as C
from blissnode.event.presence import Broadcaster


class TurnClock(task.Clock):
    """A Clock whose :meth:`turn` runs only the calls due when it starts,
    like one reactor iteration (``advance`` would also run the calls they
    schedule)."""

    def turn(self):
        due = [call for call in self.calls if call.getTime() <= self.seconds()]
        for call in due:
            self.calls.remove(call)
            call.called = 1
            call.func(*call.args, **call.kw)


class SlicedFanoutTests(TestCase):

    def make(self, count, **kw):
        clock = TurnClock()
        presence = Presence(clock)
        watchers = ["w%05d" % i for i in range(count)]
        for w in watchers:
            presence.anchor(w, "x")
        delivered = []

        def deliver(watcher, state):
            delivered.append(watcher)
            return 1
        b = Broadcaster(presence, lambda name: defer.succeed(list(watchers)), deliver, clock,
                        **kw)
        presence.anchor("bobby01", "s")
        presence.set_status("bobby01", C.STATUS_ONLINE)
        return clock, b, watchers, delivered

    def test_slices_per_reactor_turn(self):
        clock, b, watchers, delivered = self.make(25, slice_size=10, slice_seconds=60)
        d = b.broadcast("bobby01")
        self.assertEqual(len(delivered), 10)
        self.assertNoResult(d)
        clock.turn()
        self.assertEqual(len(delivered), 20)
        clock.turn()
        self.assertEqual(delivered, watchers)
        self.assertEqual(self.successResultOf(d), 25)
        self.assertEqual(b.stats.slices, 3)
        self.assertEqual(b.stats.messages, 25)

    def test_time_budget_cuts_a_slice(self):
        clock, b, watchers, delivered = self.make(5, slice_size=100, slice_seconds=0)
        d = b.broadcast("bobby01")
        self.assertEqual(len(delivered), 1)     # the budget is spent after one
        for _ in range(4):
            clock.turn()
        self.assertEqual(self.successResultOf(d), 5)
        self.assertEqual(delivered, watchers)

    def test_small_fanout_in_one_turn(self):
        clock, b, watchers, delivered = self.make(30)
        d = b.broadcast("bobby01")
        self.assertEqual(self.successResultOf(d), 30)
        self.assertEqual(b.stats.slices, 1)

    def test_default_slices_are_bounded(self):
        clock, b, watchers, delivered = self.make(5000)
        done = []
        b.broadcast("bobby01").addCallback(done.append)
        self.assertLessEqual(len(delivered), b.slice_size)
        turns = 1
        while not done:
            clock.turn()
            turns += 1
            self.assertLess(turns, 5000)
        self.assertEqual(done, [5000])
        self.assertGreaterEqual(turns, 5000 // b.slice_size)

    def test_stop_ends_a_fanout(self):
        clock, b, watchers, delivered = self.make(25, slice_size=10, slice_seconds=60)
        d = b.broadcast("bobby01")
        b.stop()
        clock.turn()
        self.assertEqual(self.successResultOf(d), 10)
