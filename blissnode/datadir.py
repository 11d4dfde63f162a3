"""
The data directory: where a server keeps what must survive a restart.

Keys, the embedded SQLite database and similar state live under one
directory (``--data-dir``, default ``./blissnode-data``).  It is created on
first run, readable by its owner only, because it will hold private keys.
"""

import os

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
    return fp
