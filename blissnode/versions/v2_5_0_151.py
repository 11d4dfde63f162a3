"""
Skype 2.5.0.151.

No capture of this version talking to a supernode exists.  FAKE, a working
2.5-era client reimplementation, is the source of the port-443 prelude, the
cmd 30 field names and the push/forwarded-query handling (supernode.md 2.2,
5.3); udp.md 8 shows a 2.5-era node announcing itself as ``0/2.5.0.122`` in
cmd 45.  The blissnode author reports 2.5 signing in to his server, without
protocol details (seeds/blissnode-readme.txt).  Nothing the spec says
differs from 1.4, so the handlers are 1.4's unchanged.
"""

from zope.interface import implementer

from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.versions.base import GUESSED, TESTED, UNKNOWN, ClientVersion  # noqa: F401
from blissnode.versions.profiles import ClientProfile, VersionProfile, old_login_profile

# The roles this version does not change (the registry finds them too).
from blissnode.versions.v1_4_0_84 import VERSION as _OLDER
from blissnode.versions.v1_4_0_84 import EventHandlers  # noqa: F401
from blissnode.versions.v1_4_0_84 import Handlers as V1Handlers
from blissnode.versions.v1_4_0_84 import LoginHandlers

ROLE = "supernode"


@implementer(ISupernodeHandlers)
class Handlers(V1Handlers):
    """Same as 1.4.0.84 (unverified: no 2.x capture)."""


#: What this version sends as a client (the reference client imitates it).
PROFILE = VersionProfile.of(
    ClientProfile("2.5.0.151", version_string="0/2.5.0.151",
                  guesses=("greeting_final", "cmd30", "version_string", "sends_cmd48",
                           "node_record_length", "public_ip")),
    old_login_profile("2.5.0.151"))


VERSION = ClientVersion(
    profile=PROFILE,
    label="2.5.0.151",
    number=(2, 5, 0, 151),
    handlers={ROLE: Handlers},
    beta=False,
    facts=dict(_OLDER.facts, **{"udp_probe": GUESSED, "udp_nack_resend": GUESSED, "public_ip_from_nack": GUESSED, "tcp_seed_exchange": GUESSED, "greeting_final": GUESSED, "client_padding": GUESSED, "dh384": GUESSED, "https_prelude": GUESSED, "client_accept": GUESSED, "cmd31_values": GUESSED, "stats_channels": GUESSED, "cmd48": UNKNOWN, "slot_query": GUESSED, "client_info": GUESSED, "firewall_test": GUESSED, "node_list_layout": UNKNOWN, "node_record": GUESSED, "publish": GUESSED, "search": GUESSED, "push": GUESSED, "version_string": GUESSED, "event_transport": GUESSED, "event_first_request": UNKNOWN, "event_handles": UNKNOWN}),
    notes='Served as 1.4.0.84.  Sources: FAKE (a 2.5-era client: 443 prelude, cmd 30 names, push and forwarded queries) - SOURCE only; no capture of 2.5 itself.',
)
