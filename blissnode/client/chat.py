"""
One text message from a signed-in reference client to another, the way the
P2P network carried it (supernode.md 5.3, tcp.md 7), and the receiving end.

Sending (:func:`send_chat`)::

    cmd 14 -> 15 on our supernode session     the peer's user record -> its node record
    direct:  TCP to the peer's address        session set-up, 0x6D, 0x47 ack
    relay:   UDP cmd 44 -> 45                 relay candidates (we use the first)
             TCP cmd 73 -> 75                 our leg, connection id
             UDP cmd 53 {67 + LIST 7}  -> 70  the proposal pushed to the peer
             (the peer joins with cmd 74)  <- cmd 84: set up, 0x6D, 0x47 ack
    offline: the peer is not online (no record, or cmd 54) -> an offline
             message through the event server

The direct attempt falls back to the relay when the peer cannot be reached
(``via_relay`` goes to the relay at once).  Receiving (:class:`ChatReceiver`):
a TCP listener on the port our node record names (direct sessions) and the
pushed cmd 67 proposals on our supernode session (we join the relay they
name); each message is acknowledged and handed to ``on_message``.
"""

import secrets

import attr
from twisted.internet import defer, error
from twisted.logger import Logger

from blissnode.client.peer import (
    INITIATOR,
    RESPONDER,
    STEP_TIMEOUT,
    Identity,
    PeerError,
    PeerListenerFactory,
    PeerSessionCore,
    dial_peer,
    join_relay,
    new_session_id,
    open_relay,
    timed,
)
from blissnode.client.udp import UdpTimeout, open_udp_client
from blissnode.wire.errors import ProtocolError
from blissnode.wire.node_record import decode_node_record
from blissnode.wire.objects import Blob, NestedList, NetAddr, String, decode_objects
from blissnode.wire.peer_messages import CMD_SESSION_REQUEST, SessionRequest, open_user_record
from blissnode.wire.relay_commands import RelayCandidate

log = Logger()

__all__ = ["ChatResult", "send_chat", "ChatReceiver", "find_peer", "identity_of",
           "CMD_PUSH_DELIVERED"]

CMD_SEARCH, CMD_SEARCH_REPLY = 14, 15
#: cmd 53 answered with 70 = the proposal reached the peer (its "session
#: accept", supernode.md 5.3); 54 = not online.
CMD_PUSH_DELIVERED, CMD_PUSH_OFFLINE = 70, 54


@attr.s
class ChatResult(object):
    """How a message went: ``path`` is "direct", "relay" or "offline";
    ``acked`` whether the peer acknowledged it (offline: whether the event
    server stored it)."""

    to = attr.ib()
    text = attr.ib()
    path = attr.ib()
    acked = attr.ib()
    seq = attr.ib(default=None)          # offline message number
    relay = attr.ib(default=None)        # "host:port" of the relay used
    connection_id = attr.ib(default=None)
    direct_error = attr.ib(default=None)  # why the direct attempt failed

    def to_json(self):
        return attr.asdict(self)


def identity_of(signed_in):
    """The :class:`~blissnode.client.peer.Identity` of a
    :class:`~blissnode.client.event.SignedIn`."""
    return Identity(signed_in.name, signed_in.login.credential_raw, signed_in.user_key)


def _own_node_record(signed_in):
    """The node record we published (BLOB 3 of our user record)."""
    return signed_in.node_record


@defer.inlineCallbacks
def find_peer(signed_in, name, credential_key):
    """``(credential, NodeRecord, raw node record)`` of ``name`` from a cmd 14
    search on our supernode session, or None when nobody of that name is
    online.  Records whose credential or signature does not open are
    skipped."""
    profile = signed_in.supernode.profile
    reply = yield signed_in.supernode.request(CMD_SEARCH, profile.search_objects(name))
    if reply.cmd != CMD_SEARCH_REPLY:
        return None
    for hit in reply.objects().get_all(0x00, NestedList):
        record = hit.value.value(0x0B, Blob)
        found = hit.value.value(0x10, String)
        if record is None or found is None or found.decode("utf-8", "replace").lower() \
                != name.lower():
            continue
        try:
            credential, node_raw = open_user_record(record, credential_key)
            node = decode_node_record(node_raw)
        except (ProtocolError, ValueError):
            continue
        if credential.name.lower() == name.lower():
            return credential, node, node_raw
    return None


def _peer_address(node):
    """Where a client with this node record listens: its public address
    (27-byte records) or its local one (21-byte records)."""
    addr = node.public if node.public is not None else node.lan
    return addr.ip, addr.port


@defer.inlineCallbacks
def send_chat(reactor, signed_in, to, text, credential_key, udp_address, via_relay=False,
              timeout=STEP_TIMEOUT):
    """Deliver ``text`` from ``signed_in`` to ``to`` (see the module
    docstring); fires with a :class:`ChatResult`.  ``udp_address``: the
    supernode's UDP (host, port) for cmd 44 and the push."""
    me = identity_of(signed_in)
    found = yield find_peer(signed_in, to, credential_key)
    if found is None:
        result = yield _offline(signed_in, to, text)
        return result
    credential, node, node_raw = found
    profile = signed_in.supernode.profile
    direct_error = None
    if not via_relay:
        core = PeerSessionCore(INITIATOR, me, credential_key, peer_name=credential.name,
                               node_record=_own_node_record(signed_in),
                               version=profile.version_string)
        host, port = _peer_address(node)
        try:
            driver = yield dial_peer(reactor, host, port, core, dh=profile.dh384,
                                     timeout=timeout)
        except (error.ConnectError, error.TimeoutError, PeerError) as e:
            direct_error = str(e)
            log.info("chat: {to} not reachable at {host}:{port} ({error}); trying the relay",
                     to=to, host=host, port=port, error=e)
        else:
            try:
                yield driver.send(text, timeout=timeout)
            finally:
                driver.transport.loseConnection()
            return ChatResult(to, text, "direct", True)
    result = yield _via_relay(reactor, signed_in, me, credential, node_raw, text,
                              credential_key, udp_address, timeout)
    result.direct_error = direct_error
    return result


@defer.inlineCallbacks
def _via_relay(reactor, signed_in, me, credential, node_raw, text, credential_key,
               udp_address, timeout):
    profile = signed_in.supernode.profile
    udp = open_udp_client(reactor, profile, udp_address)
    leg = None
    try:
        nodes = yield udp.node_list()
        relays = nodes.objects().get_all(0x11)
        if not relays:
            raise PeerError("no relay candidate in the cmd 45 answer")
        relay = (relays[0].value.ip, relays[0].value.port)
        sid = new_session_id()
        leg = yield open_relay(reactor, relay, profile, sid, timeout=timeout)
        proposal = SessionRequest(credential.name, _own_node_record(signed_in), sid,
                                  secrets.randbits(64),
                                  [RelayCandidate(leg.connection_id, NetAddr(*relay))],
                                  profile.version_string)
        try:
            answer = yield udp.push(node_raw, CMD_SESSION_REQUEST, proposal.items())
        except UdpTimeout:
            answer = None
        if answer is None or answer.cmd != CMD_PUSH_DELIVERED:
            yield leg.close()
            leg = None
            result = yield _offline(signed_in, credential.name, text)
            return result
        yield leg.wait_status(timeout)
        core = PeerSessionCore(INITIATOR, me, credential_key, session_id=sid,
                               peer_name=credential.name,
                               node_record=_own_node_record(signed_in),
                               version=profile.version_string, relay_id=leg.connection_id)
        driver = leg.attach(core)
        driver.start()
        yield _timeout(driver.ready, reactor, timeout)
        yield driver.send(text, timeout=timeout)
        return ChatResult(credential.name, text, "relay", True, relay="%s:%d" % relay,
                          connection_id=leg.connection_id)
    finally:
        if leg is not None:
            yield leg.close()
        yield udp.stop()


def _timeout(d, reactor, timeout):
    return timed(d, reactor, timeout, "no session set-up")


@defer.inlineCallbacks
def _offline(signed_in, to, text):
    seq, _status = yield signed_in.event.send(to, text)
    return ChatResult(to, text, "offline", seq is not None, seq=seq)


class ChatReceiver(object):
    """Accept sessions from other clients for a signed-in client: direct
    ones on a listening port whose factory is :meth:`factory` (made before
    signing in, so the node record can name the port) and relayed ones
    from pushed cmd 67 proposals.  ``on_message(MessageReceived, driver)``
    is called for each message; :meth:`attach` starts it."""

    #: Most relay legs joined at once (pushed proposals beyond it are ignored).
    MAX_LEGS = 16

    def __init__(self, reactor, credential_key, on_message, timeout=STEP_TIMEOUT):
        self.reactor = reactor
        self.signed_in = None
        self.me = None
        self.credential_key = credential_key
        self.on_message = on_message
        self.timeout = timeout
        self.drivers = []
        self.legs = []
        self.errors = []
        self._joining = 0

    def attach(self, signed_in):
        """Serve ``signed_in`` (a :class:`~blissnode.client.event.SignedIn`
        with a supernode session)."""
        self.signed_in = signed_in
        self.me = identity_of(signed_in)
        signed_in.supernode.protocol.forwarded_listeners.append(self._pushed)
        return self

    def factory(self):
        """The listening factory (connections before :meth:`attach` are refused)."""
        return PeerListenerFactory(self._responder, self.reactor, self._session,
                                   ready=lambda: self.me is not None)

    def _responder(self, session_id=None, relay_id=None):
        return PeerSessionCore(RESPONDER, self.me, self.credential_key, session_id=session_id,
                               relay_id=relay_id)

    def _session(self, driver):
        self.drivers.append(driver)
        self._listen(driver)

    def _listen(self, driver):
        d = driver.next_message()

        def got(message):
            self.on_message(message, driver)
            self._listen(driver)

        def ended(failure):
            failure.trap(PeerError, error.TimeoutError)
            self.drivers = [x for x in self.drivers if x is not driver]
        d.addCallbacks(got, ended)

    def _pushed(self, command):
        if command.cmd != CMD_SESSION_REQUEST:
            return
        try:
            proposal = SessionRequest.from_objects(decode_objects(command.body))
        except ProtocolError as e:
            self.errors.append("unreadable proposal: %s" % (e,))
            return
        if len(self.legs) + self._joining >= self.MAX_LEGS:
            self.errors.append("too many relayed sessions; proposal ignored")
            return
        for candidate in proposal.relays:
            if candidate.connection_id and candidate.address is not None:
                self._join(candidate)
                return

    @defer.inlineCallbacks
    def _join(self, candidate):
        relay = (candidate.address.ip, candidate.address.port)
        sid = new_session_id()
        self._joining += 1
        try:
            leg = yield join_relay(self.reactor, relay, self.signed_in.supernode.profile, sid,
                                   candidate.connection_id, timeout=self.timeout)
        except Exception as e:
            self.errors.append("relay %s:%d: %s" % (relay + (e,)))
            log.info("chat: cannot join relay {relay}: {error}", relay=relay, error=e)
            return
        finally:
            self._joining -= 1
        self.legs.append(leg)
        leg.protocol.lost.addCallback(lambda _: self._forget_leg(leg))
        driver = leg.attach(self._responder(sid, candidate.connection_id))
        self._session(driver)

    def _forget_leg(self, leg):
        self.legs = [x for x in self.legs if x is not leg]

    @defer.inlineCallbacks
    def close(self):
        for leg in list(self.legs):
            yield leg.close()
        for driver in self.drivers:
            transport = getattr(driver, "transport", None)
            if transport is not None:
                transport.loseConnection()
