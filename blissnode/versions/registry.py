"""
The registry that maps a client's version to its handlers.

Clients reveal their version late and in different ways (the version string
of TCP cmd 37 or of the login request, the DH-384 handshake of 5.5+, the
stack version in cmd 30), so the registry answers two questions: "which
version is this string?" (:func:`parse_version_string`) and "which known
version do we treat it as?" (:meth:`VersionRegistry.resolve`).  In order:

1. an exact match, or a string / number a version declares in its
   ``aliases`` (the real 6.16 client said ``0/6.16.0.10//``, ERRATA);
2. an unknown build of a known major.minor (6.16.0.10 without an alias) is
   served by the newest known version of that major.minor, not by an older
   one, under either policy (it is a build of a version we know);
3. anything else falls back to the nearest known *older* version with a
   warning, or is refused when the operator asks for that
   (``unknown_policy="reject"``).

Warnings about a version are logged once per version string and process
(a bounded set: a peer sending random versions cannot grow it), not on every
request.
A version older than every known one has no nearest older version: each
caller says what to do with it (``older=``): the supernode serves it as the
oldest known version (real 1.2 clients must keep their sessions), the login
and event servers refuse it as too old.
"""

from twisted.logger import Logger

import blissnode.plugins
from blissnode.core.versioning import Hints  # noqa: F401
from blissnode.core.versioning import (  # noqa: F401  (re-exported)
    NEAREST,
    OLDEST,
    REJECT,
    Resolution,
    UnknownVersion,
    parse_version_number,
    parse_version_string,
)
from blissnode.event.interfaces import IEventHandlers
from blissnode.login.interfaces import ILoginHandlers
from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.versions.interfaces import IClientVersion
from blissnode.versions.policy import ProvisionalPolicy

log = Logger()

#: Distinct version strings warned about per process; later ones are
#: counted, not logged.
MAX_WARNED = 1024


#: Supernode answers sent before a client names its version (cmd 37): every
#: UDP command, the TCP accept and what comes before cmd 37 -- methods and
#: the constants they read.
PRE_VERSION_ANSWERS = (
    "udp_probe", "probe_reply_body", "udp_address_query", "udp_node_list", "node_list",
    "node_attributes", "udp_slot_query", "udp_publish", "publish_answer", "udp_user_search",
    "udp_extended_search", "udp_push", "tcp_client_accept", "accept_body",
    "accept_notifications", "network_stats", "channel_list", "tcp_channel_fetch",
    "tcp_slot_query", "slot_reply", "refill_slots", "refusal_body", "STACK_VERSION",
    "STACK_TIMESTAMP", "SUPERNODE_MARKS", "NODE_LIST_LAYOUT", "relay_attributes",
    "RELAY_ATTRIBUTES", "RELAY_COUNTRY",
)

SUPERNODE = "supernode"


def role_interfaces():
    """Role name -> the interface its handlers provide."""
    return {SUPERNODE: ISupernodeHandlers, "login": ILoginHandlers, "event": IEventHandlers}


def check_handlers(version):
    """Raise for an unknown role key or a class that does not provide the
    role's interface (a typo must not register silently)."""
    interfaces = role_interfaces()
    for role, cls in dict(version.handlers).items():
        interface = interfaces.get(role)
        if interface is None:
            raise ValueError("client version %s: unknown role %r (known: %s)"
                             % (version.label, role, ", ".join(sorted(interfaces))))
        if not interface.implementedBy(cls):
            raise TypeError("client version %s: %r handlers %r do not provide %s"
                            % (version.label, role, cls, interface.__name__))


class VersionRegistry:
    """Known client versions, ordered by number."""

    def __init__(self, versions=(), unknown_policy=NEAREST):
        if unknown_policy not in (NEAREST, REJECT):
            raise ValueError("unknown_policy must be %r or %r" % (NEAREST, REJECT))
        self.unknown_policy = unknown_policy
        self._by_number = {}
        self._aliases = {}  # alias string or number -> version
        self._warned = set()
        self.unwarned = 0
        self.provisional_policy = ProvisionalPolicy()
        for version in versions:
            self.register(version)
        self.check_pre_version_overrides()

    @classmethod
    def from_plugins(cls, unknown_policy=NEAREST):
        """A registry of every :class:`IClientVersion` plugin installed."""
        from twisted.plugin import getPlugins


        return cls(getPlugins(IClientVersion, blissnode.plugins), unknown_policy)

    def register(self, version):
        """Add ``version``; refuses an object that is not an
        :class:`IClientVersion`, a misspelt role key, or handlers that do not
        provide the role's interface."""
        if not IClientVersion.providedBy(version):
            raise TypeError("%r does not provide IClientVersion" % (version,))
        check_handlers(version)
        number = tuple(version.number)
        if number in self._by_number and self._by_number[number] is not version:
            raise ValueError("version %s registered twice" % (version.label,))
        self._by_number[number] = version
        for alias in getattr(version, "aliases", None) or ():
            key = tuple(alias) if not isinstance(alias, str) else alias.strip()
            other = self._aliases.get(key)
            if other is not None and other is not version:
                raise ValueError("alias %r of %s is already %s's" % (alias, version.label,
                                                                    other.label))
            self._aliases[key] = version

    def __iter__(self):
        return iter(self.versions())

    def __len__(self):
        return len(self._by_number)

    def versions(self):
        """Every registered version, oldest first."""
        return [self._by_number[n] for n in sorted(self._by_number)]

    def get(self, label_or_number):
        """The registered version with exactly this label/number, or None."""
        number = self._number(label_or_number)
        return self._by_number.get(number)

    def nearest(self, number):
        """``number`` if registered, else the nearest older version, else
        the oldest; quietly (for choices nothing claimed)."""
        number = tuple(number)
        if number in self._by_number:
            return self._by_number[number]
        below = [n for n in self._by_number if n < number]
        return self._by_number[max(below)] if below else self.oldest()

    def profile(self, label_or_number):
        """The :class:`~blissnode.versions.profiles.VersionProfile` a client of
        that version sends: its module's, else the nearest older one's,
        relabelled for it.  ValueError when no older version has one."""
        number = self._number(label_or_number)
        known = [n for n in self._by_number
                 if n <= number and getattr(self._by_number[n], "profile", None) is not None]
        if not known:
            raise ValueError("no client profile for version %s (oldest is %s)"
                             % (".".join(map(str, number)), self.oldest().label))
        best = max(known)
        profile = self._by_number[best].profile
        return profile if best == number else profile.for_label(".".join(map(str, number)))

    def provisional(self, hints):
        """The version assumed for a client that has not named itself yet
        (:mod:`blissnode.versions.policy`)."""
        return self.provisional_policy.choose(self, hints)

    def warn_once(self, key, format, **kw):
        """Log ``format`` once per ``key`` (a version string) and process."""
        if key in self._warned:
            return
        if len(self._warned) >= MAX_WARNED:
            self.unwarned += 1
            return
        self._warned.add(key)
        log.warn(format, **kw)

    def resolve_text(self, text, older=REJECT):
        """:meth:`resolve` for a client's version string (``0/6.16.0.10//``):
        a declared alias string first, then its number.  ValueError if it
        holds no number."""
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        version = self._aliases.get(text.strip())
        if version is not None:
            return Resolution(tuple(version.number), version, True)
        _platform, number = parse_version_string(text)
        return self.resolve(number, older=older, text=text)

    def resolve(self, label_or_number, older=REJECT, text=None):
        """The version to serve a client that says it is ``label_or_number``.

        Exact match first; otherwise the nearest older known version (with a
        warning), unless the policy is ``reject``: then :class:`UnknownVersion`.
        A client older than every known version is served as the oldest known
        version (with a warning) when ``older`` is :data:`OLDEST` and the
        policy is ``nearest``; with ``older=REJECT`` (the default: the login
        and event servers refuse such a client as too old) or under the
        ``reject`` policy it raises :class:`UnknownVersion`.
        """
        if older not in (OLDEST, REJECT):
            raise ValueError("older must be %r or %r" % (OLDEST, REJECT))
        number = self._number(label_or_number)
        version = self._by_number.get(number) or self._aliases.get(number)
        if version is not None:
            return Resolution(number, version, True)
        requested = ".".join(map(str, number))
        key = text[:64] if text is not None else requested
        same = [n for n in self._by_number if n[:2] == number[:2]]
        if same:
            version = self._by_number[max(same)]
            self.warn_once(key, "client version {requested} is an unknown build of "
                           "{major}; serving it as {served}", requested=key,
                           major=".".join(map(str, number[:2])), served=version.label)
            return Resolution(number, version, False)
        if self.unknown_policy == REJECT or not self._by_number:
            raise UnknownVersion("client version %s is not supported" % (requested,))
        below = [n for n in self._by_number if n < number]
        if below:
            version = self._by_number[max(below)]
            self.warn_once(key, "unknown client version {requested}; serving it as {served}",
                           requested=key, served=version.label)
            return Resolution(number, version, False)
        if older == REJECT:
            raise UnknownVersion("client version %s is older than every supported "
                                 "version" % (requested,))
        version = self.oldest()
        self.warn_once(key, "client version {requested} is older than every known "
                       "version; serving it as the oldest, {served}",
                       requested=key, served=version.label)
        return Resolution(number, version, False)

    def check_pre_version_overrides(self):
        """Warn about supernode answers a version overrides that are sent
        before the client names its version (UDP, cmd 30 -> 31, 48 ...):
        they reach the wire only if the provisional choice can pick the
        version -- by a default rule, or by its ``recognise``."""
        if not self._by_number:
            return
        targets = self.provisional_policy.default_targets(self)
        previous = None
        for version in self.versions():
            cls = version.handlers.get(SUPERNODE)
            if cls is not None and previous is not None and version not in targets \
                    and getattr(version, "recognise", None) is None:
                changed = sorted(name for name in PRE_VERSION_ANSWERS
                                 if getattr(cls, name, None) is not getattr(previous, name, None))
                if changed:
                    log.warn("client version {label} overrides {names}, answered before a "
                             "client names its version: give the version a 'recognise' "
                             "(blissnode.versions.policy) or these never reach the wire",
                             label=version.label, names=", ".join(changed))
            if cls is not None:
                previous = cls

    def handlers(self, version, role):
        """The handler class of ``role`` for ``version``: its own, or the one
        of the nearest older version that defines the role."""
        number = tuple(version.number)
        for n in sorted((n for n in self._by_number if n <= number), reverse=True):
            cls = self._by_number[n].handlers.get(role)
            if cls is not None:
                return cls
        if role in version.handlers:
            return version.handlers[role]
        raise UnknownVersion("no %s handlers for client version %s" % (role, version.label))

    def newest(self):
        return self._by_number[max(self._by_number)]

    def oldest(self):
        return self._by_number[min(self._by_number)]

    @staticmethod
    def _number(label_or_number):
        if isinstance(label_or_number, tuple):
            return label_or_number
        return parse_version_number(label_or_number)
