"""The reference client's supernode TCP side against server bytes of every
greeting real nodes sent (ERRATA: 01 from Microsoft's nodes on 443, 0F from
peers, 03 from the 1.4-era nodes)."""

from twisted.internet import task
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import TestCase

from blissnode.client.profiles import PROFILES
from blissnode.client.tcp import SupernodeClientProtocol
from blissnode.client.transcript import Transcript
from blissnode.wire.seed_exchange import Greeting, build_seed_exchange, random_padding


def _server_start(final):
    data, _ = build_seed_exchange(0x1234ABCD, Greeting(0x0157, final), random_padding().encode())
    return data


class GreetingTests(TestCase):
    def run_client(self, final):
        clock = task.Clock()
        proto = SupernodeClientProtocol(PROFILES["4.2.0.187"], Transcript(clock), clock)
        results = []
        proto.handshake.addCallbacks(lambda p: results.append("ok"),
                                     lambda f: results.append(f.getErrorMessage()))
        proto.makeConnection(StringTransport())
        proto.dataReceived(_server_start(final))
        return results

    def test_real_finals_accepted(self):
        for final in (0x01, 0x03, 0x0F):
            self.assertEqual(self.run_client(final), ["ok"], hex(final))

    def test_other_finals_refused(self):
        for final in (0x00, 0x02, 0x10, 0xFF):
            [message] = self.run_client(final)
            self.assertIn("greeting ends in %02x" % final, message)
