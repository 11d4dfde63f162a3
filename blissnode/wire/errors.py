"""
The single exception family a wire decoder may raise on bad input.

Every decoder in :mod:`blissnode.wire` turns malformed, truncated or
oversized input into a :class:`ProtocolError` (or a subclass), never into an
``IndexError``, ``struct.error`` or ``MemoryError``.  The protocol layer above
relies on this: it catches ``ProtocolError``, logs it and drops the packet or
the connection, and lets anything else surface as a genuine bug.
"""


class ProtocolError(ValueError):
    """Bytes that do not decode under the rules of the wire format."""


class LimitExceeded(ProtocolError):
    """Input that is well-formed so far but exceeds a decoder limit
    (nesting depth, item count, total size)."""


class ChecksumError(ProtocolError):
    """A checksum (CRC16 / CRC32) did not match."""
