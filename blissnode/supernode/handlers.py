"""
:class:`SupernodeHandlers`: what a main supernode answers, command by
command -- the base implementation of
:class:`~blissnode.supernode.interfaces.ISupernodeHandlers`.

A handler method gets one :class:`~blissnode.supernode.request.Request` and
returns the reply commands for the same datagram / packet (a list, possibly
empty) or a Deferred firing with that list.  It never writes bytes: replies are
built with :meth:`Request.reply` (object lists encoded by
:mod:`blissnode.wire.objects`), and anything that happens outside the current
datagram / packet goes through the services of ``request.node``
(:class:`~blissnode.supernode.node.SupernodeNode`) and ``request.session``
(:class:`~blissnode.supernode.tcp.SupernodeTCPProtocol`).

Everything the spec leaves open is a class constant or a small method marked
``GUESS:`` so that a version module (``blissnode/versions/v*.py``) overrides
exactly that and nothing else.

Services used (the contract with :mod:`blissnode.supernode.node` and
:mod:`blissnode.supernode.tcp`):

``request.node``
    ``public_address()`` (our ip:port as a NetAddr, UDP = main TCP port),
    ``tcp_port``, ``directory`` (:class:`~blissnode.store.directory.IOnlineDirectory`),
    ``users_online()``, ``session_for_udp_peer(peer)``, ``session(session_id)``,
    ``send_udp(peer, commands)``, ``pushes`` (:class:`~blissnode.supernode.node.PushTable`),
    ``firewall_test(ip, port, token)``, ``user_name_of_record(record)``,
    ``rng`` and ``clock``.
``request.session`` (TCP only)
    ``session_id``, ``peer``, ``node_id``, ``listen_port``, ``user_name``,
    ``after_reply(commands, close=False)`` (a packet written right after
    this request's reply), ``send_request(cmd, body)`` (returns the request
    id), ``refreshed()``, ``set_version_string(text)``.
"""

from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from blissnode.core.delivery import PushRequest
from blissnode.supernode.interfaces import (
    TCP_COMMANDS,
    TCP_FORWARDED_REPLIES,
    UDP_COMMANDS,
    ISupernodeHandlers,
)
from blissnode.supernode.relay import RelayRefused
from blissnode.supernode.request import notification
from blissnode.wire.errors import ProtocolError
from blissnode.wire.node_record import decode_node_record
from blissnode.wire.presence import presence_list
from blissnode.wire.relay_commands import CMD_RELAY_ACCEPTED, RelayAccepted, RelayJoin, RelayOpen
from blissnode.wire.supernode_commands import (
    SEARCH_END,
    AcceptReply,
    AddressReply,
    ClientAccept,
    ClientInfo,
    EventConnect,
    FirewallPing,
    FirewallReply,
    NetworkStats,
    NodeListEntry,
    Publish,
    Push,
    PushOffline,
    SearchHit,
    SlotEntry,
    SlotQuery,
    UserSearch,
)
from blissnode.wire.objects import Int, NetAddr, String, encode_objects
from blissnode.wire.tcp_commands import KIND_REPLY, Command
from blissnode.wire.udp_commands import EMPTY_LIST_42

log = Logger()

#: Number of user-directory slots (supernode.md 4.2).
SLOT_COUNT = 2048

# Command numbers (supernode.md 3-5, udp.md 8; cmd 7 / 1: ERRATA).
CMD_EVENT_CONNECT_REPLY = 1
CMD_SLOT_REPLY = 8
CMD_NETWORK_STATS = 11
CMD_USER_SEARCH_REPLY = 15
CMD_EXTENDED_SEARCH_REPLY = 19
CMD_PROBE_OK = 28
CMD_CLIENT_OK = 31
CMD_CLIENT_REFUSED = 32
CMD_ADDRESS_REPLY = 36
CMD_FIREWALL_REPLY = 42
CMD_FIREWALL_PING = 43
CMD_NODE_LIST_REPLY = 45
CMD_CHANNELS = 47
CMD_CHANNEL_FETCH = 48
CMD_PUSH_REPLY = 54

@implementer(ISupernodeHandlers)
class SupernodeHandlers(object):
    """The base (oldest-client) behaviour of a main supernode.

    One instance serves every session of one client version; it holds no
    per-session state (that lives in the session and the node), so methods
    can be called for any number of clients concurrently.
    """

    udp_commands = UDP_COMMANDS
    tcp_commands = TCP_COMMANDS
    #: Replies from a client to a push we forwarded (handled by
    #: :meth:`tcp_forwarded_reply`).
    tcp_forwarded_replies = TCP_FORWARDED_REPLIES

    # -- values the spec leaves open (override per version) -------------------

    #: GUESS: cmd 31 INT 0xB "stackVersion": 44 is the newest value a real
    #: supernode sent to 1.x clients (supernode.md 3.3, Q3).
    STACK_VERSION = 44
    #: GUESS: cmd 31 INT 0xC "stackTimestamp" from the same 1.4-era node.
    STACK_TIMESTAMP = 802011429
    #: GUESS: cmd 31 INTARRAY 0x21; its presence marks a supernode, the
    #: 1.4-era content was [0, 0] (Q3).
    SUPERNODE_MARKS = (0, 0)
    #: GUESS: how many slots answer the refill query ``{INT 4 = n}`` at most
    #: (16 asked by every capture; the cap bounds the reply).
    MAX_REFILL_SLOTS = 64
    #: GUESS: INT 7 "supernodes in the slot" when blissnode is the only one (Q6).
    NODES_PER_SLOT = 1
    #: cmd 54 INT 6 value for "target offline / wrong supernode" (VERIFIED).
    PUSH_OFFLINE_CODE = 3
    #: GUESS: most hits one cmd 15 reply carries (bounded reply size, Q10).
    SEARCH_LIMIT = 50
    #: GUESS: the command that carries a contact's presence change to a
    #: watcher's supernode session (no public capture shows one; 100 is
    #: unused by every known command, supernode.md).  None: no such push.
    PRESENCE_PUSH_CMD = 100
    #: Inner commands a push (cmd 53, from anybody: UDP is unauthenticated)
    #: may carry into a session: the forwarded queries of supernode.md 5.3
    #: (81 initial ping, 67 session proposal, 57 UDP test; SOURCE FAKE/SOS2).
    #: Anything else -- a forged presence command, say -- is answered as
    #: "target offline" (issue 17.7).
    PUSHABLE_COMMANDS = frozenset([81, 67, 57])
    #: GUESS: delay between our cmd 42 reply and the cmd 43 connect-back,
    #: so the client has processed cmd 42 (IRC06: "within a few seconds").
    FIREWALL_TEST_DELAY = 0.5

    def __init__(self, version=None):
        #: The :class:`~blissnode.versions.base.ClientVersion` served, if any.
        self.version = version

    def __repr__(self):
        return "<%s for %r>" % (type(self).__name__, self.version)

    # -- helpers ----------------------------------------------------------------

    def own_address(self, request):
        """Our address as clients reach it (ADDR 3 in slots, 0x11 in 45/42)."""
        return request.node.public_address()

    def peer_address(self, request):
        ip, port = request.peer
        return NetAddr(ip, port)

    # -- UDP ---------------------------------------------------------------------

    def udp_probe(self, request):
        """27 -> 28 with the empty ``42 15`` body real nodes sent (BATO-TOOLS'
        checker compares the whole 18-byte answer)."""
        return [Command(CMD_PROBE_OK, KIND_REPLY, request.request_id, self.probe_reply_body())]

    def probe_reply_body(self):
        """GUESS-free: ``42 15`` as real supernodes sent (udp.md 8)."""
        return EMPTY_LIST_42

    def udp_address_query(self, request):
        return [request.reply(CMD_ADDRESS_REPLY, AddressReply(self.peer_address(request)).items())]

    def udp_node_list(self, request):
        """44 -> 45: blissnode is the only supernode it knows."""
        items = []
        for entry in self.node_entries(request):
            items += [entry.addr_item(), entry.attributes_item()]
        return [request.reply(CMD_NODE_LIST_REPLY, items)]

    def node_entries(self, request):
        """The :class:`NodeListEntry` s of cmd 45 (:meth:`node_list` with
        :meth:`node_attributes`)."""
        return [NodeListEntry(addr, self.node_attributes(request, addr))
                for addr in self.node_list(request)]

    def node_list(self, request):
        """GUESS: the nodes answered to cmd 44 -- only ourselves (at the relay
        address when we relay: clients take these nodes as relay candidates)."""
        return [self.relay_address(request)]

    def relay_address(self, request):
        """Our address as a relay candidate (``SupernodeNode.relay_address``)."""
        if getattr(request.node, "relay_enabled", False):
            return request.node.relay_address()
        return self.own_address(request)

    def node_attributes(self, request, addr):
        """GUESS: LIST 0x1A per node; 6.x nodes sent ``INT 0 = 52`` (their
        stack version) among other unexplained values; we send our stack
        version, and for ourselves the relay candidate's attributes when we
        relay (udp.md 8, supernode.md 5.2)."""
        items = [Int(0, self.STACK_VERSION)]
        if addr == self.relay_address(request) and getattr(request.node, "relay_enabled", False):
            items += self.relay_attributes(request)
        return items

    #: GUESS: the items after INT 0 in a relay candidate's LIST 0x1A.  The
    #: 6.x answers SOS2 logged carry ``{INT 0 = 52, INT 2, INT 3, INT 4,
    #: INT 0xA, STRING 0x10 = country, [INT 0x11], INT 0x12, INT 0x21}``
    #: per node (VERIFIED shape, values unexplained); SOS2 itself reads only
    #: the ADDR 0x11 list and tries cmd 73 on each address.  We send that
    #: shape with 1 for every unexplained INT.
    RELAY_ATTRIBUTES = ((0x02, 1), (0x03, 1), (0x04, 1), (0x0A, 1), (0x12, 1), (0x21, 1))
    #: GUESS: STRING 0x10 "country" of the relay candidate (ZZ: unknown).
    RELAY_COUNTRY = b"ZZ"

    def relay_attributes(self, request):
        """:data:`RELAY_ATTRIBUTES` and :data:`RELAY_COUNTRY` in the order of
        the real 6.x lists."""
        ints = [Int(i, v) for i, v in self.RELAY_ATTRIBUTES]
        head = [it for it in ints if it.id < 0x10]
        tail = [it for it in ints if it.id > 0x10]
        return head + [String(0x10, self.RELAY_COUNTRY)] + tail

    def udp_slot_query(self, request):
        return [self.slot_reply(request)]

    def udp_publish(self, request):
        """12: store the record; the protocol acknowledges the datagram."""
        record = Publish.from_objects(request.objects).record
        if record is None:
            return []
        session = request.node.tcp_sessions.for_udp_peer(request.peer)
        d = self.publish_record(request, session, record)
        d.addCallback(lambda _: self.publish_answer(request))
        return d

    def publish_answer(self, request):
        """GUESS: FAKE sends cmd 12 as a request ``{INT 0x1F = 1, BLOB 0xB}``;
        the answer to that form is unknown (supernode.md 5.1), an empty reply
        with the same command number is assumed.  Notifications get the
        protocol's ACK."""
        if request.command.kind == 2:
            return [request.reply(request.cmd, [])]
        return []

    def udp_user_search(self, request):
        return self.user_search(request)

    def udp_extended_search(self, request):
        return [self.extended_search_reply(request)]

    def udp_push(self, request):
        """53: deliver the inner command to the target's TCP session, or
        answer 54 ``{INT 6 = 3}`` when the target is not online.  The session
        may be held by another process sharing the directory: the push then
        goes there (:meth:`~blissnode.core.hub.Core.send_to_session`) and
        that process answers the pusher."""
        push = Push.from_objects(request.objects)
        if push.inner_cmd is None or push.inner_body is None:
            return [self.push_offline(request)]
        if push.inner_cmd not in self.PUSHABLE_COMMANDS or \
                not request.node.push_limits.take(request.peer[0]):
            return [self.push_offline(request)]
        d = defer.maybeDeferred(self.push_target, request)

        def forward(session_id):
            if session_id is None:
                return [self.push_offline(request)]
            message = PushRequest(push.inner_cmd, encode_objects(push.inner_body),
                                  request.peer, request.request_id)
            if not request.node.core.send_to_session(session_id, message):
                return [self.push_offline(request)]
            return []

        d.addCallback(forward)
        return d

    def push_target(self, request):
        """The session id of the live TCP session a push is for (in this
        process or another), or None.

        GUESS: by the node id of BLOB 1 (the target's node record) first,
        then by the target name STRING 0 of the inner body (supernode.md 5.3).
        """
        push = Push.from_objects(request.objects)
        node = request.node
        node_id = None
        if push.target_record is not None:
            try:
                node_id = decode_node_record(push.target_record).node_id_int
            except ProtocolError:
                node_id = None
        name = push.target_name

        def first_live(entries):
            for entry in entries:
                if node.core.session_reachable(entry.session_id):
                    return entry.session_id
            return None

        d = defer.succeed([])
        if node_id is not None:
            d = node.directory.lookup_node_id(node_id)
        d.addCallback(first_live)

        def by_name(session_id):
            if session_id is not None or name is None:
                return session_id
            return node.directory.lookup_name(name).addCallback(first_live)

        d.addCallback(by_name)
        return d

    def push_offline(self, request):
        return request.reply(CMD_PUSH_REPLY, PushOffline(self.PUSH_OFFLINE_CODE).items())

    def udp_unknown(self, request):
        return []

    # -- TCP ---------------------------------------------------------------------

    def tcp_event_connect(self, request):
        """7 ``{INT 0xB = 52, INT 0xC, ADDR 0x11 = event server, STRING 0x26
        = version, BLOB 0x2A = node record}`` -> 1 with the same request id
        and an empty 0x42 body (real bytes: ERRATA, nDPI 2015, a 7.7 client
        and a node).  The client then sends a type-4 record and speaks the
        event server's framing in clear; the session pipes it to our event
        server (:meth:`SupernodeTCPProtocol.bridge_event_server`).

        GUESS: a cmd 7 for an address we do not serve is not answered (the
        client's timeout then ends it); what a real node did is unknown."""
        target = EventConnect.from_objects(request.objects).event_server
        if target is None or not request.node.serves_event_server(target):
            log.info("cmd 7 from {peer} for event server {target}: not served here",
                     peer=request.peer, target=target)
            return []
        request.session.bridge_event_server(target)
        return [request.reply(CMD_EVENT_CONNECT_REPLY, [], compressed=True)]

    def tcp_client_accept(self, request):
        """30 -> 31, then cmd 11 + cmd 47 in a second packet; or 32."""
        session = request.session
        accept = ClientAccept.from_objects(request.objects)
        reason = self.refuse_reason(request)
        if reason is not None:
            log.info("refusing client {peer}: {reason}", peer=request.peer, reason=reason)
            session.after_reply([], close=True)
            return [request.reply(CMD_CLIENT_REFUSED, self.refusal_body(request))]
        d = session.accepted(accept.node_id, accept.listen_port)

        def answer(_):
            session.after_reply(self.accept_notifications(request))
            return [request.reply(CMD_CLIENT_OK, self.accept_body(request))]

        d.addCallback(answer)
        return d

    def refuse_reason(self, request):
        """None to accept the client, else a reason (logged) to answer cmd 32.

        Refuses when the node is full (``max_clients``)."""
        return request.node.refuse_reason(request.session)

    def refusal_body(self, request):
        """GUESS: the body of cmd 32 is unknown; an empty list (Q9)."""
        return []

    def accept_body(self, request):
        """The cmd 31 items (:class:`AcceptReply`; a version adds items with
        :meth:`accept_extra`)."""
        return AcceptReply(self.STACK_VERSION, self.STACK_TIMESTAMP, request.node.tcp_port,
                           self.peer_address(request), self.SUPERNODE_MARKS,
                           self.accept_extra(request)).items()

    def accept_extra(self, request):
        """Items a version appends to cmd 31 (none known)."""
        return []

    def accept_notifications(self, request):
        """The packet written after cmd 31: cmd 11 + cmd 47."""
        return [
            notification(CMD_NETWORK_STATS, self.network_stats(request)),
            notification(CMD_CHANNELS, self.channel_list(request)),
        ]

    def network_stats(self, request):
        """cmd 11 ``{INT 9 = users online}`` (the 1.2-era counters INT
        0x40..0x63 are unexplained, Q4, and left out)."""
        return NetworkStats(request.node.users_online()).items()

    def channel_list(self, request):
        """GUESS: cmd 47 empty -- we serve no broadcast channels, so the
        client has nothing to fetch with cmd 48 (supernode.md 3.4, Q4/Q5)."""
        return []

    def tcp_channel_fetch(self, request):
        """48 -> empty 48 reply (we cannot produce Skype-signed channel data)."""
        return [request.reply(CMD_CHANNEL_FETCH, [])]

    def tcp_slot_query(self, request):
        return [self.slot_reply(request)]

    def tcp_client_info(self, request):
        """37: keep-alive + the client's version string (logged, and used to
        pick the handler set for the rest of the session)."""
        session = request.session
        session.refreshed()
        text = ClientInfo.from_objects(request.objects).version_string
        if text is not None:
            session.set_version_string(text)
        return []

    def tcp_client_flags(self, request):
        """38: refresh only."""
        request.session.refreshed()
        return []

    def tcp_firewall_test(self, request):
        """40 -> 42 ``{ADDR 0x11 = tester (us), INT 0x19 = token}``, then
        cmd 43 ``{INT 0x19 = token}`` from us to the client's listening port,
        over UDP and over TCP (supernode.md 4.4, udp.md 9.4)."""
        session = request.session
        token = self.firewall_token(request)
        port = session.listen_port
        if port and request.node.firewall_test_allowed(session):
            request.node.schedule(
                self.FIREWALL_TEST_DELAY, request.node.firewall_test,
                request.peer[0], port, [notification(CMD_FIREWALL_PING,
                                                     FirewallPing(token).items())])
        return [request.reply(CMD_FIREWALL_REPLY,
                              FirewallReply(self.own_address(request), token).items())]

    def firewall_token(self, request):
        """GUESS: a random 16-bit token (the two real ones, 7794 and 848,
        are small)."""
        return request.node.rng.randrange(1, 0x10000)

    def tcp_publish(self, request):
        """60: the user record, stored with the session (the protocol acks)."""
        record = Publish.from_objects(request.objects).record
        if record is None:
            return []
        d = self.publish_record(request, request.session, record)
        d.addCallback(lambda _: [])
        return d

    def tcp_user_search(self, request):
        return self.user_search(request)

    def tcp_extended_search(self, request):
        return [self.extended_search_reply(request)]

    def tcp_forwarded_reply(self, request):
        """82 / 70 / 57 from the push target: pass it to the pusher over UDP
        as the reply to its cmd 53 (GUESS: same command and body, the cmd 53
        request id, supernode.md 5.3 / Q9)."""
        session = request.session
        entry = request.node.pushes.pop(session.session_id, request.request_id)
        if entry is None:
            return []
        pusher, push_request_id = entry
        request.node.send_udp(pusher, [Command(
            request.cmd, KIND_REPLY, push_request_id, request.command.body)])
        return []

    def tcp_relay_open(self, request):
        """73 -> 75 ``{INT 3 = connection id, INT 0x1F = 0, INT 0x20}``; a
        refusal (limits, relay off) closes the session after an empty
        answer (GUESS: what a real relay answers a refusal is unknown; SOS2
        treats a missing connection id as a failure)."""
        opened = RelayOpen.from_objects(request.objects)
        try:
            cid = request.node.relay.open(request.session, opened.session_id)
        except RelayRefused as e:
            return self.relay_refused(request, e)
        return [request.reply(CMD_RELAY_ACCEPTED, RelayAccepted(cid).items())]

    def tcp_relay_join(self, request):
        """74 -> 75 without INT 3; then cmd 84 to both legs (the joiner's
        right after this reply)."""
        join = RelayJoin.from_objects(request.objects)
        relay = request.node.relay
        try:
            conn = relay.join(request.session, join.session_id, join.connection_id)
        except RelayRefused as e:
            return self.relay_refused(request, e)
        request.session.after_relay_reply(lambda: relay.started(conn))
        return [request.reply(CMD_RELAY_ACCEPTED, RelayAccepted().items())]

    def relay_refused(self, request, error):
        request.node.throttle.warn(request.peer[0], "relay-refused",
                                   "relay request from {source} refused: {error}",
                                   error=error)
        request.session.after_reply([], close=True)
        return [request.reply(CMD_RELAY_ACCEPTED, RelayAccepted(0).items())]

    def tcp_unknown(self, request):
        return []

    # -- pushes from other roles (through the core) -------------------------------

    def presence_push(self, state):
        """GUESS: ``(PRESENCE_PUSH_CMD, [LIST 0x49 presence])`` for a
        :class:`~blissnode.wire.presence.PresenceState`, or None."""
        if self.PRESENCE_PUSH_CMD is None:
            return None
        return self.PRESENCE_PUSH_CMD, [presence_list(state)]

    # -- shared pieces -------------------------------------------------------

    def slot_reply(self, request):
        """cmd 8 for a slot query ``{INT 0 = slot, INT 5 = n}`` or the refill
        ``{INT 4 = count, INT 5 = n}``: one ``LIST 6`` per slot with our own
        address as the only node (supernode.md 4.2 blissnode rule)."""
        query = SlotQuery.from_objects(request.objects)
        if query.slot is not None:
            slots = [query.slot % SLOT_COUNT]
        else:
            count = query.refill if query.refill is not None else 1
            slots = self.refill_slots(request, min(max(count, 1), self.MAX_REFILL_SLOTS))
        own = self.own_address(request)
        return request.reply(CMD_SLOT_REPLY,
                             [SlotEntry(s, own, self.NODES_PER_SLOT).item() for s in slots])

    def refill_slots(self, request, count):
        """GUESS: the slot numbers answered to a refill: spread evenly over
        the 2048 slots (any numbers do, they all name us)."""
        return [i * SLOT_COUNT // count for i in range(count)]

    def search_query(self, request):
        """``(text, exact)`` of a cmd 14 / 18 request, or None."""
        query = UserSearch.from_objects(request.objects)
        if query.text is None:
            return None
        return query.text, self.search_mode(query.mode)

    def search_mode(self, mode):
        """GUESS: cmd 14 INT 1 match mode 0 (every client lookup in the
        captures) is an exact name match; the tools' 5 and 9 are taken as
        prefix searches (Q10)."""
        return "exact" if mode == 0 else "prefix"

    def user_search(self, request):
        """14 -> 15: ``LIST 0 = {BLOB 0xB = record, STRING 0x10 = name}`` per
        hit, then ``INT 1 = 1`` (end of answer)."""
        query = self.search_query(request)
        if query is None:
            return [request.reply(CMD_USER_SEARCH_REPLY, [SEARCH_END])]
        text, mode = query
        d = request.node.directory.search(text, mode=mode, limit=self.SEARCH_LIMIT,
                                          with_record=True)

        def answer(entries):
            items = []
            seen = set()
            for entry in entries:
                if not entry.user_record or not entry.user_name:
                    continue
                key = (entry.user_name, entry.user_record)
                if key in seen:
                    continue
                seen.add(key)
                items.append(SearchHit(entry.user_record, entry.user_name).item())
            items.append(SEARCH_END)
            return [request.reply(CMD_USER_SEARCH_REPLY, items)]

        d.addCallback(answer)
        return d

    def extended_search_reply(self, request):
        """GUESS: 18 -> 19 ``{INT 1 = 1}``, the only answer ever seen."""
        return request.reply(CMD_EXTENDED_SEARCH_REPLY, [SEARCH_END])

    def publish_record(self, request, session, record):
        """Store a published user record (with the user name when the record's
        credential opens with our credential key)."""
        return request.node.publications.publish(request.peer, session, bytes(record))
