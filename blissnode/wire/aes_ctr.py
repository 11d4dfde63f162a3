"""
AES-256-CTR with Skype's counter layout (spec/tcp.md 7.2) and the type-5
session records built on it (tcp.md 7.1, 7.3, 9).

Counter block ``i`` of a message (16 bytes, big-endian words)::

    BE32(X) || BE32(X) || BE32(0) || BE32((seq << 16) + i  mod 2**32)

``X`` is a 32-bit direction word, ``seq`` a per-direction message counter.
Encryption and decryption are the same XOR.  The same primitive protects
session records (peer <-> peer) and the ``17 03 01`` records of the login and
event servers (:mod:`blissnode.wire.server_transport`).

Session record (typed record 5)::

    record   := varint(H) 05 CHK:u16be payload
    payload  := ciphertext TRL:u16le
    ciphertext = AES-CTR(key, X, seq, plaintext || CRC16(plaintext) u16be)
    TRL      = (CRC32R(ciphertext) & 0xFFFF) ^ (seq & 0xFFFF)
    CHK      = (CRC32R(payload) & 0xFFFF) ^ ((sid_rx << 1) & 0xFFFF)

The receiver recovers ``seq`` from TRL (only its low 16 bits ever matter, the
counter shifts it left by 16 inside a 32-bit word).

AES itself comes from the ``cryptography`` package (OpenSSL); this module
only lays out the counter.
"""

import hashlib

import attr
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from blissnode.wire import objects
from blissnode.wire.crc import crc16_xmodem, crc32r
from blissnode.wire.errors import ChecksumError, ProtocolError
from blissnode.wire.tcp_commands import BODY_MARKERS, decode_varint, encode_varint
from blissnode.wire.tcp_records import SessionRecord

__all__ = [
    "ZERO_KEY",
    "counter_block",
    "aes_ctr",
    "trailer",
    "seq_from_trailer",
    "session_chk",
    "seal_session_record",
    "open_session_record",
    "SessionPlaintext",
    "encode_session_plaintext",
    "decode_session_plaintext",
    "session_key",
    "direction_words",
]

#: Bootstrap key of session records: all zero, used with X = 0 until the
#: nonces are exchanged (tcp.md 7.2).
ZERO_KEY = bytes(32)

_BLOCKS_PER_WRAP = 1 << 32


def counter_block(x, seq, i=0):
    """The 16-byte counter block for block ``i`` of message ``seq``."""
    x &= 0xFFFFFFFF
    low = ((seq << 16) + i) & 0xFFFFFFFF
    return x.to_bytes(4, "big") * 2 + bytes(4) + low.to_bytes(4, "big")


def aes_ctr(key, x, seq, data):
    """Encrypt or decrypt ``data`` with AES-256-CTR (tcp.md 7.2).

    ``key`` is a 32-byte AES-256 key in standard byte order.  The counter's
    last word wraps modulo 2**32 without carrying into the zero word, unlike
    a 128-bit CTR counter; we split the message at that point so OpenSSL's
    CTR mode can be used for each part.
    """
    key = bytes(key)
    if len(key) != 32:
        raise ValueError("AES-256 key must be 32 bytes, got %d" % len(key))
    data = bytes(data)
    out = []
    pos = 0
    block = 0
    while pos < len(data):
        low = ((seq << 16) + block) & 0xFFFFFFFF
        # Blocks left before the low word wraps to 0.
        run = (_BLOCKS_PER_WRAP - low) * 16
        chunk = data[pos : pos + run]
        enc = Cipher(algorithms.AES(key), modes.CTR(counter_block(x, seq, block))).encryptor()
        out.append(enc.update(chunk) + enc.finalize())
        pos += len(chunk)
        block += (len(chunk) + 15) // 16
    return b"".join(out)


def trailer(ciphertext, seq):
    """TRL: low 16 bits of CRC32R(ciphertext) XOR seq (as an int)."""
    return (crc32r(ciphertext) & 0xFFFF) ^ (seq & 0xFFFF)


def seq_from_trailer(ciphertext, trl):
    """Recover the (16-bit) sequence number from a trailer."""
    return (crc32r(ciphertext) & 0xFFFF) ^ trl


def session_chk(payload, sid_rx):
    """CHK of a session record: CRC32R(payload) low half XOR (sid_rx << 1)."""
    return (crc32r(payload) & 0xFFFF) ^ ((sid_rx << 1) & 0xFFFF)


def seal_session_record(plaintext, key, x, seq, sid_rx):
    """Build the :class:`SessionRecord` for ``plaintext`` (CRC16 is added
    here).  ``.encode()`` of the result gives the record bytes."""
    plaintext = bytes(plaintext)
    inner = plaintext + crc16_xmodem(plaintext).to_bytes(2, "big")
    ciphertext = aes_ctr(key, x, seq, inner)
    trl = trailer(ciphertext, seq)
    payload = ciphertext + trl.to_bytes(2, "little")
    return SessionRecord(session_chk(payload, sid_rx), ciphertext, trl)


def open_session_record(record, key, x, sid_rx=None):
    """Decrypt a :class:`SessionRecord`; return ``(seq, plaintext)``.

    ``seq`` is recovered from the trailer.  The CRC16 inside the plaintext is
    checked (ChecksumError if wrong: wrong key, X or corrupted data).  CHK is
    checked only when ``sid_rx`` is given, because SOS2 never checks it and
    which session id a peer uses there is unsure (tcp.md Q5).
    """
    ciphertext = record.ciphertext
    if len(ciphertext) < 2:
        raise ProtocolError("session record ciphertext shorter than its CRC16")
    if sid_rx is not None and session_chk(record.payload, sid_rx) != record.chk:
        raise ChecksumError("session record CHK does not match sid_rx %d" % (sid_rx,))
    seq = seq_from_trailer(ciphertext, record.trailer)
    inner = aes_ctr(key, x, seq, ciphertext)
    plaintext, crc = inner[:-2], int.from_bytes(inner[-2:], "big")
    if crc16_xmodem(plaintext) != crc:
        raise ChecksumError("session plaintext CRC16 mismatch (wrong key or X?)")
    return seq, plaintext


@attr.s(frozen=True, slots=True)
class SessionPlaintext(object):
    """``varint(tid) varint(cmd) object_list [object_list ...]`` (tcp.md 7.3).
    ``body`` holds the object list bytes undecoded."""

    tid = attr.ib()
    cmd = attr.ib()
    body = attr.ib(converter=bytes)

    def encode(self):
        return encode_varint(self.tid) + encode_varint(self.cmd) + self.body

    def objects(self):
        """``(lists, rest, format)`` of the body, decoded lazily with
        :func:`blissnode.wire.objects.decode_object_lists`."""
        return objects.decode_object_lists(self.body)

    def to_json(self):
        return {"tid": self.tid, "cmd": self.cmd, "body": self.body.hex()}


def encode_session_plaintext(tid, cmd, body):
    return SessionPlaintext(tid, cmd, body).encode()


def decode_session_plaintext(data):
    data = bytes(data)
    tid, pos = decode_varint(data, 0, "session tid")
    cmd, pos = decode_varint(data, pos, "session cmd")
    body = data[pos:]
    if not body or body[0] not in BODY_MARKERS:
        raise ProtocolError("session plaintext body is not an object list")
    return SessionPlaintext(tid, cmd, body)


def session_key(nonce_initiator, nonce_responder):
    """AES-256 session key from the two decrypted 128-byte nonces (tcp.md 7.2):
    ``SHA1(0^4 || N_init)[:16] || SHA1(0^4 || N_resp)[:16]``.

    The nonces are hashed as given; their first byte is already 0x01 (forced
    by the sender before RSA encryption).  GUESS (tcp.md 7.2, INFERRED): the
    responder uses the same initiator-first order.
    """
    h0 = hashlib.sha1(bytes(4) + bytes(nonce_initiator)).digest()[:16]
    h1 = hashlib.sha1(bytes(4) + bytes(nonce_responder)).digest()[:16]
    return h0 + h1


def direction_words(sid_initiator, sid_responder):
    """``(X_ir, X_ri)``: direction words initiator->responder and back.

    GUESS for the responder side (tcp.md 7.2: SOURCE only for the initiator,
    responder INFERRED by symmetry)."""
    x_ir = ((sid_initiator << 16) + sid_responder) & 0xFFFFFFFF
    return x_ir, x_ir ^ 0xFFFFFFFF
