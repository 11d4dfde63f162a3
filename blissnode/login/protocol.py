"""
The login server: :class:`LoginServerProtocol` (one connection) and
:class:`LoginServerFactory` (what every connection shares).

One connection, as the clients run it (login.md 2, 8)::

    transport   classic:  C 16 03 01 00 00  ->  S 17 03 01 00 00, each hello
                          answered (real clients send it twice, ERRATA)
                5.5+:     DH-384, then plain RC4 both ways (login.md 2.2)
    key exch.   C 16 03 01 L {BLOB 8 = RSA-1536(seed X), ...}
                  X = BLOB 8 ^ d mod N_login; checked; AES key = SHA-1s of X
    request     C 17 03 01 L AES-CTR(X=0, seq 0)(header + body lists)
    reply       S 17 03 01 L AES-CTR(X=1, seq 0)(4200 + credential | refusal)

The transport is detected from the first five bytes (the classic hello, or
else the DH-384 public value of a 5.5+ client).  The client's version is
only known from the decrypted request (STRING 0x0D), which selects the
:class:`~blissnode.login.interfaces.ILoginHandlers` through the version
registry.

No oracle.  Once the key-exchange record is well framed, *every* failure of
what is secret -- the RSA blob does not decrypt to a valid seed, the request
does not decrypt or decode -- is answered exactly like a wrong password: the
same refusal (8401, request id 1 when it cannot be read), after the same work
(a dummy credential check through the same portal and store: one scrypt on
the store thread) and the same optional :attr:`~LoginServerFactory.refusal_delay`.
All refusal replies have the same length.  Framing errors (bad hello, bad
record header, oversized record, a record trailer with the wrong ``seq`` --
e.g. a replayed record) do not depend on any secret; they close the
connection.

Everything slow runs off the reactor thread (store and scrypt: the
:class:`~blissnode.store.sqlite.StoreService` thread).  The RSA operations
(a few milliseconds of Python big-integer arithmetic) run inline.

Logs.  A successful login is one line (name, version, transport, peer
address, credential expiry; never the password's MD5 or anything derived
from it).  Lines caused by what a peer sends -- framing errors, timeouts,
refusals, server faults on its request -- go through the factory's
:class:`~blissnode.logthrottle.LogThrottle`: at most one per peer address
and kind per :attr:`~LoginServerFactory.log_interval`, with a count of the
suppressed ones, so a flood of garbage connections cannot flood the log.
"""

from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer, task
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from blissnode.auth.cred import (  # noqa: F401  (LoginMind re-exported)
    ISkypeUser,
    LoginMind,
    SkypeCredentials,
)
from blissnode.auth.limiter import FailedLoginLimiter, address_key
from blissnode.core.versioning import REJECT, BaseOnlyRegistry, Hints, UnknownVersion, openings
from blissnode.login import handlers as login_handlers
from blissnode.login.interfaces import (
    RATE_LIMITED,
    UNKNOWN_USER,
    VERSION_TOO_OLD,
    WRONG_PASSWORD,
    LoginCall,
    LoginRefusal,
)
from blissnode.logthrottle import LogThrottle
from blissnode.ratelimit import ConnectionAdmission, TokenBuckets
from blissnode.seenseeds import MemorySeenSeeds
from blissnode.servertransport import (  # noqa: F401  (SEED_HINT re-exported)
    SEED_HINT,
    ServerTransportProtocol,
    random_filler,
)
from blissnode.wire import dh384
from blissnode.wire.errors import ProtocolError
from blissnode.wire.login_messages import parse_login_request
from blissnode.wire.server_session import MAX_HELLOS  # noqa: F401  (re-exported)
from blissnode.wire.server_session import SERVER_OPENINGS

__all__ = [
    "LoginServerFactory",
    "LoginServerProtocol",
    "LoginMind",
    "MAX_RECORD",
    "HANDSHAKE_TIMEOUT",
    "LINGER_TIMEOUT",
    "LOG_INTERVAL",
]

log = Logger()

#: Largest record payload accepted.  Real login records are 205..300 bytes;
#: a registration with long profile fields stays far below this.
MAX_RECORD = 4096
#: Records that may wait while a request is being processed.
MAX_QUEUED_RECORDS = 4
#: Seconds from connect until the login request must be complete.
HANDSHAKE_TIMEOUT = 30.0
#: GUESS: seconds the connection is kept open after the reply.  The 2006
#: client sent a second request on the same connection and closed it itself
#: 30 s later (login.md 2.1); nobody knows what the server did.
LINGER_TIMEOUT = 60.0
#: Most simultaneous connections; more are closed at once.
MAX_CONNECTIONS = 1024
#: Per source address: connections open at once (a login takes one briefly;
#: kept far below MAX_CONNECTIONS so one address cannot fill the server),
#: new connections per second and their burst (each costs an RSA
#: decryption before any credential is known, issue 17.2 / 17.6).
MAX_PER_ADDRESS = 32
CONNECT_RATE = 10.0
CONNECT_BURST = 40
#: Bytes written into a full socket buffer before the connection closes.
MAX_UNSENT = 1 << 16
#: Accounts one address may create: a burst, then one per this many seconds
#: (issue 17.8: 871 accounts in 30 s from one address before).
REGISTRATION_BURST = 10
REGISTRATION_INTERVAL = 60.0
#: Seconds between two log lines of one kind about one peer address (bad
#: input, timeouts, refusals); the lines in between are counted.
LOG_INTERVAL = 60.0
#: The request id assumed when the request cannot be read (every sample uses 1).
DEFAULT_REQUEST_ID = 1
#: A name no account can have: a dummy check spends one scrypt on it.
_DUMMY_NAME = "-"
_DUMMY_CREDENTIAL = b"\x00" * 16


_Refuse = LoginRefusal


class LoginServerFactory(Factory):
    """Shared state of the login server.

    :param keys: :class:`~blissnode.keys.ServerKeys` (``login_decrypt_raw``,
        ``credential_sign_raw``).
    :param portal: the ``twisted.cred`` portal (:func:`blissnode.auth.cred.make_portal`).
    :param store: the :class:`~blissnode.store.interfaces.IAccountStore`
        registrations create accounts in.
    :param registry: the version policy
        (:class:`~blissnode.core.versioning.IVersionRegistry`, built by
        ``blissnode.versions``); ``None``: every client gets the base
        :class:`~blissnode.login.handlers.LoginHandlers`.
    :param registration_open: whether request 5018 may create accounts.
    :param limiter: a :class:`~blissnode.auth.limiter.FailedLoginLimiter`
        (default: the default limits on ``clock``).
    :param clock: ``IReactorTime`` (timeouts, credential times); the reactor.
    :param new_dh_keypair: returns the DH-384 key pair of a new 5.5+
        connection (tests inject the vectors' one).
    :param dh_filler: returns the filler bytes sent between B and the hash.
    :param refusal_delay: seconds every refusal waits before it is sent.
    :param log_interval: seconds between two log lines of one kind about one
        peer address (:attr:`throttle`, a
        :class:`~blissnode.logthrottle.LogThrottle` on ``clock``).
    :param max_per_address: connections open at once from one address;
        ``connect_rate`` / ``connect_burst``: new ones per second from one
        address (:class:`~blissnode.ratelimit.ConnectionAdmission`).
    :param max_unsent: bytes written into a full socket buffer before the
        connection closes.
    :param registration_burst: accounts one address may create at once,
        then one per ``registration_interval`` seconds.
    :param seen_seeds: :class:`~blissnode.seenseeds.ISeenSeeds` shared by
        the login and event servers of every process (default: in memory).
    """

    protocol = None  # set below
    noisy = False

    def __init__(self, keys, portal, store, registry=None, registration_open=True,
                 limiter=None, clock=None, new_dh_keypair=None, dh_filler=None,
                 handshake_timeout=HANDSHAKE_TIMEOUT, linger_timeout=LINGER_TIMEOUT,
                 max_connections=MAX_CONNECTIONS, max_record=MAX_RECORD,
                 refusal_delay=0.0, log_interval=LOG_INTERVAL,
                 max_per_address=MAX_PER_ADDRESS, connect_rate=CONNECT_RATE,
                 connect_burst=CONNECT_BURST, max_unsent=MAX_UNSENT, seen_seeds=None,
                 registration_burst=REGISTRATION_BURST,
                 registration_interval=REGISTRATION_INTERVAL):
        if clock is None:
            from twisted.internet import reactor as clock
        self.keys = keys
        self.portal = portal
        self.store = store
        self.registry = registry if registry is not None else BaseOnlyRegistry(
            {login_handlers.ROLE: login_handlers.LoginHandlers})
        self.registration_open = registration_open
        #: How a connection may open (versions' extra variants first).
        self.openings = openings(self.registry, "server_openings", SERVER_OPENINGS)
        self.clock = clock
        self.limiter = limiter if limiter is not None else FailedLoginLimiter(clock)
        self.new_dh_keypair = new_dh_keypair or dh384.KeyPair.generate
        self.dh_filler = dh_filler or random_filler
        self.handshake_timeout = handshake_timeout
        self.linger_timeout = linger_timeout
        self.max_connections = max_connections
        self.admission = ConnectionAdmission(clock.seconds, max_per_address, max_connections,
                                             connect_rate, connect_burst)
        self.max_unsent = max_unsent
        #: Registrations per address (request 5018).
        self.registrations = TokenBuckets(1.0 / registration_interval, registration_burst,
                                          clock.seconds)
        #: Session seeds already used (classic replays, issue 17.4).
        self.seen_seeds = seen_seeds if seen_seeds is not None else MemorySeenSeeds(clock.seconds)
        self.max_record = max_record
        self.refusal_delay = refusal_delay
        self.throttle = LogThrottle(clock.seconds, log_interval, logger=log)
        self.connections = 0
        self._instances = {}

    # -- versions -----------------------------------------------------------

    def handlers_for(self, version_text, request_code):
        """``(handlers instance, version label)`` for a client that sent
        ``version_text`` (STRING 0x0D, may be ``None``) with ``request_code``.

        Raises :class:`_Refuse` (VERSION_TOO_OLD) for a version we do not
        serve.  A request without a version string is served as the
        registry's provisional choice (by its request code,
        :mod:`blissnode.versions.policy`).
        """
        registry = self.registry
        if version_text is None:
            version = registry.provisional(Hints("login", request_code=request_code))
            label = version.label
        else:
            try:
                # Too old is refused here (the supernode serves it as the oldest).
                resolution = registry.resolve_text(version_text, older=REJECT)
            except ValueError:
                raise _Refuse(VERSION_TOO_OLD, "unreadable version string %r"
                              % (version_text[:40],))
            except UnknownVersion as e:
                raise _Refuse(VERSION_TOO_OLD, str(e))
            version = resolution.version
            label = version.label if resolution.exact else "%s as %s" % (
                ".".join(map(str, resolution.requested)), version.label)
        try:
            cls = registry.handlers(version, login_handlers.ROLE)
        except UnknownVersion:
            cls = login_handlers.LoginHandlers  # no version module defines "login"
        instance = self._instances.get(cls)
        if instance is None:
            instance = self._instances[cls] = cls()
        return instance, label

    def base_handlers(self):
        """Handlers used before the version is known (refusals of unreadable requests)."""
        cls = login_handlers.LoginHandlers
        instance = self._instances.get(cls)
        if instance is None:
            instance = self._instances[cls] = cls()
        return instance


class LoginServerProtocol(ServerTransportProtocol):
    """One login connection (see the module docstring for the exchange):
    the shared server transport, then one request and its answer."""

    LOG_ROLE = "login"

    # states after the transport
    REQUEST = "request"
    BUSY = "busy"
    DONE = "done"

    def __init__(self):
        ServerTransportProtocol.__init__(self)
        self.state = None
        self._queued = []
        self.result = None  # "ok" or the refusal reason, for tests and logs

    def state_name(self):
        return self.state or ServerTransportProtocol.state_name(self)

    def finished(self):
        return self.state == self.DONE

    def key_exchanged(self, event):
        self.state = self.REQUEST

    def record_received(self, record):
        if self.state == self.REQUEST:
            _seq, plaintext = self.session.open(record)  # a replay -> ChecksumError
            self.state = self.BUSY
            self._handle(plaintext)
        elif self.state == self.BUSY:
            if len(self._queued) >= MAX_QUEUED_RECORDS:
                raise ProtocolError("too many records while the login is processed")
            self._queued.append(record)
        else:  # DONE: the login is answered
            self._after_reply(record)

    def _after_reply(self, record):
        """GUESS: records after the reply (the 1.2 client sent one more
        request, content unknown) are checked for the right ``seq`` and
        logged, not answered."""
        _seq, plaintext = self.session.open(record)
        self.factory.throttle.info(self.peer, "after-reply", "{role}: {peer}: ignored a "
                                   "further request of {n} bytes after the reply",
                                   role=self.LOG_ROLE, peer=self.peer, n=len(plaintext))

    # -- the request ------------------------------------------------------------------

    def _handle(self, plaintext):
        d = self.fresh_seed()
        d.addCallback(lambda fresh: self._process(plaintext) if fresh else self.replayed())
        d.addCallbacks(self._send_reply, self._processing_failed)

    @defer.inlineCallbacks
    def _process(self, plaintext):
        """Decide the answer; returns the reply plaintext."""
        factory = self.factory
        seq, name, handlers = DEFAULT_REQUEST_ID, None, factory.base_handlers()
        try:
            if not self.seed_ok:
                raise _Refuse(WRONG_PASSWORD, "session seed did not check", count_failure=True)
            generic = parse_login_request(plaintext)
            seq, name = generic.header.seq, generic.header.name
            handlers, version = factory.handlers_for(generic.body.version, generic.header.code)
            request = handlers.parse_request(plaintext)
            kind = handlers.request_kind(request)
            if kind is None:
                raise _Refuse(WRONG_PASSWORD, "request code %d is not used by %s"
                              % (request.header.code, version), count_failure=True)
            if not handlers.accepts_transport(self.transport_kind):
                raise _Refuse(VERSION_TOO_OLD, "version %s over the %s transport"
                              % (version, self.transport_kind))
            if self.transport_kind != handlers.transport:
                factory.throttle.info(self.peer, "transport", "login: {peer}: version "
                                      "{version} arrived over the {transport} transport",
                                      peer=self.peer, version=version,
                                      transport=self.transport_kind)
            reply = yield self._serve(handlers, version, request, kind)
            return reply
        except ProtocolError as e:
            refuse = _Refuse(WRONG_PASSWORD, "unreadable login request: %s" % (e,),
                             count_failure=True)
        except _Refuse as r:
            refuse = r
        if refuse.name is None:
            refuse.name = name
        reply = yield self._refusal(refuse, seq, handlers)
        return reply

    @defer.inlineCallbacks
    def _serve(self, handlers, version, request, kind):
        """The limits, then the handlers' answer (:meth:`ILoginHandlers.sign_in`
        or ``register``, one request -> one answer)."""
        factory = self.factory
        header = request.header
        decision = factory.limiter.check(self.peer, header.name)
        if not decision.allowed:
            raise _Refuse(RATE_LIMITED, "rate limited per %s (retry in %.0f s)"
                          % (decision.reason, decision.retry_after))
        register = kind == login_handlers.KIND_REGISTER
        if register and factory.registration_open and \
                factory.registrations.retry_after(address_key(self.peer)) > 0:
            raise _Refuse(RATE_LIMITED, "too many registrations from this address")
        call = LoginCall(request, self.peer, version, self.transport_kind, factory)
        method = handlers.register if kind == login_handlers.KIND_REGISTER else handlers.sign_in
        answer = yield defer.maybeDeferred(method, call)
        if register:
            factory.registrations.charge(address_key(self.peer))  # an account was created
        factory.limiter.succeeded(self.peer, header.name)
        self.result = "ok"
        credential = answer.credential
        log.info("login: {name} signed in{registered}: version {version}, {transport} "
                 "transport, from {peer}; credential valid until minute {expiry}",
                 name=credential.name, version=version, transport=self.transport_kind,
                 peer=self.peer, expiry=credential.expiry,
                 registered=" (new account)" if kind == login_handlers.KIND_REGISTER else "")
        return answer.plaintext

    @defer.inlineCallbacks
    def _refusal(self, refuse, seq, handlers):
        factory = self.factory
        if refuse.reason in (WRONG_PASSWORD, UNKNOWN_USER) and not refuse.checked:
            decision = factory.limiter.check(self.peer, refuse.name)
            if not decision.allowed:
                # Issue 17.6: nothing unauthenticated costs an scrypt once
                # its address (or its guesses at the name) is limited --
                # answered as a readable request would be, rate limited.
                refuse = _Refuse(RATE_LIMITED, "%s; rate limited per %s (retry in %.0f s)"
                                 % (refuse.why, decision.reason, decision.retry_after),
                                 name=refuse.name, count_failure=refuse.count_failure)
        if refuse.reason in (WRONG_PASSWORD, UNKNOWN_USER) and not refuse.checked:
            # Spend what a real check spends: one scrypt through the same
            # portal and store (the name can never exist).
            try:
                yield factory.portal.login(
                    SkypeCredentials(_DUMMY_NAME, _DUMMY_CREDENTIAL), None, ISkypeUser)
            except UnauthorizedLogin:
                pass
        if refuse.count_failure:
            factory.limiter.failed(self.peer, refuse.name)
        self.result = refuse.reason
        factory.throttle.info(self.peer, "refused " + refuse.reason,
                              "login: refused {name} from {peer}: {why} (answered {reason})",
                              name=refuse.name if refuse.name is not None else "?",
                              peer=self.peer, why=refuse.why, reason=refuse.reason)
        if factory.refusal_delay:
            yield task.deferLater(factory.clock, factory.refusal_delay, lambda: None)
        return handlers.build_refusal(seq, refuse.reason)

    def _send_reply(self, plaintext):
        if self.closed or plaintext is None:
            return
        self.send_record(plaintext)
        self.state = self.DONE
        self.set_timer(self.factory.linger_timeout, "linger time over")
        queued, self._queued = self._queued, []
        try:
            for record in queued:
                self._after_reply(record)
        except ProtocolError as e:
            self.factory.throttle.info(self.peer, "bad", "{role}: {peer}: protocol error "
                                       "after the reply: {error}; closing",
                                       role=self.LOG_ROLE, peer=self.peer, error=e)
            self.abort()

    def _processing_failed(self, failure):
        self.factory.throttle.failure(self.peer, "fault", "login: {peer}: cannot answer the "
                                      "login request (server fault); closing", failure,
                                      peer=self.peer)
        self.abort()


LoginServerFactory.protocol = LoginServerProtocol
