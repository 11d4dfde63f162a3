"""
The embedded default store: one SQLite file in the data directory.

Two layers:

* :class:`SQLiteDatabase` and :class:`SyncAccountStore` are plain, blocking
  Python over :mod:`sqlite3`.  The ``blissnode user`` command uses them
  directly (no reactor), and they are what runs on the store thread.
* :class:`StoreService` owns one dedicated thread (a one-thread
  :class:`~twisted.python.threadpool.ThreadPool`) on which the database is
  opened and every call runs, and :class:`SQLiteAccountStore` is the
  :class:`~blissnode.store.interfaces.IAccountStore` that hands each call to
  that thread and returns a Deferred.  One thread means calls run one at a
  time in the order they were made, with no locking between them, and the
  reactor thread never touches the file.

The file is opened in WAL mode (readers do not block the writer, so
``blissnode user`` can run while the server does), with foreign keys on and a
busy timeout so a second process waits rather than fails.  Every change runs
in one transaction; an exception rolls it back.
"""

import contextlib
import os
import sqlite3
import threading
import time

from twisted.application import service
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from blissnode.store.account import Account, from_unix
from blissnode.store.contacts import SQLiteContactStore, SyncContactStore
from blissnode.store.errors import (
    AccountExists,
    DatabaseError,
    InvalidField,
    InvalidName,
    NoSuchAccount,
    StoreError,
    UnknownAccount,
    WrongCredential,
)
from blissnode.store.hashing import (
    DEFAULT_PARAMS,
    CredentialHash,
    ScryptParams,
    dummy_hash,
    hash_credential,
    verify_credential,
)
from blissnode.store.interfaces import IAccountSearch, IAccountStore
from blissnode.store.messages import SQLiteMessageStore, SyncMessageStore
from blissnode.store.migrations import MIGRATIONS, migrate, schema_version
from blissnode.store.names import validate_skype_name
from blissnode.store.onthread import OnStoreThread
from blissnode.store.search import search_accounts

log = Logger()

#: The database file's name inside the data directory.
DATABASE_FILENAME = "blissnode.sqlite3"

#: Seconds a connection waits for another process's write lock.
BUSY_TIMEOUT = 10.0

#: Longest e-mail address (RFC 5321 path limit) and full name accepted.
MAX_EMAIL_LENGTH = 254
MAX_FULL_NAME_LENGTH = 200


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

    @contextlib.contextmanager
    def transaction(self):
        """A write transaction: yields a cursor; commits at the end, rolls back on any exception.

        ``BEGIN IMMEDIATE`` takes the write lock at the start, so a
        read-then-write (a duplicate check, a migration) cannot race another
        process.  Transactions do not nest.  A :mod:`sqlite3` error that
        leaves the block becomes :class:`DatabaseError` (after the rollback).
        """
        self._check_thread()
        with self._lock:
            if self._in_transaction:
                raise StoreError("transactions do not nest")
            if self._conn is None:
                raise StoreError("the database is closed")
            cursor = self._conn.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
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
        with self.transaction() as cursor:
            return schema_version(cursor)

    def journal_mode(self):
        return self.read("PRAGMA journal_mode")[0][0]

    def close(self):
        self._check_thread()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_ACCOUNT_COLUMNS = ("id, name, created_at, email, full_name, credential_changed_at, "
                    "kdf, kdf_n, kdf_r, kdf_p, salt, credential_hash")


def _account_from_row(row):
    _id, name, created, email, full_name, changed, kdf, n, r, p = row[:10]
    return Account(name=name, created=from_unix(created), email=email, full_name=full_name,
                   credential_changed=from_unix(changed),
                   kdf="%s n=%d r=%d p=%d" % (kdf, n, r, p))


def _hash_from_row(row):
    kdf, n, r, p, salt, digest = row[6:12]
    return CredentialHash(params=ScryptParams(n=n, r=r, p=p), salt=bytes(salt),
                          digest=bytes(digest), kdf=kdf)


def _text_field(label, value, limit):
    """``None`` for absent/empty, else the text checked for type, length and control characters."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidField("%s must be text" % (label,))
    if len(value) > limit:
        raise InvalidField("%s is longer than %d characters" % (label, limit))
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in value):
        raise InvalidField("%s must not contain control characters or line breaks" % (label,))
    return value


class SyncAccountStore:
    """The accounts table, synchronously: the methods of :class:`IAccountStore`, without Deferreds.

    :param database: an open :class:`SQLiteDatabase`.
    :param params: scrypt parameters for new hashes; rows hashed with other
        parameters are re-hashed with these at their next successful check.
    :param clock: returns the current Unix time (tests pass a fixed one).
    """

    def __init__(self, database, params=DEFAULT_PARAMS, clock=time.time):
        self._db = database
        self.params = params
        self._clock = clock
        self._dummy = dummy_hash(params)

    def _row(self, name):
        rows = self._db.read("SELECT %s FROM accounts WHERE name = ?" % (_ACCOUNT_COLUMNS,),
                             (name,))
        return rows[0] if rows else None

    def create_account(self, name, credential16, email=None, full_name=None):
        name = validate_skype_name(name)
        email = _text_field("the e-mail address", email, MAX_EMAIL_LENGTH)
        full_name = _text_field("the full name", full_name, MAX_FULL_NAME_LENGTH)
        stored = hash_credential(credential16, self.params)  # slow: outside the write lock
        now = int(self._clock())
        with self._db.transaction() as cursor:
            if cursor.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise AccountExists("the Skype name %r is already taken" % (name,))
            try:
                cursor.execute(
                    "INSERT INTO accounts (name, email, full_name, created_at, kdf, kdf_n, "
                    "kdf_r, kdf_p, salt, credential_hash, credential_changed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, email, full_name, now, stored.kdf, stored.params.n, stored.params.r,
                     stored.params.p, stored.salt, stored.digest, now))
            except sqlite3.IntegrityError as e:
                if "accounts.name" in str(e):
                    raise AccountExists("the Skype name %r is already taken" % (name,))
                raise
        return self.get_account(name)

    def get_account(self, name):
        row = self._row(validate_skype_name(name))
        return None if row is None else _account_from_row(row)

    def check_credential(self, name, credential16):
        try:
            name = validate_skype_name(name)
        except InvalidName:
            verify_credential(self._dummy, credential16)
            raise UnknownAccount("no such account")
        row = self._row(name)
        if row is None:
            verify_credential(self._dummy, credential16)
            raise UnknownAccount("no such account: %r" % (name,))
        stored = _hash_from_row(row)
        if not verify_credential(stored, credential16):
            raise WrongCredential("wrong credential for %r" % (name,))
        if stored.params != self.params:
            try:
                self._rehash(row[0], stored, credential16)
            except DatabaseError:
                # The login is right; upgrading the hash can wait for the next one.
                log.failure("could not re-hash the credential of {name}", name=name)
        return _account_from_row(row)

    def _rehash(self, account_id, old, credential16):
        """Re-hash with the current parameters; only if nobody changed the row meanwhile."""
        new = hash_credential(credential16, self.params)
        with self._db.transaction() as cursor:
            cursor.execute(
                "UPDATE accounts SET kdf = ?, kdf_n = ?, kdf_r = ?, kdf_p = ?, salt = ?, "
                "credential_hash = ? WHERE id = ? AND credential_hash = ?",
                (new.kdf, new.params.n, new.params.r, new.params.p, new.salt, new.digest,
                 account_id, old.digest))

    def set_credential(self, name, credential16):
        name = validate_skype_name(name)
        new = hash_credential(credential16, self.params)
        now = int(self._clock())
        with self._db.transaction() as cursor:
            cursor.execute(
                "UPDATE accounts SET kdf = ?, kdf_n = ?, kdf_r = ?, kdf_p = ?, salt = ?, "
                "credential_hash = ?, credential_changed_at = ? WHERE name = ?",
                (new.kdf, new.params.n, new.params.r, new.params.p, new.salt, new.digest,
                 now, name))
            if cursor.rowcount != 1:
                raise NoSuchAccount("no such account: %r" % (name,))
        return self.get_account(name)

    def delete_account(self, name):
        name = validate_skype_name(name)
        with self._db.transaction() as cursor:
            cursor.execute("DELETE FROM accounts WHERE name = ?", (name,))
            if cursor.rowcount != 1:
                raise NoSuchAccount("no such account: %r" % (name,))

    def list_accounts(self):
        rows = self._db.read("SELECT %s FROM accounts ORDER BY name" % (_ACCOUNT_COLUMNS,))
        return [_account_from_row(row) for row in rows]

    def search_accounts(self, text, mode="prefix", limit=20):
        """Directory search (:class:`IAccountSearch`, :mod:`blissnode.store.search`)."""
        return search_accounts(self._db, text, mode, limit)


class _Opened:
    """What lives on the store thread once the database is open."""

    def __init__(self, database, accounts, contacts=None, messages=None):
        self.database = database
        self.accounts = accounts
        self.contacts = contacts
        self.messages = messages


class StoreService(service.Service):
    """Runs the SQLite store on its own thread; start it before use, stop it to close the file.

    ``accounts`` is the :class:`IAccountStore` to hand to the login server.
    Calls made before :meth:`startService` wait in the queue.  The database
    is opened (created, migrated) by the first job on the thread;
    :attr:`ready` fires when that is done.  If opening fails, the error is
    logged, :attr:`ready` fires with ``None`` and :attr:`open_error` holds
    the exception; with ``fatal=True`` (what the twistd plugin wants: a
    server without its database must not pretend to run) the reactor is
    stopped as well.

    :param path: the database file (see :func:`database_path`).
    """

    name = "store"

    def __init__(self, path, reactor=None, params=DEFAULT_PARAMS, migrations=MIGRATIONS,
                 fatal=False, contact_limits=None, message_limits=None):
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self.path = os.fspath(path)
        self._params = params
        self._migrations = migrations
        self._fatal = fatal
        # The reactor is driven by the thread that builds the service; the
        # database refuses to be used from it.
        self._reactor_thread = threading.get_ident()
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="blissnode-store")
        self._opened = None  # touched only on the store thread
        self.ready = None
        self.open_error = None
        self.accounts = SQLiteAccountStore(self)
        # Contacts and offline messages share the thread and the file
        # (blissnode.store.contacts, blissnode.store.messages).
        self._contact_limits = contact_limits
        self._message_limits = message_limits
        self.contacts = SQLiteContactStore(self)
        self.messages = SQLiteMessageStore(self)

    def run(self, function, *args, **kwargs):
        """Run ``function(opened, *args, **kwargs)`` on the store thread; return a Deferred."""
        return deferToThreadPool(self._reactor, self._pool, self._in_thread, function, args, kwargs)

    def _in_thread(self, function, args, kwargs):
        return function(self._open(), *args, **kwargs)

    def _open(self):
        if self._opened is None:
            database = SQLiteDatabase(self.path, migrations=self._migrations,
                                      forbid_thread=self._reactor_thread)
            self._opened = _Opened(
                database, SyncAccountStore(database, self._params),
                SyncContactStore(database, self._contact_limits, self._message_limits),
                SyncMessageStore(database, self._message_limits))
        return self._opened

    def startService(self):
        service.Service.startService(self)
        self._pool.start()
        self.ready = self.run(lambda opened: None)
        self.ready.addCallbacks(self._opened_ok, self._open_failed)

    def _opened_ok(self, _):
        log.info("account database ready: {path}", path=self.path)

    def _open_failed(self, failure):
        self.open_error = failure.value
        log.failure("cannot open the database {path}", failure, path=self.path)
        if self._fatal:
            self._reactor.stop()

    def stopService(self):
        """Close the database on its thread, then stop the thread (twistd waits for both)."""
        service.Service.stopService(self)
        d = deferToThreadPool(self._reactor, self._pool, self._close_in_thread)

        def stop_pool(result):
            self._pool.stop()
            return result
        return d.addBoth(stop_pool)

    def _close_in_thread(self):
        if self._opened is not None:
            self._opened.database.close()
            self._opened = None


@implementer(IAccountStore, IAccountSearch)
class SQLiteAccountStore(OnStoreThread):
    """:class:`IAccountStore` over SQLite: every call runs on the :class:`StoreService` thread."""

    _part = "accounts"

    def create_account(self, name, credential16, email=None, full_name=None):
        return self._run("create_account", name, credential16, email=email, full_name=full_name)

    def get_account(self, name):
        return self._run("get_account", name)

    def check_credential(self, name, credential16):
        return self._run("check_credential", name, credential16)

    def set_credential(self, name, credential16):
        return self._run("set_credential", name, credential16)

    def delete_account(self, name):
        return self._run("delete_account", name)

    def list_accounts(self):
        return self._run("list_accounts")

    def search_accounts(self, text, mode="prefix", limit=20):
        return self._run("search_accounts", text, mode=mode, limit=limit)
