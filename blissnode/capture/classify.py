"""
What a TCP flow is, from the first bytes of each direction.

Decided in this order (each rule is cheap and the earlier ones are exact):

=======================  ====================================================
``https-prelude-peer``   client starts ``80 46 01 03 01`` (the SSLv2
                         ClientHello of Skype's port-443 prelude)
``server-plain``         client starts ``16 03 01 00 00`` (hello), or with a
                         ``16 03 01 L`` record holding an object list
``tls``                  a TLS record whose payload is a handshake message
                         (real TLS, not Skype)
``tls-midstream``        ``17 03 0x`` first: records of a connection whose
                         start is not in the capture
``http``                 ``GET`` / ``POST`` / ``HEAD`` / ...
``classic-peer``         the first 14 bytes are a seed exchange whose
                         greeting decrypts to ``.. 00 00 00 01 00 00 00 ..``
                         (a random stream passes with odds of 2^-56)
``server-dh384``         a DH-384 opening (48 bytes or more, nothing of the
``dh384-peer``           above) to a server, or to a peer: see below
``unknown``              anything else
=======================  ====================================================

Whether a DH-384 opening leads to a login/event server or to a peer cannot
be read from bytes we cannot decrypt.  With the shared secret the decoder
checks (the stream after the hashes is RC4 of ``16 03 01`` for a server, a
seed exchange keyed with ``K`` for a peer).  Without it:
GUESS -- a server if the same server address spoke the plain server
transport elsewhere in the capture, or listens on 33033 (login) or 12350
(event); a peer otherwise.  The basis is reported with the class.
"""

from blissnode.capture.dh_opening import DhOpening
from blissnode.wire import dh384, rc4
from blissnode.wire.errors import ProtocolError
from blissnode.wire.https_prelude import HTTP_METHODS, SSLV2_HELLO_MAGIC
from blissnode.wire.seed_exchange import EXCHANGE_SIZE, parse_seed_exchange
from blissnode.wire.server_transport import CLIENT_HELLO, server_rc4_keys

__all__ = ["KIND_CLASSIC", "KIND_DH_PEER", "KIND_PRELUDE", "KIND_SERVER_PLAIN",
           "KIND_SERVER_DH", "KIND_TLS", "KIND_TLS_MIDSTREAM", "KIND_HTTP", "KIND_UNKNOWN",
           "KIND_EMPTY", "KIND_UDP_SKYPE", "KIND_UDP_OTHER", "KIND_UDP_UNOPENED", "DESCRIPTIONS", "SERVER_PORTS",
           "Classification", "classify_opening", "MAX_UNDECIDED"]

KIND_CLASSIC = "classic-peer"
KIND_DH_PEER = "dh384-peer"
KIND_PRELUDE = "https-prelude-peer"
KIND_SERVER_PLAIN = "server-plain"
KIND_SERVER_DH = "server-dh384"
KIND_TLS = "tls"
KIND_TLS_MIDSTREAM = "tls-midstream"
KIND_HTTP = "http"
KIND_UNKNOWN = "unknown"
KIND_EMPTY = "empty"
KIND_UDP_SKYPE = "udp-skype"
KIND_UDP_OTHER = "udp-other"
KIND_UDP_UNOPENED = "udp-unopened"

DESCRIPTIONS = {
    KIND_CLASSIC: "classic peer stream",
    KIND_DH_PEER: "DH-384 peer stream",
    KIND_PRELUDE: "port-443 SSLv2 prelude + classic peer stream",
    KIND_SERVER_PLAIN: "plain server transport",
    KIND_SERVER_DH: "DH-384 server transport",
    KIND_TLS: "real TLS (not Skype)",
    KIND_TLS_MIDSTREAM: "TLS-like records, the start of the connection is not in the capture",
    KIND_HTTP: "HTTP (not Skype)",
    KIND_UNKNOWN: "unknown",
    KIND_EMPTY: "no payload",
    KIND_UDP_SKYPE: "UDP obfuscated datagrams",
    KIND_UDP_OTHER: "UDP, not Skype",
    KIND_UDP_UNOPENED: "UDP, Skype-shaped datagrams that no keying address opens",
}

#: GUESS: default ports of the login (33033) and event (12350) servers
#: (login.md 1, event.md 1).
SERVER_PORTS = {33033: "login", 12350: "event"}

#: Client bytes after which an undecided flow is called unknown.
MAX_UNDECIDED = 4096

_TLS_VERSIONS = (b"\x03\x00", b"\x03\x01", b"\x03\x02", b"\x03\x03", b"\x03\x04")
_OBJECT_LIST_MARKERS = (0x41, 0x42)


class Classification(object):
    """``kind``, the ``basis`` it rests on, and the role hint for servers."""

    def __init__(self, kind, basis, role=None):
        self.kind, self.basis, self.role = kind, basis, role

    def __repr__(self):
        return "Classification(%r, %r)" % (self.kind, self.basis)


def _dh_with_secret(client, secret):
    """With K: ``KIND_SERVER_DH`` / ``KIND_DH_PEER`` / None (need more) / False."""
    opening = DhOpening("client", secret)
    _, rest, state = opening.feed(client)
    if state == "stuck":
        return False
    if state == "more" or len(rest) < 5 and len(rest) < EXCHANGE_SIZE:
        return None
    c2s, _ = server_rc4_keys(secret)
    if rc4.RC4(c2s).crypt(rest[:3]) == b"\x16\x03\x01":
        return KIND_SERVER_DH
    if len(rest) < EXCHANGE_SIZE:
        return None
    try:
        parse_seed_exchange(rest[:EXCHANGE_SIZE], secret)
    except ProtocolError:
        return False
    return KIND_DH_PEER


def classify_opening(client, server=b"", final=False, server_port=None, server_spoke_plain=False,
                     dh_secret=None):
    """Classify from the client's first bytes (``server`` only helps when
    the client sent nothing).  None means "wait for more bytes"; with
    ``final`` (the flow ended) a decision is always returned."""
    c = bytes(client)
    if not c:
        if not final:
            return None
        if server:
            return Classification(KIND_UNKNOWN, "the client sent nothing; the server's first "
                                                "bytes are %s" % bytes(server[:16]).hex())
        return Classification(KIND_EMPTY, "no payload in either direction")
    if c[:5] == SSLV2_HELLO_MAGIC:
        return Classification(KIND_PRELUDE, "client opened with the SSLv2 ClientHello")
    if SSLV2_HELLO_MAGIC.startswith(c[:5]) and not final:
        return None
    if c[:5] == CLIENT_HELLO:
        return Classification(KIND_SERVER_PLAIN, "client opened with the hello 16 03 01 00 00",
                              SERVER_PORTS.get(server_port))
    if c[:1] in (b"\x14", b"\x15", b"\x16", b"\x17") and len(c) < 6 and not final:
        return None
    if c[:1] == b"\x16" and c[1:3] in _TLS_VERSIONS and len(c) >= 6:
        if c[1:3] == b"\x03\x01" and c[5] in _OBJECT_LIST_MARKERS:
            return Classification(KIND_SERVER_PLAIN, "client opened with a key-exchange record "
                                  "(no hello)", SERVER_PORTS.get(server_port))
        return Classification(KIND_TLS, "client opened with a TLS handshake record "
                              "(message type %d)" % c[5])
    if c[:1] in (b"\x14", b"\x15", b"\x17") and c[1:3] in _TLS_VERSIONS:
        return Classification(KIND_TLS_MIDSTREAM, "the first client bytes are a TLS-like record "
                              "of content type 0x%02x" % c[0])
    if any(c.startswith(m) for m in HTTP_METHODS):
        return Classification(KIND_HTTP, "client sent an HTTP request")
    if len(c) < 4 and not final and any(m.startswith(c) for m in HTTP_METHODS):
        return None
    if len(c) >= EXCHANGE_SIZE:
        try:
            parse_seed_exchange(c[:EXCHANGE_SIZE])
        except ProtocolError:
            pass
        else:
            return Classification(KIND_CLASSIC, "the client's first 14 bytes are a seed exchange")
    elif not final:
        return None
    if dh_secret is not None and len(c) >= dh384.VALUE_SIZE:
        kind = _dh_with_secret(c, dh_secret)
        if kind is None and not final and len(c) < MAX_UNDECIDED:
            return None
        if kind:
            return Classification(kind, "checked with the --dh-secret given for this flow",
                                  SERVER_PORTS.get(server_port))
        if kind is False or kind is None:
            return Classification(KIND_UNKNOWN, "a DH-384 opening that the --dh-secret given "
                                  "for this flow does not open")
    if len(c) >= dh384.VALUE_SIZE:
        value = int.from_bytes(c[:dh384.VALUE_SIZE], "big")
        if 2 <= value <= dh384.P - 2:
            if server_spoke_plain:
                return Classification(KIND_SERVER_DH, "GUESS: a DH-384 opening to an address "
                                      "that spoke the plain server transport in this capture",
                                      SERVER_PORTS.get(server_port))
            if server_port in SERVER_PORTS:
                return Classification(KIND_SERVER_DH, "GUESS: a DH-384 opening to port %d (the "
                                      "%s server's)" % (server_port, SERVER_PORTS[server_port]),
                                      SERVER_PORTS[server_port])
            return Classification(KIND_DH_PEER, "GUESS: a DH-384 opening (48+ bytes that are "
                                  "no other opening) to an address not known as a server")
    if not final and len(c) < dh384.VALUE_SIZE:
        return None
    return Classification(KIND_UNKNOWN, "the first bytes %s are no known opening"
                          % c[:16].hex())
