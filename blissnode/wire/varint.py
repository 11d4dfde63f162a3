"""
The 7-bit varint of the Skype object lists (spec/objects.md 2.1).

Unsigned integers are written as little-endian groups of 7 bits; the high bit
of each byte says "more bytes follow".  Object-list fields (ids, INT values,
lengths, counts) are 32-bit, so at most :data:`MAX_VARINT_BYTES` bytes are
accepted: the reference decoder reads on without bound (silently losing the
bits beyond 32), which would let a hostile peer make us walk a long run of
``0x80`` bytes for nothing.  Non-minimal forms such as ``80 00`` are accepted
(the reference accepts them too), and like the reference we keep only the low
32 bits of a five-byte form.
"""

from blissnode.wire.errors import ProtocolError

#: A u32 needs at most five 7-bit groups.
MAX_VARINT_BYTES = 5

#: Object-list integers are 32-bit; the reference keeps ``value mod 2**32``.
U32_MASK = 0xFFFFFFFF


def encode_varint(n):
    """Minimal varint form of the non-negative integer ``n``.

    Any size is accepted (other layers frame larger numbers with the same
    routine); object-list callers check the 32-bit range themselves.
    """
    if n < 0:
        raise ValueError("varint of a negative number: %r" % (n,))
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def decode_varint(data, offset=0, *, max_bytes=MAX_VARINT_BYTES, mask=U32_MASK,
                  what="varint"):
    """Read one varint of ``data`` at ``offset``; return ``(value, new_offset)``.

    Raises :class:`ProtocolError` when the input ends inside the varint or
    when it is longer than ``max_bytes`` bytes.  The result is reduced with
    ``& mask`` (the reference's ``mod 2**32``); pass ``mask=None`` together
    with a larger ``max_bytes`` to read wider framing values exactly.
    ``what`` names the field in error messages.
    """
    end = len(data)
    value = 0
    shift = 0
    pos = offset
    limit = offset + max_bytes
    while True:
        if pos >= end:
            raise ProtocolError("truncated %s at offset %d" % (what, offset))
        if pos >= limit:
            raise ProtocolError(
                "%s at offset %d longer than %d bytes" % (what, offset, max_bytes)
            )
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            if mask is not None:
                value &= mask
            return value, pos
        shift += 7
