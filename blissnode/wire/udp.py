"""
The Skype UDP datagram layer (spec/udp.md sections 2-4, spec/obfuscation.md section 3).

Every datagram starts with a 3-byte header -- a big-endian packet id and a type
byte whose low nibble is the *kind* -- followed by a kind-specific layout:

====  ==========  ======  ====================================================
kind  class       length  keying of the RC4 obfuscation
====  ==========  ======  ====================================================
0x2   payload     11 + n  ``CRC32R(LE32 src ip, LE32 dst ip, LE32 id) ^ IV``
0x3   resend      16 + n  ``NSEED ^ packet id`` (NSEED from the NACK)
0x5   ACK         11      not obfuscated
0x7   NACK        11      not obfuscated
0xF   fragment    15 + n  like kind 2, with the fragment's own packet id
====  ==========  ======  ====================================================

Why the module is split the way it is: parsing (:func:`parse_datagram`) is
separated from decryption (:meth:`PayloadDatagram.decrypt` and friends) because
the clear kinds (ACK, NACK) need no key, and because a receiver wants to look at
the packet id before it spends ~50 us expanding a seed.  Decryption never
raises on a wrong key: it returns the plaintext together with ``crc_ok`` --
a CRC mismatch is an ordinary protocol event (answer it with a NACK), not a
malformed datagram.

Addresses
    Every function that takes an IPv4 address accepts a dotted-quad ``str``
    (``"192.0.2.10"``), 4 ``bytes`` in network order, an ``int``
    (``a<<24 | b<<16 | c<<8 | d``) or anything with a 4-byte ``packed``
    attribute (:class:`ipaddress.IPv4Address`).  Parsed datagrams hold
    addresses as dotted-quad strings.

The RC4 part comes from :mod:`blissnode.wire.rc4` (``skype_rc4(seed)``); one
fresh state per datagram.  On the send side the seed may instead come from a
:class:`SeedPool` of pre-expanded seeds (obfuscation.md section 5): the sender
picks a seed ``s`` whose RC4 state is ready and sends ``IV = ip_crc ^ s``.
"""

import functools
import struct

import attr

from blissnode.wire.crc import crc32r
from blissnode.wire.errors import ProtocolError
from blissnode.wire.ipv4 import format_dotted_quad, parse_dotted_quad
from blissnode.wire.rc4 import skype_rc4

__all__ = [
    "KIND_UNKNOWN0", "KIND_PAYLOAD", "KIND_RESEND", "KIND_ACK", "KIND_NACK",
    "KIND_AUDIO", "KIND_FRAGMENT", "KIND_NAMES",
    "PAYLOAD_HEADER_LENGTH", "RESEND_HEADER_LENGTH", "FRAGMENT_HEADER_LENGTH",
    "CLEAR_DATAGRAM_LENGTH", "MAX_DATAGRAM_LENGTH",
    "ip_to_int", "ip_to_str", "ip_to_bytes",
    "make_type_byte", "DatagramHeader", "parse_header",
    "PayloadDatagram", "ResendDatagram", "NackDatagram", "AckDatagram",
    "FragmentDatagram", "parse_datagram",
    "seed_input", "ip_crc", "payload_seed", "resend_seed",
    "encrypt_payload", "encrypt_resend", "encrypt_fragment",
    "OpenedDatagram", "decrypt_datagram", "open_payload",
    "SeedPool", "FreshSeeds", "seal_payload", "seal_fragment",
]

# -- kinds ---------------------------------------------------------------------

KIND_UNKNOWN0 = 0x0
KIND_PAYLOAD = 0x2
KIND_RESEND = 0x3
KIND_ACK = 0x5
KIND_NACK = 0x7
KIND_AUDIO = 0xD
KIND_FRAGMENT = 0xF

#: Names used by the vectors (udp_packets.json "header_parse"); every other
#: nibble is "unknown".
KIND_NAMES = {
    KIND_UNKNOWN0: "unknown0",
    KIND_PAYLOAD: "payload",
    KIND_RESEND: "resend",
    KIND_ACK: "ack",
    KIND_NACK: "nack",
    KIND_AUDIO: "audio",
    KIND_FRAGMENT: "fragment",
}

PAYLOAD_HEADER_LENGTH = 11
RESEND_HEADER_LENGTH = 16
FRAGMENT_HEADER_LENGTH = 15
#: ACK and NACK are exactly this long.
CLEAR_DATAGRAM_LENGTH = 11
#: Largest UDP payload over IPv4; nothing longer can arrive in one datagram.
MAX_DATAGRAM_LENGTH = 65507

#: Inner kind byte at offset 6 of a fragment.
FRAGMENT_INNER_KIND = 0x02

#: GUESS: bit 7 of the type byte was never seen set, and the 2006 "Vanilla
#: Skype" detection rule (type & 0x8F) implies receivers treat such a byte as
#: a different kind.  parse_datagram() therefore rejects it; a caller that
#: needs such datagrams passes ``reject_bit7=False``.
REJECT_BIT7 = True

#: GUESS: FAKE checks byte 6 of a fragment (always 0x02 on the wire) before it
#: decrypts; we do the same.
CHECK_FRAGMENT_INNER_KIND = True

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_HDR_PAYLOAD = struct.Struct(">HBII")        # id, type, iv, crc
_HDR_RESEND = struct.Struct(">HBBI4sI")      # id, type, count, nseed, peer ip, crc
_HDR_CLEAR = struct.Struct(">HB4sI")         # id, type, ip, u32
_HDR_FRAGMENT = struct.Struct(">HBHBBII")    # id, type, ref, flag, inner, iv, crc
_SEED_INPUT = struct.Struct("<III")


# -- addresses -----------------------------------------------------------------

def ip_to_int(addr):
    """IPv4 address (str, 4 bytes, int or ``.packed``) -> ``a<<24|b<<16|c<<8|d``.

    Raises ``ValueError`` (not ProtocolError: this is caller input, not wire
    input) for anything that is not an IPv4 address.
    """
    if isinstance(addr, int) and not isinstance(addr, bool):
        if 0 <= addr <= 0xFFFFFFFF:
            return addr
        raise ValueError("IPv4 address out of range: %r" % (addr,))
    if isinstance(addr, str):
        return _dotted_quad_int(addr)
    packed = getattr(addr, "packed", addr)
    if isinstance(packed, (bytes, bytearray, memoryview)) and len(packed) == 4:
        return _U32.unpack(bytes(packed))[0]
    raise ValueError("not an IPv4 address: %r" % (addr,))


@functools.lru_cache(maxsize=8192)
def _dotted_quad_int(text):
    # Every datagram keys its seed with the peer's and our address: parse
    # each dotted quad once (bounded cache; bad text raises and is not kept).
    return int.from_bytes(parse_dotted_quad(text), "big")


def ip_to_str(addr):
    """Any accepted address form -> ``"a.b.c.d"``."""
    return format_dotted_quad(ip_to_bytes(addr))


def ip_to_bytes(addr):
    """Any accepted address form -> 4 bytes in network (address) order."""
    return _U32.pack(ip_to_int(addr))


# -- the common 3-byte header --------------------------------------------------

def make_type_byte(kind, bits_4_6=0):
    """The type byte for ``kind`` with ``bits_4_6`` (0..7) in bits 4..6.

    Real senders put random bits there for kinds 3, 5, 7 and F and always send
    kind 2 as exactly ``0x02`` (udp.md 2); choosing the bits is the caller's
    business so that this module stays deterministic.
    """
    if not 0 <= kind <= 0xF:
        raise ValueError("kind must be a nibble: %r" % (kind,))
    if not 0 <= bits_4_6 <= 7:
        raise ValueError("bits_4_6 must be 0..7: %r" % (bits_4_6,))
    return (bits_4_6 << 4) | kind


@attr.s(frozen=True, slots=True)
class DatagramHeader(object):
    """The 3 bytes every datagram starts with."""

    packet_id = attr.ib()
    type_byte = attr.ib()

    @property
    def kind(self):
        return self.type_byte & 0x0F

    @property
    def kind_name(self):
        return KIND_NAMES.get(self.type_byte & 0x0F, "unknown")

    @property
    def bits_4_6(self):
        return (self.type_byte >> 4) & 0x07

    @property
    def bit_7(self):
        return self.type_byte >> 7


def parse_header(data):
    """Parse the common 3-byte header of any datagram (no length check of
    the rest; use :func:`parse_datagram` for that)."""
    if len(data) < 3:
        raise ProtocolError("datagram shorter than 3 bytes")
    return DatagramHeader(_U16.unpack_from(data, 0)[0], data[2])


# -- one class per kind --------------------------------------------------------

def _check_u16(name):
    def check(instance, attribute, value):
        if not (isinstance(value, int) and 0 <= value <= 0xFFFF):
            raise ValueError("%s must be a u16: %r" % (name, value))
    return check


def _check_u32(instance, attribute, value):
    if not (isinstance(value, int) and 0 <= value <= 0xFFFFFFFF):
        raise ValueError("%s must be a u32: %r" % (attribute.name, value))


def _check_byte(instance, attribute, value):
    if not (isinstance(value, int) and 0 <= value <= 0xFF):
        raise ValueError("%s must be a byte: %r" % (attribute.name, value))


def _type_of(kind):
    def check(instance, attribute, value):
        _check_byte(instance, attribute, value)
        if value & 0x0F != kind:
            raise ValueError("type byte 0x%02x is not kind 0x%x" % (value, kind))
    return check


@attr.s(frozen=True, slots=True)
class PayloadDatagram(object):
    """Kind 2: obfuscated payload (udp.md 2.1)."""

    packet_id = attr.ib(validator=_check_u16("packet_id"))
    iv = attr.ib(validator=_check_u32)
    crc = attr.ib(validator=_check_u32)
    ciphertext = attr.ib(converter=bytes)
    type_byte = attr.ib(default=KIND_PAYLOAD, validator=_type_of(KIND_PAYLOAD))

    kind = KIND_PAYLOAD

    def to_bytes(self):
        return _HDR_PAYLOAD.pack(
            self.packet_id, self.type_byte, self.iv, self.crc) + self.ciphertext

    def seed(self, src_ip, dst_ip):
        return payload_seed(src_ip, dst_ip, self.packet_id, self.iv)

    def decrypt(self, src_ip, dst_ip):
        """``(plaintext, crc_ok)`` with the keying of the sender ``src_ip``
        (its public address as it believes it) towards ``dst_ip``."""
        plain = skype_rc4(self.seed(src_ip, dst_ip)).crypt(self.ciphertext)
        return plain, crc32r(plain) == self.crc


@attr.s(frozen=True, slots=True)
class ResendDatagram(object):
    """Kind 3: a payload resent after a NACK, keyed by ``nseed ^ packet_id``
    (udp.md 2.2).  ``peer_ip`` is the destination of the resend (the node
    that sent the NACK); it does not enter the key."""

    packet_id = attr.ib(validator=_check_u16("packet_id"))
    nseed = attr.ib(validator=_check_u32)
    peer_ip = attr.ib(converter=ip_to_str)
    crc = attr.ib(validator=_check_u32)
    ciphertext = attr.ib(converter=bytes)
    count = attr.ib(default=1, validator=_check_byte)
    type_byte = attr.ib(default=KIND_RESEND, validator=_type_of(KIND_RESEND))

    kind = KIND_RESEND

    def to_bytes(self):
        return _HDR_RESEND.pack(
            self.packet_id, self.type_byte, self.count, self.nseed,
            ip_to_bytes(self.peer_ip), self.crc) + self.ciphertext

    @property
    def seed(self):
        return resend_seed(self.packet_id, self.nseed)

    def decrypt(self):
        plain = skype_rc4(self.seed).crypt(self.ciphertext)
        return plain, crc32r(plain) == self.crc


@attr.s(frozen=True, slots=True)
class NackDatagram(object):
    """Kind 7, clear: "I could not decrypt your packet ``packet_id``; you
    are ``your_ip``; resend keyed with ``nseed ^ packet_id``" (udp.md 2.3)."""

    packet_id = attr.ib(validator=_check_u16("packet_id"))
    your_ip = attr.ib(converter=ip_to_str)
    nseed = attr.ib(validator=_check_u32)
    type_byte = attr.ib(default=KIND_NACK, validator=_type_of(KIND_NACK))

    kind = KIND_NACK

    def to_bytes(self):
        return _HDR_CLEAR.pack(
            self.packet_id, self.type_byte, ip_to_bytes(self.your_ip), self.nseed)

    @property
    def resend_seed(self):
        return resend_seed(self.packet_id, self.nseed)


@attr.s(frozen=True, slots=True)
class AckDatagram(object):
    """Kind 5, clear: "packet ``packet_id`` arrived, nothing to answer"
    (udp.md 2.4).  ``value``: 4 opaque bytes (random in every capture; U3)."""

    packet_id = attr.ib(validator=_check_u16("packet_id"))
    your_ip = attr.ib(converter=ip_to_str)
    value = attr.ib(validator=_check_u32)
    type_byte = attr.ib(default=KIND_ACK, validator=_type_of(KIND_ACK))

    kind = KIND_ACK

    def to_bytes(self):
        return _HDR_CLEAR.pack(
            self.packet_id, self.type_byte, ip_to_bytes(self.your_ip), self.value)


def _check_index(instance, attribute, value):
    if not (isinstance(value, int) and 0 <= value <= 0x7F):
        raise ValueError("fragment index must be 0..127: %r" % (value,))


@attr.s(frozen=True, slots=True)
class FragmentDatagram(object):
    """Kind F: one fragment of a large message (udp.md 2.5).  All fragments of
    a message share ``packet_id``; ``in_reply_to`` is the packet id of the
    request datagram being answered."""

    packet_id = attr.ib(validator=_check_u16("packet_id"))
    in_reply_to = attr.ib(validator=_check_u16("in_reply_to"))
    index = attr.ib(validator=_check_index)
    last = attr.ib(converter=bool)
    iv = attr.ib(validator=_check_u32)
    crc = attr.ib(validator=_check_u32)
    ciphertext = attr.ib(converter=bytes)
    type_byte = attr.ib(default=KIND_FRAGMENT, validator=_type_of(KIND_FRAGMENT))
    inner = attr.ib(default=FRAGMENT_INNER_KIND, validator=_check_byte)

    kind = KIND_FRAGMENT

    @property
    def flag_byte(self):
        return self.index | (0x80 if self.last else 0)

    def to_bytes(self):
        return _HDR_FRAGMENT.pack(
            self.packet_id, self.type_byte, self.in_reply_to, self.flag_byte,
            self.inner, self.iv, self.crc) + self.ciphertext

    def seed(self, src_ip, dst_ip):
        return payload_seed(src_ip, dst_ip, self.packet_id, self.iv)

    def decrypt(self, src_ip, dst_ip):
        plain = skype_rc4(self.seed(src_ip, dst_ip)).crypt(self.ciphertext)
        return plain, crc32r(plain) == self.crc


def _parse_payload(data, type_byte):
    if len(data) < PAYLOAD_HEADER_LENGTH:
        raise ProtocolError("kind 2 datagram shorter than 11 bytes")
    pid, _, iv, crc = _HDR_PAYLOAD.unpack_from(data, 0)
    return PayloadDatagram(pid, iv, crc, data[PAYLOAD_HEADER_LENGTH:], type_byte)


def _parse_resend(data, type_byte):
    if len(data) < RESEND_HEADER_LENGTH:
        raise ProtocolError("kind 3 datagram shorter than 16 bytes")
    pid, _, count, nseed, peer, crc = _HDR_RESEND.unpack_from(data, 0)
    return ResendDatagram(pid, nseed, peer, crc, data[RESEND_HEADER_LENGTH:],
                          count, type_byte)


def _parse_nack(data, type_byte):
    if len(data) != CLEAR_DATAGRAM_LENGTH:
        raise ProtocolError("NACK is not 11 bytes")
    pid, _, ip, nseed = _HDR_CLEAR.unpack(data)
    return NackDatagram(pid, format_dotted_quad(ip), nseed, type_byte)


def _parse_ack(data, type_byte):
    if len(data) != CLEAR_DATAGRAM_LENGTH:
        raise ProtocolError("ACK is not 11 bytes")
    pid, _, ip, value = _HDR_CLEAR.unpack(data)
    return AckDatagram(pid, format_dotted_quad(ip), value, type_byte)


def _parse_fragment(data, type_byte):
    if len(data) < FRAGMENT_HEADER_LENGTH:
        raise ProtocolError("fragment shorter than 15 bytes")
    pid, _, ref, flag, inner, iv, crc = _HDR_FRAGMENT.unpack_from(data, 0)
    if CHECK_FRAGMENT_INNER_KIND and inner != FRAGMENT_INNER_KIND:
        raise ProtocolError("fragment inner kind 0x%02x is not 0x02" % inner)
    return FragmentDatagram(pid, ref, flag & 0x7F, flag & 0x80, iv, crc,
                            data[FRAGMENT_HEADER_LENGTH:], type_byte, inner)


_PARSERS = {
    KIND_PAYLOAD: _parse_payload,
    KIND_RESEND: _parse_resend,
    KIND_NACK: _parse_nack,
    KIND_ACK: _parse_ack,
    KIND_FRAGMENT: _parse_fragment,
}


def parse_datagram(data, reject_bit7=REJECT_BIT7):
    """Parse one datagram into a :class:`PayloadDatagram`,
    :class:`ResendDatagram`, :class:`NackDatagram`, :class:`AckDatagram` or
    :class:`FragmentDatagram`.  Nothing is decrypted.

    Raises :class:`ProtocolError` for short or wrongly sized datagrams, for
    kinds a supernode does not handle (0, 1, 4, 6, 8..E: udp.md says drop
    them) and, unless ``reject_bit7`` is false, for a type byte with bit 7
    set.
    """
    data = bytes(data)
    if len(data) > MAX_DATAGRAM_LENGTH:
        raise ProtocolError("datagram longer than %d bytes" % MAX_DATAGRAM_LENGTH)
    if len(data) < 3:
        raise ProtocolError("datagram shorter than 3 bytes")
    type_byte = data[2]
    if reject_bit7 and type_byte & 0x80:
        raise ProtocolError("type byte 0x%02x has bit 7 set" % type_byte)
    parser = _PARSERS.get(type_byte & 0x0F)
    if parser is None:
        raise ProtocolError("unsupported datagram kind 0x%x (%s)" % (
            type_byte & 0x0F, KIND_NAMES.get(type_byte & 0x0F, "unknown")))
    return parser(data, type_byte)


def open_payload(data, src_ip, dst_ip):
    """``(packet_id, plaintext, crc_ok)`` of a kind-2 datagram, else None.

    The receive fast path: the same result as :func:`parse_datagram`
    followed by :meth:`PayloadDatagram.decrypt`, without building the
    datagram object.  None (any other kind, bit 7 set, too short or too
    long) sends the caller to :func:`parse_datagram`, which explains what is
    wrong.
    """
    n = len(data)
    if n < PAYLOAD_HEADER_LENGTH or n > MAX_DATAGRAM_LENGTH or data[2] & 0x8F != KIND_PAYLOAD:
        return None
    packet_id, _, iv, crc = _HDR_PAYLOAD.unpack_from(data, 0)
    seed = crc32r(_SEED_INPUT.pack(ip_to_int(src_ip), ip_to_int(dst_ip), packet_id)) ^ iv
    plain = skype_rc4(seed).crypt(data[PAYLOAD_HEADER_LENGTH:])
    return packet_id, plain, crc32r(plain) == crc


# -- keying ----------------------------------------------------------------------

def seed_input(src_ip, dst_ip, packet_id):
    """The 12 bytes ``LE32(src) || LE32(dst) || LE32(packet_id)`` whose CRC32R
    keys kinds 2 and F (udp.md 4.1): the address octets appear reversed."""
    return _SEED_INPUT.pack(ip_to_int(src_ip), ip_to_int(dst_ip), packet_id & 0xFFFF)


def ip_crc(src_ip, dst_ip, packet_id):
    """CRC32R of :func:`seed_input`: the address-dependent half of a seed.
    ``seed = ip_crc ^ IV`` for kinds 2 and F."""
    return crc32r(seed_input(src_ip, dst_ip, packet_id))


def payload_seed(src_ip, dst_ip, packet_id, iv):
    """The RC4 seed of a kind-2 or kind-F datagram."""
    return ip_crc(src_ip, dst_ip, packet_id) ^ iv


def resend_seed(packet_id, nseed):
    """The RC4 seed of a kind-3 resend: ``nseed ^ packet_id`` (udp.md 4.2)."""
    return (nseed ^ packet_id) & 0xFFFFFFFF


# -- building encrypted datagrams ------------------------------------------------

def _keystream_xor(rc4, plaintext):
    return rc4.crypt(bytes(plaintext))


def encrypt_payload(src_ip, dst_ip, packet_id, iv, plaintext):
    """Kind-2 datagram bytes for ``plaintext`` sent by ``src_ip`` (the
    sender's public address; 0.0.0.0 if unknown) to ``dst_ip``."""
    plaintext = bytes(plaintext)
    seed = payload_seed(src_ip, dst_ip, packet_id, iv)
    return PayloadDatagram(packet_id, iv, crc32r(plaintext),
                           _keystream_xor(skype_rc4(seed), plaintext)).to_bytes()


def encrypt_resend(packet_id, nseed, peer_ip, plaintext, count=1,
                   type_byte=KIND_RESEND):
    """Kind-3 datagram bytes: ``plaintext`` resent to ``peer_ip`` after its
    NACK carrying ``nseed``."""
    plaintext = bytes(plaintext)
    rc4 = skype_rc4(resend_seed(packet_id, nseed))
    return ResendDatagram(packet_id, nseed, peer_ip, crc32r(plaintext),
                          _keystream_xor(rc4, plaintext), count,
                          type_byte).to_bytes()


def encrypt_fragment(src_ip, dst_ip, packet_id, in_reply_to, index, last, iv,
                     plaintext, type_byte=KIND_FRAGMENT):
    """Kind-F datagram bytes for one fragment (seed keyed with the fragment's
    own ``packet_id``, shared by all fragments of the message)."""
    plaintext = bytes(plaintext)
    seed = payload_seed(src_ip, dst_ip, packet_id, iv)
    return FragmentDatagram(packet_id, in_reply_to, index, last, iv,
                            crc32r(plaintext), _keystream_xor(skype_rc4(seed), plaintext),
                            type_byte).to_bytes()


# -- opening received datagrams ---------------------------------------------------

@attr.s(frozen=True, slots=True)
class OpenedDatagram(object):
    """A parsed, decrypted datagram.  Unpacks as ``(datagram, plaintext,
    crc_ok)``.  ``crc_ok`` false means the key was wrong (usually the sender's
    idea of its own public address): answer kind 2 with a NACK, drop the rest.
    """

    datagram = attr.ib()
    plaintext = attr.ib()
    crc_ok = attr.ib()

    def __iter__(self):
        return iter((self.datagram, self.plaintext, self.crc_ok))


def decrypt_datagram(data, src_ip, dst_ip, expected_nseed=None,
                     reject_bit7=REJECT_BIT7):
    """Parse and decrypt an obfuscated datagram (kind 2, 3 or F) received
    from ``src_ip`` (the UDP source address) by ``dst_ip`` (our own public
    address).

    For a resend (kind 3) the addresses are not used; if ``expected_nseed``
    is given, a resend carrying another challenge is refused with
    :class:`ProtocolError` (udp.md 6 "NSEED bookkeeping").  Clear kinds (ACK,
    NACK) raise :class:`ProtocolError`: read them with :func:`parse_datagram`.
    """
    datagram = parse_datagram(data, reject_bit7)
    if isinstance(datagram, ResendDatagram):
        if expected_nseed is not None and datagram.nseed != expected_nseed:
            raise ProtocolError("resend carries a challenge we did not issue")
        plain, ok = datagram.decrypt()
    elif isinstance(datagram, (PayloadDatagram, FragmentDatagram)):
        plain, ok = datagram.decrypt(src_ip, dst_ip)
    else:
        raise ProtocolError("datagram kind 0x%x is not obfuscated" % datagram.kind)
    return OpenedDatagram(datagram, plain, ok)


# -- send side: seeds from a pool ----------------------------------------------------

class FreshSeeds(object):
    """Seed source that expands a new random seed for every datagram (the
    plain rule of udp.md 6).  ``random_u32`` is a zero-argument callable
    returning a 32-bit integer (the caller's RNG keeps this module pure)."""

    def __init__(self, random_u32):
        self._random_u32 = random_u32

    def take(self):
        """Return ``(seed, rc4_state)``; the state is fresh and unshared."""
        seed = self._random_u32() & 0xFFFFFFFF
        return seed, skype_rc4(seed)


class SeedPool(object):
    """Pre-expanded seeds for the send path (obfuscation.md 5).

    The receiver of a kind-2 datagram only ever computes ``ip_crc ^ IV``, so a
    sender may pick a seed ``s`` whose RC4 state it already has and send
    ``IV = ip_crc ^ s``: the IV still looks random, and sending costs one
    12-byte CRC and a 256-byte state copy instead of a ~50 us expansion.

    ``seeds``: the seeds to prepare (the caller draws them at random; a few
    hundred are plenty).  Seeds are handed out round-robin; :meth:`take`
    returns a *copy* of the prepared state, so the pool is never consumed.
    Whether real clients mind a repeated seed is untested (obfuscation.md 5);
    a caller that worries can call :meth:`replace` from time to time.
    """

    def __init__(self, seeds):
        self._states = [(s & 0xFFFFFFFF, skype_rc4(s & 0xFFFFFFFF)) for s in seeds]
        if not self._states:
            raise ValueError("a seed pool needs at least one seed")
        self._next = 0

    def __len__(self):
        return len(self._states)

    def take(self):
        seed, state = self._states[self._next]
        self._next = (self._next + 1) % len(self._states)
        return seed, state.copy()

    def replace(self, index, seed):
        """Prepare ``seed`` in place of the seed at ``index``."""
        seed &= 0xFFFFFFFF
        self._states[index] = (seed, skype_rc4(seed))


def seal_payload(seeds, src_ip, dst_ip, packet_id, plaintext):
    """Kind-2 datagram bytes with the seed taken from ``seeds`` (a
    :class:`SeedPool`, :class:`FreshSeeds` or anything with ``take() ->
    (seed, rc4_state)``); the IV is derived as ``ip_crc ^ seed``."""
    plaintext = bytes(plaintext)
    if not 0 <= packet_id <= 0xFFFF:
        raise ValueError("packet_id must be a u16: %r" % (packet_id,))
    seed, rc4 = seeds.take()
    iv = ip_crc(src_ip, dst_ip, packet_id) ^ seed
    # Packed directly (the bytes PayloadDatagram.to_bytes gives): this runs
    # for every datagram the supernode sends.
    return _HDR_PAYLOAD.pack(packet_id, KIND_PAYLOAD, iv, crc32r(plaintext)) + \
        rc4.crypt(plaintext)


def seal_fragment(seeds, src_ip, dst_ip, packet_id, in_reply_to, index, last,
                  plaintext, type_byte=KIND_FRAGMENT):
    """Kind-F datagram bytes for one fragment, seed from ``seeds``."""
    plaintext = bytes(plaintext)
    seed, rc4 = seeds.take()
    iv = ip_crc(src_ip, dst_ip, packet_id) ^ seed
    return FragmentDatagram(packet_id, in_reply_to, index, last, iv,
                            crc32r(plaintext), _keystream_xor(rc4, plaintext),
                            type_byte).to_bytes()
