#!/usr/bin/env python3
"""
Scale-out: one process against two worker processes, side by side in one run.

    python benchmarks/scaleout.py [--quick] [--seconds S] [--sessions N]

Starts a throwaway PostgreSQL and Redis on loopback (the same helpers the
tests use, ``tests/services.py``), then for ``--workers 1`` and ``--workers
2`` in turn a real ``twistd -n blissnode`` on that database and directory
(fresh database, flushed Redis database), and measures, over loopback:

* **UDP probes answered per second** (cmd 27 -> 28, distinct packet ids, so
  no reply-cache hits) from 16 source ports at once (so the kernel's
  SO_REUSEPORT hash spreads them over the workers), with the server's CPU
  seconds (master and workers, from /proc) beside the wall-clock rate;
* **logins per second** (login server, 6.16 client: handshake, RSA-1536 key
  exchange, password check, signed credential) with 8 at a time;
* **idle supernode sessions**: resident memory of all server processes per
  accepted 1.4 TCP session, at ``--sessions`` sessions;
* and, in this process, **the cost of one directory operation** on the
  in-memory directory and on the Redis one (register, lookup by name, touch,
  remove; one at a time through the Deferred API, the way the roles call it).

Printed: figures for each run and the 2-worker / 1-worker ratio (the issue's
goal for probes is >= 1.7x on 2 cores).  The load generator runs on the same
two cores as the servers, so it takes CPU from them: the "server CPU" column
says how much of the machine the server got.  Code path: the full server
(twistd plugin, real UDP/TCP protocols, real PostgreSQL store and Redis
directory, the cluster link on the bus), with ``--udp-rate`` lifted; which
RC4 implementation the server used is printed.  Every wait is bounded; a
failed run prints what failed and exits non-zero.
"""

import argparse
import json
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

LOOPBACK = "127.0.0.1"
USER, PASSWORD = "bench.scale", "benchmark-password"
START_TIMEOUT = 90.0


def free_port(kind=socket.SOCK_STREAM):
    """A port free for both TCP and UDP (the supernode listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind((LOOPBACK, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


# -- the server ------------------------------------------------------------------------

def _stat_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _tree(pid):
    """``pid`` and its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


class Server:
    """``twistd -n blissnode --workers N`` on PostgreSQL + Redis, log collected."""

    def __init__(self, workers, database, directory):
        self.workers = workers
        self.dir = tempfile.mkdtemp(prefix="blissnode-scaleout-")
        self.data_dir = os.path.join(self.dir, "data")
        self.port = free_port()
        self.login_port = free_port()
        self.event_port = free_port()
        argv = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n",
                "--pidfile=", "--logfile=-", "blissnode", "--workers", str(workers),
                "--data-dir", self.data_dir, "--database", database, "--directory", directory,
                "--public-ip", LOOPBACK, "--registration", "open", "--udp-rate", "1e9",
                "--max-half-open", "100000",
                # The load comes from one address: lift the per-address
                # admission limits (issue 17) a real server keeps.
                "--max-per-address", "1000000", "--connect-rate", "1e9",
                "--supernode-tcp", "tcp:%d:interface=%s" % (self.port, LOOPBACK),
                "--supernode-udp", "udp:%d:interface=%s" % (self.port, LOOPBACK),
                "--supernode-https", "none",
                "--login-tcp", "tcp:%d:interface=%s" % (self.login_port, LOOPBACK),
                "--event-tcp", "tcp:%d:interface=%s" % (self.event_port, LOOPBACK)]
        self.lines = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     cwd=self.dir)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self._lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip())
                del self.lines[:-2000]  # bounded

    def matching(self, pattern):
        with self._lock:
            return [m for m in (re.search(pattern, line) for line in self.lines) if m]

    def wait_for(self, pattern, count=1, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while len(self.matching(pattern)) < count:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                with self._lock:
                    tail = "\n".join(self.lines[-40:])
                raise RuntimeError("no %r in the server log:\n%s" % (pattern, tail))
            time.sleep(0.05)

    def ready(self):
        if self.workers > 1:
            self.wait_for(r"worker \d running", count=self.workers)
            self.wait_for(r"is on the bus", count=self.workers)  # each hears the other
        # Answers a probe (the listeners are up).
        probe = build_probes(1, 99)[0]
        deadline = time.monotonic() + START_TIMEOUT
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((LOOPBACK, 0))
            s.settimeout(0.2)
            while True:
                s.sendto(probe, (LOOPBACK, self.port))
                try:
                    s.recv(2048)
                    break
                except socket.timeout:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the server does not answer probes")
        from blissnode.keys import load_server_keys
        keys = load_server_keys(self.data_dir)
        self.login_modulus = keys.login_modulus

    def pids(self):
        return _tree(self.proc.pid)

    def cpu_seconds(self):
        total = 0.0
        for pid in self.pids():
            try:
                total += _stat_cpu(pid)
            except OSError:
                pass
        return total

    def rss_kib(self):
        total = 0
        for pid in self.pids():
            try:
                total += _rss_kib(pid)
            except OSError:
                pass
        return total

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                for pid in self.pids():
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass
                self.proc.wait(10)
        self._reader.join(5)


# -- UDP probes ------------------------------------------------------------------------

def build_probes(count, seed):
    """``count`` distinct cmd 27 probes keyed for a client at 127.0.0.1."""
    import random

    from blissnode.wire.tcp_commands import KIND_REQUEST, Command
    from blissnode.wire.udp import encrypt_payload

    rng = random.Random(seed)
    out = []
    for i in range(count):
        rid = (2 * i) & 0xFFFF
        plain = Command(27, KIND_REQUEST, rid, b"\x42\x15").encode()
        out.append(encrypt_payload(LOOPBACK, LOOPBACK, (rid + 1) & 0xFFFF,
                                   rng.getrandbits(32), plain))
    return out


def probe_rate(server, seconds, sockets=16, window=24):
    """(answered per second, answered, sent, server CPU seconds, wall seconds)."""
    per_socket = 30000
    socks, probes = [], []
    for i in range(sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((LOOPBACK, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.setblocking(False)
        socks.append(s)
        probes.append(build_probes(per_socket, i))
    addr = (LOOPBACK, server.port)
    # Warm up: every socket gets answers (and the workers their first datagrams).
    for s, p in zip(socks, probes):
        s.sendto(p[-1], addr)
    time.sleep(0.5)
    for s in socks:
        try:
            while True:
                s.recv(2048)
        except BlockingIOError:
            pass
    sent = [0] * sockets
    got = [0] * sockets
    cpu0 = server.cpu_seconds()
    start = time.perf_counter()
    deadline = start + seconds
    last_progress = start
    while time.perf_counter() < deadline:
        for i, s in enumerate(socks):
            while sent[i] < per_socket - 1 and sent[i] - got[i] < window:
                s.sendto(probes[i][sent[i]], addr)
                sent[i] += 1
        ready, _, _ = select.select(socks, [], [], 0.2)
        now = time.perf_counter()
        if ready:
            last_progress = now
        elif now - last_progress > 1.0:
            # Lost datagrams: let each socket send a new window.
            for i in range(sockets):
                got[i] = sent[i]
            last_progress = now
        for s in ready:
            i = socks.index(s)
            try:
                while True:
                    s.recv(2048)
                    got[i] += 1
            except BlockingIOError:
                pass
    elapsed = time.perf_counter() - start
    cpu = server.cpu_seconds() - cpu0
    answered = sum(got)
    for s in socks:
        s.close()
    return answered / elapsed, answered, sum(sent), cpu, elapsed


# -- Twisted parts: logins, sessions, directory ops ------------------------------------

def login_rate(reactor, server, seconds, concurrency=8):
    from twisted.internet import defer

    from blissnode.client.login import LoginClientCore, generate_user_key, login

    key = generate_user_key()
    counts = {"ok": 0, "failed": 0}

    @defer.inlineCallbacks
    def register():
        core = LoginClientCore("6.16.0.105", USER, PASSWORD,
                               login_modulus=server.login_modulus, user_key=key,
                               register=True, email="bench@example.invalid")
        result = yield login(reactor, LOOPBACK, server.login_port, core, timeout=30)
        if not result.ok:
            raise RuntimeError("registration refused: %r" % (result,))

    @defer.inlineCallbacks
    def worker(deadline):
        while time.perf_counter() < deadline:
            core = LoginClientCore("6.16.0.105", USER, PASSWORD,
                                   login_modulus=server.login_modulus, user_key=key)
            try:
                result = yield login(reactor, LOOPBACK, server.login_port, core, timeout=30)
            except Exception:
                counts["failed"] += 1
                continue
            counts["ok" if result.ok else "failed"] += 1

    @defer.inlineCallbacks
    def run():
        yield register()
        cpu0 = server.cpu_seconds()
        start = time.perf_counter()
        yield defer.gatherResults([worker(start + seconds) for _ in range(concurrency)])
        elapsed = time.perf_counter() - start
        return (counts["ok"] / elapsed, counts["ok"], counts["failed"],
                server.cpu_seconds() - cpu0, elapsed)

    return run()


def idle_sessions(reactor, server, count, concurrency=32):
    from twisted.internet import defer, task

    from blissnode.client.profiles import PROFILES
    from blissnode.client.tcp import connect_supernode
    from blissnode.client.transcript import Transcript

    class Quiet(Transcript):
        def add(self, *a, **kw):
            return None

    profile = PROFILES["1.4.0.84"]
    sessions = []

    @defer.inlineCallbacks
    def one():
        session = yield connect_supernode(reactor, LOOPBACK, server.port, profile,
                                          transcript=Quiet(reactor), timeout=60)
        yield session.accept(stats_wait=5.0)
        return session

    @defer.inlineCallbacks
    def run():
        yield task.deferLater(reactor, 0.5, lambda: None)
        base = server.rss_kib()
        failed = 0
        start = time.perf_counter()
        while len(sessions) < count and time.perf_counter() - start < 120:
            batch = min(concurrency, count - len(sessions))
            got = yield defer.DeferredList([one() for _ in range(batch)], consumeErrors=True)
            sessions.extend(s for ok, s in got if ok)
            failed += sum(1 for ok, _ in got if not ok)
            if failed > count // 10 + 10:
                break
        yield task.deferLater(reactor, 1.0, lambda: None)
        rss = server.rss_kib()
        held = len(sessions)
        for s in sessions:
            s.protocol.transport.abortConnection()
        yield task.deferLater(reactor, 0.5, lambda: None)
        return held, failed, base, rss, (rss - base) / max(held, 1)

    return run()


def directory_costs(reactor, redis_url, operations):
    """Microseconds per operation, memory vs Redis: {name: {op: us}}."""
    from twisted.internet import defer

    from blissnode.store.directory import MemoryDirectory, OnlineEntry
    from blissnode.store.redisdirectory import RedisDirectory

    @defer.inlineCallbacks
    def measure(directory):
        out = {}
        entries = [OnlineEntry("bench-%d" % i, user_name="user.%d" % i, node_id=i + 1,
                               public_addr=(LOOPBACK, 10000 + i), since=1.0, last_seen=1.0)
                   for i in range(operations)]
        for op, call in (("register", lambda e: directory.register(e)),
                         ("lookup_name", lambda e: directory.lookup_name(e.user_name)),
                         ("touch", lambda e: directory.touch(e.session_id, 2.0)),
                         ("remove", lambda e: directory.remove(e.session_id))):
            start = time.perf_counter()
            for e in entries:
                yield call(e)
            out[op] = (time.perf_counter() - start) / len(entries) * 1e6
        return out

    @defer.inlineCallbacks
    def run():
        memory = yield measure(MemoryDirectory())
        redis_directory = RedisDirectory(redis_url, reactor=reactor,
                                         prefix="blissnode-bench:%d:" % os.getpid())
        redis_directory.startService()
        try:
            shared = yield measure(redis_directory)
        finally:
            yield redis_directory.stopService()
        return {"memory": memory, "redis": shared}

    return run()


# -- the run ---------------------------------------------------------------------------

def _rc4_path():
    from blissnode.wire import rc4
    return getattr(rc4, "IMPLEMENTATION", None) or getattr(rc4, "implementation", None) or "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per rate figure")
    parser.add_argument("--sessions", type=int, default=None, help="idle sessions to open")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    sessions = args.sessions or (300 if args.quick else 2000)
    ops = 300 if args.quick else 2000

    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    from tests.services import _execute, postgresql_url, redis_url

    pg, rd = postgresql_url(), redis_url()
    print("PostgreSQL %s, Redis %s (throwaway, loopback)" % (pg, rd))
    print("RC4 path in this process: %s" % (_rc4_path(),))
    print("%.0f s per rate, %d idle sessions, %d directory operations each\n"
          % (seconds, sessions, ops))

    from twisted.internet import defer, reactor

    results = {}
    failures = []

    @defer.inlineCallbacks
    def run():
        try:
            results["directory"] = yield directory_costs(reactor, rd, ops)
            for workers in (1, 2):
                name = "bench_w%d_%d" % (workers, os.getpid())
                base = pg.rsplit("/", 1)[0]
                _execute(pg, "DROP DATABASE IF EXISTS %s" % (name,))
                _execute(pg, "CREATE DATABASE %s" % (name,))
                redis_db = "%s/%d" % (rd.rsplit("/", 1)[0], 10 + workers)
                import redis
                client = redis.Redis.from_url(redis_db)
                client.flushdb()
                client.close()
                server = Server(workers, "%s/%s" % (base, name), redis_db)
                try:
                    server.ready()
                    figures = results[workers] = {}
                    figures["probes"] = probe_rate(server, seconds)
                    figures["logins"] = yield login_rate(reactor, server, seconds)
                    figures["sessions"] = yield idle_sessions(reactor, server, sessions)
                    figures["processes"] = len(server.pids())
                finally:
                    server.stop()
                    _execute(pg, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % (name,))
        except Exception as e:
            failures.append(e)
            import traceback
            traceback.print_exc()
        finally:
            reactor.stop()

    reactor.callWhenRunning(run)
    watchdog = threading.Timer(900, lambda: os._exit(3))  # never hang
    watchdog.daemon = True
    watchdog.start()
    reactor.run()
    if failures:
        print("FAILED: %s" % (failures[0],))
        return 1
    report(results)
    if args.json:
        print(json.dumps({str(k): v for k, v in results.items()}, indent=1, default=str))
    return 0


def report(results):
    one, two = results[1], results[2]
    print("%-38s %16s %16s %8s" % ("", "1 process", "2 workers", "ratio"))

    def row(label, a, b, fmt="%.0f"):
        ratio = b / a if a else float("nan")
        print("%-38s %16s %16s %7.2fx" % (label, fmt % a, fmt % b, ratio))

    row("UDP probes answered /s", one["probes"][0], two["probes"][0])
    row("  server CPU seconds per second", one["probes"][3] / one["probes"][4],
        two["probes"][3] / two["probes"][4], "%.2f")
    row("  probes per server CPU-second", one["probes"][1] / max(one["probes"][3], 1e-9),
        two["probes"][1] / max(two["probes"][3], 1e-9))
    print("%-38s %16s %16s" % ("  answered / sent", "%d/%d" % one["probes"][1:3],
                               "%d/%d" % two["probes"][1:3]))
    row("logins /s (8 at a time)", one["logins"][0], two["logins"][0], "%.1f")
    row("  server CPU seconds per second", one["logins"][3] / one["logins"][4],
        two["logins"][3] / two["logins"][4], "%.2f")
    print("%-38s %16d %16d" % ("  logins refused or failed", one["logins"][2],
                               two["logins"][2]))
    print("%-38s %16d %16d" % ("idle 1.4 sessions held", one["sessions"][0],
                               two["sessions"][0]))
    row("  KiB resident per idle session", one["sessions"][4], two["sessions"][4], "%.1f")
    row("  MiB resident, all processes", one["sessions"][3] / 1024.0,
        two["sessions"][3] / 1024.0, "%.1f")
    print("%-38s %16d %16d" % ("server processes", one["processes"], two["processes"]))
    print("\nOne directory operation, microseconds (in this process, one at a time):")
    memory, shared = results["directory"]["memory"], results["directory"]["redis"]
    print("%-14s %10s %10s %8s" % ("", "memory", "Redis", "ratio"))
    for op in memory:
        print("%-14s %10.1f %10.1f %7.0fx" % (op, memory[op], shared[op],
                                             shared[op] / max(memory[op], 1e-9)))


if __name__ == "__main__":
    sys.exit(main())
