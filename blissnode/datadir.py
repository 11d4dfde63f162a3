"""
The data directory: where a server keeps what must survive a restart.

Keys, the embedded SQLite database and similar state live under one
directory (``--data-dir``, default ``./blissnode-data``).  It is created on
first run, readable by its owner only, because it will hold private keys.
"""

import os
import pwd

from twisted.python.filepath import FilePath


def ensure_data_dir(path):
    """Create ``path`` (and parents) if needed; return it as a :class:`FilePath`.

    A new directory gets mode 0700.  An existing one is left as it is: the
    operator may have chosen its permissions deliberately.
    """
    fp = FilePath(os.path.abspath(path))
    if not fp.exists():
        os.makedirs(fp.path, mode=0o700, exist_ok=True)
    elif not fp.isdir():
        raise ValueError("data directory %r exists and is not a directory" % (fp.path,))
    check_not_world_writable(fp.path)
    return fp


def run_as_ids(options):
    """``(uid, gid)`` twistd will switch to (``twistd --uid/--gid``, the
    plugin's parent options), or ``(None, None)``."""
    parent = getattr(options, "parent", None)
    if parent is None:
        return None, None
    uid, gid = parent.get("uid"), parent.get("gid")
    if uid is not None and gid is None:
        try:
            gid = pwd.getpwuid(uid).pw_gid
        except KeyError:
            gid = None
    return uid, gid


def hand_over(fp, uid, gid):
    """Give the data directory and everything in it to ``uid``/``gid``
    when running as root before ``twistd --uid`` drops privileges: the
    server can then open what start-up created (keys, token, database).
    A no-op unless root and a uid is given."""
    if uid is None or os.getuid() != 0:
        return False
    gid = -1 if gid is None else gid
    os.chown(fp.path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(fp.path):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)
    return True


class UnsafeDataDir(ValueError):
    """The data directory can be written by every local user."""


def check_not_world_writable(path):
    """Refuse a data directory every local user may write to (issue 17.10):
    anyone could replace the server keys or the database in it.  A sticky
    world-writable directory (/tmp) is refused too: files in it could be
    planted before the first run."""
    mode = os.stat(path).st_mode
    if mode & 0o002:
        raise UnsafeDataDir("data directory %r is writable by every user (mode %o); "
                            "chmod o-w it (0700 is best)" % (path, mode & 0o7777))
