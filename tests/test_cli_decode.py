"""``blissnode decode``: the spec's worked examples through the command line."""

import io
import json

from twisted.trial.unittest import TestCase

from blissnode.cli.main import main
from blissnode.wire.objects import Int, ObjectList, encode_objects
from blissnode.wire.seed_exchange import build_seed_exchange
from blissnode.wire.tcp_commands import Command
from blissnode.wire.tcp_records import AckRecord, PacketRecord
from tests.vectors import cases


def run(*argv, stdin=""):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


class ObjectsTests(TestCase):
    def test_worked_example_41(self):
        # objects.md 3.2
        status, out, err = run("decode", "objects", "410300039f490300786f745f69616d00001b01")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(json.loads(out), {
            "format": "41",
            "lists": [[{"type": 0, "id": 3, "value": 9375},
                       {"type": 3, "id": 0, "value": "786f745f69616d"},
                       {"type": 0, "id": 27, "value": 1}]],
            "rest": ""})

    def test_worked_example_42_from_stdin(self):
        # objects.md 4.9.1: 7917455 users online, pasted with spaces and 0x
        status, out, _ = run("decode", "objects", stdin="0x42 b0 9f\n39 bc 4c dc\n")
        self.assertEqual(status, 0)
        self.assertEqual(json.loads(out)["lists"], [[{"type": 0, "id": 9, "value": 7917455}]])
        self.assertEqual(json.loads(out)["format"], "42")

    def test_two_lists_and_rest(self):
        status, out, _ = run("decode", "objects", "41 02 00 01 e8 20 00 02 01", "41 00", "ff ee")
        result = json.loads(out)
        self.assertEqual(status, 0)
        self.assertEqual(len(result["lists"]), 2)
        self.assertEqual(result["lists"][0][0], {"type": 0, "id": 1, "value": 4200})
        self.assertEqual(result["rest"], "ffee")

    def test_every_vector_list_has_the_vector_shape(self):
        for case in cases("objects41.json", "list"):
            status, out, err = run("decode", "objects", case["encoded_hex"])
            self.assertEqual(status, 0, (case, err))
            self.assertEqual(json.loads(out)["lists"], [case["list"]], case)

    def test_pretty(self):
        status, out, _ = run("decode", "objects", "--pretty", "410300039f490300786f745f69616d00001b01")
        self.assertEqual(status, 0)
        # Items as "TYPE id = value", strings as text (not hex).
        self.assertIn("INT 0x3 = 9375", out)
        self.assertIn('STRING 0x0 = "xot_iam"', out)
        self.assertRaises(ValueError, json.loads, out)


class ErrorTests(TestCase):
    def test_bad_hex(self):
        status, out, err = run("decode", "objects", "41 0g")
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(err.count("\n"), 1)
        self.assertIn("bad hex", err)
        self.assertNotIn("Traceback", err)

    def test_undecodable(self):
        for argv in [("decode", "objects", "41 05 00"),
                     ("decode", "udp", "--src", "1.2.3.4", "--dst", "5.6.7.8", "0001"),
                     ("decode", "tcp", "--from-start", "0011"),
                     ("decode", "tcp", "--seed-hex", "0102", "00")]:
            status, out, err = run(*argv)
            self.assertEqual(status, 1, argv)
            self.assertEqual(out, "")
            self.assertEqual(err.count("\n"), 1, err)
            self.assertNotIn("Traceback", err)

    def test_usage_error_is_status_2(self):
        status, _, _ = run("decode", "udp", "0001")
        self.assertEqual(status, 2)


class TCPTests(TestCase):
    # tcp.md 2.3 (BATO, Skype 1.4.0.84 -> supernode)
    CLIENT = "79 8a 13 ec ac 55 81 00 65 f2 94 9c 28 9b 9c 39 b1 13 97 f2 f9 b3"
    SERVER_PADDING_START = "f9 e0"

    def test_worked_example_from_start(self):
        status, out, _ = run("decode", "tcp", "--from-start", self.CLIENT)
        result = json.loads(out)
        self.assertEqual(status, 0)
        self.assertEqual(result["seed"], "798a13ec")
        self.assertEqual(result["greeting"], "00010000000100000003")
        self.assertEqual(result["plaintext"], "306d3013f2016d2f")

    def test_undecodable_record_prints_what_decoded_and_fails(self):
        good = PacketRecord(0x10, [Command(38, 1, None, b"\x41\x00")]).encode()
        stream, _ = build_seed_exchange(0x798A13EC, first_record=good + b"\x08\x00\x01\xff\xff")
        status, out, err = run("decode", "tcp", "--from-start", stream.hex())
        self.assertEqual(status, 1)
        self.assertEqual(len(json.loads(out)["records"]), 1)
        self.assertIn("undecodable", err)

    def test_worked_example_with_seed(self):
        status, out, _ = run("decode", "tcp", "--seed-hex", "dadb19eb", self.SERVER_PADDING_START)
        result = json.loads(out)
        self.assertEqual(status, 0)
        self.assertEqual(result["plaintext"], "6f03")
        self.assertNotIn("seed", result)

    def test_records_commands_objects(self):
        body = encode_objects(ObjectList([Int(1, 2), Int(0x10, 37058)]), compressed=True)
        records = (PacketRecord(0x6D30, [Command(30, 2, 0x6D2F, body)]).encode()
                   + AckRecord(0xB8EE).encode())
        stream, _ = build_seed_exchange(0x798A13EC, first_record=records)
        status, out, _ = run("decode", "tcp", "--from-start", stream.hex())
        result = json.loads(out)
        self.assertEqual(status, 0)
        self.assertEqual(result["plaintext"], records.hex())
        packet, ack = result["records"]
        self.assertEqual(packet["packet_id"], 0x6D30)
        command = packet["commands"][0]
        self.assertEqual((command["cmd"], command["kind"], command["request_id"]), (30, 2, 0x6D2F))
        self.assertEqual(command["objects"], [{"type": 0, "id": 1, "value": 2},
                                              {"type": 0, "id": 16, "value": 37058}])
        self.assertEqual(ack["type"], "ack")
        self.assertEqual(ack["packet_id"], 0xB8EE)
        # The same stream keyed by --seed-hex from after the greeting.
        status, out2, _ = run("decode", "tcp", "--seed-hex", "798a13ec", stream[14:].hex())
        self.assertEqual(json.loads(out2)["records"], result["records"])


class UDPTests(TestCase):
    def test_every_payload_vector(self):
        for case in cases("udp_obfuscation.json", "payload"):
            status, out, err = run("decode", "udp", "--src", case["src_ip"], "--dst",
                                   case["dst_ip"], case["datagram_hex"])
            self.assertEqual(status, 0, err)
            result = json.loads(out)
            self.assertEqual(result["packet_id"], case["packet_id"])
            self.assertEqual(result["type"], "payload")
            self.assertEqual(result["plaintext"], case["plaintext_hex"])
            self.assertIs(result["crc_ok"], True)

    def test_worked_example_probe(self):
        # obfuscation.md 3.10: a probe keyed with 0.0.0.0
        status, out, _ = run("decode", "udp", "--src", "0.0.0.0", "--dst", "192.0.2.10",
                             "2a51023c0de5f114b8baed4d5dfc72c40b1f")
        result = json.loads(out)
        self.assertEqual(status, 0)
        self.assertEqual(result["commands"][0]["cmd"], 27)
        self.assertEqual(result["commands"][0]["request_id"], 0x2A50)
        # Given the client's real address, the view finds the 0.0.0.0 keying.
        status, out, _ = run("decode", "udp", "--src", "198.51.100.7", "--dst", "192.0.2.10",
                             "2a51023c0de5f114b8baed4d5dfc72c40b1f")
        result = json.loads(out)
        self.assertEqual(status, 0)
        self.assertIs(result["crc_ok"], True)
        self.assertEqual(result["keyed_src"], "0.0.0.0")
        # A wrong receiver address cannot be repaired.
        status, out, _ = run("decode", "udp", "--src", "198.51.100.7", "--dst", "192.0.2.11",
                             "2a51023c0de5f114b8baed4d5dfc72c40b1f")
        self.assertEqual(status, 0)
        self.assertIs(json.loads(out)["crc_ok"], False)

    def test_every_header_vector(self):
        for case in cases("udp_packets.json", "header_parse"):
            status, out, err = run("decode", "udp", "--src", "1.2.3.4", "--dst", "5.6.7.8",
                                   case["datagram_hex"])
            if status == 0:
                result = json.loads(out)
                self.assertEqual(result["packet_id"], case["packet_id"], case)
                self.assertEqual(result["type_byte"], case["type_byte"], case)
                self.assertEqual(result["kind"], case["kind_nibble"], case)
            else:
                # Only a known kind whose body is too short may fail.
                self.assertIn(case["kind_nibble"], (2, 3, 5, 7, 15), (case, err))
                self.assertIn("cannot decode", err)
        audio = run("decode", "udp", "--src", "1.2.3.4", "--dst", "5.6.7.8", "00010d0102")
        self.assertEqual(audio[0], 0)
        self.assertEqual(json.loads(audio[1])["payload"], "0102")

    def test_resend_with_challenge(self):
        # udp.md 10: NACK then resend, real bytes (IRC06)
        resend = "15 f2 03 01 24 49 9e b8 a5 7c fd f1 64 4a 65 4d 9c 31 6e 2c e9 8f c0"
        status, out, _ = run("decode", "udp", "--src", "86.128.245.115", "--dst",
                             "165.124.253.241", "--challenge", "24499eb8", resend)
        result = json.loads(out)
        self.assertEqual(status, 0)
        self.assertEqual(result["type"], "resend")
        self.assertEqual(result["plaintext"], "04da0115f14215")
        self.assertEqual(result["commands"][0]["cmd"], 27)
        status, _, err = run("decode", "udp", "--src", "86.128.245.115", "--dst",
                             "165.124.253.241", "--challenge", "00000001", resend)
        self.assertEqual(status, 1)
        self.assertIn("challenge", err)

    def test_every_resend_vector(self):
        for case in cases("udp_obfuscation.json", "resend"):
            status, out, err = run("decode", "udp", "--src", "0.0.0.0", "--dst", case["dst_ip"],
                                   "--challenge", case["challenge"], case["datagram_hex"])
            self.assertEqual(status, 0, err)
            self.assertEqual(json.loads(out)["plaintext"], case["plaintext_hex"])

    def test_nack_and_ack_are_clear(self):
        status, out, _ = run("decode", "udp", "--src", "1.2.3.4", "--dst", "5.6.7.8",
                             "15 f2 77 56 80 f5 73 24 49 9e b8")
        result = json.loads(out)
        self.assertEqual((status, result["type"]), (0, "nack"))
        self.assertEqual(result["header"]["your_ip"], "86.128.245.115")
        self.assertEqual(result["header"]["nseed"], "24499eb8")
        status, out, _ = run("decode", "udp", "--src", "1.2.3.4", "--dst", "5.6.7.8",
                             "16 53 25 56 80 f5 73 0b eb 2c a9")
        self.assertEqual(json.loads(out)["type"], "ack")

    def test_fragment(self):
        case = cases("udp_iv.json", "fragment")[0]
        status, out, _ = run("decode", "udp", "--src", case["src_ip"], "--dst", case["dst_ip"],
                             case["datagram_hex"])
        result = json.loads(out)
        self.assertEqual((status, result["type"]), (0, "fragment"))
        self.assertEqual(result["plaintext"], case["plaintext_hex"])
        self.assertIn("reassemble", result["commands_error"])


class ModuleEntryPointTests(TestCase):
    def test_python_dash_m(self):
        import os
        import subprocess
        import sys

        import blissnode

        # Run from wherever the test runner put us (trial: _trial_temp), with
        # the package under test importable.
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(blissnode.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))

        done = subprocess.run(
            [sys.executable, "-m", "blissnode", "decode", "objects", "-"],
            input=b"42 dc 01 60 08 06 96", capture_output=True, timeout=60, env=env)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)["lists"],
                         [[{"type": 3, "id": 0, "value": "656e"},
                           {"type": 0, "id": 1, "value": 300}]])
        done = subprocess.run([sys.executable, "-m", "blissnode", "decode", "objects", "zz"],
                              capture_output=True, timeout=60, env=env)
        self.assertEqual(done.returncode, 1)
        self.assertNotIn(b"Traceback", done.stderr)
