"""
:class:`AccountOperations`: what an operator does to accounts in a running
server, with the side effects the command line cannot have.

Deleting, suspending or changing the password of an account also ends its
live sessions in this process (:meth:`blissnode.core.hub.Core.end_sessions_of`),
so the change takes effect at once rather than at the client's next sign-in.
Every new password goes through the one
:class:`~blissnode.auth.passwords.PasswordPolicy`.
"""

from twisted.internet import defer
from twisted.logger import Logger

from blissnode.auth.passwords import PasswordPolicy

__all__ = ["AccountOperations", "RegistrationSwitch"]

log = Logger()


class RegistrationSwitch(object):
    """Whether clients may sign up from their own screen (login request
    5018), shared with the login server's factory so that toggling it takes
    effect on the next request.  ``target`` is any object with a
    ``registration_open`` attribute (the LoginServerFactory), or None."""

    def __init__(self, target=None, is_open=False):
        self._target = target
        self._open = bool(is_open if target is None else target.registration_open)

    @property
    def is_open(self):
        return self._open

    def set(self, is_open):
        self._open = bool(is_open)
        if self._target is not None:
            self._target.registration_open = self._open
        log.info("admin: client registration is now {state}",
                 state="open" if self._open else "closed")
        return self._open


class AccountOperations(object):
    """Account changes over a store service and the process's core.

    :param store: a store service (``accounts``, ``run``).
    :param core: the :class:`~blissnode.core.hub.Core` of this process.
    :param policy: the :class:`PasswordPolicy` for new passwords.
    """

    def __init__(self, store, core, policy=None):
        self.store = store
        self.core = core
        self.policy = policy if policy is not None else PasswordPolicy()

    def list(self):
        return self.store.accounts.list_accounts()

    def show(self, name):
        return self.store.accounts.get_account(name)

    def create(self, name, password, email=None, full_name=None):
        """Deferred firing with the new Account; WeakPassword, InvalidName,
        InvalidField or AccountExists on failure."""
        try:
            credential = self.policy.credential(name, password)
        except Exception:
            return defer.fail()
        return self.store.accounts.create_account(name, credential, email=email,
                                                  full_name=full_name)

    @defer.inlineCallbacks
    def passwd(self, name, password):
        credential = self.policy.credential(name, password)
        account = yield self.store.accounts.set_credential(name, credential)
        yield self._end(account.name, "password changed by an operator")
        return account

    @defer.inlineCallbacks
    def suspend(self, name, reason=None):
        account = yield self.store.accounts.suspend_account(name, reason)
        yield self._end(account.name, "account suspended by an operator")
        return account

    def unsuspend(self, name):
        return self.store.accounts.unsuspend_account(name)

    @defer.inlineCallbacks
    def delete(self, name):
        account = yield self.store.accounts.get_account(name)
        yield self.store.accounts.delete_account(name)
        yield self._end(account.name if account else name, "account deleted by an operator")

    def queue_sizes(self, limit=1000):
        """Deferred of ``[(recipient, count, bytes)]``, largest queues first."""
        return self.store.run(lambda opened: opened.messages.queue_sizes(limit))

    @defer.inlineCallbacks
    def _end(self, name, reason):
        ended = yield self.core.end_sessions_of(name, reason)
        log.info("admin: {name}: {reason}; {n} live session(s) ended", name=name,
                 reason=reason, n=ended)
        return ended
