"""
What to assume of a client before it names its version: one place, one
overridable class.

A client reveals its version late (cmd 37 on the supernode, the login
request's STRING 0x0D), but several answers go out before: UDP probes and
queries, cmd 30 -> 31, cmd 48, the first event requests.  Every such choice
is made here, from what is known (:class:`~blissnode.core.versioning.Hints`),
in this order:

1. a version module that recognises the hints (``ClientVersion.recognise``,
   newest first) -- how a plugin makes its pre-version answers reach the
   wire (e.g. a 6.30 client announcing stack version 53 in cmd 30);
2. the defaults below, every one a GUESS:

   ========== ============================================================
   supernode  DH-384 opening, or cmd 30 INT 0xB >= 52 (SOS2: 5.x sends
              52): the nearest version to 5.5.0.124; else the oldest
   login      request 5027 (the 6.x code): 5.5.0.124; else 4.1.0.130
   event      DH-384 transport: 5.5.0.124; else 1.4.0.84
   ========== ============================================================

   ("the nearest version to N": N, else the nearest older one, else the
   oldest; never a warning -- nothing unknown was claimed).

Replace the policy with ``registry.provisional_policy = MyPolicy()``.
"""

from blissnode.core.versioning import Hints  # noqa: F401  (documented type)

__all__ = ["ProvisionalPolicy", "STACK_5X", "DEFAULT_CHOICES"]

#: cmd 30 INT 0xB of the 5.x clients (SOS2).
STACK_5X = 52

#: The version numbers the default rules pick, by role and case (GUESS).
DEFAULT_CHOICES = {
    ("supernode", "5x"): (5, 5, 0, 124),
    ("login", "6x"): (5, 5, 0, 124),
    ("login", "4x"): (4, 1, 0, 130),
    ("event", "dh384"): (5, 5, 0, 124),
    ("event", "classic"): (1, 4, 0, 84),
}


class ProvisionalPolicy(object):
    """See the module docstring."""

    def choose(self, registry, hints):
        for version in reversed(registry.versions()):
            recognise = getattr(version, "recognise", None)
            if recognise is not None and recognise(hints):
                return version
        key = self.default_key(hints)
        if key is None:
            return registry.oldest()
        return registry.nearest(DEFAULT_CHOICES[key])

    def default_key(self, hints):
        """The row of :data:`DEFAULT_CHOICES` for ``hints`` (None: the oldest)."""
        if hints.role == "supernode":
            if hints.transport == "dh384" or (hints.stack_version or 0) >= STACK_5X:
                return ("supernode", "5x")
            return None
        if hints.role == "login":
            return ("login", "6x") if hints.request_code == 5027 else ("login", "4x")
        if hints.role == "event":
            return ("event", "dh384") if hints.transport == "dh384" else ("event", "classic")
        return None

    def default_targets(self, registry):
        """The versions the default rules can pick (their pre-version
        overrides take effect without ``recognise``)."""
        out = {registry.oldest()}
        for number in DEFAULT_CHOICES.values():
            out.add(registry.nearest(number))
        return out
