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

import re

import attr
from twisted.logger import Logger

from blissnode.versions.interfaces import IClientVersion

log = Logger()

NEAREST = "nearest"
REJECT = "reject"

#: ``older=`` of :meth:`VersionRegistry.resolve`: serve a client older than
#: every known version as the oldest known one (under the ``nearest`` policy).
OLDEST = "oldest"

_NUMBER = re.compile(r"^\d+(\.\d+){1,3}$")

#: Distinct version strings warned about per process; later ones are
#: counted, not logged.
MAX_WARNED = 1024


class UnknownVersion(LookupError):
    """A client version the registry will not serve."""


def parse_version_number(text):
    """``"5.5.0.124"`` -> ``(5, 5, 0, 124)``; ValueError otherwise."""
    text = text.strip()
    if not _NUMBER.match(text):
        raise ValueError("not a version number: %r" % (text,))
    return tuple(int(part) for part in text.split("."))


def parse_version_string(text):
    """The version number inside a client's version string.

    Clients send ``<platform>/<version>[/<partner or build>/]`` (login.md
    5.2: ``0/6.16.0.10//``, ``0/4.1.0.130//``, ``2/1.2.0.18/``; supernode.md
    4.3: ``0/1.4.0.84``).  A bare version number is accepted too.  Returns
    ``(platform or None, number tuple)``; ValueError if there is no number.
    """
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    parts = text.strip().split("/")
    if len(parts) == 1:
        return None, parse_version_number(parts[0])
    platform = parts[0] if parts[0].isdigit() else None
    return (int(platform) if platform is not None else None,
            parse_version_number(parts[1]))


@attr.s(frozen=True)
class Resolution:
    """The outcome of a lookup: the version we serve, and how we got there."""

    requested = attr.ib()
    version = attr.ib()
    exact = attr.ib()


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
        for version in versions:
            self.register(version)

    @classmethod
    def from_plugins(cls, unknown_policy=NEAREST):
        """A registry of every :class:`IClientVersion` plugin installed."""
        from twisted.plugin import getPlugins

        import blissnode.plugins

        return cls(getPlugins(IClientVersion, blissnode.plugins), unknown_policy)

    def register(self, version):
        if not IClientVersion.providedBy(version):
            raise TypeError("%r does not provide IClientVersion" % (version,))
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
