"""The bus between processes: the same suite on MemoryBus and on RedisBus over
a real Redis server; reconnection and the bound on undelivered messages."""

import threading
import time

import redis
from twisted.internet import defer, reactor, task
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from blissnode.store.bus import MAX_PAYLOAD, BusError, IBus, MemoryBus, RedisBus
from tests.services import redis_prefix, redis_url


class Collector:
    """Records deliveries; :meth:`wait` fires once ``n`` have arrived."""

    def __init__(self):
        self.got = []
        self.threads = set()
        self._waiting = []

    def __call__(self, channel, payload):
        self.got.append((channel, payload))
        self.threads.add(threading.get_ident())
        for n, d in list(self._waiting):
            if len(self.got) >= n:
                self._waiting.remove((n, d))
                d.callback(self.got[:n])

    def wait(self, n):
        if len(self.got) >= n:
            return defer.succeed(self.got[:n])
        d = defer.Deferred()
        self._waiting.append((n, d))
        return d


class BusTests:
    """The IBus contract; :meth:`make_bus` gives a bus (another call: another process)."""

    def test_interface(self):
        verifyObject(IBus, self.make_bus())

    @defer.inlineCallbacks
    def test_publish_subscribe_in_order_on_the_reactor_thread(self):
        bus = self.make_bus()
        seen = Collector()
        yield bus.subscribe("presence", seen)
        for i in range(50):
            yield bus.publish("presence", b"m%d" % i)
        got = yield seen.wait(50)
        self.assertEqual(got, [("presence", b"m%d" % i) for i in range(50)])
        self.assertEqual(seen.threads, {threading.get_ident()})

    @defer.inlineCallbacks
    def test_channels_and_cancel(self):
        bus = self.make_bus()
        a, b, other = Collector(), Collector(), Collector()
        sub_a = yield bus.subscribe("push", a)
        yield bus.subscribe("push", b)
        yield bus.subscribe("other", other)
        yield bus.publish("push", b"1")
        yield a.wait(1)
        yield b.wait(1)
        yield sub_a.cancel()
        yield sub_a.cancel()  # twice is fine
        yield bus.publish("push", b"2")
        yield b.wait(2)
        yield bus.publish("other", b"x")
        yield other.wait(1)
        self.assertEqual(a.got, [("push", b"1")])
        self.assertEqual(b.got, [("push", b"1"), ("push", b"2")])
        self.assertEqual(other.got, [("other", b"x")])

    @defer.inlineCallbacks
    def test_bad_input_is_refused(self):
        bus = self.make_bus()
        for channel in ["", "a b", "x" * 201, "star*", "caf\u00e9", None]:
            yield self.assertFailure(bus.publish(channel, b"x"), BusError)
            yield self.assertFailure(bus.subscribe(channel, print), BusError)
        yield self.assertFailure(bus.publish("c", "text"), BusError)
        yield self.assertFailure(bus.publish("c", b"x" * (MAX_PAYLOAD + 1)), BusError)
        yield bus.publish("c", b"x" * MAX_PAYLOAD)

    @defer.inlineCallbacks
    def test_a_failing_subscriber_does_not_stop_the_others(self):
        bus = self.make_bus()
        good = Collector()

        def bad(channel, payload):
            raise RuntimeError("subscriber bug")
        yield bus.subscribe("c", bad)
        yield bus.subscribe("c", good)
        yield bus.publish("c", b"1")
        yield bus.publish("c", b"2")
        self.assertEqual(len((yield good.wait(2))), 2)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)


class MemoryBusTests(BusTests, TestCase):
    def make_bus(self):
        if not hasattr(self, "_bus"):
            self._bus = MemoryBus()
        return self._bus  # one process: every "process" is the same bus

    @defer.inlineCallbacks
    def test_flood_is_bounded(self):
        bus = MemoryBus(max_pending=10)
        seen = Collector()
        yield bus.subscribe("c", seen)
        for i in range(100):  # no reactor turn in between: nothing is delivered yet
            bus.publish("c", b"%d" % i)
        self.assertEqual((bus._deliveries.pending, bus.dropped), (10, 90))
        self.assertEqual([p for _, p in (yield seen.wait(10))], [b"%d" % i for i in range(10)])


class RedisBusTests(BusTests, TestCase):
    def setUp(self):
        self.prefix = redis_prefix()

    def make_bus(self, **kwargs):
        bus = RedisBus(redis_url(), prefix=self.prefix, **kwargs)
        bus.startService()
        self.addCleanup(bus.stopService)
        return bus

    @defer.inlineCallbacks
    def test_two_processes(self):
        one, two = self.make_bus(), self.make_bus()
        seen_one, seen_two = Collector(), Collector()
        yield one.subscribe("event", seen_one)
        yield two.subscribe("event", seen_two)
        self.assertEqual((yield two.publish("event", b"from two")), 2)  # two receiving processes
        yield one.publish("event", b"from one")
        self.assertEqual((yield seen_one.wait(2)), (yield seen_two.wait(2)))
        self.assertEqual(seen_one.got, [("event", b"from two"), ("event", b"from one")])
        # Another prefix is another bus.
        stranger = RedisBus(redis_url(), prefix=redis_prefix())
        stranger.startService()
        self.addCleanup(stranger.stopService)
        self.assertEqual((yield stranger.publish("event", b"elsewhere")), 0)

    @defer.inlineCallbacks
    def test_reconnects_after_losing_the_connection(self):
        listener, sender = self.make_bus(), self.make_bus()
        seen = Collector()
        yield listener.subscribe("c", seen)
        admin = redis.Redis.from_url(redis_url())
        self.addCleanup(admin.close)
        # Redis drops every subscriber connection (as when it restarts).
        self.assertGreaterEqual(admin.client_kill_filter(_type="pubsub"), 1)
        while not listener.reconnects:
            yield task.deferLater(reactor, 0.02, lambda: None)
        # Published until the resubscribed listener hears it (nothing is
        # stored for a disconnected subscriber).
        while not seen.got:
            yield sender.publish("c", b"again")
            yield task.deferLater(reactor, 0.05, lambda: None)
        self.assertEqual(seen.got[0], ("c", b"again"))
        lines = [e for e in self.flushLoggedErrors()]  # warnings are not errors
        self.assertEqual(lines, [])

    @defer.inlineCallbacks
    def test_flood_is_bounded(self):
        bus = self.make_bus(max_pending=10)
        seen = Collector()
        yield bus.subscribe("c", seen)
        publisher = redis.Redis.from_url(redis_url())
        self.addCleanup(publisher.close)
        for i in range(100):
            publisher.publish(self.prefix + "c", b"%d" % i)
        # The reactor is busy here (this test holds it): the reader queues 10
        # and drops the rest, instead of growing without bound.
        deadline = time.monotonic() + 60
        while bus.dropped + bus._deliveries.pending < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual((bus._deliveries.pending, bus.dropped), (10, 90))
        self.assertEqual([p for _, p in (yield seen.wait(10))], [b"%d" % i for i in range(10)])

    @defer.inlineCallbacks
    def test_redis_down(self):
        bus = RedisBus("redis://127.0.0.1:1/0", prefix=self.prefix)
        bus.startService()
        self.addCleanup(bus.stopService)
        yield self.assertFailure(bus.publish("c", b"x"), BusError)
        d = bus.subscribe("c", print)
        while not bus.reconnects:  # the reader keeps trying, with a logged line each time
            yield task.deferLater(reactor, 0.02, lambda: None)
        self.assertFalse(d.called)  # subscribed only once Redis answers
        yield bus.stopService()
        yield d  # stopping releases the waiting subscription

    @defer.inlineCallbacks
    def test_cancel_while_the_bus_stops_does_not_wait_for_ever(self):
        # What a MultiService does on shutdown: a user of the bus and the bus
        # stop in the same turn; the user publishes a last message, then
        # cancels its subscription once that has left -- after the reader
        # thread is gone.
        bus = RedisBus(redis_url(), prefix=self.prefix)
        bus.startService()
        subscription = yield bus.subscribe("c", Collector())
        last = bus.publish("c", b"bye")
        cancelled = last.addCallback(lambda _: subscription.cancel())
        stopped = bus.stopService()
        yield stopped
        result = yield defer.DeferredList([cancelled], fireOnOneErrback=True)
        self.assertTrue(result[0][0])
        # And a subscription asked for after stopping fails at once.
        yield self.assertFailure(bus.subscribe("d", print), BusError)
