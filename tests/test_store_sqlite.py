"""The SQLite account store: migrations, the sync core, and the threaded IAccountStore."""

import datetime
import hashlib
import os
import sqlite3
import stat
import threading

from twisted.internet import defer
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from blissnode.store.errors import (
    AccountExists,
    BadCredentials,
    DatabaseError,
    InvalidField,
    InvalidName,
    NoSuchAccount,
    SchemaTooNew,
    StoreError,
    UnknownAccount,
    WrongCredential,
)
from blissnode.store.accounts import Hasher
from blissnode.store.hashing import DEFAULT_PARAMS, ScryptParams
from blissnode.store.interfaces import IAccountStore
from blissnode.store.migrations import MIGRATIONS, Migration, check_migrations
from blissnode.store.sqlite import (
    DATABASE_FILENAME,
    SQLiteDatabase,
    SyncAccountStore,
)
from tests.store_helpers import PostgreSQLEngine, SQLiteEngine

FAST = ScryptParams(n=2 ** 4, r=8, p=1)
NOW = 1_700_000_000


def md5_credential(name, password):
    return hashlib.md5(name.lower().encode() + b"\nskyper\n" + password.encode()).digest()


class _Base(SQLiteEngine, TestCase):
    def accounts(self, db=None, params=FAST, now=NOW):
        return SyncAccountStore(db or self.open(), params, clock=lambda: now)


class MigrationTests(_Base):
    def tables(self, db):
        return {r[0] for r in db.read("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def test_new_database(self):
        path = self.make_path()
        self.assertFalse(os.path.exists(path))
        db = self.open(path)
        self.assertEqual(os.path.basename(path), DATABASE_FILENAME)
        self.assertEqual(db.schema_version(), len(MIGRATIONS))
        self.assertIn("accounts", self.tables(db))
        self.assertIn("schema_migrations", self.tables(db))
        applied = db.read("SELECT version, name FROM schema_migrations ORDER BY version")
        self.assertEqual(applied[0], (1, "accounts"))
        self.assertEqual([v for v, _ in applied], list(range(1, len(MIGRATIONS) + 1)))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)

    def test_wal_and_foreign_keys(self):
        db = self.open()
        self.assertEqual(db.journal_mode(), "wal")
        self.assertEqual(db.read("PRAGMA foreign_keys"), [(1,)])

    def test_reopen_is_idempotent_and_keeps_data(self):
        path = self.make_path()
        db = SQLiteDatabase(path)
        self.accounts(db).create_account("echo123", md5_credential("echo123", "pw"))
        applied = db.read("SELECT version, applied_at FROM schema_migrations")
        db.close()
        for _ in range(2):
            db = SQLiteDatabase(path)
            self.assertEqual(db.read("SELECT version, applied_at FROM schema_migrations"), applied)
            self.assertEqual([a.name for a in self.accounts(db).list_accounts()], ["echo123"])
            db.close()

    def test_newer_schema_refused(self):
        path = self.make_path()
        db = SQLiteDatabase(path)
        with db.transaction() as cursor:
            cursor.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', 0)",
                           (len(MIGRATIONS) + 1,))
        db.close()
        e = self.assertRaises(SchemaTooNew, SQLiteDatabase, path)
        self.assertIn("newer blissnode", str(e))

    def test_failed_migration_rolls_back(self):
        path = self.make_path()
        self.open(path).close()
        broken = MIGRATIONS + (Migration(len(MIGRATIONS) + 1, "broken", [
            "CREATE TABLE half (x INTEGER)",
            "INSERT INTO half VALUES (1)",
            "THIS IS NOT SQL",
        ]),)
        e = self.assertRaises(DatabaseError, SQLiteDatabase, path, migrations=broken)
        self.assertIsInstance(e.__cause__, sqlite3.OperationalError)
        db = self.open(path)
        self.assertEqual(db.schema_version(), len(MIGRATIONS))
        self.assertNotIn("half", self.tables(db))

    def test_new_migration_applied_on_open(self):
        path = self.make_path()
        self.accounts(self.open(path)).create_account("echo123", md5_credential("echo123", "p"))
        steps = [
            "CREATE TABLE notes (account_id INTEGER NOT NULL REFERENCES accounts(id) "
            "ON DELETE CASCADE, body TEXT)",
            lambda cursor: cursor.execute("INSERT INTO notes SELECT id, 'hi' FROM accounts"),
        ]
        more = MIGRATIONS + (Migration(len(MIGRATIONS) + 1, "notes", steps),)
        db = self.open(path, migrations=more)
        self.assertEqual(db.schema_version(), len(more))
        self.assertEqual(db.read("SELECT body FROM notes"), [("hi",)])
        # Foreign keys are on: deleting the account deletes what it owns.
        self.accounts(db).delete_account("echo123")
        self.assertEqual(db.read("SELECT count(*) FROM notes"), [(0,)])

    def test_migration_list_must_be_ordered(self):
        self.assertRaises(StoreError, check_migrations, [Migration(2, "x", [])])
        self.assertRaises(StoreError, check_migrations,
                          [Migration(1, "a", []), Migration(1, "b", [])])
        check_migrations(MIGRATIONS)


class TransactionTests(_Base):
    def test_exception_rolls_back(self):
        db = self.open()
        accounts = self.accounts(db)
        accounts.create_account("keeper1", md5_credential("keeper1", "p"))

        class Boom(Exception):
            pass

        def half_done():
            with db.transaction() as cursor:
                cursor.execute("DELETE FROM accounts")
                cursor.execute("UPDATE schema_migrations SET name = 'changed'")
                raise Boom()
        self.assertRaises(Boom, half_done)
        self.assertEqual([a.name for a in accounts.list_accounts()], ["keeper1"])
        self.assertEqual(db.read("SELECT name FROM schema_migrations WHERE version = 1"),
                         [("accounts",)])

    def test_constraint_failure_rolls_back_the_whole_transaction(self):
        db = self.open()
        accounts = self.accounts(db)

        def two_inserts():
            with db.transaction() as cursor:
                cursor.execute("UPDATE schema_migrations SET name = 'changed'")
                # violates the lower-case CHECK of the accounts table
                cursor.execute(
                    "INSERT INTO accounts (name, created_at, kdf, kdf_n, kdf_r, kdf_p, salt, "
                    "credential_hash, credential_changed_at) VALUES "
                    "('UPPER123', 0, 'scrypt', 16, 8, 1, zeroblob(16), zeroblob(32), 0)")
        e = self.assertRaises(DatabaseError, two_inserts)
        self.assertIsInstance(e, StoreError)
        self.assertIsInstance(e.__cause__, sqlite3.IntegrityError)
        self.assertEqual(accounts.list_accounts(), [])
        self.assertEqual(db.read("SELECT name FROM schema_migrations WHERE version = 1"),
                         [("accounts",)])

    def test_not_a_database(self):
        path = self.make_path()
        with open(path, "wb") as f:
            f.write(b"this is not an SQLite file" * 100)
        e = self.assertRaises(DatabaseError, SQLiteDatabase, path)
        self.assertIn("not a database", str(e))

    def test_busy_database(self):
        path = self.make_path()
        db = self.open(path, busy_timeout=0.05)
        other = sqlite3.connect(path, isolation_level=None)
        self.addCleanup(other.close)
        other.execute("BEGIN IMMEDIATE")
        self.assertRaises(DatabaseError, self.accounts(db).create_account, "echo123",
                          md5_credential("echo123", "pw"))
        other.execute("ROLLBACK")
        self.accounts(db).create_account("echo123", md5_credential("echo123", "pw"))

    def test_no_nesting(self):
        db = self.open()

        def nested():
            with db.transaction():
                with db.transaction():
                    pass
        self.assertRaises(StoreError, nested)
        with db.transaction() as cursor:  # still usable afterwards
            cursor.execute("SELECT 1")

    def test_closed(self):
        db = self.open()
        db.close()
        self.assertRaises(StoreError, db.read, "SELECT 1")
        db.close()  # twice is fine

    def test_forbidden_thread(self):
        path = self.make_path()
        me = threading.get_ident()
        self.assertRaises(StoreError, SQLiteDatabase, path, forbid_thread=me)
        result = []
        thread = threading.Thread(
            target=lambda: result.append(SQLiteDatabase(path, forbid_thread=me)))
        thread.start()
        thread.join()
        db = result[0]
        self.addCleanup(lambda: threading.Thread(target=db.close).start())
        self.assertRaises(StoreError, db.read, "SELECT 1")
        self.assertRaises(StoreError, db.transaction().__enter__)


class SyncAccountStoreTests(_Base):
    def test_create_and_get(self):
        accounts = self.accounts()
        created = accounts.create_account("Echo123", md5_credential("echo123", "pw"),
                                          email="echo@example.org", full_name="Echo Test")
        when = datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc)
        self.assertEqual(created.name, "echo123")
        self.assertEqual(created.created, when)
        self.assertEqual(created.credential_changed, when)
        self.assertEqual(created.email, "echo@example.org")
        self.assertEqual(created.full_name, "Echo Test")
        self.assertEqual(created.kdf, "scrypt n=16 r=8 p=1")
        self.assertEqual(accounts.get_account("echo123"), created)
        self.assertEqual(accounts.get_account("ECHO123"), created)
        self.assertIsNone(accounts.get_account("nobody123"))

    def test_default_parameters_are_stored(self):
        accounts = self.accounts(params=DEFAULT_PARAMS)
        account = accounts.create_account("echo123", md5_credential("echo123", "pw"))
        self.assertEqual(account.kdf, "scrypt n=16384 r=8 p=1")

    def test_empty_fields_are_none(self):
        account = self.accounts().create_account("echo123", md5_credential("echo123", "pw"),
                                                 email="", full_name="")
        self.assertIsNone(account.email)
        self.assertIsNone(account.full_name)

    def test_bad_fields(self):
        accounts = self.accounts()
        cred = md5_credential("echo123", "pw")
        for kwargs in [{"email": "x" * 255}, {"full_name": "x" * 201},
                       {"email": "a@b\nc"}, {"full_name": "a\x00b"}, {"email": b"a@b"}]:
            self.assertRaises(InvalidField, accounts.create_account, "echo123", cred, **kwargs)
        for bad in [b"", cred[:15], cred + b"x", "0123456789abcdef"]:
            self.assertRaises(InvalidField, accounts.create_account, "echo123", bad)
        self.assertEqual(accounts.list_accounts(), [])

    def test_invalid_names(self):
        accounts = self.accounts()
        cred = md5_credential("x", "pw")
        for method, args in [("create_account", (cred,)), ("get_account", ()),
                             ("set_credential", (cred,)), ("delete_account", ())]:
            self.assertRaises(InvalidName, getattr(accounts, method), "1bad", *args)

    def test_duplicate_refused_case_insensitively(self):
        accounts = self.accounts()
        accounts.create_account("echo123", md5_credential("echo123", "one"), email="first@x")
        for name in ["echo123", "Echo123", "ECHO123"]:
            e = self.assertRaises(AccountExists, accounts.create_account, name,
                                  md5_credential(name, "two"))
            self.assertIn("echo123", str(e))
        # the first account is untouched
        self.assertEqual(accounts.get_account("echo123").email, "first@x")
        accounts.check_credential("echo123", md5_credential("echo123", "one"))

    def test_check_credential(self):
        accounts = self.accounts()
        cred = md5_credential("echo123", "secret")
        accounts.create_account("echo123", cred)
        self.assertEqual(accounts.check_credential("echo123", cred).name, "echo123")
        self.assertEqual(accounts.check_credential("ECHO123", cred).name, "echo123")
        self.assertEqual(accounts.check_credential(b"echo123", cred).name, "echo123")

    def test_wrong_and_unknown(self):
        accounts = self.accounts()
        cred = md5_credential("echo123", "secret")
        accounts.create_account("echo123", cred)
        for name, credential, error in [
            ("echo123", md5_credential("echo123", "Secret"), WrongCredential),
            ("echo123", bytes(16), WrongCredential),
            ("echo123", cred[:15], WrongCredential),
            ("echo123", None, WrongCredential),
            ("echo1234", cred, UnknownAccount),
            ("nobody123", md5_credential("nobody123", "secret"), UnknownAccount),
            ("1invalid", cred, UnknownAccount),
            ("x" * 10000, cred, UnknownAccount),
            (None, cred, UnknownAccount),
        ]:
            e = self.assertRaises(error, accounts.check_credential, name, credential)
            self.assertIsInstance(e, BadCredentials)
            self.assertNotIn(cred.hex(), str(e))

    def test_set_credential(self):
        accounts = self.accounts()
        old, new = md5_credential("echo123", "old"), md5_credential("echo123", "new")
        accounts.create_account("echo123", old)
        later = SyncAccountStore(accounts._db, FAST, clock=lambda: NOW + 60)
        account = later.set_credential("Echo123", new)
        self.assertEqual(account.credential_changed - account.created,
                         datetime.timedelta(seconds=60))
        self.assertRaises(WrongCredential, accounts.check_credential, "echo123", old)
        accounts.check_credential("echo123", new)
        self.assertRaises(NoSuchAccount, accounts.set_credential, "nobody123", new)
        self.assertRaises(InvalidField, accounts.set_credential, "echo123", b"short")
        accounts.check_credential("echo123", new)

    def test_delete(self):
        accounts = self.accounts()
        cred = md5_credential("echo123", "pw")
        accounts.create_account("echo123", cred)
        accounts.create_account("other123", md5_credential("other123", "pw"))
        accounts.delete_account("ECHO123")
        self.assertIsNone(accounts.get_account("echo123"))
        self.assertRaises(UnknownAccount, accounts.check_credential, "echo123", cred)
        self.assertRaises(NoSuchAccount, accounts.delete_account, "echo123")
        self.assertEqual([a.name for a in accounts.list_accounts()], ["other123"])
        # the name is free again
        accounts.create_account("echo123", cred)

    def test_list_sorted(self):
        accounts = self.accounts()
        for name in ["zulu.user", "Alpha123", "mike_user", "bravo-user"]:
            accounts.create_account(name, md5_credential(name, "pw"))
        self.assertEqual([a.name for a in accounts.list_accounts()],
                         ["alpha123", "bravo-user", "mike_user", "zulu.user"])

    def test_neither_password_nor_md5_is_stored(self):
        path = self.make_path()
        db = self.open(path)
        accounts = self.accounts(db)
        password = "correct horse battery"
        cred = md5_credential("echo123", password)
        accounts.create_account("echo123", cred)
        accounts.set_credential("echo123", cred)
        rows = db.read("SELECT * FROM accounts")
        self.assertEqual(len(rows), 1)
        for value in rows[0]:
            if isinstance(value, str):
                value = value.encode()
            if isinstance(value, bytes):
                self.assertNotIn(cred, value)
                self.assertNotIn(cred.hex().encode(), value)
                self.assertNotIn(password.encode(), value)
        # nor anywhere in the files (database, WAL)
        for suffix in ["", "-wal"]:
            with open(path + suffix, "rb") as f:
                data = f.read()
            self.assertNotIn(cred, data, suffix)
            self.assertNotIn(password.encode(), data, suffix)

    def test_account_repr_has_no_secret(self):
        accounts = self.accounts()
        cred = md5_credential("echo123", "pw")
        account = accounts.create_account("echo123", cred)
        salt, digest = accounts._db.read("SELECT salt, credential_hash FROM accounts")[0]
        text = repr(account)
        for secret in [cred, salt, digest]:
            self.assertNotIn(secret.hex(), text)
            self.assertNotIn(repr(secret), text)

    def test_rehash_with_new_parameters(self):
        db = self.open()
        cred = md5_credential("echo123", "pw")
        self.accounts(db, params=FAST).create_account("echo123", cred)
        stronger = self.accounts(db, params=ScryptParams(n=2 ** 5, r=8, p=1))
        before = db.read("SELECT salt, credential_hash FROM accounts")
        self.assertRaises(WrongCredential, stronger.check_credential, "echo123", bytes(16))
        self.assertEqual(db.read("SELECT salt, credential_hash FROM accounts"), before)
        self.assertEqual(stronger.check_credential("echo123", cred).kdf, "scrypt n=16 r=8 p=1")
        self.assertEqual(stronger.get_account("echo123").kdf, "scrypt n=32 r=8 p=1")
        self.assertNotEqual(db.read("SELECT salt, credential_hash FROM accounts"), before)
        stronger.check_credential("echo123", cred)
        self.accounts(db, params=FAST).check_credential("echo123", cred)

    def test_rehash_failure_does_not_fail_the_login(self):
        path = self.make_path()
        db = self.open(path, busy_timeout=0.05)
        cred = md5_credential("echo123", "pw")
        self.accounts(db, params=FAST).create_account("echo123", cred)
        other = sqlite3.connect(path, isolation_level=None)
        self.addCleanup(other.close)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        stronger = self.accounts(db, params=ScryptParams(n=2 ** 5, r=8, p=1))
        self.assertEqual(stronger.check_credential("echo123", cred).name, "echo123")
        self.assertEqual(len(self.flushLoggedErrors(DatabaseError)), 1)
        other.execute("ROLLBACK")
        self.assertEqual(stronger.get_account("echo123").kdf, "scrypt n=16 r=8 p=1")

    def test_two_connections(self):
        path = self.make_path()
        one, two = self.accounts(self.open(path)), self.accounts(self.open(path))
        one.create_account("echo123", md5_credential("echo123", "pw"))
        self.assertEqual(two.get_account("echo123").name, "echo123")
        self.assertRaises(AccountExists, two.create_account, "echo123",
                          md5_credential("echo123", "pw"))


    def test_suspend_and_unsuspend(self):
        accounts = self.accounts()
        cred = md5_credential("echo123", "pw")
        created = accounts.create_account("echo123", cred)
        self.assertFalse(created.suspended)
        self.assertIsNone(created.suspended_at)
        later = SyncAccountStore(accounts._db, FAST, clock=lambda: NOW + 60)
        account = later.suspend_account("ECHO123", reason="spam from this account")
        self.assertTrue(account.suspended)
        self.assertEqual(account.suspension_reason, "spam from this account")
        self.assertEqual(account.suspended_at - account.created, datetime.timedelta(seconds=60))
        self.assertEqual(accounts.get_account("echo123"), account)
        # The credential still checks: refusing is the login server's decision,
        # and a wrong password learns nothing about the suspension.
        self.assertTrue(accounts.check_credential("echo123", cred).suspended)
        self.assertRaises(WrongCredential, accounts.check_credential, "echo123", bytes(16))
        # Suspending again keeps the first time and replaces the reason.
        again = SyncAccountStore(accounts._db, FAST, clock=lambda: NOW + 120).suspend_account(
            "echo123")
        self.assertEqual((again.suspended_at, again.suspension_reason),
                         (account.suspended_at, None))
        self.assertEqual([a.suspended for a in accounts.list_accounts()], [True])
        back = accounts.unsuspend_account("echo123")
        self.assertEqual((back.suspended, back.suspended_at, back.suspension_reason),
                         (False, None, None))
        self.assertEqual(accounts.unsuspend_account("echo123"), back)  # idempotent

    def test_suspend_refusals(self):
        accounts = self.accounts()
        accounts.create_account("echo123", md5_credential("echo123", "pw"))
        self.assertRaises(NoSuchAccount, accounts.suspend_account, "nobody123")
        self.assertRaises(NoSuchAccount, accounts.unsuspend_account, "nobody123")
        self.assertRaises(InvalidName, accounts.suspend_account, "1bad")
        for reason in ["x" * 501, "two\nlines", b"bytes"]:
            self.assertRaises(InvalidField, accounts.suspend_account, "echo123", reason)
        self.assertFalse(accounts.get_account("echo123").suspended)


class BlockingHasher(Hasher):
    """A Hasher whose verifications wait for :attr:`release` (at most a minute, so a
    broken test fails instead of hanging), and that records the threads it ran on."""

    def __init__(self, params=FAST):
        Hasher.__init__(self, params)
        self.release = threading.Event()
        self.threads = set()
        self._count_lock = threading.Lock()
        self.waiting = 0

    def hash(self, credential16):
        self.threads.add(threading.current_thread().name)
        return Hasher.hash(self, credential16)

    def verify(self, stored, credential16):
        self.threads.add(threading.current_thread().name)
        with self._count_lock:
            self.waiting += 1
        self.release.wait(60)
        return Hasher.verify(self, stored, credential16)


class StoreServiceTests(_Base):
    def start(self, path=None, **kwargs):
        store = self.make_service(path, **kwargs)
        store.startService()
        self.addCleanup(lambda: store.running and store.stopService())
        return store

    def test_interface(self):
        store = self.start()
        self.assertTrue(verifyObject(IAccountStore, store.accounts))

    @defer.inlineCallbacks
    def test_round_trip(self):
        store = self.start()
        accounts = store.accounts
        yield store.ready
        self.assertIsNone(store.open_error)
        cred = md5_credential("echo123", "pw")
        created = yield accounts.create_account("Echo123", cred, email="e@example.org")
        self.assertEqual(created.name, "echo123")
        self.assertEqual((yield accounts.get_account("ECHO123")), created)
        self.assertEqual((yield accounts.check_credential("echo123", cred)).name, "echo123")
        yield self.assertFailure(accounts.check_credential("echo123", bytes(16)), WrongCredential)
        yield self.assertFailure(accounts.check_credential("nobody123", cred), UnknownAccount)
        yield self.assertFailure(accounts.create_account("echo123", cred), AccountExists)
        yield self.assertFailure(accounts.get_account("1bad"), InvalidName)
        new = md5_credential("echo123", "new")
        yield accounts.set_credential("echo123", new)
        yield accounts.check_credential("echo123", new)
        self.assertEqual([a.name for a in (yield accounts.list_accounts())], ["echo123"])
        yield accounts.delete_account("echo123")
        yield self.assertFailure(accounts.delete_account("echo123"), NoSuchAccount)
        self.assertEqual((yield accounts.list_accounts()), [])

    @defer.inlineCallbacks
    def test_calls_run_off_the_reactor_thread(self):
        store = self.start()
        # The database refuses the thread that built the service (the reactor's):
        # if any call ran there, it would fail with StoreError.
        idents = yield defer.gatherResults([
            store.run(lambda opened: threading.get_ident()) for _ in range(5)])
        self.assertNotIn(threading.get_ident(), idents)
        self.assertEqual(len(set(idents)), 1)  # one dedicated thread, calls in order
        opened = yield store.run(lambda opened: opened)
        self.assertRaises(StoreError, opened.database.read, "SELECT 1")
        yield store.accounts.create_account("echo123", md5_credential("echo123", "pw"))

    @defer.inlineCallbacks
    def test_calls_before_start_wait(self):
        store = self.make_service()
        d = store.accounts.list_accounts()
        self.assertFalse(d.called)
        store.startService()
        self.addCleanup(store.stopService)
        self.assertEqual((yield d), [])

    @defer.inlineCallbacks
    def test_stop_closes(self):
        path = self.make_path()
        store = self.start(path)
        yield store.accounts.create_account("echo123", md5_credential("echo123", "pw"))
        yield store.stopService()
        self.assertFalse(store.running)
        # The file is complete and usable by another process afterwards.
        self.assertEqual([a.name for a in self.accounts(self.open(path)).list_accounts()],
                         ["echo123"])
        again = self.start(path)
        self.assertEqual(len((yield again.accounts.list_accounts())), 1)

    @defer.inlineCallbacks
    def test_open_failure(self):
        path = self.make_path()
        db = self.open(path)
        with db.transaction() as cursor:
            cursor.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
        db.close()
        store = self.start(path)
        yield store.ready
        self.assertIsInstance(store.open_error, SchemaTooNew)
        self.assertEqual(len(self.flushLoggedErrors(SchemaTooNew)), 1)
        yield self.assertFailure(store.accounts.list_accounts(), SchemaTooNew)

    @defer.inlineCallbacks
    def test_hashing_does_not_hold_the_database(self):
        hasher = BlockingHasher()
        store = self.start(hasher=hasher, hash_threads=2)
        cred = md5_credential("echo123", "pw")
        yield store.accounts.create_account("echo123", cred)
        checks = [store.accounts.check_credential("echo123", cred) for _ in range(4)]
        checks += [store.accounts.check_credential("nobody123", cred) for _ in range(2)]
        checks += [store.accounts.check_credential("echo123", bytes(16)) for _ in range(2)]
        # Every check has read its row and now waits for a hash thread (two
        # are blocked in scrypt, six queue behind them): the database is free.
        self.assertEqual((yield store.accounts.get_account("echo123")).name, "echo123")
        self.assertEqual(len((yield store.accounts.list_accounts())), 1)
        self.assertEqual((yield store.contacts.list_contacts("echo123")), [])
        self.assertFalse([d for d in checks if d.called])
        hasher.release.set()
        results = yield defer.DeferredList(checks, consumeErrors=True)
        self.assertEqual([ok for ok, _ in results], [True] * 4 + [False] * 4)
        self.assertEqual([r.type for ok, r in results if not ok],
                         [UnknownAccount] * 2 + [WrongCredential] * 2)
        self.assertEqual(hasher.waiting, 8)  # an unknown name costs one hash too
        self.assertTrue(hasher.threads)
        for name in hasher.threads:
            self.assertIn("blissnode-hash", name)

    @defer.inlineCallbacks
    def test_async_suspension_and_rehash(self):
        store = self.start(params=ScryptParams(n=2 ** 5, r=8, p=1))
        cred = md5_credential("echo123", "pw")
        yield store.accounts.create_account("echo123", cred)
        account = yield store.accounts.suspend_account("echo123", "why")
        self.assertTrue(account.suspended)
        self.assertTrue((yield store.accounts.check_credential("echo123", cred)).suspended)
        self.assertFalse((yield store.accounts.unsuspend_account("echo123")).suspended)
        yield self.assertFailure(store.accounts.suspend_account("nobody123"), NoSuchAccount)
        yield self.assertFailure(store.accounts.set_credential("echo123", b"short"),
                                 InvalidField)
        yield self.assertFailure(store.accounts.create_account("1bad", cred), InvalidName)
        # A row hashed with other parameters is re-hashed at its next login.
        opened = yield store.run(lambda opened: opened)
        old = SyncAccountStore(opened.database, FAST)
        yield store.run(lambda opened: old.set_credential("echo123", cred))
        self.assertEqual((yield store.accounts.get_account("echo123")).kdf, "scrypt n=16 r=8 p=1")
        self.assertEqual((yield store.accounts.check_credential("echo123", cred)).kdf,
                         "scrypt n=16 r=8 p=1")
        self.assertEqual((yield store.accounts.get_account("echo123")).kdf, "scrypt n=32 r=8 p=1")


# -- the same tests on PostgreSQL ----------------------------------------------------------

class PostgreSQLSyncAccountStoreTests(PostgreSQLEngine, SyncAccountStoreTests):
    def test_neither_password_nor_md5_is_stored(self):
        db = self.open()
        accounts = self.accounts(db)
        password = "correct horse battery"
        cred = md5_credential("echo123", password)
        accounts.create_account("echo123", cred)
        accounts.set_credential("echo123", cred)
        rows = db.read("SELECT * FROM accounts")
        self.assertEqual(len(rows), 1)
        for value in rows[0]:
            if isinstance(value, str):
                value = value.encode()
            if isinstance(value, bytes):
                self.assertNotIn(cred, value)
                self.assertNotIn(cred.hex().encode(), value)
                self.assertNotIn(password.encode(), value)

    def test_rehash_failure_does_not_fail_the_login(self):
        db = self.open()
        cred = md5_credential("echo123", "pw")
        self.accounts(db, params=FAST).create_account("echo123", cred)
        self.force_failure(db, "BEFORE UPDATE", "accounts")
        stronger = self.accounts(db, params=ScryptParams(n=2 ** 5, r=8, p=1))
        self.assertEqual(stronger.check_credential("echo123", cred).name, "echo123")
        self.assertEqual(len(self.flushLoggedErrors(DatabaseError)), 1)
        self.allow(db)
        self.assertEqual(stronger.get_account("echo123").kdf, "scrypt n=16 r=8 p=1")


class PostgreSQLStoreServiceTests(PostgreSQLEngine, StoreServiceTests):
    @defer.inlineCallbacks
    def test_calls_run_off_the_reactor_thread(self):
        store = self.start()
        idents = yield defer.gatherResults([
            store.run(lambda opened: threading.get_ident()) for _ in range(8)])
        self.assertNotIn(threading.get_ident(), idents)
        self.assertLessEqual(len(set(idents)), store.threads)
        opened = yield store.run(lambda opened: opened)
        self.assertRaises(StoreError, opened.database.read, "SELECT 1")
        self.assertRaises(StoreError, opened.database.transaction().__enter__)
        yield store.accounts.create_account("echo123", md5_credential("echo123", "pw"))
