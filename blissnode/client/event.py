"""
The reference event client: the client side of event.md 2-5 plus
blissnode's own requests (docs/event.rst), for tests and for ``blissnode
client contacts | add-contact | send | inbox``.

* :class:`EventClientProfile` / :func:`event_profile`: what each version
  sends (transport and key-exchange encoding as towards the login server,
  host-id item 0x31 / 0x3A, whether 6030 comes first, version string);
* :class:`EventClientCore`: sans-IO -- ``start()`` gives the first bytes,
  ``request(code, items)`` seals one request (queued until the transport is
  up), ``receive(data)`` returns the bytes to send next and collects the
  decoded server records;
* :class:`EventClientProtocol`, :class:`EventSession` and
  :func:`connect_event`: the same over Twisted, with one method per request;
* :func:`presence_record`: the 0x188-byte record a client publishes to its
  supernode (``00 00 01 04 || credential || 128 bytes signed with the user
  key``, event.md 10, login.md 7.5), which tells the supernode -- and through
  it the event server -- who is online.

No server module imports this one.
"""

import hashlib
import os

import attr
from twisted.internet import defer
from twisted.internet import error as internet_error
from twisted.internet.protocol import Protocol

from blissnode.client.login import (
    LOGIN_PROFILES,
    LoginClientCore,
    LoginClientError,
    generate_user_key,
    login,
    login_profile,
)
from blissnode.client.profiles import installed_profiles, profile_for, profile_of
from blissnode.client.serverconn import ServerConnectionCore, as_int, connect_tcp
from blissnode.client.tcp import connect_supernode
from blissnode.event import codes as C
from blissnode.versions.profiles import EventClientProfile  # noqa: F401  (re-exported)
from blissnode.wire import objects
from blissnode.wire.credentials import build_signed_payload, credential_name, md5_credential
from blissnode.wire.login_messages import RequestHeader, encode_event_request
from blissnode.wire.objects import Blob, Int, Int64, String
from blissnode.wire.rsa_raw import RsaPrivate

__all__ = ["EventClientProfile", "EVENT_PROFILES", "event_profile", "EventClientError",
           "EventRefused", "EventClientCore", "EventClientProtocol", "EventSession",
           "connect_event", "presence_record", "FIRST_REQUEST_ID"]

#: SOS2's first request id on the event connection (6030 id 3, 6028 id 4).
FIRST_REQUEST_ID = 3


#: The event profiles of the built-in versions (a snapshot; plugins are
#: asked by :func:`event_profile`).
EVENT_PROFILES = {label: p.event for label, p in installed_profiles().items()}


def event_profile(label):
    """The profile of ``label`` (declared by its version module; the nearest
    older one for an unlisted version)."""
    return profile_of(label).event


class EventClientError(Exception):
    """The exchange failed (protocol error, connection lost, timeout)."""


class EventRefused(EventClientError):
    """The server answered a request with a refusal code."""

    def __init__(self, request_code, code):
        self.request_code = request_code
        self.code = code
        self.reason = C.REFUSAL_CODES.reason(code)
        EventClientError.__init__(self, "request %d refused: %d (%s)"
                                  % (request_code, code, self.reason or "unknown code"))


class EventClientCore(ServerConnectionCore):
    """Sans-IO client side of one event connection.

    :param profile: an :class:`EventClientProfile` or a version label.
    :param credential16: the MD5 credential (every request carries it).
    :param login_modulus: the server's RSA-1536 login modulus (int or bytes).
    :param fixed_seq: seal every record with this seq (FakeSkype does so
        with 0, notes 3) instead of counting.
    """

    error = EventClientError

    def __init__(self, profile, name, credential16, login_modulus, r24=None, dh_keypair=None,
                 dh_filler=None, public_ip=0x7F000001, host_id=None,
                 first_request_id=FIRST_REQUEST_ID, fixed_seq=None, max_record=0xFFFF):
        if isinstance(profile, str):
            profile = event_profile(profile)
        self.profile = profile
        self.name = name
        self.credential16 = bytes(credential16)
        self.login_modulus = as_int(login_modulus)
        # The 0x42 key exchange carries no extra BLOBs towards the event server.
        self._init_transport(r24, dh_keypair, dh_filler, max_payload=max_record)
        self.public_ip = public_ip
        self.host_id = host_id if host_id is not None else int.from_bytes(os.urandom(8), "big")
        self.next_id = first_request_id
        self.fixed_seq = fixed_seq
        self.server_seqs = []
        self.records = []

    # -- building -------------------------------------------------------------------------

    def host_id_items(self):
        return [Int64(self.profile.host_id_item, self.host_id)]

    def plaintext(self, code, items, request_id=None, name=None, credential16=None):
        """The plaintext of one request (header + body + trailer)."""
        if request_id is None:
            request_id = self.next_id
            self.next_id += 1
        name = self.name if name is None else name
        header = RequestHeader(code, request_id, name,
                               self.credential16 if credential16 is None else credential16)
        return request_id, encode_event_request(header, list(items), name,
                                                self.profile.version_string, self.public_ip)

    def request(self, code, items=(), **kw):
        """``(request id, bytes to send now)``; before the transport is up
        the request waits and goes out with :meth:`receive`'s answer."""
        request_id, plaintext = self.plaintext(code, items, **kw)
        return request_id, self.send_plaintext(plaintext)

    def send_plaintext(self, plaintext):
        return ServerConnectionCore.send_plaintext(self, plaintext, seq=self.fixed_seq)

    # -- the exchange (start, receive: ServerConnectionCore) ----------------------------------
    # Decoded :class:`~blissnode.event.codes.ServerRecord` s accumulate in
    # :attr:`records`.

    def _record(self, seq_plaintext):
        seq, plaintext = seq_plaintext
        self.server_seqs.append(seq)
        self.records.append(C.parse_server_record(plaintext))

    def take_records(self):
        records, self.records = self.records, []
        return records


class EventClientProtocol(Protocol):
    """Runs an :class:`EventClientCore`; :meth:`call` sends one request and
    fires with its :class:`~blissnode.event.codes.ServerRecord`; pushes
    collect in :attr:`pushes`."""

    def __init__(self, core, clock, timeout=20.0):
        self.core = core
        self.clock = clock
        self.timeout = timeout
        self.waiters = {}
        self.pushes = []
        self._push_waiters = []
        self.lost = defer.Deferred()
        self.closed = False

    def connectionMade(self):
        self.transport.write(self.core.start())

    def dataReceived(self, data):
        try:
            out = self.core.receive(data)
        except EventClientError as e:
            self._fail(e)
            self.transport.abortConnection()
            return
        if out:
            self.transport.write(out)
        for record in self.core.take_records():
            if record.is_push:
                self.pushes.append(record)
                for entry in list(self._push_waiters):
                    match, d = entry
                    if match(record):
                        self._push_waiters.remove(entry)
                        d.callback(record)
                continue
            waiter = self.waiters.pop(record.request_id, None)
            if waiter is not None:
                d, timer = waiter
                if timer.active():
                    timer.cancel()
                d.callback(record)

    def call(self, code, items=(), **kw):
        """Send request ``code``; Deferred -> ServerRecord (any result code)."""
        if self.closed:
            return defer.fail(EventClientError("connection closed"))
        rid, data = self.core.request(code, items, **kw)
        d = defer.Deferred()
        timer = self.clock.callLater(self.timeout, self._timed_out, rid, code)
        self.waiters[rid] = (d, timer)
        if data:
            self.transport.write(data)
        return d

    def wait_push(self, match, timeout=None):
        """Deferred for the first push (already received or future) ``match`` accepts."""
        for record in self.pushes:
            if match(record):
                return defer.succeed(record)
        d = defer.Deferred()
        entry = (match, d)
        self._push_waiters.append(entry)

        def expire():
            if entry in self._push_waiters:
                self._push_waiters.remove(entry)
                d.errback(internet_error.TimeoutError("no matching push"))
        timer = self.clock.callLater(timeout or self.timeout, expire)
        d.addBoth(lambda r: (timer.active() and timer.cancel(), r)[1])
        return d

    def _timed_out(self, rid, code):
        waiter = self.waiters.pop(rid, None)
        if waiter is not None:
            waiter[0].errback(EventClientError("no answer to request %d (id %d) within %s s"
                                               % (code, rid, self.timeout)))

    def _fail(self, reason):
        waiters, self.waiters = self.waiters, {}
        for d, timer in waiters.values():
            if timer.active():
                timer.cancel()
            d.errback(reason)
        push_waiters, self._push_waiters = self._push_waiters, []
        for _match, d in push_waiters:
            d.errback(reason)

    def connectionLost(self, reason):
        self.closed = True
        self._fail(EventClientError("connection closed (%s)" % (reason.getErrorMessage(),)))
        self.lost.callback(None)


def _ok(record, code):
    if not record.ok:
        raise EventRefused(code, record.code)
    return record


class EventSession(object):
    """The Deferred API of one event connection: one method per request."""

    def __init__(self, protocol):
        self.protocol = protocol
        self.core = protocol.core
        self.profile = protocol.core.profile

    def call(self, code, items=(), **kw):
        """Any request; fires with the ServerRecord if INT 1 = 4200, fails
        with :class:`EventRefused` otherwise."""
        return self.protocol.call(code, items, **kw).addCallback(_ok, code)

    # -- known requests ----------------------------------------------------------------------

    @defer.inlineCallbacks
    def start(self):
        """6030 (6028 for versions that start with it); checks INT 0x0A = 3000
        as FakeSkype does.  Fires with the number of queued messages (GUESS
        INT 0x4A) or None."""
        if not self.profile.session_start_first:
            # 1.4 opens with 6028 (notes 7).
            yield self.handles()
            return None
        record = yield self.call(C.SESSION_START)
        if record.body.value(C.I_AUTH_OK, Int) != C.AUTH_OK_VALUE:
            raise EventClientError("the 6030 answer lacks INT 0x0A = 3000")
        return record.body.value(C.GUESS_I_PENDING, Int)

    @defer.inlineCallbacks
    def handles(self, since=None):
        """6028 -> (handles, change number, removed handles or None, full?)."""
        items = list(self.core.host_id_items())
        if since is not None:
            items.insert(0, Int(C.GUESS_I_SINCE, since))
        record = yield self.call(C.ENTRY_HANDLES, items)
        body = record.body
        blob = body.value(C.I_HANDLES, Blob)
        if blob is None:
            raise EventClientError("6028 answer without BLOB 0x35")
        removed = body.value(C.GUESS_I_REMOVED, Blob)
        return (C.unpack_handles(blob), body.value(C.GUESS_I_CHANGE_SEQ, Int),
                None if removed is None else C.unpack_handles(removed),
                body.value(C.GUESS_I_FULL, Int) == 1)

    @defer.inlineCallbacks
    def entry(self, handle):
        """6024 -> :class:`~blissnode.event.codes.Entry`."""
        record = yield self.call(C.ENTRY_FETCH, [Int(C.I_HANDLE, handle)]
                                 + list(self.core.host_id_items()))
        key = record.body.get(C.I_KEY, String)
        value = record.body.value(C.I_VALUE, Blob)
        if key is None or value is None:
            raise EventClientError("6024 answer without STRING 0x34 / BLOB 0x33")
        return C.parse_entry(key.text, value, handle)

    @defer.inlineCallbacks
    def entries(self):
        """6028, then 6024 for every handle (FakeSkype's rule: all of them,
        notes 2.1).  Fires with the list of entries (contacts ``u/`` and the
        own profile ``p/``)."""
        handles, _seq, _removed, _full = yield self.handles()
        out = []
        for handle in handles:
            entry = yield self.entry(handle)
            out.append(entry)
        return out

    @defer.inlineCallbacks
    def contacts(self):
        """:meth:`entries`, the contacts (``u/``) only."""
        entries = yield self.entries()
        return [e for e in entries if e.key.startswith("u/")]

    @defer.inlineCallbacks
    def pending_events(self, cursor=0, other=False):
        """6016 (or 6017) -> (cursor INT 0x2D, GUESS queued messages INT 0x4A)."""
        record = yield self.call(C.PENDING_EVENTS_2 if other else C.PENDING_EVENTS,
                                 [Int(C.I_CURSOR, cursor)])
        return record.body.value(C.I_CURSOR, Int), record.body.value(C.GUESS_I_PENDING, Int)

    # -- blissnode's own requests (GUESS codes) ------------------------------------------------

    @staticmethod
    def _name(name):
        return String(C.V_NAME, name.encode("utf-8") if isinstance(name, str) else name)

    def _entry_of(self, record):
        key = record.body.get(C.I_KEY, String)
        value = record.body.value(C.I_VALUE, Blob)
        if key is None or value is None:
            return None
        return C.parse_entry(key.text, value, record.body.value(C.I_HANDLE, Int))

    def add_contact(self, name, text=None, certificate=None):
        items = [self._name(name)]
        if text:
            items.append(String(C.V_AUTH_TEXT, text.encode("utf-8")))
        if certificate:
            items.append(Blob(C.V_CERTIFICATE, certificate))
        return self.call(C.GUESS_ADD_CONTACT, items).addCallback(self._entry_of)

    def accept(self, name, certificate=None):
        items = [self._name(name)]
        if certificate:
            items.append(Blob(C.V_CERTIFICATE, certificate))
        return self.call(C.GUESS_ACCEPT, items).addCallback(self._entry_of)

    def deny(self, name, block=False):
        items = [self._name(name)] + ([Int(C.GUESS_I_BLOCK, 1)] if block else [])
        return self.call(C.GUESS_DENY, items)

    def remove(self, name):
        return self.call(C.GUESS_REMOVE, [self._name(name)])

    def block(self, name):
        return self.call(C.GUESS_BLOCK, [self._name(name)]).addCallback(self._entry_of)

    def unblock(self, name):
        return self.call(C.GUESS_UNBLOCK, [self._name(name)])

    def update(self, name, display_name=None, group_id=None, group_name=None):
        items = [self._name(name)]
        if display_name is not None:
            items.append(String(C.GUESS_V_DISPLAY_NAME, display_name.encode("utf-8")))
        if group_id is not None:
            items.append(Int(C.V_GROUP_ID, group_id))
        if group_name is not None:
            items.append(String(C.V_GROUP_NAME, group_name.encode("utf-8")))
        return self.call(C.GUESS_UPDATE_CONTACT, items).addCallback(self._entry_of)

    def send(self, name, text):
        """6110 -> (sequence number or None, recipient status as we may see it)."""
        body = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        d = self.call(C.GUESS_SEND_MESSAGE, [self._name(name), Blob(C.GUESS_M_BODY, body)])
        return d.addCallback(lambda r: (r.body.value(C.GUESS_M_SEQ, Int),
                                        r.body.value(C.V_STATUS, Int)))

    def fetch_inbox(self, limit=None):
        """6111 -> (messages, more?); the messages stay queued until acked."""
        items = [] if limit is None else [Int(C.GUESS_I_LIMIT, limit)]
        d = self.call(C.GUESS_FETCH_INBOX, items)
        return d.addCallback(lambda r: (C.parse_messages(r.body),
                                        r.body.value(C.GUESS_I_MORE, Int) == 1))

    def ack(self, up_to_seq):
        """6112 -> how many messages were deleted."""
        d = self.call(C.GUESS_ACK_INBOX, [Int(C.GUESS_M_SEQ, up_to_seq)])
        return d.addCallback(lambda r: r.body.value(C.GUESS_I_DELETED, Int))

    @defer.inlineCallbacks
    def inbox(self, ack=True):
        """Fetch everything queued (batch by batch), acknowledging each batch
        (exactly-once delivery); fires with the messages in order."""
        out = []
        while True:
            messages, more = yield self.fetch_inbox()
            out.extend(messages)
            if not messages:
                break
            if ack:
                yield self.ack(messages[-1].seq)
            if not more or not ack:
                break
        return out

    def search(self, text, mode="prefix"):
        modes = {v: k for k, v in C.SEARCH_MODES.items()}
        d = self.call(C.GUESS_SEARCH, [String(C.GUESS_Q_TEXT, text.encode("utf-8")),
                                       Int(C.GUESS_Q_MODE, modes[mode])])
        return d.addCallback(lambda r: C.parse_search(r.body))

    def set_status(self, status, mood=None):
        items = [Int(C.V_STATUS, status)]
        if mood is not None:
            items.append(String(C.V_MOOD, mood.encode("utf-8")))
        return self.call(C.GUESS_SET_STATUS, items)

    def presence(self):
        """6131 -> {name: PresenceState} of my mutually authorised contacts."""
        d = self.call(C.GUESS_PRESENCE)
        return d.addCallback(lambda r: {s.name: s for s in C.parse_presence(r.body)})

    # -- pushes -------------------------------------------------------------------------------

    def presence_pushes(self):
        """Every presence state pushed on this connection, in order."""
        out = []
        for record in self.protocol.pushes:
            if record.push_code == C.GUESS_PUSH_PRESENCE:
                out.extend(C.parse_presence(record.body))
        return out

    def wait_presence(self, name, online=None, status=None, after=None, timeout=None):
        """Deferred for a pushed presence record of ``name`` that is (not)
        ``online`` / has ``status``; ``after``: only a push later than the
        one that carried this PresenceState (the latest such)."""
        skip = [0]
        if after is not None:
            states = self.presence_pushes()
            skip[0] = len(states) - states[::-1].index(after) if after in states else 0
        seen = [0]

        def match(record):
            if record.push_code != C.GUESS_PUSH_PRESENCE:
                return False
            for s in C.parse_presence(record.body):
                seen[0] += 1
                if seen[0] <= skip[0] or s.name != name:
                    continue
                if (online is None or s.online == online) and (status is None
                                                               or s.status == status):
                    return True
            return False
        return self.protocol.wait_push(match, timeout)

    def close(self):
        if not self.protocol.closed:
            self.protocol.transport.loseConnection()
        return self.protocol.lost


def connect_event(reactor, host, port, core, timeout=20.0):
    """Connect and start the transport; fires with an :class:`EventSession`
    (requests may be sent at once: they wait for the hello / DH-384)."""
    proto = EventClientProtocol(core, reactor, timeout)
    d = connect_tcp(reactor, host, port, proto, timeout, EventClientError)
    return d.addCallback(lambda p: EventSession(p))


def presence_record(credential_raw, user_key, node_record):
    """The user record a client publishes (cmd 60 / UDP 12):
    ``u32 len(credential) || credential || RSA-1024-signed(4b bb.. ba || D ||
    SHA1(D) || bc)`` with ``D = SHA1(credential) || {BLOB 3 = node record}``
    (login.md 7.5, EPYCS/FAKE)."""
    credential_raw = bytes(credential_raw)
    D = hashlib.sha1(credential_raw).digest() + objects.encode_objects(
        [Blob(3, bytes(node_record))])
    key = RsaPrivate.from_numbers(user_key.private_numbers())
    signed = key.raw(build_signed_payload(D, key.size))
    return len(credential_raw).to_bytes(4, "big") + credential_raw + signed


@attr.s
class SignedIn(object):
    """A signed-in reference client: the login result (with the verified
    credential), the event session and, when asked for, the supernode
    session on which the presence record was published."""

    name = attr.ib()
    login = attr.ib()
    event = attr.ib()
    supernode = attr.ib(default=None)
    user_key = attr.ib(default=None, repr=False)
    #: The node record published in our user record (None without a
    #: supernode session).
    node_record = attr.ib(default=None)

    @defer.inlineCallbacks
    def close(self):
        """Sign out: close the event connection and the supernode session."""
        yield self.event.close()
        if self.supernode is not None:
            yield self.supernode.close()


@defer.inlineCallbacks
def sign_in(reactor, label, name, login_address, event_address, login_modulus,
            credential_modulus=None, password=None, credential16=None, user_key=None,
            register=False, email=None, full_name=None, supernode_address=None,
            timeout=20.0, transcript=None, listen_port=None):
    """Sign in as version ``label`` the way a client does: the login server
    (credential), optionally the main supernode (accept, client information,
    the presence record published with cmd 60), then the event server (6030
    or 6028 first).  ``*_address`` are ``(host, port)``.  Fires with
    :class:`SignedIn`; fails with :class:`EventClientError` (login refused,
    connection problems) or :class:`EventRefused`.  ``listen_port``: the
    port our node record names (where we accept direct sessions; random
    when None)."""
    if credential16 is None:
        credential16 = md5_credential(credential_name(name), password)
    if user_key is None:
        user_key = generate_user_key()
    core = LoginClientCore(label, name, credential16=credential16, login_modulus=login_modulus,
                           credential_modulus=credential_modulus, user_key=user_key,
                           register=register, email=email, full_name=full_name)
    try:
        result = yield login(reactor, login_address[0], login_address[1], core, timeout=timeout)
    except LoginClientError as e:
        raise EventClientError("login: %s" % (e,))
    if not result.ok:
        raise EventClientError("login refused: %d (%s)" % (result.code, result.reason))
    supernode = node = None
    if supernode_address is not None:
        profile = profile_for(label)
        supernode = yield connect_supernode(reactor, supernode_address[0], supernode_address[1],
                                            profile, transcript=transcript, timeout=timeout,
                                            listen_port=listen_port)
        accepted = yield supernode.accept()
        yield supernode.client_info()
        public = accepted.public_address
        here = (public.ip, supernode.listen_port) if public else ("127.0.0.1", 1024)
        node = profile.node_record(supernode.node_id, here, tuple(supernode_address), here)
        yield supernode.publish(presence_record(result.credential_raw, user_key, node))
    event_core = EventClientCore(label, name, credential16, login_modulus)
    session = yield connect_event(reactor, event_address[0], event_address[1], event_core,
                                  timeout=timeout)
    try:
        yield session.start()
    except Exception:
        yield session.close()
        if supernode is not None:
            yield supernode.close()
        raise
    return SignedIn(name, result, session, supernode, user_key, node)
