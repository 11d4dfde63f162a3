"""
A message bus between blissnode processes: publish bytes on a channel,
every subscriber of that channel, in any process, gets them.

What the roles will use it for (presence changes, "push this to the client
you hold", a contact-list change to tell the other side's event server)
is the roles' business; the bus knows channels and opaque payloads only.

:class:`IBus`
    ``publish(channel, payload) -> Deferred`` and ``subscribe(channel,
    callback) -> Deferred(Subscription)``; ``subscription.cancel() ->
    Deferred``.  Callbacks run on the reactor thread, one message at a time,
    in the order the bus received them.
:class:`MemoryBus`
    one process (the default, and tests).
:class:`RedisBus`
    Redis pub/sub: every process with a RedisBus on the same Redis and
    prefix is on the same bus.  A reader thread owns the subscriber
    connection; when it breaks, it logs one line, waits (0.1 s doubling to
    5 s) and connects and subscribes again.

What one process publishes arrives in the order it was published (both
buses publish from one thread), on every channel.

Delivery is at most once: nothing is stored, a message published while a
subscriber is disconnected (or while nobody subscribes) is lost, so use
the bus for notifications whose truth lives in the database or the
directory.  Bounded: a payload is at most :data:`MAX_PAYLOAD` bytes
(publishing a bigger one fails with :class:`BusError`), and at most
``max_pending`` (default :data:`DEFAULT_MAX_PENDING`) received messages
wait for the reactor; past that, new ones are dropped, counted in
:attr:`dropped` and reported in one log line a minute.  So a slow
subscriber or a flood costs at most ``max_pending x MAX_PAYLOAD`` bytes
here (Redis itself disconnects a subscriber whose output buffer passes its
``client-output-buffer-limit pubsub``; the reader then reconnects).
"""

import collections
import threading

from twisted.application import service
from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from zope.interface import Interface, implementer

from blissnode.store.errors import StoreError
from blissnode.store.loglimit import OncePer

__all__ = ["BusError", "DEFAULT_MAX_PENDING", "IBus", "MAX_CHANNEL_LENGTH", "MAX_PAYLOAD",
           "MemoryBus", "RedisBus", "Subscription"]

log = Logger()

#: Largest payload, in bytes.
MAX_PAYLOAD = 64 * 1024

#: Longest channel name, in characters.
MAX_CHANNEL_LENGTH = 200

#: Received messages waiting for the reactor, at most (per bus).
DEFAULT_MAX_PENDING = 10000

#: Messages one reactor turn delivers before letting other work run.
_BATCH = 200

DEFAULT_PREFIX = "blissnode:bus:"


class BusError(StoreError):
    """A publish or subscribe the bus refuses (bad channel, payload too big, Redis down)."""


class IBus(Interface):
    """Channels of opaque byte payloads between processes (see the module docstring)."""

    def publish(channel, payload):
        """Send ``payload`` (bytes) to every subscriber of ``channel``.

        Deferred firing when the message has left (with the number of
        receiving processes or subscriptions, as the bus knows it)."""

    def subscribe(channel, callback):
        """Call ``callback(channel, payload)`` on the reactor thread for each message.

        Deferred firing with a :class:`Subscription` once messages published
        from then on will arrive."""


def _check_channel(channel):
    if isinstance(channel, bytes):
        try:
            channel = channel.decode("ascii")
        except UnicodeDecodeError:
            raise BusError("a channel name must be ASCII")
    if not isinstance(channel, str) or not channel or len(channel) > MAX_CHANNEL_LENGTH:
        raise BusError("a channel name is 1 to %d characters" % (MAX_CHANNEL_LENGTH,))
    if any(ord(c) <= 0x20 or ord(c) >= 0x7f for c in channel) or "*" in channel:
        raise BusError("a channel name is printable ASCII without spaces or '*'")
    return channel


def _check_payload(payload):
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise BusError("a payload is bytes, not %s" % (type(payload).__name__,))
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise BusError("a payload has at most %d bytes, not %d" % (MAX_PAYLOAD, len(payload)))
    return payload


class Subscription:
    """One ``subscribe`` call: :meth:`cancel` stops its deliveries."""

    def __init__(self, bus, channel, callback):
        self.bus = bus
        self.channel = channel
        self.callback = callback
        self.active = True

    def cancel(self):
        """Stop delivering (at once, also for messages already queued); Deferred(None)."""
        if not self.active:
            return defer.succeed(None)
        self.active = False
        return self.bus._unsubscribe(self)

    def __repr__(self):
        return "<Subscription %s%s>" % (self.channel, "" if self.active else " (cancelled)")


class _Deliveries:
    """The bounded queue between "a message arrived" (any thread) and the callbacks
    (the reactor thread), shared by both buses."""

    def __init__(self, reactor, subscriptions, max_pending, name):
        self._reactor = reactor
        self._subscriptions = subscriptions  # channel -> list of Subscription
        self.max_pending = max_pending
        self._queue = collections.deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._report_scheduled = False
        self.dropped = 0
        self._throttle = OncePer(reactor.seconds, 60.0)
        self._name = name

    def put(self, channel, payload, from_thread):
        with self._lock:
            if len(self._queue) >= self.max_pending:
                self.dropped += 1
                # One report waits for the reactor at most, however big the flood.
                dropped = None if self._report_scheduled else self.dropped
                self._report_scheduled = True
                schedule = False
            else:
                self._queue.append((channel, payload))
                dropped = None
                schedule = not self._scheduled
                self._scheduled = True
        if dropped is not None:
            call = self._reactor.callFromThread if from_thread else self._reactor.callLater
            args = () if from_thread else (0,)
            call(*(args + (self._report_drop, dropped)))
        if schedule:
            if from_thread:
                self._reactor.callFromThread(self._drain)
            else:
                self._reactor.callLater(0, self._drain)

    def _report_drop(self, dropped):
        with self._lock:
            self._report_scheduled = False
            dropped = self.dropped
        if self._throttle.allow("dropped"):
            log.warn("{bus}: {max} messages already wait for delivery; dropping new ones "
                     "({dropped} dropped so far)", bus=self._name, max=self.max_pending,
                     dropped=dropped)

    def _drain(self):
        for _ in range(_BATCH):
            with self._lock:
                if not self._queue:
                    self._scheduled = False
                    return
                channel, payload = self._queue.popleft()
            for subscription in list(self._subscriptions.get(channel, ())):
                if not subscription.active:
                    continue
                try:
                    subscription.callback(channel, payload)
                except Exception:
                    log.failure("{bus}: a subscriber of {channel} failed", bus=self._name,
                                channel=channel)
        self._reactor.callLater(0, self._drain)  # more to do: after other events

    @property
    def pending(self):
        with self._lock:
            return len(self._queue)


@implementer(IBus)
class MemoryBus:
    """The bus of one process: deliveries go through the reactor, as with Redis."""

    def __init__(self, reactor=None, max_pending=DEFAULT_MAX_PENDING):
        if reactor is None:
            from twisted.internet import reactor
        self._subscriptions = {}
        self._deliveries = _Deliveries(reactor, self._subscriptions, max_pending, "memory bus")

    @property
    def dropped(self):
        return self._deliveries.dropped

    def publish(self, channel, payload):
        try:
            channel, payload = _check_channel(channel), _check_payload(payload)
        except BusError:
            return defer.fail()
        receivers = [s for s in self._subscriptions.get(channel, ()) if s.active]
        if receivers:
            self._deliveries.put(channel, payload, from_thread=False)
        return defer.succeed(len(receivers))

    def subscribe(self, channel, callback):
        try:
            channel = _check_channel(channel)
        except BusError:
            return defer.fail()
        subscription = Subscription(self, channel, callback)
        self._subscriptions.setdefault(channel, []).append(subscription)
        return defer.succeed(subscription)

    def _unsubscribe(self, subscription):
        subs = self._subscriptions.get(subscription.channel, [])
        if subscription in subs:
            subs.remove(subscription)
        if not subs:
            self._subscriptions.pop(subscription.channel, None)
        return defer.succeed(None)


@implementer(IBus)
class RedisBus(service.Service):
    """The bus over Redis pub/sub (see the module docstring); a Twisted service.

    :param url: ``redis://...`` as redis-py reads it.
    :param prefix: put before every channel name on Redis (communities or
        tests sharing one Redis do not hear each other).

    Calls made before :meth:`startService` wait.
    """

    name = "bus"

    #: Reconnection delays: first, growth factor, last.
    RECONNECT = (0.1, 2.0, 5.0)

    def __init__(self, url, reactor=None, prefix=DEFAULT_PREFIX, max_pending=DEFAULT_MAX_PENDING):
        if reactor is None:
            from twisted.internet import reactor
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._redis_module = redis
        self._reactor = reactor
        self.prefix = prefix
        self._publisher = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        # The reader handles a broken connection itself (log, wait, subscribe again).
        self._reader_client = redis.Redis.from_url(
            url, socket_connect_timeout=5, socket_timeout=None, health_check_interval=0,
            retry=Retry(NoBackoff(), 0))
        # One publishing thread: what one process publishes leaves in order
        # (the cluster link relies on it: a user's "online" never overtakes
        # the "offline" sent before it).
        self._pool = ThreadPool(minthreads=0, maxthreads=1, name="blissnode-bus")
        self._subscriptions = {}  # channel -> [Subscription]; reactor thread only
        self._deliveries = _Deliveries(reactor, self._subscriptions, max_pending, "redis bus")
        self._commands = collections.deque()  # (verb, channel, deferred) for the reader
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._reader = None
        self._confirm = {}  # channel -> [Deferred] waiting for Redis's "subscribe"; reader only
        self.reconnects = 0

    @property
    def dropped(self):
        return self._deliveries.dropped

    # -- life cycle -----------------------------------------------------------------------

    def startService(self):
        service.Service.startService(self)
        self._pool.start()
        self._stopping.clear()
        self._reader = threading.Thread(target=self._read_loop, name="blissnode-bus-reader",
                                        daemon=True)
        self._reader.start()

    def stopService(self):
        if not self.running:
            return defer.succeed(None)
        service.Service.stopService(self)
        self._stopping.set()
        self._wake.set()
        reader, self._reader = self._reader, None

        def join():
            if reader is not None:
                reader.join(10)
        d = deferToThreadPool(self._reactor, self._pool, join)

        def close(result):
            while self._commands:  # raced with the reader's exit
                _verb, _channel, waiting = self._commands.popleft()
                if not waiting.called:
                    waiting.callback(None)
            self._pool.stop()
            self._publisher.close()
            self._reader_client.close()
            return result
        return d.addBoth(close)

    # -- IBus -------------------------------------------------------------------------------

    def publish(self, channel, payload):
        try:
            channel, payload = _check_channel(channel), _check_payload(payload)
        except BusError:
            return defer.fail()
        return deferToThreadPool(self._reactor, self._pool, self._publish, channel, payload)

    def _publish(self, channel, payload):
        try:
            return self._publisher.publish(self.prefix + channel, payload)
        except (self._redis_module.RedisError, OSError) as e:
            raise BusError("cannot publish on the Redis bus: %s" % (e,)) from e

    def subscribe(self, channel, callback):
        try:
            channel = _check_channel(channel)
        except BusError:
            return defer.fail()
        subscription = Subscription(self, channel, callback)
        first = channel not in self._subscriptions
        self._subscriptions.setdefault(channel, []).append(subscription)
        if not first:
            return defer.succeed(subscription)
        d = defer.Deferred()
        self._command("subscribe", channel, d)
        return d.addCallback(lambda _: subscription)

    def _unsubscribe(self, subscription):
        subs = self._subscriptions.get(subscription.channel, [])
        if subscription in subs:
            subs.remove(subscription)
        if subs:
            return defer.succeed(None)
        self._subscriptions.pop(subscription.channel, None)
        d = defer.Deferred()
        self._command("unsubscribe", subscription.channel, d)
        return d

    def _command(self, verb, channel, d):
        if self._stopping.is_set():
            # The reader is gone or going: nothing will be subscribed any more,
            # and nothing is to unsubscribe (a caller stopping alongside the bus
            # must not wait for ever).
            if verb == "subscribe":
                d.errback(BusError("the Redis bus is stopped"))
            else:
                d.callback(None)
            return
        self._commands.append((verb, channel, d))
        self._wake.set()

    # -- the reader thread ------------------------------------------------------------------

    def _fire(self, d, result=None):
        self._reactor.callFromThread(lambda: d.called or d.callback(result))

    def _read_loop(self):
        errors = (self._redis_module.RedisError, OSError, ValueError)
        pubsub = None
        channels = set()  # what Redis should have us subscribed to
        delay = self.RECONNECT[0]
        while not self._stopping.is_set():
            try:
                if pubsub is None:
                    pubsub = self._reader_client.pubsub()
                    if channels:
                        # Raises here while Redis is still down.
                        pubsub.subscribe(*[self.prefix + c for c in channels])
                    if self.reconnects:
                        log.info("bus: connected to Redis again ({n} channels)",
                                 n=len(channels))
                while self._commands:
                    verb, channel, d = self._commands.popleft()
                    if verb == "subscribe":
                        if channel in channels:
                            self._fire(d)
                            continue
                        channels.add(channel)
                        self._confirm.setdefault(channel, []).append(d)
                        pubsub.subscribe(self.prefix + channel)
                    else:
                        channels.discard(channel)
                        if pubsub.subscribed:
                            pubsub.unsubscribe(self.prefix + channel)
                        self._fire(d)
                if not channels:
                    self._wake.wait(0.5)
                    self._wake.clear()
                    continue
                message = pubsub.get_message(timeout=0.1)
                delay = self.RECONNECT[0]
                if message is not None:
                    self._handle(message, channels)
            except errors as e:
                self.reconnects += 1
                log.warn("bus: lost the Redis connection ({error}); reconnecting in "
                         "{delay:.1f}s", error=str(e).splitlines()[0][:200] if str(e) else
                         type(e).__name__, delay=delay)
                try:
                    if pubsub is not None:
                        pubsub.close()
                except errors:
                    pass
                pubsub = None
                # Subscriptions waiting for a confirmation get it after the reconnect.
                self._stopping.wait(delay)
                delay = min(delay * self.RECONNECT[1], self.RECONNECT[2])
        if pubsub is not None:
            try:
                pubsub.close()
            except errors:
                pass
        for waiting in self._confirm.values():
            for d in waiting:
                self._fire(d)
        self._confirm.clear()
        # Commands that arrived while stopping are answered too (see _command).
        while self._commands:
            _verb, _channel, d = self._commands.popleft()
            self._fire(d)

    def _handle(self, message, channels):
        kind = message.get("type")
        raw = message.get("channel")
        channel = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
        if not channel.startswith(self.prefix):
            return
        channel = channel[len(self.prefix):]
        if kind == "subscribe":
            for d in self._confirm.pop(channel, ()):
                self._fire(d)
        elif kind == "message" and channel in channels:
            data = message.get("data")
            if isinstance(data, bytes) and len(data) <= MAX_PAYLOAD:
                self._deliveries.put(channel, data, from_thread=True)
