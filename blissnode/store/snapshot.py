"""
A consistent copy of a live SQLite database, through SQLite's online backup API.

The server keeps its file open in WAL mode and may write at any moment;
copying the file (and its -wal) with ``cp`` can catch half a transaction.
:func:`snapshot` copies the database in one step of
:meth:`sqlite3.Connection.backup`, inside one read transaction: the copy is
the database as it was at one instant, every committed transaction in or
out as a whole, while the server goes on writing (WAL readers do not block
the writer).  ``blissnode backup`` and ``blissnode db copy`` both read
through it.
"""

import os
import sqlite3

from blissnode.store.errors import DatabaseError, StoreError

__all__ = ["integrity_errors", "snapshot"]


def snapshot(source, target):
    """Copy the SQLite database ``source`` (a path) to the new file ``target`` (mode 0600).

    Raises :class:`StoreError` if ``source`` is missing or ``target`` exists,
    :class:`DatabaseError` if SQLite fails.  The copy is a single file
    (journal mode DELETE), ready to be moved or read.
    """
    source, target = os.fspath(source), os.fspath(target)
    if not os.path.exists(source):
        raise StoreError("no database at %s" % (source,))
    try:
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise StoreError("%s already exists" % (target,))
    except OSError as e:
        raise StoreError("cannot create %s: %s" % (target, e.strerror))
    os.close(fd)
    try:
        src = sqlite3.connect("file:%s?mode=ro" % (_uri_path(source),), uri=True, timeout=30)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)  # pages=-1: everything in one step, one snapshot
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as e:
        os.unlink(target)
        raise DatabaseError("cannot copy %s: %s" % (source, e)) from e
    except BaseException:
        os.unlink(target)
        raise


def integrity_errors(path):
    """The problems ``PRAGMA integrity_check`` finds in the file ``path`` (``[]``: sound)."""
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % (_uri_path(path),), uri=True)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as e:
        return [str(e)]
    problems = [row[0] for row in rows]
    return [] if problems == ["ok"] else problems


def _uri_path(path):
    from urllib.parse import quote
    return quote(os.path.abspath(path))
