"""Reading capture files: formats, link types, damaged files, and TCP
reassembly."""

import io
import json
import struct

import dpkt
from twisted.trial.unittest import TestCase

from blissnode.capture.frames import Packet, Skipped, decode_frame
from blissnode.capture.readers import CaptureFormatError, Frame, read_frames
from blissnode.capture.reassembly import (
    GAP_NOT_CAPTURED,
    Data,
    Gap,
    PendingBudget,
    ReassemblyLimits,
    StreamReassembler,
)
from blissnode.cli.main import main
from tests import capture_traffic as T
from tests.capture_helpers import CaptureBuilder, _ip_frame

CLIENT = ("10.0.0.2", 50000)
NODE = ("192.0.2.10", 40001)


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def classic_capture():
    cap = CaptureBuilder()
    conv = cap.tcp(CLIENT, NODE)
    conv.open()
    conv.replay(T.classic_stream())
    conv.close()
    return cap


class ReaderTests(TestCase):
    def frames(self, data):
        return list(read_frames(io.BytesIO(data)))

    def test_pcap_both_byte_orders_and_nanoseconds(self):
        cap = classic_capture()
        little = self.frames(cap.pcap())
        nano = self.frames(cap.pcap(nano=True))
        self.assertEqual(len(little), 7)
        self.assertEqual([f.data for f in little], [f.data for f in nano])
        self.assertAlmostEqual(nano[1].time, T_START + 0.001, places=6)
        # Rewrite the file big-endian by hand.
        data = cap.pcap()
        big = bytearray(struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        pos = 24
        while pos < len(data):
            sec, usec, caplen, length = struct.unpack_from("<IIII", data, pos)
            big += struct.pack(">IIII", sec, usec, caplen, length) + data[pos + 16:pos + 16 + caplen]
            pos += 16 + caplen
        self.assertEqual([f.data for f in self.frames(bytes(big))], [f.data for f in little])

    def test_pcapng_with_two_interfaces(self):
        frame = _ip_frame("10.0.0.2", "192.0.2.10", 17,
                          dpkt.udp.UDP(sport=1, dport=2, data=b"abc", ulen=11))
        raw_ip = frame[14:]
        out = io.BytesIO()
        shb = dpkt.pcapng.SectionHeaderBlockLE()
        eth = dpkt.pcapng.InterfaceDescriptionBlockLE(linktype=1, snaplen=65535)
        raw = dpkt.pcapng.InterfaceDescriptionBlockLE(linktype=101, snaplen=65535)
        out.write(bytes(shb) + bytes(eth) + bytes(raw))
        for iface, data in ((0, frame), (1, raw_ip)):
            epb = dpkt.pcapng.EnhancedPacketBlockLE(iface_id=iface, pkt_data=data,
                                                    ts_high=0, ts_low=1500000 + iface)
            out.write(bytes(epb))
        frames = self.frames(out.getvalue())
        self.assertEqual([(f.linktype, f.number) for f in frames], [(1, 1), (101, 2)])
        self.assertEqual(frames[1].time, 1.500001)
        packets = [decode_frame(f) for f in frames]
        self.assertEqual([(p.src, p.dst, p.payload) for p in packets],
                         [("10.0.0.2", "192.0.2.10", b"abc")] * 2)

    def test_link_types(self):
        ip = _ip_frame("10.0.0.2", "192.0.2.10", 17,
                       dpkt.udp.UDP(sport=1, dport=2, data=b"xy", ulen=10))[14:]
        for linktype, data in ((0, struct.pack("<I", 2) + ip), (108, struct.pack(">I", 2) + ip),
                               (113, b"\x00" * 14 + b"\x08\x00" + ip),
                               (276, b"\x08\x00" + b"\x00" * 18 + ip), (228, ip),
                               (1, b"\x00" * 12 + b"\x81\x00\x00\x05\x08\x00" + ip)):
            packet = decode_frame(Frame(1, 0.0, linktype, data, len(data)))
            self.assertIsInstance(packet, Packet, linktype)
            self.assertEqual((packet.proto, packet.sport, packet.payload), ("udp", 1, b"xy"))

    def test_skipped_frames(self):
        arp = b"\x00" * 12 + b"\x08\x06" + b"\x00" * 28
        self.assertEqual(decode_frame(Frame(1, 0, 1, arp, len(arp))).reason,
                         "not IP (ARP, LLC, ...)")
        icmp = _ip_frame("10.0.0.2", "192.0.2.10", 1, dpkt.icmp.ICMP(data=b"x" * 8))
        self.assertIn("ICMP", decode_frame(Frame(1, 0, 1, icmp, len(icmp))).reason)
        frag = bytearray(_ip_frame("10.0.0.2", "192.0.2.10", 17, dpkt.udp.UDP(data=b"x")))
        frag[14 + 6] = 0x20  # more fragments
        self.assertIsInstance(decode_frame(Frame(1, 0, 1, bytes(frag), len(frag))), Skipped)

    def test_snap_length_cut(self):
        frame = _ip_frame("10.0.0.2", "192.0.2.10", 17,
                          dpkt.udp.UDP(sport=1, dport=2, data=b"abcdef", ulen=14))
        packet = decode_frame(Frame(1, 0, 1, frame[:-2], len(frame)))
        self.assertEqual((packet.payload, packet.missing), (b"abcd", 2))

    def test_bad_files(self):
        cases = [(b"", "empty file"), (b"hello world, not a capture", "not a pcap or pcapng"),
                 (b"\xd4\xc3\xb2\xa1\x02\x00", "file header is cut short"),
                 (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147), "unsupported link type 147"),
                 (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00", "cut short")]
        for data, message in cases:
            with self.assertRaises(CaptureFormatError) as raised:
                self.frames(data)
            self.assertIn(message, str(raised.exception), data)


T_START = 1431969644.0


class BadFileCommandTests(TestCase):
    def write(self, data):
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_not_a_capture_empty_missing(self):
        for path, message in ((self.write(b"GIF89a....."), "not a pcap or pcapng capture"),
                              (self.write(b""), "empty file"),
                              (self.mktemp(), "cannot read")):
            status, out, err = run("decode", "pcap", path)
            self.assertEqual((status, out), (1, ""), path)
            self.assertEqual(err.count("\n"), 1)
            self.assertIn(message, err)
            self.assertNotIn("Traceback", err)

    def test_unsupported_link_type(self):
        data = bytearray(classic_capture().pcap())
        data[20:24] = struct.pack("<I", 127)  # 802.11 radiotap
        status, out, err = run("decode", "pcap", self.write(bytes(data)))
        self.assertEqual((status, out), (1, ""))
        self.assertIn("unsupported link type 127", err)

    def test_truncated_prints_what_decoded(self):
        data = classic_capture().pcap()
        status, out, err = run("decode", "pcap", self.write(data[:-30]))
        self.assertEqual(status, 1)
        self.assertIn("truncated capture: packet 7 is cut short", err)
        self.assertEqual(err.count("\n"), 1)
        lines = [json.loads(line) for line in out.splitlines()]
        summary = lines[-1]["summary"]
        self.assertEqual(summary["frames"], 6)
        self.assertIn("cut short", summary["error"])
        self.assertEqual([e["layer"] for e in lines[:-1]][:2], ["seed-exchange", "peer-record"])

    def test_capture_without_packets_decodes_nothing(self):
        status, out, err = run("decode", "pcap", self.write(CaptureBuilder().pcap()))
        self.assertEqual(status, 3)
        self.assertEqual(json.loads(out)["summary"]["frames"], 0)
        self.assertIn("nothing in", err)


def seg(r, seq, data, **kw):
    return r.segment(seq, data, **kw)


class ReassemblyTests(TestCase):
    def setUp(self):
        self.budget = PendingBudget(1 << 20)

    def stream(self, **limits):
        return StreamReassembler(self.budget, ReassemblyLimits(**limits) if limits
                                 else ReassemblyLimits())

    def joined(self, items):
        return b"".join(i.data for i in items if isinstance(i, Data))

    def test_in_order_after_syn(self):
        r = self.stream()
        self.assertEqual(seg(r, 100, b"", syn=True), [])
        self.assertEqual(self.joined(seg(r, 101, b"abc")), b"abc")
        self.assertEqual(self.joined(seg(r, 104, b"def")), b"def")

    def test_out_of_order_and_retransmission(self):
        r = self.stream()
        seg(r, 0, b"", syn=True)
        self.assertEqual(seg(r, 4, b"def"), [])
        self.assertEqual(r.held, 3)
        self.assertEqual(self.joined(seg(r, 1, b"abc")), b"abcdef")
        self.assertEqual(seg(r, 1, b"abc"), [])                 # duplicate
        self.assertEqual(self.joined(seg(r, 5, b"efghi")), b"ghi")  # overlap + new bytes
        self.assertEqual(r.retransmitted, 5)
        self.assertEqual(r.held, 0)
        self.assertEqual(self.budget.held, 0)

    def test_sequence_wraps(self):
        r = self.stream()
        seg(r, 0xFFFFFFFE, b"", syn=True)
        self.assertEqual(self.joined(seg(r, 0xFFFFFFFF, b"ab")), b"ab")
        self.assertEqual(self.joined(seg(r, 1, b"cd")), b"cd")
        self.assertEqual(r.delivered, 4)

    def test_hole_reported_at_finish(self):
        r = self.stream()
        seg(r, 0, b"", syn=True)
        seg(r, 1, b"ab")
        seg(r, 6, b"zz", time=2.0, frame=9)
        (gap, data) = r.finish(3.0, 10)
        self.assertEqual((gap.offset, gap.length, gap.reason), (2, 3, GAP_NOT_CAPTURED))
        self.assertEqual((data.offset, data.data, data.frame), (5, b"zz", 10))  # released at the end

    def test_per_stream_bound(self):
        r = self.stream(per_stream=4)
        seg(r, 0, b"", syn=True)
        self.assertEqual(seg(r, 11, b"abc"), [])
        gap, data = seg(r, 21, b"xyz")
        self.assertIsInstance(gap, Gap)
        self.assertEqual((gap.offset, gap.length), (0, 10))
        self.assertIn("per-direction bound", gap.reason)
        self.assertEqual((data.offset, data.data), (10, b"abc"))
        self.assertEqual(r.held, 3)

    def test_total_bound(self):
        self.budget = PendingBudget(5)
        a, b = self.stream(), self.stream()
        seg(a, 0, b"", syn=True)
        seg(b, 0, b"", syn=True)
        seg(a, 10, b"abcd")
        items = seg(b, 10, b"efgh")
        self.assertIn("all flows together", items[0].reason)
        self.assertEqual(self.joined(items), b"efgh")
        self.assertEqual(self.budget.exhausted, 1)
        self.assertEqual(self.budget.held, 4)

    def test_bound_hit_in_a_capture_is_reported(self):
        cap = CaptureBuilder()
        conv = cap.tcp(CLIENT, NODE)
        conv.open()
        (c, client_bytes), (s, server_bytes) = T.classic_stream()
        segments = conv.send("c2s", client_bytes, mss=4)
        cap.packets.remove(segments[0])  # the first segment is never captured
        path = cap.write(self.mktemp())
        status, out, err = run("decode", "pcap", path, "--max-flow-buffer", "8")
        lines = [json.loads(line) for line in out.splitlines()]
        summary = lines[-1]["summary"]
        self.assertEqual(summary["flows"][0]["kind"], "unknown")
        self.assertTrue(any("per-direction bound" in n for n in summary["flows"][0]["notes"]),
                        summary["flows"][0])
        self.assertEqual(status, 3)
