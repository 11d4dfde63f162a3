"""
The first bytes of a TCP connection to a supernode: the fake "HTTPS" prelude.

Clients behind restrictive firewalls reach a supernode on port 443 (and 80).
There they first send a 72-byte SSLv2-format ClientHello; the node answers
with a 79-byte TLS ServerHello template and both sides then continue exactly
as on the main port (seed exchange, tcp.md 2).  Nothing is real TLS: the
bytes only make the connection look like HTTPS (udp.md 9.2, supernode.md
2.2).  Any listener may also see a plain HTTP request, which a Skype node
answers with a bare 404 (udp.md 9.1).

:func:`classify_prelude` sorts the first bytes of a connection;
:func:`decide_prelude` turns that into what the server does (how many bytes
to swallow, what to send, whether to close).  Both are pure.
"""

import attr

from blissnode.wire.errors import ProtocolError

__all__ = [
    "CLS_NEED_MORE", "CLS_SSLV2_HELLO", "CLS_HTTP", "CLS_TLS_RECORD",
    "CLS_SKYPE_SEED", "CLS_SEED_OR_DH384",
    "SSLV2_HELLO_MAGIC", "HTTP_METHODS", "TLS_RECORD_PREFIXES",
    "CLIENT_HELLO_TEMPLATE", "CLIENT_HELLO_LENGTH", "SERVER_HELLO_TEMPLATE",
    "SERVER_HELLO_LENGTH", "HTTP_404", "CLASSIC_OPENING_LENGTH",
    "classify_prelude", "SSLv2ClientHello", "parse_client_hello",
    "build_client_hello", "build_server_hello", "server_hello_record_length",
    "PreludeDecision", "decide_prelude",
]

CLS_NEED_MORE = "need_more"
CLS_SSLV2_HELLO = "sslv2_hello"
CLS_HTTP = "http"
CLS_TLS_RECORD = "tls_record"
CLS_SKYPE_SEED = "skype_seed"
CLS_SEED_OR_DH384 = "skype_seed_or_dh384"

#: SSLv2 2-byte record header (length 0x46), CLIENT-HELLO, version 3.1.
SSLV2_HELLO_MAGIC = b"\x80\x46\x01\x03\x01"
HTTP_METHODS = (b"GET ", b"POST", b"HEAD")
#: Login/event-server framing (tcp.md 8): not expected on a supernode port.
TLS_RECORD_PREFIXES = (b"\x16\x03\x01", b"\x17\x03\x01")

#: A classic client opens with exactly 4 seed bytes + 10 greeting bytes and
#: waits; more than this in the first read can only be a 5.5+ client's DH-384
#: value (48..96 bytes, tcp.md 3) -- or a classic opening followed by more.
CLASSIC_OPENING_LENGTH = 14

#: The 56 fixed bytes of the ClientHello (Sean O'Neil's template, SOS2
#: skype_basics.h; FAKE Common.cpp); 16 random challenge bytes follow.
CLIENT_HELLO_TEMPLATE = bytes.fromhex(
    "8046010301002d00000010"
    "00000500000400000a000009000064000062000008000003000006"
    "0100800700c0030080060040020080040080")
CLIENT_HELLO_LENGTH = 72
CHALLENGE_LENGTH = 16

#: The 79-byte ServerHello a node sends back (SOS2 template): a TLS 1.0
#: handshake record holding only a ServerHello (RC4-SHA, no compression).
SERVER_HELLO_TEMPLATE = bytes.fromhex(
    "160301004a020000460301"
    "401be48602ade029e17774e544b9c99cb431315e02dd779d154a9609ba5da870"
    "20"
    "1ca0e4f64c6351ae2f8e4ee1e6766a0a88d5d8c55cae98c5e481f22a69bf9058"
    "000500")
SERVER_HELLO_LENGTH = 79
_SERVER_RANDOM = slice(11, 43)
_SERVER_SESSION = slice(44, 76)

HTTP_404 = b"HTTP/1.0 404 Not Found\r\n\r\n"


def _starts(data, pattern):
    """``True`` if data starts with pattern, ``None`` if data is a proper
    prefix of it (undecided), ``False`` otherwise."""
    if len(data) >= len(pattern):
        return data[:len(pattern)] == pattern
    return None if pattern[:len(data)] == data else False


def classify_prelude(first_bytes):
    """Classify the first bytes the client sent:

    ``sslv2_hello``  ``80 46 01 03 01``: the 443 prelude; 72 bytes in all.
    ``http``         ``GET `` / ``POST`` / ``HEAD``.
    ``tls_record``   ``16 03 01`` / ``17 03 01``: login/event-server style.
    ``skype_seed``   anything else, up to 14 bytes: a classic seed+greeting.
    ``skype_seed_or_dh384``  anything else, more than 14 bytes: a DH-384
                     opening (5.5+) or a seed with data behind it -- the first
                     bytes cannot tell (supernode.md Q2).
    ``need_more``    too few bytes to decide (e.g. ``80 46`` or ``GE``).

    A real seed never looks like the magic prefixes (FAKE's seed rule keeps
    the top bit set in some byte and the first byte != 0x80, udp.md 9.2).
    """
    data = bytes(first_bytes)
    undecided = False
    for cls, patterns in ((CLS_SSLV2_HELLO, (SSLV2_HELLO_MAGIC,)),
                          (CLS_HTTP, HTTP_METHODS),
                          (CLS_TLS_RECORD, TLS_RECORD_PREFIXES)):
        for pattern in patterns:
            hit = _starts(data, pattern)
            if hit:
                return cls
            if hit is None:
                undecided = True
    if undecided:
        return CLS_NEED_MORE
    if len(data) > CLASSIC_OPENING_LENGTH:
        return CLS_SEED_OR_DH384
    return CLS_SKYPE_SEED


@attr.s(frozen=True, slots=True)
class SSLv2ClientHello(object):
    """A parsed SSLv2-format CLIENT-HELLO."""

    version = attr.ib()
    cipher_specs = attr.ib()   # tuple of 24-bit ints
    session_id = attr.ib()
    challenge = attr.ib()


def parse_client_hello(data):
    """Parse the SSLv2 CLIENT-HELLO at the start of ``data``; return
    ``(hello, consumed)``.  Only the 2-byte record header form is accepted
    (that is all the 443 prelude uses); the record must fit in ``data``."""
    data = bytes(data)
    if len(data) < 2:
        raise ProtocolError("SSLv2 record header truncated")
    if not data[0] & 0x80:
        raise ProtocolError("not an SSLv2 2-byte record header")
    length = ((data[0] & 0x7F) << 8) | data[1]
    end = 2 + length
    if len(data) < end:
        raise ProtocolError("SSLv2 record truncated (%d of %d bytes)" % (len(data), end))
    if length < 9 or data[2] != 0x01:
        raise ProtocolError("not an SSLv2 CLIENT-HELLO")
    version = (data[3] << 8) | data[4]
    cs_len = (data[5] << 8) | data[6]
    sid_len = (data[7] << 8) | data[8]
    ch_len = (data[9] << 8) | data[10]
    if 9 + cs_len + sid_len + ch_len != length or cs_len % 3:
        raise ProtocolError("SSLv2 CLIENT-HELLO lengths do not add up")
    pos = 11
    specs = tuple(int.from_bytes(data[pos + i:pos + i + 3], "big")
                  for i in range(0, cs_len, 3))
    pos += cs_len
    session_id = data[pos:pos + sid_len]
    pos += sid_len
    challenge = data[pos:pos + ch_len]
    return SSLv2ClientHello(version, specs, session_id, challenge), end


def build_client_hello(challenge):
    """The 72-byte ClientHello with the 16-byte ``challenge`` (client side,
    e.g. for tests and a scanner)."""
    challenge = bytes(challenge)
    if len(challenge) != CHALLENGE_LENGTH:
        raise ValueError("the challenge is 16 bytes")
    return CLIENT_HELLO_TEMPLATE + challenge


def build_server_hello(random=None, session_id=None):
    """The 79-byte ServerHello.  Without arguments: the template verbatim
    (the safe choice, udp.md 9.2); ``random`` / ``session_id`` (32 bytes each)
    replace the template's values ("fresh random and session id are fine",
    supernode.md 2.2)."""
    out = bytearray(SERVER_HELLO_TEMPLATE)
    if random is not None:
        if len(random) != 32:
            raise ValueError("random is 32 bytes")
        out[_SERVER_RANDOM] = random
    if session_id is not None:
        if len(session_id) != 32:
            raise ValueError("session_id is 32 bytes")
        out[_SERVER_SESSION] = session_id
    return bytes(out)


def server_hello_record_length(data):
    """Client side: total length (5 + L) of the ``16 03 01 LL LL`` record the
    node answered with -- what FAKE checks; bytes after it already belong to
    the node's seed exchange.  ``None`` if fewer than 5 bytes are present."""
    if len(data) < 5:
        if bytes(data[:3]) != b"\x16\x03\x01"[:len(data[:3])]:
            raise ProtocolError("answer to the SSL prelude is not a TLS record")
        return None
    if bytes(data[:3]) != b"\x16\x03\x01":
        raise ProtocolError("answer to the SSL prelude is not a TLS record")
    return 5 + ((data[3] << 8) | data[4])


@attr.s(frozen=True, slots=True)
class PreludeDecision(object):
    """What a listener does with the first bytes of a connection.

    ``consume``: bytes at the start of the stream that belong to the prelude
    and are not part of the Skype exchange (``None`` while more input is
    needed to know).  ``reply``: bytes to send now.  ``close``: close after
    sending ``reply``.  ``proceed``: continue with the seed exchange (DH-384
    or classic) on the bytes after ``consume``.
    """

    cls = attr.ib()
    consume = attr.ib()
    reply = attr.ib(default=b"")
    close = attr.ib(default=False)
    proceed = attr.ib(default=False)


def decide_prelude(first_bytes, server_hello=SERVER_HELLO_TEMPLATE):
    """The server's answer to the first bytes received (udp.md 9.2):

    * SSLv2 hello -> once all 72 bytes are there: swallow them, send the
      ServerHello, then proceed as on a plain connection (the node waits for
      the client's seed; FAKE copes with both orders);
    * HTTP -> send ``HTTP/1.0 404 Not Found`` and close;
    * TLS record -> close (a login/event-server client on the wrong port);
    * anything else -> proceed at once, nothing swallowed.
    """
    data = bytes(first_bytes)
    cls = classify_prelude(data)
    if cls == CLS_SSLV2_HELLO:
        if len(data) < CLIENT_HELLO_LENGTH:
            return PreludeDecision(cls, None)
        hello, consumed = parse_client_hello(data)
        return PreludeDecision(cls, consumed, reply=server_hello, proceed=True)
    if cls == CLS_HTTP:
        return PreludeDecision(cls, len(data), reply=HTTP_404, close=True)
    if cls == CLS_TLS_RECORD:
        return PreludeDecision(cls, len(data), close=True)
    if cls == CLS_NEED_MORE:
        return PreludeDecision(cls, None)
    return PreludeDecision(cls, 0, proceed=True)
