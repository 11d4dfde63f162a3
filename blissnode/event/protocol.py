"""
The event server: :class:`EventService` (what every connection shares:
stores, presence, broadcasts), :class:`EventServerFactory` and
:class:`EventServerProtocol` (one connection).

One connection (event.md 2-5)::

    transport   as the login server: classic hello, or DH-384 + plain RC4 (5.5+)
    key exch.   C 16 03 01 L {BLOB 8 = RSA-1536(seed)} -- the login key N_login
    requests    C 17 03 01 L AES-CTR(X=0, seq from the trailer)(header + body)
    replies     S 17 03 01 L AES-CTR(X=1, seq 0, 1, 2, ...)({INT 1, INT 2} + body)
    pushes      S 17 03 01 ... ({INT 0 = 6190/6191, INT 2 = 0} + body)   GUESS

The protocol is the login server's (:class:`~blissnode.login.protocol.LoginServerProtocol`:
the same transport detection, DH-384, RSA seed and AES key code) with the
one-request state machine replaced by a session: any number of request
records, answered in order, one reply record each.

* **Client record numbers are taken from each record's trailer** and
  repeats are accepted (notes 3: FakeSkype sends every record with seq 0
  and worked against the real server).  The server numbers its own
  records 0, 1, 2, ... (VERIFIED on the 2006 capture).
* **Every request is authenticated** by the name and MD5 credential of its
  header (event.md 3) through the ``twisted.cred`` portal, with the login
  server's failed-login limits.  A connection remembers a pair that
  checked (for :attr:`EventServerFactory.auth_ttl` seconds) and compares
  later requests' pairs with it in constant time instead of spending an
  scrypt on each of the hundreds of 6024 a sync sends.  Data is only ever
  read or changed for the authenticated name (``call.user``); the names in
  the body are never trusted for that.
* **Bounded**: records up to :attr:`~EventServerFactory.max_record` bytes;
  while more than ``pause_at`` requests wait, the connection stops reading
  (TCP back-pressure); more than ``max_pending`` waiting (one read of a few
  hundred kilobytes) closes it; ``max_strikes`` refused requests
  (malformed, wrong credential) close it; idle connections close after
  ``idle_timeout``.
* **Logs**: lines caused by what a peer sends (framing errors, timeouts,
  refused requests, failures on its requests) go through the factory's
  :class:`~blissnode.logthrottle.LogThrottle` -- at most one per peer
  address and kind per ``log_interval``, with a count of the suppressed
  ones -- so a flood of garbage connections cannot flood the log.
"""

import hmac
import itertools

import attr
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from blissnode.auth.cred import ISkypeUser, LoginMind, SkypeCredentials, make_portal
from blissnode.auth.limiter import FailedLoginLimiter
from blissnode.core.delivery import InboxChanged, PresenceChanged, SessionInfo
from blissnode.core.hub import Core
from blissnode.core.presence import EVENT_ANCHOR
from blissnode.core.versioning import REJECT, BaseOnlyRegistry, Hints, UnknownVersion, openings
from blissnode.event import codes as C
from blissnode.event.handlers import ROLE, EventHandlers
from blissnode.event.interfaces import EventRefusal
from blissnode.event.presence import Broadcaster
from blissnode.flowcontrol import FairInbox, InboxFull
from blissnode.logthrottle import LogThrottle
from blissnode.ratelimit import ConnectionAdmission
from blissnode.seenseeds import MemorySeenSeeds
from blissnode.servertransport import ServerTransportProtocol, random_filler
from blissnode.store.directory import normalize_name
from blissnode.wire import dh384
from blissnode.wire.errors import ProtocolError
from blissnode.wire.server_session import SERVER_OPENINGS

log = Logger()

__all__ = ["EventService", "EventCall", "EventServerFactory", "EventServerProtocol"]

#: Defaults (see :class:`EventServerFactory`).
HANDSHAKE_TIMEOUT = 30.0
#: GUESS (E9): the 6.16 client keeps the connection open, the 1.2 client
#: closed it itself after 30 s; nobody knows the real server's timeout.
IDLE_TIMEOUT = 600.0
MAX_CONNECTIONS = 4096
#: Per source address: connections open at once, new ones per second and
#: their burst (issue 17.2: kept far below MAX_CONNECTIONS).
MAX_PER_ADDRESS = 64
CONNECT_RATE = 10.0
CONNECT_BURST = 40
#: Bytes written into a full socket buffer (replies, pushes to a client
#: that does not read) before the connection closes (issue 17.3).
MAX_UNSENT = 1 << 20
#: Records run per reactor turn before the other connections get theirs.
RECORDS_PER_TURN = 8
#: Records: a 6024 is ~90 bytes, a 6110 at most MAX_MESSAGE_BYTES + ~100.
MAX_RECORD = 16384
PAUSE_AT = 32
MAX_PENDING = 2048
MAX_STRIKES = 8
AUTH_TTL = 300.0
#: Seconds between two log lines of one kind about one peer address.
LOG_INTERVAL = 60.0
#: Distinct users one connection may authenticate as.
MAX_USERS_PER_CONNECTION = 4

_connection_ids = itertools.count(1)


@attr.s(slots=True)
class EventCall(object):
    """One authenticated request (:class:`~blissnode.event.interfaces.IEventCall`)."""

    user = attr.ib()
    request = attr.ib()
    service = attr.ib()
    connection = attr.ib()
    handlers = attr.ib()
    version = attr.ib()

    @property
    def items(self):
        return self.request.items

    @property
    def request_id(self):
        return self.request.header.seq


class EventService(object):
    """What every event connection shares.

    :param accounts: ``IAccountStore`` + ``IAccountSearch`` (``StoreService.accounts``).
    :param contacts: ``IContactStore``; :param messages: ``IMessageStore``.
    :param portal: the ``twisted.cred`` portal (blissnode.auth.cred.make_portal).
    :param limiter: a :class:`FailedLoginLimiter` (share the login server's).
    :param registry: the version registry (role ``"event"``).
    :param core: the :class:`~blissnode.core.hub.Core` shared with the other
        roles (presence, the online directory that is searched, delivery to
        a watcher's sessions in every role); a private one by default.
    :param broadcast: keyword arguments of :class:`Broadcaster` (``delay``,
        ``min_interval``, ``max_pending``, ``max_fanout``).
    """

    def __init__(self, accounts, contacts, messages, portal, clock=None, limiter=None,
                 registry=None, core=None, broadcast=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.accounts = accounts
        self.contacts = contacts
        self.messages = messages
        self.portal = portal
        self.clock = clock
        self.limiter = limiter if limiter is not None else FailedLoginLimiter(clock)
        self.registry = registry if registry is not None else BaseOnlyRegistry(
            {ROLE: EventHandlers})
        self.core = core if core is not None else Core(clock=clock)
        self.presence = self.core.presence
        self.core.on_presence_change(self._presence_changed)
        self.broadcaster = Broadcaster(self.presence, contacts.watchers, self.deliver_here,
                                       clock, deliver_one=self.deliver, **(broadcast or {}))
        self._instances = {}

    @classmethod
    def from_store(cls, store_service, portal=None, **kw):
        """Over a :class:`~blissnode.store.sqlite.StoreService`."""
        if portal is None:
            portal = make_portal(store_service.accounts)
        return cls(store_service.accounts, store_service.contacts, store_service.messages,
                   portal, **kw)

    @property
    def directory(self):
        return self.core.directory

    # -- versions -------------------------------------------------------------------

    def handlers_instance(self, cls, version=None):
        key = (cls, getattr(version, "label", None))
        instance = self._instances.get(key)
        if instance is None:
            instance = self._instances[key] = cls(version)
        return instance

    def handlers_for_version(self, version, label=None):
        """``(handlers, label)`` for a registered ``version``."""
        try:
            cls = self.registry.handlers(version, ROLE)
        except UnknownVersion:
            cls = EventHandlers  # no version module defines "event"
        return self.handlers_instance(cls, version), label or version.label

    def handlers_for_text(self, text):
        """``(handlers, label)`` serving a client whose version string is
        ``text``; EventRefusal("version_too_old") if none does."""
        try:
            # Too old is refused here (the supernode serves it as the oldest).
            resolution = self.registry.resolve_text(text, older=REJECT)
        except ValueError:
            raise EventRefusal("version_too_old", "unreadable version string %r"
                               % (text[:40],), strike=True)
        except UnknownVersion as e:
            raise EventRefusal("version_too_old", str(e))
        version = resolution.version
        label = version.label if resolution.exact else "%s as %s" % (
            ".".join(map(str, resolution.requested)), version.label)
        return self.handlers_for_version(version, label)

    # -- connections and presence ------------------------------------------------------

    def signed_in(self, name, connection):
        """``name`` authenticated on ``connection``: an event anchor, and a
        delivery target of the core."""
        self.core.sessions.add_user(connection, name)
        self.presence.anchor(name, (EVENT_ANCHOR, connection.connection_id))

    def signed_out(self, name, connection):
        self.core.sessions.forget_user(connection, name)
        self.presence.release(name, (EVENT_ANCHOR, connection.connection_id))

    def connections_of(self, name):
        return self.core.sessions.for_user(name, role="event")

    def _presence_changed(self, name):
        self.broadcaster.changed(name)

    def deliver(self, watcher, state):
        """Hand ``state`` to every session of ``watcher`` in every role (event
        connections, supernode sessions) and every process, through the core;
        a Deferred of the number of records / packets written here."""
        return self.core.deliver(watcher, PresenceChanged(state))

    def deliver_here(self, watcher, state):
        """:meth:`deliver` to this process's sessions only: a broadcast is
        fanned out by every process to its own sessions (each hears of every
        change, :mod:`blissnode.core.presence`)."""
        return self.core.deliver_here(watcher, PresenceChanged(state))

    def notify_inbox(self, name):
        """Tell ``name``'s sessions (in any process) that something was
        queued for them."""
        if not self.presence.connected(name):
            return defer.succeed(0)
        d = self.messages.counts(normalize_name(name))
        d.addCallback(lambda counts: self.core.deliver(name, InboxChanged(counts.count)))
        d.addErrback(lambda f: log.failure("inbox notification failed", f))
        return d

    def authorized(self, a, b):
        """``a`` and ``b`` now see each other: exchange their states."""
        self.broadcaster.tell(a, b)
        self.broadcaster.tell(b, a)

    def unauthorized(self, a, b):
        """``a`` and ``b`` no longer see each other."""
        self.broadcaster.hide(b, a)
        self.broadcaster.hide(a, b)

    @defer.inlineCallbacks
    def visible_state(self, viewer, name):
        """``name``'s state as ``viewer`` may see it: the real one only for
        a mutually authorised contact, offline for everyone else."""
        watchers = yield self.contacts.watchers(normalize_name(name))
        if normalize_name(viewer) in watchers:
            return self.presence.state(name)
        return C.PresenceState(normalize_name(name), C.STATUS_OFFLINE)

    @defer.inlineCallbacks
    def search_online(self, text, mode, limit):
        """Names in the online directory matching ``text``."""
        directory = self.directory
        if directory is None:
            return []
        entries = yield directory.search(text, mode=mode, limit=limit)
        return sorted({normalize_name(e.user_name) for e in entries if e.user_name})

    def start(self):
        self.broadcaster.start()

    def stop(self):
        self.broadcaster.stop()


class EventServerFactory(Factory):
    """Shared state of the event listener.

    :param keys: :class:`~blissnode.keys.ServerKeys` (the *login* key
        decrypts the session seed, event.md 2).
    :param service: the :class:`EventService`.
    :param log_interval: seconds between two log lines of one kind about one
        peer address (:attr:`throttle`).
    :param max_per_address: connections open at once from one address;
        ``connect_rate`` / ``connect_burst``: new ones per second
        (:class:`~blissnode.ratelimit.ConnectionAdmission`).
    :param max_unsent: bytes written into a full socket buffer before the
        connection closes; ``records_per_turn``: requests one connection
        runs per reactor turn (:mod:`blissnode.flowcontrol`).
    :param seen_seeds: :class:`~blissnode.seenseeds.ISeenSeeds` (default:
        in memory; share the login server's).
    """

    protocol = None  # set below
    noisy = False

    def __init__(self, keys, service, clock=None, new_dh_keypair=None, dh_filler=None,
                 handshake_timeout=HANDSHAKE_TIMEOUT, idle_timeout=IDLE_TIMEOUT,
                 max_connections=MAX_CONNECTIONS, max_record=MAX_RECORD, pause_at=PAUSE_AT,
                 max_pending=MAX_PENDING, max_strikes=MAX_STRIKES, auth_ttl=AUTH_TTL,
                 log_interval=LOG_INTERVAL, max_per_address=MAX_PER_ADDRESS,
                 connect_rate=CONNECT_RATE, connect_burst=CONNECT_BURST,
                 max_unsent=MAX_UNSENT, records_per_turn=RECORDS_PER_TURN,
                 seen_seeds=None):
        self.keys = keys
        self.service = service
        self.clock = clock if clock is not None else service.clock
        self.new_dh_keypair = new_dh_keypair or dh384.KeyPair.generate
        self.dh_filler = dh_filler or random_filler
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.admission = ConnectionAdmission(self.clock.seconds, max_per_address,
                                             max_connections, connect_rate, connect_burst)
        self.max_unsent = max_unsent
        self.records_per_turn = records_per_turn
        #: Session seeds already used (classic replays, issue 17.4).
        self.seen_seeds = seen_seeds if seen_seeds is not None else MemorySeenSeeds(
            self.clock.seconds)
        self.max_record = max_record
        self.pause_at = pause_at
        self.max_pending = max_pending
        self.max_strikes = max_strikes
        self.auth_ttl = auth_ttl
        self.refusal_delay = 0.0
        self.throttle = LogThrottle(self.clock.seconds, log_interval, logger=log)
        self.connections = 0
        #: How a connection may open (versions' extra variants first).
        self.openings = openings(service.registry, "server_openings", SERVER_OPENINGS)

    @property
    def portal(self):
        return self.service.portal

    @property
    def limiter(self):
        return self.service.limiter

    def handlers_for(self, version_text, transport_kind):
        """``(handlers, label)`` for a request; one without a version string
        is served as the registry's provisional choice for its transport
        (:mod:`blissnode.versions.policy`)."""
        service = self.service
        if version_text is None:
            version = service.registry.provisional(Hints("event", transport=transport_kind))
            return service.handlers_for_version(version)
        return service.handlers_for_text(version_text)

    def startFactory(self):
        self.service.start()

    def stopFactory(self):
        self.service.stop()


class EventServerProtocol(ServerTransportProtocol):
    """One event-server connection (module docstring): the shared server
    transport, then any number of requests; also a delivery target of the
    core (:class:`~blissnode.core.delivery.IDeliveryTarget`)."""

    LOG_ROLE = "event"

    @property
    def session_id(self):
        """``e<n>`` after this process's tag (unique across processes)."""
        if self._session_id is None:
            factory = getattr(self, "factory", None)
            core = getattr(getattr(factory, "service", None), "core", None)
            self._session_id = "%se%d" % (getattr(core, "instance", ""), self.connection_id)
        return self._session_id

    #: Client record numbers come from each record's trailer (FakeSkype
    #: sends every record with seq 0, notes 3).
    STRICT_ORDER = False
    role = "event"

    def __init__(self):
        ServerTransportProtocol.__init__(self)
        self.connection_id = next(_connection_ids)
        self._session_id = None
        self.handlers = None
        self.version = None
        self.users = set()
        self.signed_in_at = None
        self.requests = 0
        self.pushes = 0
        self._auth = {}
        self._strikes = 0
        self._inbox = None  # FairInbox, once connected

    # -- connection ---------------------------------------------------------------------

    def connectionMade(self):
        ServerTransportProtocol.connectionMade(self)
        if self.gate is not None:
            factory = self.factory
            self._inbox = FairInbox(factory.clock, self.gate, factory.records_per_turn,
                                    factory.pause_at, factory.max_pending)

    def connectionLost(self, reason):
        if self._inbox is not None:
            self._inbox.close()
        ServerTransportProtocol.connectionLost(self, reason)
        users, self.users = self.users, set()
        for name in users:
            self.factory.service.signed_out(name, self)
        self.factory.service.core.sessions.remove(self)

    def describe(self):
        return SessionInfo(self.session_id, self.role, sorted(self.users),
                           self.peer, self.handlers.version.label
                           if self.handlers is not None and self.handlers.version else None,
                           self.signed_in_at)

    def close_session(self, reason):
        log.info("event: connection {sid} from {peer} ended: {reason}",
                 sid=self.session_id, peer=self.peer, reason=reason)
        self.close()

    def deliver(self, message):
        """:class:`~blissnode.core.delivery.IDeliveryTarget`: a presence change
        or an inbox count as this version's push record."""
        handlers = self.handlers_or_default()
        if isinstance(message, PresenceChanged):
            data = handlers.presence_push(message.state)
        elif isinstance(message, InboxChanged):
            data = handlers.inbox_push(message.pending)
        else:
            return False
        return data is not None and self.push(data)

    def handlers_or_default(self):
        if self.handlers is not None:
            return self.handlers
        return self.factory.service.handlers_instance(EventHandlers)

    def push(self, plaintext):
        """Write a server-initiated record (a broadcast); False if closed."""
        if not self.send_record(plaintext):
            return False
        self.pushes += 1
        return True

    def finished(self):
        # An idle connection that was answered ends normally.
        return self.requests > 0 and (self._inbox is None or len(self._inbox) == 0)

    # -- records -----------------------------------------------------------------------------

    def record_received(self, record):
        # Lenient: seq recovered from the trailer, repeats accepted (notes 3).
        _seq, plaintext = self.session.open(record)
        try:
            self._inbox.put(self._serve, plaintext)
        except InboxFull as e:
            raise ProtocolError("%s: the client sends faster than it reads" % (e,))

    def _serve(self, plaintext):
        d = self.fresh_seed()
        d.addCallback(lambda fresh: self._process(plaintext) if fresh else self._replayed())
        d.addCallback(self._send)
        d.addErrback(self._server_fault)
        return d

    def _replayed(self):
        self.replayed()
        return None, True

    def _send(self, reply):
        plaintext, close = reply
        if self.closed:
            return
        if plaintext is not None:
            self.send_record(plaintext)
        if close:
            self.close()
        elif self.users:
            self.set_timer(self.factory.idle_timeout, "idle")
        else:
            # Not signed in yet: an unauthenticated connection only holds
            # an fd for the handshake timeout (issue 17.2).
            self.set_timer(self.factory.handshake_timeout, "not signed in in time")

    def _server_fault(self, failure):
        self.factory.throttle.failure(self.peer, "fault", "event: {peer}: cannot answer a "
                                      "request (server fault); closing", failure,
                                      peer=self.peer)
        self.abort()

    # -- one request ----------------------------------------------------------------------

    @defer.inlineCallbacks
    def _process(self, plaintext):
        """``(reply plaintext, close after it?)``."""
        factory = self.factory
        handlers = self.handlers_or_default()
        request_id = 0
        request_code = None
        self.requests += 1
        try:
            if not self.seed_ok:
                raise EventRefusal("auth_failed", "the session seed did not check", strike=True)
            try:
                request = handlers.parse_request(plaintext)
            except ProtocolError as e:
                raise EventRefusal("malformed", "unreadable request: %s" % (e,), strike=True)
            request_id = request.header.seq
            request_code = request.header.code
            handlers, label = factory.handlers_for(request.version or self.version,
                                                   self.transport_kind)
            if request.version:
                self.version = request.version
            self.handlers = handlers
            user = yield self._authenticate(request, label)
            method = getattr(handlers, handlers.method_for(request.header.code))
            call = EventCall(user, request, factory.service, self, handlers, label)
            items = yield defer.maybeDeferred(method, call)
            return handlers.build_success(request_id, items), False
        except EventRefusal as refusal:
            close = not self.seed_ok
            if refusal.strike:
                self._strikes += 1
                close = close or self._strikes >= factory.max_strikes
            answer = handlers.refusal_answer(request_code, refusal.reason)
            close = close or answer is None
            factory.throttle.info(
                self.peer, "refused " + refusal.reason,
                "event: refused request {rid} from {peer}: {why} ({reason}){closing}",
                rid=request_id, peer=self.peer, why=refusal.why, reason=refusal.reason,
                closing="; closing" if close else "")
            if answer is None:
                return None, True
            return handlers.build_refusal(request_id, answer), close
        except Exception:
            factory.throttle.failure(self.peer, "bug", "event: {peer}: request {rid} failed",
                                     peer=self.peer, rid=request_id)
            answer = handlers.refusal_answer(request_code, "server_error")
            if answer is None:
                return None, True
            return handlers.build_refusal(request_id, answer), False

    @defer.inlineCallbacks
    def _authenticate(self, request, label):
        """The authenticated (lower-case) name for the request's header."""
        factory = self.factory
        header = request.header
        name = header.name
        key = name.lower() if isinstance(name, str) else None
        cached = self._auth.get(key)
        now = factory.clock.seconds()
        if cached is not None and now < cached[1] and hmac.compare_digest(
                cached[0], bytes(header.credential)):
            return key
        decision = factory.limiter.check(self.peer, name)
        if not decision.allowed:
            raise EventRefusal("rate_limited", "rate limited per %s (retry in %.0f s)"
                               % (decision.reason, decision.retry_after))
        mind = LoginMind(self.peer, label, self.transport_kind)
        try:
            _iface, avatar, logout = yield factory.portal.login(
                SkypeCredentials(name, bytes(header.credential)), mind, ISkypeUser)
        except UnauthorizedLogin as e:
            factory.limiter.failed(self.peer, name)
            raise EventRefusal("auth_failed", "credential refused: %s" % (e,), strike=True)
        logout()
        factory.limiter.succeeded(self.peer, name)
        user = avatar.name
        if user not in self._auth and len(self._auth) >= MAX_USERS_PER_CONNECTION:
            raise EventRefusal("busy", "too many users on one connection")
        self._auth[user] = (bytes(header.credential), now + factory.auth_ttl)
        if user not in self.users and not self.closed:
            self.users.add(user)
            if self.signed_in_at is None:
                self.signed_in_at = factory.clock.seconds()
            factory.service.signed_in(user, self)
            log.info("event: {user} signed in from {peer} ({version}, {transport})",
                     user=user, peer=self.peer, version=label, transport=self.transport_kind)
        return user


EventServerFactory.protocol = EventServerProtocol
