"""
The DH-384 pre-handshake of Skype 5.5+ (spec/tcp.md 3, login.md 2.2).

Unauthenticated Diffie-Hellman in clear before anything else on the
connection; the 48-byte shared secret ``K`` then keys the RC4 layer:

* peer connections (supernodes, relays): ``K`` is the ``extra`` of the Skype
  RC4 expansion of each direction's seed (tcp.md 3 step 6;
  ``blissnode.wire.rc4.skype_rc4(seed, extra=K)``);
* login / event servers: plain RC4 keyed with ``K`` (client->server) and
  ``K`` with its first byte + 1 (server->client), see
  :func:`blissnode.wire.server_transport.server_rc4_keys`.

Exchange::

    C -> S  A = 2^a mod p (48 bytes BE) || 0..63 filler bytes
    S -> C  B = 2^b mod p (48 bytes BE) || 1..64 filler bytes
    both    K = B^a = A^b mod p (48 bytes BE)
    C -> S  MD5("O" || K)[:8]
    S -> C  MD5("I" || K)[:8]     (the login server sends it right after B;
                                   a supernode sends it alone, ERRATA)

Filler sizes are real bytes (ERRATA: 78 real openings of 2015, nDPI 2015):
clients sent 0..63 filler bytes (first segments of 48..111 bytes), servers
1..64; tcp.md 3's "0..48" was wrong.  Both sides accept up to
:data:`MAX_FILLER` = 64 bytes and give up on a peer whose hash has not
appeared by then (the search is bounded).

Modular exponentiation uses Python's built-in three-argument ``pow`` (exact
big-integer arithmetic; it is not constant-time, which is acceptable for an
unauthenticated obfuscation handshake whose secret only keys RC4).

:class:`ServerHandshake` is the sans-IO server side, including the search for
the client's hash past its unsignalled filler (tcp.md Q2, login.md 2.2 step 3);
:class:`ClientHandshake` is its counterpart for test clients (it finds the
server's hash past the server's filler the same way).
"""

import hashlib
import secrets

import attr

from blissnode.wire.bigint import CURRENT
from blissnode.wire.errors import LimitExceeded, ProtocolError

__all__ = [
    "P",
    "G",
    "VALUE_SIZE",
    "HASH_SIZE",
    "MAX_FILLER",
    "generate_private",
    "public_value",
    "public_bytes",
    "parse_public",
    "shared_secret",
    "client_hash",
    "server_hash",
    "KeyPair",
    "ServerHandshake",
    "ClientHandshake",
]

#: The 384-bit modulus (tcp.md 3); generator 2.
P = int(
    "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74"
    "020bbea63b13b202ffffffffffffffff",
    16,
)
G = 2
VALUE_SIZE = 48
HASH_SIZE = 8
#: Most filler bytes either side may put after its public value: real
#: clients sent up to 63, real servers up to 64 (ERRATA; tcp.md 3 said 48).
MAX_FILLER = 64
PRIVATE_BITS = 383

#: The big-integer implementation (:mod:`blissnode.wire.bigint`: gmpy2 where
#: installed; tests swap it to run both).
_bigint = CURRENT


def generate_private():
    """A random private exponent (383 bits like the reference, >= 2)."""
    while True:
        a = secrets.randbits(PRIVATE_BITS)
        if a >= 2:
            return a


def public_value(private):
    """``2^private mod p`` as an int."""
    return _bigint.powmod(G, private, P)


def public_bytes(private):
    """The 48-byte big-endian public value sent on the wire."""
    return public_value(private).to_bytes(VALUE_SIZE, "big")


def parse_public(data):
    """Read a peer's public value from the first 48 bytes of ``data``.

    Rejects values outside ``2 .. p-2`` (0, 1 and p-1 would force a known
    shared secret; values >= p are not reduced residues).  The reference does
    not check; we do because it costs nothing and no honest peer fails it.
    """
    if len(data) < VALUE_SIZE:
        raise ProtocolError("DH public value needs %d bytes, got %d" % (VALUE_SIZE, len(data)))
    value = int.from_bytes(bytes(data[:VALUE_SIZE]), "big")
    if not 2 <= value <= P - 2:
        raise ProtocolError("degenerate DH-384 public value")
    return value


def shared_secret(private, peer_public):
    """``K = peer_public^private mod p`` as 48 bytes big-endian."""
    if isinstance(peer_public, (bytes, bytearray, memoryview)):
        peer_public = parse_public(peer_public)
    return _bigint.powmod(peer_public, private, P).to_bytes(VALUE_SIZE, "big")


def client_hash(K):
    """``MD5("O" || K)[:8]``, sent by the client."""
    return hashlib.md5(b"O" + bytes(K)).digest()[:HASH_SIZE]


def server_hash(K):
    """``MD5("I" || K)[:8]``, sent by the server."""
    return hashlib.md5(b"I" + bytes(K)).digest()[:HASH_SIZE]


@attr.s(frozen=True, slots=True, repr=False)
class KeyPair(object):
    """A private exponent and its public value (repr hides the secret)."""

    private = attr.ib()

    @classmethod
    def generate(cls):
        return cls(generate_private())

    @property
    def public(self):
        return public_value(self.private)

    def public_bytes(self):
        return public_bytes(self.private)

    def shared_secret(self, peer_public):
        return shared_secret(self.private, peer_public)

    def __repr__(self):
        return "<dh384.KeyPair public=%s...>" % (self.public_bytes()[:6].hex(),)


class _Handshake(object):
    """What both sides do after the peer's value: the peer's filler is not
    delimited, so its 8-byte hash is searched for in what follows."""

    def _absorb(self, data, peer_hash):
        """Buffer ``data``; when the peer's 48-byte value is complete, derive
        K and the hash the peer must send (``peer_hash(K)``).  True only on
        the call that derived K."""
        self._buf += data
        if self.K is not None or len(self._buf) < VALUE_SIZE:
            return False
        self.K = self.keypair.shared_secret(bytes(self._buf[:VALUE_SIZE]))
        del self._buf[:VALUE_SIZE]
        self._expected = peer_hash(self.K)
        return True

    def _peer_hash_found(self, peer):
        """Whether :attr:`_expected` (``peer``'s hash) is in the buffer; if so
        the bytes after it become :attr:`remainder` and the handshake is done.
        Refuses a peer whose hash is missing after ``MAX_FILLER + HASH_SIZE``
        bytes (LimitExceeded) or starts past ``MAX_FILLER`` (ProtocolError)."""
        i = bytes(self._buf).find(self._expected)
        if i < 0:
            if len(self._buf) >= MAX_FILLER + HASH_SIZE:
                raise LimitExceeded("%s DH hash not found after %d bytes" % (peer, len(self._buf)))
            return False
        if i > MAX_FILLER:
            raise ProtocolError("%s DH hash after %d filler bytes" % (peer, i))
        self.remainder = bytes(self._buf[i + HASH_SIZE :])
        self._buf = bytearray()
        self.done = True
        return True


class ServerHandshake(_Handshake):
    """Sans-IO server side of the DH-384 pre-handshake.

    ``receive(data)`` returns ``(to_send, done)``; ``to_send`` are bytes to
    write (possibly empty).  Once ``done`` is true, :attr:`K` holds the
    shared secret and :attr:`remainder` the bytes that followed the client's
    hash (they belong to the RC4 stream).

    ``hash_with_public``: send ``MD5("I"||K)[:8]`` together with B, as the real
    login server does (login.md 2.2), instead of after checking the client's
    hash (relay order, tcp.md 3).  ``filler`` is what to send after B.

    GUESS (tcp.md Q2): the client's filler after A is not delimited; we take
    A = the first 48 bytes and then look for the expected 8-byte client hash
    in the following bytes, dropping everything before it.  If it has not
    appeared within ``MAX_FILLER + HASH_SIZE`` bytes after A, the peer is not
    speaking this protocol (ProtocolError).
    """

    def __init__(self, keypair=None, filler=b"", hash_with_public=True):
        self.keypair = keypair if keypair is not None else KeyPair.generate()
        self.filler = bytes(filler)
        self.hash_with_public = hash_with_public
        self.K = None
        self.remainder = b""
        self.done = False
        self._buf = bytearray()
        self._expected = None

    def receive(self, data):
        if self.done:
            self.remainder += bytes(data)
            return b"", True
        out = b""
        if self._absorb(data, client_hash):
            out = self.keypair.public_bytes() + self.filler
            if self.hash_with_public:
                out += server_hash(self.K)
        elif self.K is None:
            return b"", False
        if not self._peer_hash_found("client"):
            return out, False
        if not self.hash_with_public:
            out += server_hash(self.K)
        return out, True


class ClientHandshake(_Handshake):
    """Sans-IO client side of the DH-384 pre-handshake (tcp.md 3 steps 1-5).

    :meth:`start` returns A and the filler to send first.  :meth:`receive`
    returns ``(to_send, done)``: once B (the first 48 bytes from the server)
    is there it answers ``MD5("O"||K)[:8]``; ``done`` turns true when the
    server's ``MD5("I"||K)[:8]`` has been found.  :attr:`remainder` then holds
    the bytes that followed it -- the start of the server's seed exchange.

    The server's filler after B is not delimited either (the real relay sent
    11 bytes), so, as on the server side, we look for the expected 8-byte hash
    among the bytes after B and drop what precedes it.  It does not matter
    whether the server sends its hash right behind B (the login server's
    order) or only after checking ours (the relay order): the search finds
    it in both.  A wrong server hash never matches, so the peer is refused
    once more than ``MAX_FILLER + HASH_SIZE`` bytes followed B without it.
    """

    def __init__(self, keypair=None, filler=b""):
        self.keypair = keypair if keypair is not None else KeyPair.generate()
        self.filler = bytes(filler)
        if len(self.filler) > MAX_FILLER:
            raise ValueError("filler longer than %d bytes" % MAX_FILLER)
        self.K = None
        self.remainder = b""
        self.done = False
        self._buf = bytearray()
        self._expected = None
        self._started = False

    def start(self):
        """The first bytes to send: A (48 bytes) and the filler."""
        self._started = True
        return self.keypair.public_bytes() + self.filler

    def receive(self, data):
        if not self._started:
            raise ValueError("call start() before receive()")
        if self.done:
            self.remainder += bytes(data)
            return b"", True
        out = b""
        if self._absorb(data, server_hash):
            out = client_hash(self.K)
        elif self.K is None:
            return b"", False
        if not self._peer_hash_found("server"):
            return out, False
        return out, True
