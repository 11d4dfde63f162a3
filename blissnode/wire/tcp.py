"""
The TCP session layer of peer connections (spec/tcp.md), in one namespace.

The pieces live in focused modules and are re-exported here:

* :mod:`blissnode.wire.tcp_commands` -- commands, varint, id counter;
* :mod:`blissnode.wire.tcp_records`  -- records and :class:`RecordParser`;
* :mod:`blissnode.wire.seed_exchange` -- seed + greeting (+ padding);
* :mod:`blissnode.wire.aes_ctr`      -- AES-CTR and type-5 session records;
* :mod:`blissnode.wire.dh384`        -- the 5.5+ DH-384 pre-handshake.

This module adds :class:`StreamDecoder`, the receive side of one direction
from its very first byte (seed exchange, RC4, records), and
:func:`decode_stream` for tools that show a captured direction
(``blissnode decode tcp``).
"""

import attr

from blissnode.wire import objects, rc4
from blissnode.wire.errors import ProtocolError
from blissnode.wire.seed_exchange import (  # noqa: F401  (re-exports)
    EXCHANGE_SIZE,
    Greeting,
    SeedExchange,
    build_seed_exchange,
    build_server_start,
    decode_greeting,
    parse_seed_exchange,
    random_greeting_tag,
    random_padding,
    random_seed,
)
from blissnode.wire.tcp_commands import (  # noqa: F401
    KIND_NOTIFICATION,
    KIND_REPLY,
    KIND_REQUEST,
    Command,
    IdCounter,
    decode_command,
    decode_commands,
    decode_varint,
    encode_commands,
    encode_varint,
    kind_has_request_id,
)
from blissnode.wire.tcp_records import (  # noqa: F401
    DEFAULT_MAX_BODY,
    TYPE_ACK,
    TYPE_CLEAR,
    TYPE_PADDING,
    TYPE_SESSION,
    AckRecord,
    ClearStreamRecord,
    PacketRecord,
    PaddingRecord,
    RecordHeader,
    RecordParser,
    SessionRecord,
    UnknownRecord,
    decode_record,
    decode_record_header,
    decode_records,
    encode_record_header,
)

__all__ = [
    "Command",
    "IdCounter",
    "RecordHeader",
    "PacketRecord",
    "AckRecord",
    "PaddingRecord",
    "ClearStreamRecord",
    "SessionRecord",
    "UnknownRecord",
    "RecordParser",
    "Greeting",
    "SeedExchange",
    "build_seed_exchange",
    "parse_seed_exchange",
    "build_server_start",
    "StreamDecoder",
    "DecodedStream",
    "decode_stream",
    "record_to_json",
]


class StreamDecoder(object):
    """Sans-IO receive side of one direction of a peer connection, from the
    first byte after any DH-384 handshake.

    ``feed(data)`` returns the records completed so far.  The first 14 bytes
    are the seed exchange (available as :attr:`exchange` once parsed); the
    rest is RC4-decrypted and parsed into records.  ``extra`` is the DH-384
    secret for 5.5+ connections (``b""`` for the classic exchange).

    After a :class:`ClearStreamRecord` the direction is in clear (ERRATA):
    :attr:`switched` turns true, :meth:`take_clear` returns the clear bytes
    that followed the record, and later data is clear too (the caller no
    longer feeds it here; feeding raises ProtocolError).
    """

    def __init__(self, extra=b"", max_body=DEFAULT_MAX_BODY):
        self.extra = bytes(extra)
        self.exchange = None
        self.parser = RecordParser(max_body)
        self._rc4 = None
        self._head = bytearray()
        self._clear = b""

    @property
    def switched(self):
        return self.parser.switched

    def take_clear(self):
        """The clear bytes fed after the switch record (once)."""
        clear, self._clear = self._clear, b""
        return clear

    def feed(self, data):
        return [record for _, _, record in self.feed_framed(data)]

    def feed_framed(self, data):
        """``(offset, raw, record)`` triples; offsets count decrypted bytes
        after the 14-byte seed exchange (add 14 for the TCP stream offset)."""
        if self._rc4 is None:
            need = EXCHANGE_SIZE - len(self._head)
            self._head += data[:need]
            data = data[need:]
            if len(self._head) < EXCHANGE_SIZE:
                return []
            self.exchange, self._rc4 = parse_seed_exchange(bytes(self._head), self.extra)
        if not data:
            return []
        data = bytes(data)
        framed = self.parser.feed_framed(self._rc4.crypt(data))
        if self.parser.switched:
            # The bytes after the switch were never RC4: take them from the wire.
            rest = len(self.parser.take_rest())
            self._clear = data[len(data) - rest:] if rest else b""
        return framed


@attr.s(frozen=True, slots=True)
class DecodedStream(object):
    """A decoded capture of one direction.

    ``plaintext``: all decrypted bytes after the seed exchange; ``records``:
    ``(offset, raw, record)`` triples; ``trailing``: decrypted bytes of an
    incomplete last record; ``error``: the ProtocolError message that stopped
    decoding, if any (records before it are kept); ``clear``: the bytes after
    a type-4 switch record, as they were on the wire (they are not RC4).
    """

    exchange = attr.ib()
    plaintext = attr.ib()
    records = attr.ib()
    trailing = attr.ib()
    error = attr.ib(default=None)
    clear = attr.ib(default=b"")

    def to_json(self, objects=False):
        return {
            "seed": None if self.exchange is None else "%08x" % self.exchange.seed,
            "greeting": None if self.exchange is None else self.exchange.greeting.to_json(),
            "plaintext": self.plaintext.hex(),
            "records": [
                dict(record_to_json(record, objects), offset=offset, raw=raw.hex())
                for offset, raw, record in self.records
            ],
            "trailing": self.trailing.hex(),
            "error": self.error,
            "clear": self.clear.hex(),
        }


def decode_stream(data, extra=b"", max_body=DEFAULT_MAX_BODY, seed=None):
    """Decode a complete captured direction into a :class:`DecodedStream`.

    Without ``seed`` the data starts with the direction's seed exchange.
    With ``seed`` (the 32-bit value the direction announced) the data starts
    right after the greeting, at keystream position 0 (tcp.md 2.2), and
    ``exchange`` is ``None``.  Never raises ProtocolError: a failure is
    reported in ``.error`` after the records decoded before it."""
    data = bytes(data)
    error = None
    if seed is None:
        try:
            exchange, state = parse_seed_exchange(data, extra)
        except ProtocolError as e:
            return DecodedStream(None, b"", [], b"", str(e))
        wire = data[EXCHANGE_SIZE:]
    else:
        exchange = None
        state = rc4.skype_rc4(seed, extra)
        wire = data
    plaintext = state.crypt(wire)
    parser = RecordParser(max_body)
    try:
        records = parser.feed_framed(plaintext)
    except ProtocolError as e:
        # The parser stops at the first bad record; keep those before it.
        error = str(e)
        records = _records_before_error(plaintext, max_body)
    consumed = sum(len(raw) for _, raw, _ in records)
    clear = b""
    if parser.switched:
        clear = wire[consumed:]
        plaintext = plaintext[:consumed]
    return DecodedStream(exchange, plaintext, records, plaintext[consumed:], error, clear)


def _records_before_error(plaintext, max_body):
    out = []
    pos = 0
    while pos < len(plaintext):
        try:
            record, end = decode_record(plaintext, pos, max_body)
        except ProtocolError:
            break
        out.append((pos, plaintext[pos:end], record))
        pos = end
    return out


def record_to_json(record, objects=False):
    """A JSON-ready dict for any record; with ``objects=True`` command bodies
    are also decoded with :mod:`blissnode.wire.objects` (key ``"objects"``,
    or ``"objects_error"`` if the body does not decode)."""
    out = record.to_json()
    if objects and isinstance(record, PacketRecord):
        for command, js in zip(record.commands, out["commands"]):
            try:
                decoded = command.objects()
            except ProtocolError as e:
                js["objects_error"] = str(e)
            else:
                js["objects"] = _objects_json(decoded)
    return out


def _objects_json(objlist):
    return objects.objects_to_json(objlist)
