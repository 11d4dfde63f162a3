"""
``blissnode backup`` / ``blissnode restore``: save and put back the database.

::

    blissnode backup OUT [--data-dir DIR] [--database URL]
    blissnode restore IN [--data-dir DIR] [--database URL] [--yes]

SQLite: ``backup`` is safe while the server runs (SQLite's online backup
API, checked with ``integrity_check``); stop the server before ``restore``.
PostgreSQL: both run ``pg_dump`` / ``pg_restore`` when they are installed,
and otherwise print the command to run (blissnode.store.backup).  Keys are
not in the database: back up the data directory's key files too
(docs/keys.rst).
"""


from blissnode.cli.common import command_error, store_errors
from blissnode.cli.user import add_database_arguments
from blissnode.datadir import ensure_data_dir
from blissnode.store import backup
from blissnode.store.urls import SQLITE, parse_database_url


def add_parser(commands):
    p = commands.add_parser(
        "backup", help="save the database to a file (safe while the server runs)",
        description="Save the accounts, contact lists and offline messages to OUT.")
    p.add_argument("out", metavar="OUT", help="the backup file to create")
    add_database_arguments(p)
    p.set_defaults(run=_backup)

    p = commands.add_parser(
        "restore", help="put a backup back (stop the server first)",
        description="Replace the database with the backup IN.")
    p.add_argument("backup", metavar="IN", help="a file made by blissnode backup")
    p.add_argument("--yes", "-y", action="store_true",
                   help="replace a database that holds accounts")
    add_database_arguments(p)
    p.set_defaults(run=_restore)


@store_errors
def _backup(args, stdin, stdout):
    url = parse_database_url(args.database)
    if url.engine == SQLITE:
        summary = backup.backup_sqlite(url.sqlite_path(args.data_dir), args.out)
        stdout.write("backed up %d accounts (schema version %d) to %s\n"
                     % (summary.accounts, summary.schema_version, args.out))
        return
    schema = backup.backup_postgresql(url.url, args.out)
    stdout.write("backed up schema %s of %s to %s (pg_dump custom format)\n"
                 % (schema, url.describe(), args.out))


@store_errors
def _restore(args, stdin, stdout):
    url = parse_database_url(args.database)
    if url.engine == SQLITE:
        path = url.sqlite_path(args.data_dir)
        if url.path is None:
            try:
                ensure_data_dir(args.data_dir)
            except (OSError, ValueError) as e:
                raise command_error("cannot use data directory %s: %s" % (args.data_dir, e))
        summary = backup.restore_sqlite(args.backup, path, replace=args.yes)
        stdout.write("restored %d accounts into %s (schema version %d)\n"
                     % (summary.accounts, path, summary.schema_version))
        return
    if not args.yes:
        raise command_error("restoring replaces every blissnode table of %s; give --yes"
                            % (url.describe(),))
    backup.restore_postgresql(args.backup, url.url)
    stdout.write("restored %s into %s\n" % (args.backup, url.describe()))
