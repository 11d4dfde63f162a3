"""
The contract between the supernode's protocols and per-version handlers.

The protocols (UDP :mod:`blissnode.supernode.udp`, TCP
:mod:`blissnode.supernode.tcp`) only buffer, decode with
:mod:`blissnode.wire` and dispatch each command to one method of an
:class:`ISupernodeHandlers` provider, chosen per client version by the
:class:`~blissnode.versions.registry.VersionRegistry`.  A client version
that behaves differently overrides one method in its module under
:mod:`blissnode.versions`.

Every handler method takes one :class:`~blissnode.supernode.request.Request`
and returns the reply commands to send in the same datagram / packet (a list
of :class:`blissnode.wire.tcp_commands.Command`, possibly empty), or a
Deferred that fires with that list.  Anything else a handler causes (a
second packet, a forwarded push, a connect-back) goes through the request's
``session`` / ``node`` objects, never by writing bytes itself.

The command tables below are part of the contract: which handler method
answers which command number on which transport.  A version may replace a
table (class attribute of the same name on its handler class).
"""

from zope.interface import Attribute, Interface

#: UDP command number -> handler method (udp.md 8).
UDP_COMMANDS = {
    27: "udp_probe",
    35: "udp_address_query",
    44: "udp_node_list",
    6: "udp_slot_query",
    12: "udp_publish",
    14: "udp_user_search",
    18: "udp_extended_search",
    53: "udp_push",
}

#: TCP command number -> handler method (supernode.md 3-5, udp.md 9.4).
TCP_COMMANDS = {
    7: "tcp_event_connect",
    30: "tcp_client_accept",
    48: "tcp_channel_fetch",
    6: "tcp_slot_query",
    37: "tcp_client_info",
    38: "tcp_client_flags",
    40: "tcp_firewall_test",
    60: "tcp_publish",
    14: "tcp_user_search",
    18: "tcp_extended_search",
    73: "tcp_relay_open",
    74: "tcp_relay_join",
}

#: Reply commands a client sends back on its TCP session after the
#: supernode forwarded a push to it (supernode.md 5.3): 82 answers an
#: initial ping (81), 70 a session request (67), 57 a UDP test (57).
TCP_FORWARDED_REPLIES = frozenset([82, 70, 57])


class ISupernodeHandlers(Interface):
    """What a supernode says to one client version; one method per command."""

    udp_commands = Attribute("Mapping command number -> method name (UDP).")
    tcp_commands = Attribute("Mapping command number -> method name (TCP).")

    # -- UDP (udp.md 8) -------------------------------------------------
    def udp_probe(request):
        """cmd 27 -> cmd 28 (probe accepted; the client then opens TCP)."""

    def udp_address_query(request):
        """cmd 35 -> cmd 36 ``{ADDR 0x11 = requester as seen}``."""

    def udp_node_list(request):
        """cmd 44 -> cmd 45: supernode addresses with attribute lists."""

    def udp_slot_query(request):
        """cmd 6 -> cmd 8 (as on TCP)."""

    def udp_publish(request):
        """cmd 12: store the client's user record (the protocol ACKs)."""

    def udp_user_search(request):
        """cmd 14 -> cmd 15 answered from the directory."""

    def udp_extended_search(request):
        """cmd 18 -> cmd 19."""

    def udp_push(request):
        """cmd 53: forward the inner command to the target's TCP session,
        or answer cmd 54 ``{INT 6 = 3}`` when the target is not here."""

    def udp_unknown(request):
        """Any other UDP command; usually no answer."""

    # -- TCP (supernode.md 3-5) -----------------------------------------
    def tcp_event_connect(request):
        """7: carry the event server named by ADDR 0x11 over this
        connection (cmd 1 reply, then the type-4 switch; ERRATA)."""

    def tcp_client_accept(request):
        """cmd 30 -> cmd 31 (+ cmd 11 and cmd 47 in a second packet), or
        cmd 32 to refuse."""

    def tcp_channel_fetch(request):
        """cmd 48 -> cmd 48 reply."""

    def tcp_slot_query(request):
        """cmd 6 -> cmd 8."""

    def tcp_client_info(request):
        """cmd 37 notification (client version string; keep-alive)."""

    def tcp_client_flags(request):
        """cmd 38 notification."""

    def tcp_firewall_test(request):
        """cmd 40 -> cmd 42, then cmd 43 from us to the client."""

    def tcp_publish(request):
        """cmd 60: publish the user record on TCP."""

    def tcp_user_search(request):
        """cmd 14 on TCP -> cmd 15."""

    def tcp_extended_search(request):
        """cmd 18 on TCP -> cmd 19."""

    def tcp_forwarded_reply(request):
        """A reply (82, 70, 57) to a push we forwarded: pass it back to the
        node that pushed."""

    def presence_push(state):
        """``(cmd, items)`` of the notification that tells this version's
        client a contact's presence changed (a PresenceState), or None."""

    def tcp_relay_open(request):
        """cmd 73 ``{INT 3 = sender's session id}`` -> cmd 75 ``{INT 3 =
        connection id, INT 0x1F = 0, INT 0x20}``: open a relayed connection
        (:mod:`blissnode.supernode.relay`)."""

    def tcp_relay_join(request):
        """cmd 74 ``{INT 3 = sender's session id, INT 4 = connection id}`` ->
        cmd 75 without INT 3, then cmd 84 to both legs."""

    def tcp_unknown(request):
        """Any other TCP command."""
