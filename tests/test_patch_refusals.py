"""patch-client refuses, writing nothing: packed, missing or ambiguous keys, other formats."""

import os

from twisted.trial.unittest import TestCase

from blissnode.patch import packing
from blissnode.patch.builds import PatchKnowledge
from blissnode.patch.executable import open_executable
from blissnode.patch.patcher import PatchOptions, PatchRefused, patch_file, plan
from blissnode.patch.targets import server_targets
from tests import pe_writer
from tests.patch_fixtures import client_pe, data_5x, form, packed_pe, rdata_5x, server_keys

NONE = PatchKnowledge()
TARGETS = server_targets("192.0.2.10")


def refused(data, **options):
    try:
        plan(data, server_keys(), TARGETS, PatchOptions(**options), NONE, name="IN")
    except PatchRefused as e:
        return str(e)
    raise AssertionError("not refused")


def keys(report, role):
    return [m for m in report.matches if m.kind == "key" and m.role == role]


class RefusalTests(TestCase):
    def test_packed_is_refused_with_what_to_try(self):
        message = refused(packed_pe().data)
        self.assertIn("IN looks packed or compressed", message)
        self.assertIn("section 'UPX0' is named by a packer", message)
        self.assertIn("section 'UPX1' is named by a packer", message)
        self.assertIn("code section 'UPX1' has entropy", message)
        self.assertIn("use an unpacked build", message)
        self.assertNotIn("\n", message)

    def test_high_entropy_code_alone_is_enough(self):
        f = client_pe(text_entropy="random")
        message = refused(f.data)
        self.assertIn("code section '.text' has entropy", message)
        self.assertNotIn("named by a packer", message)

    def test_packer_name_alone_is_enough(self):
        f = client_pe(names=(".text", ".aspack", ".data"))
        self.assertIn("'.aspack' is named by a packer", refused(f.data))

    def test_upx_marker_and_empty_code_section(self):
        sections = [("UPX0", b"", pe_writer.UNINIT_CODE, 0x10000),
                    (".text", pe_writer.code_bytes(4000), pe_writer.CODE),
                    (".rdata", rdata_5x().bytes(), pe_writer.RDATA)]
        data = pe_writer.build_pe(sections, entry_section=1)
        data = data[:0x300] + b"UPX!" + data[0x304:]  # in the header padding
        message = refused(data)
        self.assertIn("packer marker 'UPX!' at offset 0x300", message)
        self.assertIn("has no file bytes but 65536 bytes in memory", message)

    def test_allow_packed_patches_with_a_warning(self):
        report, out = plan(packed_pe().data, server_keys(), TARGETS,
                           PatchOptions(allow_packed=True), NONE)
        self.assertTrue(report.warnings[0].startswith("patched although the file looks packed"))
        self.assertNotIn(form("login", "client-order"), out)

    def test_ordinary_build_shows_no_sign(self):
        data = client_pe().data
        self.assertEqual(packing.packing_signs(open_executable(data), data), [])

    def test_key_missing(self):
        f = client_pe(rdata=rdata_5x(credential=False))
        message = refused(f.data)
        self.assertIn("Skype's credential modulus (RSA-2048) (begins b8506aee d8ed30fe, "
                      "e = 65537) was not found in any storage form (big-endian, "
                      "client-order, msw-first-le32", message)
        self.assertIn("try an unpacked build", message)

    def test_key_twice_in_one_form_is_ambiguous(self):
        f = client_pe(data=data_5x(extra=[("copy", form("login", "client-order"))]))
        message = refused(f.data)
        self.assertIn("Skype's login modulus (RSA-1536) occurs 2 times in the client-order "
                      "form (offsets 0x%x, 0x%x)" % (f.offsets["login/client-order"],
                                                    f.offsets["copy"]), message)
        self.assertIn("--all-copies", message)

    def test_all_copies_replaces_both(self):
        f = client_pe(data=data_5x(extra=[("copy", form("login", "client-order"))]))
        report, out = plan(f.data, server_keys(), TARGETS, PatchOptions(all_copies=True), NONE)
        self.assertNotIn(form("login", "client-order"), out)
        self.assertEqual(len(keys(report, "login")), 2)

    def test_two_forms_are_not_ambiguous(self):
        # SOS2 holds the credential modulus big-endian and reversed (ERRATA)
        report, _ = plan(client_pe().data, server_keys(), TARGETS, PatchOptions(), NONE)
        self.assertEqual(len(keys(report, "credential")), 2)

    def test_macho_and_other_files(self):
        self.assertIn("Mach-O is not supported yet", refused(b"\xcf\xfa\xed\xfe" + b"\0" * 64))
        self.assertIn("not a Windows PE (.exe/.dll) or Linux ELF", refused(b"hello world"))
        self.assertIn("empty file", refused(b""))
        self.assertIn("not a valid PE file", refused(b"MZ" + b"\0" * 100))

    def test_refusal_writes_nothing(self):
        base = self.mktemp()
        os.makedirs(base)
        src, dst = os.path.join(base, "in.exe"), os.path.join(base, "out.exe")
        with open(src, "wb") as f:
            f.write(packed_pe().data)
        self.assertRaises(PatchRefused, patch_file, src, dst, server_keys(), TARGETS,
                          PatchOptions(), NONE)
        self.assertEqual(os.listdir(base), ["in.exe"])
