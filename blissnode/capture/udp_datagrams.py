"""
Obfuscated UDP datagrams in a capture, and the addresses that key them.

A kind-2 or kind-F datagram is keyed with the sender's belief of its own
public address and the address it sent to (udp.md 4.1).  A capture shows
neither reliably: a client that does not know its address yet keys with
0.0.0.0, and behind NAT the capture shows a private address where the peer
saw a public one.  :class:`KeyingAddresses` therefore collects every
candidate -- ``--public-ip`` values, the "your IP" of NACKs, addresses
learned from decoded commands (cmd 31/36 replies, node records) -- and
:class:`DatagramDecoder` tries them, the CRC telling the right pair
(a wrong key passes the 32-bit CRC with odds of 2^-32).

Resends (kind 3) are keyed by the challenge of the NACK they answer and
need no address; ACKs and NACKs are clear.  Fragments are reassembled
(:class:`blissnode.wire.fragments.Reassembler`) and the whole message is
decoded once complete.
"""

import collections

import attr

from blissnode.capture.annotate import LearnedAddress, commands_json
from blissnode.wire import udp
from blissnode.wire.errors import ProtocolError
from blissnode.wire.fragments import Reassembler
from blissnode.wire.udp_commands import parse_payload

__all__ = ["KeyingAddresses", "DatagramDecoder", "DecodedDatagram", "UNKNOWN_SRC",
           "SOURCE_ZERO", "SOURCE_CAPTURE", "SOURCE_OPTION", "SOURCE_NACK", "NOT_SKYPE_PORTS"]

UNKNOWN_SRC = "0.0.0.0"
SOURCE_ZERO = "0.0.0.0 (the sender did not know its public address yet)"
SOURCE_CAPTURE = "the address in the capture"
SOURCE_OPTION = "--public-ip"
SOURCE_NACK = "NACK (the 'your IP' a node reported)"

#: UDP ports of well-known protocols that are never Skype datagrams.
NOT_SKYPE_PORTS = {53: "DNS", 67: "DHCP", 68: "DHCP", 123: "NTP", 137: "NetBIOS",
                   138: "NetBIOS", 1900: "SSDP", 3702: "WS-Discovery", 5353: "mDNS",
                   5355: "LLMNR"}


class KeyingAddresses(object):
    """Candidate public IPv4 addresses in the order learned, each with where
    it came from (the first source wins)."""

    def __init__(self, public_ips=()):
        self._sources = collections.OrderedDict()
        for ip in public_ips:
            self.add(ip, SOURCE_OPTION)

    def add(self, ip, source):
        """Record ``ip``; True if it is new."""
        try:
            udp.ip_to_int(ip)
        except ValueError:
            return False
        if ip in self._sources or ip == UNKNOWN_SRC:
            return False
        self._sources[ip] = source
        return True

    def learn(self, learned):
        """Add :class:`LearnedAddress` values; the number of new ones."""
        return sum(1 for a in learned if self.add(a.ip, a.source))

    def __iter__(self):
        return iter(self._sources.items())

    def __len__(self):
        return len(self._sources)

    def to_json(self):
        return [{"ip": ip, "source": source} for ip, source in self._sources.items()]


@attr.s(slots=True)
class DecodedDatagram(object):
    """The JSON fields of one datagram; ``decoded`` false when it is Skype-
    shaped but would not open (``fields["why"]`` says why); ``skype`` false
    when it is not a Skype datagram at all; ``learned`` the addresses it
    revealed."""

    fields = attr.ib()
    decoded = attr.ib(default=True)
    skype = attr.ib(default=True)
    learned = attr.ib(factory=list)


def _hex32(value):
    return "%08x" % value


class DatagramDecoder(object):
    """Decodes the datagrams of one capture (keeps NACK challenges, the
    keying that worked for each address pair, and fragment reassembly)."""

    def __init__(self, keying):
        self.keying = keying
        self._pairs = {}       # (src, dst) -> (keyed src, keyed dst)
        self._nacks = {}       # NSEED -> frame of the NACK
        self._fragments = Reassembler(max_pending=256, timeout=60.0)

    def _candidates(self, src, dst):
        srcs = [(src, SOURCE_CAPTURE), (UNKNOWN_SRC, SOURCE_ZERO)]
        dsts = [(dst, SOURCE_CAPTURE)]
        for ip, source in self.keying:
            if ip != src:
                srcs.append((ip, source))
            if ip != dst:
                dsts.append((ip, source))
        cached = self._pairs.get((src, dst))
        pairs = [(s, d) for s in srcs for d in dsts]
        if cached is not None:
            pairs.sort(key=lambda p: (p[0][0], p[1][0]) != cached)
        return pairs

    def decode(self, packet):
        """A :class:`DecodedDatagram` for a UDP :class:`Packet`."""
        data = packet.payload
        if packet.ip_version != 4:
            return DecodedDatagram({"why": "UDP over IPv6: Skype keys datagrams with IPv4 "
                                           "addresses"}, False, False)
        try:
            header = udp.parse_header(data)
        except ProtocolError as e:
            return DecodedDatagram({"why": str(e)}, False, False)
        kind = header.type_byte & 0x0F
        fields = collections.OrderedDict()
        fields["packet_id"] = header.packet_id
        fields["type"] = udp.KIND_NAMES.get(kind, "unknown%x" % kind)
        fields["type_byte"] = "%02x" % header.type_byte
        if kind in (udp.KIND_ACK, udp.KIND_NACK):
            return self._clear(packet, data, fields)
        if kind not in (udp.KIND_PAYLOAD, udp.KIND_RESEND, udp.KIND_FRAGMENT):
            fields["payload"] = data[3:].hex()
            fields["why"] = "kind %x has no known layout; header only" % kind
            return DecodedDatagram(fields, False, False)
        try:
            datagram = udp.parse_datagram(data, reject_bit7=False)
        except ProtocolError as e:
            fields["why"] = str(e)
            return DecodedDatagram(fields, False, False)
        if isinstance(datagram, udp.ResendDatagram):
            return self._resend(packet, datagram, fields)
        return self._keyed(packet, datagram, fields)

    def _clear(self, packet, data, fields):
        try:
            datagram = udp.parse_datagram(data, reject_bit7=False)
        except ProtocolError as e:
            fields["why"] = str(e)
            return DecodedDatagram(fields, False, False)
        fields["your_ip"] = datagram.your_ip
        learned = []
        if isinstance(datagram, udp.NackDatagram):
            fields["challenge"] = _hex32(datagram.nseed)
            fields["meaning"] = ("the receiver could not open packet %d: it reports the sender's "
                                 "address and a challenge to key the resend" % datagram.packet_id)
            self._nacks[datagram.nseed] = packet.number
            learned.append(LearnedAddress(datagram.your_ip, SOURCE_NACK, packet.dst))
        else:
            fields["value"] = _hex32(datagram.value)
        return DecodedDatagram(fields, True, True, learned)

    def _resend(self, packet, datagram, fields):
        plain, ok = datagram.decrypt()
        fields["challenge"] = _hex32(datagram.nseed)
        fields["peer_ip"] = datagram.peer_ip
        fields["count"] = datagram.count
        nack = self._nacks.get(datagram.nseed)
        fields["answers_nack_frame"] = nack
        fields["keying"] = "the NACK's challenge XOR the packet id (udp.md 4.2)"
        return self._commands(packet, fields, plain, ok, "the challenge did not give a valid CRC")

    def _keyed(self, packet, datagram, fields):
        fields["iv"] = _hex32(datagram.iv)
        if isinstance(datagram, udp.FragmentDatagram):
            fields.update(in_reply_to=datagram.in_reply_to, index=datagram.index,
                          last=datagram.last)
        tried = 0
        for (ksrc, ssrc), (kdst, sdst) in self._candidates(packet.src, packet.dst):
            tried += 1
            plain, ok = datagram.decrypt(ksrc, kdst)
            if ok:
                self._pairs[(packet.src, packet.dst)] = (ksrc, kdst)
                fields["keyed_src"] = ksrc
                fields["keyed_dst"] = kdst
                fields["keying"] = {"src": ssrc, "dst": sdst}
                if isinstance(datagram, udp.FragmentDatagram):
                    return self._fragment(packet, datagram, fields, plain)
                return self._commands(packet, fields, plain, True, None)
        fields["crc_ok"] = False
        fields["why"] = ("no keying address pair gives a valid CRC (tried %d pairs: the capture's "
                         "addresses, 0.0.0.0 and %d learned or --public-ip addresses)"
                         % (tried, len(self.keying)))
        return DecodedDatagram(fields, False, True)

    def _fragment(self, packet, datagram, fields, plain):
        fields["crc_ok"] = True
        fields["plaintext"] = plain.hex()
        key = (packet.src, packet.dst, datagram.in_reply_to)
        try:
            message = self._fragments.add(key, datagram.index, datagram.last, plain, packet.time)
        except ProtocolError as e:
            fields["reassembly_error"] = str(e)
            return DecodedDatagram(fields, True, True)
        if message is None:
            fields["reassembly"] = "waiting for more fragments"
            return DecodedDatagram(fields, True, True)
        fields["reassembled_length"] = len(message)
        learned = []
        try:
            fields["message_commands"] = commands_json(parse_payload(message), packet.src,
                                                       packet.dst, learned)
        except ProtocolError as e:
            fields["message_commands_error"] = str(e)
        return DecodedDatagram(fields, True, True, learned)

    def _commands(self, packet, fields, plain, ok, why):
        fields["crc_ok"] = bool(ok)
        fields["plaintext"] = plain.hex()
        if not ok:
            fields["why"] = why
            return DecodedDatagram(fields, False, True)
        learned = []
        try:
            fields["commands"] = commands_json(parse_payload(plain), packet.src, packet.dst,
                                               learned)
        except ProtocolError as e:
            fields["commands_error"] = str(e)
        return DecodedDatagram(fields, True, True, learned)
