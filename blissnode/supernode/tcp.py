"""
:class:`SupernodeTCPProtocol` and :class:`SupernodeTCPFactory`: the
supernode's TCP sessions (supernode.md 2-4, tcp.md 2-6, udp.md 9).

One protocol instance is one client session.  It only buffers, decodes with
:mod:`blissnode.wire` and dispatches each command to the handler method the
handler set's ``tcp_commands`` table names; reply bytes come from the wire
layer.  Phases::

    prelude   first bytes classified (wire.https_prelude): SSLv2 hello ->
              79-byte ServerHello and continue; GET/POST/HEAD -> 404 + close;
              16 03 01 / 17 03 01 -> close; anything else -> opening
    opening   >= 14 bytes whose greeting decrypts (seed exchange, classic
              client) -> answer seed + greeting + padding; >= 48 bytes that
              do not -> DH-384 (5.5+ client)
    dh        wire.dh384.ServerHandshake; then our seed exchange keyed with K,
              and the client's 14 bytes keyed with K
    records   RC4 per direction, wire.tcp_records.RecordParser, packets of
              commands -> handlers; replies in one packet; packets that got
              no reply are acked (tcp.md 5.5)

The session object handed to handlers (``request.session``) is the protocol
itself: see the "session API" section below.
"""

from twisted.internet import defer, task
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

from blissnode.supernode.request import TCP, Request
from blissnode.supernode.request import request as make_request
from blissnode.supernode.udp import decode_body
from blissnode.versions.registry import UnknownVersion
from blissnode.wire import dh384, https_prelude
from blissnode.wire.errors import ProtocolError
from blissnode.wire.seed_exchange import (
    EXCHANGE_SIZE,
    Greeting,
    build_seed_exchange,
    build_server_start,
    parse_seed_exchange,
    random_greeting_tag,
    random_padding,
    random_seed,
)
from blissnode.wire.tcp_commands import (
    KIND_NOTIFICATION,
    KIND_REPLY,
    KIND_REQUEST,
    IdCounter,
)
from blissnode.wire.tcp_records import AckRecord, PacketRecord, PaddingRecord, RecordParser

log = Logger()

PRELUDE, OPENING, DH, CLIENT_SEED, RECORDS, CLOSED = (
    "prelude", "opening", "dh", "client-seed", "records", "closed")

#: GUESS (tcp.md 3 relay order): the server sends MD5("I"||K)[:8] after it
#: has checked the client's hash, not together with B (the login server's
#: order).  Clients look for the hash past any filler, so both work.
DH_HASH_WITH_PUBLIC = False

#: Bytes a DH-384 opening has at least (the public value A).
DH_MIN_OPENING = dh384.VALUE_SIZE

#: Upper bound on what the pre-record phases buffer (DH opening 96 bytes +
#: hash + a classic opening): anything longer is not a Skype client.
MAX_HANDSHAKE_BUFFER = 512


class SupernodeTCPProtocol(Protocol):
    """One client session (see the module docstring)."""

    def __init__(self):
        self.state = PRELUDE
        self.session_id = None
        self.peer = None
        self.node = None
        # -- session API (read by handlers and the node) --
        self.node_id = None
        self.listen_port = None
        self.user_name = None
        self.version = None
        self.version_string = None
        self.handlers = None
        self.accepted_at = None
        self.last_refresh = None
        self.prelude = None  # "sslv2_hello" when the 443 prelude was used
        self.dh = False
        # -- internals --
        self._buf = bytearray()
        self._dh = None
        self._K = b""
        self._rc4_in = None
        self._rc4_out = None
        self._parser = RecordParser()
        self._ids = None
        self._after = []
        self._queue = defer.succeed(None)
        self._half_open = False
        self._handshake_timer = None
        self._idle_timer = None
        self._keepalive = None

    # -- connection life ------------------------------------------------------

    def connectionMade(self):
        node = self.node = self.factory.node
        peer = self.transport.getPeer()
        self.peer = (peer.host, peer.port)
        ip = peer.host
        if node.half_open.get(ip) >= node.config.max_half_open:
            node.throttle.warn(ip, "tcp-half-open",
                               "too many half-open TCP sessions from {source}; refusing")
            self.state = CLOSED
            self.transport.abortConnection()
            return
        node.half_open.increment(ip)
        self._half_open = True
        self.session_id = node.new_session_id()
        self._ids = IdCounter(node.rng.randrange(0x10000))
        self.version = node.default_version()
        self.handlers = node.handlers_for(self.version)
        node.add_session(self)
        self._handshake_timer = node.reactor.callLater(
            node.config.handshake_timeout, self._timed_out, "handshake")

    def connectionLost(self, reason=None):
        previous, self.state = self.state, CLOSED
        for name in ("_handshake_timer", "_idle_timer"):
            timer = getattr(self, name)
            if timer is not None and timer.active():
                timer.cancel()
            setattr(self, name, None)
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None
        if self.node is None or self.session_id is None:
            return
        self._end_half_open()
        if previous != CLOSED or self.node.session(self.session_id) is self:
            self.node.remove_session(self)

    def _end_half_open(self):
        if self._half_open:
            self._half_open = False
            self.node.half_open.decrement(self.peer[0])

    def _timed_out(self, what):
        if what == "handshake":
            self._handshake_timer = None
        else:
            self._idle_timer = None
        self.node.throttle.warn(self.peer[0], "tcp-timeout",
                                "{what} timeout for {source}; closing", what=what)
        self.close(abort=True)

    def close(self, abort=False):
        """End the session (``abort``: drop unsent data)."""
        if self.state == CLOSED:
            return
        self.state = CLOSED
        if abort:
            self.transport.abortConnection()
        else:
            self.transport.loseConnection()

    # -- receiving ----------------------------------------------------------------

    def dataReceived(self, data):
        if self.state == CLOSED:
            return
        try:
            self._receive(bytes(data))
        except ProtocolError as e:
            self.node.throttle.warn(self.peer[0], "tcp-bad",
                                    "bad TCP input from {source} ({state}): {error}",
                                    state=self.state, error=e)
            self.close(abort=True)
        except Exception:
            self.node.throttle.failure(self.peer[0], "tcp-bug",
                                       "error on the TCP session of {source}")
            self.close(abort=True)

    def _receive(self, data):
        if self.state == RECORDS:
            self._records(self._rc4_in.crypt(data))
            return
        self._buf += data
        self._handshake_step()
        if self.state in (PRELUDE, OPENING, DH, CLIENT_SEED) \
                and len(self._buf) > MAX_HANDSHAKE_BUFFER:
            raise ProtocolError("%d bytes without a handshake" % len(self._buf))

    def _handshake_step(self):
        if self.state == PRELUDE and not self._prelude():
            return
        if self.state == OPENING and not self._opening():
            return
        if self.state == DH and not self._dh_step():
            return
        if self.state == CLIENT_SEED:
            self._client_seed()

    def _prelude(self):
        decision = https_prelude.decide_prelude(bytes(self._buf))
        if decision.consume is None:
            return False
        self.prelude = decision.cls
        if decision.reply:
            self.transport.write(decision.reply)
        if decision.close:
            log.info("{cls} opening from {peer}; closing", cls=decision.cls, peer=self.peer)
            self.close()
            return False
        del self._buf[:decision.consume]
        self.state = OPENING
        return True

    def _opening(self):
        """Classic seed exchange or DH-384?  Decision on Q2: a classic client
        sends exactly 14 bytes whose greeting decrypts to the known constant
        (a DH value does so with probability 2^-56); 48+ bytes that do not
        are a DH-384 opening; anything else waits (handshake timeout)."""
        if len(self._buf) < EXCHANGE_SIZE:
            return False
        try:
            exchange, rc4_in = parse_seed_exchange(bytes(self._buf[:EXCHANGE_SIZE]))
        except ProtocolError:
            if len(self._buf) < DH_MIN_OPENING:
                return False
            self.dh = True
            self.version = self.node.dh_version()
            self.handlers = self.node.handlers_for(self.version)
            self._dh = dh384.ServerHandshake(hash_with_public=DH_HASH_WITH_PUBLIC)
            self.state = DH
            return True
        rest = bytes(self._buf[EXCHANGE_SIZE:])
        self._buf = bytearray()
        self._rc4_in = rc4_in
        start, self._rc4_out = build_server_start()
        self.transport.write(start)
        self._handshake_done()
        if rest:
            self._records(self._rc4_in.crypt(rest))
        return False

    def _dh_step(self):
        data = bytes(self._buf)
        self._buf = bytearray()
        out, done = self._dh.receive(data)
        if not done:
            if out:
                self.transport.write(out)
            return False
        self._K = self._dh.K
        start, self._rc4_out = build_server_start(extra=self._K)
        self.transport.write(out + start)
        self._buf = bytearray(self._dh.remainder)
        self._dh = None
        self.state = CLIENT_SEED
        return True

    def _client_seed(self):
        if len(self._buf) < EXCHANGE_SIZE:
            return
        exchange, self._rc4_in = parse_seed_exchange(bytes(self._buf[:EXCHANGE_SIZE]), self._K)
        rest = bytes(self._buf[EXCHANGE_SIZE:])
        self._buf = bytearray()
        self._handshake_done()
        if rest:
            self._records(self._rc4_in.crypt(rest))

    def _handshake_done(self):
        self.state = RECORDS
        self._buf = bytearray()
        if self._handshake_timer is not None and self._handshake_timer.active():
            self._handshake_timer.cancel()
        self._handshake_timer = None
        self._end_half_open()
        node = self.node
        self._idle_timer = node.reactor.callLater(
            node.config.idle_timeout, self._timed_out, "idle")
        if node.config.keepalive_interval:
            self._keepalive = task.LoopingCall(self._send_keepalive)
            self._keepalive.clock = node.reactor
            self._keepalive.start(node.config.keepalive_interval, now=False)

    def _records(self, plaintext):
        for record in self._parser.feed(plaintext):
            if self.state == CLOSED:
                return
            if isinstance(record, PacketRecord):
                if self._idle_timer is not None and self._idle_timer.active():
                    self._idle_timer.reset(self.node.config.idle_timeout)
                self._queue.addCallback(self._run_packet, record)
            # Acks, padding (incl. the 03 03 keep-alive answer), session
            # records and unknown typed records need nothing from us.

    # -- dispatch -------------------------------------------------------------------

    def _run_packet(self, _, record):
        if self.state == CLOSED:
            return None
        results = []
        for command in record.commands:
            if command.kind in (KIND_REQUEST, KIND_NOTIFICATION):
                name = self.handlers.tcp_commands.get(command.cmd, "tcp_unknown")
            elif command.kind == KIND_REPLY and command.cmd in getattr(
                    self.handlers, "tcp_forwarded_replies", ()):
                name = "tcp_forwarded_reply"
            else:
                continue
            request = Request(command, decode_body(command), self.peer, self.node, TCP,
                              session=self, packet_id=record.packet_id)
            results.append(defer.maybeDeferred(getattr(self.handlers, name), request))
        d = defer.gatherResults(results, consumeErrors=True)
        d.addCallback(self._reply, record)
        d.addErrback(self._handler_failed)
        return d

    def _reply(self, results, record):
        if self.state == CLOSED:
            return
        replies = [c for result in results for c in (result or ())]
        out = []
        if replies:
            out.append(self._packet_bytes(replies))
        else:
            # tcp.md 5.5 / udp.md 9.4: a packet that got no answer is acked.
            out.append(AckRecord(record.packet_id).encode())
        close = False
        after, self._after = self._after, []
        for commands, close_after in after:
            if commands:
                out.append(self._packet_bytes(commands))
            close = close or close_after
        self.transport.write(self._rc4_out.crypt(b"".join(out)))
        if close:
            self.close()

    def _handler_failed(self, failure):
        if isinstance(failure.value, defer.FirstError):
            failure = failure.value.subFailure
        self._after = []
        if failure.check(ProtocolError):
            self.node.throttle.warn(self.peer[0], "tcp-bad", "bad command from {source}: {error}",
                                    error=failure.value)
        else:
            self.node.throttle.failure(self.peer[0], "tcp-bug",
                                       "handler error on the session of {source}",
                                       failure=failure)
        self.close(abort=True)

    def _packet_bytes(self, commands):
        return PacketRecord(self._ids.next(), commands).encode()

    def _send_keepalive(self):
        if self.state == RECORDS:
            self.transport.write(self._rc4_out.crypt(PaddingRecord(b"").encode()))

    # -- session API (used by handlers through request.session) -----------------

    def after_reply(self, commands=(), close=False):
        """Write ``commands`` as a further packet right after the reply to the
        packet being handled (cmd 31 then cmd 11 + 47); ``close`` ends the
        session after that (cmd 32)."""
        self._after.append((list(commands), close))

    def send_packet(self, commands):
        """Write ``commands`` as one packet now (outside a reply)."""
        if self.state != RECORDS:
            return False
        self.transport.write(self._rc4_out.crypt(self._packet_bytes(commands)))
        return True

    def send_request(self, cmd, objects=()):
        """Send a request (a forwarded push) in its own packet; return its
        request id."""
        request_id = self._ids.next()
        self.send_packet([make_request(cmd, request_id, objects)])
        return request_id

    def accepted(self, node_id, listen_port):
        """cmd 30 accepted: remember the client and register it."""
        self.node_id = node_id
        self.listen_port = listen_port
        self.accepted_at = self.last_refresh = self.node.now()
        return self.node.register_client(self)

    def refreshed(self):
        """cmd 37 / 38 keep-alive."""
        now = self.last_refresh = self.node.now()
        if self.accepted_at is not None:
            d = self.node.directory.touch(self.session_id, now)
            d.addErrback(lambda f: log.failure("directory touch failed", f))

    def set_version_string(self, text):
        """The client said which version it is (cmd 37 STRING 0x5D / 0x0E):
        switch to that version's handlers (nearest older one if unknown, the
        oldest one if older than all, or close when the policy is
        ``reject``)."""
        self.version_string = text
        try:
            version = self.node.resolve_version(text)
        except UnknownVersion as e:
            self.node.throttle.warn(self.peer[0], "tcp-version",
                                    "{source}: {error}; closing", error=e)
            self.after_reply([], close=True)
            return
        except ValueError:
            self.node.throttle.warn(self.peer[0], "tcp-version",
                                    "{source} sent an unreadable version string {text!r}",
                                    text=text)
            return
        if version is not self.version:
            log.info("session {sid} from {peer}: client {text} served as {label}",
                     sid=self.session_id, peer=self.peer, text=text, label=version.label)
            self.version = version
            self.handlers = self.node.handlers_for(version)
        if self.accepted_at is not None:
            d = self.node.directory.update(self.session_id, client_version=version.label)
            d.addErrback(lambda f: log.failure("directory update failed", f))


class SupernodeTCPFactory(Factory):
    """Builds one :class:`SupernodeTCPProtocol` per connection; every
    listener (main port, 443, 80) uses one, all sharing ``node``."""

    protocol = SupernodeTCPProtocol
    noisy = False

    def __init__(self, node):
        self.node = node


# -- connect-back (firewall test, supernode.md 4.4) ------------------------------

#: GUESS: how long the connect-back waits for the client's ack of cmd 43.
CONNECT_BACK_TIMEOUT = 10.0


class ConnectBackProtocol(Protocol):
    """Open a session to a client's listening port as the connecting side
    (classic seed exchange, as the 2006 tester did), send one packet and
    close once it is acked or after :data:`CONNECT_BACK_TIMEOUT`."""

    def __init__(self, node, commands):
        self.node = node
        self.commands = commands
        self.acked = defer.Deferred()
        self._buf = bytearray()
        self._rc4_in = None
        self._parser = RecordParser()
        self._packet_id = None
        self._timer = None

    def connectionMade(self):
        ids = IdCounter(self.node.rng.randrange(0x10000))
        self._packet_id = ids.next()
        packet = PacketRecord(self._packet_id, self.commands).encode()
        greeting = Greeting(random_greeting_tag(), 0x03)
        data, _ = build_seed_exchange(random_seed(), greeting,
                                      random_padding().encode() + packet)
        self.transport.write(data)
        self._timer = self.node.reactor.callLater(CONNECT_BACK_TIMEOUT, self._done, False)

    def dataReceived(self, data):
        try:
            if self._rc4_in is None:
                self._buf += data
                if len(self._buf) < EXCHANGE_SIZE:
                    return
                _, self._rc4_in = parse_seed_exchange(bytes(self._buf[:EXCHANGE_SIZE]))
                data, self._buf = bytes(self._buf[EXCHANGE_SIZE:]), bytearray()
            for record in self._parser.feed(self._rc4_in.crypt(data)):
                if isinstance(record, AckRecord) and record.packet_id == self._packet_id:
                    self._done(True)
                    return
        except ProtocolError:
            self._done(False)

    def _done(self, ok):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if not self.acked.called:
            self.acked.callback(ok)
        self.transport.loseConnection()

    def connectionLost(self, reason=None):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        if not self.acked.called:
            self.acked.callback(False)


def connect_back(node, ip, port, commands):
    """Connect to ``ip:port`` and deliver ``commands``; fires with True when
    the client acked them, False otherwise (never fails)."""
    proto = ConnectBackProtocol(node, commands)
    endpoint = TCP4ClientEndpoint(node.reactor, ip, port, timeout=CONNECT_BACK_TIMEOUT)
    d = connectProtocol(endpoint, proto)
    d.addCallback(lambda _: proto.acked)

    def failed(f):
        log.info("firewall test: cannot connect to {ip}:{port}: {error}",
                 ip=ip, port=port, error=f.getErrorMessage())
        return False
    d.addErrback(failed)
    return d


__all__ = [
    "SupernodeTCPProtocol", "SupernodeTCPFactory", "ConnectBackProtocol", "connect_back",
    "DH_HASH_WITH_PUBLIC", "MAX_HANDSHAKE_BUFFER",
]
