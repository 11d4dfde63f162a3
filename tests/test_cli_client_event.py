"""``blissnode client contacts | add-contact | accept | send | inbox`` as
separate processes against a login + event server built by tap.makeService."""

import json
import os
import sys

from twisted.internet import defer, reactor, utils
from twisted.trial.unittest import TestCase

from blissnode.wire.credentials import md5_credential

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class EventCommandTests(TestCase):
    timeout = 120

    @defer.inlineCallbacks
    def setUp(self):
        from blissnode import tap

        self.data_dir = os.path.join(os.path.abspath(self.mktemp()), "data")
        options = tap.Options()
        options.parseOptions([
            "--data-dir", self.data_dir,
            "--supernode-tcp", "none", "--supernode-udp", "none", "--supernode-https", "none",
            "--login-tcp", "tcp:0:interface=127.0.0.1",
            "--event-tcp", "tcp:0:interface=127.0.0.1"])
        self.service = tap.makeService(options, reactor)
        self.service.privilegedStartService()
        self.service.startService()
        self.addCleanup(self.service.stopService)
        yield self.service.store.ready
        for name, password in (("alice_cli", "apw"), ("bobby_cli", "bpw")):
            yield self.service.store.accounts.create_account(name, md5_credential(name, password))
            with open(os.path.join(self.data_dir, "..", name), "w") as f:
                f.write(password + "\n")
        self.login_port = self.service.getServiceNamed("login-tcp").port.getHost().port
        self.event_port = self.service.getServiceNamed("event-tcp").port.getHost().port

    @defer.inlineCallbacks
    def blissnode(self, action, user, *argv, version="6.16.0.105"):
        env = dict(os.environ, PYTHONPATH=ROOT)
        args = ("-m", "blissnode", "client", action, "127.0.0.1:%d" % self.event_port) + argv + (
            "--user", user, "--version", version, "--login", "127.0.0.1:%d" % self.login_port,
            "--data-dir", self.data_dir,
            "--password-file", os.path.join(self.data_dir, "..", user))
        out, err, code = yield utils.getProcessOutputAndValue(sys.executable, args, env=env,
                                                              path=ROOT)
        return out.decode(), err.decode(), code

    @defer.inlineCallbacks
    def test_conversation(self):
        out, err, code = yield self.blissnode("add-contact", "alice_cli", "bobby_cli",
                                              "--text", "hi bob", version="1.4.0.84")
        self.assertEqual(code, 0, err)
        self.assertIn("u/bobby_cli", out)
        self.assertIn("pending_out", out)
        out, err, code = yield self.blissnode("inbox", "bobby_cli", "--json",
                                              version="4.1.0.130")
        self.assertEqual(code, 0, err)
        data = json.loads(out)
        self.assertEqual([(m["from"], m["kind"], m["text"]) for m in data["messages"]],
                         [("alice_cli", "auth_request", "hi bob")])
        out, err, code = yield self.blissnode("accept", "bobby_cli", "alice_cli")
        self.assertEqual(code, 0, err)
        self.assertIn("authorized", out)
        out, err, code = yield self.blissnode("send", "alice_cli", "bobby_cli", "hello there",
                                              version="5.5.0.124")
        self.assertEqual(code, 0, err)
        self.assertIn("queued for bobby_cli", out)
        self.assertIn("offline", out)
        out, err, code = yield self.blissnode("contacts", "alice_cli", "--json")
        self.assertEqual(code, 0, err)
        (entry,) = json.loads(out)["entries"]
        self.assertEqual((entry["key"], entry["state"], entry["status"]),
                         ("u/bobby_cli", "authorized", "offline"))
        out, err, code = yield self.blissnode("inbox", "bobby_cli")
        self.assertEqual(code, 0, err)
        self.assertIn("message alice_cli: hello there", out)
        out, err, code = yield self.blissnode("inbox", "bobby_cli")
        self.assertEqual((code, out.strip()), (0, "no messages"), err)

    @defer.inlineCallbacks
    def test_wrong_password_is_one_line(self):
        with open(os.path.join(self.data_dir, "..", "alice_cli"), "w") as f:
            f.write("wrong\n")
        out, err, code = yield self.blissnode("contacts", "alice_cli")
        self.assertEqual(code, 1)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("login refused", err)
