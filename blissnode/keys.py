"""
The login server's two RSA key pairs (login.md 3, 7.4, 10).

* the **login key**, RSA-1536: clients encrypt their 192-byte session seed
  to it with raw RSA (no padding);
* the **credential key**, RSA-2048: signs the credentials the login server
  issues, which every peer checks.

Both moduli are compiled into the clients, so an operator patches his own
public moduli into every client (``blissnode patch-client`` does it;
``blissnode keys show`` prints them in the two commonest forms) and must
then keep the private keys: they are generated once, on first run, into the
data directory and reused afterwards.

Files (PKCS#8 PEM, unencrypted, mode 0600)::

    <data dir>/login-rsa1536.pem
    <data dir>/credential-rsa2048.pem

``cryptography`` generates, writes and loads them.  It has no raw RSA
operation, so the private operations go through
:class:`blissnode.wire.rsa_raw.RsaPrivate` (CRT, blinded, fault-checked) over
the key's private numbers.  A key file that group or others may access makes
:func:`load_or_create_server_keys` refuse with :class:`KeyFileError`, so a
server never runs with a key that may have leaked.
"""

import hashlib
import os
import stat
import tempfile

import attr
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from blissnode.wire.rsa_raw import RsaPrivate

__all__ = [
    "PUBLIC_EXPONENT",
    "LOGIN_KEY_BITS",
    "CREDENTIAL_KEY_BITS",
    "LOGIN_KEY_FILE",
    "CREDENTIAL_KEY_FILE",
    "KeyFileError",
    "ServerKey",
    "ServerKeys",
    "generate_private_key",
    "load_or_create_server_keys",
    "load_server_keys",
]

#: The clients assume e = 65537 for both keys (login.md 3.1, 7.4).
PUBLIC_EXPONENT = 65537
LOGIN_KEY_BITS = 1536
CREDENTIAL_KEY_BITS = 2048
LOGIN_KEY_FILE = "login-rsa1536.pem"
CREDENTIAL_KEY_FILE = "credential-rsa2048.pem"

#: Permission bits that must be clear on a private key file.
_FORBIDDEN_MODE = 0o077


class KeyFileError(Exception):
    """A key file is unsafe or unusable; the server must not start."""


def generate_private_key(bits):
    """A fresh RSA key with e = 65537 and a modulus of exactly ``bits`` bits
    (top bit set -- the patched client expects the same length)."""
    while True:
        key = rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)
        if key.public_key().public_numbers().n.bit_length() == bits:
            return key


@attr.s(frozen=True, slots=True)
class ServerKey:
    """One loaded key: its role, file and private numbers, and every public
    form a person needs."""

    role = attr.ib()
    path = attr.ib()
    private = attr.ib(repr=False)

    @property
    def bits(self):
        return self.private.n.bit_length()

    @property
    def exponent(self):
        return self.private.e

    @property
    def size(self):
        return self.private.size

    def modulus_bytes(self):
        """The modulus, big-endian (the form login.md prints)."""
        return self.private.n.to_bytes(self.size, "big")

    def modulus_client_order(self):
        """The modulus as the reimplementations store it (login.md 10): 32-bit
        little-endian words, least significant first = big-endian reversed."""
        return self.modulus_bytes()[::-1]

    @property
    def fingerprint(self):
        """SHA-256 of the big-endian modulus, lower-case hex."""
        return hashlib.sha256(self.modulus_bytes()).hexdigest()

    @property
    def short_fingerprint(self):
        """The first 8 bytes of :attr:`fingerprint`, as ``xxxx:xxxx:xxxx:xxxx``."""
        fp = self.fingerprint
        return ":".join(fp[i : i + 4] for i in range(0, 16, 4))

    def public_pem(self):
        """The public key as SubjectPublicKeyInfo PEM (text)."""
        key = rsa.RSAPublicNumbers(self.exponent, self.private.n).public_key()
        return key.public_bytes(serialization.Encoding.PEM,
                                serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")

    def raw(self, data):
        """The raw private operation (``data^d mod n``), blinded."""
        return self.private.raw(data)


@attr.s(frozen=True, slots=True)
class ServerKeys:
    """Both keys of a login server."""

    login = attr.ib()
    credential = attr.ib()

    def login_decrypt_raw(self, ciphertext):
        """Decrypt BLOB 8 of the key exchange (192 bytes -> 192 bytes).

        Raises ProtocolError for input of the wrong length or >= n; the
        caller validates the seed (``check_session_seed``) and must treat
        every failure alike (login.md 3.1, no oracle).
        """
        return self.login.raw(ciphertext)

    def credential_sign_raw(self, payload):
        """Sign a credential payload (256 bytes -> 256 bytes); the ``signer``
        of :func:`blissnode.wire.credentials.build_credential`."""
        return self.credential.raw(payload)

    @property
    def login_modulus(self):
        return self.login.modulus_bytes()

    @property
    def credential_modulus(self):
        return self.credential.modulus_bytes()

    @property
    def credential_public(self):
        """The credential key as ``RsaPublic`` (for ``parse_credential``)."""
        return self.credential.private.public


# -- files -----------------------------------------------------------------------

def _check_mode(path):
    try:
        st = os.stat(path)
    except OSError as e:
        raise KeyFileError("cannot stat key file %s: %s" % (path, e.strerror))
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError("key file %s is not a regular file" % (path,))
    if st.st_mode & _FORBIDDEN_MODE:
        raise KeyFileError(
            "private key file %s is accessible by group or others (mode %04o); "
            "refusing to use it -- run 'chmod 600 %s' if it has not leaked, "
            "otherwise replace the key" % (path, stat.S_IMODE(st.st_mode), path))


def _write_new_private_key(path, key):
    """Write ``key`` to ``path`` atomically with mode 0600, never replacing a
    file that appeared meanwhile (a concurrent first start): returns False in
    that case and the caller loads the winner's key."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return True
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
    return True


def _load(path, role, bits):
    _check_mode(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
        key = serialization.load_pem_private_key(data, password=None)
    except (OSError, ValueError, TypeError) as e:
        raise KeyFileError("cannot load %s key from %s: %s" % (role, path, e))
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError("%s is not an RSA private key" % (path,))
    numbers = key.private_numbers()
    n, e = numbers.public_numbers.n, numbers.public_numbers.e
    if n.bit_length() != bits or e != PUBLIC_EXPONENT:
        raise KeyFileError("%s key in %s is %d bits with e=%d; the clients need %d bits, e=%d"
                           % (role, path, n.bit_length(), e, bits, PUBLIC_EXPONENT))
    return ServerKey(role, path, RsaPrivate.from_numbers(numbers))


def _data_dir_path(data_dir):
    return getattr(data_dir, "path", data_dir)


_SPECS = (("login", LOGIN_KEY_FILE, LOGIN_KEY_BITS),
          ("credential", CREDENTIAL_KEY_FILE, CREDENTIAL_KEY_BITS))


def load_or_create_server_keys(data_dir, create=True, generate=generate_private_key):
    """Load both keys from ``data_dir`` (a path or ``FilePath``), generating
    and writing any that is missing when ``create`` is true.

    Raises :class:`KeyFileError` for a missing key (``create=False``), a file
    readable by group/others, or a key of the wrong size/exponent.
    """
    directory = _data_dir_path(data_dir)
    loaded = {}
    for role, name, bits in _SPECS:
        path = os.path.join(directory, name)
        if not os.path.lexists(path):
            if not create:
                raise KeyFileError("no %s key at %s (the server creates it on first run)"
                                   % (role, path))
            if not os.path.isdir(directory):
                raise KeyFileError("data directory %s does not exist" % (directory,))
            _write_new_private_key(path, generate(bits))
        loaded[role] = _load(path, role, bits)
    return ServerKeys(loaded["login"], loaded["credential"])


def load_server_keys(data_dir):
    """Load existing keys only (what ``blissnode keys show`` does)."""
    return load_or_create_server_keys(data_dir, create=False)


def describe_key(key):
    """The JSON-able public description of one :class:`ServerKey`: what
    ``blissnode keys show --json`` prints and the management API serves."""
    return {
        "role": key.role,
        "file": key.path,
        "bits": key.bits,
        "exponent": key.exponent,
        "fingerprint_sha256": key.fingerprint,
        "fingerprint_short": key.short_fingerprint,
        "modulus_hex": key.modulus_bytes().hex(),
        "modulus_client_order_hex": key.modulus_client_order().hex(),
    }
