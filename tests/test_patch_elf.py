"""patch-client on Linux ELF fixtures (blissnode.patch.elf, pyelftools)."""

import io

from elftools.elf.elffile import ELFFile
from twisted.trial.unittest import TestCase

from blissnode.patch.builds import PatchKnowledge
from blissnode.patch.patcher import PatchOptions, PatchRefused, plan
from blissnode.patch.targets import server_targets
from tests.patch_fixtures import client_elf, form, server_keys
from tests.test_patch_pe import ours, skype_anywhere

NONE = PatchKnowledge()


class ElfTests(TestCase):
    def test_round_trip(self):
        f = client_elf()
        report, out = plan(f.data, server_keys(), server_targets("192.0.2.10"),
                           PatchOptions(), NONE)
        self.assertEqual((report.format, report.machine), ("elf", "EM_386"))
        self.assertEqual(skype_anywhere(out), [])
        at = f.offsets["login/client-order"]
        self.assertEqual(out[at:at + 192], ours("login", "client-order"))
        self.assertEqual(report.fixups, [])
        sections = {m.section for m in report.matches}
        self.assertEqual(sections, {".rodata", ".data"})
        at = f.offsets["supernode-text"]
        self.assertEqual(out[at:at + 21], b"192.0.2.10:33000" + b"\0" * 5)
        elf = ELFFile(io.BytesIO(out))
        self.assertEqual([s.name for s in elf.iter_sections()][1:],
                         [".text", ".rodata", ".data", ".shstrtab"])
        self.assertEqual(len(out), len(f.data))

    def test_no_section_table_is_taken_as_packed(self):
        f = client_elf(section_table=False)
        e = self.assertRaises(PatchRefused, plan, f.data, server_keys(),
                              server_targets("192.0.2.10"), PatchOptions(), NONE)
        self.assertIn("no section table", str(e))
        self.assertIn(form("login", "client-order"), f.data)

    def test_broken_elf(self):
        e = self.assertRaises(PatchRefused, plan, b"\x7fELF\x01\x01\x01" + b"\0" * 20,
                              server_keys(), server_targets("192.0.2.10"), PatchOptions(), NONE)
        self.assertIn("not a valid ELF file", str(e))
