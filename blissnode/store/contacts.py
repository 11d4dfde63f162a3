"""
Stored contact lists and authorisation between users.

What the event server keeps per account (docs/event-protocol-notes.rst §2.4,
§4): a list of entries keyed ``u/<skypename>``, each with a stable 32-bit
*handle* (what 6028 lists and 6024 fetches), a state, display and group
fields, and the opaque authorisation certificate (0x188 bytes in the real
network, signed by the *contact* for the owner; the server never makes or
checks one, it stores and returns the bytes).  ``g/`` (groups) and ``p/``
(own profile) entries are not stored here yet.

States of the owner's entry for a contact:

``pending_out``  the owner asked the contact for authorisation
``pending_in``   the contact asked the owner
``authorized``   accepted (both directions)
``blocked``      the owner refuses everything from the contact
``removed``      a removal record, only ever seen in :meth:`changes_since`

The two sides of a request change in **one transaction**: a request writes
the owner's ``pending_out`` entry, the target's ``pending_in`` entry and an
``auth_request`` message into the target's queue
(:mod:`blissnode.store.messages`); an answer updates both entries and
queues an ``auth_reply``.  Invariants kept between users A and B (tested):

* A ``pending_in`` for B  =>  B ``pending_out`` for A;
* A ``pending_out`` for B  =>  B has A as ``pending_in``, blocked, or not at all;
* A ``authorized`` for B  =>  B has A as ``authorized``, blocked, or not at all.

Change numbers: every transaction that changes an owner's list takes that
owner's next change number and stamps it on the entries it touched, so a
client holding number N asks :meth:`SyncContactStore.changes_since` for the
rest.  Removal records are kept (at most ``max_removed`` per owner); a
client whose N is older than the oldest pruned removal gets the whole list
(``full=True``).

Privacy: every method takes the authenticated owner's name and only ever
selects rows ``WHERE owner_id = <owner>``; the other side of a request is
touched only by the request logic itself.  A blocked user's requests and
messages are dropped without telling them (their own entry still shows
``pending_out``).
"""

import secrets
import time

import attr
from zope.interface import implementer

from blissnode.store.account import from_unix
from blissnode.store.errors import (
    ContactLimit,
    ContactStateError,
    InvalidField,
    NoSuchContact,
    QuotaExceeded,
)
from blissnode.store.interfaces import IContactStore
from blissnode.store.messages import (
    KIND_AUTH_REPLY,
    KIND_AUTH_REQUEST,
    MessageLimits,
    account_id,
    enqueue,
)
from blissnode.store.names import validate_skype_name
from blissnode.store.onthread import OnStoreThread

__all__ = [
    "AUTH_ACCEPTED",
    "AUTH_DENIED",
    "Contact",
    "ContactChanges",
    "ContactLimits",
    "LIVE_STATES",
    "SQLiteContactStore",
    "STATES",
    "SyncContactStore",
]

PENDING_OUT = "pending_out"
PENDING_IN = "pending_in"
AUTHORIZED = "authorized"
BLOCKED = "blocked"
REMOVED = "removed"

#: States an entry of a list can be in.
LIVE_STATES = (PENDING_OUT, PENDING_IN, AUTHORIZED, BLOCKED)
STATES = LIVE_STATES + (REMOVED,)

#: Bodies of the ``auth_reply`` messages.  GUESS: no public source shows an
#: authorisation answer on the event server; these are blissnode's own.
AUTH_ACCEPTED = b"accepted"
AUTH_DENIED = b"denied"

#: Hard bounds of the schema's CHECK constraints (migration 2).
_SCHEMA_MAX = {"display_name": 200, "group_name": 100, "certificate": 4096,
               "request_text": 1000}

#: Handles are 32-bit values (BLOB 0x35 holds big-endian 32-bit words).
MAX_HANDLE = 2 ** 32 - 1


@attr.s(frozen=True, slots=True)
class ContactLimits:
    """Bounds of one contact list.

    :ivar max_contacts: live entries (any state but ``removed``) per owner,
        pending and blocked ones included: a request that would push the
        *target's* list over it is refused too.
    :ivar max_removed: removal records kept per owner for change lists.
    :ivar max_display_name, max_group_name, max_request_text: characters.
    :ivar max_certificate: bytes of an authorisation certificate (the real
        ones have 0x188 = 392).
    """

    max_contacts = attr.ib(default=1000)
    max_removed = attr.ib(default=1000)
    max_display_name = attr.ib(default=200)
    max_group_name = attr.ib(default=100)
    max_request_text = attr.ib(default=1000)
    max_certificate = attr.ib(default=1024)

    def __attrs_post_init__(self):
        if self.max_contacts < 1 or self.max_removed < 0:
            raise ValueError("max_contacts must be >= 1 and max_removed >= 0")
        for field, bound in _SCHEMA_MAX.items():
            value = getattr(self, "max_" + field)
            if not 0 <= value <= bound:
                raise ValueError("max_%s must be 0..%d" % (field, bound))


@attr.s(frozen=True, slots=True)
class Contact:
    """One entry of a contact list, as its owner sees it.

    :ivar handle: stable 32-bit id of the entry in its owner's list (random,
        kept across removal and re-adding).
    :ivar name: the contact's Skype name (lower case).
    :ivar state: one of :data:`STATES`.
    :ivar certificate: the contact's opaque authorisation of the owner, or ``None``.
    :ivar request_text: the text of the request sent (``pending_out``) or
        received (``pending_in``), or ``None``.
    :ivar change_seq: the owner's change number of the last change to it.
    """

    handle = attr.ib()
    name = attr.ib()
    state = attr.ib()
    display_name = attr.ib(default=None)
    group_id = attr.ib(default=None)
    group_name = attr.ib(default=None)
    certificate = attr.ib(default=None, repr=lambda c: "None" if c is None
                          else "<%d bytes>" % (len(c),))
    request_text = attr.ib(default=None)
    created = attr.ib(default=None)
    updated = attr.ib(default=None)
    change_seq = attr.ib(default=0)

    @property
    def key(self):
        """The event-server entry key (STRING 0x34): ``u/<name>``."""
        return "u/" + self.name


@attr.s(frozen=True, slots=True)
class ContactChanges:
    """The answer to "what changed since N".

    :ivar since: the N asked for.
    :ivar seq: the owner's current change number (ask with it next time).
    :ivar full: ``True`` if N was too old (or unknown): ``entries`` is then
        the whole live list and the client must drop what it had.
    :ivar entries: changed entries (removals as state ``removed``), in
        change order.
    """

    since = attr.ib()
    seq = attr.ib()
    full = attr.ib()
    entries = attr.ib(converter=tuple)


class _Unset:
    def __repr__(self):
        return "UNSET"


#: "Leave this field as it is" for :meth:`SyncContactStore.update_contact`.
UNSET = _Unset()

_COLUMNS = ("handle, contact_name, state, display_name, group_id, group_name, certificate, "
            "request_text, created_at, updated_at, change_seq")


def _contact_from_row(row):
    (handle, name, state, display_name, group_id, group_name, certificate, request_text,
     created, updated, change_seq) = row
    return Contact(handle=handle, name=name, state=state, display_name=display_name,
                   group_id=group_id, group_name=group_name,
                   certificate=None if certificate is None else bytes(certificate),
                   request_text=request_text, created=from_unix(created),
                   updated=from_unix(updated), change_seq=change_seq)


def _text(label, value, limit, newlines=False):
    """``None`` for absent/empty; else text checked for type, length, control characters."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidField("%s must be text" % (label,))
    if len(value) > limit:
        raise InvalidField("%s may have at most %d characters, not %d"
                           % (label, limit, len(value)))
    allowed = "\n\t" if newlines else ""
    if any((ord(c) < 0x20 and c not in allowed) or ord(c) == 0x7f for c in value):
        raise InvalidField("%s must not contain control characters" % (label,))
    return value


def _blob(label, value, limit):
    if value is None or value == b"":
        return None
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidField("%s must be bytes" % (label,))
    value = bytes(value)
    if len(value) > limit:
        raise InvalidField("%s may have at most %d bytes, not %d" % (label, limit, len(value)))
    return value


def _group_id(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 31:
        raise InvalidField("a group id must be an integer 0..2**31-1")
    return value


class _Change:
    """One transaction's view: the cursor, the time, each owner's change number (taken once)."""

    def __init__(self, cursor, now):
        self.cursor = cursor
        self.now = now
        self._seq = {}

    def seq(self, owner_id):
        """The owner's change number for this transaction (the next one, taken on first use)."""
        if owner_id not in self._seq:
            self.cursor.execute("INSERT INTO contact_lists (owner_id) VALUES (?) "
                                "ON CONFLICT (owner_id) DO NOTHING", (owner_id,))
            (self._seq[owner_id],) = self.cursor.execute(
                "UPDATE contact_lists SET change_seq = change_seq + 1 WHERE owner_id = ? "
                "RETURNING change_seq", (owner_id,)).fetchone()
        return self._seq[owner_id]


class SyncContactStore:
    """The contact lists, synchronously (what runs on the store thread).

    :param database: an open :class:`~blissnode.store.sqlite.SQLiteDatabase`.
    :param limits: :class:`ContactLimits`.
    :param message_limits: the :class:`~blissnode.store.messages.MessageLimits`
        that bound the authorisation messages queued for the other side.
    :param clock: returns the current Unix time.
    :param random_handle: returns a candidate handle in 1..2**32-1 (tests
        pass a predictable one to force collisions).
    """

    #: GUESS: a refused requester is told (its entry is removed and an
    #: ``auth_reply`` "denied" is queued).  The real network's behaviour is
    #: unknown; a subclass sets this to False to leave the requester waiting
    #: in ``pending_out`` forever.
    tell_requester_on_deny = True

    #: GUESS: answers (``auth_reply``) are notifications: if the requester's
    #: queue is full, the entries still change (the requester sees them in
    #: its change list) and the message is skipped, so that a full queue of
    #: A never stops B from answering.  Requests, on the other hand, are
    #: refused with QuotaExceeded when the target's queue is full.
    reply_is_best_effort = True

    def __init__(self, database, limits=None, message_limits=None, clock=time.time,
                 random_handle=None):
        self._db = database
        self.limits = limits if limits is not None else ContactLimits()
        self.message_limits = message_limits if message_limits is not None else MessageLimits()
        self._clock = clock
        self._random_handle = random_handle or (lambda: 1 + secrets.randbelow(MAX_HANDLE))

    # -- row helpers (inside a transaction) --------------------------------------

    def _change(self, cursor):
        return _Change(cursor, int(self._clock()))

    @staticmethod
    def _row(cursor, owner_id, name):
        """The owner's entry for ``name`` as a :class:`Contact` (removed ones too), or ``None``."""
        row = cursor.execute("SELECT %s FROM contacts WHERE owner_id = ? AND contact_name = ?"
                             % (_COLUMNS,), (owner_id, name)).fetchone()
        return None if row is None else _contact_from_row(row)

    @classmethod
    def _state(cls, cursor, owner_id, name):
        """The live state of the owner's entry for ``name``, or ``None``."""
        entry = cls._row(cursor, owner_id, name)
        return None if entry is None or entry.state == REMOVED else entry.state

    def _new_handle(self, cursor, owner_id):
        for _ in range(64):
            handle = self._random_handle()
            if not 1 <= handle <= MAX_HANDLE:
                raise ValueError("random_handle gave %r" % (handle,))
            if not cursor.execute("SELECT 1 FROM contacts WHERE owner_id = ? AND handle = ?",
                                  (owner_id, handle)).fetchone():
                return handle
        raise ContactLimit("could not find a free entry handle")

    def _set(self, change, owner_id, name, state, whose="your", **fields):
        """Put the owner's entry for ``name`` into ``state`` (creating it), setting ``fields``.

        A new live entry (or a removed one coming back) counts against
        :attr:`ContactLimits.max_contacts`; ``whose`` names the list in the
        refusal.
        """
        cursor = change.cursor
        existing = self._row(cursor, owner_id, name)
        if existing is None or existing.state == REMOVED:
            (live,) = cursor.execute(
                "SELECT count(*) FROM contacts WHERE owner_id = ? AND state != 'removed'",
                (owner_id,)).fetchone()
            if live >= self.limits.max_contacts:
                raise ContactLimit("%s contact list is full (%d entries)"
                                   % (whose, self.limits.max_contacts))
        seq = change.seq(owner_id)
        if existing is None:
            values = dict(display_name=None, group_id=None, group_name=None, certificate=None,
                          request_text=None)
            values.update(fields)
            cursor.execute(
                "INSERT INTO contacts (owner_id, handle, contact_name, state, display_name, "
                "group_id, group_name, certificate, request_text, created_at, updated_at, "
                "change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (owner_id, self._new_handle(cursor, owner_id), name, state,
                 values["display_name"], values["group_id"], values["group_name"],
                 values["certificate"], values["request_text"], change.now, change.now, seq))
        else:
            assignments = ["state = ?", "updated_at = ?", "change_seq = ?"]
            parameters = [state, change.now, seq]
            for column, value in fields.items():
                assignments.append("%s = ?" % (column,))
                parameters.append(value)
            cursor.execute("UPDATE contacts SET %s WHERE owner_id = ? AND contact_name = ?"
                           % (", ".join(assignments),), parameters + [owner_id, name])
        return self._row(cursor, owner_id, name)

    def _remove(self, change, owner_id, name):
        """Turn the owner's entry for ``name`` into a removal record; prune old records."""
        self._set(change, owner_id, name, REMOVED, display_name=None, group_id=None,
                  group_name=None, certificate=None, request_text=None)
        cursor = change.cursor
        pruned = cursor.execute(
            "DELETE FROM contacts WHERE owner_id = ? AND state = 'removed' AND id NOT IN "
            "(SELECT id FROM contacts WHERE owner_id = ? AND state = 'removed' "
            " ORDER BY change_seq DESC, id DESC LIMIT ?) RETURNING change_seq",
            (owner_id, owner_id, self.limits.max_removed)).fetchall()
        if pruned:
            highest = max(seq for (seq,) in pruned)
            cursor.execute("UPDATE contact_lists SET pruned_seq = ? "
                           "WHERE owner_id = ? AND pruned_seq < ?", (highest, owner_id, highest))

    def _reply(self, change, recipient_id, sender, body):
        try:
            enqueue(change.cursor, recipient_id, sender, KIND_AUTH_REPLY, body, change.now,
                    self.message_limits)
        except QuotaExceeded:
            if not self.reply_is_best_effort:
                raise

    @staticmethod
    def _drop_requests(cursor, recipient_id, sender):
        """Delete the queued ``auth_request`` messages from ``sender`` (answered or withdrawn)."""
        cursor.execute("DELETE FROM offline_messages WHERE recipient_id = ? AND sender = ? "
                       "AND kind = ?", (recipient_id, sender, KIND_AUTH_REQUEST))

    def _withdraw_request(self, cursor, change, target_id, requester):
        """Remove the target's pending_in entry for ``requester`` and its queued request."""
        self._remove(change, target_id, requester)
        self._drop_requests(cursor, target_id, requester)

    def _listed(self, cursor, owner, name):
        """``(owner id, live state)`` of the owner's entry for ``name``;
        NoSuchContact if there is none."""
        owner_id = account_id(cursor, owner)
        state = self._state(cursor, owner_id, name)
        if state is None:
            raise NoSuchContact("%r is not in your contact list" % (name,))
        return owner_id, state

    def _two(self, cursor, owner, other):
        """Both account ids; refuses ``other == owner``."""
        if other == owner:
            raise InvalidField("a contact list cannot hold its own owner")
        return account_id(cursor, owner), account_id(cursor, other)

    # -- reading ------------------------------------------------------------------

    def list_contacts(self, owner, state=None):
        """The owner's live entries (or those in ``state``), sorted by name."""
        owner = validate_skype_name(owner)
        if state is not None and state not in LIVE_STATES:
            raise InvalidField("unknown contact state %r" % (state,))
        with self._db.transaction(readonly=True) as cursor:
            owner_id = account_id(cursor, owner)
            if state is None:
                rows = cursor.execute(
                    "SELECT %s FROM contacts WHERE owner_id = ? AND state != 'removed' "
                    "ORDER BY contact_name" % (_COLUMNS,), (owner_id,)).fetchall()
            else:
                rows = cursor.execute(
                    "SELECT %s FROM contacts WHERE owner_id = ? AND state = ? "
                    "ORDER BY contact_name" % (_COLUMNS,), (owner_id, state)).fetchall()
        return [_contact_from_row(row) for row in rows]

    def get_contact(self, owner, name):
        owner, name = validate_skype_name(owner), validate_skype_name(name)
        with self._db.transaction(readonly=True) as cursor:
            entry = self._row(cursor, account_id(cursor, owner), name)
        if entry is None or entry.state == REMOVED:
            raise NoSuchContact("%r is not in your contact list" % (name,))
        return entry

    def get_entry(self, owner, handle):
        owner = validate_skype_name(owner)
        if isinstance(handle, bool) or not isinstance(handle, int):
            raise InvalidField("a handle must be an integer")
        with self._db.transaction(readonly=True) as cursor:
            row = cursor.execute(
                "SELECT %s FROM contacts WHERE owner_id = ? AND handle = ? "
                "AND state != 'removed'" % (_COLUMNS,),
                (account_id(cursor, owner), handle)).fetchone()
        if row is None:
            raise NoSuchContact("no entry %r in your contact list" % (handle,))
        return _contact_from_row(row)

    def change_seq(self, owner):
        owner = validate_skype_name(owner)
        with self._db.transaction(readonly=True) as cursor:
            row = cursor.execute("SELECT change_seq FROM contact_lists WHERE owner_id = ?",
                                 (account_id(cursor, owner),)).fetchone()
        return row[0] if row else 0

    def changes_since(self, owner, seq):
        owner = validate_skype_name(owner)
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise InvalidField("a change number is an integer >= 0")
        with self._db.transaction(readonly=True) as cursor:
            owner_id = account_id(cursor, owner)
            row = cursor.execute(
                "SELECT change_seq, pruned_seq FROM contact_lists WHERE owner_id = ?",
                (owner_id,)).fetchone()
            current, pruned = row if row else (0, 0)
            # Older than a pruned removal, or newer than anything given out
            # (a client of a deleted and re-created account): start afresh.
            full = seq < pruned or seq > current
            if full:
                rows = cursor.execute(
                    "SELECT %s FROM contacts WHERE owner_id = ? AND state != 'removed' "
                    "ORDER BY change_seq, contact_name" % (_COLUMNS,), (owner_id,)).fetchall()
            else:
                rows = cursor.execute(
                    "SELECT %s FROM contacts WHERE owner_id = ? AND change_seq > ? "
                    "ORDER BY change_seq, contact_name" % (_COLUMNS,),
                    (owner_id, seq)).fetchall()
        return ContactChanges(since=seq, seq=current, full=full,
                              entries=[_contact_from_row(r) for r in rows])

    def is_blocked(self, owner, name):
        owner, name = validate_skype_name(owner), validate_skype_name(name)
        with self._db.transaction(readonly=True) as cursor:
            return self._state(cursor, account_id(cursor, owner), name) == BLOCKED

    def watchers(self, owner):
        owner = validate_skype_name(owner)
        with self._db.transaction(readonly=True) as cursor:
            owner_id = account_id(cursor, owner)
            rows = cursor.execute(
                "SELECT mine.contact_name FROM contacts AS mine "
                "JOIN accounts AS them ON them.name = mine.contact_name "
                "JOIN contacts AS theirs ON theirs.owner_id = them.id "
                "     AND theirs.contact_name = ? AND theirs.state = 'authorized' "
                "WHERE mine.owner_id = ? AND mine.state = 'authorized' "
                "ORDER BY mine.contact_name", (owner, owner_id)).fetchall()
        return [name for (name,) in rows]

    # -- changing -----------------------------------------------------------------

    def request_authorization(self, owner, target, text=None, certificate=None):
        owner, target = validate_skype_name(owner), validate_skype_name(target)
        text = _text("the request text", text, self.limits.max_request_text, newlines=True)
        certificate = _blob("the certificate", certificate, self.limits.max_certificate)
        with self._db.transaction(accounts=(owner, target)) as cursor:
            owner_id, target_id = self._two(cursor, owner, target)
            change = self._change(cursor)
            mine = self._state(cursor, owner_id, target)
            theirs = self._state(cursor, target_id, owner)
            if mine == AUTHORIZED:
                return self._row(cursor, owner_id, target)
            if theirs == PENDING_OUT:
                # They asked first: asking back is accepting.
                entry = self._set(change, owner_id, target, AUTHORIZED, request_text=None)
                self._drop_requests(cursor, owner_id, target)
                extra = {} if certificate is None else {"certificate": certificate}
                self._set(change, target_id, owner, AUTHORIZED, whose="their",
                          request_text=None, **extra)
                self._reply(change, target_id, owner, AUTH_ACCEPTED)
                return entry
            if theirs == AUTHORIZED:
                # They still have us authorised (we had removed them): no new question.
                entry = self._set(change, owner_id, target, AUTHORIZED, request_text=None)
                if certificate is not None:
                    self._set(change, target_id, owner, AUTHORIZED, certificate=certificate)
                return entry
            entry = self._set(change, owner_id, target, PENDING_OUT, request_text=text,
                              certificate=None)
            if theirs is None:
                self._set(change, target_id, owner, PENDING_IN, whose="the recipient's",
                          request_text=text, certificate=certificate, display_name=None,
                          group_id=None, group_name=None)
                enqueue(cursor, target_id, owner, KIND_AUTH_REQUEST,
                        (text or "").encode("utf-8"), change.now, self.message_limits)
            # theirs == PENDING_IN: asked before, not repeated; BLOCKED: dropped silently.
            return entry

    def accept_authorization(self, owner, requester, certificate=None):
        owner, requester = validate_skype_name(owner), validate_skype_name(requester)
        certificate = _blob("the certificate", certificate, self.limits.max_certificate)
        with self._db.transaction(accounts=(owner, requester)) as cursor:
            owner_id, requester_id = self._two(cursor, owner, requester)
            self._pending_in(cursor, owner_id, requester)
            change = self._change(cursor)
            entry = self._set(change, owner_id, requester, AUTHORIZED, request_text=None)
            self._drop_requests(cursor, owner_id, requester)
            if self._state(cursor, requester_id, owner) == PENDING_OUT:
                extra = {} if certificate is None else {"certificate": certificate}
                self._set(change, requester_id, owner, AUTHORIZED, whose="their",
                          request_text=None, **extra)
                self._reply(change, requester_id, owner, AUTH_ACCEPTED)
            return entry

    def deny_authorization(self, owner, requester, block=False):
        owner, requester = validate_skype_name(owner), validate_skype_name(requester)
        with self._db.transaction(accounts=(owner, requester)) as cursor:
            owner_id, requester_id = self._two(cursor, owner, requester)
            self._pending_in(cursor, owner_id, requester)
            change = self._change(cursor)
            if block:
                self._set(change, owner_id, requester, BLOCKED, request_text=None,
                          certificate=None)
            else:
                self._remove(change, owner_id, requester)
            self._drop_requests(cursor, owner_id, requester)
            if (self.tell_requester_on_deny
                    and self._state(cursor, requester_id, owner) == PENDING_OUT):
                self._remove(change, requester_id, owner)
                self._reply(change, requester_id, owner, AUTH_DENIED)

    def _pending_in(self, cursor, owner_id, requester):
        state = self._state(cursor, owner_id, requester)
        if state is None:
            raise NoSuchContact("%r has not asked you for authorisation" % (requester,))
        if state != PENDING_IN:
            raise ContactStateError("%r has no pending request (the entry is %s)"
                                    % (requester, state))

    def remove_contact(self, owner, name):
        owner, name = validate_skype_name(owner), validate_skype_name(name)
        with self._db.transaction(accounts=(owner, name)) as cursor:
            owner_id, state = self._listed(cursor, owner, name)
            change = self._change(cursor)
            other = cursor.execute("SELECT id FROM accounts WHERE name = ?", (name,)).fetchone()
            if (state == PENDING_OUT and other is not None
                    and self._state(cursor, other[0], owner) == PENDING_IN):
                self._withdraw_request(cursor, change, other[0], owner)
            if state == PENDING_IN:
                # Ignoring a request: its queued message goes with it.
                self._drop_requests(cursor, owner_id, name)
            self._remove(change, owner_id, name)

    def block_contact(self, owner, name):
        owner, name = validate_skype_name(owner), validate_skype_name(name)
        with self._db.transaction(accounts=(owner, name)) as cursor:
            owner_id, other_id = self._two(cursor, owner, name)
            change = self._change(cursor)
            if self._state(cursor, other_id, owner) == PENDING_IN:
                # Our own request to them is withdrawn with the block.
                self._withdraw_request(cursor, change, other_id, owner)
            entry = self._set(change, owner_id, name, BLOCKED, request_text=None,
                              certificate=None)
            cursor.execute("DELETE FROM offline_messages WHERE recipient_id = ? AND sender = ?",
                           (owner_id, name))
            return entry

    def unblock_contact(self, owner, name):
        owner, name = validate_skype_name(owner), validate_skype_name(name)
        with self._db.transaction(accounts=(owner, name)) as cursor:
            owner_id, state = self._listed(cursor, owner, name)
            if state != BLOCKED:
                raise ContactStateError("%r is not blocked (the entry is %s)" % (name, state))
            self._remove(self._change(cursor), owner_id, name)

    def update_contact(self, owner, name, display_name=UNSET, group_id=UNSET,
                       group_name=UNSET, certificate=UNSET):
        owner, name = validate_skype_name(owner), validate_skype_name(name)
        fields = {}
        if display_name is not UNSET:
            fields["display_name"] = _text("the display name", display_name,
                                           self.limits.max_display_name)
        if group_id is not UNSET:
            fields["group_id"] = _group_id(group_id)
        if group_name is not UNSET:
            fields["group_name"] = _text("the group name", group_name,
                                         self.limits.max_group_name)
        if certificate is not UNSET:
            fields["certificate"] = _blob("the certificate", certificate,
                                          self.limits.max_certificate)
        with self._db.transaction(accounts=(owner, name)) as cursor:
            owner_id, state = self._listed(cursor, owner, name)
            if not fields:
                return self._row(cursor, owner_id, name)
            return self._set(self._change(cursor), owner_id, name, state, **fields)


@implementer(IContactStore)
class SQLiteContactStore(OnStoreThread):
    """:class:`IContactStore` over SQLite: every call runs on the store thread.

    :param store_service: the :class:`~blissnode.store.sqlite.StoreService`
        whose thread (and database) the calls share with the accounts.
    """

    _part = "contacts"

    def list_contacts(self, owner, state=None):
        return self._run("list_contacts", owner, state=state)

    def get_contact(self, owner, name):
        return self._run("get_contact", owner, name)

    def get_entry(self, owner, handle):
        return self._run("get_entry", owner, handle)

    def change_seq(self, owner):
        return self._run("change_seq", owner)

    def changes_since(self, owner, seq):
        return self._run("changes_since", owner, seq)

    def request_authorization(self, owner, target, text=None, certificate=None):
        return self._run("request_authorization", owner, target, text=text,
                         certificate=certificate)

    def accept_authorization(self, owner, requester, certificate=None):
        return self._run("accept_authorization", owner, requester, certificate=certificate)

    def deny_authorization(self, owner, requester, block=False):
        return self._run("deny_authorization", owner, requester, block=block)

    def remove_contact(self, owner, name):
        return self._run("remove_contact", owner, name)

    def block_contact(self, owner, name):
        return self._run("block_contact", owner, name)

    def unblock_contact(self, owner, name):
        return self._run("unblock_contact", owner, name)

    def update_contact(self, owner, name, **fields):
        return self._run("update_contact", owner, name, **fields)

    def is_blocked(self, owner, name):
        return self._run("is_blocked", owner, name)

    def watchers(self, owner):
        return self._run("watchers", owner)
