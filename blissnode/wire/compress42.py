"""
The compressed "0x42" object-list encoding (spec/objects.md section 4).

Skype 1.x-4.x send most command bodies in this form.  A list is written as::

    0x42  arithmetic_part  raw_tail

* ``arithmetic_part`` is the output of a binary range coder (31-bit ``low``,
  carry propagation, byte output) driven by *static* cumulative frequency
  tables (:data:`ITEM`, :data:`SMALL`, :data:`BIG`, :data:`CHARS`,
  :data:`NEXT`, all out of a total of 4096) and by small *adaptive* models:
  a move-to-front list of the seven item types and a 16-entry history of
  ``(id, type)`` pairs per nesting level (:class:`_Block`).  There is no
  length field: the decoder learns where the arithmetic part ends only by
  decoding it (:meth:`RangeDecoder.finish`).
* ``raw_tail`` holds the bytes of every BLOB, INT64 and ADDR value, in the
  order the depth-first walk meets them.

The encoder here is the reference encoder: it must produce the very bytes
Skype and the reference C code produce, because the shared vectors and real
captures are compared byte for byte.  Every normative constant is named as in
the spec.

This module knows nothing about the item classes; :mod:`blissnode.wire.objects`
passes a :class:`DecodeModel` / :class:`EncodeModel` describing them, so the
dependency points one way only.
"""

from bisect import bisect_right
from operator import attrgetter

import attr

from blissnode.wire.errors import LimitExceeded, ProtocolError

__all__ = [
    "TOTAL",
    "ITEM",
    "SMALL",
    "BIG",
    "CHAR_CLASSES",
    "CHARS",
    "NEXT",
    "NumberModel",
    "SMALL_MODEL",
    "BIG_MODEL",
    "INITIAL_MTF",
    "HISTORY_SIZE",
    "MAX_VIRTUAL_BYTES",
    "RangeEncoder",
    "RangeDecoder",
    "encode_number",
    "decode_number",
    "DecodeModel",
    "EncodeModel",
    "encode_list42",
    "decode_list42",
]

MARKER_42 = 0x42

# ---------------------------------------------------------------------------
# Normative constants (spec 4.2)
# ---------------------------------------------------------------------------

#: Every cumulative table ends at this total (12-bit probabilities).
TOTAL = 0x1000
_PROB_BITS = 12

#: Item header: 0 = end of list, 1..5 = front type with id delta 0..4,
#: 6 = front type with delta >= 5 (extension follows), 7..12 = the type at
#: move-to-front position 1..6 (delta follows).
ITEM = (0x0, 0x2A3, 0x37C, 0x67C, 0x6A3, 0x6AE, 0xA84, 0xB74, 0xDAD, 0xF5D, 0xFB2,
        0xFD4, 0xFFF, 0x1000)

#: Small numbers: ids, id deltas, history repeat counts.
SMALL = (0x0, 0x123, 0x266, 0x2B4, 0x8A2, 0x9F5, 0xCFC, 0xF70, 0xFFF, 0x1000)

#: Big numbers: values, lengths, counts.
BIG = (0x0, 0x14D, 0x34C, 0x42B, 0x4A3, 0x6CA, 0x953, 0x9C6, 0xA6C, 0xABB, 0xBAE,
       0xC43, 0xC9B, 0xCDD, 0xD31, 0xD93, 0xDB5, 0x1000)

#: The 11 character classes, members in symbol order (class 0 = the NUL
#: terminator, class 7 = space; both have one member and code no index).
CHAR_CLASSES = (
    b"\x00",
    b"tdmhkpcgwbzfvjq",
    b"eaiouy",
    b"nrlsx",
    b"0216345789",
    b"SMTBRLNPKCDHGJWFVZXQ",
    b"AEIOUY",
    b" ",
    bytes.fromhex(
        "8299b8b3a981bc9c8595a19ba884b09080b694a491ba9e9aa0b5bdbea79d97a59faab1838c"
        "93b298a6a2bb88ad968fb4a392bf87b78b8db9898a8eae86acabaf"
    ),
    bytes.fromhex(
        "d7c3d0c5e5c4e3d1e6e7ece4e8efe9d9d8ebeae2c2e0edc6dbe1cecfc0c1c7c8c9cacbcccd"
        "d2d3d4d5d6dadcdddedfeef0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
    ),
    bytes.fromhex(
        "2e2d2f5f212b2c293a282a3f0d0a2726223d3b7e403e3c7c5e5d5b5c236024257b7d0102"
        "030405060708090b0c0e0f101112131415161718191a1b1c1d1e1f7f"
    ),
)

_TAIL_10 = (0xE48, 0xE52, 0xE5C, 0xE66, 0xE70, 0xE7A, 0xE84, 0xE8E, 0xE98, 0xEA2,
            0xEAC, 0xEB6, 0xEC0, 0xECA, 0xED4, 0xEDE, 0xEE8, 0xEF2, 0xEFC, 0xF06,
            0xF10, 0xF1A, 0xF24, 0xF2E, 0xF38, 0xF42, 0xF4C, 0xF56, 0xF60, 0xF6A,
            0xF74, 0xF7E, 0xF88, 0xF92, 0xF9C, 0xFA6, 0xFB0, 0xFBA, 0xFC4, 0xFCE,
            0xFD8, 0xFE2, 0xFEC, 0xFF6, 0x1000)

#: Within-class tables: the index of a character inside its class.
CHARS = (
    (0x0, 0x1000),
    (0x0, 0x229, 0x3E3, 0x550, 0x6B9, 0x816, 0x969, 0xAB9, 0xBB7, 0xCAE, 0xD8A, 0xE42,
     0xEF7, 0xF87, 0xFF1, 0x1000),
    (0x0, 0x452, 0x899, 0xB87, 0xE15, 0xF61, 0x1000),
    (0x0, 0x4B8, 0x8CB, 0xC89, 0xFC1, 0x1000),
    (0x0, 0x241, 0x42A, 0x5E2, 0x775, 0x901, 0xA88, 0xBFD, 0xD58, 0xEB2, 0x1000),
    (0x0, 0x1A0, 0x2FA, 0x420, 0x539, 0x63B, 0x739, 0x836, 0x928, 0xA07, 0xAE6, 0xBB7,
     0xC86, 0xD43, 0xDF2, 0xEA1, 0xF2F, 0xF97, 0xFD8, 0xFF0, 0x1000),
    (0x0, 0x5C8, 0x8DA, 0xBBD, 0xE2F, 0xF23, 0x1000),
    (0x0, 0x1000),
    (0x0, 0xEF, 0x1A5, 0x242, 0x2D4, 0x366, 0x3EE, 0x46A, 0x4DA, 0x54A, 0x5B3, 0x619,
     0x67D, 0x6D6, 0x72D, 0x77D, 0x7CC, 0x819, 0x862, 0x8AA, 0x8F0, 0x935, 0x978,
     0x9BA, 0x9F9, 0xA38, 0xA76, 0xAB3, 0xAF0, 0xB2C, 0xB63, 0xB99, 0xBCD, 0xC01,
     0xC33, 0xC65, 0xC94, 0xCC3, 0xCF2, 0xD1E, 0xD49, 0xD73, 0xD9B, 0xDC2, 0xDE8,
     0xE0D, 0xE31, 0xE53, 0xE73, 0xE93, 0xEB1, 0xECF, 0xEED, 0xF0B, 0xF28, 0xF44,
     0xF5F, 0xF79, 0xF91, 0xFA6, 0xFBB, 0xFD0, 0xFE2, 0xFF1, 0x1000),
    (0x0, 0x233, 0x561, 0x755, 0x940, 0xA05, 0xABD, 0xB48, 0xBD0, 0xC40, 0xC8A, 0xCCB,
     0xD0B, 0xD47, 0xD7F, 0xDB2, 0xDE2, 0xE05, 0xE19, 0xE2D, 0xE40, 0xE50, 0xE5C,
     0xE66, 0xE70, 0xE7A, 0xE84, 0xE8E, 0xE98, 0xEA2, 0xEAC, 0xEB6, 0xEC0, 0xECA,
     0xED4, 0xEDE, 0xEE8, 0xEF2, 0xEFC, 0xF06, 0xF10, 0xF1A, 0xF24, 0xF2E, 0xF38,
     0xF42, 0xF4C, 0xF56, 0xF60, 0xF6A, 0xF74, 0xF7E, 0xF88, 0xF92, 0xF9C, 0xFA6,
     0xFB0, 0xFBA, 0xFC4, 0xFCE, 0xFD8, 0xFE2, 0xFEC, 0xFF6, 0x1000),
    (0x0, 0x32F, 0x712, 0x82B, 0x904, 0x9C3, 0xA78, 0xB27, 0xBC0, 0xC42, 0xC9A, 0xCEA,
     0xD36, 0xD7E, 0xDC5, 0xDEE, 0xE06, 0xE1B, 0xE30, 0xE3C) + _TAIL_10,
)

#: Class-transition tables: NEXT[p] codes the class of a character whose
#: predecessor had class p (p = 0 for the first character).
NEXT = (
    (0x0, 0x636, 0x9C8, 0xAED, 0xBE5, 0xCA5, 0xF0E, 0xF7C, 0xF83, 0xF8A, 0xFC2, 0x1000),
    (0x0, 0x1E1, 0x470, 0xC5C, 0xE79, 0xE88, 0xE8F, 0xE96, 0xF57, 0xF5E, 0xF87, 0x1000),
    (0x0, 0x21D, 0x66A, 0x87E, 0xE9F, 0xEAF, 0xEB6, 0xEBD, 0xF97, 0xF9E, 0xFBF, 0x1000),
    (0x0, 0x3A9, 0x76F, 0xCBA, 0xE7F, 0xE8E, 0xE95, 0xE9C, 0xF85, 0xF8C, 0xFB4, 0x1000),
    (0x0, 0x1D4, 0x1DB, 0x1E2, 0x1E9, 0xE93, 0xE9A, 0xEA1, 0xF31, 0xF38, 0xF3F, 0x1000),
    (0x0, 0xAB, 0x1E9, 0xB06, 0xC26, 0xC2D, 0xD68, 0xF05, 0xF4B, 0xF52, 0xFBD, 0x1000),
    (0x0, 0x12E, 0x36D, 0x478, 0x898, 0x89F, 0xD91, 0xEC5, 0xF92, 0xF99, 0xFA9, 0x1000),
    (0x0, 0x7, 0x3EA, 0x586, 0x6C7, 0x847, 0xD5F, 0xE37, 0xEC9, 0xED0, 0xF5F, 0x1000),
    (0x0, 0x14D, 0x29D, 0x374, 0x526, 0x52D, 0x53A, 0x541, 0x649, 0x929, 0xFB1, 0x1000),
    (0x0, 0x7, 0xE, 0x15, 0x1C, 0x23, 0x2A, 0x31, 0x38, 0xFF2, 0xFF9, 0x1000),
    (0x0, 0x15E, 0x41C, 0x4CE, 0x59C, 0x8C0, 0x985, 0x9B0, 0xB2C, 0xB33, 0xB58, 0x1000),
)


@attr.s(frozen=True, slots=True)
class NumberModel:
    """How a number is coded with one table (spec 4.5).

    Values below ``2**b`` are coded as their own symbol; otherwise the symbol
    ``bit_length + off`` (or the escape symbol ``n + off`` followed by the
    excess bit length) and then the bits below the leading one.
    """

    n = attr.ib()
    b = attr.ib()
    off = attr.ib()
    table = attr.ib()


SMALL_MODEL = NumberModel(n=7, b=2, off=1, table=SMALL)
BIG_MODEL = NumberModel(n=16, b=1, off=0, table=BIG)

#: Initial move-to-front order of the seven item types.
INITIAL_MTF = (0, 4, 3, 5, 2, 6, 1)
#: Only the first HISTORY_SIZE items of a list enter a level's history.
HISTORY_SIZE = 16
#: Number of adaptive state blocks: level 0, level 1, level 2 and deeper.
LEVELS = 3
#: The decoder may fetch at most this many bytes past the end of the input.
MAX_VIRTUAL_BYTES = 3
#: 0x42 INTARRAY counts above this are invalid (reference decoder).
MAX_INTARRAY_42 = 0x3FFFFFFF
#: Reserved bits of the 32-bit numbers the coder carries.
MAX_NUMBER_BITS = 32

# Character class / index-in-class of every byte, rebuilt from CHAR_CLASSES.
CLASS_OF = [None] * 256
INDEX_IN_CLASS = [None] * 256
for _c, _members in enumerate(CHAR_CLASSES):
    for _i, _ch in enumerate(_members):
        CLASS_OF[_ch] = _c
        INDEX_IN_CLASS[_ch] = _i
CLASS_OF = tuple(CLASS_OF)
INDEX_IN_CLASS = tuple(INDEX_IN_CLASS)
del _c, _members, _i, _ch

# Range-coder constants (spec 4.3).
_TOP = 0x00800000  # normalise while range <= _TOP
_U32 = 0xFFFFFFFF
_LOW_KEEP = 0x007FFFFF  # low bits kept when a byte is shifted out
_SETTLED = 0x7F800000  # low below this: top byte cannot change any more
_CARRY = 0x7FFFFFFF  # low above this: a carry left bit 31


# ---------------------------------------------------------------------------
# Range coder
# ---------------------------------------------------------------------------


class RangeEncoder:
    """The byte-oriented range encoder of spec 4.3.1/4.3.2.

    ``low`` holds a 31-bit value plus a pending carry in bit 31; the last
    output byte is kept in ``cache`` (and a run of 0xFF bytes counted in
    ``pending``) until it is known that no carry can reach it.
    """

    __slots__ = ("low", "range", "cache", "pending", "first", "out")

    def __init__(self):
        self.low = 0
        self.range = 0x80000000
        self.cache = 0
        self.pending = 0
        self.first = True  # the very first cache value is a dummy
        self.out = bytearray((MARKER_42,))

    def _normalize(self):
        low = self.low
        rng = self.range
        out = self.out
        while rng <= _TOP:
            if low < _SETTLED:
                if self.first:
                    self.first = False
                else:
                    out.append(self.cache)
                if self.pending:
                    out += b"\xff" * self.pending
                    self.pending = 0
                self.cache = (low >> 23) & 0xFF
            elif low <= _CARRY:
                self.pending += 1
            else:
                out.append((self.cache + 1) & 0xFF)
                if self.pending:
                    out += b"\x00" * self.pending
                    self.pending = 0
                self.cache = (low >> 23) & 0xFF
            rng = (rng << 8) & _U32
            low = (low & _LOW_KEEP) << 8
        self.low = low
        self.range = rng

    def encode_freq(self, table, s):
        """Code symbol ``s`` of cumulative ``table``."""
        if self.range <= _TOP:
            self._normalize()
        rng = self.range
        r = rng >> _PROB_BITS
        lo = table[s]
        self.low += r * lo
        hi = table[s + 1]
        if hi == TOTAL:  # last symbol takes the rounding remainder
            self.range = rng - r * lo
        else:
            self.range = r * (hi - lo)

    def encode_bits(self, v, n):
        """Code ``v`` uniformly in ``[0, 2**n)``, ``1 <= n <= 16``."""
        if self.range <= _TOP:
            self._normalize()
        rng = self.range
        r = rng >> n
        self.low += r * v
        if v == (1 << n) - 1:
            self.range = rng - r * v
        else:
            self.range = r

    def finish(self):
        """Flush: place the final value mid-interval; return the output bytes."""
        self.range >>= 1
        self.low += self.range
        self._normalize()
        out = self.out
        top = self.low >> 23
        if top <= 0xFF:
            if self.first:
                self.first = False
            else:
                out.append(self.cache)
            out += b"\xff" * self.pending
        else:
            out.append((self.cache + 1) & 0xFF)
            out += b"\x00" * self.pending
        self.pending = 0
        out.append(top & 0xFF)
        return out


class RangeDecoder:
    """The range decoder of spec 4.3.3.

    Its 31-bit ``code`` window is the coded bit stream shifted right by one
    bit, hence the ``prev`` byte whose low bit is carried into the next
    fetch.  Reading past the end yields zero bytes ("virtual" bytes); more
    than :data:`MAX_VIRTUAL_BYTES` of them mean truncated input.
    """

    __slots__ = ("data", "pos", "end", "virtual", "code", "range", "prev")

    def __init__(self, data, pos, end):
        # data[pos] is the 0x42 marker, checked by the caller.
        self.data = data
        self.pos = pos + 1
        self.end = end
        self.virtual = 0
        b = self._fetch()
        self.prev = b
        self.code = b >> 1
        self.range = 0x80

    def _fetch(self):
        pos = self.pos
        if pos < self.end:
            self.pos = pos + 1
            return self.data[pos]
        self.virtual += 1
        if self.virtual > MAX_VIRTUAL_BYTES:
            raise ProtocolError("0x42 list truncated (range decoder ran out of input)")
        return 0

    def _normalize(self):
        code = self.code
        rng = self.range
        prev = self.prev
        data = self.data
        while rng <= _TOP:
            pos = self.pos
            if pos < self.end:  # _fetch(), inlined for the common case
                b = data[pos]
                self.pos = pos + 1
            else:
                b = self._fetch()
            code = ((((code << 1) | (prev & 1)) << 7) | (b >> 1)) & _U32
            prev = b
            rng = (rng << 8) & _U32
        self.code = code
        self.range = rng
        self.prev = prev

    def decode_freq(self, table):
        """Decode one symbol of cumulative ``table``."""
        if self.range <= _TOP:
            self._normalize()
        rng = self.range
        r = rng >> _PROB_BITS
        v = self.code // r
        if v >= TOTAL:
            v = TOTAL - 1
        s = bisect_right(table, v) - 1
        lo = table[s]
        self.code -= r * lo
        hi = table[s + 1]
        if hi == TOTAL:
            self.range = rng - r * lo
        else:
            self.range = r * (hi - lo)
        return s

    def decode_bits(self, n):
        """Decode a uniform ``n``-bit value, ``1 <= n <= 16``."""
        if self.range <= _TOP:
            self._normalize()
        rng = self.range
        r = rng >> n
        v = self.code // r
        top = (1 << n) - 1
        if v >= top:
            v = top
            self.code -= r * v
            self.range = rng - r * v
        else:
            self.code -= r * v
            self.range = r
        return v

    def finish(self):
        """Offset of the first byte after the arithmetic part (spec 4.3.4).

        The decoder always reads exactly 3 bytes beyond what the encoder
        wrote; those are given back.
        """
        self.range >>= 1
        self._normalize()
        return self.pos + self.virtual - MAX_VIRTUAL_BYTES


# ---------------------------------------------------------------------------
# Numbers (spec 4.5)
# ---------------------------------------------------------------------------


def encode_number(enc, model, x):
    """Code the u32 ``x`` with ``model`` on the :class:`RangeEncoder` ``enc``."""
    length = x.bit_length()
    if length <= model.b:
        enc.encode_freq(model.table, x)  # small values are their own symbol
        return
    if length >= model.n:
        enc.encode_freq(model.table, model.n + model.off)  # escape
        encode_number(enc, model, length - model.n)  # ... then the excess length
    else:
        enc.encode_freq(model.table, length + model.off)
    rest = length - 1  # the bits below the leading one, low chunk first
    while rest > 0:
        n = 16 if rest > 16 else rest
        enc.encode_bits(x & ((1 << n) - 1), n)
        x >>= n
        rest -= n


def decode_number(dec, model, nested=False):
    """Decode a number coded by :func:`encode_number` (at most 32 bits)."""
    s = dec.decode_freq(model.table)
    if s < (1 << model.b):
        return s
    length = s - model.off
    if length >= model.n:
        if nested:
            raise ProtocolError("0x42 escape inside an escape")
        e = decode_number(dec, model, True)
        if e > MAX_NUMBER_BITS - model.n:
            raise ProtocolError("0x42 number longer than 32 bits")
        length = model.n + e
    x = 1 << (length - 1)
    done = 0
    rest = length - 1
    while done < rest:
        n = rest - done
        if n > 16:
            n = 16
        x += dec.decode_bits(n) << done
        done += n
    return x


# ---------------------------------------------------------------------------
# Adaptive state
# ---------------------------------------------------------------------------


class _Block:
    """Adaptive state of one nesting level (spec 4.4).

    ``hist``/``count`` is deliberately one shared array with a counter, not a
    per-list copy: nested lists at the same level (all of depth >= 2 share
    block 2) overwrite it while their parent is still being coded, and both
    coder sides must follow the reference exactly in that case.
    """

    __slots__ = ("mtf", "hist", "count")

    def __init__(self):
        self.mtf = list(INITIAL_MTF)
        # GUESS: never-written history slots read as (id 0, type 0), as a
        # zero-initialised C array would; only pathological input reaches them.
        self.hist = [(0, 0)] * HISTORY_SIZE
        self.count = 0


def _to_front(mtf, pos):
    """Move the type at ``pos`` of the move-to-front list to the front."""
    if pos:
        mtf.insert(0, mtf.pop(pos))


# ---------------------------------------------------------------------------
# Encoder
# ---------------------------------------------------------------------------


@attr.s(frozen=True, slots=True)
class EncodeModel:
    """Item hooks the encoder needs: ``check_item(item) -> type number``
    (validates, raises ValueError/TypeError) and ``addr_bytes(value) ->
    (4 network-order bytes, port)``."""

    check_item = attr.ib()
    addr_bytes = attr.ib()


_by_id = attrgetter("id")


class _ListEncoder:
    """One 0x42 encoding run: a range encoder, three state blocks, a raw tail."""

    __slots__ = ("enc", "blocks", "tail", "model", "max_depth")

    def __init__(self, model, max_depth):
        self.enc = RangeEncoder()
        self.blocks = [_Block() for _ in range(LEVELS)]
        self.tail = []
        self.model = model
        self.max_depth = max_depth

    def encode_string(self, s):
        freq = self.enc.encode_freq
        prev = 0
        for ch in s:
            c = CLASS_OF[ch]
            freq(NEXT[prev], c)
            if c != 7:  # class 0 never occurs here (NUL is rejected)
                freq(CHARS[c], INDEX_IN_CLASS[ch])
            prev = c
        freq(NEXT[prev], 0)  # the terminating NUL (class 0)

    def encode_list(self, items, depth):
        if depth > self.max_depth:
            raise ValueError("object list nested deeper than %d" % (self.max_depth,))
        enc = self.enc
        check = self.model.check_item
        items = sorted(items, key=_by_id)
        types = [check(it) for it in items]
        blk = self.blocks[depth if depth < LEVELS else LEVELS - 1]
        repeat = 0
        if depth > 0 and blk.count > 0:
            # The longest prefix repeating the previous list's (id, type)s.
            k = 0
            limit = min(blk.count, len(items))
            hist = blk.hist
            while k < limit and hist[k] == (items[k].id, types[k]):
                k += 1
            encode_number(enc, SMALL_MODEL, k)
            repeat = k
        blk.count = 0
        mtf = blk.mtf
        last_id = 0
        for it, t in zip(items, types):
            item_id = it.id
            delta = item_id - last_id
            pos = mtf.index(t)
            _to_front(mtf, pos)
            if blk.count < HISTORY_SIZE:
                blk.hist[blk.count] = (item_id, t)
                blk.count += 1
            if repeat > 0:
                repeat -= 1  # id and type implied by the history
            elif pos == 0:
                if delta >= 5:
                    enc.encode_freq(ITEM, 6)
                    encode_number(enc, SMALL_MODEL, delta - 5)
                else:
                    enc.encode_freq(ITEM, delta + 1)
            else:
                enc.encode_freq(ITEM, pos + 6)
                encode_number(enc, SMALL_MODEL, delta)
            self.encode_value(t, it.value, depth)
            last_id = item_id
        enc.encode_freq(ITEM, 0)  # end of list

    def encode_value(self, t, v, depth):
        if t == 0:
            encode_number(self.enc, BIG_MODEL, v)
        elif t == 3:
            self.encode_string(v)
        elif t == 4:
            encode_number(self.enc, BIG_MODEL, len(v))
            self.tail.append(bytes(v))
        elif t == 2:
            ip4, port = self.model.addr_bytes(v)
            self.tail.append(ip4[::-1] + port.to_bytes(2, "little"))
        elif t == 5:
            self.encode_list(v, depth + 1)
        elif t == 6:
            encode_number(self.enc, BIG_MODEL, len(v))
            for x in v:
                encode_number(self.enc, BIG_MODEL, x)
        else:  # t == 1: significant bytes only, little-endian, in the tail
            n = (v.bit_length() + 7) >> 3
            encode_number(self.enc, BIG_MODEL, n)
            if n:
                self.tail.append(v.to_bytes(n, "little"))


def encode_list42(items, model, max_depth):
    """The complete 0x42 encoding of ``items`` (an iterable of items)."""
    le = _ListEncoder(model, max_depth)
    le.encode_list(items, 0)
    out = le.enc.finish()
    for chunk in le.tail:
        out += chunk
    return bytes(out)


# ---------------------------------------------------------------------------
# Decoder
# ---------------------------------------------------------------------------


@attr.s(frozen=True, slots=True)
class DecodeModel:
    """How to build decoded items: ``item_classes[type](id, value)``,
    ``list_class(items)``, ``addr_from_bytes(ip4, port)`` and the class
    ``nested_class`` (== ``item_classes[5]``)."""

    item_classes = attr.ib()
    list_class = attr.ib()
    addr_from_bytes = attr.ib()
    nested_class = attr.ib()


class _Nested:
    """Placeholder for a nested list until the raw tail has been read."""

    __slots__ = ("id", "items")

    def __init__(self, item_id, items):
        self.id = item_id
        self.items = items


class _ListDecoder:
    """One 0x42 decoding run (spec 4.7, ``decode_list``)."""

    __slots__ = ("dec", "blocks", "pending", "tail_need", "tail_room", "budget",
                 "base_depth", "classes")

    def __init__(self, dec, budget, base_depth, classes, tail_room):
        self.dec = dec
        self.blocks = [_Block() for _ in range(LEVELS)]
        self.pending = []  # (container, index, type, id, n) awaiting tail bytes
        self.tail_need = 0
        self.tail_room = tail_room  # bytes after the marker: the tail can't be longer
        self.budget = budget
        self.base_depth = base_depth
        self.classes = classes

    def decode_string(self):
        freq = self.dec.decode_freq
        buf = bytearray()
        append = buf.append
        prev = 0
        while True:
            c = freq(NEXT[prev])
            if c == 0:
                break
            if c == 7:
                append(0x20)
            else:
                append(CHAR_CLASSES[c][freq(CHARS[c])])
            prev = c
        self.budget.charge_bytes(len(buf))
        return bytes(buf)

    def _remember_tail(self, out, t, item_id, n):
        self.tail_need += n
        if self.tail_need > self.tail_room:
            raise ProtocolError("0x42 raw tail longer than the input")
        self.pending.append((out, len(out), t, item_id, n))
        out.append(None)

    def decode_list(self, depth):
        budget = self.budget
        budget.check_depth(self.base_depth + depth)
        dec = self.dec
        blk = self.blocks[depth if depth < LEVELS else LEVELS - 1]
        repeat = 0
        if depth > 0 and blk.count > 0:
            repeat = decode_number(dec, SMALL_MODEL)
            if repeat > blk.count:
                raise ProtocolError("0x42 history repeat count exceeds the history")
        blk.count = 0
        mtf = blk.mtf
        hist = blk.hist
        classes = self.classes
        cur_id = 0
        out = []
        while True:
            if repeat > 0:
                # Read at the *current* counter, as the reference does.
                if blk.count >= HISTORY_SIZE:
                    raise ProtocolError("0x42 history repeat beyond the history")
                cur_id, t = hist[blk.count]
                repeat -= 1
                _to_front(mtf, mtf.index(t))
            else:
                s = dec.decode_freq(ITEM)
                if s == 0:
                    break
                if s >= 7:
                    delta = decode_number(dec, SMALL_MODEL)
                    t = mtf[s - 6]
                    _to_front(mtf, s - 6)
                elif s == 6:
                    delta = decode_number(dec, SMALL_MODEL) + 5
                    t = mtf[0]
                else:
                    delta = s - 1
                    t = mtf[0]
                cur_id = (cur_id + delta) & _U32
            if blk.count < HISTORY_SIZE:
                hist[blk.count] = (cur_id, t)
                blk.count += 1
            budget.charge_items(1)
            if len(out) >= budget.limits.max_list_items:
                budget.check_list_items(len(out) + 1)
            if t == 0:
                out.append(classes[0](cur_id, decode_number(dec, BIG_MODEL)))
            elif t == 3:
                out.append(classes[3](cur_id, self.decode_string()))
            elif t == 2:
                self._remember_tail(out, 2, cur_id, 6)
            elif t == 4:
                n = decode_number(dec, BIG_MODEL)
                budget.charge_bytes(n)
                self._remember_tail(out, 4, cur_id, n)
            elif t == 5:
                out.append(_Nested(cur_id, self.decode_list(depth + 1)))
            elif t == 6:
                n = decode_number(dec, BIG_MODEL)
                if n > MAX_INTARRAY_42:
                    raise ProtocolError("0x42 INTARRAY count too large")
                budget.charge_bytes(4 * n)
                out.append(
                    classes[6](cur_id, tuple([decode_number(dec, BIG_MODEL) for _ in range(n)]))
                )
            else:  # t == 1
                n = decode_number(dec, BIG_MODEL)
                if n > 8:
                    raise ProtocolError("0x42 INT64 of more than 8 bytes")
                if n:
                    self._remember_tail(out, 1, cur_id, n)
                else:
                    out.append(classes[1](cur_id, 0))
        return out


def _freeze(items, model):
    """Turn decoded Python lists (with placeholders resolved) into ObjectLists."""
    list_class = model.list_class
    nested = model.nested_class
    for i, it in enumerate(items):
        if type(it) is _Nested:
            items[i] = nested(it.id, _freeze(it.items, model))
    return list_class(items)


def decode_list42(data, pos, model, budget, base_depth=0):
    """Decode the 0x42 list whose marker is ``data[pos]``.

    ``budget`` is the caller's limit tracker (``check_depth``,
    ``check_list_items``, ``charge_items``, ``charge_bytes``, ``limits``);
    ``base_depth`` is the nesting level of this list in the enclosing
    structure (a 0x42 list may sit inside a 0x41 list), which counts for the
    depth limit but not for the choice of state block.

    Returns ``(list, offset of the raw tail, offset after the raw tail)``;
    ``1 + arithmetic part`` is therefore ``tail offset - pos``.
    """
    end = len(data)
    if pos >= end or data[pos] != MARKER_42:
        raise ProtocolError("0x42 object list expected")
    dec = RangeDecoder(data, pos, end)
    ld = _ListDecoder(dec, budget, base_depth, model.item_classes, end - pos - 1)
    items = ld.decode_list(0)
    tail = dec.finish()
    if tail < pos + 1:  # cannot happen for any input; keep the invariant explicit
        raise ProtocolError("0x42 arithmetic part ends before it starts")
    if tail + ld.tail_need > end:
        raise ProtocolError("0x42 raw tail truncated")
    tail_start = tail
    classes = model.item_classes
    for container, index, t, item_id, n in ld.pending:
        chunk = data[tail : tail + n]
        tail += n
        if t == 4:
            value = chunk
        elif t == 2:
            value = model.addr_from_bytes(chunk[3::-1], chunk[4] | (chunk[5] << 8))
        else:
            value = int.from_bytes(chunk, "little")
        container[index] = classes[t](item_id, value)
    return _freeze(items, model), tail_start, tail
