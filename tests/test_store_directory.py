"""The online directory: IOnlineDirectory, MemoryDirectory and RedisDirectory.

:class:`DirectoryTests` is the one suite; it runs on the in-memory directory
and on a real Redis server (tests/services.py), whose directory here runs
its Redis calls inline (:class:`InlineRedisDirectory`) so that every result
is an already-fired Deferred, as with memory; test_store_redisdirectory
runs the threaded one and what only Redis has (expiry, several processes).
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet import defer
from twisted.trial import unittest
from zope.interface.verify import verifyObject

from blissnode.store.directory import (
    MAX_SEARCH_RESULTS,
    IOnlineDirectory,
    MemoryDirectory,
    OnlineEntry,
)
from blissnode.store.redisdirectory import RedisDirectory


def entry(sid, name=None, node_id=None, addr=None, **kw):
    return OnlineEntry(sid, user_name=name, node_id=node_id, public_addr=addr, **kw)


class InlineRedisDirectory(RedisDirectory):
    """A RedisDirectory that runs its Redis calls on the calling thread (tests only)."""

    def _call(self, function, *args):
        return defer.maybeDeferred(self._guarded, function, args)


def make_redis_directory(testcase, directory_class=InlineRedisDirectory, **kwargs):
    """A directory under a key prefix of its own on the test Redis server,
    whose keys ``testcase`` deletes at its clean-up."""
    import redis

    from tests.services import redis_prefix, redis_url
    url, prefix = redis_url(), redis_prefix()
    directory = directory_class(url, prefix=prefix, **kwargs)
    directory.startService()

    def clean():
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        return directory.stopService()
    testcase.addCleanup(clean)
    return directory


class DirectoryTests:
    """The IOnlineDirectory contract; :meth:`make_directory` says which one."""

    def setUp(self):
        self.d = self.make_directory()

    def result(self, deferred):
        return self.successResultOf(deferred)

    def test_interface(self):
        verifyObject(IOnlineDirectory, self.d)

    def test_register_lookup_remove(self):
        e = entry("s1", "Echo123", 0xAB, ("192.0.2.1", 1000), listen_port=37058,
                  client_version="1.4.0.84", user_record=b"rec", node_record=b"n" * 21)
        self.assertEqual(self.result(self.d.register(e)), e)
        self.assertEqual(self.result(self.d.get("s1")), e)
        self.assertEqual(self.result(self.d.lookup_name("echo123")), [e])
        self.assertEqual(self.result(self.d.lookup_name("ECHO123")), [e])
        self.assertEqual(self.result(self.d.lookup_node_id(0xAB)), [e])
        self.assertEqual(self.result(self.d.lookup_address("192.0.2.1")), [e])
        self.assertEqual(self.result(self.d.lookup_address("192.0.2.1", 1000)), [e])
        self.assertEqual(self.result(self.d.lookup_address("192.0.2.1", 1001)), [])
        self.assertEqual(self.result(self.d.count()), 1)
        self.assertEqual(self.result(self.d.remove("s1")), e)
        self.assertIsNone(self.result(self.d.remove("s1")))
        self.assertEqual(self.result(self.d.lookup_name("echo123")), [])
        self.assertEqual(self.result(self.d.lookup_node_id(0xAB)), [])
        self.assertEqual(self.result(self.d.count()), 0)

    def test_update_reindexes(self):
        self.d.register(entry("s1", None, 1, ("192.0.2.1", 1)))
        new = self.result(self.d.update("s1", user_name="alice", node_id=2))
        self.assertEqual(new.user_name, "alice")
        self.assertEqual(self.result(self.d.lookup_node_id(1)), [])
        self.assertEqual(self.result(self.d.lookup_node_id(2)), [new])
        self.assertEqual(self.result(self.d.lookup_name("alice")), [new])
        self.assertIsNone(self.result(self.d.update("nope", user_name="x")))
        self.assertEqual(self.result(self.d.touch("s1", 55.0)).last_seen, 55.0)

    def test_same_user_several_places(self):
        self.d.register(entry("s1", "bob"))
        self.d.register(entry("s2", "bob"))
        self.assertEqual(len(self.result(self.d.lookup_name("bob"))), 2)
        self.assertEqual(self.result(self.d.count_users()), 1)
        self.d.remove("s1")
        self.assertEqual(len(self.result(self.d.lookup_name("bob"))), 1)
        self.assertEqual(self.result(self.d.search("bob", "exact")), [entry("s2", "bob")])

    def test_register_replaces(self):
        self.d.register(entry("s1", "a"))
        self.d.register(entry("s1", "b"))
        self.assertEqual(self.result(self.d.lookup_name("a")), [])
        self.assertEqual(self.result(self.d.count()), 1)

    def test_search_modes_and_limits(self):
        for i, name in enumerate(["anna", "annabel", "bob", "joanna", "ann"]):
            self.d.register(entry("s%d" % i, name, user_record=b"r" if i != 1 else None))
        names = lambda es: [e.user_name for e in es]
        self.assertEqual(names(self.result(self.d.search("ann", "exact"))), ["ann"])
        self.assertEqual(names(self.result(self.d.search("ann", "prefix"))),
                         ["ann", "anna", "annabel"])
        self.assertEqual(names(self.result(self.d.search("ANN", "substring"))),
                         ["ann", "anna", "annabel", "joanna"])
        self.assertEqual(names(self.result(self.d.search("ann", "prefix", with_record=True))),
                         ["ann", "anna"])
        self.assertEqual(names(self.result(self.d.search("ann", "prefix", limit=2))),
                         ["ann", "anna"])
        self.assertEqual(self.result(self.d.search("", "prefix")), [])
        self.assertEqual(self.result(self.d.search("ann", "prefix", limit=0)), [])
        self.failureResultOf(self.d.search("x", "regex"), ValueError)

    def test_search_hard_limit(self):
        for i in range(MAX_SEARCH_RESULTS + 10):
            self.d.register(entry("s%d" % i, "u%05d" % i))
        self.assertEqual(len(self.result(self.d.search("u", limit=10 ** 9))),
                         MAX_SEARCH_RESULTS)

    def test_remove_stale(self):
        self.d.register(entry("old", "a", last_seen=10.0))
        self.d.register(entry("new", "b", last_seen=100.0))
        stale = self.result(self.d.remove_stale(50.0))
        self.assertEqual([e.session_id for e in stale], ["old"])
        self.assertEqual(self.result(self.d.count()), 1)

    def test_bytes_name_normalized(self):
        self.d.register(entry("s", b"Carol"))
        self.assertEqual(len(self.result(self.d.lookup_name("carol"))), 1)

    @settings(max_examples=200, deadline=None,
              # the same test runs on memory and on Redis
              suppress_health_check=[HealthCheck.differing_executors])
    @given(st.lists(st.tuples(st.sampled_from(["add", "remove", "rename"]),
                              st.integers(0, 6), st.sampled_from(["a", "ab", "b", "abc"])),
                    max_size=40))
    def test_indexes_consistent(self, ops):
        d = self.make_directory()
        model = {}
        for op, n, name in ops:
            sid = "s%d" % n
            if op == "add":
                d.register(entry(sid, name, node_id=n))
                model[sid] = name
            elif op == "remove":
                d.remove(sid)
                model.pop(sid, None)
            elif sid in model:
                d.update(sid, user_name=name)
                model[sid] = name
        for name in ["a", "ab", "b", "abc"]:
            got = sorted(e.session_id for e in self.successResultOf(d.lookup_name(name)))
            self.assertEqual(got, sorted(s for s, v in model.items() if v == name))
            got = sorted(e.session_id for e in self.successResultOf(d.search(name, "prefix")))
            self.assertEqual(got, sorted(s for s, v in model.items() if v.startswith(name)))
        self.assertEqual(self.successResultOf(d.count()), len(model))


class MemoryDirectoryTests(DirectoryTests, unittest.TestCase):
    def make_directory(self):
        return MemoryDirectory()


class RedisDirectoryTests(DirectoryTests, unittest.TestCase):
    def make_directory(self):
        return make_redis_directory(self)


class OncePerTests(unittest.TestCase):
    def test_one_line_per_interval_per_key(self):
        from blissnode.store.loglimit import OncePer
        now = [0.0]
        limit = OncePer(lambda: now[0], 60.0, max_keys=2)
        self.assertEqual([limit.allow("a"), limit.allow("a"), limit.allow("b")],
                         [True, False, True])
        now[0] = 59.0
        self.assertFalse(limit.allow("a"))
        now[0] = 60.0
        self.assertTrue(limit.allow("a"))
        limit.allow("c")  # forgets the oldest key
        self.assertEqual(len(limit._last), 2)
