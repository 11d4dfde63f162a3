"""
``blissnode patch-client``: write a copy of an old Skype client that trusts
this server's keys and talks to this server (docs/patch-client.rst).

::

    blissnode patch-client IN OUT --server HOST[:LOGIN[:EVENT[:SUPERNODE]]]
        [--data-dir DIR] [--login HOST[:PORT]] [--event HOST[:PORT]]
        [--supernode HOST[:PORT]] [--dry-run] [--json] [--report FILE]
        [--all-copies] [--keys-only] [--lone-binary-ipv4] [--allow-packed]

The work is done by :mod:`blissnode.patch`; this module parses the options,
loads the public keys from the data directory and prints the report.
"""

import json

from blissnode.cli.common import command_error
from blissnode.keys import KeyFileError, load_server_keys
from blissnode.patch.known import DEFAULT_PORTS
from blissnode.patch.patcher import PatchOptions, PatchRefused, patch_file
from blissnode.patch.report import render_text
from blissnode.patch.targets import TargetError, server_targets

DEFAULT_DATA_DIR = "blissnode-data"  # the twistd plugin's default (blissnode/tap.py)

_DESCRIPTION = """\
Read an old Skype client binary (Windows PE .exe/.dll or Linux ELF; never
modified) and write a patched copy: Skype's RSA-1536 login and RSA-2048
credential moduli are replaced by this server's (from the data directory), in
whichever storage form they are found, and the compiled-in login, event and
supernode addresses are rewritten to this server where the new value fits in
place.  An address that does not fit is reported with a routing alternative
(hosts-file line, loopback alias, iptables DNAT).  Refuses, writing nothing,
when a key is missing or ambiguous or the binary looks packed.  Exit status:
0 written (or dry run), 1 refused or failed, 2 usage."""

_SERVER_HELP = (
    "this server: HOST[:LOGIN[:EVENT[:SUPERNODE]]], an IPv4 address or host name with "
    "optional ports (defaults: login %(login)d, event %(event)d, supernode %(supernode)d, "
    "blissnode's listener defaults)" % DEFAULT_PORTS).replace("%", "%%")


def add_parser(commands):
    p = commands.add_parser(
        "patch-client", help="patch an old client binary to use this server's keys and addresses",
        description=_DESCRIPTION)
    p.add_argument("input", metavar="IN", help="the client binary to read (left unchanged)")
    p.add_argument("output", metavar="OUT", nargs="?",
                   help="where to write the patched copy (not needed with --dry-run)")
    p.add_argument("--data-dir", "-d", default=DEFAULT_DATA_DIR, metavar="DIR",
                   help="the server's data directory with its keys (default: %(default)s; "
                        "'blissnode keys show --generate' creates them)")
    p.add_argument("--server", "-s", required=True, metavar="HOST[:PORTS]", help=_SERVER_HELP)
    for role in ("login", "event", "supernode"):
        p.add_argument("--" + role, metavar="HOST[:PORT]",
                       help="send the %s role elsewhere than --server (port default %d)"
                            % (role, DEFAULT_PORTS[role]))
    p.add_argument("--dry-run", "-n", action="store_true",
                   help="report what would be replaced; write nothing")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--report", metavar="FILE",
                   help="also write the JSON report to FILE (to check or share the result)")
    p.add_argument("--all-copies", action="store_true",
                   help="replace every copy of a key found more than once in one storage "
                        "form (refused by default: ambiguous)")
    p.add_argument("--keys-only", action="store_true",
                   help="replace the keys only; leave every address and print how to route it")
    p.add_argument("--lone-binary-ipv4", action="store_true",
                   help="also rewrite 4-byte binary IPv4 matches with no port next to them "
                        "(may be chance bytes; off by default)")
    p.add_argument("--allow-packed", action="store_true",
                   help="patch even a binary that looks packed (its integrity checks may "
                        "reject the result)")
    p.set_defaults(run=_run)


def _run(args, stdin, stdout):
    if args.output is None and not args.dry_run:
        raise command_error("give OUT, the path of the patched copy (or --dry-run)")
    try:
        targets = server_targets(args.server, args.login, args.event, args.supernode)
    except TargetError as e:
        raise command_error(str(e))
    try:
        keys = load_server_keys(args.data_dir)
    except (KeyFileError, ValueError) as e:
        raise command_error(str(e))
    options = PatchOptions(dry_run=args.dry_run, all_copies=args.all_copies,
                           keys_only=args.keys_only, lone_binary_ipv4=args.lone_binary_ipv4,
                           allow_packed=args.allow_packed)
    try:
        report = patch_file(args.input, args.output, keys, targets, options)
    except PatchRefused as e:
        raise command_error(str(e))
    except OSError as e:
        raise command_error("%s: %s" % (getattr(e, "filename", None) or args.input,
                                        e.strerror or e))
    document = report.as_json()
    if args.report:
        try:
            with open(args.report, "w", encoding="utf-8") as f:
                json.dump(document, f, indent=2, sort_keys=True)
                f.write("\n")
        except OSError as e:
            raise command_error("cannot write the report %s: %s" % (args.report, e.strerror))
    if args.json:
        stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    else:
        for line in render_text(report):
            stdout.write(line + "\n")
    return 0
