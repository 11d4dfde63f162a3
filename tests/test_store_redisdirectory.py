"""What only the Redis directory has: threads, expiry, several processes, bad
data, Redis down.  (The common contract: test_store_directory.)"""

import threading
import time

import attr
from twisted.internet import defer
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from blissnode.store.directory import IOnlineDirectory, OnlineEntry
from blissnode.store.redisdirectory import DirectoryUnavailable, RedisDirectory
from tests.services import redis_url
from tests.test_store_directory import InlineRedisDirectory, make_redis_directory


def entry(sid, name=None, node_id=None, addr=None, **kw):
    return OnlineEntry(sid, user_name=name, node_id=node_id, public_addr=addr, **kw)


class ThreadedRedisDirectoryTests(TestCase):
    def setUp(self):
        self.d = make_redis_directory(self, RedisDirectory)

    def test_interface(self):
        verifyObject(IOnlineDirectory, self.d)

    @defer.inlineCallbacks
    def test_round_trip_off_the_reactor_thread(self):
        e = entry("s1", "Echo123", 2 ** 63 + 5, ("192.0.2.1", 1000), user_record=b"\x00\xff",
                  since=1.5, last_seen=2.25)
        d = self.d.register(e)
        self.assertFalse(d.called)  # it runs on the directory's thread
        self.assertEqual((yield d), e)
        self.assertEqual((yield self.d.lookup_name("echo123")), [e])
        self.assertEqual((yield self.d.lookup_node_id(2 ** 63 + 5)), [e])
        self.assertEqual((yield self.d.touch("s1", 9.5)).last_seen, 9.5)
        self.assertEqual((yield self.d.search("ech")), [attr.evolve(e, last_seen=9.5)])
        self.assertEqual((yield self.d.count_users()), 1)
        self.assertEqual((yield self.d.remove("s1")).last_seen, 9.5)
        self.assertEqual((yield self.d.count()), 0)

    @defer.inlineCallbacks
    def test_two_processes_share_it(self):
        # A second instance with its own connections: another process.
        other = RedisDirectory(redis_url(), prefix=self.d.prefix)
        other.startService()
        self.addCleanup(other.stopService)
        yield self.d.register(entry("a:1", "alice123", 1, ("192.0.2.1", 1)))
        yield other.register(entry("b:1", "alice123", 2, ("192.0.2.2", 2)))
        self.assertEqual(sorted(e.session_id for e in (yield other.lookup_name("alice123"))),
                         ["a:1", "b:1"])
        self.assertEqual((yield self.d.count()), 2)
        self.assertEqual((yield self.d.count_users()), 1)
        yield other.remove("a:1")
        self.assertEqual([e.session_id for e in (yield self.d.lookup_name("alice123"))],
                         ["b:1"])

    @defer.inlineCallbacks
    def test_concurrent_renames_keep_the_indexes_consistent(self):
        yield defer.gatherResults([self.d.register(entry("s%d" % i, "name%d" % i, i))
                                   for i in range(20)])
        # Many updates of the same sessions at once, from the directory's threads.
        yield defer.gatherResults([self.d.update("s%d" % (i % 20), user_name="final%d" % (i % 3))
                                   for i in range(100)])
        entries = yield defer.gatherResults([self.d.get("s%d" % i) for i in range(20)])
        for name in ["name%d" % i for i in range(20)] + ["final%d" % j for j in range(3)]:
            hits = sorted(e.session_id for e in (yield self.d.lookup_name(name)))
            self.assertEqual(hits, sorted(e.session_id for e in entries if e.user_name == name))
        self.assertEqual((yield self.d.count_users()),
                         len({e.user_name for e in entries}))


class ExpiryTests(TestCase):
    def wait_past(self, directory, seconds):
        """Until Redis's own clock has passed ``seconds`` from now (polling it)."""
        client = directory._redis
        start = client.time()
        target = start[0] + start[1] / 1e6 + seconds
        while True:
            now = client.time()
            if now[0] + now[1] / 1e6 > target:
                return
            time.sleep(0.01)

    def test_untouched_entries_expire_without_stale_hits(self):
        d = make_redis_directory(self, InlineRedisDirectory, ttl=0.2)
        d.register(entry("old", "alice123", 7, ("192.0.2.1", 5), user_record=b"r"))
        self.wait_past(d, 0.3)
        self.assertIsNone(self.successResultOf(d.get("old")))
        for lookup in [d.lookup_name("alice123"), d.lookup_node_id(7),
                       d.lookup_address("192.0.2.1"), d.search("ali"),
                       d.search("ice", "substring")]:
            self.assertEqual(self.successResultOf(lookup), [])
        self.assertEqual(self.successResultOf(d.count()), 0)
        self.assertEqual(self.successResultOf(d.count_users()), 0)
        # The index members it left behind are swept (remove_stale does it too).
        self.assertEqual(self.successResultOf(d.sweep()), 1)
        leftover = [k for k in d._redis.scan_iter(match=d.prefix + "*")]
        self.assertEqual(leftover, [])

    def test_a_new_entry_is_not_confused_with_an_expired_one(self):
        d = make_redis_directory(self, InlineRedisDirectory, ttl=0.2)
        d.register(entry("s1", "alice123", 7))
        self.wait_past(d, 0.3)
        d.ttl = 60.0
        d.register(entry("s1", "bob12345", 8))
        self.assertEqual(self.successResultOf(d.lookup_name("alice123")), [])
        self.assertEqual(self.successResultOf(d.lookup_node_id(7)), [])
        self.assertEqual(len(self.successResultOf(d.lookup_name("bob12345"))), 1)
        self.assertEqual(self.successResultOf(d.count_users()), 1)

    def test_touch_is_the_keep_alive(self):
        d = make_redis_directory(self, InlineRedisDirectory, ttl=30.0)
        d.register(entry("s1", "alice123"))
        key = d.prefix + "e:s1"
        d._redis.pexpire(key, 1000)  # as if most of its life had passed
        self.successResultOf(d.touch("s1", 5.0))
        self.assertGreater(d._redis.pttl(key), 1000)


class BadDataTests(TestCase):
    def test_corrupt_entry_is_ignored_with_a_bounded_line(self):
        d = make_redis_directory(self, InlineRedisDirectory)
        d.register(entry("s1", "alice123", 1))
        d._redis.set(d.prefix + "e:s1", b"{not json" + b"x" * 10000)
        self.assertEqual(self.successResultOf(d.lookup_name("alice123")), [])
        self.assertIsNone(self.successResultOf(d.get("s1")))
        # Replacing it repairs the indexes.
        d.register(entry("s1", "bob12345", 2))
        self.assertEqual(self.successResultOf(d.lookup_name("alice123")), [])
        self.assertEqual(len(self.successResultOf(d.lookup_name("bob12345"))), 1)


class RedisDownTests(TestCase):
    @defer.inlineCallbacks
    def test_failures_are_directory_unavailable(self):
        d = RedisDirectory("redis://127.0.0.1:1/0")
        d.startService()
        self.addCleanup(d.stopService)
        yield self.assertFailure(d.register(entry("s1", "alice123")), DirectoryUnavailable)
        yield self.assertFailure(d.lookup_name("alice123"), DirectoryUnavailable)

    def test_threads_are_not_the_reactors(self):
        seen = []
        d = make_redis_directory(self, RedisDirectory)
        d._guarded_original = d._guarded

        def record(function, args):
            seen.append(threading.get_ident())
            return d._guarded_original(function, args)
        d._guarded = record
        return d.count().addCallback(
            lambda n: self.assertNotIn(threading.get_ident(), seen))
