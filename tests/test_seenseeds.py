"""Seen session seeds (blissnode.seenseeds, issue 17.4): a seed is good for
one connection; the Redis store is shared by every process."""

import os
import stat
import tempfile

from twisted.internet import defer, task
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from blissnode.datadir import UnsafeDataDir, ensure_data_dir
from blissnode.seenseeds import ISeenSeeds, MemorySeenSeeds, RedisSeenSeeds, seed_digest
from tests.services import ServiceUnavailable, redis_prefix, redis_url


class MemorySeenSeedsTests(TestCase):
    def test_repeats_refused_until_expiry_and_bounded(self):
        clock = task.Clock()
        seen = MemorySeenSeeds(clock.seconds, ttl=10, max_entries=2)
        verifyObject(ISeenSeeds, seen)
        results = []
        for seed in (b"a", b"a", b"b", b"a"):
            seen.first_use(seed_digest(seed)).addCallback(results.append)
        self.assertEqual(results, [True, False, True, False])
        clock.advance(11)
        seen.first_use(seed_digest(b"a")).addCallback(results.append)
        self.assertEqual(results[-1], True)
        for seed in (b"c", b"d"):
            seen.first_use(seed_digest(seed))
        self.assertEqual(len(seen), 2)

    def test_digest_is_not_the_seed(self):
        self.assertNotIn(b"secret-seed", seed_digest(b"secret-seed"))
        self.assertEqual(len(seed_digest(b"x")), 32)


class RedisSeenSeedsTests(TestCase):
    def setUp(self):
        try:
            url = redis_url()
        except ServiceUnavailable as e:
            raise self.failureException("Redis needed: %s" % (e,))
        from twisted.internet import reactor
        prefix = redis_prefix()
        self.a = RedisSeenSeeds(url, reactor=reactor, prefix=prefix, ttl=60)
        self.b = RedisSeenSeeds(url, reactor=reactor, prefix=prefix, ttl=60)  # another process
        self.addCleanup(self.a.stop)
        self.addCleanup(self.b.stop)

    @defer.inlineCallbacks
    def test_shared_between_processes(self):
        verifyObject(ISeenSeeds, self.a)
        digest = seed_digest(os.urandom(32))
        self.assertTrue((yield self.a.first_use(digest)))
        self.assertFalse((yield self.b.first_use(digest)))
        self.assertFalse((yield self.a.first_use(digest)))
        self.assertTrue((yield self.b.first_use(seed_digest(os.urandom(32)))))


class DataDirTests(TestCase):
    def test_world_writable_refused(self):
        base = tempfile.mkdtemp()
        self.addCleanup(os.rmdir, base)
        os.chmod(base, 0o777)
        self.assertRaises(UnsafeDataDir, ensure_data_dir, base)
        os.chmod(base, 0o700)
        self.assertEqual(ensure_data_dir(base).path, base)
        self.assertEqual(stat.S_IMODE(os.stat(base).st_mode), 0o700)
