"""
Skype 4.1.0.130 beta.

Known from Sean O'Neil's login code (login.md 2.1, version string
``0/4.1.0.130//``) and EPYCS, a client that talked to 4.1 peers: it checks
that the first record a node sends is a typed 03 padding record
(supernode.md 2.1, which the base already does) and uses type-5 session
records between clients (tcp.md 7; not the supernode's business).  No
supernode capture; served as 3.8.0.188.
"""

from zope.interface import implementer

from blissnode.event.handlers import EventHandlers4x
from blissnode.login.handlers import LoginHandlers4x
from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.versions.base import GUESSED, TESTED, UNKNOWN, ClientVersion  # noqa: F401
from blissnode.versions.v3_8_0_188 import Handlers as V3Handlers
from blissnode.versions.v3_8_0_188 import VERSION as _OLDER

ROLE = "supernode"


@implementer(ISupernodeHandlers)
class Handlers(V3Handlers):
    """Same as 3.8.0.188 (EPYCS' checks are met by the base)."""


VERSION = ClientVersion(
    label="4.1.0.130",
    number=(4, 1, 0, 130),
    handlers={ROLE: Handlers, "login": LoginHandlers4x, "event": EventHandlers4x},
    beta=True,
    facts=dict(_OLDER.facts, **{"client_padding": GUESSED, "version_string": TESTED, "event_first_request": GUESSED, "event_auth_answer": GUESSED, "event_handles": GUESSED, "event_entry": GUESSED, "event_host_id": GUESSED}),
    notes="Beta build.  Version string 0/4.1.0.130// (login.md 5.2, SEAN source); EPYCS requires the server's padding record first (met by the base).  Supernode conversation unverified; served as 3.8.0.188.",
)
