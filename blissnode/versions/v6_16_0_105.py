"""
Skype 6.16.0.105, the last version that still speaks the P2P protocol
(seeds/blissnode-readme.txt: 6.22+ use MSNP24 only).

The 2015 network SOS2 talked to was 6.x: its real cmd 45 answers
(interleaved, 0x41 bodies), the cmd 53 push datagram with the inner
version string ``0/6.16.0.10//`` and the login session (login.md 2.2,
Handshake v5.5) are 6.x data.  Nothing differs from 5.5 on the supernode
side that the spec knows of.
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
from blissnode.versions.v5_9_66_114 import VERSION as _OLDER
from blissnode.versions.v5_9_66_114 import EventHandlers  # noqa: F401
from blissnode.versions.v5_9_66_114 import Handlers as V59Handlers
from blissnode.versions.v5_9_66_114 import LoginHandlers
from blissnode.wire.login_messages import REQUEST_LOGIN_6X
from blissnode.wire.server_session import TRANSPORT_DH384

ROLE = "supernode"


@implementer(ISupernodeHandlers)
class Handlers(V59Handlers):
    """Same as 5.9.66.114 (= 5.5 behaviour; 6.x data verified the 5.5 rules)."""


#: What this version sends as a client (the reference client imitates it).
PROFILE = VersionProfile.of(
    ClientProfile("6.16.0.105", dh384=True, greeting_tag=None, sends_padding=True,
                  greeting_final=FINAL_0F, cmd30_extras=True, uptime=15,
                  version_string="0/6.16.0.105//", sends_cmd48=True,
                  node_record_length=27, learns_ip_from_tcp=True,
                  guesses=("greeting_final", "cmd30", "sends_cmd48")),
    LoginClientProfile("6.16.0.105", TRANSPORT_DH384, True, REQUEST_LOGIN_6X,
                       "0/6.16.0.105//", "6x", KX_EXTRA_6X,
                       guesses=("register_code",)))


VERSION = ClientVersion(
    profile=PROFILE,
    label="6.16.0.105",
    number=(6, 16, 0, 105),
    handlers={ROLE: Handlers},
    beta=False,
    facts=dict(_OLDER.facts, **{"dh384": TESTED, "node_list_layout": TESTED, "node_record": TESTED, "push": TESTED, "version_string": TESTED, "event_first_request": TESTED, "event_handles": TESTED, "event_entry": TESTED, "event_cursor": TESTED, "event_host_id": TESTED},
               # client to client (docs/relay.rst)
               **{"relay": TESTED, "peer_session": TESTED}),
    notes='The 6.x network of 2015 (SOS2 logs): interleaved cmd 45, push datagram, DH-384 relay session, version string 0/6.16.0.10//.  Served as 5.5.0.124.',
    # The only 6.x string seen on the wire (a real 6.16 login, SOS2 log).
    aliases=("0/6.16.0.10//", (6, 16, 0, 10)),
)
