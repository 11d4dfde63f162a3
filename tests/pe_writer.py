"""
A small writer of valid Windows PE32 (i386) files, for the patch-client
tests: they build their own fixture binaries instead of committing any
third-party one.

The files have a DOS header, PE and optional headers, a section table and
the sections given, aligned as Windows wants (file 0x200, memory 0x1000);
pefile parses them without warnings and computes their checksum.
"""

import random
import struct

import pefile

FILE_ALIGN = 0x200
SECTION_ALIGN = 0x1000
IMAGE_BASE = 0x400000

CODE = 0x60000020    # CNT_CODE | MEM_EXECUTE | MEM_READ
RDATA = 0x40000040   # CNT_INITIALIZED_DATA | MEM_READ
DATA = 0xC0000040    # ... | MEM_WRITE
UNINIT_CODE = 0xE0000080  # CNT_UNINITIALIZED_DATA | EXECUTE | READ | WRITE (UPX0-style)

_SECURITY = 4


def _align(n, a):
    return (n + a - 1) // a * a


def code_bytes(n, seed=1):
    """``n`` bytes that look like x86 code (entropy well below packed code)."""
    rng = random.Random(seed)
    snippets = [b"\x55\x8b\xec", b"\x83\xec\x10", b"\x8b\x45\x08", b"\x89\x45\xfc",
                b"\xe8\x00\x10\x00\x00", b"\x85\xc0", b"\x74\x05", b"\x33\xc0", b"\x5d\xc3",
                b"\x6a\x00", b"\xff\x15\x00\x20\x40\x00", b"\x8b\xe5", b"\x90"]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(snippets)
    return bytes(out[:n])


def random_bytes(n, seed=2):
    """``n`` bytes of maximal entropy (compressed-looking)."""
    return random.Random(seed).randbytes(n)


def build_pe(sections, checksum=True, signature=None, entry_section=0):
    """A PE32 file.  ``sections``: [(name, raw bytes, characteristics)] or
    [(name, raw bytes, characteristics, virtual size)]; ``signature``:
    bytes appended as overlay and named by the security directory."""
    nsec = len(sections)
    e_lfanew = 0x80
    opt_size = 224
    headers = e_lfanew + 4 + 20 + opt_size + 40 * nsec
    size_of_headers = _align(headers, FILE_ALIGN)
    table, body = bytearray(), bytearray()
    raw_ptr, rva = size_of_headers, SECTION_ALIGN
    code_size = data_size = 0
    layout = []
    for entry in sections:
        name, raw, chars = entry[:3]
        vsize = entry[3] if len(entry) > 3 else max(len(raw), 1)
        raw_size = _align(len(raw), FILE_ALIGN) if raw else 0
        table += struct.pack("<8sIIIIIIHHI", name.encode("latin-1"), vsize, rva, raw_size,
                             raw_ptr if raw_size else 0, 0, 0, 0, 0, chars)
        body += raw.ljust(raw_size, b"\0")
        layout.append((rva, vsize))
        if chars & 0x20:
            code_size += raw_size
        else:
            data_size += raw_size
        raw_ptr += raw_size
        rva += _align(vsize, SECTION_ALIGN)
    size_of_image = rva
    entry = layout[entry_section][0] if layout else 0
    dos = bytearray(e_lfanew)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, e_lfanew)
    coff = struct.pack("<HHIIIHH", 0x14C, nsec, 0x4A000000, 0, 0, opt_size, 0x0102)
    dirs = [(0, 0)] * 16
    overlay = b""
    if signature is not None:
        dirs[_SECURITY] = (size_of_headers + len(body), len(signature))
        overlay = signature
    opt = struct.pack("<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII", 0x10B, 6, 0, code_size, data_size,
                      0, entry, SECTION_ALIGN, SECTION_ALIGN * 2, IMAGE_BASE, SECTION_ALIGN,
                      FILE_ALIGN, 4, 0, 0, 0, 4, 0, 0, size_of_image, size_of_headers, 0,
                      2, 0, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    opt += b"".join(struct.pack("<II", a, s) for a, s in dirs)
    assert len(opt) == opt_size
    head = (bytes(dos) + b"PE\0\0" + coff + opt + bytes(table)).ljust(size_of_headers, b"\0")
    data = head + bytes(body) + overlay
    if checksum:
        pe = pefile.PE(data=data, fast_load=True)
        value = pe.generate_checksum()
        at = pe.OPTIONAL_HEADER.get_field_absolute_offset("CheckSum")
        pe.close()
        data = data[:at] + struct.pack("<I", value) + data[at + 4:]
    return data
