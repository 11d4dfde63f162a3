"""``blissnode client``: argument checks, and the real command (in a child
process) against a supernode running in the test's reactor."""

import io
import json
import os
import sys

from twisted.internet import defer, utils
from twisted.trial.unittest import TestCase

from blissnode.cli import client as client_cmd
from blissnode.cli.main import CommandError, main
from tests.test_supernode_e2e import Supernode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ArgumentTests(TestCase):
    def run_main(self, argv):
        out, err = io.StringIO(), io.StringIO()
        code = main(argv, stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    def test_bad_addresses(self):
        for bad in ("nohost", ":33000", "host:", "host:abc", "host:0", "host:70000"):
            code, out, err = self.run_main(["client", "probe", bad])
            self.assertEqual(code, 1, bad)
            self.assertEqual(out, "", bad)
            self.assertEqual(len(err.splitlines()), 1, bad)
            self.assertTrue(err.startswith("blissnode client: "), err)

    def test_unknown_old_version(self):
        code, out, err = self.run_main(["client", "connect", "127.0.0.1:1", "--version", "1.2.0.18"])
        self.assertEqual(code, 1)
        self.assertIn("no client profile", err)

    def test_parse_address(self):
        self.assertEqual(client_cmd.parse_address("127.0.0.1:33000"), ("127.0.0.1", 33000))
        self.assertEqual(client_cmd.parse_address("[::1]:5"), ("::1", 5))
        self.assertRaises(CommandError, client_cmd.parse_address, "x")


class LiveTests(TestCase):
    timeout = 60

    def setUp(self):
        self.server = Supernode()
        self.addCleanup(self.server.stop)

    @defer.inlineCallbacks
    def blissnode(self, *argv):
        env = dict(os.environ, PYTHONPATH=ROOT)
        out, err, code = yield utils.getProcessOutputAndValue(
            sys.executable, ("-m", "blissnode") + argv, env=env, path=ROOT)
        return out.decode(), err.decode(), code

    @defer.inlineCallbacks
    def test_probe(self):
        out, err, code = yield self.blissnode(
            "client", "probe", "127.0.0.1:%d" % self.server.udp_port)
        self.assertEqual(code, 0, err)
        self.assertIn("<- nack", out)
        self.assertIn("-> resend", out)
        self.assertIn("cmd 28 reply", out)
        self.assertIn("cmd 36 reply", out)

    @defer.inlineCallbacks
    def test_connect_json(self):
        out, err, code = yield self.blissnode(
            "client", "connect", "127.0.0.1:%d" % self.server.tcp_port,
            "--udp-port", str(self.server.udp_port), "--version", "1.4.0.84", "--json")
        self.assertEqual(code, 0, err)
        result = json.loads(out)
        self.assertTrue(result["ok"])
        received = [c["cmd"] for e in result["events"] if e["direction"] == "received"
                    for c in e["details"].get("commands", ())]
        for cmd in (28, 31, 11, 47, 8, 42, 43):
            self.assertIn(cmd, received, out)
        self.assertNotIn(48, received)

    @defer.inlineCallbacks
    def test_connect_55_https(self):
        out, err, code = yield self.blissnode(
            "client", "connect", "127.0.0.1:%d" % self.server.https_port, "--https",
            "--udp-port", str(self.server.udp_port), "--version", "5.5.0.124")
        self.assertEqual(code, 0, err)
        for text in ("ssl server hello", "cmd 31 reply", "cmd 48 reply",
                     "cmd 42 reply", "cmd 43 notification", "closed"):
            self.assertIn(text, out)
        # Port 443 never uses DH-384, even for 5.5+ (ERRATA).
        self.assertNotIn("dh384", out)

    @defer.inlineCallbacks
    def test_connection_refused_is_one_line(self):
        port = self.server.https_port
        yield self.server.https.stopListening()
        self.server.ports.remove(self.server.https)
        out, err, code = yield self.blissnode(
            "client", "connect", "127.0.0.1:%d" % port, "--no-udp")
        self.assertEqual(code, 1)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertTrue(err.startswith("blissnode client: "), err)
