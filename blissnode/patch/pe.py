"""
Windows PE (.exe/.dll) client binaries, read with ``pefile``.

After a patch the optional header's CheckSum is recomputed with pefile's
``generate_checksum`` when the input had one (a zero checksum means "not
checked" and stays zero).  A file signed with Authenticode stays signed
with a signature that no longer matches; the report says so.
"""

import struct

import pefile
from zope.interface import implementer

from blissnode.patch.image import (
    FixUp,
    IExecutable,
    Section,
    UnsupportedFormat,
    section_at,
)

_EXECUTE = 0x20000000  # IMAGE_SCN_MEM_EXECUTE
_CODE = 0x00000020     # IMAGE_SCN_CNT_CODE
_SECURITY = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]


def _parse(data):
    try:
        return pefile.PE(data=data, fast_load=True)
    except pefile.PEFormatError as e:
        raise UnsupportedFormat("not a valid PE file: %s" % (e,))


@implementer(IExecutable)
class PeImage:
    format_name = "pe"

    def __init__(self, data):
        pe = _parse(data)
        self.machine = pefile.MACHINE_TYPE.get(pe.FILE_HEADER.Machine,
                                               hex(pe.FILE_HEADER.Machine))
        self.sections = [
            Section(name=s.Name.rstrip(b"\0").decode("latin-1"),
                    offset=s.PointerToRawData,
                    size=min(s.SizeOfRawData, max(0, len(data) - s.PointerToRawData)),
                    address=s.VirtualAddress,
                    executable=bool(s.Characteristics & (_EXECUTE | _CODE)),
                    entropy=s.get_entropy(),
                    virtual_size=s.Misc_VirtualSize)
            for s in pe.sections]
        directories = pe.OPTIONAL_HEADER.DATA_DIRECTORY
        self._signed = len(directories) > _SECURITY and directories[_SECURITY].Size > 0
        self._warnings = list(pe.get_warnings())
        pe.close()

    def section_at(self, offset):
        return section_at([s for s in self.sections if s.size], offset)

    def packer_hints(self):
        hints = []
        for s in self.sections:
            # UPX0-style: code that exists only after unpacking at run time.
            if s.executable and s.size == 0 and (s.virtual_size or 0) > 0:
                hints.append("executable section %r has no file bytes but %d bytes "
                             "in memory (filled in at run time)" % (s.name, s.virtual_size))
        return hints

    def warnings(self):
        out = []
        if self._signed:
            out.append("the input carries an Authenticode signature; it no longer "
                       "matches the patched file (Windows may say the publisher is unknown)")
        return out

    def finish(self, original, patched):
        pe = _parse(patched)
        try:
            offset = pe.OPTIONAL_HEADER.get_field_absolute_offset("CheckSum")
            old = pe.OPTIONAL_HEADER.CheckSum
            if old == 0:
                return patched, [FixUp("PE checksum", offset, 0, None,
                                       "was 0 (not checked by Windows); left 0")]
            new = pe.generate_checksum()
        finally:
            pe.close()
        out = bytearray(patched)
        out[offset:offset + 4] = struct.pack("<I", new)
        return bytes(out), [FixUp("PE checksum", offset, old, new)]
