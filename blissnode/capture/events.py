"""
What the capture decoder hands out: one :class:`CaptureEvent` per decoded
unit (a datagram, a record, a handshake step), and at the end a
:class:`FlowReport` per flow plus the :class:`CaptureSummary`.

Everything converts to plain JSON values (``to_json``): bytes as lower-case
hex, object lists in the item shape of the shared vectors, addresses as
``{"ip", "port"}`` inside object lists and ``"ip:port"`` elsewhere.
"""

import attr

__all__ = ["DIR_C2S", "DIR_S2C", "Unit", "CaptureEvent", "FlowReport", "CaptureSummary", "endpoint"]

#: Directions of a TCP flow (client = the side that sent the SYN).
DIR_C2S = "c2s"
DIR_S2C = "s2c"


def endpoint(ip, port):
    """``ip:port`` (``[ip]:port`` for IPv6)."""
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


@attr.s(slots=True)
class CaptureEvent(object):
    """One decoded unit.

    ``layer`` names what it is: ``udp``, ``prelude``, ``dh384``,
    ``seed-exchange``, ``peer-record``, ``server-hello``, ``key-exchange``,
    ``server-record``, ``gap`` or ``error``; ``fields`` holds the decoded
    content; ``decoded`` is false for a unit that was recognised but could
    not be opened (the fields then say why).
    """

    flow = attr.ib()
    time = attr.ib()
    frame = attr.ib()
    direction = attr.ib()
    src = attr.ib()
    dst = attr.ib()
    layer = attr.ib()
    fields = attr.ib(factory=dict)
    decoded = attr.ib(default=True)
    #: Time origin of ``to_json`` (the capture's first frame, set by
    #: :func:`~blissnode.capture.decoder.decode_capture`).
    origin = attr.ib(default=0.0)

    def to_json(self, start=None):
        start = self.origin if start is None else start
        out = {
            "flow": self.flow,
            "frame": self.frame,
            "time": None if self.time is None else round(self.time - start, 6),
            "direction": self.direction,
            "src": self.src,
            "dst": self.dst,
            "layer": self.layer,
        }
        if not self.decoded:
            out["decoded"] = False
        for key, value in self.fields.items():
            out[key if key not in out else "field_" + key] = value
        return out


@attr.s(slots=True)
class FlowReport(object):
    """What one flow was and how much of it decoded.

    ``kind`` is a short class name (``classic-peer``, ``dh384-peer``,
    ``https-prelude-peer``, ``server-plain``, ``server-dh384``, ``tls``,
    ``http``, ``udp-skype``, ``udp-unopened``, ``udp-other``, ``empty``, ``unknown``);
    ``description`` says
    the same for people; ``undecoded`` lists ``{"direction", "why"}`` for
    what could not be decoded; ``notes`` anything else worth knowing.
    """

    flow = attr.ib()
    proto = attr.ib()
    client = attr.ib()
    server = attr.ib()
    kind = attr.ib(default="unknown")
    description = attr.ib(default="")
    packets = attr.ib(default=0)
    payload_bytes = attr.ib(factory=dict)
    decoded_units = attr.ib(default=0)
    undecoded_units = attr.ib(default=0)
    undecoded = attr.ib(factory=list)
    notes = attr.ib(factory=list)
    first_frame = attr.ib(default=None)

    def why(self, direction, text):
        entry = {"direction": direction, "why": text}
        if entry not in self.undecoded:
            self.undecoded.append(entry)

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)

    def to_json(self):
        return {
            "flow": self.flow,
            "proto": self.proto,
            "client": self.client,
            "server": self.server,
            "kind": self.kind,
            "description": self.description,
            "first_frame": self.first_frame,
            "packets": self.packets,
            "payload_bytes": dict(self.payload_bytes),
            "decoded_units": self.decoded_units,
            "undecoded_units": self.undecoded_units,
            "undecoded": list(self.undecoded),
            "notes": list(self.notes),
        }


@attr.s(slots=True)
class CaptureSummary(object):
    """The end of the output: frame counts, every flow's report, the
    keying addresses the UDP decoder used, and what did not decode."""

    frames = attr.ib(default=0)
    start = attr.ib(default=None)
    skipped = attr.ib(factory=dict)
    flows = attr.ib(factory=list)
    keying_addresses = attr.ib(factory=list)
    notes = attr.ib(factory=list)
    error = attr.ib(default=None)

    @property
    def decoded_units(self):
        return sum(f.decoded_units for f in self.flows)

    @property
    def undecoded_units(self):
        return sum(f.undecoded_units for f in self.flows)

    def kinds(self):
        out = {}
        for f in self.flows:
            out[f.kind] = out.get(f.kind, 0) + 1
        return dict(sorted(out.items()))

    def to_json(self):
        undecoded = []
        for f in self.flows:
            for entry in f.undecoded:
                undecoded.append("flow %d (%s) %s: %s" % (
                    f.flow, f.description or f.kind, entry["direction"], entry["why"]))
        return {"summary": {
            "frames": self.frames,
            "start_time": self.start,
            "skipped_frames": dict(self.skipped),
            "flow_kinds": self.kinds(),
            "decoded_units": self.decoded_units,
            "undecoded_units": self.undecoded_units,
            "keying_addresses": list(self.keying_addresses),
            "flows": [f.to_json() for f in self.flows],
            "undecoded": undecoded,
            "notes": list(self.notes),
            "error": self.error,
        }}


@attr.s(slots=True)
class Unit(object):
    """What a stream decoder found, before the flow decoder adds flow,
    time and direction: a layer name, the fields, and whether it opened."""

    layer = attr.ib()
    fields = attr.ib(factory=dict)
    decoded = attr.ib(default=True)
