"""
TCP stream reassembly for captures: one direction's segments, in any order
and with any retransmissions, back into the byte stream the sender wrote.

Captures hold duplicates (retransmissions, sometimes with more data than the
first copy), segments out of order, and holes where the capture dropped a
segment.  :class:`StreamReassembler` delivers bytes strictly in stream
order; data that arrives ahead of a hole waits in a buffer.  Where bytes
first seen are seen again, the first copy wins (a retransmission carries
the same bytes; a capture that disagrees with itself is not our problem to
resolve).

Memory is bounded twice: per direction (:attr:`ReassemblyLimits.per_stream`)
and over all streams together (a shared :class:`PendingBudget`).  When a
bound is hit the reassembler stops waiting for the missing bytes: it
reports a :class:`Gap` with the reason and goes on after it.  At the end of
a capture (:meth:`StreamReassembler.finish`) whatever still waits behind a
hole is delivered the same way.

Sequence numbers are 32-bit and wrap; offsets here count bytes from the
first byte of the direction (after the SYN when one was captured).
"""

import attr

__all__ = ["ReassemblyLimits", "PendingBudget", "Data", "Gap", "StreamReassembler",
           "GAP_NOT_CAPTURED", "GAP_STREAM_LIMIT", "GAP_TOTAL_LIMIT"]

_MOD = 1 << 32
_HALF = 1 << 31

GAP_NOT_CAPTURED = "not in the capture"
GAP_STREAM_LIMIT = "more than %d bytes waited behind the hole (per-direction bound)"
GAP_TOTAL_LIMIT = "the reassembly buffers of all flows together held more than %d bytes"


@attr.s(frozen=True, slots=True)
class ReassemblyLimits(object):
    """Bytes that may wait behind holes: per direction and in total."""

    per_stream = attr.ib(default=4 << 20)
    total = attr.ib(default=64 << 20)


class PendingBudget(object):
    """The bytes waiting in all reassemblers of one capture."""

    def __init__(self, limit):
        self.limit = limit
        self.held = 0
        self.exhausted = 0  # how often the bound was hit


@attr.s(frozen=True, slots=True)
class Data(object):
    """In-order bytes at stream ``offset``, with the time and frame number
    of the segment that made them deliverable (the one that filled the last
    hole before them), so that what is decoded from them appears in capture
    order."""

    offset = attr.ib()
    data = attr.ib(repr=False)
    time = attr.ib()
    frame = attr.ib()


@attr.s(frozen=True, slots=True)
class Gap(object):
    """``length`` bytes at ``offset`` that will never be delivered, and why."""

    offset = attr.ib()
    length = attr.ib()
    reason = attr.ib()
    time = attr.ib()
    frame = attr.ib()


class StreamReassembler(object):
    """One direction of one TCP connection.

    :meth:`segment` takes a captured segment and returns the :class:`Data`
    and :class:`Gap` items it makes deliverable, in stream order.
    """

    def __init__(self, budget, limits=ReassemblyLimits()):
        self.budget = budget
        self.limits = limits
        self.base = None        # sequence number of stream offset 0
        self.delivered = 0      # bytes delivered (or skipped as gaps)
        self.retransmitted = 0  # bytes seen again
        self.gaps = 0
        self.syn_seen = False
        self.fin_seen = False
        self._pending = {}      # offset -> (bytes, time, frame)
        self._held = 0

    @property
    def held(self):
        return self._held

    def segment(self, seq, data, time=None, frame=None, syn=False, fin=False, missing=0):
        """Add one segment; ``missing`` bytes after ``data`` were cut off by
        the snap length (they leave a hole unless a retransmission fills it)."""
        if syn:
            self.syn_seen = True
            if self.base is None or self.delivered == 0 and not self._pending:
                self.base = (seq + 1) % _MOD
            seq = (seq + 1) % _MOD
        if fin:
            self.fin_seen = True
        if not data:
            return []
        if self.base is None:
            self.base = seq
        # Offset relative to what is delivered; negative means old bytes.
        rel = (seq - self.base - self.delivered) % _MOD
        if rel >= _HALF:
            rel -= _MOD
        offset = self.delivered + rel
        end = offset + len(data)
        if end <= self.delivered:
            self.retransmitted += len(data)
            return []
        if offset < self.delivered:
            self.retransmitted += self.delivered - offset
            data = data[self.delivered - offset:]
            offset = self.delivered
        self._store(offset, bytes(data), time, frame)
        out = self._drain(time, frame)
        out.extend(self._enforce(time, frame))
        return out

    def _store(self, offset, data, time, frame):
        old = self._pending.get(offset)
        if old is not None:
            if len(old[0]) >= len(data):
                self.retransmitted += len(data)
                return
            self.retransmitted += len(old[0])
            self._release(len(old[0]))
        self._pending[offset] = (data, time, frame)
        self._held += len(data)
        self.budget.held += len(data)

    def _release(self, n):
        self._held -= n
        self.budget.held -= n

    def _drain(self, time, frame):
        out = []
        while self._pending:
            start = min(self._pending)
            if start > self.delivered:
                break
            data = self._pending.pop(start)[0]
            self._release(len(data))
            skip = self.delivered - start
            if skip >= len(data):
                self.retransmitted += len(data)
                continue
            self.retransmitted += skip
            piece = data[skip:]
            out.append(Data(self.delivered, piece, time, frame))
            self.delivered += len(piece)
        return out

    def _skip_to_next(self, reason, time, frame):
        start = min(self._pending)
        gap = Gap(self.delivered, start - self.delivered, reason, time, frame)
        self.gaps += 1
        self.delivered = start
        return [gap] + self._drain(time, frame)

    def _enforce(self, time, frame):
        out = []
        while self._pending and self._held > self.limits.per_stream:
            out.extend(self._skip_to_next(GAP_STREAM_LIMIT % self.limits.per_stream, time, frame))
        while self._pending and self.budget.held > self.budget.limit:
            self.budget.exhausted += 1
            out.extend(self._skip_to_next(GAP_TOTAL_LIMIT % self.budget.limit, time, frame))
        return out

    def finish(self, time=None, frame=None):
        """The end of the capture (or of the connection): deliver what
        waits behind holes, reporting each hole."""
        out = []
        while self._pending:
            out.extend(self._skip_to_next(GAP_NOT_CAPTURED, time, frame))
        return out

