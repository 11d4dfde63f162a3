"""
Client-to-client session messages (tcp.md 7.3, supernode.md 5.3): the
plaintexts that travel inside type-5 session records, and the proofs they
carry.  Pure: object lists and bytes in, values out; the private RSA
operation is a ``signer`` / ``decrypter`` callable handed in.

::

    initiator -> responder  67 (0x43) {STRING 0 = responder's name, BLOB 1 = own node
                                       record, INT 3 = own session id, [LIST 7 = relay],
                                       INT64 9 = challenge, INT 0x18 = 1, INT 0x1B = 6,
                                       STRING 0x2B = version}
    responder -> initiator  68 (0x44) {INT 3 = own session id, BLOB 5 = credential,
                                       INT64 9 = challenge}
    initiator -> responder  69 (0x45) {BLOB 5 = credential, BLOB 0xA = signed challenge,
                                       BLOB 6 = own nonce RSA-encrypted to the responder}
    responder -> initiator  87 (0x57) {BLOB 0xA = signed challenge, BLOB 6 = own nonce
                                       RSA-encrypted to the initiator}
    -- both switch to the session key SHA1(0^4||N_i)[:16] || SHA1(0^4||N_r)[:16] --
    either side             109 (0x6D) chat message   -> 71 (0x47) ack, tid of the message

The item ids of 67/68/69/87 are the ones tcp.md 7.3 lists (VERIFIED shapes
of real plaintexts, SOURCE meanings).  GUESS, and blissnode's own: what the
signed challenge block holds (:func:`challenge_block`), the 0x6D chat body
(:class:`ChatMessage`: the real one is the multi-command chat protocol of
SOS2's blobs, not reproduced) and the reply tids (a reply reuses the tid of
what it answers, as the 0x47 ack does in EPYCS).  A check between two
reference clients is the reference client's own protocol, not interop with
real clients.
"""

import hashlib

import attr

from blissnode.wire.credentials import build_signed_payload, open_signed_payload, parse_credential
from blissnode.wire.errors import ProtocolError
from blissnode.wire.objects import (
    Blob,
    Int,
    Int64,
    ObjectList,
    String,
    decode_objects,
    encode_objects,
)
from blissnode.wire.relay_commands import RelayCandidate
from blissnode.wire.rsa_raw import raw_public

__all__ = [
    "CMD_SESSION_REQUEST", "CMD_SESSION_REPLY", "CMD_SESSION_AUTH", "CMD_SESSION_AUTH_REPLY",
    "CMD_CHAT", "CMD_ACK", "NONCE_SIZE",
    "SessionRequest", "SessionReply", "SessionAuth", "SessionAuthReply", "ChatMessage",
    "new_nonce", "encrypt_nonce", "challenge_block", "sign_challenge", "check_challenge",
    "open_user_record", "body_bytes",
]

CMD_SESSION_REQUEST = 0x43
CMD_SESSION_REPLY = 0x44
CMD_SESSION_AUTH = 0x45
CMD_SESSION_AUTH_REPLY = 0x57
CMD_CHAT = 0x6D
CMD_ACK = 0x47

#: A session nonce: 128 bytes, the first forced to 0x01 (tcp.md 7.2).
NONCE_SIZE = 128


def body_bytes(items):
    """A plaintext body: one 0x41 list (all 22 real plaintexts, tcp.md 7.3)."""
    return encode_objects(ObjectList(list(items)))


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


@attr.s(frozen=True, slots=True)
class SessionRequest(object):
    """67: the session proposal (also the inner body of a cmd 53 push)."""

    peer_name = attr.ib(default=None)
    node_record = attr.ib(default=None)
    session_id = attr.ib(default=None)
    challenge = attr.ib(default=None)
    relays = attr.ib(factory=tuple, converter=tuple)
    version = attr.ib(default=None)

    #: INT 0x18 and INT 0x1B as the 6.16 proposal carried them (VERIFIED
    #: values of one real datagram, meaning unknown).
    FLAGS = ((0x18, 1), (0x1B, 6))

    @classmethod
    def from_objects(cls, objs):
        record = objs.value(0x01, Blob)
        return cls(_text(objs.value(0x00, String)), None if record is None else bytes(record),
                   objs.value(0x03, Int), objs.value(0x09, Int64), RelayCandidate.all_in(objs),
                   _text(objs.value(0x2B, String)))

    def items(self):
        out = [String(0x00, self.peer_name.encode("utf-8"))]
        if self.node_record is not None:
            out.append(Blob(0x01, bytes(self.node_record)))
        out.append(Int(0x03, self.session_id))
        out += [relay.item() for relay in self.relays]
        out.append(Int64(0x09, self.challenge))
        out += [Int(i, v) for i, v in self.FLAGS]
        if self.version is not None:
            out.append(String(0x2B, self.version.encode("utf-8")))
        return out


@attr.s(frozen=True, slots=True)
class SessionReply(object):
    """68: the responder's session id, credential and challenge."""

    session_id = attr.ib(default=None)
    credential = attr.ib(default=None)
    challenge = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        cred = objs.value(0x05, Blob)
        return cls(objs.value(0x03, Int), None if cred is None else bytes(cred),
                   objs.value(0x09, Int64))

    def items(self):
        return [Int(0x03, self.session_id), Blob(0x05, self.credential),
                Int64(0x09, self.challenge)]


@attr.s(frozen=True, slots=True)
class SessionAuth(object):
    """69: the initiator's credential, its signed answer to the responder's
    challenge and its encrypted nonce."""

    credential = attr.ib(default=None)
    signature = attr.ib(default=None)
    nonce = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        return cls(*(None if v is None else bytes(v)
                     for v in (objs.value(0x05, Blob), objs.value(0x0A, Blob),
                               objs.value(0x06, Blob))))

    def items(self):
        return [Blob(0x05, self.credential), Blob(0x0A, self.signature), Blob(0x06, self.nonce)]


@attr.s(frozen=True, slots=True)
class SessionAuthReply(object):
    """87: the responder's signed answer and encrypted nonce."""

    signature = attr.ib(default=None)
    nonce = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        return cls(*(None if v is None else bytes(v)
                     for v in (objs.value(0x0A, Blob), objs.value(0x06, Blob))))

    def items(self):
        return [Blob(0x0A, self.signature), Blob(0x06, self.nonce)]


@attr.s(frozen=True, slots=True)
class ChatMessage(object):
    """GUESS (blissnode's own): 0x6D ``{INT 0 = 1, STRING 1 = sender,
    STRING 2 = text, INT 3 = message id}``.  Real clients wrap their chat
    commands (0xA6 with an inner 0x6D, SOS2 blobs) in a protocol not
    reproduced here."""

    sender = attr.ib(default=None)
    text = attr.ib(default=None)
    message_id = attr.ib(default=None)

    @classmethod
    def from_objects(cls, objs):
        return cls(_text(objs.value(0x01, String)), _text(objs.value(0x02, String)),
                   objs.value(0x03, Int))

    def items(self):
        return [Int(0x00, 1), String(0x01, self.sender.encode("utf-8")),
                String(0x02, self.text.encode("utf-8")), Int(0x03, self.message_id)]


# -- proofs ----------------------------------------------------------------------


def new_nonce(random_bytes):
    """A session nonce from ``random_bytes(n)``: first byte 0x01."""
    return b"\x01" + bytes(random_bytes(NONCE_SIZE - 1))


def encrypt_nonce(nonce, peer_modulus):
    """BLOB 6: the nonce raised to e = 65537 modulo the peer's RSA-1024
    modulus (tcp.md 7.2; raw RSA, the 0x01 first byte keeps it below)."""
    n = int.from_bytes(bytes(peer_modulus), "big")
    return raw_public(bytes(nonce), n)


def challenge_block(challenge, name):
    """GUESS: what a side signs to answer the peer's INT64 9 challenge --
    the 8 challenge bytes and its own name (a signature over the challenge
    alone would prove the key, not whose it is)."""
    return challenge.to_bytes(8, "big") + name.encode("utf-8")


def sign_challenge(challenge, name, signer, modulus_bytes=128):
    """BLOB 0xA: ``signer(4b bb.. ba || block || SHA1(block) || bc)`` with
    the user's private key (the credential's signed-payload layout)."""
    return bytes(signer(build_signed_payload(challenge_block(challenge, name), modulus_bytes)))


def check_challenge(signature, challenge, name, peer_modulus):
    """Whether ``signature`` answers ``challenge`` for ``name`` under the
    peer's modulus (from its verified credential)."""
    n = int.from_bytes(bytes(peer_modulus), "big")
    try:
        block = open_signed_payload(raw_public(bytes(signature), n))
    except (ProtocolError, ValueError):
        return False
    return block == challenge_block(challenge, name)


def open_user_record(record, credential_key):
    """``(Credential, node record bytes)`` of a published user record
    (``u32 len || credential || signed {SHA1(credential) || {BLOB 3 = node
    record}}``, supernode.md 5.1, login.md 7.5).  ProtocolError when the
    credential or the user's signature does not open."""
    record = bytes(record)
    if len(record) < 4:
        raise ProtocolError("user record of %d bytes" % (len(record),))
    length = int.from_bytes(record[:4], "big")
    cred_raw, signed = record[4:4 + length], record[4 + length:]
    credential = parse_credential(cred_raw, credential_key)
    n = int.from_bytes(credential.user_modulus, "big")
    try:
        D = open_signed_payload(raw_public(signed[:len(credential.user_modulus)], n))
    except ValueError as e:
        raise ProtocolError("user record signature: %s" % (e,))
    if D[:20] != hashlib.sha1(cred_raw).digest():
        raise ProtocolError("user record signs another credential")
    node = decode_objects(D[20:]).value(0x03, Blob)
    if node is None:
        raise ProtocolError("user record without BLOB 3 (node record)")
    return credential, bytes(node)

