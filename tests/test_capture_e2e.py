"""
A capture of the reference client against the real server on loopback,
decoded with the server's data directory: the bytes the client sent and
received are recorded at the client core, written as a pcap, and
``blissnode decode pcap --data-dir`` must show the login request and the
credential the server issued.
"""

import io
import json
import os

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from blissnode.cli.main import main
from blissnode.client.login import LoginClientCore, generate_user_key, login
from tests.capture_helpers import CaptureBuilder
from tests.event_helpers import LOOPBACK


class RecordingCore(object):
    """Wraps a client core and keeps every byte it sent and received, in order."""

    def __init__(self, core):
        self.core = core
        self.chunks = []

    def start(self):
        out = self.core.start()
        self.chunks.append(("c2s", out))
        return out

    def receive(self, data):
        self.chunks.append(("s2c", bytes(data)))
        out = self.core.receive(data)
        if out:
            self.chunks.append(("c2s", out))
        return out

    def __getattr__(self, name):
        return getattr(self.core, name)


class LoopbackCaptureTests(TestCase):
    timeout = 120

    @defer.inlineCallbacks
    def setUp(self):
        from blissnode import tap
        from blissnode.keys import load_server_keys

        self.data_dir = os.path.abspath(os.path.join(self.mktemp(), "data"))
        options = tap.Options()
        options.parseOptions([
            "--data-dir", self.data_dir, "--public-ip", LOOPBACK,
            "--supernode-tcp", "tcp:0:interface=127.0.0.1",
            "--supernode-udp", "udp:0:interface=127.0.0.1",
            "--supernode-https", "tcp:0:interface=127.0.0.1",
            "--login-tcp", "tcp:0:interface=127.0.0.1",
            "--event-tcp", "tcp:0:interface=127.0.0.1",
            "--registration", "open"])  # the users sign up from the client
        self.service = tap.makeService(options, reactor)
        self.service.privilegedStartService()
        self.service.startService()
        self.addCleanup(self.service.stopService)
        yield self.service.store.ready
        child = self.service.getServiceNamed("login-tcp")
        port = child.port
        if port is None:
            port = yield child._waitingForPort
        self.port = port.getHost().port
        self.keys = load_server_keys(self.data_dir)

    @defer.inlineCallbacks
    def record_login(self, label, name):
        core = LoginClientCore(label, name, password="correct horse",
                               login_modulus=self.keys.login_modulus,
                               credential_modulus=self.keys.credential_modulus,
                               user_key=generate_user_key(), register=True)
        recorder = RecordingCore(core)
        result = yield login(reactor, LOOPBACK, self.port, recorder)
        self.assertEqual(result.credential.name, name)
        cap = CaptureBuilder()
        conv = cap.tcp((LOOPBACK, 50123), (LOOPBACK, self.port))
        conv.open()
        conv.replay(recorder.chunks, mss=100)
        conv.close()
        return cap, core, result

    def decode(self, cap, *options):
        path = cap.write(self.mktemp())
        out, err = io.StringIO(), io.StringIO()
        status = main(["decode", "pcap", path, "--data-dir", self.data_dir] + list(options),
                      stdout=out, stderr=err)
        self.assertEqual(status, 0, err.getvalue())
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        return lines[:-1], lines[-1]["summary"]

    def check(self, events, summary, name, core, result):
        request, reply = [e for e in events if e["layer"] == "server-record"]
        login_request = request["login_request"]
        self.assertEqual(login_request["header"]["name"], name)
        self.assertEqual(login_request["header"]["credential_md5"], core.credential16.hex())
        self.assertEqual(login_request["body"]["user_modulus"], core.user_modulus.hex())
        self.assertEqual(reply["reply"]["result"], 4200)
        credential = reply["reply"]["credential"]
        self.assertEqual((credential["name"], credential["expiry"]),
                         (name, result.credential.expiry))
        self.assertEqual(summary["undecoded"], [])

    @defer.inlineCallbacks
    def test_classic_login(self):
        cap, core, result = yield self.record_login("4.1.0.130", "erin.capture")
        events, summary = self.decode(cap)
        self.assertEqual(summary["flow_kinds"], {"server-plain": 1})
        (kx,) = [e for e in events if e["layer"] == "key-exchange"]
        self.assertEqual(kx["aes_key"], core.key.hex())
        self.check(events, summary, "erin.capture", core, result)

    @defer.inlineCallbacks
    def test_dh384_login_with_the_secret(self):
        cap, core, result = yield self.record_login("6.16.0.105", "frank.capture")
        self.assertIsNotNone(core.session.dh_secret)
        events, summary = self.decode(cap, "--dh-secret", "1=" + core.session.dh_secret.hex())
        self.assertEqual(summary["flow_kinds"], {"server-dh384": 1})
        self.check(events, summary, "frank.capture", core, result)
