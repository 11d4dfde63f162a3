"""
Fixture client binaries for the patch-client tests, built by the tests
themselves (tests/pe_writer.py, tests/elf_writer.py): Skype's real moduli
and addresses embedded in every storage form the tool must handle, plus
the server keys to patch in (generated once per test run).
"""

import atexit
import io
import shutil
import socket
import struct
import tempfile

import attr
import pefile
from elftools.elf.elffile import ELFFile

from blissnode.keys import load_or_create_server_keys
from blissnode.patch.forms import FORMS_BY_NAME
from blissnode.patch.known import SKYPE_CREDENTIAL_MODULUS, SKYPE_LOGIN_MODULUS
from tests import elf_writer, pe_writer

SKYPE = {"login": SKYPE_LOGIN_MODULUS, "credential": SKYPE_CREDENTIAL_MODULUS}

_keys = {}


def server_keys_dir():
    """A data directory holding a fresh server key pair (made once)."""
    if "dir" not in _keys:
        path = tempfile.mkdtemp(prefix="blissnode-patch-keys-")
        atexit.register(shutil.rmtree, path, True)
        _keys["dir"] = path
        _keys["keys"] = load_or_create_server_keys(path)
    return _keys["dir"]


def server_keys():
    server_keys_dir()
    return _keys["keys"]


def form(role, name, modulus=None):
    return FORMS_BY_NAME[name].encode(SKYPE[role] if modulus is None else modulus)


def cstr(text):
    return text.encode("ascii") + b"\0"


def delphi(text):
    """A Delphi AnsiString constant: refcount -1, length, text, NUL."""
    raw = text.encode("ascii")
    return b"\xff\xff\xff\xff" + struct.pack("<I", len(raw)) + raw + b"\0"


def wide(text):
    return text.encode("utf-16-le") + b"\0\0"


def addr_be(ip, port):
    return socket.inet_aton(ip) + struct.pack(">H", port)


def sockaddr_in(ip, port):
    return b"\x02\x00" + struct.pack(">H", port) + socket.inet_aton(ip) + b"\0" * 8


def ip_le_port_le(ip, port):
    return socket.inet_aton(ip)[::-1] + struct.pack("<H", port) + b"\0\0"


class Blob:
    """Section contents with labelled pieces and their offsets in it."""

    def __init__(self, filler=b"\0" * 16):
        self.data = bytearray(filler)
        self.at = {}

    def add(self, label, raw, gap=b"\0" * 8):
        self.at[label] = len(self.data)
        self.data += raw + gap
        return self

    def bytes(self):
        return bytes(self.data)


def rdata_5x(keys=True, credential=True, extra=()):
    """The read-only data of a 5.5-like client (SOS2's storage forms)."""
    b = Blob()
    if keys:
        b.add("login/client-order", form("login", "client-order"))
    if credential:
        b.add("credential/big-endian", form("credential", "big-endian"))
        b.add("credential/client-order", form("credential", "client-order"))
    b.add("login-ip", cstr("91.190.218.40"))
    b.add("supernode-text", cstr("157.55.235.147:40030"))
    b.add("login-list", cstr("80.160.91.5:33033 212.72.49.141:33033"))
    b.add("delphi", delphi("193.88.6.13:33033"), gap=b"\0" * 4)
    b.add("wide", wide("91.190.216.125:12350"))
    b.add("unterminated", b"194.165.188.76:12350\x01\x02\x03")
    b.add("name", cstr("dir1.sd.skype.net:9010"))
    b.add("guess-ip", cstr("80.160.91.11"))
    for label, raw in extra:
        b.add(label, raw)
    return b


def data_5x(extra=()):
    b = Blob(b"\x01" * 32)
    b.add("binary-addr-be", addr_be("65.55.223.14", 40016))
    b.add("binary-sockaddr", sockaddr_in("91.190.218.40", 33033))
    b.add("binary-le", ip_le_port_le("212.72.49.142", 12350))
    b.add("lone-ip", socket.inet_aton("66.235.181.9"), gap=b"\x07" * 8)
    for label, raw in extra:
        b.add(label, raw)
    return b


@attr.s
class Fixture:
    """A built binary and where each labelled piece sits in the file."""

    data = attr.ib()
    offsets = attr.ib()


def _pe_offsets(data, blobs):
    pe = pefile.PE(data=data, fast_load=True)
    where = {s.Name.rstrip(b"\0").decode(): s.PointerToRawData for s in pe.sections}
    pe.close()
    out = {}
    for name, blob in blobs.items():
        for label, at in blob.at.items():
            out[label] = where[name] + at
    return out


def client_pe(rdata=None, data=None, extra_sections=(), text_entropy="code",
              names=(".text", ".rdata", ".data"), checksum=True, signature=None):
    rdata = rdata_5x() if rdata is None else rdata
    data = data_5x() if data is None else data
    code = (pe_writer.code_bytes(6000) if text_entropy == "code"
            else pe_writer.random_bytes(8192))
    sections = [(names[0], code, pe_writer.CODE),
                (names[1], rdata.bytes(), pe_writer.RDATA),
                (names[2], data.bytes(), pe_writer.DATA)] + list(extra_sections)
    raw = pe_writer.build_pe(sections, checksum=checksum, signature=signature)
    return Fixture(raw, _pe_offsets(raw, {names[1]: rdata, names[2]: data}))


def packed_pe():
    """UPX-style: an empty executable UPX0, a high-entropy executable UPX1
    -- with the keys still in plain data in .rsrc, so only the packing check
    can refuse it."""
    sections = [("UPX0", b"", pe_writer.UNINIT_CODE, 0x20000),
                ("UPX1", pe_writer.random_bytes(8192), pe_writer.UNINIT_CODE),
                (".rsrc", rdata_5x().bytes(), pe_writer.RDATA)]
    return Fixture(pe_writer.build_pe(sections, entry_section=1), {})


def client_elf(rdata=None, data=None, section_table=True):
    rdata = rdata_5x() if rdata is None else rdata
    data = data_5x() if data is None else data
    F = elf_writer
    raw = F.build_elf([(".text", pe_writer.code_bytes(4000), F.SHF_ALLOC | F.SHF_EXECINSTR),
                       (".rodata", rdata.bytes(), F.SHF_ALLOC),
                       (".data", data.bytes(), F.SHF_ALLOC | F.SHF_WRITE)],
                      section_table=section_table)
    offsets = {}
    if section_table:
        elf = ELFFile(io.BytesIO(raw))
        for name, blob in ((".rodata", rdata), (".data", data)):
            base = elf.get_section_by_name(name)["sh_offset"]
            for label, at in blob.at.items():
                offsets[label] = base + at
    return Fixture(raw, offsets)
