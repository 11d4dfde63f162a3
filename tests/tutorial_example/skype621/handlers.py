"""
What the event server answers to Skype 6.21.0.104 -- an example version
(docs/adding-a-version.rst).  Suppose a capture showed that this version
expects the 6016 event cursor (INT 0x2D) to count from 10**9: everything
else stays as in 6.16.0.105, so we subclass the handlers that serve 6.16
(``EventHandlers55``) and override that one request.
"""

from twisted.internet import defer
from zope.interface import implementer

from blissnode.event import codes
from blissnode.versions.v6_16_0_105 import EventHandlers as EventHandlers55
from blissnode.event.interfaces import IEventHandlers
from blissnode.wire.objects import Int


@implementer(IEventHandlers)
class EventHandlers(EventHandlers55):
    """6.21: the 6016 cursor starts at 10**9 (GUESS: example only)."""

    CURSOR_START = 10 ** 9

    @defer.inlineCallbacks
    def pending_events(self, call):
        """6016 -> ``{INT 0x2D = 10**9 + the contact list's change number}``."""
        seq = yield call.service.contacts.change_seq(call.user)
        return [Int(codes.I_CURSOR, self.CURSOR_START + seq)]
