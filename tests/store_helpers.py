"""Shared set-up of the contact and offline-message store tests: real SQLite files, no mocks."""

import os

from twisted.trial.unittest import TestCase

from blissnode.store.contacts import SyncContactStore
from blissnode.store.hashing import ScryptParams
from blissnode.store.messages import SyncMessageStore
from blissnode.store.sqlite import SQLiteDatabase, SyncAccountStore, database_path

#: Cheap scrypt: these tests create many accounts.
FAST = ScryptParams(n=2 ** 4, r=8, p=1)
NOW = 1_700_000_000

ALICE, BOB, CAROL, DAVE = "alice123", "bob12345", "carol123", "dave1234"


class StoreTestCase(TestCase):
    """A fresh database file per test (or per :meth:`fresh` call)."""

    def make_path(self):
        directory = self.mktemp()
        os.makedirs(directory)
        return database_path(directory)

    def open(self, path=None, **kwargs):
        db = SQLiteDatabase(path or self.make_path(), **kwargs)
        self.addCleanup(db.close)
        return db

    def fresh(self, names=(ALICE, BOB, CAROL), contact_limits=None, message_limits=None,
              random_handle=None, path=None):
        """``(db, accounts, contacts, messages)`` over a new file holding ``names``."""
        db = self.open(path)
        accounts = SyncAccountStore(db, FAST, clock=lambda: NOW)
        for name in names:
            accounts.create_account(name, bytes(16))
        contacts = SyncContactStore(db, contact_limits, message_limits, clock=lambda: NOW,
                                    random_handle=random_handle)
        messages = SyncMessageStore(db, message_limits, clock=lambda: NOW)
        return db, accounts, contacts, messages

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
