"""
Taking a captured frame apart down to TCP segments and UDP datagrams.

Link layers: Ethernet (with 802.1Q/802.1ad tags), Linux cooked capture v1
and v2, BSD loopback (NULL and LOOP) and raw IP.  Network: IPv4 and IPv6
(without extension headers other than the common ones).  Anything else --
ARP, ICMP, IP fragments -- is not an error: :func:`decode_frame` says why
the frame carries nothing for us, and the decoder counts the reasons.

A frame the snap length cut short yields a :class:`Packet` whose
``missing`` counts the payload bytes that were not captured; TCP
reassembly treats them as a hole.
"""

import ipaddress
import struct

import attr

__all__ = ["LINKTYPE_NAMES", "SUPPORTED_LINKTYPES", "Packet", "Skipped", "decode_frame",
           "TCP_FIN", "TCP_SYN", "TCP_RST", "TCP_ACK"]

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_RAW_BSD12 = 12
LINKTYPE_RAW_BSD14 = 14
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

LINKTYPE_NAMES = {
    LINKTYPE_NULL: "BSD loopback (0)",
    LINKTYPE_ETHERNET: "Ethernet (1)",
    LINKTYPE_RAW_BSD12: "raw IP (12)",
    LINKTYPE_RAW_BSD14: "raw IP (14)",
    LINKTYPE_RAW: "raw IP (101)",
    LINKTYPE_LOOP: "OpenBSD loopback (108)",
    LINKTYPE_LINUX_SLL: "Linux cooked (113)",
    LINKTYPE_IPV4: "raw IPv4 (228)",
    LINKTYPE_IPV6: "raw IPv6 (229)",
    LINKTYPE_LINUX_SLL2: "Linux cooked v2 (276)",
}
SUPPORTED_LINKTYPES = frozenset(LINKTYPE_NAMES)

TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
_VLAN_TYPES = (0x8100, 0x88A8, 0x9100)
_IPV6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT = 44
PROTO_TCP, PROTO_UDP = 6, 17

SKIP_NOT_IP = "not IP (ARP, LLC, ...)"
SKIP_OTHER_PROTOCOL = "IP but neither TCP nor UDP (ICMP, IGMP, ...)"
SKIP_FRAGMENT = "IP fragment (fragments are not reassembled)"
SKIP_MALFORMED = "malformed or cut short before the TCP/UDP header"


@attr.s(frozen=True, slots=True)
class Skipped(object):
    """A frame without a TCP or UDP payload for us, and why."""

    reason = attr.ib()


@attr.s(frozen=True, slots=True)
class Packet(object):
    """A TCP segment or UDP datagram.

    ``src``/``dst`` are address strings (``"192.0.2.1"``, ``"2001:db8::1"``);
    ``seq``, ``flags`` are TCP's (``None`` for UDP); ``missing`` is how many
    payload bytes the snap length cut off.
    """

    number = attr.ib()
    time = attr.ib()
    proto = attr.ib()
    src = attr.ib()
    sport = attr.ib()
    dst = attr.ib()
    dport = attr.ib()
    payload = attr.ib(repr=False)
    seq = attr.ib(default=None)
    flags = attr.ib(default=0)
    missing = attr.ib(default=0)
    ip_version = attr.ib(default=4)


def decode_frame(frame):
    """A :class:`Packet` or a :class:`Skipped` for one :class:`Frame`."""
    data = frame.data
    try:
        ethertype, offset = _link(frame.linktype, data)
    except (struct.error, IndexError):
        return Skipped(SKIP_MALFORMED)
    if ethertype == ETH_IPV4:
        return _ipv4(frame, data, offset)
    if ethertype == ETH_IPV6:
        return _ipv6(frame, data, offset)
    return Skipped(SKIP_NOT_IP)


def _raw_version(data, offset):
    version = data[offset] >> 4 if len(data) > offset else 0
    return {4: ETH_IPV4, 6: ETH_IPV6}.get(version), offset


def _link(linktype, data):
    if linktype == LINKTYPE_ETHERNET:
        ethertype = struct.unpack_from(">H", data, 12)[0]
        offset = 14
        while ethertype in _VLAN_TYPES:
            ethertype = struct.unpack_from(">H", data, offset + 2)[0]
            offset += 4
        return ethertype, offset
    if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_BSD12, LINKTYPE_RAW_BSD14):
        return _raw_version(data, 0)
    if linktype == LINKTYPE_IPV4:
        return ETH_IPV4, 0
    if linktype == LINKTYPE_IPV6:
        return ETH_IPV6, 0
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        # The address family is in host order (NULL) or big-endian (LOOP);
        # the IP version nibble tells the same without knowing the writer.
        return _raw_version(data, 4)
    if linktype == LINKTYPE_LINUX_SLL:
        return struct.unpack_from(">H", data, 14)[0], 16
    if linktype == LINKTYPE_LINUX_SLL2:
        return struct.unpack_from(">H", data, 0)[0], 20
    raise ValueError("link type %d" % linktype)


def _ipv4(frame, data, offset):
    if len(data) < offset + 20 or data[offset] >> 4 != 4:
        return Skipped(SKIP_MALFORMED)
    ihl = (data[offset] & 0x0F) * 4
    total = struct.unpack_from(">H", data, offset + 2)[0]
    frag = struct.unpack_from(">H", data, offset + 6)[0]
    proto = data[offset + 9]
    if ihl < 20 or total < ihl:
        return Skipped(SKIP_MALFORMED)
    if frag & 0x3FFF:  # more fragments, or a fragment offset
        return Skipped(SKIP_FRAGMENT)
    src = str(ipaddress.IPv4Address(data[offset + 12:offset + 16]))
    dst = str(ipaddress.IPv4Address(data[offset + 16:offset + 20]))
    # The IP length decides where the payload ends (Ethernet pads short frames).
    end = offset + total
    return _transport(frame, data, offset + ihl, end, proto, src, dst, 4)


def _ipv6(frame, data, offset):
    if len(data) < offset + 40 or data[offset] >> 4 != 6:
        return Skipped(SKIP_MALFORMED)
    length = struct.unpack_from(">H", data, offset + 4)[0]
    proto = data[offset + 6]
    src = str(ipaddress.IPv6Address(data[offset + 8:offset + 24]))
    dst = str(ipaddress.IPv6Address(data[offset + 24:offset + 40]))
    end = offset + 40 + length
    pos = offset + 40
    while proto in _IPV6_EXTENSIONS + (_IPV6_FRAGMENT,):
        if len(data) < pos + 8:
            return Skipped(SKIP_MALFORMED)
        if proto == _IPV6_FRAGMENT:
            return Skipped(SKIP_FRAGMENT)
        proto, size = data[pos], (data[pos + 1] + 1) * 8
        pos += size
    return _transport(frame, data, pos, end, proto, src, dst, 6)


def _transport(frame, data, pos, end, proto, src, dst, version):
    # Bytes the snap length cut off: the IP length says more than we have.
    missing = max(0, end - len(data))
    end = min(end, len(data))
    if proto == PROTO_TCP:
        if end < pos + 20:
            return Skipped(SKIP_MALFORMED)
        sport, dport, seq, _ack, off_flags = struct.unpack_from(">HHIIH", data, pos)
        header = (off_flags >> 12) * 4
        if header < 20 or end < pos + header:
            return Skipped(SKIP_MALFORMED)
        return Packet(frame.number, frame.time, "tcp", src, sport, dst, dport,
                      bytes(data[pos + header:end]), seq, off_flags & 0x3F, missing, version)
    if proto == PROTO_UDP:
        if end < pos + 8:
            return Skipped(SKIP_MALFORMED)
        sport, dport, length = struct.unpack_from(">HHH", data, pos)
        stop = min(end, pos + length) if length >= 8 else end
        missing = max(missing, pos + length - end) if length >= 8 else missing
        return Packet(frame.number, frame.time, "udp", src, sport, dst, dport,
                      bytes(data[pos + 8:stop]), None, 0, missing, version)
    return Skipped(SKIP_OTHER_PROTOCOL)
