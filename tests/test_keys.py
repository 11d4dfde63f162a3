"""Server key management (blissnode.keys): first-run generation, reuse,
file modes, refusal of unsafe files, and the raw private operations."""

import os
import stat

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.trial.unittest import TestCase

from blissnode import keys
from blissnode.keys import (
    CREDENTIAL_KEY_FILE,
    LOGIN_KEY_FILE,
    KeyFileError,
    load_or_create_server_keys,
    load_server_keys,
)
from blissnode.wire.credentials import build_credential, parse_credential
from blissnode.wire.errors import ProtocolError
from blissnode.wire.server_transport import check_session_seed, session_seed_from_random


class KeyFilesTests(TestCase):
    def setUp(self):
        self.dir = self.mktemp()
        os.makedirs(self.dir)

    def test_first_run_generates_then_reuses(self):
        first = load_or_create_server_keys(self.dir)
        for name in (LOGIN_KEY_FILE, CREDENTIAL_KEY_FILE):
            path = os.path.join(self.dir, name)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, name)
        self.assertEqual(first.login.bits, 1536)
        self.assertEqual(first.credential.bits, 2048)
        self.assertEqual(first.login.exponent, 65537)
        self.assertEqual(first.credential.exponent, 65537)
        self.assertEqual(len(first.login_modulus), 192)
        self.assertEqual(len(first.credential_modulus), 256)
        self.assertGreaterEqual(first.login_modulus[0], 0x80)
        self.assertGreaterEqual(first.credential_modulus[0], 0x80)
        # no stray temporary files
        self.assertEqual(sorted(os.listdir(self.dir)), sorted([LOGIN_KEY_FILE, CREDENTIAL_KEY_FILE]))

        def fail(bits):
            raise AssertionError("must not generate again")

        again = load_or_create_server_keys(self.dir, generate=fail)
        self.assertEqual(again.login_modulus, first.login_modulus)
        self.assertEqual(again.credential_modulus, first.credential_modulus)
        self.assertEqual(load_server_keys(self.dir).login.fingerprint, first.login.fingerprint)

    def test_missing_without_create(self):
        self.assertRaises(KeyFileError, load_server_keys, self.dir)
        self.assertRaises(KeyFileError, load_or_create_server_keys, os.path.join(self.dir, "nope"))

    def test_refuses_group_or_world_access(self):
        load_or_create_server_keys(self.dir)
        for name in (LOGIN_KEY_FILE, CREDENTIAL_KEY_FILE):
            path = os.path.join(self.dir, name)
            for mode in (0o644, 0o640, 0o604, 0o620):
                os.chmod(path, mode)
                e = self.assertRaises(KeyFileError, load_or_create_server_keys, self.dir)
                self.assertIn(path, str(e))
                self.assertIn("%04o" % mode, str(e))
            os.chmod(path, 0o600)
        load_or_create_server_keys(self.dir)

    def test_refuses_wrong_key(self):
        small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        path = os.path.join(self.dir, LOGIN_KEY_FILE)
        with open(path, "wb") as f:
            f.write(small.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
        os.chmod(path, 0o600)
        self.assertRaises(KeyFileError, load_or_create_server_keys, self.dir)
        with open(path, "wb") as f:
            f.write(b"not a key")
        self.assertRaises(KeyFileError, load_or_create_server_keys, self.dir)
        os.unlink(path)
        os.mkdir(path)
        self.assertRaises(KeyFileError, load_or_create_server_keys, self.dir)

    def test_concurrent_creation_keeps_existing_file(self):
        # a file appearing between the existence check and the link is kept
        path = os.path.join(self.dir, LOGIN_KEY_FILE)
        winner = keys.generate_private_key(1536)
        self.assertTrue(keys._write_new_private_key(path, winner))
        loser = keys.generate_private_key(1536)
        self.assertFalse(keys._write_new_private_key(path, loser))
        loaded = load_or_create_server_keys(self.dir)
        self.assertEqual(loaded.login.private.n, winner.public_key().public_numbers().n)
        self.assertEqual(sorted(os.listdir(self.dir)), sorted([LOGIN_KEY_FILE, CREDENTIAL_KEY_FILE]))


class RawOperationTests(TestCase):
    def setUp(self):
        self.dir = self.mktemp()
        os.makedirs(self.dir)
        self.keys = load_or_create_server_keys(self.dir)

    def _crypto_key(self, server_key):
        with open(server_key.path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), password=None)

    def test_crt_equals_pow_and_cryptography(self):
        for server_key in (self.keys.login, self.keys.credential):
            numbers = self._crypto_key(server_key).private_numbers()
            n, d = numbers.public_numbers.n, numbers.d
            self.assertEqual(server_key.private.n, n)
            self.assertEqual(server_key.private.d, d)
            for c in (2, 12345, n - 1, n // 3):
                c_bytes = c.to_bytes(server_key.size, "big")
                m = server_key.raw(c_bytes)
                self.assertEqual(m, pow(c, d, n).to_bytes(server_key.size, "big"))
                self.assertEqual(server_key.private.raw(c_bytes, blind=False), m)
                # cryptography's own public operation (via its public numbers) inverts it
                pub = self._crypto_key(server_key).public_key().public_numbers()
                self.assertEqual(pow(int.from_bytes(m, "big"), pub.e, pub.n), c)

    def test_login_decrypt_session_seed(self):
        X = session_seed_from_random(bytes(range(24)))
        C = self.keys.login.private.public.raw(X)
        self.assertEqual(self.keys.login_decrypt_raw(C), X)
        self.assertEqual(check_session_seed(self.keys.login_decrypt_raw(C)), X[24:48])
        self.assertRaises(ProtocolError, self.keys.login_decrypt_raw, self.keys.login_modulus)
        self.assertRaises(ProtocolError, self.keys.login_decrypt_raw, b"\x00" * 191)

    def test_credential_signing(self):
        user = bytes([0xC0]) + bytes(127)
        cred = build_credential("alice", user, 1000, {9: 2000}, self.keys.credential_sign_raw)
        self.assertEqual(len(cred.raw), 260)
        parsed = parse_credential(cred.raw, self.keys.credential_public)
        self.assertEqual((parsed.name, parsed.expiry, parsed.valid_until()), ("alice", 1000, 2000))
        self.assertRaises(ProtocolError, parse_credential, cred.raw, self.keys.login.private.public)

    def test_public_forms(self):
        k = self.keys.credential
        self.assertEqual(k.modulus_client_order(), k.modulus_bytes()[::-1])
        self.assertEqual(len(k.fingerprint), 64)
        self.assertEqual(k.short_fingerprint.replace(":", ""), k.fingerprint[:16])
        self.assertIn("BEGIN PUBLIC KEY", k.public_pem())
        loaded = serialization.load_pem_public_key(k.public_pem().encode("ascii"))
        self.assertEqual(loaded.public_numbers().n, k.private.n)
        self.assertNotIn("%x" % k.private.d, repr(self.keys))
