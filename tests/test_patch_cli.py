"""``blissnode patch-client``: options, exit codes, one-line errors, --json."""

import contextlib
import io
import json
import os

from twisted.trial.unittest import TestCase

from blissnode.cli.main import main
from tests.patch_fixtures import client_pe, packed_pe, server_keys_dir


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdin=io.StringIO(), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


class PatchClientCommandTests(TestCase):
    def setUp(self):
        self.dir = os.path.abspath(self.mktemp())
        os.makedirs(self.dir)
        self.input = os.path.join(self.dir, "Skype.exe")
        with open(self.input, "wb") as f:
            f.write(client_pe().data)
        self.output = os.path.join(self.dir, "patched.exe")
        self.keys = server_keys_dir()

    def run_patch(self, *extra):
        return run("patch-client", self.input, self.output, "--data-dir", self.keys,
                   "--server", "192.0.2.10", *extra)

    def assertOneLineError(self, result, start):
        status, out, err = result
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith("blissnode patch-client: " + start), err)
        self.assertFalse(os.path.exists(self.output))

    def test_text_report(self):
        status, out, err = self.run_patch()
        self.assertEqual((status, err), (0, ""))
        self.assertTrue(os.path.exists(self.output))
        self.assertIn("replaced: login modulus (RSA-1536), client-order, at 0x", out)
        self.assertIn("route: DNAT: iptables -t nat -A OUTPUT -p tcp -d 194.165.188.76", out)
        self.assertIn("PE checksum: 0x", out)
        self.assertIn("wrote %s: 14 replacement(s)" % (self.output,), out)

    def test_json_report_shape(self):
        status, out, err = self.run_patch("--json")
        self.assertEqual((status, err), (0, ""))
        doc = json.loads(out)
        self.assertEqual(set(doc), {
            "input", "output", "dry_run", "written", "format", "machine", "size",
            "input_sha256", "output_sha256", "known_build", "targets", "keys", "matches",
            "fixups", "warnings", "summary"})
        self.assertEqual((doc["format"], doc["written"], doc["dry_run"]), ("pe", True, False))
        self.assertEqual(doc["targets"], {"login": "192.0.2.10:33033",
                                          "event": "192.0.2.10:12350",
                                          "supernode": "192.0.2.10:33000"})
        self.assertEqual(doc["summary"], {"replaced": 14, "not_replaced": 2,
                                          "already_patched": 0})
        self.assertEqual(set(doc["keys"]), {"login", "credential"})
        for m in doc["matches"]:
            self.assertEqual(set(m), {"kind", "what", "role", "form", "offset", "offset_hex",
                                      "length", "section", "old", "new", "status", "reason",
                                      "routing"})
            self.assertEqual(m["offset_hex"], hex(m["offset"]))
        fix, = doc["fixups"]
        self.assertEqual(fix["what"], "PE checksum")

    def test_dry_run_needs_no_output_and_writes_nothing(self):
        status, out, err = run("patch-client", self.input, "--dry-run", "-d", self.keys,
                               "-s", "192.0.2.10", "--json")
        self.assertEqual((status, err), (0, ""))
        doc = json.loads(out)
        self.assertEqual((doc["dry_run"], doc["written"], doc["output"]), (True, False, None))
        self.assertEqual(os.listdir(self.dir), ["Skype.exe"])
        status, out, err = self.run_patch("--dry-run")
        self.assertEqual(status, 0)
        self.assertIn("dry run: 14 replacement(s) planned; nothing written", out)
        self.assertEqual(os.listdir(self.dir), ["Skype.exe"])

    def test_report_file(self):
        path = os.path.join(self.dir, "report.json")
        status, _out, err = self.run_patch("--report", path)
        self.assertEqual((status, err), (0, ""))
        with open(path) as f:
            self.assertEqual(json.load(f)["summary"]["replaced"], 14)

    def test_per_role_options(self):
        status, out, _ = self.run_patch("--json", "--event", "198.51.100.7:1234",
                                    "--supernode", "198.51.100.8")
        doc = json.loads(out)
        self.assertEqual(doc["targets"]["event"], "198.51.100.7:1234")
        self.assertEqual(doc["targets"]["supernode"], "198.51.100.8:33000")

    def test_refusals_are_one_line(self):
        with open(self.input, "wb") as f:
            f.write(packed_pe().data)
        self.assertOneLineError(self.run_patch(), self.input + " looks packed")

    def test_errors_are_one_line(self):
        self.assertOneLineError(
            run("patch-client", self.input, "--data-dir", self.keys, "--server", "192.0.2.10"),
            "give OUT")
        self.assertOneLineError(
            run("patch-client", self.input, self.output, "-d", self.keys, "-s", "1.2.3.4:0"),
            "--server: port")
        self.assertOneLineError(
            run("patch-client", self.input, self.output, "-d", self.dir, "-s", "192.0.2.10"),
            "no login key")
        self.assertOneLineError(
            run("patch-client", os.path.join(self.dir, "missing.exe"), self.output,
                "-d", self.keys, "-s", "192.0.2.10"),
            os.path.join(self.dir, "missing.exe") + ": No such file")
        self.assertOneLineError(
            run("patch-client", self.input, self.input, "-d", self.keys, "-s", "192.0.2.10"),
            "OUT is the input file")
        self.assertOneLineError(
            run("patch-client", self.input, os.path.join(self.dir, "no", "such", "dir.exe"),
                "-d", self.keys, "-s", "192.0.2.10"), os.path.join(self.dir, "no", "such"))

    def test_usage(self):
        self.assertEqual(run("patch-client")[0], 2)
        self.assertEqual(run("patch-client", self.input, self.output)[0], 2)  # no --server
        help_text = io.StringIO()
        with contextlib.redirect_stdout(help_text):
            self.assertEqual(run("patch-client", "--help")[0], 0)
        text = " ".join(help_text.getvalue().split())
        for option in ("--server HOST[:PORTS]", "HOST[:LOGIN[:EVENT[:SUPERNODE]]]",
                       "--login HOST[:PORT]", "--event HOST[:PORT]", "--supernode HOST[:PORT]",
                       "--dry-run", "--json", "--all-copies", "--keys-only",
                       "--lone-binary-ipv4", "--allow-packed", "--report FILE"):
            self.assertIn(option, text)
