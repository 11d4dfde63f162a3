"""
The event server reached through a node, as the real 7.7 client did it.

Real bytes (ERRATA, nDPI 2015): on a classic peer stream to a node the
client sent cmd 7 ``{INT 0xB = 52, INT 0xC, ADDR 0x11 = event server,
STRING 0x26 = "3/7.7.0.335", BLOB 0x2A = its node record}``; the node
answered cmd 1 with the same request id and an empty body; the client sent a
type-4 record (``05 04 00``), the node sent its own, and from then on the
client spoke the event server's framing in clear -- no RC4, no hello: the
``16 03 01`` key exchange first, then ``17 03 01`` records.

:class:`EventViaNodeCore` is the sans-IO client of that: it runs the peer
stream up to the switch and then hands the connection to an
:class:`~blissnode.client.event.EventClientCore` (with ``hellos = 0``).  It
offers the same ``start`` / ``receive`` / ``request`` / ``take_records``
as that core, so :class:`~blissnode.client.event.EventClientProtocol` runs
it unchanged (:func:`connect_event_via_node`).
"""

import os

from blissnode.client.event import EventClientError, EventClientProtocol, EventSession
from blissnode.client.serverconn import connect_tcp
from blissnode.wire import objects
from blissnode.wire.errors import ProtocolError
from blissnode.wire.node_record import NodeRecord
from blissnode.wire.objects import NetAddr
from blissnode.wire.peer_session import PeerClient, RecordIn, SwitchedToClear
from blissnode.wire.seed_exchange import Greeting, random_padding
from blissnode.wire.tcp_commands import KIND_REPLY, KIND_REQUEST, Command, IdCounter
from blissnode.wire.tcp_records import PacketRecord

__all__ = ["EventViaNodeCore", "connect_event_via_node", "CMD_EVENT_CONNECT",
           "REAL_VERSION_STRING"]

#: cmd 7 and its reply cmd 1 (ERRATA).
CMD_EVENT_CONNECT = 7
CMD_EVENT_CONNECT_REPLY = 1
#: The version string the real client sent in STRING 0x26.
REAL_VERSION_STRING = "3/7.7.0.335"
#: INT 0xB of the real cmd 7: the client's stack version.
STACK_VERSION = 52
#: The greeting's final byte real peers sent (ERRATA: 0F).
PEER_FINAL = 0x0F


class EventViaNodeCore(object):
    """Sans-IO: peer stream, cmd 7, type-4 switch, then ``event_core`` in clear.

    :param event_core: an :class:`~blissnode.client.event.EventClientCore`
        of a classic-transport profile (its hello is switched off).
    :param event_address: ``(ip, port)`` of the event server cmd 7 names.
    :param version_string: STRING 0x26 (the event core's version string
        when None).
    :param node_record: BLOB 0x2A (a 21-byte record of our own when None).
    """

    def __init__(self, event_core, event_address, version_string=None, node_record=None):
        if event_core.profile.transport != "classic":
            raise ValueError("a node carries the classic event transport only")
        event_core.hellos = 0
        self.inner = event_core
        self.event_address = (str(event_address[0]), int(event_address[1]))
        self.version_string = version_string or event_core.profile.version_string
        self.node_record = node_record if node_record is not None else NodeRecord(
            os.urandom(8), 1, NetAddr("127.0.0.1", 0), last_addr=NetAddr("127.0.0.1", 0)).encode()
        self._ids = IdCounter(int.from_bytes(os.urandom(2), "big"))
        self._stream = None
        self._request_id = None
        self.state = "new"
        self.switched = False

    def __getattr__(self, name):
        # Everything else (profile, request, take_records, ...) is the event core's.
        return getattr(self.inner, name)

    def cmd7(self):
        """The cmd 7 request, laid out like the real one."""
        self._request_id = self._ids.next()
        body = objects.encode_objects([
            objects.Int(0x0B, STACK_VERSION),
            objects.Int(0x0C, int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF),
            objects.Addr(0x11, NetAddr(*self.event_address)),
            objects.String(0x26, self.version_string.encode("ascii")),
            objects.Blob(0x2A, self.node_record),
        ], compressed=True)
        return Command(CMD_EVENT_CONNECT, KIND_REQUEST, self._request_id, body)

    def start(self):
        if self.state != "new":
            raise ValueError("start() called twice")
        self.state = "asked"
        first = random_padding().encode() + PacketRecord(self._ids.next(), [self.cmd7()]).encode()
        self._stream = PeerClient(greeting=Greeting(1, PEER_FINAL), first_record=first)
        return self._stream.start()

    def receive(self, data):
        if self.switched:
            return self.inner.receive(data)
        try:
            return self._peer(bytes(data))
        except ProtocolError as e:
            raise EventClientError("peer stream to the node (%s): %s" % (self.state, e))

    def _peer(self, data):
        out, events = self._stream.receive(data)
        for event in events:
            if isinstance(event, RecordIn) and isinstance(event.record, PacketRecord):
                for command in event.record.commands:
                    if (command.cmd == CMD_EVENT_CONNECT_REPLY and command.kind == KIND_REPLY
                            and command.request_id == self._request_id):
                        self.state = "accepted"
                        out += self._stream.switch_to_clear()
            elif isinstance(event, SwitchedToClear):
                if self.state != "accepted":
                    raise ProtocolError("the node switched to clear before answering cmd 7")
                self.switched = True
                self.state = "clear"
                out += self.inner.start()
                if event.data:
                    out += self.inner.receive(event.data)
                return out
        return out


def connect_event_via_node(reactor, host, port, core, timeout=20.0):
    """Connect to the node at ``host:port`` and run ``core`` (an
    :class:`EventViaNodeCore`); fires with an
    :class:`~blissnode.client.event.EventSession`."""
    proto = EventClientProtocol(core, reactor, timeout)
    d = connect_tcp(reactor, host, port, proto, timeout, EventClientError)
    return d.addCallback(lambda p: EventSession(p))
