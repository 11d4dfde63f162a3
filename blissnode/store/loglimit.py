"""
"At most one line a minute" for the store's own warnings (a flood of bad
directory entries or dropped bus messages must not flood the log).  The
store may not import the protocol side's :mod:`blissnode.logthrottle`
(tests/test_layering.py), and needs only this much of it.
"""

import threading

__all__ = ["OncePer"]


class OncePer:
    """``allow(key)`` is true at most once per ``interval`` seconds per key (thread-safe).

    :param clock: returns the current time in seconds.
    :param max_keys: keys remembered at most (the oldest are forgotten).
    """

    def __init__(self, clock, interval=60.0, max_keys=64):
        self._clock = clock
        self.interval = interval
        self._max_keys = max_keys
        self._last = {}
        self._lock = threading.Lock()

    def allow(self, key):
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return False
            self._last.pop(key, None)
            self._last[key] = now
            while len(self._last) > self._max_keys:
                self._last.pop(next(iter(self._last)))
            return True
