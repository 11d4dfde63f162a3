"""
Entry point of the ``blissnode`` command.

Sub-commands live in their own modules; this one only builds the argument
parser and turns expected failures (bad input, undecodable bytes) into one
line on stderr and exit status 1, never a traceback.
"""

import argparse
import sys

from blissnode import __version__
from blissnode.cli import backup as backup_cmd
from blissnode.cli import client as client_cmd
from blissnode.cli import db as db_cmd
from blissnode.cli import decode as decode_cmd
from blissnode.cli import keys as keys_cmd
from blissnode.cli import patch_client as patch_client_cmd
from blissnode.cli import user as user_cmd
from blissnode.cli.common import CommandError  # noqa: F401  (re-exported)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="blissnode",
        description="Tools for the blissnode Skype servers. "
                    "Run the servers themselves with 'twistd -n blissnode'.")
    parser.add_argument("--version", action="version", version="blissnode " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    backup_cmd.add_parser(commands)
    client_cmd.add_parser(commands)
    db_cmd.add_parser(commands)
    decode_cmd.add_parser(commands)
    keys_cmd.add_parser(commands)
    patch_client_cmd.add_parser(commands)
    user_cmd.add_parser(commands)
    return parser


def main(argv=None, stdin=None, stdout=None, stderr=None):
    """Run the command; return the exit status (0 ok, 1 failure, 2 usage)."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code
    try:
        return args.run(args, stdin, stdout) or 0
    except decode_cmd.DecodeFailed as e:
        stderr.write("blissnode %s: %s\n" % (args.command, e))
        return e.status
    except CommandError as e:
        stderr.write("blissnode %s: %s\n" % (args.command, e))
        return 1
    except KeyboardInterrupt:
        return 130
