"""
What the account store keeps instead of a password: scrypt of the MD5 credential.

The client never sends its password, only ``cred16 = MD5(name "\\nskyper\\n"
password)`` (login.md §6), and that 16-byte value is all a client needs to sign
in.  So storing it, or the password, would let a stolen database be used
directly.  The store keeps ``scrypt(cred16, salt)`` with a random 16-byte salt
per account; the parameters (n, r, p) are stored with each row so they can be
raised later without invalidating existing accounts (rows are re-hashed with
the current parameters at their next successful login).
"""

import hashlib
import hmac
import os

import attr

from blissnode.store.errors import InvalidField

CREDENTIAL_LENGTH = 16
SALT_LENGTH = 16
HASH_LENGTH = 32
KDF_SCRYPT = "scrypt"

#: Upper bounds on parameters read back from a row, so that a corrupted or
#: hostile database cannot make one check allocate gigabytes.
MAX_N = 2 ** 20
MAX_R = 32
MAX_P = 16


@attr.s(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost parameters (RFC 7914): CPU/memory cost ``n``, block size ``r``,
    parallelism ``p``."""

    n = attr.ib()
    r = attr.ib()
    p = attr.ib()

    def __attrs_post_init__(self):
        for value in (self.n, self.r, self.p):
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidField("scrypt parameters must be integers: %r" % (self,))
        if not (2 <= self.n <= MAX_N) or self.n & (self.n - 1):
            raise InvalidField("scrypt n must be a power of two in 2..%d: %r" % (MAX_N, self.n))
        if not (1 <= self.r <= MAX_R) or not (1 <= self.p <= MAX_P):
            raise InvalidField("scrypt r must be 1..%d and p 1..%d: %r" % (MAX_R, MAX_P, self))

    @property
    def maxmem(self):
        """The memory OpenSSL must be allowed for these parameters (V and B arrays, plus slack)."""
        return 128 * self.r * (self.n + 2 + self.p) + 65536


#: The parameters new hashes get: n=2**14, r=8, p=1 (16 MiB, some tens of
#: milliseconds on one core), the common interactive-login choice.
DEFAULT_PARAMS = ScryptParams(n=2 ** 14, r=8, p=1)


@attr.s(frozen=True, slots=True)
class CredentialHash:
    """One stored hash: the parameters, the salt and the scrypt output.

    ``repr`` shows the parameters only; salt and digest never end up in logs.
    """

    params = attr.ib(validator=attr.validators.instance_of(ScryptParams))
    salt = attr.ib(repr=False)
    digest = attr.ib(repr=False)
    kdf = attr.ib(default=KDF_SCRYPT)


def check_credential16(credential16):
    """Return ``credential16`` as bytes, or raise :class:`InvalidField`."""
    if not isinstance(credential16, (bytes, bytearray, memoryview)):
        raise InvalidField("the credential must be 16 bytes, not %s"
                           % (type(credential16).__name__,))
    credential16 = bytes(credential16)
    if len(credential16) != CREDENTIAL_LENGTH:
        raise InvalidField("the credential must be 16 bytes, not %d" % (len(credential16),))
    return credential16


def _scrypt(secret, salt, params):
    return hashlib.scrypt(bytes(secret), salt=salt, n=params.n, r=params.r, p=params.p,
                          maxmem=params.maxmem, dklen=HASH_LENGTH)


def hash_credential(credential16, params=DEFAULT_PARAMS, salt=None):
    """Hash a 16-byte MD5 credential with a fresh random salt (or ``salt``, for tests)."""
    credential16 = check_credential16(credential16)
    if salt is None:
        salt = os.urandom(SALT_LENGTH)
    digest = _scrypt(credential16, salt, params)
    return CredentialHash(params=params, salt=bytes(salt), digest=digest)


def verify_credential(stored, candidate):
    """Does ``candidate`` hash to ``stored``?  Constant-time comparison.

    ``candidate`` may be any bytes (a malformed credential from the network
    simply does not match); it is hashed all the same so that the time taken
    does not depend on its shape.
    """
    if stored.kdf != KDF_SCRYPT:
        raise InvalidField("unknown key derivation %r" % (stored.kdf,))
    if not isinstance(candidate, (bytes, bytearray, memoryview)):
        candidate = b""
    digest = _scrypt(candidate, stored.salt, stored.params)
    return hmac.compare_digest(digest, stored.digest) and len(candidate) == CREDENTIAL_LENGTH


def dummy_hash(params=DEFAULT_PARAMS):
    """A hash no credential matches, to verify against for unknown names.

    Checking an unknown name costs one scrypt too, so a client cannot tell
    from the answer's timing whether a name exists.
    """
    return hash_credential(os.urandom(CREDENTIAL_LENGTH), params)
