"""
The ways a storage call can fail, as exception classes.

Callers (the login handler, the ``blissnode user`` command) branch on the
class, never on a message: the login server turns :class:`UnknownAccount` and
:class:`WrongCredential` into different refusal codes, the command line turns
:class:`InvalidName` and :class:`AccountExists` into one clear line.  The
store itself knows nothing of either.
"""


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class InvalidName(StoreError, ValueError):
    """The text is not a valid Skype name (the message says why)."""


class InvalidField(StoreError, ValueError):
    """A profile field (e-mail, full name) or a credential has the wrong shape."""


class AccountExists(StoreError):
    """An account with this (case-insensitive) name already exists."""


class NoSuchAccount(StoreError, LookupError):
    """The account to change or delete does not exist."""


class BadCredentials(StoreError):
    """The name/credential pair does not sign anybody in.

    Catch this to refuse a login; look at the subclass only to choose *which*
    refusal to send.  Both subclasses cost the same time to produce (one
    scrypt each), so the distinction does not leak through timing.
    """


class UnknownAccount(BadCredentials):
    """No account with this name (or the name is not a valid Skype name)."""


class WrongCredential(BadCredentials):
    """The account exists but the MD5 credential does not match."""


class DatabaseError(StoreError):
    """The database itself failed (locked too long, disk full, not a database, bad SQL).

    The original :mod:`sqlite3` exception is the ``__cause__``.  This is a
    server fault, never a verdict on the user.
    """


class SchemaTooNew(StoreError):
    """The database was written by a newer blissnode (unknown migrations).

    Refusing to open it is safer than running old code against a schema it
    does not understand.
    """


class NoSuchContact(StoreError, LookupError):
    """The entry (name or handle) is not in the caller's own contact list.

    Raised the same way whether the name is in *somebody else's* list or in
    nobody's: a user learns nothing about other lists from it.
    """


class ContactLimit(StoreError):
    """A contact list is full (the owner's, or the target's for a request).

    The message says which list; nothing was written.
    """


class ContactStateError(StoreError):
    """The entry exists but its state does not allow the change.

    For example accepting an authorisation nobody asked for, or unblocking a
    contact that is not blocked.
    """


class QuotaExceeded(StoreError):
    """The recipient's offline-message queue is full (by count or by bytes).

    Nothing was stored; the sender may retry after the recipient has
    fetched and acknowledged its messages.
    """


class SenderBlocked(StoreError):
    """The recipient has blocked the sender; nothing was stored.

    The store says so; whether the sender is told is the protocol's choice.
    """
