"""
:class:`SupernodeDatagramProtocol`: the supernode's UDP side (udp.md 6).

The protocol only buffers, decodes with :mod:`blissnode.wire` and dispatches
each command to the handler method named by the handler set's
``udp_commands`` table; every reply byte is built by the wire layer.

Receive pipeline per datagram from ``(ip, port)``:

1. per-IP token bucket (``udp_rate``/``udp_burst``): over the rate -> drop;
2. :func:`~blissnode.wire.udp.parse_datagram`; then by kind:

   * **2 payload**: decrypt keyed ``(ip, our public ip, P)``; CRC failure ->
     NACK ``(P, your ip, fresh challenge)``, remember ``(peer, P) ->
     challenge`` for ``nack_ttl`` seconds; else handle the payload;
   * **3 resend**: accepted only with a challenge we issued to that peer for
     that P (GUESS, configurable: ``accept_unknown_resend``); CRC failure ->
     drop; else handle the payload;
   * **F fragment**: decrypt like kind 2 (CRC failure -> drop), reassemble per
     ``(peer, P)``, handle the complete message;
   * **7 NACK** from a client that could not open *our* datagram P: resend it
     as kind 3 keyed with its challenge;
   * **5 ACK**: our datagram P was delivered -- forget it;

3. handle a payload: duplicates of ``(peer, P)`` with the same plaintext are
   answered from the reply cache; otherwise parse the commands, run the
   handlers, send every reply in ONE datagram (fragments when large) or a
   kind-5 ACK when nothing was answered but a notification was present
   (:func:`~blissnode.wire.udp_commands.ack_decision`).

Fast paths (same answers, fewer objects; each beside the general path it
shortcuts and selected automatically):

* a kind-2 datagram is opened by :func:`~blissnode.wire.udp.open_payload`
  (no datagram object); other kinds go through
  :func:`~blissnode.wire.udp.parse_datagram`;
* a payload that is exactly one probe (cmd 27,
  :func:`~blissnode.wire.udp_commands.probe_request_id`) served by a handler
  set whose ``udp_probe`` is the base one is answered at once (cmd 28 with the
  handlers' ``probe_reply_body()``): no Request, no Deferred, no reply-cache
  entry (a repeated probe just gets another cmd 28);
* handlers that answer synchronously (all UDP handlers today) are answered
  without a Deferred chain; one that returns a Deferred gets the chain;
* a reply to the address a datagram came from is written with the socket's
  ``sendto`` (Twisted's ``write`` re-validates the address on every call);
  any error falls back to ``transport.write``.

Bad input never escapes: ProtocolError -> one throttled log line per source
and the datagram is dropped; any other exception in a handler is logged with
its traceback (throttled) and only that datagram is lost.
"""

import hashlib

from twisted.internet import defer
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from blissnode.supernode.handlers import SupernodeHandlers
from blissnode.supernode.limits import ExpiringDict, TokenBuckets
from blissnode.supernode.request import UDP, Request, UndecodedBody
from blissnode.wire import fragments as wire_fragments
from blissnode.wire import udp as wire_udp
from blissnode.wire import udp_commands
from blissnode.wire.errors import ProtocolError
from blissnode.wire.objects import ObjectList, decode_objects
from blissnode.wire.tcp_commands import KIND_NOTIFICATION, KIND_REQUEST, IdCounter

log = Logger()

_BASE_UDP_PROBE = SupernodeHandlers.udp_probe

#: Marker in the reply cache for a payload still being handled.
_IN_PROGRESS = "in progress"


def _digest(plaintext):
    return hashlib.blake2b(plaintext, digest_size=16).digest()


def decode_body(command):
    """The command's object list, or an empty list if the body does not
    decode (handlers decide whether that matters)."""
    try:
        return decode_objects(command.body)
    except ProtocolError:
        return ObjectList()


class SupernodeDatagramProtocol(DatagramProtocol):
    """The supernode's UDP listener; one per node (``node.udp``)."""

    #: Answer lone probes on the fast path (module docstring); False sends
    #: them through the general path (tests compare the two).
    fast_probes = True

    def __init__(self, node):
        self.node = node
        cfg = node.config
        now = node.now
        self.buckets = TokenBuckets(cfg.udp_rate, cfg.udp_burst, now)
        #: (ip, port, P) -> challenge we sent in a NACK.
        self.challenges = ExpiringDict(cfg.nack_ttl, 8192, now)
        #: (ip, port, P) -> (plaintext digest, [datagrams sent in answer]).
        self.replies = ExpiringDict(cfg.reply_cache_ttl, cfg.reply_cache_size, now)
        #: (ip, port, our P) -> plaintext, for kind-7 resends; popped by ACKs.
        self.sent = ExpiringDict(cfg.sent_ttl, cfg.sent_size, now)
        self.reassembler = wire_fragments.Reassembler()
        self.ids = IdCounter(node.rng.randrange(0x10000))
        self.stats = {"received": 0, "dropped": 0, "nacks": 0, "acks": 0,
                      "replies": 0, "errors": 0}

    # -- twisted ------------------------------------------------------------

    def startProtocol(self):
        self.node.udp = self
        if not self.node.config.udp_port:
            self.node.config.udp_port = self.transport.getHost().port

    def stopProtocol(self):
        if self.node.udp is self:
            self.node.udp = None

    def datagramReceived(self, data, addr):
        stats = self.stats
        stats["received"] += 1
        ip = addr[0]
        if not self.buckets.take(ip):
            stats["dropped"] += 1
            self.node.throttle.warn(ip, "udp-rate", "UDP rate limit exceeded by {source}")
            return
        try:
            self._datagram(data, (ip, addr[1]))
        except ProtocolError as e:
            stats["dropped"] += 1
            self.node.throttle.warn(ip, "udp-bad", "bad datagram from {source}: {error}",
                                    error=e)
        except Exception:
            stats["errors"] += 1
            self.node.throttle.failure(ip, "udp-bug", "error handling a datagram from {source}")

    # -- receive ------------------------------------------------------------

    def _datagram(self, data, peer):
        ip = peer[0]
        opened = wire_udp.open_payload(data, ip, self.node.public_ip)
        if opened is not None:
            packet_id, plain, ok = opened
            if not ok:
                self._nack(peer, packet_id)
            elif not self._fast_probe(peer, plain):
                self._payload(peer, packet_id, plain)
            return
        datagram = wire_udp.parse_datagram(data)
        kind = datagram.kind
        if kind == wire_udp.KIND_PAYLOAD:  # not reached: open_payload took it
            plain, ok = datagram.decrypt(ip, self.node.public_ip)
            if not ok:
                self._nack(peer, datagram.packet_id)
                return
            self._payload(peer, datagram.packet_id, plain)
        elif kind == wire_udp.KIND_RESEND:
            key = (ip, peer[1], datagram.packet_id)
            expected = self.challenges.get(key)
            if expected is None and not self.node.config.accept_unknown_resend:
                raise ProtocolError("resend with a challenge we did not issue")
            if expected is not None and datagram.nseed != expected:
                raise ProtocolError("resend with the wrong challenge")
            plain, ok = datagram.decrypt()
            if not ok:
                raise ProtocolError("resend fails its CRC")
            self._payload(peer, datagram.packet_id, plain)
        elif kind == wire_udp.KIND_FRAGMENT:
            plain, ok = datagram.decrypt(ip, self.node.public_ip)
            if not ok:
                raise ProtocolError("fragment fails its CRC")
            message = self.reassembler.add(
                (ip, peer[1], datagram.packet_id), datagram.index, bool(datagram.last),
                plain, self.node.now())
            self.reassembler.expire(self.node.now())
            if message is not None:
                self._payload(peer, datagram.packet_id, message)
        elif kind == wire_udp.KIND_NACK:
            self._resend(peer, datagram)
        elif kind == wire_udp.KIND_ACK:
            self.sent.pop((ip, peer[1], datagram.packet_id))

    def _handlers_for(self, peer):
        node = self.node
        return node.handler_sets.for_udp_peer(node.tcp_sessions.for_udp_peer(peer))

    def _fast_probe(self, peer, plaintext):
        """Answer a lone probe at once (module docstring); False when the
        payload is anything else or its handlers answer probes their own way."""
        if not self.fast_probes:
            return False
        request_id = udp_commands.probe_request_id(plaintext)
        if request_id is None:
            return False
        handlers = self._handlers_for(peer)
        if not _base_probe(handlers):
            return False
        reply = udp_commands.probe_reply(request_id, handlers.probe_reply_body())
        self._send_plaintext(peer, reply, self._reply)
        self.stats["replies"] += 1
        return True

    def _nack(self, peer, packet_id):
        """Answer an undecryptable kind-2 datagram (udp.md 2.3)."""
        challenge = self.node.random_u32()
        self.challenges.set((peer[0], peer[1], packet_id), challenge)
        nack = wire_udp.NackDatagram(packet_id, peer[0], challenge, self._type_byte(7))
        self.stats["nacks"] += 1
        self._write(nack.to_bytes(), peer)

    def _resend(self, peer, nack):
        """A client's NACK of one of our datagrams: send it again as kind 3."""
        if nack.your_ip != self.node.public_ip:
            self.node.throttle.warn(
                peer[0], "udp-myip",
                "{source} sees us as {seen}, not --public-ip {ip}: check the option",
                seen=nack.your_ip, ip=self.node.public_ip)
        plaintext = self.sent.get((peer[0], peer[1], nack.packet_id))
        if plaintext is None:
            return
        data = wire_udp.encrypt_resend(nack.packet_id, nack.nseed, peer[0], plaintext,
                                       type_byte=self._type_byte(3))
        self._write(data, peer)

    def _payload(self, peer, packet_id, plaintext):
        key = (peer[0], peer[1], packet_id)
        digest = _digest(plaintext)
        cached = self.replies.get(key)
        if cached is not None and cached[0] == digest:
            # A retransmission (same P, same plaintext): answer the same way
            # (nothing yet if the first copy is still being handled).
            if cached[1] is _IN_PROGRESS:
                return
            for data in cached[1]:
                self._reply(data, peer)
            return
        commands = udp_commands.parse_payload(plaintext)
        self.replies.set(key, (digest, _IN_PROGRESS))
        handlers = self._handlers_for(peer)
        try:
            results = [self._dispatch(handlers, command, peer, packet_id)
                       for command in commands]
        except Exception:
            self._handler_failed(Failure(), peer, key)
            return
        if not any(isinstance(r, defer.Deferred) for r in results):
            # Every handler answered at once: no Deferred chain.
            try:
                self._answer(results, handlers, commands, peer, packet_id, key, digest)
            except Exception:
                self._handler_failed(Failure(), peer, key)
            return
        d = defer.gatherResults([defer.maybeDeferred(lambda r=r: r) for r in results],
                                consumeErrors=True)
        d.addCallback(self._answer, handlers, commands, peer, packet_id, key, digest)
        d.addErrback(self._handler_failed, peer, key)

    def _dispatch(self, handlers, command, peer, packet_id):
        """The handler's answer to one command: a list of commands, None, or
        a Deferred of one (raises what the handler raises)."""
        if command.kind in (KIND_REQUEST, KIND_NOTIFICATION):
            name = handlers.udp_commands.get(command.cmd, "udp_unknown")
        else:
            return None  # replies: we send no UDP requests of our own
        request = Request(command, UndecodedBody(decode_body, command), peer, self.node, UDP,
                          session=None, packet_id=packet_id)
        return getattr(handlers, name)(request)

    def _answer(self, results, handlers, commands, peer, packet_id, key, digest):
        replies = [c for result in results for c in (result or ())]
        sent = []
        if replies:
            sent = self._send(peer, replies, in_reply_to=packet_id, write=self._reply)
            self.stats["replies"] += 1
        else:
            action = udp_commands.ack_decision(commands, answers=handlers.udp_commands)
            if action != udp_commands.ACTION_REPLY and any(
                    c.kind == KIND_NOTIFICATION for c in commands):
                ack = wire_udp.AckDatagram(packet_id, peer[0], self.node.random_u32(),
                                           self._type_byte(5)).to_bytes()
                self._reply(ack, peer)
                self.stats["acks"] += 1
                sent = [ack]
        self.replies.set(key, (digest, sent))

    def _handler_failed(self, failure, peer, key):
        self.replies.pop(key)
        if isinstance(failure.value, defer.FirstError):
            failure = failure.value.subFailure
        self.stats["errors"] += 1
        if failure.check(ProtocolError):
            self.node.throttle.warn(peer[0], "udp-bad", "bad command from {source}: {error}",
                                    error=failure.value)
        else:
            self.node.throttle.failure(peer[0], "udp-bug",
                                       "handler error for a datagram from {source}",
                                       failure=failure)

    # -- send ---------------------------------------------------------------

    def _type_byte(self, kind):
        """Kinds 3, 5, 7, F get random bits 4..6 like real senders (udp.md 2)."""
        return wire_udp.make_type_byte(kind, self.node.rng.randrange(8))

    def _write(self, data, peer):
        try:
            self.transport.write(data, peer)
        except Exception:
            self.node.throttle.failure(peer[0], "udp-send", "cannot send to {source}",
                                       failure=Failure())

    def _reply(self, data, peer):
        """Write to the address a datagram came from (so a valid one): the
        socket's ``sendto`` directly; on any error, :meth:`_write`."""
        sendto = getattr(getattr(self.transport, "socket", None), "sendto", None)
        if sendto is None:
            return self._write(data, peer)
        try:
            sendto(data, peer)
        except OSError:
            self._write(data, peer)

    def send_commands(self, peer, commands, in_reply_to=None):
        """Send ``commands`` to ``peer``: one kind-2 datagram, or fragments
        when the payload is larger than one datagram should be.  Returns the
        datagrams written (for the reply cache)."""
        return self._send(peer, commands, in_reply_to)

    def _send(self, peer, commands, in_reply_to=None, write=None):
        return self._send_plaintext(peer, udp_commands.build_payload(commands),
                                    write or self._write, in_reply_to)

    def _send_plaintext(self, peer, plaintext, write, in_reply_to=None):
        node = self.node
        packet_id = self.ids.next()
        if not wire_fragments.needs_fragments(len(plaintext)):
            data = wire_udp.seal_payload(node.seeds, node.public_ip, peer[0], packet_id,
                                         plaintext)
            self.sent.set((peer[0], peer[1], packet_id), plaintext)
            write(data, peer)
            return [data]
        out = []
        reply_to = in_reply_to if in_reply_to is not None else packet_id
        for piece, chunk in wire_fragments.split_message(plaintext):
            data = wire_udp.seal_fragment(
                node.seeds, node.public_ip, peer[0], packet_id, reply_to,
                piece.index, piece.last, chunk,
                type_byte=self._type_byte(wire_udp.KIND_FRAGMENT))
            write(data, peer)
            out.append(data)
        return out


def _base_probe(handlers):
    """Whether ``handlers`` answer cmd 27 with the base ``udp_probe`` (then
    the fast path gives the same answer)."""
    return (handlers.udp_commands.get(udp_commands.CMD_PROBE) == "udp_probe"
            and getattr(handlers.udp_probe, "__func__", None) is _BASE_UDP_PROBE)
