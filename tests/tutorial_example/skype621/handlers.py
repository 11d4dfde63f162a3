"""
What blissnode answers Skype 6.21.0.104 -- an example version
(docs/adding-a-version.rst).  Suppose captures showed two differences from
6.16.0.105:

* its cmd 30 announces stack version 53, and it wants the supernode's cmd 31
  to say 53 too and to carry one more item, ``INT 0x99 = 1``;
* it expects the 6016 event cursor (INT 0x2D) to count from 10**9.

Everything else stays as in 6.16, so each class subclasses the one that
serves 6.16 and overrides exactly that.
"""

from twisted.internet import defer
from zope.interface import implementer

from blissnode.event import codes
from blissnode.event.interfaces import IEventHandlers
from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.versions.v6_16_0_105 import EventHandlers as EventHandlers616
from blissnode.versions.v6_16_0_105 import Handlers as SupernodeHandlers616
from blissnode.wire.objects import Int


@implementer(ISupernodeHandlers)
class SupernodeHandlers(SupernodeHandlers616):
    """6.21: cmd 31 says stack version 53 and adds INT 0x99 = 1 (GUESS:
    example only).  cmd 31 answers cmd 30, before the client names its
    version in cmd 37: the version's ``recognise`` (skype621_version.py)
    is what makes the supernode pick these handlers in time."""

    STACK_VERSION = 53

    def accept_extra(self, request):
        return [Int(0x99, 1)]


@implementer(IEventHandlers)
class EventHandlers(EventHandlers616):
    """6.21: the 6016 cursor starts at 10**9 (GUESS: example only)."""

    CURSOR_START = 10 ** 9

    @defer.inlineCallbacks
    def pending_events(self, call):
        """6016 -> ``{INT 0x2D = 10**9 + the contact list's change number}``."""
        seq = yield call.service.contacts.change_seq(call.user)
        return [Int(codes.I_CURSOR, self.CURSOR_START + seq)]
