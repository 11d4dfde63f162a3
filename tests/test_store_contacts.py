"""Stored contact lists: migrations, authorisation, isolation, atomicity, limits, change numbers,
account search, the async store; hypothesis over random operation sequences."""

import itertools
import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet import defer
from zope.interface.verify import verifyObject

from blissnode.store.contacts import (
    AUTH_ACCEPTED,
    AUTH_DENIED,
    MAX_HANDLE,
    ContactLimits,
    SyncContactStore,
)
from blissnode.store.errors import (
    ContactLimit,
    ContactStateError,
    DatabaseError,
    InvalidField,
    InvalidName,
    NoSuchAccount,
    NoSuchContact,
    QuotaExceeded,
    StoreError,
)
from blissnode.store.interfaces import IAccountSearch, IAccountStore, IContactStore
from blissnode.store.messages import MessageLimits
from blissnode.store.migrations import MIGRATIONS
from blissnode.store.search import MAX_SEARCH_RESULTS, AccountMatch
from blissnode.store.sqlite import SQLiteDatabase
from tests.store_helpers import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    NOW,
    PostgreSQLEngine,
    StoreTestCase,
    insert_old_account,
)

CERT_A = b"\x00\x00\x01\x04" + b"A" * 388   # stand-ins for 0x188-byte certificates
CERT_B = b"\x00\x00\x01\x04" + b"B" * 388


class MigrationTests(StoreTestCase):
    def test_empty_database_gets_every_table(self):
        db = self.open()
        self.assertEqual(db.schema_version(), len(MIGRATIONS))
        self.assertEqual([v for (v,) in db.read("SELECT version FROM schema_migrations "
                                               "ORDER BY version")],
                         list(range(1, len(MIGRATIONS) + 1)))
        tables = {r[0] for r in db.read("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self.assertTrue({"contacts", "contact_lists", "offline_messages",
                         "message_queues"} <= tables)
        indexes = {r[0] for r in db.read("SELECT name FROM sqlite_master WHERE type = 'index'")}
        self.assertTrue({"contacts_changes", "contacts_by_contact",
                         "offline_messages_sender"} <= indexes)

    def test_from_version_1_with_accounts(self):
        path = self.make_path()
        old = SQLiteDatabase(path, migrations=MIGRATIONS[:1])
        insert_old_account(old, ALICE, email="a@example.org", full_name="Alice")
        insert_old_account(old, BOB)
        columns = ("SELECT id, name, email, full_name, created_at, kdf, kdf_n, kdf_r, kdf_p, "
                   "salt, credential_hash, credential_changed_at FROM accounts ORDER BY id")
        before = old.read(columns)
        self.assertEqual(old.schema_version(), 1)
        old.close()
        _, accounts, contacts, messages = self.fresh(names=(), path=path)
        db = self.open(path)
        self.assertEqual(db.schema_version(), len(MIGRATIONS))
        self.assertEqual(db.read(columns), before)
        self.assertEqual(accounts.check_credential(ALICE, bytes(16)).full_name, "Alice")
        contacts.request_authorization(ALICE, BOB, "hi")
        self.assertEqual(self.states(contacts, BOB), {ALICE: "pending_in"})
        self.assertEqual([m.kind for m in messages.fetch(BOB)], ["auth_request"])

    def test_failed_migration_keeps_version_1(self):
        path = self.make_path()
        old = SQLiteDatabase(path, migrations=MIGRATIONS[:1])
        insert_old_account(old, ALICE)
        # Something in the way of migration 2: it must fail as a whole.
        with old.transaction() as cursor:
            cursor.execute("CREATE TABLE contact_lists (x INTEGER)")
        old.close()
        self.assertRaises(DatabaseError, SQLiteDatabase, path)
        db = self.open(path, migrations=MIGRATIONS[:1])
        self.assertEqual(db.schema_version(), 1)
        self.assertEqual(db.read("SELECT name FROM sqlite_master WHERE name = 'contacts'"), [])
        self.assertEqual(db.read("SELECT name FROM accounts"), [(ALICE,)])


class AuthorizationTests(StoreTestCase):
    def test_request_creates_both_sides_and_a_message(self):
        db, _, contacts, messages = self.fresh()
        entry = contacts.request_authorization(ALICE, "Bob12345", "hello bob", CERT_A)
        self.assertEqual((entry.name, entry.state, entry.request_text, entry.key),
                         (BOB, "pending_out", "hello bob", "u/bob12345"))
        self.assertIsNone(entry.certificate)
        self.assertTrue(1 <= entry.handle <= MAX_HANDLE)
        theirs = contacts.get_contact(BOB, ALICE)
        self.assertEqual((theirs.state, theirs.request_text, theirs.certificate),
                         ("pending_in", "hello bob", CERT_A))
        [m] = messages.fetch(BOB)
        self.assertEqual((m.sender, m.kind, m.body), (ALICE, "auth_request", b"hello bob"))
        self.assertEqual(contacts.list_contacts(BOB, state="pending_in"), [theirs])
        self.assertEqual(contacts.list_contacts(BOB, state="authorized"), [])

    def test_accept(self):
        _, _, contacts, messages = self.fresh()
        contacts.request_authorization(ALICE, BOB, "hi", CERT_A)
        entry = contacts.accept_authorization(BOB, ALICE, CERT_B)
        self.assertEqual(entry.state, "authorized")
        # Each side holds the certificate the *other* signed for it.
        self.assertEqual(entry.certificate, CERT_A)
        mine = contacts.get_contact(ALICE, BOB)
        self.assertEqual((mine.state, mine.certificate, mine.request_text),
                         ("authorized", CERT_B, None))
        self.assertEqual([(m.kind, m.body) for m in messages.fetch(ALICE)],
                         [("auth_reply", AUTH_ACCEPTED)])
        self.assertEqual(contacts.watchers(ALICE), [BOB])
        self.assertEqual(contacts.watchers(BOB), [ALICE])
        self.assertEqual(contacts.watchers(CAROL), [])

    def test_deny_tells_the_requester(self):
        _, _, contacts, messages = self.fresh()
        contacts.request_authorization(ALICE, BOB, "hi")
        contacts.deny_authorization(BOB, ALICE)
        self.assertEqual(self.states(contacts, ALICE), {})
        self.assertEqual(self.states(contacts, BOB), {})
        self.assertEqual(messages.fetch(BOB), [])  # the request went with it
        self.assertEqual([(m.kind, m.body) for m in messages.fetch(ALICE)],
                         [("auth_reply", AUTH_DENIED)])
        self.assertEqual(contacts.changes_since(ALICE, 0).entries[0].state, "removed")

    def test_deny_silently_when_configured(self):
        _, _, contacts, messages = self.fresh()

        class Silent(SyncContactStore):
            tell_requester_on_deny = False
        silent = Silent(contacts._db, clock=lambda: NOW)
        silent.request_authorization(ALICE, BOB)
        silent.deny_authorization(BOB, ALICE)
        self.assertEqual(self.states(silent, ALICE), {BOB: "pending_out"})
        self.assertEqual(messages.fetch(ALICE), [])

    def test_deny_and_block(self):
        _, _, contacts, messages = self.fresh()
        contacts.request_authorization(ALICE, BOB)
        contacts.deny_authorization(BOB, ALICE, block=True)
        self.assertEqual(self.states(contacts, BOB), {ALICE: "blocked"})
        self.assertTrue(contacts.is_blocked(BOB, ALICE))
        # Alice asking again reaches nobody, and is not told so.
        self.assertEqual(contacts.request_authorization(ALICE, BOB, "again").state,
                         "pending_out")
        self.assertEqual(self.states(contacts, BOB), {ALICE: "blocked"})
        self.assertEqual(messages.fetch(BOB), [])

    def test_accept_or_deny_without_request(self):
        _, _, contacts, _ = self.fresh()
        self.assertRaises(NoSuchContact, contacts.accept_authorization, BOB, ALICE)
        self.assertRaises(NoSuchContact, contacts.deny_authorization, BOB, ALICE)
        contacts.request_authorization(ALICE, BOB)
        # Alice cannot accept her own request on Bob's behalf.
        e = self.assertRaises(ContactStateError, contacts.accept_authorization, ALICE, BOB)
        self.assertIn("pending_out", str(e))
        self.assertRaises(ContactStateError, contacts.deny_authorization, ALICE, BOB)
        self.assertEqual(self.states(contacts, BOB), {ALICE: "pending_in"})

    def test_asking_back_is_accepting(self):
        _, _, contacts, messages = self.fresh()
        contacts.request_authorization(ALICE, BOB, certificate=CERT_A)
        contacts.request_authorization(BOB, ALICE, certificate=CERT_B)
        self.assertEqual(self.states(contacts, ALICE), {BOB: "authorized"})
        self.assertEqual(self.states(contacts, BOB), {ALICE: "authorized"})
        self.assertEqual(contacts.get_contact(ALICE, BOB).certificate, CERT_B)
        self.assertEqual(contacts.get_contact(BOB, ALICE).certificate, CERT_A)
        self.assertEqual([m.kind for m in messages.fetch(ALICE)], ["auth_reply"])

    def test_repeated_request_is_not_repeated_to_the_target(self):
        _, _, contacts, messages = self.fresh()
        for _ in range(5):
            contacts.request_authorization(ALICE, BOB, "please")
        self.assertEqual(len(messages.fetch(BOB)), 1)
        # Bob ignored it (removed the entry): asking again reaches him again.
        contacts.remove_contact(BOB, ALICE)
        self.assertEqual(messages.fetch(BOB), [])
        contacts.request_authorization(ALICE, BOB, "please!")
        self.assertEqual([m.body for m in messages.fetch(BOB)], [b"please!"])
        self.assertEqual(self.states(contacts, BOB), {ALICE: "pending_in"})

    def test_withdrawing_a_request(self):
        _, _, contacts, messages = self.fresh()
        contacts.request_authorization(ALICE, BOB)
        contacts.remove_contact(ALICE, BOB)
        self.assertEqual(self.states(contacts, BOB), {})
        self.assertEqual(messages.fetch(BOB), [])

    def test_readding_someone_who_still_authorizes_you(self):
        _, _, contacts, messages = self.fresh()
        contacts.request_authorization(ALICE, BOB)
        contacts.accept_authorization(BOB, ALICE)
        messages.fetch(ALICE)
        messages.ack(ALICE, 10)
        handle = contacts.get_contact(ALICE, BOB).handle
        contacts.remove_contact(ALICE, BOB)
        self.assertEqual(self.states(contacts, BOB), {ALICE: "authorized"})
        entry = contacts.request_authorization(ALICE, BOB)
        self.assertEqual(entry.state, "authorized")
        self.assertEqual(entry.handle, handle)  # the handle survives remove/re-add
        self.assertEqual(messages.fetch(BOB), [])

    def test_blocking_withdraws_own_request_and_drops_their_messages(self):
        _, _, contacts, messages = self.fresh()
        contacts.request_authorization(ALICE, BOB)
        messages.store_message(ALICE, BOB, "message", b"spam")
        contacts.request_authorization(CAROL, ALICE)
        entry = contacts.block_contact(ALICE, BOB)
        self.assertEqual(entry.state, "blocked")
        self.assertEqual(self.states(contacts, BOB), {})
        self.assertEqual(messages.fetch(BOB), [])
        self.assertEqual([m.sender for m in messages.fetch(ALICE)], [CAROL])
        contacts.unblock_contact(ALICE, BOB)
        self.assertEqual(self.states(contacts, ALICE), {CAROL: "pending_in"})
        self.assertRaises(NoSuchContact, contacts.unblock_contact, ALICE, BOB)
        self.assertRaises(ContactStateError, contacts.unblock_contact, ALICE, CAROL)

    def test_self_and_unknown_users(self):
        db, _, contacts, _ = self.fresh()
        for call in (contacts.request_authorization, contacts.block_contact,
                     contacts.accept_authorization, contacts.deny_authorization):
            self.assertRaises(InvalidField, call, ALICE, "ALICE123")
            self.assertRaises(NoSuchAccount, call, ALICE, "nobody12")
            self.assertRaises(NoSuchAccount, call, "nobody12", ALICE)
            self.assertRaises(InvalidName, call, ALICE, "1x")
        self.assertEqual(self.table_counts(db)["contacts"], 0)

    def test_update_fields(self):
        _, _, contacts, _ = self.fresh()
        contacts.request_authorization(ALICE, BOB)
        entry = contacts.update_contact(ALICE, BOB, display_name="Bobby", group_id=7,
                                        group_name="Friends")
        self.assertEqual((entry.display_name, entry.group_id, entry.group_name, entry.state),
                         ("Bobby", 7, "Friends", "pending_out"))
        entry = contacts.update_contact(ALICE, BOB, certificate=CERT_B, display_name=None)
        self.assertEqual((entry.display_name, entry.group_id, entry.certificate),
                         (None, 7, CERT_B))
        seq = entry.change_seq
        self.assertEqual(contacts.update_contact(ALICE, BOB).change_seq, seq)  # no-op
        self.assertRaises(NoSuchContact, contacts.update_contact, ALICE, CAROL, group_id=1)

    def test_get_entry_by_handle(self):
        _, _, contacts, _ = self.fresh()
        entry = contacts.request_authorization(ALICE, BOB)
        self.assertEqual(contacts.get_entry(ALICE, entry.handle), entry)
        self.assertRaises(NoSuchContact, contacts.get_entry, ALICE, entry.handle + 1)
        self.assertRaises(InvalidField, contacts.get_entry, ALICE, "1")
        contacts.remove_contact(ALICE, BOB)
        self.assertRaises(NoSuchContact, contacts.get_entry, ALICE, entry.handle)

    def test_handle_collisions_are_retried(self):
        values = iter([5, 5, 5, 9, 5])  # alice, bob; alice (taken), alice, carol
        _, _, contacts, _ = self.fresh(random_handle=lambda: next(values))
        self.assertEqual(contacts.request_authorization(ALICE, BOB).handle, 5)
        self.assertEqual(contacts.request_authorization(ALICE, CAROL).handle, 9)

    def test_handle_space_exhausted_is_a_clear_error(self):
        db, _, contacts, _ = self.fresh(random_handle=lambda: 5)
        contacts.request_authorization(ALICE, BOB)
        before = self.snapshot(db)
        self.assertRaises(ContactLimit, contacts.request_authorization, ALICE, CAROL)
        self.assertEqual(self.snapshot(db), before)


class LimitTests(StoreTestCase):
    def test_owner_list_full(self):
        db, accounts, contacts, _ = self.fresh(names=(ALICE, BOB, CAROL, DAVE),
                                               contact_limits=ContactLimits(max_contacts=2))
        contacts.request_authorization(ALICE, BOB)
        contacts.block_contact(ALICE, CAROL)  # blocked entries count too
        before = self.snapshot(db)
        e = self.assertRaises(ContactLimit, contacts.request_authorization, ALICE, DAVE)
        self.assertIn("your contact list is full", str(e))
        self.assertEqual(self.snapshot(db), before)
        # Changing existing entries is still possible; removing makes room.
        contacts.update_contact(ALICE, BOB, display_name="b")
        contacts.unblock_contact(ALICE, CAROL)
        contacts.request_authorization(ALICE, DAVE)

    def test_target_list_full_refuses_the_request(self):
        db, _, contacts, _ = self.fresh(names=(ALICE, BOB, CAROL, DAVE),
                                        contact_limits=ContactLimits(max_contacts=2))
        contacts.request_authorization(BOB, CAROL)
        contacts.request_authorization(BOB, DAVE)
        before = self.snapshot(db)
        e = self.assertRaises(ContactLimit, contacts.request_authorization, ALICE, BOB)
        self.assertIn("recipient's contact list is full", str(e))
        self.assertEqual(self.snapshot(db), before)

    def test_target_queue_full_refuses_the_request(self):
        db, _, contacts, messages = self.fresh(message_limits=MessageLimits(max_count=1))
        messages.store_message(BOB, CAROL, "message", b"x")
        before = self.snapshot(db)
        self.assertRaises(QuotaExceeded, contacts.request_authorization, ALICE, BOB, "hi")
        self.assertEqual(self.snapshot(db), before)

    def test_full_requester_queue_does_not_stop_an_answer(self):
        _, _, contacts, messages = self.fresh(message_limits=MessageLimits(max_count=1))
        contacts.request_authorization(ALICE, BOB)
        messages.store_message(ALICE, CAROL, "message", b"x")
        contacts.accept_authorization(BOB, ALICE)
        self.assertEqual(self.states(contacts, ALICE), {BOB: "authorized"})
        self.assertEqual([m.sender for m in messages.fetch(ALICE)], [CAROL])

    def test_oversized_and_malformed_fields(self):
        db, _, contacts, _ = self.fresh(contact_limits=ContactLimits(max_certificate=392))
        contacts.request_authorization(ALICE, CAROL)
        before = self.snapshot(db)
        bad_calls = [
            lambda: contacts.request_authorization(ALICE, BOB, "x" * 1001),
            lambda: contacts.request_authorization(ALICE, BOB, "bell\x07"),
            lambda: contacts.request_authorization(ALICE, BOB, b"bytes"),
            lambda: contacts.request_authorization(ALICE, BOB, certificate=b"c" * 393),
            lambda: contacts.request_authorization(ALICE, BOB, certificate="text"),
            lambda: contacts.update_contact(ALICE, CAROL, display_name="d" * 201),
            lambda: contacts.update_contact(ALICE, CAROL, display_name="two\nlines"),
            lambda: contacts.update_contact(ALICE, CAROL, group_name="g" * 101),
            lambda: contacts.update_contact(ALICE, CAROL, group_id=-1),
            lambda: contacts.update_contact(ALICE, CAROL, group_id=2 ** 31),
            lambda: contacts.update_contact(ALICE, CAROL, group_id="1"),
            lambda: contacts.update_contact(ALICE, CAROL, group_id=True),
            lambda: contacts.update_contact(ALICE, CAROL, certificate=b"c" * 393),
            lambda: contacts.accept_authorization(CAROL, ALICE, certificate=b"c" * 393),
            lambda: contacts.changes_since(ALICE, -1),
            lambda: contacts.changes_since(ALICE, "0"),
            lambda: contacts.list_contacts(ALICE, state="removed"),
        ]
        for call in bad_calls:
            self.assertRaises(InvalidField, call)
        self.assertEqual(self.snapshot(db), before)
        contacts.request_authorization(ALICE, BOB, "multi\nline\ttext", b"c" * 392)

    def test_limits_cannot_exceed_the_schema(self):
        self.assertRaises(ValueError, ContactLimits, max_certificate=4097)
        self.assertRaises(ValueError, ContactLimits, max_display_name=201)
        self.assertRaises(ValueError, ContactLimits, max_contacts=0)


class IsolationTests(StoreTestCase):
    def test_no_method_reaches_another_owners_rows(self):
        # Handle 7 in several lists: the same value must still select the
        # caller's own entry.
        handles = itertools.cycle([7, 7, 8])
        db, _, contacts, messages = self.fresh(names=(ALICE, BOB, CAROL, DAVE),
                                               random_handle=lambda: next(handles))
        contacts.request_authorization(BOB, CAROL, "private", CERT_B)
        contacts.update_contact(BOB, CAROL, display_name="secret name")
        contacts.block_contact(BOB, DAVE)
        bobs_view = contacts.list_contacts(BOB)
        carols_view = contacts.list_contacts(CAROL)
        before = self.snapshot(db)
        # Alice's list is empty through every read ...
        self.assertEqual(contacts.list_contacts(ALICE), [])
        self.assertEqual(contacts.changes_since(ALICE, 0).entries, ())
        self.assertEqual(contacts.change_seq(ALICE), 0)
        self.assertRaises(NoSuchContact, contacts.get_entry, ALICE, 7)
        self.assertRaises(NoSuchContact, contacts.get_contact, ALICE, CAROL)
        self.assertFalse(contacts.is_blocked(ALICE, DAVE))
        self.assertEqual(contacts.watchers(ALICE), [])
        # ... and no change reaches Bob's or Carol's entries.
        self.assertRaises(NoSuchContact, contacts.update_contact, ALICE, CAROL,
                          display_name="hijack")
        self.assertRaises(NoSuchContact, contacts.remove_contact, ALICE, CAROL)
        self.assertRaises(NoSuchContact, contacts.unblock_contact, ALICE, DAVE)
        self.assertRaises(NoSuchContact, contacts.accept_authorization, ALICE, BOB)
        self.assertRaises(NoSuchContact, contacts.deny_authorization, ALICE, BOB)
        self.assertRaises(NoSuchContact, contacts.accept_authorization, DAVE, BOB)
        self.assertEqual(messages.fetch(ALICE), [])
        self.assertEqual(messages.ack(ALICE, 10 ** 9), 0)
        self.assertEqual(self.snapshot(db)["contacts"], before["contacts"])
        self.assertEqual(contacts.list_contacts(BOB), bobs_view)
        self.assertEqual(contacts.list_contacts(CAROL), carols_view)
        self.assertEqual(contacts.get_entry(BOB, 7).name, CAROL)
        self.assertEqual(contacts.get_entry(CAROL, 7).name, BOB)
        # Alice adding Carol herself creates her own entry, not Bob's.
        contacts.request_authorization(ALICE, CAROL)
        self.assertEqual(contacts.list_contacts(BOB), bobs_view)
        self.assertEqual(self.states(contacts, CAROL), {BOB: "pending_in", ALICE: "pending_in"})

    def test_unknown_owner(self):
        _, _, contacts, _ = self.fresh()
        for call in (contacts.list_contacts, contacts.change_seq, contacts.watchers):
            self.assertRaises(NoSuchAccount, call, "nobody12")
        self.assertRaises(NoSuchAccount, contacts.changes_since, "nobody12", 0)
        self.assertRaises(NoSuchAccount, contacts.get_entry, "nobody12", 1)
        self.assertRaises(InvalidName, contacts.list_contacts, "bad name")

    def test_account_deletion(self):
        db, accounts, contacts, messages = self.fresh()
        contacts.request_authorization(ALICE, BOB, certificate=CERT_A)
        contacts.accept_authorization(BOB, ALICE, CERT_B)
        contacts.request_authorization(BOB, CAROL)
        contacts.update_contact(BOB, CAROL, display_name="Carol")
        seq = contacts.change_seq(ALICE)
        accounts.delete_account(BOB)
        # Bob's own rows went by cascade ...
        bob_rows = db.read("SELECT count(*) FROM contacts WHERE owner_id NOT IN "
                           "(SELECT id FROM accounts)")
        self.assertEqual(bob_rows, [(0,)])
        self.assertEqual(db.read("SELECT count(*) FROM contact_lists"), [(2,)])
        # ... and he left every other list, as a change those owners see.
        self.assertEqual(self.states(contacts, ALICE), {})
        self.assertEqual(self.states(contacts, CAROL), {})
        changes = contacts.changes_since(ALICE, seq)
        self.assertEqual([(e.name, e.state, e.certificate) for e in changes.entries],
                         [(BOB, "removed", None)])
        self.assertEqual(changes.seq, seq + 1)
        # A new "bob12345" inherits nothing: asking Alice is a fresh request.
        accounts.create_account(BOB, bytes(16))
        self.assertEqual(contacts.request_authorization(BOB, ALICE).state, "pending_out")
        self.assertEqual(self.states(contacts, ALICE), {BOB: "pending_in"})
        self.assertEqual(contacts.watchers(ALICE), [])


class AtomicityTests(StoreTestCase):
    def test_request_fails_on_the_target_side(self):
        db, _, contacts, _ = self.fresh()
        self.force_failure(db, "BEFORE INSERT", "contacts", "NEW.state = 'pending_in'")
        before = self.snapshot(db)
        self.assertRaises(DatabaseError, contacts.request_authorization, ALICE, BOB)
        self.assertEqual(self.snapshot(db), before)  # Alice's pending_out rolled back too

    def test_request_fails_on_the_message(self):
        db, _, contacts, _ = self.fresh()
        self.force_failure(db, "BEFORE INSERT", "offline_messages")
        before = self.snapshot(db)
        self.assertRaises(DatabaseError, contacts.request_authorization, ALICE, BOB)
        self.assertEqual(self.snapshot(db), before)

    def test_accept_fails_on_the_requester_side(self):
        db, _, contacts, messages = self.fresh()
        contacts.request_authorization(ALICE, BOB)
        self.force_failure(db, "BEFORE UPDATE", "contacts",
                           "NEW.contact_name = 'bob12345' AND NEW.state = 'authorized'")
        before = self.snapshot(db)
        self.assertRaises(DatabaseError, contacts.accept_authorization, BOB, ALICE, CERT_B)
        self.assertEqual(self.snapshot(db), before)
        self.assertEqual(self.states(contacts, BOB), {ALICE: "pending_in"})

    def test_exception_inside_the_transaction(self):
        db, _, contacts, _ = self.fresh()
        contacts.request_authorization(ALICE, BOB)

        class Boom(Exception):
            pass

        class Failing(SyncContactStore):
            def _reply(self, change, recipient_id, sender, body):
                raise Boom()
        failing = Failing(db, clock=lambda: NOW)
        before = self.snapshot(db)
        self.assertRaises(Boom, failing.accept_authorization, BOB, ALICE)
        self.assertRaises(Boom, failing.deny_authorization, BOB, ALICE)
        self.assertEqual(self.snapshot(db), before)


class ChangeTests(StoreTestCase):
    def test_changes_since(self):
        _, _, contacts, _ = self.fresh(names=(ALICE, BOB, CAROL, DAVE))
        self.assertEqual(contacts.changes_since(ALICE, 0).seq, 0)
        contacts.request_authorization(ALICE, BOB)                  # alice seq 1
        contacts.request_authorization(ALICE, CAROL)                # 2
        contacts.update_contact(ALICE, BOB, display_name="B")      # 3
        contacts.remove_contact(ALICE, CAROL)                       # 4
        everything = contacts.changes_since(ALICE, 0)
        self.assertEqual((everything.seq, everything.full), (4, False))
        self.assertEqual([(e.name, e.state, e.change_seq) for e in everything.entries],
                         [(BOB, "pending_out", 3), (CAROL, "removed", 4)])
        later = contacts.changes_since(ALICE, 3)
        self.assertEqual([(e.name, e.state) for e in later.entries], [(CAROL, "removed")])
        self.assertEqual(contacts.changes_since(ALICE, 4).entries, ())
        # A number never given out (a re-created account's old client): the whole list.
        future = contacts.changes_since(ALICE, 99)
        self.assertTrue(future.full)
        self.assertEqual([e.name for e in future.entries], [BOB])

    def test_pruned_removals_force_a_full_list(self):
        _, _, contacts, _ = self.fresh(names=(ALICE, BOB, CAROL, DAVE),
                                       contact_limits=ContactLimits(max_removed=1))
        contacts.request_authorization(ALICE, BOB)       # 1
        contacts.request_authorization(ALICE, CAROL)     # 2
        contacts.request_authorization(ALICE, DAVE)      # 3
        contacts.remove_contact(ALICE, BOB)              # 4
        self.assertFalse(contacts.changes_since(ALICE, 2).full)
        contacts.remove_contact(ALICE, CAROL)            # 5: bob's record is pruned
        self.assertTrue(contacts.changes_since(ALICE, 3).full)
        full = contacts.changes_since(ALICE, 2)
        self.assertEqual((full.full, [e.name for e in full.entries]), (True, [DAVE]))
        recent = contacts.changes_since(ALICE, 4)
        self.assertEqual((recent.full, [(e.name, e.state) for e in recent.entries]),
                         (False, [(CAROL, "removed")]))

    def test_other_side_changes_count_for_the_other_owner(self):
        _, _, contacts, _ = self.fresh()
        contacts.request_authorization(ALICE, BOB)
        self.assertEqual((contacts.change_seq(ALICE), contacts.change_seq(BOB)), (1, 1))
        contacts.accept_authorization(BOB, ALICE)
        self.assertEqual((contacts.change_seq(ALICE), contacts.change_seq(BOB)), (2, 2))
        self.assertEqual(contacts.change_seq(CAROL), 0)


class SearchTests(StoreTestCase):
    def test_modes(self):
        _, accounts, _, _ = self.fresh(names=("alice123", "alicia99", "malice77", "bob12345",
                                              "a_b_c_d1", "axbxcxd1"))
        names = lambda ms: [m.name for m in ms]  # noqa: E731
        self.assertEqual(names(accounts.search_accounts("ALIC")), ["alice123", "alicia99"])
        self.assertEqual(names(accounts.search_accounts("alice", "substring")),
                         ["alice123", "malice77"])
        self.assertEqual(names(accounts.search_accounts("Alice123", "exact")), ["alice123"])
        self.assertEqual(names(accounts.search_accounts("alice", "exact")), [])
        # LIKE wildcards in the query are literal characters.
        self.assertEqual(names(accounts.search_accounts("a_b", "prefix")), ["a_b_c_d1"])
        self.assertEqual(names(accounts.search_accounts("_b_", "substring")), ["a_b_c_d1"])
        self.assertEqual(names(accounts.search_accounts("%", "substring")), [])
        self.assertEqual(names(accounts.search_accounts("\\", "substring")), [])
        self.assertEqual(names(accounts.search_accounts("é", "prefix")), [])
        self.assertEqual(names(accounts.search_accounts("a", limit=2)), ["a_b_c_d1", "alice123"])
        self.assertEqual(accounts.search_accounts("a", limit=0), [])

    def test_results_carry_no_email(self):
        _, accounts, _, _ = self.fresh(names=())
        accounts.create_account(ALICE, bytes(16), email="a@example.org", full_name="Alice A")
        self.assertEqual(accounts.search_accounts(b"alice"),
                         [AccountMatch(name=ALICE, full_name="Alice A")])
        self.assertNotIn("example.org", repr(accounts.search_accounts("alice")))

    def test_bounded(self):
        _, accounts, _, _ = self.fresh(names=["user%04d" % i for i in range(120)])
        self.assertEqual(len(accounts.search_accounts("user", limit=10 ** 6)),
                         MAX_SEARCH_RESULTS)
        for bad in ("", "   ", "x" * 33, "a\x00", None, 5, b"\xff"):
            self.assertRaises(InvalidField, accounts.search_accounts, bad)
        self.assertRaises(InvalidField, accounts.search_accounts, "user", "regex")
        self.assertRaises(InvalidField, accounts.search_accounts, "user", limit="5")


# -- random operation sequences --------------------------------------------------------

_USERS = (ALICE, BOB, CAROL, DAVE)
_OPS = st.lists(st.tuples(
    st.sampled_from(["request", "request", "accept", "accept_pending", "deny", "deny_block",
                     "remove", "block", "unblock", "update", "delete_account"]),
    st.sampled_from(_USERS), st.sampled_from(_USERS + ("nobody12",))), max_size=25)


class RandomSequenceTests(StoreTestCase):
    def check_invariants(self, contacts, messages, limits, live_users, replicas):
        lists = {u: {c.name: c for c in contacts.list_contacts(u)} for u in live_users}
        for owner, entries in lists.items():
            self.assertLessEqual(len(entries), limits.max_contacts)
            self.assertEqual(len({c.handle for c in entries.values()}), len(entries))
            for name, c in entries.items():
                other = lists.get(name, {}).get(owner)
                other_state = other.state if other else None
                if c.state == "pending_in":
                    self.assertEqual(other_state, "pending_out", (owner, name))
                elif c.state == "pending_out":
                    self.assertIn(other_state, ("pending_in", None, "blocked"), (owner, name))
                elif c.state == "authorized":
                    self.assertIn(other_state, ("authorized", None, "blocked"), (owner, name))
                self.assertNotEqual(name, owner)
                self.assertIn(name, live_users)  # deleted accounts leave every list
            # A client following changes_since always ends with the real list.
            seq, replica = replicas.get(owner, (0, {}))
            changes = contacts.changes_since(owner, seq)
            if changes.full:
                replica = {}
            for e in changes.entries:
                if e.state == "removed":
                    replica.pop(e.name, None)
                else:
                    replica[e.name] = e
            self.assertEqual(replica, entries)
            replicas[owner] = (changes.seq, replica)
            self.assertLessEqual(messages.counts(owner).count, 3)

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow,
                                     # the same test runs on SQLite and PostgreSQL
                                     HealthCheck.differing_executors])
    @given(ops=_OPS)
    def test_invariants(self, ops):
        limits = ContactLimits(max_contacts=2, max_removed=1)
        db, accounts, contacts, messages = self.fresh(
            names=_USERS, contact_limits=limits, message_limits=MessageLimits(max_count=3))
        live = set(_USERS)
        replicas = {}
        for op, a, b in ops:
            before = self.snapshot(db)
            try:
                if op == "request":
                    contacts.request_authorization(a, b, "hi")
                elif op == "accept":
                    contacts.accept_authorization(a, b, CERT_A)
                elif op == "accept_pending":
                    # Accept whatever is waiting (random pairs rarely hit one).
                    for entry in contacts.list_contacts(a, state="pending_in"):
                        contacts.accept_authorization(a, entry.name, CERT_B)
                        break
                elif op == "deny":
                    contacts.deny_authorization(a, b)
                elif op == "deny_block":
                    contacts.deny_authorization(a, b, block=True)
                elif op == "remove":
                    contacts.remove_contact(a, b)
                elif op == "block":
                    contacts.block_contact(a, b)
                elif op == "unblock":
                    contacts.unblock_contact(a, b)
                elif op == "update":
                    contacts.update_contact(a, b, display_name=b.upper(), group_id=1)
                else:
                    accounts.delete_account(a)
                    live.discard(a)
                    replicas.pop(a, None)
                    accounts.create_account(a, bytes(16))
                    live.add(a)
            except StoreError as e:
                # A refusal is a refusal: nothing at all was written.
                self.assertNotIsInstance(e, DatabaseError)
                self.assertEqual(self.snapshot(db), before, (op, a, b, e))
            self.check_invariants(contacts, messages, limits, live, replicas)


class AsyncContactStoreTests(StoreTestCase):
    def test_interfaces(self):
        store = self.start()
        self.assertTrue(verifyObject(IContactStore, store.contacts))
        self.assertTrue(verifyObject(IAccountStore, store.accounts))
        self.assertTrue(verifyObject(IAccountSearch, store.accounts))

    @defer.inlineCallbacks
    def test_round_trip(self):
        store = self.start(contact_limits=ContactLimits(max_contacts=1))
        for name in (ALICE, BOB, CAROL):
            yield store.accounts.create_account(name, bytes(16))
        c = store.contacts
        entry = yield c.request_authorization(ALICE, BOB, text="hi", certificate=CERT_A)
        self.assertEqual(entry.state, "pending_out")
        yield self.assertFailure(c.request_authorization(ALICE, CAROL), ContactLimit)
        self.assertEqual([m.kind for m in (yield store.messages.fetch(BOB))], ["auth_request"])
        yield c.accept_authorization(BOB, ALICE, certificate=CERT_B)
        self.assertEqual((yield c.get_entry(ALICE, entry.handle)).certificate, CERT_B)
        self.assertEqual((yield c.get_contact(BOB, ALICE)).state, "authorized")
        self.assertEqual((yield c.watchers(ALICE)), [BOB])
        self.assertEqual((yield c.change_seq(ALICE)), 2)
        self.assertEqual(len((yield c.changes_since(ALICE, 1)).entries), 1)
        yield c.update_contact(ALICE, BOB, display_name="Bob")
        self.assertEqual([x.display_name for x in (yield c.list_contacts(ALICE))], ["Bob"])
        yield c.remove_contact(ALICE, BOB)
        yield self.assertFailure(c.get_contact(ALICE, BOB), NoSuchContact)
        yield c.block_contact(ALICE, CAROL)
        self.assertTrue((yield c.is_blocked(ALICE, CAROL)))
        yield c.unblock_contact(ALICE, CAROL)
        yield c.request_authorization(CAROL, ALICE)
        yield c.deny_authorization(ALICE, CAROL, block=True)
        self.assertEqual([x.state for x in (yield c.list_contacts(ALICE))], ["blocked"])
        found = yield store.accounts.search_accounts("BOB", mode="prefix", limit=5)
        self.assertEqual([m.name for m in found], [BOB])

    @defer.inlineCallbacks
    def test_calls_run_off_the_reactor_thread(self):
        store = self.start()
        yield store.accounts.create_account(ALICE, bytes(16))
        opened = yield store.run(lambda opened: opened)
        self.assertRaises(StoreError, opened.contacts.list_contacts, ALICE)
        self.assertRaises(StoreError, opened.accounts.search_accounts, "alice")
        results = yield defer.gatherResults([
            store.contacts.list_contacts(ALICE),
            store.accounts.search_accounts("alice"),
            store.run(lambda opened: threading.get_ident())])
        self.assertEqual(results[0], [])
        self.assertEqual([m.name for m in results[1]], [ALICE])
        self.assertNotEqual(results[2], threading.get_ident())


# -- the same tests on PostgreSQL ----------------------------------------------------------

class PostgreSQLAuthorizationTests(PostgreSQLEngine, AuthorizationTests):
    pass


class PostgreSQLLimitTests(PostgreSQLEngine, LimitTests):
    pass


class PostgreSQLIsolationTests(PostgreSQLEngine, IsolationTests):
    pass


class PostgreSQLAtomicityTests(PostgreSQLEngine, AtomicityTests):
    pass


class PostgreSQLChangeTests(PostgreSQLEngine, ChangeTests):
    pass


class PostgreSQLSearchTests(PostgreSQLEngine, SearchTests):
    pass


class PostgreSQLRandomSequenceTests(PostgreSQLEngine, RandomSequenceTests):
    pass


class PostgreSQLAsyncContactStoreTests(PostgreSQLEngine, AsyncContactStoreTests):
    pass
