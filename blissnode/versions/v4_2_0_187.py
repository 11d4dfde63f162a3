"""
Skype 4.2.0.187.

No source specific to 4.2; the 4.0.x login replies in BATO share the 4.1
layout (login.md 9).  Served as 4.1.0.130.
"""

from zope.interface import implementer

from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.versions.base import GUESSED, TESTED, UNKNOWN, ClientVersion  # noqa: F401
from blissnode.versions.profiles import (
    KX_EXTRA_4X,
    ClientProfile,
    LoginClientProfile,
    VersionProfile,
)

# The roles this version does not change (the registry finds them too).
from blissnode.versions.v4_1_0_130 import VERSION as _OLDER
from blissnode.versions.v4_1_0_130 import EventHandlers  # noqa: F401
from blissnode.versions.v4_1_0_130 import Handlers as V41Handlers
from blissnode.versions.v4_1_0_130 import LoginHandlers
from blissnode.wire.login_messages import REQUEST_LOGIN_4X
from blissnode.wire.server_session import TRANSPORT_CLASSIC

ROLE = "supernode"


@implementer(ISupernodeHandlers)
class Handlers(V41Handlers):
    """Same as 4.1.0.130 (no 4.2 source)."""


#: What this version sends as a client (the reference client imitates it).
PROFILE = VersionProfile.of(
    ClientProfile("4.2.0.187", version_string="0/4.2.0.187//",
                  guesses=("greeting_final", "cmd30", "version_string", "sends_cmd48",
                           "node_record_length", "public_ip")),
    LoginClientProfile("4.2.0.187", TRANSPORT_CLASSIC, True, REQUEST_LOGIN_4X,
                       "0/4.2.0.187//", "4x", KX_EXTRA_4X,
                       guesses=("version_string", "register_code")))


VERSION = ClientVersion(
    profile=PROFILE,
    label="4.2.0.187",
    number=(4, 2, 0, 187),
    handlers={ROLE: Handlers},
    beta=False,
    facts=dict(_OLDER.facts, **{"version_string": GUESSED, "event_cursor": GUESSED}),
    notes='No reference specific to 4.2; served as 4.1.0.130.',
)
