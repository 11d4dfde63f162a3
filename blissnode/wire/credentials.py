"""
The two credentials of a Skype login (login.md 6, 7.4): the MD5 "password
credential" the client proves it knows, and the RSA-signed credential the
login server hands back and every peer checks.

::

    cred16 = MD5(name || "\\nskyper\\n" || password)

    cert   = key_id:u32be || S                       (4 + 256 bytes)
    P      = S^e mod N_cred                           (RSA with message recovery)
    P      = 4b || bb * k || ba || L || SHA1(L) || bc (k >= 0, fills the modulus)
    L      = 0x41 list {STRING 0 name, INT 3 flags, BLOB 1 user modulus,
                        INT 4 expiry minutes, [LIST 7], LIST 2 {INT 9 ...}}

Everything here is pure: the private RSA operation is a *signer* callable
handed in by the caller (``ServerKeys.credential_sign_raw`` on the server),
so this module never sees a key file.  Credential times are minutes since
1970-01-01 00:00 UTC; the helpers at the end implement the relations the
real credentials show (expiry = issue + 30 days, the second value = same
clock time one calendar year later).
"""

import calendar
import datetime
import hashlib
import hmac
import time

import attr

from blissnode.wire import objects
from blissnode.wire.errors import ProtocolError
from blissnode.wire.rsa_raw import modulus_size, raw_public

__all__ = [
    "UserRecord",
    "verify_user_record",
    "CREDENTIAL_SEPARATOR",
    "md5_credential",
    "credential_name",
    "PAYLOAD_HEADER",
    "PAYLOAD_PAD",
    "PAYLOAD_PAD_END",
    "PAYLOAD_TRAILER",
    "build_signed_payload",
    "open_signed_payload",
    "KEY_ID_CRED",
    "USER_MODULUS_SIZE",
    "Credential",
    "certified_list",
    "build_credential",
    "parse_credential",
    "CREDENTIAL_LIFETIME_MINUTES",
    "minutes_since_epoch",
    "minutes_to_datetime",
    "credential_expiry",
    "issue_from_expiry",
    "one_year_later",
]

# -- MD5 credential (login.md 6) ---------------------------------------------

#: Between name and password; no terminator after the password.
CREDENTIAL_SEPARATOR = b"\nskyper\n"


def _text_bytes(value, what):
    """GUESS (L4): text is hashed as UTF-8.  The references only use ASCII;
    the third-party web-login clients that agree on the formula encode UTF-8,
    and the md5_credential vectors assume it.  ``bytes`` pass unchanged: a
    caller that knows another encoding encodes first."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError("%s must be str or bytes, got %r" % (what, type(value).__name__))


def md5_credential(name, password):
    """The 16-byte MD5 credential of ``name`` and ``password`` exactly as given.

    No case folding here (the vectors hash "Test.User-1_2" as typed); the
    server applies :func:`credential_name` before calling this.
    """
    return hashlib.md5(
        _text_bytes(name, "name") + CREDENTIAL_SEPARATOR + _text_bytes(password, "password")
    ).digest()


def credential_name(name):
    """The spelling of a Skype name the server stores and hashes.

    GUESS (login.md 6, L4): lower case.  Every sample name is lower case, one
    third-party client lower-cases before hashing, and the server cannot
    recompute the MD5 for another spelling -- so blissnode stores names in
    lower case, looks them up case-insensitively and checks the credential
    computed over the lower-cased name.  The one place to change if a client
    version turns out to hash the name as typed.
    """
    return name.lower()


# -- ISO/IEC 9796-2-style message recovery (login.md 7.4) ---------------------

PAYLOAD_HEADER = 0x4B
PAYLOAD_PAD = 0xBB
PAYLOAD_PAD_END = 0xBA
PAYLOAD_TRAILER = 0xBC
_SHA1_SIZE = 20
#: header + pad end + SHA-1 + trailer
_OVERHEAD = 1 + 1 + _SHA1_SIZE + 1


def build_signed_payload(certified, modulus_bytes=256):
    """``4b bb..bb ba || certified || SHA1(certified) || bc``, ``modulus_bytes`` long.

    The block that gets RSA-signed (raised to ``d``).  Raises ``ValueError``
    when ``certified`` does not fit (at most ``modulus_bytes - 23`` bytes).
    Its integer value is below any modulus of that length with the top bit
    set, because it starts with 0x4B.
    """
    certified = bytes(certified)
    k = modulus_bytes - _OVERHEAD - len(certified)
    if k < 0:
        raise ValueError(
            "certified list of %d bytes does not fit a %d-byte payload"
            % (len(certified), modulus_bytes))
    return (bytes([PAYLOAD_HEADER]) + bytes([PAYLOAD_PAD]) * k + bytes([PAYLOAD_PAD_END])
            + certified + hashlib.sha1(certified).digest() + bytes([PAYLOAD_TRAILER]))


def open_signed_payload(payload):
    """The certified bytes inside a recovered payload ``P``.

    Checks header 0x4B, a run of 0xBB ending in 0xBA, trailer 0xBC and the
    SHA-1; any mismatch (which is what a wrong key or a forged signature
    produces) raises ProtocolError.
    """
    P = bytes(payload)
    if len(P) < _OVERHEAD:
        raise ProtocolError("signed payload of %d bytes is too short" % (len(P),))
    if P[0] != PAYLOAD_HEADER:
        raise ProtocolError("signed payload header 0x%02x, expected 0x4b" % (P[0],))
    if P[-1] != PAYLOAD_TRAILER:
        raise ProtocolError("signed payload trailer 0x%02x, expected 0xbc" % (P[-1],))
    i = 1
    end = len(P) - 1 - _SHA1_SIZE
    while i < end and P[i] == PAYLOAD_PAD:
        i += 1
    if i >= end or P[i] != PAYLOAD_PAD_END:
        raise ProtocolError("signed payload padding does not end in 0xba")
    certified = P[i + 1 : end]
    if not hmac.compare_digest(hashlib.sha1(certified).digest(), P[end:-1]):
        raise ProtocolError("signed payload SHA-1 does not match")
    return certified


# -- the signed credential ------------------------------------------------------

#: Header of every credential blissnode issues: key id 1 = the 2048-bit
#: credential key (login.md 7.4; key id 0 was a 1536-bit key of 2006).
KEY_ID_CRED = 1
#: BLOB 1 / request BLOB 0x21: the user's RSA-1024 modulus.
USER_MODULUS_SIZE = 128

ITEM_NAME = 0
ITEM_MODULUS = 1
ITEM_VALIDITY = 2
ITEM_FLAGS = 3
ITEM_EXPIRY = 4
ITEM_EXTRA = 7


def _public_ne(public_key):
    """(n, e) from a cryptography public key / numbers, an RsaPublic, a
    ``(n, e)`` tuple or a bare modulus (e = 65537)."""
    if isinstance(public_key, int):
        return public_key, 65537
    if isinstance(public_key, tuple):
        n, e = public_key
        return n, e
    if hasattr(public_key, "public_numbers"):
        public_key = public_key.public_numbers()
    return public_key.n, public_key.e


def _int_list(value):
    """LIST 2 / LIST 7 contents: an ObjectList, a sequence of items, or a
    mapping ``{item id: u32}`` (INT items, in mapping order)."""
    if isinstance(value, dict):
        return objects.ObjectList([objects.Int(k, v) for k, v in value.items()])
    return objects.ObjectList(value)


@attr.s(frozen=True, slots=True)
class Credential:
    """A parsed (verified) or freshly built signed credential.

    * ``key_id``: the 4-byte header (1 for ``N_cred``);
    * ``name``: the Skype name (STRING 0, text);
    * ``flags``: INT 3 (0 in all samples but one; meaning unknown, L7);
    * ``user_modulus``: BLOB 1, the user's RSA-1024 modulus (big-endian);
    * ``expiry``: INT 4, minutes since 1970 (= issue + 30 days);
    * ``validity``: LIST 2 as an ObjectList (``{INT 9 = minutes}``), or
      ``None`` when absent (the 2006 four-item layout);
    * ``extra``: LIST 7 (``{STRING 999}``, two 2016 samples), or ``None``;
    * ``certified``: the exact bytes of ``L``; ``raw``: the whole credential.
    """

    key_id = attr.ib()
    name = attr.ib()
    flags = attr.ib()
    user_modulus = attr.ib(converter=bytes)
    expiry = attr.ib()
    validity = attr.ib()
    extra = attr.ib()
    certified = attr.ib(converter=bytes, repr=False)
    raw = attr.ib(converter=bytes, repr=False)

    def valid_until(self, feature=9):
        """LIST 2's INT ``feature`` (minutes), or ``None``."""
        if self.validity is None:
            return None
        return self.validity.value(feature, objects.Int)


def certified_list(name, user_modulus, expiry, validity=None, *, flags=0, extra=None):
    """Encode ``L`` (0x41) in the order every real credential uses:
    STRING 0, INT 3, BLOB 1, INT 4, [LIST 7], [LIST 2]."""
    items = [
        objects.String(ITEM_NAME, _text_bytes(name, "name")),
        objects.Int(ITEM_FLAGS, flags),
        objects.Blob(ITEM_MODULUS, bytes(user_modulus)),
        objects.Int(ITEM_EXPIRY, expiry),
    ]
    if extra is not None:
        items.append(objects.NestedList(ITEM_EXTRA, _int_list(extra)))
    if validity is not None:
        items.append(objects.NestedList(ITEM_VALIDITY, _int_list(validity)))
    return objects.encode_objects(items)


def build_credential(name, user_modulus, expiry, validity, signer, *,
                     flags=0, extra=None, key_id=KEY_ID_CRED, modulus_bytes=256):
    """Build and sign a credential; return the :class:`Credential`.

    ``signer(P) -> S`` is the raw private RSA operation of the credential key
    (``modulus_bytes`` in, ``modulus_bytes`` out).  ``validity`` is LIST 2:
    ``{9: one_year_later(issue)}`` for 6.x clients, ``{9: expiry}`` in the
    4.x era (login.md 8); ``None`` leaves it out.
    """
    user_modulus = bytes(user_modulus)
    if len(user_modulus) != USER_MODULUS_SIZE:
        raise ValueError("user modulus of %d bytes, expected %d"
                         % (len(user_modulus), USER_MODULUS_SIZE))
    if not 0 <= key_id <= 0xFFFFFFFF:
        raise ValueError("key id %r" % (key_id,))
    L = certified_list(name, user_modulus, expiry, validity, flags=flags, extra=extra)
    S = bytes(signer(build_signed_payload(L, modulus_bytes)))
    if len(S) != modulus_bytes:
        raise ValueError("signer returned %d bytes, expected %d" % (len(S), modulus_bytes))
    raw = key_id.to_bytes(4, "big") + S
    return Credential(
        key_id, _text_bytes(name, "name").decode("utf-8"), flags, user_modulus, expiry,
        None if validity is None else _int_list(validity),
        None if extra is None else _int_list(extra), L, raw)


def parse_credential(blob, public_key):
    """Verify and decode a credential (BLOB 0x24 of the login reply).

    ``public_key``: the credential key (cryptography key or numbers,
    :class:`~blissnode.wire.rsa_raw.RsaPublic`, ``(n, e)`` or ``n``).  The
    blob must be 4 + modulus-size bytes; the signature must open (ProtocolError
    otherwise) and ``L`` must hold STRING 0, INT 3, BLOB 1 and INT 4.  The key
    id header is reported, not checked: the caller picks the key by it.
    """
    n, e = _public_ne(public_key)
    k = modulus_size(n)
    blob = bytes(blob)
    if len(blob) != 4 + k:
        raise ProtocolError("credential of %d bytes, expected %d" % (len(blob), 4 + k))
    L = open_signed_payload(raw_public(blob[4:], n, e))
    items = objects.decode_objects(L)

    def need(item_id, cls):
        it = items.get(item_id, cls)
        if it is None:
            raise ProtocolError("credential without %s %d" % (cls.__name__.upper(), item_id))
        return it

    name = need(ITEM_NAME, objects.String).text
    flags = need(ITEM_FLAGS, objects.Int).value
    modulus = need(ITEM_MODULUS, objects.Blob).value
    expiry = need(ITEM_EXPIRY, objects.Int).value
    validity = items.value(ITEM_VALIDITY, objects.NestedList)
    extra = items.value(ITEM_EXTRA, objects.NestedList)
    return Credential(int.from_bytes(blob[:4], "big"), name, flags, modulus, expiry,
                      validity, extra, L, blob)


# -- published user records (supernode.md 5.1) ---------------------------------


@attr.s(frozen=True, slots=True)
class UserRecord(object):
    """A published user record whose two signatures checked: ``credential``
    (ours, :class:`Credential`) and the user-signed block (the user's key
    from the credential); ``node_record`` is its BLOB 3 (or None)."""

    credential = attr.ib()
    node_record = attr.ib()


def verify_user_record(record, credential_key):
    """Check a published user record (cmd 60 / UDP 12 BLOB 0x0B):
    ``u32 len || credential || user-signed block [|| more]``, the block
    being RSA-signed by the credential's user key over
    ``SHA1(credential) || {BLOB 3 = node record}`` (supernode.md 5.1,
    login.md 7.5).  Returns a :class:`UserRecord`; ProtocolError when the
    credential is not ours, the block does not open with the user's key or
    does not name this credential (a record cut from another one).
    Whether the record's *sender* is its user is the caller's question."""
    record = bytes(record)
    if len(record) < 8:
        raise ProtocolError("user record of %d bytes" % (len(record),))
    length = int.from_bytes(record[:4], "big")
    if length > len(record) - 4:
        raise ProtocolError("user record credential length %d beyond the record" % (length,))
    credential_raw = record[4:4 + length]
    credential = parse_credential(credential_raw, credential_key)
    user_n = int.from_bytes(credential.user_modulus, "big")
    if user_n < 3:
        raise ProtocolError("credential with an empty user modulus")
    k = modulus_size(user_n)
    block = record[4 + length:4 + length + k]
    if len(block) != k:
        raise ProtocolError("user record without its %d-byte user-signed block" % (k,))
    signed = open_signed_payload(raw_public(block, user_n, 65537))
    if not hmac.compare_digest(signed[:_SHA1_SIZE], hashlib.sha1(credential_raw).digest()):
        raise ProtocolError("the user-signed block belongs to another credential")
    try:
        node_record = objects.decode_objects(signed[_SHA1_SIZE:]).value(3, objects.Blob)
    except ProtocolError:
        node_record = None
    return UserRecord(credential, node_record)


# -- credential times (login.md 7.4) -------------------------------------------

#: INT 4 = issue + 30 days (VERIFIED on the real credentials' timing).
CREDENTIAL_LIFETIME_MINUTES = 30 * 1440

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def minutes_since_epoch(when=None):
    """Whole minutes since 1970-01-01 00:00 UTC (floor).

    ``when``: ``None`` (now), POSIX seconds, or a ``datetime`` (a naive one
    is taken as UTC).
    """
    if when is None:
        when = time.time()
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return int((when - _EPOCH) // datetime.timedelta(minutes=1))
    return int(when // 60)


def minutes_to_datetime(minutes):
    """The aware UTC ``datetime`` of a minute count (``ValueError`` beyond
    the year 9999: a u32 minute count reaches the year 10136)."""
    try:
        return _EPOCH + datetime.timedelta(minutes=minutes)
    except OverflowError:
        raise ValueError("minute count %r is outside the datetime range" % (minutes,))


def credential_expiry(issue):
    """INT 4 of a credential issued at minute ``issue``."""
    return issue + CREDENTIAL_LIFETIME_MINUTES


def issue_from_expiry(expiry):
    """The implied issue time of a credential with INT 4 = ``expiry``."""
    return expiry - CREDENTIAL_LIFETIME_MINUTES


def one_year_later(issue):
    """The same UTC date and clock time one calendar year after minute
    ``issue`` (365 or 366 days), as the real server computed LIST 2 INT 9.

    GUESS: 29 February maps to 28 February of the next year (what the usual
    calendar libraries do; no real sample was issued on a 29 February).
    """
    dt = minutes_to_datetime(issue)
    year = dt.year + 1
    day = min(dt.day, calendar.monthrange(year, dt.month)[1])
    return minutes_since_epoch(dt.replace(year=year, day=day))
