"""
``blissnode user``: manage accounts without touching the database by hand.

::

    blissnode user add NAME [--password-file F] [--email E] [--full-name N]
    blissnode user passwd NAME [--password-file F]
    blissnode user del NAME [--yes]
    blissnode user list
    blissnode user show NAME

Every command takes ``--data-dir`` (default ``blissnode-data``, as the twistd
plugin).  It works on the same SQLite file as a running server (WAL mode lets
both at once) through the synchronous store, with no reactor.  The password
is read from a prompt (twice) or from the first line of a file (``-`` for
stdin), turned into the client's MD5 credential over the lower-cased name,
and only a slow hash of that is stored.
"""

import functools
import getpass
import os

from blissnode.cli.common import (
    add_password_file_argument as password_file,
    command_error as _error,
    read_password_file,
)
from blissnode.store.errors import StoreError
from blissnode.store.sqlite import SQLiteDatabase, SyncAccountStore, database_path
from blissnode.store.names import validate_skype_name
from blissnode.wire.credentials import credential_name, md5_credential

DEFAULT_DATA_DIR = "blissnode-data"  # the twistd plugin's default (blissnode/tap.py)

#: Longest password accepted (the client's own limit is unknown; this only
#: stops a wrong file, e.g. a binary, from being taken as a password).
MAX_PASSWORD_LENGTH = 1024


def _store_errors(action):
    """Turn every store error (taken name, bad field, locked database...) into one line."""
    @functools.wraps(action)
    def run(args, stdin, stdout):
        try:
            return action(args, stdin, stdout)
        except StoreError as e:
            raise _error(str(e))
    return run


def add_parser(commands):
    user = commands.add_parser(
        "user", help="manage accounts (add, passwd, del, list, show)",
        description="Manage the accounts in the data directory's database.")
    actions = user.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    def common(p):
        p.add_argument("--data-dir", "-d", default=DEFAULT_DATA_DIR, metavar="DIR",
                       help="the server's data directory (default: %(default)s)")

    p = actions.add_parser("add", help="create an account")
    p.add_argument("name", metavar="NAME", help="the Skype name (6-32 characters)")
    password_file(p)
    p.add_argument("--email", metavar="E", help="e-mail address")
    p.add_argument("--full-name", metavar="N", help="full name")
    common(p)
    p.set_defaults(run=_add)

    p = actions.add_parser("passwd", help="set a new password")
    p.add_argument("name", metavar="NAME")
    password_file(p)
    common(p)
    p.set_defaults(run=_passwd)

    p = actions.add_parser("del", help="delete an account")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    common(p)
    p.set_defaults(run=_delete)

    p = actions.add_parser("list", help="list the accounts, one name per line")
    common(p)
    p.set_defaults(run=_list)

    p = actions.add_parser("show", help="show one account (never the password hash)")
    p.add_argument("name", metavar="NAME")
    common(p)
    p.set_defaults(run=_show)


def _open(args, create=False):
    """The account store of ``--data-dir``; only ``add`` may create the directory and file."""
    path = database_path(os.path.abspath(args.data_dir))
    if not create and not os.path.exists(path):
        raise _error("no account database in %s (add a user first, or give --data-dir)"
                     % (args.data_dir,))
    if create:
        from blissnode.datadir import ensure_data_dir
        try:
            ensure_data_dir(args.data_dir)
        except (OSError, ValueError) as e:
            raise _error("cannot use data directory %s: %s" % (args.data_dir, e))
    database = SQLiteDatabase(path)  # a StoreError says what is wrong with it
    return database, SyncAccountStore(database)


def _name(args):
    return validate_skype_name(args.name)  # InvalidName: one line via _store_errors


def _read_password(args, stdin, stdout):
    """The new password: the file's first line, or typed twice at a prompt."""
    if args.password_file is not None:
        password = read_password_file(args.password_file, stdin)
    else:
        # Prompts go to the terminal (getpass's default), not to stdout.
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise _error("the passwords do not match")
    if not password:
        raise _error("the password must not be empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise _error("the password is longer than %d characters" % (MAX_PASSWORD_LENGTH,))
    return password


def _credential(name, password):
    return md5_credential(credential_name(name), password)


@_store_errors
def _add(args, stdin, stdout):
    name = _name(args)
    password = _read_password(args, stdin, stdout)
    database, accounts = _open(args, create=True)
    try:
        account = accounts.create_account(name, _credential(name, password),
                                          email=args.email, full_name=args.full_name)
    finally:
        database.close()
    stdout.write("created account %s\n" % (account.name,))


@_store_errors
def _passwd(args, stdin, stdout):
    name = _name(args)
    database, accounts = _open(args)
    try:
        if accounts.get_account(name) is None:
            raise _error("no such account: %s" % (name,))
        password = _read_password(args, stdin, stdout)
        accounts.set_credential(name, _credential(name, password))
    finally:
        database.close()
    stdout.write("password changed for %s\n" % (name,))


@_store_errors
def _delete(args, stdin, stdout):
    name = _name(args)
    database, accounts = _open(args)
    try:
        if accounts.get_account(name) is None:
            raise _error("no such account: %s" % (name,))
        if not args.yes:
            stdout.write("Delete account %s and everything it owns? [y/N] " % (name,))
            stdout.flush()
            if stdin.readline().strip().lower() not in ("y", "yes"):
                raise _error("not deleted")
        accounts.delete_account(name)
    finally:
        database.close()
    stdout.write("deleted account %s\n" % (name,))


@_store_errors
def _list(args, stdin, stdout):
    database, accounts = _open(args)
    try:
        for account in accounts.list_accounts():
            stdout.write(account.name + "\n")
    finally:
        database.close()


@_store_errors
def _show(args, stdin, stdout):
    name = _name(args)
    database, accounts = _open(args)
    try:
        account = accounts.get_account(name)
    finally:
        database.close()
    if account is None:
        raise _error("no such account: %s" % (name,))
    for label, value in [
        ("name", account.name),
        ("created", account.created.isoformat()),
        ("email", account.email or "-"),
        ("full name", account.full_name or "-"),
        ("password set", account.credential_changed.isoformat()),
        ("hash", account.kdf),
    ]:
        stdout.write("%-13s %s\n" % (label + ":", value))
