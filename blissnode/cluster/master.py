"""
``twistd -n blissnode --workers N``: the master process.

The master opens every listening socket (:mod:`blissnode.cluster.sockets`),
makes sure the server keys exist (so workers never race to create them),
and runs N worker processes (``python -m blissnode.worker``), each a
complete blissnode -- every role, on its share of every socket, over the
shared PostgreSQL and Redis.  It carries the workers' log events into its
own log (each tagged with the worker's number), and restarts a worker that
dies: at once when it had run for a while, after a delay doubling up to
:data:`MAX_RESTART_DELAY` when it keeps dying.  For a dead worker it also
does what the worker can no longer do: it removes the worker's directory
entries (ids beginning with the worker's tag) and says ``bye`` for it on
the bus, so the other workers take its users offline at once instead of
after the heartbeat timeout.

Stopping the master stops the workers (SIGTERM, SIGKILL after
:data:`STOP_TIMEOUT` seconds).
"""

import json
import os
import secrets
import sys

from twisted.application import service
from twisted.internet import defer, protocol
from twisted.logger import Logger, eventFromJSON

from blissnode.cluster import codec
from blissnode.cluster.link import CLUSTER_CHANNEL

log = Logger()

__all__ = ["WorkerPool", "WORKER_ENV", "new_tag", "MAX_RESTART_DELAY", "STOP_TIMEOUT"]

#: The environment variable that hands a worker its number, tag and sockets.
WORKER_ENV = "BLISSNODE_WORKER"

#: Seconds a worker must have run for its next restart to be immediate.
STABLE_AFTER = 30.0

#: Longest wait before restarting a worker that keeps dying.
MAX_RESTART_DELAY = 30.0

#: Seconds stopping workers get before they are killed.
STOP_TIMEOUT = 10.0

#: Longest log line taken from a worker (longer ones are cut).
MAX_LINE = 64 * 1024

#: The first file descriptor number listening sockets get in a worker.
FIRST_FD = 3


def new_tag(index):
    """A fresh process tag for worker ``index`` (a restarted worker gets a new
    one: sessions of the dead one are never confused with its successor's)."""
    return "w%d-%s." % (index, secrets.token_hex(4))


class _WorkerOutput(protocol.ProcessProtocol):
    """One worker process: its log lines in, its end out."""

    def __init__(self, pool, worker):
        self.pool = pool
        self.worker = worker
        self._buffers = {1: b"", 2: b""}
        self._cut = {1: False, 2: False}

    def connectionMade(self):
        self.transport.closeStdin()

    def childDataReceived(self, fd, data):
        if fd not in self._buffers:
            return
        buffer = self._buffers[fd] + data
        *lines, rest = buffer.split(b"\n")
        for line in lines:
            if self._cut[fd]:
                self._cut[fd] = False  # the tail of a line already cut
                continue
            self.pool.worker_line(self.worker, fd, line)
        if len(rest) > MAX_LINE:
            self.pool.worker_line(self.worker, fd, rest[:MAX_LINE])
            rest, self._cut[fd] = b"", True
        self._buffers[fd] = rest

    def processEnded(self, reason):
        for fd, rest in self._buffers.items():
            if rest and not self._cut[fd]:
                self.pool.worker_line(self.worker, fd, rest)
        self._buffers = {1: b"", 2: b""}
        code = getattr(reason.value, "exitCode", None)
        signal = getattr(reason.value, "signal", None)
        self.pool.worker_ended(self.worker, code, signal)


class _Worker(object):
    def __init__(self, index):
        self.index = index
        self.tag = None
        self.process = None
        self.started_at = None
        self.restart_delay = 1.0
        self.restart_call = None
        self.ended = None  # Deferred fired when the process ends (while stopping)


class WorkerPool(service.Service):
    """The master's service (module docstring).

    :param count: number of workers.
    :param argv: the worker's command-line options (those of the master
        without ``--workers``, listeners with their bound ports).
    :param listeners: the :class:`~blissnode.cluster.sockets.SharedListener`
        s, one socket per worker each.
    :param directory: an :class:`~blissnode.store.directory.IOnlineDirectory`
        to clean a dead worker's entries from (or None).
    :param bus: an :class:`~blissnode.store.bus.IBus` to say ``bye`` on for a
        dead worker (or None).
    :param executable: the Python running the workers (this one).
    """

    name = "workers"

    def __init__(self, count, argv, listeners, reactor=None, directory=None, bus=None,
                 executable=None, env=None):
        if reactor is None:
            from twisted.internet import reactor
        self.count = count
        self.argv = list(argv)
        self.listeners = listeners
        self.reactor = reactor
        self.directory = directory
        self.bus = bus
        self.executable = executable or sys.executable
        self.env = dict(os.environ if env is None else env)
        self.workers = [_Worker(i + 1) for i in range(count)]
        self.restarts = 0
        self._stopping = False

    # -- life cycle -------------------------------------------------------------------

    def startService(self):
        service.Service.startService(self)
        self._stopping = False
        for worker in self.workers:
            self._spawn(worker)

    def stopService(self):
        service.Service.stopService(self)
        self._stopping = True
        waits = []
        for worker in self.workers:
            if worker.restart_call is not None and worker.restart_call.active():
                worker.restart_call.cancel()
            if worker.process is not None:
                worker.ended = defer.Deferred()
                waits.append(worker.ended)
                self._signal(worker, "TERM")
        if not waits:
            self._close_sockets()
            return defer.succeed(None)
        kill = self.reactor.callLater(STOP_TIMEOUT, self._kill_all)
        d = defer.gatherResults(waits)

        def done(result):
            if kill.active():
                kill.cancel()
            self._close_sockets()
            return result
        return d.addBoth(done)

    def _close_sockets(self):
        for listener in self.listeners:
            listener.close()

    def _kill_all(self):
        for worker in self.workers:
            if worker.process is not None:
                log.warn("worker {n} did not stop within {t} s; killing it",
                         n=worker.index, t=STOP_TIMEOUT)
                self._signal(worker, "KILL")

    def _signal(self, worker, name):
        try:
            worker.process.signalProcess(name)
        except Exception:  # already gone (ProcessExitedAlready, OSError)
            pass

    # -- workers ------------------------------------------------------------------------

    def _spawn(self, worker):
        worker.restart_call = None
        worker.tag = new_tag(worker.index)
        fds = {}
        child_fds = {0: "w", 1: "r", 2: "r"}
        number = FIRST_FD
        for listener in self.listeners:
            child_fds[number] = listener.fileno(worker.index - 1)
            fds[listener.name] = number
            number += 1
        env = dict(self.env)
        env[WORKER_ENV] = json.dumps({"index": worker.index, "tag": worker.tag, "fds": fds})
        args = [self.executable, "-m", "blissnode.worker"] + self.argv
        worker.started_at = self.reactor.seconds()
        worker.process = self.reactor.spawnProcess(
            _WorkerOutput(self, worker), self.executable, args, env=env, childFDs=child_fds)
        log.info("worker {n} started (pid {pid}, tag {tag})", n=worker.index,
                 pid=worker.process.pid, tag=worker.tag)

    def worker_line(self, worker, fd, line):
        """One line a worker wrote: a JSON log event on stdout (re-emitted into
        this process's log), anything else (stderr) logged as text."""
        if fd == 1:
            try:
                event = eventFromJSON(line.decode("utf-8", "replace"))
            except (ValueError, TypeError, KeyError):
                event = None
            if isinstance(event, dict) and "log_format" in event:
                # Literal text: a deserialised event formats from its
                # flattened fields, which know nothing of new ones.
                event["log_worker"] = worker.index
                event["log_format"] = "[worker %d] %s" % (worker.index,
                                                          event["log_format"] or "")
                log.observer(event)
                return
        log.info("[worker {n}] {line}", n=worker.index,
                 line=line.decode("utf-8", "replace").rstrip()[:2000])

    def worker_ended(self, worker, code, signal):
        tag = worker.tag
        worker.process = None
        if not self._stopping:
            # A worker that stops on request cleans up after itself.
            self._cleanup(tag)
        if worker.ended is not None:
            d, worker.ended = worker.ended, None
            d.callback(code)
        if self._stopping or not self.running:
            log.info("worker {n} stopped", n=worker.index)
            return
        ran = self.reactor.seconds() - (worker.started_at or 0)
        if ran >= STABLE_AFTER:
            worker.restart_delay = 1.0
        delay = worker.restart_delay
        worker.restart_delay = min(MAX_RESTART_DELAY, worker.restart_delay * 2)
        self.restarts += 1
        how = "with code %s" % (code,) if signal is None else "on signal %s" % (signal,)
        log.warn("worker {n} (tag {tag}) exited {how} after {ran:.1f} s; restarting it "
                 "in {delay:.0f} s", n=worker.index, tag=tag, how=how, ran=ran, delay=delay)
        worker.restart_call = self.reactor.callLater(delay, self._spawn, worker)

    def _cleanup(self, tag):
        """What a dead worker leaves: its directory entries, its presence."""
        if self.directory is not None:
            d = self.directory.remove_stale(float(2 ** 62), prefix=tag)
            d.addCallback(lambda removed: removed and log.info(
                "removed {n} directory entries of worker {tag}", n=len(removed), tag=tag))
            d.addErrback(lambda f: log.warn("cannot remove the directory entries of "
                                            "{tag}: {error}", tag=tag,
                                            error=f.getErrorMessage()[:200]))
        if self.bus is not None:
            d = self.bus.publish(CLUSTER_CHANNEL, codec.encode(tag, 2 ** 31, "bye"))
            d.addErrback(lambda f: log.warn("cannot say bye for {tag}: {error}", tag=tag,
                                            error=f.getErrorMessage()[:200]))
