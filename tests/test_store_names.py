"""Skype name rules and normalisation (blissnode.store.names)."""

from twisted.trial.unittest import TestCase

from blissnode.store.errors import InvalidName, StoreError
from blissnode.store.names import MAX_LENGTH, MIN_LENGTH, validate_skype_name


class ValidateSkypeNameTests(TestCase):
    def test_valid_names_are_lower_cased(self):
        for given, stored in [
            ("echo123", "echo123"),
            ("themagicforyou", "themagicforyou"),  # the name in the spec's SOS2 log
            ("John.Doe", "john.doe"),
            ("a,b-c_d.e", "a,b-c_d.e"),
            ("Z" * MAX_LENGTH, "z" * MAX_LENGTH),
            ("a" * MIN_LENGTH, "a" * MIN_LENGTH),
            ("live.Echo-1_,", "live.echo-1_,"),
            (b"Bytes.Name", "bytes.name"),
        ]:
            self.assertEqual(validate_skype_name(given), stored, given)

    def test_invalid_names(self):
        for bad, words in [
            ("", "empty"),
            ("a" * (MIN_LENGTH - 1), "6 to 32"),
            ("a" * (MAX_LENGTH + 1), "6 to 32"),
            ("1abcdef", "start with a letter"),
            ("_abcdef", "start with a letter"),
            (".abcdef", "start with a letter"),
            ("abc def", "not ' '"),
            ("abcdef\n", "not '\\n'"),
            ("abc@def", "not '@'"),
            ("abc+def", "not '+'"),
            ("jürgen123", "not 'ü'"),
            ("échoecho", "start with a letter"),
            ("abcdef\x00", "not '\\x00'"),
            (b"abc\xffdef", "ASCII"),
            (None, "text"),
            (123456, "text"),
        ]:
            try:
                validate_skype_name(bad)
            except InvalidName as e:
                self.assertIn(words, str(e), bad)
            else:
                self.fail("%r accepted" % (bad,))

    def test_error_is_value_error_and_store_error(self):
        e = self.assertRaises(InvalidName, validate_skype_name, "x")
        self.assertIsInstance(e, ValueError)
        self.assertIsInstance(e, StoreError)

    def test_huge_name_gives_short_message(self):
        e = self.assertRaises(InvalidName, validate_skype_name, "a" * 100000)
        self.assertLess(len(str(e)), 200)

    def test_idempotent(self):
        for name in ["Echo123", "a.b,c-d_e"]:
            once = validate_skype_name(name)
            self.assertEqual(validate_skype_name(once), once)
