"""The one token-bucket limiter every role uses (blissnode.ratelimit):
``charge`` (the failed-login use: spend even when short, bounded debt) and
``take`` (the UDP rate use: spend only when there is enough)."""

from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from blissnode.ratelimit import TokenBuckets


class TokenBucketsTests(TestCase):
    def setUp(self):
        self.clock = Clock()
        self.buckets = TokenBuckets(0.1, 3, self.clock.seconds)

    def test_burst_then_refill(self):
        for _ in range(3):
            self.assertEqual(self.buckets.retry_after("k"), 0.0)
            self.buckets.charge("k")
        self.assertEqual(self.buckets.retry_after("k"), 10.0)
        self.clock.advance(4)
        self.assertAlmostEqual(self.buckets.retry_after("k"), 6.0)
        self.clock.advance(6)
        self.assertEqual(self.buckets.retry_after("k"), 0.0)
        self.buckets.charge("k")
        self.assertEqual(self.buckets.retry_after("k"), 10.0)
        self.clock.advance(1000)
        self.assertEqual(self.buckets.tokens("k"), 3.0)  # never above burst

    def test_keys_independent(self):
        for _ in range(3):
            self.buckets.charge("a")
        self.assertGreater(self.buckets.retry_after("a"), 0)
        self.assertEqual(self.buckets.retry_after("b"), 0.0)

    def test_debt_is_bounded(self):
        for _ in range(1000):
            self.buckets.charge("k")
        # at most one burst of debt: 3 below zero, plus the 1 needed
        self.assertEqual(self.buckets.retry_after("k"), 40.0)

    def test_forget(self):
        for _ in range(3):
            self.buckets.charge("k")
        self.buckets.forget("k")
        self.buckets.forget("never")
        self.assertEqual(self.buckets.retry_after("k"), 0.0)

    def test_memory_bounded(self):
        buckets = TokenBuckets(0.1, 1, self.clock.seconds, max_keys=100)
        for i in range(1000):
            buckets.charge(i)
        self.assertEqual(len(buckets), 100)
        self.assertGreater(buckets.retry_after(999), 0)  # newest kept
        self.assertEqual(buckets.retry_after(0), 0.0)  # oldest dropped

    def test_recently_touched_kept(self):
        buckets = TokenBuckets(0.1, 5, self.clock.seconds, max_keys=2)
        buckets.charge("old")
        buckets.charge("mid")
        buckets.charge("old")
        buckets.charge("new")
        self.assertEqual(buckets.tokens("old"), 3.0)
        self.assertEqual(buckets.tokens("mid"), 5.0)

    def test_clock_going_backwards(self):
        self.clock.advance(100)
        self.buckets.charge("k")
        self.clock.rightNow = 50
        self.assertEqual(self.buckets.tokens("k"), 2.0)

    def test_take_spends_only_what_is_there(self):
        buckets = TokenBuckets(2.0, 2, self.clock.seconds)
        self.assertTrue(buckets.take("k"))
        self.assertTrue(buckets.take("k"))
        self.assertFalse(buckets.take("k"))
        self.assertEqual(buckets.tokens("k"), 0.0)  # a refused take costs nothing
        self.clock.advance(0.5)
        self.assertTrue(buckets.take("k"))
        self.assertAlmostEqual(buckets.retry_after("k"), 0.5)

    def test_full_buckets_are_forgotten(self):
        buckets = TokenBuckets(1.0, 2, self.clock.seconds)
        buckets.take("a")
        self.assertEqual(len(buckets), 1)
        self.clock.advance(5)
        buckets.take("b")
        self.assertEqual(len(buckets), 1)  # "a" refilled and dropped

    def test_bad_arguments(self):
        self.assertRaises(ValueError, TokenBuckets, 0, 1, self.clock.seconds)
        self.assertRaises(ValueError, TokenBuckets, 1, 0, self.clock.seconds)
