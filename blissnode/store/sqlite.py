"""
The embedded default store: one SQLite file in the data directory.

Two layers:

* :class:`SQLiteDatabase` is plain, blocking Python over :mod:`sqlite3`;
  the engine-neutral synchronous stores
  (:class:`~blissnode.store.accounts.SyncAccountStore`, contacts, messages)
  run over it.  The ``blissnode user`` command uses them directly (no
  reactor), and they are what runs on the store thread.
* :class:`StoreService` owns one dedicated thread (a one-thread
  :class:`~twisted.python.threadpool.ThreadPool`) on which the database is
  opened and every call runs
  (:class:`~blissnode.store.service.StoreServiceBase`), and a hash pool
  for scrypt.  One thread means calls run one at a time in the order they
  were made, with no locking between them, and the reactor thread never
  touches the file.

The file is opened in WAL mode (readers do not block the writer, so
``blissnode user`` can run while the server does), with foreign keys on and a
busy timeout so a second process waits rather than fails.  Every change runs
in one transaction; an exception rolls it back.
"""

import contextlib
import os
import sqlite3
import threading

from blissnode.store.accounts import (  # noqa: F401  (re-exported: their old home)
    MAX_EMAIL_LENGTH,
    MAX_FULL_NAME_LENGTH,
    AccountStore,
    SyncAccountStore,
)
from blissnode.store.dialects import SQLITE
from blissnode.store.errors import DatabaseError, StoreError
from blissnode.store.migrations import MIGRATIONS, migrate, schema_version
from blissnode.store.service import StoreServiceBase

#: The database file's name inside the data directory.
DATABASE_FILENAME = "blissnode.sqlite3"

#: Seconds a connection waits for another process's write lock.
BUSY_TIMEOUT = 10.0

def database_path(data_dir):
    """The database file of a data directory (a path string or :class:`FilePath`)."""
    return os.path.join(getattr(data_dir, "path", data_dir), DATABASE_FILENAME)


class SQLiteDatabase:
    """One connection to the SQLite file, migrated to the current schema.

    :param path: the database file; created (mode 0600) if missing.
    :param migrations: the migration list (tests pass their own).
    :param forbid_thread: a thread ident (normally the reactor thread's) on
        which any use of this object raises :class:`StoreError`, so that a
        blocking call sneaking onto the reactor thread fails loudly in tests.

    Calls are serialised by a lock; the store thread is the only user in the
    server, the main thread the only one in the command line.
    """

    def __init__(self, path, migrations=MIGRATIONS, forbid_thread=None, busy_timeout=BUSY_TIMEOUT):
        self.path = os.fspath(path)
        self._forbid_thread = forbid_thread
        self._check_thread()
        self._lock = threading.RLock()
        self._in_transaction = False
        if not os.path.exists(self.path):
            # Created owner-only before SQLite sees it; SQLite gives the -wal
            # and -shm files the same permissions.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        try:
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout,
                                         isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise DatabaseError("cannot open %s: %s" % (self.path, e)) from e
        try:
            try:
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                self._conn.execute("PRAGMA foreign_keys=ON")
                # NORMAL is durable across application crashes in WAL mode; a
                # power cut may lose the last commits, never consistency.
                self._conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as e:
                raise DatabaseError("cannot open %s: %s" % (self.path, e)) from e
            if mode.lower() != "wal":
                raise DatabaseError("cannot put %s in WAL mode (got %r)" % (self.path, mode))
            migrate(self, migrations)
        except BaseException:
            self._conn.close()
            raise

    def _check_thread(self):
        if self._forbid_thread is not None and threading.get_ident() == self._forbid_thread:
            raise StoreError("blocking database call on a forbidden (reactor) thread")

    dialect = SQLITE

    @contextlib.contextmanager
    def transaction(self, readonly=False, accounts=(), exclusive=False):
        """A transaction: yields a cursor; commits at the end, rolls back on any exception.

        A write transaction (the default) starts with ``BEGIN IMMEDIATE``,
        which takes the write lock at the start, so a read-then-write (a
        duplicate check, a migration) cannot race another process; SQLite
        has one writer at a time, so ``accounts`` and ``exclusive`` (the
        locks :class:`~blissnode.store.postgresql.PostgreSQLDatabase` takes)
        need nothing more here.  ``readonly=True``: a plain ``BEGIN``, one
        consistent snapshot for several SELECTs, without the write lock.
        Transactions do not nest.  A :mod:`sqlite3` error that leaves the
        block becomes :class:`DatabaseError` (after the rollback).
        """
        self._check_thread()
        with self._lock:
            if self._in_transaction:
                raise StoreError("transactions do not nest")
            if self._conn is None:
                raise StoreError("the database is closed")
            cursor = self._conn.cursor()
            try:
                cursor.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                cursor.close()
                raise DatabaseError("cannot start a transaction: %s" % (e,)) from e
            self._in_transaction = True
            try:
                yield cursor
                self._conn.commit()
            except BaseException as e:
                self._conn.rollback()
                if isinstance(e, sqlite3.Error):
                    raise DatabaseError(str(e)) from e
                raise
            finally:
                self._in_transaction = False
                cursor.close()

    def read(self, sql, parameters=()):
        """Run one SELECT outside any explicit transaction; return all rows."""
        self._check_thread()
        with self._lock:
            if self._conn is None:
                raise StoreError("the database is closed")
            try:
                return self._conn.execute(sql, parameters).fetchall()
            except sqlite3.Error as e:
                raise DatabaseError(str(e)) from e

    def schema_version(self):
        with self.transaction(readonly=True) as cursor:
            return schema_version(cursor)

    def journal_mode(self):
        return self.read("PRAGMA journal_mode")[0][0]

    def close(self):
        self._check_thread()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class StoreService(StoreServiceBase):
    """Runs the SQLite store on its own thread (see :class:`StoreServiceBase`).

    One thread means calls run one at a time in the order they were made,
    with no locking between them, and the reactor thread never touches the
    file; scrypt runs on the hash pool beside it.

    :param path: the database file (see :func:`database_path`).
    """

    threads = 1

    def __init__(self, path, **kwargs):
        self.path = os.fspath(path)
        StoreServiceBase.__init__(self, **kwargs)

    def describe(self):
        return self.path

    def open_database(self):
        return SQLiteDatabase(self.path, migrations=self._migrations,
                              forbid_thread=self._reactor_thread)


#: The asynchronous account store of a StoreService (the name it had when
#: SQLite was the only engine).
SQLiteAccountStore = AccountStore
