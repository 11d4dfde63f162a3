"""
The TCP side of the reference client: a client's session with its supernode.

Sequence (supernode.md 1-4, tcp.md 2-5, udp.md 9)::

    [443]   72-byte SSLv2 ClientHello   ->   <- 16 03 01 LL LL ... (kept: trailing bytes)
    [5.5+]  A + filler                  ->   <- B (+ filler) (+ hash "I")
            hash "O"                    ->   <- hash "I" (if not sent yet)
            seed + greeting [+ padding] ->   <- seed + greeting + padding record
            cmd 30                      ->   <- cmd 31 (ADDR 0x11 = our public address)
                                             <- cmd 11 + cmd 47 (acked)
    [5.x]   cmd 48                      ->   <- cmd 48 reply
            cmd 6                       ->   <- cmd 8
            cmd 37 + cmd 38             ->   <- ack
            cmd 40                      ->   <- cmd 42  (then cmd 43 from the tester)
            cmd 60                      ->   <- ack
            <- cmd 67 / 81 / 57 (a push forwarded to us) -> cmd 70 / 82 / 57 reply

:class:`SupernodeClientProtocol` does the bytes (with the wire layer only);
:class:`SupernodeSession` is the Deferred API on top;
:func:`connect_supernode` opens one.  Everything is recorded in a
:class:`~blissnode.client.transcript.Transcript`.
"""

import secrets

import attr
from twisted.internet import defer, error
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol

from blissnode.client.transcript import Transcript, command_json
from blissnode.wire.errors import ProtocolError
from blissnode.wire.objects import Int, ObjectList
from blissnode.wire.peer_session import Established, PeerClient, RecordIn
from blissnode.wire.seed_exchange import ACCEPTED_FINALS, Greeting, random_padding
from blissnode.wire.tcp_commands import (
    KIND_NOTIFICATION,
    KIND_REPLY,
    KIND_REQUEST,
    Command,
    IdCounter,
)
from blissnode.wire.tcp_records import AckRecord, PacketRecord, PaddingRecord, UnknownRecord

CMD_ACCEPT, CMD_ACCEPTED, CMD_REFUSED = 30, 31, 32
CMD_STATS, CMD_CHANNELS, CMD_CHANNEL = 11, 47, 48
CMD_SLOT, CMD_SLOT_REPLY = 6, 8
CMD_INFO, CMD_FLAGS = 37, 38
CMD_FIREWALL, CMD_FIREWALL_REPLY, CMD_FIREWALL_TOKEN = 40, 42, 43
CMD_PUBLISH = 60

#: Forwarded requests a client answers on its supernode session
#: (supernode.md 5.3, FAKE Query.cpp): 67 -> 70, 81 -> 82, 57 -> 57.
FORWARDED_ANSWERS = {67: 70, 81: 82, 57: 57}

#: Seconds to wait for an answer before failing a request.
REQUEST_TIMEOUT = 10.0
#: After cmd 31, how long to wait for the cmd 11/47 packet (both eras sent
#: it in the same TCP write, supernode.md 3.4).
STATS_WAIT = 2.0

RECORDS, CLOSED = "records", "closed"


class SupernodeRefused(Exception):
    """The supernode answered cmd 30 with cmd 32 (client refused)."""


class HandshakeFailed(Exception):
    """The supernode's first bytes were not what a client accepts."""


@attr.s
class AcceptResult:
    """What cmd 30 brought back."""

    reply = attr.ib()                    # the cmd 31 Command
    objects = attr.ib()                  # its ObjectList
    public_address = attr.ib()           # ADDR 0x11 (NetAddr) or None
    stack_version = attr.ib()            # INT 0xB
    supernode = attr.ib()                # INTARRAY 0x21 present
    stats = attr.ib(default=None)        # cmd 11 ObjectList
    channels = attr.ib(default=None)     # cmd 47 ObjectList


class SupernodeClientProtocol(Protocol):
    """The client end of one supernode TCP connection."""

    def __init__(self, profile, transcript, clock, https=False, node_id=None,
                 listen_port=None, answer_forwarded=True):
        self.profile = profile
        self.transcript = transcript
        self.clock = clock
        self.https = https
        self.node_id = node_id if node_id is not None else secrets.randbits(64)
        self.listen_port = listen_port if listen_port is not None else 1024 + secrets.randbelow(60000)
        self.answer_forwarded = answer_forwarded
        self.ids = IdCounter()
        self.state = None
        self.stream = None
        self._first_record = True
        self.handshake = defer.Deferred()
        self.lost = defer.Deferred()
        self.server_greeting = None
        self._reply_waiters = {}    # request id -> (Deferred, timer)
        self._ack_waiters = {}      # packet id -> (Deferred, timer)
        self._watchers = []         # (cmd, Deferred)
        self.received = []          # every Command received, in order
        self.forwarded = []         # forwarded requests we answered
        #: Called with each forwarded request after it was answered (the
        #: chat receiver learns of pushed cmd 67 proposals this way).
        self.forwarded_listeners = []
        #: Called with each type-5 session record (client.peer.RelayLeg);
        #: None: they are only logged.
        self.session_records = None

    # -- connection start ---------------------------------------------------------

    def connectionMade(self):
        peer = self.transport.getPeer()
        self.transcript.add("tcp", "info", "connected", peer="%s:%d" % (peer.host, peer.port),
                            https=self.https, dh384=self.profile.dh384)
        first = random_padding().encode() if self.profile.sends_padding else b""
        # Real clients never use DH-384 on port 443 (ERRATA: 44 real 443
        # connections, all classic after the SSLv2 prelude) and sent 0..63
        # filler bytes after A.
        self.stream = PeerClient(
            https=self.https, dh=self.profile.dh384,
            greeting=Greeting(self.profile.greeting_tag_value(), self.profile.greeting_final),
            dh_filler=secrets.token_bytes(secrets.randbelow(64)), first_record=first,
            accepted_finals=ACCEPTED_FINALS)
        self._write_raw(self.stream.start())

    def _write_raw(self, data):
        for step in self.stream.take_progress():
            self.transcript.add("tcp", step.direction, step.what, **step.details)
        if data:
            self.transport.write(data)

    @property
    def K(self):
        """The DH-384 shared secret (empty for a classic exchange)."""
        return self.stream.K if self.stream is not None else b""

    # -- receiving -------------------------------------------------------------------

    def dataReceived(self, data):
        try:
            self._receive(bytes(data))
        except (ProtocolError, HandshakeFailed) as e:
            self._fail(e)

    def _receive(self, data):
        try:
            out, events = self.stream.receive(data)
        except ProtocolError as e:
            if "greeting ends in" in str(e):
                self._write_raw(b"")
                raise HandshakeFailed(str(e))
            raise
        self._write_raw(out)
        for event in events:
            if isinstance(event, Established):
                self.server_greeting = event.exchange.greeting
                self.state = RECORDS
            elif isinstance(event, RecordIn):
                self._record(event.record)

    def _record(self, record):
        if self._first_record:
            self._first_record = False
            # EPYCS refuses a server whose first record is not typed 03.
            if not isinstance(record, PaddingRecord):
                raise HandshakeFailed("first server record is not a padding record")
            self.transcript.add("tcp", "received", "padding", length=len(record.filler))
            if not self.handshake.called:
                self.handshake.callback(self)
            return
        if isinstance(record, PacketRecord):
            self._packet(record)
        elif isinstance(record, AckRecord):
            self.transcript.add("tcp", "received", "ack", packet_id=record.packet_id)
            waiter = self._ack_waiters.pop(record.packet_id, None)
            if waiter is not None:
                _cancel(waiter[1])
                waiter[0].callback(record.packet_id)
        elif isinstance(record, PaddingRecord):
            self.transcript.add("tcp", "received", "padding", length=len(record.filler))
            if not record.filler:
                # FAKE answers the 03 03 keep-alive ping with 03 03 (udp.md 9.3).
                self._send_record(PaddingRecord(b""), "padding (keep-alive answer)")
        elif isinstance(record, UnknownRecord):
            self.transcript.add("tcp", "received", "unknown record",
                                message="type %d" % record.record_type)
        else:
            self.transcript.add("tcp", "received", "session record")
            if self.session_records is not None:
                self.session_records(record)

    def _packet(self, packet):
        commands = list(packet.commands)
        self.transcript.add("tcp", "received", "packet", packet_id=packet.packet_id,
                            commands=[command_json(c) for c in commands])
        self.received.extend(commands)
        # Answer / ack first: the callbacks below may run user code that
        # looks at the transcript or closes the connection.
        answers = [a for a in (self._forwarded(c) for c in commands
                               if c.kind == KIND_REQUEST) if a is not None]
        if answers:
            self.send_commands(answers, "forwarded answer")
        elif all(c.kind == KIND_NOTIFICATION for c in commands):
            # Ack packets that carried only notifications (tcp.md 5.5).
            self._send_record(AckRecord(packet.packet_id), "ack",
                              packet_id=packet.packet_id)
        for command in commands:
            if command.kind == KIND_REPLY:
                waiter = self._reply_waiters.pop(command.request_id, None)
                if waiter is not None:
                    _cancel(waiter[1])
                    waiter[0].callback(command)
            self._notify_watchers(command)
        for command in commands:
            if command.kind == KIND_REQUEST and command.cmd in FORWARDED_ANSWERS:
                for listener in list(self.forwarded_listeners):
                    listener(command)

    def _forwarded(self, command):
        """Answer a request the supernode forwarded from another node."""
        reply_cmd = FORWARDED_ANSWERS.get(command.cmd)
        if reply_cmd is None or not self.answer_forwarded:
            return None
        self.forwarded.append(command)
        # GUESS (supernode.md 5.3): 70 = "session accept" with an empty 0x41
        # list; 82 and 57 with an empty list too.
        return Command(reply_cmd, KIND_REPLY, command.request_id, b"\x41\x00")

    def _notify_watchers(self, command):
        for entry in list(self._watchers):
            cmd, d = entry
            if cmd == command.cmd:
                self._watchers.remove(entry)
                d.callback(command)

    # -- sending ---------------------------------------------------------------------

    def body(self, objects):
        return self.profile.encode_body(objects)

    def _send_record(self, record, what, **details):
        raw = record.encode()
        self.transcript.add("tcp", "sent", what, **details)
        self.transport.write(self.stream.encode(raw))

    def send_raw_records(self, data, what="records"):
        """Write record bytes built elsewhere (session records)."""
        if self.state != CLOSED:
            self.transcript.add("tcp", "sent", what, length=len(data))
            self.transport.write(self.stream.encode(data))

    def send_commands(self, commands, what="packet"):
        packet = PacketRecord(self.ids.next(), commands)
        self._send_record(packet, what, packet_id=packet.packet_id,
                          commands=[command_json(c) for c in commands])
        return packet.packet_id

    def request(self, cmd, objects=(), extra=(), timeout=REQUEST_TIMEOUT):
        """Send request ``cmd`` (with notifications ``extra`` in the same
        packet); Deferred fires with the reply Command."""
        command = Command(cmd, KIND_REQUEST, self.ids.next(), self.body(objects))
        d = defer.Deferred()
        timer = self.clock.callLater(timeout, self._timeout, self._reply_waiters,
                                     command.request_id, "cmd %d" % cmd)
        self._reply_waiters[command.request_id] = (d, timer)
        self.send_commands([command] + list(extra))
        return d

    def notify(self, commands, timeout=REQUEST_TIMEOUT):
        """Send notifications in one packet; Deferred fires on its ack."""
        pid = self.send_commands(commands)
        d = defer.Deferred()
        timer = self.clock.callLater(timeout, self._timeout, self._ack_waiters, pid,
                                     "ack of packet 0x%04x" % pid)
        self._ack_waiters[pid] = (d, timer)
        return d

    def notification(self, cmd, objects=()):
        return Command(cmd, KIND_NOTIFICATION, None, self.body(objects))

    def watch(self, cmd, timeout=REQUEST_TIMEOUT):
        """Deferred for the next received command ``cmd`` (any kind)."""
        d = defer.Deferred()
        entry = (cmd, d)
        self._watchers.append(entry)

        def expire():
            if entry in self._watchers:
                self._watchers.remove(entry)
                d.errback(error.TimeoutError("no cmd %d within %ss" % (cmd, timeout)))
        timer = self.clock.callLater(timeout, expire)
        d.addBoth(lambda r: (_cancel(timer), r)[1])
        return d

    def _timeout(self, table, key, what):
        waiter = table.pop(key, None)
        if waiter is not None:
            self.transcript.add("tcp", "error", "timeout", message="no %s" % what)
            waiter[0].errback(error.TimeoutError("no %s" % what))

    # -- the end -----------------------------------------------------------------------

    def _fail(self, reason):
        self.transcript.add("tcp", "error", "protocol error", message=str(reason))
        if not self.handshake.called:
            self.handshake.errback(reason)
        self._fail_waiters(reason)
        self.state = CLOSED
        self.transport.loseConnection()

    def _fail_waiters(self, reason):
        for table in (self._reply_waiters, self._ack_waiters):
            for key, (d, timer) in list(table.items()):
                del table[key]
                _cancel(timer)
                d.errback(reason)
        for cmd, d in list(self._watchers):
            self._watchers.remove((cmd, d))
            d.errback(reason)

    def connectionLost(self, reason):
        self.state = CLOSED
        self.transcript.add("tcp", "info", "closed", message=reason.getErrorMessage())
        if not self.handshake.called:
            self.handshake.errback(reason)
        self._fail_waiters(reason.value)
        self.lost.callback(None)


def _cancel(timer):
    if timer is not None and timer.active():
        timer.cancel()


def _objects(command):
    try:
        return command.objects()
    except ProtocolError:
        return ObjectList([])


class SupernodeSession:
    """The Deferred API of one client session with a supernode."""

    def __init__(self, protocol):
        self.protocol = protocol
        self.profile = protocol.profile
        self.transcript = protocol.transcript
        self.accepted = None

    @property
    def public_address(self):
        return None if self.accepted is None else self.accepted.public_address

    @property
    def node_id(self):
        return self.protocol.node_id

    @property
    def listen_port(self):
        return self.protocol.listen_port

    @defer.inlineCallbacks
    def accept(self, uptime=None, stats_wait=STATS_WAIT):
        """cmd 30 -> cmd 31, then the cmd 11 + cmd 47 packet (acked by the
        protocol).  Fires with an :class:`AcceptResult`; SupernodeRefused on
        cmd 32."""
        p = self.protocol
        objects = self.profile.cmd30_objects(p.node_id, p.listen_port, uptime)
        stats_d = self._seen_or_watch(CMD_STATS, stats_wait)
        channels_d = self._seen_or_watch(CMD_CHANNELS, stats_wait)
        reply = yield p.request(CMD_ACCEPT, objects)
        if reply.cmd == CMD_REFUSED:
            raise SupernodeRefused("supernode refused the client (cmd 32)")
        if reply.cmd != CMD_ACCEPTED:
            raise ProtocolError("cmd 30 answered with cmd %d" % reply.cmd)
        body = reply.objects()
        stats = yield _optional(stats_d)
        channels = yield _optional(channels_d)
        self.accepted = AcceptResult(
            reply, body, body.value(0x11, 2), body.value(0x0B, 0),
            body.get(0x21, 6) is not None,
            None if stats is None else _objects(stats),
            None if channels is None else _objects(channels))
        if self.accepted.public_address is not None:
            self.transcript.add("tcp", "info", "learned public address",
                                ip=self.accepted.public_address.ip,
                                message="port %d" % self.accepted.public_address.port)
        return self.accepted

    def _seen_or_watch(self, cmd, timeout):
        for command in self.protocol.received:
            if command.cmd == cmd:
                return defer.succeed(command)
        return self.protocol.watch(cmd, timeout)

    def channel_fetch(self, channel=None):
        """cmd 48 ``{INT 0 = channel}`` -> cmd 48 reply."""
        objects = (self.profile.cmd48_objects() if channel is None
                   else ObjectList([Int(0, channel)]))
        return self.protocol.request(CMD_CHANNEL, objects)

    def slot_query(self, slot=None, count=5):
        """cmd 6 -> cmd 8.  ``slot=None``: the refill query ``{INT 4 = 16,
        INT 5 = 6}`` every client sends first."""
        objects = (self.profile.refill_objects() if slot is None
                   else self.profile.slot_query_objects(slot, count))
        return self.protocol.request(CMD_SLOT, objects)

    def client_info(self):
        """cmd 37 + cmd 38 in one packet; fires when the supernode acks it."""
        p = self.protocol
        return p.notify([p.notification(CMD_INFO, self.profile.cmd37_objects()),
                         p.notification(CMD_FLAGS, self.profile.cmd38_objects())])

    def firewall_test(self):
        """cmd 40 (empty) -> cmd 42 ``{ADDR 0x11 = tester, INT 0x19 = token}``."""
        return self.protocol.request(CMD_FIREWALL, [])

    def wait_for(self, cmd, timeout=REQUEST_TIMEOUT):
        """The next command ``cmd`` the supernode sends (e.g. 43, 67)."""
        return self.protocol.watch(cmd, timeout)

    def publish(self, record):
        """cmd 60 ``{BLOB 0xB = record}``; fires when acked."""
        p = self.protocol
        return p.notify([p.notification(CMD_PUBLISH, self.profile.publish_objects(record))])

    def request(self, cmd, objects=()):
        return self.protocol.request(cmd, objects)

    def close(self):
        """Close the connection; fires when it is closed."""
        p = self.protocol
        if p.state != CLOSED:
            p.transcript.add("tcp", "info", "closing")
            p.transport.loseConnection()
        return p.lost


def _optional(d):
    """``d``'s result, or None if it fails with a timeout."""
    def none(failure):
        failure.trap(error.TimeoutError)
        return None
    return d.addErrback(none)


def connect_supernode(reactor, host, port, profile, https=False, transcript=None,
                      node_id=None, listen_port=None, timeout=REQUEST_TIMEOUT):
    """Connect and run the key exchange (prelude, DH-384, seeds); fires with
    a :class:`SupernodeSession` once the supernode's greeting and padding
    record arrived.  Call :meth:`SupernodeSession.accept` next."""
    if transcript is None:
        transcript = Transcript(reactor)
    proto = SupernodeClientProtocol(profile, transcript, reactor, https=https,
                                    node_id=node_id, listen_port=listen_port)
    endpoint = TCP4ClientEndpoint(reactor, host, port, timeout=timeout)
    d = connectProtocol(endpoint, proto)

    def connected(p):
        timer = reactor.callLater(timeout, _handshake_timeout, p)
        p.handshake.addBoth(lambda r: (_cancel(timer), r)[1])
        return p.handshake
    d.addCallback(connected)
    d.addCallback(SupernodeSession)
    return d


def _handshake_timeout(protocol):
    if not protocol.handshake.called:
        protocol._fail(error.TimeoutError("no complete key exchange from the supernode"))
