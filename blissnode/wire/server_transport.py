"""
Transport of the connections to the central login and event servers
(spec/login.md 2-4, tcp.md 8): TLS-lookalike records, the key-exchange
record, the session seed and the AES-256 session key.

::

    hello (classic)   C->S 16 03 01 00 00      S->C 17 03 01 00 00
    key exchange      16 03 01 <L:u16be> <object list, clear>
    data              17 03 01 <L:u16be> <AES-CTR ciphertext> <TRL:u16le>
                      L = len(ciphertext) + 2
                      AES-CTR (tcp.md 7.2): X = 0 client->server, X = 1 server->client,
                      seq = per-direction record counter from 0
                      TRL = (CRC32R(ciphertext) & 0xFFFF) ^ seq

5.5+ clients wrap the whole exchange in plain RC4 after a DH-384 handshake
and send no hellos (login.md 2.2): :func:`server_rc4_keys` gives the keys,
:class:`blissnode.wire.dh384.ServerHandshake` runs the handshake.

The RSA-1536 decryption of BLOB 8 of the key-exchange record belongs to the
login server; here the blob is opaque bytes.  :func:`check_session_seed`
validates the decrypted 192-byte block and :func:`login_session_key` turns it
into the AES key.
"""

import hashlib

import attr

from blissnode.wire import objects
from blissnode.wire.aes_ctr import aes_ctr, seq_from_trailer, trailer
from blissnode.wire.errors import ChecksumError, LimitExceeded, ProtocolError

__all__ = [
    "KeystreamExhausted",
    "MAX_RECORDS",
    "CONTENT_KEY_EXCHANGE",
    "CONTENT_DATA",
    "VERSION",
    "HEADER_SIZE",
    "CLIENT_HELLO",
    "SERVER_HELLO",
    "X_CLIENT_TO_SERVER",
    "X_SERVER_TO_CLIENT",
    "ServerRecord",
    "decode_server_record",
    "ServerRecordParser",
    "key_exchange_record",
    "seal_server_record",
    "open_server_record",
    "RecordCipher",
    "SEED_SIZE",
    "RANDOM_SIZE",
    "session_seed_from_random",
    "check_session_seed",
    "login_session_key",
    "server_rc4_keys",
    "KeyExchange",
    "parse_key_exchange",
]

CONTENT_KEY_EXCHANGE = 0x16
CONTENT_DATA = 0x17
#: Bytes 1..2 of every record ("TLS 1.0"); every sample has them.
VERSION = b"\x03\x01"
HEADER_SIZE = 5

CLIENT_HELLO = b"\x16\x03\x01\x00\x00"
SERVER_HELLO = b"\x17\x03\x01\x00\x00"

X_CLIENT_TO_SERVER = 0
X_SERVER_TO_CLIENT = 1


@attr.s(frozen=True, slots=True)
class ServerRecord(object):
    """One ``16 03 01`` / ``17 03 01`` record: content type and payload.

    For data records (0x17) the payload is ``ciphertext || TRL``; for the
    key exchange (0x16) it is the clear object list; the hellos have an
    empty payload.
    """

    content_type = attr.ib()
    payload = attr.ib(converter=bytes)

    def encode(self):
        if self.content_type not in (CONTENT_KEY_EXCHANGE, CONTENT_DATA):
            raise ValueError("content type %r" % (self.content_type,))
        if len(self.payload) > 0xFFFF:
            raise ValueError("server record payload of %d bytes" % len(self.payload))
        return (
            bytes([self.content_type]) + VERSION + len(self.payload).to_bytes(2, "big") + self.payload
        )

    @property
    def is_hello(self):
        return not self.payload

    def to_json(self):
        return {"content_type": self.content_type, "payload": self.payload.hex()}


def _header(data, pos):
    ctype = data[pos]
    if ctype not in (CONTENT_KEY_EXCHANGE, CONTENT_DATA):
        raise ProtocolError("server record content type 0x%02x" % (ctype,))
    # GUESS: require the version bytes 03 01 seen in every sample; a client
    # that sent anything else is not one we understand.
    if bytes(data[pos + 1 : pos + 3]) != VERSION:
        raise ProtocolError("server record version %s" % (bytes(data[pos + 1 : pos + 3]).hex(),))
    return ctype, int.from_bytes(data[pos + 3 : pos + 5], "big")


def decode_server_record(data, pos=0):
    """Decode one complete record at ``data[pos:]``; return ``(record, new_pos)``."""
    if len(data) - pos < HEADER_SIZE:
        raise ProtocolError("truncated server record header")
    ctype, length = _header(data, pos)
    end = pos + HEADER_SIZE + length
    if end > len(data):
        raise ProtocolError("truncated server record")
    return ServerRecord(ctype, bytes(data[pos + HEADER_SIZE : end])), end


class ServerRecordParser(object):
    """Sans-IO incremental parser of a (decrypted) server-connection stream.

    ``feed(data)`` returns the complete :class:`ServerRecord` s.  ``max_payload``
    bounds the buffer (the u16 length caps it at 65535 anyway); real records
    are a few hundred bytes.
    """

    def __init__(self, max_payload=0xFFFF):
        self.max_payload = max_payload
        self._buf = bytearray()
        self._failed = None

    @property
    def buffered(self):
        return len(self._buf)

    def feed(self, data):
        if self._failed is not None:
            raise ProtocolError("parser already failed: %s" % (self._failed,))
        self._buf += data
        out = []
        try:
            while len(self._buf) >= HEADER_SIZE:
                ctype, length = _header(self._buf, 0)
                if length > self.max_payload:
                    raise LimitExceeded("server record of %d bytes" % (length,))
                end = HEADER_SIZE + length
                if len(self._buf) < end:
                    break
                out.append(ServerRecord(ctype, bytes(self._buf[HEADER_SIZE:end])))
                del self._buf[:end]
            if self._buf and self._buf[0] not in (CONTENT_KEY_EXCHANGE, CONTENT_DATA):
                raise ProtocolError("server record content type 0x%02x" % (self._buf[0],))
        except ProtocolError as e:
            self._failed = e
            raise
        return out


def key_exchange_record(object_list):
    """``16 03 01 <L> object_list`` (login.md 3): bytes of the first record."""
    return ServerRecord(CONTENT_KEY_EXCHANGE, object_list).encode()


def seal_server_record(plaintext, key, x, seq):
    """Encrypt ``plaintext`` into a complete ``17 03 01`` record (bytes)."""
    ciphertext = aes_ctr(key, x, seq, plaintext)
    payload = ciphertext + trailer(ciphertext, seq).to_bytes(2, "little")
    return ServerRecord(CONTENT_DATA, payload).encode()


def open_server_record(record, key, x, expected_seq=None):
    """Decrypt a data :class:`ServerRecord`; return ``(seq, plaintext)``.

    ``seq`` (16 bits) is recovered from the trailer.  With ``expected_seq``
    the trailer is checked against the receiver's own counter: a mismatch
    means a corrupted or reordered record, or a wrong key stream, and raises
    ChecksumError.  There is no other integrity check in this framing.
    """
    if record.content_type != CONTENT_DATA:
        raise ProtocolError("not a data record (content type 0x%02x)" % (record.content_type,))
    if len(record.payload) < 2:
        raise ProtocolError("data record without trailer")
    ciphertext = record.payload[:-2]
    seq = seq_from_trailer(ciphertext, int.from_bytes(record.payload[-2:], "little"))
    if expected_seq is not None and seq != expected_seq & 0xFFFF:
        raise ChecksumError("record trailer gives seq %d, expected %d" % (seq, expected_seq))
    return seq, aes_ctr(key, x, seq, ciphertext)


#: Records one direction may seal: the counter block holds ``seq << 16``
#: in a 32-bit word, so record 65 536 would reuse record 0's keystream.
MAX_RECORDS = 0x10000


class KeystreamExhausted(ProtocolError):
    """A direction sealed :data:`MAX_RECORDS` records: the protocol has no
    rekeying, so the connection must end (the client reconnects)."""


class RecordCipher(object):
    """Per-direction AES state of a server connection: key, X and the record
    counter.  ``seal(plaintext) -> bytes`` for the sending direction,
    ``open(record) -> plaintext`` (checks the counter) for the receiving one.
    ``seal`` raises :class:`KeystreamExhausted` rather than let the counter
    wrap (issue 17.10).
    """

    def __init__(self, key, x, seq=0):
        self.key = bytes(key)
        self.x = x
        self.seq = seq

    def seal(self, plaintext):
        if self.seq >= MAX_RECORDS:
            raise KeystreamExhausted("%d records sealed: the AES-CTR counter would wrap"
                                     % (self.seq,))
        data = seal_server_record(plaintext, self.key, self.x, self.seq)
        self.seq += 1
        return data

    def open(self, record):
        _, plaintext = open_server_record(record, self.key, self.x, self.seq)
        self.seq += 1
        return plaintext


# -- session seed and key (login.md 3.1, 4) ---------------------------------

SEED_SIZE = 192
RANDOM_SIZE = 24


def session_seed_from_random(r24):
    """The client's 192-byte block: ``r24`` repeated 8 times, byte 0 = 0x01."""
    r24 = bytes(r24)
    if len(r24) != RANDOM_SIZE:
        raise ValueError("session seed random must be 24 bytes")
    return b"\x01" + (r24 * 8)[1:]


def check_session_seed(X):
    """Validate a decrypted session seed; return its 24-byte random part.

    Checks (login.md 3.1; the real server's checks are unknown): 192 bytes,
    ``X[0] == 0x01``, blocks 1..7 equal, and block 0 equal to them except
    for byte 0.  The returned random has byte 0 taken from block 1.
    Raises ProtocolError otherwise (wrong RSA key, or garbage).
    """
    X = bytes(X)
    if len(X) != SEED_SIZE:
        raise ProtocolError("session seed of %d bytes (expected 192)" % len(X))
    if X[0] != 0x01:
        raise ProtocolError("session seed does not start with 0x01")
    block = X[RANDOM_SIZE : 2 * RANDOM_SIZE]
    if X[RANDOM_SIZE:] != block * 7 or X[1:RANDOM_SIZE] != block[1:]:
        raise ProtocolError("session seed is not a repeated 24-byte block")
    return block


def login_session_key(X):
    """AES-256 key of a server connection (login.md 4):
    ``SHA1(00000000 || X) || SHA1(00000001 || X)[:12]``."""
    X = bytes(X)
    h0 = hashlib.sha1(b"\x00\x00\x00\x00" + X).digest()
    h1 = hashlib.sha1(b"\x00\x00\x00\x01" + X).digest()
    return h0 + h1[:12]


def server_rc4_keys(K):
    """Plain-RC4 keys of a 5.5+ login/event connection (login.md 2.2):
    ``(client_to_server, server_to_client)`` = ``(K, K with K[0] + 1)``.

    The +1 wraps modulo 256 (0xFF -> 0x00: INFERRED, login.json notes it).
    Feed them to ``blissnode.wire.rc4.RC4(key)`` (standard key schedule).
    """
    K = bytes(K)
    if not K:
        raise ValueError("empty DH secret")
    return K, bytes([(K[0] + 1) & 0xFF]) + K[1:]


# -- key-exchange contents ----------------------------------------------------

#: Object-list item ids of the key-exchange record (login.md 3).
ITEM_RSA_BLOB = 8
ITEM_KEY_FLAGS = 9
ITEM_C = 0xC
#: Size of the RSA-1536 ciphertext in BLOB 8.
RSA_BLOB_SIZE = 192


@attr.s(frozen=True, slots=True)
class KeyExchange(object):
    """What a server needs from the key-exchange record: the RSA blob (still
    encrypted), INT 9 and INT 0xC (meanings unknown, L11), and the whole
    decoded object list."""

    rsa_blob = attr.ib(converter=bytes)
    int9 = attr.ib()
    int12 = attr.ib()
    objects = attr.ib(eq=False)


def parse_key_exchange(record):
    """Extract :class:`KeyExchange` from a key-exchange :class:`ServerRecord`
    (or its raw bytes) with :mod:`blissnode.wire.objects`.

    BLOB 8 must be present and 192 bytes; INT 9 / INT 0xC are optional
    (``None`` when missing); unknown items are ignored (login.md 3).
    """
    if not isinstance(record, ServerRecord):
        raw = record
        record, end = decode_server_record(raw)
        if end != len(raw):
            raise ProtocolError("%d bytes after the key-exchange record" % (len(raw) - end,))
    if record.content_type != CONTENT_KEY_EXCHANGE or not record.payload:
        raise ProtocolError("not a key-exchange record")
    objlist = objects.decode_objects(record.payload)
    blob = objlist.value(ITEM_RSA_BLOB, objects.Blob)
    if blob is None or len(blob) != RSA_BLOB_SIZE:
        raise ProtocolError("key exchange without a 192-byte BLOB 8")
    return KeyExchange(
        blob,
        objlist.value(ITEM_KEY_FLAGS, objects.Int),
        objlist.value(ITEM_C, objects.Int),
        objlist,
    )
