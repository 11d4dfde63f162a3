"""
Offline messages: a per-recipient queue with exactly-once delivery.

GUESS: no public source shows offline messages passing through the Skype
event server (docs/event-protocol-notes.rst §6, event.md E7); in the P2P era
offline text reached the recipient by chat synchronisation between the two
clients.  This queue is blissnode's own feature: it carries the event
server's authorisation requests and answers (kinds ``auth_request`` and
``auth_reply``, queued by :mod:`blissnode.store.contacts` in the same
transaction as the contact-list change) and text for our reference client
(kind ``message``).  The store knows no protocol: a body is opaque bytes.

Delivery contract (what makes "in order, exactly once" possible):

* every message gets the next **sequence number** of its recipient's queue
  (1, 2, 3, ...; never reused, even after deletion);
* :meth:`SyncMessageStore.fetch` returns the oldest un-acknowledged messages
  in sequence order and marks them *delivered*; fetching again without an
  acknowledgement returns the same messages again, in the same order;
* :meth:`SyncMessageStore.ack` ``(recipient, up_to_seq)`` deletes the
  delivered messages with a sequence number up to ``up_to_seq``; a message
  that no fetch has returned yet is never deleted by an ack, so a client
  acknowledging too much (or a message arriving between fetch and ack)
  loses nothing.  After an ack nothing acknowledged can come back.

A quota by count and by bytes bounds each queue: a client that never
acknowledges fills its own queue, and further messages to it are refused
with :class:`~blissnode.store.errors.QuotaExceeded` (nothing is stored).
Within it each sender has a share of its own (``max_sender_count``,
``max_sender_bytes``), so one account cannot fill another's queue for
everybody.
"""

import re
import time

import attr
from zope.interface import implementer

from blissnode.store.account import from_unix
from blissnode.store.errors import (
    InvalidField,
    NoSuchAccount,
    QuotaExceeded,
    SenderBlocked,
)
from blissnode.store.interfaces import IMessageStore
from blissnode.store.names import validate_skype_name
from blissnode.store.onthread import OnStoreThread

__all__ = [
    "KIND_AUTH_REPLY",
    "KIND_AUTH_REQUEST",
    "KIND_MESSAGE",
    "MAX_BODY_BYTES",
    "MessageLimits",
    "OfflineMessage",
    "QueueCounts",
    "SQLiteMessageStore",
    "SyncMessageStore",
]

#: Message kinds blissnode itself queues.  Other kinds (lower-case letters,
#: digits and ``_``, up to 32 characters) are accepted and stored as they are.
KIND_MESSAGE = "message"
KIND_AUTH_REQUEST = "auth_request"
KIND_AUTH_REPLY = "auth_reply"

_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")

#: Largest body the schema accepts (its CHECK constraint); limits may be lower.
MAX_BODY_BYTES = 65536

#: Upper bound of one fetch, whatever the caller asks.
MAX_FETCH = 1000


@attr.s(frozen=True, slots=True)
class MessageLimits:
    """Per-recipient bounds of the offline-message queue.

    :ivar max_count: messages stored for one recipient at most.
    :ivar max_bytes: sum of the body sizes stored for one recipient at most.
    :ivar max_body_bytes: largest single body (at most :data:`MAX_BODY_BYTES`).
    :ivar max_fetch: most messages one fetch returns.
    :ivar max_sender_count, max_sender_bytes: what one sender may have
        waiting in one recipient's queue (issue 17.8: any account could
        fill any user's queue; now it fills its own share only).
    """

    max_count = attr.ib(default=500)
    max_bytes = attr.ib(default=1024 * 1024)
    max_sender_count = attr.ib(default=100)
    max_sender_bytes = attr.ib(default=256 * 1024)
    max_body_bytes = attr.ib(default=MAX_BODY_BYTES)
    max_fetch = attr.ib(default=100)

    @max_body_bytes.validator
    def _check_body(self, attribute, value):
        if not 0 < value <= MAX_BODY_BYTES:
            raise ValueError("max_body_bytes must be 1..%d" % (MAX_BODY_BYTES,))

    @max_fetch.validator
    def _check_fetch(self, attribute, value):
        if not 0 < value <= MAX_FETCH:
            raise ValueError("max_fetch must be 1..%d" % (MAX_FETCH,))


@attr.s(frozen=True, slots=True)
class OfflineMessage:
    """One stored message, as returned to its recipient.

    :ivar seq: its delivery sequence number in the recipient's queue.
    :ivar sender: the sender's Skype name (lower case).
    :ivar kind: ``"message"``, ``"auth_request"``, ``"auth_reply"`` or another kind.
    :ivar body: the opaque bytes.
    :ivar created: when it was stored (aware UTC datetime).
    :ivar fetch_count: how many fetches have returned it (0 for a new one;
        a fetch counts itself).
    """

    seq = attr.ib()
    sender = attr.ib()
    kind = attr.ib()
    body = attr.ib(repr=lambda body: "<%d bytes>" % (len(body),))
    created = attr.ib()
    fetch_count = attr.ib(default=0)


@attr.s(frozen=True, slots=True)
class QueueCounts:
    """The size of one recipient's queue.

    :ivar count: messages stored (not yet acknowledged).
    :ivar bytes: sum of their body sizes.
    :ivar delivered: how many of them a fetch has returned (awaiting an ack).
    :ivar last_seq: the last sequence number given out (0: none yet).
    """

    count = attr.ib()
    bytes = attr.ib()
    delivered = attr.ib()
    last_seq = attr.ib()


def account_id(cursor, name):
    """The row id of the account ``name`` (already validated); :class:`NoSuchAccount` if none."""
    row = cursor.execute("SELECT id FROM accounts WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NoSuchAccount("no such account: %r" % (name,))
    return row[0]


def check_kind(kind):
    """``kind`` if it is a valid message kind, else :class:`InvalidField`."""
    if not isinstance(kind, str) or not _KIND_RE.match(kind):
        raise InvalidField("a message kind is 1 to 32 lower-case letters, digits or _, "
                           "starting with a letter")
    return kind


def check_body(body, limit):
    """``body`` as :class:`bytes` if it is bytes-like and at most ``limit`` bytes long."""
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise InvalidField("a message body must be bytes, not %s" % (type(body).__name__,))
    body = bytes(body)
    if len(body) > limit:
        raise InvalidField("a message body may have at most %d bytes, this one has %d"
                           % (limit, len(body)))
    return body


def _check_int(label, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidField("%s must be an integer >= %d" % (label, minimum))
    return value


def enqueue(cursor, recipient_id, sender, kind, body, now, limits):
    """Append one message to a queue inside the caller's transaction; return its sequence number.

    The caller has validated ``sender``, ``kind`` and ``body``.  Raises
    :class:`QuotaExceeded` (and writes nothing) if the message does not fit.
    """
    count, size = cursor.execute(
        "SELECT count(*), coalesce(sum(length(body)), 0) FROM offline_messages "
        "WHERE recipient_id = ?", (recipient_id,)).fetchone()
    if count + 1 > limits.max_count:
        raise QuotaExceeded("the recipient's offline-message queue is full (%d messages)"
                            % (limits.max_count,))
    if size + len(body) > limits.max_bytes:
        raise QuotaExceeded("the recipient's offline-message queue is full (%d bytes)"
                            % (limits.max_bytes,))
    mine, my_size = cursor.execute(
        "SELECT count(*), coalesce(sum(length(body)), 0) FROM offline_messages "
        "WHERE recipient_id = ? AND sender = ?", (recipient_id, sender)).fetchone()
    if mine + 1 > limits.max_sender_count or my_size + len(body) > limits.max_sender_bytes:
        raise QuotaExceeded("this sender's share of the recipient's offline-message queue "
                            "is full (%d messages, %d bytes)"
                            % (limits.max_sender_count, limits.max_sender_bytes))
    cursor.execute("INSERT INTO message_queues (recipient_id) VALUES (?) "
                   "ON CONFLICT (recipient_id) DO NOTHING", (recipient_id,))
    (seq,) = cursor.execute(
        "UPDATE message_queues SET last_seq = last_seq + 1 WHERE recipient_id = ? "
        "RETURNING last_seq", (recipient_id,)).fetchone()
    cursor.execute(
        "INSERT INTO offline_messages (recipient_id, seq, sender, kind, body, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)", (recipient_id, seq, sender, kind, body, now))
    return seq


def _message_from_row(row):
    seq, sender, kind, body, created, fetch_count = row
    return OfflineMessage(seq=seq, sender=sender, kind=kind, body=bytes(body),
                          created=from_unix(created), fetch_count=fetch_count)


class SyncMessageStore:
    """The offline-message queues, synchronously (what runs on the store thread).

    :param database: an open :class:`~blissnode.store.sqlite.SQLiteDatabase`.
    :param limits: :class:`MessageLimits`.
    :param clock: returns the current Unix time.

    Every method takes the recipient's name: the caller passes the
    authenticated user, and no method reaches another recipient's queue.
    """

    def __init__(self, database, limits=None, clock=time.time):
        self._db = database
        self.limits = limits if limits is not None else MessageLimits()
        self._clock = clock

    def store_message(self, recipient, sender, kind, body):
        """Queue ``body`` from ``sender`` for ``recipient``; return the :class:`OfflineMessage`.

        Fails with :class:`NoSuchAccount` (no such recipient),
        :class:`SenderBlocked` (the recipient blocked the sender),
        :class:`QuotaExceeded`, :class:`InvalidName` or :class:`InvalidField`.
        """
        recipient = validate_skype_name(recipient)
        sender = validate_skype_name(sender)
        kind = check_kind(kind)
        body = check_body(body, self.limits.max_body_bytes)
        now = int(self._clock())
        with self._db.transaction(accounts=(recipient,)) as cursor:
            rid = account_id(cursor, recipient)
            if cursor.execute(
                    "SELECT 1 FROM contacts WHERE owner_id = ? AND contact_name = ? "
                    "AND state = 'blocked'", (rid, sender)).fetchone():
                raise SenderBlocked("%r does not accept messages from %r" % (recipient, sender))
            seq = enqueue(cursor, rid, sender, kind, body, now, self.limits)
        return OfflineMessage(seq=seq, sender=sender, kind=kind, body=body,
                              created=from_unix(now), fetch_count=0)

    def fetch(self, recipient, limit=None):
        """The oldest un-acknowledged messages of ``recipient``, in sequence order.

        At most ``limit`` (and :attr:`MessageLimits.max_fetch`).  They are
        marked delivered (only delivered messages can be acknowledged) and
        are returned again by the next fetch until acknowledged.
        """
        recipient = validate_skype_name(recipient)
        limit = self.limits.max_fetch if limit is None else min(
            _check_int("the fetch limit", limit, 1), self.limits.max_fetch)
        now = int(self._clock())
        with self._db.transaction(accounts=(recipient,)) as cursor:
            rid = account_id(cursor, recipient)
            rows = cursor.execute(
                "UPDATE offline_messages SET fetch_count = fetch_count + 1, "
                "delivered_at = coalesce(delivered_at, ?) "
                "WHERE id IN (SELECT id FROM offline_messages WHERE recipient_id = ? "
                "ORDER BY seq LIMIT ?) "
                "RETURNING seq, sender, kind, body, created_at, fetch_count",
                (now, rid, limit)).fetchall()
        # RETURNING gives no order guarantee: sort by sequence number.
        return sorted((_message_from_row(row) for row in rows), key=lambda m: m.seq)

    def ack(self, recipient, up_to_seq):
        """Delete ``recipient``'s delivered messages with ``seq <= up_to_seq``; return how many."""
        recipient = validate_skype_name(recipient)
        up_to_seq = _check_int("the acknowledged sequence number", up_to_seq)
        with self._db.transaction(accounts=(recipient,)) as cursor:
            rid = account_id(cursor, recipient)
            cursor.execute(
                "DELETE FROM offline_messages WHERE recipient_id = ? AND seq <= ? "
                "AND delivered_at IS NOT NULL", (rid, up_to_seq))
            return cursor.rowcount

    def counts(self, recipient):
        """A :class:`QueueCounts` for ``recipient``'s queue."""
        recipient = validate_skype_name(recipient)
        with self._db.transaction(readonly=True) as cursor:
            rid = account_id(cursor, recipient)
            count, size, delivered = cursor.execute(
                "SELECT count(*), coalesce(sum(length(body)), 0), count(delivered_at) "
                "FROM offline_messages WHERE recipient_id = ?", (rid,)).fetchone()
            row = cursor.execute("SELECT last_seq FROM message_queues WHERE recipient_id = ?",
                                 (rid,)).fetchone()
        return QueueCounts(count=count, bytes=size, delivered=delivered,
                           last_seq=row[0] if row else 0)


    def queue_sizes(self, limit=1000):
        """Every non-empty queue as ``(recipient, count, bytes)``, largest
        first, at most ``limit`` of them: what operators watch (it reads
        every queue, so it is an operator's call, never a client's)."""
        return [(name, count, size) for name, count, size in self._db.read(
            "SELECT a.name, count(*), coalesce(sum(length(m.body)), 0) "
            "FROM offline_messages m JOIN accounts a ON a.id = m.recipient_id "
            "GROUP BY a.name ORDER BY count(*) DESC, a.name LIMIT ?", (int(limit),))]

@implementer(IMessageStore)
class SQLiteMessageStore(OnStoreThread):
    """:class:`IMessageStore` over SQLite: every call runs on the store thread.

    :param store_service: the :class:`~blissnode.store.sqlite.StoreService`
        whose thread (and database) the calls share with the accounts.
    """

    _part = "messages"

    def store_message(self, recipient, sender, kind, body):
        return self._run("store_message", recipient, sender, kind, body)

    def fetch(self, recipient, limit=None):
        return self._run("fetch", recipient, limit=limit)

    def ack(self, recipient, up_to_seq):
        return self._run("ack", recipient, up_to_seq)

    def counts(self, recipient):
        return self._run("counts", recipient)
