"""
Small guards against hostile or broken peers, shared by the UDP and TCP
protocols: per-source token buckets (UDP packet rate), per-source counters
(half-open TCP sessions) and a bounded expiring mapping (NACK challenges,
reply cache, sent datagrams, pushes).  The per-source log throttle lives in
:mod:`blissnode.logthrottle` (the login and event servers use it too) and is
re-exported here.

Every structure here is bounded in size, so a flood from many addresses
costs memory proportional to the configured limits, not to the flood.  Times
come from a caller-supplied ``now()`` callable (``reactor.seconds``), so
tests drive them with :class:`twisted.internet.task.Clock`.
"""

import collections

from blissnode.logthrottle import LogThrottle
from blissnode.ratelimit import TokenBuckets  # noqa: F401  (the shared limiter)

__all__ = ["Counters", "ExpiringDict", "LogThrottle", "TokenBuckets"]


class ExpiringDict(object):
    """A mapping whose entries vanish ``ttl`` seconds after they were set and
    which never holds more than ``max_size`` entries (the oldest go first).

    Expiry is lazy: entries are dropped when looked at or when the mapping
    is written to, so no timer is needed.  Entries are kept in the order
    they were set, so the oldest is first; a write only walks the mapping
    when that oldest entry is due (:attr:`_due`), which keeps the per-write
    housekeeping of the UDP hot path to one comparison.
    """

    def __init__(self, ttl, max_size, now):
        self.ttl = ttl
        self.max_size = max_size
        self._now = now
        self._data = collections.OrderedDict()
        #: When the oldest entry expires (no walk is needed before then).
        self._due = float("inf")

    def __len__(self):
        self._expire(self._now())
        return len(self._data)

    def __contains__(self, key):
        return self.get(key) is not None

    def _expire(self, now):
        if now < self._due:
            return
        limit = now - self.ttl
        data = self._data
        while data:
            key = next(iter(data))
            stamp = data[key][0]
            if stamp > limit:
                self._due = stamp + self.ttl
                return
            del data[key]
        self._due = float("inf")

    def set(self, key, value):
        now = self._now()
        self._expire(now)
        data = self._data
        data.pop(key, None)
        data[key] = (now, value)
        if len(data) == 1:
            self._due = now + self.ttl
        elif len(data) > self.max_size:
            data.popitem(last=False)
            self._due = data[next(iter(data))][0] + self.ttl

    __setitem__ = set

    def get(self, key, default=None):
        item = self._data.get(key)
        if item is None:
            return default
        stamp, value = item
        if stamp <= self._now() - self.ttl:
            del self._data[key]
            return default
        return value

    def pop(self, key, default=None):
        value = self.get(key, default)
        self._data.pop(key, None)
        return value

    def items(self):
        self._expire(self._now())
        return [(k, v) for k, (_, v) in self._data.items()]

    def clear(self):
        self._data.clear()
        self._due = float("inf")


class Counters(object):
    """Per-source counters (half-open TCP sessions per IP)."""

    def __init__(self):
        self._counts = {}

    def get(self, source):
        return self._counts.get(source, 0)

    def increment(self, source):
        n = self._counts.get(source, 0) + 1
        self._counts[source] = n
        return n

    def decrement(self, source):
        n = self._counts.get(source, 0) - 1
        if n <= 0:
            self._counts.pop(source, None)
            return 0
        self._counts[source] = n
        return n

    def total(self):
        return sum(self._counts.values())
