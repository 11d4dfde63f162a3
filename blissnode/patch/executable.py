"""
The executable-format layer: what ``patch-client`` needs to know about a
binary beyond its bytes, behind one small interface.

The patcher finds and replaces bytes itself; a format only answers

* which section a file offset lies in (for the report),
* the sections' sizes, flags and entropy (for the packed-binary check),
  plus any format-specific hint that the file is packed,
* what to update after bytes changed (the PE checksum) and what the user
  should know (a signature that no longer matches).

:mod:`blissnode.patch.pe` (Windows PE, with ``pefile``) and
:mod:`blissnode.patch.elf` (Linux ELF, with ``pyelftools``) implement it.
macOS Mach-O builds are recognised and refused for now; a Mach-O format is
one more module providing :class:`IExecutable` and one more entry in
:data:`FORMATS`.
"""

from blissnode.patch.elf import ElfImage
from blissnode.patch.image import (  # noqa: F401  (re-exported)
    FixUp,
    IExecutable,
    Section,
    UnsupportedFormat,
    section_at,
    shannon_entropy,
)
from blissnode.patch.pe import PeImage

_MACHO_MAGICS = (b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf",
                 b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")


def _macho(data):
    raise UnsupportedFormat(
        "this is a macOS Mach-O binary; Mach-O is not supported yet (only Windows "
        "PE and Linux ELF builds are); see docs/patch-client.rst")


def _pe(data):
    return PeImage(data)


def _elf(data):
    return ElfImage(data)


#: (magic prefixes, opener): the formats recognised, tried in order.
FORMATS = (
    ((b"MZ",), _pe),
    ((b"\x7fELF",), _elf),
    (_MACHO_MAGICS, _macho),
)


def open_executable(data):
    """The :class:`IExecutable` for ``data``; raises :class:`UnsupportedFormat`."""
    for magics, opener in FORMATS:
        if data.startswith(magics):
            return opener(data)
    raise UnsupportedFormat("not a Windows PE (.exe/.dll) or Linux ELF executable "
                            "(first bytes %s)" % (data[:4].hex() or "none: empty file",))
