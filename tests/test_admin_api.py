"""The management API end to end: a whole server, real HTTP, the reference
clients signing in, and what the API shows and does to them."""

import os
import stat

from twisted.internet import defer, reactor, task
from twisted.trial.unittest import TestCase

from blissnode.admin.api import ROUTES, openapi_document
from blissnode.admin.tokens import TOKEN_FILE
from blissnode.client.event import EventClientError, sign_in
from blissnode.client.login import LoginClientCore, generate_user_key, login
from tests.admin_helpers import LOOPBACK, AdminServerMixin

PASSWORD = "correct horse"


class AdminApiTests(AdminServerMixin, TestCase):
    def sign_in(self, name, label="6.16.0.105", supernode=True):
        return sign_in(reactor, label, name, (LOOPBACK, self.ports["login-tcp"]),
                       (LOOPBACK, self.ports["event-tcp"]), self.login_n,
                       credential_modulus=self.cred_n, password=PASSWORD,
                       user_key=generate_user_key(),
                       supernode_address=(LOOPBACK, self.ports["supernode-tcp"])
                       if supernode else None)

    def login_result(self, name, password=PASSWORD, register=False):
        core = LoginClientCore("6.16.0.105", name, password, login_modulus=self.login_n,
                               credential_modulus=self.cred_n, user_key=generate_user_key(),
                               register=register)
        return login(reactor, LOOPBACK, self.ports["login-tcp"], core, timeout=20)

    @defer.inlineCallbacks
    def wait_for(self, predicate, what):
        for _ in range(200):
            if predicate():
                return
            yield task.deferLater(reactor, 0.02, lambda: None)
        self.fail("timed out waiting for " + what)

    def test_token_file_is_private(self):
        path = os.path.join(self.data_dir, TOKEN_FILE)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertGreaterEqual(len(self.token), 32)

    @defer.inlineCallbacks
    def test_token_is_required(self):
        for method, path in (("GET", "/api/status"), ("GET", "/api/accounts"),
                             ("GET", "/metrics"), ("DELETE", "/api/sessions/s1")):
            status, body = yield self.call(method, path, token=False)
            self.assertEqual(status, 401, path)
            status, body = yield self.call(method, path, token="wrong-token-" * 3)
            self.assertEqual(status, 401, path)
        status, doc = yield self.call("GET", "/api/openapi.json", token=False)
        self.assertEqual(status, 200)
        self.assertEqual(doc, openapi_document())
        self.assertEqual(doc["openapi"], "3.0.3")
        for route in ROUTES:
            self.assertIn(route.method.lower(), doc["paths"][route.path])

    @defer.inlineCallbacks
    def test_accounts(self):
        status, body = yield self.call("POST", "/api/accounts",
                                       {"name": "alice01", "password": "short"})
        self.assertEqual(status, 400)
        self.assertIn("at least 8", body["error"])
        status, body = yield self.call("POST", "/api/accounts",
                                       {"name": "Alice01", "password": PASSWORD,
                                        "email": "a@example.org"})
        self.assertEqual((status, body["name"], body["email"]), (201, "alice01", "a@example.org"))
        self.assertNotIn("salt", body)
        status, body = yield self.call("POST", "/api/accounts",
                                       {"name": "alice01", "password": PASSWORD})
        self.assertEqual(status, 409)
        status, body = yield self.call("GET", "/api/accounts")
        self.assertEqual([a["name"] for a in body["accounts"]], ["alice01"])
        status, body = yield self.call("GET", "/api/accounts/nobody99")
        self.assertEqual(status, 404)
        result = yield self.login_result("alice01")
        self.assertTrue(result.ok)

        # suspend: refused at login; unsuspend: signs in again
        status, body = yield self.call("POST", "/api/accounts/alice01/suspend",
                                       {"reason": "testing"})
        self.assertEqual((status, body["suspended"], body["suspension_reason"]),
                         (200, True, "testing"))
        result = yield self.login_result("alice01")
        self.assertEqual(result.reason, "account_blocked")
        status, body = yield self.call("POST", "/api/accounts/alice01/unsuspend")
        self.assertFalse(body["suspended"])
        result = yield self.login_result("alice01")
        self.assertTrue(result.ok)

        # password: the old one stops working, the policy applies
        status, body = yield self.call("POST", "/api/accounts/alice01/password",
                                       {"password": "x"})
        self.assertEqual(status, 400)
        status, body = yield self.call("POST", "/api/accounts/alice01/password",
                                       {"password": "battery staple"})
        self.assertEqual(status, 200)
        result = yield self.login_result("alice01")
        self.assertFalse(result.ok)
        result = yield self.login_result("alice01", "battery staple")
        self.assertTrue(result.ok)

        status, body = yield self.call("DELETE", "/api/accounts/alice01")
        self.assertEqual((status, body), (200, {"deleted": "alice01"}))
        status, body = yield self.call("DELETE", "/api/accounts/alice01")
        self.assertEqual(status, 404)

    @defer.inlineCallbacks
    def test_bad_requests(self):
        status, body = yield self.call("POST", "/api/accounts", raw=b"{not json")
        self.assertEqual(status, 400)
        status, body = yield self.call("POST", "/api/accounts", raw=b"name=x",
                                       content_type="application/x-www-form-urlencoded")
        self.assertEqual(status, 415)
        status, body = yield self.call("POST", "/api/accounts", raw=b"x" * (65 * 1024))
        self.assertEqual(status, 413)
        status, body = yield self.call("POST", "/api/accounts", {"name": 5, "password": "y"})
        self.assertEqual(status, 400)
        status, body = yield self.call("POST", "/api/accounts", [1, 2])
        self.assertEqual(status, 400)
        status, body = yield self.call("PATCH", "/api/accounts")
        self.assertEqual(status, 405)
        status, body = yield self.call("GET", "/api/nothing")
        self.assertEqual(status, 404)
        status, body = yield self.call("POST", "/api/signup",
                                       {"name": "eve12345", "password": PASSWORD}, token=False)
        self.assertEqual(status, 403)  # the sign-up page is off by default

    @defer.inlineCallbacks
    def test_sessions_status_kick_and_suspend(self):
        for name in ("bobby01", "carol01"):
            yield self.call("POST", "/api/accounts", {"name": name, "password": PASSWORD})
        bob = yield self.sign_in("bobby01")
        carol = yield self.sign_in("carol01", label="4.1.0.130", supernode=False)
        self.addCleanup(bob.close)
        self.addCleanup(carol.close)
        status, body = yield self.call("GET", "/api/sessions")
        sessions = body["sessions"]
        by_user = {}
        for s in sessions:
            for user in s["users"]:
                by_user.setdefault(user, []).append(s)
        self.assertEqual(sorted(s["role"] for s in by_user["bobby01"]), ["event", "supernode"])
        (carol_event,) = by_user["carol01"]
        self.assertEqual((carol_event["role"], carol_event["version"]), ("event", "4.1.0.130"))
        self.assertTrue(carol_event["peer"].startswith("127.0.0.1"))
        self.assertIsNotNone(carol_event["since"])

        status, body = yield self.call("GET", "/api/status")
        self.assertEqual(status, 200)
        self.assertEqual(body["users_online"], 2)
        self.assertEqual(body["sessions"]["event"], 2)
        self.assertEqual(body["sessions"]["supernode"], 1)
        self.assertEqual(body["sessions"]["login"], 0)
        self.assertIn({"role": "event", "version": "4.1.0.130", "count": 1},
                      body["sessions_per_version"])
        self.assertGreater(body["sessions_started_per_minute"]["event"], 0)
        self.assertGreater(body["uptime_seconds"], 0)
        self.assertFalse(body["registration_open"])

        status, text = yield self.call("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertIn('blissnode_sessions{role="event"} 2.0', text)
        self.assertIn('blissnode_sessions_by_version{role="event",version="4.1.0.130"} 1.0',
                      text)
        self.assertIn("blissnode_uptime_seconds", text)
        self.assertIn('blissnode_sessions_started_total{role="event"} 2.0', text)

        # kick carol's event connection
        status, body = yield self.call("DELETE", "/api/sessions/" + carol_event["session_id"])
        self.assertEqual(status, 200)
        yield self.wait_for(lambda: carol.event.protocol.transport is None
                            or carol.event.protocol.transport.disconnected, "the kick")
        status, body = yield self.call("DELETE", "/api/sessions/" + carol_event["session_id"])
        self.assertEqual(status, 404)

        # suspending bob ends both his sessions, and he cannot come back
        yield self.call("POST", "/api/accounts/bobby01/suspend")
        yield self.wait_for(lambda: not any("bobby01" in s.users
                                            for s in self.service.core.live_sessions()),
                            "bob's sessions to end")
        yield self.assertFailure(self.sign_in("bobby01"), EventClientError)

    @defer.inlineCallbacks
    def test_keys_registration_and_queues(self):
        status, keys = yield self.call("GET", "/api/keys")
        self.assertEqual(status, 200)
        self.assertEqual(bytes.fromhex(keys["login"]["modulus_hex"]), self.login_n)
        self.assertEqual(keys["credential"]["modulus_client_order_hex"],
                         bytes.fromhex(keys["credential"]["modulus_hex"])[::-1].hex())
        self.assertEqual(len(keys["login"]["fingerprint_sha256"]), 64)
        self.assertNotIn("file", keys["login"])

        status, body = yield self.call("GET", "/api/registration")
        self.assertEqual(body, {"open": False})
        result = yield self.login_result("newbie01", register=True)
        self.assertEqual(result.reason, "registration_closed")
        status, body = yield self.call("PUT", "/api/registration", {"open": True})
        self.assertEqual(body, {"open": True})
        result = yield self.login_result("newbie01", register=True)
        self.assertTrue(result.ok)
        yield self.call("PUT", "/api/registration", {"open": False})
        result = yield self.login_result("newbie02", register=True)
        self.assertEqual(result.reason, "registration_closed")

        yield self.call("POST", "/api/accounts", {"name": "dave0001", "password": PASSWORD})
        yield self.service.store.messages.store_message("newbie01", "dave0001", "chat", b"hi")
        status, body = yield self.call("GET", "/api/queues")
        self.assertEqual(body, {"queues": [{"recipient": "newbie01", "messages": 1,
                                            "bytes": 2}]})

        status, setup = yield self.call("GET", "/api/setup", token=False)
        self.assertEqual(setup["keys"], keys)
        self.assertEqual(setup["public_ip"], LOOPBACK)
        self.assertEqual(setup["ports"]["login"], self.ports["login-tcp"])


class SignupTests(AdminServerMixin, TestCase):
    extra_options = ("--admin-signup", "open", "--password-min-length", "10")

    @defer.inlineCallbacks
    def test_signup(self):
        status, body = yield self.call("POST", "/api/signup",
                                       {"name": "eve12345", "password": "nine char"},
                                       token=False)
        self.assertEqual(status, 400)
        self.assertIn("at least 10", body["error"])
        status, body = yield self.call("POST", "/api/signup",
                                       {"name": "eve12345", "password": "ten chars!"},
                                       token=False)
        self.assertEqual((status, body), (201, {"name": "eve12345"}))
        # the page exists only when enabled
        status, text = yield self.call("GET", "/signup", token=False)
        self.assertEqual(status, 200)
        self.assertIn("at least 10 characters", text)
        # bursts of 3 per address (the refused weak one counted too)
        status, body = yield self.call("POST", "/api/signup",
                                       {"name": "eve23456", "password": "ten chars!"},
                                       token=False)
        self.assertEqual(status, 201)
        status, body = yield self.call("POST", "/api/signup",
                                       {"name": "eve34567", "password": "ten chars!"},
                                       token=False)
        self.assertEqual(status, 429)
