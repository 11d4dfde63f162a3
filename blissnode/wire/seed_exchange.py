"""
The start of each direction of a TCP peer connection (spec/tcp.md 2,
supernode.md 2.1, udp.md 9.3, obfuscation.md 4)::

    seed      4 bytes, big-endian, in clear
    greeting  10 bytes, XORed with RC4 keystream bytes 0..9 WITHOUT consuming them
    ...       the rest of the direction, XORed with the keystream from byte 0 on

Greeting plaintext: ``tag:u16be 00 00 00 01 00 00 00 <final>``.  ``tag`` is
opaque (not checked), ``final`` was 01, 03 or 0F.  A server must follow its
greeting with a padding record (EPYCS refuses the connection otherwise).

The RC4 state comes from :func:`blissnode.wire.rc4.skype_rc4` with
``extra`` = the DH-384 secret ``K`` for 5.5+ clients (:mod:`dh384`), empty
for the classic exchange.  The functions here return that state so the
caller keeps using it for the rest of the direction.
"""

import secrets

import attr

from blissnode.wire import rc4
from blissnode.wire.errors import ProtocolError
from blissnode.wire.tcp_records import PaddingRecord

__all__ = [
    "SEED_SIZE",
    "GREETING_SIZE",
    "EXCHANGE_SIZE",
    "GREETING_MIDDLE",
    "ACCEPTED_FINALS",
    "Greeting",
    "SeedExchange",
    "decode_greeting",
    "build_seed_exchange",
    "parse_seed_exchange",
    "build_server_start",
    "random_seed",
    "random_greeting_tag",
    "random_padding",
]

SEED_SIZE = 4
GREETING_SIZE = 10
EXCHANGE_SIZE = SEED_SIZE + GREETING_SIZE

#: Greeting bytes 2..8 that every observed side sent (supernode.md 2.1).
GREETING_MIDDLE = b"\x00\x00\x00\x01\x00\x00\x00"

#: The final greeting byte a server sends: clients (BATO-TOOLS) check that
#: bytes 2..9 are ``00 00 00 01 00 00 00 03``.
SERVER_FINAL = 0x03

#: Final greeting bytes real nodes sent (ERRATA, nDPI 2015: 01 from the
#: Microsoft nodes on 443, 0F from peers; 03 from the 1.4-era nodes, which
#: is what blissnode sends).  A client accepts any of them.
ACCEPTED_FINALS = (0x01, 0x03, 0x0F)

#: Filler sizes of a server's first padding record (observed 14..58 bytes).
PADDING_MIN = 14
PADDING_MAX = 58


@attr.s(frozen=True, slots=True)
class Greeting(object):
    """The 10-byte greeting: ``tag`` (bytes 0..1) and ``final`` (byte 9)."""

    tag = attr.ib(default=0x0001)
    final = attr.ib(default=SERVER_FINAL)

    def encode(self):
        if not 0 <= self.tag <= 0xFFFF or not 0 <= self.final <= 0xFF:
            raise ValueError("greeting field out of range")
        return self.tag.to_bytes(2, "big") + GREETING_MIDDLE + bytes([self.final])

    def to_json(self):
        return {"tag": self.tag, "final": self.final, "plaintext": self.encode().hex()}


def decode_greeting(plain):
    """Check and decode a decrypted greeting.

    GUESS (supernode.md 2.1, udp.md 9.3; INFERRED): accept any tag and any
    final byte; require bytes 2..8 = ``00 00 00 01 00 00 00``.  FAKE checks
    only bytes 2..5, so this is slightly stricter than one client, and as
    loose as the observations allow.
    """
    plain = bytes(plain)
    if len(plain) != GREETING_SIZE:
        raise ProtocolError("greeting of %d bytes" % len(plain))
    if plain[2:9] != GREETING_MIDDLE:
        raise ProtocolError("bad greeting %s (wrong seed, extra or not Skype)" % plain.hex())
    return Greeting(int.from_bytes(plain[:2], "big"), plain[9])


@attr.s(frozen=True, slots=True)
class SeedExchange(object):
    """What one side announced: its seed and its greeting."""

    seed = attr.ib()
    greeting = attr.ib()

    def to_json(self):
        return {"seed": self.seed, "greeting": self.greeting.to_json()}


def build_seed_exchange(seed, greeting=Greeting(), first_record=b"", extra=b""):
    """Build the start of a direction; return ``(bytes, rc4_state)``.

    ``bytes`` = seed || greeting encrypted with keystream 0..9 (peeked) ||
    ``first_record`` encrypted from keystream byte 0.  ``rc4_state`` is
    positioned after ``first_record``: keep encrypting with it.
    """
    if isinstance(greeting, Greeting):
        greeting = greeting.encode()
    if len(greeting) != GREETING_SIZE:
        raise ValueError("greeting must be 10 bytes")
    state = rc4.skype_rc4(seed, extra)
    head = seed.to_bytes(SEED_SIZE, "big") + state.copy().crypt(greeting)
    return head + state.crypt(bytes(first_record)), state


def parse_seed_exchange(data, extra=b""):
    """Parse the first 14 bytes of a direction; return ``(SeedExchange, rc4_state)``.

    ``rc4_state`` is at keystream byte 0: feed it everything after byte 14.
    Raises ProtocolError when fewer than 14 bytes are given or the greeting
    does not decrypt to the expected constant (the peer is not a Skype node,
    or it used a DH secret we do not have / did not expect).
    """
    data = bytes(data)
    if len(data) < EXCHANGE_SIZE:
        raise ProtocolError("seed exchange needs %d bytes, got %d" % (EXCHANGE_SIZE, len(data)))
    seed = int.from_bytes(data[:SEED_SIZE], "big")
    state = rc4.skype_rc4(seed, extra)
    greeting = decode_greeting(state.copy().crypt(data[SEED_SIZE:EXCHANGE_SIZE]))
    return SeedExchange(seed, greeting), state


def random_seed():
    """A fresh seed following FAKE's rule (obfuscation.md 4): at least one
    byte has its top bit set and the first byte is not exactly 0x80.
    Receivers accept any seed; this only makes ours look like Skype's."""
    while True:
        seed = secrets.randbits(32)
        raw = seed.to_bytes(4, "big")
        if any(b & 0x80 for b in raw) and raw[0] != 0x80:
            return seed


def random_greeting_tag():
    """Greeting bytes 0..1 for a server: random & 0x81FF, never 0x0001
    (udp.md 9.3; the value clients use for themselves)."""
    while True:
        tag = secrets.randbits(16) & 0x81FF
        if tag != 0x0001:
            return tag


def random_padding(size=None):
    """A :class:`PaddingRecord` with ``size`` (default random 14..58) random bytes."""
    if size is None:
        size = PADDING_MIN + secrets.randbelow(PADDING_MAX - PADDING_MIN + 1)
    return PaddingRecord(secrets.token_bytes(size))


def build_server_start(seed=None, tag=None, padding=None, extra=b""):
    """Everything a server sends first on a peer connection (supernode.md
    2.1): seed, greeting ``tag 00 00 00 01 00 00 00 03`` and a padding record.
    Returns ``(bytes, rc4_state)``; randomness is drawn where not given."""
    if seed is None:
        seed = random_seed()
    if tag is None:
        tag = random_greeting_tag()
    if padding is None:
        padding = random_padding()
    return build_seed_exchange(seed, Greeting(tag, SERVER_FINAL), padding.encode(), extra)
