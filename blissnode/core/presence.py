"""
Who is online, in memory, across roles.

Per user: the *anchors* that make them online (a supernode session whose
published record names them -- turned into anchors by
:class:`~blissnode.core.directory.AnchoringDirectory` -- or an open,
authenticated event connection), their status and mood.  A user is online
while they have at least one anchor.  Every change of what others may see
of a user is reported to the listeners the roles register (the event
server's broadcaster).
"""

import collections
import time

from twisted.logger import Logger

from blissnode.store.directory import normalize_name
from blissnode.wire.presence import (
    STATUS_INVISIBLE,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    PresenceState,
)

log = Logger()

__all__ = ["Presence", "SUPERNODE_ANCHOR", "EVENT_ANCHOR"]

#: Anchor kinds: ``(kind, session id)``.
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


