"""Offline messages: order, exactly-once with acks, quotas, isolation, cascade, the async store."""

import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet import defer
from zope.interface.verify import verifyObject

from blissnode.store.errors import (
    DatabaseError,
    InvalidField,
    InvalidName,
    NoSuchAccount,
    QuotaExceeded,
    SenderBlocked,
    StoreError,
)
from blissnode.store.interfaces import IMessageStore
from blissnode.store.messages import (
    KIND_MESSAGE,
    MAX_BODY_BYTES,
    MessageLimits,
    OfflineMessage,
    QueueCounts,
)
from tests.store_helpers import ALICE, BOB, CAROL, PostgreSQLEngine, StoreTestCase


class StoreAndFetchTests(StoreTestCase):
    def test_store_fetch_in_order(self):
        _, _, _, messages = self.fresh()
        stored = [messages.store_message(BOB, ALICE, KIND_MESSAGE, b"m%d" % i) for i in range(5)]
        self.assertEqual([m.seq for m in stored], [1, 2, 3, 4, 5])
        self.assertIsInstance(stored[0], OfflineMessage)
        got = messages.fetch(BOB)
        self.assertEqual([(m.seq, m.sender, m.kind, m.body) for m in got],
                         [(i + 1, ALICE, "message", b"m%d" % i) for i in range(5)])
        self.assertEqual([m.fetch_count for m in got], [1] * 5)
        self.assertEqual(got[0].created, stored[0].created)

    def test_names_are_case_insensitive(self):
        _, _, _, messages = self.fresh()
        m = messages.store_message("BOB12345", "Alice123", "message", b"x")
        self.assertEqual(m.sender, ALICE)
        self.assertEqual([x.seq for x in messages.fetch("Bob12345")], [1])

    def test_unacked_come_back_in_the_same_order(self):
        _, _, _, messages = self.fresh()
        for i in range(4):
            messages.store_message(BOB, ALICE, "message", bytes([i]))
        first = messages.fetch(BOB)
        second = messages.fetch(BOB)
        self.assertEqual([m.seq for m in first], [m.seq for m in second])
        self.assertEqual([m.body for m in first], [m.body for m in second])
        self.assertEqual([m.fetch_count for m in second], [2] * 4)

    def test_ack_deletes_and_never_returns(self):
        _, _, _, messages = self.fresh()
        for i in range(5):
            messages.store_message(BOB, ALICE, "message", bytes([i]))
        messages.fetch(BOB)
        self.assertEqual(messages.ack(BOB, 3), 3)
        self.assertEqual([m.seq for m in messages.fetch(BOB)], [4, 5])
        self.assertEqual(messages.ack(BOB, 3), 0)  # acking again changes nothing
        self.assertEqual(messages.ack(BOB, 5), 2)
        self.assertEqual(messages.fetch(BOB), [])
        # Sequence numbers are never reused after deletion.
        self.assertEqual(messages.store_message(BOB, ALICE, "message", b"n").seq, 6)

    def test_ack_never_deletes_unfetched(self):
        _, _, _, messages = self.fresh()
        for i in range(3):
            messages.store_message(BOB, ALICE, "message", bytes([i]))
        self.assertEqual([m.seq for m in messages.fetch(BOB, limit=2)], [1, 2])
        messages.store_message(BOB, CAROL, "message", b"late")  # arrives between fetch and ack
        self.assertEqual(messages.ack(BOB, 10 ** 12), 2)
        self.assertEqual([(m.seq, m.body) for m in messages.fetch(BOB)],
                         [(3, b"\x02"), (4, b"late")])

    def test_ack_before_any_fetch_deletes_nothing(self):
        _, _, _, messages = self.fresh()
        messages.store_message(BOB, ALICE, "message", b"x")
        self.assertEqual(messages.ack(BOB, 1), 0)
        self.assertEqual(len(messages.fetch(BOB)), 1)

    def test_fetch_limit(self):
        _, _, _, messages = self.fresh(message_limits=MessageLimits(max_fetch=3))
        for i in range(5):
            messages.store_message(BOB, ALICE, "message", bytes([i]))
        self.assertEqual([m.seq for m in messages.fetch(BOB)], [1, 2, 3])
        self.assertEqual([m.seq for m in messages.fetch(BOB, limit=100)], [1, 2, 3])
        self.assertEqual([m.seq for m in messages.fetch(BOB, limit=1)], [1])
        for bad in (0, -1, "2", 1.5, True):
            self.assertRaises(InvalidField, messages.fetch, BOB, limit=bad)

    def test_counts(self):
        _, _, _, messages = self.fresh()
        self.assertEqual(messages.counts(BOB), QueueCounts(count=0, bytes=0, delivered=0,
                                                           last_seq=0))
        messages.store_message(BOB, ALICE, "message", b"abc")
        messages.store_message(BOB, ALICE, "message", b"de")
        messages.fetch(BOB, limit=1)
        self.assertEqual(messages.counts(BOB), QueueCounts(count=2, bytes=5, delivered=1,
                                                           last_seq=2))
        messages.ack(BOB, 2)
        self.assertEqual(messages.counts(BOB), QueueCounts(count=1, bytes=2, delivered=0,
                                                           last_seq=2))

    def test_kinds(self):
        _, _, _, messages = self.fresh()
        for kind in ("message", "auth_request", "auth_reply", "file_offer2"):
            self.assertEqual(messages.store_message(BOB, ALICE, kind, b"").kind, kind)
        for bad in ("", "Message", "1abc", "a" * 33, "a b", None, b"message", "ü"):
            self.assertRaises(InvalidField, messages.store_message, BOB, ALICE, bad, b"")

    def test_bad_input(self):
        db, _, _, messages = self.fresh()
        self.assertRaises(InvalidName, messages.store_message, "x", ALICE, "message", b"")
        self.assertRaises(InvalidName, messages.store_message, BOB, "no way", "message", b"")
        self.assertRaises(InvalidField, messages.store_message, BOB, ALICE, "message", "text")
        self.assertRaises(InvalidField, messages.store_message, BOB, ALICE, "message", None)
        for bad in (-1, "1", None, 1.0, True):
            self.assertRaises(InvalidField, messages.ack, BOB, bad)
        self.assertEqual(self.table_counts(db)["offline_messages"], 0)

    def test_recipient_must_exist(self):
        db, _, _, messages = self.fresh()
        e = self.assertRaises(NoSuchAccount, messages.store_message, "nobody12", ALICE,
                              "message", b"hi")
        self.assertIn("nobody12", str(e))
        self.assertRaises(NoSuchAccount, messages.fetch, "nobody12")
        self.assertRaises(NoSuchAccount, messages.ack, "nobody12", 1)
        self.assertRaises(NoSuchAccount, messages.counts, "nobody12")
        self.assertEqual(self.table_counts(db)["offline_messages"], 0)
        self.assertEqual(self.table_counts(db)["message_queues"], 0)

    def test_blocked_sender_refused(self):
        db, _, contacts, messages = self.fresh()
        contacts.block_contact(BOB, ALICE)
        self.assertRaises(SenderBlocked, messages.store_message, BOB, ALICE, "message", b"x")
        self.assertEqual(self.table_counts(db)["offline_messages"], 0)
        messages.store_message(BOB, CAROL, "message", b"y")  # others still reach bob
        contacts.unblock_contact(BOB, ALICE)
        messages.store_message(BOB, ALICE, "message", b"z")
        self.assertEqual([m.body for m in messages.fetch(BOB)], [b"y", b"z"])


class QuotaTests(StoreTestCase):
    def test_count_quota(self):
        db, _, _, messages = self.fresh(message_limits=MessageLimits(max_count=3))
        for i in range(3):
            messages.store_message(BOB, ALICE, "message", b"x")
        before = self.snapshot(db)
        e = self.assertRaises(QuotaExceeded, messages.store_message, BOB, ALICE, "message", b"x")
        self.assertIn("full", str(e))
        self.assertIn("3 messages", str(e))
        self.assertEqual(self.snapshot(db), before)
        # Another recipient is unaffected; acknowledging makes room again.
        messages.store_message(CAROL, ALICE, "message", b"x")
        messages.fetch(BOB, limit=1)
        messages.ack(BOB, 1)
        self.assertEqual(messages.store_message(BOB, ALICE, "message", b"x").seq, 4)

    def test_one_sender_fills_only_its_share(self):
        # Issue 17.8: alice filling bob's queue leaves room for carol.
        db, _, _, messages = self.fresh(message_limits=MessageLimits(
            max_count=10, max_sender_count=3, max_sender_bytes=100))
        for i in range(3):
            messages.store_message(BOB, ALICE, "message", b"x")
        e = self.assertRaises(QuotaExceeded, messages.store_message, BOB, ALICE, "message",
                              b"x")
        self.assertIn("sender's share", str(e))
        messages.store_message(BOB, CAROL, "message", b"x")
        self.assertEqual(messages.counts(BOB).count, 4)
        db, _, _, messages = self.fresh(message_limits=MessageLimits(max_sender_bytes=10))
        messages.store_message(BOB, ALICE, "message", b"12345678")
        self.assertRaises(QuotaExceeded, messages.store_message, BOB, ALICE, "message", b"abc")
        messages.store_message(BOB, CAROL, "message", b"abc")

    def test_byte_quota(self):
        db, _, _, messages = self.fresh(message_limits=MessageLimits(max_bytes=10))
        messages.store_message(BOB, ALICE, "message", b"12345678")
        before = self.snapshot(db)
        e = self.assertRaises(QuotaExceeded, messages.store_message, BOB, ALICE, "message",
                              b"abc")
        self.assertIn("10 bytes", str(e))
        self.assertEqual(self.snapshot(db), before)
        messages.store_message(BOB, ALICE, "message", b"ab")  # exactly full is fine
        self.assertEqual(messages.counts(BOB).bytes, 10)

    def test_never_acknowledging_client_is_bounded(self):
        db, _, _, messages = self.fresh(message_limits=MessageLimits(max_count=5, max_fetch=2))
        refused = 0
        for i in range(20):
            messages.fetch(BOB)  # fetches, never acks
            try:
                messages.store_message(BOB, ALICE, "message", b"%d" % i)
            except QuotaExceeded:
                refused += 1
        self.assertEqual(refused, 15)
        self.assertEqual(messages.counts(BOB).count, 5)
        self.assertEqual(len(messages.fetch(BOB)), 2)

    def test_oversized_body(self):
        db, _, _, messages = self.fresh(message_limits=MessageLimits(max_body_bytes=100))
        messages.store_message(BOB, ALICE, "message", b"x" * 100)
        e = self.assertRaises(InvalidField, messages.store_message, BOB, ALICE, "message",
                              b"x" * 101)
        self.assertIn("100", str(e))
        self.assertEqual(messages.counts(BOB).count, 1)

    def test_schema_bounds_the_body_too(self):
        self.assertRaises(ValueError, MessageLimits, max_body_bytes=MAX_BODY_BYTES + 1)
        self.assertRaises(ValueError, MessageLimits, max_fetch=0)
        db, _, _, messages = self.fresh()
        # Even past the Python checks, the CHECK constraint refuses a huge body.

        def raw_insert():
            with db.transaction() as cursor:
                cursor.execute(
                    "INSERT INTO offline_messages (recipient_id, seq, sender, kind, body, "
                    "created_at) VALUES (1, 1, 'alice123', 'message', zeroblob(?), 0)",
                    (MAX_BODY_BYTES + 1,))
        self.assertRaises(DatabaseError, raw_insert)


class IsolationTests(StoreTestCase):
    def test_recipients_never_see_or_ack_each_other(self):
        db, _, _, messages = self.fresh()
        messages.store_message(BOB, ALICE, "message", b"for bob")
        messages.store_message(CAROL, ALICE, "message", b"for carol")
        self.assertEqual([m.body for m in messages.fetch(BOB)], [b"for bob"])
        # Carol acknowledges "everything": bob's delivered message stays.
        self.assertEqual(messages.ack(CAROL, 10 ** 9), 0)
        self.assertEqual([m.body for m in messages.fetch(BOB)], [b"for bob"])
        self.assertEqual([m.body for m in messages.fetch(CAROL)], [b"for carol"])
        self.assertEqual(messages.ack(CAROL, 1), 1)
        self.assertEqual(messages.counts(BOB).count, 1)
        # Sequence numbers are per recipient.
        self.assertEqual(messages.store_message(CAROL, BOB, "message", b"").seq, 2)
        self.assertEqual(messages.store_message(ALICE, BOB, "message", b"").seq, 1)

    def test_account_deletion_cascades(self):
        db, accounts, _, messages = self.fresh()
        messages.store_message(BOB, ALICE, "message", b"x")
        messages.store_message(ALICE, BOB, "message", b"from bob")
        accounts.delete_account(BOB)
        self.assertEqual(db.read("SELECT count(*) FROM offline_messages "
                                 "WHERE recipient_id NOT IN (SELECT id FROM accounts)"), [(0,)])
        self.assertEqual(db.read("SELECT count(*) FROM message_queues"), [(1,)])
        # A message outlives its sender's account.
        self.assertEqual([m.sender for m in messages.fetch(ALICE)], [BOB])
        # A new account with the same name starts with an empty queue at seq 1.
        accounts.create_account(BOB, bytes(16))
        self.assertEqual(messages.fetch(BOB), [])
        self.assertEqual(messages.store_message(BOB, ALICE, "message", b"y").seq, 1)


class AtomicityTests(StoreTestCase):
    def test_failed_insert_leaves_no_sequence_gap(self):
        db, _, _, messages = self.fresh()
        messages.store_message(BOB, ALICE, "message", b"1")
        self.force_failure(db, "BEFORE INSERT", "offline_messages", message="forced failure")
        before = self.snapshot(db)
        e = self.assertRaises(DatabaseError, messages.store_message, BOB, ALICE, "message",
                              b"2")
        self.assertIn("forced failure", str(e))
        self.assertEqual(self.snapshot(db), before)  # last_seq not advanced either
        self.allow(db)
        self.assertEqual(messages.store_message(BOB, ALICE, "message", b"2").seq, 2)

    def test_failed_ack_deletes_nothing(self):
        db, _, _, messages = self.fresh()
        for i in range(3):
            messages.store_message(BOB, ALICE, "message", bytes([i]))
        messages.fetch(BOB)
        self.force_failure(db, "BEFORE DELETE", "offline_messages", "OLD.seq = 3")
        self.assertRaises(DatabaseError, messages.ack, BOB, 3)
        self.assertEqual([m.seq for m in messages.fetch(BOB)], [1, 2, 3])


_OPS = st.lists(st.one_of(
    st.tuples(st.just("store"), st.binary(max_size=12)),
    st.tuples(st.just("fetch"), st.integers(1, 5)),
    st.tuples(st.just("ack_seen"), st.integers(0, 5)),   # ack the n-th message of the last fetch
    st.tuples(st.just("ack_any"), st.integers(0, 40)),   # ack an arbitrary number
), max_size=40)


class ExactlyOncePropertyTests(StoreTestCase):
    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow,
                                     # the same test runs on SQLite and PostgreSQL
                                     HealthCheck.differing_executors])
    @given(ops=_OPS)
    def test_queue_matches_a_model(self, ops):
        limits = MessageLimits(max_count=6, max_bytes=40, max_fetch=4)
        db, _, _, messages = self.fresh(names=(ALICE, BOB), message_limits=limits)
        model = []        # [seq, body, delivered] in order
        last_seq = 0
        last_fetch = []
        processed = []    # what a client acked, in order
        for op, arg in ops:
            if op == "store":
                fits = (len(model) < limits.max_count
                        and sum(len(m[1]) for m in model) + len(arg) <= limits.max_bytes)
                if fits:
                    stored = messages.store_message(BOB, ALICE, "message", arg)
                    last_seq += 1
                    self.assertEqual(stored.seq, last_seq)
                    model.append([last_seq, arg, False])
                else:
                    self.assertRaises(QuotaExceeded, messages.store_message, BOB, ALICE,
                                      "message", arg)
            elif op == "fetch":
                got = messages.fetch(BOB, limit=arg)
                expected = model[:min(arg, limits.max_fetch)]
                self.assertEqual([(m.seq, m.body) for m in got],
                                 [(s, b) for s, b, _ in expected], ops)
                for entry in expected:
                    entry[2] = True
                last_fetch = got
            else:
                if op == "ack_seen":
                    if not last_fetch:
                        continue
                    upto = last_fetch[min(arg, len(last_fetch) - 1)].seq
                else:
                    upto = arg
                gone = [m for m in model if m[0] <= upto and m[2]]
                self.assertEqual(messages.ack(BOB, upto), len(gone), ops)
                processed.extend(m[0] for m in gone)
                model = [m for m in model if m not in gone]
                last_fetch = [m for m in last_fetch if m.seq > upto]
            self.assertEqual(messages.counts(BOB).count, len(model))
        # Acknowledged exactly once each, in sequence order.
        self.assertEqual(processed, sorted(set(processed)))
        self.assertEqual([m.seq for m in messages.fetch(BOB, limit=4)],
                         [m[0] for m in model[:4]])


class AsyncMessageStoreTests(StoreTestCase):
    def test_interface(self):
        self.assertTrue(verifyObject(IMessageStore, self.start().messages))

    @defer.inlineCallbacks
    def test_round_trip(self):
        store = self.start(message_limits=MessageLimits(max_count=2))
        yield store.accounts.create_account(ALICE, bytes(16))
        yield store.accounts.create_account(BOB, bytes(16))
        m = yield store.messages.store_message(BOB, ALICE, "message", b"hello")
        self.assertEqual(m.seq, 1)
        yield store.messages.store_message(BOB, ALICE, "message", b"again")
        yield self.assertFailure(store.messages.store_message(BOB, ALICE, "message", b"3"),
                                 QuotaExceeded)
        yield self.assertFailure(store.messages.store_message("nobody12", ALICE, "message",
                                                              b""), NoSuchAccount)
        got = yield store.messages.fetch(BOB)
        self.assertEqual([x.body for x in got], [b"hello", b"again"])
        self.assertEqual((yield store.messages.ack(BOB, 1)), 1)
        self.assertEqual((yield store.messages.counts(BOB)).count, 1)

    @defer.inlineCallbacks
    def test_calls_run_off_the_reactor_thread(self):
        store = self.start()
        yield store.accounts.create_account(BOB, bytes(16))
        opened = yield store.run(lambda opened: opened)
        # On this (the reactor's) thread the database refuses to work ...
        self.assertRaises(StoreError, opened.messages.fetch, BOB)
        # ... so these succeeding proves they ran on the store thread.
        idents = yield defer.gatherResults([
            store.messages.fetch(BOB),
            store.run(lambda opened: threading.get_ident())])
        self.assertNotEqual(idents[1], threading.get_ident())
        self.assertEqual(idents[0], [])


# -- the same tests on PostgreSQL ----------------------------------------------------------

class PostgreSQLStoreAndFetchTests(PostgreSQLEngine, StoreAndFetchTests):
    pass


class PostgreSQLQuotaTests(PostgreSQLEngine, QuotaTests):
    pass


class PostgreSQLIsolationTests(PostgreSQLEngine, IsolationTests):
    pass


class PostgreSQLAtomicityTests(PostgreSQLEngine, AtomicityTests):
    pass


class PostgreSQLExactlyOncePropertyTests(PostgreSQLEngine, ExactlyOncePropertyTests):
    pass


class PostgreSQLAsyncMessageStoreTests(PostgreSQLEngine, AsyncMessageStoreTests):
    pass
