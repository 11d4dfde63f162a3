"""
Broadcasts: telling a user's contacts that their visible state changed.

Who is online (anchors, status, mood) is the core's
(:class:`blissnode.core.presence.Presence`), shared with the supernode.
:class:`Broadcaster`, on every change of a user's visible state (sign-in,
sign-out, status, mood), delivers one broadcast to each of their online,
mutually authorised contacts (``IContactStore.watchers``).  Bounded and
coalesced:

* a change only *schedules* a broadcast ``delay`` seconds later, and at
  most one broadcast per user goes out per ``min_interval``; changes in
  between are merged (a user flapping between away and online a hundred
  times a second causes one broadcast per interval, with the last state);
* nothing is sent when the state at flush time equals the last one sent (a
  sign-out followed by a sign-in within ``delay`` sends nothing);
* at most ``max_pending`` users wait for a broadcast (further changes are
  counted as ``dropped``; their watchers still see the truth through the
  presence query), at most ``max_fanout`` watchers receive one broadcast,
  and the remembered last states are bounded;
* a fan-out is delivered in slices: at most ``slice_size`` deliveries and
  about ``slice_seconds`` of work per reactor turn, the rest after the
  reactor has served everything else (a change seen by 5,000 contacts no
  longer holds the reactor for the whole fan-out).

Delivery itself is the caller's ``deliver(watcher, state)`` (an int or a
Deferred of one): :class:`blissnode.event.protocol.EventService` hands the
change to the core, which reaches every session of the watcher in any role.
With several processes every process hears of every change and fans it
out to the watchers connected *to it* (``deliver``, this process only);
:meth:`Broadcaster.tell` / :meth:`~Broadcaster.hide` reach one watcher
wherever they are (``deliver_one``).
"""

import collections
import time

import attr
from twisted.internet import defer
from twisted.logger import Logger

from blissnode.store.directory import normalize_name
from blissnode.wire.presence import STATUS_OFFLINE, PresenceState

log = Logger()

__all__ = ["Broadcaster", "BroadcastStats"]


@attr.s(slots=True)
class BroadcastStats(object):
    """Counters of a :class:`Broadcaster` (for tests, logs and the benchmark)."""

    changes = attr.ib(default=0)        # change notifications received
    coalesced = attr.ib(default=0)      # merged into a pending broadcast
    dropped = attr.ib(default=0)        # refused: too many users pending
    unchanged = attr.ib(default=0)      # flushed with nothing new to say
    broadcasts = attr.ib(default=0)     # broadcasts fanned out
    messages = attr.ib(default=0)       # deliveries (records / packets written)
    truncated = attr.ib(default=0)      # broadcasts cut at max_fanout
    last_fanout = attr.ib(default=0)    # watchers reached by the last broadcast
    last_seconds = attr.ib(default=0.0)  # time of the last fan-out (store query included)
    slices = attr.ib(default=0)         # reactor turns fan-outs were delivered in
    longest_slice = attr.ib(default=0.0)  # seconds of the longest one


class Broadcaster(object):
    """Coalesced, bounded fan-out of presence changes (module docstring).

    :param presence: the :class:`Presence`.
    :param watchers: ``name -> Deferred(list of names)`` allowed to see ``name``.
    :param deliver: ``(watcher, PresenceState) -> int`` (or a Deferred of
        it): deliveries made to this process's sessions of ``watcher``.
    :param deliver_one: the same for :meth:`tell` / :meth:`hide`, reaching
        the watcher in any process (default: ``deliver``).
    :param clock: ``IReactorTime``.
    """

    def __init__(self, presence, watchers, deliver, clock, delay=0.25, min_interval=1.0,
                 max_pending=10000, max_fanout=5000, max_remembered=100000,
                 deliver_one=None, slice_size=500, slice_seconds=0.005):
        self.presence = presence
        self.watchers = watchers
        self.deliver = deliver
        self.deliver_one = deliver_one if deliver_one is not None else deliver
        self.clock = clock
        self.delay = delay
        self.min_interval = min_interval
        self.max_pending = max_pending
        self.max_fanout = max_fanout
        self.max_remembered = max_remembered
        self.slice_size = slice_size
        self.slice_seconds = slice_seconds
        self.stats = BroadcastStats()
        self._pending = {}
        self._last = collections.OrderedDict()   # name -> (state, sent at)
        self._inflight = set()
        self._stopped = False

    def __len__(self):
        return len(self._pending)

    def changed(self, name):
        """The visible state of ``name`` may have changed: schedule a broadcast."""
        if self._stopped:
            return
        name = normalize_name(name)
        self.stats.changes += 1
        if name in self._pending:
            self.stats.coalesced += 1
            return
        if len(self._pending) >= self.max_pending:
            self.stats.dropped += 1
            return
        now = self.clock.seconds()
        due = now + self.delay
        last = self._last.get(name)
        if last is not None:
            due = max(due, last[1] + self.min_interval)
        self._pending[name] = self.clock.callLater(max(0.0, due - now), self._flush, name)

    def _flush(self, name):
        self._pending.pop(name, None)
        d = self.broadcast(name)
        self._inflight.add(d)
        d.addBoth(lambda r: (self._inflight.discard(d), r)[1])
        d.addErrback(lambda f: log.failure("broadcast of {name} failed", f, name=name))

    def broadcast(self, name, force=False):
        """Fan out ``name``'s current state now (unless unchanged); Deferred
        firing with the number of deliveries."""
        name = normalize_name(name)
        state = self.presence.state(name)
        last = self._last.get(name)
        if not force and last is not None and last[0] == state:
            self.stats.unchanged += 1
            return defer.succeed(0)
        started = time.perf_counter()
        self._remember(name, state)
        d = defer.maybeDeferred(self.watchers, name)

        def fan_out(names):
            targets = [w for w in names if self.presence.connected_here(w)]
            if len(targets) > self.max_fanout:
                self.stats.truncated += 1
                targets = targets[:self.max_fanout]
            d = self._deliver_sliced(targets, state)

            def done(sent):
                self.stats.broadcasts += 1
                self.stats.messages += sent
                self.stats.last_fanout = len(targets)
                self.stats.last_seconds = time.perf_counter() - started
                return sent
            return d.addCallback(done)
        return d.addCallback(fan_out)

    def _deliver_sliced(self, targets, state):
        """Deliver ``state`` to ``targets`` a slice per reactor turn; a
        Deferred of the number of deliveries."""
        results = []
        finished = defer.Deferred()
        position = [0]

        def one_slice():
            if self._stopped and position[0]:
                _sum(results).chainDeferred(finished)  # stopped between slices
                return
            start = time.perf_counter()
            end = min(len(targets), position[0] + self.slice_size)
            i = position[0]
            while i < end:
                results.append(defer.maybeDeferred(self.deliver, targets[i], state))
                i += 1
                if time.perf_counter() - start >= self.slice_seconds:
                    break
            position[0] = i
            self.stats.slices += 1
            self.stats.longest_slice = max(self.stats.longest_slice,
                                           time.perf_counter() - start)
            if i < len(targets):
                self.clock.callLater(0, one_slice)
            else:
                _sum(results).chainDeferred(finished)

        one_slice()
        return finished

    def _remember(self, name, state):
        self._last[name] = (state, self.clock.seconds())
        self._last.move_to_end(name)
        while len(self._last) > self.max_remembered:
            self._last.popitem(last=False)

    def tell(self, watcher, subject):
        """Deliver ``subject``'s current state to one ``watcher`` now (a new
        authorisation, a removal); a Deferred of the number of deliveries."""
        if not self.presence.connected(watcher):
            return defer.succeed(0)
        self._told(subject)
        return self._count(self.deliver_one(normalize_name(watcher),
                                            self.presence.state(subject)))

    def hide(self, watcher, subject):
        """Tell ``watcher`` that ``subject`` is offline (no longer visible to them)."""
        if not self.presence.connected(watcher):
            return defer.succeed(0)
        self._told(subject)
        return self._count(self.deliver_one(normalize_name(watcher),
                                            PresenceState(normalize_name(subject),
                                                          STATUS_OFFLINE)))

    def _told(self, subject):
        """One watcher was just told ``subject``'s state outside a
        broadcast: the remembered last broadcast no longer says what every
        watcher saw, so the next one is not skipped as unchanged (else a
        contact told "online" here misses the "offline" that follows within
        ``min_interval``, if it equals the broadcast before).  Its time is
        kept: the rate bound still holds."""
        name = normalize_name(subject)
        last = self._last.get(name)
        if last is not None:
            self._last[name] = (None, last[1])

    def _count(self, result):
        d = _sum([defer.maybeDeferred(lambda: result)])

        def counted(sent):
            self.stats.messages += sent
            return sent
        return d.addCallback(counted)

    def idle(self):
        """Deferred firing once nothing is pending or being fanned out."""
        pending = list(self._pending.values())
        if pending:
            d = defer.Deferred()
            self.clock.callLater(max(0.0, max(p.getTime() for p in pending)
                                     - self.clock.seconds()) + 0.001, d.callback, None)
            return d.addCallback(lambda _: self.idle())
        if self._inflight:
            return defer.DeferredList(list(self._inflight)).addCallback(lambda _: self.idle())
        return defer.succeed(None)

    def start(self):
        """Accept changes again after :meth:`stop` (a listener restarted)."""
        self._stopped = False

    def stop(self):
        self._stopped = True
        for call in list(self._pending.values()):
            if call.active():
                call.cancel()
        self._pending.clear()


def _sum(deferreds):
    """A Deferred of the sum of ``deferreds``' results (a failed delivery
    is logged and counts 0: one broken target must not stop a broadcast)."""
    def one(d):
        return d.addCallback(lambda n: n or 0).addErrback(_failed)
    return defer.gatherResults([one(d) for d in deferreds]).addCallback(sum)


def _failed(failure):
    log.failure("presence delivery failed", failure)
    return 0
