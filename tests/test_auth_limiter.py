"""Failed-login rate limiting (pure logic, fake clock)."""

from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase

from blissnode.auth.limiter import (
    REASON_ACCOUNT,
    REASON_ADDRESS,
    Decision,
    FailedLoginLimiter,
    Limit,
    account_key,
    address_key,
)


class LimitTests(TestCase):
    def test_bad_limit(self):
        self.assertRaises(ValueError, Limit, 0, 1.0)
        self.assertRaises(ValueError, Limit, 1, 0)


class KeyTests(TestCase):
    def test_address_key(self):
        self.assertEqual(address_key("192.0.2.7"), "192.0.2.7")
        self.assertEqual(address_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64")
        self.assertEqual(address_key("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64")
        self.assertEqual(address_key("::ffff:192.0.2.7"), "192.0.2.7")
        self.assertEqual(address_key("not an address"), "not an address")

    def test_account_key(self):
        self.assertEqual(account_key("Echo123"), "echo123")
        self.assertEqual(account_key(b"echo123"), "echo123")
        self.assertIsNone(account_key("1bad"))
        self.assertIsNone(account_key(None))


class FailedLoginLimiterTests(TestCase):
    def setUp(self):
        self.clock = Clock()
        self.limiter = FailedLoginLimiter(self.clock, per_address=Limit(5, 2.0),
                                          per_account=Limit(3, 60.0))

    def test_fresh_is_allowed(self):
        self.assertEqual(self.limiter.check("192.0.2.1", "echo123"), Decision(True))

    def test_per_address_and_account(self):
        # three failures on one account from one address slow that pair only
        for _ in range(3):
            self.assertTrue(self.limiter.check("192.0.2.1", "echo123").allowed)
            self.limiter.failed("192.0.2.1", "Echo123")
        decision = self.limiter.check("192.0.2.1", "ECHO123")
        self.assertEqual(decision, Decision(False, REASON_ACCOUNT, 60.0))
        self.assertTrue(self.limiter.check("192.0.2.1", "other123").allowed)
        self.clock.advance(60)
        self.assertTrue(self.limiter.check("192.0.2.1", "echo123").allowed)

    def test_stranger_cannot_lock_the_owner_out(self):
        # Issue 17.5: 16 wrong passwords from a stranger's address; the
        # owner, from an address of their own, still signs in.
        limiter = FailedLoginLimiter(self.clock)
        for _ in range(16):
            limiter.failed("203.0.113.9", "alice123")
        self.assertFalse(limiter.check("203.0.113.9", "alice123").allowed)
        self.assertTrue(limiter.check("198.51.100.4", "alice123").allowed)

    def test_guesses_spread_over_addresses_are_slowed(self):
        limiter = FailedLoginLimiter(self.clock, per_address=Limit(5, 2.0),
                                     per_account=Limit(3, 60.0),
                                     per_account_spread=Limit(4, 60.0))
        for i in range(4):
            limiter.failed("192.0.2.%d" % i, "echo123")
        # an address that guessed before is held by the account-wide limit ...
        self.assertEqual(limiter.check("192.0.2.0", "echo123").reason, REASON_ACCOUNT)
        # ... an address that never failed on the account is not
        self.assertTrue(limiter.check("198.51.100.1", "echo123").allowed)

    def test_per_address(self):
        for i in range(5):
            self.limiter.failed("192.0.2.1", "user%04d" % i)
        decision = self.limiter.check("192.0.2.1", "fresh123")
        self.assertEqual((decision.allowed, decision.reason), (False, REASON_ADDRESS))
        self.assertEqual(decision.retry_after, 2.0)
        self.assertTrue(self.limiter.check("192.0.2.2", "fresh123").allowed)
        self.clock.advance(2)
        self.assertTrue(self.limiter.check("192.0.2.1", "fresh123").allowed)

    def test_address_reason_wins(self):
        for _ in range(5):
            self.limiter.failed("192.0.2.1", "echo123")
        self.assertEqual(self.limiter.check("192.0.2.1", "echo123").reason, REASON_ADDRESS)

    def test_ipv6_grouped_by_64(self):
        for i in range(5):
            self.limiter.failed("2001:db8::%x" % (i + 1), "user%04d" % i)
        self.assertFalse(self.limiter.check("2001:db8::ffff", "fresh123").allowed)
        self.assertTrue(self.limiter.check("2001:db8:0:1::1", "fresh123").allowed)

    def test_success_forgives_account_not_address(self):
        for _ in range(3):
            self.limiter.failed("192.0.2.1", "echo123")
        self.assertFalse(self.limiter.check("192.0.2.1", "echo123").allowed)
        self.limiter.succeeded("192.0.2.1", "echo123")
        self.assertTrue(self.limiter.check("192.0.2.1", "echo123").allowed)
        self.limiter.failed("192.0.2.1", "other123")
        self.limiter.failed("192.0.2.1", "other123")
        self.limiter.succeeded("192.0.2.1", "echo123")
        self.assertFalse(self.limiter.check("192.0.2.1", "third123").allowed)

    def test_invalid_names_count_for_the_address_only(self):
        for _ in range(4):
            self.limiter.failed("192.0.2.1", "1bad")
        self.assertEqual(len(self.limiter.accounts), 0)
        self.assertTrue(self.limiter.check("192.0.2.1", "1bad").allowed)
        self.limiter.failed("192.0.2.1", "1bad")
        self.assertFalse(self.limiter.check("192.0.2.1", "1bad").allowed)

    def test_check_changes_nothing(self):
        for _ in range(100):
            self.limiter.check("192.0.2.1", "echo123")
        self.assertEqual((len(self.limiter.addresses), len(self.limiter.accounts)), (0, 0))
