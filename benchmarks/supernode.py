#!/usr/bin/env python3
"""
Throughput and memory of the main supernode, over loopback.

    python benchmarks/supernode.py [--quick] [--rc4 auto|c|python]
                                   [--sessions 1000,10000] [--behind-ip 10000]
                                   [--baseline DIR] [--deadline 300]

The supernode runs in a child process started by this script (the real UDP
and TCP protocols with their rate limits lifted); the load is generated in
this process.  Printed figures (no assertions):

* which RC4 implementation the server process and this process use; with
  ``--rc4 c`` the run stops when either uses the pure-Python path (a figure
  labelled C is never measured on the pure path);
* UDP probes (cmd 27 keyed with the client's known address -> cmd 28):
  wall-clock rate, the server's CPU seconds (utime + stime from /proc), the
  rate per server CPU-second, and that figure as a fraction of the bare wire
  operations one probe needs (parse, decrypt, parse the command, encode the
  reply, seal it; measured in this process with the same RC4 path).  Rows:
  with and without the seed pool, and with ``--behind-ip`` accepted TCP
  sessions from the load generator's IP (127.0.0.1) registered in the
  server's session table (synthetic session objects: the figure is about the
  per-datagram lookup, not about TCP), with the ratio to the 0-session row;
* with ``--baseline DIR`` (another checkout, e.g. ``git archive`` of main),
  the same UDP rows for a server running that checkout's code, side by side;
* TCP handshakes per second and server CPU per handshake: connect,
  [DH-384], seed exchange, cmd 30 -> 31 + 11/47, close -- for a 1.4 client
  and a 5.5 client (DH-384);
* resident memory of the server per added idle accepted TCP session, at
  1,000 and 10,000 sessions (RLIMIT_NOFILE raised; VmRSS from /proc).

Bounded: every wait has a timeout, the whole run stops after ``--deadline``
seconds, and the server processes are killed on the way out.  Only loopback
addresses are used.
"""

import argparse
import os
import resource
import select
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOOPBACK = "127.0.0.1"


def _tree_from_argv():
    """The checkout the server child imports (``--tree DIR``), else ours."""
    if "--tree" in sys.argv:
        return os.path.abspath(sys.argv[sys.argv.index("--tree") + 1])
    return HERE


sys.path.insert(0, _tree_from_argv())


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rc4_path():
    """The RC4 implementation this process uses ("c" or "python")."""
    from blissnode.wire import rc4
    return rc4.IMPLEMENTATION


# -- the server process ----------------------------------------------------------

class FakeSession(object):
    """An accepted TCP session as the session table sees it (no connection):
    enough for the UDP path's per-datagram lookup."""

    def __init__(self, session_id, ip, port):
        self.session_id = session_id
        self.peer = (ip, port)
        self.listen_port = port
        self.handlers = None


def serve(pool, behind_ip):
    """Child process: a supernode on loopback, limits lifted."""
    raise_nofile()
    from twisted.internet import reactor

    from blissnode.supernode.node import SupernodeConfig, SupernodeNode
    from blissnode.supernode.tcp import SupernodeTCPFactory
    from blissnode.supernode.udp import SupernodeDatagramProtocol

    config = SupernodeConfig(
        public_ip=LOOPBACK, max_half_open=10 ** 6, udp_rate=1e12, udp_burst=10 ** 12,
        # The load comes from one address: lift the per-address limits (issue 17).
        max_sessions_per_address=10 ** 7, connect_rate=1e12, connect_burst=10 ** 12,
        max_tcp_sessions=None,
        seed_pool_size=256 if pool else 0, idle_timeout=3600.0, handshake_timeout=600.0,
        log_interval=3600.0)
    node = SupernodeNode(config, reactor=reactor)
    for i in range(behind_ip):
        session = FakeSession("fake%d" % i, LOOPBACK, 1024 + i % 60000)
        node.tcp_sessions.add(session)
        node.session_accepted(session)
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
    sys.stdout.write("READY %d %d %s\n" % (port, tcp.getHost().port, rc4_path()))
    sys.stdout.flush()
    reactor.run()


class Server:
    """A supernode child process (killed by :meth:`stop`)."""

    def __init__(self, pool=True, behind_ip=0, tree=HERE, rc4="auto", timeout=60.0):
        env = dict(os.environ)
        if rc4 == "python":
            env["BLISSNODE_PURE_PYTHON"] = "1"
        else:
            env.pop("BLISSNODE_PURE_PYTHON", None)
        argv = [sys.executable, os.path.abspath(__file__), "--serve", "--tree", tree,
                "--behind-ip", str(behind_ip)] + ([] if pool else ["--no-pool"])
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode().split() if ready else []
        if not line or line[0] != "READY":
            self.stop()
            raise RuntimeError("server did not start within %.0f s" % timeout)
        self.udp_port, self.tcp_port, self.rc4 = int(line[1]), int(line[2]), line[3]
        time.sleep(0.3)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self):
        """utime + stime of the server process so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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


def udp_probe_rate(server, probes, window=64, limit=20.0):
    """``(wall rate, answered, sent, server CPU seconds)`` for distinct
    probes (distinct packet ids, so no reply-cache hits), at most ``window``
    outstanding; stops after ``limit`` seconds or 1 s without progress."""
    count = len(probes)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.setblocking(False)
    addr = (LOOPBACK, server.udp_port)
    sent = received = 0
    cpu0 = server.cpu_seconds()
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
    cpu = server.cpu_seconds() - cpu0
    sock.close()
    return received / elapsed, received, sent, cpu


def bare_probe_rate(probes, pool):
    """The wire operations the server runs for one probe, back to back."""
    import random

    from blissnode.wire.tcp_commands import KIND_REPLY, Command
    from blissnode.wire.udp import FreshSeeds, SeedPool, parse_datagram, seal_payload
    from blissnode.wire.udp_commands import parse_payload

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
    return len(probes) / best


def udp_rows(args, count, trees):
    """One line per (tree, seed pool, sessions behind the IP)."""
    probes = build_probes(count, LOOPBACK, LOOPBACK)
    bare = {pool: bare_probe_rate(probes[:20000], pool) for pool in (True, False)}
    cases = [(True, 0), (True, args.behind_ip), (False, 0)]
    print("UDP probes (cmd 27 -> 28), %d distinct probes per row; bare wire ops in this "
          "process: %.0f probes/s (seed pool), %.0f (fresh seeds)"
          % (count, bare[True], bare[False]))
    print("  %-9s %-6s %7s  %9s %7s %11s %8s  %s"
          % ("server", "seeds", "same-IP", "wall/s", "CPU s", "per CPU-s", "of bare",
             "answered"))
    per_cpu = {}
    for name, tree in trees:
        for pool, behind in cases:
            server = Server(pool, behind, tree, args.rc4)
            try:
                check_rc4(args, server.rc4, "server (%s)" % name)
                rate, received, sent, cpu = udp_probe_rate(server, probes)
            finally:
                server.stop()
            figure = received / cpu if cpu > 0 else float("nan")
            per_cpu[name, pool, behind] = figure
            print("  %-9s %-6s %7d  %9.0f %7.2f %11.0f %7.0f%%  %d/%d"
                  % (name, "pool" if pool else "fresh", behind, rate, cpu, figure,
                     100 * figure / bare[pool], received, sent))
            sys.stdout.flush()
    for name, _ in trees:
        flat = per_cpu[name, True, args.behind_ip] / per_cpu[name, True, 0]
        print("  %-9s %d sessions behind the IP vs 0: %.2f of the probes per CPU-second"
              % (name, args.behind_ip, flat))
    if len(trees) == 2:
        for pool in (True, False):
            print("  new/baseline per CPU-second (%s, 0 sessions): %.2fx"
                  % ("pool" if pool else "fresh",
                     per_cpu["new", pool, 0] / per_cpu["baseline", pool, 0]))
        print("  new/baseline per CPU-second (pool, %d sessions behind the IP): %.2fx"
              % (args.behind_ip, per_cpu["new", True, args.behind_ip]
                 / per_cpu["baseline", True, args.behind_ip]))
    print()


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
                                          transcript=Quiet(reactor), timeout=30)
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
        cpu0 = rate_server.cpu_seconds()
        t0 = reactor.seconds()
        yield defer.DeferredList([worker() for _ in range(concurrency)])
        return (done[0], reactor.seconds() - t0, rate_server.cpu_seconds() - cpu0, errors[0])

    @defer.inlineCallbacks
    def memory(server):
        profile = PROFILES["1.4.0.84"]
        sessions = []
        yield task.deferLater(reactor, 0.5, lambda: None)
        base = server.rss_kib()
        out = [("baseline", base, None, server.open_fds())]
        for target in session_counts:
            before, before_n = server.rss_kib(), len(sessions)
            while len(sessions) < target:
                batch = min(concurrency * 4, target - len(sessions))
                got = yield defer.DeferredList([one(profile, True, server) for _ in range(batch)],
                                               consumeErrors=True)
                sessions.extend(s for ok, s in got if ok)
                if not any(ok for ok, _ in got):
                    break
            yield task.deferLater(reactor, 1.0, lambda: None)
            rss = server.rss_kib()
            added = max(len(sessions) - before_n, 1)
            out.append((len(sessions), rss, (rss - before) / added, server.open_fds()))
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


def check_rc4(args, found, who):
    """Refuse a run whose RC4 path is not the one asked for."""
    if args.rc4 != "auto" and found != args.rc4:
        sys.exit("refusing to report: %s uses the %r RC4 path, --rc4 %s was asked for "
                 "(build the extension: pip install -e . or python setup.py build_ext "
                 "--inplace)" % (who, found, args.rc4))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, shorter runs")
    parser.add_argument("--rc4", choices=("auto", "c", "python"), default="auto",
                        help="RC4 path to measure; c or python refuse any other "
                             "(default %(default)s: what is installed)")
    parser.add_argument("--sessions", default="1000,10000",
                        help="session counts for the memory figure (default %(default)s)")
    parser.add_argument("--behind-ip", type=int, default=10000,
                        help="accepted sessions behind the probing IP (default %(default)s)")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also measure UDP with the server code of this checkout")
    parser.add_argument("--deadline", type=float, default=600.0,
                        help="stop the whole run after this many seconds")
    parser.add_argument("--no-tcp", action="store_true", help="UDP figures only")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=HERE, help=argparse.SUPPRESS)
    parser.add_argument("--no-pool", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(pool=not args.no_pool, behind_ip=args.behind_ip)

    import signal

    def overdue(*_):
        raise SystemExit("deadline of %.0f s reached: run stopped" % args.deadline)
    signal.signal(signal.SIGALRM, overdue)
    signal.alarm(int(args.deadline))
    if args.rc4 == "python":
        os.environ["BLISSNODE_PURE_PYTHON"] = "1"

    nofile = raise_nofile()
    count = 5000 if args.quick else 30000
    seconds = 2.0 if args.quick else 5.0
    counts = [int(x) for x in args.sessions.split(",") if x]
    if args.quick:
        counts = [min(c, 1000) for c in counts][:1]
    counts = [min(c, nofile - 200) for c in counts]

    check_rc4(args, rc4_path(), "this process")
    print("blissnode supernode benchmark: rc4 path %s in the load process, RLIMIT_NOFILE %d"
          % (rc4_path(), nofile))
    trees = [("new", HERE)]
    if args.baseline:
        trees.insert(0, ("baseline", os.path.abspath(args.baseline)))
    for name, tree in trees:
        server = Server(True, 0, tree, args.rc4)
        server.stop()
        print("  server %-8s %s: rc4 path %s" % (name, tree, server.rc4))
        check_rc4(args, server.rc4, "server (%s)" % name)
    print()
    udp_rows(args, count, trees)
    if args.no_tcp:
        return

    from twisted.internet import reactor, task

    servers = [Server(True, rc4=args.rc4), Server(False, rc4=args.rc4),
               Server(True, rc4=args.rc4)]
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
            n, elapsed, cpu, errors = res[label]
            print("  %-10s %-7s %7.0f handshakes/s wall, server CPU %.2f s = %.0f us per "
                  "handshake (%d errors)"
                  % (label, "DH-384" if label.startswith("5") else "classic", n / elapsed, cpu,
                     1e6 * cpu / max(n, 1), errors))
    print()
    print("Server resident memory per added idle accepted TCP session (1.4 clients; VmRSS of "
          "a fresh server process)")
    for name in ("with seed pool", "without seed pool"):
        print("  %s" % name)
        for n, rss, per, fds in res.get(("memory", name), []):
            if per is None:
                print("    %-8s %8d KiB                          (%d fds open)" % (n, rss, fds))
            else:
                print("    %-8d %8d KiB   %6.1f KiB per added session  (%d fds open)"
                      % (n, rss, per, fds))


if __name__ == "__main__":
    main()
