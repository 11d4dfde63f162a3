"""
Linux ELF client binaries, read with ``pyelftools``.

ELF has no file checksum, so nothing is updated after a patch.  An ELF
without a section table is taken as packed: UPX and similar packers drop it,
and ordinary (even stripped) builds keep it.
"""

import io

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from zope.interface import implementer

from blissnode.patch.image import (
    IExecutable,
    Section,
    UnsupportedFormat,
    section_at,
    shannon_entropy,
)

_SHF_EXECINSTR = 0x4


@implementer(IExecutable)
class ElfImage:
    format_name = "elf"

    def __init__(self, data):
        try:
            elf = ELFFile(io.BytesIO(data))
            self.machine = elf["e_machine"]
            self.sections = []
            for s in elf.iter_sections():
                if s["sh_type"] in ("SHT_NULL", "SHT_NOBITS") or not s["sh_size"]:
                    continue
                start, size = s["sh_offset"], s["sh_size"]
                self.sections.append(Section(
                    name=s.name, offset=start, size=size, address=s["sh_addr"],
                    executable=bool(s["sh_flags"] & _SHF_EXECINSTR),
                    entropy=shannon_entropy(data[start:start + size])))
            self._has_table = elf.num_sections() > 0
        except (ELFError, ValueError, KeyError, IndexError) as e:
            raise UnsupportedFormat("not a valid ELF file: %s" % (e,))

    def section_at(self, offset):
        return section_at(self.sections, offset)

    def packer_hints(self):
        if not self._has_table:
            return ["the ELF file has no section table (UPX and similar packers remove it)"]
        return []

    def warnings(self):
        return []

    def finish(self, original, patched):
        return patched, []
