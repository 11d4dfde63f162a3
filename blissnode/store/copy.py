"""
``blissnode db copy``: move a community from its SQLite file to PostgreSQL.

The source is read through an online-backup snapshot
(:mod:`blissnode.store.snapshot`), so the server may keep running on it;
the snapshot is migrated to the current schema (the live file is never
touched).  The target is migrated, must be empty (or emptied with
``replace=True``), and receives every row of every table the stores write
-- accounts with their stored scrypt hashes and row ids, contact lists,
offline messages -- in one transaction with the target held exclusively,
through PostgreSQL's COPY.  The row counts are compared before the commit:
a difference rolls everything back.  Passwords are never seen: the hashes
move as they are.
"""

import os
import shutil
import sqlite3
import tempfile

from blissnode.store.errors import StoreError
from blissnode.store.migrations import DATA_TABLES
from blissnode.store.snapshot import snapshot
from blissnode.store.urls import (
    POSTGRESQL,
    SQLITE,
    DatabaseURL,
    open_database,
    parse_database_url,
)

__all__ = ["TargetNotEmpty", "copy_database"]

#: Tables whose ``id`` is an identity column (its sequence is moved past the copied ids).
_IDENTITY_TABLES = ("accounts", "contacts", "offline_messages")


class TargetNotEmpty(StoreError):
    """The target database already holds data (copying would mix two communities)."""


def copy_database(source_url, target_url, replace=False, data_dir=None):
    """Copy everything from the SQLite ``source_url`` into the PostgreSQL ``target_url``.

    Returns ``{table: rows copied}``.  Raises :class:`TargetNotEmpty`,
    :class:`~blissnode.store.errors.SchemaTooNew` (either side is newer
    than this blissnode), :class:`~blissnode.store.errors.DatabaseError`.
    """
    source, target = parse_database_url(source_url), parse_database_url(target_url)
    if source.engine != SQLITE or target.engine != POSTGRESQL:
        raise StoreError("db copy copies an SQLite database (sqlite:, sqlite:///path) into "
                         "a PostgreSQL one (postgresql://...)")
    workdir = tempfile.mkdtemp(prefix="blissnode-copy-")  # mode 0700: the hashes pass here
    try:
        path = os.path.join(workdir, "snapshot.sqlite3")
        snapshot(source.sqlite_path(data_dir), path)
        open_database(DatabaseURL(SQLITE, path=path)).close()  # migrate the snapshot
        rows = sqlite3.connect(path)
        try:
            db = open_database(target)
            try:
                return _copy(rows, db, replace)
            finally:
                db.close()
        finally:
            rows.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _copy(rows, db, replace):
    expected = {t: rows.execute("SELECT count(*) FROM %s" % (t,)).fetchone()[0]
                for t in DATA_TABLES}
    with db.transaction(exclusive=True) as cursor:
        present = {t: cursor.execute("SELECT count(*) FROM %s" % (t,)).fetchone()[0]
                   for t in DATA_TABLES}
        if any(present.values()):
            if not replace:
                raise TargetNotEmpty(
                    "the target database is not empty (%s); give --replace to delete "
                    "what it holds first" % (", ".join("%d %s" % (n, t) for t, n
                                                       in present.items() if n),))
            cursor.execute("TRUNCATE %s RESTART IDENTITY CASCADE" % (", ".join(DATA_TABLES),))
        for table in DATA_TABLES:
            columns = [r[1] for r in rows.execute("PRAGMA table_info(%s)" % (table,))]
            names = ", ".join(columns)
            with cursor.raw.copy("COPY %s (%s) FROM STDIN" % (table, names)) as copy:
                for row in rows.execute("SELECT %s FROM %s ORDER BY rowid" % (names, table)):
                    copy.write_row(row)
        for table in _IDENTITY_TABLES:
            cursor.execute("SELECT setval(pg_get_serial_sequence(?, 'id'), "
                           "coalesce(max(id), 0) + 1, false) FROM %s" % (table,), (table,))
        copied = {t: cursor.execute("SELECT count(*) FROM %s" % (t,)).fetchone()[0]
                  for t in DATA_TABLES}
        if copied != expected:
            raise StoreError("copied row counts %r differ from the source's %r; nothing "
                             "was kept" % (copied, expected))
    return copied
