"""
The reference login client: the client side of login.md 2-7, for tests and
for ``blissnode client login``.

* :class:`LoginClientProfile` / :func:`login_profile`: what each supported
  version sends to a login server (transport, key-exchange encoding, request
  code, version string, body items), with the guesses named;
* :class:`LoginClientCore`: the sans-IO exchange -- ``start()`` gives the
  first bytes, ``receive(data)`` the bytes to send next; once :attr:`done`,
  :attr:`result` holds the decoded, *verified* answer;
* :class:`LoginClientProtocol` and :func:`login`: the same over Twisted TCP.

What the client does (login.md 3-7): a fresh RSA-1024 user key (generated
with ``cryptography``); the MD5 credential of name and password; 24 random
bytes repeated into the 192-byte session seed, raw-RSA-encrypted to the
server's login modulus; the request in AES-256-CTR; the reply's credential
checked with the server's credential modulus (signature, name and user key).
No server module imports this one.
"""

import os

import attr
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.internet import defer
from twisted.internet.protocol import Protocol

from blissnode.client.profiles import installed_profiles, profile_of
from blissnode.client.serverconn import (
    KX_INT9,
    KX_INT12,
    TRANSPORT_CLASSIC,
    TRANSPORT_DH384,
    ServerConnectionCore,
)
from blissnode.client.serverconn import as_int as _as_int  # noqa: F401 (KX_INT9, KX_INT12: re-exported)
from blissnode.client.serverconn import connect_tcp
from blissnode.login.codes import REFUSAL_CODES
from blissnode.versions.profiles import KX_EXTRA_4X, KX_EXTRA_6X, LoginClientProfile  # noqa: F401
from blissnode.wire.credentials import credential_name, md5_credential, parse_credential
from blissnode.wire.errors import ProtocolError
from blissnode.wire.login_messages import (
    REQUEST_LOGIN_4X,
    REQUEST_LOGIN_6X,
    REQUEST_REGISTER,
    RESULT_OK,
    LoginBody,
    RequestHeader,
    encode_login_request,
    parse_login_reply,
)

__all__ = [
    "TRANSPORT_CLASSIC",
    "TRANSPORT_DH384",
    "LoginClientProfile",
    "LOGIN_PROFILES",
    "login_profile",
    "generate_user_key",
    "LoginClientError",
    "LoginResult",
    "LoginClientCore",
    "LoginClientProtocol",
    "login",
]

#: The request id of the login request (1 in every sample).
REQUEST_ID = 1

#: The login profiles of the built-in versions (a snapshot; plugins are
#: asked by :func:`login_profile`).
LOGIN_PROFILES = {label: p.login for label, p in installed_profiles().items()}


def login_profile(label):
    """The login profile for ``label`` (declared by its version module; the
    nearest older one, relabelled, for an unlisted version); ValueError if
    older than all."""
    try:
        return profile_of(label).login
    except ValueError:
        raise ValueError("no login profile for client version %s" % (label,))


def generate_user_key():
    """A fresh RSA-1024 user key (e = 65537), as the clients make one."""
    while True:
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        if key.public_key().public_numbers().n.bit_length() == 1024:
            return key


def _modulus(key):
    numbers = key.public_key().public_numbers() if hasattr(key, "public_key") else key
    return numbers.n.to_bytes(128, "big")


class LoginClientError(Exception):
    """The exchange failed (protocol error, bad credential, connection lost)."""


@attr.s(frozen=True, slots=True)
class LoginResult:
    """The answer of a login server.

    ``code``: INT 1 (4200 = success); ``reason``: the refusal reason name
    when ``code`` is one of :data:`REFUSAL_CODES` (8401 reads as
    ``"wrong_password"``, which includes an unknown user); ``credential``:
    the verified :class:`~blissnode.wire.credentials.Credential` (or
    ``None``); ``year``: reply LIST 0x32 INT 9 (4.x style) or ``None``.
    """

    code = attr.ib()
    seq = attr.ib()
    reason = attr.ib(default=None)
    credential = attr.ib(default=None)
    credential_raw = attr.ib(default=None, repr=False)
    year = attr.ib(default=None)
    reply = attr.ib(default=None, repr=False)

    @property
    def ok(self):
        return self.code == RESULT_OK


def _reason(code):
    for field in attr.fields(type(REFUSAL_CODES)):
        if getattr(REFUSAL_CODES, field.name) == code:
            return field.name
    return None


class LoginClientCore(ServerConnectionCore):
    """Sans-IO client side of one login connection.

    :param profile: a :class:`LoginClientProfile` (or a version label).
    :param name: the Skype name as typed.
    :param password: the password (or ``credential16``: the MD5 credential).
    :param login_modulus: the server's RSA-1536 login modulus (int or bytes).
    :param credential_modulus: the server's RSA-2048 credential modulus
        (int or bytes) to verify the credential with; ``None`` skips the check
        (the result then has ``credential_raw`` only).
    :param user_key: the RSA-1024 private key (``cryptography``); generated
        when ``None``.
    :param register: send a registration (5018) instead of a login.
    :param r24, dh_keypair, dh_filler, host_id1, host_id2, public_ip,
        node_id: fixed values for tests; random/defaults otherwise.
    """

    error = LoginClientError

    def __init__(self, profile, name, password=None, login_modulus=None,
                 credential_modulus=None, user_key=None, register=False, email=None,
                 full_name=None, credential16=None, r24=None, dh_keypair=None,
                 dh_filler=None, host_id1=None, host_id2=None, public_ip=0x7F000001,
                 node_id=None, request_id=REQUEST_ID):
        if isinstance(profile, str):
            profile = login_profile(profile)
        self.profile = profile
        self.name = name
        if credential16 is None:
            if password is None:
                raise ValueError("a password or credential16 is needed")
            # GUESS (login.md 6, L4): over the lower-cased name, as the
            # server stores it (wire.credentials.credential_name).
            credential16 = md5_credential(credential_name(name), password)
        self.credential16 = bytes(credential16)
        if login_modulus is None:
            raise ValueError("the server's login modulus is needed")
        self.login_modulus = _as_int(login_modulus)
        self.credential_modulus = (None if credential_modulus is None
                                   else _as_int(credential_modulus))
        self.user_key = user_key if user_key is not None else generate_user_key()
        self.user_modulus = _modulus(self.user_key)
        self.register = register
        self.email = email
        self.full_name = full_name
        self._init_transport(r24, dh_keypair, dh_filler, max_payload=4096,
                             kx_extra=profile.kx_extra)
        self.request_id = request_id
        self.host_id1 = host_id1 if host_id1 is not None else int.from_bytes(os.urandom(8), "big")
        self.host_id2 = host_id2 if host_id2 is not None else [
            int.from_bytes(os.urandom(4), "big") for _ in range(5)]
        self.public_ip = public_ip
        self.node_id = node_id if node_id is not None else os.urandom(8)
        self.done = False
        self.result = None
        self.request_plaintext = None
        self.reply_plaintext = None

    # -- what is sent -----------------------------------------------------------

    def request_body(self):
        p = self.profile
        version = p.version_string
        if self.register:
            # SEAN's registration body (login.md 5.3); GUESS for every
            # version other than 4.1.
            return LoginBody(self.user_modulus, host_id1=self.host_id1,
                             host_id1_item=0x31, host_id2=self.host_id2,
                             email=self.email or "", reg_flag=1, reg_version=version,
                             full_name=self.full_name or "", version=version,
                             public_ip=self.public_ip)
        if p.body == "6x":
            node = (self.node_id + b"\x01" + bytes([127, 0, 0, 1]) + b"\xe1\x08"
                    + bytes(6) + bytes([127, 0, 0, 1]) + b"\xe1\x08")
            return LoginBody(self.user_modulus, host_id1=self.host_id1, host_id1_item=0x3A,
                             language=p.language, host_id2=self.host_id2, version=version,
                             public_ip=self.public_ip, node_record=node)
        return LoginBody(self.user_modulus, host_id1=self.host_id1, host_id1_item=0x31,
                         host_id2=self.host_id2, version=version, public_ip=self.public_ip)

    def request(self):
        """The login (or registration) request plaintext."""
        code = self.profile.register_code if self.register else self.profile.login_code
        header = RequestHeader(code, self.request_id, self.name, self.credential16)
        return encode_login_request(header, self.request_body())

    # -- the exchange (start, receive: ServerConnectionCore) -------------------------

    def _before_start(self):
        # The key exchange and the request go out together.
        self.request_plaintext = self.request()
        self.send_plaintext(self.request_plaintext)

    def _receive(self, data):
        if self.done:
            return b""
        return ServerConnectionCore._receive(self, data)

    def _record(self, seq_plaintext):
        # The first data record is the reply (seq 0); nothing after it is read.
        seq, plaintext = seq_plaintext
        if seq != 0:
            raise LoginClientError("the reply record has seq %d, not 0" % (seq,))
        self._reply(plaintext)
        return True

    def _reply(self, plaintext):
        self.reply_plaintext = plaintext
        reply = parse_login_reply(plaintext)
        credential = None
        if reply.ok:
            if reply.credential is None:
                raise LoginClientError("success reply without a credential")
            if self.credential_modulus is not None:
                credential = self.verify_credential(reply.credential)
        self.result = LoginResult(reply.code, reply.seq, None if reply.ok else _reason(reply.code),
                                  credential, reply.credential, reply.year, reply)
        self.done = True
        self.state = "done"

    def verify_credential(self, raw):
        """Check the signature with the credential modulus, and that it
        certifies our name (case-insensitively) and our user key."""
        try:
            credential = parse_credential(raw, self.credential_modulus)
        except ProtocolError as e:
            raise LoginClientError("the credential does not verify: %s" % (e,))
        if credential.name.lower() != _text(self.name).lower():
            raise LoginClientError("the credential certifies %r, not %r"
                                   % (credential.name, self.name))
        if credential.user_modulus != self.user_modulus:
            raise LoginClientError("the credential certifies another user key")
        return credential


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


class LoginClientProtocol(Protocol):
    """Runs a :class:`LoginClientCore` over a connection; :attr:`deferred`
    fires with the :class:`LoginResult` (then the connection is closed) or
    fails with :class:`LoginClientError`."""

    def __init__(self, core):
        self.core = core
        self.deferred = defer.Deferred()

    def connectionMade(self):
        self.transport.write(self.core.start())

    def dataReceived(self, data):
        if self.deferred.called:
            return
        try:
            out = self.core.receive(data)
        except LoginClientError as e:
            self._finish(failure=e)
            return
        if out:
            self.transport.write(out)
        if self.core.done:
            self._finish(result=self.core.result)

    def _finish(self, result=None, failure=None):
        if not self.deferred.called:
            if failure is not None:
                self.deferred.errback(failure)
            else:
                self.deferred.callback(result)
        self.transport.loseConnection()

    def connectionLost(self, reason):
        if not self.deferred.called:
            self.deferred.errback(LoginClientError(
                "connection closed before the reply (state %s)" % (self.core.state,)))


def login(reactor, host, port, core, timeout=30.0):
    """Connect to ``host:port``, run ``core``; Deferred -> :class:`LoginResult`."""
    proto = LoginClientProtocol(core)
    d = connect_tcp(reactor, host, port, proto, timeout, LoginClientError)

    def connected(p):
        timer = reactor.callLater(timeout, _timeout, p)

        def done(result):
            if timer.active():
                timer.cancel()
            return result
        return p.deferred.addBoth(done)

    def _timeout(p):
        if not p.deferred.called:
            p.deferred.errback(LoginClientError("no reply within %s s" % (timeout,)))
            p.transport.abortConnection()

    return d.addCallback(connected)
