#!/usr/bin/env python3
"""
Logins per second of the login server on one core, over loopback, next to
the bare cost of the cryptography one login needs.

    python benchmarks/login.py [--seconds 5] [--concurrency 4] [--quick]

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
process, pinned to another CPU when there is one.  Printed: figures only.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LOOPBACK = "127.0.0.1"
USER = "benchuser"
PASSWORD = "benchmark-password"


def _pin(cpu):
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[cpu % len(cpus)]})
        return cpus[cpu % len(cpus)]
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


def serve(cpu, repeats):
    """Child process: a login server on loopback; prints its port and crypto floor."""
    pinned = _pin(cpu)
    from twisted.internet import reactor

    from blissnode.keys import load_or_create_server_keys
    from blissnode.auth.cred import make_portal
    from blissnode.login.protocol import LoginServerFactory
    from blissnode.store.sqlite import StoreService, database_path
    from blissnode.versions.registry import VersionRegistry
    from blissnode.wire.credentials import md5_credential

    directory = tempfile.mkdtemp(prefix="blissnode-bench-")
    os.chmod(directory, 0o700)
    keys = load_or_create_server_keys(directory)
    floor = crypto_floor(keys, repeats)
    store = StoreService(database_path(directory), reactor=reactor)
    store.startService()
    # Close the database and stop its thread on SIGTERM, or the process stays.
    reactor.addSystemEventTrigger("before", "shutdown", store.stopService)
    factory = LoginServerFactory(keys, make_portal(store.accounts), store.accounts,
                                 registry=VersionRegistry.from_plugins(), clock=reactor,
                                 max_connections=10 ** 6)

    def ready(_):
        port = reactor.listenTCP(0, factory, interface=LOOPBACK)
        print(json.dumps({"port": port.getHost().port, "floor": floor, "cpu": pinned,
                          "login_n": keys.login.private.n,
                          "cred_n": keys.credential.private.n}), flush=True)

    store.accounts.create_account(USER, md5_credential(USER, PASSWORD)).addCallback(ready)
    reactor.run()


class Server(object):
    def __init__(self, cpu, repeats):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", str(cpu), str(repeats)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.info = json.loads(self.proc.stdout.readline())

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


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
        cpu0 = server.cpu_seconds()
        start = time.perf_counter()
        yield defer.gatherResults([worker() for _ in range(concurrency)], consumeErrors=True)
        elapsed = time.perf_counter() - start
        if done["failed"]:
            raise RuntimeError("%d logins refused" % done["failed"])
        return done["n"], elapsed, server.cpu_seconds() - cpu0

    return run()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=30,
                        help="iterations per crypto-floor operation")
    parser.add_argument("--quick", action="store_true", help="1 s per figure")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), int(args.serve[1]))
        return
    if args.quick:
        args.seconds, args.repeats = 1.0, 5

    from twisted.internet import task

    from blissnode.client.login import generate_user_key

    server = Server(0, args.repeats)
    _pin(1)
    user_key = generate_user_key()
    floor = server.info["floor"]
    per_login = sum(floor.values())
    print("login server: pid %d pinned to CPU %s; load: %d logins in flight"
          % (server.proc.pid, server.info["cpu"], args.concurrency))
    print("crypto floor of one login (server process, same core):")
    for name, value in floor.items():
        print("  %-16s %8.2f ms" % (name, value * 1000))
    print("  %-16s %8.2f ms  -> %.1f logins/s" % ("total", per_login * 1000, 1 / per_login))
    results = {}

    def run(reactor):
        from twisted.internet import defer

        @defer.inlineCallbacks
        def all_versions():
            for label in ("4.1.0.130", "6.16.0.105"):
                n, elapsed, cpu = yield login_rate(reactor, server, label, args.seconds,
                                                   args.concurrency, user_key)
                results[label] = (n, elapsed, cpu)
        return all_versions()

    try:
        task.react(run)
    except SystemExit as e:
        if e.code:
            server.stop()
            raise
    finally:
        if server.proc.poll() is None:
            server.stop()
    for label, (n, elapsed, cpu) in results.items():
        rate = n / elapsed
        transport = "DH-384 + RC4" if label.startswith("6") else "classic"
        print("%-10s (%s): %5d logins in %.1f s = %6.1f logins/s, server CPU %.0f%%, "
              "%.0f%% of the crypto floor"
              % (label, transport, n, elapsed, rate, 100 * cpu / elapsed,
                 100 * rate * per_login))


if __name__ == "__main__":
    main()
