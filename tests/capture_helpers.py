"""
Building small capture files in tests: TCP conversations and UDP datagrams
as Ethernet/IPv4 frames, written as pcap (dpkt's writer) or pcapng (dpkt's
blocks), so the capture decoder is tested on real file formats.

Packets are kept as descriptions until written, so a test can reorder or
duplicate them (out-of-order segments, retransmissions); times are given
in write order, one millisecond apart.
"""

import io
import socket

import dpkt

START = 1431969644.0


class Segment(object):
    """One TCP segment of a :class:`TcpConversation` (not yet a frame)."""

    def __init__(self, conv, direction, seq, flags, data):
        self.conv, self.direction, self.seq, self.flags, self.data = conv, direction, seq, flags, data

    def frame(self):
        src, dst = ((self.conv.client, self.conv.server) if self.direction == "c2s"
                    else (self.conv.server, self.conv.client))
        tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=self.seq, ack=0, flags=self.flags,
                           win=65535, data=self.data)
        return _ip_frame(src[0], dst[0], dpkt.ip.IP_PROTO_TCP, tcp)


class Datagram(object):
    def __init__(self, src, dst, data):
        self.src, self.dst, self.data = src, dst, data

    def frame(self):
        udp = dpkt.udp.UDP(sport=self.src[1], dport=self.dst[1], data=self.data)
        udp.ulen = 8 + len(self.data)
        return _ip_frame(self.src[0], self.dst[0], dpkt.ip.IP_PROTO_UDP, udp)


def _ip_frame(src, dst, proto, payload):
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, ttl=64,
                    data=payload)
    ip.len = 20 + len(bytes(payload))
    eth = dpkt.ethernet.Ethernet(src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02",
                                 type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
    return bytes(eth)


class TcpConversation(object):
    """Both directions of one connection; :meth:`send` appends segments."""

    def __init__(self, capture, client, server, isn=(1000, 5000)):
        self.capture = capture
        self.client, self.server = client, server
        self.next = {"c2s": isn[0], "s2c": isn[1]}

    def open(self):
        out = [self._segment("c2s", dpkt.tcp.TH_SYN, b""),
               self._segment("s2c", dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, b"")]
        self.next["c2s"] += 1
        self.next["s2c"] += 1
        out.append(self._segment("c2s", dpkt.tcp.TH_ACK, b""))
        return out

    def _segment(self, direction, flags, data):
        segment = Segment(self, direction, self.next[direction] & 0xFFFFFFFF, flags, data)
        self.capture.packets.append(segment)
        return segment

    def send(self, direction, data, mss=None):
        """Segments carrying ``data`` (split every ``mss`` bytes)."""
        out = []
        mss = mss or max(1, len(data))
        for i in range(0, len(data), mss):
            chunk = data[i:i + mss]
            out.append(self._segment(direction, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, chunk))
            self.next[direction] += len(chunk)
        return out

    def close(self):
        out = [self._segment("c2s", dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK, b""),
               self._segment("s2c", dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK, b"")]
        return out

    def replay(self, chunks, mss=None):
        """Send ``[(direction, bytes)]`` in order."""
        for direction, data in chunks:
            if data:
                self.send(direction, data, mss)


class CaptureBuilder(object):
    """Packets of one capture; :meth:`pcap` / :meth:`pcapng` write them."""

    def __init__(self):
        self.packets = []

    def tcp(self, client, server, isn=(1000, 5000)):
        return TcpConversation(self, client, server, isn)

    def udp(self, src, dst, data):
        datagram = Datagram(src, dst, data)
        self.packets.append(datagram)
        return datagram

    def frames(self):
        return [(START + i * 0.001, p.frame()) for i, p in enumerate(self.packets)]

    def pcap(self, linktype=dpkt.pcap.DLT_EN10MB, nano=False):
        out = io.BytesIO()
        writer = dpkt.pcap.Writer(out, snaplen=65535, linktype=linktype, nano=nano)
        for ts, frame in self.frames():
            writer.writepkt(frame, ts=ts)
        return out.getvalue()

    def pcapng(self):
        out = io.BytesIO()
        writer = dpkt.pcapng.Writer(out, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB)
        for ts, frame in self.frames():
            writer.writepkt(frame, ts=ts)
        return out.getvalue()

    def write(self, path, fmt="pcap"):
        with open(path, "wb") as f:
            f.write(self.pcap() if fmt == "pcap" else self.pcapng())
        return path
