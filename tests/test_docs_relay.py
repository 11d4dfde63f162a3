"""docs/relay.rst's decoded example is what the encoders produce."""

import os

from twisted.trial.unittest import TestCase

from blissnode.supernode.request import make_command
from blissnode.wire.aes_ctr import encode_session_plaintext, seal_session_record
from blissnode.wire.objects import Int, Int64, String
from blissnode.wire.peer_messages import body_bytes
from blissnode.wire.relay_commands import (
    RelayAccepted,
    RelayJoin,
    RelayOpen,
    RelayStatus,
    rekey_session_record,
)
from blissnode.wire.tcp_commands import KIND_NOTIFICATION, KIND_REPLY, KIND_REQUEST
from blissnode.wire.tcp_records import PacketRecord

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   "docs", "relay.rst")
CID = 0x2A2B2C2D


def packet(pid, cmd, kind, rid, items):
    return PacketRecord(pid, [make_command(cmd, kind, items, rid)]).encode().hex()


class DecodedExampleTests(TestCase):
    def test_every_example_line_is_our_encoding(self):
        with open(DOC, encoding="utf-8") as f:
            text = f.read()
        plaintext = encode_session_plaintext(0x68A1, 0x43, body_bytes(
            [String(0, b"bob"), Int(3, 0x1111), Int64(9, 0x0102030405060708)]))
        sent = seal_session_record(plaintext, bytes(32), 0, 0, CID)
        expected = [
            packet(0x6D30, 73, KIND_REQUEST, 0x6D31, RelayOpen(0x1111).items()),
            packet(0xB8ED, 75, KIND_REPLY, 0x6D31, RelayAccepted(CID).items()),
            packet(0x0100, 74, KIND_REQUEST, 0x0101, RelayJoin(0x2222, CID).items()),
            packet(0xB8EE, 75, KIND_REPLY, 0x0101, RelayAccepted().items()),
            packet(0xB8EF, 84, KIND_NOTIFICATION, None, RelayStatus(0x2222).items()),
            sent.encode().hex(),
            rekey_session_record(sent, CID, 0x2222).encode().hex(),
        ]
        for line in expected:
            self.assertIn("    " + line + "\n", text)
        self.assertIn(plaintext.hex()[:8].replace("a1d10143", "a1d101 43"), text)
