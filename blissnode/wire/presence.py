"""
A user's visible presence as a value, and its one object-list form.

Presence travels to watchers over two roles' connections: event-server
pushes and supernode pushes carry the same ``LIST 0x49``.  The value and the
codec live here, in the pure layer, so neither role needs the other's code.

::

    LIST 0x49 {STRING 0x10 name, INT 0x89 status, [STRING 0x68 mood],
               [INT 0x8D last online]}

GUESS layout with FakeSkype's property ids (0x10 name, 0x68 mood text, 0x89
online status, 0x8D last online); status values: FakeSkype's 2 online,
3 away, 5 do-not-disturb; GUESS 1 offline, 4 not available, 6 invisible (the
desktop API's order).
"""

import attr

from blissnode.wire.errors import ProtocolError
from blissnode.wire.objects import Int, NestedList, String

__all__ = [
    "STATUS_OFFLINE", "STATUS_ONLINE", "STATUS_AWAY", "STATUS_NA", "STATUS_DND",
    "STATUS_INVISIBLE", "STATUS_NAMES", "SETTABLE_STATUSES", "PRESENCE_LIST",
    "P_NAME", "P_MOOD", "P_STATUS", "P_LAST_ONLINE",
    "PresenceState", "presence_list", "parse_presence",
]

STATUS_OFFLINE = 1
STATUS_ONLINE = 2
STATUS_AWAY = 3
STATUS_NA = 4
STATUS_DND = 5
STATUS_INVISIBLE = 6
STATUS_NAMES = {STATUS_OFFLINE: "offline", STATUS_ONLINE: "online", STATUS_AWAY: "away",
                STATUS_NA: "na", STATUS_DND: "dnd", STATUS_INVISIBLE: "invisible"}
SETTABLE_STATUSES = (STATUS_ONLINE, STATUS_AWAY, STATUS_NA, STATUS_DND, STATUS_INVISIBLE)

#: GUESS: the list id of one presence entry (blissnode's own).
PRESENCE_LIST = 0x49
#: FakeSkype's property ids inside it.
P_NAME = 0x10
P_MOOD = 0x68
P_STATUS = 0x89
P_LAST_ONLINE = 0x8D


@attr.s(frozen=True, slots=True)
class PresenceState:
    """What a watcher learns about a contact."""

    name = attr.ib()
    status = attr.ib()
    mood = attr.ib(default=None)
    last_online = attr.ib(default=None)

    @property
    def online(self):
        return self.status not in (STATUS_OFFLINE, STATUS_INVISIBLE)


def presence_list(state):
    """``state`` as ``LIST 0x49`` (module docstring)."""
    items = [String(P_NAME, state.name.encode("utf-8")), Int(P_STATUS, state.status)]
    if state.mood:
        items.append(String(P_MOOD, state.mood.encode("utf-8")))
    if state.last_online is not None:
        items.append(Int(P_LAST_ONLINE, int(state.last_online)))
    return NestedList(PRESENCE_LIST, items)


def _text(item):
    return None if item is None else item.text


def parse_presence(body):
    """Every ``LIST 0x49`` of ``body`` as :class:`PresenceState` s."""
    out = []
    for lst in body.get_all(PRESENCE_LIST, NestedList):
        lst = lst.value
        name = _text(lst.get(P_NAME, String))
        status = lst.value(P_STATUS, Int)
        if name is None or status is None:
            raise ProtocolError("presence entry without name or status")
        out.append(PresenceState(name, status, _text(lst.get(P_MOOD, String)),
                                 lst.value(P_LAST_ONLINE, Int)))
    return out
