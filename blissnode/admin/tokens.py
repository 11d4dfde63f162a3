"""
The management API's bearer token: one random secret in a file of the data
directory, readable by its owner only, created on first use and shown once
(in the start-up log) so the operator can copy it.  Rotating it = deleting
the file and restarting.
"""

import hmac
import os
import secrets

from twisted.logger import Logger

__all__ = ["TOKEN_FILE", "load_or_create_token", "token_matches"]

log = Logger()

#: The token file's name in the data directory.
TOKEN_FILE = "admin-token"


class TokenFileError(Exception):
    """The token file is unsafe or unreadable; the admin listener must not start."""


def load_or_create_token(data_dir):
    """The token of ``data_dir`` (a path), created (mode 0600) when absent."""
    path = os.path.join(data_dir, TOKEN_FILE)
    if not os.path.lexists(path):
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        # Shown this once; afterwards only the file has it.
        log.warn("admin: created the management API token {path} (mode 0600): {token}",
                 path=path, token=token)
        return token
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        raise TokenFileError("%s is readable by others (mode %04o): chmod 600 it"
                             % (path, mode))
    with open(path) as f:
        token = f.readline().strip()
    if len(token) < 16:
        raise TokenFileError("%s holds no usable token (delete it to make a new one)"
                             % (path,))
    log.info("admin: management API token in {path}", path=path)
    return token


def token_matches(expected, offered):
    """Constant-time comparison of a presented token (str or bytes)."""
    if offered is None:
        return False
    if isinstance(offered, bytes):
        offered = offered.decode("latin-1")
    return hmac.compare_digest(expected.encode("utf-8"), offered.encode("utf-8", "replace"))
