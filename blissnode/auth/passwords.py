"""
The password policy: the one place that decides whether a new password is
acceptable, for every way an operator or the web sign-up sets one (``blissnode
user add/passwd``, the management API, the sign-up page).

A client registering from its own sign-up screen sends only the MD5
credential (login.md 6), never the password, so the server cannot check its
length: that path is governed by ``--registration`` (closed by default).
"""

import attr

from blissnode.store.errors import InvalidField
from blissnode.wire.credentials import credential_name, md5_credential

__all__ = ["PasswordPolicy", "WeakPassword", "DEFAULT_MIN_LENGTH", "MAX_PASSWORD_LENGTH"]

#: Shortest password accepted unless configured otherwise (``--password-min-length``).
DEFAULT_MIN_LENGTH = 8

#: Longest password accepted (the client's own limit is unknown; this only
#: stops a wrong file, e.g. a binary, from being taken as a password).
MAX_PASSWORD_LENGTH = 1024


class WeakPassword(InvalidField):
    """A password the policy refuses (the message says why, never the password)."""


def _min_length(value):
    value = int(value)
    if not 1 <= value <= MAX_PASSWORD_LENGTH:
        raise ValueError("the minimum password length must be 1..%d" % (MAX_PASSWORD_LENGTH,))
    return value


@attr.s(frozen=True, slots=True)
class PasswordPolicy:
    """What a new password must satisfy."""

    min_length = attr.ib(default=DEFAULT_MIN_LENGTH, converter=_min_length)

    def check(self, password):
        """``password`` if acceptable, else :class:`WeakPassword`."""
        if not isinstance(password, str):
            raise WeakPassword("the password must be text")
        if not password:
            raise WeakPassword("the password must not be empty")
        if len(password) < self.min_length:
            raise WeakPassword("the password must have at least %d characters"
                               % (self.min_length,))
        if len(password) > MAX_PASSWORD_LENGTH:
            raise WeakPassword("the password is longer than %d characters"
                               % (MAX_PASSWORD_LENGTH,))
        if any(c in "\r\n\0" for c in password):
            raise WeakPassword("the password must not contain line breaks or NUL")
        return password

    def credential(self, name, password):
        """The client's 16-byte MD5 credential of an acceptable ``password``
        (over the lower-cased name, login.md 6): what the store hashes."""
        return md5_credential(credential_name(name), self.check(password))
