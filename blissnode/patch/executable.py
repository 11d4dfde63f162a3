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

import math

import attr
from zope.interface import Attribute, Interface


class UnsupportedFormat(Exception):
    """The file is no executable we can patch (or not one at all)."""


class IExecutable(Interface):
    """One parsed client binary."""

    format_name = Attribute("Short name of the format: 'pe', 'elf'.")
    machine = Attribute("The CPU the binary is built for, as the format names it.")
    sections = Attribute("The sections that occupy file bytes, as Section values.")

    def section_at(offset):
        """The name of the section holding file offset ``offset``, or
        '(header)' before the first section, '(overlay)' after the last."""

    def packer_hints():
        """Format-specific reasons to think the file is packed (strings)."""

    def warnings():
        """What the user should know before running a patched copy (strings)."""

    def finish(original, patched):
        """Update format fields after the bytes changed: returns
        ``(new bytes, [FixUp, ...])``; ``original`` is the unpatched file."""


@attr.s(frozen=True, slots=True)
class Section:
    """A section's name, file range, virtual address, whether it holds code,
    and the Shannon entropy of its file bytes (bits per byte, 0..8)."""

    name = attr.ib()
    offset = attr.ib()
    size = attr.ib()
    address = attr.ib()
    executable = attr.ib()
    entropy = attr.ib()
    virtual_size = attr.ib(default=None)

    def holds(self, offset):
        return self.offset <= offset < self.offset + self.size


@attr.s(frozen=True, slots=True)
class FixUp:
    """A format field the patcher changed besides the matches (e.g. the PE
    checksum); ``old``/``new`` as ints, or None when it was left alone."""

    what = attr.ib()
    offset = attr.ib()
    old = attr.ib()
    new = attr.ib()
    note = attr.ib(default="")


def shannon_entropy(data):
    """Bits per byte of ``data`` (0 for empty input); the measure pefile's
    ``get_entropy`` uses, for formats whose library has none."""
    if not data:
        return 0.0
    counts = [0] * 256
    for b in data:
        counts[b] += 1
    n = float(len(data))
    return -sum(c / n * math.log2(c / n) for c in counts if c)


def section_at(sections, offset):
    """The shared implementation of :meth:`IExecutable.section_at`."""
    for s in sections:
        if s.holds(offset):
            return s.name
    if sections and offset < min(s.offset for s in sections):
        return "(header)"
    return "(overlay)" if sections else "(no sections)"


_MACHO_MAGICS = (b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf",
                 b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")


def _macho(data):
    raise UnsupportedFormat(
        "this is a macOS Mach-O binary; Mach-O is not supported yet (only Windows "
        "PE and Linux ELF builds are); see docs/patch-client.rst")


def _pe(data):
    from blissnode.patch.pe import PeImage
    return PeImage(data)


def _elf(data):
    from blissnode.patch.elf import ElfImage
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
