"""
``blissnode client``: talk to a running supernode like an old client would.

``probe HOST:PORT``
    the UDP probe (cmd 27) keyed with 0.0.0.0 as 1.x clients do, the NACK
    that teaches the public address, the resend, cmd 28; then the address
    query (cmd 35 -> 36).
``connect HOST:PORT --version V [--https]``
    the UDP probe, then the TCP session of version ``V``: [port-443
    prelude], [DH-384], seed exchange, cmd 30 -> 31 + 11/47, [cmd 48],
    cmd 6 (refill and one slot), cmd 37 + 38, cmd 40 -> 42 (and the cmd 43
    that follows), close.

One line per step (sent/received, decoded commands) or ``--json``.  The
work is done by :mod:`blissnode.client`; this module parses, runs the
reactor (``twisted.internet.task.react``) and prints.
"""

import json

from twisted.internet import defer, error, task

from blissnode.cli.client_chat import add_chat_parsers
from blissnode.cli.client_event import add_event_parsers
from blissnode.cli.client_login import add_login_parser
from blissnode.cli.common import CommandError, parse_address  # noqa: F401  (re-exported)
from blissnode.client.profiles import DEFAULT_LABEL, labels, profile_for
from blissnode.client.tcp import connect_supernode
from blissnode.client.transcript import Transcript
from blissnode.client.udp import UdpClient

#: Seconds to wait for the cmd 43 that follows a firewall test.
CMD43_WAIT = 3.0


def add_parser(commands):
    client = commands.add_parser(
        "client", help="act as an old Skype client towards a supernode",
        description="The reference client: probe or connect to a running supernode "
                    "and print every step.")
    actions = client.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    def common(p):
        p.add_argument("address", metavar="HOST:PORT", help="the supernode's address")
        p.add_argument("--version", "-V", default=DEFAULT_LABEL, dest="client_version",
                       help="client version to imitate (%s; default %%(default)s)"
                            % ", ".join(labels()))
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.add_argument("--timeout", type=float, default=10.0,
                       help="seconds to wait for each answer (default %(default)s)")

    p = actions.add_parser("probe", help="UDP probe (27 -> 28) with public-address discovery")
    common(p)
    p.add_argument("--public-ip", metavar="IP",
                   help="key the probe with this address instead of 0.0.0.0")
    p.set_defaults(run=_run, action_fn=probe)

    p = actions.add_parser("connect", help="UDP probe and a complete TCP client session")
    common(p)
    p.add_argument("--https", action="store_true",
                   help="open with the port-443 SSL prelude (use the server's 443 port)")
    p.add_argument("--no-udp", action="store_true", help="skip the UDP probe")
    p.add_argument("--udp-port", type=int, metavar="PORT",
                   help="UDP port of the supernode for the probe (default: PORT)")
    p.set_defaults(run=_run, action_fn=connect)

    add_login_parser(actions)
    add_event_parsers(actions)
    add_chat_parsers(actions)


def _udp(reactor, profile, host, port, transcript, public_ip=None):
    client = UdpClient(profile, (host, port), reactor, public_ip=public_ip,
                       transcript=transcript)
    interface = "127.0.0.1" if host.startswith("127.") else ""
    reactor.listenUDP(0, client, interface=interface)
    return client


@defer.inlineCallbacks
def probe(reactor, args, transcript):
    host, port = parse_address(args.address)
    profile = profile_for(args.client_version)
    client = _udp(reactor, profile, host, port, transcript, args.public_ip)
    try:
        reply = yield client.probe()
        if reply.cmd != 28:
            raise RuntimeError("probe answered with cmd %d (not 28: not accepted)" % reply.cmd)
        yield client.address_query()
    finally:
        yield client.stop()


@defer.inlineCallbacks
def connect(reactor, args, transcript):
    host, port = parse_address(args.address)
    profile = profile_for(args.client_version)
    udp = None
    if not args.no_udp:
        udp = _udp(reactor, profile, host, args.udp_port or port, transcript)
        try:
            yield udp.probe()
        except error.TimeoutError:
            # Real clients connect over TCP anyway (udp.md 7).
            transcript.add("udp", "info", "no probe answer; connecting over TCP anyway")
    try:
        listen_port = udp.transport.getHost().port if udp is not None else None
        session = yield connect_supernode(reactor, host, port, profile, https=args.https,
                                          transcript=transcript, listen_port=listen_port,
                                          timeout=args.timeout)
        try:
            accepted = yield session.accept()
            if udp is not None and profile.learns_ip_from_tcp and accepted.public_address:
                udp.core.my_ip = accepted.public_address.ip
            if profile.sends_cmd48:
                yield session.channel_fetch()
            yield session.slot_query()
            yield session.slot_query(45)
            yield session.client_info()
            yield session.firewall_test()
            if udp is not None:
                try:
                    yield _with_timeout(reactor, udp.notifications.get(), CMD43_WAIT)
                except error.TimeoutError:
                    transcript.add("udp", "info", "no cmd 43 within %ss" % CMD43_WAIT)
        finally:
            yield session.close()
    finally:
        if udp is not None:
            yield udp.stop()


def _with_timeout(reactor, d, seconds):
    d.addTimeout(seconds, reactor)
    return d


def _run(args, stdin, stdout):
    """Run the action under ``react``; errors become CommandError."""
    parse_address(args.address)   # bad input fails before the reactor starts
    profile_for_or_fail(args.client_version)
    outcome = {}

    def main(reactor):
        transcript = Transcript(reactor)
        outcome["transcript"] = transcript
        d = defer.maybeDeferred(args.action_fn, reactor, args, transcript)

        def failed(failure):
            outcome["error"] = failure.value
        d.addErrback(failed)
        return d

    try:
        task.react(main)
    except SystemExit:
        pass
    transcript = outcome.get("transcript")
    err = outcome.get("error")
    _print(args, transcript, err, stdout)
    if isinstance(err, CommandError):
        raise err
    if err is not None:
        raise CommandError(_message(err))
    return 0


def profile_for_or_fail(label):
    try:
        return profile_for(label)
    except ValueError as e:
        raise CommandError(str(e))


def _message(err):
    text = str(err) or type(err).__name__
    return text.splitlines()[0]


def _print(args, transcript, err, stdout):
    events = transcript.events if transcript is not None else []
    if args.json:
        stdout.write(json.dumps({"events": [e.to_json() for e in events],
                                 "ok": err is None,
                                 "error": None if err is None else _message(err)}))
        stdout.write("\n")
    else:
        for event in events:
            stdout.write(event.line() + "\n")
