"""Makes Skype 6.21.0.104 known to blissnode: a Twisted plugin, found by
``VersionRegistry.from_plugins()`` because this file sits in a
``blissnode/plugins/`` directory on ``sys.path`` (no ``__init__.py`` here)."""

import attr

from blissnode.versions.base import GUESSED, ClientVersion
from blissnode.versions.v6_16_0_105 import VERSION as NEAREST
from skype621.handlers import EventHandlers, SupernodeHandlers


def recognise(hints):
    """Before a client names its version: a cmd 30 with stack version 53
    is a 6.21 client (blissnode.versions.policy)."""
    return hints.role == "supernode" and hints.stack_version == 53


#: What a 6.21 client sends: 6.16's, with stack version 53 in cmd 30 (so the
#: reference client can imitate it).
PROFILE = NEAREST.profile.for_label("6.21.0.104")
PROFILE = attr.evolve(PROFILE, supernode=attr.evolve(PROFILE.supernode, stack_version=53))

SKYPE_6_21 = ClientVersion(
    label="6.21.0.104",
    number=(6, 21, 0, 104),
    # The roles that differ; "login" comes from 6.16 (and 6.16's from 5.5).
    handlers={"supernode": SupernodeHandlers, "event": EventHandlers},
    recognise=recognise,
    profile=PROFILE,
    facts=dict(NEAREST.facts, event_cursor=GUESSED, cmd31_values=GUESSED),
    notes="Example version of docs/adding-a-version.rst: cmd 31 says stack version 53 "
          "and carries INT 0x99 = 1; the 6016 cursor starts at 10**9.",
)
