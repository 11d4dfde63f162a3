#!/usr/bin/env python3
"""
Throughput and memory of the main supernode, over loopback.

    python benchmarks/supernode.py [--quick] [--sessions 1000,10000]

The supernode runs in a child process started by this script (one core, the
real UDP and TCP protocols with their rate limits lifted); the load is
generated in this process.  Printed figures (no assertions):

* UDP probes answered per second (cmd 27 keyed with the client's known
  address -> cmd 28), with the send-side seed pool and without it
  (``seed_pool_size=0``: every reply expands a fresh seed);
* the same figure for the bare wire operations one probe costs the server
  (parse, decrypt, parse commands, encode the reply, seal it), and the ratio;
* TCP handshakes per second: connect, [DH-384], seed exchange, cmd 30 ->
  31 + 11/47, close -- for a 1.4 client and a 5.5 client (DH-384);
* resident memory of the server per idle accepted TCP session, at 1,000 and
  10,000 sessions (RLIMIT_NOFILE raised in both processes; VmRSS from /proc).

Only loopback addresses are used.
"""

import argparse
import os
import resource
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LOOPBACK = "127.0.0.1"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- the server process ----------------------------------------------------------

def serve(pool):
    """Child process: a supernode on loopback, limits lifted."""
    raise_nofile()
    from twisted.internet import reactor

    from blissnode.supernode.node import SupernodeConfig, SupernodeNode
    from blissnode.supernode.tcp import SupernodeTCPFactory
    from blissnode.supernode.udp import SupernodeDatagramProtocol

    config = SupernodeConfig(
        public_ip=LOOPBACK, max_half_open=10 ** 6, udp_rate=1e12, udp_burst=10 ** 12,
        seed_pool_size=256 if pool else 0, idle_timeout=3600.0, handshake_timeout=600.0,
        log_interval=3600.0)
    node = SupernodeNode(config, reactor=reactor)
    udp = reactor.listenUDP(0, SupernodeDatagramProtocol(node), interface=LOOPBACK,
                            maxPacketSize=65536)
    port = udp.getHost().port
    try:
        tcp = reactor.listenTCP(port, SupernodeTCPFactory(node), backlog=1024,
                                interface=LOOPBACK)
    except Exception:
        tcp = reactor.listenTCP(0, SupernodeTCPFactory(node), backlog=1024,
                                interface=LOOPBACK)
    node.config.udp_port = port
    node.config.tcp_port = tcp.getHost().port
    node.start()
    sys.stdout.write("READY %d %d\n" % (port, tcp.getHost().port))
    sys.stdout.flush()
    reactor.run()


class Server:
    def __init__(self, pool=True):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve"] + ([] if pool else ["--no-pool"]),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode().split()
        if not line or line[0] != "READY":
            raise RuntimeError("server did not start")
        self.udp_port, self.tcp_port = int(line[1]), int(line[2])
        time.sleep(0.3)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def open_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


# -- UDP -----------------------------------------------------------------------------

def build_probes(count, src, dst):
    import random

    from blissnode.wire.tcp_commands import KIND_REQUEST, Command
    from blissnode.wire.udp import encrypt_payload

    rng = random.Random(1)
    out = []
    for i in range(count):
        rid = (2 * i) & 0xFFFF
        plain = Command(27, KIND_REQUEST, rid, b"\x42\x15").encode()
        out.append(encrypt_payload(src, dst, (rid + 1) & 0xFFFF, rng.getrandbits(32), plain))
    return out


def udp_probe_rate(port, count, window=64, limit=20.0):
    """Probes answered per second: ``count`` distinct probes (distinct packet
    ids, so no reply-cache hits), at most ``window`` outstanding."""
    probes = build_probes(count, LOOPBACK, LOOPBACK)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.setblocking(False)
    addr = (LOOPBACK, port)
    sent = received = 0
    start = time.perf_counter()
    last_progress = start
    while received < count:
        now = time.perf_counter()
        if now - start > limit or now - last_progress > 1.0:
            break
        while sent < count and sent - received < window:
            sock.sendto(probes[sent], addr)
            sent += 1
        ready, _, _ = select.select([sock], [], [], 0.2)
        if ready:
            while True:
                try:
                    sock.recv(2048)
                except BlockingIOError:
                    break
                received += 1
                last_progress = time.perf_counter()
    elapsed = time.perf_counter() - start
    sock.close()
    return received / elapsed, received, sent


def bare_probe_rate(count, pool):
    """The wire operations the server runs for one probe, back to back."""
    from blissnode.wire.tcp_commands import KIND_REPLY, Command
    from blissnode.wire.udp import FreshSeeds, SeedPool, parse_datagram, seal_payload
    from blissnode.wire.udp_commands import parse_payload
    import random

    probes = build_probes(count, LOOPBACK, LOOPBACK)
    rng = random.Random(2)
    seeds = SeedPool([rng.getrandbits(32) for _ in range(256)]) if pool else \
        FreshSeeds(lambda: rng.getrandbits(32))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        pid = 0
        for data in probes:
            d = parse_datagram(data)
            plain, ok = d.decrypt(LOOPBACK, LOOPBACK)
            (command,) = parse_payload(plain)
            reply = Command(28, KIND_REPLY, command.request_id, b"\x42\x15").encode()
            pid = (pid + 1) & 0xFFFF
            seal_payload(seeds, LOOPBACK, LOOPBACK, pid, reply)
        best = min(best, time.perf_counter() - t0)
    return count / best


# -- TCP (Twisted, in this process) ----------------------------------------------------

def tcp_figures(reactor, rate_server, memory_servers, labels, seconds, session_counts,
                concurrency):
    from twisted.internet import defer, task

    from blissnode.client.profiles import PROFILES
    from blissnode.client.tcp import connect_supernode
    from blissnode.client.transcript import Transcript

    class Quiet(Transcript):
        def add(self, *a, **kw):
            return None

    results = {}

    @defer.inlineCallbacks
    def one(profile, keep=False, server=rate_server):
        session = yield connect_supernode(reactor, LOOPBACK, server.tcp_port, profile,
                                          transcript=Quiet(reactor), timeout=60)
        yield session.accept(stats_wait=5.0)
        if not keep:
            yield session.close()
        return session

    @defer.inlineCallbacks
    def handshake_rate(label):
        profile = PROFILES[label]
        done = [0]
        errors = [0]
        deadline = reactor.seconds() + seconds

        @defer.inlineCallbacks
        def worker():
            while reactor.seconds() < deadline:
                try:
                    yield one(profile)
                    done[0] += 1
                except Exception:
                    errors[0] += 1
        t0 = reactor.seconds()
        yield defer.DeferredList([worker() for _ in range(concurrency)])
        return done[0] / (reactor.seconds() - t0), errors[0]

    @defer.inlineCallbacks
    def memory(server):
        profile = PROFILES["1.4.0.84"]
        sessions = []
        yield task.deferLater(reactor, 0.5, lambda: None)
        base = server.rss_kib()
        out = [("baseline", base, None, server.open_fds())]
        for target in session_counts:
            while len(sessions) < target:
                batch = min(concurrency * 4, target - len(sessions))
                got = yield defer.DeferredList([one(profile, True, server) for _ in range(batch)],
                                               consumeErrors=True)
                sessions.extend(s for ok, s in got if ok)
                if not any(ok for ok, _ in got):
                    break
            yield task.deferLater(reactor, 1.0, lambda: None)
            rss = server.rss_kib()
            out.append((len(sessions), rss, (rss - base) / max(len(sessions), 1),
                        server.open_fds()))
        for s in sessions:
            s.protocol.transport.abortConnection()
        yield task.deferLater(reactor, 0.5, lambda: None)
        return out

    @defer.inlineCallbacks
    def run(_reactor):
        # Memory first, on servers that have not served anything yet (an
        # allocator that already grew for earlier sessions would hide the cost).
        for name, server in memory_servers:
            results["memory", name] = yield memory(server)
        for label in labels:
            results[label] = yield handshake_rate(label)
    return run, results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, shorter runs")
    parser.add_argument("--sessions", default="1000,10000",
                        help="session counts for the memory figure (default %(default)s)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-pool", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(pool=not args.no_pool)

    nofile = raise_nofile()
    count = 5000 if args.quick else 30000
    seconds = 2.0 if args.quick else 5.0
    counts = [int(x) for x in args.sessions.split(",") if x]
    if args.quick:
        counts = [min(c, 1000) for c in counts][:1]
    counts = [min(c, nofile - 200) for c in counts]

    from blissnode.wire import rc4
    print("blissnode supernode benchmark (rc4 implementation: %s, RLIMIT_NOFILE %d)"
          % (rc4.IMPLEMENTATION.name if hasattr(rc4.IMPLEMENTATION, "name")
             else rc4.IMPLEMENTATION, nofile))
    print()
    print("UDP probes (cmd 27 -> 28), server in a separate process, %d distinct probes" % count)
    figures = {}
    for pool in (True, False):
        server = Server(pool)
        try:
            rate, received, sent = udp_probe_rate(server.udp_port, count)
        finally:
            server.stop()
        bare = bare_probe_rate(min(count, 20000), pool)
        figures[pool] = (rate, bare)
        name = "with seed pool   " if pool else "without seed pool"
        print("  %s  server %8.0f probes/s  (%d/%d answered)   bare wire ops %8.0f probes/s"
              "   server/bare %.2f" % (name, rate, received, sent, bare, rate / bare))
    print()

    from twisted.internet import reactor, task

    servers = [Server(True), Server(False), Server(True)]
    try:
        run, res = tcp_figures(
            reactor, servers[2], [("with seed pool", servers[0]), ("without seed pool", servers[1])],
            ["1.4.0.84", "5.5.0.124"], seconds, counts, concurrency=20 if args.quick else 50)
        try:
            task.react(run)
        except SystemExit:
            pass
    finally:
        for server in servers:
            server.stop()
    print("TCP handshakes (connect, [DH-384], seed exchange, cmd 30 -> 31 + 11/47, close)")
    for label in ("1.4.0.84", "5.5.0.124"):
        if label in res:
            rate, errors = res[label]
            print("  %-10s %s  %8.0f handshakes/s  (%d errors)"
                  % (label, "DH-384" if label.startswith("5") else "classic", rate, errors))
    print()
    print("Server resident memory per idle accepted TCP session (1.4 clients; VmRSS of a fresh"
          " server process)")
    for name in ("with seed pool", "without seed pool"):
        print("  %s" % name)
        for n, rss, per, fds in res.get(("memory", name), []):
            if per is None:
                print("    %-8s %8d KiB                          (%d fds open)" % (n, rss, fds))
            else:
                print("    %-8d %8d KiB   %6.1f KiB per session  (%d fds open)"
                      % (n, rss, per, fds))


if __name__ == "__main__":
    main()
