"""``blissnode keys show``."""

import io
import json
import os

from twisted.trial.unittest import TestCase

from blissnode.cli.main import main
from blissnode.keys import LOGIN_KEY_FILE, load_server_keys


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdin=io.StringIO(), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


class KeysShowTests(TestCase):
    def setUp(self):
        self.dir = os.path.abspath(self.mktemp())

    def test_missing_keys_is_one_line_error(self):
        status, out, err = run("keys", "show", "--data-dir", self.dir)
        self.assertEqual(status, 1)
        self.assertEqual(out, "")
        self.assertEqual(err.count("\n"), 1)
        self.assertTrue(err.startswith("blissnode keys: no login key"), err)
        self.assertFalse(os.path.exists(self.dir))

    def test_generate_then_show_text_and_json(self):
        status, text, err = run("keys", "show", "--data-dir", self.dir, "--generate")
        self.assertEqual((status, err), (0, ""))
        keys = load_server_keys(self.dir)
        self.assertEqual(stat_mode(self.dir), 0o700)
        status, text2, _ = run("keys", "show", "-d", self.dir)
        self.assertEqual(text2, text)
        flat = text.replace("\n", "").replace(" ", "")
        for key in (keys.login, keys.credential):
            self.assertIn(key.modulus_bytes().hex(), flat)
            self.assertIn(key.modulus_client_order().hex(), flat)
            self.assertIn(key.fingerprint, text)
            self.assertIn(key.short_fingerprint, text)
        self.assertIn("RSA-1536, exponent 65537", text)
        self.assertIn("RSA-2048, exponent 65537", text)

        status, out, err = run("keys", "show", "-d", self.dir, "--json")
        self.assertEqual((status, err), (0, ""))
        data = json.loads(out)
        self.assertEqual(set(data), {"login", "credential"})
        for role, key in (("login", keys.login), ("credential", keys.credential)):
            d = data[role]
            self.assertEqual(d["bits"], key.bits)
            self.assertEqual(d["exponent"], 65537)
            self.assertEqual(bytes.fromhex(d["modulus_hex"]), key.modulus_bytes())
            # login.md 10: client order = big-endian reversed = LE 32-bit words, low word first
            mod = int(d["modulus_hex"], 16)
            words = b"".join((mod >> (32 * i) & 0xFFFFFFFF).to_bytes(4, "little")
                             for i in range(key.size // 4))
            self.assertEqual(bytes.fromhex(d["modulus_client_order_hex"]), words)
            self.assertEqual(d["fingerprint_sha256"], key.fingerprint)
            self.assertEqual(d["fingerprint_short"], key.short_fingerprint)
            self.assertEqual(d["file"], key.path)

    def test_unsafe_key_file_is_one_line_error(self):
        run("keys", "show", "-d", self.dir, "--generate")
        path = os.path.join(self.dir, LOGIN_KEY_FILE)
        os.chmod(path, 0o644)
        status, out, err = run("keys", "show", "-d", self.dir)
        self.assertEqual(status, 1)
        self.assertEqual(out, "")
        self.assertEqual(err.count("\n"), 1)
        self.assertIn("0644", err)

    def test_usage(self):
        status, _, _ = run("keys")
        self.assertEqual(status, 2)


def stat_mode(path):
    return os.stat(path).st_mode & 0o777
