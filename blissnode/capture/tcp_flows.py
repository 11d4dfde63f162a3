"""
One TCP flow from reassembled bytes to events: hold the first bytes until
the flow's class is known (:mod:`blissnode.capture.classify`), then run the
class's stream decoder over both directions in arrival order.

The held bytes are bounded (:data:`~blissnode.capture.classify.MAX_UNDECIDED`
per direction); a hole in a direction (:class:`~blissnode.capture.reassembly.Gap`)
stops that direction's decoding, since neither the RC4 stream nor the record
framing can be picked up again after lost bytes.
"""

from blissnode.capture import classify as C
from blissnode.capture.events import DIR_C2S, DIR_S2C, CaptureEvent, Unit
from blissnode.capture.peer_streams import PeerStreamDecoder
from blissnode.capture.server_streams import OPENING_DH384, OPENING_PLAIN, ServerTransportDecoder

__all__ = ["TcpFlowDecoder", "FlowContext"]


class FlowContext(object):
    """What the flows of one capture share: the server keys, the DH secrets
    by flow id, the server addresses known to speak the plain server
    transport, and a sink for learned addresses."""

    def __init__(self, keys=None, keys_label="--data-dir", dh_secrets=None,
                 plain_servers=(), learn=None):
        self.keys = keys
        self.keys_label = keys_label
        self.dh_secrets = dict(dh_secrets or {})
        self.plain_servers = set(plain_servers)
        self.learn = learn or (lambda learned: None)


class TcpFlowDecoder(object):
    """Decodes one flow; :meth:`data`, :meth:`gap` and :meth:`finish` return
    :class:`CaptureEvent` lists and keep the flow's report up to date."""

    def __init__(self, report, client, server, context, syn_seen=True):
        self.report = report
        self.client, self.server = client, server   # (ip, port)
        self.context = context
        self.syn_seen = syn_seen
        self.classification = None
        self.decoder = None
        self._held = []                   # (direction, Data) before classification
        self._held_bytes = {DIR_C2S: 0, DIR_S2C: 0}
        self._first = {DIR_C2S: bytearray(), DIR_S2C: bytearray()}
        self._ended = False

    # -- endpoints ----------------------------------------------------------------

    def _ends(self, direction):
        a, b = self.report.client, self.report.server
        return (a, b) if direction == DIR_C2S else (b, a)

    def _event(self, direction, item, unit):
        src, dst = self._ends(direction)
        if unit.decoded:
            self.report.decoded_units += 1
        else:
            self.report.undecoded_units += 1
        return CaptureEvent(self.report.flow, item.time, item.frame, direction, src, dst,
                            unit.layer, unit.fields, unit.decoded)

    # -- input --------------------------------------------------------------------

    def data(self, direction, item):
        if self.classification is None:
            self._held.append((direction, item))
            self._held_bytes[direction] += len(item.data)
            first = self._first[direction]
            if len(first) < C.MAX_UNDECIDED:
                first += item.data[:C.MAX_UNDECIDED - len(first)]
            forced = self._held_bytes[direction] >= C.MAX_UNDECIDED
            if not self._classify(final=forced):
                return []
            return self._replay()
        return self._feed(direction, item)

    def gap(self, direction, gap):
        events = []
        if self.classification is None:
            if gap.offset == 0:
                self._set_class(C.Classification(
                    C.KIND_UNKNOWN, "the first %d bytes of the %s direction are not decoded (%s): "
                    "the opening is missing" % (gap.length, direction, gap.reason)))
            else:
                self._classify(final=True)
            events.extend(self._replay())
        resume = getattr(self.decoder, "resume_after_gap", None)
        unit = resume(direction, gap.offset, gap.length) if resume else None
        if unit is not None:
            self.report.note("%s: %d bytes at stream offset %d are missing (%s); decoding went "
                             "on after them" % (direction, gap.length, gap.offset, gap.reason))
            events.append(self._event(direction, gap, unit))
            return events
        why = ("%d bytes at stream offset %d are missing (%s): the rest of this direction is "
               "not decoded" % (gap.length, gap.offset, gap.reason))
        self.report.note("%s: %s" % (direction, why))
        if self.decoder is not None and not self.decoder.stopped(direction):
            self.decoder.stop(direction, why)
            events.append(self._event(direction, gap, Unit("gap", {
                "offset": gap.offset, "length": gap.length, "reason": gap.reason,
                "why": why}, False)))
        return events

    def finish(self):
        events = []
        if self.classification is None:
            self._classify(final=True)
            events.extend(self._replay())
        if self.decoder is not None:
            for direction, why in self.decoder.undecoded():
                self.report.why(direction, why)
        elif self.classification.kind in (C.KIND_UNKNOWN, C.KIND_TLS_MIDSTREAM):
            why = self.classification.basis
            if not self.syn_seen:
                why += " (no SYN in the capture: the connection started before it)"
            self.report.why("both", why)
        return events

    # -- classification -----------------------------------------------------------------

    def _classify(self, final):
        server_key = "%s:%d" % self.server
        secret = self.context.dh_secrets.get(self.report.flow)
        found = C.classify_opening(bytes(self._first[DIR_C2S]), bytes(self._first[DIR_S2C]),
                                   final=final, server_port=self.server[1],
                                   server_spoke_plain=server_key in self.context.plain_servers,
                                   dh_secret=secret)
        if found is None:
            return False
        self._set_class(found, secret)
        return True

    def _set_class(self, found, secret=None):
        server_key = "%s:%d" % self.server
        self.classification = found
        report = self.report
        report.kind = found.kind
        report.description = C.DESCRIPTIONS[found.kind]
        report.note("class: " + found.basis)
        if found.role:
            report.note("role hint: %s server (port %d)" % (found.role, self.server[1]))
        keys, label = self.context.keys, self.context.keys_label
        if found.kind == C.KIND_CLASSIC:
            self.decoder = PeerStreamDecoder(self.client[0], self.server[0], keys=keys,
                                             keys_label=label)
        elif found.kind == C.KIND_PRELUDE:
            self.decoder = PeerStreamDecoder(self.client[0], self.server[0], prelude=True,
                                             keys=keys, keys_label=label)
        elif found.kind == C.KIND_DH_PEER:
            self.decoder = PeerStreamDecoder(self.client[0], self.server[0], dh=True,
                                             dh_secret=secret, keys=keys, keys_label=label)
        elif found.kind == C.KIND_SERVER_PLAIN:
            self.context.plain_servers.add(server_key)
            self.decoder = ServerTransportDecoder(OPENING_PLAIN, keys, role=found.role,
                                                  keys_label=label)
        elif found.kind == C.KIND_SERVER_DH:
            self.decoder = ServerTransportDecoder(OPENING_DH384, keys, dh_secret=secret,
                                                  role=found.role, keys_label=label)
        if secret is not None and found.kind not in (C.KIND_DH_PEER, C.KIND_SERVER_DH):
            report.note("--dh-secret given for this flow, but it has no DH-384 opening")

    def _replay(self):
        held, self._held = self._held, []
        self._first = None
        events = []
        for direction, item in held:
            events.extend(self._feed(direction, item))
        return events

    def _feed(self, direction, item):
        if self.decoder is None:
            return []
        units = self.decoder.feed(direction, item.data)
        learned = getattr(self.decoder, "learned", None)
        if learned:
            self.context.learn(list(learned))
            del learned[:]
        return [self._event(direction, item, unit) for unit in units]
