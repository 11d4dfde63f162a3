"""
Node records (login.md 5.2): who a node is and where it can be reached, as
carried in BLOB 0x13 of the 6.x login request and BLOB 1 of session requests.

::

    27 bytes (5.5+):  node id (8) | flag (1) | LAN ip:port (6) | supernode ip:port (6) | public ip:port (6)
    21 bytes (1.4):   node id (8) | flag (1) | LAN ip:port (6) | last ip:port (6)

Addresses are IPv4 + port, big-endian.  The flag is 01 for a live node
(``-s-`` in the text form) and 00 for a dead one (``-d-``).

Text form, as Skype's and SOS2's logs print it::

    0x65f124417c036c95-s-s64.4.23.176:40006-r178.65.50.174:57608-l192.168.1.75:57608
    0x11b44ed518acb339-s-200.105.211.150:65072          (21 bytes: no LAN address)

What the last address of a 21-byte record is (the node's public address or
its supernode) is not established; a server stores and returns records
verbatim, which :meth:`encode` of a decoded record guarantees.
"""

import re

import attr

from blissnode.wire.errors import ProtocolError
from blissnode.wire.objects import NetAddr

__all__ = [
    "NODE_RECORD_SHORT",
    "NODE_RECORD_LONG",
    "NodeRecord",
    "decode_node_record",
    "parse_node_text",
]

NODE_RECORD_SHORT = 21
NODE_RECORD_LONG = 27

#: GUESS: the text letter of the flag byte.  Only 1 ("s", alive) and 0 ("d",
#: dead) are documented (SOS2 decode_profile); any other byte is kept
#: verbatim in the record and printed as "s" (non-zero = alive).
FLAG_ALIVE = 1
FLAG_DEAD = 0


def flag_letter(flag):
    return "d" if flag == FLAG_DEAD else "s"


def _addr(data, pos):
    return NetAddr.from_bytes(data[pos : pos + 4], (data[pos + 4] << 8) | data[pos + 5])


def _addr_bytes(addr):
    port = addr.port
    if not (isinstance(port, int) and 0 <= port <= 0xFFFF):
        raise ValueError("port out of range: %r" % (port,))
    return addr.ip_bytes() + port.to_bytes(2, "big")


def _addr_text(addr):
    return "%s:%d" % (addr.ip, addr.port)


@attr.s(frozen=True, slots=True)
class NodeRecord:
    """A decoded node record.

    ``node_id`` is the 8 raw bytes; ``flag`` the flag byte; ``lan`` the
    node's local address.  A 27-byte record has ``supernode`` and
    ``public``; a 21-byte record has ``last_addr`` instead (both others
    ``None``).
    """

    node_id = attr.ib(converter=bytes)
    flag = attr.ib()
    lan = attr.ib()
    supernode = attr.ib(default=None)
    public = attr.ib(default=None)
    last_addr = attr.ib(default=None)

    @property
    def is_long(self):
        return self.last_addr is None

    @property
    def alive(self):
        return self.flag != FLAG_DEAD

    @property
    def node_id_int(self):
        return int.from_bytes(self.node_id, "big")

    def encode(self):
        """The 21- or 27-byte wire form."""
        if len(self.node_id) != 8:
            raise ValueError("node id must be 8 bytes")
        if not (isinstance(self.flag, int) and 0 <= self.flag <= 0xFF):
            raise ValueError("flag must be a byte, got %r" % (self.flag,))
        head = self.node_id + bytes([self.flag]) + _addr_bytes(self.lan)
        if self.last_addr is not None:
            if self.supernode is not None or self.public is not None:
                raise ValueError("a 21-byte record has last_addr only")
            return head + _addr_bytes(self.last_addr)
        if self.supernode is None or self.public is None:
            raise ValueError("a 27-byte record needs supernode and public addresses")
        return head + _addr_bytes(self.supernode) + _addr_bytes(self.public)

    def text(self):
        """The log notation (``0x<id>-s-s<sn>-r<public>-l<lan>`` or
        ``0x<id>-s-<last>``)."""
        head = "0x%s-%s-" % (self.node_id.hex(), flag_letter(self.flag))
        if self.last_addr is not None:
            return head + _addr_text(self.last_addr)
        return head + "s%s-r%s-l%s" % (
            _addr_text(self.supernode), _addr_text(self.public), _addr_text(self.lan))

    def to_json(self):
        out = {"node_id": self.node_id.hex(), "flag": self.flag, "lan": _addr_text(self.lan)}
        if self.last_addr is not None:
            out["last_addr"] = _addr_text(self.last_addr)
        else:
            out["supernode"] = _addr_text(self.supernode)
            out["public"] = _addr_text(self.public)
        return out


def decode_node_record(data):
    """Decode a 21- or 27-byte node record (any other length: ProtocolError)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("node records decode from bytes")
    data = bytes(data)
    if len(data) not in (NODE_RECORD_SHORT, NODE_RECORD_LONG):
        raise ProtocolError("node record of %d bytes (expected 21 or 27)" % (len(data),))
    node_id, flag, lan = data[:8], data[8], _addr(data, 9)
    if len(data) == NODE_RECORD_SHORT:
        return NodeRecord(node_id, flag, lan, last_addr=_addr(data, 15))
    return NodeRecord(node_id, flag, lan, supernode=_addr(data, 15), public=_addr(data, 21))


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_ADDR = r"(%s(?:\.%s){3}):(0|[1-9][0-9]{0,4})" % (_OCTET, _OCTET)
_LONG_TEXT = re.compile(
    r"0x([0-9a-fA-F]{16})-([sd])-s%s-r%s-l%s\Z" % (_ADDR, _ADDR, _ADDR))
_SHORT_TEXT = re.compile(r"0x([0-9a-fA-F]{16})-([sd])-%s\Z" % (_ADDR,))


def _text_addr(ip, port):
    port = int(port)
    if port > 0xFFFF:
        raise ProtocolError("port %d out of range" % (port,))
    return NetAddr(ip, port)


def parse_node_text(text):
    """The record of a long text form (``0x…-s-s…-r…-l…``).

    The short form names one address only (the LAN address is not printed),
    so it cannot be turned back into a record: ProtocolError, as for any
    other text.  The flag letter gives flag 1 (``s``) or 0 (``d``).
    """
    if not isinstance(text, str):
        raise TypeError("node text must be str")
    m = _LONG_TEXT.match(text)
    if m is None:
        if _SHORT_TEXT.match(text):
            raise ProtocolError("the short node text form lacks the LAN address")
        raise ProtocolError("not a node record text: %r" % (text[:100],))
    g = m.groups()
    return NodeRecord(
        bytes.fromhex(g[0]), FLAG_ALIVE if g[1] == "s" else FLAG_DEAD,
        lan=_text_addr(g[6], g[7]), supernode=_text_addr(g[2], g[3]),
        public=_text_addr(g[4], g[5]))
