"""
:class:`PrivateOps`: the threads that run RSA private-key operations (the
login key's seed decryption, the credential signature), off the reactor.

One raw RSA operation costs ~0.3 ms on gmpy2 and ~3-7 ms in pure Python
(:mod:`blissnode.wire.rsa_raw`); on the reactor thread a burst of logins
would hold every other connection for that long per login.  A pool sized to
the cores runs them instead, below the reactor's priority
(:data:`~blissnode.store.hashpool.BACKGROUND_PRIORITIES`).  gmpy2 releases
the GIL while it exponentiates (:mod:`blissnode.wire.bigint`), so the reactor
runs meanwhile; Python's ``pow`` keeps it, and then the gain is only that the
reactor is switched to between operations.  Separate from the scrypt pool
(:mod:`blissnode.store.hashpool`) so a key exchange never waits behind
password hashes.

Servers get it as ``factory.private_ops`` (``blissnode.tap``); without one,
the operations run inline (tests, tools).
"""

import functools

from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from blissnode.store.hashpool import DEFAULT_BACKGROUND_PRIORITY, background_thread, default_size

__all__ = ["PrivateOps"]


def _daemon_thread(*args, **kwargs):
    # The operations keep no state worth finishing: an owner that forgets
    # stop() must not keep the process alive at exit.  Lower priority than
    # the reactor thread, like the hash threads.
    thread = background_thread(*args, **kwargs)
    thread.daemon = True
    return thread


class PrivateOps(object):
    """A thread pool for private-key operations; :meth:`run` returns a
    Deferred.  Started on first use; its owner stops it (``blissnode.tap``:
    with the service); its threads are daemons."""

    def __init__(self, reactor, size=None, priority=DEFAULT_BACKGROUND_PRIORITY):
        self._reactor = reactor
        self.size = size or default_size()
        self.priority = priority
        self._pool = ThreadPool(minthreads=0, maxthreads=self.size, name="blissnode-rsa")
        self._pool.threadFactory = functools.partial(_daemon_thread, priority=priority)

    def run(self, function, *args, **kwargs):
        if not self._pool.started:
            self._pool.start()
        return deferToThreadPool(self._reactor, self._pool, function, *args, **kwargs)

    def stop(self):
        if self._pool.started:
            self._pool.stop()
