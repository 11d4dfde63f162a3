"""
:class:`SupernodeNode`: the state and services one running supernode shares
between its listeners and handlers (``request.node``).

* configuration (:class:`SupernodeConfig`): the public IPv4 address that
  keys UDP, ports, limits, timers;
* the online directory (:class:`~blissnode.store.directory.IOnlineDirectory`)
  and the live TCP sessions (by session id, by client IP);
* the :class:`~blissnode.versions.registry.VersionRegistry` and one handler
  instance per handler class;
* UDP sending for handlers that run on TCP (cmd 43, forwarded push replies)
  and the connect-back of the firewall test;
* the push bookkeeping (:class:`PushTable`);
* the seed pool of the UDP send path, refreshed in the background;
* clock/reactor and random number generator, injectable for tests.
"""

import random

import attr
from twisted.internet import defer, task
from twisted.logger import Logger

from blissnode.core.hub import Core
from blissnode.core.versioning import NEAREST, BaseOnlyRegistry, openings
from blissnode.ratelimit import ConnectionAdmission, TokenBuckets
from blissnode.store.directory import OnlineEntry
from blissnode.supernode.handlers import SupernodeHandlers
from blissnode.supernode.handlersets import HandlerSets
from blissnode.supernode.publishing import Publications
from blissnode.supernode.relay import RelayLimits, RelayTable
from blissnode.supernode.sessions import SessionTable
from blissnode.supernode.limits import Counters, ExpiringDict, LogThrottle
from blissnode.supernode.tcp import connect_back
from blissnode.wire.objects import NetAddr
from blissnode.wire.peer_session import PEER_OPENINGS
from blissnode.wire.udp import FreshSeeds, SeedPool

log = Logger()

ROLE = "supernode"


@attr.s(slots=True)
class SupernodeConfig(object):
    """Everything an operator may tune (``blissnode.tap`` fills it from the
    command line; tests build it directly).  Times in seconds."""

    #: Our public IPv4 address: the DST of every datagram clients send us and
    #: the SRC of every datagram we send (udp.md 4, 6).  Default loopback, for
    #: tests; a deployment must set it.
    public_ip = attr.ib(default="127.0.0.1")
    #: Main port (UDP and TCP share it, udp.md 9.1); filled from the
    #: listeners when they bind.
    udp_port = attr.ib(default=0)
    tcp_port = attr.ib(default=0)
    #: Per source IP: TCP sessions still in the handshake; UDP datagrams per
    #: second (token bucket of ``udp_burst``).
    max_half_open = attr.ib(default=16)
    #: Per source IP: TCP sessions open at once (any phase), new ones per
    #: second (burst ``connect_burst``); in all: ``max_tcp_sessions`` (None:
    #: no limit).  Issue 17.2: one address must not exhaust the fds.
    max_sessions_per_address = attr.ib(default=64)
    connect_rate = attr.ib(default=20.0)
    connect_burst = attr.ib(default=64)
    max_tcp_sessions = attr.ib(default=16384)
    #: Flow control of one TCP session (blissnode.flowcontrol): packets run
    #: per reactor turn; packets waiting before reading pauses / before the
    #: session is closed; bytes written into a full socket buffer (a client
    #: that does not read) before it is closed.
    packets_per_turn = attr.ib(default=8)
    pause_at = attr.ib(default=32)
    max_pending = attr.ib(default=512)
    max_unsent = attr.ib(default=1 << 20)
    udp_rate = attr.ib(default=50.0)
    udp_burst = attr.ib(default=100)
    #: Most accepted clients (None: no limit); over it cmd 30 gets cmd 32.
    max_clients = attr.ib(default=None)
    unknown_versions = attr.ib(default=NEAREST)
    #: TCP timers: whole handshake (prelude, DH-384, seed exchange); idle
    #: time without any received packet (clients refresh with cmd 37 every
    #: 60 s; GUESS: 3 missed refreshes, supernode.md 6); optional ``03 03``
    #: keep-alive probe interval (None: off; U7).
    handshake_timeout = attr.ib(default=20.0)
    #: Seconds from the end of the handshake until cmd 30 must have accepted
    #: the client (an unauthenticated session holds an fd; None: no limit).
    accept_timeout = attr.ib(default=60.0)
    idle_timeout = attr.ib(default=180.0)
    keepalive_interval = attr.ib(default=None)
    #: UDP: how long a NACK challenge is honoured (udp.md 6: "~10 s"); whether
    #: a resend with a challenge we never issued is accepted (GUESS: no, U4);
    #: reply cache for duplicates; sent datagrams kept for kind-7 resends.
    nack_ttl = attr.ib(default=10.0)
    accept_unknown_resend = attr.ib(default=False)
    reply_cache_ttl = attr.ib(default=30.0)
    reply_cache_size = attr.ib(default=4096)
    sent_ttl = attr.ib(default=30.0)
    sent_size = attr.ib(default=4096)
    #: Pushes waiting for the target's answer (supernode.md 5.3).
    push_ttl = attr.ib(default=30.0)
    push_max = attr.ib(default=4096)
    #: Pushes (cmd 53, unauthenticated UDP) per second per source IP and
    #: their burst (issue 17.7).
    push_rate = attr.ib(default=5.0)
    push_burst = attr.ib(default=20)
    #: Firewall tests (cmd 40: each opens an outgoing TCP connection and
    #: sends a datagram): per session at most ``firewall_tests_per_session``;
    #: per source IP a burst of ``firewall_burst``, then one per
    #: ``firewall_interval`` seconds (issue 17.8).  Over either, cmd 40 is
    #: still answered (cmd 42) but no connect-back is made.
    firewall_tests_per_session = attr.ib(default=4)
    firewall_burst = attr.ib(default=8)
    firewall_interval = attr.ib(default=10.0)
    #: Seed pool of the UDP send path (obfuscation.md 5); 0 disables it (every
    #: datagram then expands a fresh seed).  ``seed_refresh``: seconds between
    #: background replacements of ``seed_refresh_count`` seeds.
    seed_pool_size = attr.ib(default=256)
    seed_refresh = attr.ib(default=1.0)
    seed_refresh_count = attr.ib(default=4)
    #: Entries published over UDP by a client without a TCP session here
    #: expire after this long without a new publish.
    udp_publish_ttl = attr.ib(default=1800.0)
    #: One log line per source per this many seconds for bad input.
    log_interval = attr.ib(default=60.0)
    #: Relay limits (:class:`~blissnode.supernode.relay.RelayLimits`).
    relay = attr.ib(factory=RelayLimits)
    #: TCP port of a listener of our own that cmd 45 names as the relay
    #: (``--relay-tcp``; with ``--workers`` each worker has its own, so both
    #: legs of a relayed connection reach the worker that holds it); 0: the
    #: main port is the relay.
    relay_port = attr.ib(default=0)
    #: Event-server addresses (ip, port) a client may ask this node to carry
    #: with cmd 7 (ERRATA: a real 7.7 client named 91.190.218.125:12350 on a
    #: peer stream); ours and the original ones (``blissnode.tap`` fills it).
    event_servers = attr.ib(factory=tuple, converter=lambda v: frozenset(tuple(a) for a in v))


class PushTable(object):
    """Pushes we forwarded and whose answer we wait for: the forwarded
    request id on the target's session -> (pusher address, cmd 53 request id).
    Entries expire after ``ttl`` (the pusher gave up long before)."""

    def __init__(self, ttl, max_size, now):
        self._entries = ExpiringDict(ttl, max_size, now)

    def __len__(self):
        return len(self._entries)

    def remember(self, session_id, forwarded_id, pusher, push_request_id):
        self._entries.set((session_id, forwarded_id), (tuple(pusher), push_request_id))

    def pop(self, session_id, forwarded_id):
        return self._entries.pop((session_id, forwarded_id))

    def forget_session(self, session_id):
        for key, _ in self._entries.items():
            if key[0] == session_id:
                self._entries.pop(key)


class SupernodeNode(object):
    """Shared state of one supernode (see the module docstring)."""

    def __init__(self, config=None, registry=None, directory=None, reactor=None,
                 rng=None, credential_key=None, core=None):
        if reactor is None:
            from twisted.internet import reactor
        if registry is None:
            # No version policy given: every client gets the base handlers.
            registry = BaseOnlyRegistry({ROLE: SupernodeHandlers},
                                        config.unknown_versions if config else NEAREST)
        self.config = config if config is not None else SupernodeConfig()
        self.registry = registry
        self.reactor = self.clock = reactor
        #: What the roles share (:class:`~blissnode.core.hub.Core`): the online
        #: directory, presence, delivery targets, the event server's stream.
        self.core = core if core is not None else Core(directory=directory, clock=reactor)
        self.rng = rng if rng is not None else random.SystemRandom()
        #: Public key that opens published credentials (to learn user names
        #: from records); None: names come from elsewhere (the login server).
        self.credential_key = credential_key
        self.throttle = LogThrottle(self.now, self.config.log_interval)
        self.pushes = PushTable(self.config.push_ttl, self.config.push_max, self.now)
        self.half_open = Counters()
        config = self.config
        self.push_limits = TokenBuckets(config.push_rate, config.push_burst, self.now)
        self.firewall_limits = TokenBuckets(1.0 / config.firewall_interval,
                                            config.firewall_burst, self.now)
        #: Which TCP connections are taken (per address, in total, connect rate).
        self.admission = ConnectionAdmission(
            self.now, config.max_sessions_per_address, config.max_tcp_sessions,
            config.connect_rate, config.connect_burst)
        self.udp = None  # the SupernodeDatagramProtocol, once listening
        #: How a peer stream may open (wire.peer_session), with the variants
        #: the installed version plugins add.
        self.peer_openings = peer_openings(self.registry)
        #: The live TCP sessions (:class:`~blissnode.supernode.sessions.SessionTable`).
        self.tcp_sessions = SessionTable(prefix=self.core.instance + "s")
        #: Handler instances by version (:class:`HandlerSets`).
        self.handler_sets = HandlerSets(self.registry)
        #: Published user records (:class:`Publications`).
        self.publications = Publications(self)
        #: Relayed connections between clients (cmd 73/74/75/84).
        self.relay = RelayTable(self.config.relay, reactor, self.rng, self.throttle)
        self._online = 0
        self._seed_loop = None
        self.seeds = self._make_seeds()

    @property
    def directory(self):
        """The online directory, the core's (shared with the other roles)."""
        return self.core.directory

    @property
    def event_factory(self):
        """The event server's factory a cmd 7 connection is handed to (offered
        to the core as ``"event"``; None: cmd 7 is not served)."""
        return self.core.stream_factory("event")

    # -- clock, randomness ----------------------------------------------------

    def now(self):
        return self.reactor.seconds()

    def random_u32(self):
        return self.rng.getrandbits(32)

    # -- configuration views ----------------------------------------------------

    @property
    def public_ip(self):
        return self.config.public_ip

    @property
    def tcp_port(self):
        return self.config.tcp_port or self.config.udp_port

    @property
    def udp_port(self):
        return self.config.udp_port or self.config.tcp_port

    @property
    def relay_enabled(self):
        """Whether we relay (``--relay-total 0`` switches it off)."""
        return self.config.relay.total > 0

    def public_address(self):
        """Our address for clients (slot lists, node lists, cmd 42): the
        public IP and the main (UDP = TCP) port."""
        return NetAddr(self.public_ip, self.udp_port)

    def relay_address(self):
        """Where clients open and join relayed connections (cmd 45 names
        it): the ``--relay-tcp`` port when there is one, else the main port."""
        if self.config.relay_port:
            return NetAddr(self.public_ip, self.config.relay_port)
        return self.public_address()

    # -- sessions ---------------------------------------------------------------

    def admit_tcp(self, ip):
        """None if a new TCP connection from ``ip`` is taken (counted in
        :attr:`admission`), else why not."""
        if self.half_open.get(ip) >= self.config.max_half_open:
            return "too-many-half-open-sessions"
        return self.admission.admit(ip)

    def add_session(self, session):
        self.tcp_sessions.add(session)
        self.core.sessions.add(session)

    def session_accepted(self, session):
        """cmd 30 accepted ``session``: index it for the UDP path."""
        self.tcp_sessions.accepted(session)

    def remove_session(self, session):
        if not self.tcp_sessions.remove(session):
            return defer.succeed(None)
        self.core.sessions.remove(session)
        self.pushes.forget_session(session.session_id)
        d = self.directory.remove(session.session_id)
        d.addCallback(self.directory_changed)
        d.addErrback(lambda f: log.failure("directory remove failed", f))
        return d

    def refuse_reason(self, session):
        limit = self.config.max_clients
        if limit is not None and self.tcp_sessions.accepted_count() >= limit:
            return "supernode full (%d clients)" % (limit,)
        return None

    def register_client(self, session):
        """A client was accepted (cmd 30): put it in the directory."""
        now = self.now()
        entry = OnlineEntry(
            session_id=session.session_id,
            node_id=session.node_id,
            public_addr=session.peer,
            listen_port=session.listen_port,
            client_version=session.version.label if session.version is not None else None,
            supernode=(self.public_ip, self.udp_port),
            since=now, last_seen=now)
        d = self.directory.register(entry)
        d.addCallback(self.directory_changed)
        return d

    def directory_changed(self, result):
        """Refresh the online count after a directory change (pass-through)."""
        d = self.directory.count()

        def set_count(n):
            self._online = n
        d.addCallback(set_count)
        d.addErrback(lambda f: None)
        return result

    def users_online(self):
        """The number reported in cmd 11 (last known directory size)."""
        return self._online

    # -- the event server through a peer stream (cmd 7) -------------------------

    def serves_event_server(self, address):
        """Whether cmd 7 for ``address`` (ip, port) is carried to our event
        server."""
        return self.event_factory is not None and tuple(address) in self.config.event_servers

    def event_factory_for(self, address):
        """The event server factory for a cmd 7 ``address``, or None."""
        return self.event_factory if self.serves_event_server(address) else None

    # -- UDP sending ------------------------------------------------------------

    def _make_seeds(self):
        if self.config.seed_pool_size:
            return SeedPool([self.random_u32() for _ in range(self.config.seed_pool_size)])
        return FreshSeeds(self.random_u32)

    def refresh_seeds(self):
        """Replace a few pooled seeds (so seeds do not repeat for ever)."""
        if isinstance(self.seeds, SeedPool):
            n = len(self.seeds)
            for _ in range(self.config.seed_refresh_count):
                self.seeds.replace(self.rng.randrange(n), self.random_u32())

    def send_udp(self, peer, commands):
        """Send ``commands`` to ``peer`` in one datagram (or fragments)."""
        if self.udp is None:
            log.warn("no UDP listener: cannot send {n} commands to {peer}",
                     n=len(commands), peer=peer)
            return False
        self.udp.send_commands(tuple(peer), commands)
        return True

    # -- firewall test ------------------------------------------------------------

    def firewall_test_allowed(self, session):
        """Whether cmd 40 on ``session`` may make us connect back (a budget
        per session and per source IP, :class:`SupernodeConfig`)."""
        done = getattr(session, "firewall_tests", 0)
        if done >= self.config.firewall_tests_per_session:
            self.throttle.warn(session.peer[0], "firewall-session", "{source}: more than {n} "
                               "firewall tests on one session; no connect-back",
                               n=self.config.firewall_tests_per_session)
            return False
        if not self.firewall_limits.take(session.peer[0]):
            self.throttle.warn(session.peer[0], "firewall-rate", "{source}: firewall tests "
                               "too fast; no connect-back")
            return False
        session.firewall_tests = done + 1
        return True

    def firewall_test(self, ip, port, commands):
        """Act as the tester of cmd 40/42: send ``commands`` (cmd 43) to the
        client's listening port over UDP and over a new TCP connection."""
        self.send_udp((ip, port), commands)
        return connect_back(self, ip, port, commands)

    # -- life cycle ---------------------------------------------------------------

    def start(self):
        """Start background work (seed refresh, UDP-only entry expiry)."""
        if self._seed_loop is None and isinstance(self.seeds, SeedPool) \
                and self.config.seed_refresh:
            self._seed_loop = task.LoopingCall(self._tick)
            self._seed_loop.clock = self.reactor
            self._seed_loop.start(self.config.seed_refresh, now=False)

    def _tick(self):
        self.refresh_seeds()
        self._ticks = getattr(self, "_ticks", 0) + 1
        if self._ticks % 60 == 0:
            self.publications.expire_udp_entries()

    def schedule(self, delay, fn, *args, **kwargs):
        """``reactor.callLater`` that :meth:`stop` cancels: for work a
        handler defers (the firewall test's cmd 43), so a stopped node
        leaves nothing behind in the reactor."""
        pending = getattr(self, "_pending_calls", None)
        if pending is None:
            pending = self._pending_calls = set()

        def run():
            pending.discard(call)
            return fn(*args, **kwargs)

        call = self.clock.callLater(delay, run)
        pending.add(call)
        return call

    def stop(self):
        for call in list(getattr(self, "_pending_calls", ())):
            if call.active():
                call.cancel()
        self._pending_calls = set()
        self.relay.close_all()
        if self._seed_loop is not None:
            loop, self._seed_loop = self._seed_loop, None
            if loop.running:
                loop.stop()


def peer_openings(registry):
    """The opening variants of peer streams (versions' extras first)."""
    return openings(registry, "peer_openings", PEER_OPENINGS)
