"""
``blissnode client contacts | add-contact | accept | send | inbox``: sign in
like an old client (login server, then event server) and use the event
server.

::

    blissnode client contacts    HOST:PORT --user NAME [--version V]
    blissnode client add-contact HOST:PORT NAME [--text T] --user NAME
    blissnode client accept      HOST:PORT NAME --user NAME
    blissnode client send        HOST:PORT NAME TEXT --user NAME
    blissnode client inbox       HOST:PORT [--no-ack] --user NAME

``HOST:PORT`` is the event server (the clients' port is 12350); the login
server is ``--login HOST:PORT`` (default: the same host, port 33033).  The
password comes from the prompt or ``--password-file``; the server's public
keys from ``--data-dir`` or ``--login-modulus`` / ``--credential-modulus``,
as for ``blissnode client login``.  ``contacts`` prints one line per entry
(6028 then 6024 for each handle) and the presence of the authorised ones;
``inbox`` fetches the offline messages and acknowledges them (so they are
delivered once) unless ``--no-ack``.  The work is done by
:mod:`blissnode.client.event`.
"""

from twisted.internet import defer

from blissnode.cli.client_login import DEFAULT_VERSION, read_password, server_moduli
from blissnode.cli.common import (
    add_output_arguments,
    add_password_file_argument,
    add_server_key_arguments,
    add_version_argument,
)
from blissnode.cli.common import command_error as _error
from blissnode.cli.common import parse_address, raise_failure, react, write_result
from blissnode.client.event import EVENT_PROFILES, EventClientError, event_profile, sign_in
from blissnode.event.codes import STATUS_NAMES
from blissnode.wire.credentials import credential_name, md5_credential

DEFAULT_LOGIN_PORT = 33033


def add_event_parsers(client_subcommands):
    """Add the event-server actions to ``blissnode client``."""
    def common(p):
        p.add_argument("address", metavar="HOST:PORT", help="the event server's address")
        p.add_argument("--user", "-u", required=True, metavar="NAME", help="your Skype name")
        add_version_argument(p, EVENT_PROFILES, DEFAULT_VERSION)
        p.add_argument("--login", metavar="HOST:PORT",
                       help="the login server (default: the event server's host, port %d)"
                            % DEFAULT_LOGIN_PORT)
        add_password_file_argument(p)
        add_server_key_arguments(p)
        add_output_arguments(p, "each answer")

    p = client_subcommands.add_parser(
        "contacts", help="sign in and list the contact list (event server 6028/6024)")
    common(p)
    p.set_defaults(run=run_event, event_action=_contacts)

    p = client_subcommands.add_parser(
        "add-contact", help="sign in and add a contact (asks for authorisation)")
    common(p)
    p.add_argument("contact", metavar="NAME", help="the Skype name to add")
    p.add_argument("--text", default=None, help="the request text")
    p.set_defaults(run=run_event, event_action=_add_contact)

    p = client_subcommands.add_parser(
        "accept", help="sign in and accept a contact's authorisation request")
    common(p)
    p.add_argument("contact", metavar="NAME", help="who asked")
    p.set_defaults(run=run_event, event_action=_accept)

    p = client_subcommands.add_parser(
        "send", help="sign in and send an offline message")
    common(p)
    p.add_argument("contact", metavar="NAME", help="the recipient")
    p.add_argument("text", metavar="TEXT", help="the message")
    p.set_defaults(run=run_event, event_action=_send)

    p = client_subcommands.add_parser(
        "inbox", help="sign in and fetch the offline messages (acknowledged: delivered once)")
    common(p)
    p.add_argument("--no-ack", action="store_true",
                   help="do not acknowledge: the messages stay queued")
    p.set_defaults(run=run_event, event_action=_inbox)


def _status(code):
    return STATUS_NAMES.get(code, str(code))


@defer.inlineCallbacks
def _contacts(session, args):
    entries = yield session.contacts()
    presence = yield session.presence()
    out = []
    for e in entries:
        item = {"key": e.key, "handle": e.handle}
        if e.key.startswith("u/"):
            item.update(name=e.name, state=e.state, display_name=e.display_name,
                        request_text=e.request_text,
                        certificate=None if e.certificate is None else len(e.certificate))
            state = presence.get(e.name)
            if state is not None:
                item.update(status=_status(state.status), mood=state.mood)
        else:
            item["value"] = e.raw.decode("utf-8", "replace")
        out.append(item)
    return {"entries": out}


def _line_contacts(data):
    if not data["entries"]:
        yield "no entries"
    for e in data["entries"]:
        if "name" not in e:
            yield "%-24s %s" % (e["key"], e["value"])
            continue
        extra = ""
        if "status" in e:
            extra = "  %s%s" % (e["status"], " (%s)" % e["mood"] if e["mood"] else "")
        if e["request_text"]:
            extra += "  request: %s" % e["request_text"]
        yield "%-24s %-12s%s" % (e["key"], e["state"], extra)


@defer.inlineCallbacks
def _add_contact(session, args):
    entry = yield session.add_contact(args.contact, args.text)
    return {"entries": [{"key": entry.key, "handle": entry.handle, "name": entry.name,
                         "state": entry.state, "display_name": entry.display_name,
                         "request_text": entry.request_text, "certificate": None}]}


@defer.inlineCallbacks
def _accept(session, args):
    entry = yield session.accept(args.contact)
    return {"entries": [{"key": entry.key, "handle": entry.handle, "name": entry.name,
                         "state": entry.state, "display_name": entry.display_name,
                         "request_text": None, "certificate": None}]}


@defer.inlineCallbacks
def _send(session, args):
    seq, status = yield session.send(args.contact, args.text)
    return {"sent": {"to": args.contact, "seq": seq, "status": _status(status)}}


@defer.inlineCallbacks
def _inbox(session, args):
    messages = yield session.inbox(ack=not args.no_ack)
    return {"messages": [{"seq": m.seq, "from": m.sender, "kind": m.kind,
                          "text": m.body.decode("utf-8", "replace"), "created": m.created}
                         for m in messages], "acknowledged": not args.no_ack}


def _lines(data):
    if "entries" in data:
        yield from _line_contacts(data)
    if "sent" in data:
        s = data["sent"]
        yield "queued for %s as message %s (they are %s)" % (s["to"], s["seq"], s["status"])
    if "messages" in data:
        if not data["messages"]:
            yield "no messages"
        for m in data["messages"]:
            yield "#%d %s %s: %s" % (m["seq"], m["kind"], m["from"], m["text"])


def run_event(args, stdin, stdout):
    host, port = parse_address(args.address)
    login = parse_address(args.login) if args.login else (host, DEFAULT_LOGIN_PORT)
    try:
        profile = event_profile(args.client_version)
    except ValueError as e:
        raise _error(str(e))
    login_n, cred_n = server_moduli(args)
    password = read_password(args, stdin)
    credential16 = md5_credential(credential_name(args.user), password)
    outcome = {}

    @defer.inlineCallbacks
    def main(reactor):
        try:
            signed = yield sign_in(reactor, profile.label, args.user, login, (host, port),
                                   login_n, credential_modulus=cred_n,
                                   credential16=credential16, timeout=args.timeout)
            try:
                outcome["data"] = yield args.event_action(signed.event, args)
            finally:
                yield signed.close()
        except Exception as e:
            outcome["error"] = e

    react(main)
    raise_failure(outcome.get("error"), EventClientError)
    data = dict(outcome["data"], version=profile.label, user=args.user)
    write_result(args, stdout, data, _lines)
    return 0
