"""The reference client's UDP timers and datagram handling, on a fake clock
with the server side played by blissnode.wire directly."""

from twisted.internet import task
from twisted.trial.unittest import TestCase

from blissnode.client.profiles import PROFILES
from blissnode.client.transcript import Transcript
from blissnode.client.udp import UdpClient, UdpTimeout
from blissnode.wire import udp as wudp
from blissnode.wire.tcp_commands import KIND_NOTIFICATION, KIND_REPLY, Command
from blissnode.wire.udp_commands import build_payload, parse_payload

SERVER = ("192.0.2.1", 33000)
CLIENT_IP = "198.51.100.7"


class FakeTransport:
    def __init__(self):
        self.sent = []

    def write(self, data, addr):
        self.sent.append((bytes(data), addr))

    def stopListening(self):
        pass


def make_client(public_ip=None):
    clock = task.Clock()
    client = UdpClient(PROFILES["1.4.0.84"], SERVER, clock, public_ip=public_ip,
                       transcript=Transcript(clock))
    client.transport = FakeTransport()
    return clock, client


def open_sent(data, src):
    """Server view: decrypt what the client sent, keyed with ``src``."""
    d = wudp.parse_datagram(data)
    if isinstance(d, wudp.ResendDatagram):
        return d, d.decrypt()
    return d, d.decrypt(src, SERVER[0])


class RetransmissionTests(TestCase):
    def test_request_sent_three_times_then_fails(self):
        clock, client = make_client(CLIENT_IP)
        d = client.slot_query(45)
        failures = []
        d.addErrback(failures.append)
        self.assertEqual(len(client.transport.sent), 1)
        clock.advance(1.9)
        self.assertEqual(len(client.transport.sent), 1)
        clock.advance(0.2)
        self.assertEqual(len(client.transport.sent), 2)
        clock.advance(3.9)
        self.assertEqual(len(client.transport.sent), 2)
        clock.advance(0.2)
        self.assertEqual(len(client.transport.sent), 3)
        sends = [open_sent(data, CLIENT_IP) for data, _ in client.transport.sent]
        # Same packet id and plaintext, a new IV each time (udp.md 7).
        self.assertEqual(len({d.packet_id for d, _ in sends}), 1)
        self.assertEqual(len({d.iv for d, _ in sends}), 3)
        self.assertEqual(len({p for _, (p, ok) in sends}), 1)
        self.assertTrue(all(ok for _, (p, ok) in sends))
        clock.advance(10)
        self.assertEqual(len(client.transport.sent), 3)
        self.assertEqual(len(failures), 1)
        failures[0].trap(UdpTimeout)

    def test_probe_is_sent_once(self):
        clock, client = make_client()
        d = client.probe()
        failures = []
        d.addErrback(failures.append)
        clock.advance(10)
        self.assertEqual(len(client.transport.sent), 1)
        failures[0].trap(UdpTimeout)

    def test_probe_is_keyed_with_zero_address(self):
        clock, client = make_client()
        client.probe().addErrback(lambda f: None)
        d, (plain, ok) = open_sent(client.transport.sent[0][0], "0.0.0.0")
        self.assertTrue(ok)
        (command,) = parse_payload(plain)
        self.assertEqual((command.cmd, command.kind), (27, 2))
        self.assertEqual(d.packet_id, (command.request_id + 1) & 0xFFFF)
        clock.advance(10)


class NackTests(TestCase):
    def test_nack_resend_reply(self):
        clock, client = make_client()
        d = client.probe()
        data, _ = client.transport.sent[0]
        probe, (plain, ok) = open_sent(data, "0.0.0.0")
        (command,) = parse_payload(plain)
        nack = wudp.NackDatagram(probe.packet_id, CLIENT_IP, 0x12345678, 0x47)
        client.datagramReceived(nack.to_bytes(), SERVER)
        self.assertEqual(client.public_ip, CLIENT_IP)
        resend, (plain2, ok2) = open_sent(client.transport.sent[1][0], None)
        self.assertIsInstance(resend, wudp.ResendDatagram)
        self.assertEqual((resend.nseed, resend.peer_ip, resend.packet_id),
                         (0x12345678, SERVER[0], probe.packet_id))
        self.assertTrue(ok2)
        self.assertEqual(plain2, plain)
        # The answer is keyed SRC = server, DST = our public address.
        answer = build_payload([Command(28, KIND_REPLY, command.request_id, b"\x42\x15")])
        client.datagramReceived(
            wudp.encrypt_payload(SERVER[0], CLIENT_IP, 0x5000, 99, answer), SERVER)
        replies = []
        d.addCallback(replies.append)
        self.assertEqual(replies[0].cmd, 28)
        self.assertFalse(clock.getDelayedCalls())

    def test_undecryptable_answer_is_nacked(self):
        clock, client = make_client(CLIENT_IP)
        client.probe().addErrback(lambda f: None)
        answer = build_payload([Command(28, KIND_REPLY, 1, b"\x42\x15")])
        wrong = wudp.encrypt_payload(SERVER[0], "10.0.0.1", 0x5000, 99, answer)
        client.datagramReceived(wrong, SERVER)
        nack = wudp.parse_datagram(client.transport.sent[-1][0])
        self.assertIsInstance(nack, wudp.NackDatagram)
        self.assertEqual((nack.packet_id, nack.your_ip), (0x5000, SERVER[0]))
        # The server's kind-3 resend with our challenge is accepted.
        resend = wudp.encrypt_resend(0x5000, nack.nseed, CLIENT_IP, answer)
        fx = client.core.receive(resend, SERVER)
        self.assertEqual([c.cmd for c in fx.replies], [28])
        clock.advance(10)

    def test_notification_is_acked(self):
        clock, client = make_client(CLIENT_IP)
        note = build_payload([Command(43, KIND_NOTIFICATION, None, b"\x41\x01\x00\x19\x05")])
        client.datagramReceived(wudp.encrypt_payload(SERVER[0], CLIENT_IP, 0x6000, 5, note), SERVER)
        ack = wudp.parse_datagram(client.transport.sent[-1][0])
        self.assertIsInstance(ack, wudp.AckDatagram)
        self.assertEqual((ack.packet_id, ack.your_ip), (0x6000, SERVER[0]))
        got = []
        client.notifications.get().addCallback(got.append)
        self.assertEqual(got[0].cmd, 43)

    def test_garbage_is_dropped(self):
        clock, client = make_client(CLIENT_IP)
        for junk in (b"", b"\x00", b"\x00\x01\x07abc", b"\x00\x01\x05" + b"y" * 8,
                     b"\x00\x01\x0f" + b"z" * 30):
            fx = client.core.receive(junk, SERVER)
            self.assertIsNotNone(fx.dropped, junk)
            self.assertEqual(fx.send, [], junk)
        # An undecryptable kind 2 is answered with a NACK, like the server does.
        fx = client.core.receive(b"\x00\x01\x02" + b"x" * 20, SERVER)
        self.assertIsNotNone(fx.dropped)
        self.assertIsInstance(wudp.parse_datagram(fx.send[0]), wudp.NackDatagram)
