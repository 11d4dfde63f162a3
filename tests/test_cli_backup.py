"""``blissnode backup`` and ``blissnode restore``: SQLite through the online
backup API (while writes go on), PostgreSQL through pg_dump / pg_restore."""

import io
import os
import shutil
import sqlite3
import threading

from twisted.trial.unittest import TestCase

from blissnode.cli.main import main
from blissnode.store.accounts import SyncAccountStore
from blissnode.store import backup
from blissnode.store.postgresql import PostgreSQLDatabase
from blissnode.store.snapshot import integrity_errors
from blissnode.store.sqlite import SQLiteDatabase, database_path
from tests.services import postgresql_new_database, postgresql_schema_url
from tests.store_helpers import ALICE, BOB, FAST


class _CLI(TestCase):
    def setUp(self):
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(self.base)
        self.data_dir = os.path.join(self.base, "data")
        os.makedirs(self.data_dir)
        self.path = database_path(self.data_dir)

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

    def names(self, path):
        conn = sqlite3.connect(path)
        try:
            return [n for (n,) in conn.execute("SELECT name FROM accounts ORDER BY id")]
        finally:
            conn.close()


class SQLiteBackupTests(_CLI):
    def test_backup_while_writing(self):
        db = SQLiteDatabase(self.path)
        self.addCleanup(db.close)
        accounts = SyncAccountStore(db, FAST)
        acknowledged = []
        stop = threading.Event()
        some_written = threading.Event()

        def write():
            i = 0
            while not stop.is_set() and i < 5000:
                name = "user%05d" % (i,)
                accounts.create_account(name, bytes(16))
                acknowledged.append(name)  # the commit has returned
                i += 1
                if i == 50:
                    some_written.set()
            some_written.set()
        writer = threading.Thread(target=write)
        writer.start()
        self.addCleanup(writer.join)
        self.addCleanup(stop.set)
        self.assertTrue(some_written.wait(60))
        before = list(acknowledged)
        out = os.path.join(self.base, "backup.sqlite3")
        status, text, err = self.run_cli("backup", out, "--data-dir", self.data_dir)
        stop.set()
        writer.join()
        self.assertEqual((status, err), (0, ""))
        self.assertIn("backed up", text)
        self.assertEqual(integrity_errors(out), [])
        got = self.names(out)
        # Every row acknowledged before the backup began is in it, and what is
        # in it is exactly the first rows written, in order: one instant of
        # the database, no half transaction, no gap.
        self.assertEqual(got[:len(before)], before)
        self.assertEqual(got, acknowledged[:len(got)])
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
        self.assertFalse(os.path.exists(out + ".partial"))

    def test_backup_skips_an_open_transaction(self):
        db = SQLiteDatabase(self.path)
        SyncAccountStore(db, FAST).create_account(ALICE, bytes(16))
        db.close()
        other = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.addCleanup(other.close)
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM accounts")
        out = os.path.join(self.base, "b.sqlite3")
        self.assertEqual(self.run_cli("backup", out, "--data-dir", self.data_dir)[0], 0)
        other.execute("COMMIT")
        self.assertEqual(self.names(out), [ALICE])

    def test_backup_refusals(self):
        out = os.path.join(self.base, "b.sqlite3")
        self.assertFails(self.run_cli("backup", out, "--data-dir", self.data_dir), "no database")
        SQLiteDatabase(self.path).close()
        open(out, "w").close()
        self.assertFails(self.run_cli("backup", out, "--data-dir", self.data_dir),
                         "already exists")

    def test_restore(self):
        db = SQLiteDatabase(self.path)
        accounts = SyncAccountStore(db, FAST)
        accounts.create_account(ALICE, b"a" * 16)
        db.close()
        out = os.path.join(self.base, "b.sqlite3")
        self.assertEqual(self.run_cli("backup", out, "--data-dir", self.data_dir)[0], 0)
        db = SQLiteDatabase(self.path)
        SyncAccountStore(db, FAST).create_account(BOB, bytes(16))
        db.close()
        self.assertFails(self.run_cli("restore", out, "--data-dir", self.data_dir),
                         "holds 2 accounts", "--yes")
        status, text, err = self.run_cli("restore", out, "--data-dir", self.data_dir, "--yes")
        self.assertEqual((status, err), (0, ""))
        self.assertIn("restored 1 accounts", text)
        db = SQLiteDatabase(self.path)
        self.addCleanup(db.close)
        self.assertEqual(db.journal_mode(), "wal")
        self.assertEqual(SyncAccountStore(db, FAST).check_credential(ALICE, b"a" * 16).name,
                         ALICE)
        self.assertEqual(self.names(self.path), [ALICE])

    def test_restore_into_a_new_data_dir(self):
        db = SQLiteDatabase(self.path)
        SyncAccountStore(db, FAST).create_account(ALICE, bytes(16))
        db.close()
        out = os.path.join(self.base, "b.sqlite3")
        self.run_cli("backup", out, "--data-dir", self.data_dir)
        fresh = os.path.join(self.base, "fresh")
        self.assertEqual(self.run_cli("restore", out, "--data-dir", fresh)[0], 0)
        self.assertEqual(self.names(database_path(fresh)), [ALICE])

    def test_restore_refuses_bad_backups(self):
        bad = os.path.join(self.base, "bad")
        with open(bad, "wb") as f:
            f.write(b"not a database" * 500)
        self.assertFails(self.run_cli("restore", bad, "--data-dir", self.data_dir),
                         "not a sound SQLite database")
        self.assertFails(self.run_cli("restore", bad + "x", "--data-dir", self.data_dir),
                         "no backup")
        newer = os.path.join(self.base, "newer")
        db = SQLiteDatabase(newer)
        with db.transaction() as cursor:
            cursor.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
        db.close()
        self.assertFails(self.run_cli("restore", newer, "--data-dir", self.data_dir),
                         "newer blissnode")
        self.assertFalse(os.path.exists(self.path))
        empty = os.path.join(self.base, "empty")
        sqlite3.connect(empty).close()
        self.assertFails(self.run_cli("restore", empty, "--data-dir", self.data_dir),
                         "not a blissnode database")


class PostgreSQLBackupTests(_CLI):
    def test_round_trip(self):
        url = postgresql_new_database(self)
        db = PostgreSQLDatabase(url, size=1)
        self.addCleanup(db.close)
        SyncAccountStore(db, FAST).create_account(ALICE, b"a" * 16)
        out = os.path.join(self.base, "pg.dump")
        status, text, err = self.run_cli("backup", out, "--database", url)
        self.assertEqual((status, err), (0, ""), text)
        self.assertIn("schema public", text)
        SyncAccountStore(db, FAST).create_account(BOB, bytes(16))
        self.assertFails(self.run_cli("restore", out, "--database", url), "--yes")
        status, text, err = self.run_cli("restore", out, "--database", url, "--yes")
        self.assertEqual((status, err), (0, ""), text)
        again = PostgreSQLDatabase(url, size=1)
        self.addCleanup(again.close)
        accounts = SyncAccountStore(again, FAST)
        self.assertEqual([a.name for a in accounts.list_accounts()], [ALICE])
        self.assertEqual(accounts.check_credential(ALICE, b"a" * 16).name, ALICE)
        accounts.create_account(BOB, bytes(16))  # identity and triggers came back too
        accounts.delete_account(BOB)

    def test_schema_of_the_url(self):
        url = postgresql_schema_url(self)
        PostgreSQLDatabase(url, size=1).close()
        out = os.path.join(self.base, "pg.dump")
        status, text, err = self.run_cli("backup", out, "--database", url)
        self.assertEqual((status, err), (0, ""))
        self.assertIn("schema t_", text)

    def test_without_the_tools(self):
        self.patch(shutil, "which", lambda name: None)
        url = "postgresql://someone:secret@db.example:5432/blissnode"
        out = os.path.join(self.base, "pg.dump")
        status, _, err = self.run_cli("backup", out, "--database", url)
        self.assertEqual(status, 1)
        self.assertIn("pg_dump --format=custom", err)
        self.assertNotIn("secret", err)
        status, _, err = self.run_cli("restore", out, "--database", url, "--yes")
        self.assertIn("pg_restore --clean --if-exists", err)
        self.assertIn(backup.postgresql_guidance(url, out, restore=True), err)
