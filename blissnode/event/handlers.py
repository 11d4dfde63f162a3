"""
:class:`EventHandlers`: what the event server answers, request code by
request code -- the base implementation of
:class:`~blissnode.event.interfaces.IEventHandlers` -- and its later
generations:

==================  ============  ============  =============  ==============
class               versions      transport     first request  host id item
==================  ============  ============  =============  ==============
EventHandlers       1.4 2.5 3.8   classic       6028 (BATO)    INT64 0x31 GUESS
EventHandlers4x     4.0 .. 4.2    classic       6030 (FAKE)    INT64 0x31 (FAKE)
EventHandlers55     5.5 .. 6.16   DH-384 + RC4  6030 (SOS2)    INT64 0x3A (SOS2)
==================  ============  ============  =============  ==============

The server side hardly differs between them: it accepts either host-id
item, answers 6028 whether or not 6030 came first, and the transport is
detected from the first bytes.  The class attributes record the facts for
the docs and the reference client.

Every value the spec leaves open is a class constant or a method marked
``GUESS:``; every request code that is blissnode's own is served by a method
named ``guess_...`` and listed in :data:`blissnode.event.codes.GUESS_REQUESTS`
(one table, :attr:`EventHandlers.request_codes`, that a version overrides).
"""

import zlib

from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from blissnode.event import codes as C
from blissnode.event.interfaces import EventRefusal, IEventHandlers
from blissnode.wire.server_session import TRANSPORT_CLASSIC
from blissnode.store.errors import (
    ContactLimit,
    ContactStateError,
    InvalidField,
    InvalidName,
    NoSuchAccount,
    NoSuchContact,
    QuotaExceeded,
    SenderBlocked,
)
from blissnode.store.names import validate_skype_name
from blissnode.wire import objects
from blissnode.wire.login_messages import parse_event_request
from blissnode.wire.objects import Blob, Int, String

log = Logger()

__all__ = ["EventHandlers", "ROLE", "PROFILE_ENTRIES"]

ROLE = "event"

#: GUESS: the own-profile entries (``p/<property>``, notes 2.4) blissnode
#: serves, with fixed handles (CRC-32 of the key).  A contact entry whose
#: random handle collides with one of them wins; the profile entry is then
#: simply not listed.
PROFILE_ENTRIES = ("p/email", "p/mood")


def profile_handle(key):
    return zlib.crc32(key.encode("ascii")) or 1


_STORE_REFUSALS = (
    (NoSuchAccount, "unknown_user"),
    (InvalidName, "unknown_user"),
    (NoSuchContact, "not_in_list"),
    (ContactStateError, "wrong_state"),
    (ContactLimit, "list_full"),
    (QuotaExceeded, "quota_exceeded"),
    (InvalidField, "malformed"),
)


def refusal_for(exc):
    """The :class:`EventRefusal` for a store exception, or ``None``."""
    for cls, reason in _STORE_REFUSALS:
        if isinstance(exc, cls):
            return EventRefusal(reason, str(exc))
    return None


def _refuse_store_errors(failure):
    """Errback: turn a store failure into the matching :class:`EventRefusal`."""
    refusal = refusal_for(failure.value)
    if refusal is not None:
        raise refusal
    return failure


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


@implementer(IEventHandlers)
class EventHandlers(object):
    """The base (oldest-client: 1.4, 2.5, 3.8) behaviour of an event server."""

    #: GUESS (event.md E2): 1.x-4.x use the classic hello (VERIFIED for the
    #: 1.2 and 1.4 event-server bytes).
    transport = TRANSPORT_CLASSIC
    #: Request code -> method.  The known codes plus blissnode's own (GUESS).
    request_codes = {**C.KNOWN_REQUESTS, **C.GUESS_REQUESTS}
    REFUSAL_CODES = C.REFUSAL_CODES
    #: GUESS (notes 2.2): INT 0x0A = 3000 in *every* success answer.  FAKE
    #: requires it in the 6030 answer and ignores it elsewhere ("obsolete
    #: authentication answer"), so it costs nothing to add.
    AUTH_OK_IN_EVERY_REPLY = True
    #: GUESS: a full 6028 answer lists at least this many handles, padding a
    #: short list with the own-profile entries (empty values when unset).
    #: SOS2 (skycontact3) requests every handle but the last and then waits
    #: for one 6024 answer per request: with fewer than two handles it waits
    #: for ever (ERRATA: "SOS2 hangs on an empty contact list").  Real
    #: accounts always had entries (echo123 at least).  0 switches it off.
    MIN_LISTED = 2
    #: GUESS (E10): the 6016 cursor is the contact list's change number
    #: plus this base.
    CURSOR_BASE = 0
    #: GUESS: how the 6030 answer tells a client that messages are waiting
    #: (INT 0x4A).  Real clients ignore unknown items (they look items up by
    #: id, login.md 7.3).
    PENDING_IN_SESSION_START = True
    #: GUESS: a message to a user who has blocked the sender is answered as
    #: if it was stored (the sender must not learn about the block).
    TELL_SENDER_BLOCKED = False
    #: Limits of blissnode's own requests (GUESS values).
    MAX_MESSAGE_BYTES = 8000
    MAX_MOOD_CHARS = 200
    SEARCH_LIMIT = 50
    INBOX_BATCH = 50
    #: A reply record must stay below 64 KiB (16-bit record length).
    MAX_REPLY_BYTES = 60000
    #: GUESS (event.md E9): push presence changes on the watcher's event
    #: connection (records with header {INT 0 = 6190, INT 2 = 0}).
    PUSH_ON_EVENT_CONNECTION = True

    def __init__(self, version=None):
        self.version = version

    def __repr__(self):
        return "<%s %s>" % (type(self).__name__,
                            getattr(self.version, "label", None) or "default")

    # -- framing ------------------------------------------------------------------

    def parse_request(self, plaintext):
        return parse_event_request(plaintext)

    def method_for(self, code):
        return self.request_codes.get(code, "unknown_request")

    def auth_ok_items(self):
        return [Int(C.I_AUTH_OK, C.AUTH_OK_VALUE)]

    def build_success(self, request_id, items):
        items = list(items or ())
        if self.AUTH_OK_IN_EVERY_REPLY and not any(
                it.id == C.I_AUTH_OK and it.TYPE == Int.TYPE for it in items):
            items = self.auth_ok_items() + items
        return C.encode_record(C.reply_header(C.RESULT_OK, request_id), items)

    def refusal_code(self, reason):
        return self.REFUSAL_CODES.code(reason)

    def refusal_answer(self, request_code, reason):
        """What a refusal of ``request_code`` (None: unreadable) for
        ``reason`` sends: a reason whose code the client knows, or None for
        a clean close of the connection.

        Real clients know one refusal code, 8401 (SOS2 stops on it and waits
        for anything else, ERRATA): a failed authentication is 8401 for
        every request; any other refusal of a request real clients send --
        or of one we cannot read -- closes the connection instead of
        answering a code that leaves them waiting.  blissnode's own
        requests (only our client sends them) get blissnode's codes.  GUESS
        for what the real server did in the other cases.
        """
        if reason == "auth_failed":
            return reason
        if request_code in C.GUESS_REQUESTS:
            return reason
        return None

    def build_refusal(self, request_id, reason):
        """``{INT 1 = code, INT 2 = id}`` + ``41 00`` (event.md 6)."""
        return C.encode_record(C.reply_header(self.refusal_code(reason), request_id), [])

    def build_push(self, code, items):
        return C.encode_record(C.push_header(code), items)

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def need(call, item_id, cls, what):
        value = call.items.value(item_id, cls)
        if value is None:
            raise EventRefusal("malformed", "%s without %s 0x%x" % (what, cls.__name__, item_id))
        return value

    def need_name(self, call, what):
        raw = self.need(call, C.V_NAME, String, what)
        try:
            return validate_skype_name(_text(raw))
        except InvalidName as e:
            raise EventRefusal("unknown_user", str(e))

    def optional_text(self, call, item_id, limit, what):
        raw = call.items.value(item_id, String)
        if raw is None:
            return None
        if len(raw) > limit * 4:
            raise EventRefusal("too_large", "%s too long" % (what,))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EventRefusal("malformed", "%s is not UTF-8" % (what,))
        if len(text) > limit:
            raise EventRefusal("too_large", "%s longer than %d characters" % (what, limit))
        return text

    def buddy_status(self, contact):
        """GUESS: INT 0x79 for a stored state (codes.BUDDY_STATUS)."""
        return C.BUDDY_STATUS.get(contact.state, 0)

    def entry_value(self, contact):
        """BLOB 0x33 of a ``u/`` entry: a 0x41 list with FAKE's items
        (STRING 0x10, INT 0x79, BLOB 3, INT 0x269, STRING 0x25C) and
        blissnode's GUESS ones (display name 0x15, request text 0x50,
        blocked INT 0x5D = 1)."""
        items = [String(C.V_NAME, contact.name.encode("utf-8")),
                 Int(C.V_BUDDY_STATUS, self.buddy_status(contact))]
        if contact.certificate:
            items.append(Blob(C.V_CERTIFICATE, contact.certificate))
        if contact.display_name:
            items.append(String(C.GUESS_V_DISPLAY_NAME, contact.display_name.encode("utf-8")))
        if contact.group_id is not None:
            items.append(Int(C.V_GROUP_ID, contact.group_id))
        if contact.group_name:
            items.append(String(C.V_GROUP_NAME, contact.group_name.encode("utf-8")))
        if contact.request_text:
            items.append(String(C.V_AUTH_TEXT, contact.request_text.encode("utf-8")))
        if contact.state == "blocked":
            items.append(Int(C.V_BLOCKED, 1))
        return objects.encode_objects(items)

    def entry_items(self, contact):
        return [Int(C.I_HANDLE, contact.handle), String(C.I_KEY, contact.key.encode("utf-8")),
                Blob(C.I_VALUE, self.entry_value(contact))]

    @defer.inlineCallbacks
    def profile_entries(self, call):
        """``{key: value bytes}`` of the user's own ``p/`` entries (GUESS:
        ``p/email`` from the account, ``p/mood`` from presence)."""
        out = {}
        account = yield call.service.accounts.get_account(call.user)
        if account is not None and account.email:
            out["p/email"] = account.email.encode("utf-8")
        mood = call.service.presence.own_state(call.user).mood
        if mood:
            out["p/mood"] = mood.encode("utf-8")
        return out

    # -- known request codes ---------------------------------------------------------------

    @defer.inlineCallbacks
    def session_start(self, call):
        """6030: INT 0x0A = 3000 (FAKE), and GUESS INT 0x4A = queued messages."""
        items = self.auth_ok_items()
        if self.PENDING_IN_SESSION_START:
            counts = yield call.service.messages.counts(call.user)
            items.append(Int(C.GUESS_I_PENDING, counts.count))
        return items

    @defer.inlineCallbacks
    def entry_handles(self, call):
        """6028: BLOB 0x35 = one big-endian u32 per entry (contacts, then own
        profile entries).  GUESS: with INT 0x2E = N only the entries changed
        after change number N, BLOB 0x36 = removed handles, INT 0x37 = 1
        when N was too old and the whole list follows; INT 0x2F = the
        current change number in every answer."""
        since = call.items.value(C.GUESS_I_SINCE, Int)
        changes = yield call.service.contacts.changes_since(call.user, since or 0)
        live = [c for c in changes.entries if c.state != "removed"]
        handles = [c.handle for c in live]
        items = []
        if since is None or changes.full:
            taken = set(handles)
            profile = yield self.profile_entries(call)
            for key in PROFILE_ENTRIES:
                h = profile_handle(key)
                if key in profile and h not in taken:
                    handles.append(h)
            for key in PROFILE_ENTRIES:
                # Pad a short list with empty profile entries (see MIN_LISTED).
                h = profile_handle(key)
                if len(handles) < self.MIN_LISTED and h not in handles:
                    handles.append(h)
        else:
            removed = [c.handle for c in changes.entries if c.state == "removed"]
            items.append(Blob(C.GUESS_I_REMOVED, C.pack_handles(removed)))
        items.insert(0, Blob(C.I_HANDLES, C.pack_handles(handles)))
        items.append(Int(C.GUESS_I_CHANGE_SEQ, changes.seq))
        if since is not None and changes.full:
            items.append(Int(C.GUESS_I_FULL, 1))
        return items

    @defer.inlineCallbacks
    def entry_fetch(self, call):
        """6024: STRING 0x34 = key, BLOB 0x33 = value of the entry INT 0x32."""
        handle = self.need(call, C.I_HANDLE, Int, "6024")
        try:
            contact = yield call.service.contacts.get_entry(call.user, handle)
        except NoSuchContact:
            contact = None
        if contact is not None:
            return self.entry_items(contact)[1:]
        profile = yield self.profile_entries(call)
        for key in PROFILE_ENTRIES:
            if handle == profile_handle(key) and (key in profile or self.MIN_LISTED):
                return [String(C.I_KEY, key.encode("ascii")),
                        Blob(C.I_VALUE, profile.get(key, b""))]
        raise EventRefusal("not_in_list", "no entry %d in your list" % (handle,))

    @defer.inlineCallbacks
    def pending_events(self, call):
        """6016: GUESS (E10) INT 0x2D = CURSOR_BASE + the contact list's
        change number, INT 0x4A = queued messages.  A client whose cursor
        is behind has news: entries (6028 with INT 0x2E) or messages."""
        seq = yield call.service.contacts.change_seq(call.user)
        counts = yield call.service.messages.counts(call.user)
        return [Int(C.I_CURSOR, self.CURSOR_BASE + seq), Int(C.GUESS_I_PENDING, counts.count)]

    @defer.inlineCallbacks
    def pending_events_other(self, call):
        """6017: GUESS INT 0x2D = the last sequence number of the user's
        offline-message queue (the "other class" of events)."""
        counts = yield call.service.messages.counts(call.user)
        return [Int(C.I_CURSOR, self.CURSOR_BASE + counts.last_seq),
                Int(C.GUESS_I_PENDING, counts.count)]

    def unknown_request(self, call):
        """event.md 6: log the full decoded body (real clients will reveal the
        missing commands) and answer 4200 with an empty list."""
        log.info("event: {user} sent unknown request {code} (id {rid}, version {version}): "
                 "{items}", user=call.user, code=call.request.header.code,
                 rid=call.request_id, version=call.version,
                 items=objects.objects_to_json(call.items))
        return []

    # -- blissnode's own requests (GUESS) ---------------------------------------------------------

    def _certificate(self, call):
        cert = call.items.value(C.V_CERTIFICATE, Blob)
        return None if cert is None else bytes(cert)

    @defer.inlineCallbacks
    def guess_add_contact(self, call):
        """GUESS 6100 ``{STRING 0x10 = name, [STRING 0x50 = request text],
        [BLOB 3 = my certificate for them]}`` -> the new entry
        ``{INT 0x32, STRING 0x34, BLOB 0x33}``."""
        target = self.need_name(call, "add contact")
        if target == call.user:
            raise EventRefusal("wrong_state", "cannot add yourself")
        text = self.optional_text(call, C.V_AUTH_TEXT, 1000, "the request text")
        d = call.service.contacts.request_authorization(
            call.user, target, text=text, certificate=self._certificate(call))
        entry = yield d.addErrback(_refuse_store_errors)
        if entry.state == "authorized":
            call.service.authorized(call.user, target)
        else:
            call.service.notify_inbox(target)
        return self.entry_items(entry)

    @defer.inlineCallbacks
    def guess_accept_authorization(self, call):
        """GUESS 6101 ``{STRING 0x10 = requester, [BLOB 3 = my certificate]}``."""
        requester = self.need_name(call, "accept")
        d = call.service.contacts.accept_authorization(
            call.user, requester, certificate=self._certificate(call))
        entry = yield d.addErrback(_refuse_store_errors)
        call.service.authorized(call.user, requester)
        call.service.notify_inbox(requester)
        return self.entry_items(entry)

    @defer.inlineCallbacks
    def guess_deny_authorization(self, call):
        """GUESS 6102 ``{STRING 0x10 = requester, [INT 0x38 = 1: block]}``."""
        requester = self.need_name(call, "deny")
        block = call.items.value(C.GUESS_I_BLOCK, Int, 0) == 1
        d = call.service.contacts.deny_authorization(call.user, requester, block=block)
        yield d.addErrback(_refuse_store_errors)
        call.service.notify_inbox(requester)
        return []

    @defer.inlineCallbacks
    def guess_remove_contact(self, call):
        """GUESS 6103 ``{STRING 0x10 = name}``; the removed contact is told
        the user is offline (they no longer see them)."""
        name = self.need_name(call, "remove")
        d = call.service.contacts.remove_contact(call.user, name)
        yield d.addErrback(_refuse_store_errors)
        call.service.unauthorized(call.user, name)
        return []

    @defer.inlineCallbacks
    def guess_block_contact(self, call):
        """GUESS 6104 ``{STRING 0x10 = name}`` -> the blocked entry."""
        name = self.need_name(call, "block")
        if name == call.user:
            raise EventRefusal("wrong_state", "cannot block yourself")
        d = call.service.contacts.block_contact(call.user, name)
        entry = yield d.addErrback(_refuse_store_errors)
        call.service.unauthorized(call.user, name)
        return self.entry_items(entry)

    @defer.inlineCallbacks
    def guess_unblock_contact(self, call):
        """GUESS 6105 ``{STRING 0x10 = name}``."""
        name = self.need_name(call, "unblock")
        d = call.service.contacts.unblock_contact(call.user, name)
        yield d.addErrback(_refuse_store_errors)
        return []

    @defer.inlineCallbacks
    def guess_update_contact(self, call):
        """GUESS 6106 ``{STRING 0x10 = name, [STRING 0x15 display name],
        [INT 0x269 group id], [STRING 0x25C group name], [BLOB 3]}``."""
        name = self.need_name(call, "update")
        fields = {}
        display = self.optional_text(call, C.GUESS_V_DISPLAY_NAME, 200, "the display name")
        if display is not None:
            fields["display_name"] = display
        group_id = call.items.value(C.V_GROUP_ID, Int)
        if group_id is not None:
            fields["group_id"] = group_id
        group = self.optional_text(call, C.V_GROUP_NAME, 100, "the group name")
        if group is not None:
            fields["group_name"] = group
        cert = self._certificate(call)
        if cert is not None:
            fields["certificate"] = cert
        d = call.service.contacts.update_contact(call.user, name, **fields)
        entry = yield d.addErrback(_refuse_store_errors)
        return self.entry_items(entry)

    @defer.inlineCallbacks
    def guess_send_message(self, call):
        """GUESS 6110 ``{STRING 0x10 = recipient, BLOB 0x43 = body}`` ->
        ``{INT 0x41 = receipt, INT 0x89 = their status}``.  The message is
        always queued (exactly-once delivery needs the recipient's ack); an
        online recipient is told at once.  A recipient who blocked the
        sender gets nothing, and the sender the same answer as for a stored
        message (issue 17.10: it must not learn of the block)."""
        recipient = self.need_name(call, "send")
        body = self.need(call, C.GUESS_M_BODY, Blob, "send")
        if len(body) > self.MAX_MESSAGE_BYTES:
            raise EventRefusal("too_large", "a message may have at most %d bytes"
                               % (self.MAX_MESSAGE_BYTES,))
        d = call.service.messages.store_message(recipient, call.user, "message", bytes(body))
        try:
            yield d
        except SenderBlocked:
            if self.TELL_SENDER_BLOCKED:
                raise EventRefusal("unknown_user", "the recipient does not accept your messages")
        except Exception as e:
            refusal = refusal_for(e)
            if refusal is not None:
                raise refusal
            raise
        else:
            call.service.notify_inbox(recipient)
        state = yield call.service.visible_state(call.user, recipient)
        return [Int(C.GUESS_M_SEQ, self.send_receipt(call)), Int(C.V_STATUS, state.status)]

    def send_receipt(self, call):
        """GUESS: 6110's INT 0x41.  Not the recipient's queue sequence number
        (that told every sender how much mail the recipient gets, issue
        17.10): the number of messages sent on this connection, 1, 2, ..."""
        connection = call.connection
        n = getattr(connection, "messages_sent", 0) + 1
        connection.messages_sent = n
        return n

    @defer.inlineCallbacks
    def guess_fetch_inbox(self, call):
        """GUESS 6111 ``{[INT 0x4B = limit]}`` -> ``LIST 0x40`` per message,
        oldest first, and ``INT 0x4C = 1`` if more are queued.  Messages stay
        queued (and come again) until acknowledged with 6112.  The answer is
        cut to fit one record; what is cut comes with the next fetch."""
        limit = call.items.value(C.GUESS_I_LIMIT, Int) or self.INBOX_BATCH
        limit = max(1, min(limit, self.INBOX_BATCH))
        messages = yield call.service.messages.fetch(call.user, limit)
        items, size = [], 64
        for message in messages:
            item = C.message_list(message)
            grow = len(objects.encode_objects([item]))
            if items and size + grow > self.MAX_REPLY_BYTES:
                break
            items.append(item)
            size += grow
        counts = yield call.service.messages.counts(call.user)
        more = counts.count > len(items)
        items.append(Int(C.GUESS_I_MORE, 1 if more else 0))
        return items

    @defer.inlineCallbacks
    def guess_ack_inbox(self, call):
        """GUESS 6112 ``{INT 0x41 = up to sequence number}`` -> ``{INT 0x4D = deleted}``."""
        up_to = self.need(call, C.GUESS_M_SEQ, Int, "ack")
        deleted = yield call.service.messages.ack(call.user, up_to).addErrback(
            _refuse_store_errors)
        return [Int(C.GUESS_I_DELETED, deleted)]

    @defer.inlineCallbacks
    def guess_search(self, call):
        """GUESS 6120 ``{STRING 0x46 = text, [INT 0x47 = mode]}`` -> ``LIST
        0x48 {STRING 0x10, [STRING 0x14 full name], INT 0x89 status}`` per
        hit: the account store (offline users too) merged with the online
        directory (notes 5: search belongs to the supernode role in the real
        network; blissnode answers it here as well)."""
        raw = self.need(call, C.GUESS_Q_TEXT, String, "search")
        mode = C.SEARCH_MODES.get(call.items.value(C.GUESS_Q_MODE, Int, 1))
        if mode is None:
            raise EventRefusal("malformed", "unknown search mode")
        text = _text(raw)
        d = call.service.accounts.search_accounts(text, mode=mode, limit=self.SEARCH_LIMIT)
        matches = yield d.addErrback(_refuse_store_errors)
        found = {m.name: m.full_name for m in matches}
        online = yield call.service.search_online(text, mode, self.SEARCH_LIMIT)
        for name in online:
            found.setdefault(name, None)
        items = []
        for name in sorted(found)[:self.SEARCH_LIMIT]:
            state = call.service.presence.state(name)
            items.append(C.search_hit(name, found[name], state.status))
        return items

    def guess_set_status(self, call):
        """GUESS 6130 ``{INT 0x89 = status, [STRING 0x68 = mood]}`` (an empty
        mood clears it); the change is broadcast."""
        status = self.need(call, C.V_STATUS, Int, "set status")
        if status not in C.SETTABLE_STATUSES:
            raise EventRefusal("malformed", "status %d cannot be set" % (status,))
        mood = self.optional_text(call, C.V_MOOD, self.MAX_MOOD_CHARS, "the mood text")
        if mood is not None and any(ord(c) < 0x20 for c in mood):
            raise EventRefusal("malformed", "control characters in the mood text")
        call.service.presence.set_status(call.user, status, mood or None,
                                         set_mood=mood is not None)
        return []

    @defer.inlineCallbacks
    def guess_presence(self, call):
        """GUESS 6131 -> ``LIST 0x49`` per mutually authorised contact with
        their visible status (and mood)."""
        names = yield call.service.contacts.watchers(call.user)
        return [C.presence_list(call.service.presence.state(n)) for n in names]

    # -- pushes ------------------------------------------------------------------------------

    def presence_push(self, state):
        if not self.PUSH_ON_EVENT_CONNECTION:
            return None
        return self.build_push(C.GUESS_PUSH_PRESENCE, [C.presence_list(state)])

    def inbox_push(self, pending):
        if not self.PUSH_ON_EVENT_CONNECTION:
            return None
        return self.build_push(C.GUESS_PUSH_INBOX, [Int(C.GUESS_I_PENDING, pending)])
