"""
:class:`ClientVersion`: the value a version module exports.

A version module (``blissnode/versions/v5_5_0_124.py``) subclasses the
handlers of the nearest older version, overrides what differs, and exports
one ``ClientVersion``.  The module :mod:`blissnode.plugins.blissnode_versions`
lists the built-in ones; another package adds its own by shipping a module
in a ``blissnode/plugins/`` directory (see docs/adding-a-version.rst).
"""

import attr
from twisted.plugin import IPlugin
from zope.interface import implementer

from blissnode.versions.interfaces import IClientVersion

#: Values of :attr:`ClientVersion.facts`.
TESTED = "tested"
GUESSED = "guessed"
UNKNOWN = "unknown"


def _number(value):
    return tuple(int(x) for x in value)


@implementer(IClientVersion, IPlugin)
@attr.s(frozen=True, eq=False, repr=False)
class ClientVersion:
    label = attr.ib()
    number = attr.ib(converter=_number)
    handlers = attr.ib(factory=dict)
    beta = attr.ib(default=False)
    facts = attr.ib(factory=dict)
    notes = attr.ib(default="")
    #: Other version strings (``"0/6.16.0.10//"``) and numbers (``(6, 16, 0,
    #: 10)``, a truncated or other build) this version answers to, as if
    #: they were its own: no warning, served under ``reject`` too.
    aliases = attr.ib(default=(), converter=tuple)
    #: ``hints -> bool`` (a :class:`~blissnode.core.versioning.Hints`): this
    #: version is the one to assume before the client names itself
    #: (:mod:`blissnode.versions.policy`); None: only the default rules.
    recognise = attr.ib(default=None)
    #: Extra opening variants of peer streams this version's clients use
    #: (:class:`blissnode.wire.peer_session.PeerOpening`), tried first.
    peer_openings = attr.ib(default=(), converter=tuple)
    #: Extra opening variants of the login/event transport
    #: (:class:`blissnode.wire.server_session.Opening`), tried first.
    server_openings = attr.ib(default=(), converter=tuple)
    #: What this version sends as a client
    #: (:class:`~blissnode.versions.profiles.VersionProfile`): the reference
    #: client imitates it.  None: the nearest older version's, relabelled.
    profile = attr.ib(default=None)
    #: Optional :class:`blissnode.patch.builds.PatchKnowledge`: known builds
    #: of this version and extra addresses for ``blissnode patch-client``.
    patch_knowledge = attr.ib(default=None)

    def __repr__(self):
        return "<ClientVersion %s%s>" % (self.label, " beta" if self.beta else "")
