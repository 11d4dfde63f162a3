"""
One TCP peer stream (a client and a supernode, relay or other node),
sans-IO, for both ends.

The pieces are elsewhere in :mod:`blissnode.wire` (the port-443 prelude,
DH-384, the seed exchange, records); this module is the state machine that
puts them in the order real nodes used, so that the supernode, its
connect-back, the reference client and the tests all run the same one (in
the spirit of h11's ``Connection``: bytes in, events out)::

    prelude   SSLv2 hello -> 79-byte ServerHello; HTTP -> 404 and close;
              16/17 03 01 -> close (a login/event client on the wrong port)
    opening   14 bytes whose greeting decrypts -> classic; 48+ that do not
              -> DH-384 (5.5+), never after the 443 prelude or where the
              listener forbids it (ERRATA: 443 never uses DH-384)
    dh        B + filler at once; after the client's hash our hash ALONE,
              our seed exchange only in a later turn (SendLater): SOS2 and
              the real nodes read them with separate recv() calls (ERRATA)
    records   RC4 each direction; a type-4 record switches that direction
              to clear (ERRATA: the event server carried after cmd 7)

Events returned by ``receive``:

``Send(data)`` write now; ``SendLater(data)`` write in a later reactor turn
(or now, before anything else, via :meth:`PeerServer.release_start`);
``CloseAfter()`` close once written; ``Established(dh, prelude, exchange)``
the client's seed exchange is in; ``RecordIn(record)`` one record;
``SwitchedToClear(data)`` the peer's type-4 record arrived, ``data`` are the
clear bytes that followed it; ``ClearData(data)`` later clear bytes.

The opening variants are a list (:data:`PEER_OPENINGS`) a version plugin can
extend: each entry looks at the first bytes and either passes, asks for
more, or takes the connection.
"""

import attr

from blissnode.wire import dh384, https_prelude
from blissnode.wire.errors import ProtocolError
from blissnode.wire.seed_exchange import (
    EXCHANGE_SIZE,
    Greeting,
    build_seed_exchange,
    build_server_start,
    parse_seed_exchange,
    random_padding,
    random_seed,
)
from blissnode.wire.tcp_records import ClearStreamRecord, RecordParser

__all__ = [
    "Send", "SendLater", "CloseAfter", "Established", "RecordIn", "SwitchedToClear",
    "ClearData", "Progress", "PeerOpening", "PreludeOpening", "ClassicOpening", "DH384Opening",
    "PEER_OPENINGS", "PeerServer", "PeerClient", "MAX_HANDSHAKE_BUFFER",
]

#: Upper bound on what the pre-record phases buffer (DH opening 112 bytes +
#: hash + a classic opening): anything longer is not a Skype client.
MAX_HANDSHAKE_BUFFER = 512


@attr.s(frozen=True, slots=True)
class Send(object):
    data = attr.ib(converter=bytes)


@attr.s(frozen=True, slots=True)
class SendLater(object):
    data = attr.ib(converter=bytes)


@attr.s(frozen=True, slots=True)
class CloseAfter(object):
    why = attr.ib(default="")


@attr.s(frozen=True, slots=True)
class Established(object):
    dh = attr.ib()
    prelude = attr.ib()
    exchange = attr.ib()


@attr.s(frozen=True, slots=True)
class RecordIn(object):
    record = attr.ib()


@attr.s(frozen=True, slots=True)
class SwitchedToClear(object):
    data = attr.ib(converter=bytes)


@attr.s(frozen=True, slots=True)
class ClearData(object):
    data = attr.ib(converter=bytes)


@attr.s(frozen=True, slots=True)
class Progress(object):
    """A step of the client's opening (for transcripts): ``what`` was
    received or sent, with details."""

    direction = attr.ib()
    what = attr.ib()
    details = attr.ib(factory=dict)


NEED_MORE = "need-more"


class PeerOpening(object):
    """One way a peer stream may open.  :meth:`take` looks at the buffered
    first bytes; it returns None (not this one), :data:`NEED_MORE`, or the
    events of taking the connection (it consumes from ``session.buf`` and
    moves ``session.state`` on; one that leaves the state at ``"opening"``
    handled a prelude and lets the next ones decide)."""

    def take(self, session):
        raise NotImplementedError


class PreludeOpening(PeerOpening):
    """What comes before the Skype bytes (udp.md 9.2, wire.https_prelude):
    the SSLv2 hello of port 443 (answered with the ServerHello; real clients
    never wait for it), an HTTP request (404), a login/event client (close).
    Passes for anything else."""

    def take(self, session):
        if session.prelude_done:
            return None
        decision = https_prelude.decide_prelude(bytes(session.buf))
        if decision.consume is None:
            return NEED_MORE
        session.prelude_done = True
        session.state = "opening"
        events = [Send(decision.reply)] if decision.reply else []
        if decision.close:
            session.prelude = decision.cls
            session.state = "refused"
            return events + [CloseAfter("%s opening" % (decision.cls,))]
        if decision.consume:
            session.prelude = decision.cls
            del session.buf[:decision.consume]
        return events  # the state stays "opening": the next openings go on


class ClassicOpening(PeerOpening):
    """A classic client: 14 bytes whose greeting decrypts to the known
    constant (a DH value does so with probability 2^-56)."""

    def take(self, session):
        if len(session.buf) < EXCHANGE_SIZE:
            return NEED_MORE
        try:
            exchange, rc4_in = parse_seed_exchange(bytes(session.buf[:EXCHANGE_SIZE]))
        except ProtocolError:
            return None
        del session.buf[:EXCHANGE_SIZE]
        start, session._rc4_out = session.server_start(b"")
        session._rc4_in = rc4_in
        return [Send(start)] + session.established(exchange)


class DH384Opening(PeerOpening):
    """A 5.5+ client: 48+ bytes that are not a classic exchange, where
    DH-384 is allowed (never after the SSLv2 prelude, ERRATA)."""

    def take(self, session):
        if not session.dh_allowed():
            raise ProtocolError("no classic seed exchange, and DH-384 is not used "
                                "on this listener or after the 443 prelude")
        if len(session.buf) < dh384.VALUE_SIZE:
            return NEED_MORE
        session.dh = True
        session._dh = dh384.ServerHandshake(session.dh_keypair, hash_with_public=False)
        session.state = "dh"
        return []


#: The openings tried in order after the prelude; the last one decides.
PEER_OPENINGS = (ClassicOpening(), DH384Opening())


class _Stream(object):
    """Both ends: RC4 records in, the clear switch, RC4 records out."""

    def _init_records(self, max_body):
        self._rc4_in = self._rc4_out = None
        self._parser = RecordParser(max_body) if max_body else RecordParser()
        self.clear_in = False
        self.clear_out = False

    def _records(self, data):
        """Events for stream bytes after the seed exchange."""
        if self.clear_in:
            return [ClearData(data)] if data else []
        if not data:
            return []
        events = [RecordIn(r) for r in self._parser.feed(self._rc4_in.crypt(data))]
        if self._parser.switched:
            self.clear_in = True
            rest = len(self._parser.take_rest())
            events.append(SwitchedToClear(data[len(data) - rest:] if rest else b""))
        return events

    def encode(self, record_bytes):
        """Record bytes as they go on the wire (RC4, or clear after our switch)."""
        if self.clear_out:
            return bytes(record_bytes)
        return self._rc4_out.crypt(record_bytes)

    def switch_to_clear(self):
        """Our type-4 record (RC4-encrypted); everything we send after it is
        clear."""
        data = self.encode(ClearStreamRecord().encode())
        self.clear_out = True
        return data


class PeerServer(_Stream):
    """The accepting end (a supernode).

    :param allow_dh: False on the 443 listener.
    :param dh_keypair: the connection's DH-384 key pair (new when needed).
    :param server_start: ``extra -> (bytes, rc4_state)`` of our seed
        exchange + padding (:func:`build_server_start`).
    :param openings: after the prelude (:data:`PEER_OPENINGS`).
    """

    def __init__(self, allow_dh=True, dh_keypair=None, server_start=None,
                 openings=PEER_OPENINGS, max_body=None, prelude=True):
        self.allow_dh = allow_dh
        self.dh_keypair = dh_keypair
        self._server_start = server_start or (lambda extra: build_server_start(extra=extra))
        self.openings = (PreludeOpening(),) + tuple(openings) if prelude else tuple(openings)
        self.prelude_done = not prelude
        self.prelude = None
        self.dh = False
        self.K = b""
        self.buf = bytearray()
        self.state = "prelude" if prelude else "opening"
        self._dh = None
        self._pending_start = None
        self._init_records(max_body)

    def dh_allowed(self):
        return self.allow_dh and self.prelude != https_prelude.CLS_SSLV2_HELLO

    def server_start(self, extra):
        return self._server_start(extra)

    def receive(self, data):
        """Feed client bytes; return events.  Raises ProtocolError."""
        if self.state == "records":
            return self._records(bytes(data))
        if self.state == "refused":
            return []
        self.buf += data
        if self.state in ("prelude", "opening"):
            events = self._try_openings()
        elif self.state == "dh":
            events = self._dh_step()
        else:
            events = self._client_seed()
        if self.state != "refused" and len(self.buf) > MAX_HANDSHAKE_BUFFER:
            raise ProtocolError("%d bytes without a handshake" % len(self.buf))
        return events

    def _try_openings(self):
        events = []
        for opening in self.openings:
            result = opening.take(self)
            if result is None:
                continue
            if result == NEED_MORE:
                return events
            events += result
            if self.state == "opening":
                continue  # it took a prelude: the next openings decide
            if self.state == "refused":
                return events
            if self.state == "dh":
                events += self._dh_step()
            return events
        raise ProtocolError("no opening applies")

    def _dh_step(self):
        data, self.buf = bytes(self.buf), bytearray()
        out, done = self._dh.receive(data)
        events = [Send(out)] if out else []
        if not done:
            return events
        self.K = self._dh.K
        start, self._rc4_out = self.server_start(self.K)
        # Our hash alone now (it is ``out``), the seed exchange later (ERRATA).
        self._pending_start = start
        events.append(SendLater(start))
        self.buf = bytearray(self._dh.remainder)
        self._dh = None
        self.state = "client-seed"
        return events + self._client_seed()

    def _client_seed(self):
        if len(self.buf) < EXCHANGE_SIZE:
            return []
        exchange, self._rc4_in = parse_seed_exchange(bytes(self.buf[:EXCHANGE_SIZE]), self.K)
        del self.buf[:EXCHANGE_SIZE]
        return self.established(exchange)

    def established(self, exchange):
        rest, self.buf = bytes(self.buf), bytearray()
        self.state = "records"
        return [Established(self.dh, self.prelude, exchange)] + self._records(rest)

    def release_start(self):
        """Our DH-384 seed exchange if it has not gone yet, else b""."""
        start, self._pending_start = self._pending_start, None
        return start or b""

    def encode(self, record_bytes):
        """Record bytes for the wire, after our seed exchange if it is
        still pending (it must precede everything we send on the stream)."""
        return self.release_start() + _Stream.encode(self, record_bytes)

    def switch_to_clear(self):
        return self.release_start() + _Stream.switch_to_clear(self)


class PeerClient(_Stream):
    """The connecting end (the reference client, the firewall test's
    connect-back).

    :param https: send the SSLv2 prelude first (port 443; never DH-384 then).
    :param dh: run DH-384 first (5.5+ on the main port).
    :param greeting: our :class:`Greeting`; ``first_record``: record bytes
        sent with the seed exchange (a padding record, a first packet).
    """

    def __init__(self, https=False, dh=False, greeting=None, dh_filler=b"",
                 dh_keypair=None, first_record=b"", max_body=None, challenge=None,
                 accepted_finals=None):
        self.https = https
        self.dh = bool(dh and not https)
        self.greeting = greeting or Greeting()
        self.first_record = bytes(first_record)
        self.accepted_finals = accepted_finals
        self.state = "new"
        self.K = b""
        self.server_exchange = None
        self._challenge = challenge
        self._dh = dh384.ClientHandshake(dh_keypair, dh_filler) if self.dh else None
        self._buf = bytearray()
        self._progress = []
        self._init_records(max_body)

    def take_progress(self):
        """The :class:`Progress` steps since the last call (what was sent by
        :meth:`start` and :meth:`receive`, what was received)."""
        steps, self._progress = self._progress, []
        return steps

    def _sent(self, what, data, **details):
        self._progress.append(Progress("sent", what, dict(details, length=len(data))))
        return data

    def start(self):
        """The first bytes to send."""
        if self.https:
            import secrets

            self.state = "prelude"
            hello = https_prelude.build_client_hello(self._challenge or secrets.token_bytes(16))
            return self._sent("ssl client hello", hello)
        return self._start_exchange()

    def _start_exchange(self):
        if self._dh is not None:
            self.state = "dh"
            return self._sent("dh384 public value", self._dh.start())
        return self._send_seed()

    def _send_seed(self):
        seed = random_seed()
        data, self._rc4_out = build_seed_exchange(seed, self.greeting, self.first_record, self.K)
        if self.state != "records":  # the server's exchange may have come first
            self.state = "seed"
        return self._sent("seed + greeting", data, seed="%08x" % seed,
                          greeting=self.greeting.encode().hex(),
                          padding=bool(self.first_record))

    def receive(self, data):
        """Feed server bytes; ``(bytes to send, events)``.  Raises ProtocolError."""
        data = bytes(data)
        out = b""
        if self.state == "new" and not self.https and self._dh is None:
            # Both sides send independently (ERRATA): the server's seed
            # exchange may arrive before ours is sent.
            self.state = "seed"
        if self.state == "prelude":
            self._buf += data
            end = https_prelude.server_hello_record_length(self._buf)
            if end is None or len(self._buf) < end:
                return b"", []
            self._progress.append(Progress("received", "ssl server hello", dict(
                length=end, trailing=len(self._buf) - end)))
            data, self._buf = bytes(self._buf[end:]), bytearray()
            out += self._start_exchange()
        if self.state == "dh":
            sent, done = self._dh.receive(data)
            if sent:
                self._progress.append(Progress("received", "dh384 public value"))
                out += self._sent("dh384 hash", sent)
            if not done:
                return out, []
            self.K = self._dh.K
            self._progress.append(Progress("received", "dh384 hash",
                                           dict(message="shared secret agreed")))
            data = self._dh.remainder
            out += self._send_seed()
        events = []
        if self.state == "seed":
            self._buf += data
            if len(self._buf) < EXCHANGE_SIZE:
                return out, []
            head, data = bytes(self._buf[:EXCHANGE_SIZE]), bytes(self._buf[EXCHANGE_SIZE:])
            self._buf = bytearray()
            self.server_exchange, self._rc4_in = parse_seed_exchange(head, self.K)
            self._progress.append(Progress("received", "seed + greeting", dict(
                seed="%08x" % self.server_exchange.seed,
                greeting=self.server_exchange.greeting.encode().hex())))
            final = self.server_exchange.greeting.final
            if self.accepted_finals is not None and final not in self.accepted_finals:
                raise ProtocolError("server greeting ends in %02x, not one of %s" % (
                    final, "/".join("%02x" % f for f in self.accepted_finals)))
            self.state = "records"
            events.append(Established(self.dh, "sslv2_hello" if self.https else None,
                                      self.server_exchange))
        if self.state == "records":
            events += self._records(data)
        return out, events


def padding_record():
    """A first padding record as clients send it (random size)."""
    return random_padding().encode()
