"""
The twistd application: ``twistd -n blissnode``.

:class:`Options` is the command line of the plugin, :func:`makeService`
turns it into one :class:`~twisted.application.service.MultiService` holding
every listener of every role.  Tests build the same service with the same
function, so what runs under twistd is what is tested.
"""

import ipaddress
import secrets
import sys

from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python import usage

from blissnode.admin.options import ADMIN_PARAMETERS, check_admin_options
from blissnode.admin.service import make_admin
from blissnode.auth.cred import make_portal
from blissnode.cluster.link import ClusterLink
from blissnode.cluster.master import WorkerPool
from blissnode.cluster.sockets import (
    UnshareableListener,
    open_shared_listeners,
    open_worker_listeners,
)
from blissnode.core.hub import Core
from blissnode.config import CONFIG_PARAMETER, apply_config, config_path, load_config
from blissnode.datadir import UnsafeDataDir, ensure_data_dir, hand_over, run_as_ids
from blissnode.event.protocol import EventServerFactory, EventService
from blissnode.keys import KeyFileError, load_or_create_server_keys, load_server_keys
from blissnode.privateops import PrivateOps
from blissnode.logconfig import LOG_LEVELS, attach_observer, observer_for_options
from blissnode.listeners import (
    StreamListenerService,
    UDPListenerService,
    is_disabled,
    parse_udp_description,
)
from blissnode.login.protocol import LoginServerFactory
from blissnode.patch.known import event_server_addresses
from blissnode.publicip import AUTO, PublicIPRequired, resolve_public_ip
from blissnode.store.postgresql import redact_url
from blissnode.seenseeds import MemorySeenSeeds, RedisSeenSeeds
from blissnode.store.bus import RedisBus
from blissnode.store.hashpool import BACKGROUND_PRIORITIES, DEFAULT_BACKGROUND_PRIORITY
from blissnode.store.redisdirectory import RedisDirectory
from blissnode.store.urls import (
    POSTGRESQL,
    InvalidDatabaseURL,
    make_store_service,
    parse_database_url,
)
from blissnode.supernode.node import SupernodeConfig, SupernodeNode
from blissnode.supernode.relay import RelayLimits
from blissnode.supernode.tcp import SupernodeTCPFactory
from blissnode.supernode.udp import SupernodeDatagramProtocol
from blissnode.versions.registry import NEAREST, REJECT, VersionRegistry

log = Logger()

#: Most worker processes ``--workers`` starts.
MAX_WORKERS = 64

#: The server roles.
SUPERNODE = "supernode"
LOGIN = "login"
EVENT = "event"

#: (option, default, role, transport, help). Defaults are unprivileged ports so
#: that a fresh machine can run the server as an ordinary user; a deployment
#: for real clients maps them to what the clients expect (see docs/).
LISTENERS = [
    ("supernode-tcp", "tcp:33000", "supernode", "tcp",
     "Main supernode TCP listener (Twisted server endpoint string). "
     "Clients connect over TCP to the same port number that answered their "
     "UDP probe, so keep it equal to the --supernode-udp port."),
    ("supernode-udp", "udp:33000", "supernode", "udp",
     "Main supernode UDP listener: udp:PORT[:interface=ADDR]."),
    ("supernode-https", "tcp:4433", "supernode", "tcp",
     "Main supernode listener for the port-443 'HTTPS' prelude (real "
     "clients use port 443; map it there in a deployment)."),
    ("login-tcp", "tcp:33033", "login", "tcp",
     "Login server listener (the clients' compiled-in port is 33033)."),
    ("event-tcp", "tcp:12350", "event", "tcp",
     "Event (contact-list) server listener (the clients use port 12350)."),
]


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Run the blissnode servers (main supernode, login server, event "
        "server) for old peer-to-peer Skype clients.  Every listener takes a "
        "Twisted server endpoint string (UDP: udp:PORT[:interface=ADDR]); "
        "the word 'none' switches a listener off.")

    optParameters = [
        ["data-dir", "d", "blissnode-data",
         "Directory for keys and the embedded database; created on first run."],
        ["database", None, "sqlite:",
         "Where accounts, contact lists and offline messages live: 'sqlite:' (the "
         "file in --data-dir), sqlite:///path, or postgresql://user:password@host/db "
         "to share one database between processes and machines (docs/scaling.rst)."],
        ["directory", None, "memory",
         "Where the online directory lives: 'memory' (this process only) or "
         "redis://host:port/db to share who is online between processes."],
        ["directory-ttl", None, "1800",
         "Seconds a Redis directory entry lives without a keep-alive (a process that "
         "dies leaves its clients online this long at most)."],
        ["workers", None, "1",
         "Worker processes sharing every listening port (SO_REUSEPORT); more than 1 "
         "needs --database postgresql://... and --directory redis://... "
         "(docs/scaling.rst)."],
    ] + [[name, None, default, helptext]
         for (name, default, _role, _transport, helptext) in LISTENERS] + [
        ["public-ip", None, AUTO,
         "The supernode's public IPv4 address, as clients reach it.  Every "
         "UDP datagram is keyed with it, so it must be the address clients "
         "send to (behind NAT: the outside address).  'auto' (default): the "
         "address the supernode listeners are bound to (127.0.0.1 for loopback); "
         "required when they listen on all interfaces."],
        ["max-half-open", None, "16",
         "Most TCP connections per source IP still in the handshake."],
        ["max-per-address", None, "64",
         "Most TCP connections open at once from one source IP, on each of the "
         "supernode, login (half of it) and event listeners (docs/security.rst)."],
        ["connect-rate", None, "20",
         "New TCP connections per second from one source IP on each listener "
         "(bursts of about three times as many); the login and event servers "
         "take half of it, since each of their connections costs an RSA "
         "decryption."],
        ["seen-seeds", None, "auto",
         "Where the session seeds already used live, so a replayed classic "
         "(1.x-4.x) session is refused: 'memory' (this process), a redis:// URL "
         "shared by every process, or 'auto' (the --directory Redis when there "
         "is one)."],
        ["background-priority", None, DEFAULT_BACKGROUND_PRIORITY,
         "How the password-hash and RSA threads give way to the reactor "
         "(docs/performance.rst): 'idle' (Linux SCHED_IDLE: only spare CPU time, "
         "so UDP and records are never held up by a burst of sign-ins; on a "
         "machine whose cores other programs keep busy, sign-ins wait), 'low' "
         "(niceness +10) or 'normal'."],
        ["udp-rate", None, "50",
         "Most UDP datagrams per second per source IP (bursts of twice as many)."],
        ["relay-per-client", None, "8",
         "Most relayed connections (cmd 73/74) per source IP; the supernode "
         "is the relay between clients that cannot reach each other."],
        ["relay-total", None, "4096",
         "Most relayed connections in total; 0 switches the relay off."],
        ["relay-rate", None, "262144",
         "Bytes per second each direction of a relayed connection may carry "
         "(the sender is slowed down, nothing is dropped)."],
        ["relay-idle-timeout", None, "120",
         "Seconds a relayed connection may carry nothing before both legs close."],
        ["relay-join-timeout", None, "60",
         "Seconds a relayed connection waits for the second client."],
        ["relay-tcp", None, "none",
         "A supernode TCP listener of its own for the relay, named as the "
         "relay in cmd 45 (tcp:PORT[:interface=ADDR]); with --workers N, "
         "worker I listens on PORT+I-1, so both legs of a relayed connection "
         "reach the same worker. 'none': the main port is the relay."],
        ["registration", None, "closed",
         "Whether clients may create accounts from their sign-up screen "
         "(login request 5018): 'closed' (the default: the operator creates "
         "accounts with 'blissnode user add' or the management API) or 'open' "
         "(anyone who reaches the login server may; the password policy cannot "
         "apply, clients send only a hash)."],
        ["registrations-per-address", None, "10",
         "Accounts one source IP may create at once (login request 5018); then "
         "one more per minute."],
        ["event-addresses", None, "known",
         "Event-server addresses (ip:port, comma-separated) a client may ask "
         "the supernode to carry to our event server over its own connection "
         "(cmd 7, as real 7.x clients did): 'known' = Skype's original event "
         "servers, 'none' = only our own event listener."],
        ["unknown-versions", None, NEAREST,
         "What to do with a client version no module knows: 'nearest' "
         "(serve it as the nearest older known version, with a warning; the "
         "supernode serves a client older than every known version, such as "
         "1.2, as the oldest one, while the login and event servers refuse "
         "it as too old) or 'reject' (close its session)."],
    ] + ADMIN_PARAMETERS + [
        ["log-level", None, "info",
         "Least important log lines shown: %s." % (", ".join(LOG_LEVELS),)],
        CONFIG_PARAMETER,
    ]

    optFlags = [
        ["log-json", None, "Write the log as one JSON object per line."],
    ]

    def parseOptions(self, options=None):
        """``--config FILE`` first (its values become the defaults), then the flags."""
        if options is None:
            options = sys.argv[1:]
        path = config_path(options)
        if path is not None:
            apply_config(self, load_config(path), path)
        usage.Options.parseOptions(self, options)

    def postOptions(self):
        for name, _default, _role, transport, _help in LISTENERS:
            value = self[name]
            if transport == "udp" and not is_disabled(value):
                try:
                    parse_udp_description(value)
                except ValueError as e:
                    raise usage.UsageError("--%s: %s" % (name, e))
        try:
            self["public-ip"] = resolve_public_ip(self["public-ip"], _supernode_interfaces(self))
        except PublicIPRequired:
            pass  # decided at start-up: make_supernode refuses to start with it
        except ValueError as e:
            raise usage.UsageError(str(e))
        for name, cast in (("max-half-open", int), ("udp-rate", float),
                           ("max-per-address", int), ("connect-rate", float),
                           ("registrations-per-address", int)):
            try:
                value = cast(self[name])
            except ValueError:
                value = -1
            if value <= 0:
                raise usage.UsageError("--%s must be a positive number" % (name,))
            self[name] = value
        for name, cast, low in (("relay-per-client", int, 1), ("relay-total", int, 0),
                                ("relay-rate", int, 1), ("relay-idle-timeout", float, 1),
                                ("relay-join-timeout", float, 1)):
            try:
                value = cast(self[name])
            except ValueError:
                value = low - 1
            if value < low:
                raise usage.UsageError("--%s must be a number >= %s" % (name, low))
            self[name] = value
        if self["background-priority"] not in BACKGROUND_PRIORITIES:
            raise usage.UsageError("--background-priority must be one of %s"
                                   % (", ".join(BACKGROUND_PRIORITIES),))
        if self["registration"] not in ("open", "closed"):
            raise usage.UsageError("--registration must be 'open' or 'closed'")
        self["event-addresses"] = parse_event_addresses(self["event-addresses"])
        if self["unknown-versions"] not in (NEAREST, REJECT):
            raise usage.UsageError("--unknown-versions must be %r or %r" % (NEAREST, REJECT))
        try:
            parse_database_url(self["database"])
        except InvalidDatabaseURL as e:
            raise usage.UsageError("--database: %s" % (e,))
        directory = self["directory"]
        if directory != "memory" and not directory.split(":", 1)[0] in ("redis", "rediss",
                                                                       "unix"):
            raise usage.UsageError("--directory must be 'memory' or a redis:// URL, not %r"
                                   % (directory[:60],))
        seen = self["seen-seeds"]
        if seen not in ("auto", "memory") and seen.split(":", 1)[0] not in (
                "redis", "rediss", "unix"):
            raise usage.UsageError("--seen-seeds must be 'auto', 'memory' or a redis:// URL")
        try:
            self["directory-ttl"] = float(self["directory-ttl"])
        except ValueError:
            self["directory-ttl"] = -1
        if self["directory-ttl"] <= 0:
            raise usage.UsageError("--directory-ttl must be a positive number")
        try:
            self["workers"] = int(self["workers"])
        except ValueError:
            self["workers"] = 0
        if not 1 <= self["workers"] <= MAX_WORKERS:
            raise usage.UsageError("--workers must be a number from 1 to %d" % (MAX_WORKERS,))
        if self["workers"] > 1:
            missing = []
            if parse_database_url(self["database"]).engine != POSTGRESQL:
                missing.append("--database postgresql://... (accounts shared by the workers)")
            if directory == "memory":
                missing.append("--directory redis://... (who is online, for every worker)")
            if missing:
                raise usage.UsageError("--workers %d needs %s" % (self["workers"],
                                                                  " and ".join(missing)))
            if not is_disabled(self.get("admin", "none")):
                # Each worker holds its own sessions and settings: an API in one
                # of them would show and change a part only (docs/scaling.rst).
                raise usage.UsageError(
                    "--admin works with one process only, not with --workers %d; use "
                    "'blissnode user ... --database URL' for the accounts"
                    % (self["workers"],))
        check_admin_options(self)
        if self["log-level"] not in LOG_LEVELS:
            raise usage.UsageError("--log-level must be one of %s" % (", ".join(LOG_LEVELS),))


def parse_event_addresses(text):
    """``known`` / ``none`` / ``ip:port,ip:port`` -> tuple of (ip, port)."""
    if not isinstance(text, str):
        return tuple(text)
    text = text.strip().lower()
    if text == "none":
        return ()
    if text == "known":
        return event_server_addresses()
    out = []
    for part in text.split(","):
        host, sep, port = part.strip().rpartition(":")
        try:
            out.append((str(ipaddress.IPv4Address(host)), int(port)))
        except ValueError:
            raise usage.UsageError("--event-addresses: %r is not ip:port" % (part,))
    return tuple(out)


def _own_event_address(options):
    """Our event listener as clients reach it: the public IP and the port
    of ``--event-tcp`` (None when it has no fixed port)."""
    parts = options["event-tcp"].split(":")
    if len(parts) >= 2 and parts[0] == "tcp" and parts[1].isdigit() and int(parts[1]):
        return (options["public-ip"], int(parts[1]))
    return None


def _supernode_interfaces(options):
    """The interfaces of the enabled supernode listeners."""
    return [_interface(options[name], transport)
            for name, _default, role, transport, _help in LISTENERS
            if role == SUPERNODE and not is_disabled(options[name])]


def _get(options, name, default):
    try:
        return options[name]
    except KeyError:
        return default


def _interface(description, transport):
    """The interface a listener binds ('' = all)."""
    if transport == "udp":
        return parse_udp_description(description).interface
    for part in description.split(":")[2:]:
        key, _, value = part.partition("=")
        if key == "interface":
            return value
    return ""


def _port(description, transport):
    if transport == "udp":
        return parse_udp_description(description).port
    parts = description.split(":")
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return 0


def make_store(options, data_dir, reactor=None):
    """The store service of ``--database`` (SQLite by default, or PostgreSQL)."""
    return make_store_service(_get(options, "database", "sqlite:"), data_dir.path,
                              reactor=reactor, fatal=True,
                              hash_priority=_get(options, "background-priority",
                                                 DEFAULT_BACKGROUND_PRIORITY))


def make_directory(options, reactor=None):
    """The shared online directory of ``--directory``, or None for the
    in-process default (the supernode makes its own MemoryDirectory)."""
    url = _get(options, "directory", "memory")
    if url == "memory":
        return None
    log.info("online directory: {url}", url=redact_url(url))
    return RedisDirectory(url, reactor=reactor, ttl=float(_get(options, "directory-ttl", 1800)))


def relay_limits(options):
    """:class:`~blissnode.supernode.relay.RelayLimits` from ``--relay-*``."""
    rate = int(_get(options, "relay-rate", 262144))
    return RelayLimits(per_client=int(_get(options, "relay-per-client", 8)),
                       total=int(_get(options, "relay-total", 4096)),
                       rate=rate, burst=max(rate, 65536),
                       idle_timeout=float(_get(options, "relay-idle-timeout", 120)),
                       join_timeout=float(_get(options, "relay-join-timeout", 60)))


def make_seen_seeds(options, reactor=None):
    """The :class:`~blissnode.seenseeds.ISeenSeeds` of ``--seen-seeds``
    (shared by the login and event servers)."""
    from twisted.internet import reactor as default_reactor
    reactor = reactor or default_reactor
    url = _get(options, "seen-seeds", "auto")
    if url == "auto":
        directory = _get(options, "directory", "memory")
        url = directory if directory != "memory" else "memory"
    if url == "memory":
        return MemorySeenSeeds(reactor.seconds)
    log.info("used session seeds: {url}", url=redact_url(url))
    return RedisSeenSeeds(url, reactor=reactor)


def _address_limits(options, share=1.0):
    """The per-address keyword arguments of a listener's factory."""
    per = int(_get(options, "max-per-address", 64))
    rate = float(_get(options, "connect-rate", 20)) * share
    return dict(max_per_address=max(1, int(per * share)), connect_rate=rate,
                connect_burst=max(1, int(3 * rate)))


def make_supernode(options, reactor=None, core=None, versions=None):
    """The :class:`~blissnode.supernode.node.SupernodeNode` every supernode
    listener of ``options`` shares, over the process's ``core`` and version
    policy ``versions``."""
    public_ip = _get(options, "public-ip", AUTO)
    try:
        public_ip = resolve_public_ip(public_ip, _supernode_interfaces(options))
    except ValueError as e:
        raise SystemExit("blissnode: cannot start the supernode: %s" % (e,))
    try:
        options["public-ip"] = public_ip  # what the event address and setup page show
    except TypeError:
        pass
    udp_rate = float(_get(options, "udp-rate", 50))
    policy = _get(options, "unknown-versions", NEAREST)
    config = SupernodeConfig(
        public_ip=public_ip,
        udp_port=0 if is_disabled(options["supernode-udp"])
        else _port(options["supernode-udp"], "udp"),
        tcp_port=0 if is_disabled(options["supernode-tcp"])
        else _port(options["supernode-tcp"], "tcp"),
        max_half_open=int(_get(options, "max-half-open", 16)),
        max_sessions_per_address=int(_get(options, "max-per-address", 64)),
        connect_rate=float(_get(options, "connect-rate", 20)),
        connect_burst=max(1, int(3 * float(_get(options, "connect-rate", 20)))),
        udp_rate=udp_rate, udp_burst=max(1, int(2 * udp_rate)),
        unknown_versions=policy, relay=relay_limits(options))
    if ipaddress.IPv4Address(public_ip).is_loopback:
        for name, _default, role, transport, _help in LISTENERS:
            if role == SUPERNODE and not is_disabled(options[name]) \
                    and _interface(options[name], transport) in ("", "0.0.0.0"):
                log.warn("--public-ip is {ip} (loopback) but {name} listens on all "
                         "interfaces: remote clients will not decrypt our UDP "
                         "answers; set --public-ip to the address they reach",
                         ip=public_ip, name=name)
                break
    return SupernodeNode(config, registry=versions or make_versions(options), core=core,
                         reactor=reactor)


def _credential_key(data_dir):
    """The public credential key when the login server's keys exist: the
    supernode then reads user names out of published user records whose
    credential we issued.  Missing keys are not an error here (the login
    role creates them); names then stay unknown until the login server
    reports them."""
    try:
        return load_server_keys(data_dir.path).credential_public
    except KeyFileError as e:
        log.info("supernode: no credential key ({error}); user names of "
                 "published records stay unknown", error=e)
        return None


def make_versions(options):
    """The process's one version policy: every installed version plugin
    (:class:`~blissnode.versions.registry.VersionRegistry`)."""
    return VersionRegistry.from_plugins(_get(options, "unknown-versions", NEAREST))


def make_login(options, data_dir, reactor=None, store=None, versions=None, seen_seeds=None):
    """The login server's :class:`~blissnode.store.sqlite.StoreService` and
    :class:`~blissnode.login.protocol.LoginServerFactory`.  The server keys
    are loaded (created on first run) here, so a bad key file stops the
    start with one clear line."""
    try:
        keys = load_or_create_server_keys(data_dir.path)
    except KeyFileError as e:
        raise SystemExit("blissnode: cannot start the login server: %s" % (e,))
    log.info("login keys: login {login}, credential {cred}",
             login=keys.login.short_fingerprint, cred=keys.credential.short_fingerprint)
    if store is None:
        store = make_store(options, data_dir, reactor)
    factory = LoginServerFactory(
        keys, make_portal(store.accounts), store.accounts,
        registry=versions or make_versions(options),
        registration_open=_get(options, "registration", "closed") == "open", clock=reactor,
        seen_seeds=seen_seeds,
        registration_burst=int(_get(options, "registrations-per-address", 10)),
        **_address_limits(options, 0.5))
    return store, factory


def make_event(options, data_dir, store, core, limiter=None, reactor=None, versions=None,
               seen_seeds=None):
    """The event server's :class:`~blissnode.event.protocol.EventServerFactory`
    over the shared ``store``: the login key decrypts its session seeds
    (event.md 2), the login server's failed-login ``limiter`` is shared, and
    the process's ``core`` is where presence comes from and broadcasts go."""
    try:
        keys = load_or_create_server_keys(data_dir.path)
    except KeyFileError as e:
        raise SystemExit("blissnode: cannot start the event server: %s" % (e,))
    event = EventService.from_store(
        store, clock=reactor, limiter=limiter, core=core,
        registry=versions or make_versions(options))
    factory = EventServerFactory(keys, event, clock=reactor, seen_seeds=seen_seeds,
                                 **_address_limits(options, 1.0))
    # cmd 7: the supernode hands connections it carries to the event server.
    core.offer_stream("event", factory)
    return factory


class BlissnodeService(service.MultiService):
    """Every listener, plus the supernode's background work (seed-pool
    refresh, expiry of UDP-only directory entries) while the service runs.
    ``supernode`` is the shared :class:`SupernodeNode` (None when every
    supernode listener is off); ``store`` the account database service
    (started before the listeners, stopped after them)."""

    supernode = None
    store = None
    core = None
    versions = None
    #: The :class:`~blissnode.cluster.link.ClusterLink` (shared directory only).
    cluster = None
    #: The admin listener's ApiContext (blissnode.admin), when ``--admin`` is set.
    admin = None
    #: The log observer of ``--log-level`` / ``--log-json`` (None: twistd's own).
    log_observer = None
    #: The :class:`~blissnode.privateops.PrivateOps` threads (login/event RSA).
    private_ops = None

    def setServiceParent(self, parent):
        # twistd's application: where it looks for the log observer.
        attach_observer(parent, self.log_observer)
        return service.MultiService.setServiceParent(self, parent)

    def startService(self):
        if self.store is not None:
            self.store.startService()
        service.MultiService.startService(self)
        if self.supernode is not None:
            self.supernode.start()

    def stopService(self):
        if self.supernode is not None:
            self.supernode.stop()
        if self.private_ops is not None:
            self.private_ops.stop()
        d = defer.maybeDeferred(service.MultiService.stopService, self)
        if self.store is not None:
            d.addBoth(lambda result: self.store.stopService())
        return d


def _open_data_dir(options):
    """The data directory (created if needed); an unsafe one stops the start."""
    try:
        return ensure_data_dir(options["data-dir"])
    except UnsafeDataDir as e:
        raise SystemExit("blissnode: %s" % (e,))
    except (OSError, ValueError) as e:
        raise SystemExit("blissnode: cannot use the data directory %s: %s"
                         % (options["data-dir"], e))


def makeService(options, reactor=None, worker=None):
    """Build the MultiService for ``options`` (an :class:`Options` or dict).

    With ``--workers N`` (N > 1) that is the master's service
    (:func:`make_master`); ``worker`` is what a worker process got from its
    master (``{"index", "tag", "fds": {listener name: fd}}``,
    :mod:`blissnode.worker`)."""
    if worker is None and int(_get(options, "workers", 1)) > 1:
        return make_master(options, reactor)
    data_dir = _open_data_dir(options)
    log.info("blissnode data directory: {path}", path=data_dir.path)
    top = BlissnodeService()
    top.log_observer = observer_for_options(options)
    node = None
    login_factory = event_factory = None
    directory = make_directory(options, reactor)
    if directory is not None:
        directory.setServiceParent(top)
    if worker is not None:
        instance = worker["tag"]
    elif directory is not None:
        # Alone on this machine, but sharing the directory with others.
        instance = "p-%s." % (secrets.token_hex(4),)
    else:
        instance = ""
    core = top.core = Core(directory=directory, clock=reactor, instance=instance)
    if directory is not None:
        bus = RedisBus(_get(options, "directory", None), reactor=reactor)
        bus.setServiceParent(top)
        top.cluster = ClusterLink(core, bus, clock=reactor)
        top.cluster.setServiceParent(top)
    adopted = worker["fds"] if worker is not None else {}
    versions = top.versions = make_versions(options)
    seen_seeds = None
    if not (is_disabled(options["login-tcp"]) and is_disabled(options["event-tcp"])):
        seen_seeds = make_seen_seeds(options, reactor)
    if not is_disabled(options["login-tcp"]):
        top.store, login_factory = make_login(options, data_dir, reactor, versions=versions,
                                              seen_seeds=seen_seeds)
    if any(role == SUPERNODE and not is_disabled(options[name])
           for name, _default, role, _transport, _help in LISTENERS):
        node = top.supernode = make_supernode(options, reactor, core, versions)
        node.credential_key = _credential_key(data_dir)
    if not is_disabled(options["event-tcp"]):
        if top.store is None:
            top.store = make_store(options, data_dir, reactor)
        event_factory = make_event(options, data_dir, top.store, core,
                                   login_factory.limiter if login_factory else None, reactor,
                                   versions, seen_seeds)
        if node is not None:
            # The addresses cmd 7 may name for our event server.
            own = _own_event_address(options)
            addresses = tuple(parse_event_addresses(_get(options, "event-addresses", "known")))
            node.config.event_servers = frozenset(addresses + ((own,) if own else ()))
        if node is not None and node.credential_key is None:
            node.credential_key = _credential_key(data_dir)
    # RSA private operations (seed decryption, credential signature) run on
    # their own threads, off the reactor (blissnode.privateops).
    private_ops = None
    for factory in (login_factory, event_factory):
        if factory is not None:
            if private_ops is None:
                private_ops = top.private_ops = PrivateOps(
                    factory.clock, priority=_get(options, "background-priority",
                                                 DEFAULT_BACKGROUND_PRIORITY))
            factory.private_ops = private_ops
    for name, _default, role, transport, _help in LISTENERS:
        description = options[name]
        if is_disabled(description):
            log.info("{name} disabled", name=name)
            continue
        fd = adopted.get(name)
        if transport == "udp":
            protocol = SupernodeDatagramProtocol(node)
            listener = UDPListenerService(name, description, protocol, reactor=reactor,
                                          adopt_fd=fd)
        else:
            if role == SUPERNODE:
                # Real clients never use DH-384 on port 443 (ERRATA).
                factory = SupernodeTCPFactory(node, allow_dh=name != "supernode-https")
            elif role == LOGIN:
                factory = login_factory
            else:
                factory = event_factory
            if role == SUPERNODE and name == "supernode-tcp":
                listener = _MainTCPListener(node, name, description, factory, reactor=reactor,
                                            adopt_fd=fd)
            else:
                listener = StreamListenerService(name, description, factory, reactor=reactor,
                                                 adopt_fd=fd)
        listener.setServiceParent(top)
    relay_tcp = _get(options, "relay-tcp", "none")
    if node is not None and node.relay_enabled and not is_disabled(relay_tcp):
        listener = _RelayTCPListener(node, "relay-tcp", relay_tcp, SupernodeTCPFactory(node),
                                     reactor=reactor, adopt_fd=adopted.get("relay-tcp"))
        listener.setServiceParent(top)
    _add_admin(options, top, data_dir, login_factory, reactor)
    uid, gid = run_as_ids(options)
    if hand_over(data_dir, uid, gid):
        log.info("data directory {path} handed to uid {uid} gid {gid} (twistd --uid)",
                 path=data_dir.path, uid=uid, gid=gid)
    return top


def _add_admin(options, top, data_dir, login_factory, reactor):
    """The admin listener of ``--admin`` (blissnode.admin), when set."""
    if is_disabled(_get(options, "admin", "none")):
        return
    if top.store is None:
        top.store = make_store(options, data_dir, reactor)
    roles = sorted({role for name, _d, role, _t, _h in LISTENERS
                    if not is_disabled(options[name])})
    make_admin(options, top, data_dir, top.store, login_factory, reactor, roles)


class _MainTCPListener(StreamListenerService):
    """The main supernode TCP listener; tells the node its bound port
    (``tcp:0`` in tests), which cmd 31 INT 0x10 reports."""

    def __init__(self, node, *args, **kw):
        StreamListenerService.__init__(self, *args, **kw)
        self.node = node

    def _listening(self, port):
        port = StreamListenerService._listening(self, port)
        if not self.node.config.tcp_port:
            self.node.config.tcp_port = port.getHost().port
        return port


class _RelayTCPListener(StreamListenerService):
    """The ``--relay-tcp`` listener: a supernode TCP listener whose bound
    port the node names as the relay in cmd 45."""

    def __init__(self, node, *args, **kw):
        StreamListenerService.__init__(self, *args, **kw)
        self.node = node

    def _listening(self, port):
        port = StreamListenerService._listening(self, port)
        self.node.config.relay_port = port.getHost().port
        return port


def options_to_argv(options):
    """The command line that gives a worker the same ``options`` (after
    :meth:`Options.postOptions`), without ``--workers``."""
    argv = []
    for name, _short, default, _help in Options.optParameters:
        if name in ("workers", "config"):  # the config file's values are in the options
            continue
        value = _get(options, name, default)
        if value is None:
            continue
        if name == "event-addresses" and not isinstance(value, str):
            value = ",".join("%s:%d" % tuple(a) for a in value) or "none"
        argv.append("--%s=%s" % (name, value))
    for flag in getattr(Options, "optFlags", []):
        if _get(options, flag[0], False):
            argv.append("--" + flag[0])
    return argv


def make_master(options, reactor=None):
    """The master of ``--workers N``: the shared sockets, the server keys, and
    the :class:`~blissnode.cluster.master.WorkerPool` (docs/scaling.rst)."""
    count = int(options["workers"])
    if not is_disabled(_get(options, "admin", "none")):
        raise SystemExit("blissnode: --admin is not available with --workers: each worker "
                         "sees only its own sessions (docs/operating.rst)")
    if any(role == SUPERNODE and not is_disabled(options[name])
           for name, _default, role, _transport, _help in LISTENERS):
        try:
            resolve_public_ip(_get(options, "public-ip", AUTO), _supernode_interfaces(options))
        except ValueError as e:
            raise SystemExit("blissnode: cannot start the supernode: %s" % (e,))
    data_dir = _open_data_dir(options)
    if not (is_disabled(options["login-tcp"]) and is_disabled(options["event-tcp"])):
        try:
            load_or_create_server_keys(data_dir.path)
        except KeyFileError as e:
            raise SystemExit("blissnode: cannot start: %s" % (e,))
    wanted = [(name, options[name], transport)
              for name, _default, _role, transport, _help in LISTENERS
              if not is_disabled(options[name])]
    try:
        shared = open_shared_listeners(wanted, count)
    except UnshareableListener as e:
        raise SystemExit("blissnode: %s" % (e,))
    except OSError as e:
        raise SystemExit("blissnode: %s" % (e.strerror or e,))
    worker_options = dict(options)
    for listener in shared:
        worker_options[listener.name] = listener.description()
        log.info("{name} shared by {n} workers on {address}", name=listener.name, n=count,
                 address="%s:%d" % (listener.interface or "0.0.0.0", listener.port))
    relay_tcp = _get(options, "relay-tcp", "none")
    if int(_get(options, "relay-total", 4096)) > 0 and is_disabled(relay_tcp):
        log.warn("the relay does not cross workers: without --relay-tcp the two legs "
                 "of a relayed connection meet only when the kernel gives both to "
                 "one worker (docs/relay.rst); give --relay-tcp tcp:PORT (worker I "
                 "relays on PORT+I-1) or --relay-total 0")
    elif not is_disabled(relay_tcp):
        try:
            relay = open_worker_listeners("relay-tcp", relay_tcp, count)
        except UnshareableListener as e:
            for listener in shared:
                listener.close()
            raise SystemExit("blissnode: %s" % (e,))
        except OSError as e:
            for listener in shared:
                listener.close()
            raise SystemExit("blissnode: %s" % (e.strerror or e,))
        shared.append(relay)
        log.info("relay-tcp: one port per worker, {ports}", ports=relay.ports)
    top = BlissnodeService()
    directory = make_directory(options, reactor)
    bus = None
    if directory is not None:
        directory.setServiceParent(top)
        bus = RedisBus(options["directory"], reactor=reactor)
        bus.setServiceParent(top)
    top.workers = WorkerPool(count, options_to_argv(worker_options), shared, reactor=reactor,
                             directory=directory, bus=bus)
    top.workers.setServiceParent(top)
    return top
