"""
Delivery between roles: the live sessions as targets, and the messages.

A role registers each live session that can receive something on behalf of
another role (an event connection, a supernode TCP session) as an
:class:`IDeliveryTarget`.  Another role then asks the core to deliver a
role-neutral message to a *user*; each target turns the message into its own
protocol's bytes (or ignores it) -- the event server renders a presence change
as a 6190 record, the supernode as a cmd 100 packet.  Nobody imports anybody.
"""

import attr
from zope.interface import Attribute, Interface

from blissnode.store.directory import normalize_name

__all__ = ["IDeliveryTarget", "PresenceChanged", "InboxChanged", "PushRequest",
           "SessionInfo", "SessionRegistry"]


class IDeliveryTarget(Interface):
    """A live session that can be handed messages for its user(s)."""

    session_id = Attribute("Unique id of the session (the directory's key for "
                           "supernode sessions).")
    role = Attribute("The role holding it: 'supernode', 'login' or 'event'.")

    def deliver(message):
        """Write ``message`` (a :class:`PresenceChanged`, :class:`InboxChanged`,
        ...) to the peer if this session's protocol carries it; True when
        something was written.  Must not raise for a message it does not know."""

    def describe():
        """A :class:`SessionInfo` of this session (for operators)."""

    def close_session(reason):
        """End the session (an operator kicked it, its account was deleted,
        suspended or got a new password); ``reason`` is logged."""


@attr.s(frozen=True, slots=True)
class SessionInfo(object):
    """What an operator sees of one live session."""

    session_id = attr.ib()
    role = attr.ib()
    users = attr.ib(converter=tuple)
    peer = attr.ib()
    version = attr.ib(default=None)
    since = attr.ib(default=None)

    def to_json(self):
        return {"session_id": self.session_id, "role": self.role, "users": list(self.users),
                "peer": self.peer, "version": self.version, "since": self.since}


@attr.s(frozen=True, slots=True)
class PresenceChanged(object):
    """``state`` (a :class:`~blissnode.wire.presence.PresenceState`) is what
    the receiving user may now see of ``state.name``."""

    state = attr.ib()


@attr.s(frozen=True, slots=True)
class InboxChanged(object):
    """The receiving user has ``pending`` offline messages queued."""

    pending = attr.ib()


@attr.s(frozen=True, slots=True)
class PushRequest(object):
    """A push (UDP cmd 53) for one supernode session: send command ``cmd``
    with the encoded 0x42 ``body`` to the client as a request, and send its
    answer to ``pusher`` (ip, port) over UDP as the reply to request
    ``push_request_id``.  Travels between processes when the pushed client's
    TCP session is held by another one."""

    cmd = attr.ib()
    body = attr.ib(repr=False)
    pusher = attr.ib(converter=tuple)
    push_request_id = attr.ib()


class SessionRegistry(object):
    """Live delivery targets of this process: by session id, and by user for
    the targets that know their user (an authenticated event connection).
    Supernode sessions are found through the directory (their entry names
    the user once a record is published)."""

    def __init__(self):
        self._by_id = {}
        self._by_user = {}
        self._watchers = []

    def __len__(self):
        return len(self._by_id)

    def watch(self, callback):
        """Call ``callback(target)`` for every session added from now on
        (operators' counters: sessions started per role)."""
        self._watchers.append(callback)

    def add(self, target):
        new = target.session_id not in self._by_id
        self._by_id[target.session_id] = target
        if new:
            for callback in self._watchers:
                callback(target)

    def remove(self, target):
        if self._by_id.get(target.session_id) is target:
            del self._by_id[target.session_id]
        for name in [n for n, ts in self._by_user.items() if target in ts]:
            self.forget_user(target, name)

    def get(self, session_id):
        return self._by_id.get(session_id)

    def add_user(self, target, name):
        """``target`` now serves ``name`` (an event connection authenticated)."""
        self.add(target)
        self._by_user.setdefault(normalize_name(name), set()).add(target)

    def forget_user(self, target, name):
        name = normalize_name(name)
        targets = self._by_user.get(name)
        if targets is not None:
            targets.discard(target)
            if not targets:
                del self._by_user[name]

    def for_user(self, name, role=None):
        """The targets registered for ``name`` (optionally of one role)."""
        targets = self._by_user.get(normalize_name(name), ())
        return [t for t in targets if role is None or t.role == role]

    def of_role(self, role):
        return [t for t in self._by_id.values() if t.role == role]

    def all(self):
        return list(self._by_id.values())
