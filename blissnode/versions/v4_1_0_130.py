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

from blissnode.event.handlers import EventHandlers as BaseEventHandlers
from blissnode.event.interfaces import IEventHandlers
from blissnode.login.handlers import LoginHandlers as BaseLoginHandlers
from blissnode.login.interfaces import ILoginHandlers
from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.versions.base import GUESSED, TESTED, UNKNOWN, ClientVersion  # noqa: F401
from blissnode.versions.profiles import (
    KX_EXTRA_4X,
    ClientProfile,
    LoginClientProfile,
    VersionProfile,
)
from blissnode.versions.v3_8_0_188 import VERSION as _OLDER
from blissnode.versions.v3_8_0_188 import Handlers as V3Handlers
from blissnode.wire import login_messages as lm
from blissnode.wire.login_messages import REQUEST_LOGIN_4X
from blissnode.wire.server_session import TRANSPORT_CLASSIC

ROLE = "supernode"


@implementer(ISupernodeHandlers)
class Handlers(V3Handlers):
    """Same as 3.8.0.188 (EPYCS' checks are met by the base)."""


@implementer(ILoginHandlers)
class LoginHandlers(BaseLoginHandlers):
    """4.0 .. 4.2: classic transport, 0x42 key exchange, 5017 / 5018, the 4.x
    reply body (SEAN for 4.1.0.130, 12 real 4.0.x replies in BATO)."""

    def success_body(self, credential, year):
        return lm.success_body_4x(credential, year)


@implementer(IEventHandlers)
class EventHandlers(BaseEventHandlers):
    """4.0 .. 4.2: 6030 first, host id INT64 0x31 (FAKE, a 4.2-era client);
    the server answers either order, so nothing differs on its side."""


#: What this version sends as a client (the reference client imitates it).
PROFILE = VersionProfile.of(
    ClientProfile("4.1.0.130", version_string="0/4.1.0.130//",
                  guesses=("greeting_final", "cmd30", "sends_cmd48", "node_record_length",
                           "public_ip")),
    LoginClientProfile("4.1.0.130", TRANSPORT_CLASSIC, True, REQUEST_LOGIN_4X,
                       "0/4.1.0.130//", "4x", KX_EXTRA_4X))


VERSION = ClientVersion(
    profile=PROFILE,
    label="4.1.0.130",
    number=(4, 1, 0, 130),
    handlers={ROLE: Handlers, "login": LoginHandlers, "event": EventHandlers},
    beta=True,
    facts=dict(_OLDER.facts, **{"client_padding": GUESSED, "version_string": TESTED, "event_first_request": GUESSED, "event_auth_answer": GUESSED, "event_handles": GUESSED, "event_entry": GUESSED, "event_host_id": GUESSED},
               # client to client (docs/relay.rst)
               **{"relay": GUESSED, "peer_session": GUESSED}),
    notes="Beta build.  Version string 0/4.1.0.130// (login.md 5.2, SEAN source); EPYCS requires the server's padding record first (met by the base).  Supernode conversation unverified; served as 3.8.0.188.",
)
