"""
The supernode's public address (``--public-ip``): given, or found from the
interfaces the supernode listens on.

Every UDP answer is keyed with it (udp.md), so a wrong value makes remote
clients fail silently.  It is therefore never guessed for a listener on
all interfaces: there the operator must say which address clients reach
(behind NAT, the outside one), and the server refuses to start without it.
"""

import ipaddress

__all__ = ["AUTO", "resolve_public_ip", "PublicIPRequired"]

#: The default of ``--public-ip``: decide from the listening interfaces.
AUTO = "auto"


class PublicIPRequired(ValueError):
    """The supernode listens beyond loopback on every interface; no address can be chosen."""


def _ipv4(text, what):
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError("%s must be an IPv4 address, not %r" % (what, text))
    if address.is_unspecified:
        raise ValueError("%s must be an address clients can reach, not 0.0.0.0" % (what,))
    return address


def resolve_public_ip(value, interfaces):
    """The public IPv4 address as text.

    :param value: ``--public-ip`` (an address, or :data:`AUTO`).
    :param interfaces: the interfaces of the enabled supernode listeners
        (``""`` or ``0.0.0.0`` = all).
    :raises ValueError: a malformed address;
        :class:`PublicIPRequired`: :data:`AUTO` with a listener on all interfaces.
    """
    if value != AUTO:
        return str(_ipv4(value, "--public-ip"))
    bound = set()
    for interface in interfaces:
        if interface in ("", "0.0.0.0", "::"):
            raise PublicIPRequired(
                "--public-ip is required: the supernode listens on all interfaces, and "
                "clients must be told the IPv4 address they reach (behind NAT: the "
                "outside one); or bind the listeners to one address with :interface=")
        if interface == "localhost":
            interface = "127.0.0.1"
        bound.add(_ipv4(interface, "the supernode's interface"))
    if not bound or all(a.is_loopback for a in bound):
        return "127.0.0.1"
    public = {a for a in bound if not a.is_loopback}
    if len(public) > 1:
        raise PublicIPRequired("--public-ip is required: the supernode listens on %s"
                               % (", ".join(sorted(map(str, public))),))
    return str(public.pop())
