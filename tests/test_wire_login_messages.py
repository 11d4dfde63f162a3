"""Login/event request and reply plaintexts (login.md 5, 7; event.md 3)
against vectors/login.json kinds login_request_plaintext,
event_request_plaintext and the request/reply content of login_exchange."""

import json

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.login.codes import REFUSAL_CODES, RefusalCodes

from blissnode.wire import objects
from blissnode.wire.credentials import build_credential, credential_expiry, md5_credential, parse_credential
from blissnode.wire.errors import ProtocolError
from blissnode.wire.login_messages import (
    REQUEST_REGISTER,
    RESULT_AUTH_FAILED,
    RESULT_OK,
    EventRequest,
    LoginBody,
    LoginRequest,
    RequestHeader,
    build_refusal,
    build_reply,
    parse_event_request,
    parse_login_reply,
    parse_login_request,
    parse_version_string,
    success_body_4x,
    success_body_6x,
)
from blissnode.wire.node_record import decode_node_record
from blissnode.wire.rsa_raw import RsaPrivate
from tests.vectors import cases, load_vectors

SETTINGS = settings(max_examples=300, deadline=None)
DOC = load_vectors("login.json")
_CRED = DOC["test_keys"]["cred"]
CRED_KEY = RsaPrivate.from_primes(int(_CRED["p"], 16), int(_CRED["q"], 16))


def h(text):
    return bytes.fromhex(text)


def items_from_vector(items):
    """login.json items -> ObjectList (STRING values as text + value_hex)."""
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


def check_header(test, header, items, what):
    test.assertEqual(header.code, items.value(0, objects.Int), what)
    test.assertEqual(header.seq, items.value(2, objects.Int), what)
    test.assertEqual(header.name.encode("utf-8"), items.value(4, objects.String), what)
    test.assertEqual(header.credential, items.value(5, objects.Blob), what)


def text_or_none(items, item_id):
    v = items.value(item_id, objects.String)
    return None if v is None else v.decode("utf-8")


class LoginRequestTests(TestCase):
    def test_vectors(self):
        all_cases = cases("login.json", "login_request_plaintext")
        self.assertEqual(len(all_cases), 13)
        for case in all_cases:
            plain = h(case["plaintext"])
            header_items = items_from_vector(case["header"])
            body_items = items_from_vector(case["body"])
            what = (case["variant"], header_items.value(4, objects.String))
            req = parse_login_request(plain)
            check_header(self, req.header, header_items, what)
            self.assertEqual(list(req.header_objects), list(header_items), what)
            self.assertEqual(list(req.body_objects), list(body_items), what)
            b = req.body
            self.assertEqual(b.user_modulus, body_items.value(0x21, objects.Blob), what)
            host = body_items.get(0x3A, objects.Int64) or body_items.get(0x31, objects.Int64)
            self.assertEqual(b.host_id1, host.value, what)
            self.assertEqual(b.host_id1_item, host.id, what)
            self.assertEqual(b.language, text_or_none(body_items, 0x36), what)
            self.assertEqual(b.host_id2, body_items.value(0x33, objects.IntArray), what)
            self.assertEqual(b.version, text_or_none(body_items, 0x0D), what)
            self.assertEqual(b.public_ip, body_items.value(0x0E, objects.Int), what)
            self.assertEqual(b.node_record, body_items.value(0x13, objects.Blob), what)
            self.assertEqual(b.email, text_or_none(body_items, 0x20), what)
            self.assertEqual(b.reg_flag, body_items.value(0x26, objects.Int), what)
            self.assertEqual(b.reg_version, text_or_none(body_items, 0x2F), what)
            self.assertEqual(b.full_name, text_or_none(body_items, 0x37), what)
            self.assertEqual(req.is_registration, req.header.code == REQUEST_REGISTER, what)
            if b.node_record is not None:
                node = b.node()
                self.assertEqual(node, decode_node_record(b.node_record))
                if case["status"].startswith("VERIFIED"):
                    # login.md 5.2: in the real request INT 0x0E repeats the record's public IPv4
                    self.assertEqual(node.public.ip_bytes(), b.public_ip.to_bytes(4, "big"), what)
            else:
                self.assertIsNone(b.node())
            # encoding from the typed fields reproduces the bytes
            self.assertEqual(req.encode(), plain, what)
            self.assertEqual(LoginRequest(req.header, req.body).encode(), plain, what)
            version = parse_version_string(b.version)
            self.assertEqual(b.version.split("/")[:2], [version.platform, version.version], what)
            self.assertTrue(all(isinstance(x, int) for x in version.version_tuple()), what)

    def test_md5_matches_name(self):
        # the 6.16 real request carries the MD5 of the logged password
        real = cases("login.json", "login_request_plaintext")[0]
        req = parse_login_request(h(real["plaintext"]))
        self.assertEqual(req.header.credential, md5_credential(req.header.name, "adf123"))

    def test_invalid(self):
        plain = h(cases("login.json", "login_request_plaintext")[0]["plaintext"])
        req = parse_login_request(plain)
        hdr, body = req.header, req.body

        def enc(header_items, body_items):
            return objects.encode_objects(header_items) + objects.encode_objects(body_items)

        bad = [
            b"",
            plain[:-1],
            plain + b"\x00",
            objects.encode_objects(hdr.items()),
            enc(hdr.items(), []),
            enc(list(hdr.items())[:3], body.items()),
            enc(RequestHeader(hdr.code, hdr.seq, hdr.name, b"\x00" * 15).items(), body.items()),
            enc(RequestHeader(6030, hdr.seq, hdr.name, hdr.credential).items(), body.items()),
            enc(hdr.items(), LoginBody(b"\x00" * 127).items()),
            enc(hdr.items(), LoginBody(b"\x00" * 256).items()),
            enc(list(hdr.items())[:2] + [objects.String(4, b"\xff\xfe")] + list(hdr.items())[3:],
                body.items()),
        ]
        for data in bad:
            self.assertRaises(ProtocolError, parse_login_request, data)
        # minimum: header + BLOB 0x21 only
        minimal = parse_login_request(enc(hdr.items(), LoginBody(body.user_modulus).items()))
        self.assertEqual(minimal.body, LoginBody(body.user_modulus))

    def test_version_strings(self):
        v = parse_version_string("0/6.16.0.10//")
        self.assertEqual((v.platform, v.version, v.partner), ("0", "6.16.0.10", ""))
        self.assertEqual(v.version_tuple(), (6, 16, 0, 10))
        self.assertEqual(parse_version_string("0/7.4.85.102/259/").partner, "259")
        self.assertEqual(parse_version_string("2/1.2.0.18").version_tuple(), (1, 2, 0, 18))
        for bad in ("", "6.16", "0//", "/"):
            self.assertRaises(ProtocolError, parse_version_string, bad)
        self.assertRaises(ProtocolError, parse_version_string("0/6.x/").version_tuple)

    @SETTINGS
    @given(st.binary(max_size=400))
    def test_random_bytes(self, data):
        try:
            parse_login_request(data)
        except ProtocolError:
            pass

    @SETTINGS
    @given(st.data())
    def test_mutated(self, data):
        case = data.draw(st.sampled_from(cases("login.json", "login_request_plaintext")))
        plain = bytearray(h(case["plaintext"]))
        for _ in range(data.draw(st.integers(1, 4))):
            pos = data.draw(st.integers(0, len(plain) - 1))
            plain[pos] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(0, len(plain)))
        try:
            parse_login_request(bytes(plain[:cut]))
        except ProtocolError:
            pass

    @SETTINGS
    @given(
        st.sampled_from([5017, 5018, 5027]), st.integers(0, 2**32 - 1),
        st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=32),
        st.binary(min_size=16, max_size=16), st.binary(min_size=128, max_size=128),
        st.one_of(st.none(), st.integers(0, 2**64 - 1)), st.sampled_from([0x31, 0x3A]),
        st.one_of(st.none(), st.lists(st.integers(0, 2**32 - 1), max_size=6).map(tuple)),
        st.one_of(st.none(), st.just("0/6.16.0.10//")),
        st.one_of(st.none(), st.integers(0, 2**32 - 1)),
        st.one_of(st.none(), st.binary(min_size=27, max_size=27)),
        st.one_of(st.none(), st.just("a@b.c")),
    )
    def test_round_trip(self, code, seq, name, cred, modulus, host1, host1_item, host2,
                        version, ip, node, email):
        header = RequestHeader(code, seq, name, cred)
        body = LoginBody(modulus, host1, host1_item if host1 is not None else 0x3A, None, host2,
                         version, ip, node, email)
        req = LoginRequest(header, body)
        self.assertEqual(parse_login_request(req.encode()), req)


class EventRequestTests(TestCase):
    def test_vectors(self):
        all_cases = cases("login.json", "event_request_plaintext")
        self.assertEqual(len(all_cases), 19)
        for case in all_cases:
            plain = h(case["plaintext"])
            header_items = items_from_vector(case["header"])
            body_items = list(items_from_vector(case["body"]))
            what = (case["request_code"], case["status"])
            req = parse_event_request(plain)
            check_header(self, req.header, header_items, what)
            self.assertEqual(req.header.code, case["request_code"], what)
            # the last three body items are STRING 4, STRING 0x0D, INT 0x0E (event.md 3)
            self.assertEqual([(i.TYPE, i.id) for i in body_items[-3:]], [(3, 4), (3, 0x0D), (0, 0x0E)])
            self.assertEqual(list(req.items), body_items[:-3], what)
            self.assertEqual(req.name.encode("utf-8"), body_items[-3].value, what)
            self.assertEqual(req.version.encode("utf-8"), body_items[-2].value, what)
            self.assertEqual(req.public_ip, body_items[-1].value, what)
            self.assertEqual(req.name, req.header.name, what)
            self.assertEqual(req.encode(), plain, what)
            self.assertEqual(EventRequest(req.header, req.items, req.name, req.version,
                                          req.public_ip).encode(), plain, what)

    def test_invalid(self):
        plain = h(cases("login.json", "event_request_plaintext")[0]["plaintext"])
        for bad in (b"", plain[:-1], plain + b"\x01", plain[: plain.index(b"\x41", 2)]):
            self.assertRaises(ProtocolError, parse_event_request, bad)

    @SETTINGS
    @given(st.binary(max_size=200))
    def test_random_bytes(self, data):
        try:
            parse_event_request(data)
        except ProtocolError:
            pass

    @SETTINGS
    @given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
           st.lists(st.integers(0, 2**32 - 1), max_size=4),
           st.one_of(st.none(), st.text(st.characters(blacklist_characters="\x00",
                                                      blacklist_categories=("Cs",)), max_size=20)),
           st.one_of(st.none(), st.integers(0, 2**32 - 1)))
    def test_round_trip(self, code, seq, values, name, ip):
        header = RequestHeader(code, seq, "alice", bytes(16))
        items = [objects.Int(0x2D + i, v) for i, v in enumerate(values)]
        req = EventRequest(header, items, name, "0/6.16.0.10//", ip)
        self.assertEqual(parse_event_request(req.encode()), req)


class LoginExchangeContentTests(TestCase):
    """What a server must decode from, and answer to, each model session."""

    def test_requests_and_replies(self):
        all_cases = cases("login.json", "login_exchange")
        self.assertEqual(len(all_cases), 7)
        for case in all_cases:
            what = (case["variant"], case["user"], case["password"])
            expect = case["expect"]
            if isinstance(expect, str):
                expect = json.loads(expect)
            plain = h(case["request_plaintext"])
            req = parse_login_request(plain)
            self.assertEqual(req.header.code, expect["request_code"], what)
            self.assertEqual(req.header.seq, expect["request_seq"], what)
            self.assertEqual(req.header.name, expect["user"], what)
            self.assertEqual(req.header.credential, h(expect["md5"]), what)
            self.assertEqual(req.body.user_modulus, h(expect["user_pubkey"]), what)
            self.assertEqual(list(req.header_objects), list(items_from_vector(case["request_header"])), what)
            self.assertEqual(req.encode(), plain, what)
            # "password" is what the client typed (the wrong one in the refusal cases)
            self.assertEqual(md5_credential(case["user"], case["password"]), req.header.credential, what)
            user_key = DOC["test_keys"]["users"][case["user_key_index"]]
            self.assertEqual(req.body.user_modulus.hex(), user_key["n"].rjust(256, "0"), what)

            reply_plain = h(case["reply_plaintext"])
            issue = case["issue_time_minutes"]
            if expect["result_code"] == RESULT_OK:
                six = case["variant"] == "6.16"
                expiry = credential_expiry(issue)
                # login.md 8 / 11: the model sessions use issue + 365 days
                year = issue + 365 * 1440
                validity = {9: year if six else expiry}
                cred = build_credential(req.header.name, req.body.user_modulus, expiry,
                                        validity, CRED_KEY.raw)
                body = success_body_6x(cred.raw) if six else success_body_4x(cred.raw, year)
                built = build_reply(RESULT_OK, req.header.seq, body)
            else:
                self.assertEqual(expect["result_code"], RESULT_AUTH_FAILED, what)
                built = build_refusal(req.header.seq)
            self.assertEqual(built, reply_plain, what)

            reply = parse_login_reply(reply_plain)
            self.assertEqual(reply.code, expect["result_code"], what)
            self.assertEqual(reply.seq, expect["request_seq"], what)
            self.assertEqual(list(reply.body), list(items_from_vector(
                case["reply_body"] if isinstance(case["reply_body"], list) else json.loads(case["reply_body"]))), what)
            if reply.ok:
                parsed = parse_credential(reply.credential, CRED_KEY.n)
                self.assertEqual(parsed.name, case["user"], what)
                self.assertEqual(parsed.user_modulus, h(expect["user_pubkey"]), what)
                self.assertEqual(parsed.expiry, credential_expiry(issue), what)
            else:
                self.assertIsNone(reply.credential, what)
                self.assertIsNone(reply.year, what)


class ReplyTests(TestCase):
    def test_failure_reply_bytes(self):
        # login.md 7.2: the recommended 11-byte refusal
        self.assertEqual(build_refusal(1), h("41020001d141000201" "4100"))
        self.assertEqual(build_refusal(1, REFUSAL_CODES.unknown_user), build_refusal(1))
        self.assertEqual(build_refusal(1, 8401), build_refusal(1))

    def test_refusal_codes(self):
        codes = RefusalCodes()
        self.assertEqual(codes.wrong_password, 8401)
        for reason in ("account_blocked", "name_taken", "invalid_name", "version_too_old",
                       "registration_closed", "rate_limited"):
            code = REFUSAL_CODES.code(reason)
            self.assertNotIn(code, (RESULT_OK, RESULT_AUTH_FAILED), reason)
            self.assertEqual(parse_login_reply(build_refusal(7, code)).code, code)
        self.assertRaises(ValueError, REFUSAL_CODES.code, "nope")
        custom = RefusalCodes(rate_limited=8401)
        self.assertEqual(custom.code("rate_limited"), 8401)

    def test_styles(self):
        cred = bytes(range(256)) + b"\x00\x01\x02\x03"
        six = parse_login_reply(build_reply(RESULT_OK, 1, success_body_6x(cred)))
        self.assertEqual((six.code, six.seq, six.credential, six.year), (4200, 1, cred, None))
        self.assertEqual(six.body.value(0x3A), 2)
        four = parse_login_reply(build_reply(RESULT_OK, 5, success_body_4x(cred, 99)))
        self.assertEqual((four.code, four.seq, four.credential, four.year), (4200, 5, cred, 99))

    def test_invalid_replies(self):
        for bad in (b"", b"\x41\x00", b"\x41\x01\x00\x01\x01", build_refusal(1) + b"\x00"):
            self.assertRaises(ProtocolError, parse_login_reply, bad)

    @SETTINGS
    @given(st.binary(max_size=300))
    def test_random_bytes(self, data):
        try:
            parse_login_reply(data)
        except ProtocolError:
            pass
