"""
``blissnode backup`` / ``blissnode restore``: a copy of the accounts, lists
and messages that can be put back.

SQLite: the backup is a :func:`~blissnode.store.snapshot.snapshot` of the
live file (consistent while the server runs), checked with ``PRAGMA
integrity_check`` before it takes its final name.  A restore checks the
backup the same way and refuses one written by a newer blissnode, then
copies it over the database file with the same online backup API (the
server should be stopped: it would keep serving the sessions of before);
the next open migrates it forward if it is older.

PostgreSQL: blissnode runs the server's own tools when they are on the
``PATH`` -- ``pg_dump --format=custom`` of the schema the URL works in, and
``pg_restore --clean --if-exists --single-transaction`` -- with the password
passed through ``PGPASSWORD``, not the command line; without them it says
which commands to run (:func:`postgresql_guidance`).
"""

import os
import shutil
import sqlite3
import subprocess

import attr

from blissnode.store.errors import DatabaseError, StoreError
from blissnode.store.migrations import MIGRATIONS, check_not_newer, schema_version
from blissnode.store.postgresql import redact_url
from blissnode.store.snapshot import _uri_path, integrity_errors, snapshot
from blissnode.store.sqlite import SQLiteDatabase

__all__ = ["BackupSummary", "NoPostgreSQLTools", "backup_postgresql", "backup_sqlite",
           "postgresql_guidance", "restore_postgresql", "restore_sqlite"]


@attr.s(frozen=True, slots=True)
class BackupSummary:
    """What a backup or restore holds: its schema version and account count."""

    path = attr.ib()
    schema_version = attr.ib()
    accounts = attr.ib()


class NoPostgreSQLTools(StoreError):
    """pg_dump / pg_restore are not installed here; the message says what to run instead."""


def _summary(path):
    conn = sqlite3.connect("file:%s?mode=ro" % (_uri_path(path),), uri=True)
    try:
        version = schema_version(conn.cursor())
        accounts = 0
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                        "AND name = 'accounts'").fetchone():
            (accounts,) = conn.execute("SELECT count(*) FROM accounts").fetchone()
        return BackupSummary(os.fspath(path), version, accounts)
    except sqlite3.Error as e:
        raise DatabaseError("%s is not a blissnode database: %s" % (path, e)) from e
    finally:
        conn.close()


def backup_sqlite(database, out):
    """Back the SQLite file ``database`` up into the new file ``out``; return a :class:`BackupSummary`."""
    out = os.fspath(out)
    if os.path.exists(out):
        raise StoreError("%s already exists; give another name" % (out,))
    partial = out + ".partial"
    if os.path.exists(partial):
        os.unlink(partial)  # left by an interrupted backup
    snapshot(database, partial)
    problems = integrity_errors(partial)
    if problems:
        os.unlink(partial)
        raise DatabaseError("the copy of %s failed its integrity check: %s"
                            % (database, "; ".join(problems[:3])))
    os.replace(partial, out)
    return _summary(out)


def restore_sqlite(backup, database, replace=False, migrations=MIGRATIONS):
    """Put the backup file ``backup`` in place of the SQLite file ``database``.

    Refuses a backup that fails its integrity check or is newer than this
    blissnode, and a ``database`` that holds accounts unless ``replace``.
    Returns the :class:`BackupSummary` of what was restored.
    """
    backup, database = os.fspath(backup), os.fspath(database)
    if not os.path.exists(backup):
        raise StoreError("no backup at %s" % (backup,))
    problems = integrity_errors(backup)
    if problems:
        raise DatabaseError("%s is not a sound SQLite database: %s"
                            % (backup, "; ".join(problems[:3])))
    summary = _summary(backup)
    check_not_newer(summary.schema_version, migrations)
    if summary.schema_version == 0:
        raise StoreError("%s is not a blissnode database (no schema)" % (backup,))
    if os.path.exists(database):
        present = _summary(database)
        if present.accounts and not replace:
            raise StoreError("%s holds %d accounts; give --yes to replace them with the "
                             "backup's %d" % (database, present.accounts, summary.accounts))
    else:
        os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
    try:
        src = sqlite3.connect("file:%s?mode=ro" % (_uri_path(backup),), uri=True)
        try:
            dst = sqlite3.connect(database, timeout=30)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=WAL")
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as e:
        raise DatabaseError("cannot restore into %s: %s" % (database, e)) from e
    SQLiteDatabase(database, migrations=migrations).close()  # migrate forward if older
    return _summary(database)


# -- PostgreSQL ---------------------------------------------------------------------------

def _libpq(url):
    """``(conninfo without the password, environment with PGPASSWORD)``."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    params = conninfo_to_dict(url)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = password
    return make_conninfo(**params), env


def _schema(url):
    import psycopg
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            return conn.execute("SELECT current_schema()").fetchone()[0]
    except psycopg.Error as e:
        raise DatabaseError(str(e).strip().splitlines()[0]) from e


def postgresql_guidance(url, path, restore=False):
    """The commands to run by hand (``url`` shown without its password)."""
    shown = redact_url(url)
    if restore:
        return ("pg_restore --clean --if-exists --no-owner --single-transaction "
                "--dbname '%s' '%s'" % (shown, path))
    return "pg_dump --format=custom --no-owner --schema=<schema> --file '%s' '%s'" % (path, shown)


def _tool(name, url, path, restore):
    found = shutil.which(name)
    if found is None:
        raise NoPostgreSQLTools(
            "%s is not installed (Debian: apt-get install postgresql-client); run: %s"
            % (name, postgresql_guidance(url, path, restore)))
    return found


def _run(argv, env):
    result = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DatabaseError("%s failed: %s" % (os.path.basename(argv[0]),
                                               "; ".join(lines[-3:]) or result.returncode))


def backup_postgresql(url, out):
    """``pg_dump`` the schema ``url`` works in into the new file ``out``."""
    out = os.fspath(out)
    pg_dump = _tool("pg_dump", url, out, False)
    if os.path.exists(out):
        raise StoreError("%s already exists; give another name" % (out,))
    schema = _schema(url)
    conninfo, env = _libpq(url)
    partial = out + ".partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    try:
        _run([pg_dump, "--format=custom", "--no-owner", "--schema=" + schema,
              "--file=" + partial, "--dbname=" + conninfo], env)
    except BaseException:
        os.unlink(partial)
        raise
    os.replace(partial, out)
    return schema


def restore_postgresql(backup, url):
    """``pg_restore`` the dump ``backup`` into ``url``'s database (replacing its tables)."""
    backup = os.fspath(backup)
    pg_restore = _tool("pg_restore", url, backup, True)
    if not os.path.exists(backup):
        raise StoreError("no backup at %s" % (backup,))
    conninfo, env = _libpq(url)
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--dbname=" + conninfo, backup], env)
