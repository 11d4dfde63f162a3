"""
Bodies of the relay commands (supernode.md 5.3, tcp.md 5.6 corrected by the
5.5-derived SOS2 client) and the one change a relay makes to the records it
passes on: the session record's CHK, re-keyed for the receiving leg.

::

    caller -> relay   cmd 73 {INT 3 = the caller's own session id}
    relay  -> caller  cmd 75 {INT 3 = connection id at the relay, INT 0x1F = 0, INT 0x20}
    callee -> relay   cmd 74 {INT 3 = the callee's own session id, INT 4 = connection id}
    relay  -> callee  cmd 75 {INT 0x1F = 0, INT 0x20}           (no INT 3)
    relay  -> both    cmd 84 {INT 3 = the receiving leg's own session id,
                              INT 0xE = 30, INT 0xF = 30}        (every 30 s)

tcp.md 5.6 says "73 {INT 3 = our connection id}": it is the sender's
session id (SOS2).  supernode.md 5.3 step 6 says the callee attaches with
73: it attaches with 74.  The relay candidate a caller puts into the cmd 67
proposal is ``LIST 7 = {INT 3 = connection id, ADDR 8 = relay, INT 0x10 =
30}`` (VERIFIED body, supernode.md 5.3 step 3).

Pure: object lists in, values out; ``from_objects`` never raises, missing
or mistyped items read as ``None``.
"""

import attr

from blissnode.wire.objects import Addr, Int, NestedList
from blissnode.wire.tcp_records import SessionRecord

__all__ = [
    "CMD_RELAY_OPEN", "CMD_RELAY_JOIN", "CMD_RELAY_ACCEPTED", "CMD_RELAY_STATUS",
    "RelayOpen", "RelayJoin", "RelayAccepted", "RelayStatus", "RelayCandidate",
    "RELAY_ACCEPTED_STATUS", "RELAY_ACCEPTED_EXTRA", "RELAY_STATUS_INTERVAL",
    "rekey_session_record",
]

CMD_RELAY_OPEN = 73
CMD_RELAY_JOIN = 74
CMD_RELAY_ACCEPTED = 75
CMD_RELAY_STATUS = 84

#: cmd 75 INT 0x1F: 0 in every answer seen (VERIFIED, SOS2 log).
RELAY_ACCEPTED_STATUS = 0
#: GUESS: cmd 75 INT 0x20 -- present in the real answers, its meaning is
#: unknown; SOS2 ignores it.  We send 1.
RELAY_ACCEPTED_EXTRA = 1
#: cmd 84 INT 0xE / INT 0xF and the interval between two cmd 84 (30 s:
#: SOS2's relay log).
RELAY_STATUS_INTERVAL = 30


@attr.s(frozen=True, slots=True)
class RelayOpen(object):
    """cmd 73 ``{INT 3 = sender's own session id}``: open a relayed
    connection and get a connection id for it."""

    session_id = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        return cls(objs.value(0x03, Int))

    def items(self):
        return [Int(0x03, self.session_id)]


@attr.s(frozen=True, slots=True)
class RelayJoin(object):
    """cmd 74 ``{INT 3 = sender's own session id, INT 4 = connection id}``:
    attach to the relayed connection another client opened."""

    session_id = attr.ib(default=None)
    connection_id = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        return cls(objs.value(0x03, Int), objs.value(0x04, Int))

    def items(self):
        return [Int(0x03, self.session_id), Int(0x04, self.connection_id)]


@attr.s(frozen=True, slots=True)
class RelayAccepted(object):
    """cmd 75, the reply to 73 (with ``INT 3 = connection id``) and to 74
    (without it).  SOS2 takes a connection id of 0 as a failure."""

    connection_id = attr.ib(default=None)
    status = attr.ib(default=RELAY_ACCEPTED_STATUS)
    extra = attr.ib(default=RELAY_ACCEPTED_EXTRA)

    @classmethod
    def from_objects(cls, objs):
        return cls(objs.value(0x03, Int), objs.value(0x1F, Int), objs.value(0x20, Int))

    def items(self):
        out = [] if self.connection_id is None else [Int(0x03, self.connection_id)]
        return out + [Int(0x1F, self.status), Int(0x20, self.extra)]


@attr.s(frozen=True, slots=True)
class RelayStatus(object):
    """cmd 84 ``{INT 3 = the receiving leg's own session id, INT 0xE = 30,
    INT 0xF = 30}``: the relay for that session is up (sent on attach and
    every :data:`RELAY_STATUS_INTERVAL` seconds)."""

    session_id = attr.ib(default=None)
    interval_e = attr.ib(default=RELAY_STATUS_INTERVAL)
    interval_f = attr.ib(default=RELAY_STATUS_INTERVAL)

    @classmethod
    def from_objects(cls, objs):
        return cls(objs.value(0x03, Int), objs.value(0x0E, Int), objs.value(0x0F, Int))

    def items(self):
        return [Int(0x03, self.session_id), Int(0x0E, self.interval_e),
                Int(0x0F, self.interval_f)]


@attr.s(frozen=True, slots=True)
class RelayCandidate(object):
    """LIST 7 of a cmd 67 proposal: ``{INT 3 = connection id, ADDR 8 = relay
    ip:port, INT 0x10 = 30}`` (VERIFIED body, supernode.md 5.3)."""

    connection_id = attr.ib(default=None)
    address = attr.ib(default=None)
    timeout = attr.ib(default=RELAY_STATUS_INTERVAL)

    @classmethod
    def from_objects(cls, objs):
        return cls(objs.value(0x03, Int), objs.value(0x08, Addr), objs.value(0x10, Int))

    @classmethod
    def all_in(cls, objs):
        """Every LIST 7 candidate of a proposal body."""
        return [cls.from_objects(item.value) for item in objs.get_all(0x07, NestedList)]

    def item(self):
        return NestedList(0x07, [Int(0x03, self.connection_id), Addr(0x08, self.address),
                                 Int(0x10, self.timeout)])


def rekey_session_record(record, sid_from, sid_to):
    """``record`` (a :class:`~blissnode.wire.tcp_records.SessionRecord`)
    with its CHK keyed for ``sid_to`` instead of ``sid_from``; the payload
    is untouched (tcp.md 7.1: CHK = CRC32R(payload) low half XOR
    (sid_rx << 1), so the CRC need not be recomputed)."""
    chk = record.chk ^ ((sid_from << 1) & 0xFFFF) ^ ((sid_to << 1) & 0xFFFF)
    return SessionRecord(chk, record.ciphertext, record.trailer)
