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
              do not -> DH-384 (5.5+ client; never after the 443 prelude
              nor on the 443 listener: real clients never use it there)
    dh        wire.dh384.ServerHandshake: B + filler at once; after the
              client's hash, our hash ALONE, then our seed exchange keyed
              with K in a later reactor turn (ERRATA: SOS2 and the real
              nodes read them with separate recv() calls); the client's
              14 bytes keyed with K arrive independently
    records   RC4 per direction, wire.tcp_records.RecordParser, packets of
              commands -> handlers; replies in one packet; packets that got
              no reply are acked (tcp.md 5.5)
    clear     after cmd 7 for an event-server address we serve and the
              client's type-4 record: our type-4 record, then the connection
              carries the event server's framing in clear, piped to the
              event server in process (blissnode.streambridge; ERRATA)

The session object handed to handlers (``request.session``) is the protocol
itself: see the "session API" section below.
"""

from twisted.internet import defer, task
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

from blissnode.core.delivery import PresenceChanged, PushRequest, SessionInfo
from blissnode.flowcontrol import FairInbox, InboxFull, OutputGuard, ReadGate
from blissnode.nodelay import set_no_delay
from blissnode.streambridge import connect_bridged
from blissnode.supernode.request import TCP, Request, notification
from blissnode.supernode.request import request as make_request
from blissnode.supernode.udp import decode_body
from blissnode.core.versioning import UnknownVersion
from blissnode.wire.errors import ProtocolError
from blissnode.wire.objects import Int, decode_objects
from blissnode.wire.peer_session import (  # noqa: F401  (MAX_HANDSHAKE_BUFFER re-exported)
    MAX_HANDSHAKE_BUFFER,
    CloseAfter,
    Established,
    PeerClient,
    PeerServer,
    RecordIn,
    Send,
    SendLater,
    SwitchedToClear,
)
from blissnode.wire.seed_exchange import Greeting, random_greeting_tag, random_padding
from blissnode.wire.tcp_commands import (
    KIND_NOTIFICATION,
    KIND_REPLY,
    KIND_REQUEST,
    IdCounter,
)
from blissnode.wire.tcp_records import AckRecord, PacketRecord, PaddingRecord

log = Logger()

#: cmd 30: a client asks to be accepted (supernode.md 3).
CMD_CLIENT_ACCEPT = 30

#: Session states beyond the stream's own (``opening``, ``dh``,
#: ``client-seed``, ``records``: :class:`blissnode.wire.peer_session.PeerServer`).
RECORDS, SWITCHING, CLEAR, CLOSED = "records", "switching", "clear", "closed"

#: The supernode sends MD5("I"||K)[:8] after it has checked the client's
#: hash, not together with B (the login server's order).  VERIFIED (ERRATA,
#: nDPI 2015 and SOS2's relay log): B + filler, then the hash alone.
DH_HASH_WITH_PUBLIC = False

#: Seconds between our DH-384 hash and our seed exchange.  0 = the next
#: reactor turn, so they leave as two segments (TCP_NODELAY is on): SOS2
#: recv()s the hash alone and then the seed exchange.  GUESS: the real nodes
#: waited ~0.2 s; any delay works as long as the writes stay apart.
DH_SEED_DELAY = 0.0

#: Most clear bytes held while the switch to the event server is queued
#: behind packets still being handled.
MAX_SWITCH_BUFFER = 65536



class SupernodeTCPProtocol(Protocol):
    """One client session (see the module docstring); also a delivery target
    of the core (:class:`~blissnode.core.delivery.IDeliveryTarget`)."""

    role = "supernode"

    def __init__(self):
        self._state = None  # None: the stream's state; else SWITCHING / CLEAR / CLOSED
        self.stream = None
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
        self.firewall_tests = 0  # cmd 40 connect-backs made for this session
        # -- internals --
        self._ids = None
        self._after = []
        self._after_calls = []
        self._pause_call = None
        self._inbox = None  # FairInbox: packets run in order, a budget per turn
        self._output = None  # OutputGuard: a client that does not read is closed
        self._counted = False  # counted in node.admission
        self._start_call = None  # writes our DH seed exchange in a later turn
        self._bridge_to = None  # event-server address cmd 7 asked for
        self._clear_buf = bytearray()
        self._inner = None  # the bridged event-server protocol
        self._half_open = False
        self._handshake_timer = None
        self._idle_timer = None
        self._accept_timer = None  # the handshake is done but cmd 30 has not come
        self._keepalive = None

    @property
    def state(self):
        if self._state is not None:
            return self._state
        return self.stream.state if self.stream is not None else "opening"

    @state.setter
    def state(self, value):
        self._state = value

    # -- connection life ------------------------------------------------------

    def connectionMade(self):
        node = self.node = self.factory.node
        set_no_delay(self.transport)
        peer = self.transport.getPeer()
        self.peer = (peer.host, peer.port)
        ip = peer.host
        refusal = node.admit_tcp(ip)  # per-address and total caps, connect rate
        if refusal is not None:
            node.throttle.warn(ip, "tcp-" + refusal,
                               "{source}: " + refusal.replace("-", " ") + "; refusing")
            self.state = CLOSED
            self.transport.abortConnection()
            return
        node.half_open.increment(ip)
        self._half_open = self._counted = True
        config = node.config
        gate = ReadGate(self.transport)
        self._inbox = FairInbox(node.reactor, gate, per_turn=config.packets_per_turn,
                                pause_at=config.pause_at, max_pending=config.max_pending)
        self._output = OutputGuard(self.transport, gate, self._output_overflow,
                                   max_unsent=config.max_unsent)
        self.stream = PeerServer(allow_dh=getattr(self.factory, "allow_dh", True),
                                 openings=node.peer_openings)
        self.session_id = node.tcp_sessions.new_id()
        self._ids = IdCounter(node.rng.randrange(0x10000))
        self.version = node.handler_sets.provisional()
        self.handlers = node.handler_sets.for_version(self.version)
        node.add_session(self)
        self._handshake_timer = node.reactor.callLater(
            node.config.handshake_timeout, self._timed_out, "handshake")

    def connectionLost(self, reason=None):
        previous, self.state = self.state, CLOSED
        inner, self._inner = self._inner, None
        if inner is not None:
            inner.connectionLost(reason)
        for name in ("_handshake_timer", "_idle_timer", "_start_call", "_pause_call",
                     "_accept_timer"):
            timer = getattr(self, name)
            if timer is not None and timer.active():
                timer.cancel()
            setattr(self, name, None)
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None
        if self._inbox is not None:
            self._inbox.close()
        if self.node is None or self.session_id is None:
            return
        self._end_half_open()
        self.node.relay.leg_lost(self)
        if self._counted:
            self._counted = False
            self.node.admission.release(self.peer[0])
        if previous != CLOSED or self.node.tcp_sessions.get(self.session_id) is self:
            self.node.remove_session(self)

    def _end_half_open(self):
        if self._half_open:
            self._half_open = False
            self.node.half_open.decrement(self.peer[0])

    def _output_overflow(self):
        self.node.throttle.warn(self.peer[0], "tcp-unread",
                                "{source} does not read what we send ({n} bytes waiting); "
                                "closing", n=self._output.unsent)
        self.close(abort=True)

    def _timed_out(self, what):
        if what == "handshake":
            self._handshake_timer = None
        elif what == "accept":
            self._accept_timer = None
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
        except InboxFull as e:
            self.node.throttle.warn(self.peer[0], "tcp-flood",
                                    "{source} sends faster than it reads ({error}); closing",
                                    error=e)
            self.close(abort=True)
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
        if self.state == CLEAR:
            self._inner.dataReceived(data)
            return
        if self.state == SWITCHING:
            self._hold_clear(data)
            return
        for event in self.stream.receive(data):
            if self._state == CLOSED:
                return
            if isinstance(event, RecordIn):
                self._record(event.record)
            elif isinstance(event, Send):
                self.transport.write(event.data)
            elif isinstance(event, SendLater):
                # Our DH-384 hash went alone; the seed exchange in a later turn.
                self._start_call = self.node.reactor.callLater(DH_SEED_DELAY, self._flush_start)
            elif isinstance(event, Established):
                self.dh, self.prelude = event.dh, event.prelude
                if self.dh and self.version_string is None:
                    self.version = self.node.handler_sets.provisional(transport="dh384")
                    self.handlers = self.node.handler_sets.for_version(self.version)
                self._handshake_done()
            elif isinstance(event, SwitchedToClear):
                self.state = SWITCHING
                self._hold_clear(event.data)
                # After the packets before it have been answered.
                self._inbox.put(self._switch_to_clear)
            elif isinstance(event, CloseAfter):
                self.node.throttle.info(self.peer[0], "tcp-close", "{why} from {source}; "
                                        "closing", why=event.why)
                self.close()

    def dh_allowed(self):
        """Whether a failed classic greeting may be a DH-384 opening: not
        after the SSLv2 prelude and not on the 443 listener (ERRATA: 44
        real 443 connections, none with DH-384)."""
        return self.stream.dh_allowed()

    def _flush_start(self):
        """Write our DH-384 seed exchange if it has not gone yet (it must
        precede anything else we send on the RC4 stream)."""
        if self._start_call is not None and self._start_call.active():
            self._start_call.cancel()
        self._start_call = None
        start = self.stream.release_start()
        if start and self.state != CLOSED:
            self.transport.write(start)

    def _write_stream(self, plaintext):
        """Encrypt and write record bytes (after our seed exchange)."""
        data = self.stream.encode(plaintext)
        self.transport.write(data)
        if self._output is not None:
            self._output.wrote(len(data))

    def _handshake_done(self):
        if self._handshake_timer is not None and self._handshake_timer.active():
            self._handshake_timer.cancel()
        self._handshake_timer = None
        self._end_half_open()
        node = self.node
        self._idle_timer = node.reactor.callLater(
            node.config.idle_timeout, self._timed_out, "idle")
        if node.config.accept_timeout and self.accepted_at is None:
            self._accept_timer = node.reactor.callLater(
                node.config.accept_timeout, self._timed_out, "accept")
        if node.config.keepalive_interval:
            self._keepalive = task.LoopingCall(self._send_keepalive)
            self._keepalive.clock = node.reactor
            self._keepalive.start(node.config.keepalive_interval, now=False)

    def _record(self, record):
        if self.node.relay.forward(self, record):
            # A relay leg's record went to the other leg (supernode.relay).
            if self._idle_timer is not None and self._idle_timer.active():
                self._idle_timer.reset(self.node.config.idle_timeout)
            return
        if isinstance(record, PacketRecord):
            if self._idle_timer is not None and self._idle_timer.active():
                self._idle_timer.reset(self.node.config.idle_timeout)
            self._inbox.put(self._run_packet, record)
        # Acks, padding (incl. the 03 03 keep-alive answer), session records
        # and unknown typed records need nothing from us; the type-4 switch
        # comes as its own event.

    # -- the event server through this connection (cmd 7, ERRATA) -------------

    def _hold_clear(self, data):
        self._clear_buf += data
        if len(self._clear_buf) > MAX_SWITCH_BUFFER:
            raise ProtocolError("%d clear bytes before the switch completed"
                                % (len(self._clear_buf),))

    def _switch_to_clear(self, _=None):
        """The client sent its type-4 record: answer ours and hand the
        connection to the event server asked for by cmd 7."""
        if self.state == CLOSED:
            return
        target, self._bridge_to = self._bridge_to, None
        factory = self.node.event_factory_for(target) if target is not None else None
        if factory is None:
            self.node.throttle.warn(self.peer[0], "tcp-clear",
                                    "{source} switched its stream to clear without a "
                                    "served cmd 7; closing")
            self.close(abort=True)
            return
        self.transport.write(self.stream.switch_to_clear())
        self.state = CLEAR
        for name in ("_idle_timer",):
            timer = getattr(self, name)
            if timer is not None and timer.active():
                timer.cancel()
            setattr(self, name, None)
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None
        log.info("session {sid} from {peer}: event server {target} through this "
                 "connection", sid=self.session_id, peer=self.peer,
                 target="%s:%d" % tuple(target))
        self._inner = connect_bridged(factory, self.transport, self._close_from_inner)
        held, self._clear_buf = bytes(self._clear_buf), bytearray()
        if held and self._inner is not None:
            self._inner.dataReceived(held)

    def _close_from_inner(self, abort):
        self.close(abort=abort)

    # -- dispatch -------------------------------------------------------------------

    def _run_packet(self, record):
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
            body = decode_body(command)
            if command.cmd == CMD_CLIENT_ACCEPT and self.version_string is None:
                self._provisional_from_accept(body)
                name = self.handlers.tcp_commands.get(command.cmd, "tcp_unknown")
            request = Request(command, body, self.peer, self.node, TCP,
                              session=self, packet_id=record.packet_id)
            results.append(defer.maybeDeferred(getattr(self.handlers, name), request))
        d = defer.gatherResults(results, consumeErrors=True)
        d.addCallback(self._reply, record)
        d.addErrback(self._handler_failed)
        return d

    def _provisional_from_accept(self, body):
        """Before cmd 30 is answered: what cmd 30 tells of the client (its
        stack version INT 0xB, SOS2: 52 for 5.x) goes to the provisional
        choice, so a 5.x client on a classic stream -- port 443 never uses
        DH-384 -- and a version plugin's own clients get their version's
        cmd 31 before cmd 37 names them."""
        version = self.node.handler_sets.provisional(
            transport="dh384" if self.dh else ("https" if self.prelude else "classic"),
            stack_version=body.value(0x0B, Int), objects=body)
        if version is not self.version:
            self.version = version
            self.handlers = self.node.handler_sets.for_version(version)

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
        self._write_stream(b"".join(out))
        calls, self._after_calls = self._after_calls, []
        if close:
            self.close()
            return
        for call in calls:
            call()

    def _handler_failed(self, failure):
        if isinstance(failure.value, defer.FirstError):
            failure = failure.value.subFailure
        self._after = []
        self._after_calls = []
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
            self._write_stream(PaddingRecord(b"").encode())

    # -- session API (used by handlers through request.session) -----------------

    def after_reply(self, commands=(), close=False):
        """Write ``commands`` as a further packet right after the reply to the
        packet being handled (cmd 31 then cmd 11 + 47); ``close`` ends the
        session after that (cmd 32)."""
        self._after.append((list(commands), close))

    def after_relay_reply(self, call):
        """Run ``call()`` once the reply to the packet being handled is
        written (the relay's cmd 84 follows the joiner's cmd 75)."""
        self._after_calls.append(call)

    # -- relay leg API (blissnode.supernode.relay) ---------------------------------

    def relay_attached(self):
        """This connection is a relay leg now: it never sends cmd 30, so the
        accept timeout does not apply (the relay's join and idle timeouts do)."""
        if self._accept_timer is not None and self._accept_timer.active():
            self._accept_timer.cancel()
        self._accept_timer = None

    def relay_send_records(self, data):
        """Write records the other leg sent (already re-keyed)."""
        if self.state == RECORDS:
            self._write_stream(data)

    def relay_send_status(self, commands):
        """cmd 84 in its own packet."""
        self.send_packet(commands)

    def pause_reading(self, seconds):
        """Stop reading for ``seconds`` (the relay's rate limit): TCP holds
        the sender back, nothing is dropped."""
        if self.state == CLOSED or self._pause_call is not None:
            return
        self.transport.pauseProducing()
        self._pause_call = self.node.reactor.callLater(seconds, self._resume_reading)

    def _resume_reading(self):
        self._pause_call = None
        if self.state != CLOSED:
            self.transport.resumeProducing()

    def send_packet(self, commands):
        """Write ``commands`` as one packet now (outside a reply)."""
        if self.state != RECORDS:
            return False
        self._write_stream(self._packet_bytes(commands))
        return True

    def send_request(self, cmd, objects=()):
        """Send a request (a forwarded push) in its own packet; return its
        request id."""
        request_id = self._ids.next()
        self.send_packet([make_request(cmd, request_id, objects)])
        return request_id

    def deliver(self, message):
        """A presence change for this session's user, as the notification its
        version's handlers choose (:meth:`SupernodeHandlers.presence_push`);
        a push (cmd 53, maybe received by another process) as a request
        whose answer goes to the pusher."""
        if isinstance(message, PushRequest):
            return self._deliver_push(message)
        if not isinstance(message, PresenceChanged) or self.accepted_at is None:
            return False
        push = self.handlers.presence_push(message.state)
        if push is None:
            return False
        cmd, items = push
        return self.send_packet([notification(cmd, items)])

    def _deliver_push(self, push):
        try:
            objects = decode_objects(push.body)
        except ProtocolError:
            log.warn("session {sid}: dropping a push with an unreadable body", sid=self.session_id)
            return False
        if self.state != RECORDS:
            return False
        forwarded_id = self.send_request(push.cmd, objects)
        self.node.pushes.remember(self.session_id, forwarded_id, push.pusher,
                                  push.push_request_id)
        return True

    def describe(self):
        return SessionInfo(self.session_id, self.role,
                           [self.user_name] if self.user_name else [],
                           "%s:%d" % tuple(self.peer) if self.peer else None,
                           self.version.label if self.version is not None else None,
                           self.accepted_at)

    def close_session(self, reason):
        log.info("session {sid} from {peer} ended: {reason}", sid=self.session_id,
                 peer=self.peer, reason=reason)
        self.close()

    def bridge_event_server(self, address):
        """cmd 7 named the event server at ``address`` (ip, port), which we
        serve: the client's next type-4 record hands it this connection."""
        self._bridge_to = tuple(address)

    def accepted(self, node_id, listen_port):
        """cmd 30 accepted: remember the client and register it."""
        self.node_id = node_id
        self.listen_port = listen_port
        if self._accept_timer is not None and self._accept_timer.active():
            self._accept_timer.cancel()
        self._accept_timer = None
        self.accepted_at = self.last_refresh = self.node.now()
        self.node.session_accepted(self)
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
            version = self.node.handler_sets.resolve(text)
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
            # Peer-chosen text, as often as the peer likes: throttled and
            # truncated like every peer-caused line (issue 17).
            self.node.throttle.info(self.peer[0], "tcp-version-served",
                                    "session {sid} from {source}: client {text} served as "
                                    "{label}", sid=self.session_id, text=text,
                                    label=version.label)
            self.version = version
            self.handlers = self.node.handler_sets.for_version(version)
        if self.accepted_at is not None:
            d = self.node.directory.update(self.session_id, client_version=version.label)
            d.addErrback(lambda f: log.failure("directory update failed", f))


class SupernodeTCPFactory(Factory):
    """Builds one :class:`SupernodeTCPProtocol` per connection; every
    listener (main port, 443, 80) uses one, all sharing ``node``."""

    protocol = SupernodeTCPProtocol
    noisy = False

    def __init__(self, node, allow_dh=True):
        self.node = node
        #: False on the 443 listener: real clients never use DH-384 there.
        self.allow_dh = allow_dh


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
        self._packet_id = None
        self._timer = None
        self._stream = None

    def connectionMade(self):
        ids = IdCounter(self.node.rng.randrange(0x10000))
        self._packet_id = ids.next()
        packet = PacketRecord(self._packet_id, self.commands).encode()
        self._stream = PeerClient(greeting=Greeting(random_greeting_tag(), 0x03),
                                  first_record=random_padding().encode() + packet)
        self.transport.write(self._stream.start())
        self._timer = self.node.reactor.callLater(CONNECT_BACK_TIMEOUT, self._done, False)

    def dataReceived(self, data):
        try:
            _out, events = self._stream.receive(data)
        except ProtocolError:
            self._done(False)
            return
        for event in events:
            if isinstance(event, RecordIn) and isinstance(event.record, AckRecord) \
                    and event.record.packet_id == self._packet_id:
                self._done(True)
                return

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
    factory = Factory.forProtocol(lambda: proto)
    factory.noisy = False  # no "Starting factory" line per firewall test (issue 17.9)
    d = endpoint.connect(factory)
    d.addCallback(lambda _: proto.acked)

    def failed(f):
        node.throttle.info(ip, "connect-back", "firewall test: cannot connect to "
                           "{source}:{port}: {error}", port=port,
                           error=f.getErrorMessage()[:120])
        return False
    d.addErrback(failed)
    return d


__all__ = [
    "SupernodeTCPProtocol", "SupernodeTCPFactory", "ConnectBackProtocol", "connect_back",
    "DH_HASH_WITH_PUBLIC", "MAX_HANDSHAKE_BUFFER", "DH_SEED_DELAY",
]
