"""MD5 credential, ISO 9796-2-style signed payload, signed credentials,
credential times and raw RSA (login.md 3.1, 6, 7.4) against
vectors/login.json kinds md5_credential, credential, real_credential_parse,
credential_timing (and the RSA part of session_key)."""

import datetime
import hashlib

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire import objects
from blissnode.wire.credentials import (
    CREDENTIAL_LIFETIME_MINUTES,
    Credential,
    build_credential,
    build_signed_payload,
    credential_expiry,
    credential_name,
    issue_from_expiry,
    md5_credential,
    minutes_since_epoch,
    minutes_to_datetime,
    one_year_later,
    open_signed_payload,
    parse_credential,
)
from blissnode.wire.errors import ProtocolError
from blissnode.wire.login_messages import (
    RESULT_OK,
    build_reply,
    parse_login_reply,
    success_body_4x,
    success_body_6x,
)
from blissnode.wire.rsa_raw import RsaPrivate, RsaPublic, raw_private_crt, raw_public
from tests.vectors import cases, load_vectors

SETTINGS = settings(max_examples=200, deadline=None)
DOC = load_vectors("login.json")
N_CRED_REAL = int(DOC["constants"]["N_cred_real"], 16)
N_LOGIN_REAL = int(DOC["constants"]["N_login_real"], 16)


def h(text):
    return bytes.fromhex(text)


def vector_key(entry):
    return RsaPrivate.from_primes(int(entry["p"], 16), int(entry["q"], 16), entry["e"])


CRED_KEY = vector_key(DOC["test_keys"]["cred"])
LOGIN_KEY = vector_key(DOC["test_keys"]["server_login"])
USER_KEYS = [vector_key(u) for u in DOC["test_keys"]["users"]]


def items_from_vector(items):
    """login.json items -> ObjectList (STRING values come as text + value_hex,
    also inside nested lists)."""
    out = []
    for item in items:
        t, value = item["type"], item["value"]
        if t == 3:
            value = h(item["value_hex"])
        elif t == 4:
            value = h(value)
        elif t == 5:
            value = items_from_vector(value)
        out.append(objects.ITEM_CLASSES[t](item["id"], value))
    return objects.ObjectList(out)


def utc(minutes):
    return minutes_to_datetime(minutes).strftime("%Y-%m-%dT%H:%MZ")


def find_credential_case(prefix):
    found = [c for c in cases("login.json", "real_credential_parse") if c["cert"].startswith(prefix)]
    assert len(found) == 1, prefix
    return found[0]


class MD5CredentialTests(TestCase):
    def test_vectors(self):
        for case in cases("login.json", "md5_credential"):
            expected = h(case["md5"])
            self.assertEqual(md5_credential(case["user"], case["password"]), expected, case)
            self.assertEqual(md5_credential(h(case["user_hex"]), h(case["password_hex"])), expected, case)

    def test_count(self):
        self.assertEqual(len(cases("login.json", "md5_credential")), 40)

    def test_formula(self):
        self.assertEqual(md5_credential("a", "b"), hashlib.md5(b"a\nskyper\nb").digest())
        self.assertRaises(TypeError, md5_credential, 1, "x")

    def test_credential_name_lower_case(self):
        self.assertEqual(credential_name("Test.User-1_2"), "test.user-1_2")
        self.assertEqual(md5_credential(credential_name("ECHO123"), "echo123"),
                         md5_credential("echo123", "echo123"))


class SignedPayloadTests(TestCase):
    def test_credential_vectors(self):
        for case in cases("login.json", "credential"):
            L, P = h(case["L"]), h(case["P"])
            self.assertEqual(build_signed_payload(L), P, case["L"])
            self.assertEqual(P.count(b"\xbb", 0, P.index(b"\xba")), case["padding_bb_count"])
            self.assertEqual(open_signed_payload(P), L, case["L"])

    def test_real_vectors(self):
        for case in cases("login.json", "real_credential_parse"):
            L, P = h(case["L"]), h(case["P"])
            self.assertEqual(build_signed_payload(L), P, case["source"])
            self.assertEqual(open_signed_payload(P), L, case["source"])
            self.assertEqual(P[-21:-1], h(case["sha1_of_L"]), case["source"])
            self.assertEqual(256 - 23 - len(L), case["padding_bb_count"], case["source"])

    def test_invalid(self):
        P = h(cases("login.json", "credential")[0]["P"])
        for pos in (0, 1, P.index(b"\xba"), P.index(b"\xba") + 5, len(P) - 2, len(P) - 1):
            bad = bytearray(P)
            bad[pos] ^= 0x01
            self.assertRaises(ProtocolError, open_signed_payload, bytes(bad))
        for bad in (b"", b"\x4b" * 22, b"\x4b" + b"\xbb" * 255, b"\x4b\xbb\xbc"):
            self.assertRaises(ProtocolError, open_signed_payload, bad)

    def test_limits(self):
        self.assertEqual(len(build_signed_payload(b"\x41" * 233)), 256)
        self.assertEqual(build_signed_payload(b"\x41" * 233)[:2], b"\x4b\xba")
        self.assertRaises(ValueError, build_signed_payload, b"\x41" * 234)
        self.assertEqual(len(build_signed_payload(b"\x41\x00", 192)), 192)

    @SETTINGS
    @given(st.binary(max_size=233), st.sampled_from([128, 192, 256]))
    def test_round_trip(self, L, size):
        if len(L) > size - 23:
            self.assertRaises(ValueError, build_signed_payload, L, size)
        else:
            P = build_signed_payload(L, size)
            self.assertEqual(len(P), size)
            self.assertEqual(open_signed_payload(P), L)

    @SETTINGS
    @given(st.binary(max_size=300))
    def test_random_bytes(self, data):
        try:
            L = open_signed_payload(data)
        except ProtocolError:
            return
        self.assertEqual(build_signed_payload(L, len(data)), data)

    @SETTINGS
    @given(st.binary(min_size=1, max_size=200), st.data())
    def test_mutated(self, L, data):
        P = bytearray(build_signed_payload(L))
        pos = data.draw(st.integers(0, len(P) - 1))
        P[pos] ^= data.draw(st.integers(1, 255))
        try:
            got = open_signed_payload(bytes(P))
        except ProtocolError:
            return
        # only a change inside the padding run can survive (bb <-> ba shift is caught)
        self.assertEqual(build_signed_payload(got), bytes(P))


class CredentialTests(TestCase):
    def test_build_vectors(self):
        for case in cases("login.json", "credential"):
            items = items_from_vector(case["L_items"])
            self.assertEqual(objects.encode_objects(items), h(case["L"]), case["L"])
            cred = build_credential(
                items.value(0, objects.String).decode("utf-8"), items.value(1, objects.Blob),
                items.value(4, objects.Int), items.value(2, objects.NestedList), CRED_KEY.raw,
                flags=items.value(3, objects.Int), extra=items.value(7, objects.NestedList))
            self.assertEqual(cred.raw, h(case["cert"]), case["L"])
            self.assertEqual(cred.certified, h(case["L"]), case["L"])
            # the plain CRT function and the unblinded path give the same signature
            n = CRED_KEY
            self.assertEqual(
                raw_private_crt(h(case["P"]), n.p, n.q, n.d, n.dp, n.dq, n.qinv), h(case["cert"])[4:])
            self.assertEqual(CRED_KEY.raw(h(case["P"]), blind=False), h(case["cert"])[4:])

    def test_parse_vectors(self):
        for case in cases("login.json", "credential"):
            items = items_from_vector(case["L_items"])
            for key in (CRED_KEY.public, (CRED_KEY.n, 65537), CRED_KEY.n):
                cred = parse_credential(h(case["cert"]), key)
                self.assertIsInstance(cred, Credential)
                self.assertEqual(cred.key_id, 1)
                self.assertEqual(cred.name.encode("utf-8"), items.value(0, objects.String), case["L"])
                self.assertEqual(cred.flags, items.value(3, objects.Int))
                self.assertEqual(cred.user_modulus, items.value(1, objects.Blob))
                self.assertEqual(cred.expiry, items.value(4, objects.Int))
                self.assertEqual(cred.validity, items.value(2, objects.NestedList))
                self.assertEqual(cred.extra, items.value(7, objects.NestedList))
                self.assertEqual(cred.valid_until(9), items.value(2, objects.NestedList).value(9))
                self.assertEqual(cred.certified, h(case["L"]))

    def test_dict_validity_and_cryptography_key(self):
        from cryptography.hazmat.primitives.asymmetric import rsa

        pub = rsa.RSAPublicNumbers(65537, CRED_KEY.n)
        user = USER_KEYS[0].public.modulus_bytes()
        cred = build_credential("alice", user, 100, {9: 200}, CRED_KEY.raw)
        parsed = parse_credential(cred.raw, pub)
        self.assertEqual(parsed, cred)
        self.assertEqual(parse_credential(cred.raw, pub.public_key()), cred)
        no_list = build_credential("alice", user, 100, None, CRED_KEY.raw)
        self.assertIsNone(parse_credential(no_list.raw, pub).validity)
        self.assertIsNone(no_list.valid_until())

    def test_real_credentials(self):
        for case in cases("login.json", "real_credential_parse"):
            cred = parse_credential(h(case["cert"]), N_CRED_REAL)
            f = case["fields"]
            what = case["source"]
            self.assertEqual(cred.key_id.to_bytes(4, "big"), h(case["cert_header"]), what)
            self.assertEqual(cred.certified, h(case["L"]), what)
            self.assertEqual(list(objects.decode_objects(cred.certified)),
                             list(items_from_vector(case["L_items"])), what)
            self.assertEqual(cred.name, f["skypename"], what)
            self.assertEqual(cred.name, case["account_file_name"], what)
            self.assertEqual(cred.flags, f["int3_flags"], what)
            self.assertEqual(cred.user_modulus, h(f["user_pubkey_n"]), what)
            self.assertEqual(cred.expiry, f["int4_minutes"], what)
            self.assertEqual(utc(cred.expiry), f["int4_utc"], what)
            self.assertEqual(list(cred.validity), list(items_from_vector(
                [{k: v for k, v in x.items() if k != "utc"} for x in f["list2"]])), what)
            for x in f["list2"]:
                self.assertEqual(utc(x["value"]), x["utc"], what)
            if "list7" in f:
                self.assertEqual(list(cred.extra), list(items_from_vector(f["list7"])), what)
            else:
                self.assertIsNone(cred.extra, what)
            # the real key is not the test key, and vice versa
            self.assertRaises(ProtocolError, parse_credential, h(case["cert"]), CRED_KEY.n)

    def test_real_replies(self):
        replies = [c for c in cases("login.json", "real_credential_parse") if "complete_reply_plaintext" in c]
        self.assertEqual(len(replies), 12)
        for case in replies:
            plain = h(case["complete_reply_plaintext"])
            reply = parse_login_reply(plain)
            header = items_from_vector(case["reply_header"])
            body = items_from_vector(case["reply_body"])
            self.assertEqual(reply.code, header.value(1), case["source"])
            self.assertEqual(reply.seq, header.value(2), case["source"])
            self.assertEqual(reply.credential, h(case["cert"]), case["source"])
            self.assertEqual(list(reply.body), list(body), case["source"])
            validity = body.value(0x32, objects.NestedList)
            self.assertEqual(reply.year, validity.value(9), case["source"])
            body6 = body.get(0x3A) is not None
            items = (success_body_6x(reply.credential) if body6
                     else success_body_4x(reply.credential, reply.year))
            self.assertEqual(build_reply(RESULT_OK, reply.seq, items),
                             plain, case["source"])
            # the credential inside verifies
            self.assertEqual(parse_credential(reply.credential, N_CRED_REAL).raw, h(case["cert"]))

    def test_invalid(self):
        good = h(cases("login.json", "credential")[0]["cert"])
        for bad in (b"", good[:-1], good + b"\x00", bytes(260)):
            self.assertRaises(ProtocolError, parse_credential, bad, CRED_KEY.n)
        tampered = bytearray(good)
        tampered[100] ^= 0x40
        self.assertRaises(ProtocolError, parse_credential, bytes(tampered), CRED_KEY.n)
        # S >= n
        self.assertRaises(ProtocolError, parse_credential, b"\x00\x00\x00\x01" + b"\xff" * 256, CRED_KEY.n)
        # a payload that opens but whose L lacks required items
        for L in (b"\x41\x00", objects.encode_objects([objects.String(0, b"x")]), b"\x99"):
            S = CRED_KEY.raw(build_signed_payload(L))
            self.assertRaises(ProtocolError, parse_credential, b"\x00\x00\x00\x01" + S, CRED_KEY.n)

    def test_build_errors(self):
        self.assertRaises(ValueError, build_credential, "a", b"\x00" * 127, 0, None, CRED_KEY.raw)
        self.assertRaises(ValueError, build_credential, "a", b"\x00" * 128, 0, None, lambda P: P[:-1])
        self.assertRaises(ValueError, build_credential, "a" * 200, b"\x00" * 128, 0, None, CRED_KEY.raw)

    @SETTINGS
    @given(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40),
           st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 255),
           st.sampled_from(USER_KEYS))
    def test_round_trip(self, name, expiry, year, flags, user):
        cred = build_credential(name, user.public.modulus_bytes(), expiry, {9: year},
                                CRED_KEY.raw, flags=flags)
        self.assertEqual(parse_credential(cred.raw, CRED_KEY.public), cred)

    @settings(max_examples=100, deadline=None)
    @given(st.binary(min_size=260, max_size=260))
    def test_random_blobs(self, blob):
        try:
            parse_credential(blob, CRED_KEY.n)
        except ProtocolError:
            pass


class CredentialTimingTests(TestCase):
    def test_vectors(self):
        all_cases = cases("login.json", "credential_timing")
        self.assertEqual(len(all_cases), 33)
        for case in all_cases:
            issue, t_exp = case["implied_issue"], case["int4_t_exp"]
            self.assertEqual(issue_from_expiry(t_exp), issue, case)
            self.assertEqual(credential_expiry(issue), t_exp, case)
            self.assertEqual(one_year_later(issue), case["issue_plus_one_year"], case)
            if "model_issue_utc" in case:
                when = datetime.datetime.strptime(case["model_issue_utc"], "%Y-%m-%d %H:%M")
                self.assertEqual(minutes_since_epoch(when), issue, case)
                self.assertEqual((case["issue_plus_one_year"] - t_exp) // 1440,
                                 case["days_between_int4_and_year"], case)
            else:
                fmt = "%Y-%m-%d %H:%M"
                self.assertEqual(minutes_to_datetime(t_exp).strftime(fmt), case["int4_utc"], case)
                self.assertEqual(minutes_to_datetime(case["list2_int9"]).strftime(fmt),
                                 case["list2_int9_utc"], case)
                self.assertEqual(minutes_to_datetime(issue).strftime(fmt), case["implied_issue_utc"], case)
                cred = parse_credential(h(find_credential_case(case["cert_prefix"])["cert"]), N_CRED_REAL)
                self.assertEqual(cred.name, case["skypename"], case)
                self.assertEqual(cred.expiry, t_exp, case)
                self.assertEqual(cred.valid_until(9), case["list2_int9"], case)
                if case["relation"] == "list2_int9 == int4_t_exp":
                    self.assertEqual(case["list2_int9"], t_exp, case)
                else:
                    self.assertEqual(case["relation"], "list2_int9 == implied_issue + 1 calendar year")
                    self.assertEqual(one_year_later(issue_from_expiry(cred.expiry)), cred.valid_until(9), case)

    def test_lifetime(self):
        self.assertEqual(CREDENTIAL_LIFETIME_MINUTES, 43200)

    def test_leap_day_guess(self):
        issue = minutes_since_epoch(datetime.datetime(2016, 2, 29, 12, 0))
        self.assertEqual(minutes_to_datetime(one_year_later(issue)),
                         datetime.datetime(2017, 2, 28, 12, 0, tzinfo=datetime.timezone.utc))

    def test_minutes_since_epoch_forms(self):
        aware = datetime.datetime(2015, 8, 21, 22, 9, 59, tzinfo=datetime.timezone.utc)
        naive = datetime.datetime(2015, 8, 21, 22, 9, 59)
        self.assertEqual(minutes_since_epoch(aware), 24003249)
        self.assertEqual(minutes_since_epoch(naive), 24003249)
        self.assertEqual(minutes_since_epoch(aware.timestamp()), 24003249)
        self.assertGreater(minutes_since_epoch(), 24003249)
        self.assertRaises(ValueError, minutes_to_datetime, 2**32 * 2**10)

    @SETTINGS
    @given(st.integers(0, 4_000_000_000))
    def test_one_year_is_365_or_366_days(self, issue):
        days, rest = divmod(one_year_later(issue) - issue, 1440)
        self.assertEqual(rest, 0)
        self.assertIn(days, (365, 366))


class RawRsaTests(TestCase):
    def test_keys_consistent(self):
        for entry, key in [(DOC["test_keys"]["cred"], CRED_KEY), (DOC["test_keys"]["server_login"], LOGIN_KEY)]:
            self.assertEqual(key.n, int(entry["n"], 16))
            self.assertEqual(key.d, int(entry["d"], 16))
            self.assertEqual(key.n.bit_length(), entry["bits"])

    def test_session_key_ciphertexts(self):
        for case in cases("login.json", "session_key"):
            X, C = h(case["X"]), h(case["rsa_ciphertext"])
            if case["rsa_key"].startswith("real"):
                self.assertEqual(raw_public(X, N_LOGIN_REAL), C, case)
            else:
                self.assertEqual(raw_public(X, LOGIN_KEY.n), C, case)
                self.assertEqual(LOGIN_KEY.raw(C), X, case)
                self.assertEqual(LOGIN_KEY.raw(C, blind=False), X, case)
                k = LOGIN_KEY
                self.assertEqual(raw_private_crt(C, k.p, k.q, k.d, k.dp, k.dq, k.qinv), X, case)

    def test_range_and_length_checks(self):
        k = LOGIN_KEY
        n_bytes = k.n.to_bytes(192, "big")
        for bad in (n_bytes, b"\xff" * 192, b"\x00" * 191, b"\x00" * 193, b""):
            self.assertRaises(ProtocolError, raw_public, bad, k.n)
            self.assertRaises(ProtocolError, k.raw, bad)
            self.assertRaises(ProtocolError, raw_private_crt, bad, k.p, k.q, k.d, k.dp, k.dq, k.qinv)
        self.assertRaises(TypeError, raw_public, "00", k.n)
        self.assertRaises(ValueError, raw_private_crt, bytes(192), k.p, k.q, k.d, k.dp + 1, k.dq, k.qinv)
        self.assertRaises(ValueError, RsaPrivate, k.n + 2, k.e, k.d, k.p, k.q, k.dp, k.dq, k.qinv)
        self.assertRaises(ValueError, RsaPrivate, k.n, k.e, k.d, k.p, k.q, k.dp, k.dq, k.qinv + 1)
        self.assertNotIn("%x" % k.d, repr(k))
        self.assertEqual(RsaPublic(k.n).size, 192)

    @settings(max_examples=50, deadline=None)
    @given(st.sampled_from([LOGIN_KEY, CRED_KEY] + USER_KEYS), st.data())
    def test_private_matches_pow(self, key, data):
        c = data.draw(st.integers(0, key.n - 1))
        c_bytes = c.to_bytes(key.size, "big")
        expected = pow(c, key.d, key.n).to_bytes(key.size, "big")
        self.assertEqual(key.raw(c_bytes), expected)
        self.assertEqual(key.raw(c_bytes, blind=False), expected)
        self.assertEqual(key.public.raw(expected), c_bytes)


class _OnePowmod(RawRsaTests):
    # Hypothesis refuses one test method on several classes: the property
    # runs on the default implementation above, a fixed sample here.
    test_private_matches_pow = None

    def test_private_matches_pow_sample(self):
        import random
        rng = random.Random(14)
        for key in [LOGIN_KEY, CRED_KEY] + USER_KEYS:
            for _ in range(5):
                c = rng.randrange(key.n)
                c_bytes = c.to_bytes(key.size, "big")
                expected = pow(c, key.d, key.n).to_bytes(key.size, "big")
                self.assertEqual(key.raw(c_bytes), expected)
                self.assertEqual(key.raw(c_bytes, blind=False), expected)
                self.assertEqual(key.public.raw(expected), c_bytes)


class RawRsaPythonTests(_OnePowmod):
    """The raw RSA vectors on Python's ``pow`` (the fallback)."""

    def setUp(self):
        from blissnode.wire import rsa_raw
        from blissnode.wire import bigint
        self.patch(rsa_raw, "_bigint", bigint.IMPLEMENTATIONS["python"])


class RawRsaGmpy2Tests(_OnePowmod):
    """The raw RSA vectors on gmpy2 (a dependency: its absence fails here)."""

    def setUp(self):
        from blissnode.wire import rsa_raw
        from blissnode.wire import bigint
        import gmpy2  # noqa: F401
        self.patch(rsa_raw, "_bigint", bigint.IMPLEMENTATIONS["gmpy2"])

    def test_gmpy2_really_used(self):
        from blissnode.wire import rsa_raw
        from blissnode.wire import bigint
        gmpy2 = bigint.IMPLEMENTATIONS["gmpy2"]
        calls = []
        counted = bigint.BigInt("counted", lambda *a: calls.append("powmod") or gmpy2.powmod(*a),
                                lambda *a: calls.append("invert") or gmpy2.invert(*a))
        self.patch(rsa_raw, "_bigint", counted)
        LOGIN_KEY.raw(bytes(191) + b"\x05")
        self.assertIn("powmod", calls)
        self.assertIn("invert", calls)
