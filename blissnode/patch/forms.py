"""
The byte layouts a client may store an RSA modulus in.

A modulus is a big number; a binary holds it as bytes in one of a few
layouts, depending on the bignum code and the machine it was built for.
``patch-client`` searches every layout below for Skype's two moduli and
writes this server's modulus back in the layout it found, so the client
reads our key exactly the way it read Skype's.

Each layout is "split the big-endian modulus into W-bit words, put the words
in most- or least-significant-first order, and store each word big- or
little-endian":

``big-endian``
    the plain bytes, most significant first (W any, msw first, big-endian).
    SOS2 keeps the credential modulus like this (ERRATA), as do DER keys.
``client-order``
    32-bit words least significant first, each little-endian -- which is
    the whole byte string reversed (and equally 64-bit limbs stored the
    same way).  SOS2 keeps the login modulus like this and a reversed copy
    of the credential modulus (ERRATA); a bignum array on x86.
``msw-first-le32`` / ``msw-first-le64``
    words in reading order (most significant first), each little-endian: a
    table of 32- or 64-bit constants written out as the hex reads, compiled
    for a little-endian machine.  GUESS: no source shows it; searched
    because it is the commonest hand-written layout.
``lsw-first-be32`` / ``lsw-first-be64``
    least significant word first, each big-endian: a bignum array compiled
    for a big-endian machine (the PowerPC Mac builds).  GUESS likewise.

16-bit words are not searched: no 32-bit-era bignum library uses them.
"""

import attr

MSW = "msw"
LSW = "lsw"


@attr.s(frozen=True, slots=True)
class StorageForm:
    """One layout: its name, word size in bytes, word order, byte order
    within a word, and why it is searched."""

    name = attr.ib()
    word_size = attr.ib()
    word_order = attr.ib()
    byteorder = attr.ib()
    why = attr.ib()

    def encode(self, modulus):
        """The big-endian ``modulus`` bytes in this layout (same length)."""
        if len(modulus) % self.word_size:
            raise ValueError("modulus of %d bytes is not a whole number of %d-byte words"
                             % (len(modulus), self.word_size))
        words = [modulus[i:i + self.word_size]
                 for i in range(0, len(modulus), self.word_size)]
        if self.word_order == LSW:
            words.reverse()
        if self.byteorder == "little":
            words = [w[::-1] for w in words]
        return b"".join(words)


BIG_ENDIAN = StorageForm("big-endian", 4, MSW, "big",
                         "plain bytes; SOS2's credential modulus")
CLIENT_ORDER = StorageForm("client-order", 4, LSW, "little",
                           "bytes reversed = LE 32-bit words, low word first; "
                           "SOS2's login modulus")
MSW_FIRST_LE32 = StorageForm("msw-first-le32", 4, MSW, "little",
                             "GUESS: a 32-bit word table in reading order on x86")
LSW_FIRST_BE32 = StorageForm("lsw-first-be32", 4, LSW, "big",
                             "GUESS: a 32-bit bignum array on a big-endian machine")
MSW_FIRST_LE64 = StorageForm("msw-first-le64", 8, MSW, "little",
                             "GUESS: a 64-bit word table in reading order on x86-64")
LSW_FIRST_BE64 = StorageForm("lsw-first-be64", 8, LSW, "big",
                             "GUESS: a 64-bit bignum array on a big-endian machine")

#: Every layout searched, the sourced ones first.  All give different bytes
#: for any modulus that is not a palindrome of words.
STORAGE_FORMS = (BIG_ENDIAN, CLIENT_ORDER, MSW_FIRST_LE32, LSW_FIRST_BE32,
                 MSW_FIRST_LE64, LSW_FIRST_BE64)

FORMS_BY_NAME = {f.name: f for f in STORAGE_FORMS}
