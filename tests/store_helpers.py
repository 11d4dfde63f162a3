"""Shared set-up of the store tests: real databases (SQLite files, a PostgreSQL
server), no mocks.

:class:`StoreTestCase` runs on SQLite; mixing :class:`PostgreSQLEngine` in
front of a test class runs the same tests on PostgreSQL (a fresh schema per
database, tests/services.py)::

    class PostgreSQLAuthorizationTests(PostgreSQLEngine, AuthorizationTests):
        pass
"""

import os

from twisted.trial.unittest import TestCase

from blissnode.store.contacts import SyncContactStore
from blissnode.store.hashing import ScryptParams, hash_credential
from blissnode.store.messages import SyncMessageStore
from blissnode.store.sqlite import SQLiteDatabase, StoreService, SyncAccountStore, database_path

#: Cheap scrypt: these tests create many accounts.
FAST = ScryptParams(n=2 ** 4, r=8, p=1)
NOW = 1_700_000_000

ALICE, BOB, CAROL, DAVE = "alice123", "bob12345", "carol123", "dave1234"


class SQLiteEngine:
    """Databases are SQLite files in the test's temporary directory."""

    engine = "sqlite"

    def reopen_fresh(self):
        return None  # a new file costs nothing

    def make_path(self):
        """Where a new, empty database will be (a file path)."""
        directory = self.mktemp()
        os.makedirs(directory)
        return database_path(directory)

    def open(self, path=None, **kwargs):
        db = SQLiteDatabase(path or self.make_path(), **kwargs)
        self.addCleanup(db.close)
        return db

    def make_service(self, path=None, **kwargs):
        """A store service over a new database (not started)."""
        kwargs.setdefault("params", FAST)
        return StoreService(path or self.make_path(), **kwargs)

    def force_failure(self, db, timing, table, condition=None, message="forced"):
        """Make ``timing`` (``"BEFORE INSERT"``...) on ``table`` fail (where
        ``condition`` holds) until :meth:`allow` is called."""
        when = " WHEN %s" % (condition,) if condition else ""
        with db.transaction() as cursor:
            cursor.execute("CREATE TEMP TRIGGER boom %s ON %s%s BEGIN SELECT RAISE(ABORT, '%s'); END"
                           % (timing, table, when, message))
        self.addCleanup(lambda: self.allow(db))

    def allow(self, db):
        with db.transaction() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS temp.boom")


class PostgreSQLEngine:
    """Databases are new schemas of the test PostgreSQL server."""

    engine = "postgresql"

    def make_path(self):
        """Where a new, empty database will be (a URL)."""
        from tests.services import postgresql_schema_url
        return postgresql_schema_url(self)

    def open(self, path=None, **kwargs):
        from blissnode.store.postgresql import PostgreSQLDatabase
        kwargs.pop("busy_timeout", None)
        db = PostgreSQLDatabase(path or self.make_path(), size=2, **kwargs)
        self.addCleanup(db.close)
        return db

    def reopen_fresh(self):
        """The database of this test's previous :meth:`StoreTestCase.fresh`, emptied
        (a new schema per hypothesis example would cost a migration each), or ``None``."""
        db = getattr(self, "_fresh_db", None)
        if db is not None:
            with db.transaction(exclusive=True) as cursor:
                cursor.execute("TRUNCATE accounts, contact_lists, contacts, message_queues, "
                               "offline_messages RESTART IDENTITY CASCADE")
        return db

    def make_service(self, path=None, **kwargs):
        from blissnode.store.postgresql import PostgreSQLStoreService
        kwargs.setdefault("params", FAST)
        return PostgreSQLStoreService(path or self.make_path(), **kwargs)

    def force_failure(self, db, timing, table, condition=None, message="forced"):
        when = " WHEN (%s)" % (condition,) if condition else ""
        with db.transaction(exclusive=True) as cursor:
            cursor.execute("CREATE OR REPLACE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql "
                           "AS $$ BEGIN RAISE EXCEPTION '%s'; END $$" % (message,))
            cursor.execute("CREATE TRIGGER boom %s ON %s FOR EACH ROW%s EXECUTE FUNCTION boom()"
                           % (timing, table, when))
        self.addCleanup(lambda: self.allow(db))

    def allow(self, db):
        with db.transaction(exclusive=True) as cursor:
            for table in ("accounts", "contacts", "contact_lists", "offline_messages",
                          "message_queues"):
                cursor.execute("DROP TRIGGER IF EXISTS boom ON %s" % (table,))


class StoreTestCase(SQLiteEngine, TestCase):
    """A fresh database per test (or per :meth:`fresh` call)."""

    def fresh(self, names=(ALICE, BOB, CAROL), contact_limits=None, message_limits=None,
              random_handle=None, path=None):
        """``(db, accounts, contacts, messages)`` over a new database holding ``names``."""
        db = self.reopen_fresh() if path is None else None
        if db is None:
            db = self._fresh_db = self.open(path)
        accounts = SyncAccountStore(db, FAST, clock=lambda: NOW)
        for name in names:
            accounts.create_account(name, bytes(16))
        contacts = SyncContactStore(db, contact_limits, message_limits, clock=lambda: NOW,
                                    random_handle=random_handle)
        messages = SyncMessageStore(db, message_limits, clock=lambda: NOW)
        return db, accounts, contacts, messages

    def start(self, **kwargs):
        """A started store service over a new database (stopped at clean-up)."""
        store = self.make_service(**kwargs)
        store.startService()
        self.addCleanup(lambda: store.running and store.stopService())
        return store

    @staticmethod
    def table_counts(db):
        """Row counts of every table the contact and message stores write."""
        return {table: db.read("SELECT count(*) FROM %s" % (table,))[0][0]
                for table in ("contacts", "contact_lists", "offline_messages", "message_queues")}

    @staticmethod
    def snapshot(db):
        """Every row the contact and message stores wrote, for "nothing changed" checks."""
        return {table: db.read("SELECT * FROM %s ORDER BY 1" % (table,))
                for table in ("contacts", "contact_lists", "offline_messages", "message_queues")}

    @staticmethod
    def states(contacts, owner):
        return {c.name: c.state for c in contacts.list_contacts(owner)}


def insert_old_account(db, name, credential16=bytes(16), email=None, full_name=None):
    """Insert an account with version 1's columns only (a database at an old schema)."""
    stored = hash_credential(credential16, FAST)
    with db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO accounts (name, email, full_name, created_at, kdf, kdf_n, kdf_r, "
            "kdf_p, salt, credential_hash, credential_changed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, email, full_name, NOW, stored.kdf, stored.params.n, stored.params.r,
             stored.params.p, stored.salt, stored.digest, NOW))
