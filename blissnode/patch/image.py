"""
What every executable format of ``patch-client`` provides: the
:class:`IExecutable` interface and its small values (sections, fix-ups), in
their own module so that the formats (:mod:`blissnode.patch.pe`,
:mod:`blissnode.patch.elf`) and the dispatcher
(:mod:`blissnode.patch.executable`) import them without a cycle.
"""

import math

import attr
from zope.interface import Attribute, Interface

__all__ = ["UnsupportedFormat", "IExecutable", "Section", "FixUp", "shannon_entropy",
           "section_at"]


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
