"""
Fragmenting large UDP messages (kind 0xF) and putting them back together.

A reply too large for one datagram (real example: an 11.5 kB cmd-15 search
answer) travels as fragments that share one packet id: fragment ``i`` carries
``index = i`` and the last one has bit 7 of the flag byte set (udp.md 2.5).
The fragment plaintexts concatenated in index order are an ordinary payload.

Sending: :func:`plan_fragments` / :func:`split_message` cut a message into
chunks of :data:`FRAGMENT_CHUNK` bytes (the size real nodes used).

Receiving: :class:`Reassembler` collects fragments per caller-chosen key
(normally ``(peer address, packet id)``).  It is pure -- the caller passes the
current time where expiry matters -- and bounded: per message by fragment
count and bytes, overall by number of pending messages and bytes held, so a
flood of stray fragments costs at most :attr:`Reassembler.max_total_bytes`.
"""

import collections

import attr

from blissnode.wire.errors import LimitExceeded, ProtocolError

__all__ = [
    "FRAGMENT_CHUNK", "FRAGMENT_HEADER_LENGTH", "MAX_FRAGMENTS",
    "MAX_FRAGMENT_DATA", "MAX_MESSAGE_LENGTH", "SINGLE_DATAGRAM_LIMIT",
    "FragmentSlice", "plan_fragments", "split_message", "needs_fragments",
    "Reassembler",
]

#: GUESS (INFERRED, udp.md 2.5 / U8): real nodes put 1340 plaintext bytes in
#: every fragment but the last (1355-byte datagrams).
FRAGMENT_CHUNK = 1340
FRAGMENT_HEADER_LENGTH = 15
#: The index field has 7 bits.
MAX_FRAGMENTS = 128
#: GUESS: largest fragment plaintext we accept from others: a 1500-byte MTU
#: minus IPv4 (20), UDP (8) and fragment (15) headers.  Real ones were 1340.
MAX_FRAGMENT_DATA = 1500 - 20 - 8 - FRAGMENT_HEADER_LENGTH
#: Largest message that can be sent or received in fragments.
MAX_MESSAGE_LENGTH = MAX_FRAGMENTS * MAX_FRAGMENT_DATA
#: GUESS (INFERRED, udp.md 2.5): a payload up to this size goes out as one
#: kind-2 datagram (the largest single one observed carried 1322 bytes).
SINGLE_DATAGRAM_LIMIT = 1300


@attr.s(frozen=True, slots=True)
class FragmentSlice(object):
    """Where fragment ``index`` lies in the message."""

    index = attr.ib()
    last = attr.ib()
    offset = attr.ib()
    length = attr.ib()

    @property
    def datagram_length(self):
        return FRAGMENT_HEADER_LENGTH + self.length

    @property
    def flag_byte(self):
        return self.index | (0x80 if self.last else 0)


def needs_fragments(length, limit=SINGLE_DATAGRAM_LIMIT):
    """Whether a payload of ``length`` bytes should be sent as fragments."""
    return length > limit


def plan_fragments(length, max_chunk=FRAGMENT_CHUNK):
    """The fragments of a ``length``-byte message: chunks of ``max_chunk``
    bytes, the last one shorter, indexes 0, 1, 2 ... and ``last`` on the final
    one.  A 0-byte message has no fragments.  More than 128 chunks cannot be
    numbered: :class:`LimitExceeded` (a ValueError, so also a caller error)."""
    if length < 0:
        raise ValueError("negative length")
    if not 1 <= max_chunk <= MAX_FRAGMENT_DATA:
        raise ValueError("max_chunk must be 1..%d" % MAX_FRAGMENT_DATA)
    count = -(-length // max_chunk)
    if count > MAX_FRAGMENTS:
        raise LimitExceeded("%d bytes need %d fragments, more than %d"
                            % (length, count, MAX_FRAGMENTS))
    return [FragmentSlice(i, i == count - 1, i * max_chunk,
                          min(max_chunk, length - i * max_chunk))
            for i in range(count)]


def split_message(message, max_chunk=FRAGMENT_CHUNK):
    """``[(FragmentSlice, chunk bytes), ...]`` for ``message``."""
    message = bytes(message)
    return [(s, message[s.offset:s.offset + s.length])
            for s in plan_fragments(len(message), max_chunk)]


class _Pending(object):
    __slots__ = ("parts", "last_index", "size", "started")

    def __init__(self, started):
        self.parts = {}
        self.last_index = None
        self.size = 0
        self.started = started


class Reassembler(object):
    """Bounded fragment reassembly.

    :meth:`add` returns the complete message (``bytes``) when the fragment
    completes it, else ``None``.  Limits (all keyword arguments):

    ``max_pending``
        messages in progress; when a fragment of a new message arrives and the
        table is full, the *oldest* message is dropped (a peer cannot block
        reassembly for everybody by holding slots).
    ``max_message_bytes``
        bytes of one message; beyond it the message is dropped and
        :class:`LimitExceeded` raised.
    ``max_fragment_bytes``
        plaintext bytes of one fragment.
    ``max_total_bytes``
        bytes held over all pending messages; the oldest messages are dropped
        to make room.
    ``timeout``
        seconds after the first fragment after which :meth:`expire` drops an
        incomplete message (only when the caller passes times).

    Inconsistent fragments (a second "last" with another index, an index past
    the last one, the same index with other bytes) drop the message and raise
    :class:`ProtocolError`; an identical duplicate is ignored.
    """

    def __init__(self, max_pending=64, max_message_bytes=MAX_MESSAGE_LENGTH,
                 max_fragment_bytes=MAX_FRAGMENT_DATA, max_total_bytes=2 ** 21,
                 timeout=30.0):
        self.max_pending = max_pending
        self.max_message_bytes = max_message_bytes
        self.max_fragment_bytes = max_fragment_bytes
        self.max_total_bytes = max_total_bytes
        self.timeout = timeout
        self._pending = collections.OrderedDict()
        self._total = 0

    def __len__(self):
        return len(self._pending)

    @property
    def total_bytes(self):
        return self._total

    def discard(self, key):
        """Forget the message ``key`` (no error if unknown)."""
        entry = self._pending.pop(key, None)
        if entry is not None:
            self._total -= entry.size

    def _fail(self, key, exc_type, message):
        self.discard(key)
        raise exc_type(message)

    def _drop_oldest(self):
        key = next(iter(self._pending))
        self.discard(key)

    def add(self, key, index, last, data, now=0.0):
        """Store fragment ``index`` of message ``key``; ``last`` = bit 7 of the
        flag byte.  Returns the message when complete, else ``None``."""
        data = bytes(data)
        if not 0 <= index < MAX_FRAGMENTS:
            self._fail(key, ProtocolError, "fragment index %r out of range" % (index,))
        if len(data) > self.max_fragment_bytes:
            self._fail(key, LimitExceeded, "fragment of %d bytes" % len(data))
        entry = self._pending.get(key)
        if entry is None:
            while self._pending and len(self._pending) >= self.max_pending:
                self._drop_oldest()
            entry = self._pending[key] = _Pending(now)
        old = entry.parts.get(index)
        if old is not None:
            if old != data or (last and entry.last_index != index):
                self._fail(key, ProtocolError, "conflicting duplicate fragment %d" % index)
            return None
        if last:
            if entry.last_index is not None and entry.last_index != index:
                self._fail(key, ProtocolError, "two last fragments")
            if entry.parts and max(entry.parts) > index:
                self._fail(key, ProtocolError, "fragment beyond the last one")
            entry.last_index = index
        elif entry.last_index is not None and index > entry.last_index:
            self._fail(key, ProtocolError, "fragment beyond the last one")
        if entry.size + len(data) > self.max_message_bytes:
            self._fail(key, LimitExceeded, "message larger than %d bytes"
                       % self.max_message_bytes)
        # Make room overall, never evicting the message being completed.
        while self._total + len(data) > self.max_total_bytes:
            oldest = next(iter(self._pending))
            if oldest == key:
                self._fail(key, LimitExceeded, "reassembly buffer full")
            self.discard(oldest)
        entry.parts[index] = data
        entry.size += len(data)
        self._total += len(data)
        if entry.last_index is not None and len(entry.parts) == entry.last_index + 1:
            self.discard(key)
            return b"".join(entry.parts[i] for i in range(entry.last_index + 1))
        return None

    def expire(self, now):
        """Drop messages whose first fragment is older than ``timeout``;
        return how many were dropped."""
        dropped = 0
        limit = now - self.timeout
        for key in [k for k, e in self._pending.items() if e.started < limit]:
            self.discard(key)
            dropped += 1
        return dropped
