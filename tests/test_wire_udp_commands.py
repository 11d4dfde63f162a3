"""UDP payload commands, probe / address replies and the ACK decision against
udp_packets.json (command_encoding, probe_reply, address_reply, ack_decision)."""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire.errors import LimitExceeded, ProtocolError
from blissnode.wire.objects import decode_objects
from blissnode.wire.udp_commands import (
    ACTION_ACK,
    ACTION_NOTHING,
    ACTION_REPLY,
    CMD_PROBE_OK,
    Command,
    KIND_NOTIFICATION,
    KIND_REPLY,
    KIND_REQUEST,
    ack_decision,
    addr_list,
    address_reply,
    answer_address_query,
    answer_probe,
    build_payload,
    encode_command,
    parse_payload,
    probe_reply,
)
from tests.vectors import cases

H = bytes.fromhex


class VectorTests(TestCase):
    def test_command_encoding(self):
        for c in cases("udp_packets.json", "command_encoding"):
            wire = encode_command(c["cmd"], c["cmd_kind"], c["request_id"], H(c["body_hex"]))
            self.assertEqual(wire.hex(), c["command_hex"], c)
            (command,) = parse_payload(H(c["command_hex"]))
            self.assertEqual((command.cmd, command.kind, command.request_id, command.body),
                             (c["cmd"], c["cmd_kind"], c["request_id"], H(c["body_hex"])), c)

    def test_probe_reply(self):
        for c in cases("udp_packets.json", "probe_reply"):
            request = H(c["request_plaintext_hex"])
            self.assertEqual(answer_probe(request).hex(), c["reply_plaintext_hex"], c)
            (cmd,) = parse_payload(request)
            self.assertEqual(probe_reply(cmd.request_id).hex(), c["reply_plaintext_hex"], c)
            (reply,) = parse_payload(H(c["reply_plaintext_hex"]))
            self.assertEqual((reply.cmd, reply.kind, reply.request_id),
                             (CMD_PROBE_OK, KIND_REPLY, cmd.request_id), c)

    def test_address_reply(self):
        for c in cases("udp_packets.json", "address_reply"):
            request = H(c["request_plaintext_hex"])
            got = answer_address_query(request, c["peer_ip"], c["peer_port"])
            self.assertEqual(got.hex(), c["reply_plaintext_hex"], c)
            (cmd,) = parse_payload(request)
            self.assertEqual(address_reply(cmd.request_id, c["peer_ip"], c["peer_port"]).hex(),
                             c["reply_plaintext_hex"], c)
            # cross-check the hand-built list with the object-list codec
            (reply,) = parse_payload(got)
            (item,) = list(decode_objects(reply.body))
            self.assertEqual((item.id, item.value.ip, item.value.port),
                             (0x11, c["peer_ip"], c["peer_port"]), c)

    def test_ack_decision(self):
        for c in cases("udp_packets.json", "ack_decision"):
            self.assertEqual(ack_decision(c["commands"]), c["action"], c)
            pairs = [(x["cmd"], x["cmd_kind"]) for x in c["commands"]]
            self.assertEqual(ack_decision(pairs), c["action"], c)
            objs = [Command(cmd, kind, None if kind == 1 else 1, b"\x41\x00")
                    for cmd, kind in pairs]
            self.assertEqual(ack_decision(objs), c["action"], c)


class BehaviourTests(TestCase):
    def test_ack_decision_answers_parameter(self):
        self.assertEqual(ack_decision([(999, KIND_REQUEST)], answers={999}), ACTION_REPLY)
        self.assertEqual(ack_decision([(999, KIND_REQUEST), (12, KIND_NOTIFICATION)]),
                         ACTION_ACK)
        self.assertEqual(ack_decision([(27, KIND_REQUEST)], answers=lambda cmd: False),
                         ACTION_NOTHING)

    def test_multi_command_payload(self):
        cmds = [Command(14, KIND_REQUEST, 0x100, b"\x41\x00"),
                Command(14, KIND_REQUEST, 0x101, b"\x42\x15"),
                Command(12, KIND_NOTIFICATION, None, b"\x41\x00")]
        self.assertEqual(parse_payload(build_payload(cmds)), cmds)

    def test_bad_payloads(self):
        for bad in (b"", b"\x04", b"\x04\xda\x01\x0e", b"\x04\xda\x01\x0e\x18\x42\x15\x00",
                    b"\x01\xda\x01\x0e", b"\xff\xff\xff\xff\xff\xff"):
            self.assertRaises(ProtocolError, parse_payload, bad)
        self.assertRaises(LimitExceeded, parse_payload, b"\x02\x61\x41\x00" * 5,
                          max_commands=4)
        self.assertRaises(ProtocolError, answer_probe, H("049a02ad6b4215"))
        self.assertRaises(ProtocolError, answer_address_query, H("04da0159764215"),
                          "1.2.3.4", 5)

    def test_addr_list(self):
        self.assertEqual(addr_list(0x11, "1.2.3.4", 1234).hex(), "410102110102030404d2")
        self.assertRaises(ValueError, addr_list, 0x80, "1.2.3.4", 1)
        self.assertRaises(ValueError, addr_list, 0x11, "1.2.3.4", 70000)

    @settings(max_examples=400, deadline=None)
    @given(st.binary(max_size=64))
    def test_random_bytes(self, data):
        try:
            parse_payload(data)
        except ProtocolError:
            pass
        try:
            answer_probe(data)
        except ProtocolError:
            pass

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 2 ** 29 - 1), st.sampled_from([1, 2, 3]),
                              st.integers(0, 0xFFFF),
                              st.sampled_from([b"\x41", b"\x42"]).flatmap(
                                  lambda m: st.binary(max_size=20).map(lambda b: m + b))),
                    min_size=1, max_size=5))
    def test_round_trip(self, specs):
        cmds = [Command(cmd, kind, None if kind == 1 else rid, body)
                for cmd, kind, rid, body in specs]
        self.assertEqual(parse_payload(build_payload(cmds)), cmds)
