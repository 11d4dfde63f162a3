"""
What several ``blissnode`` commands share, so that the same option reads
and behaves the same everywhere: the one-line error, the store-error wrapper, the client options
(``--version``, ``--password-file``, the server's public keys, ``--json`` /
``--timeout``), reading a password file, and running a client exchange on
the reactor and printing its outcome.
"""

import functools
import json

from twisted.internet import defer, task

from blissnode.store.errors import StoreError


class CommandError(Exception):
    """An expected failure: shown to the user as one line, exit status 1."""


def command_error(message):
    """A :class:`CommandError`: one line, exit status 1."""
    return CommandError(message)

def store_errors(action):
    """Decorate a command's ``run(args, stdin, stdout)``: every store error
    (taken name, bad field, locked database...) becomes one line."""
    @functools.wraps(action)
    def run(args, stdin, stdout):
        try:
            return action(args, stdin, stdout)
        except StoreError as e:
            raise command_error(str(e))
    return run


def parse_address(text):
    """``HOST:PORT`` (``[v6]:PORT`` too) -> ``(host, port)``; CommandError otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise CommandError("address must be HOST:PORT, not %r" % (text,))
    try:
        number = int(port)
    except ValueError:
        raise CommandError("bad port in %r" % (text,))
    if not 0 < number < 65536:
        raise CommandError("port out of range in %r" % (text,))
    return host.strip("[]"), number


# -- options --------------------------------------------------------------------------

def add_version_argument(p, labels, default):
    """``--version`` / ``-V`` (into ``client_version``), listing ``labels`` oldest first."""
    versions = ", ".join(sorted(labels, key=lambda l: tuple(map(int, l.split(".")))))
    p.add_argument("--version", "-V", default=default, dest="client_version",
                   help="client version to imitate (%s; default %%(default)s)" % versions)


def add_password_file_argument(p):
    p.add_argument("--password-file", metavar="FILE",
                   help="read the password from the first line of FILE ('-' for stdin) "
                        "instead of prompting")


def add_server_key_arguments(p):
    """Where the server's public keys come from: ``--data-dir`` or the moduli in hex."""
    p.add_argument("--data-dir", "-d", metavar="DIR",
                   help="read the server's public keys from its data directory")
    p.add_argument("--login-modulus", metavar="HEX",
                   help="the server's RSA-1536 login modulus, big-endian hex")
    p.add_argument("--credential-modulus", metavar="HEX",
                   help="the server's RSA-2048 credential modulus, big-endian hex")


def add_output_arguments(p, waited_for):
    """``--json`` and ``--timeout`` (seconds to wait for ``waited_for``)."""
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("--timeout", type=float, default=20.0,
                   help="seconds to wait for %s (default %%(default)s)" % (waited_for,))


# -- input ------------------------------------------------------------------------------

def read_password_file(path, stdin, errors=(OSError, UnicodeDecodeError)):
    """The first line of ``path`` (``-``: ``stdin``) without its line end;
    an exception in ``errors`` becomes a one-line error."""
    try:
        if path == "-":
            line = stdin.readline()
        else:
            with open(path, encoding="utf-8") as f:
                line = f.readline()
    except errors as e:
        raise command_error("cannot read the password file: %s" % (e,))
    return line.rstrip("\r\n")


# -- running and printing -----------------------------------------------------------------

def react(main):
    """Run ``main(reactor)`` to its end; the process stays ours (``react``
    would exit)."""
    try:
        task.react(lambda reactor: defer.maybeDeferred(main, reactor))
    except SystemExit:
        pass


def raise_failure(err, client_error):
    """Nothing if ``err`` is ``None``; otherwise a one-line error: the
    client's own errors (``client_error``) as they read, anything else by its
    first line (or its type's name)."""
    if err is None:
        return
    if isinstance(err, client_error):
        raise command_error(str(err))
    raise command_error((str(err) or type(err).__name__).splitlines()[0])


def write_result(args, stdout, data, lines):
    """``data`` as one JSON line with ``--json``, else the text ``lines(data)``."""
    if args.json:
        stdout.write(json.dumps(data) + "\n")
    else:
        for line in lines(data):
            stdout.write(line + "\n")
