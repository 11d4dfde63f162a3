"""
A record of everything a client did, for tests and for the command line.

Each :class:`Event` is one step: a datagram or packet sent or received (with
the decoded commands), a key learned, an error.  The CLI prints one line per
event (:meth:`Event.line`) or the JSON of all of them.
"""

import attr

from blissnode.wire.errors import ProtocolError
from blissnode.wire.objects import objects_to_json

SENT = "sent"
RECEIVED = "received"
INFO = "info"
ERROR = "error"

_ARROWS = {SENT: "->", RECEIVED: "<-", INFO: "--", ERROR: "!!"}


def command_json(command):
    """A command as JSON with its body decoded when it decodes."""
    out = command.to_json()
    try:
        out["objects"] = objects_to_json(command.objects())
    except ProtocolError as e:
        out["objects_error"] = str(e)
    return out


#: Items shown per list level in one line (the rest are counted).
SHOW_ITEMS = 6


def _short_items(items, depth=0):
    parts = []
    for item in items[:SHOW_ITEMS]:
        t, i, v = item.get("type"), item.get("id"), item.get("value")
        name = {0: "INT", 1: "INT64", 2: "ADDR", 3: "STRING", 4: "BLOB", 5: "LIST",
                6: "INTARRAY"}.get(t, str(t))
        if t == 5 and isinstance(v, list):
            text = "{%s}" % _short_items(v, depth + 1) if depth < 2 else "{...}"
        elif t == 4 and isinstance(v, str) and len(v) > 24:
            text = "%d bytes" % (len(v) // 2)
        elif t == 6 and isinstance(v, list) and len(v) > 6:
            text = "[%s, ... %d values]" % (", ".join(map(str, v[:4])), len(v))
        elif t == 2 and isinstance(v, dict):
            text = "%s:%s" % (v.get("ip"), v.get("port"))
        elif t == 3 and isinstance(v, str):
            try:
                text = '"%s"' % bytes.fromhex(v).decode("utf-8")
            except ValueError:
                text = v
        elif t == 1 and isinstance(v, int):
            text = "0x%016X" % v
        else:
            text = str(v)
        parts.append("%s 0x%X = %s" % (name, i, text))
    if len(items) > SHOW_ITEMS:
        parts.append("... %d more" % (len(items) - SHOW_ITEMS))
    return ", ".join(parts)


def describe_command(command_js):
    """``cmd 31 reply #0x6d2f {INT 0xB = 44, ...}``"""
    rid = command_js.get("request_id")
    head = "cmd %d %s" % (command_js["cmd"], command_js["kind_name"])
    if rid is not None:
        head += " #%04x" % rid
    if "objects" in command_js:
        head += " {%s}" % _short_items(command_js["objects"])
    else:
        head += " (body %s)" % command_js.get("objects_error", "?")
    return head


@attr.s(slots=True)
class Event:
    """One step.  ``time`` is seconds since the transcript started."""

    time = attr.ib()
    transport = attr.ib()      # "udp" or "tcp"
    direction = attr.ib()      # sent / received / info / error
    what = attr.ib()           # short name: "probe", "nack", "packet", ...
    details = attr.ib(factory=dict)

    def to_json(self):
        return {"time": round(self.time, 6), "transport": self.transport,
                "direction": self.direction, "what": self.what,
                "details": self.details}

    def line(self):
        text = "%8.3f %s %s %s" % (self.time, self.transport.upper(),
                                   _ARROWS.get(self.direction, "  "), self.what)
        d = self.details
        extra = []
        for key in ("packet_id", "kind", "ip", "your_ip", "nseed", "peer", "message"):
            if key in d:
                value = d[key]
                if key in ("packet_id", "nseed") and isinstance(value, int):
                    value = "0x%04x" % value if key == "packet_id" else "0x%08x" % value
                extra.append("%s=%s" % (key, value))
        if extra:
            text += " " + " ".join(extra)
        for command in d.get("commands", ()):
            text += "\n" + " " * 13 + describe_command(command)
        return text


class Transcript:
    """An append-only list of :class:`Event` with a clock."""

    def __init__(self, clock=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self._clock = clock
        self._start = clock.seconds()
        self.events = []

    def add(self, transport, direction, what, **details):
        event = Event(self._clock.seconds() - self._start, transport, direction,
                      what, details)
        self.events.append(event)
        return event

    def find(self, what=None, direction=None, transport=None):
        return [e for e in self.events
                if (what is None or e.what == what)
                and (direction is None or e.direction == direction)
                and (transport is None or e.transport == transport)]

    def commands(self, direction=None, transport=None):
        """Every command (JSON) sent/received, in order."""
        out = []
        for e in self.events:
            if (direction is None or e.direction == direction) and \
                    (transport is None or e.transport == transport):
                out.extend(e.details.get("commands", ()))
        return out

    def to_json(self):
        return [e.to_json() for e in self.events]

    def lines(self):
        return [e.line() for e in self.events]
