"""
``blissnode decode``: turn captured bytes into something a person can read.

Three inputs people paste daily: an object list (``objects``), a TCP stream
from its start or from a known seed (``tcp``), and one UDP datagram with the
two public addresses it travelled between (``udp``).  Output is JSON for
scripts (item shapes exactly as in the shared test vectors) or, with
``--pretty``, an indented tree.  All the decoding is done by
:mod:`blissnode.wire`; this module only reads hex, calls it and prints.
"""

import json

from blissnode.cli.hexinput import HexInputError, parse_hex
from blissnode.cli.render import render_tree
from blissnode.wire.errors import ProtocolError


class DecodeFailed(Exception):
    """Bad hex or undecodable bytes; the message is shown to the user."""


def add_parser(commands):
    decode = commands.add_parser(
        "decode", help="decode captured packets to JSON",
        description="Decode hex (from the command line or stdin; spaces, newlines, "
                    "0x and colons allowed) and print JSON.")
    kinds = decode.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True

    def common(p):
        p.add_argument("hex", nargs="*", metavar="HEX",
                       help="the bytes as hex; read from stdin when absent or '-'")
        p.add_argument("--pretty", action="store_true",
                       help="print an indented tree for people instead of JSON")

    p = kinds.add_parser("objects", help="a 0x41 or 0x42 object-list payload")
    common(p)
    p.set_defaults(run=_run, decoder=_objects)

    p = kinds.add_parser("tcp", help="an obfuscated TCP stream (one direction)")
    common(p)
    p.add_argument("--seed-hex", metavar="SEED",
                   help="the 4-byte seed that keys this direction (8 hex digits)")
    p.add_argument("--from-start", action="store_true",
                   help="HEX starts with the 4-byte seed and the 10-byte greeting")
    p.add_argument("--dh-secret", metavar="HEX",
                   help="5.5+ connections: the 48-byte DH-384 secret K mixed into the key")
    p.set_defaults(run=_run, decoder=_tcp)

    p = kinds.add_parser("udp", help="one UDP datagram")
    common(p)
    p.add_argument("--src", required=True, metavar="IP", help="sender's public IPv4 address")
    p.add_argument("--dst", required=True, metavar="IP", help="receiver's public IPv4 address")
    p.add_argument("--challenge", metavar="HEX",
                   help="for a resend (kind 3): the challenge of the NACK it answers")
    p.set_defaults(run=_run, decoder=_udp)


def _read_hex(args, stdin):
    text = " ".join(h for h in args.hex if h != "-")
    if not text.strip():
        text = stdin.read()
    try:
        return parse_hex(text)
    except HexInputError as e:
        raise DecodeFailed("bad hex: %s" % (e,))


def _run(args, stdin, stdout):
    data = _read_hex(args, stdin)
    try:
        result = args.decoder(data, args)
    except ProtocolError as e:
        raise DecodeFailed("cannot decode: %s" % (e,))
    if args.pretty:
        stdout.write(render_tree(result))
    else:
        stdout.write(json.dumps(result))
        stdout.write("\n")
    if isinstance(result, dict) and result.get("error"):
        # What decoded is printed above; the status still says the bytes
        # did not all decode.
        raise DecodeFailed("stopped at undecodable bytes: %s" % (result["error"],))
    return 0


def _objects(data, args):
    from blissnode.wire.jsonview import object_payload_to_json
    return object_payload_to_json(data)


def _tcp(data, args):
    from blissnode.wire.jsonview import tcp_stream_to_json
    extra = b""
    if args.dh_secret:
        try:
            extra = parse_hex(args.dh_secret)
        except HexInputError as e:
            raise DecodeFailed("bad --dh-secret: %s" % (e,))
        if len(extra) != 48:
            raise DecodeFailed("--dh-secret must be 48 bytes, got %d" % (len(extra),))
    if args.from_start:
        if args.seed_hex:
            raise DecodeFailed("give either --seed-hex or --from-start, not both")
        return tcp_stream_to_json(data, from_start=True, extra=extra)
    if not args.seed_hex:
        raise DecodeFailed("--seed-hex SEED or --from-start is required")
    try:
        seed = parse_hex(args.seed_hex)
    except HexInputError as e:
        raise DecodeFailed("bad --seed-hex: %s" % (e,))
    if len(seed) != 4:
        raise DecodeFailed("--seed-hex must be 4 bytes, got %d" % (len(seed),))
    return tcp_stream_to_json(data, seed=int.from_bytes(seed, "big"), extra=extra)


def _ip_only(text):
    """Accept ``IP`` or ``IP:PORT`` (the port plays no part in the keying)."""
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def _udp(data, args):
    from blissnode.wire.jsonview import udp_datagram_to_json
    challenge = None
    if args.challenge:
        try:
            challenge = parse_hex(args.challenge)
        except HexInputError as e:
            raise DecodeFailed("bad --challenge: %s" % (e,))
    try:
        return udp_datagram_to_json(data, _ip_only(args.src), _ip_only(args.dst),
                                    challenge=challenge)
    except ValueError as e:
        if isinstance(e, ProtocolError):
            raise
        raise DecodeFailed(str(e))
