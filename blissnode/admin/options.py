"""
The twistd options of the admin listener and the password policy, kept
here so that :mod:`blissnode.tap` only adds them to its list and calls
:func:`check_admin_options`.
"""

from twisted.python import usage

from blissnode.auth.passwords import DEFAULT_MIN_LENGTH, MAX_PASSWORD_LENGTH
from blissnode.listeners import is_disabled

__all__ = ["ADMIN_PARAMETERS", "check_admin_options"]

ADMIN_PARAMETERS = [
    ["admin", None, "none",
     "Listener of the management API, the operator's web page and /metrics, e.g. "
     "tcp:8080:interface=127.0.0.1 ('none' = off, the default).  Token: the file "
     "admin-token in --data-dir (created on first use, mode 0600)."],
    ["admin-signup", None, "closed",
     "'open' = the admin listener also serves a public sign-up page (/signup) "
     "that creates accounts under the password policy; 'closed' (default)."],
    ["password-min-length", None, str(DEFAULT_MIN_LENGTH),
     "Shortest password accepted when an operator or the sign-up page sets one."],
]


def check_admin_options(options):
    """Validate (and convert) the admin options in place; UsageError otherwise."""
    description = options["admin"]
    if not is_disabled(description) and not description.startswith(("tcp:", "tcp6:", "ssl:",
                                                                     "unix:")):
        raise usage.UsageError("--admin must be a server endpoint such as "
                               "tcp:8080:interface=127.0.0.1, or 'none'")
    if options["admin-signup"] not in ("open", "closed"):
        raise usage.UsageError("--admin-signup must be 'open' or 'closed'")
    try:
        value = int(options["password-min-length"])
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= MAX_PASSWORD_LENGTH:
        raise usage.UsageError("--password-min-length must be 1..%d" % (MAX_PASSWORD_LENGTH,))
    options["password-min-length"] = value
