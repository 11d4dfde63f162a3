"""
Session seeds the login and event servers have already accepted: refusing
a classic (1.x-4.x) session that is replayed byte for byte (issue 17.4).

A classic session gives the server no nonce of its own: the client picks
the session seed, encrypts it to the login key (the RSA blob) and derives
both directions' AES keys from it.  Someone who recorded a session can
send the same bytes again and, without knowing any key, have the requests
executed a second time -- and since our reply is sealed with the recorded
keystream, XORing it with a reply they can guess gives them the earlier
reply in clear.  So a seed (and with it the RSA blob that carries it) is
good for one connection only: :meth:`ISeenSeeds.first_use` records its
digest and answers whether it had been seen before.  Real clients draw a
fresh random seed for every connection, so they never notice.

Entries live ``ttl`` seconds (default :data:`DEFAULT_TTL`; a replay after
that would need a credential still valid and a password unchanged, so keep
it long).  :class:`MemorySeenSeeds` is one process's (bounded: beyond
``max_entries`` the oldest are forgotten -- a replay of a seed that old
passes again); :class:`RedisSeenSeeds` is shared by every process and has
no such bound (one ``SET NX EX`` per connection; ``--seen-seeds redis://``).
"""

import collections
import hashlib

from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool
from zope.interface import Interface, implementer

__all__ = ["ISeenSeeds", "MemorySeenSeeds", "RedisSeenSeeds", "seed_digest",
           "DEFAULT_TTL", "DEFAULT_MAX_ENTRIES", "DEFAULT_PREFIX"]

#: Seconds a used seed stays refused: 30 days.
DEFAULT_TTL = 30 * 86400.0
#: Entries the in-memory set keeps (about 150 bytes each: ~40 MB).
DEFAULT_MAX_ENTRIES = 262144
DEFAULT_PREFIX = "blissnode:seed:"


def seed_digest(seed):
    """What is stored for a session seed: SHA-256 (the seed itself is a key)."""
    return hashlib.sha256(b"blissnode session seed\x00" + bytes(seed)).digest()


class ISeenSeeds(Interface):
    """Session seeds already used, shared by every process that serves the
    login key."""

    def first_use(digest):
        """Record ``digest`` (:func:`seed_digest`); a Deferred firing True if
        it had not been seen within the lifetime, False for a replay.  A
        failure of the store fails the Deferred (the caller refuses)."""


@implementer(ISeenSeeds)
class MemorySeenSeeds(object):
    """One process's seen seeds, bounded (module docstring)."""

    def __init__(self, now, ttl=DEFAULT_TTL, max_entries=DEFAULT_MAX_ENTRIES):
        self._now = now
        self.ttl = ttl
        self.max_entries = max_entries
        self._seen = collections.OrderedDict()  # digest -> time first used, oldest first

    def __len__(self):
        return len(self._seen)

    def first_use(self, digest):
        now = self._now()
        seen = self._seen
        while seen:
            oldest, stamp = next(iter(seen.items()))
            if stamp > now - self.ttl:
                break
            del seen[oldest]
        if digest in seen:
            return defer.succeed(False)
        seen[digest] = now
        while len(seen) > self.max_entries:
            seen.popitem(last=False)
        return defer.succeed(True)


@implementer(ISeenSeeds)
class RedisSeenSeeds(object):
    """Seen seeds in Redis, shared by every process (module docstring).
    redis-py runs on a small thread pool of its own; call :meth:`stop` when
    done."""

    def __init__(self, url=None, reactor=None, ttl=DEFAULT_TTL, prefix=DEFAULT_PREFIX,
                 threads=2, client=None):
        if reactor is None:
            from twisted.internet import reactor
        if client is None:
            import redis
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                          max_connections=threads + 1)
        self._reactor = reactor
        self._redis = client
        self.ttl = ttl
        self.prefix = prefix
        self._pool = ThreadPool(minthreads=0, maxthreads=threads, name="blissnode-seen-seeds")
        self._pool.start()
        self._trigger = reactor.addSystemEventTrigger("during", "shutdown", self.stop)

    def first_use(self, digest):
        key = self.prefix + digest.hex()
        return deferToThreadPool(self._reactor, self._pool, self._redis.set, key, b"1",
                                 nx=True, ex=max(1, int(self.ttl))).addCallback(bool)

    def stop(self):
        if self._pool.started:
            self._pool.stop()
            self._redis.close()
