"""
Typed bodies of the supernode's commands (supernode.md 3-5, udp.md 8,
ERRATA), as the login and event requests have theirs: a handler reads
``ClientAccept.from_objects(request.objects)`` instead of bare item ids, and
builds ``AcceptReply(...).items()``.

Every class keeps the item ids in one place and is pure (object lists in,
values out).  ``from_objects`` never raises for a missing item: fields are
``None`` and the handler decides; a wrong type reads as missing (the
decoders already bounded everything).
"""

import attr

from blissnode.wire.objects import (
    Addr,
    Blob,
    Int,
    Int64,
    IntArray,
    NestedList,
    ObjectList,
    String,
)

__all__ = [
    "ClientAccept", "AcceptReply", "ClientInfo", "SlotQuery", "SlotEntry", "Publish",
    "UserSearch", "SearchHit", "Push", "PushOffline", "FirewallReply", "FirewallPing",
    "EventConnect", "AddressReply", "NetworkStats", "NodeListEntry",
]


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


@attr.s(frozen=True, slots=True)
class ClientAccept(object):
    """cmd 30 ``{INT 1 uptime, [INT 0xB stack version], INT64 0xD node id,
    INT 0x10 listening port, [INT 0x23, INT 0x2C]}`` (supernode.md 3.2; 5.x
    adds INT 0xB = 52, SOS2)."""

    uptime = attr.ib(default=None)
    stack_version = attr.ib(default=None)
    node_id = attr.ib(default=None)
    listen_port = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        return cls(objs.value(0x01, Int), objs.value(0x0B, Int), objs.value(0x0D, Int64),
                   objs.value(0x10, Int))


@attr.s(frozen=True, slots=True)
class AcceptReply(object):
    """cmd 31 ``{INT 0xB stack version, INT 0xC stack timestamp, INT 0x10
    our TCP port, ADDR 0x11 the client as seen, INTARRAY 0x21 supernode
    marks}`` (supernode.md 3.3), plus any ``extra`` items a version adds."""

    stack_version = attr.ib()
    stack_timestamp = attr.ib()
    tcp_port = attr.ib()
    seen = attr.ib()
    marks = attr.ib(converter=tuple)
    extra = attr.ib(default=(), converter=tuple)

    def items(self):
        return [Int(0x0B, self.stack_version), Int(0x0C, self.stack_timestamp),
                Int(0x10, self.tcp_port), Addr(0x11, self.seen),
                IntArray(0x21, self.marks)] + list(self.extra)


@attr.s(frozen=True, slots=True)
class ClientInfo(object):
    """cmd 37: the version string (STRING 0x5D, older clients STRING 0x0E;
    supernode.md 4.3) -- the rest is counters nobody explained."""

    version_string = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        text = objs.value(0x5D, String)
        if text is None:
            text = objs.value(0x0E, String)
        return cls(_text(text))


@attr.s(frozen=True, slots=True)
class SlotQuery(object):
    """cmd 6 ``{INT 0 slot, INT 5 n}`` or the refill ``{INT 4 count, INT 5 n}``
    (supernode.md 4.2)."""

    slot = attr.ib(default=None)
    refill = attr.ib(default=None)
    per_slot = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        return cls(objs.value(0x00, Int), objs.value(0x04, Int), objs.value(0x05, Int))


@attr.s(frozen=True, slots=True)
class SlotEntry(object):
    """One ``LIST 6 {INT 0 slot, ADDR 3 node, INT 7 nodes in the slot}`` of cmd 8."""

    slot = attr.ib()
    node = attr.ib()
    nodes = attr.ib()

    def item(self):
        return NestedList(6, [Int(0, self.slot), Addr(3, self.node), Int(7, self.nodes)])


@attr.s(frozen=True, slots=True)
class Publish(object):
    """cmd 12 (UDP) / 60 (TCP) ``{BLOB 0xB user record}`` (supernode.md 5.1)."""

    record = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        record = objs.value(0x0B, Blob)
        return cls(None if record is None else bytes(record))


@attr.s(frozen=True, slots=True)
class UserSearch(object):
    """cmd 14 / 18 ``{LIST 0 {STRING 0 text, INT 1 mode, INT 2 field}, ...}``
    (supernode.md 5.1)."""

    text = attr.ib(default=None)
    mode = attr.ib(default=0)

    @classmethod
    def from_objects(cls, objs):
        query = objs.value(0x00, NestedList)
        if query is None:
            return cls()
        return cls(_text(query.value(0x00, String)), query.value(0x01, Int, 0))


@attr.s(frozen=True, slots=True)
class SearchHit(object):
    """One ``LIST 0 {BLOB 0xB record, STRING 0x10 name}`` of cmd 15."""

    record = attr.ib()
    name = attr.ib()

    def item(self):
        return NestedList(0, [Blob(0x0B, self.record), String(0x10, self.name.encode("utf-8"))])


#: cmd 15's end marker ``INT 1 = 1``.
SEARCH_END = Int(1, 1)


@attr.s(frozen=True, slots=True)
class Push(object):
    """cmd 53 ``{INT 0, BLOB 1 target's node record, INT 2 inner command,
    LIST 3 inner body, INT 4, [INT 7], [INT 0x10 status]}`` (supernode.md 5.3)."""

    target_record = attr.ib(default=None)
    inner_cmd = attr.ib(default=None)
    inner_body = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        record = objs.value(0x01, Blob)
        return cls(None if record is None else bytes(record), objs.value(0x02, Int),
                   objs.value(0x03, NestedList))

    @property
    def target_name(self):
        """STRING 0 of the inner body: the target's name (GUESS, supernode.md 5.3)."""
        inner = self.inner_body if self.inner_body is not None else ObjectList()
        return _text(inner.value(0x00, String))


@attr.s(frozen=True, slots=True)
class PushOffline(object):
    """cmd 54 ``{INT 6 = code}``: 3 = target offline / wrong supernode (VERIFIED)."""

    code = attr.ib()

    def items(self):
        return [Int(6, self.code)]


@attr.s(frozen=True, slots=True)
class FirewallReply(object):
    """cmd 42 ``{ADDR 0x11 tester, INT 0x19 token}`` (supernode.md 4.4)."""

    tester = attr.ib()
    token = attr.ib()

    def items(self):
        return [Addr(0x11, self.tester), Int(0x19, self.token)]


@attr.s(frozen=True, slots=True)
class FirewallPing(object):
    """cmd 43 ``{INT 0x19 token}``, sent to the client's listening port."""

    token = attr.ib()

    def items(self):
        return [Int(0x19, self.token)]


@attr.s(frozen=True, slots=True)
class EventConnect(object):
    """cmd 7 ``{INT 0xB = 52, INT 0xC, ADDR 0x11 event server, STRING 0x26
    version, BLOB 0x2A node record}`` (ERRATA, nDPI 2015: a 7.7 client)."""

    stack_version = attr.ib(default=None)
    event_server = attr.ib(default=None)
    version_string = attr.ib(default=None)
    node_record = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        addr = objs.value(0x11, Addr)
        record = objs.value(0x2A, Blob)
        return cls(objs.value(0x0B, Int), None if addr is None else (addr.ip, addr.port),
                   _text(objs.value(0x26, String)), None if record is None else bytes(record))


@attr.s(frozen=True, slots=True)
class AddressReply(object):
    """cmd 36 ``{ADDR 0x11 the sender as seen}`` (udp.md 8)."""

    seen = attr.ib()

    def items(self):
        return [Addr(0x11, self.seen)]


@attr.s(frozen=True, slots=True)
class NetworkStats(object):
    """cmd 11 ``{INT 9 users online}`` (the 1.2-era counters are unexplained)."""

    users_online = attr.ib()

    def items(self):
        return [Int(9, self.users_online)]


@attr.s(frozen=True, slots=True)
class NodeListEntry(object):
    """One node of cmd 45: ``ADDR 0x11`` and its ``LIST 0x1A`` attributes
    (the layout -- grouped or interleaved -- is the version's)."""

    addr = attr.ib()
    attributes = attr.ib(converter=list)

    def addr_item(self):
        return Addr(0x11, self.addr)

    def attributes_item(self):
        return NestedList(0x1A, self.attributes)
