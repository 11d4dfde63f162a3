"""
Per-connection flow control, shared by every TCP role (supernode, login,
event): what one connection may make the server do, and hold, before the
others get their turn.

* :class:`FairInbox` -- work a connection's input produced (packets,
  records) waits here and runs in order, at most ``per_turn`` items per
  reactor turn: after that the rest waits for a ``callLater(0)``, so every
  other connection's reads and timers run in between (one pipelining
  client cannot hold the reactor, issue 17.1).  While more than
  ``pause_at`` items wait the connection stops reading (TCP back-pressure
  towards the client); more than ``max_pending`` is an error the caller
  turns into a closed connection.
* :class:`OutputGuard` -- registered as the transport's streaming producer,
  it hears when the transport's write buffer is full (the client does not
  read).  While it is full the connection stops reading; once more than
  ``max_unsent`` bytes were written into a full buffer the connection is
  closed (a client that never reads cannot make us hold its replies and
  pushes without bound, issue 17.3).

Both take their clock and transport from the caller, so tests drive them
with :class:`twisted.internet.task.Clock` and a string transport.
"""

import collections

from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

__all__ = ["FairInbox", "InboxFull", "OutputGuard", "ReadGate",
           "PER_TURN", "MAX_UNSENT"]

#: Items (packets, records) one connection runs per reactor turn.
PER_TURN = 8
#: Bytes written into a full transport buffer before the connection closes.
MAX_UNSENT = 1 << 20


class InboxFull(Exception):
    """More than ``max_pending`` items wait: the peer sends faster than it
    lets us answer."""


class ReadGate(object):
    """Who wants the connection's reading paused (the inbox, the output
    guard): reading resumes only when nobody does."""

    def __init__(self, transport):
        self.transport = transport
        self._holders = set()

    def hold(self, who):
        if not self._holders:
            self.transport.pauseProducing()
        self._holders.add(who)

    def release(self, who):
        if who in self._holders:
            self._holders.discard(who)
            if not self._holders:
                self.transport.resumeProducing()

    @property
    def paused(self):
        return bool(self._holders)


class FairInbox(object):
    """Ordered work of one connection, a bounded number of items per
    reactor turn (module docstring).

    :param clock: ``IReactorTime`` (``callLater(0)`` ends a turn's share).
    :param gate: the connection's :class:`ReadGate`.
    """

    def __init__(self, clock, gate, per_turn=PER_TURN, pause_at=32, max_pending=2048):
        self.clock = clock
        self.gate = gate
        self.per_turn = per_turn
        self.pause_at = pause_at
        self.max_pending = max_pending
        self._items = collections.deque()
        self._running = False  # an item's Deferred has not fired yet
        self._call = None
        self._closed = False
        self._turn_ran = 0  # items run in this reactor turn
        self._turn_call = None  # resets _turn_ran in the next turn
        #: Turns that ended because the budget was spent (tests, benchmarks).
        self.yields = 0

    def __len__(self):
        return len(self._items) + (1 if self._running else 0)

    def put(self, fn, *args):
        """Queue ``fn(*args)`` (may return a Deferred: the next item waits
        for it).  Raises :class:`InboxFull` beyond ``max_pending``."""
        if self._closed:
            return
        if len(self) >= self.max_pending:
            raise InboxFull("more than %d items waiting" % (self.max_pending,))
        self._items.append((fn, args))
        if len(self) >= self.pause_at:
            self.gate.hold(self)
        if not self._running and self._call is None:
            self._pump()

    def close(self):
        """Drop what waits (the connection is gone)."""
        self._closed = True
        self._items.clear()
        for call in (self._call, self._turn_call):
            if call is not None and call.active():
                call.cancel()
        self._call = self._turn_call = None

    def _new_turn(self):
        self._turn_call = None
        self._turn_ran = 0

    def _pump(self):
        self._call = None
        while self._items and not self._closed:
            if self._turn_ran >= self.per_turn:
                # This turn's share is spent (however many reads brought the
                # items): the rest runs after everyone else's I/O.
                self.yields += 1
                self._call = self.clock.callLater(0, self._pump)
                self._check_release()
                return
            fn, args = self._items.popleft()
            if self._turn_ran == 0:
                self._turn_call = self.clock.callLater(0, self._new_turn)
            self._turn_ran += 1
            self._running = True
            d = defer.maybeDeferred(fn, *args)
            if not d.called:
                d.addBoth(self._resumed)
                self._check_release()
                return
            d.addErrback(lambda _f: None)  # the caller's fn handles its own errors
            self._running = False
        self._check_release()

    def _resumed(self, _):
        self._running = False
        if self._call is None and not self._closed:
            self._pump()
        return None

    def _check_release(self):
        if len(self) <= self.pause_at // 2:
            self.gate.release(self)


@implementer(IPushProducer)
class OutputGuard(object):
    """The transport's producer: pauses reading while its write buffer is
    full and asks ``on_overflow()`` to close once ``max_unsent`` bytes went
    into a full buffer (module docstring)."""

    def __init__(self, transport, gate, on_overflow, max_unsent=MAX_UNSENT):
        self.gate = gate
        self.on_overflow = on_overflow
        self.max_unsent = max_unsent
        self.full = False
        self.unsent = 0
        self._overflowed = False
        transport.registerProducer(self, True)

    def wrote(self, n):
        """``n`` bytes were just written to the transport."""
        if self.full:
            self.unsent += n
            if self.unsent > self.max_unsent and not self._overflowed:
                self._overflowed = True
                self.on_overflow()

    # IPushProducer: the transport calls these about its buffer.
    def pauseProducing(self):
        self.full = True
        self.gate.hold(self)

    def resumeProducing(self):
        self.full = False
        self.unsent = 0
        self.gate.release(self)

    def stopProducing(self):
        self.full = False
