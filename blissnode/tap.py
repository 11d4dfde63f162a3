"""
The twistd application: ``twistd -n blissnode``.

:class:`Options` is the command line of the plugin, :func:`makeService`
turns it into one :class:`~twisted.application.service.MultiService` holding
every listener of every role.  Tests build the same service with the same
function, so what runs under twistd is what is tested.
"""

import ipaddress

from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python import usage

from blissnode.auth.cred import make_portal
from blissnode.privateops import PrivateOps
from blissnode.core.hub import Core
from blissnode.datadir import ensure_data_dir
from blissnode.event.protocol import EventServerFactory, EventService
from blissnode.keys import KeyFileError, load_or_create_server_keys, load_server_keys
from blissnode.listeners import (
    StreamListenerService,
    UDPListenerService,
    is_disabled,
    parse_udp_description,
)
from blissnode.login.protocol import LoginServerFactory
from blissnode.patch.known import event_server_addresses
from blissnode.store.postgresql import redact_url
from blissnode.store.redisdirectory import RedisDirectory
from blissnode.store.urls import InvalidDatabaseURL, make_store_service, parse_database_url
from blissnode.supernode.node import SupernodeConfig, SupernodeNode
from blissnode.supernode.tcp import SupernodeTCPFactory
from blissnode.supernode.udp import SupernodeDatagramProtocol
from blissnode.versions.registry import NEAREST, REJECT, VersionRegistry

log = Logger()

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
    ] + [[name, None, default, helptext]
         for (name, default, _role, _transport, helptext) in LISTENERS] + [
        ["public-ip", None, "127.0.0.1",
         "The supernode's public IPv4 address, as clients reach it.  Every "
         "UDP datagram is keyed with it, so it must be the address clients "
         "send to (behind NAT: the outside address).  The default only suits "
         "tests on one machine."],
        ["max-half-open", None, "16",
         "Most TCP connections per source IP still in the handshake."],
        ["udp-rate", None, "50",
         "Most UDP datagrams per second per source IP (bursts of twice as many)."],
        ["registration", None, "open",
         "Whether clients may create accounts from their sign-up screen "
         "(login request 5018): 'open' or 'closed'."],
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
    ]

    def postOptions(self):
        for name, _default, _role, transport, _help in LISTENERS:
            value = self[name]
            if transport == "udp" and not is_disabled(value):
                try:
                    parse_udp_description(value)
                except ValueError as e:
                    raise usage.UsageError("--%s: %s" % (name, e))
        try:
            self["public-ip"] = str(ipaddress.IPv4Address(self["public-ip"]))
        except ValueError:
            raise usage.UsageError("--public-ip must be an IPv4 address, not %r"
                                   % (self["public-ip"],))
        for name, cast in (("max-half-open", int), ("udp-rate", float)):
            try:
                value = cast(self[name])
            except ValueError:
                value = -1
            if value <= 0:
                raise usage.UsageError("--%s must be a positive number" % (name,))
            self[name] = value
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
        try:
            self["directory-ttl"] = float(self["directory-ttl"])
        except ValueError:
            self["directory-ttl"] = -1
        if self["directory-ttl"] <= 0:
            raise usage.UsageError("--directory-ttl must be a positive number")


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
                              reactor=reactor, fatal=True)


def make_directory(options, reactor=None):
    """The shared online directory of ``--directory``, or None for the
    in-process default (the supernode makes its own MemoryDirectory)."""
    url = _get(options, "directory", "memory")
    if url == "memory":
        return None
    log.info("online directory: {url}", url=redact_url(url))
    return RedisDirectory(url, reactor=reactor, ttl=float(_get(options, "directory-ttl", 1800)))


def make_supernode(options, reactor=None, core=None, versions=None):
    """The :class:`~blissnode.supernode.node.SupernodeNode` every supernode
    listener of ``options`` shares, over the process's ``core`` and version
    policy ``versions``."""
    public_ip = _get(options, "public-ip", "127.0.0.1")
    udp_rate = float(_get(options, "udp-rate", 50))
    policy = _get(options, "unknown-versions", NEAREST)
    config = SupernodeConfig(
        public_ip=public_ip,
        udp_port=0 if is_disabled(options["supernode-udp"])
        else _port(options["supernode-udp"], "udp"),
        tcp_port=0 if is_disabled(options["supernode-tcp"])
        else _port(options["supernode-tcp"], "tcp"),
        max_half_open=int(_get(options, "max-half-open", 16)),
        udp_rate=udp_rate, udp_burst=max(1, int(2 * udp_rate)),
        unknown_versions=policy)
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


def make_login(options, data_dir, reactor=None, store=None, versions=None):
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
        registration_open=_get(options, "registration", "open") == "open", clock=reactor)
    return store, factory


def make_event(options, data_dir, store, core, limiter=None, reactor=None, versions=None):
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
    factory = EventServerFactory(keys, event, clock=reactor)
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
    private_ops = None

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


def makeService(options, reactor=None):
    """Build the MultiService for ``options`` (an :class:`Options` or dict)."""
    data_dir = ensure_data_dir(options["data-dir"])
    log.info("blissnode data directory: {path}", path=data_dir.path)
    top = BlissnodeService()
    node = None
    login_factory = event_factory = None
    directory = make_directory(options, reactor)
    if directory is not None:
        directory.setServiceParent(top)
    core = top.core = Core(directory=directory, clock=reactor)
    versions = top.versions = make_versions(options)
    if not is_disabled(options["login-tcp"]):
        top.store, login_factory = make_login(options, data_dir, reactor, versions=versions)
    if any(role == SUPERNODE and not is_disabled(options[name])
           for name, _default, role, _transport, _help in LISTENERS):
        node = top.supernode = make_supernode(options, reactor, core, versions)
        node.credential_key = _credential_key(data_dir)
    if not is_disabled(options["event-tcp"]):
        if top.store is None:
            top.store = make_store(options, data_dir, reactor)
        event_factory = make_event(options, data_dir, top.store, core,
                                   login_factory.limiter if login_factory else None, reactor,
                                   versions)
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
                private_ops = top.private_ops = PrivateOps(factory.clock)
            factory.private_ops = private_ops
    for name, _default, role, transport, _help in LISTENERS:
        description = options[name]
        if is_disabled(description):
            log.info("{name} disabled", name=name)
            continue
        if transport == "udp":
            protocol = SupernodeDatagramProtocol(node)
            listener = UDPListenerService(name, description, protocol, reactor=reactor)
        else:
            if role == SUPERNODE:
                # Real clients never use DH-384 on port 443 (ERRATA).
                factory = SupernodeTCPFactory(node, allow_dh=name != "supernode-https")
            elif role == LOGIN:
                factory = login_factory
            else:
                factory = event_factory
            if role == SUPERNODE and name == "supernode-tcp":
                listener = _MainTCPListener(node, name, description, factory, reactor=reactor)
            else:
                listener = StreamListenerService(name, description, factory, reactor=reactor)
        listener.setServiceParent(top)
    return top


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
