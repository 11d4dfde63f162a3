"""
:class:`VerifiedCredentials`: credentials this process checked with scrypt a
moment ago, so the next check of the same credential skips the hash.

Every sign-in checks the same MD5 credential twice: the login server, then
the event server on the client's next connection (event.md 3).  Each check
is one scrypt (~40 ms of CPU); the second one proves nothing new.  After a
successful check the account store remembers a *proof*: an HMAC, under a
random key that lives only in this process's memory, of the name, the
credential and the stored hash it matched (salt and digest).  A later check
of the same name reads the stored hash as usual (a cheap database read) and
accepts without scrypt when the HMAC of the candidate matches the proof.

What this is not: a stored secret.  Nothing is written anywhere; the key
dies with the process; a proof expires after ``ttl`` seconds and the table
holds at most ``max_entries`` (oldest dropped first).  A changed credential
(new salt and digest) or a rehash makes every older proof of that account
miss, and a wrong credential never matches one, so the only effect is that
the right credential is accepted faster for a while.
"""

import collections
import hashlib
import hmac
import os
import time

__all__ = ["VerifiedCredentials", "DEFAULT_TTL", "DEFAULT_MAX_ENTRIES"]

#: How long a proof stands (seconds): long enough for a client to open its
#: event connection after signing in (GUESS: the clients connect within a
#: few seconds; a later connection simply pays the hash again).
DEFAULT_TTL = 600.0

#: Most proofs kept (about 100 bytes each).
DEFAULT_MAX_ENTRIES = 100000


class VerifiedCredentials(object):
    """Expiring in-memory proofs of recently verified credentials.

    :param now: returns seconds (monotonic by default; tests pass a clock).
    """

    def __init__(self, ttl=DEFAULT_TTL, max_entries=DEFAULT_MAX_ENTRIES, now=time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._now = now
        self._key = os.urandom(32)
        self._proofs = collections.OrderedDict()  # name -> (tag, expires)
        self.hits = 0

    def __len__(self):
        return len(self._proofs)

    def _tag(self, name, credential16, stored):
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for part in (name.encode("utf-8"), bytes(credential16), stored.salt, stored.digest):
            mac.update(len(part).to_bytes(4, "big"))
            mac.update(part)
        return mac.digest()

    def remember(self, name, credential16, stored):
        """``credential16`` of ``name`` was just verified against ``stored``."""
        proofs = self._proofs
        proofs.pop(name, None)
        proofs[name] = (self._tag(name, credential16, stored), self._now() + self.ttl)
        while len(proofs) > self.max_entries:
            proofs.popitem(last=False)

    def recall(self, name, credential16, stored):
        """True when ``credential16`` of ``name`` was verified against
        ``stored`` less than ``ttl`` seconds ago."""
        entry = self._proofs.get(name)
        if entry is None:
            return False
        tag, expires = entry
        if self._now() >= expires:
            del self._proofs[name]
            return False
        if not hmac.compare_digest(tag, self._tag(name, credential16, stored)):
            return False
        self.hits += 1
        return True

    def forget(self, name):
        self._proofs.pop(name, None)
