"""
``blissnode db``: the database itself, apart from the accounts in it.

::

    blissnode db migrate [URL] [--data-dir DIR]
    blissnode db copy SQLITE_URL POSTGRESQL_URL [--replace] [--data-dir DIR]

``migrate`` brings a database to this blissnode's schema (the server does
it too when it starts; run it first to see the outcome, or before starting
several processes against a new PostgreSQL database) and refuses one
written by a newer blissnode.  ``copy`` moves a community from its SQLite
file to PostgreSQL (blissnode.store.copy): the server may keep running on
the SQLite file while it reads; stop it (or switch it to the new
``--database``) afterwards, since what it writes later is not copied.
"""

import os
import sqlite3
from urllib.parse import quote

from blissnode.cli.common import command_error, store_errors
from blissnode.cli.user import DEFAULT_DATA_DIR
from blissnode.datadir import ensure_data_dir
from blissnode.store.copy import copy_database
from blissnode.store.errors import StoreError
from blissnode.store.migrations import MIGRATIONS, schema_version
from blissnode.store.postgresql import PostgreSQLDatabase
from blissnode.store.urls import DEFAULT_DATABASE, SQLITE, open_database, parse_database_url


def add_parser(commands):
    db = commands.add_parser(
        "db", help="migrate a database, or copy an SQLite one into PostgreSQL",
        description="Work on the database itself (schema, moving between engines).")
    actions = db.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    p = actions.add_parser("migrate", help="bring a database to this blissnode's schema")
    p.add_argument("url", nargs="?", default=DEFAULT_DATABASE, metavar="URL",
                   help="sqlite: (the data directory's file, the default), sqlite:///path "
                        "or postgresql://...")
    p.add_argument("--data-dir", "-d", default=DEFAULT_DATA_DIR, metavar="DIR",
                   help="the data directory of sqlite: (default: %(default)s)")
    p.set_defaults(run=_migrate)

    p = actions.add_parser("copy", help="copy accounts, contacts and messages from SQLite "
                                        "into PostgreSQL")
    p.add_argument("source", metavar="SQLITE_URL", help="sqlite: or sqlite:///path")
    p.add_argument("target", metavar="POSTGRESQL_URL", help="postgresql://...")
    p.add_argument("--replace", action="store_true",
                   help="delete what the target holds first (otherwise a non-empty "
                        "target is refused)")
    p.add_argument("--data-dir", "-d", default=DEFAULT_DATA_DIR, metavar="DIR",
                   help="the data directory of sqlite: (default: %(default)s)")
    p.set_defaults(run=_copy)


@store_errors
def _migrate(args, stdin, stdout):
    url = parse_database_url(args.url)
    if url.engine == SQLITE and url.path is None:
        try:
            ensure_data_dir(args.data_dir)
        except (OSError, ValueError) as e:
            raise command_error("cannot use data directory %s: %s" % (args.data_dir, e))
    before = _version_before(url, args.data_dir)
    database = open_database(url, args.data_dir)
    try:
        version = database.schema_version()
    finally:
        database.close()
    where = url.describe(args.data_dir)
    if before == version:
        stdout.write("%s is at schema version %d (up to date)\n" % (where, version))
    else:
        stdout.write("%s migrated from schema version %d to %d\n" % (where, before, version))
    if version != len(MIGRATIONS):  # pragma: no cover - migrate() raises first
        raise command_error("%s is at schema version %d, not %d" % (where, version,
                                                                     len(MIGRATIONS)))


def _version_before(url, data_dir):
    """The schema version before migrating (0 for a database that does not exist yet)."""
    if url.engine == SQLITE:
        path = url.sqlite_path(data_dir)
        if not os.path.exists(path):
            return 0
        conn = sqlite3.connect("file:%s?mode=ro" % (quote(path),), uri=True)
        try:
            return schema_version(conn.cursor())
        except sqlite3.Error as e:
            raise StoreError("cannot read %s: %s" % (path, e))
        finally:
            conn.close()
    database = PostgreSQLDatabase(url.url, size=1, migrate_on_open=False)
    try:
        return database.schema_version()
    finally:
        database.close()


@store_errors
def _copy(args, stdin, stdout):
    copied = copy_database(args.source, args.target, replace=args.replace,
                           data_dir=args.data_dir)
    target = parse_database_url(args.target).describe()
    stdout.write("copied into %s: %s (row counts verified)\n"
                 % (target, ", ".join("%d %s" % (n, t) for t, n in copied.items())))
