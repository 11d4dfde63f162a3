"""
The capture decoder: frames in, :class:`~blissnode.capture.events.CaptureEvent`
values out, a :class:`~blissnode.capture.events.CaptureSummary` at the end.
No printing, no files: :func:`decode_capture` takes a callable that opens
the frames (twice, see below).

Why two passes.  Some facts only appear late in a capture but are needed
early: the public address that keys a client's first UDP datagrams may only
show in a NACK or a cmd 31 reply later on, and whether a DH-384 opening
goes to a server may only show when the same server is spoken to in the
plain transport later.  The first pass decodes everything and keeps only
what it learned (:class:`Survey`); the second pass decodes with it from the
first frame on and is what the caller gets.
"""

import attr

from blissnode.capture import classify as C
from blissnode.capture.events import (
    DIR_C2S,
    DIR_S2C,
    CaptureEvent,
    CaptureSummary,
    FlowReport,
    endpoint,
)
from blissnode.capture.frames import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Skipped, decode_frame
from blissnode.capture.readers import CaptureFormatError
from blissnode.capture.reassembly import Data, PendingBudget, ReassemblyLimits, StreamReassembler
from blissnode.capture.tcp_flows import FlowContext, TcpFlowDecoder
from blissnode.capture.udp_datagrams import NOT_SKYPE_PORTS, DatagramDecoder, KeyingAddresses

__all__ = ["DecodeHints", "Survey", "CaptureDecoder", "decode_capture"]


@attr.s(frozen=True)
class DecodeHints(object):
    """What the user knows: the server keys (``login_decrypt_raw``,
    ``credential_public``) and where they came from, public IPv4 addresses
    of the capturing hosts, DH-384 secrets by flow id, reassembly bounds."""

    keys = attr.ib(default=None)
    keys_label = attr.ib(default="--data-dir")
    public_ips = attr.ib(default=(), converter=tuple)
    dh_secrets = attr.ib(factory=dict)
    limits = attr.ib(default=ReassemblyLimits())


@attr.s(frozen=True)
class Survey(object):
    """What a first pass learned: keying addresses ``[(ip, source)]``,
    server addresses that spoke the plain transport, and the UDP flows
    (by endpoint pair) that held Skype datagrams."""

    keying = attr.ib(factory=list)
    plain_servers = attr.ib(factory=frozenset)
    skype_udp = attr.ib(factory=frozenset)


class _TcpFlow(object):
    def __init__(self, report, client, server, decoder, budget, limits):
        self.report = report
        self.client, self.server = client, server
        self.decoder = decoder
        self.streams = {DIR_C2S: StreamReassembler(budget, limits),
                        DIR_S2C: StreamReassembler(budget, limits)}
        self.closed = False
        self.last = (None, None)  # time and frame of the last packet


class _UdpFlow(object):
    def __init__(self, report):
        self.report = report
        self.skype = False
        self.failed = 0
        self.not_skype = 0
        self.why = None


def _pair(a, b):
    return frozenset((a, b))


class CaptureDecoder(object):
    """Sans-IO decoder of one capture: :meth:`feed_frame` for each frame in
    file order, then :meth:`finish`; both return events.  :meth:`summary`
    and :meth:`survey` afterwards."""

    def __init__(self, hints=DecodeHints(), survey=None):
        self.hints = hints
        self.survey_in = survey
        self.keying = KeyingAddresses(hints.public_ips)
        if survey is not None:
            for ip, source in survey.keying:
                self.keying.add(ip, source)
        self.datagrams = DatagramDecoder(self.keying)
        self.context = FlowContext(hints.keys, hints.keys_label, hints.dh_secrets,
                                   survey.plain_servers if survey else (), self._learn)
        self.budget = PendingBudget(hints.limits.total)
        self._tcp = {}
        self._udp = {}
        self._reports = []
        self._skype_udp = set()
        self.frames = 0
        self.start = None
        self.skipped = {}
        self._notes = []

    # -- shared state ---------------------------------------------------------------

    def _learn(self, learned):
        self.keying.learn(learned)

    def _report(self, proto, client, server, frame):
        report = FlowReport(len(self._reports) + 1, proto, endpoint(*client), endpoint(*server),
                            first_frame=frame)
        report.payload_bytes = {DIR_C2S: 0, DIR_S2C: 0}
        self._reports.append(report)
        return report

    # -- frames ----------------------------------------------------------------------

    def feed_frame(self, frame):
        self.frames += 1
        if self.start is None:
            self.start = frame.time
        packet = decode_frame(frame)
        if isinstance(packet, Skipped):
            self.skipped[packet.reason] = self.skipped.get(packet.reason, 0) + 1
            return []
        if packet.missing:
            key = "cut short by the snap length (payload bytes missing)"
            self.skipped[key] = self.skipped.get(key, 0) + 1
        if packet.proto == "tcp":
            return self._tcp_packet(packet)
        return self._udp_packet(packet)

    # -- TCP ---------------------------------------------------------------------------

    def _tcp_packet(self, packet):
        a, b = (packet.src, packet.sport), (packet.dst, packet.dport)
        key = _pair(a, b)
        flow = self._tcp.get(key)
        syn = bool(packet.flags & TCP_SYN)
        events = []
        if flow is not None and flow.closed and syn and not packet.flags & TCP_ACK:
            events.extend(self._close_tcp(key))
            flow = None
        if flow is None:
            if syn and packet.flags & TCP_ACK:
                client, server, syn_seen = b, a, True
            else:
                client, server, syn_seen = a, b, syn
            report = self._report("tcp", client, server, packet.number)
            decoder = TcpFlowDecoder(report, client, server, self.context, syn_seen)
            if not syn_seen:
                report.note("no SYN in the capture: client and server guessed from the first "
                            "packet")
            flow = self._tcp[key] = _TcpFlow(report, client, server, decoder, self.budget,
                                              self.hints.limits)
        direction = DIR_C2S if a == flow.client else DIR_S2C
        flow.report.packets += 1
        flow.last = (packet.time, packet.number)
        flow.report.payload_bytes[direction] += len(packet.payload)
        stream = flow.streams[direction]
        items = stream.segment(packet.seq, packet.payload, packet.time, packet.number,
                               syn=syn, fin=bool(packet.flags & TCP_FIN))
        events.extend(self._tcp_items(flow, direction, items))
        if packet.flags & TCP_RST or all(s.fin_seen for s in flow.streams.values()):
            flow.closed = True
        return events

    def _tcp_items(self, flow, direction, items):
        events = []
        for item in items:
            if isinstance(item, Data):
                events.extend(flow.decoder.data(direction, item))
            else:
                events.extend(flow.decoder.gap(direction, item))
        return events

    def _close_tcp(self, key):
        flow = self._tcp.pop(key)
        events = []
        for direction, stream in flow.streams.items():
            events.extend(self._tcp_items(flow, direction, stream.finish(*flow.last)))
            if stream.retransmitted:
                flow.report.note("%s: %d bytes retransmitted (seen twice, kept once)"
                                 % (direction, stream.retransmitted))
        events.extend(flow.decoder.finish())
        return events

    # -- UDP -----------------------------------------------------------------------------

    def _udp_packet(self, packet):
        a, b = (packet.src, packet.sport), (packet.dst, packet.dport)
        key = _pair(a, b)
        flow = self._udp.get(key)
        if flow is None:
            report = self._report("udp", a, b, packet.number)
            flow = self._udp[key] = _UdpFlow(report)
            port = next((p for p in (packet.dport, packet.sport) if p in NOT_SKYPE_PORTS), None)
            if port is not None:
                flow.why = "UDP port %d (%s)" % (port, NOT_SKYPE_PORTS[port])
        report = flow.report
        direction = DIR_C2S if endpoint(*a) == report.client else DIR_S2C
        report.packets += 1
        report.payload_bytes[direction] += len(packet.payload)
        if flow.why is not None:
            return []
        result = self.datagrams.decode(packet)
        self.keying.learn(result.learned)
        if result.decoded:
            flow.skype = True
            self._skype_udp.add(key)
        elif result.skype:
            flow.failed += 1
        else:
            flow.not_skype += 1
        known = self.survey_in is None or key in self.survey_in.skype_udp or flow.skype
        if not known or not result.skype and not result.decoded:
            return []
        if result.decoded:
            report.decoded_units += 1
        else:
            report.undecoded_units += 1
            report.why(direction, result.fields.get("why", "did not decode"))
        fields = dict(result.fields)
        return [CaptureEvent(report.flow, packet.time, packet.number, direction, endpoint(*a),
                             endpoint(*b), "udp", fields, result.decoded)]

    def _finish_udp(self, flow):
        report = flow.report
        if flow.skype:
            report.kind = C.KIND_UDP_SKYPE
            if flow.not_skype:
                report.note("%d datagrams are not Skype-shaped" % flow.not_skype)
        elif flow.failed:
            report.kind = C.KIND_UDP_UNOPENED
            report.why("both", "no datagram opened with any keying address (%d Skype-shaped, "
                               "%d not): the sender keyed them with a public address the "
                               "capture does not show; try --public-ip" % (flow.failed,
                                                                          flow.not_skype))
        else:
            report.kind = C.KIND_UDP_OTHER
            report.note((flow.why or "no datagram has a Skype header") + ": not Skype")
        report.description = C.DESCRIPTIONS[report.kind]

    # -- the end ----------------------------------------------------------------------------

    def finish(self):
        events = []
        for key in list(self._tcp):
            events.extend(self._close_tcp(key))
        for flow in self._udp.values():
            self._finish_udp(flow)
        if self.budget.exhausted:
            self._notes.append("the total reassembly bound (%d bytes) was hit %d times"
                               % (self.budget.limit, self.budget.exhausted))
        return events

    def summary(self):
        summary = CaptureSummary(self.frames, self.start, dict(self.skipped),
                                 sorted(self._reports, key=lambda r: r.flow),
                                 self.keying.to_json(), list(self._notes))
        return summary

    def survey(self):
        return Survey(list(self.keying), frozenset(self.context.plain_servers),
                      frozenset(self._skype_udp))


def decode_capture(open_frames, hints=DecodeHints()):
    """Yield the events of a capture, then its summary.

    ``open_frames()`` returns a fresh iterator of
    :class:`~blissnode.capture.readers.Frame` (it is called twice).  A
    damaged file (:class:`CaptureFormatError`) ends both passes where the
    damage is; the summary carries the message in ``error`` and the
    exception is raised after the summary was yielded."""
    error = None
    first = CaptureDecoder(hints)
    try:
        for frame in open_frames():
            first.feed_frame(frame)
    except CaptureFormatError as e:
        error = e
    first.finish()
    second = CaptureDecoder(hints, first.survey())
    origin = first.start or 0.0
    try:
        for frame in open_frames():
            for event in second.feed_frame(frame):
                event.origin = origin
                yield event
    except CaptureFormatError:
        pass
    for event in second.finish():
        event.origin = origin
        yield event
    summary = second.summary()
    if error is not None:
        summary.error = str(error)
    yield summary
    if error is not None:
        raise error
