"""
Decoding both directions of a peer connection (client to supernode, relay
or other client) from its first byte (tcp.md 2-5, supernode.md 2.2,
ERRATA):

* an optional port-443 prelude: the client's 72-byte SSLv2 ClientHello;
  the node answers with the 79-byte ServerHello or, as some real nodes
  did, with nothing and goes straight to its seed exchange;
* an optional DH-384 opening (5.5+; never on port 443), decodable only
  with the shared secret ``K``;
* the seed exchange and the RC4 record stream, with commands and their
  object lists;
* a type-4 record (``05 04 00``), after which that direction is in clear
  and carries the event-server framing (after a cmd 7, ERRATA): those bytes
  go to a :class:`~blissnode.capture.server_streams.ServerTransportDecoder`
  with the ``inner`` opening, shared by both directions.
"""

from blissnode.capture.annotate import commands_json
from blissnode.capture.dh_opening import DhOpening
from blissnode.capture.events import DIR_C2S, DIR_S2C, Unit
from blissnode.capture.server_streams import OPENING_INNER, ROLE_EVENT, ServerTransportDecoder
from blissnode.wire.errors import ProtocolError
from blissnode.wire.https_prelude import (
    CLIENT_HELLO_LENGTH,
    CLIENT_HELLO_TEMPLATE,
    SERVER_HELLO_LENGTH,
    SERVER_HELLO_TEMPLATE,
    parse_client_hello,
)
from blissnode.wire.seed_exchange import EXCHANGE_SIZE
from blissnode.wire.tcp import ClearStreamRecord, PacketRecord, StreamDecoder

__all__ = ["PeerStreamDecoder", "INNER_NOTE"]

INNER_NOTE = "event-server framing the node carries in clear after cmd 7 and a type-4 record"
_TLS_RECORD = b"\x16\x03\x01"
#: GUESS: a ServerHello record longer than this is not the node's 79-byte one.
_MAX_SERVER_HELLO = 1024


class _Direction(object):
    def __init__(self, direction, prelude, dh, secret):
        self.direction = direction
        self.side = "client" if direction == DIR_C2S else "server"
        self.stage = "prelude" if prelude else "dh" if dh else "seed"
        self.dh = DhOpening(self.side, secret) if dh else None
        self.stream = StreamDecoder(extra=secret if (dh and secret) else b"")
        self.buf = bytearray()
        self.base = 0          # stream offset of the seed exchange
        self.stopped = None


class PeerStreamDecoder(object):
    """Sans-IO: :meth:`feed` ``(direction, bytes)``; returns :class:`Unit`
    values.  Addresses that decoded commands reveal are collected in
    :attr:`learned` (the caller drains it)."""

    def __init__(self, client_ip, server_ip, prelude=False, dh=False, dh_secret=None,
                 keys=None, keys_label="--data-dir"):
        self.client_ip, self.server_ip = client_ip, server_ip
        self.keys, self.keys_label = keys, keys_label
        self._dirs = {d: _Direction(d, prelude, dh, dh_secret) for d in (DIR_C2S, DIR_S2C)}
        self.inner = None
        self.learned = []

    def stopped(self, direction):
        d = self._dirs[direction]
        if d.stage == "inner":
            return self.inner.stopped(direction)
        return d.stopped

    def stop(self, direction, why):
        d = self._dirs[direction]
        if d.stage == "inner":
            self.inner.stop(direction, why)
        elif d.stopped is None:
            d.stopped = why

    def undecoded(self):
        out = [(d.direction, d.stopped) for d in self._dirs.values() if d.stopped]
        out.extend((d.direction, "DH-384 peer stream: " + d.dh.unfinished())
                   for d in self._dirs.values()
                   if not d.stopped and d.dh is not None and d.dh.unfinished())
        if self.inner is not None:
            out.extend((direction, "inner " + why) for direction, why in self.inner.undecoded())
        return out

    def resume_after_gap(self, direction, offset, length):
        """A hole in the stream: a :class:`Unit` if decoding can go on after
        it, else None.  GUESS: a hole of exactly 79 bytes at the start of
        the node's direction of a port-443 connection is its ServerHello
        (real captures lost that segment and kept the seed exchange after
        it); nothing in it is needed to decode the rest."""
        d = self._dirs[direction]
        if (d.side == "server" and d.stage == "prelude" and not d.buf and offset == 0
                and length == SERVER_HELLO_LENGTH):
            d.base = length
            d.stage = "dh" if d.dh is not None else "seed"
            return Unit("prelude", {"server_hello": None, "missing_bytes": length,
                                    "meaning": "GUESS: the %d bytes missing from the capture at "
                                               "the start of the node's direction are its "
                                               "ServerHello; decoding goes on after them"
                                               % length})
        return None

    def feed(self, direction, data):
        d = self._dirs[direction]
        if d.stopped or not data:
            return []
        if d.stage == "inner":
            return self._inner_units(direction, data)
        units = []
        if d.stage == "prelude":
            data = self._prelude(d, data, units)
            if data is None:
                return units
        if d.stage == "dh":
            found, data, state = d.dh.feed(data)
            units.extend(found)
            if state == "stuck":
                d.stopped = "DH-384 peer stream: " + d.dh.why
                return units
            if state == "more":
                return units
            d.base += d.dh.consumed
            d.stage = "seed"
        if d.stage == "seed":
            units.extend(self._records(d, data))
        return units

    # -- prelude ----------------------------------------------------------------

    def _prelude(self, d, data, units):
        """Consume the prelude; return the bytes after it, or None to wait."""
        d.buf += data
        buf = bytes(d.buf)
        if d.side == "client":
            if len(buf) < CLIENT_HELLO_LENGTH:
                return None
            try:
                hello, used = parse_client_hello(buf)
            except ProtocolError as e:
                d.stopped = "port-443 prelude: %s" % (e,)
                units.append(Unit("prelude", {"why": d.stopped, "data": buf[:80].hex()}, False))
                return None
            units.append(Unit("prelude", {
                "sslv2_client_hello": {"version": "%04x" % hello.version,
                                       "cipher_specs": len(hello.cipher_specs),
                                       "challenge": bytes(hello.challenge).hex(),
                                       "skype_template": buf[:len(CLIENT_HELLO_TEMPLATE)]
                                       == CLIENT_HELLO_TEMPLATE},
                "meaning": "fake HTTPS prelude of a Skype client on port 443 (not real TLS)"}))
        else:
            if len(buf) < 5 and _TLS_RECORD.startswith(buf[:3]):
                return None
            if buf[:3] == _TLS_RECORD:
                used = 5 + int.from_bytes(buf[3:5], "big")
                if used > _MAX_SERVER_HELLO:
                    used = 0
                elif len(buf) < used:
                    return None
            else:
                used = 0
            if used:
                units.append(Unit("prelude", {
                    "server_hello": buf[:used].hex(), "length": used,
                    "skype_template": buf[:used] == SERVER_HELLO_TEMPLATE}))
            else:
                units.append(Unit("prelude", {
                    "server_hello": None,
                    "meaning": "no ServerHello: the node went straight to its seed exchange "
                               "(ERRATA)"}))
        d.buf = bytearray()
        d.base = used
        d.stage = "dh" if d.dh is not None else "seed"
        return buf[used:]

    # -- seed exchange and records -------------------------------------------------

    def _records(self, d, data):
        units = []
        had_exchange = d.stream.exchange is not None
        try:
            framed = d.stream.feed_framed(data)
        except ProtocolError as e:
            if d.stream.exchange is None:
                d.stopped = "the seed exchange does not decrypt (%s)" % (e,)
                units.append(Unit("seed-exchange", {"why": d.stopped,
                                                    "data": bytes(data[:EXCHANGE_SIZE]).hex()},
                                  False))
            else:
                d.stopped = "record stream broke: %s" % (e,)
                units.append(Unit("error", {"why": d.stopped}, False))
            return units
        if not had_exchange and d.stream.exchange is not None:
            ex = d.stream.exchange
            units.append(Unit("seed-exchange", {"seed": "%08x" % ex.seed,
                                                "greeting": ex.greeting.to_json(),
                                                "offset": d.base}))
        sender, receiver = ((self.client_ip, self.server_ip) if d.direction == DIR_C2S
                            else (self.server_ip, self.client_ip))
        for offset, raw, record in framed:
            js = record.to_json()
            if isinstance(record, PacketRecord):
                js["commands"] = commands_json(record.commands, sender, receiver, self.learned)
            if isinstance(record, ClearStreamRecord):
                js["meaning"] = "this direction leaves RC4 here: " + INNER_NOTE
            js["offset"] = d.base + EXCHANGE_SIZE + offset
            js["raw"] = raw.hex()
            units.append(Unit("peer-record", js))
        if d.stream.switched:
            d.stage = "inner"
            if self.inner is None:
                self.inner = ServerTransportDecoder(OPENING_INNER, self.keys, role=ROLE_EVENT,
                                                    keys_label=self.keys_label)
            units.extend(self._inner_units(d.direction, d.stream.take_clear()))
        return units

    def _inner_units(self, direction, data):
        units = self.inner.feed(direction, data)
        for unit in units:
            unit.fields["carried"] = INNER_NOTE
        return units
