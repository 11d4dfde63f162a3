"""
Signing in through :mod:`twisted.cred`: credentials, checker, realm, portal.

The login handler turns a decoded login request into
:class:`SkypeCredentials` (name and 16-byte MD5 credential, login.md §5.1,
§6) and asks the portal for an :class:`ISkypeUser`.  The checker asks the
account store; the realm hands back a :class:`SignedInUser`.  Refusals are
:class:`~twisted.cred.error.UnauthorizedLogin` subclasses, so generic code
treats them as "not signed in" while the login handler can still pick the
refusal code by class (:class:`UnknownUser` vs. :class:`WrongPassword`).
"""

import attr
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import ICredentials
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer
from zope.interface import Attribute, Interface, implementer

from blissnode.store.errors import UnknownAccount, WrongCredential


class ISkypeCredentials(ICredentials):
    """What a Skype client proves at login: a name and its MD5 credential."""

    name = Attribute("The Skype name as the client sent it (str or bytes, any case).")
    credential16 = Attribute("The 16-byte MD5 credential of login.md §6.")


@implementer(ISkypeCredentials)
@attr.s(frozen=True, slots=True)
class SkypeCredentials:
    """The name and MD5 credential of one login request (the credential never in ``repr``)."""

    name = attr.ib()
    credential16 = attr.ib(repr=False)


class UnknownUser(UnauthorizedLogin):
    """No account of that name (or not a valid Skype name)."""


class WrongPassword(UnauthorizedLogin):
    """The account exists; the credential does not match."""


class AccountSuspended(UnauthorizedLogin):
    """The credential matches but an operator suspended the account
    (``blissnode user suspend``, the management API).  Only raised after a
    successful credential check, so it tells nothing to a guesser."""


@implementer(ICredentialsChecker)
class SkypeCredentialsChecker:
    """Checks :class:`ISkypeCredentials` against an
    :class:`~blissnode.store.interfaces.IAccountStore`.

    The avatar id is the normalised (lower-case) Skype name.  Other store
    failures (database errors) pass through unchanged: they are not a
    refusal of this user but a server fault.
    """

    credentialInterfaces = (ISkypeCredentials,)

    def __init__(self, store):
        self._store = store

    def requestAvatarId(self, credentials):
        d = defer.maybeDeferred(self._store.check_credential,
                                credentials.name, credentials.credential16)
        d.addCallbacks(lambda account: account.name, self._refused)
        return d

    @staticmethod
    def _refused(failure):
        failure.trap(UnknownAccount, WrongCredential)
        if failure.check(UnknownAccount):
            raise UnknownUser("unknown user")
        raise WrongPassword("wrong password")


class ISkypeUser(Interface):
    """A signed-in user, as the login (and later event) handlers see them."""

    name = Attribute("The Skype name, lower case.")
    account = Attribute("The :class:`~blissnode.store.account.Account` at sign-in time.")
    mind = Attribute("What the protocol passed to Portal.login (connection details), or None.")


@implementer(ISkypeUser)
@attr.s(frozen=True, slots=True)
class SignedInUser:
    name = attr.ib()
    account = attr.ib()
    mind = attr.ib(default=None)


@implementer(IRealm)
class LoginRealm:
    """Turns an avatar id (a Skype name) into a :class:`SignedInUser`.

    It re-reads the account, so an account deleted between the credential
    check and here is refused rather than signed in, and a suspended one is
    refused (:class:`AccountSuspended`) by the login and the event server
    alike.  ``logout`` does nothing yet; presence (issue 6) will hook in there.
    """

    def __init__(self, store):
        self._store = store

    def requestAvatar(self, avatarId, mind, *interfaces):
        if ISkypeUser not in interfaces:
            raise NotImplementedError("LoginRealm only provides ISkypeUser")
        d = defer.maybeDeferred(self._store.get_account, avatarId)

        def got(account):
            if account is None:
                raise UnknownUser("account removed during sign-in")
            if getattr(account, "suspended", False):
                raise AccountSuspended("account suspended")
            return (ISkypeUser, SignedInUser(account.name, account, mind), lambda: None)
        return d.addCallback(got)


def make_portal(store, realm=None):
    """A :class:`~twisted.cred.portal.Portal` over ``store``: the one the login handler uses."""
    return Portal(realm if realm is not None else LoginRealm(store),
                  [SkypeCredentialsChecker(store)])


@attr.s(frozen=True, slots=True)
class LoginMind:
    """What the protocol passes to ``Portal.login`` as the mind: where the
    login comes from and which client version it is."""

    address = attr.ib()
    version = attr.ib()
    transport = attr.ib()
