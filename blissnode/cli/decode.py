"""
``blissnode decode``: turn captured bytes into something a person can read.

Three inputs people paste daily: an object list (``objects``), a TCP stream
from its start or from a known seed (``tcp``), and one UDP datagram with the
two public addresses it travelled between (``udp``); one connection to a
login or event server given as hex of both directions (``server``); and a
whole capture file (``pcap``, see docs/decoding.rst).  Output is JSON for
scripts (item shapes exactly as in the shared test vectors; ``pcap`` prints
one JSON object per line) or, with ``--pretty``, an indented tree.  All the
decoding is done by :mod:`blissnode.wire` and :mod:`blissnode.capture`; this
module only reads the input, calls them and prints.
"""

import argparse
import json

from blissnode.capture import DecodeHints, decode_capture, read_frames
from blissnode.capture import server_streams as S
from blissnode.capture.events import CaptureEvent
from blissnode.capture.reassembly import ReassemblyLimits
from blissnode.cli.hexinput import HexInputError, parse_hex
from blissnode.cli.render import render_event, render_tree
from blissnode.keys import KeyFileError, load_server_keys
from blissnode.wire.errors import ProtocolError
from blissnode.wire.jsonview import object_payload_to_json, tcp_stream_to_json, udp_datagram_to_json
from blissnode.wire.udp import ip_to_str


class DecodeFailed(Exception):
    """Bad input or undecodable bytes; the message is shown to the user,
    ``status`` is the exit status (1 unless said otherwise)."""

    def __init__(self, message, status=1):
        Exception.__init__(self, message)
        self.status = status


def add_parser(commands):
    decode = commands.add_parser(
        "decode", help="decode captured packets to JSON",
        description="Decode hex (from the command line or stdin; spaces, newlines, "
                    "0x and colons allowed) and print JSON.")
    kinds = decode.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True

    def output(p):
        style = p.add_mutually_exclusive_group()
        style.add_argument("--pretty", action="store_true",
                           help="print an indented tree for people instead of JSON")
        style.add_argument("--json", action="store_true",
                           help="print JSON (the default)")

    def common(p):
        p.add_argument("hex", nargs="*", metavar="HEX",
                       help="the bytes as hex; read from stdin when absent or '-'")
        output(p)

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

    p = kinds.add_parser(
        "server", help="one login/event server connection (hex of both directions)",
        description="Decode one connection to a login or event server from its first byte. "
                    "Give the bytes of each direction with --from-client / --from-server, "
                    "repeated in the order they were sent (bare HEX arguments: the client's "
                    "direction alone); with --data-dir the records are "
                    "decrypted with that server's login key.")
    p.add_argument("hex", nargs="*", metavar="HEX",
                   help="bytes the client sent, as one stream (the same as --from-client; "
                        "the client's direction alone holds the session seed and the "
                        "requests)")
    p.add_argument("--from-client", action=_Chunk, dest="chunks", metavar="HEX",
                   help="bytes the client sent (repeatable)")
    p.add_argument("--from-server", action=_Chunk, dest="chunks", metavar="HEX",
                   help="bytes the server sent (repeatable)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="data directory of the blissnode server (its login and credential keys)")
    p.add_argument("--dh-secret", metavar="HEX",
                   help="5.5+ DH-384 connections: the 48-byte shared secret K")
    p.add_argument("--inner", action="store_true",
                   help="the bytes are the event-server framing a node carried in clear "
                        "(after cmd 7 and a type-4 record): no hello expected")
    output(p)
    p.set_defaults(run=_run_server, chunks=None)

    p = kinds.add_parser(
        "pcap", help="a whole capture file (pcap or pcapng)",
        description="Reassemble, classify and decode every flow of a capture; one JSON "
                    "object per decoded unit, then a summary of what did not decode and why.")
    p.add_argument("file", metavar="FILE", help="the capture (pcap or pcapng)")
    p.add_argument("--public-ip", action="append", default=[], metavar="IP",
                   help="a public IPv4 address of a capturing host (keys its UDP datagrams "
                        "behind NAT); repeatable")
    p.add_argument("--data-dir", metavar="DIR",
                   help="data directory of the blissnode server the capture was taken "
                        "against: login and event connections to it are decrypted")
    p.add_argument("--dh-secret", action="append", default=[], metavar="FLOW=HEX",
                   help="the 48-byte DH-384 secret K of flow FLOW (its id in the output); "
                        "repeatable")
    p.add_argument("--flow", action="append", type=int, default=[], metavar="ID",
                   help="print only the units of these flows (the summary lists all)")
    p.add_argument("--max-flow-buffer", type=int, default=None, metavar="BYTES",
                   help="bytes one direction may hold behind a hole (default 4 MiB)")
    p.add_argument("--max-buffer", type=int, default=None, metavar="BYTES",
                   help="bytes all flows together may hold behind holes (default 64 MiB)")
    output(p)
    p.set_defaults(run=_run_pcap)


#: ``decode pcap`` exit status when the capture read fine but nothing in
#: it decoded (no Skype unit at all).
EXIT_NOTHING_DECODED = 3


class _Chunk(argparse.Action):
    """--from-client / --from-server: keep both in the order given."""

    def __call__(self, parser, namespace, values, option_string=None):
        chunks = getattr(namespace, self.dest) or []
        direction = "c2s" if option_string == "--from-client" else "s2c"
        chunks.append((direction, values))
        setattr(namespace, self.dest, chunks)


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
    return object_payload_to_json(data)


def _tcp(data, args):
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


# -- decode server ---------------------------------------------------------------

def _load_keys(data_dir):
    try:
        return load_server_keys(data_dir)
    except KeyFileError as e:
        raise DecodeFailed("--data-dir: %s" % (e,))


def _secret(text, what):
    try:
        secret = parse_hex(text)
    except HexInputError as e:
        raise DecodeFailed("bad %s: %s" % (what, e))
    if len(secret) != 48:
        raise DecodeFailed("%s must be 48 bytes, got %d" % (what, len(secret)))
    return secret


def _run_server(args, stdin, stdout):
    given = ([("c2s", " ".join(args.hex))] if args.hex else []) + (args.chunks or [])
    if not given:
        raise DecodeFailed("give the bytes with HEX, --from-client HEX and/or --from-server HEX")
    chunks = []
    for direction, text in given:
        try:
            chunks.append((direction, parse_hex(text)))
        except HexInputError as e:
            raise DecodeFailed("bad hex: %s" % (e,))
    keys = _load_keys(args.data_dir) if args.data_dir else None
    secret = _secret(args.dh_secret, "--dh-secret") if args.dh_secret else None
    first = b"".join(data for direction, data in chunks if direction == "c2s")[:3]
    if args.inner:
        opening = S.OPENING_INNER
    elif secret is not None:
        opening = S.OPENING_DH384
    elif first and first != b"\x16\x03\x01":
        raise DecodeFailed("the client's bytes do not start with 16 03 01: a 5.5+ DH-384 "
                           "connection needs --dh-secret K (nothing in the bytes gives it)")
    else:
        opening = S.OPENING_PLAIN
    decoder = S.ServerTransportDecoder(opening, keys, dh_secret=secret,
                                       keys_label="--data-dir %s" % (args.data_dir,))
    units = []
    for direction, data in chunks:
        for unit in decoder.feed(direction, data):
            entry = {"direction": direction, "layer": unit.layer}
            if not unit.decoded:
                entry["decoded"] = False
            entry.update(unit.fields)
            units.append(entry)
    result = {"opening": opening, "role": decoder.role, "units": units,
              "undecoded": [{"direction": d, "why": why} for d, why in decoder.undecoded()]}
    _print(args, stdout, result)
    if not any(u.get("decoded", True) for u in units):
        raise DecodeFailed("nothing decoded: %s" % (
            "; ".join(why for _, why in decoder.undecoded()) or "no complete record"))
    return 0


def _print(args, stdout, result):
    if args.pretty:
        stdout.write(render_tree(result))
    else:
        stdout.write(json.dumps(result))
        stdout.write("\n")


# -- decode pcap ----------------------------------------------------------------------

def _hints(args):
    for ip in args.public_ip:
        try:
            ip_to_str(ip)
        except ValueError:
            raise DecodeFailed("--public-ip %s is not an IPv4 address" % (ip,))
    secrets = {}
    for text in args.dh_secret:
        flow, sep, value = text.partition("=")
        if not sep or not flow.strip().isdigit():
            raise DecodeFailed("--dh-secret takes FLOW=HEX (FLOW: a flow id), got %r" % (text,))
        secrets[int(flow)] = _secret(value, "--dh-secret of flow %s" % flow.strip())
    limits = ReassemblyLimits()
    if args.max_flow_buffer is not None or args.max_buffer is not None:
        limits = ReassemblyLimits(
            args.max_flow_buffer if args.max_flow_buffer is not None else limits.per_stream,
            args.max_buffer if args.max_buffer is not None else limits.total)
        if limits.per_stream < 0 or limits.total < 0:
            raise DecodeFailed("buffer bounds must not be negative")
    keys = _load_keys(args.data_dir) if args.data_dir else None
    return DecodeHints(keys, "--data-dir %s" % (args.data_dir,), args.public_ip, secrets, limits)


def _run_pcap(args, stdin, stdout):
    hints = _hints(args)
    files = []

    def open_frames():
        try:
            f = open(args.file, "rb")
        except OSError as e:
            raise DecodeFailed("cannot read %s: %s" % (args.file, e.strerror))
        files.append(f)
        return read_frames(f)

    wanted = set(args.flow)
    summary = None
    try:
        for item in decode_capture(open_frames, hints):
            if isinstance(item, CaptureEvent):
                if wanted and item.flow not in wanted:
                    continue
                js = item.to_json()
                stdout.write(render_event(js) if args.pretty else json.dumps(js) + "\n")
                continue
            summary = item
            break
    finally:
        for f in files:
            f.close()
    if summary.error is not None and not summary.frames:
        raise DecodeFailed("%s: %s" % (args.file, summary.error))
    js = summary.to_json()
    stdout.write(render_tree(js) if args.pretty else json.dumps(js) + "\n")
    if summary.error is not None:
        raise DecodeFailed("%s: %s (what came before is decoded above)"
                           % (args.file, summary.error))
    if not summary.decoded_units:
        raise DecodeFailed("nothing in %s decoded (%d frames, %d flows); see the summary"
                           % (args.file, summary.frames, len(summary.flows)),
                           EXIT_NOTHING_DECODED)
    return 0
