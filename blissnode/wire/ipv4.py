"""
IPv4 addresses as the wire layer writes and reads them.

Addresses travel as 4 bytes in network order in ADDR items (0x41), UDP
headers (NACK, ACK, resend) and, reversed, in the 0x42 raw tail and the UDP
seed input.  Code above the wire layer wants dotted quads (Twisted's form).
:mod:`blissnode.wire.objects` and :mod:`blissnode.wire.udp` both convert
between the two; this module is the one strict implementation they share, so
that an address accepted by one is accepted by the other.

"Strict" means exactly four decimal octets 0..255 of at most three ASCII
digits: none of the ``inet_aton`` shorthands (``"10.1"``, ``"0x7f.1"``),
because a configured address that silently means something else would key
every UDP datagram wrongly.
"""

__all__ = ["parse_dotted_quad", "format_dotted_quad"]


def parse_dotted_quad(text):
    """The 4 network-order bytes of the dotted quad ``text``.

    Raises ``ValueError`` for anything else (including non-strings): this is
    caller input, never bytes from the network.
    """
    parts = text.split(".") if isinstance(text, str) else ()
    if len(parts) != 4:
        raise ValueError("not a dotted-quad IPv4 address: %r" % (text,))
    octets = []
    for part in parts:
        if not (part.isascii() and part.isdigit() and len(part) <= 3):
            raise ValueError("not a dotted-quad IPv4 address: %r" % (text,))
        n = int(part)
        if n > 255:
            raise ValueError("not a dotted-quad IPv4 address: %r" % (text,))
        octets.append(n)
    return bytes(octets)


def format_dotted_quad(raw4):
    """``"a.b.c.d"`` for 4 network-order bytes (any bytes-like object)."""
    return "%d.%d.%d.%d" % (raw4[0], raw4[1], raw4[2], raw4[3])
