"""
Who is online, in memory, across roles.

Per user: the *anchors* that make them online (a supernode session whose
published record names them -- turned into anchors by
:class:`~blissnode.core.directory.AnchoringDirectory` -- or an open,
authenticated event connection), their status and mood.  A user is online
while they have at least one anchor.  Every change of what others may see
of a user is reported to the listeners the roles register (the event
server's broadcaster).

Several processes (``--workers``, several machines): each process holds
the anchors of its own sessions; what the *other* processes hold arrives
as their users' own states (:meth:`Presence.set_remote`, fed by
:class:`blissnode.cluster.link.ClusterLink` from the bus).  A user is
online while any process has them online; of the states the processes
report, the one changed last is the user's (a status set through the
event connection on one process wins over the plain "online" of the
supernode session on another).  Local changes are reported to
``on_local(name)`` so the link can tell the others.
"""

import collections
import time

import attr
from twisted.logger import Logger

from blissnode.store.directory import normalize_name
from blissnode.wire.presence import (
    STATUS_INVISIBLE,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    PresenceState,
)

log = Logger()

__all__ = ["Presence", "RemoteState", "SUPERNODE_ANCHOR", "EVENT_ANCHOR"]

#: Anchor kinds: ``(kind, session id)``.
SUPERNODE_ANCHOR = "supernode"
EVENT_ANCHOR = "event"


class _User(object):
    __slots__ = ("anchors", "status", "mood", "last_online", "changed_at")

    def __init__(self):
        self.anchors = set()
        self.status = STATUS_ONLINE
        self.mood = None
        self.last_online = None
        self.changed_at = 0.0


@attr.s(frozen=True, slots=True)
class RemoteState(object):
    """What another process reports of one of its online users: the owner's
    own state (``status`` may be invisible) and when it last changed."""

    status = attr.ib()
    mood = attr.ib(default=None)
    changed_at = attr.ib(default=0.0)


class Presence(object):
    """Online users, their anchors, status and mood (in memory).

    ``on_change(name)`` is called whenever the visible state of ``name`` may
    have changed.  Offline users' mood and last-online time are remembered
    for at most ``max_remembered`` users (least recently changed dropped):
    GUESS, the mood is not persisted (the client re-sends it).
    """

    def __init__(self, clock=None, on_change=None, max_remembered=100000, on_local=None):
        self.clock = clock
        self.on_change = on_change
        #: ``on_local(name)``: this process's own view of ``name`` changed
        #: (the cluster link publishes it).
        self.on_local = on_local
        self.max_remembered = max_remembered
        self._online = {}
        self._offline = collections.OrderedDict()
        #: name -> {process tag: RemoteState}: users other processes hold.
        self._remote = {}

    def _now(self):
        return self.clock.seconds() if self.clock is not None else time.time()

    def _changed(self, name):
        if self.on_change is not None:
            try:
                self.on_change(name)
            except Exception:
                log.failure("presence: change handler failed for {name}", name=name)

    def _local_changed(self, name, visible_before):
        """This process's view of ``name`` changed: tell the link, and the
        listeners when what others see changed."""
        if self.on_local is not None:
            try:
                self.on_local(name)
            except Exception:
                log.failure("presence: local change handler failed for {name}", name=name)
        # Alone (no other process holds the user) every change is reported,
        # as before there were processes; the broadcaster drops repeats.
        if not self._remote.get(name) or self.state(name) != visible_before:
            self._changed(name)

    def anchor(self, name, anchor):
        """``anchor`` (any hashable) makes ``name`` online."""
        name = normalize_name(name)
        user = self._online.get(name)
        if user is None:
            before = self.state(name)
            user = self._offline.pop(name, None) or _User()
            latest = self._latest_remote(name)
            if latest is not None:
                # Online elsewhere already: this process adopts that state.
                user.status, user.mood, user.changed_at = (
                    latest.status, latest.mood, latest.changed_at)
            else:
                user.status = STATUS_ONLINE
                user.changed_at = self._now()
            self._online[name] = user
            user.anchors.add(anchor)
            self._local_changed(name, before)
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
        before = self.state(name)
        del self._online[name]
        user.last_online = int(self._now())
        user.status = STATUS_ONLINE  # the next sign-in starts online
        user.changed_at = self._now()
        self._remember_offline(name, user)
        self._local_changed(name, before)
        return True

    def _remember_offline(self, name, user):
        self._offline[name] = user
        self._offline.move_to_end(name)
        while len(self._offline) > self.max_remembered:
            self._offline.popitem(last=False)

    def set_status(self, name, status, mood=None, set_mood=False):
        """Change an online user's status (and mood when ``set_mood``)."""
        name = normalize_name(name)
        user = self._online.get(name)
        if user is None:
            return False
        changed = user.status != status or (set_mood and user.mood != mood)
        if not changed:
            return False
        before = self.state(name)
        user.status = status
        if set_mood:
            user.mood = mood
        user.changed_at = self._now()
        self._local_changed(name, before)
        return True

    def connected(self, name):
        """True while ``name`` has an anchor here or in another process
        (whatever its status)."""
        name = normalize_name(name)
        return name in self._online or bool(self._remote.get(name))

    def connected_here(self, name):
        """True while ``name`` has an anchor in this process."""
        return normalize_name(name) in self._online

    def anchors(self, name):
        user = self._online.get(normalize_name(name))
        return set() if user is None else set(user.anchors)

    def _latest_remote(self, name):
        remote = self._remote.get(name)
        if not remote:
            return None
        return max(remote.values(), key=lambda r: r.changed_at)

    def _current(self, name):
        """``(status, mood)`` of the latest state of an online ``name``, or None."""
        user = self._online.get(name)
        latest = self._latest_remote(name)
        if user is None and latest is None:
            return None
        if latest is None or (user is not None and user.changed_at >= latest.changed_at):
            return user.status, user.mood
        return latest.status, latest.mood

    def _last_online(self, name):
        old = self._offline.get(name)
        return None if old is None else old.last_online

    def state(self, name):
        """The :class:`PresenceState` others may see (invisible reads offline)."""
        name = normalize_name(name)
        current = self._current(name)
        if current is None or current[0] == STATUS_INVISIBLE:
            user = self._online.get(name)
            last = user.last_online if user is not None else self._last_online(name)
            return PresenceState(name, STATUS_OFFLINE, None, last)
        # Online: the last-online time says nothing (and must not make two
        # equal states differ, which would defeat the coalescing).
        return PresenceState(name, current[0], current[1], None)

    def own_state(self, name):
        """The state as its owner set it (invisible stays invisible)."""
        name = normalize_name(name)
        current = self._current(name)
        if current is None:
            return self.state(name)
        user = self._online.get(name)
        return PresenceState(name, current[0], current[1],
                             user.last_online if user is not None else self._last_online(name))

    def local_state(self, name):
        """:class:`RemoteState` of ``name`` as this process holds it (what
        the cluster link tells the others), or None when not online here."""
        user = self._online.get(normalize_name(name))
        if user is None:
            return None
        return RemoteState(user.status, user.mood, user.changed_at)

    def local_names(self):
        """Every user online in this process."""
        return list(self._online)

    def online_count(self):
        """Users online in this process."""
        return len(self._online)

    # -- other processes ------------------------------------------------------------

    def set_remote(self, process, name, state, last_online=None):
        """Process ``process`` now holds ``name`` in ``state`` (a
        :class:`RemoteState`), or no longer holds them (``state`` None; its
        ``last_online`` is remembered).  Listeners hear of it when what
        others see changes."""
        name = normalize_name(name)
        before = self.state(name)
        remote = self._remote.get(name)
        if state is None:
            if not remote or remote.pop(process, None) is None:
                return False
            if not remote:
                del self._remote[name]
                if name not in self._online and last_online is not None:
                    user = self._offline.get(name) or _User()
                    user.last_online = int(last_online)
                    self._remember_offline(name, user)
        else:
            if remote is None:
                remote = self._remote[name] = {}
            remote[process] = state
        if self.state(name) != before:
            self._changed(name)
            return True
        return False

    def forget_process(self, process, last_online=None):
        """Process ``process`` is gone: its users are offline unless held
        elsewhere; the names whose visible state changed."""
        changed = []
        for name in [n for n, r in self._remote.items() if process in r]:
            if self.set_remote(process, name, None, last_online):
                changed.append(name)
        return changed

    def remote_count(self):
        """Users online only in other processes."""
        return sum(1 for n in self._remote if n not in self._online)


