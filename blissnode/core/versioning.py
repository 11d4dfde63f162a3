"""
What every role needs to know about client versions, without knowing the
versions: the words of the version policy, the version-string parser, and
the interface of the registry the roles are handed.

The policy itself -- which version module serves which client, what to
assume before a client names itself, aliases, nearest older versions,
validation -- lives in :mod:`blissnode.versions` and is injected (roles
never import ``blissnode.versions``).  :class:`BaseOnlyRegistry` is the
stand-in when no version plugins are installed: every client is served by
the role's base handlers.
"""

import re

import attr
from zope.interface import Attribute, Interface, implementer

__all__ = [
    "NEAREST", "REJECT", "OLDEST", "UnknownVersion", "parse_version_number",
    "parse_version_string", "Resolution", "Hints", "IVersionRegistry", "BaseVersion",
    "BaseOnlyRegistry", "openings",
]

NEAREST = "nearest"
REJECT = "reject"

#: ``older=`` of :meth:`VersionRegistry.resolve`: serve a client older than
#: every known version as the oldest known one (under the ``nearest`` policy).
OLDEST = "oldest"

_NUMBER = re.compile(r"^\d+(\.\d+){1,3}$")


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



@attr.s(frozen=True, slots=True)
class Hints(object):
    """What is known of a client before it names its version, for the
    provisional choice (:meth:`IVersionRegistry.provisional`).

    ``role``: who asks; ``transport``: ``"classic"``, ``"dh384"``,
    ``"https"`` (the 443 prelude) or ``"udp"``; ``request_code``: the login
    request code; ``stack_version``: cmd 30 INT 0xB; ``objects``: the
    decoded body that brought the hint (cmd 30), for plugins.  A UDP datagram
    from a peer without a session is asked about with ``transport="udp"``
    only, and the answer is kept until the policy is replaced (GUESS: the
    datagrams before a session carry nothing that tells versions apart).
    """

    role = attr.ib()
    transport = attr.ib(default=None)
    request_code = attr.ib(default=None)
    stack_version = attr.ib(default=None)
    objects = attr.ib(default=None, eq=False)


class IVersionRegistry(Interface):
    """The version policy as the roles use it."""

    unknown_policy = Attribute("NEAREST or REJECT.")

    def resolve(label_or_number, older=REJECT, text=None):
        """The :class:`Resolution` serving that version (or UnknownVersion)."""

    def resolve_text(text, older=REJECT):
        """:meth:`resolve` for a version string (aliases first); ValueError
        when it holds no number."""

    def provisional(hints):
        """The version assumed for a client that has not named itself yet."""

    def handlers(version, role):
        """The handler class of ``role`` serving ``version``."""

    def oldest():
        """The oldest registered version."""

    def versions():
        """Every registered version, oldest first."""


@attr.s(frozen=True, eq=False)
class BaseVersion(object):
    """The one version of a :class:`BaseOnlyRegistry`."""

    label = attr.ib()
    number = attr.ib(converter=tuple)
    handlers = attr.ib(factory=dict)
    aliases = ()
    peer_openings = ()


def openings(registry, attribute, defaults):
    """The opening variants of a transport: every registered version's
    extra ones (``attribute``: ``"peer_openings"`` or ``"server_openings"``
    of the version objects, tried first, in version order) then
    ``defaults``."""
    extra = []
    for version in registry.versions() if registry is not None else ():
        for opening in getattr(version, attribute, None) or ():
            if opening not in extra:
                extra.append(opening)
    return tuple(extra) + tuple(defaults)


@implementer(IVersionRegistry)
class BaseOnlyRegistry(object):
    """Every client served by the base handlers a role brings (no version
    plugins installed): ``BaseOnlyRegistry({"supernode": SupernodeHandlers})``."""

    def __init__(self, handlers, unknown_policy=NEAREST, label="1.4.0.84"):
        self.unknown_policy = unknown_policy
        self._version = BaseVersion(label, parse_version_number(label), dict(handlers))

    def __len__(self):
        return 1

    def versions(self):
        return [self._version]

    def oldest(self):
        return self._version

    newest = oldest

    def resolve(self, label_or_number, older=REJECT, text=None):
        number = label_or_number if isinstance(label_or_number, tuple) \
            else parse_version_number(label_or_number)
        exact = number == self._version.number
        if number < self._version.number and older == REJECT:
            raise UnknownVersion("client version %s is older than every supported version"
                                 % (".".join(map(str, number)),))
        if not exact and self.unknown_policy == REJECT:
            raise UnknownVersion("client version %s is not supported"
                                 % (".".join(map(str, number)),))
        return Resolution(number, self._version, exact)

    def resolve_text(self, text, older=REJECT):
        return self.resolve(parse_version_string(text)[1], older=older, text=text)

    def provisional(self, hints):
        return self._version

    def handlers(self, version, role):
        try:
            return self._version.handlers[role]
        except KeyError:
            raise UnknownVersion("no %s handlers" % (role,))
