"""
:class:`Core`: the one object every role of a process is handed.

It owns what more than one role needs -- the online directory, presence,
the live delivery targets, the named stream factories -- so that roles never
reach into each other.  ``blissnode.tap`` builds one per process; tests
build one directly.
"""

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

    def __init__(self, directory=None, clock=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.presence = Presence(clock, on_change=self._presence_changed)
        self.directory = AnchoringDirectory(
            directory if directory is not None else MemoryDirectory(), self.presence)
        self.sessions = SessionRegistry()
        self._presence_listeners = []
        self._streams = {}

    # -- presence ---------------------------------------------------------------

    def on_presence_change(self, listener):
        """Call ``listener(name)`` whenever what others may see of ``name``
        may have changed (the event server's broadcaster)."""
        self._presence_listeners.append(listener)

    def _presence_changed(self, name):
        for listener in list(self._presence_listeners):
            try:
                listener(name)
            except Exception:
                log.failure("presence listener failed for {name}", name=name)

    # -- delivery -----------------------------------------------------------------

    def targets_of(self, name):
        """Deferred firing with every live target of ``name`` in this
        process: those registered for the user, and the sessions the
        directory lists under the name."""
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
        """Hand ``message`` to every live session of ``name``; Deferred firing
        with how many wrote something.  A failing target is logged and
        skipped; the directory's answer may come at any time (it is waited
        for, never dropped)."""
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

    # -- stream hand-off -------------------------------------------------------------

    def offer_stream(self, name, factory):
        """``factory`` serves connections handed over as ``name`` (the event
        server offers ``"event"``)."""
        self._streams[name] = factory

    def stream_factory(self, name):
        """The factory offered as ``name``, or None."""
        return self._streams.get(name)
