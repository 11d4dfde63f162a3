"""The stored form of a credential (blissnode.store.hashing)."""

import hashlib

from twisted.trial.unittest import TestCase

from blissnode.store.errors import InvalidField
from blissnode.store.hashing import (
    DEFAULT_PARAMS,
    ScryptParams,
    dummy_hash,
    hash_credential,
    verify_credential,
)

FAST = ScryptParams(n=2 ** 4, r=8, p=1)
CRED = hashlib.md5(b"themagicforyou\nskyper\nadf123").digest()


class ScryptParamsTests(TestCase):
    def test_default(self):
        self.assertEqual((DEFAULT_PARAMS.n, DEFAULT_PARAMS.r, DEFAULT_PARAMS.p), (2 ** 14, 8, 1))

    def test_bad_parameters_refused(self):
        for n, r, p in [(0, 8, 1), (1, 8, 1), (3, 8, 1), (2 ** 21, 8, 1), (16, 0, 1),
                        (16, 33, 1), (16, 8, 0), (16, 8, 17), (16.0, 8, 1), (True, 8, 1)]:
            self.assertRaises(InvalidField, ScryptParams, n=n, r=r, p=p)

    def test_maxmem_allows_the_largest_parameters(self):
        big = ScryptParams(n=2 ** 15, r=8, p=2)
        stored = hash_credential(CRED, big)
        self.assertTrue(verify_credential(stored, CRED))


class HashTests(TestCase):
    def test_known_value(self):
        # scrypt itself is hashlib's; this pins how we call it (dklen, order).
        salt = bytes(range(16))
        stored = hash_credential(CRED, FAST, salt=salt)
        self.assertEqual(stored.digest, hashlib.scrypt(CRED, salt=salt, n=16, r=8, p=1, dklen=32))

    def test_verify(self):
        stored = hash_credential(CRED, FAST)
        self.assertTrue(verify_credential(stored, CRED))
        self.assertFalse(verify_credential(stored, bytes(16)))
        self.assertFalse(verify_credential(stored, CRED[:15]))
        self.assertFalse(verify_credential(stored, CRED + b"\x00"))
        self.assertFalse(verify_credential(stored, None))
        self.assertFalse(verify_credential(stored, "text"))

    def test_salted(self):
        a, b = hash_credential(CRED, FAST), hash_credential(CRED, FAST)
        self.assertNotEqual(a.salt, b.salt)
        self.assertNotEqual(a.digest, b.digest)
        self.assertEqual(len(a.salt), 16)
        self.assertEqual(len(a.digest), 32)

    def test_credential_must_be_16_bytes(self):
        for bad in [b"", CRED[:15], CRED + b"x", "0123456789abcdef", None]:
            self.assertRaises(InvalidField, hash_credential, bad, FAST)

    def test_repr_hides_secrets(self):
        stored = hash_credential(CRED, FAST)
        text = repr(stored)
        self.assertNotIn(repr(stored.salt), text)
        self.assertNotIn(repr(stored.digest), text)
        self.assertNotIn(stored.digest.hex(), text)
        self.assertIn("n=16", text)

    def test_dummy_matches_nothing(self):
        dummy = dummy_hash(FAST)
        for candidate in [CRED, bytes(16), b""]:
            self.assertFalse(verify_credential(dummy, candidate))
