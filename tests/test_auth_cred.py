"""Signing in through twisted.cred against a real SQLite account store."""

import hashlib
import os

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin, UnhandledCredentials
from twisted.cred.credentials import UsernamePassword
from twisted.internet import defer
from twisted.trial.unittest import TestCase
from zope.interface import Interface
from zope.interface.verify import verifyObject

from blissnode.auth.cred import (
    ISkypeCredentials,
    ISkypeUser,
    LoginRealm,
    SignedInUser,
    SkypeCredentials,
    SkypeCredentialsChecker,
    UnknownUser,
    WrongPassword,
    make_portal,
)
from blissnode.store.errors import StoreError
from blissnode.store.hashing import ScryptParams
from blissnode.store.sqlite import StoreService, database_path
from blissnode.wire.credentials import md5_credential

FAST = ScryptParams(n=2 ** 4, r=8, p=1)


class PortalTests(TestCase):
    @defer.inlineCallbacks
    def setUp(self):
        directory = self.mktemp()
        os.makedirs(directory)
        self.service = StoreService(database_path(directory), params=FAST)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.store = self.service.accounts
        self.cred = md5_credential("echo123", "secret")
        yield self.store.create_account("echo123", self.cred, full_name="Echo Test")
        self.portal = make_portal(self.store)

    def login(self, name, credential, mind=None):
        return self.portal.login(SkypeCredentials(name, credential), mind, ISkypeUser)

    def test_interfaces(self):
        self.assertTrue(verifyObject(ISkypeCredentials, SkypeCredentials("echo123", self.cred)))
        self.assertTrue(verifyObject(ICredentialsChecker, SkypeCredentialsChecker(self.store)))
        self.assertTrue(verifyObject(ISkypeUser, SignedInUser("echo123", None)))

    @defer.inlineCallbacks
    def test_success(self):
        for name in ["echo123", "Echo123", b"echo123"]:
            interface, user, logout = yield self.login(name, self.cred, mind="conn")
            self.assertIs(interface, ISkypeUser)
            self.assertIsInstance(user, SignedInUser)
            self.assertEqual(user.name, "echo123")
            self.assertEqual(user.account.full_name, "Echo Test")
            self.assertEqual(user.mind, "conn")
            self.assertIsNone(logout())

    @defer.inlineCallbacks
    def test_wrong_password(self):
        for credential in [md5_credential("echo123", "Secret"), bytes(16), self.cred[:8], None]:
            e = yield self.assertFailure(self.login("echo123", credential), WrongPassword)
            self.assertIsInstance(e, UnauthorizedLogin)

    @defer.inlineCallbacks
    def test_unknown_user(self):
        for name in ["nobody123", "1invalid", "", None, "x" * 1000]:
            e = yield self.assertFailure(self.login(name, self.cred), UnknownUser)
            self.assertIsInstance(e, UnauthorizedLogin)

    @defer.inlineCallbacks
    def test_after_password_change_and_delete(self):
        new = md5_credential("echo123", "new")
        yield self.store.set_credential("echo123", new)
        yield self.assertFailure(self.login("echo123", self.cred), WrongPassword)
        yield self.login("echo123", new)
        yield self.store.delete_account("echo123")
        yield self.assertFailure(self.login("echo123", new), UnknownUser)

    @defer.inlineCallbacks
    def test_other_credentials_unhandled(self):
        yield self.assertFailure(
            self.portal.login(UsernamePassword(b"echo123", b"secret"), None, ISkypeUser),
            UnhandledCredentials)

    def test_realm_only_provides_iskypeuser(self):
        realm = LoginRealm(self.store)
        self.assertRaises(NotImplementedError, realm.requestAvatar, "echo123", None, Interface)

    @defer.inlineCallbacks
    def test_realm_refuses_a_vanished_account(self):
        realm = LoginRealm(self.store)
        yield self.assertFailure(realm.requestAvatar("gone12345", None, ISkypeUser), UnknownUser)

    @defer.inlineCallbacks
    def test_store_faults_are_not_refusals(self):
        class BrokenStore:
            def check_credential(self, name, credential16):
                return defer.fail(StoreError("disk on fire"))

        portal = make_portal(BrokenStore(), realm=LoginRealm(self.store))
        yield self.assertFailure(
            portal.login(SkypeCredentials("echo123", self.cred), None, ISkypeUser), StoreError)

    def test_repr_hides_credential(self):
        text = repr(SkypeCredentials("echo123", self.cred))
        self.assertIn("echo123", text)
        self.assertNotIn(self.cred.hex(), text)
        self.assertNotIn(repr(self.cred), text)

    def test_credential_matches_the_spec_example(self):
        # login.md §6: the value in the real login request of the SOS2 log.
        self.assertEqual(md5_credential("themagicforyou", "adf123"),
                         bytes.fromhex("fc9d77e4a74093d575a4c3fa274a4b6a"))
        self.assertEqual(self.cred, hashlib.md5(b"echo123\nskyper\nsecret").digest())
