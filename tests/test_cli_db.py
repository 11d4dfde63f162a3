"""``blissnode db migrate`` and ``blissnode db copy``, against real SQLite files
and a real PostgreSQL server."""

import io
import os
import sqlite3

from twisted.trial.unittest import TestCase

from blissnode.cli.main import main
from blissnode.store.accounts import SyncAccountStore
from blissnode.store.contacts import SyncContactStore
from blissnode.store.messages import SyncMessageStore
from blissnode.store.migrations import DATA_TABLES, MIGRATIONS
from blissnode.store.postgresql import PostgreSQLDatabase
from blissnode.store.sqlite import SQLiteDatabase, database_path
from tests.services import postgresql_schema_url
from tests.store_helpers import ALICE, BOB, CAROL, FAST, NOW, insert_old_account


class _CLI(TestCase):
    def setUp(self):
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(self.base)
        self.data_dir = os.path.join(self.base, "data")

    def run_cli(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        status = main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err)
        return status, out.getvalue(), err.getvalue()

    def assertFails(self, result, *words):
        status, out, err = result
        self.assertEqual(status, 1, (out, err))
        self.assertEqual(err.count("\n"), 1, err)
        for word in words:
            self.assertIn(word, err)

    def pg(self, url, size=1):
        db = PostgreSQLDatabase(url, size=size)
        self.addCleanup(db.close)
        return db


class MigrateTests(_CLI):
    def test_sqlite_default_file(self):
        status, out, err = self.run_cli("db", "migrate", "--data-dir", self.data_dir)
        self.assertEqual((status, err), (0, ""))
        path = database_path(self.data_dir)
        self.assertEqual(out, "%s migrated from schema version 0 to %d\n" % (path, len(MIGRATIONS)))
        status, out, _ = self.run_cli("db", "migrate", "sqlite:", "--data-dir", self.data_dir)
        self.assertEqual(out, "%s is at schema version %d (up to date)\n" % (path, len(MIGRATIONS)))

    def test_old_sqlite_file(self):
        path = os.path.join(self.base, "old.sqlite3")
        old = SQLiteDatabase(path, migrations=MIGRATIONS[:1])
        insert_old_account(old, ALICE)
        old.close()
        status, out, err = self.run_cli("db", "migrate", "sqlite://" + path)
        self.assertEqual((status, err), (0, ""))
        self.assertIn("migrated from schema version 1 to %d" % (len(MIGRATIONS),), out)
        db = SQLiteDatabase(path)
        self.addCleanup(db.close)
        self.assertFalse(SyncAccountStore(db, FAST).get_account(ALICE).suspended)

    def test_postgresql(self):
        url = postgresql_schema_url(self)
        status, out, err = self.run_cli("db", "migrate", url)
        self.assertEqual((status, err), (0, ""))
        self.assertIn("migrated from schema version 0 to %d" % (len(MIGRATIONS),), out)
        self.assertIn("up to date", self.run_cli("db", "migrate", url)[1])

    def test_newer_schema_refused(self):
        url = postgresql_schema_url(self)
        db = self.pg(url)
        with db.transaction() as cursor:
            cursor.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
        self.assertFails(self.run_cli("db", "migrate", url), "newer blissnode")

    def test_bad_urls(self):
        self.assertFails(self.run_cli("db", "migrate", "mysql://x"), "unknown database")
        self.assertFails(self.run_cli("db", "migrate", "postgresql://nobody@127.0.0.1:1/x"),
                         "cannot connect")


class CopyTests(_CLI):
    def community(self, path=None):
        """An SQLite file with three users, a contact list and messages."""
        path = path or os.path.join(self.base, "community.sqlite3")
        db = SQLiteDatabase(path)
        self.addCleanup(db.close)
        accounts = SyncAccountStore(db, FAST, clock=lambda: NOW)
        for name in (ALICE, BOB, CAROL):
            accounts.create_account(name, name.encode()[:8] * 2, full_name=name.title())
        accounts.suspend_account(CAROL, "spam")
        contacts = SyncContactStore(db, clock=lambda: NOW)
        contacts.request_authorization(ALICE, BOB, "hi", b"\x00cert")
        contacts.accept_authorization(BOB, ALICE, b"\x01cert")
        contacts.request_authorization(CAROL, ALICE, "me too")
        contacts.remove_contact(ALICE, CAROL)
        messages = SyncMessageStore(db, clock=lambda: NOW)
        for i in range(3):
            messages.store_message(BOB, ALICE, "message", bytes([0, 255, i]))
        messages.fetch(BOB, limit=1)
        return path, db

    @staticmethod
    def rows(db):
        return {t: [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                    for row in db.read("SELECT * FROM %s ORDER BY 1" % (t,))]
                for t in DATA_TABLES}

    def test_copy_everything(self):
        path, source = self.community()
        url = postgresql_schema_url(self)
        status, out, err = self.run_cli("db", "copy", "sqlite://" + path, url)
        self.assertEqual((status, err), (0, ""), out)
        self.assertIn("3 accounts", out)
        self.assertIn("verified", out)
        target = self.pg(url, size=2)
        self.assertEqual(self.rows(target), self.rows(source))
        accounts = SyncAccountStore(target, FAST)
        # The stored hashes moved as they were: the same credentials sign in.
        self.assertEqual(accounts.check_credential(ALICE, ALICE.encode()[:8] * 2).name, ALICE)
        self.assertTrue(accounts.get_account(CAROL).suspended)
        contacts = SyncContactStore(target)
        self.assertEqual(contacts.watchers(ALICE), [BOB])
        self.assertEqual(contacts.get_contact(ALICE, BOB).certificate, b"\x01cert")
        self.assertEqual([m.body for m in SyncMessageStore(target).fetch(BOB)],
                         [bytes([0, 255, i]) for i in range(3)])
        # New rows get new ids (the identity sequences moved past the copied ones).
        accounts.create_account("dave1234", bytes(16))
        contacts.request_authorization("dave1234", ALICE)
        SyncMessageStore(target).store_message(ALICE, BOB, "message", b"x")
        # The source is untouched.
        self.assertEqual(len(source.read("SELECT * FROM accounts")), 3)

    def test_non_empty_target_refused_unless_replace(self):
        path, _ = self.community()
        url = postgresql_schema_url(self)
        SyncAccountStore(self.pg(url), FAST).create_account("other123", bytes(16))
        self.assertFails(self.run_cli("db", "copy", "sqlite://" + path, url),
                         "not empty", "1 accounts", "--replace")
        self.assertEqual(self.pg(url).read("SELECT name FROM accounts"), [("other123",)])
        status, out, err = self.run_cli("db", "copy", "sqlite://" + path, url, "--replace")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual([n for (n,) in self.pg(url).read("SELECT name FROM accounts "
                                                         "ORDER BY name")],
                         [ALICE, BOB, CAROL])

    def test_copy_while_the_server_writes(self):
        # A running server holds the file open and may be in the middle of a
        # write: the copy reads a snapshot of what was committed.
        path, source = self.community()
        writer = sqlite3.connect(path, isolation_level=None)
        self.addCleanup(writer.close)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE accounts SET full_name = 'uncommitted'")
        url = postgresql_schema_url(self)
        status, out, err = self.run_cli("db", "copy", "sqlite://" + path, url)
        writer.execute("COMMIT")
        self.assertEqual((status, err), (0, ""))
        self.assertNotIn(("uncommitted",), self.pg(url).read("SELECT full_name FROM accounts"))

    def test_old_schema_source(self):
        path = os.path.join(self.base, "old.sqlite3")
        old = SQLiteDatabase(path, migrations=MIGRATIONS[:1])
        insert_old_account(old, ALICE)
        old.close()
        url = postgresql_schema_url(self)
        self.assertEqual(self.run_cli("db", "copy", "sqlite://" + path, url)[0], 0)
        self.assertEqual(self.pg(url).read("SELECT name, suspended FROM accounts"),
                         [(ALICE, 0)])
        conn = sqlite3.connect(path)
        self.addCleanup(conn.close)
        self.assertEqual(conn.execute("SELECT max(version) FROM schema_migrations").fetchone(),
                         (1,))  # the live file was not migrated

    def test_default_source_is_the_data_dir(self):
        os.makedirs(self.data_dir)
        self.community(database_path(self.data_dir))
        url = postgresql_schema_url(self)
        status, out, err = self.run_cli("db", "copy", "sqlite:", url, "--data-dir", self.data_dir)
        self.assertEqual((status, err), (0, ""))

    def test_refusals(self):
        url = postgresql_schema_url(self)
        self.assertFails(self.run_cli("db", "copy", url, url), "copies an SQLite database")
        self.assertFails(self.run_cli("db", "copy", "sqlite://" + self.base + "/none", url),
                         "no database")
