"""
Records: the units of the deobfuscated (RC4-decrypted) TCP stream
(spec/tcp.md 4, 5.1, 5.5, 2.4, 7.1).

::

    record := varint(H)  body[H >> 1]
    H & 1 == 0 : packet        body = u16be packet_id + command+
    H & 1 == 1 : typed record  body = type:u8 + ...
                 01 ack       u16be packet_id
                 03 padding   random filler (ignored)
                 04 clear     one byte 00: the direction leaves RC4 after it
                 05 session   CHK:u16be ciphertext TRL:u16le  (see aes_ctr)
                 other        skipped by length

Type 04 is a fact of real bytes (ERRATA; nDPI 2015, a 7.7 client and a
node): after a cmd 7 to an event-server address, each side sends ``05 04
00`` and the bytes that follow it in that direction are the event server's
framing in clear, no longer RC4 (tcp.md 4 listed types 1, 3, 5 only).

:class:`RecordParser` is the sans-IO receive side: feed it decrypted bytes in
any chunking and it returns complete records.  Its buffer never holds more
than one header plus one maximal record body, so a peer cannot make it
allocate more than ``max_body`` bytes.
"""

import attr

from blissnode.wire.errors import LimitExceeded, ProtocolError
from blissnode.wire.tcp_commands import (
    MAX_VARINT_BYTES,
    decode_commands,
    decode_varint,
    encode_commands,
    encode_varint,
)

__all__ = [
    "TYPE_ACK",
    "TYPE_PADDING",
    "TYPE_CLEAR",
    "TYPE_SESSION",
    "DEFAULT_MAX_BODY",
    "RecordHeader",
    "PacketRecord",
    "AckRecord",
    "PaddingRecord",
    "ClearStreamRecord",
    "SessionRecord",
    "UnknownRecord",
    "encode_record_header",
    "decode_record_header",
    "decode_record",
    "decode_records",
    "RecordParser",
]

TYPE_ACK = 0x01
TYPE_PADDING = 0x03
TYPE_CLEAR = 0x04
TYPE_SESSION = 0x05

#: Largest record body the parser accepts by default.  SOS2 refuses bodies
#: over 4096 bytes, the largest captured record is 656 bytes; tcp.md 4 says a
#: server should accept at least 64 KiB.  GUESS: 64 KiB is enough.
DEFAULT_MAX_BODY = 0x10000

#: GUESS: a packet must carry at least one command (the grammar says
#: ``command+``; an empty packet was never seen).
ALLOW_EMPTY_PACKET = False


@attr.s(frozen=True, slots=True)
class RecordHeader(object):
    """``length`` = body bytes after the header; ``typed`` = 0 or 1."""

    length = attr.ib()
    typed = attr.ib()

    @property
    def H(self):
        return (self.length << 1) | self.typed

    def encode(self):
        return encode_record_header(self.length, self.typed)


def encode_record_header(length, typed):
    if length < 0 or typed not in (0, 1, False, True):
        raise ValueError("bad record header (%r, %r)" % (length, typed))
    return encode_varint((length << 1) | int(typed))


def decode_record_header(data, pos=0):
    """Return ``(RecordHeader, new_pos)``; ProtocolError if truncated/invalid."""
    H, pos = decode_varint(data, pos, "record header")
    return RecordHeader(H >> 1, H & 1), pos


def _u16(value, name):
    if not 0 <= value <= 0xFFFF:
        raise ValueError("%s out of range: %r" % (name, value))
    return value.to_bytes(2, "big")


@attr.s(frozen=True, slots=True)
class PacketRecord(object):
    """Untyped record: a packet id and one or more commands."""

    packet_id = attr.ib()
    commands = attr.ib(converter=tuple)

    def encode_body(self):
        return _u16(self.packet_id, "packet id") + encode_commands(self.commands)

    def encode(self):
        body = self.encode_body()
        return encode_record_header(len(body), 0) + body

    def to_json(self):
        return {
            "type": "packet",
            "packet_id": self.packet_id,
            "commands": [c.to_json() for c in self.commands],
        }


@attr.s(frozen=True, slots=True)
class AckRecord(object):
    """Typed record 01: acknowledges one packet id (tcp.md 5.5)."""

    packet_id = attr.ib()
    record_type = TYPE_ACK

    def encode_body(self):
        return bytes([TYPE_ACK]) + _u16(self.packet_id, "packet id")

    def encode(self):
        return encode_record_header(3, 1) + self.encode_body()

    def to_json(self):
        return {"type": "ack", "packet_id": self.packet_id}


@attr.s(frozen=True, slots=True)
class PaddingRecord(object):
    """Typed record 03: random filler, ignored by the receiver (tcp.md 2.4).
    A server sends one right after its greeting."""

    filler = attr.ib(default=b"", converter=bytes)
    record_type = TYPE_PADDING

    def encode_body(self):
        return bytes([TYPE_PADDING]) + self.filler

    def encode(self):
        body = self.encode_body()
        return encode_record_header(len(body), 1) + body

    def to_json(self):
        return {"type": "padding", "filler": self.filler.hex()}


@attr.s(frozen=True, slots=True)
class ClearStreamRecord(object):
    """Typed record 04: the sender's direction is in clear from the next
    byte on (``05 04 00`` in both real directions; the one data byte was
    always 00).  The receiver stops RC4-decrypting after it."""

    data = attr.ib(default=b"\x00", converter=bytes)
    record_type = TYPE_CLEAR

    def encode_body(self):
        return bytes([TYPE_CLEAR]) + self.data

    def encode(self):
        body = self.encode_body()
        return encode_record_header(len(body), 1) + body

    def to_json(self):
        return {"type": "clear", "data": self.data.hex()}


@attr.s(frozen=True, slots=True)
class SessionRecord(object):
    """Typed record 05 as framed (tcp.md 7.1), still encrypted.

    ``chk`` is the u16be header check, ``ciphertext`` the AES-CTR output and
    ``trailer`` the u16le TRL.  :mod:`blissnode.wire.aes_ctr` seals and
    opens these.
    """

    chk = attr.ib()
    ciphertext = attr.ib(converter=bytes)
    trailer = attr.ib()
    record_type = TYPE_SESSION

    @property
    def payload(self):
        """``ciphertext || TRL`` (what CHK is computed over)."""
        return self.ciphertext + _u16le(self.trailer)

    def encode_body(self):
        return bytes([TYPE_SESSION]) + _u16(self.chk, "CHK") + self.payload

    def encode(self):
        body = self.encode_body()
        return encode_record_header(len(body), 1) + body

    def to_json(self):
        return {
            "type": "session",
            "chk": self.chk,
            "ciphertext": self.ciphertext.hex(),
            "trailer": self.trailer,
        }


def _u16le(value):
    if not 0 <= value <= 0xFFFF:
        raise ValueError("trailer out of range: %r" % (value,))
    return value.to_bytes(2, "little")


@attr.s(frozen=True, slots=True)
class UnknownRecord(object):
    """A typed record of a type we do not know; skipped by length (tcp.md 4)."""

    record_type = attr.ib()
    data = attr.ib(converter=bytes)

    def encode_body(self):
        return bytes([self.record_type]) + self.data

    def encode(self):
        body = self.encode_body()
        return encode_record_header(len(body), 1) + body

    def to_json(self):
        return {"type": "unknown", "record_type": self.record_type, "data": self.data.hex()}


def decode_body(typed, body):
    """Decode a record body (bytes after the header) into a record object."""
    body = bytes(body)
    if not typed:
        if len(body) < 2:
            raise ProtocolError("packet record of %d bytes has no packet id" % len(body))
        commands = decode_commands(body, 2)
        if not commands and not ALLOW_EMPTY_PACKET:
            raise ProtocolError("packet record without commands")
        return PacketRecord(int.from_bytes(body[:2], "big"), commands)
    if not body:
        raise ProtocolError("typed record without a type byte")
    rtype = body[0]
    if rtype == TYPE_ACK:
        # GUESS: exactly one packet id per ack (tcp.md Q4: whether one ack may
        # name several packets is unknown).
        if len(body) != 3:
            raise ProtocolError("ack record of %d bytes (expected 3)" % len(body))
        return AckRecord(int.from_bytes(body[1:3], "big"))
    if rtype == TYPE_PADDING:
        return PaddingRecord(body[1:])
    if rtype == TYPE_CLEAR:
        return ClearStreamRecord(body[1:])
    if rtype == TYPE_SESSION:
        if len(body) < 5:
            raise ProtocolError("session record of %d bytes is too short" % len(body))
        return SessionRecord(
            int.from_bytes(body[1:3], "big"),
            body[3:-2],
            int.from_bytes(body[-2:], "little"),
        )
    return UnknownRecord(rtype, body[1:])


def decode_record(data, pos=0, max_body=DEFAULT_MAX_BODY):
    """Decode one complete record at ``data[pos:]``; return ``(record, new_pos)``.

    Raises ProtocolError if the record is truncated or malformed, and
    LimitExceeded if its declared body exceeds ``max_body``.
    """
    header, start = decode_record_header(data, pos)
    if max_body is not None and header.length > max_body:
        raise LimitExceeded("record body of %d bytes > %d" % (header.length, max_body))
    end = start + header.length
    if end > len(data):
        raise ProtocolError("truncated record: %d of %d body bytes" % (len(data) - start, header.length))
    return decode_body(header.typed, data[start:end]), end


def decode_records(data, max_body=DEFAULT_MAX_BODY):
    """Decode a buffer of complete records; return ``(records, offsets)``.

    ``offsets[i]`` is where record ``i`` starts in ``data``.  Trailing bytes
    that do not form a complete record raise ProtocolError (use
    :class:`RecordParser` for streams that may stop mid-record).
    """
    records, offsets = [], []
    pos = 0
    while pos < len(data):
        offsets.append(pos)
        record, pos = decode_record(data, pos, max_body)
        records.append(record)
    return records, offsets


class RecordParser(object):
    """Incremental, sans-IO record parser for one decrypted direction.

    ``feed(data)`` appends bytes and returns the list of records completed by
    them (possibly empty).  After a ProtocolError the stream is out of sync
    and the parser refuses further input (the connection must be closed).

    ``buffered`` tells how many bytes wait for the rest of a record; the
    buffer is bounded by ``MAX_VARINT_BYTES + max_body``.

    A :class:`ClearStreamRecord` ends the record stream: it is the last
    record returned, :attr:`switched` turns true, and the bytes fed after it
    stay unparsed for :meth:`take_rest` (the caller maps them back to the
    clear bytes they were on the wire; they were never RC4).  Feeding a
    switched parser raises ProtocolError.
    """

    def __init__(self, max_body=DEFAULT_MAX_BODY):
        self.max_body = max_body
        self._buf = bytearray()
        self._pos = 0  # start of the first unconsumed byte in _buf
        self._need = None  # (header_size, body_length, typed) once known
        self._failed = None
        self.offset = 0  # stream offset of the first buffered byte
        self.switched = False

    @property
    def buffered(self):
        return len(self._buf) - self._pos

    def take_rest(self):
        """After the switch record: the bytes fed after it (and forget them)."""
        rest = bytes(self._buf[self._pos:])
        self._buf = bytearray()
        self._pos = 0
        return rest

    def feed(self, data):
        """Add ``data``; return the records it completes, in order."""
        return [record for _, _, record in self.feed_framed(data)]

    def feed_framed(self, data):
        """Like :meth:`feed`, but return ``(offset, raw, record)`` triples:
        the record's offset in this direction's decrypted stream (counted
        from the first byte fed) and its complete raw bytes (header + body).
        Tools that show a stream (``blissnode decode tcp``) use this."""
        if self._failed is not None:
            raise ProtocolError("parser already failed: %s" % (self._failed,))
        if self.switched:
            raise ProtocolError("the stream switched to clear; no more records")
        self._buf += data
        out = []
        try:
            while not self.switched:
                item = self._next()
                if item is None:
                    return out
                out.append(item)
                if isinstance(item[2], ClearStreamRecord):
                    self.switched = True
            return out
        except ProtocolError as e:
            self._failed = e
            raise
        finally:
            # Drop consumed bytes once per feed (not per record: that would
            # make one large feed quadratic).
            del self._buf[: self._pos]
            self._pos = 0

    def _next(self):
        buf, pos = self._buf, self._pos
        if self._need is None:
            avail = len(buf) - pos
            if not avail:
                return None
            # Is a complete header available?  Find its terminating byte.
            for i in range(pos, pos + min(avail, MAX_VARINT_BYTES)):
                if buf[i] < 0x80:
                    break
            else:
                if avail >= MAX_VARINT_BYTES:
                    raise ProtocolError("record header longer than %d bytes" % MAX_VARINT_BYTES)
                return None
            header, start = decode_record_header(buf, pos)
            if self.max_body is not None and header.length > self.max_body:
                raise LimitExceeded(
                    "record body of %d bytes > %d" % (header.length, self.max_body)
                )
            self._need = (start - pos, header.length, header.typed)
        start, length, typed = self._need
        end = pos + start + length
        if len(buf) < end:
            return None
        raw = bytes(buf[pos:end])
        self._pos = end
        self._need = None
        offset = self.offset
        self.offset += len(raw)
        return offset, raw, decode_body(typed, raw[start:])
