"""Account operations of a running server end the sessions they affect."""

import os

from twisted.internet import defer, task
from twisted.trial.unittest import TestCase

from blissnode.admin.accounts import AccountOperations, RegistrationSwitch
from blissnode.auth.passwords import PasswordPolicy, WeakPassword
from blissnode.core.delivery import SessionInfo
from blissnode.core.hub import Core
from blissnode.store.errors import NoSuchAccount, WrongCredential
from blissnode.store.hashing import ScryptParams
from blissnode.store.sqlite import StoreService, database_path
from blissnode.wire.credentials import md5_credential

FAST = ScryptParams(n=2 ** 4, r=8, p=1)


class FakeSession(object):
    role = "event"

    def __init__(self, session_id, user):
        self.session_id = session_id
        self.user = user
        self.closed = []

    def deliver(self, message):
        return False

    def describe(self):
        return SessionInfo(self.session_id, self.role, [self.user], "127.0.0.1:1")

    def close_session(self, reason):
        self.closed.append(reason)


def start_store(test):
    directory = test.mktemp()
    os.makedirs(directory)
    store = StoreService(database_path(directory), params=FAST)
    store.startService()
    test.addCleanup(store.stopService)
    return store


class PasswordPolicyTests(TestCase):
    def test_minimum_and_maximum(self):
        policy = PasswordPolicy()
        self.assertRaises(WeakPassword, policy.check, "")
        self.assertRaises(WeakPassword, policy.check, "1234567")
        self.assertEqual(policy.check("12345678"), "12345678")
        self.assertRaises(WeakPassword, policy.check, "x" * 1025)
        self.assertRaises(WeakPassword, policy.check, "line\nbreak!")
        self.assertRaises(WeakPassword, policy.check, b"bytes-password")
        self.assertEqual(PasswordPolicy(3).check("abc"), "abc")
        self.assertRaises(ValueError, PasswordPolicy, 0)

    def test_credential_is_over_the_lower_cased_name(self):
        self.assertEqual(PasswordPolicy().credential("Echo123", "long secret"),
                         md5_credential("echo123", "long secret"))


class AccountOperationsTests(TestCase):
    @defer.inlineCallbacks
    def setUp(self):
        self.store = start_store(self)
        yield self.store.ready
        self.core = Core(clock=task.Clock())
        self.ops = AccountOperations(self.store, self.core)
        yield self.ops.create("alice01", "alice's password")
        self.session = FakeSession("e1", "alice01")
        self.other = FakeSession("e2", "bobby01")
        self.core.sessions.add_user(self.session, "alice01")
        self.core.sessions.add_user(self.other, "bobby01")

    @defer.inlineCallbacks
    def test_create_applies_the_policy(self):
        yield self.assertFailure(self.ops.create("short01", "short"), WeakPassword)
        account = yield self.store.accounts.get_account("short01")
        self.assertIsNone(account)

    @defer.inlineCallbacks
    def test_passwd_ends_sessions(self):
        yield self.ops.passwd("alice01", "a new password")
        self.assertEqual(len(self.session.closed), 1)
        self.assertEqual(self.other.closed, [])
        yield self.store.accounts.check_credential("alice01",
                                                   md5_credential("alice01", "a new password"))
        yield self.assertFailure(self.store.accounts.check_credential(
            "alice01", md5_credential("alice01", "alice's password")), WrongCredential)
        with self.assertRaises(WeakPassword):
            yield self.ops.passwd("alice01", "short")

    @defer.inlineCallbacks
    def test_suspend_and_delete_end_sessions(self):
        account = yield self.ops.suspend("alice01", "spam")
        self.assertTrue(account.suspended)
        self.assertEqual(self.session.closed, ["account suspended by an operator"])
        account = yield self.ops.unsuspend("alice01")
        self.assertFalse(account.suspended)
        yield self.ops.delete("alice01")
        self.assertEqual(self.session.closed[-1], "account deleted by an operator")
        self.assertEqual(self.other.closed, [])
        yield self.assertFailure(self.ops.delete("alice01"), NoSuchAccount)

    @defer.inlineCallbacks
    def test_queue_sizes(self):
        yield self.ops.create("bobby01", "bobby's password")
        yield self.store.messages.store_message("alice01", "bobby01", "chat", b"hello")
        yield self.store.messages.store_message("alice01", "bobby01", "chat", b"again!")
        yield self.store.messages.store_message("bobby01", "alice01", "chat", b"x")
        sizes = yield self.ops.queue_sizes()
        self.assertEqual(sizes, [("alice01", 2, 11), ("bobby01", 1, 1)])


class RegistrationSwitchTests(TestCase):
    def test_toggles_the_factory(self):
        class Factory(object):
            registration_open = False
        factory = Factory()
        switch = RegistrationSwitch(factory)
        self.assertFalse(switch.is_open)
        switch.set(True)
        self.assertTrue(factory.registration_open)
        self.assertTrue(RegistrationSwitch(None, True).is_open)
