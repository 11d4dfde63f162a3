"""
What a supported client version is, as an interface.

A client version is one object that provides :class:`IClientVersion`: its
number, and for each server role the class of handlers that speaks to it.
Version objects are Twisted plugins (see :mod:`blissnode.plugins`), so a
version can be added by a separate package without editing blissnode.
"""

from zope.interface import Attribute, Interface


class IClientVersion(Interface):
    """One client version that the servers know how to talk to."""

    label = Attribute("The version as the client prints it, e.g. '5.5.0.124'.")
    number = Attribute("The version as a tuple of ints, e.g. (5, 5, 0, 124).")
    beta = Attribute("True for a beta build (4.1.0.130).")
    handlers = Attribute(
        "Mapping of role name ('supernode', 'login', 'event') to the handler "
        "class for that role.  A role missing here inherits the handlers of "
        "the nearest older version that has it (see VersionRegistry).")
    facts = Attribute(
        "Mapping of feature name to one of 'tested', 'guessed', 'unknown': "
        "what is verified for this version, shown in docs/versions.rst.")
    notes = Attribute("Free text: where this version differs, and why we think so.")
    aliases = Attribute(
        "Optional: version strings ('0/6.16.0.10//') and number tuples ((6, 16, "
        "0, 10)) this version answers to as its own (see VersionRegistry.resolve).")
    profile = Attribute(
        "Optional: a blissnode.versions.profiles.VersionProfile, what this version "
        "sends to each server (the reference client imitates it).")
    patch_knowledge = Attribute(
        "Optional (may be absent or None): a blissnode.patch.builds.PatchKnowledge "
        "with known builds of this version (SHA-256, expected key counts) and "
        "extra compiled-in addresses, used by 'blissnode patch-client'.")
