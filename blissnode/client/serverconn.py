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

from blissnode.wire import objects
from blissnode.wire.errors import ProtocolError
from blissnode.wire.rsa_raw import raw_public
from blissnode.wire.server_session import (  # noqa: F401  (re-exported)
    TRANSPORT_CLASSIC,
    TRANSPORT_DH384,
    ClientSide,
)

__all__ = ["TRANSPORT_CLASSIC", "TRANSPORT_DH384", "KX_INT9", "KX_INT12",
           "ServerConnectionCore", "connect_tcp"]

#: INT 9 and INT 0xC of the key-exchange list, in every sample (L11).
KX_INT9 = 0x2000
KX_INT12 = 1


def as_int(value):
    """A modulus given as an int or as big-endian bytes, as an int."""
    if isinstance(value, int):
        return value
    return int.from_bytes(bytes(value), "big")


class ServerConnectionCore(object):
    """Sans-IO client of one login or event connection, over the shared
    :class:`blissnode.wire.server_session.ClientSide`.

    A subclass sets :attr:`error` (the exception it raises), calls
    :meth:`_init_transport` from its ``__init__`` (after setting
    ``profile`` and ``login_modulus``), may queue requests with
    :meth:`send_plaintext`, and implements :meth:`_record` (one decrypted
    server record: ``(seq, plaintext)``; return true to read no more).
    """

    #: The exception class raised for every failure of the exchange.
    error = Exception
    #: Classic hellos sent: 1 (the 1.x-4.x samples), or 2 like the real
    #: 7.x client of 2015 (ERRATA: hello, its answer, then the second hello
    #: right before the key exchange; the server answers each); 0 on a
    #: connection a node carries after cmd 7 (the key exchange comes first).
    hellos = 1

    def _init_transport(self, r24, dh_keypair, dh_filler, max_payload, kx_extra=()):
        """The session seed and key (from ``r24``, random when ``None``), the
        DH-384 handshake for a DH-384 profile, and the record state.
        ``kx_extra``: ``(item id, size)`` of random BLOBs the 0x42 key
        exchange carries after INT 0xC."""
        self.kx_extra = tuple(kx_extra)
        self.session = ClientSide(
            self._key_exchange_list, dh=self.profile.transport == TRANSPORT_DH384,
            dh_keypair=dh_keypair, dh_filler=dh_filler or b"", seed_r24=r24,
            max_record=max_payload)
        self.r24, self.seed, self.key = self.session.r24, self.session.seed, self.session.key
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

    def _key_exchange_list(self, seed):
        return objects.encode_objects(self.key_exchange_items(),
                                      compressed=self.profile.kx_compressed)

    def key_exchange(self):
        """The ``16 03 01`` record."""
        return self.session.key_exchange()

    def send_plaintext(self, plaintext, seq=None):
        """Bytes to write for one request now (b"" before the transport is
        up: it then goes out with the key exchange)."""
        return self.session.send(plaintext, seq=seq)

    @property
    def ready(self):
        return self.session.up

    # -- the exchange -----------------------------------------------------------------

    def start(self):
        """The first bytes: the hello (classic) or A and filler (5.5+)."""
        if self.state != "new":
            raise ValueError("start() called twice")
        self.session.hellos_to_send = self.hellos
        self._before_start()
        self.state = "started"
        return self.session.start()

    def _before_start(self):
        """Queue what goes out with the key exchange (the login request)."""

    def receive(self, data):
        """Feed bytes from the server; return the bytes to send (may be
        empty).  Raises :attr:`error`."""
        try:
            return self._receive(bytes(data))
        except ProtocolError as e:
            raise self.error("protocol error (%s): %s" % (self.session.state, e))

    def _receive(self, data):
        out, records = self.session.receive(data)
        for event in records:
            if self._record(self.session.open(event.record)):
                break
        return out

    def _record(self, seq_plaintext):
        """One decrypted server record ``(seq, plaintext)``; return true to
        read no more."""
        raise NotImplementedError


def connect_tcp(reactor, host, port, proto, timeout, error):
    """Connect ``proto`` to ``host:port``; Deferred -> the protocol.  A
    refused or unreachable address fails with ``error``."""
    d = connectProtocol(TCP4ClientEndpoint(reactor, host, port, timeout=timeout), proto)

    def refused(failure):
        failure.trap(internet_error.ConnectError)
        raise error("cannot connect to %s:%d: %s" % (host, port, failure.value))
    return d.addErrback(refused)
