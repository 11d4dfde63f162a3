"""
:class:`Account`: what the store tells its callers about one account.

It never carries the credential hash or salt: those stay inside the store, so
no caller can log or leak them by printing an account.
"""

import datetime

import attr


def from_unix(seconds):
    """An aware UTC datetime from a stored integer Unix time (``None`` stays ``None``)."""
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)


@attr.s(frozen=True, slots=True)
class Account:
    """One account, as read from the store.

    :ivar name: the Skype name, lower case.
    :ivar created: when the account was created (aware UTC datetime).
    :ivar email: e-mail address given at registration, or ``None``.
    :ivar full_name: full name given at registration, or ``None``.
    :ivar credential_changed: when the password was last set.
    :ivar kdf: description of how the credential is hashed, e.g.
        ``"scrypt n=16384 r=8 p=1"`` (parameters only, nothing secret).
    :ivar suspended: an operator suspended the account (``blissnode user
        suspend``): the credential still checks, the login server refuses it.
    :ivar suspended_at: when it was first suspended (aware UTC datetime), or ``None``.
    :ivar suspension_reason: the operator's note, or ``None``; never sent to a client.
    """

    name = attr.ib()
    created = attr.ib()
    email = attr.ib(default=None)
    full_name = attr.ib(default=None)
    credential_changed = attr.ib(default=None)
    kdf = attr.ib(default=None)
    suspended = attr.ib(default=False)
    suspended_at = attr.ib(default=None)
    suspension_reason = attr.ib(default=None)

    def to_json(self):
        """The fields as JSON-ready values (times in ISO 8601; there is no
        hash or salt to leak): what ``user list --json`` and the management
        API show."""
        def when(value):
            return None if value is None else value.isoformat()
        return {"name": self.name, "created": when(self.created), "email": self.email,
                "full_name": self.full_name,
                "password_set": when(self.credential_changed), "hash": self.kdf,
                "suspended": self.suspended, "suspended_at": when(self.suspended_at),
                "suspension_reason": self.suspension_reason}
