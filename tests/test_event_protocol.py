"""
The event server (blissnode.event) over loopback with the reference client
(blissnode.client.event), plus the vector replays of event_record and
event_request_plaintext, the broadcaster's bounds and the handlers' contract.
"""

import ast
import os

import attr
from hypothesis import given, settings, strategies as st
from twisted.internet import defer, reactor, task
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyClass, verifyObject

from blissnode.auth.cred import make_portal
from blissnode.auth.limiter import FailedLoginLimiter, Limit
from blissnode.client.event import (
    EVENT_PROFILES,
    EventClientCore,
    EventClientError,
    EventRefused,
    connect_event,
    event_profile,
)
from blissnode.core.directory import AnchoringDirectory
from blissnode.core.presence import Presence
from blissnode.event import codes as C
from blissnode.event.handlers import EventHandlers, profile_handle
from blissnode.event.interfaces import EventRefusal, IEventHandlers
from blissnode.event.presence import Broadcaster
from blissnode.event.protocol import EventServerFactory, EventService
from blissnode.store.contacts import Contact, ContactChanges, ContactLimits
from blissnode.store.directory import MemoryDirectory, OnlineEntry
from blissnode.store.errors import UnknownAccount, WrongCredential
from blissnode.store.messages import MessageLimits, QueueCounts
from blissnode.versions.registry import VersionRegistry
from blissnode.versions.v4_1_0_130 import EventHandlers as EventHandlers4x
from blissnode.versions.v5_5_0_124 import EventHandlers as EventHandlers55
from blissnode.wire.errors import ProtocolError
from blissnode.wire.login_messages import parse_event_request
from blissnode.wire.objects import Blob, Int, String
from blissnode.wire.server_transport import (
    RecordCipher,
    ServerRecordParser,
    X_SERVER_TO_CLIENT,
    open_server_record,
    seal_server_record,
)
from tests.event_helpers import (
    KEYS,
    LABELS,
    LOOPBACK,
    EventServerMixin,
    cred,
)
from tests.test_login_protocol import GARBAGE, connect_raw, login_lines
from tests.vectors import cases


def h(text):
    return bytes.fromhex(text)


# -- handler classes --------------------------------------------------------------------

class HandlerClassTests(TestCase):
    def test_interface(self):
        for cls in (EventHandlers, EventHandlers4x, EventHandlers55):
            self.assertTrue(verifyClass(IEventHandlers, cls))
            self.assertTrue(verifyObject(IEventHandlers, cls()))

    def test_every_code_has_its_method(self):
        for cls in (EventHandlers, EventHandlers4x, EventHandlers55):
            for code, name in cls.request_codes.items():
                self.assertTrue(callable(getattr(cls, name)), (cls, code, name))
            for code, name in C.GUESS_REQUESTS.items():
                self.assertTrue(name.startswith("guess_"), (code, name))
            self.assertEqual(cls().method_for(9999), "unknown_request")

    def test_registry_roles(self):
        registry = VersionRegistry.from_plugins()
        want = {"1.4.0.84": EventHandlers, "2.5.0.151": EventHandlers,
                "3.8.0.188": EventHandlers, "4.1.0.130": EventHandlers4x,
                "4.2.0.187": EventHandlers4x, "5.5.0.124": EventHandlers55,
                "5.9.66.114": EventHandlers55, "6.16.0.105": EventHandlers55}
        for label, cls in want.items():
            self.assertIs(registry.handlers(registry.get(label), "event"), cls, label)

    def test_older_than_every_version_refused(self):
        # Unlike the supernode, the event server refuses a 1.2 client.
        service = _fake_service({}, [])
        e = self.assertRaises(EventRefusal, service.handlers_for_text, "2/1.2.0.18/")
        self.assertEqual(e.reason, "version_too_old")
        handlers, label = service.handlers_for_text("0/1.4.0.84")
        self.assertEqual(label, "1.4.0.84")

    def test_version_differences(self):
        for label, profile in EVENT_PROFILES.items():
            number = profile.number
            self.assertEqual(profile.session_start_first, number >= (4, 0), label)
            self.assertEqual(profile.host_id_item, 0x3A if number >= (5, 5) else 0x31, label)
        self.assertEqual(event_profile("6.21.0.104").host_id_item, 0x3A)

    def test_refusal_codes_distinct(self):
        values = [getattr(C.REFUSAL_CODES, f.name) for f in attr.fields(C.EventRefusalCodes)]
        self.assertEqual(len(values), len(set(values)))
        self.assertEqual(C.REFUSAL_CODES.code("auth_failed"), 8401)
        self.assertEqual(C.REFUSAL_CODES.reason(8401), "auth_failed")
        self.assertRaises(ValueError, C.REFUSAL_CODES.code, "nope")

    def test_versions_doc_table_matches_the_facts(self):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with open(os.path.join(root, "docs", "versions.rst")) as f:
            rows = [line.split() for line in f if line.startswith("event_")]
        letters = {"tested": "T", "guessed": "G", "unknown": "?"}
        registry = VersionRegistry.from_plugins()
        features = [f for f in registry.get("1.4.0.84").facts if f.startswith("event_")]
        self.assertEqual([r[0] for r in rows], features)
        for row in rows:
            self.assertEqual(row[1:], [letters[v.facts[row[0]]] for v in registry], row[0])
        with open(os.path.join(root, "docs", "adding-a-version.rst")) as f:
            includes = [line.split("::")[1].strip() for line in f
                        if line.startswith(".. literalinclude::")]
        self.assertEqual(len(includes), 3)
        for path in includes:
            self.assertTrue(os.path.exists(os.path.join(root, "docs", path)), path)

    def test_layering(self):
        root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "blissnode", "event")
        checked = 0
        for name in os.listdir(root):
            if not name.endswith(".py"):
                continue
            with open(os.path.join(root, name), "rb") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                mods = []
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    mods = [node.module]
                for mod in mods:
                    self.assertFalse(mod.startswith("blissnode.client")
                                     or mod.startswith("blissnode.cli"), (name, mod))
            checked += 1
        self.assertGreater(checked, 4)


# -- codecs -----------------------------------------------------------------------------

class CodecTests(TestCase):
    def test_handles(self):
        self.assertEqual(C.pack_handles([1, 0xFFFFFFFF]), h("00000001ffffffff"))
        self.assertEqual(C.unpack_handles(h("00000001ffffffff")), [1, 0xFFFFFFFF])
        self.assertRaises(ProtocolError, C.unpack_handles, b"\x00\x00\x01")

    def test_entry_value_roundtrip(self):
        handlers = EventHandlers()
        for state in ("pending_out", "pending_in", "authorized", "blocked"):
            contact = Contact(handle=7, name="bobby01", state=state, display_name="Bob",
                              group_id=3, group_name="friends", certificate=b"c" * 392,
                              request_text="hi")
            entry = C.parse_entry("u/bobby01", handlers.entry_value(contact), 7)
            self.assertEqual((entry.name, entry.state, entry.display_name, entry.group_id,
                              entry.group_name, entry.certificate, entry.request_text),
                             ("bobby01", state, "Bob", 3, "friends", b"c" * 392, "hi"), state)
        raw = C.parse_entry("p/mood", b"happy")
        self.assertEqual(raw.raw, b"happy")
        self.assertRaises(ProtocolError, C.parse_entry, "u/x", b"\x99")

    def test_server_record(self):
        rec = C.parse_server_record(EventHandlers().build_success(9, []))
        self.assertEqual((rec.code, rec.request_id, rec.is_push), (4200, 9, False))
        self.assertEqual(rec.body.value(C.I_AUTH_OK, Int), 3000)
        push = C.parse_server_record(EventHandlers().presence_push(
            C.PresenceState("bobby01", 3, "mood")))
        self.assertTrue(push.is_push)
        self.assertEqual(C.parse_presence(push.body), [C.PresenceState("bobby01", 3, "mood")])
        self.assertRaises(ProtocolError, C.parse_server_record, h("4100"))
        refusal = EventHandlers().build_refusal(5, "auth_failed")
        self.assertEqual(refusal, h("41020001d141000205") + b"\x41\x00")

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=300))
    def test_client_decoders_only_raise_protocol_error(self, data):
        for fn in (C.parse_server_record, lambda d: C.parse_entry("u/x", d),
                   C.unpack_handles):
            try:
                fn(data)
            except ProtocolError:
                pass


# -- the vectors: event_request_plaintext and event_record ---------------------------------

class VectorTests(TestCase):
    def test_request_plaintexts_rebuilt_by_the_client(self):
        """Every event_request_plaintext case: the reference client's encoder
        gives the same bytes (header, body items, trailer)."""
        all_cases = cases("login.json", "event_request_plaintext")
        for case in all_cases:
            plain = h(case["plaintext"])
            req = parse_event_request(plain)
            version = req.version
            profile = attr.evolve(event_profile("6.16.0.105"), version_string=version)
            core = EventClientCore(profile, req.header.name, req.header.credential,
                                   KEYS.login.private.n, public_ip=req.public_ip)
            _rid, rebuilt = core.plaintext(case["request_code"], req.items,
                                           request_id=req.header.seq)
            self.assertEqual(rebuilt, plain, case["request_code"])
        self.assertEqual(len(all_cases), 19)

    def test_event_records_through_the_server(self):
        """Every event_record case: the server reads the client records (seq
        from the trailers), answers each with its own seq 0..4 and the
        request id, and 6028's BLOB 0x35 is the vector's handle list."""
        for case in cases("login.json", "event_record"):
            plains = [h(p) for p in case["client_plaintexts"]]
            requests = [parse_event_request(p) for p in plains]
            want = [C.parse_server_record(h(p)) for p in case["server_plaintexts"]]
            handles_blob = next(r.body.value(C.I_HANDLES, Blob) for r in want
                                if r.body.value(C.I_HANDLES, Blob) is not None)
            name = requests[0].header.name
            service = _fake_service({name.lower(): requests[0].header.credential},
                                    C.unpack_handles(handles_blob))
            proto, transport = _keyed_protocol(service, h(case["aes_key"]))
            proto.dataReceived(h(case["client_stream"]))
            got = _server_records(transport.value(), h(case["aes_key"]))
            self.assertEqual([seq for seq, _ in got], list(range(len(plains))), name)
            for (seq, rec), w, req in zip(got, want, requests):
                self.assertEqual((rec.code, rec.request_id), (w.code, w.request_id),
                                 (name, req.header.code))
                self.assertEqual(rec.body.value(C.I_AUTH_OK, Int), 3000)
                if req.header.code == C.ENTRY_HANDLES:
                    self.assertEqual(rec.body.value(C.I_HANDLES, Blob), handles_blob, name)
                if req.header.code == C.ENTRY_FETCH:
                    self.assertEqual(rec.body.value(C.I_KEY, String),
                                     b"u/contact%d" % (req.items.value(C.I_HANDLE, Int) % 100))
            self.assertEqual(service.accounts.checks, [name.lower()], name)


@attr.s
class _Acct:
    name = attr.ib()
    email = attr.ib(default=None)


class _FakeAccounts:
    def __init__(self, creds):
        self.creds = creds
        self.checks = []

    def check_credential(self, name, credential16):
        self.checks.append(name.lower())
        if name.lower() not in self.creds:
            return defer.fail(UnknownAccount(name))
        if self.creds[name.lower()] != bytes(credential16):
            return defer.fail(WrongCredential(name))
        return defer.succeed(_Acct(name.lower()))

    def get_account(self, name):
        return defer.succeed(_Acct(name.lower()) if name.lower() in self.creds else None)


class _FakeContacts:
    def __init__(self, handles):
        self.contacts = [Contact(handle=hd, name="contact%d" % (hd % 100), state="authorized")
                         for hd in handles]

    def changes_since(self, owner, seq):
        return defer.succeed(ContactChanges(seq, 1, False, self.contacts))

    def get_entry(self, owner, handle):
        # Model vectors: the 6024 handle need not be one of the 6028 list.
        return defer.succeed(Contact(handle=handle, name="contact%d" % (handle % 100),
                                     state="authorized"))

    def change_seq(self, owner):
        return defer.succeed(1)

    def watchers(self, owner):
        return defer.succeed([])


class _FakeMessages:
    def counts(self, recipient):
        return defer.succeed(QueueCounts(0, 0, 0, 0))


def _fake_service(creds, handles):
    accounts = _FakeAccounts(creds)
    return EventService(accounts, _FakeContacts(handles), _FakeMessages(),
                        make_portal(accounts), clock=task.Clock(),
                        registry=VersionRegistry.from_plugins())


def _keyed_protocol(service, key):
    """A protocol past the key exchange with the vector's AES key."""
    factory = EventServerFactory(KEYS, service, clock=task.Clock())
    proto = factory.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.session.keyed(key)
    return proto, transport


def _server_records(data, key):
    out = []
    for record in ServerRecordParser().feed(data):
        seq, plain = open_server_record(record, key, X_SERVER_TO_CLIENT)
        out.append((seq, C.parse_server_record(plain)))
    return out


# -- over loopback ------------------------------------------------------------------------

class KnownRequestTests(EventServerMixin, TestCase):
    timeout = 120

    @defer.inlineCallbacks
    def test_every_version_signs_in_and_syncs(self):
        for i, label in enumerate(LABELS):
            name = "user%d_%s" % (i, label.replace(".", ""))[:20]
            yield self.account(name, email="%s@example.org" % name)
            session = yield self.connect(label, name)
            handles, seq, removed, full = yield session.handles()
            self.assertEqual((seq, removed, full), (0, None, False), label)
            # The own profile entry p/email is the only entry.
            self.assertEqual(handles, [profile_handle("p/email"), profile_handle("p/mood")],
                             label)
            entry = yield session.entry(handles[0])
            self.assertEqual((entry.key, entry.raw), ("p/email", b"%s@example.org"
                                                      % name.encode()), label)
            cursor, pending = yield session.pending_events(0)
            self.assertEqual((cursor, pending), (0, 0), label)
            cursor, pending = yield session.pending_events(0, other=True)
            self.assertEqual((cursor, pending), (0, 0), label)
            proto = self.factory.built[-1]
            want = "dh384" if label >= "5" else "classic"
            self.assertEqual(proto.transport_kind, want, label)
            self.assertEqual(proto.users, {name}, label)
            yield session.close()

    @defer.inlineCallbacks
    def test_session_start_answer(self):
        yield self.account("alice01")
        session = yield self.connect("6.16.0.105", "alice01", start=False)
        record = yield session.call(C.SESSION_START)
        self.assertEqual((record.code, record.request_id), (4200, 3))
        self.assertEqual(record.body.value(C.I_AUTH_OK, Int), 3000)
        self.assertEqual(record.body.value(C.GUESS_I_PENDING, Int), 0)

    @defer.inlineCallbacks
    def test_1_4_starts_with_6028(self):
        yield self.account("alice01")
        session = yield self.connect("1.4.0.84", "alice01", start=False)
        handles, _seq, _r, _f = yield session.handles()
        # Never an empty list: padded with the empty own-profile entries
        # (SOS2 waits for ever on fewer than two handles; MIN_LISTED).
        self.assertEqual(handles, [profile_handle("p/email"), profile_handle("p/mood")])
        proto = self.factory.built[-1]
        self.assertEqual((proto.requests, proto.users), (1, {"alice01"}))

    @defer.inlineCallbacks
    def test_changes_since(self):
        for n in ("alice01", "bobby01", "carol01"):
            yield self.account(n)
        a = yield self.connect("6.16.0.105", "alice01")
        _h, seq0, _r, _f = yield a.handles()
        bob = yield a.add_contact("bobby01", "hi")
        carol = yield a.add_contact("carol01")
        handles, seq1, removed, full = yield a.handles(since=seq0)
        self.assertEqual((sorted(handles), removed, full),
                         (sorted([bob.handle, carol.handle]), [], False))
        yield a.remove("carol01")
        handles, seq2, removed, full = yield a.handles(since=seq1)
        self.assertEqual((handles, removed, full), ([], [carol.handle], False))
        self.assertGreater(seq2, seq1)
        # A number from the future (a re-created account): the whole list.
        handles, _s, _r, full = yield a.handles(since=seq2 + 100)
        self.assertEqual((handles, full), ([bob.handle, profile_handle("p/email")], True))
        cursor, _p = yield a.pending_events()
        self.assertEqual(cursor, seq2)
        entries = yield a.contacts()
        self.assertEqual([(e.key, e.state, e.request_text) for e in entries],
                         [("u/bobby01", "pending_out", "hi")])

    @defer.inlineCallbacks
    def test_unknown_code_answered_and_logged(self):
        yield self.account("alice01")
        a = yield self.connect("6.16.0.105", "alice01")
        record = yield a.call(6029, [Int(0x77, 1)])
        self.assertEqual([it.id for it in record.body], [C.I_AUTH_OK])

    @defer.inlineCallbacks
    def test_fakeskype_fixed_seq_accepted(self):
        """notes 3: FakeSkype seals every record with seq 0."""
        yield self.account("alice01")
        a = yield self.connect("4.2.0.187", "alice01", fixed_seq=0)
        for _ in range(3):
            _h, seq, _r, _f = yield a.handles()
            self.assertEqual(seq, 0)
        self.assertEqual(a.core.server_seqs, [0, 1, 2, 3])


class AuthenticationTests(EventServerMixin, TestCase):
    timeout = 60

    def setUp(self):
        self.limiter = FailedLoginLimiter(reactor, per_address=Limit(100, 60.0),
                                          per_account=Limit(100, 60.0))
        return EventServerMixin.setUp(self)

    @defer.inlineCallbacks
    def test_wrong_password_and_unknown_user(self):
        yield self.account("alice01")
        for label in LABELS:
            for name, password in (("alice01", "wrong"), ("nobody01", "pw"), ("x", "pw")):
                session = yield self.connect(label, name, password, start=False)
                record = yield session.protocol.call(C.ENTRY_HANDLES)
                self.assertEqual(record.code, 8401, (label, name))
                yield session.close()

    @defer.inlineCallbacks
    def test_suspended_account_is_refused(self):
        yield self.account("susan01")
        yield self.store.run(lambda opened: opened.accounts.suspend_account("susan01"))
        for label in LABELS:
            session = yield self.connect(label, "susan01", start=False)
            record = yield session.protocol.call(C.ENTRY_HANDLES)
            self.assertEqual(record.code, 8401, label)
            yield session.close()
        yield self.store.run(lambda opened: opened.accounts.unsuspend_account("susan01"))
        session = yield self.connect("6.16.0.105", "susan01", start=False)
        record = yield session.protocol.call(C.ENTRY_HANDLES)
        self.assertNotEqual(record.code, 8401)

    @defer.inlineCallbacks
    def test_every_request_is_checked(self):
        """A connection that signed in as alice cannot act with another
        credential: every request carries and is checked by its own."""
        yield self.account("alice01")
        yield self.account("bobby01", "bobpw")
        a = yield self.connect("6.16.0.105", "alice01")
        record = yield a.protocol.call(C.ENTRY_HANDLES, credential16=cred("alice01", "x"))
        self.assertEqual(record.code, 8401)
        record = yield a.protocol.call(C.ENTRY_HANDLES, name="bobby01")
        self.assertEqual(record.code, 8401)
        record = yield a.protocol.call(C.ENTRY_HANDLES, name="bobby01",
                                       credential16=cred("bobby01", "bobpw"))
        self.assertEqual(record.code, 4200)
        self.assertEqual(self.factory.built[-1].users, {"alice01", "bobby01"})

    @defer.inlineCallbacks
    def test_rate_limited(self):
        self.service.limiter = FailedLoginLimiter(reactor, per_address=Limit(50, 60.0),
                                                  per_account=Limit(3, 60.0))
        yield self.account("alice01")
        session = yield self.connect("5.5.0.124", "alice01", "wrong", start=False)
        codes = []
        for _ in range(3):
            record = yield session.protocol.call(C.SESSION_START)
            codes.append(record.code)
        self.assertEqual(codes, [8401, 8401, 8401])
        # A rate-limited 6030 is not answered with a code real clients do
        # not know (they know 8401 only): the connection is closed.
        with self.assertRaises(EventClientError):
            yield session.protocol.call(C.SESSION_START)
        yield session.protocol.lost
        good = yield self.connect("5.5.0.124", "alice01", start=False)
        with self.assertRaises(EventClientError):
            yield good.protocol.call(C.SESSION_START)
        self.assertEqual(self.factory.built[-1].requests, 1)

    @defer.inlineCallbacks
    def test_strikes_close_the_connection(self):
        yield self.account("alice01")
        self.factory.max_strikes = 2
        session = yield self.connect("6.16.0.105", "nobody01", start=False)
        record = yield session.protocol.call(C.SESSION_START)
        self.assertEqual(record.code, 8401)
        record = yield session.protocol.call(C.SESSION_START)
        self.assertEqual(record.code, 8401)
        yield session.protocol.lost
        self.assertTrue(session.protocol.closed)

    @defer.inlineCallbacks
    def test_wrong_login_key(self):
        """A seed encrypted to another key: 8401 (id 0) and closed."""
        yield self.account("alice01")
        other = KEYS.credential.private.n >> 512   # a 1536-bit odd-ish number
        core = EventClientCore("4.1.0.130", "alice01", cred("alice01"), other | 1)
        session = yield connect_event(reactor, LOOPBACK, self.portnum, core)
        d = session.protocol.call(C.SESSION_START)
        d.addErrback(lambda f: f.trap(EventClientError))
        yield session.protocol.lost
        self.assertEqual([(r.code, r.request_id) for r in session.protocol.pushes], [])
        self.assertEqual(self.factory.built[-1].users, set())


    @defer.inlineCallbacks
    def test_client_with_skypes_login_key_gets_the_patch_hint(self):
        """Issue 9.7 on the event server: an unpatched client of any version
        (its seed encrypted to Skype's login key) gets the operator one
        plain line naming the fix."""
        from twisted.logger import formatEvent

        from blissnode.logthrottle import LogThrottle
        from blissnode.patch.known import SKYPE_LOGIN_MODULUS
        lines = []

        def observer(event):
            lines.append(formatEvent(event))
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        for version in ("1.4.0.84", "4.2.0.187", "5.5.0.124", "6.16.0.105"):
            name = "unpatched" + version.replace(".", "")[:5]
            yield self.account(name)
            self.factory.throttle = LogThrottle(self.factory.clock.seconds, 60.0)
            del lines[:]
            core = EventClientCore(version, name, cred(name), SKYPE_LOGIN_MODULUS)
            session = yield connect_event(reactor, LOOPBACK, self.portnum, core)
            d = session.protocol.call(C.SESSION_START)
            d.addErrback(lambda f: f.trap(EventClientError))
            yield session.protocol.lost
            hints = [t for t in lines if "the client encrypted to another RSA key" in t]
            self.assertEqual(len(hints), 1, (version, lines))
            self.assertIn("docs/clients.rst", hints[0])


class IsolationTests(EventServerMixin, TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def test_users_see_only_their_own(self):
        for n in ("alice01", "bobby01", "carol01"):
            yield self.account(n)
        a = yield self.connect("6.16.0.105", "alice01")
        b = yield self.connect("4.1.0.130", "bobby01")
        c = yield self.connect("1.4.0.84", "carol01")
        yield b.add_contact("carol01", "secret text")
        b_entries = yield b.contacts()
        self.assertEqual(len(b_entries), 1)
        # Alice cannot fetch Bob's entry by its handle: 6024 is a request real
        # clients send, so the refusal is a clean close (no unknown code).
        with self.assertRaises(EventClientError):
            yield a.entry(b_entries[0].handle)
        yield a.protocol.lost
        a = yield self.connect("6.16.0.105", "alice01")
        # Alice cannot answer a request that was not made to her.
        with self.assertRaises(EventRefused) as ctx:
            yield a.accept("bobby01")
        self.assertEqual(ctx.exception.reason, "not_in_list")
        # Alice's trailer naming Bob changes nothing of Bob's.
        record = yield a.protocol.call(C.GUESS_REMOVE, [String(C.V_NAME, b"carol01"),
                                                        String(4, b"bobby01")])
        self.assertEqual(C.REFUSAL_CODES.reason(record.code), "not_in_list")
        b_after = yield b.contacts()
        self.assertEqual([e.key for e in b_after], ["u/carol01"])
        # Alice's acks do not touch Carol's queue.
        yield a.ack(10 ** 6)
        msgs = yield c.inbox(ack=False)
        self.assertEqual([(m.sender, m.kind, m.text) for m in msgs],
                         [("bobby01", "auth_request", "secret text")])
        self.assertEqual((yield a.inbox()), [])
        # Nobody but Carol learns the request text.
        self.assertEqual([e.request_text for e in (yield c.contacts())], ["secret text"])
        presence = yield a.presence()
        self.assertEqual(presence, {})

    @defer.inlineCallbacks
    def test_status_of_strangers_not_revealed(self):
        yield self.account("alice01")
        yield self.account("bobby01")
        a = yield self.connect("6.16.0.105", "alice01")
        yield self.connect("6.16.0.105", "bobby01")
        seq, status = yield a.send("bobby01", "hi")
        self.assertEqual((seq, status), (1, C.STATUS_OFFLINE))

    @defer.inlineCallbacks
    def test_send_reply_does_not_reveal_the_recipients_traffic(self):
        # Issue 17.10: INT 0x41 used to be bob's queue sequence number.
        for n in ("alice01", "bobby01", "carol01"):
            yield self.account(n)
        c = yield self.connect("6.16.0.105", "carol01")
        for _ in range(2):
            yield c.send("bobby01", "from carol")
        a = yield self.connect("6.16.0.105", "alice01")
        seq, _status = yield a.send("bobby01", "from alice")
        self.assertEqual(seq, 1)


class LogFloodTests(TestCase):
    """Bad input from one address writes a bounded number of event-server
    lines per interval (the factory's LogThrottle), with the count."""

    def setUp(self):
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.clock = task.Clock()
        self.factory = EventServerFactory(KEYS, _fake_service({}, []), clock=self.clock,
                                          connect_rate=None, max_per_address=None)

    def lines(self):
        return login_lines(self.events, "blissnode.event.protocol")

    def test_garbage_connections(self):
        for i in range(200):
            proto, transport = connect_raw(self.factory, "203.0.113.5", GARBAGE, 1000 + i)
            self.assertTrue(transport.disconnecting)
            proto.connectionLost(None)
        lines = self.lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("event: 203.0.113.5: protocol error"), lines[0])
        self.clock.advance(self.factory.throttle.interval)
        proto, _ = connect_raw(self.factory, "203.0.113.5", GARBAGE)
        proto.connectionLost(None)
        self.assertEqual(len(self.lines()), 2)
        self.assertIn("(and 199 similar since the last such line)", self.lines()[1])
        self.assertEqual(self.factory.connections, 0)

    def test_refused_requests(self):
        key = bytes(range(32))
        for i in range(50):
            proto, transport = connect_raw(self.factory, "203.0.113.5", b"", 1000 + i)
            proto.session.keyed(key)
            proto.dataReceived(seal_server_record(b"\x41\x01\x00\x99", key, 0, 0))
            # Unreadable: closed cleanly, no code a real client would wait on.
            self.assertEqual(transport.value(), b"")
            self.assertTrue(transport.disconnecting)
            proto.connectionLost(None)
        lines = self.lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("refused request 0 from 203.0.113.5", lines[0])
        self.assertIn("(malformed)", lines[0])
        self.assertEqual(self.factory.throttle.suppressed("203.0.113.5", "refused malformed"),
                         49)


class MalformedTests(EventServerMixin, TestCase):
    timeout = 60
    factory_kw = {"max_record": 2048, "max_pending": 40, "pause_at": 8}

    @defer.inlineCallbacks
    def test_missing_and_bad_items(self):
        yield self.account("alice01")
        a = yield self.connect("6.16.0.105", "alice01")
        for code, items, reason in (
                (C.GUESS_ADD_CONTACT, [], "malformed"),
                (C.GUESS_ADD_CONTACT, [String(C.V_NAME, b"x")], "unknown_user"),
                (C.GUESS_ADD_CONTACT, [String(C.V_NAME, b"nobody01")], "unknown_user"),
                (C.GUESS_ADD_CONTACT, [String(C.V_NAME, b"alice01")], "wrong_state"),
                (C.GUESS_ADD_CONTACT, [String(C.V_NAME, b"nobody01"),
                                       String(C.V_AUTH_TEXT, b"\xff\xfe")], "malformed"),
                (C.GUESS_SEND_MESSAGE, [String(C.V_NAME, b"nobody01"),
                                        Blob(C.GUESS_M_BODY, b"hi")], "unknown_user"),
                (C.GUESS_SEND_MESSAGE, [String(C.V_NAME, b"alice01")], "malformed"),
                (C.GUESS_SET_STATUS, [Int(C.V_STATUS, 99)], "malformed"),
                (C.GUESS_SET_STATUS, [Int(C.V_STATUS, 2),
                                      String(C.V_MOOD, b"m" * 201)], "too_large"),
                (C.GUESS_SEARCH, [String(C.GUESS_Q_TEXT, b"")], "malformed"),
                (C.GUESS_SEARCH, [String(C.GUESS_Q_TEXT, b"abc"),
                                  Int(C.GUESS_Q_MODE, 9)], "malformed"),
                (C.GUESS_UNBLOCK, [String(C.V_NAME, b"bobby001")], "not_in_list"),
                (C.GUESS_ACK_INBOX, [], "malformed"),
                (C.GUESS_UPDATE_CONTACT, [String(C.V_NAME, b"bobby001"),
                                          String(C.GUESS_V_DISPLAY_NAME, b"d" * 201)],
                 "too_large")):
            with self.assertRaises(EventRefused) as ctx:
                yield a.call(code, items)
            self.assertEqual(ctx.exception.reason, reason, (code, items))
        self.assertEqual([e for e in (yield a.contacts()) if e.key.startswith("u/")], [])
        # A malformed 6024 (a request real clients send) closes instead.
        with self.assertRaises(EventClientError):
            yield a.call(C.ENTRY_FETCH, [])
        yield a.protocol.lost

    @defer.inlineCallbacks
    def test_message_too_large(self):
        yield self.account("alice01")
        yield self.account("bobby01")
        self.factory.max_record = 20000
        a = yield self.connect("6.16.0.105", "alice01")
        with self.assertRaises(EventRefused) as ctx:
            yield a.send("bobby01", "x" * (EventHandlers.MAX_MESSAGE_BYTES + 1))
        self.assertEqual(ctx.exception.reason, "too_large")
        counts = yield self.store.messages.counts("bobby01")
        self.assertEqual(counts.count, 0)

    @defer.inlineCallbacks
    def test_garbage_request(self):
        yield self.account("alice01")
        a = yield self.connect("6.16.0.105", "alice01")
        data = a.core.send_plaintext(b"\x41\x01\x00\x99")
        a.protocol.transport.write(data)
        waiter = defer.Deferred()
        a.protocol.waiters[0] = (waiter, reactor.callLater(10, lambda: None))
        waiter.addErrback(lambda f: f.trap(EventClientError))
        yield a.protocol.lost
        self.assertEqual(a.protocol.pushes, [])
        # The server goes on serving.
        b = yield self.connect("6.16.0.105", "alice01")
        _h, seq, _r, _f = yield b.handles()
        self.assertEqual(seq, 0)

    @defer.inlineCallbacks
    def test_oversized_record_closes(self):
        yield self.account("alice01")
        a = yield self.connect("6.16.0.105", "alice01")
        a.protocol.call(C.GUESS_SEND_MESSAGE, [String(C.V_NAME, b"alice01"),
                                               Blob(C.GUESS_M_BODY, b"x" * 3000)]
                        ).addErrback(lambda f: f.trap(EventClientError))
        yield a.protocol.lost

    @defer.inlineCallbacks
    def test_request_flood_closes(self):
        yield self.account("alice01")
        a = yield self.connect("6.16.0.105", "alice01")
        data = b"".join(a.core.request(C.ENTRY_HANDLES)[1] for _ in range(200))
        proto = self.factory.built[-1]
        # All 200 in one read (the kernel may split a real write): more than
        # max_pending waiting closes the connection.
        proto.dataReceived(data)
        yield a.protocol.lost
        self.assertLessEqual(proto.requests, 41)

    @defer.inlineCallbacks
    def test_backpressure_below_the_limit(self):
        """30 requests in one write (more than pause_at): all answered in order."""
        yield self.account("alice01")
        a = yield self.connect("6.16.0.105", "alice01")
        ds = [a.handles() for _ in range(30)]
        results = yield defer.gatherResults(ds)
        self.assertEqual(len(results), 30)
        self.assertEqual(a.core.server_seqs, list(range(31)))

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.binary(max_size=120), max_size=6))
    def test_random_plaintexts_are_refused_cleanly(self, plaintexts):
        """Random request plaintexts through a keyed protocol: refusals,
        never an unhandled error (trial fails a test that logs one)."""
        service = _fake_service({"alice01": cred("alice01")}, [1, 2])
        key = bytes(range(32))
        proto, transport = _keyed_protocol(service, key)
        tx = RecordCipher(key, 0)
        for p in plaintexts:
            proto.dataReceived(tx.seal(p))
        for _seq, rec in _server_records(transport.value(), key):
            self.assertNotEqual(rec.code, C.RESULT_OK)


class ContactAndMessageTests(EventServerMixin, TestCase):
    timeout = 90
    store_kw = {"message_limits": MessageLimits(max_count=3, max_fetch=2)}

    @defer.inlineCallbacks
    def test_authorization_flow(self):
        for n in ("alice01", "bobby01"):
            yield self.account(n)
        a = yield self.connect("5.9.66.114", "alice01")
        b = yield self.connect("3.8.0.188", "bobby01")
        entry = yield a.add_contact("bobby01", "it's me", certificate=b"A" * 392)
        self.assertEqual(entry.state, "pending_out")
        inbox_push = yield b.protocol.wait_push(lambda r: r.push_code == C.GUESS_PUSH_INBOX)
        self.assertEqual(inbox_push.body.value(C.GUESS_I_PENDING, Int), 1)
        (req,) = yield b.inbox()
        self.assertEqual((req.sender, req.kind, req.text), ("alice01", "auth_request", "it's me"))
        (pending,) = yield b.contacts()
        self.assertEqual((pending.name, pending.state, pending.certificate),
                         ("alice01", "pending_in", b"A" * 392))
        accepted = yield b.accept("alice01", certificate=b"B" * 392)
        self.assertEqual(accepted.state, "authorized")
        (mine,) = yield a.contacts()
        self.assertEqual((mine.state, mine.certificate), ("authorized", b"B" * 392))
        presence = yield a.presence()
        self.assertTrue(presence["bobby01"].online)
        yield a.wait_presence("bobby01", True)
        yield b.wait_presence("alice01", True)
        (reply,) = yield a.inbox()
        self.assertEqual((reply.kind, reply.body), ("auth_reply", b"accepted"))
        updated = yield a.update("bobby01", display_name="Bob", group_id=2, group_name="work")
        self.assertEqual((updated.display_name, updated.group_id, updated.group_name),
                         ("Bob", 2, "work"))
        blocked = yield a.block("bobby01")
        self.assertEqual(blocked.state, "blocked")
        yield b.wait_presence("alice01", False)
        seq, status = yield b.send("alice01", "hello?")
        # The same answer as a stored message: bob must not learn of the block.
        self.assertEqual((seq, status), (1, C.STATUS_OFFLINE))
        self.assertEqual((yield a.inbox()), [])
        yield a.unblock("bobby01")
        self.assertEqual((yield a.contacts()), [])
        yield b.remove("alice01")
        yield a.add_contact("bobby01")
        yield b.deny("alice01", block=True)
        (denied,) = yield b.contacts()
        self.assertEqual(denied.state, "blocked")

    @defer.inlineCallbacks
    def test_offline_messages_in_order_exactly_once(self):
        for n in ("alice01", "bobby01"):
            yield self.account(n)
        a = yield self.connect("6.16.0.105", "alice01")
        for text in ("one", "two", "three"):
            yield a.send("bobby01", text)
        with self.assertRaises(EventRefused) as ctx:
            yield a.send("bobby01", "four")
        self.assertEqual(ctx.exception.reason, "quota_exceeded")
        b = yield self.connect("4.2.0.187", "bobby01")
        # A client that never acknowledges gets the same messages again.
        first, more = yield b.fetch_inbox()
        self.assertEqual(([m.text for m in first], more), (["one", "two"], True))
        again, _ = yield b.fetch_inbox()
        self.assertEqual([m.seq for m in again], [m.seq for m in first])
        yield b.close()
        b = yield self.connect("4.2.0.187", "bobby01")
        self.assertEqual((yield b.start()), 3)
        got = yield b.inbox()
        self.assertEqual([m.text for m in got], ["one", "two", "three"])
        self.assertEqual([m.seq for m in got], sorted(m.seq for m in got))
        self.assertEqual((yield b.inbox()), [])
        self.assertEqual((yield b.ack(10 ** 6)), 0)
        seq, _ = yield a.send("bobby01", "four")
        self.assertEqual(seq, 4)

    @defer.inlineCallbacks
    def test_search(self):
        yield self.account("alice01")
        yield self.account("bobby01", full_name="Bob B")
        yield self.account("bobby02")
        a = yield self.connect("6.16.0.105", "alice01")
        yield self.connect("6.16.0.105", "bobby02")
        hits = yield a.search("BOB")
        self.assertEqual([(x.name, x.full_name, x.status) for x in hits],
                         [("bobby01", "Bob B", C.STATUS_OFFLINE),
                          ("bobby02", None, C.STATUS_ONLINE)])
        self.assertEqual([x.name for x in (yield a.search("bobby01", "exact"))], ["bobby01"])
        self.assertEqual([x.name for x in (yield a.search("by0", "substring"))],
                         ["bobby01", "bobby02"])

    @defer.inlineCallbacks
    def test_status_and_mood(self):
        for n in ("alice01", "bobby01"):
            yield self.account(n)
        a = yield self.connect("6.16.0.105", "alice01")
        b = yield self.connect("6.16.0.105", "bobby01")
        yield a.add_contact("bobby01")
        yield b.accept("alice01")
        yield b.set_status(C.STATUS_AWAY, "lunch")
        state = yield a.wait_presence("bobby01", status=C.STATUS_AWAY)
        last = [s for s in a.presence_pushes() if s.name == "bobby01"][-1]
        self.assertEqual((last.status, last.mood), (C.STATUS_AWAY, "lunch"))
        self.assertTrue(state.is_push)
        entries = yield b.entries()
        self.assertIn(("p/mood", b"lunch"), [(e.key, e.raw) for e in entries])
        yield b.set_status(C.STATUS_INVISIBLE)
        yield a.wait_presence("bobby01", False)
        self.assertFalse((yield a.presence())["bobby01"].online)
        yield b.set_status(C.STATUS_ONLINE, "")
        yield a.wait_presence("bobby01", status=C.STATUS_ONLINE, after=last)
        last = [s for s in a.presence_pushes() if s.name == "bobby01"][-1]
        self.assertEqual((last.status, last.mood), (C.STATUS_ONLINE, None))
        yield b.close()
        yield a.wait_presence("bobby01", False)


class ListLimitTests(EventServerMixin, TestCase):
    timeout = 60
    store_kw = {"contact_limits": ContactLimits(max_contacts=2)}

    @defer.inlineCallbacks
    def test_full_list_refused_and_nothing_written(self):
        for n in ("alice01", "bobby01", "carol01", "dave001"):
            yield self.account(n)
        a = yield self.connect("6.16.0.105", "alice01")
        yield a.add_contact("bobby01")
        yield a.add_contact("carol01")
        with self.assertRaises(EventRefused) as ctx:
            yield a.add_contact("dave001", "hi")
        self.assertEqual(ctx.exception.reason, "list_full")
        self.assertEqual(sorted(e.name for e in (yield a.contacts())), ["bobby01", "carol01"])
        d = yield self.connect("6.16.0.105", "dave001")
        self.assertEqual(((yield d.contacts()), (yield d.inbox())), ([], []))


# -- broadcasts ---------------------------------------------------------------------------

class BroadcasterTests(TestCase):
    def make(self, watchers, **kw):
        clock = task.Clock()
        presence = Presence(clock)
        delivered = []

        def deliver(watcher, state):
            delivered.append((watcher, state))
            return 1
        kw.setdefault("delay", 0.5)
        kw.setdefault("min_interval", 2.0)
        b = Broadcaster(presence, lambda name: defer.succeed(watchers.get(name, [])),
                        deliver, clock, **kw)
        presence.on_change = b.changed
        return clock, presence, b, delivered

    def test_flapping_is_coalesced(self):
        watchers = {"bobby01": ["w%04d" % i for i in range(100)]}
        clock, presence, b, delivered = self.make(watchers)
        for w in watchers["bobby01"]:
            presence.anchor(w, "x")
        clock.advance(1)
        self.assertEqual(delivered, [])     # their own broadcasts reach nobody
        presence.anchor("bobby01", "s")
        for i in range(1000):
            presence.set_status("bobby01", C.STATUS_AWAY if i % 2 else C.STATUS_ONLINE)
        self.assertEqual(len(b), 1)
        clock.advance(0.5)
        self.assertEqual(len(delivered), 100)
        for i in range(1000):
            presence.set_status("bobby01", C.STATUS_AWAY if i % 2 == 0 else C.STATUS_DND)
        clock.advance(0.5)
        self.assertEqual(len(delivered), 100)    # min_interval not over yet
        clock.advance(1.5)
        self.assertEqual(len(delivered), 200)
        self.assertEqual({s.status for _w, s in delivered[100:]}, {C.STATUS_DND})
        self.assertGreaterEqual(b.stats.coalesced, 1990)
        # A sign-out and sign-in within the delay says nothing.
        clock.advance(5)
        presence.release("bobby01", "s")
        presence.anchor("bobby01", "s2")
        presence.set_status("bobby01", C.STATUS_DND)
        clock.advance(5)
        self.assertEqual(len(delivered), 200)
        self.assertEqual(b.stats.unchanged, 1)

    def test_told_then_back_to_the_last_broadcast_state(self):
        # The case of two workers: bob's last broadcast here was "offline";
        # alice is then told "online" directly (a new authorisation), and
        # bob goes offline again before the next broadcast is due.  The
        # broadcast must not be skipped as unchanged: alice saw "online".
        # (All within one second: the offline states carry the same
        # last-online time, so they compare equal.)
        clock, presence, b, delivered = self.make({"bobby01": ["alice01"]}, delay=0.1,
                                                  min_interval=0.1)
        presence.anchor("alice01", "x")
        presence.anchor("bobby01", "s")
        clock.advance(0.2)
        presence.release("bobby01", "s")
        clock.advance(0.2)
        self.assertEqual([s.online for _w, s in delivered], [True, False])
        presence.anchor("bobby01", "s2")
        self.assertEqual(self.successResultOf(b.tell("alice01", "bobby01")), 1)
        self.assertTrue(delivered[-1][1].online)
        presence.release("bobby01", "s2")
        clock.advance(0.2)
        self.assertEqual(len(delivered), 4)
        self.assertFalse(delivered[-1][1].online)
        self.assertEqual(delivered[-1][1], delivered[1][1])

    def test_bounds(self):
        watchers = {"u%05d" % i: ["w1"] for i in range(50)}
        watchers["big"] = ["w%05d" % i for i in range(30)]
        clock, presence, b, delivered = self.make(watchers, max_pending=10, max_fanout=20)
        presence.anchor("w1", "x")
        for i in range(30):
            presence.anchor("w%05d" % i, "x")
        for name in list(watchers)[:50]:
            presence.anchor(name, "x")
        self.assertEqual(len(b), 10)
        self.assertEqual(b.stats.dropped, 1 + 30 + 50 - 10)
        clock.advance(1)
        presence.anchor("big", "x")
        clock.advance(1)
        self.assertEqual(b.stats.last_fanout, 20)
        self.assertEqual(b.stats.truncated, 1)
        b.stop()
        presence.anchor("late01", "x")
        self.assertEqual(len(b), 0)

    def test_offline_watchers_get_nothing(self):
        clock, presence, b, delivered = self.make({"bobby01": ["alice01", "carol01"]})
        presence.anchor("alice01", "x")
        presence.anchor("bobby01", "s")
        clock.advance(1)
        self.assertEqual([w for w, _s in delivered], ["alice01"])

    def test_directory_hook(self):
        presence = Presence(task.Clock())
        changes = []
        presence.on_change = changes.append
        d = AnchoringDirectory(MemoryDirectory(), presence)
        d.register(OnlineEntry("s1", public_addr=("1.2.3.4", 5)))
        self.assertEqual(changes, [])
        d.update("s1", user_name="Alice01")
        self.assertTrue(presence.connected("alice01"))
        d.register(OnlineEntry("s2", user_name="alice01"))
        d.remove("s1")
        self.assertTrue(presence.connected("alice01"))
        d.remove_stale(10 ** 9)
        self.assertFalse(presence.connected("alice01"))
        self.assertEqual(changes, ["alice01", "alice01"])
        self.assertEqual(self.successResultOf(d.count()), 0)


class SOS2ExpectationTests(EventServerMixin, TestCase):
    """What the independent 5.5-derived client (SOS2 skycontact3) needs,
    followed step by step: it waits for a reply carrying BLOB 0x35 or INT 1 =
    8401, requests every handle but the last with 6024, and waits for one
    reply with STRING 0x34 per request.  Any other refusal code, or fewer
    than two handles, leaves it waiting for ever (ERRATA)."""

    @defer.inlineCallbacks
    def sos2_sync(self, session):
        handles, _seq, _r, _f = yield session.handles()
        self.assertGreaterEqual(len(handles), 2)
        names = []
        for handle in handles[:-1]:
            record = yield session.protocol.call(C.ENTRY_FETCH, [Int(C.I_HANDLE, handle)]
                                                 + list(session.core.host_id_items()))
            self.assertEqual(record.code, C.RESULT_OK)
            names.append(record.body.value(C.I_KEY, String))
        self.assertNotIn(None, names)
        return names

    @defer.inlineCallbacks
    def test_empty_contact_list_does_not_leave_it_waiting(self):
        yield self.account("lonely01")
        session = yield self.connect("6.16.0.105", "lonely01")
        names = yield self.sos2_sync(session)
        self.assertEqual(names, [b"p/email"])

    @defer.inlineCallbacks
    def test_one_contact(self):
        yield self.account("alice01")
        yield self.account("bobby01")
        bob = yield self.connect("6.16.0.105", "bobby01")
        yield bob.add_contact("alice01")
        names = yield self.sos2_sync(bob)
        self.assertEqual(names, [b"u/alice01"])

    @defer.inlineCallbacks
    def test_wrong_password_is_8401(self):
        yield self.account("alice01")
        session = yield self.connect("6.16.0.105", "alice01", "wrong", start=False)
        record = yield session.protocol.call(C.ENTRY_HANDLES, session.core.host_id_items())
        self.assertEqual(record.code, 0x20D1)

    def test_refusal_policy(self):
        handlers = EventHandlers()
        for code in C.KNOWN_REQUESTS:
            self.assertEqual(handlers.refusal_answer(code, "auth_failed"), "auth_failed")
            for reason in ("rate_limited", "malformed", "not_in_list", "server_error", "busy"):
                self.assertIsNone(handlers.refusal_answer(code, reason), (code, reason))
        self.assertIsNone(handlers.refusal_answer(None, "malformed"))
        self.assertEqual(handlers.refusal_answer(C.GUESS_ADD_CONTACT, "unknown_user"),
                         "unknown_user")


class RealTransportTests(EventServerMixin, TestCase):
    """The plain transport as the real 2015 client ran it (ERRATA): two
    hellos, each answered; TCP_NODELAY on the accepted connection."""

    @defer.inlineCallbacks
    def test_two_hellos(self):
        yield self.account("alice01")
        core = self.core("4.2.0.187", "alice01")
        core.hellos = 2
        session = yield connect_event(reactor, LOOPBACK, self.portnum, core)
        self.addCleanup(session.close)
        yield session.start()
        self.assertEqual(self.factory.built[-1].hellos, 2)
        self.assertEqual(self.factory.built[-1].users, {"alice01"})

    def test_no_delay_on_accept(self):
        from tests.supernode_helpers import WriteLog, _Addr

        proto = self.factory.buildProtocol(None)
        transport = WriteLog(peerAddress=_Addr("127.0.0.1", 4000))
        proto.makeConnection(transport)
        self.assertTrue(transport.no_delay)
        proto.connectionLost(None)


class CounterWrapConnectionTests(TestCase):
    def test_connection_closes_instead_of_wrapping(self):
        from blissnode.wire.server_transport import MAX_RECORDS
        proto, transport = _keyed_protocol(_fake_service({}, []), bytes(range(32)))
        proto.session._tx.seq = MAX_RECORDS - 1
        self.assertTrue(proto.push(b"\x41\x00"))
        self.assertFalse(proto.push(b"\x41\x00"))
        self.assertTrue(transport.disconnecting)


class ClassicReplayTests(TestCase):
    """Issue 17.4: a recorded classic event session sent again is closed
    without an answer (the recipient would get the message again, and the
    reply, sealed with the recorded keystream, would give the old one away)."""

    def run_connection(self, factory, core=None, stream=None):
        from twisted.internet.address import IPv4Address
        peer = IPv4Address("TCP", "203.0.113.8", 4000)
        proto = factory.buildProtocol(peer)
        transport = StringTransport(peerAddress=peer)
        proto.makeConnection(transport)
        if stream is not None:
            proto.dataReceived(stream)
            return proto, transport, None
        sent = [core.start()]
        _rid, first = core.request(C.ENTRY_HANDLES)
        sent.append(first or b"")
        proto.dataReceived(b"".join(sent))
        for _ in range(10):
            data = transport.value()
            transport.clear()
            if not data:
                break
            out = core.receive(data)
            if out:
                sent.append(out)
                proto.dataReceived(out)
        return proto, transport, b"".join(sent)

    def test_replayed_session_not_answered(self):
        from tests.event_helpers import EventClientCore
        service = _fake_service({"alice01": cred("alice01")}, [1, 2])
        factory = EventServerFactory(KEYS, service, clock=task.Clock())
        core = EventClientCore("4.1.0.130", "alice01", cred("alice01"), KEYS.login.private.n)
        _proto, _t, stream = self.run_connection(factory, core)
        self.assertEqual(len(core.take_records()), 1)  # the original was answered
        checks = len(service.accounts.checks)
        proto, transport, _ = self.run_connection(factory, stream=stream)
        self.assertEqual(transport.value().replace(b"\x17\x03\x01\x00\x00", b""), b"")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(len(service.accounts.checks), checks)  # nothing was executed
        self.assertEqual(proto.requests, 0)


class UnreadOutputTests(TestCase):
    def test_client_that_never_reads_is_closed(self):
        # Issue 17.3: pushes to a client that never reads used to pile up.
        service = _fake_service({}, [])
        factory = EventServerFactory(KEYS, service, clock=task.Clock(), max_unsent=10000)
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        proto.session.keyed(bytes(range(32)))
        transport.producer.pauseProducing()  # what the transport does when its buffer is full
        self.assertEqual(transport.producerState, "paused")  # reading paused too
        sent = 0
        while proto.push(b"\x41\x01" + b"\x00" * 1000):
            sent += 1
            self.assertLess(sent, 100)
        self.assertTrue(transport.disconnecting)
        self.assertLessEqual(sent, 11)
