"""Per-connection flow control (blissnode.flowcontrol, issue 17.1 / 17.3):
a budget of work per reactor turn, reading paused while work waits, a
client that does not read is closed."""

from twisted.internet import defer, task
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import TestCase

from blissnode.flowcontrol import FairInbox, InboxFull, OutputGuard, ReadGate
from blissnode.ratelimit import ConnectionAdmission


class PausingTransport(StringTransport):
    def __init__(self):
        StringTransport.__init__(self)
        self.pauses = []

    def pauseProducing(self):
        self.pauses.append("pause")

    def resumeProducing(self):
        self.pauses.append("resume")


class TurnClock(object):
    """callLater(0) as the reactor runs it: in the next turn (task.Clock
    would run calls scheduled during advance(0) in the same advance)."""

    def __init__(self):
        self.calls = []

    def callLater(self, delay, fn, *args):
        call = task.DelayedCall(0, fn, args, {}, self.calls.remove, lambda c: None,
                                lambda: 0)
        self.calls.append(call)
        return call

    def advance(self, _=0):
        """One reactor turn."""
        now, self.calls = self.calls, []
        for call in now:
            call.called = True
            call.func(*call.args)

    def getDelayedCalls(self):
        return self.calls


class FairInboxTests(TestCase):
    def make(self, **kw):
        self.clock = TurnClock()
        self.transport = PausingTransport()
        self.gate = ReadGate(self.transport)
        self.ran = []
        return FairInbox(self.clock, self.gate, **kw)

    def test_budget_per_turn_across_reads(self):
        inbox = self.make(per_turn=3, pause_at=100, max_pending=1000)
        for i in range(10):  # ten separate puts in one turn (ten reads)
            inbox.put(self.ran.append, i)
        self.assertEqual(self.ran, [0, 1, 2])
        self.clock.advance(0)
        self.assertEqual(self.ran, [0, 1, 2, 3, 4, 5])
        self.clock.advance(0)
        self.clock.advance(0)
        self.assertEqual(self.ran, list(range(10)))
        self.assertGreaterEqual(inbox.yields, 3)

    def test_order_kept_across_deferreds(self):
        inbox = self.make(per_turn=8)
        first = defer.Deferred()
        inbox.put(lambda: first)
        inbox.put(self.ran.append, "second")
        self.assertEqual(self.ran, [])  # waits for the first item's Deferred
        first.callback(None)
        self.assertEqual(self.ran, ["second"])

    def test_reading_pauses_and_resumes(self):
        inbox = self.make(per_turn=1, pause_at=4, max_pending=10)
        for i in range(6):
            inbox.put(self.ran.append, i)
        self.assertEqual(self.transport.pauses, ["pause"])
        self.assertTrue(self.gate.paused)
        for _ in range(6):
            self.clock.advance(0)
        self.assertEqual(self.ran, list(range(6)))
        self.assertEqual(self.transport.pauses, ["pause", "resume"])
        self.assertFalse(self.gate.paused)

    def test_overflow_raises(self):
        inbox = self.make(per_turn=1, pause_at=4, max_pending=5)
        for i in range(6):  # one runs at once, five wait
            inbox.put(self.ran.append, i)
        self.assertRaises(InboxFull, inbox.put, self.ran.append, 99)

    def test_close_drops_the_rest(self):
        inbox = self.make(per_turn=1)
        for i in range(5):
            inbox.put(self.ran.append, i)
        inbox.close()
        self.clock.advance(0)
        self.assertEqual(self.ran, [0])
        self.assertEqual(self.clock.getDelayedCalls(), [])


class OutputGuardTests(TestCase):
    def test_full_buffer_pauses_reading_then_closes(self):
        transport = PausingTransport()
        gate = ReadGate(transport)
        closed = []
        guard = OutputGuard(transport, gate, lambda: closed.append(True), max_unsent=100)
        self.assertIs(transport.producer, guard)
        guard.wrote(1000)  # not full: nothing counted
        self.assertEqual(closed, [])
        guard.pauseProducing()  # the transport's buffer is full
        self.assertEqual(transport.pauses, ["pause"])
        guard.wrote(60)
        self.assertEqual(closed, [])
        guard.resumeProducing()  # drained: the count starts again
        self.assertEqual(transport.pauses, ["pause", "resume"])
        guard.pauseProducing()
        guard.wrote(60)
        guard.wrote(60)
        self.assertEqual(closed, [True])
        guard.wrote(60)
        self.assertEqual(closed, [True])  # once

    def test_gate_resumes_only_when_nobody_holds(self):
        transport = PausingTransport()
        gate = ReadGate(transport)
        gate.hold("a")
        gate.hold("b")
        gate.release("a")
        self.assertEqual(transport.pauses, ["pause"])
        gate.release("b")
        self.assertEqual(transport.pauses, ["pause", "resume"])


class ConnectionAdmissionTests(TestCase):
    def test_per_address_total_and_rate(self):
        clock = task.Clock()
        a = ConnectionAdmission(clock.seconds, max_per_address=2, max_total=3,
                                connect_rate=1.0, connect_burst=10)
        self.assertIsNone(a.admit("x"))
        self.assertIsNone(a.admit("x"))
        self.assertEqual(a.admit("x"), "too-many-connections")
        self.assertIsNone(a.admit("y"))
        self.assertEqual(a.admit("z"), "server-full")
        a.release("x")
        self.assertIsNone(a.admit("z"))
        self.assertEqual(a.total, 3)
        for who in ("x", "y", "z"):
            a.release(who)
        a.release("x")
        self.assertEqual(a.total, 0)
        a.release("nobody")  # never admitted: nothing changes
        self.assertEqual(a.total, 0)

    def test_rate(self):
        clock = task.Clock()
        a = ConnectionAdmission(clock.seconds, max_per_address=None, connect_rate=1.0,
                                connect_burst=3)
        self.assertEqual([a.admit("x") for _ in range(4)], [None, None, None,
                                                            "connecting-too-fast"])
        clock.advance(1)
        self.assertIsNone(a.admit("x"))
