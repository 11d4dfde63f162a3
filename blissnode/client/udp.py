"""
The UDP side of the reference client (udp.md 1-8).

:class:`UdpClientCore` is sans-IO: it builds the datagrams a client sends
(kind 2 keyed with the address the client *believes* is its public one --
``0.0.0.0`` until a NACK teaches it, udp.md 4.1), turns received datagrams
into effects (replies, ACKs, a learned address, a kind-3 resend to send
after a NACK, fragments put back together), and never touches a socket or a
clock.  :class:`UdpClient` is the Twisted :class:`DatagramProtocol` around it
with a Deferred per request and the retransmission timers of real clients
(udp.md 7): a request or notification is sent again after 2 s and once more
4 s later; probes (27) and address queries (35) are sent once.
"""

import secrets

import attr
from twisted.internet import defer, error
from twisted.internet.protocol import DatagramProtocol

from blissnode.client.transcript import Transcript, command_json
from blissnode.wire import udp as wudp
from blissnode.wire.errors import ProtocolError
from blissnode.wire.fragments import Reassembler
from blissnode.wire.objects import Int
from blissnode.wire.tcp_commands import (
    KIND_NOTIFICATION,
    KIND_REPLY,
    KIND_REQUEST,
    Command,
    IdCounter,
)
from blissnode.wire.udp_commands import build_payload, parse_payload

UNKNOWN_IP = "0.0.0.0"

#: udp.md 7: the second send ~2 s after the first, the third ~4 s later.
RETRANSMIT_DELAYS = (2.0, 4.0)
#: How long to wait after the last send before giving up (GUESS: like the
#: last retransmission gap).
FINAL_WAIT = 4.0
#: Requests real clients send only once (udp.md 7); SOS2 waits 3 s.
SEND_ONCE = frozenset([27, 35])
SEND_ONCE_WAIT = 3.0
#: SOS2 keeps reading search answers for 3 s (supernode.md 5.1).
SEARCH_WAIT = 3.0

CMD_PROBE, CMD_PROBE_OK, CMD_PROBE_REFUSED = 27, 28, 29
CMD_ADDRESS, CMD_ADDRESS_REPLY = 35, 36
CMD_SLOT, CMD_SLOT_REPLY = 6, 8
CMD_PUBLISH = 12
CMD_SEARCH, CMD_SEARCH_REPLY = 14, 15
CMD_NODES, CMD_NODES_REPLY = 44, 45
CMD_PUSH, CMD_PUSH_REPLY = 53, 54


def _rand3():
    return secrets.randbelow(8)


def is_final_search_reply(command):
    """The last cmd 15 of an answer carries ``INT 1 = 1`` (supernode.md 5.1)."""
    try:
        return command.objects().value(1, 0) == 1
    except ProtocolError:
        return True


@attr.s
class Outgoing:
    """A datagram we sent and may have to send again."""

    packet_id = attr.ib()
    plaintext = attr.ib()
    commands = attr.ib()
    sends = attr.ib(default=1)
    request_ids = attr.ib(factory=list)
    expects_ack = attr.ib(default=False)
    nseed = attr.ib(default=None)


@attr.s
class Effects:
    """What one received datagram caused."""

    send = attr.ib(factory=list)           # datagram bytes to send back
    replies = attr.ib(factory=list)        # reply Commands
    acked = attr.ib(factory=list)          # our packet ids that were ACKed
    nacked = attr.ib(default=None)         # packet id resent after a NACK
    learned_ip = attr.ib(default=None)     # our public IP, from a NACK
    notifications = attr.ib(factory=list)  # notification Commands
    requests = attr.ib(factory=list)       # request Commands (not ours to answer)
    dropped = attr.ib(default=None)        # why the datagram was dropped


class UdpClientCore:
    """Sans-IO client datagram logic towards one server address.

    ``server_ip`` is the address the client sends to (and keys with, udp.md
    4.1 DST); ``public_ip`` what it believes its own public address is
    (``None`` = unknown = ``0.0.0.0``, the 1.x behaviour).
    """

    def __init__(self, profile, server_ip, public_ip=None, ids=None,
                 nack_undecryptable=True):
        self.profile = profile
        self.server_ip = wudp.ip_to_str(server_ip)
        self.my_ip = wudp.ip_to_str(public_ip) if public_ip else UNKNOWN_IP
        self.ids = ids if ids is not None else IdCounter()
        self.outgoing = {}
        self.nack_undecryptable = nack_undecryptable
        self.reassembler = Reassembler(max_pending=16)
        self._nseeds_issued = {}

    # -- sending ---------------------------------------------------------------

    def body(self, objects):
        return self.profile.encode_body(objects)

    def new_request(self, cmd, objects=()):
        """A request command with a fresh id (not yet sent)."""
        return Command(cmd, KIND_REQUEST, self.ids.next(), self.body(objects))

    def new_notification(self, cmd, objects=()):
        return Command(cmd, KIND_NOTIFICATION, None, self.body(objects))

    def send(self, commands):
        """Datagram bytes carrying ``commands``; returns ``(Outgoing, bytes)``.
        The packet id is the next id after the request ids (udp.md 5)."""
        commands = list(commands)
        packet_id = self.ids.next()
        plaintext = build_payload(commands)
        out = Outgoing(packet_id, plaintext, commands,
                       request_ids=[c.request_id for c in commands if c.kind == KIND_REQUEST],
                       expects_ack=all(c.kind == KIND_NOTIFICATION for c in commands))
        self.outgoing[packet_id] = out
        return out, self.seal(out)

    def seal(self, out):
        """Kind 2 bytes for ``out`` with a fresh IV, keyed with what we
        currently believe our address is."""
        return wudp.encrypt_payload(self.my_ip, self.server_ip, out.packet_id,
                                    secrets.randbits(32), out.plaintext)

    def retransmit(self, packet_id):
        """Bytes to send ``packet_id`` again (same id and plaintext, new IV);
        ``None`` if it is no longer outstanding."""
        out = self.outgoing.get(packet_id)
        if out is None:
            return None
        out.sends += 1
        return self.seal(out)

    def forget(self, packet_id):
        self.outgoing.pop(packet_id, None)

    # -- receiving -------------------------------------------------------------

    def receive(self, data, addr):
        """Effects of datagram ``data`` from ``addr`` = ``(ip, port)``."""
        fx = Effects()
        ip = addr[0]
        try:
            dgram = wudp.parse_datagram(data)
        except ProtocolError as e:
            fx.dropped = str(e)
            return fx
        if isinstance(dgram, wudp.NackDatagram):
            return self._nack(dgram, fx)
        if isinstance(dgram, wudp.AckDatagram):
            if dgram.packet_id in self.outgoing and self.outgoing[dgram.packet_id].expects_ack:
                self.forget(dgram.packet_id)
                fx.acked.append(dgram.packet_id)
            else:
                fx.dropped = "ACK of packet 0x%04x we are not waiting for" % dgram.packet_id
            return fx
        if isinstance(dgram, wudp.ResendDatagram):
            issued = self._nseeds_issued.pop(dgram.packet_id, None)
            if issued is not None and issued != dgram.nseed:
                fx.dropped = "resend with a challenge we did not issue"
                return fx
            plain, ok = dgram.decrypt()
        else:
            plain, ok = dgram.decrypt(ip, self.my_ip)
        if not ok:
            fx.dropped = "CRC mismatch (keyed with %s -> %s)" % (ip, self.my_ip)
            if self.nack_undecryptable and isinstance(dgram, wudp.PayloadDatagram):
                nseed = secrets.randbits(32)
                self._nseeds_issued[dgram.packet_id] = nseed
                fx.send.append(wudp.NackDatagram(
                    dgram.packet_id, ip, nseed,
                    wudp.make_type_byte(wudp.KIND_NACK, _rand3())).to_bytes())
            return fx
        if isinstance(dgram, wudp.FragmentDatagram):
            try:
                plain = self.reassembler.add((ip, addr[1], dgram.packet_id), dgram.index,
                                             dgram.last, plain)
            except ProtocolError as e:
                fx.dropped = "fragment: %s" % (e,)
                return fx
            if plain is None:
                return fx
        try:
            commands = parse_payload(plain)
        except ProtocolError as e:
            fx.dropped = "payload: %s" % (e,)
            return fx
        notified = False
        for command in commands:
            if command.kind == KIND_REPLY:
                fx.replies.append(command)
                self._answered(command.request_id)
            elif command.kind == KIND_NOTIFICATION:
                fx.notifications.append(command)
                notified = True
            else:
                fx.requests.append(command)
        if notified and not fx.replies and not fx.requests:
            # udp.md 6/8: notification-only datagrams are ACKed (kind 5).
            fx.send.append(wudp.AckDatagram(
                dgram.packet_id, ip, secrets.randbits(32),
                wudp.make_type_byte(wudp.KIND_ACK, _rand3())).to_bytes())
        return fx

    def _answered(self, request_id):
        for pid, out in list(self.outgoing.items()):
            if request_id in out.request_ids:
                out.request_ids.remove(request_id)
                if not out.request_ids:
                    self.forget(pid)

    def _nack(self, nack, fx):
        out = self.outgoing.get(nack.packet_id)
        if out is None:
            fx.dropped = "NACK of packet 0x%04x we are not waiting for" % nack.packet_id
            return fx
        if nack.your_ip != self.my_ip:
            self.my_ip = nack.your_ip
            fx.learned_ip = nack.your_ip
        out.nseed = nack.nseed
        out.sends += 1
        fx.nacked = nack.packet_id
        fx.send.append(wudp.encrypt_resend(
            nack.packet_id, nack.nseed, self.server_ip, out.plaintext,
            type_byte=wudp.make_type_byte(wudp.KIND_RESEND, _rand3())))
        return fx


def _describe(data):
    try:
        d = wudp.parse_datagram(data)
    except ProtocolError:
        return {"length": len(data)}
    out = {"packet_id": d.packet_id, "kind": wudp.KIND_NAMES.get(d.kind, d.kind),
           "length": len(data)}
    if isinstance(d, wudp.NackDatagram):
        out.update(your_ip=d.your_ip, nseed=d.nseed)
    elif isinstance(d, wudp.AckDatagram):
        out.update(your_ip=d.your_ip)
    elif isinstance(d, wudp.ResendDatagram):
        out.update(nseed=d.nseed)
    return out


class UdpTimeout(error.TimeoutError):
    """No answer after the last (re)transmission."""


class _Waiter:
    def __init__(self, deferred, until=None):
        self.deferred = deferred
        self.until = until
        self.replies = []
        self.timer = None


class UdpClient(DatagramProtocol):
    """A client socket talking to one supernode ``(host, port)``.

    Every public method returns a Deferred; everything sent and received is
    added to :attr:`transcript`.  Start it with
    ``reactor.listenUDP(0, client, interface="127.0.0.1")``.
    """

    def __init__(self, profile, server, reactor=None, public_ip=None,
                 transcript=None, nack_undecryptable=True):
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.profile = profile
        self.server = (server[0], server[1])
        self.core = UdpClientCore(profile, server[0], public_ip,
                                  nack_undecryptable=nack_undecryptable)
        self.transcript = transcript if transcript is not None else Transcript(reactor)
        self._waiters = {}      # request id -> _Waiter
        self._ack_waiters = {}  # packet id -> Deferred
        self._timers = {}       # packet id -> IDelayedCall
        self.notifications = defer.DeferredQueue()

    @property
    def public_ip(self):
        return self.core.my_ip

    # -- plumbing ----------------------------------------------------------------

    def _log(self, direction, what, data=None, commands=(), **more):
        details = dict(_describe(data)) if data is not None else {}
        details.update(more)
        if commands:
            details["commands"] = [command_json(c) for c in commands]
        self.transcript.add("udp", direction, what, **details)

    def _write(self, data, what, commands=()):
        self._log("sent", what, data, commands, peer="%s:%d" % self.server)
        self.transport.write(data, self.server)

    def _schedule(self, out, delays, final_wait, on_timeout):
        if not delays:
            self._timers[out.packet_id] = self.reactor.callLater(
                final_wait, on_timeout, out.packet_id)
            return

        def again():
            data = self.core.retransmit(out.packet_id)
            if data is None:
                return
            self._write(data, "retransmit", out.commands)
            self._schedule(out, delays[1:], final_wait, on_timeout)
        self._timers[out.packet_id] = self.reactor.callLater(delays[0], again)

    def _cancel_timer(self, packet_id):
        timer = self._timers.pop(packet_id, None)
        if timer is not None and timer.active():
            timer.cancel()

    def _request(self, command, until=None, wait=None, what=None):
        """Send one request; Deferred fires with its reply Command (or, with
        ``until``, the list of replies up to the one ``until`` accepts)."""
        d = defer.Deferred()
        waiter = _Waiter(d, until)
        self._waiters[command.request_id] = waiter
        out, data = self.core.send([command])
        self._write(data, what or "request", [command])
        once = command.cmd in SEND_ONCE

        def timeout(packet_id):
            self.core.forget(packet_id)
            self._timers.pop(packet_id, None)
            w = self._waiters.pop(command.request_id, None)
            if w is None:
                return
            if w.until is not None and w.replies:
                w.deferred.callback(w.replies)
                return
            self._log("error", "timeout", message="no answer to cmd %d #%04x"
                      % (command.cmd, command.request_id))
            w.deferred.errback(UdpTimeout("no answer to cmd %d from %s:%d"
                                          % ((command.cmd,) + self.server)))
        if once:
            self._schedule(out, (), wait or SEND_ONCE_WAIT, timeout)
        else:
            self._schedule(out, RETRANSMIT_DELAYS, wait or FINAL_WAIT, timeout)
        waiter.packet_id = out.packet_id
        return d

    def _notify(self, command, what=None):
        """Send one notification; Deferred fires with the packet id when it
        is ACKed."""
        out, data = self.core.send([command])
        d = defer.Deferred()
        self._ack_waiters[out.packet_id] = d
        self._write(data, what or "notification", [command])

        def timeout(packet_id):
            self.core.forget(packet_id)
            self._timers.pop(packet_id, None)
            w = self._ack_waiters.pop(packet_id, None)
            if w is not None:
                self._log("error", "timeout", message="no ACK for packet 0x%04x" % packet_id)
                w.errback(UdpTimeout("no ACK for cmd %d" % command.cmd))
        self._schedule(out, RETRANSMIT_DELAYS, FINAL_WAIT, timeout)
        return d

    def datagramReceived(self, data, addr):
        fx = self.core.receive(data, addr)
        commands = fx.replies + fx.notifications + fx.requests
        what = "datagram"
        if fx.nacked is not None:
            what = "nack"
        elif fx.acked:
            what = "ack"
        elif fx.replies:
            what = "reply"
        elif fx.notifications:
            what = "notification"
        self._log("received", what, data, commands, peer="%s:%d" % addr,
                  **({"message": fx.dropped} if fx.dropped else {}))
        if fx.learned_ip:
            self._log("info", "learned public ip", ip=fx.learned_ip)
        for out in fx.send:
            kind = wudp.parse_header(out).kind
            name = {wudp.KIND_RESEND: "resend", wudp.KIND_ACK: "ack",
                    wudp.KIND_NACK: "nack"}.get(kind, "datagram")
            self._log("sent", name, out, peer="%s:%d" % addr)
            self.transport.write(out, addr)
        for pid in fx.acked:
            self._cancel_timer(pid)
            d = self._ack_waiters.pop(pid, None)
            if d is not None:
                d.callback(pid)
        for reply in fx.replies:
            waiter = self._waiters.get(reply.request_id)
            if waiter is None:
                continue
            if waiter.until is None:
                del self._waiters[reply.request_id]
                self._cancel_timer(getattr(waiter, "packet_id", None))
                waiter.deferred.callback(reply)
                continue
            waiter.replies.append(reply)
            # Stop retransmitting once anything came back; keep listening.
            timer = self._timers.get(getattr(waiter, "packet_id", None))
            if waiter.until(reply):
                del self._waiters[reply.request_id]
                self._cancel_timer(waiter.packet_id)
                waiter.deferred.callback(waiter.replies)
            elif timer is not None and timer.active():
                timer.reset(SEARCH_WAIT)
        for note in fx.notifications:
            self.notifications.put(note)

    # -- the commands --------------------------------------------------------------

    def probe(self):
        """cmd 27 -> cmd 28 (or 29).  Fires with the reply Command."""
        return self._request(self.core.new_request(CMD_PROBE), what="probe")

    def address_query(self):
        """cmd 35 -> cmd 36; fires with the reply Command (ADDR 0x11)."""
        return self._request(self.core.new_request(CMD_ADDRESS), what="address query")

    def slot_query(self, slot, count=12):
        """cmd 6 -> cmd 8."""
        return self._request(self.core.new_request(
            CMD_SLOT, self.profile.slot_query_objects(slot, count)), what="slot query")

    def node_list(self):
        """cmd 44 -> cmd 45 (1.x request body, udp.md 8)."""
        return self._request(self.core.new_request(
            CMD_NODES, [Int(0x12, 10), Int(0x13, 7), Int(0x14, 1)]), what="node list")

    def publish(self, record):
        """cmd 12 notification ``{BLOB 0xB = record}``; fires when ACKed."""
        return self._notify(self.core.new_notification(
            CMD_PUBLISH, self.profile.publish_objects(record)), what="publish")

    def search(self, name):
        """cmd 14 -> cmd 15 ...; fires with the list of cmd 15 replies up to
        the one that carries ``INT 1 = 1``."""
        return self._request(self.core.new_request(
            CMD_SEARCH, self.profile.search_objects(name)),
            until=is_final_search_reply, what="search")

    def push(self, target_record, inner_cmd, inner_objects):
        """cmd 53 -> cmd 54 (target not here) or the target's own reply
        (70, 82) passed back by the supernode."""
        return self._request(self.core.new_request(
            CMD_PUSH, self.profile.push_objects(target_record, inner_cmd, inner_objects)),
            what="push")

    def stop(self):
        """Cancel timers (pending Deferreds errback) and close the socket."""
        for pid in list(self._timers):
            self._cancel_timer(pid)
        for rid, w in list(self._waiters.items()):
            del self._waiters[rid]
            w.deferred.errback(defer.CancelledError("client stopped"))
        for pid, d in list(self._ack_waiters.items()):
            del self._ack_waiters[pid]
            d.errback(defer.CancelledError("client stopped"))
        if self.transport is not None:
            return defer.maybeDeferred(self.transport.stopListening)
        return defer.succeed(None)


def open_udp_client(reactor, profile, server, public_ip=None, transcript=None,
                    interface="127.0.0.1"):
    """Bind a :class:`UdpClient` to an ephemeral port on ``interface``."""
    client = UdpClient(profile, server, reactor, public_ip, transcript)
    reactor.listenUDP(0, client, interface=interface)
    return client
