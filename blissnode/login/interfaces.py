"""
The contract between the login server's protocol and per-version handlers.

:class:`blissnode.login.protocol.LoginServerProtocol` only buffers, runs the
transport (hello or DH-384 + RC4, the RSA key exchange, AES-CTR records),
asks the account store through ``twisted.cred`` and writes bytes.  Every
decision that a client version may change is one method of an
:class:`ILoginHandlers` provider, chosen per client version by the
:class:`~blissnode.versions.registry.VersionRegistry` (role ``"login"``; a
version without its own entry inherits the nearest older one's).  A client
version that behaves differently overrides one method in its module under
:mod:`blissnode.versions`.

The version is only known once the login request has been decrypted (STRING
0x0D of its body, login.md 5.2), so the transport is detected from the
first bytes (login.md 8) and the handlers are asked afterwards whether that
transport was the expected one.

Handlers hold no per-connection state: one instance serves every connection
of its version.  Everything the spec leaves open is a class constant or a
small method marked ``GUESS:`` in :mod:`blissnode.login.handlers`.
"""

import attr
from zope.interface import Attribute, Interface

from blissnode.wire.server_session import TRANSPORT_CLASSIC, TRANSPORT_DH384  # noqa: F401

#: Transports of a login connection (login.md 2.1 and 2.2): TRANSPORT_CLASSIC,
#: TRANSPORT_DH384 (blissnode.wire.server_session, imported above).

#: Refusal reasons (attribute names of
#: :class:`blissnode.login.codes.RefusalCodes`).
WRONG_PASSWORD = "wrong_password"
UNKNOWN_USER = "unknown_user"
RATE_LIMITED = "rate_limited"
VERSION_TOO_OLD = "version_too_old"
REGISTRATION_CLOSED = "registration_closed"
NAME_TAKEN = "name_taken"
INVALID_NAME = "invalid_name"
ACCOUNT_BLOCKED = "account_blocked"


class ILoginHandlers(Interface):
    """What a login server says to one client version; one method per decision."""

    transport = Attribute(
        "TRANSPORT_CLASSIC (hello 16 03 01 00 00) or TRANSPORT_DH384 "
        "(DH-384 + RC4): the transport this version is expected to use.")
    login_request_codes = Attribute(
        "Request codes (header INT 0) this version uses for a password login.")
    registration_request_codes = Attribute(
        "Request codes this version uses for an account registration.")

    def accepts_transport(transport):
        """May a client of this version arrive over ``transport``?  A False
        answer makes the server refuse the login as VERSION_TOO_OLD."""

    def parse_request(plaintext):
        """Decode the plaintext of the login record into a
        :class:`~blissnode.wire.login_messages.LoginRequest`, or raise
        ProtocolError (answered exactly like a wrong password)."""

    def request_kind(request):
        """``"login"``, ``"register"`` or ``None`` (not a request this
        version sends: answered like a wrong password)."""

    def sign_in(call):
        """A login (:class:`LoginCall`): check the credential through
        ``call.service.portal``; a :class:`LoginAnswer`, or raise
        :class:`LoginRefusal` (or a Deferred of either)."""

    def register(call):
        """A registration: create the account in ``call.service.store``; a
        :class:`LoginAnswer` or :class:`LoginRefusal`."""

    def success_body(credential, year):
        """The items of the success body around ``credential`` (the 4.x or
        the 6.x layout of :mod:`blissnode.wire.login_messages`)."""

    def refusal_code(reason):
        """The result code (INT 1) for a refusal ``reason``."""

    def build_refusal(seq, reason):
        """The plaintext of a refusal reply to request id ``seq``."""

    def credential_name(request, account):
        """STRING 0 of the credential: the Skype name to certify."""

    def credential_flags(request, account):
        """INT 3 of the credential."""

    def credential_times(now_minutes):
        """``(expiry, year)``: INT 4 of the credential and the one-year value,
        minutes since 1970, for a credential issued at ``now_minutes``."""

    def credential_validity(expiry, year):
        """LIST 2 of the credential as ``{item id: minutes}``."""

    def build_success(seq, credential, year):
        """The plaintext of the 4200 reply carrying ``credential`` (bytes)."""

    def registration_fields(request):
        """``(email, full_name)`` to store for a registration request."""


class LoginRefusal(Exception):
    """Raised by a handler (or the protocol): answer the request with the
    refusal for ``reason``.  ``count_failure``: it counts against the
    failed-login limits; ``checked``: a credential check already spent its
    scrypt (else the protocol spends one, so timing tells nothing)."""

    def __init__(self, reason, why, count_failure=False, name=None, checked=False):
        Exception.__init__(self, why)
        self.checked = checked
        self.reason = reason
        self.why = why
        self.count_failure = count_failure
        self.name = name


@attr.s(slots=True)
class LoginCall(object):
    """One decoded login or registration request in its context, as a
    handler method gets it: ``request`` (a LoginRequest), where it came from,
    the version serving it, the transport, and ``service`` -- what the
    server shares (``portal``, ``store``, ``keys``, ``clock``,
    ``registration_open``)."""

    request = attr.ib()
    peer = attr.ib()
    version = attr.ib()
    transport = attr.ib()
    service = attr.ib()


@attr.s(frozen=True, slots=True)
class LoginAnswer(object):
    """A handler's success: the reply ``plaintext`` and the ``credential``
    it carries (for the log line)."""

    plaintext = attr.ib()
    credential = attr.ib()
