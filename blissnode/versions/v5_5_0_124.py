"""
Skype 5.5.0.124.

SOS2 is a client reversed from 5.5 and run against the 6.x network in 2015
(tcp.md 3, supernode.md 3.2, udp.md U11).  What differs from 4.x:

* TCP opens with the DH-384 pre-handshake and both RC4 keys mix in the
  shared secret (tcp.md 3) -- handled by the TCP protocol, which recognises
  the longer opening;
* cmd 30 carries ``INT 0xB = 52, INT 0x23 = 0, INT 0x2C = 1`` besides the
  1.x fields (SOURCE; the handler reads only node id and port, unchanged);
* cmd 48 ``{INT 0 = 2}`` after accept (answered empty by the base);
* node records are 27 bytes (supernode.md 7.1; the directory decodes both);
* the client takes its public address from cmd 31 ADDR 0x11 (U11), which the
  base sends;
* the cmd 45 answer interleaves ``ADDR 0x11`` / ``LIST 0x1A`` per node with
  ``INT 0 = 52`` in each attribute list (VERIFIED on real answers 6.x nodes
  gave SOS2, udp.md 8).
"""

from zope.interface import implementer

from blissnode.event.interfaces import IEventHandlers
from blissnode.login.interfaces import TRANSPORT_DH384, ILoginHandlers
from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.versions.base import GUESSED, TESTED, UNKNOWN, ClientVersion  # noqa: F401
from blissnode.versions.profiles import (
    KX_EXTRA_6X,
    ClientProfile,
    LoginClientProfile,
    VersionProfile,
)
from blissnode.versions.v4_1_0_130 import EventHandlers as V4EventHandlers
from blissnode.versions.v4_1_0_130 import LoginHandlers as V4LoginHandlers
from blissnode.versions.v4_2_0_187 import VERSION as _OLDER
from blissnode.versions.v4_2_0_187 import Handlers as V4Handlers
from blissnode.wire import login_messages as lm
from blissnode.wire.login_messages import REQUEST_LOGIN_6X

ROLE = "supernode"


@implementer(ISupernodeHandlers)
class Handlers(V4Handlers):
    """DH-384 flag, stack version 52, interleaved cmd 45."""

    NODE_LIST_LAYOUT = "interleaved"
    #: GUESS (supernode.md Q3): 5.x clients announce stack version 52 in
    #: cmd 30 and 6.x-era nodes list ``INT 0 = 52`` in their cmd 45
    #: attributes, so the supernode presents itself as a stack-52 node.
    STACK_VERSION = 52


@implementer(ILoginHandlers)
class LoginHandlers(V4LoginHandlers):
    """5.5 .. 6.16: DH-384 + RC4 ("Handshake v5.5"), 5027, the 6.x reply body
    with the one-year value inside the credential (SOS2, real 2015 session)."""

    transport = TRANSPORT_DH384

    def success_body(self, credential, year):
        return lm.success_body_6x(credential)

    def credential_validity(self, expiry, year):
        """2015/16 samples: LIST 2 = {INT 9 = issue + one year}."""
        return {9: year}


@implementer(IEventHandlers)
class EventHandlers(V4EventHandlers):
    """5.5 .. 6.16: DH-384 + RC4 (SOS2 uses one handshake routine for the
    login and event servers), host id INT64 0x3A (SOS2 templates)."""

    transport = TRANSPORT_DH384


#: What this version sends as a client (the reference client imitates it).
PROFILE = VersionProfile.of(
    ClientProfile("5.5.0.124", dh384=True, greeting_tag=None, sends_padding=True,
                  cmd30_extras=True, uptime=15, version_string="0/5.5.0.124//",
                  sends_cmd48=True, node_record_length=27, learns_ip_from_tcp=True,
                  guesses=("version_string",)),
    LoginClientProfile("5.5.0.124", TRANSPORT_DH384, True, REQUEST_LOGIN_6X,
                       "0/5.5.0.124//", "6x", KX_EXTRA_6X,
                       guesses=("version_string", "register_code")))


VERSION = ClientVersion(
    profile=PROFILE,
    label="5.5.0.124",
    number=(5, 5, 0, 124),
    handlers={ROLE: Handlers, "login": LoginHandlers, "event": EventHandlers},
    beta=False,
    facts=dict(_OLDER.facts, **{"dh384": TESTED, "udp_probe": TESTED, "udp_nack_resend": GUESSED, "public_ip_from_nack": GUESSED, "tcp_seed_exchange": TESTED, "greeting_final": TESTED, "client_padding": TESTED, "client_accept": GUESSED, "cmd31_values": GUESSED, "cmd48": GUESSED, "slot_query": GUESSED, "client_info": GUESSED, "node_list_layout": TESTED, "node_record": TESTED, "push": TESTED, "version_string": GUESSED},
               # client to client (docs/relay.rst)
               **{"relay": TESTED, "peer_session": GUESSED}),
    notes='SOS2 (5.5 client against 6.x nodes): DH-384 before the seed exchange (numerically verified on a real relay session), 27-byte node records, cmd 30 template with INT 0xB = 52, cmd 48 {INT 0 = 2}, public IP from cmd 31, interleaved cmd 45 and the cmd 53/54 push (real datagrams).  stackVersion 52 in cmd 31 is a guess.',
)
