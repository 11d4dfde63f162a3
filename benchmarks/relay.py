#!/usr/bin/env python3
"""
Throughput and memory of the supernode as relay (supernode.relay).

    python benchmarks/relay.py [--quick] [--seconds S] [--connections N]

Path measured: in ONE process, the real supernode TCP protocol objects
(SupernodeTCPProtocol, one per leg) on in-memory transports and a test
clock -- no sockets, no kernel: each relayed record is RC4-decrypted on
the sending leg, parsed, its CHK re-keyed (supernode.relay), encoded and
RC4-encrypted on the receiving leg.  Side by side, in the same run:

* relayed bytes/s and records/s through that path (1 KiB session records,
  one direction), with the rate limit lifted;
* the bare wire cost of the same records (parse + re-key + encode, no RC4,
  no protocol) and the ratio protocol / bare;
* Python heap (tracemalloc) per idle relayed connection -- two accepted
  legs (both TCP sessions and their RC4 state) and the relay table's entry
  -- at N connections, and the table's own share measured alone with
  stand-in legs; the number of connections held is N (the default total
  limit is 4096 per process).

Every loop is bounded by --seconds or its count; nothing waits on the network.
"""

import argparse
import gc
import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet.testing import MemoryReactorClock  # noqa: E402

from blissnode.supernode.node import SupernodeConfig, SupernodeNode  # noqa: E402
from blissnode.supernode.relay import RelayLimits, RelayTable  # noqa: E402
from blissnode.supernode.request import request as make_request  # noqa: E402
from blissnode.supernode.tcp import SupernodeTCPFactory  # noqa: E402
from blissnode.wire.aes_ctr import seal_session_record  # noqa: E402
from blissnode.wire.peer_session import PeerClient  # noqa: E402
from blissnode.wire.relay_commands import RelayJoin, RelayOpen, rekey_session_record  # noqa: E402
from blissnode.wire.seed_exchange import Greeting  # noqa: E402
from blissnode.wire.tcp_records import PacketRecord, decode_record  # noqa: E402

RECORD_PLAINTEXT = 1000


class Address(object):
    type = "TCP"

    def __init__(self, host, port):
        self.host, self.port = host, port


class CountingTransport(object):
    """Counts what the server writes (keeps only the last write, for the
    handshake); supports pause/resume like a TCP transport."""

    disconnecting = False

    def __init__(self, peer):
        self.peer = peer
        self.written = 0
        self.last = b""
        self.keep = True
        self.paused = False

    def write(self, data):
        self.written += len(data)
        if self.keep:
            self.last += data

    def writeSequence(self, seq):
        for data in seq:
            self.write(data)

    def getPeer(self):
        return self.peer

    def getHost(self):
        return Address("127.0.0.1", 33033)

    def setTcpNoDelay(self, enabled):
        pass

    def pauseProducing(self):
        self.paused = True

    def resumeProducing(self):
        self.paused = False

    # The server's output guard registers itself as this transport's
    # producer (blissnode.flowcontrol); this buffer is never full.
    def registerProducer(self, producer, streaming):
        self.producer = producer

    def unregisterProducer(self):
        self.producer = None

    def loseConnection(self):
        self.disconnecting = True

    abortConnection = loseConnection


def make_node(total):
    config = SupernodeConfig(public_ip="127.0.0.1", udp_port=33033, tcp_port=33033,
                             seed_pool_size=8, max_half_open=10 ** 6, idle_timeout=10 ** 6,
                             relay=RelayLimits(per_client=10 ** 6, total=total, rate=10 ** 12,
                                               burst=10 ** 12, idle_timeout=10 ** 6,
                                               join_timeout=10 ** 6))
    return SupernodeNode(config, reactor=MemoryReactorClock())


class Leg(object):
    def __init__(self, node, n):
        self.proto = SupernodeTCPFactory(node).buildProtocol(None)
        self.transport = CountingTransport(Address("10.%d.%d.%d" % (
            (n >> 16) & 255, (n >> 8) & 255, n & 255), 40000))
        self.proto.makeConnection(self.transport)
        self.client = PeerClient(greeting=Greeting(1, 3))
        self.proto.dataReceived(self.client.start())
        self.client.receive(self.take())

    def take(self):
        data, self.transport.last = self.transport.last, b""
        return data

    def command(self, cmd, items):
        self.proto.dataReceived(self.client.encode(
            PacketRecord(1, [make_request(cmd, 2, items)]).encode()))
        _out, events = self.client.receive(self.take())
        return events


def relayed_pair(node, n):
    a, b = Leg(node, 2 * n), Leg(node, 2 * n + 1)
    a.command(73, RelayOpen(0x1111).items())
    cid = node.relay.connection_of(a.proto).connection_id
    b.command(74, RelayJoin(0x2222, cid).items())
    a.take()
    return a, b, cid


def throughput(seconds):
    node = make_node(16)
    a, b, cid = relayed_pair(node, 1)
    b.transport.keep = False
    record = seal_session_record(bytes(RECORD_PLAINTEXT), bytes(32), 5, 0, cid).encode()
    batch = record * 64
    sent = records = 0
    start = time.perf_counter()
    deadline = start + seconds
    before = b.transport.written
    while time.perf_counter() < deadline:
        a.proto.dataReceived(a.client.encode(batch))
        sent += len(batch)
        records += 64
    elapsed = time.perf_counter() - start
    out = b.transport.written - before
    return sent / elapsed, records / elapsed, out, sent


def bare(seconds):
    record = seal_session_record(bytes(RECORD_PLAINTEXT), bytes(32), 5, 0, 7).encode()
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(64):
            parsed, _ = decode_record(record)
            rekey_session_record(parsed, 7, 0x2222).encode()
        n += 64
    elapsed = time.perf_counter() - start
    return n * len(record) / elapsed, n / elapsed


class StandIn(object):
    def __init__(self, n):
        self.session_id = n
        self.peer = ("10.0.%d.%d" % ((n >> 8) & 255, n & 255), 1)

    def relay_send_records(self, data):
        pass

    def relay_send_status(self, commands):
        pass

    def close(self):
        pass

    def pause_reading(self, seconds):
        pass


def memory(count):
    gc.collect()
    tracemalloc.start()
    node = make_node(count + 1)
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    pairs = [relayed_pair(node, i) for i in range(count)]
    for a, b, _ in pairs:
        # Idle: the benchmark's client halves are not the server's memory.
        a.client = b.client = None
    gc.collect()
    full = tracemalloc.get_traced_memory()[0] - base
    held = len(node.relay)
    tracemalloc.stop()
    del pairs, node
    gc.collect()
    tracemalloc.start()
    table = RelayTable(RelayLimits(total=count + 1, per_client=10 ** 6),
                       clock=MemoryReactorClock())
    legs = [(StandIn(2 * i), StandIn(2 * i + 1)) for i in range(count)]
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    for a, b in legs:
        cid = table.open(a, 1)
        table.started(table.join(b, 2, cid))
    gc.collect()
    table_only = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    table.close_all()
    return full / count, table_only / count, held


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer connections")
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds per throughput figure (default 3, --quick 0.5)")
    parser.add_argument("--connections", type=int, default=None,
                        help="idle relayed connections for the memory figure "
                             "(default 2000, --quick 200)")
    args = parser.parse_args()
    seconds = args.seconds or (0.5 if args.quick else 3.0)
    count = args.connections or (200 if args.quick else 2000)
    print("path: in-process SupernodeTCPProtocol legs on memory transports "
          "(RC4 in, record parse, CHK re-key, RC4 out); no sockets")
    bps, rps, out, sent = throughput(seconds)
    print("relayed through the protocol:  %10.0f bytes/s  %8.0f records/s  "
          "(%d-byte plaintexts, out/in bytes %.3f)" % (bps, rps, RECORD_PLAINTEXT, out / sent))
    bare_bps, bare_rps = bare(seconds)
    print("bare wire (parse+re-key+encode): %10.0f bytes/s  %8.0f records/s" % (bare_bps,
                                                                               bare_rps))
    print("ratio protocol / bare:          %.2f" % (bps / bare_bps,))
    per_conn, per_entry, held = memory(count)
    print("idle relayed connections held: %d" % (held,))
    print("heap per idle relayed connection (2 legs + entry): %.0f bytes" % (per_conn,))
    print("heap per relay-table entry alone:                  %.0f bytes" % (per_entry,))
    print("ratio entry / connection:                          %.3f" % (per_entry / per_conn,))


if __name__ == "__main__":
    main()
