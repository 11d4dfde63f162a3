"""
``blissnode keys show``: the server's public keys in every form a person
needs to point an old client at this server (login.md 10).

For each key: size, exponent, SHA-256 fingerprint, the modulus as
big-endian hex, and the modulus in the byte order the client stores it
(big-endian reversed: 32-bit little-endian words, least significant first)
-- the bytes to search for and replace in a client binary.  ``--json`` gives
the same for scripts.  The keys themselves are managed by
:mod:`blissnode.keys`; this module only loads and prints.
"""

import json

from blissnode.cli.common import CommandError
from blissnode.datadir import ensure_data_dir
from blissnode.keys import KeyFileError, describe_key, load_or_create_server_keys

#: Same default as the twistd plugin's ``--data-dir``.
DEFAULT_DATA_DIR = "blissnode-data"

_PURPOSE = {
    "login": "login key: the client encrypts its session seed to it (replaces N_login)",
    "credential": "credential key: signs the users' credentials (replaces N_cred)",
}


def add_parser(commands):
    keys = commands.add_parser(
        "keys", help="show the login server's public keys",
        description="Inspect the RSA keys of the login server (generated on first run "
                    "in the data directory).")
    actions = keys.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    p = actions.add_parser(
        "show", help="print the public keys in the forms needed to patch a client")
    p.add_argument("--data-dir", "-d", default=DEFAULT_DATA_DIR, metavar="DIR",
                   help="the server's data directory (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("--generate", action="store_true",
                   help="create the keys if the data directory has none yet "
                        "(as the server does on first run)")
    p.set_defaults(run=_show)


#: The JSON-able description of one key (blissnode.keys.describe_key).
key_info = describe_key


def _wrap(hexstr, indent="    ", width=64):
    return "\n".join(indent + hexstr[i : i + width] for i in range(0, len(hexstr), width))


def _spaced(hexstr):
    return " ".join(hexstr[i : i + 2] for i in range(0, len(hexstr), 2))


def render_text(infos):
    out = []
    for info in infos:
        out.append("%s" % (_PURPOSE[info["role"]],))
        out.append("  file:         %s" % (info["file"],))
        out.append("  size:         RSA-%d, exponent %d" % (info["bits"], info["exponent"]))
        out.append("  fingerprint:  %s (short %s)" % (info["fingerprint_sha256"],
                                                     info["fingerprint_short"]))
        out.append("  modulus, big-endian hex (%d bytes):" % (len(info["modulus_hex"]) // 2,))
        out.append(_wrap(info["modulus_hex"]))
        out.append("  modulus as stored in the client (bytes reversed; begins %s ...):"
                   % (_spaced(info["modulus_client_order_hex"][:24]),))
        out.append(_wrap(info["modulus_client_order_hex"]))
        out.append("")
    return "\n".join(out)


def _show(args, stdin, stdout):
    try:
        if args.generate:
            ensure_data_dir(args.data_dir)
        keys = load_or_create_server_keys(args.data_dir, create=args.generate)
    except (KeyFileError, ValueError, OSError) as e:
        raise CommandError(str(e))
    infos = [key_info(keys.login), key_info(keys.credential)]
    if args.json:
        stdout.write(json.dumps({i["role"]: i for i in infos}, indent=2, sort_keys=True))
        stdout.write("\n")
    else:
        stdout.write(render_text(infos))
    return 0
