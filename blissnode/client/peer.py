"""
The reference client's end of a session with another client (tcp.md 7,
supernode.md 5.3), directly or through a relay.

:class:`PeerSessionCore` is sans-IO: session records in, session records
out, events for the caller.  It runs the set-up of
:mod:`blissnode.wire.peer_messages` (67 / 68 / 69 / 87 under the all-zero
key, then the AES session key from the two nonces) and carries chat
messages (0x6D) and their acks (0x47).  Each side proves its name with its
credential (checked with the credential key of our login server) and a
signature over the peer's challenge.

Transports: :class:`PeerStreamProtocol` (a direct TCP connection between
two clients, classic or DH-384 seed exchange, either end) and
:class:`RelayLeg` (our TCP session to the relay: cmd 73 or 74, cmd 84,
then the records; the relay re-keys CHK).  CHK of what we send is keyed
with the peer's session id directly and with the relay's connection id
through a relay (SOS2, tcp.md 7.1); what we receive must be keyed with our
own session id (0 for the first record of a direct session, sent before
the initiator knew it).
"""

import secrets

import attr
from twisted.internet import defer, error
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol

from blissnode.client.tcp import connect_supernode
from blissnode.client.transcript import Transcript
from blissnode.wire.aes_ctr import (
    decode_session_plaintext,
    direction_words,
    encode_session_plaintext,
    open_session_record,
    seal_session_record,
    session_key,
)
from blissnode.wire.credentials import parse_credential
from blissnode.wire.errors import ChecksumError, ProtocolError
from blissnode.wire.objects import decode_objects
from blissnode.wire.peer_messages import (
    CMD_ACK,
    CMD_CHAT,
    CMD_SESSION_AUTH,
    CMD_SESSION_AUTH_REPLY,
    CMD_SESSION_REPLY,
    CMD_SESSION_REQUEST,
    ChatMessage,
    SessionAuth,
    SessionAuthReply,
    SessionReply,
    SessionRequest,
    body_bytes,
    check_challenge,
    encrypt_nonce,
    new_nonce,
    sign_challenge,
)
from blissnode.wire.peer_session import (
    Established,
    PeerClient,
    PeerServer,
    RecordIn,
    Send,
    SendLater,
    padding_record,
)
from blissnode.wire.relay_commands import (
    CMD_RELAY_ACCEPTED,
    CMD_RELAY_JOIN,
    CMD_RELAY_OPEN,
    CMD_RELAY_STATUS,
    RelayAccepted,
    RelayJoin,
    RelayOpen,
)
from blissnode.wire.rsa_raw import RsaPrivate
from blissnode.wire.seed_exchange import Greeting
from blissnode.wire.tcp_records import SessionRecord

__all__ = [
    "Identity", "PeerSessionCore", "SessionReady", "MessageReceived", "MessageAcked",
    "SessionFailed", "PeerStreamProtocol", "PeerListenerFactory", "dial_peer", "RelayLeg",
    "open_relay", "join_relay", "PeerError", "new_session_id", "timed",
]

INITIATOR, RESPONDER = "initiator", "responder"
#: Seconds to wait for the relay's cmd 75 / 84 and for a session step.
STEP_TIMEOUT = 15.0


class PeerError(Exception):
    """The session with the other client failed (reason in the message)."""


def new_session_id():
    """A session id: 16 bits (X = sid_i << 16 + sid_r, tcp.md 7.2), not 0."""
    return 1 + secrets.randbelow(0xFFFF)


@attr.s
class Identity(object):
    """Who we are to the peer: name, the credential the login server
    issued (raw) and the user's RSA-1024 key (cryptography private key)."""

    name = attr.ib()
    credential = attr.ib(converter=bytes)
    user_key = attr.ib(repr=False)

    def signer(self):
        return RsaPrivate.from_numbers(self.user_key.private_numbers()).raw


@attr.s(frozen=True)
class SessionReady(object):
    peer_name = attr.ib()


@attr.s(frozen=True)
class MessageReceived(object):
    peer_name = attr.ib()
    text = attr.ib()
    tid = attr.ib()


@attr.s(frozen=True)
class MessageAcked(object):
    tid = attr.ib()


@attr.s(frozen=True)
class SessionFailed(object):
    reason = attr.ib()


class PeerSessionCore(object):
    """One session between two clients (see the module docstring).

    :param role: ``"initiator"`` (sends 67) or ``"responder"``.
    :param credential_key: the login server's credential public key
        (anything :func:`~blissnode.wire.credentials.parse_credential` takes).
    :param peer_name: who the initiator wants (checked against the
        responder's credential); the responder learns it from 69.
    :param relay_id: the relay's connection id when the session runs
        through a relay (keys the CHK of what we send), else None.
    """

    def __init__(self, role, me, credential_key, session_id=None, peer_name=None,
                 node_record=None, version=None, relay_id=None, random_bytes=secrets.token_bytes):
        self.role = role
        self.me = me
        self.credential_key = credential_key
        self.session_id = session_id if session_id is not None else new_session_id()
        self.peer_name = peer_name
        self.node_record = node_record
        self.version = version
        self.relay_id = relay_id
        self._random = random_bytes
        self.peer_sid = None
        self.peer_modulus = None
        self.state = "new"
        self.key = bytes(32)
        self.x_out = self.x_in = 0
        self.seq_out = 0
        self.received_records = 0
        self._challenge = int.from_bytes(random_bytes(8), "big")
        self._nonce = new_nonce(random_bytes)
        self._peer_nonce = None
        self._request_tid = None
        self._out = []
        self._unacked = {}
        self.failed = None

    # -- sending ------------------------------------------------------------------

    def take(self):
        """Record bytes to send (in order) since the last call."""
        out, self._out = self._out, []
        return b"".join(out)

    def _send(self, tid, cmd, items):
        plaintext = encode_session_plaintext(tid, cmd, body_bytes(items))
        chk_sid = self.relay_id if self.relay_id is not None else (self.peer_sid or 0)
        record = seal_session_record(plaintext, self.key, self.x_out, self.seq_out, chk_sid)
        self.seq_out = (self.seq_out + 1) & 0xFFFF
        self._out.append(record.encode())

    def start(self):
        """The initiator's 67."""
        if self.role != INITIATOR:
            raise ValueError("only the initiator starts")
        self._request_tid = 1 + secrets.randbelow(0xFFFF)
        self._send(self._request_tid, CMD_SESSION_REQUEST, SessionRequest(
            self.peer_name, self.node_record, self.session_id, self._challenge,
            version=self.version).items())
        self.state = "requested"

    def send_message(self, text):
        """Send chat ``text`` (after :class:`SessionReady`); returns its tid."""
        if self.state != "ready":
            raise PeerError("session not set up (%s)" % (self.state,))
        tid = 1 + secrets.randbelow(0xFFFF)
        self._unacked[tid] = text
        self._send(tid, CMD_CHAT, ChatMessage(self.me.name, text, tid).items())
        return tid

    @property
    def unacked(self):
        return dict(self._unacked)

    # -- receiving ----------------------------------------------------------------

    def receive(self, record):
        """A session record from the peer; returns the events it caused."""
        if self.failed is not None or not isinstance(record, SessionRecord):
            return []
        try:
            return self._receive(record)
        except (ProtocolError, ValueError) as e:
            return self._fail("%s: %s" % (type(e).__name__, e))

    def _open(self, record):
        try:
            return open_session_record(record, self.key, self.x_in, sid_rx=self.session_id)
        except ChecksumError:
            if self.received_records == 0 and self.relay_id is None:
                # The initiator's first record, keyed before it knew our id.
                return open_session_record(record, self.key, self.x_in, sid_rx=0)
            raise

    def _receive(self, record):
        _seq, plaintext = self._open(record)
        self.received_records += 1
        message = decode_session_plaintext(plaintext)
        objs = decode_objects(message.body)
        handler = {
            (RESPONDER, "new", CMD_SESSION_REQUEST): self._on_request,
            (INITIATOR, "requested", CMD_SESSION_REPLY): self._on_reply,
            (RESPONDER, "replied", CMD_SESSION_AUTH): self._on_auth,
            (INITIATOR, "authenticating", CMD_SESSION_AUTH_REPLY): self._on_auth_reply,
        }.get((self.role, self.state, message.cmd))
        if handler is not None:
            return handler(message.tid, objs)
        if self.state == "ready" and message.cmd == CMD_CHAT:
            chat = ChatMessage.from_objects(objs)
            if chat.text is None:
                raise ProtocolError("chat message without text")
            self._send(message.tid, CMD_ACK, [])
            return [MessageReceived(self.peer_name, chat.text, message.tid)]
        if self.state == "ready" and message.cmd == CMD_ACK:
            if self._unacked.pop(message.tid, None) is not None:
                return [MessageAcked(message.tid)]
            return []
        raise ProtocolError("unexpected session command 0x%x in state %s"
                            % (message.cmd, self.state))

    def _fail(self, reason):
        self.failed = reason
        self.state = "failed"
        return [SessionFailed(reason)]

    def _peer_credential(self, raw):
        if raw is None:
            raise ProtocolError("no credential (BLOB 5)")
        credential = parse_credential(raw, self.credential_key)
        self.peer_modulus = credential.user_modulus
        return credential

    def _on_request(self, tid, objs):
        request = SessionRequest.from_objects(objs)
        if request.session_id is None or request.challenge is None:
            raise ProtocolError("67 without INT 3 / INT64 9")
        if request.peer_name is not None and request.peer_name != self.me.name:
            return self._fail("session request for %r, we are %r" % (request.peer_name,
                                                                    self.me.name))
        self.peer_sid = request.session_id & 0xFFFF
        self._peer_challenge = request.challenge
        self._send(tid, CMD_SESSION_REPLY, SessionReply(
            self.session_id, self.me.credential, self._challenge).items())
        self.state = "replied"
        return []

    def _on_reply(self, tid, objs):
        reply = SessionReply.from_objects(objs)
        if reply.session_id is None or reply.challenge is None:
            raise ProtocolError("68 without INT 3 / INT64 9")
        credential = self._peer_credential(reply.credential)
        if self.peer_name is not None and credential.name != self.peer_name:
            return self._fail("answered by %r, not %r" % (credential.name, self.peer_name))
        self.peer_name = credential.name
        self.peer_sid = reply.session_id & 0xFFFF
        signer = self.me.signer()
        self._send(1 + secrets.randbelow(0xFFFF), CMD_SESSION_AUTH, SessionAuth(
            self.me.credential, sign_challenge(reply.challenge, self.me.name, signer),
            encrypt_nonce(self._nonce, self.peer_modulus)).items())
        self.state = "authenticating"
        return []

    def _on_auth(self, tid, objs):
        auth = SessionAuth.from_objects(objs)
        credential = self._peer_credential(auth.credential)
        if auth.signature is None or not check_challenge(auth.signature, self._challenge,
                                                         credential.name, self.peer_modulus):
            return self._fail("%r did not sign our challenge" % (credential.name,))
        if auth.nonce is None:
            raise ProtocolError("69 without BLOB 6 (nonce)")
        self.peer_name = credential.name
        self._peer_nonce = self.me_decrypt(auth.nonce)
        signer = self.me.signer()
        self._send(tid, CMD_SESSION_AUTH_REPLY, SessionAuthReply(
            sign_challenge(self._peer_challenge, self.me.name, signer),
            encrypt_nonce(self._nonce, self.peer_modulus)).items())
        self._switch_keys(initiator_nonce=self._peer_nonce, responder_nonce=self._nonce)
        return [SessionReady(self.peer_name)]

    def _on_auth_reply(self, tid, objs):
        reply = SessionAuthReply.from_objects(objs)
        if reply.signature is None or not check_challenge(reply.signature, self._challenge,
                                                          self.peer_name, self.peer_modulus):
            return self._fail("%r did not sign our challenge" % (self.peer_name,))
        if reply.nonce is None:
            raise ProtocolError("87 without BLOB 6 (nonce)")
        self._peer_nonce = self.me_decrypt(reply.nonce)
        self._switch_keys(initiator_nonce=self._nonce, responder_nonce=self._peer_nonce)
        return [SessionReady(self.peer_name)]

    def me_decrypt(self, blob):
        nonce = RsaPrivate.from_numbers(self.me.user_key.private_numbers()).raw(bytes(blob))
        if nonce[:1] != b"\x01":
            raise ProtocolError("peer nonce does not start with 01")
        return nonce

    def _switch_keys(self, initiator_nonce, responder_nonce):
        self.key = session_key(initiator_nonce, responder_nonce)
        if self.role == INITIATOR:
            x_ir, x_ri = direction_words(self.session_id, self.peer_sid)
            self.x_out, self.x_in = x_ir, x_ri
        else:
            x_ir, x_ri = direction_words(self.peer_sid, self.session_id)
            self.x_out, self.x_in = x_ri, x_ir
        self.state = "ready"


# -- the Deferred side shared by both transports ------------------------------------


class _SessionDriver(object):
    """Runs a :class:`PeerSessionCore` over a record writer; Deferreds for
    "ready", each message and each ack."""

    def __init__(self, core, write, close, clock):
        self.core = core
        self._write = write
        self._close = close
        self.clock = clock
        self.ready = defer.Deferred()
        self.messages = []
        self._message_waiters = []
        self._ack_waiters = {}
        self.closed = False

    def start(self):
        self.core.start()
        self.flush()

    def flush(self):
        data = self.core.take()
        if data and not self.closed:
            self._write(data)

    def record(self, record):
        events = self.core.receive(record)
        self.flush()
        for event in events:
            if isinstance(event, SessionReady):
                if not self.ready.called:
                    self.ready.callback(self)
            elif isinstance(event, MessageReceived):
                self.messages.append(event)
                waiters, self._message_waiters = self._message_waiters, []
                for d in waiters:
                    d.callback(event)
            elif isinstance(event, MessageAcked):
                d = self._ack_waiters.pop(event.tid, None)
                if d is not None:
                    d.callback(event.tid)
            elif isinstance(event, SessionFailed):
                self.fail(PeerError(event.reason))
                self._close()

    def send(self, text, timeout=STEP_TIMEOUT):
        """Send ``text``; fires with its tid once the peer acknowledged it."""
        tid = self.core.send_message(text)
        d = self._ack_waiters[tid] = timed(defer.Deferred(), self.clock, timeout,
                                            "no ack for the message")
        self.flush()
        return d

    def next_message(self, timeout=None):
        """The next :class:`MessageReceived` (timeout None: wait as long as
        the session lives)."""
        d = defer.Deferred()
        self._message_waiters.append(d)
        return timed(d, self.clock, timeout, "no message") if timeout else d

    def fail(self, reason):
        if not self.ready.called:
            self.ready.errback(reason)
        waiters, self._message_waiters = self._message_waiters, []
        acks, self._ack_waiters = self._ack_waiters, {}
        for d in waiters + list(acks.values()):
            if not d.called:
                d.errback(reason)

    def lost(self, reason):
        self.closed = True
        self.fail(PeerError("connection to the peer closed: %s" % (reason,)))


def timed(d, clock, timeout, what):
    """``d``, failing with TimeoutError after ``timeout`` seconds (None: never)."""
    if not timeout:
        return d

    def expire():
        if not d.called:
            d.errback(error.TimeoutError("%s within %ss" % (what, timeout)))
    call = clock.callLater(timeout, expire)

    def done(result):
        if call.active():
            call.cancel()
        return result
    return d.addBoth(done)


# -- direct TCP between two clients ---------------------------------------------------


class PeerStreamProtocol(Protocol):
    """A direct connection between two clients: the dialer is the
    initiator (:class:`~blissnode.wire.peer_session.PeerClient`), the
    listener the responder (:class:`~blissnode.wire.peer_session.PeerServer`,
    classic or DH-384 openings, no 443 prelude)."""

    def __init__(self, core, clock, dh=False, on_session=None):
        self.core = core
        self.clock = clock
        self.dh = dh
        self.on_session = on_session
        self.stream = None
        self.driver = None
        self.established = defer.Deferred()

    def connectionMade(self):
        self.driver = _SessionDriver(self.core, self._write_records,
                                     self.transport.loseConnection, self.clock)
        self.driver.transport = self.transport
        if self.core.role == INITIATOR:
            self.stream = PeerClient(dh=self.dh, greeting=Greeting(1 + secrets.randbelow(0xFFFF)),
                                     first_record=padding_record())
            self.transport.write(self.stream.start())
        else:
            self.stream = PeerServer(allow_dh=True, prelude=False)
        if self.on_session is not None:
            self.on_session(self.driver)

    def _write_records(self, data):
        self.transport.write(self.stream.encode(data))

    def dataReceived(self, data):
        try:
            if self.core.role == INITIATOR:
                out, events = self.stream.receive(data)
                if out:
                    self.transport.write(out)
            else:
                events = self.stream.receive(data)
        except ProtocolError as e:
            self.driver.fail(PeerError("peer stream: %s" % (e,)))
            self.transport.abortConnection()
            return
        for event in events:
            if isinstance(event, Send):
                self.transport.write(event.data)
            elif isinstance(event, SendLater):
                self.transport.write(self.stream.release_start())
            elif isinstance(event, Established):
                if self.core.role == RESPONDER:
                    # Our seed exchange (and padding) if DH delayed it.
                    self.transport.write(self.stream.release_start())
                if not self.established.called:
                    self.established.callback(self)
                if self.core.role == INITIATOR:
                    self.driver.start()
            elif isinstance(event, RecordIn):
                self.driver.record(event.record)

    def connectionLost(self, reason=None):
        if self.driver is not None:
            self.driver.lost(reason.getErrorMessage() if reason is not None else "closed")
        if not self.established.called:
            self.established.errback(PeerError("closed before the seed exchange"))


class PeerListenerFactory(Factory):
    """Accepts direct sessions: each connection gets a fresh responder core
    from ``make_core()``; ``on_session(driver)`` is told of each."""

    noisy = False

    def __init__(self, make_core, clock, on_session, ready=None):
        self.make_core = make_core
        self.clock = clock
        self.on_session = on_session
        self.ready = ready

    def buildProtocol(self, addr):
        if self.ready is not None and not self.ready():
            return None
        proto = PeerStreamProtocol(self.make_core(), self.clock, on_session=self.on_session)
        proto.factory = self
        return proto


@defer.inlineCallbacks
def dial_peer(reactor, host, port, core, dh=False, timeout=STEP_TIMEOUT):
    """Connect to a client's listening port and set the session up; fires
    with the driver once both sides are authenticated."""
    proto = PeerStreamProtocol(core, reactor, dh=dh)
    endpoint = TCP4ClientEndpoint(reactor, host, port, timeout=timeout)
    yield connectProtocol(endpoint, proto)
    driver = proto.driver
    yield timed(driver.ready, reactor, timeout, "no session set-up")
    return driver


# -- through the relay --------------------------------------------------------------------


class RelayLeg(object):
    """Our TCP session to the relay (a
    :class:`~blissnode.client.tcp.SupernodeSession` that never sends cmd
    30): cmd 73 or 74 -> 75, then cmd 84, then session records both ways."""

    def __init__(self, session, reactor):
        self.session = session
        self.protocol = session.protocol
        self.reactor = reactor
        self.connection_id = None
        self.driver = None
        self._held = []
        self.protocol.session_records = self._record

    def _record(self, record):
        if self.driver is None:
            self._held.append(record)
        else:
            self.driver.record(record)

    def _write(self, data):
        self.protocol.send_raw_records(data, "session records")

    def attach(self, core):
        """Run ``core`` over this leg (records held so far go to it)."""
        self.driver = _SessionDriver(core, self._write, self.close, self.reactor)
        self.protocol.lost.addCallback(lambda _: self.driver.lost("relay leg closed"))
        held, self._held = self._held, []
        for record in held:
            self.driver.record(record)
        return self.driver

    def wait_status(self, timeout=STEP_TIMEOUT):
        """The relay's cmd 84 (the other leg is attached)."""
        for command in self.protocol.received:
            if command.cmd == CMD_RELAY_STATUS:
                return defer.succeed(command)
        return self.protocol.watch(CMD_RELAY_STATUS, timeout)

    def close(self):
        return self.session.close()


@defer.inlineCallbacks
def _relay_request(reactor, relay, profile, cmd, items, transcript, timeout):
    session = yield connect_supernode(reactor, relay[0], relay[1], profile,
                                      transcript=transcript, timeout=timeout)
    leg = RelayLeg(session, reactor)
    reply = yield session.protocol.request(cmd, items, timeout=timeout)
    answer = RelayAccepted.from_objects(reply.objects())
    if reply.cmd != CMD_RELAY_ACCEPTED or answer.connection_id == 0:
        yield leg.close()
        raise PeerError("relay %s:%d refused cmd %d" % (relay[0], relay[1], cmd))
    return leg, answer


@defer.inlineCallbacks
def open_relay(reactor, relay, profile, session_id, transcript=None, timeout=STEP_TIMEOUT):
    """cmd 73 at ``relay`` (host, port): fires with the :class:`RelayLeg`
    (its ``connection_id`` set from cmd 75)."""
    leg, answer = yield _relay_request(reactor, relay, profile, CMD_RELAY_OPEN,
                                       RelayOpen(session_id).items(),
                                       transcript or Transcript(reactor), timeout)
    if not answer.connection_id:
        yield leg.close()
        raise PeerError("relay answered cmd 73 without a connection id")
    leg.connection_id = answer.connection_id
    return leg


@defer.inlineCallbacks
def join_relay(reactor, relay, profile, session_id, connection_id, transcript=None,
               timeout=STEP_TIMEOUT):
    """cmd 74 for ``connection_id`` at ``relay``; fires with the leg once the
    relay's cmd 84 arrived."""
    leg, _answer = yield _relay_request(reactor, relay, profile, CMD_RELAY_JOIN,
                                        RelayJoin(session_id, connection_id).items(),
                                        transcript or Transcript(reactor), timeout)
    leg.connection_id = connection_id
    yield leg.wait_status(timeout)
    return leg
