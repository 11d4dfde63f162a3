"""
Numbers of the event-server conversation: request codes, result codes, item
ids, and the small codecs both the server handlers and the reference client
need (handle lists, contact entry values, messages, presence lists).

Two kinds of numbers live here, kept apart on purpose:

* **Known** (event.md 3-5, docs/event-protocol-notes.rst): request codes
  6030, 6028, 6024, 6016, 6017; result 4200 / 8401; INT 0x0A = 3000
  ("authenticated", FAKE); BLOB 0x35 handle list, INT 0x32 handle, STRING
  0x34 key, BLOB 0x33 value, INT 0x2D cursor; inside a ``u/`` entry value
  STRING 0x10, INT 0x79, BLOB 3, INT 0x269, STRING 0x25C (FAKE); FAKE's
  property ids 0x14 full name, 0x50 received auth request, 0x5D
  is-authorised/is-blocked, 0x68 mood text, 0x89 online status, 0x8D last
  online.
* **GUESS** -- blissnode's own: no public material shows a request that
  changes a contact list, sends or fetches an offline message, searches, or
  sets a status on the event server (notes 1, 6; event.md E6-E9).  Every
  such code and item id below is named ``GUESS_...`` or sits in a table
  marked GUESS, so that a version module can override the whole set in one
  place (:attr:`blissnode.event.handlers.EventHandlers.request_codes`).

Everything here is pure: object lists in, object lists out, through
:mod:`blissnode.wire.objects`; decoders raise only ProtocolError.
"""

import attr

from blissnode.wire import objects
from blissnode.wire.errors import ProtocolError
from blissnode.wire.objects import Blob, Int, NestedList, ObjectList, String
from blissnode.wire.presence import (  # noqa: F401  (re-exported)
    SETTABLE_STATUSES,
    STATUS_AWAY,
    STATUS_DND,
    STATUS_INVISIBLE,
    STATUS_NA,
    STATUS_NAMES,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    PresenceState,
    parse_presence,
    presence_list,
)


# -- request codes ---------------------------------------------------------------

#: Known request codes (event.md 4, notes 1).
SESSION_START = 6030      # "authenticate / session start" (4.2, 6.16)
ENTRY_HANDLES = 6028      # handle list of the user's entries (1.4, 4.2, 6.16)
ENTRY_FETCH = 6024        # one entry by handle (4.2, 6.16)
PENDING_EVENTS = 6016     # event cursor (6.16 TCP, 4.2 UDP)
PENDING_EVENTS_2 = 6017   # "as 6016 for another class" (6.16)

#: Known code -> handler method name.
KNOWN_REQUESTS = {
    SESSION_START: "session_start",
    ENTRY_HANDLES: "entry_handles",
    ENTRY_FETCH: "entry_fetch",
    PENDING_EVENTS: "pending_events",
    PENDING_EVENTS_2: "pending_events_other",
}

#: GUESS: blissnode's own request codes.  6100-6199 is unused by every
#: public tool (the known codes are 5017-5027 on the login server and
#: 6016-6030 here).  Real clients never send them; our reference client does.
GUESS_ADD_CONTACT = 6100          # add a contact = ask for authorisation
GUESS_ACCEPT = 6101               # accept a pending authorisation request
GUESS_DENY = 6102                 # refuse it (optionally block)
GUESS_REMOVE = 6103               # remove an entry (withdraws a pending request)
GUESS_BLOCK = 6104
GUESS_UNBLOCK = 6105
GUESS_UPDATE_CONTACT = 6106       # display name, group, certificate
GUESS_SEND_MESSAGE = 6110         # queue an offline message
GUESS_FETCH_INBOX = 6111          # oldest un-acknowledged messages
GUESS_ACK_INBOX = 6112            # delete fetched messages up to a sequence number
GUESS_SEARCH = 6120               # directory search (accounts + online directory)
GUESS_SET_STATUS = 6130           # own online status and mood text
GUESS_PRESENCE = 6131             # presence of my mutually authorised contacts

#: GUESS: code -> handler method name, for blissnode's own requests.
GUESS_REQUESTS = {
    GUESS_ADD_CONTACT: "guess_add_contact",
    GUESS_ACCEPT: "guess_accept_authorization",
    GUESS_DENY: "guess_deny_authorization",
    GUESS_REMOVE: "guess_remove_contact",
    GUESS_BLOCK: "guess_block_contact",
    GUESS_UNBLOCK: "guess_unblock_contact",
    GUESS_UPDATE_CONTACT: "guess_update_contact",
    GUESS_SEND_MESSAGE: "guess_send_message",
    GUESS_FETCH_INBOX: "guess_fetch_inbox",
    GUESS_ACK_INBOX: "guess_ack_inbox",
    GUESS_SEARCH: "guess_search",
    GUESS_SET_STATUS: "guess_set_status",
    GUESS_PRESENCE: "guess_presence",
}

#: GUESS: codes of server-initiated records (event.md E9: unknown whether
#: the real server sent any).  Header ``{INT 0 = code, INT 2 = 0}``.
GUESS_PUSH_PRESENCE = 6190        # a contact's presence changed
GUESS_PUSH_INBOX = 6191           # something new is queued for you

# -- results -------------------------------------------------------------------------

RESULT_OK = 4200
RESULT_AUTH_FAILED = 8401
#: INT 0x0A = 3000: FAKE treats it as "event server authentication
#: successful" and gives up without it (notes 2.2).
AUTH_OK_VALUE = 3000


@attr.s(frozen=True, slots=True)
class EventRefusalCodes:
    """Result codes (INT 1) of refusals, by reason.

    Only 8401 (name or password incorrect, SOS2) is known.  GUESS for the
    rest: blissnode's own numbers.  ``rate_limited`` (8409) and
    ``version_too_old`` (8405) are the login server's numbers
    (:class:`blissnode.login.codes.RefusalCodes`); the others are
    new in 8420..8429 so logs and our client can tell them apart.
    """

    auth_failed = attr.ib(default=RESULT_AUTH_FAILED)
    version_too_old = attr.ib(default=8405)
    rate_limited = attr.ib(default=8409)
    malformed = attr.ib(default=8420)
    too_large = attr.ib(default=8421)
    unknown_user = attr.ib(default=8422)
    not_in_list = attr.ib(default=8423)
    wrong_state = attr.ib(default=8424)
    list_full = attr.ib(default=8425)
    quota_exceeded = attr.ib(default=8426)
    busy = attr.ib(default=8427)
    server_error = attr.ib(default=8429)

    def code(self, reason):
        if reason not in attr.fields_dict(type(self)):
            raise ValueError("unknown refusal reason %r" % (reason,))
        return getattr(self, reason)

    def reason(self, code):
        """The reason name of ``code`` (first match), or ``None``."""
        for field in attr.fields(type(self)):
            if getattr(self, field.name) == code:
                return field.name
        return None


REFUSAL_CODES = EventRefusalCodes()

# -- item ids ---------------------------------------------------------------------------

# Headers (event.md 3).
H_CODE, H_RESULT, H_ID = 0, 1, 2

# Known body / reply items.
I_AUTH_OK = 0x0A          # INT, 3000 (FAKE)
I_CURSOR = 0x2D           # INT, 6016/6017 cursor
I_HOST_ID_4X = 0x31       # INT64, 4.x host id (FAKE, SEAN)
I_HOST_ID_6X = 0x3A       # INT64, 6.x host id (SOS2)
I_HANDLE = 0x32           # INT, one handle (6024)
I_VALUE = 0x33            # BLOB, entry value (6024 answer)
I_KEY = 0x34              # STRING, entry key (6024 answer)
I_HANDLES = 0x35          # BLOB, big-endian u32 handles (6028 answer)

# Inside a ``u/`` entry value (FAKE) and FAKE's property ids.
V_NAME = 0x10             # STRING, the contact's Skype name
V_FULL_NAME = 0x14        # STRING (FULLNAME)
V_AUTH_TEXT = 0x50        # STRING (RECEIVEDAUTHREQUEST): request text
V_BLOCKED = 0x5D          # INT (ISAUTHORIZED / ISBLOCKED), 1 = blocked (GUESS value)
V_MOOD = 0x68             # STRING (MOOD_TEXT)
V_BUDDY_STATUS = 0x79     # INT, buddy status (FAKE; values GUESS, see BUDDY_STATUS)
V_STATUS = 0x89           # INT (ONLINESTATUS)
V_LAST_ONLINE = 0x8D      # INT (LASTONLINETIMESTAMP), Unix seconds (GUESS unit)
V_CERTIFICATE = 0x03      # BLOB, authorisation certificate (0x188 bytes in the real network)
V_GROUP_ID = 0x269        # INT (later FAKE)
V_GROUP_NAME = 0x25C      # STRING (later FAKE)

# GUESS: blissnode's own item ids (no public source).
GUESS_V_DISPLAY_NAME = 0x15   # STRING, the owner's display name for a contact
GUESS_I_SINCE = 0x2E          # INT, 6028: only the changes after this change number
GUESS_I_CHANGE_SEQ = 0x2F     # INT, 6028 answer: the list's current change number
GUESS_I_REMOVED = 0x36        # BLOB, 6028 answer with SINCE: removed handles (u32 BE)
GUESS_I_FULL = 0x37           # INT, 6028 answer with SINCE: 1 = the whole list follows
GUESS_I_BLOCK = 0x38          # INT, 6102: 1 = block the requester too
GUESS_M_LIST = 0x40           # LIST, one per message (6111 answer)
GUESS_M_SEQ = 0x41            # INT, message sequence number (6111, 6112, 6110 answer)
GUESS_M_KIND = 0x42           # STRING, "message" / "auth_request" / "auth_reply"
GUESS_M_BODY = 0x43           # BLOB, message body (text: UTF-8)
GUESS_M_CREATED = 0x44        # INT, Unix seconds
GUESS_M_SENDER = V_NAME       # STRING 0x10 inside a message list
GUESS_Q_TEXT = 0x46           # STRING, search text
GUESS_Q_MODE = 0x47           # INT, 0 exact, 1 prefix, 2 substring
GUESS_Q_HIT = 0x48            # LIST, one per search hit
GUESS_P_LIST = 0x49           # LIST, one per contact (6131 answer, 6190 push)
GUESS_I_PENDING = 0x4A        # INT, queued offline messages
GUESS_I_LIMIT = 0x4B          # INT, most messages to return
GUESS_I_MORE = 0x4C           # INT, 1 = more messages are queued
GUESS_I_DELETED = 0x4D        # INT, messages deleted by an ack

#: GUESS: search modes by INT 0x47 value.
SEARCH_MODES = {0: "exact", 1: "prefix", 2: "substring"}

#: GUESS: INT 0x79 per stored state.  The Skype desktop API's BUDDYSTATUS
#: (0 never in list, 1 deleted, 2 pending authorisation, 3 added) is the
#: nearest public vocabulary; ``pending_in`` (they asked me) and
#: ``blocked`` have no value there: 0 (+ STRING 0x50) and 1 (+ INT 0x5D = 1).
BUDDY_STATUS = {"pending_in": 0, "blocked": 1, "pending_out": 2, "authorized": 3}
_STATE_BY_STATUS = {v: k for k, v in BUDDY_STATUS.items()}

#: Online status values and PresenceState: see blissnode.wire.presence
#: (imported above; the supernode's pushes carry the same list).

# -- headers --------------------------------------------------------------------------

def reply_header(code, request_id):
    """``{INT 1 = result code, INT 2 = request id}`` (login.md 7.2, event.md 3)."""
    return ObjectList([Int(H_RESULT, code), Int(H_ID, request_id)])


def push_header(code):
    """GUESS: a server-initiated record's header ``{INT 0 = code, INT 2 = 0}``."""
    return ObjectList([Int(H_CODE, code), Int(H_ID, 0)])


def encode_record(header, body):
    """Plaintext of one record: the header list and the body list (0x41)."""
    return objects.encode_objects(header) + objects.encode_objects(ObjectList(list(body)))


@attr.s(frozen=True, slots=True)
class ServerRecord:
    """A decoded server record: a reply (``request_id`` set, ``code`` = INT 1)
    or a push (``push_code`` = INT 0)."""

    code = attr.ib()
    request_id = attr.ib()
    push_code = attr.ib()
    body = attr.ib()
    header = attr.ib(repr=False)

    @property
    def is_push(self):
        return self.push_code is not None

    @property
    def ok(self):
        return self.code == RESULT_OK


def parse_server_record(plaintext):
    """Decode what a client receives: header and (optional) body list."""
    lists, rest, _ = objects.decode_object_lists(plaintext)
    if rest:
        raise ProtocolError("%d bytes after the reply lists" % (len(rest),))
    header = lists[0]
    body = lists[1] if len(lists) > 1 else ObjectList()
    push = header.value(H_CODE, Int)
    code = header.value(H_RESULT, Int)
    rid = header.value(H_ID, Int)
    if push is None and (code is None or rid is None):
        raise ProtocolError("server record header without INT 1 / INT 2")
    return ServerRecord(code, rid if push is None else None, push, body, header)


# -- handle lists ------------------------------------------------------------------------

def pack_handles(handles):
    """BLOB 0x35: each handle as a big-endian u32."""
    return b"".join(int(h).to_bytes(4, "big") for h in handles)


def unpack_handles(blob):
    blob = bytes(blob)
    if len(blob) % 4:
        raise ProtocolError("handle list of %d bytes (not a multiple of 4)" % (len(blob),))
    return [int.from_bytes(blob[i:i + 4], "big") for i in range(0, len(blob), 4)]


# -- contact entries ------------------------------------------------------------------------

@attr.s(frozen=True, slots=True)
class Entry:
    """A decoded 6024 answer as the client sees it: key, and for ``u/``
    entries the fields of the value list; ``raw`` for ``p/`` entries."""

    key = attr.ib()
    name = attr.ib(default=None)
    state = attr.ib(default=None)
    certificate = attr.ib(default=None, repr=False)
    display_name = attr.ib(default=None)
    group_id = attr.ib(default=None)
    group_name = attr.ib(default=None)
    request_text = attr.ib(default=None)
    raw = attr.ib(default=None, repr=False)
    handle = attr.ib(default=None)


def _text(item):
    return None if item is None else item.text


def parse_entry(key, value, handle=None):
    """An :class:`Entry` from STRING 0x34 and BLOB 0x33 (a ``u/`` value is a
    0x41 list, anything else is kept raw)."""
    if not key.startswith("u/"):
        return Entry(key, raw=bytes(value), handle=handle)
    lst = objects.decode_objects(value)
    status = lst.value(V_BUDDY_STATUS, Int)
    state = _STATE_BY_STATUS.get(status)
    if lst.value(V_BLOCKED, Int) == 1:
        state = "blocked"
    return Entry(key, name=_text(lst.get(V_NAME, String)), state=state,
                 certificate=lst.value(V_CERTIFICATE, Blob),
                 display_name=_text(lst.get(GUESS_V_DISPLAY_NAME, String)),
                 group_id=lst.value(V_GROUP_ID, Int),
                 group_name=_text(lst.get(V_GROUP_NAME, String)),
                 request_text=_text(lst.get(V_AUTH_TEXT, String)), handle=handle)


# -- messages ----------------------------------------------------------------------------------

@attr.s(frozen=True, slots=True)
class InboxMessage:
    seq = attr.ib()
    sender = attr.ib()
    kind = attr.ib()
    body = attr.ib()
    created = attr.ib()

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")


def message_list(message):
    """``LIST 0x40`` for one stored message (anything with seq, sender,
    kind, body and created/created_unix)."""
    created = getattr(message, "created", None)
    if created is not None and not isinstance(created, int):
        created = int(created.timestamp())
    items = [Int(GUESS_M_SEQ, message.seq), String(GUESS_M_SENDER, message.sender.encode()),
             String(GUESS_M_KIND, message.kind.encode()), Blob(GUESS_M_BODY, bytes(message.body))]
    if created is not None:
        items.append(Int(GUESS_M_CREATED, created))
    return NestedList(GUESS_M_LIST, items)


def parse_messages(body):
    out = []
    for lst in body.get_all(GUESS_M_LIST, NestedList):
        lst = lst.value
        seq = lst.value(GUESS_M_SEQ, Int)
        sender = _text(lst.get(GUESS_M_SENDER, String))
        if seq is None or sender is None:
            raise ProtocolError("message without sequence number or sender")
        out.append(InboxMessage(seq, sender, _text(lst.get(GUESS_M_KIND, String)),
                                lst.value(GUESS_M_BODY, Blob, b""),
                                lst.value(GUESS_M_CREATED, Int)))
    return out


# -- presence ----------------------------------------------------------------------------------

@attr.s(frozen=True, slots=True)
class SearchHit:
    name = attr.ib()
    full_name = attr.ib(default=None)
    status = attr.ib(default=STATUS_OFFLINE)


def search_hit(name, full_name, status):
    items = [String(V_NAME, name.encode("utf-8"))]
    if full_name:
        items.append(String(V_FULL_NAME, full_name.encode("utf-8")))
    items.append(Int(V_STATUS, status))
    return NestedList(GUESS_Q_HIT, items)


def parse_search(body):
    out = []
    for lst in body.get_all(GUESS_Q_HIT, NestedList):
        lst = lst.value
        name = _text(lst.get(V_NAME, String))
        if name is None:
            raise ProtocolError("search hit without a name")
        out.append(SearchHit(name, _text(lst.get(V_FULL_NAME, String)),
                             lst.value(V_STATUS, Int, STATUS_OFFLINE)))
    return out
