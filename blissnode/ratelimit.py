"""
Token buckets keyed by anything (a source address, an account), with
bounded memory: the one rate limiter every role uses.

A bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per
second; time comes from a ``now()`` callable (``reactor.seconds``, a test
clock's ``seconds``).  :meth:`TokenBuckets.take` spends tokens only when
there are enough (a request that may pass); :meth:`TokenBuckets.charge`
spends them even when there are not, down to one burst of debt (a failure
that happened anyway: failures while limited keep the key limited, but a
flood never locks a key out for longer than one refill of the burst).
Full buckets are forgotten, and at most ``max_keys`` are tracked -- beyond
that the least recently used is dropped, which errs on the side of letting
traffic through.

:class:`ConnectionAdmission` uses them for the listeners: open connections
per address and in total, new connections per address per second.
"""

import collections

__all__ = ["TokenBuckets", "ConnectionAdmission"]


class TokenBuckets(object):
    """See the module docstring."""

    def __init__(self, rate, burst, now, max_keys=65536):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_keys = max_keys
        self._now = now
        self._buckets = collections.OrderedDict()  # key -> (tokens, time)

    def __len__(self):
        return len(self._buckets)

    def tokens(self, key, now=None):
        """Tokens available for ``key`` now (``burst`` for an unknown key)."""
        entry = self._buckets.get(key)
        if entry is None:
            return self.burst
        tokens, stamp = entry
        now = self._now() if now is None else now
        return min(self.burst, tokens + max(0.0, now - stamp) * self.rate)

    def retry_after(self, key, cost=1.0):
        """0 if ``key`` may spend ``cost`` now, else the seconds until it may."""
        tokens = self.tokens(key)
        if tokens >= cost:
            return 0.0
        return (cost - tokens) / self.rate

    def take(self, key, cost=1.0):
        """Spend ``cost`` tokens if there are that many; True if spent."""
        now = self._now()
        tokens = self.tokens(key, now)
        ok = tokens >= cost
        if ok:
            tokens -= cost
        self._store(key, tokens, now)
        return ok

    def charge(self, key, cost=1.0):
        """Spend ``cost`` tokens whether or not there are enough (at most one
        burst of debt)."""
        now = self._now()
        self._store(key, max(self.tokens(key, now) - cost, -self.burst), now)

    def forget(self, key):
        self._buckets.pop(key, None)

    def _store(self, key, tokens, now):
        self._buckets.pop(key, None)
        if tokens < self.burst:
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        self._prune(now)

    def _prune(self, now):
        # Drop the least recently touched buckets that have refilled completely.
        while self._buckets:
            key, (tokens, stamp) = next(iter(self._buckets.items()))
            if tokens + (now - stamp) * self.rate < self.burst:
                break
            del self._buckets[key]


class ConnectionAdmission(object):
    """Which new connections a listener takes, per source address and in
    total (issue 17.2): at most ``max_per_address`` open at once from one
    address, new ones from one address at ``connect_rate`` per second
    (burst ``connect_burst``; every connection to the login and event
    servers costs an RSA decryption, to the supernode a DH-384), and at most
    ``max_total`` in all.  ``max_per_address`` is kept well below
    ``max_total`` so no single address can fill the listener.

    :meth:`admit` answers ``None`` (taken: call :meth:`release` when the
    connection ends) or the reason for the refusal (``"too-many-connections"``,
    ``"connecting-too-fast"``, ``"server-full"``).  The open counts are
    exact; the rate buckets are :class:`TokenBuckets` (bounded memory).
    """

    def __init__(self, now, max_per_address=64, max_total=None, connect_rate=20.0,
                 connect_burst=64, max_keys=65536):
        self.max_per_address = max_per_address
        self.max_total = max_total
        self.rate = (TokenBuckets(connect_rate, connect_burst, now, max_keys)
                     if connect_rate else None)
        self._open = {}
        self.total = 0

    def open_from(self, address):
        return self._open.get(address, 0)

    def admit(self, address):
        if self.max_total is not None and self.total >= self.max_total:
            return "server-full"
        if self.max_per_address is not None and \
                self._open.get(address, 0) >= self.max_per_address:
            return "too-many-connections"
        if self.rate is not None and not self.rate.take(address):
            return "connecting-too-fast"
        self._open[address] = self._open.get(address, 0) + 1
        self.total += 1
        return None

    def release(self, address):
        n = self._open.get(address, 0) - 1
        if n <= 0:
            self._open.pop(address, None)
        else:
            self._open[address] = n
        if n >= 0:
            self.total -= 1
