"""
``blissnode user``: manage accounts without touching the database by hand.

::

    blissnode user add NAME [--password-file F] [--email E] [--full-name N]
    blissnode user passwd NAME [--password-file F]
    blissnode user del NAME [--yes]
    blissnode user list [--json]
    blissnode user show NAME [--json]
    blissnode user suspend NAME [--reason TEXT]
    blissnode user unsuspend NAME

Every command takes ``--data-dir`` (default ``blissnode-data``, as the twistd
plugin) and ``--database`` (default ``sqlite:``, the file in the data
directory; or ``postgresql://...``, as the server's option).  It works on the
same database as a running server (SQLite's WAL mode lets both at once)
through the synchronous store, with no reactor.  The password
is read from a prompt (twice) or from the first line of a file (``-`` for
stdin), turned into the client's MD5 credential over the lower-cased name,
and only a slow hash of that is stored.
"""

import getpass
import json
import os

from blissnode.auth.passwords import DEFAULT_MIN_LENGTH, PasswordPolicy
from blissnode.cli.common import add_password_file_argument as password_file
from blissnode.cli.common import command_error as _error
from blissnode.cli.common import read_password_file, store_errors
from blissnode.datadir import ensure_data_dir
from blissnode.store.accounts import MAX_SUSPENSION_REASON_LENGTH, SyncAccountStore
from blissnode.store.names import validate_skype_name
from blissnode.store.urls import DEFAULT_DATABASE, SQLITE, open_database, parse_database_url

DEFAULT_DATA_DIR = "blissnode-data"  # the twistd plugin's default (blissnode/tap.py)



def add_parser(commands):
    user = commands.add_parser(
        "user", help="manage accounts (add, passwd, del, list, show, suspend, unsuspend)",
        description="Manage the accounts in the data directory's database.")
    actions = user.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    def common(p):
        add_database_arguments(p)

    def policy(p):
        p.add_argument("--password-min-length", type=int, default=DEFAULT_MIN_LENGTH,
                       metavar="N", help="refuse passwords shorter than N characters "
                       "(default: %(default)s, as the server's option)")

    p = actions.add_parser("add", help="create an account")
    p.add_argument("name", metavar="NAME", help="the Skype name (6-32 characters)")
    password_file(p)
    policy(p)
    p.add_argument("--email", metavar="E", help="e-mail address")
    p.add_argument("--full-name", metavar="N", help="full name")
    common(p)
    p.set_defaults(run=_add)

    p = actions.add_parser("passwd", help="set a new password")
    p.add_argument("name", metavar="NAME")
    password_file(p)
    policy(p)
    common(p)
    p.set_defaults(run=_passwd)

    p = actions.add_parser("del", help="delete an account")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    common(p)
    p.set_defaults(run=_delete)

    p = actions.add_parser("list", help="list the accounts, one name per line")
    p.add_argument("--json", action="store_true",
                   help="print one JSON list of every account's fields instead")
    common(p)
    p.set_defaults(run=_list)

    p = actions.add_parser("show", help="show one account (never the password hash)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true", help="print the account as one JSON object")
    common(p)
    p.set_defaults(run=_show)

    p = actions.add_parser("suspend", help="stop an account from signing in (kept, reversible)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--reason", metavar="TEXT",
                   help="a note for the operators (at most %d characters; never sent to "
                        "the client)" % (MAX_SUSPENSION_REASON_LENGTH,))
    common(p)
    p.set_defaults(run=_suspend)

    p = actions.add_parser("unsuspend", help="let a suspended account sign in again")
    p.add_argument("name", metavar="NAME")
    common(p)
    p.set_defaults(run=_unsuspend)


def add_database_arguments(p):
    """``--data-dir`` and ``--database``, as the twistd plugin has them."""
    p.add_argument("--data-dir", "-d", default=DEFAULT_DATA_DIR, metavar="DIR",
                   help="the server's data directory (default: %(default)s)")
    p.add_argument("--database", default=DEFAULT_DATABASE, metavar="URL",
                   help="sqlite: (the file in the data directory, the default), "
                        "sqlite:///path or postgresql://user@host/dbname")


def open_database_of(args, create=False):
    """The database of ``--database`` / ``--data-dir``, opened and migrated.  Only
    ``create`` may create the data directory and an SQLite file."""
    url = parse_database_url(args.database)  # InvalidDatabaseURL is a StoreError
    if url.engine == SQLITE:
        path = url.sqlite_path(args.data_dir)
        if not create and not os.path.exists(path):
            where = args.data_dir if url.path is None else path
            raise _error("no account database in %s (add a user first, or give --data-dir "
                         "or --database)" % (where,))
        if create and url.path is None:
            try:
                ensure_data_dir(args.data_dir)
            except (OSError, ValueError) as e:
                raise _error("cannot use data directory %s: %s" % (args.data_dir, e))
    return open_database(url, args.data_dir)  # a StoreError says what is wrong with it


def _open(args, create=False):
    """The account store of ``--database``; only ``add`` may create the directory and file."""
    database = open_database_of(args, create)
    return database, SyncAccountStore(database)


def _name(args):
    return validate_skype_name(args.name)  # InvalidName: one line via store_errors


def _read_credential(args, stdin, stdout, name):
    """The MD5 credential of the new password (the file's first line, or
    typed twice at a prompt), checked by the password policy."""
    if args.password_file is not None:
        password = read_password_file(args.password_file, stdin)
    else:
        # Prompts go to the terminal (getpass's default), not to stdout.
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise _error("the passwords do not match")
    try:
        policy = PasswordPolicy(args.password_min_length)
    except ValueError as e:
        raise _error(str(e))
    return policy.credential(name, password)  # WeakPassword: one line via store_errors


@store_errors
def _add(args, stdin, stdout):
    name = _name(args)
    credential = _read_credential(args, stdin, stdout, name)
    database, accounts = _open(args, create=True)
    try:
        account = accounts.create_account(name, credential,
                                          email=args.email, full_name=args.full_name)
    finally:
        database.close()
    stdout.write("created account %s\n" % (account.name,))


@store_errors
def _passwd(args, stdin, stdout):
    name = _name(args)
    database, accounts = _open(args)
    try:
        if accounts.get_account(name) is None:
            raise _error("no such account: %s" % (name,))
        accounts.set_credential(name, _read_credential(args, stdin, stdout, name))
    finally:
        database.close()
    stdout.write("password changed for %s\n" % (name,))


@store_errors
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


@store_errors
def _list(args, stdin, stdout):
    database, accounts = _open(args)
    try:
        found = accounts.list_accounts()
    finally:
        database.close()
    if args.json:
        stdout.write(json.dumps([a.to_json() for a in found]) + "\n")
        return
    for account in found:
        stdout.write(account.name + "\n")


@store_errors
def _show(args, stdin, stdout):
    name = _name(args)
    database, accounts = _open(args)
    try:
        account = accounts.get_account(name)
    finally:
        database.close()
    if account is None:
        raise _error("no such account: %s" % (name,))
    if args.json:
        stdout.write(json.dumps(account.to_json()) + "\n")
        return
    suspended = "no"
    if account.suspended:
        suspended = "since %s" % (account.suspended_at.isoformat(),)
        if account.suspension_reason:
            suspended += " (%s)" % (account.suspension_reason,)
    for label, value in [
        ("name", account.name),
        ("created", account.created.isoformat()),
        ("email", account.email or "-"),
        ("full name", account.full_name or "-"),
        ("password set", account.credential_changed.isoformat()),
        ("hash", account.kdf),
        ("suspended", suspended),
    ]:
        stdout.write("%-13s %s\n" % (label + ":", value))


@store_errors
def _suspend(args, stdin, stdout):
    name = _name(args)
    database, accounts = _open(args)
    try:
        accounts.suspend_account(name, reason=args.reason)
    finally:
        database.close()
    stdout.write("suspended account %s\n" % (name,))


@store_errors
def _unsuspend(args, stdin, stdout):
    name = _name(args)
    database, accounts = _open(args)
    try:
        accounts.unsuspend_account(name)
    finally:
        database.close()
    stdout.write("account %s may sign in again\n" % (name,))
