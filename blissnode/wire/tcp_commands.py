"""
Commands: the unit of meaning inside a TCP packet record (spec/tcp.md 5.2).

::

    command := varint(len)  varint(C)  [u16be request_id]  object_list
    C        = (cmd << 3) | kind
    len      = bytes after the C varint (request id, if present, + object list)

The same encoding is used, without the packet wrapper, inside obfuscated UDP
datagrams (tcp.md 5.2, last bullet), so :func:`decode_command` and
:func:`decode_commands` are shared by both transports.

The object list is carried as opaque ``bytes`` (``Command.body``): decoding
it is the business of :mod:`blissnode.wire.objects`; :meth:`Command.objects`
calls that module lazily so this module has no import-time dependency on it.

This module also holds the 7-bit varint used by the whole TCP framing layer
(record headers, command headers, session plaintexts).
"""

import secrets

import attr

from blissnode.wire import objects
from blissnode.wire import varint as _varint
from blissnode.wire.errors import LimitExceeded, ProtocolError

__all__ = [
    "KIND_NOTIFICATION",
    "KIND_REQUEST",
    "KIND_REPLY",
    "BODY_MARKERS",
    "MAX_VARINT_BYTES",
    "Command",
    "encode_varint",
    "decode_varint",
    "kind_has_request_id",
    "decode_command",
    "decode_commands",
    "encode_commands",
    "IdCounter",
]

KIND_NOTIFICATION = 1
KIND_REQUEST = 2
KIND_REPLY = 3

KIND_NAMES = {
    KIND_NOTIFICATION: "notification",
    KIND_REQUEST: "request",
    KIND_REPLY: "reply",
}

#: First byte of an object list: 0x41 (plain) or 0x42 (compressed). Both are
#: accepted (tcp.md 5.2); anything else means the stream is out of sync.
BODY_MARKERS = (0x41, 0x42)

#: Framing varints (record headers, command lengths and numbers) are 32-bit
#: values of at most 5 bytes (objects.md 2.1).  Unlike object-list integers,
#: which the reference silently reduces mod 2**32, a framing value above
#: 2**32-1 means the stream is out of sync, so it is rejected.
MAX_VARINT_BYTES = _varint.MAX_VARINT_BYTES

encode_varint = _varint.encode_varint


def decode_varint(data, pos=0, what="varint"):
    """Decode a framing varint at ``data[pos:]``; return ``(value, new_pos)``.

    Non-minimal forms (``80 00``) are accepted like the reference decoder
    does; more than :data:`MAX_VARINT_BYTES` bytes, a value above 2**32-1 or
    running out of input raise :class:`ProtocolError`.
    """
    value, pos = _varint.decode_varint(data, pos, mask=None, what=what)
    if value > _varint.U32_MASK:
        raise ProtocolError("%s exceeds 32 bits" % (what,))
    return value, pos


def kind_has_request_id(kind):
    """Whether a command of ``kind`` carries a 16-bit request id.

    GUESS: kinds 2 (request) and 3 (reply) carry one, kind 1 does not
    (VERIFIED); kinds 0 and 4-7 were never observed (tcp.md Q3) and are
    treated like notifications.  The rule is this one function; a framing
    quirk of some version goes into an opening variant of
    :mod:`blissnode.wire.peer_session`, not into a subclass.
    """
    return kind in (KIND_REQUEST, KIND_REPLY)


def _check_u16(name, value):
    if not 0 <= value <= 0xFFFF:
        raise ValueError("%s out of range: %r" % (name, value))


@attr.s(frozen=True, slots=True)
class Command(object):
    """One command: number, kind (1 notification, 2 request, 3 reply),
    request id (``None`` for kinds without one) and the raw object-list body."""

    cmd = attr.ib()
    kind = attr.ib()
    request_id = attr.ib(default=None)
    body = attr.ib(default=b"\x41\x00")

    @property
    def C(self):
        """The combined ``(cmd << 3) | kind`` value as sent."""
        return (self.cmd << 3) | self.kind

    @property
    def kind_name(self):
        return KIND_NAMES.get(self.kind, "kind%d" % (self.kind,))

    def encode(self):
        if not 0 <= self.kind <= 7:
            raise ValueError("command kind out of range: %r" % (self.kind,))
        if self.cmd < 0 or self.C > _varint.U32_MASK:
            raise ValueError("command number out of range: %r" % (self.cmd,))
        head = encode_varint(self.C)
        if kind_has_request_id(self.kind):
            if self.request_id is None:
                raise ValueError("kind %d needs a request id" % (self.kind,))
            _check_u16("request id", self.request_id)
            rest = self.request_id.to_bytes(2, "big") + bytes(self.body)
        else:
            if self.request_id is not None:
                raise ValueError("kind %d has no request id" % (self.kind,))
            rest = bytes(self.body)
        return encode_varint(len(rest)) + head + rest

    def objects(self):
        """Decode :attr:`body` with :mod:`blissnode.wire.objects` (imported
        lazily; raises ImportError if that module is not available)."""
        return objects.decode_objects(self.body)

    def to_json(self):
        """A JSON-ready dict (hex for bytes) for tools such as ``decode tcp``."""
        return {
            "cmd": self.cmd,
            "kind": self.kind,
            "kind_name": self.kind_name,
            "request_id": self.request_id,
            "body": bytes(self.body).hex(),
        }


def decode_command(data, pos=0):
    """Decode one command at ``data[pos:]``; return ``(Command, new_pos)``."""
    length, pos = decode_varint(data, pos, "command length")
    C, start = decode_varint(data, pos, "command code")
    end = start + length
    if end > len(data):
        raise ProtocolError(
            "command length %d runs past the end (%d bytes left)"
            % (length, len(data) - start)
        )
    cmd, kind = C >> 3, C & 7
    if kind_has_request_id(kind):
        if length < 2:
            raise ProtocolError("command of kind %d without request id" % (kind,))
        request_id = int.from_bytes(data[start : start + 2], "big")
        body = bytes(data[start + 2 : end])
    else:
        request_id = None
        body = bytes(data[start:end])
    if not body or body[0] not in BODY_MARKERS:
        raise ProtocolError(
            "command %d body is not an object list (starts %r)" % (cmd, body[:1])
        )
    return Command(cmd, kind, request_id, body), end


#: Upper bound on commands decoded from one buffer (each needs >= 3 bytes, so
#: this only bites on absurd inputs; it keeps the result list bounded).
MAX_COMMANDS = 4096


def decode_commands(data, pos=0, end=None):
    """Decode back-to-back commands filling ``data[pos:end]`` exactly."""
    if end is None:
        end = len(data)
    view = memoryview(data)[:end]
    out = []
    while pos < end:
        if len(out) >= MAX_COMMANDS:
            raise LimitExceeded("more than %d commands" % (MAX_COMMANDS,))
        command, pos = decode_command(view, pos)
        out.append(command)
    return out


def encode_commands(commands):
    return b"".join(c.encode() for c in commands)


class IdCounter(object):
    """Packet / request id source: a 16-bit counter shared by packets and
    requests of one host, as in the capture (tcp.md 5.3).

    GUESS: wraps from 0xFFFF to 0 (tcp.md 5.3: INFERRED).  ``in_use`` (a
    container of outstanding request ids) lets the caller skip ids that are
    still awaiting a reply.
    """

    def __init__(self, start=None):
        if start is None:
            start = secrets.randbelow(0x10000)
        _check_u16("start id", start)
        self._next = start

    def peek(self):
        return self._next

    def next(self, in_use=()):
        for _ in range(0x10000):
            value = self._next
            self._next = (value + 1) & 0xFFFF
            if value not in in_use:
                return value
        raise LimitExceeded("all 65536 ids are in use")

    __next__ = next

    def __iter__(self):
        return self
