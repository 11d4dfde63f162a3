"""
Skype 1.4.0.84 (2007-2009): the oldest supported client and the base of
every other version module.

Its supernode conversation is the best documented one (supernode.md 3.1,
BATO capture + client log): UDP probe keyed with 0.0.0.0, NACK, resend,
cmd 28; TCP without DH-384; greeting ending in 03 and no client padding
record; cmd 30 -> 31 ``{INT 0xB = 44, INT 0xC = 802011429, INT 0x10, ADDR
0x11, INTARRAY 0x21 = [0, 0]}`` and the cmd 11 + 47 packet; no cmd 48; cmd 6
refill then slot queries; cmd 37 + 38 acked.  The base
:class:`~blissnode.supernode.handlers.SupernodeHandlers` answers all of that
as 1.4 expects, so this module overrides only the cmd 45 layout.
"""

from zope.interface import implementer

from blissnode.event.handlers import EventHandlers
from blissnode.login.handlers import LoginHandlers
from blissnode.supernode.handlers import SupernodeHandlers
from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.versions.base import GUESSED, TESTED, UNKNOWN, ClientVersion
from blissnode.versions.profiles import ClientProfile, VersionProfile, old_login_profile

ROLE = "supernode"

#: Features listed in docs/versions.rst, in table order.
FEATURES = (
    "udp_probe", "udp_nack_resend", "public_ip_from_nack", "tcp_seed_exchange",
    "greeting_final", "client_padding", "dh384", "https_prelude", "client_accept",
    "cmd31_values", "stats_channels", "cmd48", "slot_query", "client_info",
    "firewall_test", "node_list_layout", "node_record", "publish", "search",
    "push", "version_string",
    # event server (docs/event.rst)
    "event_transport", "event_first_request", "event_auth_answer", "event_handles",
    "event_entry", "event_cursor", "event_host_id", "event_own_codes", "event_push",
    # client to client (docs/relay.rst)
    "relay", "peer_session", "chat",
)


@implementer(ISupernodeHandlers)
class Handlers(SupernodeHandlers):
    """1.x answers to cmd 44: every ``ADDR 0x11`` first, then one ``LIST
    0x1A`` per node in the same order (udp.md 8: "1.x: {ADDR 0x11 x n, LIST
    0x1A x n}"; 6.x interleaves them, see :mod:`v5_5_0_124`)."""

    #: Layout of the cmd 45 answer: "grouped" (1.x) or "interleaved" (6.x).
    NODE_LIST_LAYOUT = "grouped"

    def udp_node_list(self, request):
        entries = self.node_entries(request)
        addrs = [e.addr_item() for e in entries]
        attrs = [e.attributes_item() for e in entries]
        if self.NODE_LIST_LAYOUT == "interleaved":
            items = [x for pair in zip(addrs, attrs) for x in pair]
        else:
            items = addrs + attrs
        return [request.reply(45, items)]


#: What this version sends as a client (the reference client imitates it).
PROFILE = VersionProfile.of(
    ClientProfile("1.4.0.84", version_string="0/1.4.0.84", uptime=2),
    old_login_profile("1.4.0.84"))


VERSION = ClientVersion(
    profile=PROFILE,
    label="1.4.0.84",
    number=(1, 4, 0, 84),
    handlers={ROLE: Handlers, "login": LoginHandlers, "event": EventHandlers},
    facts={
        # BATO: a 1.4 session request arrived "indirect" through a relay with
        # cmd 75 / 84 (bodies VERIFIED), but 1.x sessions are packets, which
        # our relay does not forward; no type-5 session records before 4.x.
        "relay": GUESSED, "peer_session": UNKNOWN, "chat": UNKNOWN,
        "udp_probe": TESTED, "udp_nack_resend": TESTED, "public_ip_from_nack": TESTED,
        "tcp_seed_exchange": TESTED, "greeting_final": TESTED, "client_padding": TESTED,
        "dh384": TESTED, "https_prelude": GUESSED, "client_accept": TESTED,
        "cmd31_values": TESTED, "stats_channels": TESTED, "cmd48": TESTED,
        "slot_query": TESTED, "client_info": TESTED, "firewall_test": GUESSED,
        "node_list_layout": GUESSED, "node_record": TESTED, "publish": GUESSED,
        "search": TESTED, "push": GUESSED, "version_string": TESTED,
        # BATO: hello, 0x41 key exchange and the first record (seq 0) VERIFIED;
        # one request record (6028, no 6030) in the first write.
        "event_transport": TESTED, "event_first_request": TESTED,
        "event_auth_answer": UNKNOWN, "event_handles": GUESSED, "event_entry": UNKNOWN,
        "event_cursor": UNKNOWN, "event_host_id": UNKNOWN, "event_own_codes": UNKNOWN,
        "event_push": UNKNOWN,
    },
    notes="BATO capture with the client's own log (supernode.md 3.1, udp.md 4.3): "
          "probe/NACK/resend, seed exchange without DH-384, cmd 30/31/11/47, no cmd 48, "
          "cmd 6 and 37/38 are byte-verified; 21-byte node record; version string "
          "0/1.4.0.84.  The port-443 prelude and the firewall test are known only from "
          "FAKE (2.5-era) and the 1.2 capture.",
)
