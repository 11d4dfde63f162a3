"""
The online directory in Redis, shared by every blissnode process (``--directory redis://...``).

Same :class:`~blissnode.store.directory.IOnlineDirectory` and semantics as
:class:`~blissnode.store.directory.MemoryDirectory` (the same test suite
runs on both), plus a lifetime: an entry not touched (the keep-alive) or
re-registered for :attr:`RedisDirectory.ttl` seconds disappears, so the
sessions of a process that died do not stay online for ever.

Keys (``P`` is the prefix, default ``blissnode:dir:``):

``P e:<session>``
    the entry, JSON, with the TTL (Redis expires it);
``P name:<name>``, ``P node:<id>``, ``P ip:<address>``
    sorted sets of session ids scored by the time (Redis's clock, ms) the
    entry expires;
``P names`` (lexicographic), ``P users`` (name -> latest expiry)
    for search and ``count_users``;
``P all`` (session -> expiry), ``P seen`` (session -> ``last_seen``), ``P meta``
    (session -> its index keys, to clean up after an expiry).

Every read checks each index hit against the entry itself (it must exist and
still carry that name, node id or address) and ignores members whose score
has passed: an expired or replaced entry can never give a stale hit.
Index members left by expiries are removed by :meth:`RedisDirectory.sweep`
(run by ``remove_stale``, i.e. by the supernode's periodic expiry).
Changes to one session are optimistic transactions (WATCH/MULTI); the
per-name bookkeeping is one Lua script, so concurrent processes keep the
indexes consistent.  Plain Redis (one primary, or Sentinel), not Redis
Cluster: the keys of one operation are not in one hash slot.

redis-py runs on a Twisted thread pool (:data:`DEFAULT_THREADS` threads,
one pooled connection each); the reactor never waits for Redis.  A Redis
failure fails the Deferred with :class:`DirectoryUnavailable`.
"""

import base64
import json

import attr
from twisted.application import service
from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from blissnode.store.directory import (
    MAX_SEARCH_RESULTS,
    MAX_SUBSTRING_SCAN,
    SEARCH_MODES,
    IOnlineDirectory,
    OnlineEntry,
    normalize_name,
)
from blissnode.store.errors import StoreError
from blissnode.store.loglimit import OncePer

__all__ = ["DEFAULT_PREFIX", "DEFAULT_THREADS", "DEFAULT_TTL", "DirectoryUnavailable",
           "RedisDirectory", "decode_entry", "encode_entry"]

log = Logger()

DEFAULT_PREFIX = "blissnode:dir:"
DEFAULT_THREADS = 4

#: Seconds an entry lives without a touch or a change (the supernode's
#: UDP-publish lifetime: clients refresh well within it).
DEFAULT_TTL = 1800.0

#: Largest entry accepted from Redis (a bigger one is treated as corrupt).
MAX_ENTRY_BYTES = 256 * 1024

_NAME_LEX_CHUNK = 1000


class DirectoryUnavailable(StoreError):
    """Redis could not be reached or refused the command (the cause says why)."""


def _tag(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, tuple):
        return [_tag(v) for v in value]
    return value


def _untag(value):
    if isinstance(value, dict):
        return base64.b64decode(value["$b"], validate=True)
    if isinstance(value, list):
        return tuple(_untag(v) for v in value)
    return value


_FIELDS = [a.name for a in attr.fields(OnlineEntry)]


def encode_entry(entry):
    """The JSON text stored for ``entry`` (bytes fields in base64)."""
    return json.dumps({f: _tag(getattr(entry, f)) for f in _FIELDS}, separators=(",", ":"))


def decode_entry(raw):
    """The :class:`OnlineEntry` of stored JSON; ``ValueError`` if it is not one."""
    if raw is None:
        return None
    if len(raw) > MAX_ENTRY_BYTES:
        raise ValueError("entry of %d bytes" % (len(raw),))
    data = json.loads(raw)
    if not isinstance(data, dict) or set(data) - set(_FIELDS) or "session_id" not in data:
        raise ValueError("not an entry")
    return OnlineEntry(**{k: _untag(v) for k, v in data.items()})


def _keys_of(entry):
    """``(name, node id text, ip)`` an entry is indexed under (``None`` where absent)."""
    name = None if entry.user_name is None else normalize_name(entry.user_name)
    node = None if entry.node_id is None else str(entry.node_id)
    ip = None if entry.public_addr is None else entry.public_addr[0]
    return name, node, ip


#: After a change to a name's entries: drop its expired members, then either
#: forget the name (no member left) or record its latest expiry.
#: KEYS: name index, names, users; ARGV: now (ms), name.
_NAME_BOOKKEEPING = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #top == 0 then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], ARGV[2])
    redis.call('ZREM', KEYS[3], ARGV[2])
else
    redis.call('ZADD', KEYS[2], 0, ARGV[2])
    redis.call('ZADD', KEYS[3], top[2], ARGV[2])
end
return #top
"""


@implementer(IOnlineDirectory)
class RedisDirectory(service.Service):
    """:class:`IOnlineDirectory` over Redis (see the module docstring).

    :param url: ``redis://[:password@]host:port/db`` (or ``rediss://``,
        ``unix://``), as redis-py reads it.
    :param ttl: seconds an entry lives without a touch.
    :param prefix: the start of every key (several communities, or tests,
        can share one Redis).
    :param client: a ready ``redis.Redis`` (tests); otherwise made from ``url``.

    Start it (or let its parent service start it) before use; calls made
    before wait in the queue.
    """

    name = "directory"

    def __init__(self, url=None, reactor=None, ttl=DEFAULT_TTL, prefix=DEFAULT_PREFIX,
                 threads=DEFAULT_THREADS, client=None):
        if reactor is None:
            from twisted.internet import reactor
        if client is None:
            import redis
            client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5,
                                          health_check_interval=30,
                                          max_connections=threads + 2)
        import redis
        self._errors = (redis.RedisError, OSError)
        self._watch_error = redis.WatchError
        self._reactor = reactor
        self._redis = client
        self.ttl = float(ttl)
        self.prefix = prefix
        self._pool = ThreadPool(minthreads=0, maxthreads=threads, name="blissnode-redis-dir")
        self._bookkeeping = client.register_script(_NAME_BOOKKEEPING)
        self._throttle = OncePer(reactor.seconds, 60.0)

    # -- life cycle -----------------------------------------------------------------------

    def startService(self):
        service.Service.startService(self)
        if not self._pool.started:
            self._pool.start()

    def stopService(self):
        service.Service.stopService(self)
        if self._pool.started:
            self._pool.stop()
        self._redis.close()

    # -- plumbing -------------------------------------------------------------------------

    def _call(self, function, *args):
        return deferToThreadPool(self._reactor, self._pool, self._guarded, function, args)

    def _guarded(self, function, args):
        try:
            return function(*args)
        except self._errors as e:
            raise DirectoryUnavailable("the Redis directory failed: %s"
                                       % (str(e).splitlines()[0] if str(e) else
                                          type(e).__name__,)) from e

    def _k(self, *parts):
        return self.prefix + ":".join(parts)

    def _now_ms(self, conn):
        seconds, micros = conn.time()
        return seconds * 1000 + micros // 1000

    def _decode(self, raw, sid):
        try:
            return decode_entry(raw)
        except (ValueError, TypeError, KeyError, base64.binascii.Error) as e:
            if self._throttle.allow("bad-entry"):
                log.warn("directory: ignoring the unreadable entry of session {sid!r} "
                         "({error})", sid=str(sid)[:80], error=str(e)[:120])
            return None

    def _index_keys(self, keys):
        name, node, ip = keys
        return [k for k in (name is not None and self._k("name", name),
                            node is not None and self._k("node", node),
                            ip is not None and self._k("ip", ip)) if k]

    # -- writes (one session, optimistic transaction) ---------------------------------------

    def _change(self, sid, compute):
        """Apply ``compute(old entry or None) -> new entry or None (delete)``
        atomically; return ``(old, new)``."""
        ekey = self._k("e", sid)
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(ekey)
                    old = self._decode(pipe.get(ekey), sid)
                    new = compute(old)
                    now = self._now_ms(pipe)
                    expires = now + int(self.ttl * 1000)
                    pipe.multi()
                    if old is not None:
                        for key in self._index_keys(_keys_of(old)):
                            pipe.zrem(key, sid)
                    if new is None:
                        pipe.delete(ekey)
                        pipe.zrem(self._k("all"), sid)
                        pipe.zrem(self._k("seen"), sid)
                        pipe.hdel(self._k("meta"), sid)
                    else:
                        keys = _keys_of(new)
                        pipe.set(ekey, encode_entry(new), px=int(self.ttl * 1000))
                        for key in self._index_keys(keys):
                            pipe.zadd(key, {sid: expires})
                        pipe.zadd(self._k("all"), {sid: expires})
                        pipe.zadd(self._k("seen"), {sid: float(new.last_seen or 0.0)})
                        pipe.hset(self._k("meta"), sid, json.dumps(keys))
                    pipe.execute()
                    break
                except self._watch_error:
                    continue
        names = {_keys_of(e)[0] for e in (old, new) if e is not None} - {None}
        for name in names:
            self._name_bookkeeping(name, now)
        return old, new

    def _name_bookkeeping(self, name, now):
        self._bookkeeping(keys=[self._k("name", name), self._k("names"), self._k("users")],
                          args=[now, name])

    def register(self, entry):
        sid = entry.session_id
        return self._call(self._change, sid, lambda old: entry).addCallback(lambda r: r[1])

    def update(self, session_id, **changes):
        def compute(old):
            return None if old is None else attr.evolve(old, **changes)
        return self._call(self._change_existing, session_id, compute)

    def _change_existing(self, session_id, compute):
        # A missing session stays missing (no delete for a no-op).
        if self._redis.exists(self._k("e", session_id)) == 0:
            return None
        old, new = self._change(session_id, lambda old: old if old is None else compute(old))
        return new

    def touch(self, session_id, when):
        return self.update(session_id, last_seen=when)

    def remove(self, session_id):
        return self._call(self._change, session_id, lambda old: None).addCallback(
            lambda r: r[0])

    # -- reads ------------------------------------------------------------------------------

    def get(self, session_id):
        return self._call(self._get, session_id)

    def _get(self, session_id):
        return self._decode(self._redis.get(self._k("e", session_id)), session_id)

    def _live(self, index_key, check):
        """The entries an index key lists that exist, are not expired, and pass ``check``."""
        now = self._now_ms(self._redis)
        sids = self._redis.zrangebyscore(index_key, "(%d" % (now,), "+inf")
        return self._entries(sids, check)

    def _entries(self, sids, check):
        if not sids:
            return []
        raws = self._redis.mget([self._k("e", s.decode() if isinstance(s, bytes) else s)
                                 for s in sids])
        out = []
        for sid, raw in zip(sids, raws):
            entry = self._decode(raw, sid)
            if entry is not None and check(entry):
                out.append(entry)
        out.sort(key=lambda e: (e.since, str(e.session_id)))
        return out

    def lookup_name(self, name):
        key = normalize_name(name)
        return self._call(self._live, self._k("name", key),
                          lambda e: _keys_of(e)[0] == key)

    def lookup_node_id(self, node_id):
        return self._call(self._live, self._k("node", str(node_id)),
                          lambda e: e.node_id == node_id)

    def lookup_address(self, ip, port=None):
        ip = str(ip)
        return self._call(self._live, self._k("ip", ip),
                          lambda e: e.public_addr is not None and e.public_addr[0] == ip
                          and (port is None or e.public_addr[1] == port))

    def search(self, text, mode="prefix", limit=50, with_record=False):
        if mode not in SEARCH_MODES:
            return defer.fail(ValueError("unknown search mode %r" % (mode,)))
        key = normalize_name(text)
        limit = max(0, min(int(limit), MAX_SEARCH_RESULTS))
        if not limit or not key:
            return defer.succeed([])
        return self._call(self._search, key, mode, limit, with_record)

    def _search(self, key, mode, limit, with_record):
        out = []

        def collect(name):
            for entry in self._live(self._k("name", name),
                                    lambda e: _keys_of(e)[0] == name):
                if with_record and not entry.user_record:
                    continue
                out.append(entry)
                if len(out) >= limit:
                    return True
            return False

        if mode == "exact":
            collect(key)
            return out[:limit]
        low = b"[" + key.encode("utf-8") if mode == "prefix" else b"-"
        high = b"[" + key.encode("utf-8") + b"\xff" if mode == "prefix" else b"+"
        scanned = 0
        while scanned < MAX_SUBSTRING_SCAN:
            names = self._redis.zrangebylex(self._k("names"), low, high,
                                            start=0, num=_NAME_LEX_CHUNK)
            if not names:
                break
            for raw in names:
                name = raw.decode("utf-8", "replace")
                scanned += 1
                if (mode == "prefix" or key in name) and collect(name):
                    return out[:limit]
            if len(names) < _NAME_LEX_CHUNK:
                break
            low = b"(" + names[-1]
        return out[:limit]

    def count(self):
        return self._call(self._count, "all")

    def count_users(self):
        return self._call(self._count, "users")

    def _count(self, which):
        now = self._now_ms(self._redis)
        return self._redis.zcount(self._k(which), "(%d" % (now,), "+inf")

    # -- expiry -----------------------------------------------------------------------------

    def remove_stale(self, before, prefix=None):
        return self._call(self._remove_stale, before, prefix)

    def _remove_stale(self, before, prefix=None):
        self._sweep()
        removed = []
        for raw in self._redis.zrangebyscore(self._k("seen"), "-inf", "(%r" % (float(before),)):
            sid = raw.decode("utf-8", "replace")
            if prefix is not None and not sid.startswith(prefix):
                continue

            def compute(old):
                if old is None or (old.last_seen or 0.0) >= before:
                    return old  # touched meanwhile (or gone): keep as it is
                removed.append(old)
                return None
            self._change(sid, compute)
        return removed

    def sweep(self):
        """Forget the index members of entries Redis has expired; Deferred(how many)."""
        return self._call(self._sweep)

    def _sweep(self):
        now = self._now_ms(self._redis)
        expired = self._redis.zrangebyscore(self._k("all"), "-inf", now)
        for raw in expired:
            sid = raw.decode("utf-8", "replace")
            if self._redis.exists(self._k("e", sid)):
                continue  # re-registered meanwhile
            meta = self._redis.hget(self._k("meta"), sid)
            try:
                keys = tuple(json.loads(meta)) if meta else (None, None, None)
            except ValueError:
                keys = (None, None, None)
            with self._redis.pipeline() as pipe:
                for key in self._index_keys(keys):
                    pipe.zrem(key, sid)
                pipe.zrem(self._k("all"), sid)
                pipe.zrem(self._k("seen"), sid)
                pipe.hdel(self._k("meta"), sid)
                pipe.execute()
            if keys[0] is not None:
                self._name_bookkeeping(keys[0], now)
        return len(expired)
