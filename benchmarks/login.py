#!/usr/bin/env python3
"""
Logins per second of the login server on one core, over loopback, next to
the bare cost of the cryptography one login needs.

    python benchmarks/login.py [--seconds 5] [--concurrency 20] [--quick]
                               [--path auto|fast|pure] [--inline-rsa]
                               [--priority compare|idle|low|normal]

The server runs in a child process pinned to one CPU: the real
:class:`~blissnode.login.protocol.LoginServerFactory` with freshly generated
server keys, a real SQLite account store with the default scrypt parameters
and one account.  Before serving, the same process (same core) times the
crypto floor of one login:

* RSA-1536 raw decryption of the session seed (blinded CRT),
* RSA-2048 raw signature of the credential (blinded CRT),
* one scrypt check of the MD5 credential (the stored hash's parameters),

and reports ``1 / (sum of the three)`` as the floor in logins per second.
The load (reference clients, ``--concurrency`` logins in flight) runs in this
process, pinned to another CPU when there is one.  The server is set up as
``blissnode.tap`` sets it up: scrypt on the store's hash pool, RSA private
operations on :class:`~blissnode.privateops.PrivateOps` (``--inline-rsa``:
on the reactor thread, the old path), the event server's proof cache in the
store.  It also runs a supernode UDP listener on the same reactor: a probe
sender (a separate process) measures probe round trips at a fixed rate,
idle and while the logins run (p50 / p99).

``--priority`` sets how the hash and RSA threads give way to the reactor
(``--background-priority`` of the server, blissnode.store.hashpool);
``compare`` (the default) runs the whole measurement once with ``idle`` (the
server's default, SCHED_IDLE) and once with ``low`` (niceness +10, what the
server did before), each on its own server process, and prints them side by
side.

Printed: the RC4 and big-integer paths of the server process (``--path
fast`` refuses to report unless they are the C accelerator and gmpy2,
``--path pure`` forces the pure-Python ones), the crypto floor, logins per
second with the server's CPU seconds, the fraction of the floor reached, the
probe latencies, and a second credential check of the same login (what the
event server does) with and without the proof.  Bounded: every phase has a
timeout and the child processes are killed at the end.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from twisted.internet import defer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LOOPBACK = "127.0.0.1"
USER = "benchuser"
PASSWORD = "benchmark-password"
#: Probes per second of the latency measurement.
PROBE_RATE = 400


def _cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return []


#: The CPUs this run may use, read before anything is pinned: the server
#: takes the first, the load the second (the same one on a single CPU).
CPUS = _cpus()
SERVER_CPU = CPUS[0] if CPUS else None
LOAD_CPU = CPUS[1 % len(CPUS)] if CPUS else None


def _pin(cpu):
    """Pin this process to CPU number ``cpu`` (None: leave it); return it."""
    if cpu is None:
        return None
    try:
        os.sched_setaffinity(0, {cpu})
        return cpu
    except (AttributeError, OSError):
        return None


# -- the server process ----------------------------------------------------------

def crypto_floor(keys, repeats):
    """Seconds of the three operations of one login (each averaged)."""
    from blissnode.store.hashing import DEFAULT_PARAMS, hash_credential, verify_credential
    from blissnode.wire.credentials import build_credential, md5_credential
    from blissnode.wire.rsa_raw import raw_public
    from blissnode.wire.server_transport import check_session_seed, session_seed_from_random

    seed = session_seed_from_random(os.urandom(24))
    blob = raw_public(seed, keys.login.private.n)
    cred16 = md5_credential(USER, PASSWORD)
    stored = hash_credential(cred16, DEFAULT_PARAMS)
    modulus = os.urandom(128)

    def timed(fn):
        fn()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        return (time.perf_counter() - start) / repeats

    rsa_decrypt = timed(lambda: check_session_seed(keys.login_decrypt_raw(blob)))
    sign = timed(lambda: build_credential(USER, modulus, 1, {9: 2}, keys.credential_sign_raw))
    scrypt = timed(lambda: verify_credential(stored, cred16))
    return {"rsa1536_decrypt": rsa_decrypt, "rsa2048_sign": sign, "scrypt": scrypt}


def serve(cpu, repeats, inline_rsa=False, priority="idle"):
    """Child process: a login server on loopback; prints its port and crypto floor."""
    pinned = _pin(cpu if cpu >= 0 else None)
    from twisted.internet import defer, reactor

    from blissnode.keys import load_or_create_server_keys
    from blissnode.auth.cred import make_portal
    from blissnode.login.protocol import LoginServerFactory
    from blissnode.store.sqlite import StoreService, database_path
    from blissnode.versions.registry import VersionRegistry
    from blissnode.wire.credentials import md5_credential

    from blissnode.privateops import PrivateOps
    from blissnode.supernode.node import SupernodeConfig, SupernodeNode
    from blissnode.supernode.udp import SupernodeDatagramProtocol
    from blissnode.wire import rc4, rsa_raw

    directory = tempfile.mkdtemp(prefix="blissnode-bench-")
    os.chmod(directory, 0o700)
    keys = load_or_create_server_keys(directory)
    floor = crypto_floor(keys, repeats)
    node = SupernodeNode(SupernodeConfig(public_ip=LOOPBACK, udp_rate=1e9, udp_burst=10 ** 9),
                         reactor=reactor)
    udp = reactor.listenUDP(0, SupernodeDatagramProtocol(node), interface=LOOPBACK)
    store = StoreService(database_path(directory), reactor=reactor, hash_priority=priority)
    store.startService()
    # Close the database and stop its thread on SIGTERM, or the process stays.
    reactor.addSystemEventTrigger("before", "shutdown", store.stopService)
    factory = LoginServerFactory(keys, make_portal(store.accounts), store.accounts,
                                 registry=VersionRegistry.from_plugins(), clock=reactor,
                                 max_connections=10 ** 6,
                                 # The load comes from one address: lift the
                                 # per-address admission limits (issue 17).
                                 max_per_address=10 ** 6, connect_rate=1e9,
                                 connect_burst=10 ** 9)
    if not inline_rsa:
        factory.private_ops = PrivateOps(reactor, priority=priority)
        reactor.addSystemEventTrigger("before", "shutdown", factory.private_ops.stop)

    @defer.inlineCallbacks
    def ready():
        cred = md5_credential(USER, PASSWORD)
        yield store.accounts.create_account(USER, cred)
        # What a sign-in costs the store twice (login, then event server):
        # the first check hashes, the second finds the proof.
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            yield store.accounts.check_credential(USER, cred)
            times.append(time.perf_counter() - t0)
        # The login rate below: every login pays scrypt, like a first
        # sign-in (the proof would skip it for the repeated logins).
        store.accounts.proofs = None
        port = reactor.listenTCP(0, factory, interface=LOOPBACK)
        print(json.dumps({"port": port.getHost().port, "floor": floor, "cpu": pinned,
                          "udp_port": udp.getHost().port, "rc4": rc4.IMPLEMENTATION,
                          "bigint": rsa_raw.BIGINT, "checks": times,
                          "private_ops": not inline_rsa, "priority": priority,
                          "login_n": keys.login.private.n,
                          "cred_n": keys.credential.private.n}), flush=True)

    reactor.callWhenRunning(ready)
    reactor.run()


class Server(object):
    def __init__(self, cpu, repeats, inline_rsa=False, pure=False, timeout=120.0,
                 priority="idle"):
        import select

        env = dict(os.environ)
        if pure:
            env["BLISSNODE_PURE_PYTHON"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", str(-1 if cpu is None else cpu), str(repeats),
             "--priority", priority]
            + (["--inline-rsa"] if inline_rsa else []),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.stop()
            raise SystemExit("login server did not start within %.0f s" % timeout)
        self.info = json.loads(line)

    def reactor_cpu_seconds(self):
        """CPU seconds of the server's main (reactor) thread alone."""
        return self.cpu_seconds("/proc/%d/task/%d/stat" % (self.proc.pid, self.proc.pid))

    def cpu_seconds(self, path=None):
        with open(path or "/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- probe latency (a separate process, so the load's CPU does not count) ------------

def probe_sender(port, seconds, rate):
    """Child process: probes at ``rate`` per second for ``seconds``; prints
    the round trips (seconds) as JSON."""
    import socket

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from supernode import build_probes

    count = max(1, int(seconds * rate))
    probes = build_probes(count, LOOPBACK, LOOPBACK)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.settimeout(1.0)
    rtts, lost = [], 0
    start = time.perf_counter()
    for i, probe in enumerate(probes):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter()
        sock.sendto(probe, (LOOPBACK, port))
        try:
            sock.recv(2048)
            rtts.append(time.perf_counter() - t0)
        except socket.timeout:
            lost += 1
    print(json.dumps({"rtts": rtts, "lost": lost}), flush=True)


class ProbeSender(object):
    def __init__(self, port, seconds, rate=PROBE_RATE):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--probe", str(port), str(seconds),
             str(rate)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.timeout = seconds + 30

    def result(self):
        try:
            out, _ = self.proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise SystemExit("probe sender did not finish")
        return json.loads(out)


def percentiles(rtts):
    if not rtts:
        return float("nan"), float("nan")
    rtts = sorted(rtts)
    return rtts[len(rtts) // 2], rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]


# -- the load --------------------------------------------------------------------

def login_rate(reactor, server, label, seconds, concurrency, user_key):
    """Deferred -> (logins, elapsed seconds, server CPU seconds)."""
    from twisted.internet import defer

    from blissnode.client.login import LoginClientCore, login

    info = server.info
    done = {"n": 0, "failed": 0}
    deadline = time.perf_counter() + seconds

    @defer.inlineCallbacks
    def worker():
        while time.perf_counter() < deadline:
            core = LoginClientCore(label, USER, PASSWORD, login_modulus=info["login_n"],
                                   credential_modulus=None, user_key=user_key)
            result = yield login(reactor, LOOPBACK, info["port"], core, timeout=30)
            if result.ok:
                done["n"] += 1
            else:
                done["failed"] += 1

    @defer.inlineCallbacks
    def run():
        cpu0, reactor0 = server.cpu_seconds(), server.reactor_cpu_seconds()
        start = time.perf_counter()
        yield defer.gatherResults([worker() for _ in range(concurrency)], consumeErrors=True)
        elapsed = time.perf_counter() - start
        if done["failed"]:
            raise RuntimeError("%d logins refused" % done["failed"])
        return (done["n"], elapsed, server.cpu_seconds() - cpu0,
                server.reactor_cpu_seconds() - reactor0)

    return run()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=30,
                        help="iterations per crypto-floor operation")
    parser.add_argument("--quick", action="store_true", help="2 s per figure")
    parser.add_argument("--path", choices=("auto", "fast", "pure"), default="auto",
                        help="fast: refuse unless C RC4 and gmpy2; pure: force pure Python")
    parser.add_argument("--inline-rsa", action="store_true",
                        help="RSA private operations on the reactor thread (the old path)")
    parser.add_argument("--priority", choices=("compare", "idle", "low", "normal"),
                        default="compare",
                        help="the hash and RSA threads' priority; compare: idle and low")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--probe", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), int(args.serve[1]), args.inline_rsa, args.priority)
        return
    if args.probe:
        probe_sender(int(args.probe[0]), float(args.probe[1]), float(args.probe[2]))
        return
    if args.quick:
        args.seconds, args.repeats = 2.0, 5

    from twisted.internet import task

    from blissnode.client.login import generate_user_key

    priorities = ("idle", "low") if args.priority == "compare" else (args.priority,)
    _pin(LOAD_CPU)
    user_key = generate_user_key()
    measured = []

    def run(reactor):
        from twisted.internet import defer

        @defer.inlineCallbacks
        def each():
            for priority in priorities:
                measured.append((yield measure(reactor, args, priority, user_key)))
        return each()

    try:
        task.react(run)
    except SystemExit as e:  # react() exits when done: go on to the table
        if e.code:
            raise
    print("UDP probe round trip on the same server (%d/s from another process), by the "
          "hash and RSA threads' priority:" % (PROBE_RATE,))
    for priority, probes in measured:
        idle50, idle99 = percentiles(probes["idle"]["rtts"])
        print("  %-6s idle                 p50 %6.2f ms  p99 %6.2f ms  (%d lost)"
              % (priority, idle50 * 1e3, idle99 * 1e3, probes["idle"]["lost"]))
        for label in ("4.1.0.130", "6.16.0.105"):
            p50, p99 = percentiles(probes[label]["rtts"])
            print("  %-6s during %-10s    p50 %6.2f ms  p99 %6.2f ms  (%d lost)  "
                  "p99 / idle p99 %.1f" % (priority, label, p50 * 1e3, p99 * 1e3,
                                           probes[label]["lost"], p99 / idle99))


@defer.inlineCallbacks
def measure(reactor, args, priority, user_key):
    """One server process at ``priority``: its crypto floor, login rates and
    probe latencies (printed); fires with ``(priority, latencies)``."""
    from twisted.internet import threads

    server = Server(SERVER_CPU, args.repeats, args.inline_rsa, pure=args.path == "pure",
                    priority=priority)
    try:
        info = server.info
        if args.path == "fast" and (info["rc4"], info["bigint"]) != ("c", "gmpy2"):
            raise SystemExit("refusing to report: the server uses rc4 %s and big integers %s, "
                             "--path fast needs c and gmpy2" % (info["rc4"], info["bigint"]))
        floor = info["floor"]
        per_login = sum(floor.values())
        print("login server: pid %d pinned to CPU %s; rc4 path %s, big integers %s, RSA "
              "private operations %s; hash and RSA threads' priority %s; load: %d logins "
              "in flight"
              % (server.proc.pid, info["cpu"], info["rc4"], info["bigint"],
                 "on their thread pool" if info["private_ops"] else "on the reactor thread",
                 info["priority"], args.concurrency))
        print("crypto floor of one login (server process, same core):")
        for name, value in floor.items():
            print("  %-16s %8.2f ms" % (name, value * 1000))
        print("  %-16s %8.2f ms  -> %.1f logins/s" % ("total", per_login * 1000, 1 / per_login))
        first, second = info["checks"]
        print("credential check of one sign-in: login server %.1f ms (scrypt), event server's "
              "second check %.1f ms (proof, no scrypt)" % (first * 1e3, second * 1e3))
        probes = {}
        sender = ProbeSender(info["udp_port"], args.seconds)
        probes["idle"] = yield threads.deferToThread(sender.result)
        for label in ("4.1.0.130", "6.16.0.105"):
            sender = ProbeSender(info["udp_port"], args.seconds)
            n, elapsed, cpu, reactor_cpu = yield login_rate(
                reactor, server, label, args.seconds, args.concurrency, user_key)
            probes[label] = yield threads.deferToThread(sender.result)
            rate = n / elapsed
            transport = "DH-384 + RC4" if label.startswith("6") else "classic"
            print("%-10s (%s): %5d logins in %.1f s = %6.1f logins/s, server CPU %.2f s "
                  "(%.0f%%, of it the reactor thread %.2f s with the probes), %.0f%% of the "
                  "crypto floor"
                  % (label, transport, n, elapsed, rate, cpu, 100 * cpu / elapsed,
                     reactor_cpu, 100 * rate * per_login))
    finally:
        server.stop()
    return priority, probes


if __name__ == "__main__":
    main()
