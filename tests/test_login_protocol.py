"""The login server (blissnode.login.protocol) driven over loopback by the
reference client (blissnode.client.login) for every supported version, and
the login_exchange vectors of login.json replayed byte for byte."""

import os
import stat

import attr
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings, strategies as st
from twisted.internet import defer, reactor, task
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from blissnode.client.login import (
    LOGIN_PROFILES,
    TRANSPORT_CLASSIC,
    TRANSPORT_DH384,
    LoginClientCore,
    LoginClientError,
    login,
    login_profile,
)
from blissnode.keys import CREDENTIAL_KEY_FILE, LOGIN_KEY_FILE, ServerKey, ServerKeys
from blissnode.auth.cred import make_portal
from blissnode.login.handlers import (
    LoginHandlers,
)
from blissnode.login.interfaces import ILoginHandlers
from blissnode.login.protocol import MAX_HELLOS, LoginServerFactory
from blissnode.login.protocol import log as login_log
from blissnode.logthrottle import LogThrottle
from blissnode.auth.limiter import FailedLoginLimiter, Limit
from blissnode.store.errors import AccountExists, UnknownAccount, WrongCredential
from blissnode.store.hashing import ScryptParams
from blissnode.store.interfaces import IAccountStore
from blissnode.store.sqlite import StoreService, database_path
from blissnode.versions.registry import VersionRegistry
from blissnode.wire import dh384, objects
from blissnode.wire.credentials import md5_credential
from blissnode.login.codes import REFUSAL_CODES
from blissnode.versions.v4_1_0_130 import LoginHandlers as LoginHandlers4x
from blissnode.versions.v5_5_0_124 import LoginHandlers as LoginHandlers55
from blissnode.wire.login_messages import (
    RESULT_AUTH_FAILED,
    RESULT_OK,
    success_body_4x,
    success_body_6x,
)
from blissnode.wire.rsa_raw import RsaPrivate
from blissnode.wire.server_transport import (
    CLIENT_HELLO,
    SERVER_HELLO,
    RecordCipher,
    ServerRecordParser,
    key_exchange_record,
    seal_server_record,
)
from tests.vectors import cases, load_vectors

FAST = ScryptParams(n=2 ** 4, r=8, p=1)
VERSIONS = ["1.4.0.84", "2.5.0.151", "3.8.0.188", "4.1.0.130", "4.2.0.187",
            "5.5.0.124", "5.9.66.114", "6.16.0.105"]
DH_VERSIONS = {"5.5.0.124", "5.9.66.114", "6.16.0.105"}


def h(text):
    return bytes.fromhex(text)


def _private(k):
    return RsaPrivate.from_primes(int(k["p"], 16), int(k["q"], 16))


def vector_keys():
    tk = load_vectors("login.json")["test_keys"]
    return ServerKeys(ServerKey("login", None, _private(tk["server_login"])),
                      ServerKey("credential", None, _private(tk["cred"])))


def vector_user_keys():
    out = []
    for k in load_vectors("login.json")["test_keys"]["users"]:
        p, q, e = int(k["p"], 16), int(k["q"], 16), int(k["e"])
        d = pow(e, -1, (p - 1) * (q - 1))
        numbers = rsa.RSAPrivateNumbers(
            p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q))
        out.append(numbers.private_key())
    return out


KEYS = vector_keys()
USER_KEYS = vector_user_keys()


class RecordingFactory(LoginServerFactory):
    """Keeps every protocol it builds (to look at results and states)."""

    def buildProtocol(self, addr):
        p = LoginServerFactory.buildProtocol(self, addr)
        self.__dict__.setdefault("built", []).append(p)
        return p


class Collect(Protocol):
    """A raw client: sends ``data`` on connect, collects everything until closed."""

    def __init__(self, data, close_after=False):
        self.data = data
        self.close_after = close_after
        self.received = b""
        self.closed = defer.Deferred()

    def connectionMade(self):
        if self.data:
            self.transport.write(self.data)
        if self.close_after:
            self.transport.loseConnection()

    def dataReceived(self, data):
        self.received += data

    def connectionLost(self, reason):
        self.closed.callback(self.received)


# -- an in-memory store for the vector replays (names the real store refuses) --

@attr.s
class _Account:
    name = attr.ib()


@implementer(IAccountStore)
class MemoryStore:
    """Synchronous IAccountStore over a dict; counts checks."""

    def __init__(self):
        self.users = {}
        self.checks = []

    def create_account(self, name, credential16, email=None, full_name=None):
        if name in self.users:
            return defer.fail(AccountExists(name))
        self.users[name] = bytes(credential16)
        return defer.succeed(_Account(name))

    def get_account(self, name):
        return defer.succeed(_Account(name) if name in self.users else None)

    def check_credential(self, name, credential16):
        self.checks.append(name)
        if name not in self.users:
            return defer.fail(UnknownAccount(name))
        if self.users[name] != bytes(credential16):
            return defer.fail(WrongCredential(name))
        return defer.succeed(_Account(name))

    def set_credential(self, name, credential16):
        raise NotImplementedError

    def delete_account(self, name):
        raise NotImplementedError

    def list_accounts(self):
        return defer.succeed(sorted(self.users))


class HandlerTests(TestCase):
    def test_interface(self):
        for cls in (LoginHandlers, LoginHandlers4x, LoginHandlers55):
            self.assertTrue(verifyObject(ILoginHandlers, cls()))

    def test_generations(self):
        """Every version's login handlers come from its version module (or
        the nearest older one that defines the role)."""
        registry = VersionRegistry.from_plugins()
        for label in VERSIONS:
            version = registry.get(label)
            cls = registry.handlers(version, "login")
            credential = b"c" * 260
            items = cls().success_body(credential, 99)
            if version.number >= (5, 5):
                self.assertIs(cls, LoginHandlers55, label)
                self.assertEqual(items, success_body_6x(credential), label)
            elif version.number >= (4, 0):
                self.assertIs(cls, LoginHandlers4x, label)
                self.assertEqual(items, success_body_4x(credential, 99), label)
            else:
                self.assertIs(cls, LoginHandlers, label)

    def test_credential_times(self):
        self.assertEqual(LoginHandlers().credential_times(28000000), (28043200, 28525600))
        self.assertEqual(LoginHandlers4x().credential_validity(1, 2), {9: 1})
        self.assertEqual(LoginHandlers55().credential_validity(1, 2), {9: 2})

    def test_registry_versions_resolve(self):
        """Every supported version gets handlers of its generation, through
        the installed version plugins."""
        registry = VersionRegistry.from_plugins()
        factory = LoginServerFactory(KEYS, None, None, registry=registry)
        for label in VERSIONS:
            version = registry.get(label)
            handlers, _label = factory.handlers_for("0/%s//" % label, 5017)
            self.assertIsInstance(handlers, registry.handlers(version, "login"), label)

    def test_without_a_version_string_the_policy_decides(self):
        registry = VersionRegistry.from_plugins()
        factory = LoginServerFactory(KEYS, None, None, registry=registry)
        self.assertEqual(factory.handlers_for(None, 5027)[1], "5.5.0.124")
        self.assertEqual(factory.handlers_for(None, 5017)[1], "4.1.0.130")

    def test_without_plugins_the_base_handlers_serve(self):
        factory = LoginServerFactory(KEYS, None, None)
        handlers, label = factory.handlers_for("0/6.16.0.105//", 5027)
        self.assertIs(type(handlers), LoginHandlers)


class VectorReplayTests(TestCase):
    """login.json login_exchange: the client's byte stream into the server
    must give exactly the server's byte stream (clock and DH value injected)."""

    def make_store(self):
        store = MemoryStore()
        for case in cases("login.json", "login_exchange"):
            ok = case["reply_header"][0]["value"] == RESULT_OK
            if ok:
                store.users[case["user"]] = md5_credential(case["user"], case["password"])
        return store

    def replay(self, case, store, chunk):
        clock = task.Clock()
        clock.advance(case["issue_time_minutes"] * 60 + 59)
        keypair = dh384.KeyPair(int(case["dh_b"], 16)) if "dh_b" in case else None
        factory = LoginServerFactory(
            KEYS, make_portal(store), store, registry=VersionRegistry.from_plugins(),
            clock=clock, new_dh_keypair=lambda: keypair,
            dh_filler=lambda: h(case.get("filler_server", "")))
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        stream = h(case["client_stream"])
        for i in range(0, len(stream), chunk):
            proto.dataReceived(stream[i : i + chunk])
        return proto, transport

    def test_every_vector(self):
        store = self.make_store()
        all_cases = cases("login.json", "login_exchange")
        self.assertEqual(len(all_cases), 7)
        for case in all_cases:
            for chunk in (1, 37, 100000):
                proto, transport = self.replay(case, store, chunk)
                self.assertEqual(transport.value(), h(case["server_stream"]),
                                 (case["variant"], case["user"], chunk))
                self.assertFalse(transport.disconnecting, case["user"])
                expect_ok = case["expect"]["result_code"] == RESULT_OK
                self.assertEqual(proto.result == "ok", expect_ok, case["user"])


class LoopbackMixin(object):
    """A real login server on 127.0.0.1 over a real SQLite store."""

    registration_open = True
    limiter = None

    @defer.inlineCallbacks
    def setUp(self):
        directory = self.mktemp()
        os.makedirs(directory)
        self.store_service = StoreService(database_path(directory), params=FAST)
        self.store_service.startService()
        self.addCleanup(self.store_service.stopService)
        self.store = self.store_service.accounts
        self.factory = self.make_factory()
        self.port = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.portnum = self.port.getHost().port
        yield self.store_service.ready

    def make_factory(self, **kw):
        kw.setdefault("registration_open", self.registration_open)
        if self.limiter is not None:
            kw.setdefault("limiter", self.limiter)
        return RecordingFactory(KEYS, make_portal(self.store), self.store,
                                registry=VersionRegistry.from_plugins(), **kw)

    def core(self, version, name, password, **kw):
        kw.setdefault("user_key", USER_KEYS[0])
        return LoginClientCore(version, name, password, login_modulus=KEYS.login.private.n,
                               credential_modulus=KEYS.credential.private.n, **kw)

    def login(self, version, name, password, **kw):
        return login(reactor, "127.0.0.1", self.portnum, self.core(version, name, password, **kw),
                     timeout=20)

    def raw(self, data, close_after=False):
        proto = Collect(data, close_after)
        f = ClientFactory()
        f.protocol = lambda: proto
        reactor.connectTCP("127.0.0.1", self.portnum, f)
        return proto.closed

    @defer.inlineCallbacks
    def raw_until_reply(self, data):
        proto = Collect(data)
        f = ClientFactory()
        f.protocol = lambda: proto
        reactor.connectTCP("127.0.0.1", self.portnum, f)
        while len(proto.received) < 5 + 5 + 2:
            yield task.deferLater(reactor, 0.02, lambda: None)
        while len(proto.received) < 10 + int.from_bytes(proto.received[8:10], "big"):
            yield task.deferLater(reactor, 0.02, lambda: None)
        proto.transport.loseConnection()
        yield proto.closed
        return proto.received

    @defer.inlineCallbacks
    def no_connections_left(self):
        """The server has seen every connection close (within a second)."""
        for _ in range(100):
            if self.factory.connections == 0:
                break
            yield task.deferLater(reactor, 0.01, lambda: None)
        self.assertEqual(self.factory.connections, 0)

    def user_name(self, version, prefix="user"):
        return "%s%s" % (prefix, version.replace(".", "_"))


class LoginTests(LoopbackMixin, TestCase):
    @defer.inlineCallbacks
    def test_success_every_version(self):
        for i, version in enumerate(VERSIONS):
            name = self.user_name(version)
            yield self.store.create_account(name, md5_credential(name, "pw-%d" % i))
            # The server's clock is the factory's (here the reactor): read it,
            # not the wall clock, to bound the credential's issue minute.
            before = int(self.factory.clock.seconds() // 60)
            result = yield self.login(version, name, "pw-%d" % i, user_key=USER_KEYS[i % 4])
            after = int(self.factory.clock.seconds() // 60)
            self.assertTrue(result.ok, (version, result))
            cred = result.credential
            self.assertEqual(cred.name, name, version)
            self.assertEqual(cred.key_id, 1, version)
            self.assertEqual(cred.user_modulus, USER_KEYS[i % 4].public_key().public_numbers()
                             .n.to_bytes(128, "big"), version)
            self.assertTrue(before + 43200 <= cred.expiry <= after + 43200, version)
            server = self.factory.built[-1]
            self.assertEqual(server.result, "ok", version)
            expected_transport = TRANSPORT_DH384 if version in DH_VERSIONS else TRANSPORT_CLASSIC
            self.assertEqual(server.transport_kind, expected_transport, version)
            if version in DH_VERSIONS:  # 6.x style: the year inside the credential
                self.assertIsNone(result.year, version)
                self.assertEqual(cred.valid_until(), cred.expiry - 43200 + 525600, version)
                self.assertEqual(result.reply.body.value(0x3A, objects.Int), 2)
            else:  # 4.x style: LIST 2 repeats INT 4, the year in reply LIST 0x32
                self.assertEqual(cred.valid_until(), cred.expiry, version)
                self.assertEqual(result.year, cred.expiry - 43200 + 525600, version)

    @defer.inlineCallbacks
    def test_name_case_insensitive(self):
        yield self.store.create_account("CaseUser", md5_credential("caseuser", "pw"))
        result = yield self.login("6.16.0.105", "caseuser", "pw")
        self.assertTrue(result.ok)
        self.assertEqual(result.credential.name, "caseuser")

    @defer.inlineCallbacks
    def test_wrong_password_and_unknown_user_every_version(self):
        for version in VERSIONS:
            name = self.user_name(version)
            yield self.store.create_account(name, md5_credential(name, "right"))
            wrong = yield self.login(version, name, "wrong")
            unknown = yield self.login(version, self.user_name(version, "nobody"), "right")
            for result in (wrong, unknown):
                self.assertFalse(result.ok, version)
                self.assertEqual(result.code, RESULT_AUTH_FAILED, version)
                self.assertEqual(result.seq, 1, version)
                self.assertIsNone(result.credential_raw, version)
            # No user enumeration: both replies are the same bytes.
            self.assertEqual(wrong.reply, unknown.reply, version)
            self.assertEqual(self.factory.built[-2].result, "wrong_password")
            self.assertEqual(self.factory.built[-1].result, "unknown_user")

    @defer.inlineCallbacks
    def test_suspended_account_is_refused(self):
        yield self.store.create_account("suspended1", md5_credential("suspended1", "right"))
        yield self.store_service.run(
            lambda opened: opened.accounts.suspend_account("suspended1", reason="test"))
        for version in ("4.1.0.130", "6.16.0.105"):
            result = yield self.login(version, "suspended1", "right")
            self.assertFalse(result.ok, version)
            self.assertEqual(result.reason, "account_blocked", version)
            self.assertIsNone(result.credential_raw, version)
            # A wrong password still reads as a wrong password (no oracle).
            wrong = yield self.login(version, "suspended1", "wrong")
            self.assertEqual(wrong.code, RESULT_AUTH_FAILED, version)
        yield self.store_service.run(
            lambda opened: opened.accounts.unsuspend_account("suspended1"))
        result = yield self.login("6.16.0.105", "suspended1", "right")
        self.assertTrue(result.ok)

    @defer.inlineCallbacks
    def test_too_old_version(self):
        old = attr.evolve(LOGIN_PROFILES["1.4.0.84"], label="1.2.0.18",
                          version_string="2/1.2.0.18/")
        yield self.store.create_account("olduser", md5_credential("olduser", "pw"))
        result = yield self.login(old, "olduser", "pw")
        self.assertEqual(result.code, REFUSAL_CODES.version_too_old)
        self.assertEqual(result.reason, "version_too_old")

    @defer.inlineCallbacks
    def test_unlisted_newer_version_served_as_nearest_older(self):
        yield self.store.create_account("newuser", md5_credential("newuser", "pw"))
        result = yield self.login(login_profile("6.17.0.1"), "newuser", "pw")
        self.assertTrue(result.ok)
        self.assertIsNone(result.year)  # 6.x style

    def bad_blob_core(self, version):
        # The seed encrypted to another (1536-bit) modulus: noise after our decryption.
        other = USER_KEYS[1].public_key().public_numbers().n
        return LoginClientCore(version, "victim", "pw", login_modulus=(other << 512) | 1,
                               credential_modulus=KEYS.credential.private.n,
                               user_key=USER_KEYS[0])

    @defer.inlineCallbacks
    def test_wrong_rsa_blob_answered_like_wrong_password(self):
        yield self.store.create_account("victim", md5_credential("victim", "pw"))
        # Classic: compare the raw answers byte counts with a real wrong password.
        wrong_core = self.core("4.1.0.130", "victim", "bad")
        wrong_core.start()
        wrong_core.state = "sent"
        wrong = yield self.raw_until_reply(
            CLIENT_HELLO + wrong_core.key_exchange() + RecordCipher(wrong_core.key, 0).seal(wrong_core.request()))
        self.assertEqual(self.factory.built[-1].result, "wrong_password")
        bad_core = self.bad_blob_core("4.1.0.130")
        bad_core.start()
        bad_core.state = "sent"
        bad = yield self.raw_until_reply(
            CLIENT_HELLO + bad_core.key_exchange() + RecordCipher(bad_core.key, 0).seal(bad_core.request()))
        self.assertEqual(self.factory.built[-1].result, "wrong_password")
        self.assertEqual(len(bad), len(wrong))
        self.assertEqual(bad[:10], wrong[:10])  # hello + the same record header
        # Every version: the server answers (it does not close), as for a wrong password.
        for version in VERSIONS:
            n = len(self.factory.built)
            with self.assertRaises(LoginClientError):
                # The answer is under a key the client does not have.
                yield login(reactor, "127.0.0.1", self.portnum, self.bad_blob_core(version),
                            timeout=20)
            server = self.factory.built[n]
            self.assertEqual(server.result, "wrong_password", version)
            self.assertEqual(server.state, server.DONE, version)

    def test_wrong_rsa_blob_costs_a_credential_check(self):
        store = MemoryStore()
        factory = LoginServerFactory(KEYS, make_portal(store), store, clock=task.Clock())
        proto = factory.buildProtocol(None)
        t = StringTransport()
        proto.makeConnection(t)
        kx = key_exchange_record(objects.encode_objects(
            [objects.Blob(8, b"\x05" * 192), objects.Int(9, 8192), objects.Int(0xC, 1)]))
        request = seal_server_record(b"\x41\x00\x41\x00", b"\x00" * 32, 0, 0)
        proto.dataReceived(CLIENT_HELLO + kx + request)
        self.assertEqual(proto.result, "wrong_password")
        self.assertEqual(len(store.checks), 1)  # the dummy scrypt
        records = ServerRecordParser().feed(t.value()[len(SERVER_HELLO):])
        self.assertEqual(len(records), 1)
        self.assertEqual(len(records[0].payload), 11 + 2)
        # Counted as a failure of this address.
        self.assertLess(factory.limiter.addresses.tokens(t.getPeer().host), 20)
        self.assertFalse(t.disconnecting)


class SOS2ReplyTests(LoopbackMixin, TestCase):
    """SOS2 (skyauth3 skype_login.c) reads the reply with one recv() and
    treats any plaintext other than exactly 285 bytes as a failed login
    ("285 == successful login, returned credentials"); it knows only 8401
    as a refusal."""

    @defer.inlineCallbacks
    def test_6x_success_plaintext_is_285_bytes(self):
        for version in ("5.5.0.124", "5.9.66.114", "6.16.0.105"):
            name = self.user_name(version)
            yield self.store.create_account(name, md5_credential(name, "pw"))
            core = self.core(version, name, "pw")
            result = yield login(reactor, "127.0.0.1", self.portnum, core, timeout=20)
            self.assertTrue(result.ok, version)
            self.assertEqual(len(core.reply_plaintext), 285, version)

    @defer.inlineCallbacks
    def test_6x_wrong_password_is_8401(self):
        name = self.user_name("6.16.0.105")
        yield self.store.create_account(name, md5_credential(name, "pw"))
        core = self.core("6.16.0.105", name, "wrong")
        result = yield login(reactor, "127.0.0.1", self.portnum, core, timeout=20)
        self.assertEqual(result.code, 8401)
        self.assertNotEqual(len(core.reply_plaintext), 285)


class KeyExchangeExtrasTests(LoopbackMixin, TestCase):
    """ERRATA (7 real key exchanges, 2015): after BLOB 8, INT 9 and INT 0xC
    the client adds extra items with random ids and random types (STRING,
    INT, BLOB), not login.md 3's 0..2 BLOBs.  The server must ignore them."""

    @defer.inlineCallbacks
    def test_random_extras_of_every_type(self):
        import random

        rng = random.Random(2015)
        for version in ("4.2.0.187", "6.16.0.105"):
            for trial in range(4):
                name = "extras%d%s" % (trial, version.replace(".", "")[:4])
                yield self.store.create_account(name, md5_credential(name, "pw"))
                core = self.core(version, name, "pw")
                extras = []
                for _ in range(rng.randrange(1, 5)):
                    item_id = rng.randrange(0x10, 0x2000000)
                    kind = rng.choice(("string", "int", "blob"))
                    if kind == "string":
                        extras.append(objects.String(item_id, b"x" * rng.randrange(0, 20)))
                    elif kind == "int":
                        extras.append(objects.Int(item_id, rng.randrange(0, 2 ** 31)))
                    else:
                        extras.append(objects.Blob(item_id, bytes(rng.randrange(0, 20))))
                base = core.key_exchange_items
                core.key_exchange_items = lambda base=base, extras=extras: base() + extras
                result = yield login(reactor, "127.0.0.1", self.portnum, core, timeout=20)
                self.assertTrue(result.ok, (version, extras))


class TwoHelloTests(LoopbackMixin, TestCase):
    """ERRATA (7 of 7 real plain connections of 2015 past the first hello):
    the client sends ``16 03 01 00 00`` twice -- the second sometimes in the
    same segment as the key exchange -- and the server answers each with
    ``17 03 01 00 00``.  Taking the second hello for the key exchange (as
    blissnode did) aborted every such login."""

    @defer.inlineCallbacks
    def test_client_sending_two_hellos_signs_in(self):
        yield self.store.create_account("twohellos", md5_credential("twohellos", "pw"))
        core = self.core("4.2.0.187", "twohellos", "pw")
        core.hellos = 2
        result = yield login(reactor, "127.0.0.1", self.portnum, core, timeout=20)
        self.assertTrue(result.ok, result)
        self.assertEqual(self.factory.built[-1].result, "ok")
        self.assertEqual(self.factory.built[-1].hellos, 2)

    @defer.inlineCallbacks
    def test_second_hello_in_the_key_exchange_segment(self):
        # The real order: hello, hello + key exchange + request in one write.
        yield self.store.create_account("sameseg", md5_credential("sameseg", "pw"))
        core = self.core("4.2.0.187", "sameseg", "pw")
        first = core.start()
        self.assertEqual(first, CLIENT_HELLO)
        rest = core.receive(SERVER_HELLO)
        received = yield self.raw_until_hellos(first + CLIENT_HELLO + rest)
        self.assertEqual(received[:10], SERVER_HELLO + SERVER_HELLO)
        self.assertEqual(received[10:13], b"\x17\x03\x01")
        self.assertEqual(self.factory.built[-1].result, "ok")

    @defer.inlineCallbacks
    def raw_until_hellos(self, data):
        proto = Collect(data)
        f = ClientFactory()
        f.protocol = lambda: proto
        reactor.connectTCP("127.0.0.1", self.portnum, f)
        for _ in range(500):
            if len(proto.received) >= 15 and len(proto.received) >= 15 + int.from_bytes(
                    proto.received[13:15], "big"):
                break
            yield task.deferLater(reactor, 0.01, lambda: None)
        proto.transport.loseConnection()
        yield proto.closed
        return proto.received


class RegistrationTests(LoopbackMixin, TestCase):
    @defer.inlineCallbacks
    def test_register_every_version(self):
        for i, version in enumerate(VERSIONS):
            name = self.user_name(version, "new")
            result = yield self.login(version, name, "pw", register=True,
                                      email="a@example.org", full_name="New User")
            self.assertTrue(result.ok, (version, result))
            self.assertEqual(result.credential.name, name)
            account = yield self.store.get_account(name)
            self.assertEqual(account.email, "a@example.org")
            again = yield self.login(version, name, "pw")
            self.assertTrue(again.ok, version)
            taken = yield self.login(version, name, "other", register=True)
            self.assertEqual(taken.code, REFUSAL_CODES.name_taken, version)
            self.assertEqual(taken.reason, "name_taken")

    @defer.inlineCallbacks
    def test_invalid_names(self):
        for bad in ["ab", "1abcdef", "abc def", "a" * 33, "ab:cdefg"]:
            result = yield self.login("4.1.0.130", bad, "pw", register=True)
            self.assertEqual(result.code, REFUSAL_CODES.invalid_name, bad)
        accounts = yield self.store.list_accounts()
        self.assertEqual(accounts, [])

    @defer.inlineCallbacks
    def test_bad_profile_fields_dropped(self):
        result = yield self.login("6.16.0.105", "fielduser", "pw", register=True,
                                  email="x" * 300, full_name="Name")
        self.assertTrue(result.ok)
        account = yield self.store.get_account("fielduser")
        self.assertIsNone(account.email)


class ClosedRegistrationTests(LoopbackMixin, TestCase):
    registration_open = False

    @defer.inlineCallbacks
    def test_closed(self):
        for version in VERSIONS:
            result = yield self.login(version, self.user_name(version, "new"), "pw",
                                      register=True)
            self.assertEqual(result.code, REFUSAL_CODES.registration_closed, version)
        accounts = yield self.store.list_accounts()
        self.assertEqual(accounts, [])


class RateLimitTests(LoopbackMixin, TestCase):
    def setUp(self):
        self.limiter = FailedLoginLimiter(reactor, per_address=Limit(5, 1000.0),
                                          per_account=Limit(2, 1000.0))
        return LoopbackMixin.setUp(self)

    @defer.inlineCallbacks
    def test_account_then_address(self):
        yield self.store.create_account("limited", md5_credential("limited", "pw"))
        yield self.store.create_account("other1", md5_credential("other1", "pw"))
        for _ in range(2):
            result = yield self.login("6.16.0.105", "limited", "bad")
            self.assertEqual(result.code, RESULT_AUTH_FAILED)
        # The right password is not even checked now.
        result = yield self.login("6.16.0.105", "limited", "pw")
        self.assertEqual(result.code, REFUSAL_CODES.rate_limited)
        self.assertEqual(self.factory.built[-1].result, "rate_limited")
        # Another account from the same address still works...
        result = yield self.login("4.1.0.130", "other1", "pw")
        self.assertTrue(result.ok)
        # ...until the address has failed 5 times.
        for i in range(3):
            yield self.login("4.1.0.130", "nobody%d" % i, "pw")
        result = yield self.login("4.1.0.130", "other1", "pw")
        self.assertEqual(result.code, REFUSAL_CODES.rate_limited)


class MalformedTests(LoopbackMixin, TestCase):
    """Malformed input at every step: the connection is closed, nothing is
    answered (framing errors), and the server keeps serving."""

    def make_factory(self, **kw):
        kw.setdefault("handshake_timeout", 2.0)
        return LoopbackMixin.make_factory(self, **kw)

    def kx(self, items=None, compressed=False):
        if items is None:
            items = [objects.Blob(8, b"\x05" * 192), objects.Int(9, 8192), objects.Int(0xC, 1)]
        return key_exchange_record(objects.encode_objects(items, compressed=compressed))

    @defer.inlineCallbacks
    def check_closed(self, data, answered=b""):
        received = yield self.raw(data)
        # Closed at once (abortConnection): pending bytes may not get out.
        self.assertIn(received, (b"", answered), data[:40].hex())
        # still serving
        yield self.store.create_account("stillok", md5_credential("stillok", "pw")) \
            if not getattr(self, "_made", False) else None
        self._made = True
        result = yield self.login("4.1.0.130", "stillok", "pw")
        self.assertTrue(result.ok)
        yield self.no_connections_left()

    def test_bad_record_type_after_hello(self):
        return self.check_closed(CLIENT_HELLO + b"\x18\x03\x01\x00\x00", SERVER_HELLO)

    def test_bad_record_version(self):
        return self.check_closed(CLIENT_HELLO + b"\x16\x03\x00\x00\x10" + bytes(16), SERVER_HELLO)

    def test_oversized_record(self):
        return self.check_closed(CLIENT_HELLO + b"\x16\x03\x01\xff\xff", SERVER_HELLO)

    def test_data_before_key_exchange(self):
        return self.check_closed(CLIENT_HELLO + seal_server_record(b"\x41\x00", bytes(32), 0, 0),
                                 SERVER_HELLO)

    def test_key_exchange_without_blob(self):
        return self.check_closed(CLIENT_HELLO + self.kx([objects.Int(9, 8192)]), SERVER_HELLO)

    def test_key_exchange_short_blob(self):
        return self.check_closed(CLIENT_HELLO + self.kx([objects.Blob(8, b"\x01" * 191)]),
                                 SERVER_HELLO)

    def test_key_exchange_not_a_list(self):
        return self.check_closed(CLIENT_HELLO + b"\x16\x03\x01\x00\x03\x99\x99\x99", SERVER_HELLO)

    def test_too_many_hellos(self):
        # Each hello is answered (ERRATA), but only up to MAX_HELLOS.
        return self.check_closed(CLIENT_HELLO * (MAX_HELLOS + 1), SERVER_HELLO * MAX_HELLOS)

    def test_second_key_exchange(self):
        return self.check_closed(CLIENT_HELLO + self.kx() + self.kx(), SERVER_HELLO)

    def test_request_wrong_seq(self):
        return self.check_closed(
            CLIENT_HELLO + self.kx() + seal_server_record(b"\x41\x00\x41\x00", bytes(32), 0, 5),
            SERVER_HELLO)

    def test_request_without_trailer(self):
        return self.check_closed(CLIENT_HELLO + self.kx() + b"\x17\x03\x01\x00\x01\x00",
                                 SERVER_HELLO)

    def test_degenerate_dh_value(self):
        return self.check_closed(bytes(48) + bytes(8))

    def test_dh_hash_never_comes(self):
        return self.check_closed(b"\x33" * 48 + os.urandom(100))

    @defer.inlineCallbacks
    def test_dh_garbage_after_handshake(self):
        """A correct DH-384 handshake followed by bytes that do not decrypt
        to a record (e.g. a replayed 5.5+ stream)."""
        client = dh384.ClientHandshake()
        proto = Collect(None)
        f = ClientFactory()
        f.protocol = lambda: proto
        reactor.connectTCP("127.0.0.1", self.portnum, f)
        yield task.deferLater(reactor, 0.05, lambda: None)
        proto.transport.write(client.start())
        while not client.done:
            yield task.deferLater(reactor, 0.02, lambda: None)
            out, _done = client.receive(proto.received)
            proto.received = b""
            if out:
                proto.transport.write(out)
        proto.transport.write(os.urandom(300))
        received = yield proto.closed
        self.assertEqual(received, b"")

    @defer.inlineCallbacks
    def test_garbage_request_answered_like_wrong_password(self):
        """A valid seed but a request that does not decode: the same 8401 as
        a bad seed (no oracle on the seed's validity)."""
        core = self.core("4.1.0.130", "someone1", "pw")
        hello = core.start()
        core.state = "sent"
        data = hello + core.key_exchange() + RecordCipher(core.key, 0).seal(b"\x41\x01\x00\x00")
        received = yield self.raw_until_reply(data)
        self.assertEqual(self.factory.built[-1].result, "wrong_password")
        records = ServerRecordParser().feed(received[5:])
        plaintext = RecordCipher(core.key, 1).open(records[0])
        self.assertEqual(plaintext, bytes.fromhex("41020001d1410002014100"))

    @defer.inlineCallbacks
    def test_truncated_connection(self):
        core = self.core("4.1.0.130", "someone1", "pw")
        data = core.start() + core.key_exchange()[:100]
        received = yield self.raw(data, close_after=True)
        self.assertIn(received, (b"", SERVER_HELLO))
        yield self.no_connections_left()

    def test_half_open_connection_times_out(self):
        """A connection that stops mid-record is closed once the handshake
        timeout has passed on the factory's clock (no real-time wait)."""
        clock = task.Clock()
        store = MemoryStore()
        factory = LoginServerFactory(KEYS, make_portal(store), store, clock=clock,
                                     handshake_timeout=2.0)
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        proto.dataReceived(CLIENT_HELLO + b"\x16\x03")
        self.assertEqual(transport.value(), SERVER_HELLO)
        self.assertEqual(factory.connections, 1)
        clock.advance(1.9)
        self.assertFalse(transport.disconnecting)
        clock.advance(0.2)
        self.assertTrue(transport.disconnecting)
        self.assertTrue(transport.disconnected)  # aborted, not a polite close
        self.assertEqual(clock.getDelayedCalls(), [])
        proto.connectionLost(None)
        self.assertEqual(factory.connections, 0)

    def test_random_bytes_never_escape(self):
        store = MemoryStore()
        factory = LoginServerFactory(KEYS, make_portal(store), store, clock=task.Clock())

        @settings(max_examples=300, deadline=None)
        @given(st.binary(max_size=600), st.booleans())
        def run(data, hello):
            proto = factory.buildProtocol(None)
            t = StringTransport()
            proto.makeConnection(t)
            proto.dataReceived((CLIENT_HELLO if hello else b"") + data)
            proto.connectionLost(None)
        run()
        self.assertEqual(factory.connections, 0)


class ReplayTests(LoopbackMixin, TestCase):
    @defer.inlineCallbacks
    def capture(self, version, name):
        """Log in once, recording every byte the client sent."""
        core = self.core(version, name, "pw")
        sent = []
        start, receive = core.start, core.receive

        def rec_start():
            data = start()
            sent.append(data)
            return data

        def rec_receive(data):
            out = receive(data)
            sent.append(out)
            return out
        core.start, core.receive = rec_start, rec_receive
        result = yield login(reactor, "127.0.0.1", self.portnum, core, timeout=20)
        self.assertTrue(result.ok)
        return core, b"".join(sent)

    @defer.inlineCallbacks
    def test_replay_on_new_connection(self):
        yield self.store.create_account("replayed", md5_credential("replayed", "pw"))
        # 5.5+: the server's new DH value gives new RC4 keys: the replay is noise.
        _core, stream = yield self.capture("6.16.0.105", "replayed")
        received = yield self.raw(stream)
        # B, filler, hash (unless the abort beat them out) -- and no reply
        self.assertIn(len(received), (0, 48 + 6 + 8))
        # The client's DH hash was for the old K: it is never found here.
        self.assertEqual(self.factory.built[-1].state_name(), "dh")
        # classic: the protocol gives the server no nonce, so the seed is
        # refused as already used (issue 17.4): the connection closes with
        # no reply (one sealed with the recorded keystream would give the
        # recorded reply away), and the login is not executed again.
        core, stream = yield self.capture("4.1.0.130", "replayed")
        received = yield self.raw(stream)
        self.assertEqual(received.replace(b"\x17\x03\x01\x00\x00", b""), b"")
        self.assertIsNone(self.factory.built[-1].result)
        # A fresh login of the same user still works.
        _core, _stream = yield self.capture("4.1.0.130", "replayed")

    @defer.inlineCallbacks
    def test_replay_within_connection_closes(self):
        yield self.store.create_account("replayer", md5_credential("replayer", "pw"))
        for version in ("4.1.0.130", "6.16.0.105"):
            core = self.core(version, "replayer", "pw")
            proto = Collect(None)
            f = ClientFactory()
            f.protocol = lambda: proto
            reactor.connectTCP("127.0.0.1", self.portnum, f)
            yield task.deferLater(reactor, 0.05, lambda: None)
            proto.transport.write(core.start())
            while not core.done:
                yield task.deferLater(reactor, 0.02, lambda: None)
                data, proto.received = proto.received, b""
                out = core.receive(data)
                if out:
                    proto.transport.write(out)
            self.assertTrue(core.result.ok, version)
            # The same login record again (seq 0) on the same connection.
            again = core.session.wrap(seal_server_record(core.request_plaintext, core.key, 0, 0))
            proto.transport.write(again)
            yield proto.closed  # the server closes it
            self.assertEqual(self.factory.built[-1].state, "done", version)


def login_lines(events, namespace="blissnode.login.protocol"):
    """The formatted lines of ``events`` logged by ``namespace``."""
    return [formatEvent(e) for e in events if e.get("log_namespace") == namespace]


class LogLineTests(LoopbackMixin, TestCase):
    """What the login server writes to the log (twisted.logger observer)."""

    PASSWORD = "Sesame-0pen-42"

    def setUp(self):
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        return LoopbackMixin.setUp(self)

    def assertNoSecret(self, name, password):
        """Neither the password nor its MD5 credential (hex either case, or
        raw bytes) is in any event of any namespace."""
        credential = md5_credential(name, password)
        for event in self.events:
            text = formatEvent(event) + repr(event)
            for secret in (password, credential.hex(), credential.hex().upper(),
                           repr(credential)[2:-1]):
                self.assertNotIn(secret, text, event)

    @defer.inlineCallbacks
    def test_client_with_skypes_login_key_gets_the_patch_hint(self):
        # ERRATA: 5.5+ clients got no such line (a wrong key showed as "not
        # an object list: marker byte 0x0b"); every version must.
        from blissnode.patch.known import SKYPE_LOGIN_MODULUS

        for i, version in enumerate(VERSIONS):
            name = self.user_name(version, "unpatched")
            yield self.store.create_account(name, md5_credential(name, self.PASSWORD))
            del self.events[:]
            self.factory.throttle = LogThrottle(self.factory.clock.seconds, 60.0,
                                                logger=login_log)
            core = LoginClientCore(version, name, self.PASSWORD,
                                   login_modulus=SKYPE_LOGIN_MODULUS,
                                   credential_modulus=KEYS.credential.private.n,
                                   user_key=USER_KEYS[i % 4])
            # The client cannot read the answer: it is sealed with a key only
            # the real RSA key would have given (no oracle), as a real
            # unpatched client sees it.
            with self.assertRaises(LoginClientError):
                yield login(reactor, "127.0.0.1", self.portnum, core, timeout=20)
            self.assertEqual(self.factory.built[-1].result, "wrong_password")
            hints = [t for t in login_lines(self.events)
                     if "the client encrypted to another RSA key" in t]
            self.assertEqual(len(hints), 1, (version, login_lines(self.events)))
            self.assertIn("docs/clients.rst", hints[0])
            self.assertIn("patch-client", hints[0])

    @defer.inlineCallbacks
    def test_success_line(self):
        for version in ("4.1.0.130", "6.16.0.105"):
            name = self.user_name(version, "logged")
            yield self.store.create_account(name, md5_credential(name, self.PASSWORD))
            del self.events[:]
            result = yield self.login(version, name, self.PASSWORD)
            self.assertTrue(result.ok, version)
            lines = [t for t in login_lines(self.events) if "signed in" in t]
            self.assertEqual(len(lines), 1, (version, login_lines(self.events)))
            for part in (name, "version %s" % (version,), "from 127.0.0.1"):
                self.assertIn(part, lines[0], version)
            self.assertNoSecret(name, self.PASSWORD)

    @defer.inlineCallbacks
    def test_refused_lines_give_the_reason(self):
        name = "refusedlogs"
        yield self.store.create_account(name, md5_credential(name, "right-one"))
        for attempt, (who, password, why, reason) in enumerate([
                (name, self.PASSWORD, "wrong password", "wrong_password"),
                ("nobodyhere", self.PASSWORD, "unknown user", "unknown_user")]):
            del self.events[:]
            result = yield self.login("6.16.0.105", who, password)
            self.assertFalse(result.ok)
            lines = login_lines(self.events)
            self.assertEqual(len(lines), 1, lines)
            self.assertEqual(lines[0], "login: refused %s from 127.0.0.1: %s (answered %s)"
                             % (who, why, reason))
            self.assertNoSecret(who, password)
        old = attr.evolve(LOGIN_PROFILES["1.4.0.84"], label="1.2.0.18",
                          version_string="2/1.2.0.18/")
        del self.events[:]
        result = yield login(reactor, "127.0.0.1", self.portnum,
                             LoginClientCore(old, name, "right-one", user_key=USER_KEYS[0],
                                             login_modulus=KEYS.login.private.n,
                                             credential_modulus=KEYS.credential.private.n),
                             timeout=20)
        self.assertFalse(result.ok)
        line, = login_lines(self.events)
        self.assertIn("refused %s from 127.0.0.1" % (name,), line)
        self.assertIn("1.2.0.18", line)
        self.assertIn("(answered version_too_old)", line)

    @defer.inlineCallbacks
    def test_repeated_refusals_are_throttled(self):
        name = "throttled1"
        yield self.store.create_account(name, md5_credential(name, "right-one"))
        del self.events[:]
        for _ in range(3):
            result = yield self.login("6.16.0.105", name, "wrong-one")
            self.assertFalse(result.ok)
        self.assertEqual(login_lines(self.events),
                         ["login: refused %s from 127.0.0.1: wrong password "
                          "(answered wrong_password)" % (name,)])
        self.assertEqual(self.factory.throttle.suppressed("127.0.0.1",
                                                          "refused wrong_password"), 2)
        # A success is never throttled.
        result = yield self.login("6.16.0.105", name, "right-one")
        self.assertTrue(result.ok)
        self.assertEqual(len([t for t in login_lines(self.events) if "signed in" in t]), 1)


def connect_raw(factory, ip, data, port=40000):
    """A connection from ``ip`` on a StringTransport that sends ``data``."""
    proto = factory.buildProtocol(IPv4Address("TCP", ip, port))
    transport = StringTransport(peerAddress=IPv4Address("TCP", ip, port))
    proto.makeConnection(transport)
    if data:
        proto.dataReceived(data)
    return proto, transport


#: A classic hello then a record of a content type no client sends.
GARBAGE = CLIENT_HELLO + b"\x18\x03\x01\x00\x00"


class LogFloodTests(TestCase):
    """A flood of garbage connections from one address writes a bounded
    number of lines per interval, with the count of the others."""

    factory_class = LoginServerFactory
    namespace = "blissnode.login.protocol"
    role = "login"

    def setUp(self):
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.clock = task.Clock()
        self.factory = self.make_factory()

    def make_factory(self):
        store = MemoryStore()
        # No connect rate: these tests are about the log throttle.
        return LoginServerFactory(KEYS, make_portal(store), store, clock=self.clock,
                                  handshake_timeout=30.0, connect_rate=None,
                                  max_per_address=None)

    def lines(self):
        return login_lines(self.events, self.namespace)

    def test_garbage_flood(self):
        interval = self.factory.throttle.interval
        for i in range(200):
            proto, transport = connect_raw(self.factory, "203.0.113.5", GARBAGE, 1000 + i)
            self.assertTrue(transport.disconnecting)
            proto.connectionLost(None)
        lines = self.lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("%s: 203.0.113.5: protocol error" % self.role),
                        lines[0])
        # Another address is not hidden by the flood.
        proto, _ = connect_raw(self.factory, "198.51.100.7", GARBAGE)
        proto.connectionLost(None)
        self.assertEqual(len(self.lines()), 2)
        self.assertIn("198.51.100.7", self.lines()[1])
        # The next interval: one more line from the flooder, with the count.
        self.clock.advance(interval)
        for i in range(50):
            proto, _ = connect_raw(self.factory, "203.0.113.5", GARBAGE, 2000 + i)
            proto.connectionLost(None)
        new = self.lines()[2:]
        self.assertEqual(len(new), 1, new)
        self.assertIn("203.0.113.5: protocol error", new[0])
        self.assertIn("(and 199 similar since the last such line)", new[0])
        # It goes quiet: its count comes as one summary line later.
        self.clock.advance(interval)
        self.factory.throttle.flush()
        new = self.lines()[3:]
        self.assertEqual(new, ["203.0.113.5: 49 more bad lines suppressed"])
        self.assertEqual(self.factory.connections, 0)

    def test_one_address_cannot_fill_the_server(self):
        # Issue 17.2: idle connections from one address stop at the
        # per-address cap; another address still gets in.
        store = MemoryStore()
        factory = LoginServerFactory(KEYS, make_portal(store), store, clock=self.clock,
                                     max_connections=100, max_per_address=10,
                                     connect_rate=None)
        held = [connect_raw(factory, "203.0.113.5", CLIENT_HELLO, i) for i in range(50)]
        self.assertEqual(sum(not t.disconnecting for _, t in held), 10)
        self.assertEqual(factory.connections, 10)
        _proto, other = connect_raw(factory, "198.51.100.7", CLIENT_HELLO)
        self.assertFalse(other.disconnecting)
        for proto, _ in held:
            proto.connectionLost(None)
        self.assertEqual(factory.admission.open_from("203.0.113.5"), 0)
        self.assertEqual(factory.connections, 1)

    def test_new_connections_per_address_are_rate_limited(self):
        # Each connection costs an RSA decryption: one address gets a burst,
        # then connect_rate per second.
        store = MemoryStore()
        factory = LoginServerFactory(KEYS, make_portal(store), store, clock=self.clock,
                                     connect_rate=2.0, connect_burst=5)
        taken = 0
        for i in range(20):
            proto, t = connect_raw(factory, "203.0.113.5", CLIENT_HELLO, i)
            taken += not t.disconnecting
            proto.connectionLost(None)
        self.assertEqual(taken, 5)
        self.clock.advance(1.0)
        proto, t = connect_raw(factory, "203.0.113.5", CLIENT_HELLO, 99)
        self.assertFalse(t.disconnecting)
        _p, t = connect_raw(factory, "198.51.100.7", CLIENT_HELLO)
        self.assertFalse(t.disconnecting)

    def test_half_open_flood_times_out_quietly(self):
        protos = [connect_raw(self.factory, "203.0.113.5", CLIENT_HELLO + b"\x16\x03", i)
                  for i in range(100)]
        self.clock.advance(self.factory.handshake_timeout)
        for proto, transport in protos:
            self.assertTrue(transport.disconnecting)
            proto.connectionLost(None)
        lines = self.lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("203.0.113.5: login request not complete in time; closing", lines[0])
        self.assertEqual(self.factory.throttle.suppressed("203.0.113.5", "timeout"), 99)
        self.assertEqual(self.factory.connections, 0)


class ClientTests(TestCase):
    def test_profiles(self):
        self.assertEqual(sorted(LOGIN_PROFILES, key=lambda l: tuple(map(int, l.split(".")))),
                         VERSIONS)
        self.assertRaises(ValueError, login_profile, "1.0.0.1")
        p = login_profile("4.1.5.1")
        self.assertEqual(p.version_string, "0/4.1.5.1//")

    def test_client_reproduces_vector_requests(self):
        """The client's request plaintext for the 6.16 and 4.1 vectors
        (same fields) is byte-identical."""
        for case in cases("login.json", "login_exchange"):
            body = {i["id"]: i for i in case["request_body"]}
            version = body[0x0D]["value"].split("/")[1]
            profile = login_profile(version)
            kw = {}
            if 0x13 in body:
                kw["node_id"] = h(body[0x13]["value"])[:8]
            key = USER_KEYS[case["user_key_index"]]
            core = LoginClientCore(profile, case["user"], case["password"],
                                   login_modulus=KEYS.login.private.n, user_key=key,
                                   r24=h(case["r24"]), host_id1=body[0x3A if 0x3A in body else 0x31]["value"],
                                   host_id2=body[0x33]["value"], public_ip=body[0x0E]["value"], **kw)
            self.assertEqual(core.key, h(case["aes_key"]), case["user"])
            if 0x13 not in body:
                self.assertEqual(core.request(), h(case["request_plaintext"]), case["user"])
            else:
                lists = objects.decode_object_lists(core.request())[0]
                want = objects.decode_object_lists(h(case["request_plaintext"]))[0]
                self.assertEqual(list(lists[0]), list(want[0]), case["user"])
                self.assertEqual([i.id for i in lists[1]], [i.id for i in want[1]], case["user"])

    def test_credential_checks(self):
        core = LoginClientCore("6.16.0.105", "alice", "pw", login_modulus=KEYS.login.private.n,
                               credential_modulus=KEYS.credential.private.n,
                               user_key=USER_KEYS[0])
        self.assertRaises(LoginClientError, core.verify_credential, b"\x00" * 260)


class TapTests(TestCase):
    """The login server as ``twistd blissnode`` builds it."""

    ZERO = ["--supernode-tcp", "none", "--supernode-udp", "none", "--supernode-https", "none",
            "--event-tcp", "none", "--login-tcp", "tcp:0:interface=127.0.0.1"]

    def options(self, data_dir, extra=()):
        from blissnode import tap

        options = tap.Options()
        options.parseOptions(self.ZERO + ["--data-dir", data_dir] + list(extra))
        return options

    def test_refuses_group_readable_key(self):
        from blissnode import tap

        data_dir = self.mktemp()
        tap.makeService(self.options(data_dir))  # creates both keys
        for name in (LOGIN_KEY_FILE, CREDENTIAL_KEY_FILE):
            path = os.path.join(data_dir, name)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        path = os.path.join(data_dir, LOGIN_KEY_FILE)
        os.chmod(path, 0o644)
        with self.assertRaises(SystemExit) as ctx:
            tap.makeService(self.options(data_dir))
        message = str(ctx.exception.code)
        self.assertIn(path, message)
        self.assertIn("chmod 600", message)
        self.assertIn("0644", message)

    def test_registration_option(self):
        from twisted.python import usage

        self.assertRaises(usage.UsageError, self.options, self.mktemp(),
                          ["--registration", "maybe"])
        # Closed unless the operator opens it (issue 15).
        self.assertEqual(self.options(self.mktemp())["registration"], "closed")

    @defer.inlineCallbacks
    def test_login_through_the_service(self):
        from blissnode import tap
        from blissnode.keys import load_server_keys

        data_dir = self.mktemp()
        svc = tap.makeService(self.options(data_dir, ["--registration", "closed"]))
        svc.privilegedStartService()
        svc.startService()
        try:
            yield svc.store.ready
            yield svc.store.accounts.create_account("tapuser", md5_credential("tapuser", "pw"))
            keys = load_server_keys(data_dir)
            port = svc.getServiceNamed("login-tcp").port.getHost().port
            for version, ok in (("6.16.0.105", True), ("4.1.0.130", True)):
                core = LoginClientCore(version, "tapuser", "pw",
                                       login_modulus=keys.login_modulus,
                                       credential_modulus=keys.credential_modulus,
                                       user_key=USER_KEYS[2])
                result = yield login(reactor, "127.0.0.1", port, core, timeout=20)
                self.assertTrue(result.ok, version)
                self.assertEqual(result.credential.name, "tapuser")
            core = LoginClientCore("6.16.0.105", "tapnew", "pw", register=True,
                                   login_modulus=keys.login_modulus,
                                   credential_modulus=keys.credential_modulus,
                                   user_key=USER_KEYS[2])
            result = yield login(reactor, "127.0.0.1", port, core, timeout=20)
            self.assertEqual(result.reason, "registration_closed")
        finally:
            yield svc.stopService()


class CommandLineTests(LoopbackMixin, TestCase):
    """``blissnode client login`` as a separate process against this server."""

    @defer.inlineCallbacks
    def run_cli(self, *args, stdin=b"pw\n"):
        import sys
        from twisted.internet import utils

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=root)
        argv = ["-m", "blissnode", "client", "login", "127.0.0.1:%d" % self.portnum,
                "--password-file", "-",
                "--login-modulus", KEYS.login_modulus.hex(),
                "--credential-modulus", KEYS.credential_modulus.hex()] + list(args)
        proto_out = yield _run_with_stdin(sys.executable, argv, env, root, stdin)
        return proto_out

    @defer.inlineCallbacks
    def test_login_and_register(self):
        yield self.store.create_account("cliuser", md5_credential("cliuser", "pw"))
        out, err, code = yield self.run_cli("--user", "CliUser", "--version", "5.5.0.124")
        self.assertEqual(code, 0, err)
        text = out.decode()
        self.assertIn("result 4200 (success)", text)
        self.assertIn("name        cliuser", text)
        self.assertIn("credential verified", text)
        out, err, code = yield self.run_cli("--user", "cliuser", "--version", "4.1.0.130",
                                            "--json", stdin=b"bad\n")
        self.assertEqual(code, 1)
        import json
        data = json.loads(out.decode())
        self.assertEqual((data["code"], data["reason"]), (8401, "wrong_password"))
        out, err, code = yield self.run_cli("--user", "clinew", "--register", "--json")
        self.assertEqual(code, 0, err)
        self.assertTrue(json.loads(out.decode())["credential"]["verified"])
        out, err, code = yield self.run_cli("--user", "x", "--login-modulus", "abc")
        self.assertEqual(code, 1)
        self.assertIn(b"--login-modulus has 12 bits", err)


def _run_with_stdin(executable, argv, env, path, stdin):
    from twisted.internet.protocol import ProcessProtocol

    d = defer.Deferred()

    class P(ProcessProtocol):
        out = b""
        err = b""

        def connectionMade(self):
            self.transport.write(stdin)
            self.transport.closeStdin()

        def outReceived(self, data):
            self.out += data

        def errReceived(self, data):
            self.err += data

        def processEnded(self, reason):
            d.callback((self.out, self.err, reason.value.exitCode))

    reactor.spawnProcess(P(), executable, [executable] + argv, env=env, path=path)
    return d


class NoDelayTests(TestCase):
    def test_login_listener_sets_no_delay(self):
        from tests.supernode_helpers import WriteLog, _Addr

        factory = LoginServerFactory(KEYS, None, None, clock=task.Clock())
        proto = factory.buildProtocol(None)
        transport = WriteLog(peerAddress=_Addr("127.0.0.1", 4000))
        proto.makeConnection(transport)
        self.assertTrue(transport.no_delay)
        proto.connectionLost(None)


class OpeningVariantTests(TestCase):
    """A version plugin's extra opening of the login/event transport is
    tried before the defaults (wire.server_session.Opening)."""

    def test_plugin_opening_is_used(self):
        from blissnode.versions.base import ClientVersion
        from blissnode.wire.server_session import Opening
        from tests.supernode_helpers import WriteLog, _Addr

        class Knock(Opening):
            """A made-up quirk: 'KNOCK' before the classic hello."""

            def decide(self, first_bytes, session):
                return "classic" if first_bytes.startswith(b"KNOCK") else None

            def start(self, session):
                return b"WHO"

            def consume(self, first_bytes):
                return len(b"KNOCK")

        version = ClientVersion("1.4.0.84", (1, 4, 0, 84), {"login": LoginHandlers},
                                server_openings=[Knock()])
        factory = LoginServerFactory(KEYS, None, None, registry=VersionRegistry([version]),
                                     clock=task.Clock())
        self.assertIsInstance(factory.openings[0], Knock)
        proto = factory.buildProtocol(None)
        transport = WriteLog(peerAddress=_Addr("127.0.0.1", 4000))
        proto.makeConnection(transport)
        proto.dataReceived(b"KNOCK" + CLIENT_HELLO)
        self.assertEqual(transport.value(), b"WHO" + SERVER_HELLO)
        self.assertEqual(proto.transport_kind, "classic")
        proto.connectionLost(None)


class UnauthenticatedCostTests(TestCase):
    """Issue 17.6: requests that cannot be read still cost a (dummy) scrypt,
    but only until their address is limited; issue 17.8: registrations
    per address."""

    def exchange(self, factory, core, ip, port):
        proto = factory.buildProtocol(IPv4Address("TCP", ip, port))
        transport = StringTransport(peerAddress=IPv4Address("TCP", ip, port))
        proto.makeConnection(transport)
        proto.dataReceived(core.start())
        for _ in range(10):
            data = transport.value()
            transport.clear()
            if core.done or not data:
                break
            try:
                out = core.receive(data)
            except LoginClientError:
                break  # the client cannot read a reply sealed with another key
            if out:
                proto.dataReceived(out)
        proto.connectionLost(None)
        return proto

    def test_unreadable_requests_stop_costing_scrypt(self):
        from blissnode.patch.known import SKYPE_LOGIN_MODULUS
        store = MemoryStore()
        factory = LoginServerFactory(KEYS, make_portal(store), store, clock=task.Clock(),
                                     connect_rate=None, max_per_address=None)
        results = []
        for i in range(40):
            core = LoginClientCore("4.1.0.130", "victim01", "pw",
                                   login_modulus=SKYPE_LOGIN_MODULUS,
                                   credential_modulus=KEYS.credential.private.n,
                                   user_key=USER_KEYS[0])
            results.append(self.exchange(factory, core, "203.0.113.5", 1000 + i).result)
        limit = int(factory.limiter.addresses.burst)
        self.assertEqual(results[:limit], ["wrong_password"] * limit)
        self.assertEqual(set(results[limit:]), {"rate_limited"})
        self.assertEqual(len(store.checks), limit)  # one dummy scrypt each, then none

    def test_registrations_per_address(self):
        store = MemoryStore()
        factory = LoginServerFactory(KEYS, make_portal(store), store, clock=task.Clock(),
                                     connect_rate=None, registration_burst=3,
                                     registration_interval=600)
        results = []
        for i in range(5):
            core = LoginClientCore("4.1.0.130", "newuser%d" % i, "pw", register=True,
                                   login_modulus=KEYS.login.private.n,
                                   credential_modulus=KEYS.credential.private.n,
                                   user_key=USER_KEYS[0])
            results.append(self.exchange(factory, core, "203.0.113.5", 1000 + i).result)
        self.assertEqual(results, ["ok"] * 3 + ["rate_limited"] * 2)
        self.assertEqual(len(store.users), 3)
        core = LoginClientCore("4.1.0.130", "otheruser", "pw", register=True,
                               login_modulus=KEYS.login.private.n,
                               credential_modulus=KEYS.credential.private.n,
                               user_key=USER_KEYS[0])
        self.assertEqual(self.exchange(factory, core, "198.51.100.7", 5).result, "ok")
