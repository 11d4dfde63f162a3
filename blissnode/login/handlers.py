"""
:class:`LoginHandlers`: what the login server answers, decision by decision
-- the base implementation of :class:`~blissnode.login.interfaces.ILoginHandlers`
-- and its two later generations:

=================  ============  ============  ===========  =====================
class              versions      transport     login code   reply body
=================  ============  ============  ===========  =====================
LoginHandlers      1.4 2.5 3.8   classic       5017 GUESS   4.x style GUESS
LoginHandlers4x    4.0 4.1 4.2   classic       5017         4.x style (SEAN, BATO)
LoginHandlers55    5.5 5.9 6.16  DH-384 + RC4  5027         6.x style (SOS2)
=================  ============  ============  ===========  =====================

The version modules (``blissnode/versions/v*.py``) put one of these classes
(or a subclass) under the role ``"login"`` of their ``handlers`` mapping;
versions without an entry inherit the nearest older one's (the
:class:`~blissnode.versions.registry.VersionRegistry` rule).  When no version
module defines the role (a registry built without the built-in plugins),
:func:`fallback_login_handlers` picks by version number with the table above.

Every value the spec leaves open is a class constant or a small method
marked ``GUESS:``, so a version overrides exactly that.
"""

from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from blissnode.auth.cred import (
    AccountSuspended,
    ISkypeUser,
    LoginMind,
    SkypeCredentials,
    UnknownUser,
    WrongPassword,
)
from blissnode.login.codes import REFUSAL_CODES
from blissnode.login.interfaces import (
    ACCOUNT_BLOCKED,
    INVALID_NAME,
    NAME_TAKEN,
    REGISTRATION_CLOSED,
    TRANSPORT_CLASSIC,
    UNKNOWN_USER,
    WRONG_PASSWORD,
    ILoginHandlers,
    LoginAnswer,
    LoginRefusal,
)
from blissnode.store.errors import AccountExists, InvalidField, InvalidName
from blissnode.store.names import validate_skype_name
from blissnode.wire import credentials as wire_credentials
from blissnode.wire import login_messages as lm
from blissnode.wire.credentials import build_credential

__all__ = [
    "LoginHandlers",
    "ROLE",
    "KIND_LOGIN",
    "KIND_REGISTER",
]

log = Logger()

#: The role name in :attr:`IClientVersion.handlers`.
ROLE = "login"

KIND_LOGIN = "login"
KIND_REGISTER = "register"

_MINUTES_PER_DAY = 1440


@implementer(ILoginHandlers)
class LoginHandlers(object):
    """The base (oldest-client: 1.4, 2.5, 3.8) behaviour of a login server.

    Nothing of the 1.x-3.x login exchange has been captured (login.md 9), so
    this class is the 4.1 behaviour applied to them; every such value is a
    GUESS kept in one constant.
    """

    #: GUESS (login.md 9, L3): 1.x-4.x speak the classic transport (VERIFIED
    #: for 1.2.0.18 and 4.1.0.130; assumed for 1.4 .. 3.8).
    transport = TRANSPORT_CLASSIC
    #: Registration code (SEAN, 4.1); GUESS for every other version.
    REGISTRATION_REQUEST_CODE = lm.REQUEST_REGISTER
    #: GUESS: accept both known login codes from any version -- the version
    #: string already tells versions apart, and refusing a code the server
    #: understands gains nothing.
    login_request_codes = (lm.REQUEST_LOGIN_4X, lm.REQUEST_LOGIN_6X)
    registration_request_codes = (lm.REQUEST_REGISTER,)
    #: GUESS (L5): the result codes per refusal reason; only 8401 is known.
    REFUSAL_CODES = REFUSAL_CODES
    #: Credential lifetime: INT 4 = issue + 30 days (VERIFIED on 41 + 23 real
    #: credentials, login.md 7.4).
    CREDENTIAL_LIFETIME_MINUTES = wire_credentials.CREDENTIAL_LIFETIME_MINUTES
    #: GUESS (L7): the one-year value = issue + 365 days, the simplification
    #: login.md 7.4 recommends (the real server used the same clock time one
    #: calendar year later; the login_exchange vectors use +365 days).
    YEAR_MINUTES = 365 * _MINUTES_PER_DAY
    #: GUESS (L7): INT 3 = 0 as in all samples but one.
    CREDENTIAL_FLAGS = 0
    #: GUESS: accept a login over the other transport too (5.0-5.3 are not
    #: known to use either, L3); the server logs the mismatch.
    STRICT_TRANSPORT = False

    def accepts_transport(self, transport):
        return transport == self.transport or not self.STRICT_TRANSPORT

    def parse_request(self, plaintext):
        return lm.parse_login_request(plaintext)

    def request_kind(self, request):
        code = request.header.code
        if code in self.registration_request_codes:
            return KIND_REGISTER
        if code in self.login_request_codes:
            return KIND_LOGIN
        return None

    def refusal_code(self, reason):
        return self.REFUSAL_CODES.code(reason)

    def build_refusal(self, seq, reason):
        return lm.build_refusal(seq, self.refusal_code(reason))

    def credential_name(self, request, account):
        """GUESS (L4): the stored, lower-case spelling of the name (the one the
        MD5 credential is defined over, :func:`wire.credentials.credential_name`)."""
        if account is not None and getattr(account, "name", None):
            return account.name
        return wire_credentials.credential_name(request.header.name)

    def credential_flags(self, request, account):
        return self.CREDENTIAL_FLAGS

    def credential_times(self, now_minutes):
        return (now_minutes + self.CREDENTIAL_LIFETIME_MINUTES,
                now_minutes + self.YEAR_MINUTES)

    def credential_validity(self, expiry, year):
        """4.x era: the credential's LIST 2 repeats INT 4 (2009-2012 samples);
        the one-year value travels in the reply's LIST 0x32."""
        return {9: expiry}

    def build_success(self, seq, credential, year):
        return lm.build_reply(lm.RESULT_OK, seq, self.success_body(credential, year))

    def success_body(self, credential, year):
        """GUESS (L9): the 4.x-era body for everything before 5.5."""
        return lm.success_body_4x(credential, year)

    # -- the answers (one request -> one answer) ----------------------------

    @defer.inlineCallbacks
    def sign_in(self, call):
        """Check the MD5 credential through the ``twisted.cred`` portal and
        answer with a signed credential."""
        header = call.request.header
        mind = LoginMind(call.peer, call.version, call.transport)
        try:
            _iface, avatar, logout = yield call.service.portal.login(
                SkypeCredentials(header.name, header.credential), mind, ISkypeUser)
        except UnknownUser:
            raise LoginRefusal(UNKNOWN_USER, "unknown user", count_failure=True, checked=True)
        except WrongPassword:
            raise LoginRefusal(WRONG_PASSWORD, "wrong password", count_failure=True,
                               checked=True)
        except AccountSuspended:
            # The right password: not a failure to count, but no credential.
            raise LoginRefusal(ACCOUNT_BLOCKED, "account suspended", checked=True)
        except UnauthorizedLogin as e:
            raise LoginRefusal(WRONG_PASSWORD, "refused: %s" % (e,), count_failure=True,
                               checked=True)
        logout()
        answer = yield self.answer(call, avatar.account)
        return answer

    @defer.inlineCallbacks
    def register(self, call):
        """Create the account (request 5018) and answer as a login."""
        service, request = call.service, call.request
        header = request.header
        if not service.registration_open:
            raise LoginRefusal(REGISTRATION_CLOSED, "registration is closed")
        try:
            validate_skype_name(header.name)
        except InvalidName as e:
            raise LoginRefusal(INVALID_NAME, "registration: %s" % (e,))
        email, full_name = self.registration_fields(request)
        try:
            try:
                account = yield service.store.create_account(
                    header.name, header.credential, email=email, full_name=full_name)
            except InvalidField as e:
                # GUESS: e-mail and full name are informational; an account
                # is created without fields the store does not accept.
                log.info("login: registration of {name}: dropping profile fields ({error})",
                         name=header.name, error=e)
                account = yield service.store.create_account(header.name, header.credential)
        except AccountExists:
            # Counted against the address: names can be probed this way.
            raise LoginRefusal(NAME_TAKEN, "registration: name taken", count_failure=True)
        except InvalidName as e:
            raise LoginRefusal(INVALID_NAME, "registration: %s" % (e,))
        log.info("login: {peer} registered the account {name}", peer=call.peer,
                 name=account.name)
        answer = yield self.answer(call, account)
        return answer

    def answer(self, call, account):
        """A Deferred of the success reply: a credential for ``account``
        signed with the server's credential key (on the service's
        ``private_ops`` threads when it has them), in this version's body."""
        service, request = call.service, call.request
        now_minutes = int(service.clock.seconds() // 60)
        expiry, year = self.credential_times(now_minutes)
        args = (self.credential_name(request, account), request.body.user_modulus, expiry,
                self.credential_validity(expiry, year), service.keys.credential_sign_raw)
        flags = self.credential_flags(request, account)
        private_ops = getattr(service, "private_ops", None)
        if private_ops is None:
            d = defer.maybeDeferred(build_credential, *args, flags=flags)
        else:
            d = private_ops.run(build_credential, *args, flags=flags)
        d.addCallback(lambda credential: LoginAnswer(
            self.build_success(request.header.seq, credential.raw, year), credential))
        return d

    def registration_fields(self, request):
        """STRING 0x20 (e-mail) and STRING 0x37 (full name) of SEAN's
        registration body; absent ones are ``None``."""
        return request.body.email, request.body.full_name
