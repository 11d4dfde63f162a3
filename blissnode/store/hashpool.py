"""
The threads that run scrypt, apart from the database threads.

One scrypt costs tens of milliseconds of CPU (blissnode.store.hashing);
hashlib releases the GIL while it runs, so a pool with one thread per core
hashes that many credentials at once.  Keeping them off the database
thread(s) means a burst of logins never queues the other store calls (a
contact-list read, a message fetch) behind the hashes.
"""

import functools
import os
import threading

from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

__all__ = ["HashPool", "default_size", "background_thread", "lower_this_thread",
           "BACKGROUND_NICENESS", "BACKGROUND_PRIORITIES", "DEFAULT_BACKGROUND_PRIORITY"]

#: How the hash and RSA threads give way to the reactor thread:
#:
#: ``idle``
#:     Linux ``SCHED_IDLE`` (niceness +10 where that is refused): they run
#:     only on CPU time no ordinary thread wants, and a reactor thread woken
#:     by a datagram preempts them at once.  The default.  Measured with
#:     ``benchmarks/login.py``: a niced thread that the scheduler has just
#:     picked keeps the core for its slice (about 3 ms on Linux 6.x), which is
#:     what a UDP probe waited during a burst of logins.  The price: on a
#:     machine whose every core is kept busy by other programs, sign-ins wait
#:     for them (choose ``low`` there).
#: ``low``
#:     niceness +10: a smaller share of a busy core, never none.
#: ``normal``
#:     the reactor thread's own priority.
BACKGROUND_PRIORITIES = ("idle", "low", "normal")
DEFAULT_BACKGROUND_PRIORITY = "idle"

#: How much lower than the reactor thread ``low`` runs the threads (Linux
#: per-thread niceness).
BACKGROUND_NICENESS = 10


def lower_this_thread(priority=DEFAULT_BACKGROUND_PRIORITY):
    """Lower the calling thread's priority as ``priority`` says (where the OS
    allows it); return what it got: ``idle``, ``low`` or ``normal``."""
    if priority not in BACKGROUND_PRIORITIES:
        raise ValueError("background priority must be one of %s, not %r"
                         % (", ".join(BACKGROUND_PRIORITIES), priority))
    if priority == "normal":
        return "normal"
    got = "normal"
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICENESS)
        got = "low"
    except (AttributeError, OSError):
        pass
    if priority == "idle":
        try:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            got = "idle"
        except (AttributeError, OSError):
            pass
    return got


def background_thread(*args, **kwargs):
    """A ``threading.Thread`` whose target runs at a lower priority
    (``priority=``, one of :data:`BACKGROUND_PRIORITIES`)."""
    target = kwargs.pop("target", None)
    priority = kwargs.pop("priority", DEFAULT_BACKGROUND_PRIORITY)

    def lowered(*a, **kw):
        lower_this_thread(priority)
        if target is not None:
            return target(*a, **kw)
    return threading.Thread(*args, target=lowered, **kwargs)


def default_size():
    """The cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class HashPool:
    """A thread pool for slow hashes; :meth:`run` returns a Deferred.

    Calls made before :meth:`start` wait in the queue.  ``priority``: how its
    threads give way to the reactor (:data:`BACKGROUND_PRIORITIES`).
    """

    def __init__(self, reactor, size=None, priority=DEFAULT_BACKGROUND_PRIORITY):
        self._reactor = reactor
        self.size = size or default_size()
        self.priority = priority
        self._pool = ThreadPool(minthreads=0, maxthreads=self.size, name="blissnode-hash")
        self._pool.threadFactory = functools.partial(background_thread, priority=priority)

    def run(self, function, *args, **kwargs):
        return deferToThreadPool(self._reactor, self._pool, function, *args, **kwargs)

    def start(self):
        if not self._pool.started:
            self._pool.start()

    def stop(self):
        if self._pool.started:
            self._pool.stop()
