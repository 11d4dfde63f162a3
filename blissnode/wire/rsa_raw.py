"""
Raw ("textbook") RSA over Python integers: no padding, fixed-size big-endian
byte strings in and out.

Why this exists: the Skype clients use RSA without PKCS#1 padding -- the
session seed is ``X^65537 mod N_login`` (login.md 3.1) and a credential is
``P^d mod N_cred`` with an ISO/IEC 9796-2-style ``P`` (login.md 7.4).
``cryptography`` generates, stores and loads the keys but deliberately
offers no raw private operation, so the operation itself lives here, over
the key's private numbers, using the CRT values for speed (about 3-4 times
faster than ``pow(c, d, n)``).

Every function checks the length of its input (exactly the modulus size)
and that the integer is below the modulus; violations raise
:class:`~blissnode.wire.errors.ProtocolError` because the input normally
comes off the wire.

Big integers: the exponentiations and the blinding inverse run on gmpy2
(GMP) when it is installed -- about ten times faster than Python's ``pow``
for these sizes, and without the GIL -- and on Python's integers otherwise
(or when ``BLISSNODE_PURE_PYTHON=1``); :mod:`blissnode.wire.bigint` chooses.
:data:`BIGINT` names the one in use; both give the same results and both are
checked against the login vectors (tests/test_wire_credentials.py).

Side channels: Python's ``pow`` is not constant-time.  :class:`RsaPrivate`
therefore *blinds* the private operation by default (a fresh random ``r``
per call: the exponentiation never sees the attacker's ``c``) and checks the
CRT result with the public exponent before returning it (a CRT computation
fault would otherwise leak a factor of ``n`` through the output).
"""

import secrets

import attr

from blissnode.wire.errors import ProtocolError

from blissnode.wire.bigint import BIGINT, CURRENT

__all__ = [
    "BIGINT",
    "modulus_size",
    "raw_public",
    "raw_private_crt",
    "RsaPublic",
    "RsaPrivate",
]

#: The big-integer implementation the raw operations use
#: (:mod:`blissnode.wire.bigint`; tests swap it to run both).
_bigint = CURRENT


def modulus_size(n):
    """Byte length of the modulus ``n`` (192 for RSA-1536, 256 for RSA-2048)."""
    if not isinstance(n, int) or n < 3:
        raise ValueError("RSA modulus must be an integer > 2, got %r" % (n,))
    return (n.bit_length() + 7) // 8


def _to_int(data, n, what):
    """``data`` as an integer, checked: exactly modulus-size bytes, < n."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("%s must be bytes, got %r" % (what, type(data).__name__))
    k = modulus_size(n)
    if len(data) != k:
        raise ProtocolError("%s of %d bytes, the modulus has %d" % (what, len(data), k))
    value = int.from_bytes(data, "big")
    if value >= n:
        raise ProtocolError("%s is not smaller than the modulus" % (what,))
    return value


def raw_public(m_bytes, n, e=65537):
    """``m^e mod n`` as ``modulus_size(n)`` big-endian bytes.

    Used to encrypt the session seed (client side) and to "unsign" a
    credential (anybody who checks one).
    """
    m = _to_int(m_bytes, n, "RSA input")
    return _bigint.powmod(m, e, n).to_bytes(modulus_size(n), "big")


def _crt(c, p, q, dp, dq, qinv):
    m1 = _bigint.powmod(c, dp, p)
    m2 = _bigint.powmod(c, dq, q)
    h = (qinv * (m1 - m2)) % p
    return m2 + h * q


def raw_private_crt(c_bytes, p, q, d, dp, dq, qinv):
    """``c^d mod pq`` by the Chinese remainder theorem, as fixed-size bytes.

    The arguments are the private numbers as ``cryptography`` names them
    (``p, q, d, dmp1, dmq1, iqmp``; ``qinv = q^-1 mod p``).  ``d`` itself is
    not needed by the CRT path; it is taken so that the call mirrors the key
    numbers and is checked for consistency with ``dp``/``dq``.  No blinding,
    no fault check: use :class:`RsaPrivate` for attacker-supplied input.
    """
    n = p * q
    if dp != d % (p - 1) or dq != d % (q - 1) or (qinv * q) % p != 1:
        raise ValueError("inconsistent RSA CRT parameters")
    c = _to_int(c_bytes, n, "RSA input")
    return _crt(c, p, q, dp, dq, qinv).to_bytes(modulus_size(n), "big")


@attr.s(frozen=True, slots=True)
class RsaPublic:
    """A public key ``(n, e)`` with its raw operation."""

    n = attr.ib()
    e = attr.ib(default=65537)

    @property
    def size(self):
        """Modulus length in bytes."""
        return modulus_size(self.n)

    @property
    def bits(self):
        return self.n.bit_length()

    def modulus_bytes(self):
        """The modulus, big-endian, ``size`` bytes."""
        return self.n.to_bytes(self.size, "big")

    def raw(self, m_bytes):
        return raw_public(m_bytes, self.n, self.e)


@attr.s(frozen=True, slots=True, repr=False)
class RsaPrivate:
    """A private key's numbers with a blinded, fault-checked raw operation.

    Build it with :meth:`from_numbers` (any object with the attributes of
    ``cryptography``'s ``RSAPrivateNumbers``) or :meth:`from_primes`.  The
    repr never shows private values.
    """

    n = attr.ib()
    e = attr.ib()
    d = attr.ib()
    p = attr.ib()
    q = attr.ib()
    dp = attr.ib()
    dq = attr.ib()
    qinv = attr.ib()

    def __attrs_post_init__(self):
        if self.p * self.q != self.n:
            raise ValueError("RSA key: p*q != n")
        if self.dp != self.d % (self.p - 1) or self.dq != self.d % (self.q - 1):
            raise ValueError("RSA key: CRT exponents do not match d")
        if (self.qinv * self.q) % self.p != 1:
            raise ValueError("RSA key: qinv is not q^-1 mod p")

    def __repr__(self):
        return "RsaPrivate(%d bits, n=%x...)" % (self.n.bit_length(), self.n >> (self.n.bit_length() - 32))

    @classmethod
    def from_primes(cls, p, q, e=65537):
        """Derive all private numbers from the two primes."""
        n = p * q
        d = pow(e, -1, (p - 1) * (q - 1))
        return cls(n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p))

    @classmethod
    def from_numbers(cls, numbers):
        """From a ``cryptography`` ``RSAPrivateNumbers``."""
        pub = numbers.public_numbers
        return cls(pub.n, pub.e, numbers.d, numbers.p, numbers.q,
                   numbers.dmp1, numbers.dmq1, numbers.iqmp)

    @property
    def public(self):
        return RsaPublic(self.n, self.e)

    @property
    def size(self):
        return modulus_size(self.n)

    def raw(self, c_bytes, blind=True):
        """``c^d mod n`` as ``size`` bytes (decrypt a seed / sign a payload).

        ``blind``: multiply by ``r^e`` before and by ``r^-1`` after, with a
        fresh random ``r`` -- the timing of the exponentiation then does not
        depend on the caller's input.  The result is always checked with the
        public exponent (a CRT fault raises ``RuntimeError`` instead of
        returning a value that would leak the key).
        """
        n = self.n
        c = _to_int(c_bytes, n, "RSA input")
        if blind:
            while True:
                r = secrets.randbelow(n - 2) + 2
                try:
                    r_inv = _bigint.invert(r, n)
                except ValueError:  # r shares a factor with n: astronomically unlikely
                    continue
                break
            m = (_crt((c * _bigint.powmod(r, self.e, n)) % n, self.p, self.q, self.dp, self.dq,
                      self.qinv) * r_inv) % n
        else:
            m = _crt(c, self.p, self.q, self.dp, self.dq, self.qinv)
        if _bigint.powmod(m, self.e, n) != c:
            raise RuntimeError("RSA CRT result failed the public-exponent check")
        return m.to_bytes(self.size, "big")
