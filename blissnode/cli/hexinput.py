"""
Reading hex as people paste it.

Packet dumps come from Wireshark, log files and the spec, with spaces,
newlines, ``0x`` prefixes, colons and line offsets mixed in.  The decoder
commands accept all of that; anything that is still not hex is an error with
a message that says where.
"""

import re

_PREFIX = re.compile(r"(?<![0-9a-fA-F])0[xX]")
_SEPARATORS = re.compile(r"[\s:,]+")


class HexInputError(ValueError):
    """Text that is not a hex dump."""


def parse_hex(text):
    """Return the bytes of a hex dump ``text`` (spaces, newlines, ``0x``,
    ``:`` and ``,`` separators allowed)."""
    cleaned = _SEPARATORS.sub("", _PREFIX.sub("", text))
    if not cleaned:
        raise HexInputError("no hex digits given")
    bad = re.search(r"[^0-9a-fA-F]", cleaned)
    if bad:
        raise HexInputError("not a hex digit: %r" % (bad.group(0),))
    if len(cleaned) % 2:
        raise HexInputError("odd number of hex digits (%d)" % (len(cleaned),))
    return bytes.fromhex(cleaned)
