"""
:class:`ServerTransportProtocol`: the Twisted adapter the login and the event
servers share for their connections.

The exchange itself is sans-IO (:class:`blissnode.wire.server_session.ServerSide`:
hellos, DH-384 + RC4 or classic, the key exchange, AES records).  This class
only does what needs a reactor and a factory: the connection limit, the
timers, writing, throttled log lines about what a peer sent, and the one
line an operator needs when a client still carries Skype's login key.  A
role subclasses it and implements :meth:`key_exchanged` and
:meth:`record_received`.

The factory provides ``keys`` (``login_decrypt_raw``), ``clock``,
``throttle`` (:class:`~blissnode.logthrottle.LogThrottle`),
``admission`` (:class:`~blissnode.ratelimit.ConnectionAdmission`: per
address, in total, connect rate -- checked before any RSA work),
``connections`` (a counter this class keeps), ``max_unsent`` (bytes
written into a full socket buffer before the connection closes,
:class:`~blissnode.flowcontrol.OutputGuard`),
``handshake_timeout``, ``max_record``, ``new_dh_keypair()`` and
``dh_filler()``, and may provide ``openings`` (the opening variants,
versions' extras first) and ``private_ops`` (a
:class:`~blissnode.privateops.PrivateOps`: the RSA decryption of the session
seed then runs on its threads, off the reactor; without it, inline).
"""

import os

from twisted.internet import defer
from twisted.internet.protocol import Protocol
from twisted.logger import Logger

from blissnode.flowcontrol import OutputGuard, ReadGate
from blissnode.nodelay import set_no_delay
from blissnode.seenseeds import seed_digest
from blissnode.wire.errors import ProtocolError
from blissnode.wire.server_transport import MAX_RECORDS, KeystreamExhausted
from blissnode.wire.server_session import (
    SERVER_OPENINGS,
    DecryptSeed,
    KeyExchanged,
    Record,
    Send,
    ServerSide,
)

__all__ = ["ServerTransportProtocol", "SEED_HINT", "DH_FILLER_SIZE", "random_filler"]

log = Logger()

#: What the operator reads when a session seed does not check: almost always
#: a client still carrying Skype's login key (ERRATA; docs/clients.rst).
SEED_HINT = ("session seed did not check: the client encrypted to another RSA key "
             "(most likely Skype's own login key); patch it with blissnode "
             "patch-client, see docs/clients.rst")

#: GUESS (L2): the real login server put 6 filler bytes between B and its
#: hash; both servers do the same (random bytes).
DH_FILLER_SIZE = 6


def random_filler():
    """The DH-384 filler of one connection."""
    return os.urandom(DH_FILLER_SIZE)


class ServerTransportProtocol(Protocol):
    """One connection to a login or event server (see the module docstring)."""

    #: The role named in log lines.
    LOG_ROLE = "server"
    #: True when the connection reached us through another connection (the
    #: event server carried by a supernode after cmd 7: no hello comes, the
    #: key exchange is the first record; blissnode.streambridge).
    bridged = False
    #: Whether client records must come in order (login: a replay is
    #: refused) or take their seq from the trailer (event).
    STRICT_ORDER = True

    def __init__(self):
        self.session = None
        self.peer = None
        self._timer = None
        self._closed = False
        self._counted = False
        self.gate = None  # ReadGate: who paused reading
        self._fresh = None  # True / False once the seen-seeds store answered
        self._fresh_waiters = []
        self._fresh_waiters_open = False  # a seen-seeds check is under way
        self._output = None  # OutputGuard, when the transport can take a producer

    # -- what the exchange made known (for handlers, logs and tests) ------------

    @property
    def transport_kind(self):
        return None if self.session is None else self.session.transport_kind

    @property
    def seed_ok(self):
        return self.session is not None and self.session.seed_ok

    @property
    def hellos(self):
        return 0 if self.session is None else self.session.hellos

    # -- connection ---------------------------------------------------------------

    def connectionMade(self):
        set_no_delay(self.transport)
        peer = self.transport.getPeer()
        self.peer = getattr(peer, "host", str(peer))
        factory = self.factory
        refusal = factory.admission.admit(self.peer)
        if refusal is not None:
            factory.throttle.warn(self.peer, "full " + refusal, "{role}: {why} ({n} open, "
                                  "{mine} from this address); closing the one from {peer}",
                                  role=self.LOG_ROLE, why=refusal.replace("-", " "),
                                  n=factory.connections,
                                  mine=factory.admission.open_from(self.peer), peer=self.peer)
            self._closed = True
            self.transport.abortConnection()
            return
        factory.connections += 1
        self._counted = True
        self.gate = ReadGate(self.transport)
        if hasattr(self.transport, "registerProducer"):
            self._output = OutputGuard(self.transport, self.gate, self._output_overflow,
                                       max_unsent=getattr(factory, "max_unsent", 1 << 20))
        private_ops = getattr(factory, "private_ops", None)
        self.session = ServerSide(
            factory.keys.login_decrypt_raw if private_ops is None else None,
            dh_keypair=factory.new_dh_keypair(),
            dh_filler=factory.dh_filler(), bridged=self.bridged,
            max_record=factory.max_record, strict_order=self.STRICT_ORDER,
            openings=getattr(factory, "openings", SERVER_OPENINGS))
        self.set_timer(factory.handshake_timeout, "%s request not complete in time"
                       % (self.LOG_ROLE,))

    def connectionLost(self, reason):
        self._closed = True
        if self._counted:
            self.factory.connections -= 1
            self.factory.admission.release(self.peer)
            self._counted = False
        self.cancel_timer()

    def _output_overflow(self):
        self.factory.throttle.warn(self.peer, "unread", "{role}: {peer} does not read what "
                                   "we send ({n} bytes waiting); closing",
                                   role=self.LOG_ROLE, peer=self.peer, n=self._output.unsent)
        self.abort()

    def write(self, data):
        """Write to the client, counted by the output guard."""
        self.transport.write(data)
        if self._output is not None:
            self._output.wrote(len(data))

    def set_timer(self, seconds, why):
        self.cancel_timer()
        if seconds is not None:
            self._timer = self.factory.clock.callLater(seconds, self._timed_out, why)

    def cancel_timer(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _timed_out(self, why):
        self._timer = None
        if not self.finished():
            self.factory.throttle.info(self.peer, "timeout", "{role}: {peer}: {why}; closing",
                                       role=self.LOG_ROLE, peer=self.peer, why=why)
        self.abort()

    def finished(self):
        """True when a timeout is the normal end (nothing left unanswered)."""
        return False

    def abort(self):
        if not self._closed:
            self._closed = True
            self.cancel_timer()
            self.transport.abortConnection()

    def close(self):
        """End cleanly after what was written."""
        if not self._closed:
            self._closed = True
            self.cancel_timer()
            self.transport.loseConnection()

    @property
    def closed(self):
        return self._closed

    # -- writing ---------------------------------------------------------------------

    def send_record(self, plaintext):
        """Seal ``plaintext`` into one data record and write it; False if
        the connection is closed or not keyed yet."""
        if self._closed or self.session is None or not self.session.ready:
            return False
        try:
            data = self.session.seal(plaintext)
        except KeystreamExhausted:
            # No rekeying in the protocol: end the connection before the
            # counter wraps (the client reconnects with a fresh seed).
            self.factory.throttle.info(self.peer, "rekey", "{role}: {peer}: {n} records sent "
                                       "on one key; closing before the counter wraps",
                                       role=self.LOG_ROLE, peer=self.peer, n=MAX_RECORDS)
            self.close()
            return False
        self.write(data)
        return True

    # -- receiving -------------------------------------------------------------------

    def dataReceived(self, data):
        if self._closed or self.session is None:
            return
        self._events(lambda: self.session.receive(data))

    def _seed_opened(self, X, error=None):
        """The pool's answer to ``DecryptSeed``."""
        if self._closed or self.session is None:
            return
        self._events(lambda: self.session.seed_decrypted(X, error))

    def _events(self, produce):
        """Act on the events ``produce()`` returns; bad input closes."""
        try:
            for event in produce():
                if isinstance(event, Send):
                    self.write(event.data)
                elif isinstance(event, KeyExchanged):
                    self._key_exchanged(event)
                elif isinstance(event, Record):
                    self.record_received(event.record)
                elif isinstance(event, DecryptSeed):
                    d = self.factory.private_ops.run(self.factory.keys.login_decrypt_raw,
                                                     event.blob)
                    d.addCallbacks(self._seed_opened,
                                   lambda f: self._seed_opened(None, f.value))
                if self._closed:
                    return
        except ProtocolError as e:
            self.factory.throttle.info(
                self.peer, "bad", "{role}: {peer}: protocol error in state {state}: {error}; "
                "closing", role=self.LOG_ROLE, peer=self.peer, state=self.state_name(),
                error=e)
            self.abort()
        except Exception:
            self.factory.throttle.failure(
                self.peer, "bug", "{role}: {peer}: unexpected error in state {state}; closing",
                role=self.LOG_ROLE, peer=self.peer, state=self.state_name())
            self.abort()

    def state_name(self):
        """For log lines: where the connection is."""
        return self.session.state if self.session is not None else "closed"

    def _key_exchanged(self, event):
        if not event.seed_ok:
            # No oracle towards the client; the operator gets the likely cause.
            if isinstance(event.error, ProtocolError):
                self.factory.throttle.warn(self.peer, "seed", "{role}: {peer}: {hint} "
                                           "({error})", role=self.LOG_ROLE, peer=self.peer,
                                           hint=SEED_HINT, error=event.error)
            else:
                self.factory.throttle.warn(self.peer, "rsa", "{role}: {peer}: RSA decryption "
                                           "failed ({error}); answered as a wrong key",
                                           role=self.LOG_ROLE, peer=self.peer,
                                           error=repr(event.error)[:200])
        elif event.seed is not None:
            self._check_seed(event.seed)
        self.key_exchanged(event)

    def _check_seed(self, seed):
        seen = getattr(self.factory, "seen_seeds", None)
        if seen is None:
            self._fresh = True
            return
        self._fresh_waiters_open = True
        d = defer.maybeDeferred(seen.first_use, seed_digest(seed))

        def failed(f):
            self.factory.throttle.failure(None, "seen-seeds", "{role}: the seen-seeds store "
                                          "failed; refusing the session", f,
                                          role=self.LOG_ROLE)
            return False
        d.addErrback(failed)
        d.addCallback(self._seed_checked)

    def _seed_checked(self, fresh):
        self._fresh = bool(fresh)
        waiters, self._fresh_waiters = self._fresh_waiters, []
        for waiter in waiters:
            waiter.callback(self._fresh)

    def fresh_seed(self):
        """A Deferred firing False when this session's seed had been used
        before (a replayed classic session: close without answering, with
        :meth:`replayed`), else True (issue 17.4)."""
        if self._fresh is not None or not self._fresh_waiters_open:
            # Answered, or no key exchange was checked (a keyed test session).
            return defer.succeed(self._fresh is not False)
        d = defer.Deferred()
        self._fresh_waiters.append(d)
        return d

    def replayed(self):
        """This session's seed was used before: nothing may be answered
        with its keys (the reply would reuse the recorded keystream)."""
        self.factory.throttle.warn(self.peer, "replay", "{role}: {peer} replayed a session "
                                   "seed already used; closing without an answer",
                                   role=self.LOG_ROLE, peer=self.peer)
        self.abort()

    def key_exchanged(self, event):
        """The key exchange arrived (``event.seed_ok``); records follow."""

    def record_received(self, record):
        """One client data record (``self.session.open(record)`` decrypts it)."""
        raise NotImplementedError
