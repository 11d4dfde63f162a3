"""``blissnode decode pcap`` on captures the tests build from the wire
layer: every flow class, field by field."""

import io
import json
import os

from twisted.trial.unittest import TestCase

from blissnode.cli.main import main
from blissnode.wire import udp
from blissnode.wire.udp_commands import build_payload, probe_reply
from blissnode.wire.tcp_commands import Command
from tests import capture_traffic as T
from tests.capture_helpers import CaptureBuilder

CLIENT = ("10.0.0.2", 50000)
NODE = ("192.0.2.10", 40001)
LOGIN = ("192.0.2.20", 33033)
EVENT = ("192.0.2.50", 12350)


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def decoded(testcase, builder, *options, fmt="pcap", expect=0):
    path = builder.write(testcase.mktemp() + "." + fmt, fmt)
    status, out, err = run("decode", "pcap", path, *options)
    testcase.assertEqual(status, expect, err)
    lines = [json.loads(line) for line in out.splitlines()]
    summary = lines[-1]["summary"]
    return lines[:-1], summary


def layer(events, name, **match):
    return [e for e in events if e["layer"] == name
            and all(e.get(k) == v for k, v in match.items())]


def flow_report(summary, flow):
    return next(f for f in summary["flows"] if f["flow"] == flow)


class ClassicStreamTests(TestCase):
    def build(self):
        cap = CaptureBuilder()
        probe = build_payload([Command(27, 2, 0x0E18, b"\x42\x15")])
        # A client datagram keyed with 0.0.0.0, one keyed with the public
        # address that only the later cmd 31 reveals, and the node's answer.
        cap.udp(("10.0.0.2", 50001), NODE,
                udp.encrypt_payload("0.0.0.0", NODE[0], 0x0E19, 0x11223344, probe))
        cap.udp(("10.0.0.2", 50001), NODE,
                udp.encrypt_payload("198.51.100.7", NODE[0], 0x0E1A, 0x55667788, probe))
        cap.udp(NODE, ("10.0.0.2", 50001),
                udp.encrypt_payload(NODE[0], "198.51.100.7", 0xB8D9, 0x99AABBCC,
                                    probe_reply(0x0E18)))
        conv = cap.tcp(CLIENT, NODE)
        conv.open()
        (c, client_bytes), (s, server_bytes) = T.classic_stream()
        segments = conv.send("c2s", client_bytes, mss=9)
        conv.send("s2c", server_bytes)
        conv.close()
        # Out of order: the second client segment arrives last; the first is
        # retransmitted with more bytes than it first carried.
        cap.packets.remove(segments[1])
        cap.packets.append(segments[1])
        cap.packets.insert(cap.packets.index(segments[2]),
                           type(segments[0])(conv, "c2s", segments[0].seq, 0x18,
                                             client_bytes[:14]))
        return cap

    def test_udp_flows_first_then_tcp(self):
        events, summary = decoded(self, self.build())
        self.assertEqual(summary["flow_kinds"], {"classic-peer": 1, "udp-skype": 1})
        tcp = flow_report(summary, 2)
        self.assertEqual((tcp["client"], tcp["server"]), ("10.0.0.2:50000", "192.0.2.10:40001"))
        self.assertIn("c2s: 14 bytes retransmitted (seen twice, kept once)", tcp["notes"])
        self.assertEqual(tcp["undecoded"], [])

    def test_seed_exchange_and_commands(self):
        events, summary = decoded(self, self.build())
        seeds = layer(events, "seed-exchange")
        self.assertEqual([(e["direction"], e["seed"]) for e in seeds],
                         [("c2s", "798a13ec"), ("s2c", "dadb19eb")])
        self.assertEqual(seeds[0]["greeting"], {"tag": 1, "final": 3,
                                                "plaintext": "00010000000100000003"})
        records = layer(events, "peer-record", direction="c2s")
        command = records[0]["commands"][0]
        self.assertEqual((records[0]["packet_id"], command["cmd"], command["kind"],
                          command["request_id"]), (0x6D30, 30, 2, 0x6D2F))
        self.assertEqual(records[0]["offset"], 14)
        self.assertEqual(command["objects"], [
            {"type": 0, "id": 1, "value": 15},
            {"type": 1, "id": 13, "value": 0x1122334455667788},
            {"type": 0, "id": 16, "value": 50001}])
        (reply,) = layer(events, "peer-record", direction="s2c", type="packet")
        self.assertEqual(reply["commands"][0]["decoded"], {"your_address": "198.51.100.7:50000"})
        self.assertEqual(reply["commands"][0]["objects"][2],
                         {"type": 2, "id": 17, "value": {"ip": "198.51.100.7", "port": 50000}})
        self.assertEqual(layer(events, "peer-record", direction="s2c")[0]["type"], "padding")

    def test_udp_keying_recovered(self):
        events, summary = decoded(self, self.build())
        probe0, probe1, answer = layer(events, "udp")
        self.assertEqual((probe0["keyed_src"], probe0["keyed_dst"]), ("0.0.0.0", NODE[0]))
        self.assertEqual(probe0["keying"]["src"],
                         "0.0.0.0 (the sender did not know its public address yet)")
        self.assertEqual(probe0["commands"][0]["cmd"], 27)
        self.assertEqual(probe0["commands"][0]["objects"], [])
        self.assertEqual(probe1["keyed_src"], "198.51.100.7")
        self.assertEqual(probe1["keying"]["src"], "cmd 31 reply (the address a supernode saw)")
        self.assertEqual((answer["keyed_src"], answer["keyed_dst"]), (NODE[0], "198.51.100.7"))
        self.assertEqual(answer["commands"][0]["cmd"], 28)
        self.assertEqual(answer["packet_id"], 0xB8D9)
        self.assertTrue(all(e["crc_ok"] for e in (probe0, probe1, answer)))
        self.assertEqual(summary["keying_addresses"],
                         [{"ip": "198.51.100.7",
                           "source": "cmd 31 reply (the address a supernode saw)"}])

    def test_pcapng_gives_the_same_events(self):
        cap = self.build()
        a, _ = decoded(self, cap)
        b, _ = decoded(self, cap, fmt="pcapng")
        self.assertEqual(a, b)
        self.assertEqual(len(a), 8)

    def test_pretty(self):
        path = self.build().write(self.mktemp())
        status, out, err = run("decode", "pcap", path, "--pretty", "--flow", "2")
        self.assertEqual(status, 0, err)
        self.assertIn('STRING 0x22 = "Grüße"', out)
        self.assertIn("STRING 0x23 = fffe", out)
        self.assertIn("ADDR 0x11 = 198.51.100.7:50000", out)
        self.assertIn("INT64 0xD = 1234605616436508552 (0x1122334455667788)", out)
        self.assertNotIn("layer udp", out.split("summary")[0])
        self.assertIn("flow 2  frame", out)

    def test_the_worked_example_of_the_docs(self):
        # docs/decoding.rst shows this capture's --pretty output: its lines
        # (those not elided) must be what the command prints, in order.
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with open(os.path.join(root, "docs", "decoding.rst"), encoding="utf-8") as f:
            text = f.read()
        block = text.split("The output, shortened (``...``)::\n\n", 1)[1].split("\n\n", 1)[0]
        shown = [line[4:] for line in block.splitlines() if line.strip() != "..."]
        path = self.build().write(self.mktemp())
        status, out, err = run("decode", "pcap", path, "--pretty")
        self.assertEqual(status, 0, err)
        lines = out.splitlines()
        pos = 0
        for line in shown:
            while pos < len(lines) and lines[pos] != line:
                pos += 1
            self.assertLess(pos, len(lines), "docs line not in the output (in order): %r" % line)
        self.assertGreater(len(shown), 40)

    def test_time_is_relative_to_the_first_frame(self):
        events, summary = decoded(self, self.build())
        self.assertEqual(events[0]["time"], 0.0)
        self.assertEqual(events[1]["time"], 0.001)
        self.assertEqual(summary["start_time"], 1431969644.0)


class DhPeerStreamTests(TestCase):
    def build(self):
        chunks, K = T.dh_peer_stream()
        cap = CaptureBuilder()
        conv = cap.tcp(CLIENT, NODE)
        conv.open()
        conv.replay(chunks)
        conv.close()
        return cap, K

    def test_without_the_secret(self):
        cap, K = self.build()
        events, summary = decoded(self, cap, expect=3)
        self.assertEqual(summary["flow_kinds"], {"dh384-peer": 1})
        self.assertEqual([(e["direction"], e["decoded"]) for e in events],
                         [("c2s", False), ("s2c", False)])
        self.assertEqual(summary["undecoded"], [
            "flow 1 (DH-384 peer stream) c2s: DH-384 peer stream: encrypted with a DH secret "
            "the capture does not hold",
            "flow 1 (DH-384 peer stream) s2c: DH-384 peer stream: encrypted with a DH secret "
            "the capture does not hold"])
        self.assertTrue(any("GUESS" in n for n in flow_report(summary, 1)["notes"]))

    def test_with_the_secret(self):
        cap, K = self.build()
        events, summary = decoded(self, cap, "--dh-secret", "1=" + K.hex())
        dh = layer(events, "dh384")
        self.assertEqual([(e["side"], e["hash_ok"], e["filler_length"]) for e in dh],
                         [("client", True, 13), ("server", True, 9)])
        self.assertEqual(dh[0]["filler"], "11" * 13)
        seeds = layer(events, "seed-exchange")
        self.assertEqual(sorted((e["direction"], e["seed"], e["offset"]) for e in seeds),
                         [("c2s", "798a13ec", 69), ("s2c", "dadb19eb", 65)])
        cmds = [(e["direction"], e["commands"][0]["cmd"]) for e in layer(events, "peer-record")
                if e["type"] == "packet"]
        self.assertEqual(sorted(cmds), [("c2s", 30), ("s2c", 31)])
        self.assertIn("class: checked with the --dh-secret given for this flow",
                      flow_report(summary, 1)["notes"])
        self.assertEqual(summary["undecoded"], [])

    def test_wrong_secret(self):
        cap, K = self.build()
        events, summary = decoded(self, cap, "--dh-secret", "1=" + "00" * 48, expect=3)
        self.assertEqual(summary["flow_kinds"], {"unknown": 1})
        self.assertIn("does not open", summary["undecoded"][0])

    def test_bad_secret_option(self):
        path = self.build()[0].write(self.mktemp())
        for value in ("1=00", "x=" + "00" * 48, "00" * 48):
            status, out, err = run("decode", "pcap", path, "--dh-secret", value)
            self.assertEqual((status, out), (1, ""), value)
            self.assertIn("--dh-secret", err)


class PreludeTests(TestCase):
    def check(self, server_hello):
        cap = CaptureBuilder()
        conv = cap.tcp(CLIENT, ("192.0.2.11", 443))
        conv.open()
        conv.replay(T.prelude_stream(server_hello))
        conv.close()
        events, summary = decoded(self, cap)
        self.assertEqual(summary["flow_kinds"], {"https-prelude-peer": 1})
        client, server = layer(events, "prelude")
        self.assertEqual(client["sslv2_client_hello"], {
            "version": "0301", "cipher_specs": 15, "challenge": bytes(range(16)).hex(),
            "skype_template": True})
        seeds = layer(events, "seed-exchange")
        self.assertEqual([(e["direction"], e["offset"]) for e in seeds],
                         [("c2s", 72), ("s2c", 79 if server_hello else 0)])
        (record,) = [e for e in layer(events, "peer-record") if e["type"] == "packet"]
        self.assertEqual(record["commands"][0]["cmd"], 30)
        return server

    def test_with_server_hello(self):
        server = self.check(True)
        self.assertEqual((server["length"], server["skype_template"]), (79, True))

    def test_without_server_hello(self):
        server = self.check(False)
        self.assertIsNone(server["server_hello"])
        self.assertIn("ERRATA", server["meaning"])


    def test_lost_server_hello_segment(self):
        # Real captures lost the node's 79-byte ServerHello segment and kept
        # its seed exchange behind it: decoding goes on after the hole.
        cap = CaptureBuilder()
        conv = cap.tcp(CLIENT, ("192.0.2.11", 443))
        conv.open()
        chunks = T.prelude_stream(True)
        conv.replay(chunks[:2])
        hello = conv.send("s2c", chunks[2][1][:79])
        conv.send("s2c", chunks[2][1][79:])
        cap.packets.remove(hello[0])
        events, summary = decoded(self, cap)
        (gap,) = [e for e in layer(events, "prelude") if e["direction"] == "s2c"]
        self.assertEqual(gap["missing_bytes"], 79)
        self.assertIn("GUESS", gap["meaning"])
        (seed,) = layer(events, "seed-exchange", direction="s2c")
        self.assertEqual((seed["seed"], seed["offset"]), ("dadb19eb", 79))
        self.assertEqual(summary["undecoded"], [])


class ServerTransportTests(TestCase):
    def setUp(self):
        self.data_dir, self.keys = T.server_keys()

    def login_capture(self):
        chunks, conn, credential = T.login_connection(self.keys)
        cap = CaptureBuilder()
        conv = cap.tcp(CLIENT, LOGIN)
        conv.open()
        conv.replay(chunks)
        conv.close()
        return cap, conn, credential

    def test_login_decrypted_with_the_data_dir(self):
        cap, conn, credential = self.login_capture()
        events, summary = decoded(self, cap, "--data-dir", self.data_dir)
        self.assertEqual(summary["flow_kinds"], {"server-plain": 1})
        hellos = layer(events, "server-hello")
        self.assertEqual([(e["direction"], e["meaning"]) for e in hellos], [
            ("c2s", "client hello 1"), ("s2c", "server answer to hello 1"),
            ("c2s", "client hello 2"), ("s2c", "server answer to hello 2")])
        (kx,) = layer(events, "key-exchange")
        self.assertEqual((kx["format"], kx["int9"], kx["int12"]), ("42", 8192, 1))
        self.assertEqual(kx["aes_key"], conn.key.hex())
        self.assertEqual(kx["session_random"], T.R24.hex())
        request, reply = layer(events, "server-record")
        login = request["login_request"]
        self.assertEqual(login["header"]["name"], "alice.smith")
        self.assertEqual(login["header"]["code"], 5027)
        self.assertEqual(login["body"]["version"], "0/6.16.0.10//")
        self.assertEqual(login["body"]["public_ip"], "178.65.58.174")
        self.assertEqual(login["body"]["node_record"]["public"], "178.65.50.174:57608")
        self.assertEqual(request["seq"], 0)
        self.assertEqual(reply["reply"]["result"], 4200)
        self.assertEqual(reply["reply"]["request_code"], 5027)
        cred = reply["reply"]["credential"]
        self.assertEqual((cred["name"], cred["key_id"], cred["expiry"]),
                         ("alice.smith", 1, 24000000))
        self.assertEqual(cred["user_modulus"], T.USER_MODULUS.hex())
        self.assertEqual(cred["expiry_utc"], "2015-08-19T16:00:00+00:00")
        self.assertEqual(summary["undecoded"], [])

    def test_login_without_keys(self):
        cap, conn, credential = self.login_capture()
        events, summary = decoded(self, cap)
        request, reply = layer(events, "server-record")
        self.assertFalse(request["decoded"])
        self.assertEqual((request["seq"], reply["seq"]), (0, 0))
        self.assertIn("give --data-dir", request["why"])
        self.assertEqual(len(summary["undecoded"]), 2)

    def test_event_connection_seq_from_trailers(self):
        chunks, conn = T.event_connection(self.keys)
        cap = CaptureBuilder()
        conv = cap.tcp(CLIENT, EVENT)
        conv.open()
        conv.replay(chunks)
        conv.close()
        events, summary = decoded(self, cap, "--data-dir", self.data_dir)
        (kx,) = layer(events, "key-exchange")
        self.assertEqual(kx["format"], "41")
        records = layer(events, "server-record")
        self.assertEqual([(e["direction"], e["seq"]) for e in records],
                         [("c2s", 0), ("s2c", 0), ("s2c", 1), ("c2s", 1), ("s2c", 2)])
        first = records[0]["event_request"]
        self.assertEqual((first["header"]["code"], first["header"]["request_id"], first["name"],
                          first["version"], first["public_ip"]),
                         (6016, 3, "alice.smith", "0/6.16.0.10//", "198.51.100.7"))
        self.assertEqual(first["items"], [{"type": 0, "id": 20, "value": 1}])
        self.assertEqual([(r["reply"]["result"], r["reply"]["request_code"])
                          for r in records if r["direction"] == "s2c"],
                         [(4200, 6016), (4200, 6016), (8401, 6028)])
        self.assertEqual(records[-1]["reply"]["result_name"], "authentication failed")

    def test_another_servers_key(self):
        other = os.path.abspath(self.mktemp())
        os.makedirs(other)
        from blissnode.keys import load_or_create_server_keys
        from blissnode.keys import generate_private_key
        small = {}

        def generate(bits):
            if bits not in small:
                small[bits] = generate_private_key(bits)
            return small[bits]
        load_or_create_server_keys(other, generate=generate)
        cap, conn, credential = self.login_capture()
        events, summary = decoded(self, cap, "--data-dir", other)
        (kx,) = layer(events, "key-exchange")
        self.assertTrue(kx["session_seed"].startswith("not opened"))
        self.assertIn("another login key", summary["undecoded"][0])

    def test_missing_data_dir(self):
        path = self.login_capture()[0].write(self.mktemp())
        status, out, err = run("decode", "pcap", path, "--data-dir", self.mktemp())
        self.assertEqual((status, out), (1, ""))
        self.assertIn("--data-dir", err)
        self.assertEqual(err.count("\n"), 1)

    def test_dh_server_transport(self):
        chunks, K = T.dh_server_connection(self.keys)
        cap = CaptureBuilder()
        conv = cap.tcp(CLIENT, LOGIN)
        conv.open()
        conv.replay(chunks)
        conv.close()
        events, summary = decoded(self, cap, expect=3)
        self.assertEqual(summary["flow_kinds"], {"server-dh384": 1})
        self.assertIn("DH-384 server transport: encrypted with a DH secret the capture does "
                      "not hold", summary["undecoded"][0])
        events, summary = decoded(self, cap, "--data-dir", self.data_dir,
                                  "--dh-secret", "1=" + K.hex())
        dh = layer(events, "dh384")
        self.assertEqual(sorted((e["side"], e["filler_length"], e["then"]) for e in dh), [
            ("client", 5, "plain RC4 keyed with K"),
            ("server", 6, "plain RC4 keyed with K, first byte + 1")])
        request, reply = layer(events, "server-record")
        self.assertEqual(request["login_request"]["header"]["name"], "carol.white")
        self.assertEqual(reply["reply"]["credential"]["name"], "carol.white")

    def test_cmd7_switch_and_clear_inner_event_framing(self):
        chunks, conn = T.cmd7_switch(self.keys)
        cap = CaptureBuilder()
        conv = cap.tcp(CLIENT, NODE)
        conv.open()
        conv.replay(chunks)
        conv.close()
        # A datagram keyed with the public address of the cmd 7 node record.
        cap.udp(("10.0.0.2", 13021), NODE,
                udp.encrypt_payload("203.0.113.9", NODE[0], 7, 0xCAFEBABE,
                                    build_payload([Command(27, 2, 9, b"\x42\x15")])))
        events, summary = decoded(self, cap, "--data-dir", self.data_dir)
        self.assertEqual(summary["flow_kinds"], {"classic-peer": 1, "udp-skype": 1})
        cmd7 = layer(events, "peer-record", direction="c2s")[0]["commands"][0]
        self.assertEqual(cmd7["cmd"], 7)
        facts = cmd7["decoded"]
        self.assertEqual((facts["event_server"], facts["version"]),
                         ("192.0.2.50:12350", "3/7.7.0.335"))
        self.assertEqual(facts["node_record"]["public"], "203.0.113.9:13021")
        self.assertEqual(facts["node_record"]["trailing"], "0801")
        clears = layer(events, "peer-record", type="clear")
        self.assertEqual([e["direction"] for e in clears], ["c2s", "s2c"])
        (kx,) = layer(events, "key-exchange")
        self.assertIn("cmd 7", kx["carried"])
        self.assertEqual(kx["aes_key"], conn.key.hex())
        inner = layer(events, "server-record")
        self.assertEqual([(e["direction"], e["seq"]) for e in inner],
                         [("c2s", 0), ("s2c", 0), ("s2c", 1), ("c2s", 1), ("s2c", 2)])
        self.assertEqual(inner[0]["event_request"]["header"]["code"], 6016)
        (dgram,) = layer(events, "udp")
        self.assertEqual((dgram["keyed_src"], dgram["keying"]["src"]),
                         ("203.0.113.9", "node record (public address)"))
        self.assertEqual(summary["undecoded"], [])


class UdpTests(TestCase):
    def test_public_ip_option_nack_and_resend(self):
        cap = CaptureBuilder()
        me, node = ("10.0.0.2", 3000), ("192.0.2.77", 40002)
        payload = build_payload([Command(27, 2, 0x15F2, b"\x42\x15")])
        cap.udp(me, node, udp.encrypt_payload("203.0.113.80", node[0], 0x15F1, 1, payload))
        # A NACK tells the client its address; the resend is keyed by the challenge.
        cap.udp(node, me, udp.NackDatagram(0x15F2, "203.0.113.81", 0x24499EB8).to_bytes())
        cap.udp(me, node, udp.encrypt_resend(0x15F2, 0x24499EB8, node[0], payload))
        cap.udp(me, node, udp.encrypt_payload("203.0.113.81", node[0], 0x15F3, 2, payload))
        cap.udp(("10.0.0.2", 5353), ("224.0.0.251", 5353), b"\x00" * 20)
        events, summary = decoded(self, cap, "--public-ip", "203.0.113.80")
        first, nack, resend, last = events
        self.assertEqual((first["keyed_src"], first["keying"]["src"]),
                         ("203.0.113.80", "--public-ip"))
        self.assertEqual((nack["type"], nack["your_ip"], nack["challenge"]),
                         ("nack", "203.0.113.81", "24499eb8"))
        self.assertEqual((resend["type"], resend["answers_nack_frame"], resend["crc_ok"]),
                         ("resend", 2, True))
        self.assertEqual(resend["commands"][0]["request_id"], 0x15F2)
        self.assertEqual((last["keyed_src"], last["keying"]["src"]),
                         ("203.0.113.81", "NACK (the 'your IP' a node reported)"))
        self.assertEqual(summary["flow_kinds"], {"udp-other": 1, "udp-skype": 1})
        self.assertIn("UDP port 5353 (mDNS): not Skype", flow_report(summary, 2)["notes"])

    def test_cmd36_in_a_resend_keys_the_rest_and_fragments_reassemble(self):
        from blissnode.wire.udp_commands import address_reply
        cap = CaptureBuilder()
        me, node = ("10.0.0.2", 3000), ("192.0.2.77", 40002)
        # A cmd 36 reply in a resend (keyed by its challenge, no address
        # needed) tells the client its public address ...
        cap.udp(node, me, udp.encrypt_resend(0x0101, 0x0BADF00D, me[0],
                                             address_reply(0x0E18, "203.0.113.36", 3000)))
        # ... which keys a message the node sends in two fragments.
        message = build_payload([Command(45, 3, 0x5A80, b"\x41\x02\x00\x01\x05\x00\x02\x06")])
        for index, chunk in enumerate((message[:4], message[4:])):
            cap.udp(node, me, udp.encrypt_fragment(node[0], "203.0.113.36", 0x0200 + index,
                                                   0x5A80, index, index == 1, 7 + index, chunk))
        events, summary = decoded(self, cap)
        resend, first, second = events
        self.assertEqual(resend["commands"][0]["decoded"], {"your_address": "203.0.113.36:3000"})
        self.assertEqual((first["index"], first["reassembly"]), (0, "waiting for more fragments"))
        self.assertEqual((second["keyed_dst"], second["keying"]["dst"]),
                         ("203.0.113.36", "cmd 36 reply (the address a node saw)"))
        self.assertEqual(second["reassembled_length"], len(message))
        self.assertEqual(second["message_commands"][0]["objects"],
                         [{"type": 0, "id": 1, "value": 5}, {"type": 0, "id": 2, "value": 6}])

    def test_unkeyable_datagram_is_reported(self):
        cap = CaptureBuilder()
        payload = build_payload([Command(27, 2, 1, b"\x42\x15")])
        cap.udp(("10.0.0.2", 3000), ("192.0.2.77", 40002),
                udp.encrypt_payload("203.0.113.99", "192.0.2.77", 1, 1, payload))
        events, summary = decoded(self, cap, expect=3)
        self.assertEqual(events, [])
        self.assertEqual(summary["flow_kinds"], {"udp-unopened": 1})
        self.assertIn("no datagram opened with any keying address (1 Skype-shaped, 0 not)",
                      summary["undecoded"][0])
        self.assertIn("--public-ip", summary["undecoded"][0])


class OtherFlowTests(TestCase):
    def test_tls_http_unknown_and_midstream(self):
        cap = CaptureBuilder()
        tls = cap.tcp(CLIENT, ("192.0.2.30", 443))
        tls.open()
        tls.send("c2s", bytes.fromhex("160301002f0100002b0301") + b"\x00" * 40)
        http = cap.tcp(("10.0.0.2", 50002), ("192.0.2.31", 80))
        http.open()
        http.send("c2s", b"GET / HTTP/1.1\r\n\r\n")
        other = cap.tcp(("10.0.0.2", 50003), ("192.0.2.32", 9999))
        other.open()
        other.send("c2s", b"\x00\x01\x02")
        mid = cap.tcp(("10.0.0.2", 50004), ("192.0.2.33", 443))
        mid.send("c2s", bytes.fromhex("1703010005") + b"\x00" * 5)
        events, summary = decoded(self, cap, expect=3)
        kinds = [f["kind"] for f in summary["flows"]]
        self.assertEqual(kinds, ["tls", "http", "unknown", "tls-midstream"])
        self.assertIn("no SYN in the capture", summary["undecoded"][-1])
        self.assertEqual(summary["flows"][0]["description"], "real TLS (not Skype)")
