"""``blissnode user``: driven through blissnode.cli.main.main like a person would."""

import getpass
import io
import json
import os

from twisted.trial.unittest import TestCase

from blissnode.cli.main import main
from blissnode.store.errors import WrongCredential
from blissnode.store.sqlite import SQLiteDatabase, SyncAccountStore, database_path
from blissnode.wire.credentials import md5_credential


class UserCommandTests(TestCase):
    def setUp(self):
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(self.base)
        self.data_dir = os.path.join(self.base, "data")

    def run_cli(self, *argv, stdin=""):
        out, err = io.StringIO(), io.StringIO()
        argv = list(argv)
        if "--data-dir" not in argv:
            argv += ["--data-dir", self.data_dir]
        status = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
        return status, out.getvalue(), err.getvalue()

    def password_file(self, content):
        path = os.path.join(self.base, "pw%d" % (len(os.listdir(self.base)),))
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)
        return path

    def store(self):
        database = SQLiteDatabase(database_path(self.data_dir))
        self.addCleanup(database.close)
        return SyncAccountStore(database)

    def add(self, name, password="secret-pw", *extra):
        return self.run_cli("user", "add", name, "--password-file",
                            self.password_file(password + "\n"), *extra)

    def assertFails(self, result, *words):
        status, out, err = result
        self.assertEqual(status, 1, (out, err))
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith("blissnode user: "), err)
        for word in words:
            self.assertIn(word, err)
        return err

    def test_add_creates_data_dir_and_account(self):
        status, out, err = self.add("Echo123", "secret-pw", "--email", "echo@example.org",
                                    "--full-name", "Echo Test")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, "created account echo123\n")
        account = self.store().check_credential("echo123", md5_credential("echo123", "secret-pw"))
        self.assertEqual(account.email, "echo@example.org")
        self.assertEqual(account.full_name, "Echo Test")

    def test_password_is_first_line_without_newline(self):
        for name, content, password in [
            ("first123", "pw number one\nsecond line\n", "pw number one"),
            ("crlf1234", "windows-pw\r\n", "windows-pw"),
            ("nonl1234", "no newline", "no newline"),
            ("spaces12", " spaced pw \n", " spaced pw "),
            ("unicode1", "pässwörd-lang\n", "pässwörd-lang"),
        ]:
            path = self.password_file(content)
            self.assertEqual(self.run_cli("user", "add", name, "--password-file", path)[0], 0)
            self.store().check_credential(name, md5_credential(name, password))

    def test_password_from_stdin(self):
        status, _, _ = self.run_cli("user", "add", "piped123", "--password-file", "-",
                                    stdin="from stdin\nignored\n")
        self.assertEqual(status, 0)
        self.store().check_credential("piped123", md5_credential("piped123", "from stdin"))

    def test_credential_over_lower_case_name(self):
        self.assertEqual(self.add("MixedCase1", "pw-long-enough")[0], 0)
        self.store().check_credential("mixedcase1", md5_credential("mixedcase1", "pw-long-enough"))

    def test_prompt(self):
        answers = []
        self.patch(getpass, "getpass", lambda prompt="": answers.pop(0))
        answers[:] = ["typed pw", "typed pw"]
        self.assertEqual(self.run_cli("user", "add", "prompt123")[0], 0)
        self.store().check_credential("prompt123", md5_credential("prompt123", "typed pw"))
        answers[:] = ["one", "two"]
        self.assertFails(self.run_cli("user", "add", "prompt456"), "do not match")
        answers[:] = ["", ""]
        self.assertFails(self.run_cli("user", "add", "prompt456"), "empty")
        self.assertIsNone(self.store().get_account("prompt456"))

    def test_invalid_name(self):
        for bad in ["abc", "1abcdef", "abc def1", "a" * 33]:
            self.assertFails(self.add(bad), "Skype name")
        self.assertFalse(os.path.exists(self.data_dir))

    def test_duplicate(self):
        self.add("echo123", "first-password")
        err = self.assertFails(self.add("ECHO123", "second-password"), "already taken", "echo123")
        self.assertNotIn("Traceback", err)
        self.store().check_credential("echo123", md5_credential("echo123", "first-password"))

    def test_bad_password_files(self):
        self.assertFails(self.run_cli("user", "add", "echo123", "--password-file",
                                      os.path.join(self.base, "missing")), "password file")
        self.assertFails(self.add("echo123", ""), "empty")
        self.assertFails(self.add("echo123", "\nsecond line"), "empty")
        self.assertFails(self.add("echo123", "x" * 2000), "longer")
        path = os.path.join(self.base, "binary")
        with open(path, "wb") as f:
            f.write(b"\xff\xfe\x00binary")
        self.assertFails(self.run_cli("user", "add", "echo123", "--password-file", path),
                         "password file")

    def test_broken_database_file(self):
        os.makedirs(self.data_dir)
        with open(database_path(self.data_dir), "wb") as f:
            f.write(b"garbage" * 1000)
        self.assertFails(self.run_cli("user", "list"), "not a database")
        self.assertFails(self.add("echo123"), "not a database")

    def test_bad_fields(self):
        self.assertFails(self.add("echo123", "pw-long-enough", "--email", "x" * 300), "e-mail")

    def test_passwd(self):
        self.add("echo123", "old-password")
        status, out, err = self.run_cli("user", "passwd", "Echo123", "--password-file",
                                        self.password_file("new-password\n"))
        self.assertEqual((status, out, err), (0, "password changed for echo123\n", ""))
        store = self.store()
        store.check_credential("echo123", md5_credential("echo123", "new-password"))
        self.assertRaises(WrongCredential, store.check_credential, "echo123",
                          md5_credential("echo123", "old-password"))
        self.assertFails(self.run_cli("user", "passwd", "nobody123", "--password-file",
                                      self.password_file("x\n")), "no such account")

    def test_del(self):
        self.add("echo123")
        self.add("other123")
        self.assertFails(self.run_cli("user", "del", "echo123", stdin="n\n"), "not deleted")
        self.assertFails(self.run_cli("user", "del", "echo123", stdin=""), "not deleted")
        self.assertIsNotNone(self.store().get_account("echo123"))
        status, out, _ = self.run_cli("user", "del", "echo123", stdin="y\n")
        self.assertEqual(status, 0)
        self.assertIn("Delete account echo123", out)
        self.assertTrue(out.endswith("deleted account echo123\n"))
        self.assertIsNone(self.store().get_account("echo123"))
        status, out, _ = self.run_cli("user", "del", "OTHER123", "--yes")
        self.assertEqual((status, out), (0, "deleted account other123\n"))
        self.assertFails(self.run_cli("user", "del", "other123", "--yes"), "no such account")

    def test_list_and_show(self):
        self.assertFails(self.run_cli("user", "list"), "no account database")
        self.assertFalse(os.path.exists(self.data_dir))
        self.add("zulu1234")
        self.add("Alpha123", "pw-long-enough", "--full-name", "Alpha Person")
        status, out, _ = self.run_cli("user", "list")
        self.assertEqual((status, out), (0, "alpha123\nzulu1234\n"))
        status, out, _ = self.run_cli("user", "show", "ALPHA123")
        self.assertEqual(status, 0)
        self.assertIn("name:         alpha123\n", out)
        self.assertIn("full name:    Alpha Person\n", out)
        self.assertIn("email:        -\n", out)
        self.assertIn("hash:         scrypt n=16384 r=8 p=1\n", out)
        self.assertFails(self.run_cli("user", "show", "nobody123"), "no such account")
        self.assertFails(self.run_cli("user", "show", "1badname"), "start with a letter")

    def test_output_never_contains_secrets(self):
        _, out1, _ = self.add("echo123", "hunter2hunter2")
        _, out2, _ = self.run_cli("user", "show", "echo123")
        _, out3, _ = self.run_cli("user", "list")
        cred = md5_credential("echo123", "hunter2hunter2")
        for out in (out1, out2, out3):
            self.assertNotIn("hunter2", out)
            self.assertNotIn(cred.hex(), out)

    def test_default_data_dir_matches_the_plugin(self):
        from blissnode import tap
        from blissnode.cli import user
        self.assertEqual(user.DEFAULT_DATA_DIR, tap.Options()["data-dir"])

    def test_suspend_unsuspend_and_json(self):
        self.add("echo123", "pw-long-enough", "--email", "e@example.org")
        self.add("other123")
        status, out, err = self.run_cli("user", "suspend", "Echo123", "--reason", "spam")
        self.assertEqual((status, out, err), (0, "suspended account echo123\n", ""))
        status, out, _ = self.run_cli("user", "list", "--json")
        self.assertEqual(status, 0)
        self.assertEqual(out.count("\n"), 1)
        listed = json.loads(out)
        self.assertEqual([a["name"] for a in listed], ["echo123", "other123"])
        self.assertEqual([a["suspended"] for a in listed], [True, False])
        self.assertEqual(listed[0]["suspension_reason"], "spam")
        self.assertEqual(listed[0]["email"], "e@example.org")
        self.assertEqual(set(listed[0]), {"name", "created", "email", "full_name",
                                          "password_set", "hash", "suspended",
                                          "suspended_at", "suspension_reason"})
        _, out, _ = self.run_cli("user", "show", "echo123")
        self.assertIn("suspended:    since ", out)
        self.assertIn("(spam)", out)
        self.assertTrue(json.loads(self.run_cli("user", "show", "echo123", "--json")[1])
                        ["suspended"])
        # The store still checks the credential; refusing is the login server's part.
        account = self.store().check_credential("echo123", md5_credential("echo123", "pw-long-enough"))
        self.assertTrue(account.suspended)
        status, out, _ = self.run_cli("user", "unsuspend", "echo123")
        self.assertEqual((status, out), (0, "account echo123 may sign in again\n"))
        self.assertFalse(self.store().get_account("echo123").suspended)
        self.assertFails(self.run_cli("user", "suspend", "nobody123"), "no such account")
        self.assertFails(self.run_cli("user", "suspend", "echo123", "--reason", "x" * 501),
                         "longer than 500")
        self.assertIn("suspended:    no\n", self.run_cli("user", "show", "echo123")[1])

    def test_bad_database_url(self):
        self.assertFails(self.run_cli("user", "list", "--database", "mysql://x"),
                         "unknown database")
        self.assertFails(self.run_cli("user", "list", "--database", "sqlite://host/x"),
                         "names a file")

    def test_sqlite_path_url(self):
        path = os.path.join(self.base, "elsewhere.sqlite3")
        status, _, err = self.run_cli("user", "add", "echo123", "--password-file",
                                      self.password_file("pw-long-enough\n"), "--database",
                                      "sqlite://" + path)
        self.assertEqual((status, err), (0, ""))
        self.assertTrue(os.path.exists(path))
        self.assertFalse(os.path.exists(self.data_dir))
        self.assertEqual(self.run_cli("user", "list", "--database", "sqlite://" + path)[1],
                         "echo123\n")


class PostgreSQLUserCommandTests(UserCommandTests):
    """The same commands with --database postgresql://... (a schema of the test server)."""

    def setUp(self):
        UserCommandTests.setUp(self)
        from tests.services import postgresql_schema_url
        self.url = postgresql_schema_url(self)

    def run_cli(self, *argv, stdin=""):
        argv = list(argv)
        if argv[:1] == ["user"] and "--database" not in argv:
            argv += ["--database", self.url]
        return UserCommandTests.run_cli(self, *argv, stdin=stdin)

    def store(self):
        from blissnode.store.postgresql import PostgreSQLDatabase
        database = PostgreSQLDatabase(self.url, size=1)
        self.addCleanup(database.close)
        return SyncAccountStore(database)

    # What only an SQLite file has: a data directory created on first use,
    # a file that is not a database.
    def test_add_creates_data_dir_and_account(self):
        status, out, err = self.add("Echo123", "secret-pw", "--email", "echo@example.org")
        self.assertEqual((status, err, out), (0, "", "created account echo123\n"))
        self.assertFalse(os.path.exists(self.data_dir))
        self.assertEqual(self.store().get_account("echo123").email, "echo@example.org")

    def test_broken_database_file(self):
        self.assertFails(self.run_cli("user", "list", "--database",
                                      "postgresql://nobody@127.0.0.1:1/none"),
                         "cannot connect", "127.0.0.1:1")

    def test_list_and_show(self):
        self.add("zulu1234")
        self.add("Alpha123", "pw-long-enough", "--full-name", "Alpha Person")
        self.assertEqual(self.run_cli("user", "list")[1], "alpha123\nzulu1234\n")
        self.assertIn("full name:    Alpha Person\n", self.run_cli("user", "show", "alpha123")[1])


class PasswordPolicyCommandTests(TestCase):
    """``user add`` / ``user passwd`` apply blissnode.auth.passwords."""

    def setUp(self):
        self.base = self.mktemp()
        os.makedirs(self.base)
        self.data_dir = os.path.join(self.base, "data")

    def run_cli(self, *args):
        out, err = io.StringIO(), io.StringIO()
        status = main(list(args) + ["--data-dir", self.data_dir], stdin=io.StringIO(),
                      stdout=out, stderr=err)
        return status, out.getvalue(), err.getvalue()

    def password_file(self, content):
        path = os.path.join(self.base, "pw%d" % (len(os.listdir(self.base)),))
        with open(path, "w") as f:
            f.write(content)
        return path

    def test_short_passwords_are_refused(self):
        status, out, err = self.run_cli("user", "add", "short123", "--password-file",
                                        self.password_file("1234567\n"))
        self.assertEqual((status, out), (1, ""))
        self.assertIn("at least 8 characters", err)
        self.assertFalse(os.path.exists(os.path.join(self.data_dir, "blissnode.sqlite3")))
        self.assertEqual(self.run_cli("user", "add", "short123", "--password-file",
                                      self.password_file("12345678\n"))[0], 0)
        status, _, err = self.run_cli("user", "passwd", "short123", "--password-file",
                                      self.password_file("abc\n"))
        self.assertEqual(status, 1)
        self.assertIn("at least 8 characters", err)

    def test_the_minimum_is_configurable(self):
        status, _, err = self.run_cli("user", "add", "tiny1234", "--password-min-length", "3",
                                      "--password-file", self.password_file("abc\n"))
        self.assertEqual((status, err), (0, ""))
        status, _, err = self.run_cli("user", "add", "tiny5678", "--password-min-length", "0",
                                      "--password-file", self.password_file("abc\n"))
        self.assertEqual(status, 1)
        self.assertIn("minimum password length", err)
