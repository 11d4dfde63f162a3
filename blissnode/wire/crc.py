"""
The checksums of the Skype wire format.

Two functions cover every use the spec names:

* :func:`crc32r` -- the reflected CRC-32 (zlib polynomial 0xEDB88320, register
  starting at 0xFFFFFFFF) *without* the final inversion, a.k.a. CRC-32/JAMCRC.
  It checks UDP payloads, derives UDP seeds (fed with three little-endian
  32-bit words, see :func:`crc32r_words`), and its low 16 bits check TCP
  record trailers (spec/tcp.md 9.2, spec/udp.md 3).
* :func:`crc16_xmodem` -- CRC-16 polynomial 0x1021, init 0, MSB first, no
  final XOR; it ends session plaintexts (spec/tcp.md 9.1).

Both are thin wrappers over C implementations in the standard library
(:mod:`zlib`, :mod:`binascii`), which compute exactly these polynomials.
"""

import binascii
import struct
import zlib


def crc32r(data, value=0xFFFFFFFF):
    """CRC32 of ``data`` without final inversion (spec: "CRC32R").

    ``value`` continues a running register (the default is a fresh start), so
    ``crc32r(b, crc32r(a)) == crc32r(a + b)``.
    """
    return zlib.crc32(data, value ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def crc32r_words(*words):
    """CRC32R over 32-bit words, each consumed least-significant byte first."""
    return crc32r(struct.pack("<%dI" % len(words), *words))


def crc16_xmodem(data, value=0):
    """CRC-16/XMODEM of ``data`` (``CRC16("123456789") == 0x31C3``)."""
    return binascii.crc_hqx(data, value)
