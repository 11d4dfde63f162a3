"""patch-client on Windows PE fixtures: the round trip (blissnode.patch.patcher, .pe)."""

import hashlib
import os
import stat
import struct

import pefile
from twisted.trial.unittest import TestCase

from blissnode.patch.builds import PatchKnowledge
from blissnode.patch.forms import FORMS_BY_NAME, STORAGE_FORMS
from blissnode.patch.patcher import PatchOptions, patch_file, plan
from blissnode.patch.report import ALREADY, NOT_REPLACED, REPLACED, render_text
from blissnode.patch.targets import server_targets
from tests import pe_writer
from tests.patch_fixtures import (
    SKYPE,
    Blob,
    client_pe,
    data_5x,
    form,
    rdata_5x,
    server_keys,
)

NONE = PatchKnowledge()
SERVER = "192.0.2.10"


def ours(role, name):
    keys = server_keys()
    modulus = (keys.login if role == "login" else keys.credential).modulus_bytes()
    return FORMS_BY_NAME[name].encode(modulus)


def skype_anywhere(data):
    return [(r, f.name) for r, m in SKYPE.items() for f in STORAGE_FORMS if f.encode(m) in data]


class RoundTripTests(TestCase):
    def setUp(self):
        self.fixture = client_pe()
        self.dir = self.mktemp()
        os.makedirs(self.dir)
        self.input = os.path.join(self.dir, "Skype.exe")
        with open(self.input, "wb") as f:
            f.write(self.fixture.data)
        os.chmod(self.input, 0o751)
        self.output = os.path.join(self.dir, "Skype-blissnode.exe")

    def run_patch(self, server=SERVER, **options):
        return patch_file(self.input, self.output, server_keys(), server_targets(server),
                          PatchOptions(**options), NONE)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def test_keys_replaced_in_their_forms_and_none_of_skypes_left(self):
        report = self.run_patch()
        out = self.read(self.output)
        at = self.fixture.offsets
        self.assertEqual(out[at["login/client-order"]:][:192], ours("login", "client-order"))
        self.assertEqual(out[at["credential/big-endian"]:][:256], ours("credential", "big-endian"))
        self.assertEqual(out[at["credential/client-order"]:][:256],
                         ours("credential", "client-order"))
        self.assertEqual(skype_anywhere(out), [])
        keys = [m for m in report.matches if m.kind == "key"]
        self.assertEqual(sorted((m.role, m.form, m.offset, m.section) for m in keys), sorted([
            ("login", "client-order", at["login/client-order"], ".rdata"),
            ("credential", "big-endian", at["credential/big-endian"], ".rdata"),
            ("credential", "client-order", at["credential/client-order"], ".rdata")]))
        for m in keys:
            self.assertEqual(m.status, REPLACED)
            self.assertEqual(bytes.fromhex(m.old), form(m.role, m.form))
            self.assertEqual(bytes.fromhex(m.new), ours(m.role, m.form))

    def test_output_is_a_valid_pe_with_a_right_checksum(self):
        report = self.run_patch()
        out = self.read(self.output)
        pe = pefile.PE(data=out)
        self.assertTrue(pe.verify_checksum())
        self.assertEqual(pe.get_warnings(), [])
        self.assertEqual([s.Name.rstrip(b"\0") for s in pe.sections],
                         [b".text", b".rdata", b".data"])
        fix, = report.fixups
        self.assertEqual(fix.what, "PE checksum")
        self.assertEqual(fix.new, pe.OPTIONAL_HEADER.CheckSum)
        self.assertNotEqual(fix.old, fix.new)
        self.assertEqual(len(out), len(self.fixture.data))

    def test_input_unchanged_mode_kept_no_temporary_left(self):
        before = os.stat(self.input)
        report = self.run_patch()
        self.assertEqual(self.read(self.input), self.fixture.data)
        self.assertEqual(os.stat(self.input).st_mtime_ns, before.st_mtime_ns)
        self.assertEqual(stat.S_IMODE(os.stat(self.output).st_mode), 0o751)
        self.assertEqual(sorted(os.listdir(self.dir)), ["Skype-blissnode.exe", "Skype.exe"])
        self.assertTrue(report.written)
        self.assertEqual(report.output_sha256,
                         hashlib.sha256(self.read(self.output)).hexdigest())
        self.assertEqual(report.input_sha256, hashlib.sha256(self.fixture.data).hexdigest())

    def test_dry_run_writes_nothing(self):
        report = self.run_patch(dry_run=True)
        self.assertFalse(os.path.exists(self.output))
        self.assertEqual(os.listdir(self.dir), ["Skype.exe"])
        self.assertFalse(report.written)
        self.assertEqual(len(report.replaced()), 14)  # 3 keys, 8 texts, 3 binary

    def test_addresses_rewritten_in_place(self):
        self.run_patch()
        out = self.read(self.output)
        at = self.fixture.offsets

        def text(label, n):
            return out[at[label]:at[label] + n]
        self.assertEqual(text("login-ip", 14), b"192.0.2.10\0\0\0\0")
        self.assertEqual(text("supernode-text", 21), b"192.0.2.10:33000" + b"\0" * 5)
        self.assertEqual(text("login-list", 38),
                         b"192.0.2.10:33033 192.0.2.10:33033" + b"\0" * 5)
        # Delphi constant: length field updated, text NUL-padded
        self.assertEqual(text("delphi", 26), b"\xff\xff\xff\xff" + struct.pack("<I", 16)
                         + b"192.0.2.10:33033\0\0")
        self.assertEqual(text("wide", 42), "192.0.2.10:12350".encode("utf-16-le") + b"\0" * 10)
        self.assertEqual(text("name", 23), b"192.0.2.10:33033" + b"\0" * 7)
        self.assertEqual(text("binary-addr-be", 6),
                         bytes([192, 0, 2, 10]) + struct.pack(">H", 33000))
        self.assertEqual(text("binary-sockaddr", 8),
                         b"\x02\x00" + struct.pack(">H", 33033) + bytes([192, 0, 2, 10]))
        self.assertEqual(text("binary-le", 6), bytes([10, 2, 0, 192]) + struct.pack("<H", 12350))
        for old in (b"91.190.218.40", b"157.55.235.147", b"80.160.91.5", b"212.72.49.141",
                    b"193.88.6.13", b"dir1.sd.skype.net"):
            self.assertNotIn(old, out)

    def test_what_does_not_fit_is_reported_with_its_route(self):
        report = self.run_patch()
        out = self.read(self.output)
        at = self.fixture.offsets
        # not NUL-terminated: a shorter text cannot be padded
        self.assertEqual(out[at["unterminated"]:][:21], b"194.165.188.76:12350\x01")
        m, = [m for m in report.matches if m.offset == at["unterminated"]]
        self.assertEqual((m.status, m.new), (NOT_REPLACED, None))
        self.assertIn("not NUL-terminated", m.reason)
        self.assertIn("iptables -t nat -A OUTPUT -p tcp -d 194.165.188.76 --dport 12350 "
                      "-j DNAT --to-destination 192.0.2.10:12350", " ".join(m.routing))
        self.assertIn("ip addr add 194.165.188.76/32 dev lo", " ".join(m.routing))
        # a lone binary IPv4 is reported, not rewritten
        lone, = [m for m in report.matches if m.offset == at["lone-ip"]]
        self.assertEqual(lone.status, NOT_REPLACED)
        self.assertIn("--lone-binary-ipv4", lone.reason)
        self.assertEqual(out[at["lone-ip"]:][:4], bytes([66, 235, 181, 9]))
        self.assertIn("-p udp -d 66.235.181.9 --dport 33033", " ".join(lone.routing))

    def test_longer_text_does_not_fit(self):
        report = self.run_patch(server="203.0.113.254")
        out = self.read(self.output)
        at = self.fixture.offsets
        # "80.160.91.11" (12) cannot take "203.0.113.254" (13)
        self.assertEqual(out[at["guess-ip"]:][:13], b"80.160.91.11\0")
        m, = [m for m in report.matches if m.offset == at["guess-ip"]]
        self.assertEqual(m.status, NOT_REPLACED)
        self.assertIn("1 characters longer", m.reason)
        self.assertIn("--dport 33033 -j DNAT --to-destination 203.0.113.254:33033",
                      " ".join(m.routing))
        # "193.88.6.13:33033" (17) takes "203.0.113.254:33033" (19)? no
        self.assertIn(b"193.88.6.13:33033", out)

    def test_host_name_server(self):
        report = self.run_patch(server="skype.example.org")
        out = self.read(self.output)
        at = self.fixture.offsets
        # an IPv4 field gets no name; the binary ones cannot hold one
        self.assertEqual(out[at["login-ip"]:][:14], b"91.190.218.40\0")
        m, = [m for m in report.matches if m.offset == at["login-ip"]]
        self.assertIn("host name", m.reason)
        self.assertIn("<IPv4 address of skype.example.org>", " ".join(m.routing))
        b, = [m for m in report.matches if m.offset == at["binary-addr-be"]]
        self.assertEqual(b.status, NOT_REPLACED)
        # the name field takes a name where it fits: 23 > 22, so not; hosts line instead
        n, = [m for m in report.matches if m.offset == at["name"]]
        self.assertEqual(n.status, NOT_REPLACED)
        self.assertEqual(n.routing[0],
                         "hosts file: <IPv4 address of skype.example.org> dir1.sd.skype.net")
        # the keys are patched all the same
        self.assertEqual(skype_anywhere(out), [])

    def test_short_name_fits_a_name_field(self):
        report = self.run_patch(server="bn.example")
        out = self.read(self.output)
        at = self.fixture.offsets
        self.assertEqual(out[at["name"]:][:23], b"bn.example:33033" + b"\0" * 7)
        n, = [m for m in report.matches if m.offset == at["name"]]
        self.assertEqual(n.status, REPLACED)

    def test_ip_without_port_keeps_the_clients_port(self):
        report = self.run_patch(server="192.0.2.10:4000")
        at = self.fixture.offsets
        m, = [m for m in report.matches if m.offset == at["login-ip"]]
        self.assertEqual(m.status, REPLACED)
        self.assertIn("keeps using port 33033", m.reason)
        self.assertIn("--login-tcp tcp:33033", " ".join(m.routing))
        self.assertIn("-d 192.0.2.10 --dport 33033 -j DNAT --to-destination 192.0.2.10:4000",
                      " ".join(m.routing))

    def test_keys_only_leaves_every_address(self):
        report = self.run_patch(keys_only=True)
        out = self.read(self.output)
        self.assertEqual(skype_anywhere(out), [])
        addresses = [m for m in report.matches if m.kind == "address"]
        self.assertTrue(addresses)
        for m in addresses:
            self.assertEqual(m.status, NOT_REPLACED)
            self.assertTrue(m.routing)
        for label in ("login-ip", "supernode-text", "binary-addr-be"):
            at = self.fixture.offsets[label]
            self.assertEqual(out[at:at + 6], self.fixture.data[at:at + 6])

    def test_lone_binary_ipv4_flag(self):
        report = self.run_patch(lone_binary_ipv4=True)
        at = self.fixture.offsets["lone-ip"]
        self.assertEqual(self.read(self.output)[at:at + 4], bytes([192, 0, 2, 10]))
        m, = [m for m in report.matches if m.offset == at]
        self.assertEqual(m.status, REPLACED)

    def test_patching_a_patched_file_again(self):
        self.run_patch()
        again = patch_file(self.output, self.output + "2", server_keys(),
                           server_targets(SERVER), PatchOptions(), NONE)
        keys = [m for m in again.matches if m.kind == "key"]
        self.assertEqual(sorted(m.status for m in keys), [ALREADY] * 3)
        self.assertEqual(self.read(self.output + "2"), self.read(self.output))

    def test_failed_write_leaves_no_file(self):
        from blissnode.patch import patcher

        def broken(src, dst):
            raise OSError(28, "No space left on device")
        self.patch(patcher.os, "replace", broken)
        self.assertRaises(OSError, self.run_patch)
        self.assertEqual(os.listdir(self.dir), ["Skype.exe"])

    def test_logged(self):
        from twisted.logger import globalLogPublisher
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        self.run_patch()
        mine = [e for e in events if e.get("log_namespace") == "blissnode.patch.patcher"]
        self.assertEqual(len(mine), 1)
        self.assertEqual((mine[0]["input"], mine[0]["output"], mine[0]["count"]),
                         (self.input, self.output, 14))

    def test_output_may_not_be_the_input(self):
        from blissnode.patch.patcher import PatchRefused
        self.assertRaises(PatchRefused, patch_file, self.input, self.input, server_keys(),
                          server_targets(SERVER), PatchOptions(), NONE)
        self.assertEqual(self.read(self.input), self.fixture.data)


class PeFormatTests(TestCase):
    def test_zero_checksum_stays_zero(self):
        f = client_pe(checksum=False)
        report, out = plan(f.data, server_keys(), server_targets(SERVER), knowledge=NONE)
        fix, = report.fixups
        self.assertEqual((fix.old, fix.new), (0, None))
        self.assertIn("PE checksum: was 0 (not checked by Windows); left 0", render_text(report))
        self.assertEqual(pefile.PE(data=out).OPTIONAL_HEADER.CheckSum, 0)

    def test_signed_input_warns(self):
        f = client_pe(signature=b"\x30\x82" + b"\0" * 62)
        report, out = plan(f.data, server_keys(), server_targets(SERVER), knowledge=NONE)
        self.assertTrue(any("Authenticode" in w for w in report.warnings), report.warnings)
        self.assertTrue(pefile.PE(data=out).verify_checksum())
        report, _ = plan(client_pe().data, server_keys(), server_targets(SERVER), knowledge=NONE)
        self.assertFalse(any("Authenticode" in w for w in report.warnings))

    def test_other_storage_forms_are_found_and_kept(self):
        rdata = Blob()
        names = ("msw-first-le32", "lsw-first-be32", "msw-first-le64", "lsw-first-be64")
        for name in names:
            rdata.add("login/" + name, form("login", name))
        rdata.add("credential/lsw-first-be32", form("credential", "lsw-first-be32"))
        f = client_pe(rdata=rdata, data=Blob())
        report, out = plan(f.data, server_keys(), server_targets(SERVER), knowledge=NONE)
        for name in names:
            at = f.offsets["login/" + name]
            self.assertEqual(out[at:at + 192], ours("login", name))
        at = f.offsets["credential/lsw-first-be32"]
        self.assertEqual(out[at:at + 256], ours("credential", "lsw-first-be32"))
        self.assertEqual(skype_anywhere(out), [])
        self.assertEqual(sorted(m.form for m in report.matches if m.kind == "key"),
                         sorted(names + ("lsw-first-be32",)))
        self.assertTrue(any("no compiled-in server address" in w for w in report.warnings))

    def test_section_names_in_the_report(self):
        extra = [(".rsrc", b"\0" * 64 + form("login", "big-endian"), pe_writer.RDATA)]
        f = client_pe(rdata=rdata_5x(), data=data_5x(), extra_sections=extra)
        report, _ = plan(f.data, server_keys(), server_targets(SERVER), knowledge=NONE)
        sections = {(m.role, m.form): m.section for m in report.matches if m.kind == "key"}
        self.assertEqual(sections[("login", "big-endian")], ".rsrc")
        self.assertEqual(sections[("login", "client-order")], ".rdata")
