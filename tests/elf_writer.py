"""
A small writer of valid ELF32 (little-endian, i386) executables with a
section table, for the patch-client tests; pyelftools parses them.
"""

import struct

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
SHT_PROGBITS, SHT_STRTAB = 1, 3


def build_elf(sections, section_table=True):
    """``sections``: [(name, bytes, flags)]; ``section_table=False`` writes
    an ELF without one (as UPX leaves it)."""
    names = b"\0"
    offsets = []
    for name, _raw, _flags in sections + [(".shstrtab", b"", 0)]:
        offsets.append(len(names))
        names += name.encode("ascii") + b"\0"
    body = bytearray()
    placed = []
    pos = 52
    for (name, raw, flags), name_at in zip(sections, offsets):
        pad = (-pos) % 16
        body += b"\0" * pad
        pos += pad
        placed.append((name_at, SHT_PROGBITS, flags, 0x8048000 + pos, pos, len(raw)))
        body += raw
        pos += len(raw)
    placed.append((offsets[-1], SHT_STRTAB, 0, 0, pos, len(names)))
    body += names
    pos += len(names)
    pad = (-pos) % 4
    body += b"\0" * pad
    pos += pad
    shoff = pos if section_table else 0
    shnum = len(placed) + 1 if section_table else 0
    ident = b"\x7fELF\x01\x01\x01" + b"\0" * 9
    header = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0x8048000 + 52, 0, shoff, 0,
                                 52, 32, 0, 40, shnum, shnum - 1 if section_table else 0)
    table = b""
    if section_table:
        table = b"\0" * 40 + b"".join(
            struct.pack("<IIIIIIIIII", n, t, f, a, o, s, 0, 0, 16 if t == SHT_PROGBITS else 1, 0)
            for n, t, f, a, o, s in placed)
    return header + bytes(body) + table
