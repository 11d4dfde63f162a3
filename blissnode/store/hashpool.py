"""
The threads that run scrypt, apart from the database threads.

One scrypt costs tens of milliseconds of CPU (blissnode.store.hashing);
hashlib releases the GIL while it runs, so a pool with one thread per core
hashes that many credentials at once.  Keeping them off the database
thread(s) means a burst of logins never queues the other store calls (a
contact-list read, a message fetch) behind the hashes.
"""

import os
import threading

from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

__all__ = ["HashPool", "default_size", "background_thread", "BACKGROUND_NICENESS"]

#: How much lower than the reactor thread the hash threads run (Linux
#: per-thread niceness): a burst of hashes on a busy core then delays the
#: reactor's turns (UDP probes, records) much less.
BACKGROUND_NICENESS = 10


def background_thread(*args, **kwargs):
    """A ``threading.Thread`` whose target runs at a lower priority (where
    the OS allows lowering one thread's priority; elsewhere unchanged)."""
    target = kwargs.pop("target", None)

    def lowered(*a, **kw):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
        except (AttributeError, OSError):
            pass
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

    Calls made before :meth:`start` wait in the queue.
    """

    def __init__(self, reactor, size=None):
        self._reactor = reactor
        self.size = size or default_size()
        self._pool = ThreadPool(minthreads=0, maxthreads=self.size, name="blissnode-hash")
        self._pool.threadFactory = background_thread

    def run(self, function, *args, **kwargs):
        return deferToThreadPool(self._reactor, self._pool, function, *args, **kwargs)

    def start(self):
        if not self._pool.started:
            self._pool.start()

    def stop(self):
        if self._pool.started:
            self._pool.stop()
