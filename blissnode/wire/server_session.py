"""
One connection to a central server (login, event), sans-IO, for both ends.

The framing lives in :mod:`blissnode.wire.server_transport`; this module is
the state machine around it, shared by the login and the event servers and
by the reference client (in the spirit of h11's ``Connection``: bytes in,
events out, bytes to send; no sockets, no clock)::

    opening   classic: C 16 03 01 00 00 -> S 17 03 01 00 00, each hello
              answered (real clients send two, ERRATA); or 5.5+: DH-384
              (wire.dh384), then plain RC4 both ways; or, carried by a node
              after cmd 7 ("bridged"), nothing: the key exchange comes first
    key exch. C 16 03 01 L {BLOB 8 = RSA-1536(X), ...}: the server opens X
              with an injected function, checks it, derives the AES key
    records   17 03 01 L: AES-256-CTR records both ways

:class:`ServerSide` is the server's end, :class:`ClientSide` the client's.
Both return *events* from :meth:`receive`:

``Send(data)``
    bytes to write now (hellos, the DH-384 answer);
``KeyExchanged(kx, seed_ok, error)``
    the key exchange arrived (server); ``seed_ok`` False means the RSA blob
    did not give a valid session seed: the session carries on with a random
    key (no oracle: the next request will not decrypt and is answered like a
    wrong password), ``error`` says why;
``Record(record)``
    one ``17 03 01`` data record, still encrypted (:meth:`open` it);
``DecryptSeed(blob)``
    (server, with ``decrypt_seed=None``) the RSA blob to open: run the raw
    RSA wherever suits (the server: a thread pool, off the reactor) and hand
    the result to :meth:`ServerSide.seed_decrypted`, which returns the
    ``KeyExchanged`` event and the records that arrived meanwhile.

The variants of the opening are a list (:data:`SERVER_OPENINGS`) that a
version plugin can extend: each entry decides from the first bytes whether it
applies and what it does.
"""

import os

import attr

from blissnode.wire import dh384, rc4
from blissnode.wire.errors import ProtocolError
from blissnode.wire.server_transport import (
    CLIENT_HELLO,
    CONTENT_DATA,
    CONTENT_KEY_EXCHANGE,
    HEADER_SIZE,
    RANDOM_SIZE,
    SEED_SIZE,
    SERVER_HELLO,
    X_CLIENT_TO_SERVER,
    X_SERVER_TO_CLIENT,
    RecordCipher,
    ServerRecordParser,
    check_session_seed,
    key_exchange_record,
    login_session_key,
    open_server_record,
    parse_key_exchange,
    server_rc4_keys,
    session_seed_from_random,
)

__all__ = [
    "TRANSPORT_CLASSIC", "TRANSPORT_DH384", "MAX_HELLOS", "Send", "KeyExchanged", "Record", "DecryptSeed",
    "Opening", "ClassicOpening", "DH384Opening", "SERVER_OPENINGS", "ServerSide", "ClientSide",
]

TRANSPORT_CLASSIC = "classic"
TRANSPORT_DH384 = "dh384"

#: Most hellos answered on one connection.  Real clients sent two (ERRATA:
#: 7 of 7 plain connections of 2015 past the first hello; the second one
#: sometimes in the segment of the key exchange); a few more are harmless.
MAX_HELLOS = 4

#: Most data records kept while the session seed is being opened
#: (``DecryptSeed``): a client sends its one request after the key exchange.
MAX_HELD_RECORDS = 8


@attr.s(frozen=True, slots=True)
class Send(object):
    data = attr.ib(converter=bytes)


@attr.s(frozen=True, slots=True)
class KeyExchanged(object):
    kx = attr.ib()
    seed_ok = attr.ib()
    error = attr.ib(default=None)
    #: The session seed X when it checked (the caller refuses one seen
    #: before: a replayed classic session); None otherwise.
    seed = attr.ib(default=None, repr=False)


@attr.s(frozen=True, slots=True)
class Record(object):
    record = attr.ib()


@attr.s(frozen=True, slots=True)
class DecryptSeed(object):
    blob = attr.ib()


# -- openings (server side) -----------------------------------------------------


class Opening(object):
    """One way a connection may open.  :meth:`decide` looks at the first
    bytes (at least 5) and returns None when it does not apply; otherwise
    the transport kind, and :meth:`start` sets the session up."""

    name = None

    def decide(self, first_bytes, session):
        raise NotImplementedError

    def start(self, session):
        """Set ``session`` up; return bytes to write now (may be empty)."""
        return b""

    def consume(self, first_bytes):
        """How many of the first bytes belong to the opening itself and are
        not part of the exchange that follows (a quirk's prefix)."""
        return 0


class ClassicOpening(Opening):
    """``16 03 01 00 00``: the classic hello (GUESS login.md 8: a DH-384
    value starting with these 5 bytes has probability 2^-40), or a bridged
    connection, whose first bytes are the key exchange."""

    name = TRANSPORT_CLASSIC

    def decide(self, first_bytes, session):
        if first_bytes[:HEADER_SIZE] == CLIENT_HELLO or session.bridged:
            return TRANSPORT_CLASSIC
        return None


class DH384Opening(Opening):
    """Anything else: a 5.5+ client's DH-384 public value."""

    name = TRANSPORT_DH384

    def decide(self, first_bytes, session):
        return TRANSPORT_DH384

    def start(self, session):
        session._dh = dh384.ServerHandshake(session.dh_keypair, filler=session.dh_filler)
        return b""


#: The openings tried in order (the last one must always apply).
SERVER_OPENINGS = (ClassicOpening(), DH384Opening())


class _Side(object):
    """What both ends share: the RC4 wrapping after DH-384, the record
    parser, the AES ciphers and the hello count."""

    def _init_common(self, max_record):
        self.transport_kind = None
        self.hellos = 0
        self._dh = None
        self._rc4_in = self._rc4_out = None
        self._parser = ServerRecordParser(max_payload=max_record)
        self._rx = self._tx = None

    def _wrap(self, data):
        """``data`` as it goes on the wire (RC4 after a DH-384 handshake)."""
        return self._rc4_out.crypt(data) if self._rc4_out is not None else data

    def _dh_done(self, K, server):
        c2s, s2c = server_rc4_keys(K)
        if server:
            self._rc4_in, self._rc4_out = rc4.RC4(c2s), rc4.RC4(s2c)
        else:
            self._rc4_out, self._rc4_in = rc4.RC4(c2s), rc4.RC4(s2c)

    def _records(self, data):
        if not data:
            return []
        if self._rc4_in is not None:
            data = self._rc4_in.crypt(data)
        return self._parser.feed(data)

    def seal(self, plaintext):
        """Bytes of one data record carrying ``plaintext`` (our direction)."""
        return self._wrap(self._tx.seal(plaintext))

    def wrap(self, data):
        """Raw record bytes (a hello) as they go on the wire."""
        return self._wrap(data)

    @property
    def ready(self):
        """True once records can be sealed (the key exchange is done)."""
        return self._tx is not None


class ServerSide(_Side):
    """The server's end of one connection.

    :param decrypt_seed: ``blob -> bytes``: raw RSA with the login key
        (``ServerKeys.login_decrypt_raw``); may raise.  None: the session
        emits ``DecryptSeed`` and waits for :meth:`seed_decrypted`.
    :param dh_keypair: this connection's DH-384 key pair (new one if None).
    :param dh_filler: bytes put between B and the hash.
    :param bridged: a node carries this connection (no hello comes).
    :param random_bytes: source of the random key used when the seed does
        not check (``os.urandom``).
    :param openings: the opening variants (:data:`SERVER_OPENINGS`).
    :param strict_order: data records must carry the receiver's counter
        (login: a replayed record is refused); False takes the seq from each
        record's trailer (event: FakeSkype sends every record with seq 0).
    """

    def __init__(self, decrypt_seed, dh_keypair=None, dh_filler=b"", bridged=False,
                 max_record=0xFFFF, random_bytes=os.urandom, openings=SERVER_OPENINGS,
                 strict_order=True, max_hellos=MAX_HELLOS):
        self.decrypt_seed = decrypt_seed
        self.dh_keypair = dh_keypair
        self.dh_filler = bytes(dh_filler)
        self.bridged = bridged
        self.random_bytes = random_bytes
        self.openings = tuple(openings)
        self.strict_order = strict_order
        self.max_hellos = max_hellos
        self.state = "start"
        self.seed_ok = False
        self._buf = bytearray()
        self._kx = None
        self._held = []  # records that came while the seed was being opened
        self._init_common(max_record)

    def receive(self, data):
        """Feed bytes from the client; return the events they complete.
        Raises ProtocolError on framing errors (close the connection)."""
        events = []
        data = bytes(data)
        if self.state == "start":
            self._buf += data
            if len(self._buf) < HEADER_SIZE:
                return events
            data, self._buf = bytes(self._buf), bytearray()
            for opening in self.openings:
                kind = opening.decide(data, self)
                if kind is not None:
                    break
            else:
                raise ProtocolError("no opening applies")
            self.transport_kind = kind
            out = opening.start(self)
            if out:
                events.append(Send(out))
            data = data[opening.consume(data):]
            self.state = "dh" if self._dh is not None else "key-exchange"
        if self.state == "dh":
            out, done = self._dh.receive(data)
            if out:
                events.append(Send(out))
            if not done:
                return events
            self._dh_done(self._dh.K, server=True)
            data = self._dh.remainder
            self._dh = None
            self.state = "key-exchange"
        for record in self._records(data):
            events.extend(self._record(record))
        return events

    def _record(self, record):
        if self.state == "seed":
            if len(self._held) >= MAX_HELD_RECORDS:
                raise ProtocolError("more than %d records before the key exchange completed"
                                    % (MAX_HELD_RECORDS,))
            self._held.append(record)
            return []
        if self.state == "key-exchange":
            if record.content_type == CONTENT_KEY_EXCHANGE and not record.payload:
                self.hellos += 1
                if self.hellos > self.max_hellos:
                    raise ProtocolError("more than %d hellos" % (self.max_hellos,))
                return [Send(self._wrap(SERVER_HELLO))]
            if record.content_type != CONTENT_KEY_EXCHANGE:
                raise ProtocolError("expected the key-exchange record, got content type 0x%02x"
                                    % (record.content_type,))
            return [self._key_exchange(record)]
        if record.content_type != CONTENT_DATA:
            raise ProtocolError("a second key-exchange record")
        return [Record(record)]

    def _key_exchange(self, record):
        kx = parse_key_exchange(record)
        if self.decrypt_seed is None:
            self._kx = kx
            self.state = "seed"
            return DecryptSeed(kx.rsa_blob)
        try:
            X, error = bytes(self.decrypt_seed(kx.rsa_blob)), None
        except Exception as e:
            X, error = None, e
        return self._keyed(kx, X, error)

    def seed_decrypted(self, X=None, error=None):
        """The answer to ``DecryptSeed``: the opened seed ``X`` or the
        exception the RSA operation raised.  Returns the events that follow
        (``KeyExchanged``, then ``Record`` for records already received)."""
        if self.state != "seed":
            raise ValueError("no seed is being decrypted (state %s)" % (self.state,))
        kx, self._kx = self._kx, None
        events = [self._keyed(kx, None if X is None else bytes(X), error)]
        held, self._held = self._held, []
        for record in held:
            events.extend(self._record(record))
        return events

    def _keyed(self, kx, X, error):
        if error is None:
            try:
                check_session_seed(X)
                self.seed_ok = True
            except ProtocolError as e:
                error = e
        if error is not None:
            # A bad seed or a fault in the RSA operation: the same answer.
            X = self.random_bytes(SEED_SIZE)
        key = login_session_key(X)
        self._rx = RecordCipher(key, X_CLIENT_TO_SERVER)
        self._tx = RecordCipher(key, X_SERVER_TO_CLIENT)
        self.state = "records"
        return KeyExchanged(kx, self.seed_ok, error, X if self.seed_ok else None)

    def keyed(self, key, transport_kind=TRANSPORT_CLASSIC):
        """Put the session past the key exchange with a known AES ``key``
        (tests replaying vectors, decoders that know the key)."""
        self.transport_kind = transport_kind
        self.seed_ok = True
        self._rx = RecordCipher(key, X_CLIENT_TO_SERVER)
        self._tx = RecordCipher(key, X_SERVER_TO_CLIENT)
        self.state = "records"

    def open(self, record):
        """``(seq, plaintext)`` of a client data record.  With
        ``strict_order`` a record out of order (a replay) raises
        ChecksumError."""
        if self.strict_order:
            seq = self._rx.seq
            return seq, self._rx.open(record)
        return open_server_record(record, self._rx.key, self._rx.x)


class ClientSide(_Side):
    """The client's end: :meth:`start` gives the first bytes; once the
    server answered the hello (or the DH-384 handshake is done) the key
    exchange is sent with whatever the caller queued.

    :param seed_r24: the 24 random bytes of the session seed (random if None).
    :param key_exchange_items: ``seed -> encoded object list`` of the key
        exchange (the caller encrypts the seed to the server's modulus).
    :param dh: True for the DH-384 transport (5.5+).
    :param hellos: hellos to send: 1, 2 (as the real 7.x client), or 0 on a
        bridged connection.
    """

    def __init__(self, key_exchange_list, dh=False, dh_keypair=None, dh_filler=b"",
                 seed_r24=None, hellos=1, max_record=0xFFFF, max_server_hellos=MAX_HELLOS):
        self.r24 = bytes(seed_r24) if seed_r24 is not None else os.urandom(RANDOM_SIZE)
        self.seed = session_seed_from_random(self.r24)
        self.key = login_session_key(self.seed)
        self.key_exchange_list = key_exchange_list
        self.hellos_to_send = hellos
        self.max_server_hellos = max_server_hellos
        self.state = "new"
        self._init_common(max_record)
        self.transport_kind = TRANSPORT_DH384 if dh else TRANSPORT_CLASSIC
        self._dh = dh384.ClientHandshake(dh_keypair, dh_filler) if dh else None
        self._hello = bytearray()
        self._tx = RecordCipher(self.key, X_CLIENT_TO_SERVER)
        self._rx_key = self.key
        self._kx_sent = False
        self._queued = []
        self.up = False
        #: The DH-384 shared secret K once agreed (decoders can use it).
        self.dh_secret = None

    def key_exchange(self):
        """The ``16 03 01`` record (clear before RC4)."""
        return key_exchange_record(self.key_exchange_list(self.seed))

    def start(self):
        if self.state != "new":
            raise ValueError("start() called twice")
        if self._dh is not None:
            self.state = "dh"
            return self._dh.start()
        if self.hellos_to_send == 0:
            self.state = "up"
            return self._transport_up()
        self.state = "hello"
        return CLIENT_HELLO

    def send(self, plaintext, seq=None):
        """Bytes to write for a request now (b"" while the transport is not
        up: it goes out with the key exchange).  ``seq``: seal with this
        record number instead of counting (FakeSkype sends every record
        with seq 0)."""
        if not self.up:
            self._queued.append((bytes(plaintext), seq))
            return b""
        return self._flush([(plaintext, seq)])

    def _flush(self, items):
        data = b""
        if not self._kx_sent:
            self._kx_sent = True
            data += self.key_exchange()
        for plaintext, seq in items:
            if seq is not None:
                self._tx.seq = seq
            data += self._tx.seal(plaintext)
        return self._wrap(data)

    def _transport_up(self):
        self.up = True
        self.state = "records"
        queued, self._queued = self._queued, []
        return self._flush(queued) if queued else b""

    def receive(self, data):
        """Feed server bytes; ``(bytes to send, [Record ...])``."""
        data = bytes(data)
        out = b""
        if self.state == "hello":
            self._hello += data
            if len(self._hello) < HEADER_SIZE:
                return b"", []
            if bytes(self._hello[:HEADER_SIZE]) != SERVER_HELLO:
                raise ProtocolError("the server did not answer the hello with 17 03 01 00 00")
            data = bytes(self._hello[HEADER_SIZE:])
            self._hello = bytearray()
            out = CLIENT_HELLO * (self.hellos_to_send - 1) + self._transport_up()
        elif self.state == "dh":
            sent, done = self._dh.receive(data)
            out = sent
            if not done:
                return out, []
            self.dh_secret = self._dh.K
            self._dh_done(self._dh.K, server=False)
            data = self._dh.remainder
            out += self._transport_up()
        records = []
        for record in self._records(data):
            if record.content_type != CONTENT_DATA:
                raise ProtocolError("the server sent a key-exchange record")
            if not record.payload:
                # The answer to a further hello of ours.
                self.hellos += 1
                if self.hellos > self.max_server_hellos:
                    raise ProtocolError("too many server hellos")
                continue
            records.append(Record(record))
        return out, records

    def open(self, record):
        """``(seq, plaintext)`` of a server data record (seq from the trailer;
        the caller checks the order if it cares)."""
        return open_server_record(record, self._rx_key, X_SERVER_TO_CLIENT)
