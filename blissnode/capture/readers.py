"""
Reading capture files: the classic pcap format and pcapng, with dpkt's
header and block definitions.

Why our own loop over dpkt's structures instead of ``dpkt.pcap.Reader``:
dpkt's readers pass a truncated last record off as a short packet and read
only the first interface of a pcapng file; a researcher must be told that a
capture is cut short, and pcapng files from several interfaces (with
different link types or timestamp resolutions) must read correctly.

:func:`read_frames` takes an open binary file and yields :class:`Frame`
values; a file that is not a capture, is cut short, or uses a link type we
cannot take apart raises :class:`CaptureFormatError` (after the frames
before the damage, so a caller can still use those).
"""

import struct

import attr
import dpkt
from dpkt import pcap, pcapng

from blissnode.capture.frames import LINKTYPE_NAMES, SUPPORTED_LINKTYPES

__all__ = ["CaptureFormatError", "Frame", "read_frames", "MAX_FRAME"]

#: A frame longer than this is taken as a corrupt record length (the
#: largest snap length tools write is 262144).
MAX_FRAME = 0x40000

_PCAPNG_SHB = 0x0A0D0D0A
_PCAP_MAGICS = {
    # magic as read big-endian -> (byte order, nanosecond timestamps)
    0xA1B2C3D4: (">", False),
    0xD4C3B2A1: ("<", False),
    0xA1B23C4D: (">", True),
    0x4D3CB2A1: ("<", True),
}


class CaptureFormatError(Exception):
    """The file is not a capture we can read, or is damaged; the message is
    one line for the user."""


@attr.s(frozen=True, slots=True)
class Frame(object):
    """One captured frame: its number in the file (from 1), its time (POSIX
    seconds), the link type, the captured bytes and the length it had on
    the wire (more than ``len(data)`` when the snap length cut it)."""

    number = attr.ib()
    time = attr.ib()
    linktype = attr.ib()
    data = attr.ib(repr=False)
    wire_length = attr.ib()


def _linktype_name(linktype):
    return LINKTYPE_NAMES.get(linktype, "link type %d" % linktype)


def _check_linktype(linktype, where):
    if linktype not in SUPPORTED_LINKTYPES:
        raise CaptureFormatError(
            "unsupported link type %d%s (supported: %s)"
            % (linktype, where, ", ".join(LINKTYPE_NAMES[t] for t in sorted(SUPPORTED_LINKTYPES))))


def read_frames(fileobj):
    """Yield the frames of a pcap or pcapng file read from ``fileobj``."""
    head = fileobj.read(4)
    if not head:
        raise CaptureFormatError("empty file: not a pcap or pcapng capture")
    if len(head) < 4:
        raise CaptureFormatError("a %d-byte file is not a pcap or pcapng capture" % len(head))
    magic = struct.unpack(">I", head)[0]
    if magic == _PCAPNG_SHB:
        return _read_pcapng(fileobj, head)
    if magic in _PCAP_MAGICS:
        return _read_pcap(fileobj, head, *_PCAP_MAGICS[magic])
    raise CaptureFormatError("not a pcap or pcapng capture (the file starts with %s)" % head.hex())


def _read_pcap(fileobj, head, order, nano):
    header_class = pcap.FileHdr if order == ">" else pcap.LEFileHdr
    buf = head + fileobj.read(header_class.__hdr_len__ - 4)
    if len(buf) < header_class.__hdr_len__:
        raise CaptureFormatError("truncated capture: the pcap file header is cut short "
                                 "(%d of %d bytes)" % (len(buf), header_class.__hdr_len__))
    fh = header_class(buf)
    _check_linktype(fh.linktype, "")
    return _pcap_records(fileobj, order, nano, fh.linktype)


def _pcap_records(fileobj, order, nano, linktype):
    record_class = pcap.PktHdr if order == ">" else pcap.LEPktHdr
    size = record_class.__hdr_len__
    divisor = 1e9 if nano else 1e6
    number = 0
    while True:
        buf = fileobj.read(size)
        if not buf:
            return
        number += 1
        if len(buf) < size:
            raise CaptureFormatError("truncated capture: the record header of packet %d is cut "
                                     "short (%d of %d bytes)" % (number, len(buf), size))
        hdr = record_class(buf)
        if hdr.caplen > MAX_FRAME:
            raise CaptureFormatError("corrupt capture: packet %d claims %d captured bytes"
                                     % (number, hdr.caplen))
        data = fileobj.read(hdr.caplen)
        if len(data) < hdr.caplen:
            raise CaptureFormatError("truncated capture: packet %d is cut short (%d of %d bytes)"
                                     % (number, len(data), hdr.caplen))
        yield Frame(number, hdr.tv_sec + hdr.tv_usec / divisor, linktype, data,
                    max(hdr.len, hdr.caplen))


def _resolution(idb):
    """(divisor, offset seconds) of an interface's timestamps."""
    divisor, offset = 1e6, 0
    for opt in idb.opts:
        if opt.code == pcapng.PCAPNG_OPT_IF_TSRESOL and opt.data:
            value = opt.data[0]
            divisor = float((2 if value & 0x80 else 10) ** (value & 0x7F))
        elif opt.code == pcapng.PCAPNG_OPT_IF_TSOFFSET and len(opt.data) >= 8:
            offset = struct.unpack("<q" if idb.__byte_order__ == "<" else ">q", opt.data[:8])[0]
    return divisor, offset


def _read_pcapng(fileobj, head):
    return _pcapng_blocks(fileobj, head)


def _pcapng_blocks(fileobj, head):
    little = None
    interfaces = []
    number = 0
    pending = head
    while True:
        buf = pending + fileobj.read(8 - len(pending))
        pending = b""
        if not buf:
            return
        if len(buf) < 8:
            raise CaptureFormatError("truncated capture: a pcapng block header is cut short")
        btype = struct.unpack(">I", buf[:4])[0]
        if btype == _PCAPNG_SHB:
            # A new section: its byte-order magic decides the order.
            bom = fileobj.read(4)
            if len(bom) < 4:
                raise CaptureFormatError("truncated capture: the pcapng section header is cut short")
            if bom == b"\x4d\x3c\x2b\x1a":
                little = True
            elif bom == b"\x1a\x2b\x3c\x4d":
                little = False
            else:
                raise CaptureFormatError("corrupt pcapng section header (byte-order magic %s)"
                                         % bom.hex())
            buf += bom
            interfaces = []
        elif little is None:
            raise CaptureFormatError("not a pcapng capture: no section header")
        order = "<" if little else ">"
        blen = struct.unpack(order + "I", buf[4:8])[0]
        if blen < 12 or blen % 4 or blen > MAX_FRAME + 64:
            raise CaptureFormatError("corrupt pcapng block (length %d)" % blen)
        rest = fileobj.read(blen - len(buf))
        if len(rest) < blen - len(buf):
            raise CaptureFormatError("truncated capture: a pcapng block of %d bytes is cut short "
                                     "(%d bytes present)" % (blen, len(buf) + len(rest)))
        block = buf + rest
        btype = struct.unpack(order + "I", block[:4])[0]
        try:
            if btype == _PCAPNG_SHB:
                cls = pcapng.SectionHeaderBlockLE if little else pcapng.SectionHeaderBlock
                shb = cls(block)
                if shb.v_major != pcapng.PCAPNG_VERSION_MAJOR:
                    raise CaptureFormatError("unsupported pcapng version %d.%d"
                                             % (shb.v_major, shb.v_minor))
            elif btype == pcapng.PCAPNG_BT_IDB:
                cls = (pcapng.InterfaceDescriptionBlockLE if little
                       else pcapng.InterfaceDescriptionBlock)
                idb = cls(block)
                interfaces.append((idb.linktype,) + _resolution(idb))
            elif btype in (pcapng.PCAPNG_BT_EPB, pcapng.PCAPNG_BT_PB, pcapng.PCAPNG_BT_SPB):
                number += 1
                yield _pcapng_frame(block, btype, little, interfaces, number)
        except (dpkt.UnpackError, struct.error, IndexError) as e:
            raise CaptureFormatError("corrupt pcapng block of type 0x%x: %s" % (btype, e))


def _pcapng_frame(block, btype, little, interfaces, number):
    order = "<" if little else ">"
    if btype == pcapng.PCAPNG_BT_SPB:
        wire = struct.unpack(order + "I", block[8:12])[0]
        iface, ts, data = 0, None, block[12:12 + min(wire, len(block) - 16)]
    elif btype == pcapng.PCAPNG_BT_EPB:
        epb = (pcapng.EnhancedPacketBlockLE if little else pcapng.EnhancedPacketBlock)(block)
        iface, ts, data, wire = epb.iface_id, (epb.ts_high << 32) | epb.ts_low, epb.pkt_data, epb.pkt_len
    else:
        pb = (pcapng.PacketBlockLE if little else pcapng.PacketBlock)(block)
        iface, ts, data, wire = pb.iface_id, (pb.ts_high << 32) | pb.ts_low, pb.pkt_data, pb.pkt_len
    if iface >= len(interfaces):
        raise CaptureFormatError("corrupt capture: packet %d names interface %d, which the "
                                 "file does not describe" % (number, iface))
    linktype, divisor, offset = interfaces[iface]
    _check_linktype(linktype, " on interface %d" % iface)
    when = 0.0 if ts is None else offset + ts / divisor
    return Frame(number, when, linktype, bytes(data), max(wire, len(data)))
