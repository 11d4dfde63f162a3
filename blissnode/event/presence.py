"""
Presence and broadcasts: who is online, and telling their contacts.

:class:`Presence`
    per user: the *anchors* that make them online (a supernode session whose
    published record names them -- seen through :class:`PresenceDirectory`
    -- or an open, authenticated event connection), their status and mood.
    A user is online while they have at least one anchor.
:class:`PresenceDirectory`
    wraps the supernode's :class:`~blissnode.store.directory.IOnlineDirectory`
    and turns "an entry got / lost a user name" into anchors: the hook that
    makes a supernode sign-in and sign-out (session closed, entry expired)
    visible to the event server without changing the supernode.
:class:`Broadcaster`
    on every change of a user's visible state (sign-in, sign-out, status,
    mood) delivers one broadcast to each of their online, mutually
    authorised contacts (``IContactStore.watchers``).  Bounded and coalesced:

    * a change only *schedules* a broadcast ``delay`` seconds later, and at
      most one broadcast per user goes out per ``min_interval``; changes in
      between are merged (a user flapping between away and online a
      hundred times a second causes one broadcast per interval, with the
      last state);
    * nothing is sent when the state at flush time equals the last one sent
      (a sign-out followed by a sign-in within ``delay`` sends nothing);
    * at most ``max_pending`` users wait for a broadcast (further changes
      are counted as ``dropped``; their watchers still see the truth through
      the presence query), at most ``max_fanout`` watchers receive one
      broadcast, and the remembered last states are bounded.

Delivery itself (what bytes go where) is the caller's ``deliver(watcher,
state)`` function: :class:`blissnode.event.protocol.EventService` pushes on
the watcher's event connections and, through the supernode, on their
supernode TCP sessions.
"""

import collections
import time

import attr
from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from blissnode.event.codes import (
    STATUS_INVISIBLE,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    PresenceState,
)
from blissnode.store.directory import IOnlineDirectory, normalize_name

log = Logger()

__all__ = ["Presence", "PresenceDirectory", "Broadcaster", "BroadcastStats",
           "SUPERNODE_ANCHOR", "EVENT_ANCHOR"]

SUPERNODE_ANCHOR = "supernode"
EVENT_ANCHOR = "event"


class _User(object):
    __slots__ = ("anchors", "status", "mood", "last_online")

    def __init__(self):
        self.anchors = set()
        self.status = STATUS_ONLINE
        self.mood = None
        self.last_online = None


class Presence(object):
    """Online users, their anchors, status and mood (in memory).

    ``on_change(name)`` is called whenever the visible state of ``name`` may
    have changed.  Offline users' mood and last-online time are remembered
    for at most ``max_remembered`` users (least recently changed dropped):
    GUESS, the mood is not persisted (the client re-sends it).
    """

    def __init__(self, clock=None, on_change=None, max_remembered=100000):
        self.clock = clock
        self.on_change = on_change
        self.max_remembered = max_remembered
        self._online = {}
        self._offline = collections.OrderedDict()

    def _now(self):
        return self.clock.seconds() if self.clock is not None else time.time()

    def _changed(self, name):
        if self.on_change is not None:
            try:
                self.on_change(name)
            except Exception:
                log.failure("presence: change handler failed for {name}", name=name)

    def anchor(self, name, anchor):
        """``anchor`` (any hashable) makes ``name`` online."""
        name = normalize_name(name)
        user = self._online.get(name)
        if user is None:
            user = self._offline.pop(name, None) or _User()
            user.status = STATUS_ONLINE
            self._online[name] = user
            user.anchors.add(anchor)
            self._changed(name)
            return True
        user.anchors.add(anchor)
        return False

    def release(self, name, anchor):
        """Drop ``anchor``; the last one takes ``name`` offline."""
        name = normalize_name(name)
        user = self._online.get(name)
        if user is None or anchor not in user.anchors:
            return False
        user.anchors.discard(anchor)
        if user.anchors:
            return False
        del self._online[name]
        user.last_online = int(self._now())
        user.status = STATUS_ONLINE  # the next sign-in starts online
        self._offline[name] = user
        while len(self._offline) > self.max_remembered:
            self._offline.popitem(last=False)
        self._changed(name)
        return True

    def set_status(self, name, status, mood=None, set_mood=False):
        """Change an online user's status (and mood when ``set_mood``)."""
        name = normalize_name(name)
        user = self._online.get(name)
        if user is None:
            return False
        changed = user.status != status or (set_mood and user.mood != mood)
        user.status = status
        if set_mood:
            user.mood = mood
        if changed:
            self._changed(name)
        return changed

    def connected(self, name):
        """True while ``name`` has an anchor (whatever its status)."""
        return normalize_name(name) in self._online

    def anchors(self, name):
        user = self._online.get(normalize_name(name))
        return set() if user is None else set(user.anchors)

    def state(self, name):
        """The :class:`PresenceState` others may see (invisible reads offline)."""
        name = normalize_name(name)
        user = self._online.get(name)
        if user is None:
            old = self._offline.get(name)
            return PresenceState(name, STATUS_OFFLINE, None,
                                 None if old is None else old.last_online)
        if user.status == STATUS_INVISIBLE:
            return PresenceState(name, STATUS_OFFLINE, None, user.last_online)
        # Online: the last-online time says nothing (and must not make two
        # equal states differ, which would defeat the coalescing).
        return PresenceState(name, user.status, user.mood, None)

    def own_state(self, name):
        """The state as its owner set it (invisible stays invisible)."""
        user = self._online.get(normalize_name(name))
        if user is None:
            return self.state(name)
        return PresenceState(normalize_name(name), user.status, user.mood, user.last_online)

    def online_count(self):
        return len(self._online)


@implementer(IOnlineDirectory)
class PresenceDirectory(object):
    """An :class:`IOnlineDirectory` that forwards to ``inner`` and anchors
    :class:`Presence` on the entries that carry a user name."""

    def __init__(self, inner, presence):
        self.inner = inner
        self.presence = presence

    @staticmethod
    def _anchor(entry):
        return (SUPERNODE_ANCHOR, entry.session_id)

    def _diff(self, old, new):
        old_name = normalize_name(old.user_name) if old is not None and old.user_name else None
        new_name = normalize_name(new.user_name) if new is not None and new.user_name else None
        if old_name == new_name:
            return
        if old_name is not None:
            self.presence.release(old_name, self._anchor(old))
        if new_name is not None:
            self.presence.anchor(new_name, self._anchor(new))

    def _around(self, session_id, call):
        d = self.inner.get(session_id)

        def got(old):
            d2 = call()

            def done(new):
                self._diff(old, new)
                return new
            return d2.addCallback(done)
        return d.addCallback(got)

    def register(self, entry):
        return self._around(entry.session_id, lambda: self.inner.register(entry))

    def update(self, session_id, **changes):
        return self._around(session_id, lambda: self.inner.update(session_id, **changes))

    def touch(self, session_id, when):
        return self.inner.touch(session_id, when)

    def remove(self, session_id):
        d = self.inner.remove(session_id)

        def removed(old):
            self._diff(old, None)
            return old
        return d.addCallback(removed)

    def remove_stale(self, before):
        d = self.inner.remove_stale(before)

        def removed(stale):
            for entry in stale:
                self._diff(entry, None)
            return stale
        return d.addCallback(removed)

    def get(self, session_id):
        return self.inner.get(session_id)

    def lookup_name(self, name):
        return self.inner.lookup_name(name)

    def lookup_node_id(self, node_id):
        return self.inner.lookup_node_id(node_id)

    def lookup_address(self, ip, port=None):
        return self.inner.lookup_address(ip, port)

    def search(self, text, mode="prefix", limit=50, with_record=False):
        return self.inner.search(text, mode=mode, limit=limit, with_record=with_record)

    def count(self):
        return self.inner.count()

    def count_users(self):
        return self.inner.count_users()


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


class Broadcaster(object):
    """Coalesced, bounded fan-out of presence changes (module docstring).

    :param presence: the :class:`Presence`.
    :param watchers: ``name -> Deferred(list of names)`` allowed to see ``name``.
    :param deliver: ``(watcher, PresenceState) -> int`` deliveries made.
    :param clock: ``IReactorTime``.
    """

    def __init__(self, presence, watchers, deliver, clock, delay=0.25, min_interval=1.0,
                 max_pending=10000, max_fanout=5000, max_remembered=100000):
        self.presence = presence
        self.watchers = watchers
        self.deliver = deliver
        self.clock = clock
        self.delay = delay
        self.min_interval = min_interval
        self.max_pending = max_pending
        self.max_fanout = max_fanout
        self.max_remembered = max_remembered
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
            targets = [w for w in names if self.presence.connected(w)]
            if len(targets) > self.max_fanout:
                self.stats.truncated += 1
                targets = targets[:self.max_fanout]
            sent = 0
            for watcher in targets:
                sent += self.deliver(watcher, state) or 0
            self.stats.broadcasts += 1
            self.stats.messages += sent
            self.stats.last_fanout = len(targets)
            self.stats.last_seconds = time.perf_counter() - started
            return sent
        return d.addCallback(fan_out)

    def _remember(self, name, state):
        self._last[name] = (state, self.clock.seconds())
        self._last.move_to_end(name)
        while len(self._last) > self.max_remembered:
            self._last.popitem(last=False)

    def tell(self, watcher, subject):
        """Deliver ``subject``'s current state to one ``watcher`` now (a new
        authorisation, a removal); returns the number of deliveries."""
        if not self.presence.connected(watcher):
            return 0
        sent = self.deliver(normalize_name(watcher), self.presence.state(subject)) or 0
        self.stats.messages += sent
        return sent

    def hide(self, watcher, subject):
        """Tell ``watcher`` that ``subject`` is offline (no longer visible to them)."""
        if not self.presence.connected(watcher):
            return 0
        sent = self.deliver(normalize_name(watcher),
                            PresenceState(normalize_name(subject), STATUS_OFFLINE)) or 0
        self.stats.messages += sent
        return sent

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
