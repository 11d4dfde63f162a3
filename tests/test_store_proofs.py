"""
Proofs of recently verified credentials (blissnode.store.proofs): the second
check of a credential the store verified a moment ago costs no scrypt, and
nothing else gets through faster (issue 14).
"""

import threading

from twisted.internet import defer, task
from twisted.trial.unittest import TestCase

from blissnode.store.accounts import Hasher
from blissnode.store.errors import UnknownAccount, WrongCredential
from blissnode.store.hashing import ScryptParams, hash_credential
from blissnode.store.proofs import VerifiedCredentials
from blissnode.wire.credentials import md5_credential
from tests.store_helpers import FAST, SQLiteEngine


class CountingHasher(Hasher):
    def __init__(self, params=FAST):
        Hasher.__init__(self, params)
        self.verified = 0
        self.threads = set()
        self._lock = threading.Lock()

    def verify(self, stored, credential16):
        with self._lock:
            self.verified += 1
        self.threads.add(threading.current_thread().name)
        return Hasher.verify(self, stored, credential16)


class ProofTableTests(TestCase):

    def setUp(self):
        self.clock = task.Clock()
        self.proofs = VerifiedCredentials(ttl=60, max_entries=3, now=self.clock.seconds)
        self.cred = md5_credential("echo123", "pw")
        self.stored = hash_credential(self.cred, FAST)

    def test_recall_only_the_verified_credential(self):
        self.assertFalse(self.proofs.recall("echo123", self.cred, self.stored))
        self.proofs.remember("echo123", self.cred, self.stored)
        self.assertTrue(self.proofs.recall("echo123", self.cred, self.stored))
        self.assertFalse(self.proofs.recall("echo123", bytes(16), self.stored))
        self.assertFalse(self.proofs.recall("other123", self.cred, self.stored))
        # Another stored hash (the credential was changed or re-hashed).
        self.assertFalse(self.proofs.recall("echo123", self.cred,
                                            hash_credential(self.cred, FAST)))

    def test_expires(self):
        self.proofs.remember("echo123", self.cred, self.stored)
        self.clock.advance(59)
        self.assertTrue(self.proofs.recall("echo123", self.cred, self.stored))
        self.clock.advance(1)
        self.assertFalse(self.proofs.recall("echo123", self.cred, self.stored))
        self.assertEqual(len(self.proofs), 0)

    def test_bounded(self):
        for i in range(5):
            self.proofs.remember("user%d" % i, self.cred, self.stored)
        self.assertEqual(len(self.proofs), 3)
        self.assertFalse(self.proofs.recall("user0", self.cred, self.stored))
        self.assertTrue(self.proofs.recall("user4", self.cred, self.stored))

    def test_holds_no_credential(self):
        self.proofs.remember("echo123", self.cred, self.stored)
        (tag, _), = self.proofs._proofs.values()
        self.assertNotIn(self.cred, tag)
        other = VerifiedCredentials(now=self.clock.seconds)
        other.remember("echo123", self.cred, self.stored)
        # Keyed per process (per table): the same credential gives another tag.
        self.assertNotEqual(other._proofs["echo123"][0], tag)


class StoreProofTests(SQLiteEngine, TestCase):

    def start(self, **kwargs):
        store = self.make_service(**kwargs)
        store.startService()
        self.addCleanup(lambda: store.running and store.stopService())
        return store

    @defer.inlineCallbacks
    def test_second_check_skips_scrypt(self):
        hasher = CountingHasher()
        store = self.start(hasher=hasher)
        cred = md5_credential("echo123", "pw")
        yield store.accounts.create_account("echo123", cred)
        account = yield store.accounts.check_credential("echo123", cred)
        self.assertEqual(hasher.verified, 1)
        again = yield store.accounts.check_credential("EcHo123", cred)
        self.assertEqual(again.name, account.name)
        self.assertEqual(hasher.verified, 1)
        self.assertEqual(store.accounts.proofs.hits, 1)
        for name in hasher.threads:
            self.assertIn("blissnode-hash", name)

    @defer.inlineCallbacks
    def test_wrong_and_unknown_still_hash(self):
        hasher = CountingHasher()
        store = self.start(hasher=hasher)
        cred = md5_credential("echo123", "pw")
        yield store.accounts.create_account("echo123", cred)
        yield store.accounts.check_credential("echo123", cred)
        yield self.assertFailure(store.accounts.check_credential("echo123", bytes(16)),
                                 WrongCredential)
        yield self.assertFailure(store.accounts.check_credential("nobody123", cred),
                                 UnknownAccount)
        self.assertEqual(hasher.verified, 3)

    @defer.inlineCallbacks
    def test_changed_credential_voids_the_proof(self):
        hasher = CountingHasher()
        store = self.start(hasher=hasher)
        old, new = md5_credential("echo123", "pw"), md5_credential("echo123", "new")
        yield store.accounts.create_account("echo123", old)
        yield store.accounts.check_credential("echo123", old)
        yield store.accounts.set_credential("echo123", new)
        yield self.assertFailure(store.accounts.check_credential("echo123", old),
                                 WrongCredential)
        yield store.accounts.check_credential("echo123", new)
        self.assertEqual(hasher.verified, 3)

    @defer.inlineCallbacks
    def test_rehash_keeps_the_proof_valid(self):
        hasher = CountingHasher(ScryptParams(n=2 ** 5, r=8, p=1))
        store = self.start(hasher=hasher)
        cred = md5_credential("echo123", "pw")
        yield store.accounts.create_account("echo123", cred)
        hasher.params = ScryptParams(n=2 ** 6, r=8, p=1)  # the next check re-hashes
        yield store.accounts.check_credential("echo123", cred)
        yield store.accounts.check_credential("echo123", cred)
        self.assertEqual(hasher.verified, 1)
