"""``blissnode decode server`` (one login/event connection as hex) and the
``--pretty`` renderer for every decode kind."""

import io
import json

from twisted.trial.unittest import TestCase

from blissnode.cli.main import main
from blissnode.cli.render import render_tree, string_text
from tests import capture_traffic as T


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def argv_of(chunks):
    out = []
    for direction, data in chunks:
        out += ["--from-client" if direction == "c2s" else "--from-server", data.hex()]
    return out


class DecodeServerTests(TestCase):
    def setUp(self):
        self.data_dir, self.keys = T.server_keys()

    def test_login_both_directions_in_order(self):
        chunks, conn, credential = T.login_connection(self.keys, name="dave.black")
        status, out, err = run("decode", "server", "--data-dir", self.data_dir, *argv_of(chunks))
        self.assertEqual(status, 0, err)
        result = json.loads(out)
        self.assertEqual((result["opening"], result["role"], result["undecoded"]),
                         ("plain", "login", []))
        layers = [(u["direction"], u["layer"]) for u in result["units"]]
        self.assertEqual(layers, [("c2s", "server-hello"), ("s2c", "server-hello"),
                                  ("c2s", "server-hello"), ("c2s", "key-exchange"),
                                  ("c2s", "server-record"), ("s2c", "server-hello"),
                                  ("s2c", "server-record")])
        reply = result["units"][-1]["reply"]
        self.assertEqual(reply["credential"]["name"], "dave.black")
        self.assertEqual(reply["credential_blob"], credential.raw.hex())

    def test_bare_hex_is_the_clients_direction(self):
        """``decode server --data-dir DIR HEX...``: the client's stream alone
        opens (its key exchange holds the seed) and its request decodes."""
        chunks, conn, credential = T.login_connection(self.keys, name="dave.black")
        client = [data.hex() for direction, data in chunks if direction == "c2s"]
        status, out, err = run("decode", "server", "--data-dir", self.data_dir, *client)
        self.assertEqual(status, 0, err)
        result = json.loads(out)
        self.assertEqual((result["opening"], result["role"]), ("plain", "login"))
        self.assertEqual({u["direction"] for u in result["units"]}, {"c2s"})
        self.assertIn("server-record", [u["layer"] for u in result["units"]])
        self.assertIn("dave.black", out)

    def test_pretty_strings_and_items(self):
        chunks, conn, credential = T.login_connection(self.keys)
        status, out, err = run("decode", "server", "--data-dir", self.data_dir, "--pretty",
                               *argv_of(chunks))
        self.assertEqual(status, 0, err)
        self.assertIn('STRING 0xD = "0/6.16.0.10//"', out)
        self.assertIn('STRING 0x4 = "alice.smith"', out)
        self.assertIn("BLOB 0x21 = 128 bytes c3", out)
        self.assertIn("INTARRAY 0x33 = [1, 2, 3, 4, 5]", out)
        self.assertIn("LIST 0x32 = (empty)", out)
        self.assertRaises(ValueError, json.loads, out)

    def test_without_keys_nothing_opens(self):
        chunks, conn, credential = T.login_connection(self.keys)
        status, out, err = run("decode", "server", *argv_of(chunks))
        self.assertEqual(status, 0)  # the hellos and the key exchange decode
        result = json.loads(out)
        self.assertEqual([u.get("decoded", True) for u in result["units"]
                          if u["layer"] == "server-record"], [False, False])

    def test_dh384_needs_the_secret(self):
        chunks, K = T.dh_server_connection(self.keys)
        status, out, err = run("decode", "server", *argv_of(chunks))
        self.assertEqual((status, out), (1, ""))
        self.assertIn("--dh-secret", err)
        status, out, err = run("decode", "server", "--data-dir", self.data_dir,
                               "--dh-secret", K.hex(), *argv_of(chunks))
        self.assertEqual(status, 0, err)
        result = json.loads(out)
        self.assertEqual(result["opening"], "dh384")
        self.assertEqual(result["units"][-1]["reply"]["credential"]["name"], "carol.white")

    def test_inner_event_framing(self):
        chunks, conn = T.cmd7_switch(self.keys)
        inner = chunks[4:]
        status, out, err = run("decode", "server", "--inner", "--data-dir", self.data_dir,
                               *argv_of(inner))
        self.assertEqual(status, 0, err)
        result = json.loads(out)
        self.assertEqual(result["role"], "event")
        self.assertEqual([u.get("seq") for u in result["units"] if u["layer"] == "server-record"],
                         [0, 0, 1, 1, 2])

    def test_errors(self):
        for argv, message in ((("decode", "server"), "--from-client"),
                              (("decode", "server", "--from-client", "zz"), "bad hex"),
                              (("decode", "server", "--from-client", "1603010000",
                                "--data-dir", self.mktemp()), "--data-dir"),
                              (("decode", "server", "--from-client", "00" * 60), "--dh-secret"),
                              (("decode", "server", "--from-client", "1603010002ffff"),
                               "nothing decoded")):
            status, out, err = run(*argv)
            self.assertEqual(status, 1, argv)
            self.assertIn(message, err)
            self.assertEqual(err.count("\n"), 1)


class RenderTests(TestCase):
    def test_string_text(self):
        self.assertEqual(string_text("616263"), '"abc"')
        self.assertEqual(string_text("c3a9"), '"é"')
        self.assertEqual(string_text("ff00"), "ff00")
        self.assertEqual(string_text("0001"), "0001 (hex)")
        self.assertEqual(string_text("22"), '"\\""')

    def test_items_and_addresses(self):
        tree = render_tree({"objects": [
            {"type": 0, "id": 11, "value": 52},
            {"type": 2, "id": 17, "value": {"ip": "192.0.2.1", "port": 12350}},
            {"type": 5, "id": 7, "value": [{"type": 3, "id": 0, "value": "6869"}]},
            {"type": 4, "id": 1, "value": "0102"}],
            "peer": {"ip": "192.0.2.2", "port": 1}})
        self.assertEqual(tree, "objects:\n  INT 0xB = 52\n  ADDR 0x11 = 192.0.2.1:12350\n"
                               "  LIST 0x7:\n    STRING 0x0 = \"hi\"\n  BLOB 0x1 = 2 bytes 0102\n"
                               "peer: 192.0.2.2:1\n")

    def test_objects_kind_pretty_shows_text(self):
        status, out, _ = run("decode", "objects", "--pretty", "410300039f490300786f745f69616d00001b01")
        self.assertEqual(status, 0)
        self.assertIn('STRING 0x0 = "xot_iam"', out)
        self.assertIn("INT 0x3 = 9375", out)

    def test_udp_kind_pretty_shows_text(self):
        from blissnode.wire import udp
        from blissnode.wire.udp_commands import address_reply, build_payload
        data = udp.encrypt_payload("192.0.2.10", "198.51.100.7", 5, 9,
                                   address_reply(0x0E18, "198.51.100.7", 1184))
        status, out, err = run("decode", "udp", "--pretty", "--src", "192.0.2.10",
                               "--dst", "198.51.100.7", data.hex())
        self.assertEqual(status, 0, err)
        self.assertIn("ADDR 0x11 = 198.51.100.7:1184", out)
        del build_payload

    def test_json_flag(self):
        status, out, _ = run("decode", "objects", "--json", "4101000100")
        self.assertEqual((status, json.loads(out)["lists"]), (0, [[{"type": 0, "id": 1, "value": 0}]]))
        status, _, _ = run("decode", "objects", "--json", "--pretty", "4101000100")
        self.assertEqual(status, 2)
