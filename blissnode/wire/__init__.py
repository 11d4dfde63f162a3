"""
Pure codecs for the old Skype wire protocol.

Nothing in this package touches a socket, a reactor or the file system; each
module takes bytes and returns values (or the reverse), so every byte can be
checked against the shared test vectors.  Decoders raise only
:class:`ProtocolError` (and its subclasses) on bad input.
"""

from blissnode.wire.errors import ChecksumError, LimitExceeded, ProtocolError

__all__ = ["ProtocolError", "LimitExceeded", "ChecksumError"]
