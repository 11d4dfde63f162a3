"""
The messages between blissnode processes, as bus payloads.

A payload is one UTF-8 JSON object ``{"v": 1, "w": sender tag, "q":
sequence, "t": kind, ...}``.  JSON because the values are few and plain
(names, small integers, an encoded object list in base64) and because an
operator can read them with ``redis-cli subscribe``.  What a process gets
that it cannot read (another version's kind, a broken payload) is dropped
with :class:`BadMessage`; it never reaches the roles.

Kinds (fields besides the envelope):

``hello``
    a process started; the others answer with a ``sync``.
``alive``
    heartbeat (every :data:`~blissnode.cluster.link.HEARTBEAT` seconds).
``bye``
    a process is stopping: its users are offline unless held elsewhere.
``presence`` ``{"n": name, "s": status|null, "m": mood, "c": changed at,
"l": last online}``
    the sender's own view of one user (``s`` null: not online there).
``sync`` ``{"u": [[name, status, mood, changed at], ...]}``
    every user online at the sender (in chunks), for a new process.
``deliver`` ``{"n": name, "m": message}``
    deliver ``message`` to every session of ``name`` held by the receiver.
``session`` ``{"sid": session id, "m": message}``
    deliver ``message`` to the one session ``sid`` (the receiver's).

A ``message`` is ``{"k": "presence", "n", "s", "m", "l"}``
(:class:`~blissnode.core.delivery.PresenceChanged`), ``{"k": "inbox",
"p"}`` (:class:`~blissnode.core.delivery.InboxChanged`) or ``{"k": "push",
"c", "b" (base64), "a": [ip, port], "r"}``
(:class:`~blissnode.core.delivery.PushRequest`).
"""

import base64
import binascii
import json

from blissnode.core.delivery import InboxChanged, PresenceChanged, PushRequest
from blissnode.core.presence import RemoteState
from blissnode.store.bus import MAX_PAYLOAD
from blissnode.wire.presence import PresenceState

__all__ = ["BadMessage", "VERSION", "KINDS", "encode", "decode", "encode_delivery",
           "decode_delivery", "remote_state", "state_fields"]

#: The envelope's version; a payload of another is dropped.
VERSION = 1

KINDS = ("hello", "alive", "bye", "presence", "sync", "deliver", "session")

#: Longest user name or mood text a message may carry.
MAX_TEXT = 1024


class BadMessage(ValueError):
    """A payload that is not a message of this version."""


def encode(sender, sequence, kind, **fields):
    """The payload of one message (bytes)."""
    if kind not in KINDS:
        raise ValueError("unknown message kind %r" % (kind,))
    body = {"v": VERSION, "w": sender, "q": sequence, "t": kind}
    body.update(fields)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(payload):
    """``(sender, sequence, kind, fields dict)`` of a payload."""
    try:
        body = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadMessage("not JSON: %s" % (e,))
    if not isinstance(body, dict) or body.get("v") != VERSION:
        raise BadMessage("not a version-%d message" % (VERSION,))
    sender, sequence, kind = body.pop("w", None), body.pop("q", None), body.pop("t", None)
    body.pop("v")
    if not isinstance(sender, str) or not sender or len(sender) > 64:
        raise BadMessage("no sender tag")
    if not isinstance(sequence, int) or kind not in KINDS:
        raise BadMessage("no sequence or unknown kind %r" % (str(kind)[:20],))
    return sender, sequence, kind, body


def _text(value, what):
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadMessage("bad %s" % (what,))
    return value


def _int(value, what, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadMessage("bad %s" % (what,))
    return value


def _number(value, what):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise BadMessage("bad %s" % (what,))
    return float(value)


def state_fields(state):
    """The ``presence`` fields of a :class:`RemoteState` (or None: offline)."""
    if state is None:
        return {"s": None}
    return {"s": state.status, "m": state.mood, "c": state.changed_at}


def remote_state(fields):
    """The :class:`RemoteState` of ``presence`` fields, or None (offline)."""
    if fields.get("s") is None:
        return None
    return RemoteState(_int(fields["s"], "status"), _text(fields.get("m"), "mood"),
                       _number(fields.get("c", 0.0), "change time"))


def name_of(fields, key="n"):
    name = _text(fields.get(key), "name")
    if not name:
        raise BadMessage("no user name")
    return name


def encode_delivery(message):
    """A core message as a JSON-able dict, or None for a kind that does not
    travel between processes."""
    if isinstance(message, PresenceChanged):
        s = message.state
        return {"k": "presence", "n": s.name, "s": s.status, "m": s.mood, "l": s.last_online}
    if isinstance(message, InboxChanged):
        return {"k": "inbox", "p": int(message.pending)}
    if isinstance(message, PushRequest):
        return {"k": "push", "c": int(message.cmd),
                "b": base64.b64encode(bytes(message.body)).decode("ascii"),
                "a": [str(message.pusher[0]), int(message.pusher[1])],
                "r": int(message.push_request_id)}
    return None


def decode_delivery(data):
    """The core message of :func:`encode_delivery`'s dict."""
    if not isinstance(data, dict):
        raise BadMessage("no message")
    kind = data.get("k")
    if kind == "presence":
        return PresenceChanged(PresenceState(
            name_of(data), _int(data.get("s"), "status"), _text(data.get("m"), "mood"),
            _int(data.get("l"), "last online", optional=True)))
    if kind == "inbox":
        return InboxChanged(_int(data.get("p"), "pending count"))
    if kind == "push":
        address = data.get("a")
        if not (isinstance(address, list) and len(address) == 2):
            raise BadMessage("bad pusher address")
        encoded = data.get("b")
        if not isinstance(encoded, str) or len(encoded) > 2 * MAX_PAYLOAD:
            raise BadMessage("bad push body")
        try:
            body = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise BadMessage("bad push body")
        return PushRequest(_int(data.get("c"), "command"), body,
                           (_text(address[0], "pusher ip"), _int(address[1], "pusher port")),
                           _int(data.get("r"), "request id"))
    raise BadMessage("unknown message %r" % (str(kind)[:20],))
