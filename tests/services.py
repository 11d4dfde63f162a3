"""
Real PostgreSQL and Redis servers for the tests: throwaway instances on loopback.

Each is started at most once per test process, on first use, from the
installed Debian binaries (``.ci/packages`` installs them), in a temporary
directory, on a free 127.0.0.1 port, and stopped when the process exits.
``BLISSNODE_TEST_POSTGRESQL`` / ``BLISSNODE_TEST_REDIS`` name a server to
use instead (a URL); the tests then only touch schemas and keys of their
own (``t_<random>`` schemas, ``blissnode-test:<random>:`` key prefixes).

There are no mocks and no skips: without the binaries (and without the
variables) a test that needs a server fails with :class:`ServiceUnavailable`,
whose message says to run ``.ci/packages``.

PostgreSQL's ``initdb`` refuses to run as root, so as root both it and the
server run as the ``postgres`` system user (created by the Debian package),
in a directory that user owns.
"""

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid

__all__ = ["ServiceUnavailable", "postgresql_schema_url", "postgresql_url",
           "redis_prefix", "redis_url"]

POSTGRESQL_ENV = "BLISSNODE_TEST_POSTGRESQL"
REDIS_ENV = "BLISSNODE_TEST_REDIS"

#: How long a server may take to start.
START_TIMEOUT = 60.0

_HINT = ("run .ci/packages (it installs the Debian packages postgresql and "
         "redis-server), or set %s to a server's URL")


class ServiceUnavailable(Exception):
    """A server the tests need cannot be started (the message says how to fix it)."""


_lock = threading.Lock()
_started = {}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, process, what, log_path=None):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    detail = ""
    if log_path and os.path.exists(log_path):
        with open(log_path, errors="replace") as f:
            detail = ": " + " | ".join(f.read().strip().splitlines()[-5:])
    raise ServiceUnavailable("%s did not start on 127.0.0.1:%d%s" % (what, port, detail))


# -- PostgreSQL ---------------------------------------------------------------------------

def _postgresql_bin():
    """The newest installed server's bin directory (initdb, pg_ctl, postgres)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not candidates:
        raise ServiceUnavailable("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: "
                                 + _HINT % (POSTGRESQL_ENV,))
    return os.path.dirname(candidates[-1])


def _as_server_user(argv):
    """``argv`` as the ``postgres`` user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return argv
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceUnavailable("running as root but there is no 'postgres' user to run "
                                 "PostgreSQL as: " + _HINT % (POSTGRESQL_ENV,))
    return ["runuser", "-u", "postgres", "--"] + argv


def _start_postgresql():
    bindir = _postgresql_bin()
    base = tempfile.mkdtemp(prefix="blissnode-pg-")
    os.chmod(base, 0o755)
    data, sockets, logfile = (os.path.join(base, n) for n in ("data", "sockets", "log"))
    os.mkdir(sockets)
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        for path in (base, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    subprocess.run(_as_server_user(
        [os.path.join(bindir, "initdb"), "-D", data, "-A", "trust", "-U", "blissnode",
         "-E", "UTF8", "--locale=C", "--no-sync"]),
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for attempt in range(3):
        port = _free_port()
        options = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
                   % (port, sockets))
        result = subprocess.run(_as_server_user(
            [os.path.join(bindir, "pg_ctl"), "-D", data, "-l", logfile, "-o", options,
             "-w", "-t", str(int(START_TIMEOUT)), "start"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if result.returncode == 0:
            break
    else:
        raise ServiceUnavailable("PostgreSQL did not start: %s"
                                 % (result.stderr.decode(errors="replace").strip(),))

    def stop():
        subprocess.run(_as_server_user([os.path.join(bindir, "pg_ctl"), "-D", data,
                                        "-m", "immediate", "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)
    atexit.register(stop)
    admin = "postgresql://blissnode@127.0.0.1:%d/postgres" % (port,)
    _execute(admin, "CREATE DATABASE blissnode_test")
    return "postgresql://blissnode@127.0.0.1:%d/blissnode_test" % (port,)


def _execute(url, sql):
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def postgresql_url():
    """The URL of the test PostgreSQL database (started on first use)."""
    with _lock:
        if "postgresql" not in _started:
            _started["postgresql"] = os.environ.get(POSTGRESQL_ENV) or _start_postgresql()
        return _started["postgresql"]


def postgresql_schema_url(testcase):
    """A URL whose connections work in a new, empty schema of the test
    database; ``testcase`` drops the schema at its clean-up."""
    url = postgresql_url()
    schema = "t_" + uuid.uuid4().hex[:16]
    _execute(url, "CREATE SCHEMA %s" % (schema,))
    testcase.addCleanup(_execute, url, "DROP SCHEMA %s CASCADE" % (schema,))
    separator = "&" if "?" in url else "?"
    return "%s%soptions=-csearch_path%%3D%s" % (url, separator, schema)


def postgresql_new_database(testcase):
    """A URL of a new, empty database on the test server (dropped at clean-up)."""
    url = postgresql_url()
    name = "d_" + uuid.uuid4().hex[:16]
    base, _, _db = url.rpartition("/")
    _execute(url, "CREATE DATABASE %s" % (name,))
    testcase.addCleanup(_execute, url, "DROP DATABASE %s WITH (FORCE)" % (name,))
    return "%s/%s" % (base, name)


# -- Redis --------------------------------------------------------------------------------

def _start_redis():
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        raise ServiceUnavailable("no redis-server binary: " + _HINT % (REDIS_ENV,))
    base = tempfile.mkdtemp(prefix="blissnode-redis-")
    logfile = os.path.join(base, "log")
    for attempt in range(3):
        port = _free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", base, "--logfile", logfile, "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_port(port, process, "redis-server", logfile)
            break
        except ServiceUnavailable:
            process.kill()
            process.wait()
            if attempt == 2:
                raise

    def stop():
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(base, ignore_errors=True)
    atexit.register(stop)
    return "redis://127.0.0.1:%d/0" % (port,)


def redis_url():
    """The URL of the test Redis server (started on first use)."""
    with _lock:
        if "redis" not in _started:
            _started["redis"] = os.environ.get(REDIS_ENV) or _start_redis()
        return _started["redis"]


def redis_prefix():
    """A key prefix no other test uses."""
    return "blissnode-test:%s:" % (uuid.uuid4().hex[:12],)
