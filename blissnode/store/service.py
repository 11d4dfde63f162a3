"""
What both store services share: a database opened on first use by a
database thread, the three asynchronous stores over it, a hash pool, and
the start/stop life cycle twistd drives.

:class:`~blissnode.store.sqlite.StoreService` (one thread, one SQLite
connection) and :class:`~blissnode.store.postgresql.PostgreSQLStoreService`
(a pool of threads and connections) only say how the database is opened
and how many threads call it.
"""

import os
import sys
import threading

from twisted.application import service
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from blissnode.store.accounts import AccountStore, Hasher, SyncAccountStore
from blissnode.store.contacts import SQLiteContactStore, SyncContactStore
from blissnode.store.hashing import DEFAULT_PARAMS
from blissnode.store.hashpool import DEFAULT_BACKGROUND_PRIORITY, HashPool
from blissnode.store.messages import SQLiteMessageStore, SyncMessageStore
from blissnode.store.migrations import MIGRATIONS

__all__ = ["Opened", "StoreServiceBase"]

log = Logger()


def exit_with_failure(status=1):
    """End the process with ``status`` once the reactor has shut down
    (twistd itself would exit 0 after ``reactor.stop()``)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(status)


class Opened:
    """What the database threads share once the database is open."""

    def __init__(self, database, accounts, contacts=None, messages=None):
        self.database = database
        self.accounts = accounts
        self.contacts = contacts
        self.messages = messages


class StoreServiceBase(service.Service):
    """Runs a store on its own thread(s); start it before use, stop it to close the database.

    ``accounts``, ``contacts`` and ``messages`` are the asynchronous
    :class:`~blissnode.store.interfaces.IAccountStore`,
    :class:`~blissnode.store.interfaces.IContactStore` and
    :class:`~blissnode.store.interfaces.IMessageStore` to hand to the
    servers.  Calls made before :meth:`startService` wait in the queue.  The
    database is opened (created, migrated) by the first job;
    :attr:`ready` fires when that is done.  If opening fails, the error is
    logged, :attr:`ready` fires with ``None`` and :attr:`open_error` holds
    the exception; with ``fatal=True`` (what the twistd plugin wants: a
    server without its database must not pretend to run) the reactor is
    stopped as well.

    :param hasher: a :class:`~blissnode.store.accounts.Hasher` (default: one
        with ``params``); :param hash_threads: size of the hash pool
        (default: one thread per core); :param hash_priority: how its threads
        give way to the reactor (``blissnode.store.hashpool``).
    """

    name = "store"

    #: Threads calling the database (subclasses say).
    threads = 1

    def __init__(self, reactor=None, params=DEFAULT_PARAMS, migrations=MIGRATIONS,
                 fatal=False, contact_limits=None, message_limits=None, hasher=None,
                 hash_threads=None, hash_priority=DEFAULT_BACKGROUND_PRIORITY):
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self._params = params
        self._migrations = migrations
        self._fatal = fatal
        # The reactor is driven by the thread that builds the service; the
        # database refuses to be used from it.
        self._reactor_thread = threading.get_ident()
        self._pool = ThreadPool(minthreads=1, maxthreads=self.threads,
                                name="blissnode-" + self.name)
        self._open_lock = threading.Lock()
        self._opened = None  # touched only on the database threads
        self.ready = None
        self.open_error = None
        self.hasher = hasher if hasher is not None else Hasher(params)
        self.hashing = HashPool(reactor, hash_threads, priority=hash_priority)
        self._contact_limits = contact_limits
        self._message_limits = message_limits
        self.accounts = AccountStore(self)
        self.contacts = SQLiteContactStore(self)
        self.messages = SQLiteMessageStore(self)

    #: What the log lines call the database (subclasses say).
    def describe(self):
        raise NotImplementedError

    def open_database(self):
        """Open (create, migrate) the database on a database thread; return it."""
        raise NotImplementedError

    def run(self, function, *args, **kwargs):
        """Run ``function(opened, *args, **kwargs)`` on a database thread; return a Deferred."""
        return deferToThreadPool(self._reactor, self._pool, self._in_thread, function, args, kwargs)

    def _in_thread(self, function, args, kwargs):
        return function(self._open(), *args, **kwargs)

    def _open(self):
        with self._open_lock:
            if self._opened is None:
                database = self.open_database()
                self._opened = Opened(
                    database, SyncAccountStore(database, hasher=self.hasher),
                    SyncContactStore(database, self._contact_limits, self._message_limits),
                    SyncMessageStore(database, self._message_limits))
            return self._opened

    def startService(self):
        service.Service.startService(self)
        self.hashing.start()
        self._pool.start()
        self.ready = self.run(lambda opened: None)
        self.ready.addCallbacks(self._opened_ok, self._open_failed)

    def _opened_ok(self, _):
        log.info("account database ready: {database}", database=self.describe())

    def _open_failed(self, failure):
        self.open_error = failure.value
        if self._fatal:
            # One line, then a non-zero exit: a server without its database
            # must neither pretend to run nor exit 0 (issue 15).
            log.critical("blissnode: cannot open the database {database}: {error}; stopping",
                         database=self.describe(), error=failure.getErrorMessage())
            log.debug("the database error in full", log_failure=failure)
            self._reactor.addSystemEventTrigger("after", "shutdown", exit_with_failure)
            self._reactor.stop()
        else:
            log.failure("cannot open the database {database}", failure,
                        database=self.describe())

    def stopService(self):
        """Close the database on its thread, then stop the threads (twistd waits for both)."""
        service.Service.stopService(self)
        d = deferToThreadPool(self._reactor, self._pool, self._close_in_thread)

        def stop_pools(result):
            self._pool.stop()
            self.hashing.stop()
            return result
        return d.addBoth(stop_pools)

    def _close_in_thread(self):
        with self._open_lock:
            if self._opened is not None:
                self._opened.database.close()
                self._opened = None
