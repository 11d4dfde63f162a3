"""Storage forms of a modulus, and Skype's moduli as data (blissnode.patch.forms, .known)."""

from twisted.trial.unittest import TestCase

from blissnode.patch import forms
from blissnode.patch.known import (
    SKYPE_ADDRESSES,
    SKYPE_CREDENTIAL_MODULUS,
    SKYPE_LOGIN_MODULUS,
    is_ipv4,
)
from tests.patch_fixtures import server_keys
from tests.vectors import load_vectors


class KnownModuliTests(TestCase):
    def test_equal_the_vectors(self):
        constants = load_vectors("login.json")["constants"]
        self.assertEqual(SKYPE_LOGIN_MODULUS.hex(), constants["N_login_real"])
        self.assertEqual(SKYPE_CREDENTIAL_MODULUS.hex(), constants["N_cred_real"])
        self.assertEqual(len(SKYPE_LOGIN_MODULUS), 192)
        self.assertEqual(len(SKYPE_CREDENTIAL_MODULUS), 256)
        self.assertTrue(SKYPE_LOGIN_MODULUS.startswith(bytes.fromhex("a8f223612f4f5fc8")))
        self.assertTrue(SKYPE_CREDENTIAL_MODULUS.startswith(bytes.fromhex("b8506aeed8ed30fe")))

    def test_addresses_are_well_formed(self):
        seen = set()
        for a in SKYPE_ADDRESSES:
            self.assertIn(a.role, ("login", "event", "supernode"))
            self.assertTrue(0 < a.port < 65536)
            self.assertNotIn((a.host, a.port), seen)
            seen.add((a.host, a.port))
        hosts = {str(a) for a in SKYPE_ADDRESSES}
        for expected in ("157.55.235.147:40030", "65.55.223.14:40016", "91.190.218.40:33033",
                         "91.190.216.125:12350", "194.165.188.76:12350", "193.88.6.13:33033"):
            self.assertIn(expected, hosts)

    def test_is_ipv4(self):
        self.assertTrue(is_ipv4("91.190.218.40"))
        for no in ("91.190.218", "256.1.1.1", "dir1.sd.skype.net", "1.2.3.4.5", "a.b.c.d"):
            self.assertFalse(is_ipv4(no), no)


class StorageFormTests(TestCase):
    def test_client_order_is_the_reversed_bytes_and_the_key_show_form(self):
        key = server_keys().login
        self.assertEqual(forms.CLIENT_ORDER.encode(key.modulus_bytes()),
                         key.modulus_client_order())
        # login.md 10: N_login in client order begins 0b 70 29 ba d7 50 72 b5
        self.assertTrue(forms.CLIENT_ORDER.encode(SKYPE_LOGIN_MODULUS).startswith(
            bytes.fromhex("0b7029bad75072b5a4a3aa55")))
        self.assertTrue(forms.CLIENT_ORDER.encode(SKYPE_CREDENTIAL_MODULUS).startswith(
            bytes.fromhex("5528dc2e33fe37bc8d745802")))

    def test_client_order_is_le_words_least_significant_first(self):
        n = int.from_bytes(SKYPE_LOGIN_MODULUS, "big")
        words = b"".join((n >> (32 * i) & 0xFFFFFFFF).to_bytes(4, "little") for i in range(48))
        self.assertEqual(forms.CLIENT_ORDER.encode(SKYPE_LOGIN_MODULUS), words)

    def test_mixed_forms(self):
        m = bytes(range(16))
        self.assertEqual(forms.BIG_ENDIAN.encode(m), m)
        self.assertEqual(forms.MSW_FIRST_LE32.encode(m).hex(),
                         "03020100" "07060504" "0b0a0908" "0f0e0d0c")
        self.assertEqual(forms.LSW_FIRST_BE32.encode(m).hex(),
                         "0c0d0e0f" "08090a0b" "04050607" "00010203")
        self.assertEqual(forms.MSW_FIRST_LE64.encode(m).hex(),
                         "0706050403020100" "0f0e0d0c0b0a0908")
        self.assertEqual(forms.LSW_FIRST_BE64.encode(m).hex(),
                         "08090a0b0c0d0e0f" "0001020304050607")

    def test_every_form_differs_and_keeps_the_length(self):
        for modulus in (SKYPE_LOGIN_MODULUS, SKYPE_CREDENTIAL_MODULUS):
            encoded = [f.encode(modulus) for f in forms.STORAGE_FORMS]
            self.assertEqual(len(set(encoded)), len(forms.STORAGE_FORMS))
            self.assertTrue(all(len(e) == len(modulus) for e in encoded))

    def test_odd_length_refused(self):
        self.assertRaises(ValueError, forms.MSW_FIRST_LE64.encode, b"\1" * 12)
