"""
``blissnode client login``: sign in to a running login server like an old
client would, and print the credential it issues.

::

    blissnode client login HOST:PORT --user NAME [--version 5.5.0.124]
        [--password-file F] [--register [--email E] [--full-name N]]
        [--data-dir DIR | --login-modulus HEX [--credential-modulus HEX]]
        [--json] [--timeout S]

The client needs the server's public moduli: its RSA-1536 login modulus
(to encrypt the session seed) and its RSA-2048 credential modulus (to
verify the credential).  ``--data-dir`` reads both from a server's data
directory (the machine running the server); ``--login-modulus`` /
``--credential-modulus`` take the big-endian hex that ``blissnode keys
show`` prints.  Without a credential modulus the credential is printed
unverified (raw).  The work is done by :mod:`blissnode.client.login`.
"""

import getpass

from blissnode.cli.common import (
    add_output_arguments,
    add_password_file_argument,
    add_server_key_arguments,
    add_version_argument,
)
from blissnode.cli.common import command_error as _error
from blissnode.cli.common import (
    parse_address,
    raise_failure,
    react,
    read_password_file,
    write_result,
)
from blissnode.client.login import (
    LOGIN_PROFILES,
    LoginClientCore,
    LoginClientError,
    login,
    login_profile,
)
from blissnode.keys import KeyFileError, load_server_keys
from blissnode.wire.credentials import credential_name, md5_credential, minutes_to_datetime

DEFAULT_VERSION = "5.5.0.124"
DEFAULT_DATA_DIR = "blissnode-data"


def add_login_parser(client_subcommands):
    """Add ``login`` to the actions of ``blissnode client``."""
    p = client_subcommands.add_parser(
        "login", help="sign in to a login server and print the credential",
        description="Run the whole login exchange of one client version against a "
                    "login server (or register a new account) and print the decoded, "
                    "verified credential.")
    p.add_argument("address", metavar="HOST:PORT", help="the login server's address")
    p.add_argument("--user", "-u", required=True, metavar="NAME", help="the Skype name")
    add_version_argument(p, LOGIN_PROFILES, DEFAULT_VERSION)
    add_password_file_argument(p)
    p.add_argument("--register", action="store_true",
                   help="create the account (request 5018) instead of signing in")
    p.add_argument("--email", help="e-mail address sent with --register")
    p.add_argument("--full-name", help="full name sent with --register")
    add_server_key_arguments(p)
    add_output_arguments(p, "the answer")
    p.set_defaults(run=run_login)


def _modulus(text, bits, what):
    try:
        value = int(text.replace(":", "").replace(" ", ""), 16)
    except ValueError:
        raise _error("%s is not hex" % (what,))
    if value.bit_length() != bits:
        raise _error("%s has %d bits, expected %d" % (what, value.bit_length(), bits))
    return value


def server_moduli(args):
    """``(login modulus, credential modulus or None)`` from the arguments."""
    if args.login_modulus:
        login = _modulus(args.login_modulus, 1536, "--login-modulus")
        cred = (None if not args.credential_modulus
                else _modulus(args.credential_modulus, 2048, "--credential-modulus"))
        return login, cred
    data_dir = args.data_dir or DEFAULT_DATA_DIR
    try:
        keys = load_server_keys(data_dir)
    except KeyFileError as e:
        raise _error("cannot read the server keys (use --data-dir or --login-modulus): %s" % (e,))
    return keys.login.private.n, keys.credential.private.n


def read_password(args, stdin):
    if args.password_file is not None:
        return read_password_file(args.password_file, stdin)
    return getpass.getpass("Password for %s: " % (args.user,))


def result_json(result, profile):
    """The printable form of a :class:`~blissnode.client.login.LoginResult`."""
    out = {"version": profile.label, "code": result.code, "ok": result.ok,
           "reason": result.reason}
    cred = result.credential
    if cred is not None:
        out["credential"] = {
            "verified": True,
            "key_id": cred.key_id,
            "name": cred.name,
            "flags": cred.flags,
            "user_modulus": cred.user_modulus.hex(),
            "expiry_minutes": cred.expiry,
            "expiry": minutes_to_datetime(cred.expiry).isoformat(),
            "list2": {str(it.id): it.value for it in (cred.validity or [])},
            "extra": None if cred.extra is None else len(cred.extra),
        }
    elif result.credential_raw is not None:
        out["credential"] = {"verified": False, "raw": result.credential_raw.hex()}
    if result.year is not None:
        out["reply_year_minutes"] = result.year
        out["reply_year"] = minutes_to_datetime(result.year).isoformat()
    return out


def _lines(data):
    yield "version %s: result %d (%s)" % (
        data["version"], data["code"], "success" if data["ok"] else data["reason"] or "refused")
    cred = data.get("credential")
    if cred is None:
        return
    if not cred["verified"]:
        yield "credential (NOT verified: no credential modulus): %s" % (cred["raw"],)
        return
    yield "credential verified with the server's credential key (key id %d)" % cred["key_id"]
    yield "  name        %s" % cred["name"]
    yield "  flags       %d" % cred["flags"]
    yield "  user key    %s... (RSA-1024 modulus, 128 bytes)" % cred["user_modulus"][:32]
    yield "  expiry      %s (minute %d)" % (cred["expiry"], cred["expiry_minutes"])
    for item_id, value in sorted(cred["list2"].items()):
        yield "  LIST 2 INT %s  %s (minute %s)" % (
            item_id, minutes_to_datetime(value).isoformat(), value)
    if "reply_year" in data:
        yield "  reply LIST 0x32 INT 9  %s (minute %d)" % (data["reply_year"],
                                                          data["reply_year_minutes"])


def run_login(args, stdin, stdout):
    host, port = parse_address(args.address)
    try:
        profile = login_profile(args.client_version)
    except ValueError as e:
        raise _error(str(e))
    login_n, cred_n = server_moduli(args)
    password = read_password(args, stdin)
    core = LoginClientCore(profile, args.user,
                           credential16=md5_credential(credential_name(args.user), password),
                           login_modulus=login_n, credential_modulus=cred_n,
                           register=args.register, email=args.email,
                           full_name=args.full_name)
    outcome = {}

    def main(reactor):
        d = login(reactor, host, port, core, timeout=args.timeout)

        def done(result):
            outcome["result"] = result

        def failed(failure):
            outcome["error"] = failure.value
        return d.addCallbacks(done, failed)

    react(main)
    raise_failure(outcome.get("error"), LoginClientError)
    data = result_json(outcome["result"], profile)
    write_result(args, stdout, data, _lines)
    return 0 if data["ok"] else 1
