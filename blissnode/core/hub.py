"""
:class:`Core`: the one object every role of a process is handed.

It owns what more than one role needs -- the online directory, presence,
the live delivery targets, the named stream factories -- so that roles never
reach into each other.  ``blissnode.tap`` builds one per process; tests
build one directly.
"""

import itertools

from twisted.logger import Logger

from blissnode.core.delivery import SessionRegistry
from blissnode.core.directory import AnchoringDirectory
from blissnode.core.presence import Presence
from blissnode.store.directory import MemoryDirectory, normalize_name

log = Logger()

__all__ = ["Core"]


class Core(object):
    """Shared state and services of the roles of one process.

    :param directory: an :class:`~blissnode.store.directory.IOnlineDirectory`
        (default: a new :class:`~blissnode.store.directory.MemoryDirectory`);
        it is wrapped so that its entries anchor presence.
    :param clock: ``IReactorTime`` (presence times); the reactor by default.
    """

    def __init__(self, directory=None, clock=None, instance=""):
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        #: This process's tag, the start of every session id it gives out
        #: ("" alone; ``w1-3f09a2c1.`` for a worker): session ids are unique
        #: across the processes sharing a directory, and name their holder.
        self.instance = instance
        self.presence = Presence(clock, on_change=self._presence_changed,
                                 on_local=self._presence_local)
        self.directory = AnchoringDirectory(
            directory if directory is not None else MemoryDirectory(), self.presence)
        self.sessions = SessionRegistry()
        #: The :class:`~blissnode.cluster.link.ClusterLink` to the other
        #: processes, once attached (None: this process is alone).
        self.cluster = None
        self._presence_listeners = []
        self._streams = {}
        self._session_numbers = itertools.count(1)
        self._barred = set()

    def new_session_id(self, kind):
        """A session id no other process sharing the directory gives out:
        this process's tag, ``kind`` (``"s"`` supernode, ``"e"`` event), a
        number."""
        return "%s%s%d" % (self.instance, kind, next(self._session_numbers))

    def holder_of(self, session_id):
        """The tag of the process holding ``session_id`` (its prefix up to
        the first dot; None for an untagged id, such as a lone process's
        ``s12`` or a UDP-only entry's ``udp:ip:port``)."""
        head, sep, _rest = str(session_id).partition(".")
        if not sep or ":" in head or not head:
            return None
        return head + sep

    # -- presence ---------------------------------------------------------------

    def on_presence_change(self, listener):
        """Call ``listener(name)`` whenever what others may see of ``name``
        may have changed (the event server's broadcaster)."""
        self._presence_listeners.append(listener)

    def _presence_local(self, name):
        if self.cluster is not None:
            self.cluster.presence_changed_here(name)

    def _presence_changed(self, name):
        for listener in list(self._presence_listeners):
            try:
                listener(name)
            except Exception:
                log.failure("presence listener failed for {name}", name=name)

    # -- delivery -----------------------------------------------------------------

    def targets_of(self, name):
        """Deferred firing with every live target of ``name`` in this
        process: those registered for the user, and the sessions of this
        process the directory lists under the name."""
        targets = list(self.sessions.for_user(name))
        d = self.directory.lookup_name(normalize_name(name))

        def add(entries):
            for entry in entries:
                target = self.sessions.get(entry.session_id)
                if target is not None and target not in targets:
                    targets.append(target)
            return targets
        return d.addCallback(add)

    def deliver(self, name, message):
        """Hand ``message`` to every live session of ``name`` in every
        process; Deferred firing with how many sessions of this process
        wrote something (the other processes' deliveries are not counted:
        they happen there, at most once, see :mod:`blissnode.cluster`).  A
        failing target is logged and skipped; the directory's answer may
        come at any time (it is waited for, never dropped)."""
        if self.cluster is not None:
            self.cluster.deliver_elsewhere(name, message)
        return self.deliver_here(name, message)

    def deliver_here(self, name, message):
        """:meth:`deliver` to the sessions of this process only (what every
        process does with a presence broadcast, which each process fans out
        to its own sessions)."""
        d = self.targets_of(name)

        def send(targets):
            sent = 0
            for target in targets:
                try:
                    if target.deliver(message):
                        sent += 1
                except Exception:
                    log.failure("delivery to session {sid} failed", sid=target.session_id)
            return sent
        return d.addCallback(send)

    def send_to_session(self, session_id, message):
        """Hand ``message`` to the one session ``session_id``, in this process
        or (through the cluster link) in the process holding it.  True when
        it was written here or sent towards a live holder; False when
        nobody can take it (the caller answers "offline")."""
        target = self.sessions.get(session_id)
        if target is not None:
            try:
                return bool(target.deliver(message))
            except Exception:
                log.failure("delivery to session {sid} failed", sid=session_id)
                return False
        if self.cluster is not None:
            return self.cluster.send_to_session(session_id, message)
        return False

    def session_reachable(self, session_id):
        """Whether :meth:`send_to_session` can reach ``session_id``: a live
        session of this process, or one of a live process on the link."""
        if self.sessions.get(session_id) is not None:
            return True
        return self.cluster is not None and self.cluster.reachable(session_id)

    # -- operating on sessions ---------------------------------------------------------

    def live_sessions(self, role=None):
        """:class:`~blissnode.core.delivery.SessionInfo` of every live
        session of this process (optionally of one role)."""
        out = []
        for target in self.sessions.all():
            if role is None or target.role == role:
                try:
                    out.append(target.describe())
                except Exception:
                    log.failure("describing session {sid} failed", sid=target.session_id)
        return out

    def end_session(self, session_id, reason):
        """Close one live session; False when there is none with that id."""
        target = self.sessions.get(session_id)
        if target is None:
            return False
        target.close_session(reason)
        return True

    def end_sessions_of(self, name, reason):
        """Close every live session of user ``name`` in every role (account
        deleted, suspended, password changed); Deferred of how many."""
        d = self.targets_of(name)

        def close(targets):
            for target in targets:
                try:
                    target.close_session(reason)
                except Exception:
                    log.failure("closing session {sid} failed", sid=target.session_id)
            return len(targets)
        return d.addCallback(close)

    def bar(self, name):
        """Refuse ``name`` where a role holds no account check of its own (the
        supernode accepts credentials the login server issued for 30 days):
        an operator suspended or deleted the account.  In-process only."""
        self._barred.add(normalize_name(name))

    def unbar(self, name):
        self._barred.discard(normalize_name(name))

    def is_barred(self, name):
        return normalize_name(name) in self._barred

    # -- stream hand-off -------------------------------------------------------------

    def offer_stream(self, name, factory):
        """``factory`` serves connections handed over as ``name`` (the event
        server offers ``"event"``)."""
        self._streams[name] = factory

    def stream_factory(self, name):
        """The factory offered as ``name``, or None."""
        return self._streams.get(name)
