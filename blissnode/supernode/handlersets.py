"""
:class:`HandlerSets`: which handler instance serves a supernode client, from
the version policy the node is given (an
:class:`~blissnode.core.versioning.IVersionRegistry`).

One instance per handler class and version (handlers hold no per-session
state); the provisional choice before a client names itself is the
registry's (:mod:`blissnode.versions.policy`).
"""

from blissnode.core.versioning import OLDEST, Hints

__all__ = ["HandlerSets", "ROLE"]

ROLE = "supernode"


class HandlerSets(object):
    """The handler sets of one node (see the module docstring)."""

    def __init__(self, registry):
        self.registry = registry
        self._instances = {}
        #: (policy, handler set) of a datagram from a peer without a session
        #: (asked for every such datagram; recomputed when the registry's
        #: provisional policy is replaced).
        self._udp_default = (None, None)

    def for_version(self, version):
        """The (cached) handler instance that serves ``version``."""
        cls = self.registry.handlers(version, ROLE)
        key = (cls, version)
        handlers = self._instances.get(key)
        if handlers is None:
            handlers = self._instances[key] = cls(version)
        return handlers

    def provisional(self, **hints):
        """The version assumed for a client that has not named itself (UDP
        datagrams from a peer without a TCP session; TCP before cmd 37),
        from what is known."""
        return self.registry.provisional(Hints(ROLE, **hints))

    def resolve(self, text):
        """The version serving a client whose version string is ``text``;
        raises ValueError / UnknownVersion.

        A client older than every known version (the real 1.2.0.18 of the
        IRC06 capture) keeps its session, served as the oldest known version
        with a warning, unless the policy is ``reject``."""
        return self.registry.resolve_text(text, older=OLDEST).version

    def for_udp_peer(self, session):
        """GUESS: a datagram from a client with an accepted TCP session here
        is served by that session's handler set, others by the version
        assumed before anything is known."""
        if session is not None and session.handlers is not None:
            return session.handlers
        policy = getattr(self.registry, "provisional_policy", self.registry)
        cached_policy, handlers = self._udp_default
        if handlers is None or cached_policy is not policy:
            handlers = self.for_version(self.provisional(transport="udp"))
            self._udp_default = (policy, handlers)
        return handlers
