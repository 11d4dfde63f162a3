"""``blissnode client chat`` and ``blissnode client receive`` as separate
processes against one service built by tap.makeService: a message directly,
one through the relay, the receiver printing ``FROM: TEXT`` and exiting
after ``--count``; an offline recipient; refused options."""

import json
import os
import sys

from twisted.internet import defer, reactor, task, utils
from twisted.trial.unittest import TestCase

from blissnode.wire.credentials import md5_credential
from tests.service_helpers import start_service
from tests.test_chat_e2e import _free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ChatCommandTests(TestCase):
    timeout = 180

    @defer.inlineCallbacks
    def setUp(self):

        self.data_dir = os.path.join(os.path.abspath(self.mktemp()), "data")
        self.main = _free_port()
        self.service, _ports = yield start_service(self, [
            "--data-dir", self.data_dir, "--public-ip", "127.0.0.1",
            "--supernode-tcp", "tcp:%d:interface=127.0.0.1" % self.main,
            "--supernode-udp", "udp:%d:interface=127.0.0.1" % self.main,
            "--supernode-https", "none",
            "--login-tcp", "tcp:0:interface=127.0.0.1",
            "--event-tcp", "tcp:0:interface=127.0.0.1",
            # the users sign up from the client, all from 127.0.0.1
            "--registration", "open", "--registrations-per-address", "100"])
        for name, password in (("alice_chat", "apw"), ("bobby_chat", "bpw")):
            yield self.service.store.accounts.create_account(name, md5_credential(name, password))
            with open(os.path.join(self.data_dir, "..", name), "w") as f:
                f.write(password + "\n")
        self.login_port = self.service.getServiceNamed("login-tcp").port.getHost().port
        self.event_port = self.service.getServiceNamed("event-tcp").port.getHost().port

    def blissnode(self, action, user, *argv, version="6.16.0.105"):
        env = dict(os.environ, PYTHONPATH=ROOT)
        args = ("-m", "blissnode", "client", action, "127.0.0.1:%d" % self.main) + argv + (
            "--user", user, "--version", version,
            "--login", "127.0.0.1:%d" % self.login_port,
            "--event", "127.0.0.1:%d" % self.event_port,
            "--data-dir", self.data_dir, "--timeout", "20",
            "--password-file", os.path.join(self.data_dir, "..", user))
        d = utils.getProcessOutputAndValue(sys.executable, args, env=env, path=ROOT)
        return d.addCallback(lambda r: (r[0].decode(), r[1].decode(), r[2]))

    @defer.inlineCallbacks
    def online(self, name):
        for _ in range(400):
            entries = yield self.service.supernode.directory.lookup_name(name)
            if entries and entries[0].user_record:
                return
            yield task.deferLater(reactor, 0.05, lambda: None)
        self.fail("%s never came online" % (name,))

    @defer.inlineCallbacks
    def test_direct_and_relayed_message(self):
        receiving = self.blissnode("receive", "bobby_chat", "--count", "2",
                                   "--listen", "127.0.0.1:0")
        yield self.online("bobby_chat")
        out, err, code = yield self.blissnode("chat", "alice_chat", "--to", "bobby_chat",
                                              "--message", "hello bob")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "delivered to bobby_chat directly, acknowledged\n")
        out, err, code = yield self.blissnode("chat", "alice_chat", "--to", "bobby_chat",
                                              "--message", "through the relay",
                                              "--via-relay", "--json")
        self.assertEqual(code, 0, err)
        result = json.loads(out)
        self.assertEqual((result["path"], result["acked"], result["relay"]),
                         ("relay", True, "127.0.0.1:%d" % self.main))
        out, err, code = yield receiving
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "alice_chat: hello bob\nalice_chat: through the relay\n")

    @defer.inlineCallbacks
    def test_offline_recipient_then_received(self):
        out, err, code = yield self.blissnode("chat", "alice_chat", "--to", "bobby_chat",
                                              "--message", "later", version="4.1.0.130")
        self.assertEqual(code, 0, err)
        self.assertTrue(out.startswith("bobby_chat is not online: stored as offline message"),
                        out)
        out, err, code = yield self.blissnode("receive", "bobby_chat", "--count", "1", "--json",
                                              "--listen", "127.0.0.1:0", version="4.1.0.130")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), {"from": "alice_chat", "text": "later",
                                           "path": "offline"})

    @defer.inlineCallbacks
    def test_refused_options(self):
        out, err, code = yield self.blissnode("chat", "alice_chat", "--to", "b", "--message",
                                              "x", version="1.4.0.84")
        self.assertNotEqual(code, 0)
        out, err, code = yield self.blissnode("receive", "bobby_chat", "--count", "0")
        self.assertEqual(code, 1)
        self.assertIn("--count", err)
