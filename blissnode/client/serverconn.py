"""
The client side of the transport the login and the event servers share
(login.md 2-4, event.md 2), in one place so the login and the event clients
cannot drift apart:

* the opening: the classic ``16 03 01 00 00`` hello answered by
  ``17 03 01 00 00``, or (5.5+) the DH-384 handshake, after which both
  directions run through RC4 keyed from the shared secret;
* the key exchange: the ``16 03 01`` record whose BLOB 8 is the session seed
  raw-RSA-encrypted to the server's login modulus (0x41 or 0x42 encoding);
* AES-256-CTR data records in both directions.

:class:`ServerConnectionCore` is a sans-IO base class: a client core says
what to send once the transport is up (:meth:`_transport_up`) and what to
do with each decrypted server record (:meth:`_record`).  :func:`connect_tcp`
is the Twisted connection both clients open.
"""

import os

from twisted.internet import error as internet_error
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

from blissnode.wire import dh384, objects, rc4
from blissnode.wire.errors import ProtocolError
from blissnode.wire.rsa_raw import raw_public
from blissnode.wire.server_transport import (
    CLIENT_HELLO,
    CONTENT_DATA,
    HEADER_SIZE,
    RANDOM_SIZE,
    SERVER_HELLO,
    X_CLIENT_TO_SERVER,
    RecordCipher,
    ServerRecordParser,
    key_exchange_record,
    login_session_key,
    server_rc4_keys,
    session_seed_from_random,
)

__all__ = ["TRANSPORT_CLASSIC", "TRANSPORT_DH384", "KX_INT9", "KX_INT12",
           "ServerConnectionCore", "connect_tcp"]

TRANSPORT_CLASSIC = "classic"
TRANSPORT_DH384 = "dh384"

#: INT 9 and INT 0xC of the key-exchange list, in every sample (L11).
KX_INT9 = 0x2000
KX_INT12 = 1


def as_int(value):
    """A modulus given as an int or as big-endian bytes, as an int."""
    if isinstance(value, int):
        return value
    return int.from_bytes(bytes(value), "big")


class ServerConnectionCore(object):
    """Sans-IO transport of one client connection to a login or event server.

    A subclass sets :attr:`error` (the exception it raises), calls
    :meth:`_init_transport` from its ``__init__`` (after setting
    ``profile`` and ``login_modulus``), and implements
    :meth:`_transport_up` and :meth:`_record`.
    """

    #: The exception class raised for every failure of the exchange.
    error = Exception
    #: Classic hellos sent: 1 (the 1.x-4.x samples), or 2 like the real
    #: 7.x client of 2015 (ERRATA: hello, its answer, then the second hello
    #: right before the key exchange; the server answers each); 0 on a
    #: connection a node carries after cmd 7 (the key exchange comes first).
    hellos = 1
    #: Most empty ``17 03 01 00 00`` answers skipped before the first record.
    MAX_SERVER_HELLOS = 4

    def _init_transport(self, r24, dh_keypair, dh_filler, max_payload, kx_extra=()):
        """The session seed and key (from ``r24``, random when ``None``), the
        DH-384 handshake for a DH-384 profile, and the record state.
        ``kx_extra``: ``(item id, size)`` of random BLOBs the 0x42 key
        exchange carries after INT 0xC."""
        self.r24 = bytes(r24) if r24 is not None else os.urandom(RANDOM_SIZE)
        self.seed = session_seed_from_random(self.r24)
        self.key = login_session_key(self.seed)
        self.kx_extra = tuple(kx_extra)
        self._dh = (dh384.ClientHandshake(dh_keypair, dh_filler or b"")
                    if self.profile.transport == TRANSPORT_DH384 else None)
        self._rc4_in = self._rc4_out = None
        self._hello = bytearray()
        self._extra_hellos = 0
        self._parser = ServerRecordParser(max_payload=max_payload)
        self._tx = RecordCipher(self.key, X_CLIENT_TO_SERVER)
        self.state = "new"

    # -- what is sent ---------------------------------------------------------------

    def key_exchange_items(self):
        """BLOB 8 (the seed encrypted to the login modulus), INT 9, INT 0xC
        and, in the 0x42 encoding, the extra random BLOBs."""
        blob = raw_public(self.seed, self.login_modulus)
        if not self.profile.kx_compressed:
            # 1.4 order (BATO): INT 9, BLOB 8, INT 0xC.
            return [objects.Int(9, KX_INT9), objects.Blob(8, blob), objects.Int(0xC, KX_INT12)]
        items = [objects.Blob(8, blob), objects.Int(9, KX_INT9), objects.Int(0xC, KX_INT12)]
        items += [objects.Blob(i, os.urandom(n)) for i, n in self.kx_extra]
        return items

    def key_exchange(self):
        """The ``16 03 01`` record."""
        return key_exchange_record(objects.encode_objects(
            self.key_exchange_items(), compressed=self.profile.kx_compressed))

    def _out(self, data):
        """``data`` as it goes on the wire (RC4 after a DH-384 handshake)."""
        if self._rc4_out is not None:
            data = self._rc4_out.crypt(data)
        return data

    # -- the exchange -----------------------------------------------------------------

    def start(self):
        """The first bytes: the hello (classic) or A and filler (5.5+)."""
        if self.state != "new":
            raise ValueError("start() called twice")
        if self._dh is not None:
            self.state = "dh"
            return self._dh.start()
        if self.hellos == 0:
            # Carried by a node after cmd 7: no hello, the key exchange first.
            self.state = "up"
            return self._transport_up()
        self.state = "hello"
        return CLIENT_HELLO

    def receive(self, data):
        """Feed bytes from the server; return the bytes to send (may be
        empty).  Raises :attr:`error`."""
        try:
            return self._receive(bytes(data))
        except ProtocolError as e:
            raise self.error("protocol error (%s): %s" % (self.state, e))

    def _receive(self, data):
        out = b""
        if self.state == "hello":
            self._hello += data
            if len(self._hello) < HEADER_SIZE:
                return b""
            if bytes(self._hello[:HEADER_SIZE]) != SERVER_HELLO:
                raise self.error("the server did not answer the hello with 17 03 01 00 00")
            data = bytes(self._hello[HEADER_SIZE:])
            out = self._transport_up()
            if self.hellos > 1:
                out = CLIENT_HELLO * (self.hellos - 1) + out
        elif self.state == "dh":
            sent, done = self._dh.receive(data)
            out = sent
            if not done:
                return out
            c2s, s2c = server_rc4_keys(self._dh.K)
            self._rc4_out, self._rc4_in = rc4.RC4(c2s), rc4.RC4(s2c)
            data = self._dh.remainder
            out += self._transport_up()
        if not data:
            return out
        if self._rc4_in is not None:
            data = self._rc4_in.crypt(data)
        for record in self._parser.feed(data):
            if record.content_type != CONTENT_DATA:
                raise self.error("the server sent a key-exchange record")
            if not record.payload:
                # The answer to a further hello of ours.
                self._extra_hellos += 1
                if self._extra_hellos > self.MAX_SERVER_HELLOS:
                    raise self.error("too many server hellos")
                continue
            if self._record(record):
                break
        return out

    def _transport_up(self):
        """The hello was answered or the handshake is done: the bytes to
        send now (already through :meth:`_out`)."""
        raise NotImplementedError

    def _record(self, record):
        """One data record from the server; return true to read no more."""
        raise NotImplementedError


def connect_tcp(reactor, host, port, proto, timeout, error):
    """Connect ``proto`` to ``host:port``; Deferred -> the protocol.  A
    refused or unreachable address fails with ``error``."""
    d = connectProtocol(TCP4ClientEndpoint(reactor, host, port, timeout=timeout), proto)

    def refused(failure):
        failure.trap(internet_error.ConnectError)
        raise error("cannot connect to %s:%d: %s" % (host, port, failure.value))
    return d.addErrback(refused)
