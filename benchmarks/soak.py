#!/usr/bin/env python3
"""
Hostile peers against a real server process, over loopback (issue 17).

    python benchmarks/soak.py [--quick] [--seconds 8] [--restarts 3] [--server-tree DIR]

Runs ``twistd -n blissnode`` (every role, SQLite, default limits) in a child
process and, one after the other, each attack below from 127.0.0.2 and up
(standing for other remote addresses), while a legitimate client on
127.0.0.1 works throughout: about 10 operations a second, alternating a
login of its own account and a supernode session opening.  Every attack is
bounded in time (``--seconds``) and in count.  Printed per attack:

* legitimate operations attempted / failed during it;
* peak RSS (VmHWM) and peak open fds of the server so far;
* bytes the server's log grew by during it;

then ``--restarts`` rounds of kill -9 in the middle of registrations and
the acknowledged registrations lost after the restart.  Figures only, no
assertions; the fast equivalents are in tests/.  ``--server-tree`` runs the
server from another checkout (e.g. an older commit, for before/after
figures; its own limits apply).

Attacks:

pipeline      supernode TCP sessions sending pipelined request packets
idle          idle connections to every TCP listener (fd exhaustion)
noread        supernode sessions asking for replies and never reading
guess         wrong passwords for the legitimate account (lockout)
replay        a recorded classic login replayed byte for byte
garbage       random bytes to every listener, TCP and UDP
firewall      cmd 40 firewall tests (connect-back amplification)
"""

import argparse
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

LEGIT = "127.0.0.1"
OWNER, PASSWORD = "soakowner", "the-right-password"


def free_port():
    s = socket.socket()
    s.bind((LEGIT, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


# -- the server process ---------------------------------------------------------------

class Server(object):
    def __init__(self, data_dir, tree=REPO):
        self.tree = tree
        self.data_dir = data_dir
        self.log = os.path.join(data_dir, "server.log")
        self.ports = {name: free_port() for name in ("sn", "https", "login", "event")}
        self.proc = None

    def start(self):
        p = self.ports
        args = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
                "-n", "--logfile", self.log, "--pidfile", "", "blissnode",
                "--data-dir", os.path.join(self.data_dir, "data"), "--public-ip", LEGIT,
                "--supernode-tcp", "tcp:%d:interface=127.0.0.1" % p["sn"],
                "--supernode-udp", "udp:%d:interface=127.0.0.1" % p["sn"],
                "--supernode-https", "tcp:%d:interface=127.0.0.1" % p["https"],
                "--login-tcp", "tcp:%d:interface=127.0.0.1" % p["login"],
                "--event-tcp", "tcp:%d:interface=127.0.0.1" % p["event"]]
        with open(os.path.join(self.tree, "blissnode", "tap.py")) as f:
            tap = f.read()
        if "registrations-per-address" in tap:
            args += ["--registrations-per-address", "100000"]  # the restart rounds
        if '"registration", None, "closed"' in tap:
            # The legitimate client and the restart rounds sign up from the
            # client; registration is closed by default.
            args += ["--registration", "open"]
        env = dict(os.environ, PYTHONPATH=self.tree)
        self.proc = subprocess.Popen(args, cwd=self.tree, env=env, preexec_fn=raise_nofile)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection((LEGIT, p["login"]), 0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the server did not start (see %s)" % (self.log,))

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def peak_rss_mib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return 0.0

    def fds(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.proc.pid))
        except OSError:
            return 0

    def log_bytes(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0


# -- clients (blocking sockets: the sans-IO client cores) -------------------------

def keys_of(server):
    from blissnode.keys import load_server_keys
    return load_server_keys(os.path.join(server.data_dir, "data"))


_USER_KEY = []


def login_core(keys, name, password, register=False, version="4.1.0.130"):
    from cryptography.hazmat.primitives.asymmetric import rsa

    from blissnode.client.login import LoginClientCore
    if not _USER_KEY:
        _USER_KEY.append(rsa.generate_private_key(65537, 1024))
    return LoginClientCore(version, name, password, register=register,
                           login_modulus=keys.login.private.n,
                           credential_modulus=keys.credential.private.n,
                           user_key=_USER_KEY[0])


def run_core(core, port, source=LEGIT, timeout=5.0, record=None):
    """Drive a login core over a blocking socket; the result or None."""
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.bind((source, 0))
        s.connect((LEGIT, port))
        data = core.start()
        if record is not None:
            record.append(data)
        s.sendall(data)
        while not core.done:
            chunk = s.recv(65536)
            if not chunk:
                return None
            out = core.receive(chunk)
            if out:
                if record is not None:
                    record.append(out)
                s.sendall(out)
        return core.result
    except Exception:
        return None
    finally:
        s.close()


def supernode_opening(port, source=LEGIT, timeout=5.0):
    """Open a classic supernode session; True when the server's seed
    exchange came back."""
    from blissnode.wire.peer_session import PeerClient
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.bind((source, 0))
        s.connect((LEGIT, port))
        client = PeerClient()
        s.sendall(client.start())
        deadline = time.time() + timeout
        while time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                return False
            client.receive(chunk)
            if client.state == "records":
                return True
        return False
    except Exception:
        return False
    finally:
        s.close()


class Legit(threading.Thread):
    """The legitimate client: ~10 operations a second from 127.0.0.1."""

    def __init__(self, server, keys):
        threading.Thread.__init__(self, daemon=True)
        self.server, self.keys = server, keys
        self.attempted = self.failed = 0
        self.running = True
        self.lock = threading.Lock()

    def run(self):
        n = 0
        while self.running:
            start = time.time()
            if n % 2 == 0:
                result = run_core(login_core(self.keys, OWNER, PASSWORD),
                                  self.server.ports["login"])
                ok = result is not None and result.ok
            else:
                ok = supernode_opening(self.server.ports["sn"])
            with self.lock:
                self.attempted += 1
                self.failed += not ok
            n += 1
            time.sleep(max(0.0, 0.1 - (time.time() - start)))

    def take(self):
        with self.lock:
            figures = (self.attempted, self.failed)
            self.attempted = self.failed = 0
        return figures


# -- attacks ---------------------------------------------------------------------------

def attacker(i):
    return "127.0.0.%d" % (2 + i % 250)


def _connect(port, source, timeout=2.0):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((LEGIT, port))
    return s


def _accepted_session(port, source):
    """A supernode session past cmd 30, as (socket, PeerClient)."""
    from blissnode.wire.objects import Int, Int64
    from blissnode.wire.tcp_commands import KIND_REQUEST, Command
    from blissnode.wire.objects import encode_objects
    from blissnode.wire.peer_session import PeerClient
    from blissnode.wire.tcp_records import PacketRecord
    s = _connect(port, source)
    client = PeerClient()
    s.sendall(client.start())
    while client.state != "records":
        client.receive(s.recv(65536))
    body = encode_objects([Int(1, 2), Int64(0x0D, random.getrandbits(63)), Int(0x10, 1)])
    s.sendall(client.encode(PacketRecord(1, [Command(30, KIND_REQUEST, 2, body)]).encode()))
    return s, client


def _request_packets(n, cmd=48, body=b"\x41\x01\x00\x00\x00\x01"):
    from blissnode.wire.tcp_commands import KIND_REQUEST, Command
    from blissnode.wire.tcp_records import PacketRecord
    return [PacketRecord(10 + i, [Command(cmd, KIND_REQUEST, 100 + i, body)]).encode()
            for i in range(n)]


def attack_pipeline(server, seconds):
    socks = []
    end = time.time() + seconds
    try:
        for i in range(8):
            socks.append(_accepted_session(server.ports["sn"], attacker(i)))
        packets = b"".join(_request_packets(500))
        while time.time() < end:
            for s, client in socks:
                try:
                    s.sendall(client.encode(packets))
                    s.setblocking(False)
                    try:
                        while s.recv(1 << 20):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                    s.setblocking(True)
                except OSError:
                    pass
    finally:
        for s, _ in socks:
            s.close()


def attack_idle(server, seconds, limit=4000):
    socks = []
    end = time.time() + seconds
    ports = [server.ports[k] for k in ("sn", "https", "login", "event")]
    i = 0
    try:
        while time.time() < end and len(socks) < limit:
            try:
                socks.append(_connect(ports[i % len(ports)], attacker(0), timeout=0.5))
            except OSError:
                time.sleep(0.01)
            i += 1
        time.sleep(max(0.0, end - time.time()))
    finally:
        for s in socks:
            s.close()


def attack_noread(server, seconds):
    socks = []
    end = time.time() + seconds
    try:
        for i in range(4):
            s, client = _accepted_session(server.ports["sn"], attacker(i))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            socks.append((s, client))
        packets = b"".join(_request_packets(200, cmd=40, body=b"\x41\x00"))
        while time.time() < end:
            for s, client in socks:
                try:
                    s.settimeout(0.2)
                    s.sendall(client.encode(packets))
                except OSError:
                    pass
    finally:
        for s, _ in socks:
            s.close()


def attack_guess(server, seconds, keys):
    end = time.time() + seconds
    n = 0
    while time.time() < end and n < 200:
        run_core(login_core(keys, OWNER, "wrong-%d" % n), server.ports["login"],
                 source=attacker(1), timeout=3)
        n += 1


def attack_replay(server, seconds, keys):
    from blissnode.wire.server_transport import SERVER_HELLO
    record = []
    result = run_core(login_core(keys, OWNER, PASSWORD), server.ports["login"], record=record)
    stream = b"".join(record)
    end = time.time() + seconds
    answered = tries = 0
    while time.time() < end and tries < 100:
        tries += 1
        try:
            s = _connect(server.ports["login"], attacker(2))
            s.sendall(stream)
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            answered += bool(got.replace(SERVER_HELLO, b""))
            s.close()
        except OSError:
            pass
    return "original %s; %d replays, %d answered" % (
        "ok" if result is not None and result.ok else "failed", tries, answered)


def attack_garbage(server, seconds):
    end = time.time() + seconds
    n = 0
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((attacker(3), 0))
    ports = [server.ports[k] for k in ("sn", "https", "login", "event")]
    while time.time() < end and n < 20000:
        try:
            s = _connect(ports[n % len(ports)], attacker(3 + n % 50), timeout=0.5)
            s.sendall(os.urandom(random.randint(1, 400)))
            s.close()
        except OSError:
            pass
        for _ in range(5):
            u.sendto(os.urandom(random.randint(1, 600)), (LEGIT, server.ports["sn"]))
        n += 1
    u.close()


def attack_firewall(server, seconds):
    end = time.time() + seconds
    try:
        s, client = _accepted_session(server.ports["sn"], attacker(4))
    except OSError:
        return
    packets = b"".join(_request_packets(100, cmd=40, body=b"\x41\x00"))
    while time.time() < end:
        try:
            s.sendall(client.encode(packets))
            s.settimeout(0.2)
            while s.recv(1 << 20):
                pass
        except OSError:
            time.sleep(0.05)
    s.close()


# -- kill -9 restarts -------------------------------------------------------------------

def restarts(server, keys, rounds, per_round):
    acknowledged, lost = [], 0
    for r in range(rounds):
        done = []

        def register():
            for i in range(per_round):
                name = "soak%d%04d" % (r, i)
                result = run_core(login_core(keys, name, "pw", register=True),
                                  server.ports["login"], timeout=3)
                if result is not None and result.ok:
                    done.append(name)
        t = threading.Thread(target=register, daemon=True)
        t.start()
        time.sleep(1.5 + random.random())
        server.kill9()
        t.join(10)
        acknowledged.extend(done)
        server.start()
    for name in acknowledged:
        lost += not signs_in(keys, name, server.ports["login"])
    return len(acknowledged), lost


def signs_in(keys, name, port, tries=20):
    """Whether ``name`` can sign in: a connection the per-address admission
    refuses (no answer) or a rate-limit answer is tried again after a pause
    (a burst of sign-ins from one address meets those limits); any other
    answer decides."""
    for _ in range(tries):
        result = run_core(login_core(keys, name, "pw"), port, timeout=5)
        if result is not None and (result.ok or result.reason != "rate_limited"):
            return result.ok
        time.sleep(0.5)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="3 s per attack, 1 restart")
    parser.add_argument("--server-tree", default=REPO,
                        help="run the server from this checkout (default: this one)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.restarts = 3.0, 1
    raise_nofile()
    base = tempfile.mkdtemp(prefix="blissnode-soak-")
    server = Server(base, os.path.abspath(args.server_tree))
    print("server from %s" % (server.tree,))
    server.start()
    try:
        keys = keys_of(server)
        run_core(login_core(keys, OWNER, PASSWORD, register=True), server.ports["login"])
        legit = Legit(server, keys)
        legit.start()
        time.sleep(1.0)
        print("baseline: %d legit ops attempted, %d failed" % legit.take())
        print("%-10s %9s %7s %9s %8s %10s  %s" % ("attack", "legit ops", "failed",
                                                   "peak RSS", "peak fds", "log bytes",
                                                   "notes"))
        peak_fds = 0
        attacks = [("pipeline", lambda: attack_pipeline(server, args.seconds)),
                   ("idle", lambda: attack_idle(server, args.seconds)),
                   ("noread", lambda: attack_noread(server, args.seconds)),
                   ("guess", lambda: attack_guess(server, args.seconds, keys)),
                   ("replay", lambda: attack_replay(server, args.seconds, keys)),
                   ("garbage", lambda: attack_garbage(server, args.seconds)),
                   ("firewall", lambda: attack_firewall(server, args.seconds))]
        for name, attack in attacks:
            legit.take()
            log_before = server.log_bytes()
            sampling = [True]

            def sample():
                nonlocal peak_fds
                while sampling[0]:
                    peak_fds = max(peak_fds, server.fds())
                    time.sleep(0.2)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            notes = attack() or ""
            time.sleep(1.0)  # what the attack left behind still counts
            sampling[0] = False
            sampler.join()
            attempted, failed = legit.take()
            print("%-10s %9d %7d %8.0fM %8d %10d  %s" % (
                name, attempted, failed, server.peak_rss_mib(), peak_fds,
                server.log_bytes() - log_before, notes))
            sys.stdout.flush()
        legit.running = False
        legit.join(10)
        acked, lost = restarts(server, keys, args.restarts, 200)
        print("kill -9 restarts: %d rounds, %d acknowledged registrations, %d lost"
              % (args.restarts, acked, lost))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
