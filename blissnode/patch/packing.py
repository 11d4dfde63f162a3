"""
"Does this binary look packed?" -- asked before anything is patched.

A packed or compressed client holds its keys and addresses in a form we
cannot see (and often checks its own code), so patching it is pointless or
harmful: ``patch-client`` refuses and asks for an unpacked build.  The
signs, any one of which is enough:

* a section named by a known packer (UPX0/UPX1, .aspack, .packed, ...);
* a packer's marker in the file (``UPX!`` near the start, UPX's ``$Info``
  line anywhere);
* a code section whose bytes have an entropy above
  :data:`HIGH_ENTROPY_BITS` -- compiled x86 code stays near 6-6.8 bits per
  byte, compressed or encrypted code near 8.  Only code sections count:
  resources (icons, sounds) are often compressed in ordinary builds;
* a format's own hint (an executable PE section with no file bytes, an ELF
  without a section table).
"""

#: Section names that packers and protectors leave (lower-cased).
PACKER_SECTION_NAMES = frozenset(n.lower() for n in (
    "UPX0", "UPX1", "UPX2", "UPX3", ".UPX0", ".UPX1", ".aspack", ".adata", ".packed",
    ".petite", ".nsp0", ".nsp1", ".nsp2", ".MPRESS1", ".MPRESS2", ".themida", ".vmp0",
    ".vmp1", ".vmp2", "PEC2", "PEC2TO", "PECompact2", "pec1", "FSG!", ".yP", ".enigma1",
    ".enigma2", "kkrunchy", ".perplex", ".spack", ".WWPACK", ".neolit", ".ccg"))

#: (bytes, where): markers that packers write; ``where`` is the number of
#: leading bytes searched, or None for the whole file.
PACKER_MARKERS = (
    (b"UPX!", 4096),
    (b"$Info: This file is packed with the UPX", None),
)

#: GUESS: above this many bits per byte a code section is compressed or
#: encrypted (ordinary code: 6-6.8; random bytes: 8).
HIGH_ENTROPY_BITS = 7.2

#: Code sections smaller than this are too short for a meaningful entropy.
MIN_ENTROPY_SIZE = 1024


def packing_signs(image, data):
    """Every reason to think ``data`` (parsed as ``image``, an
    :class:`~blissnode.patch.executable.IExecutable`) is packed; empty when
    it looks like an ordinary build."""
    signs = []
    for s in image.sections:
        if s.name.lower() in PACKER_SECTION_NAMES:
            signs.append("section %r is named by a packer" % (s.name,))
    for marker, where in PACKER_MARKERS:
        haystack = data if where is None else data[:where]
        at = haystack.find(marker)
        if at >= 0:
            signs.append("packer marker %r at offset 0x%x" % (marker.decode("latin-1"), at))
    for s in image.sections:
        if s.executable and s.size >= MIN_ENTROPY_SIZE and s.entropy > HIGH_ENTROPY_BITS:
            signs.append("code section %r has entropy %.2f bits/byte (compressed or "
                         "encrypted code is near 8)" % (s.name, s.entropy))
    signs.extend(image.packer_hints())
    return signs
