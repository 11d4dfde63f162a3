"""
The shared store: one PostgreSQL database for every blissnode process.

Same stores, same migrations, same semantics as the SQLite file
(:mod:`blissnode.store.sqlite`); what differs is in
:mod:`blissnode.store.dialects`.  Two layers again:

* :class:`PostgreSQLDatabase`: blocking, over a psycopg 3
  :class:`~psycopg_pool.ConnectionPool`; thread-safe, so the synchronous
  stores run on it from several threads at once (and ``blissnode user`` /
  ``blissnode db`` from the command line).
* :class:`PostgreSQLStoreService`: a Twisted thread pool of
  :data:`DEFAULT_THREADS` threads (as many as pooled connections) on which
  every call runs, plus the hash pool; the reactor thread never waits for
  the network.

Every call is one transaction, as with SQLite.  Write transactions take the
advisory locks described in :mod:`blissnode.store.dialects` (a shared
database lock and one lock per account they name), read-only ones run as
``REPEATABLE READ READ ONLY`` snapshots and take none.  Any psycopg error
becomes :class:`~blissnode.store.errors.DatabaseError` (after the
rollback), so callers see the same failures as with SQLite; a broken
connection is dropped by the pool, which connects again for the next call.
"""

import contextlib
import threading

from twisted.logger import Logger

from blissnode.store.dialects import (
    ADVISORY_NAMESPACE,
    DATABASE_LOCK,
    POSTGRESQL,
    qmark_to_pyformat,
)
from blissnode.store.errors import DatabaseError, StoreError
from blissnode.store.migrations import MIGRATIONS, migrate, schema_version
from blissnode.store.service import StoreServiceBase

__all__ = ["DEFAULT_THREADS", "PostgreSQLDatabase", "PostgreSQLStoreService", "redact_url"]

log = Logger()

#: Database threads (and pooled connections) of one server process.
DEFAULT_THREADS = 4

#: Seconds to wait for a pooled connection (the server is down, or every
#: connection is busy) and to connect, before a call fails with DatabaseError.
POOL_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5


def _psycopg():
    try:
        import psycopg
        import psycopg_pool
    except ImportError as e:  # pragma: no cover - install_requires has both
        raise DatabaseError("PostgreSQL needs psycopg 3 and psycopg-pool (%s)" % (e,))
    return psycopg, psycopg_pool


def redact_url(url):
    """``url`` with any password replaced by ``***``, for log lines and errors."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    userinfo, _, host = rest.partition("@")
    user, colon, _password = userinfo.partition(":")
    return "%s://%s%s@%s" % (scheme, user, ":***" if colon else "", host)


class _Cursor:
    """A psycopg cursor that takes the stores' ``?`` parameters, like sqlite3's."""

    def __init__(self, cursor):
        self._cursor = cursor

    def execute(self, sql, parameters=()):
        self._cursor.execute(qmark_to_pyformat(sql), tuple(parameters))
        return self

    def executemany(self, sql, seq):
        self._cursor.executemany(qmark_to_pyformat(sql), [tuple(p) for p in seq])
        return self

    def fetchone(self):
        return self._cursor.fetchone()

    def fetchall(self):
        return self._cursor.fetchall()

    @property
    def rowcount(self):
        return self._cursor.rowcount

    @property
    def raw(self):
        """The psycopg cursor (for COPY, blissnode.store.copy)."""
        return self._cursor


class PostgreSQLDatabase:
    """A pool of connections to one PostgreSQL database, migrated to the current schema.

    :param url: a libpq connection URL or string (``postgresql://user@host/db``).
    :param migrations: the migration list (tests pass their own).
    :param forbid_thread: a thread ident (the reactor's) on which any use
        raises :class:`StoreError`, as :class:`~blissnode.store.sqlite.SQLiteDatabase`.
    :param size: connections kept (at most).
    :param migrate_on_open: run the pending migrations now (``blissnode db
        copy`` opens the source this way, and the target too).
    """

    dialect = POSTGRESQL

    def __init__(self, url, migrations=MIGRATIONS, forbid_thread=None, size=DEFAULT_THREADS,
                 timeout=POOL_TIMEOUT, migrate_on_open=True):
        self.url = url
        self.description = redact_url(url)
        self._forbid_thread = forbid_thread
        self._check_thread()
        psycopg, psycopg_pool = _psycopg()
        self._errors = psycopg.Error
        self._pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=size, open=False, timeout=timeout,
            name="blissnode", check=psycopg_pool.ConnectionPool.check_connection,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT,
                    "application_name": "blissnode"})
        self._closed = False
        try:
            try:
                self._pool.open(wait=True, timeout=timeout)
            except (psycopg_pool.PoolTimeout, self._errors) as e:
                raise DatabaseError("cannot connect to %s: %s"
                                    % (self.description, _first_line(e))) from e
            if migrate_on_open:
                migrate(self, migrations)
        except BaseException:
            self._pool.close()
            raise

    def _check_thread(self):
        if self._forbid_thread is not None and threading.get_ident() == self._forbid_thread:
            raise StoreError("blocking database call on a forbidden (reactor) thread")

    @contextlib.contextmanager
    def _connection(self):
        self._check_thread()
        if self._closed:
            raise StoreError("the database is closed")
        try:
            with self._pool.connection() as conn:
                yield conn
        except self._errors as e:
            raise DatabaseError(_first_line(e)) from e
        except Exception as e:
            if type(e).__name__ == "PoolTimeout":
                raise DatabaseError("no connection to %s: %s"
                                    % (self.description, _first_line(e))) from e
            raise

    @contextlib.contextmanager
    def transaction(self, readonly=False, accounts=(), exclusive=False):
        """A transaction: yields a cursor taking ``?`` parameters; commits at
        the end, rolls back on any exception (see the module docstring for
        the locks).  ``accounts``: the validated names whose rows it
        changes; ``exclusive``: hold the whole database (deleting an
        account, migrating)."""
        with self._connection() as conn:
            cursor = _Cursor(conn.cursor())
            try:
                if readonly:
                    cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                else:
                    cursor.execute("BEGIN")
                    lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
                    cursor.execute("SELECT %s(?, ?)" % (lock,), (ADVISORY_NAMESPACE, DATABASE_LOCK))
                    for name in sorted(set(accounts)):
                        # Another namespace than the database lock; two names
                        # with one hash only serialise a little more.
                        cursor.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))",
                                       (ADVISORY_NAMESPACE + 1, name))
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                if not conn.closed:
                    try:
                        conn.execute("ROLLBACK")
                    except self._errors:
                        pass  # the connection is broken; the pool drops it
                raise
            finally:
                cursor.raw.close()

    def read(self, sql, parameters=()):
        """Run one SELECT in its own (implicit) transaction; return all rows."""
        with self._connection() as conn:
            with conn.cursor() as cursor:
                cursor.execute(qmark_to_pyformat(sql), tuple(parameters))
                return cursor.fetchall()

    def schema_version(self):
        with self.transaction(readonly=True) as cursor:
            return schema_version(cursor, self.dialect)

    def close(self):
        self._check_thread()
        if not self._closed:
            self._closed = True
            self._pool.close()


def _first_line(error):
    return (str(error).strip() or type(error).__name__).splitlines()[0]


class PostgreSQLStoreService(StoreServiceBase):
    """Runs the stores on a PostgreSQL database (see :class:`StoreServiceBase`).

    :param url: the database URL (``postgresql://...``).
    :param threads: database threads, each with its pooled connection.
    :param timeout: seconds a call waits for a connection before it fails.
    """

    threads = DEFAULT_THREADS

    def __init__(self, url, threads=None, timeout=POOL_TIMEOUT, **kwargs):
        self.url = url
        self._timeout = timeout
        if threads is not None:
            self.threads = threads
        StoreServiceBase.__init__(self, **kwargs)

    def describe(self):
        return redact_url(self.url)

    def open_database(self):
        return PostgreSQLDatabase(self.url, migrations=self._migrations,
                                  forbid_thread=self._reactor_thread, size=self.threads,
                                  timeout=self._timeout)
