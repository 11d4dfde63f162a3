"""
Skype 5.9.66.114.

No source (login.md 9: "5.9 assumed as 5.5/6.16").  Served as 5.5.0.124.
"""

from zope.interface import implementer

from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.versions.base import GUESSED, TESTED, UNKNOWN, ClientVersion  # noqa: F401
from blissnode.versions.profiles import (
    FINAL_0F,
    KX_EXTRA_6X,
    ClientProfile,
    LoginClientProfile,
    VersionProfile,
)

# The roles this version does not change (the registry finds them too).
from blissnode.versions.v5_5_0_124 import VERSION as _OLDER
from blissnode.versions.v5_5_0_124 import EventHandlers  # noqa: F401
from blissnode.versions.v5_5_0_124 import Handlers as V55Handlers
from blissnode.versions.v5_5_0_124 import LoginHandlers
from blissnode.wire.login_messages import REQUEST_LOGIN_6X
from blissnode.wire.server_session import TRANSPORT_DH384

ROLE = "supernode"


@implementer(ISupernodeHandlers)
class Handlers(V55Handlers):
    """Same as 5.5.0.124 (no 5.9 source)."""


#: What this version sends as a client (the reference client imitates it).
PROFILE = VersionProfile.of(
    ClientProfile("5.9.66.114", dh384=True, greeting_tag=None, sends_padding=True,
                  greeting_final=FINAL_0F, cmd30_extras=True, uptime=15,
                  version_string="0/5.9.66.114//", sends_cmd48=True,
                  node_record_length=27, learns_ip_from_tcp=True,
                  guesses=("dh384", "greeting_final", "cmd30", "version_string",
                           "sends_cmd48", "public_ip")),
    LoginClientProfile("5.9.66.114", TRANSPORT_DH384, True, REQUEST_LOGIN_6X,
                       "0/5.9.66.114//", "6x", KX_EXTRA_6X,
                       guesses=("transport", "version_string", "register_code")))


VERSION = ClientVersion(
    profile=PROFILE,
    label="5.9.66.114",
    number=(5, 9, 66, 114),
    handlers={ROLE: Handlers},
    beta=False,
    facts=dict(_OLDER.facts, **{"dh384": GUESSED, "udp_probe": GUESSED, "tcp_seed_exchange": GUESSED, "greeting_final": GUESSED, "client_padding": GUESSED, "node_list_layout": GUESSED, "node_record": GUESSED, "push": GUESSED},
               # client to client (docs/relay.rst)
               **{"relay": GUESSED}),
    notes='No reference for 5.9; served as 5.5.0.124.',
)
