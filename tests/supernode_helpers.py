"""
Test helpers for the supernode: a node on a fake clock, fake transports, and
the client side of the UDP and TCP exchanges built from blissnode.wire only
(so the server is checked against the codecs, not against itself).
"""

import random

from twisted.internet import defer
from twisted.internet.protocol import DatagramProtocol, Protocol
from twisted.internet.testing import MemoryReactorClock, StringTransport

from blissnode.supernode.handlers import SupernodeHandlers
from blissnode.core.versioning import BaseOnlyRegistry
from blissnode.supernode.node import SupernodeConfig, SupernodeNode
from blissnode.supernode.tcp import SupernodeTCPFactory
from blissnode.supernode.udp import SupernodeDatagramProtocol
from blissnode.versions.base import ClientVersion
from blissnode.versions.registry import VersionRegistry
from blissnode.wire import udp as wire_udp
from blissnode.wire import udp_commands
from blissnode.wire.fragments import Reassembler
from blissnode.wire.objects import decode_objects
from blissnode.wire.peer_session import Established, PeerClient, RecordIn
from blissnode.wire.seed_exchange import Greeting
from blissnode.wire.tcp_commands import KIND_REQUEST, Command
from blissnode.wire.tcp_records import PacketRecord

SERVER_IP = "127.0.0.1"
CLIENT_IP = "127.0.0.1"


def make_node(reactor=None, registry=None, **config):
    config.setdefault("public_ip", SERVER_IP)
    config.setdefault("udp_port", 33000)
    config.setdefault("tcp_port", 33000)
    config.setdefault("seed_pool_size", 8)
    cfg = SupernodeConfig(**config)
    if reactor is None:
        reactor = MemoryReactorClock()
    if registry is None:
        registry = BaseOnlyRegistry({"supernode": SupernodeHandlers}, cfg.unknown_versions)
    return SupernodeNode(cfg, registry=registry, reactor=reactor, rng=random.Random(7))


def two_version_registry(policy="nearest"):
    """1.4.0.84 (base) and 5.5.0.124 (a subclass with another stack version)."""

    class New(SupernodeHandlers):
        STACK_VERSION = 52

    old = ClientVersion("1.4.0.84", (1, 4, 0, 84), {"supernode": SupernodeHandlers})
    new = ClientVersion("5.5.0.124", (5, 5, 0, 124), {"supernode": New})
    return VersionRegistry([old, new], policy)


class FakeUDPTransport(object):
    def __init__(self, port=33000):
        self.written = []
        self.port = port

    def write(self, data, addr):
        self.written.append((bytes(data), tuple(addr)))

    def getHost(self):
        class H:
            port = self.port
        return H()

    def take(self):
        out, self.written = self.written, []
        return out


def udp_protocol(node):
    proto = SupernodeDatagramProtocol(node)
    proto.transport = FakeUDPTransport()
    proto.startProtocol()
    return proto


# -- client side of UDP ---------------------------------------------------------

def request_plaintext(cmd, request_id, body=b"\x42\x15", kind=KIND_REQUEST):
    return Command(cmd, kind, request_id if kind != 1 else None, body).encode()


def client_datagram(plaintext, packet_id, src_ip=CLIENT_IP, dst_ip=SERVER_IP, iv=0x12345678):
    """A kind-2 datagram as a client that believes it is ``src_ip`` sends it."""
    return wire_udp.encrypt_payload(src_ip, dst_ip, packet_id, iv, plaintext)


def open_reply(data, client_ip=CLIENT_IP, server_ip=SERVER_IP):
    """Decrypt a kind-2 datagram from the server; return its commands."""
    opened = wire_udp.decrypt_datagram(data, server_ip, client_ip)
    assert opened.crc_ok, "server reply does not decrypt for the client"
    return udp_commands.parse_payload(opened.plaintext)


def open_fragments(datagrams, client_ip=CLIENT_IP, server_ip=SERVER_IP):
    r = Reassembler()
    message = None
    for data in datagrams:
        dg = wire_udp.parse_datagram(data)
        plain, ok = dg.decrypt(server_ip, client_ip)
        assert ok
        message = r.add(dg.packet_id, dg.index, dg.last, plain) or message
    return udp_commands.parse_payload(message)


class UDPClient(DatagramProtocol):
    """Real-socket UDP client: collects datagrams; ``next()`` waits for one."""

    def __init__(self):
        self.received = []
        self._waiters = []

    def datagramReceived(self, data, addr):
        if self._waiters:
            self._waiters.pop(0).callback(data)
        else:
            self.received.append(data)

    def next(self, reactor, timeout=5.0):
        if self.received:
            return defer.succeed(self.received.pop(0))
        d = defer.Deferred()
        self._waiters.append(d)
        d.addTimeout(timeout, reactor)
        return d


# -- client side of TCP ---------------------------------------------------------

class ClassicTCPClient(object):
    """Drives the client half of a classic session over any transport, on
    the shared sans-IO stream (:class:`blissnode.wire.peer_session.PeerClient`).

    ``opening()`` -> the 14 bytes (+ padding); ``receive(data)`` -> records
    decoded; ``packet(commands)`` -> bytes of one encrypted packet.  ``K``:
    a DH-384 secret agreed beforehand (the seed exchange is keyed with it).
    """

    def __init__(self, K=b"", greeting_final=3):
        self.K = K
        self.greeting_final = greeting_final
        self.stream = PeerClient(greeting=Greeting(1, greeting_final))
        self.stream.K = bytes(K)
        self.records = []
        self.server_greeting = None

    def opening(self, padding=b""):
        self.stream.first_record = bytes(padding)
        return self.stream.start()

    def receive(self, data):
        _out, events = self.stream.receive(data)
        records = []
        for event in events:
            if isinstance(event, Established):
                self.server_greeting = event.exchange.greeting
            elif isinstance(event, RecordIn):
                records.append(event.record)
        self.records.extend(records)
        return records

    def packet(self, packet_id, commands):
        return self.stream.encode(PacketRecord(packet_id, commands).encode())

    def raw(self, record_bytes):
        return self.stream.encode(record_bytes)

    def packets(self):
        return [r for r in self.records if isinstance(r, PacketRecord)]

    def commands(self):
        return [c for p in self.packets() for c in p.commands]


class WriteLog(StringTransport):
    """A StringTransport that also keeps each write() separately (the
    boundaries real clients' recv() calls see with TCP_NODELAY on) and
    whether TCP_NODELAY was switched on."""

    no_delay = False

    def __init__(self, *a, **kw):
        StringTransport.__init__(self, *a, **kw)
        self.writes = []

    def write(self, data):
        self.writes.append(bytes(data))
        StringTransport.write(self, data)

    def setTcpNoDelay(self, enabled):
        self.no_delay = bool(enabled)

    def take_writes(self):
        writes, self.writes = self.writes, []
        self.clear()
        return writes


def tcp_session(node, peer=("127.0.0.1", 40001), allow_dh=True):
    """A server protocol on a :class:`WriteLog` transport, connected."""
    factory = SupernodeTCPFactory(node, allow_dh=allow_dh)
    proto = factory.buildProtocol(None)
    transport = WriteLog(peerAddress=_Addr(*peer))
    proto.makeConnection(transport)
    return proto, transport


class _Addr(object):
    type = "TCP"

    def __init__(self, host, port):
        self.host = host
        self.port = port


def drain(transport):
    data = transport.value()
    transport.clear()
    return data


def objects_of(command):
    return decode_objects(command.body)


class TCPClientProtocol(Protocol):
    """Real-socket wrapper around :class:`ClassicTCPClient`."""

    def __init__(self, client, first=b""):
        self.client = client
        self.first = first
        self.data = bytearray()
        self.connected_d = defer.Deferred()
        self.lost_d = defer.Deferred()
        self._waiters = []

    def connectionMade(self):
        if self.first:
            self.transport.write(self.first)
        self.connected_d.callback(self)

    def dataReceived(self, data):
        self.data += data
        waiters, self._waiters = self._waiters, []
        for check, d in waiters:
            if not check(self):
                self._waiters.append((check, d))
            else:
                d.callback(self)

    def wait_for(self, check, reactor, timeout=5.0):
        if check(self):
            return defer.succeed(self)
        d = defer.Deferred()
        self._waiters.append((check, d))
        d.addTimeout(timeout, reactor)
        return d

    def connectionLost(self, reason):
        self.lost_d.callback(None)
