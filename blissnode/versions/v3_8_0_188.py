"""
Skype 3.8.0.188.

The spec has no source at all for 3.x (login.md 9: "2.5, 3.8 assumed as
1.4 / 4.1").  Served exactly as 2.5.0.151; every feature is unverified.
"""

from zope.interface import implementer

from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.versions.base import GUESSED, TESTED, UNKNOWN, ClientVersion  # noqa: F401
from blissnode.versions.profiles import ClientProfile, VersionProfile, old_login_profile

# The roles this version does not change (the registry finds them too).
from blissnode.versions.v2_5_0_151 import VERSION as _OLDER
from blissnode.versions.v2_5_0_151 import EventHandlers  # noqa: F401
from blissnode.versions.v2_5_0_151 import Handlers as V2Handlers
from blissnode.versions.v2_5_0_151 import LoginHandlers

ROLE = "supernode"


@implementer(ISupernodeHandlers)
class Handlers(V2Handlers):
    """Same as 2.5.0.151 (no source for 3.x)."""


#: What this version sends as a client (the reference client imitates it).
PROFILE = VersionProfile.of(
    ClientProfile("3.8.0.188", version_string="0/3.8.0.188",
                  guesses=("greeting_final", "cmd30", "version_string", "sends_cmd48",
                           "node_record_length", "public_ip")),
    old_login_profile("3.8.0.188"))


VERSION = ClientVersion(
    profile=PROFILE,
    label="3.8.0.188",
    number=(3, 8, 0, 188),
    handlers={ROLE: Handlers},
    beta=False,
    facts=dict(_OLDER.facts, **{}),
    notes='No reference for 3.x; served as 2.5.0.151 (= 1.4.0.84).',
)
