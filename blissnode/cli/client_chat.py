"""
``blissnode client chat | receive``: two signed-in clients exchange a text
message, directly or through the supernode as relay (the work is done by
:mod:`blissnode.client.chat`).

::

    blissnode client chat    HOST:PORT --user A --to B --message TEXT [--via-relay]
    blissnode client receive HOST:PORT --user B [--count N]

``HOST:PORT`` is the supernode's main port (TCP and UDP); the login and
event servers are ``--login`` / ``--event`` (default: the same host, ports
33033 and 12350).  Both sign in like an old client (login, supernode
accept + published user record, event server); the server's keys come from
``--data-dir`` (or the moduli in hex) and the credential key also checks
the peer's credential.  ``chat`` says how the message went (direct, relay,
or stored as an offline message when B is not online); ``receive`` prints
each message as ``FROM: TEXT`` (offline ones first) and exits after
``--count`` messages.
"""

from twisted.internet import defer

from blissnode.cli.client_login import DEFAULT_VERSION, read_password, server_moduli
from blissnode.cli.common import (
    add_output_arguments,
    add_password_file_argument,
    add_server_key_arguments,
    add_version_argument,
    command_error,
    parse_address,
    raise_failure,
    react,
    write_result,
)
from blissnode.client.chat import ChatReceiver, send_chat
from blissnode.client.event import EventClientError, sign_in
from blissnode.client.peer import PeerError
from blissnode.client.profiles import labels
from blissnode.wire.credentials import credential_name, md5_credential

DEFAULT_LOGIN_PORT = 33033
DEFAULT_EVENT_PORT = 12350
#: Versions whose clients run sessions in type-5 records (tcp.md 7).
SESSION_MAJORS = (4, 5, 6)


def add_chat_parsers(client_subcommands):
    """Add ``chat`` and ``receive`` to ``blissnode client``."""
    def common(p):
        p.add_argument("address", metavar="HOST:PORT",
                       help="the supernode's main port (TCP and UDP)")
        p.add_argument("--user", "-u", required=True, metavar="NAME", help="your Skype name")
        add_version_argument(p, [l for l in labels()
                                 if int(l.split(".")[0]) in SESSION_MAJORS], DEFAULT_VERSION)
        p.add_argument("--login", metavar="HOST:PORT",
                       help="the login server (default: HOST, port %d)" % DEFAULT_LOGIN_PORT)
        p.add_argument("--event", metavar="HOST:PORT",
                       help="the event server (default: HOST, port %d)" % DEFAULT_EVENT_PORT)
        p.add_argument("--udp", metavar="HOST:PORT",
                       help="the supernode's UDP side (default: HOST:PORT)")
        add_password_file_argument(p)
        add_server_key_arguments(p)
        add_output_arguments(p, "each step")

    p = client_subcommands.add_parser(
        "chat", help="sign in and send one text message to another client "
                     "(directly, through the relay, or offline)")
    common(p)
    p.add_argument("--to", required=True, metavar="NAME", help="the recipient")
    p.add_argument("--message", "-m", required=True, metavar="TEXT", help="the text")
    p.add_argument("--via-relay", action="store_true",
                   help="go through the supernode as relay at once (no direct attempt)")
    p.set_defaults(run=run_chat)

    p = client_subcommands.add_parser(
        "receive", help="sign in and print the messages other clients send (FROM: TEXT)")
    common(p)
    p.add_argument("--count", "-n", type=int, metavar="N",
                   help="exit after N messages (default: run until interrupted)")
    p.add_argument("--listen", metavar="[HOST:]PORT", default="0",
                   help="where to accept direct sessions (default: any free port; "
                        "its port goes into the published node record)")
    p.set_defaults(run=run_receive)


def _setup(args, stdin):
    host, port = parse_address(args.address)
    servers = {
        "supernode": (host, port),
        "login": parse_address(args.login) if args.login else (host, DEFAULT_LOGIN_PORT),
        "event": parse_address(args.event) if args.event else (host, DEFAULT_EVENT_PORT),
        "udp": parse_address(args.udp) if args.udp else (host, port),
    }
    if int(args.client_version.split(".")[0]) not in SESSION_MAJORS:
        raise command_error("version %s has no client sessions; use 4.x .. 6.x"
                            % (args.client_version,))
    login_n, cred_n = server_moduli(args)
    if cred_n is None:
        raise command_error("the credential modulus is needed to check the peer "
                            "(--data-dir or --credential-modulus)")
    password = read_password(args, stdin)
    return servers, login_n, cred_n, md5_credential(credential_name(args.user), password)


def _sign_in(reactor, args, servers, login_n, cred_n, credential16, listen_port=None):
    return sign_in(reactor, args.client_version, args.user, servers["login"], servers["event"],
                   login_n, credential_modulus=cred_n, credential16=credential16,
                   supernode_address=servers["supernode"], timeout=args.timeout,
                   listen_port=listen_port)


def _chat_lines(data):
    if data["path"] == "offline":
        yield "%s is not online: stored as offline message %s" % (data["to"], data["seq"])
    elif data["path"] == "relay":
        yield "delivered to %s through the relay %s (connection %d), acknowledged" % (
            data["to"], data["relay"], data["connection_id"])
    else:
        yield "delivered to %s directly, acknowledged" % (data["to"],)


def run_chat(args, stdin, stdout):
    servers, login_n, cred_n, credential16 = _setup(args, stdin)
    outcome = {}

    @defer.inlineCallbacks
    def main(reactor):
        try:
            signed = yield _sign_in(reactor, args, servers, login_n, cred_n, credential16)
            try:
                result = yield send_chat(reactor, signed, args.to, args.message, cred_n,
                                         servers["udp"], via_relay=args.via_relay,
                                         timeout=args.timeout)
                outcome["data"] = result.to_json()
            finally:
                yield signed.close()
        except Exception as e:
            outcome["error"] = e

    react(main)
    raise_failure(outcome.get("error"), (EventClientError, PeerError))
    data = dict(outcome["data"], version=args.client_version, user=args.user)
    write_result(args, stdout, data, _chat_lines)
    return 0


def _listen_address(text):
    host, sep, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise command_error("--listen must be [HOST:]PORT, not %r" % (text,))
    if not 0 <= number < 65536:
        raise command_error("--listen port out of range: %r" % (text,))
    return (host if sep else ""), number


def run_receive(args, stdin, stdout):
    servers, login_n, cred_n, credential16 = _setup(args, stdin)
    interface, listen_port = _listen_address(args.listen)
    if args.count is not None and args.count < 1:
        raise command_error("--count must be at least 1")
    outcome = {"messages": 0}

    def show(sender, text, path):
        outcome["messages"] += 1
        write_result(args, stdout, {"from": sender, "text": text, "path": path},
                     lambda d: ["%s: %s" % (d["from"], d["text"])])
        stdout.flush()

    @defer.inlineCallbacks
    def main(reactor):
        done = defer.Deferred()

        def counted():
            if args.count is not None and outcome["messages"] >= args.count \
                    and not done.called:
                done.callback(None)

        def on_message(message, driver):
            show(message.peer_name, message.text, "session")
            counted()

        receiver = ChatReceiver(reactor, cred_n, on_message, timeout=args.timeout)
        try:
            port = reactor.listenTCP(listen_port, receiver.factory(), interface=interface)
        except Exception as e:
            outcome["error"] = command_error("cannot listen on %s: %s" % (args.listen, e))
            return
        try:
            signed = yield _sign_in(reactor, args, servers, login_n, cred_n, credential16,
                                    listen_port=port.getHost().port)
        except Exception as e:
            outcome["error"] = e
            yield port.stopListening()
            return
        try:
            receiver.attach(signed)
            for message in (yield signed.event.inbox()):
                if message.kind == "message":
                    show(message.sender, message.text, "offline")
            counted()
            yield done
        except Exception as e:
            outcome["error"] = e
        finally:
            yield receiver.close()
            yield port.stopListening()
            yield signed.close()

    react(main)
    raise_failure(outcome.get("error"), (EventClientError, PeerError))
    return 0
