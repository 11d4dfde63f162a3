"""
What is inside a UDP payload, and the two answers every supernode gives.

The plaintext of a kind-2 / kind-3 datagram (or of a reassembled fragment
message) is a plain run of commands encoded exactly as inside a TCP packet
record, without the record header and without a second packet id
(udp.md 5)::

    payload := command+
    command := varint(len) varint(C = cmd<<3 | kind) [u16 request_id] object_list

The command codec itself is shared with TCP and lives in
:mod:`blissnode.wire.tcp_commands` (:class:`Command`); this module adds what is
specific to UDP:

* :func:`parse_payload` / :func:`build_payload` -- a whole datagram plaintext,
  with a UDP-sized limit on the number of commands;
* :func:`probe_reply` (cmd 27 -> 28) and :func:`address_reply` (cmd 35 -> 36),
  plus :func:`answer_probe` / :func:`answer_address_query` that take the
  request plaintext;
* :func:`ack_decision` -- whether a received datagram is answered by a reply,
  acknowledged with a kind-5 ACK, or left alone (udp.md 6).
"""

import struct

from blissnode.wire.errors import LimitExceeded, ProtocolError
from blissnode.wire.tcp_commands import (
    KIND_NOTIFICATION,
    KIND_REPLY,
    KIND_REQUEST,
    BODY_MARKERS,
    Command,
    decode_command,
    encode_commands,
)
from blissnode.wire.udp import ip_to_bytes

__all__ = [
    "Command", "KIND_NOTIFICATION", "KIND_REQUEST", "KIND_REPLY",
    "CMD_PROBE", "CMD_PROBE_OK", "CMD_PROBE_REFUSED", "CMD_ADDRESS_QUERY",
    "CMD_ADDRESS_REPLY", "EMPTY_LIST_41", "EMPTY_LIST_42",
    "OBJ_ADDR_OBSERVED", "MAX_PAYLOAD_COMMANDS", "SUPERNODE_UDP_REQUESTS",
    "ACTION_REPLY", "ACTION_ACK", "ACTION_NOTHING",
    "encode_command", "parse_payload", "build_payload", "addr_list",
    "probe_reply", "probe_request_id", "address_reply", "answer_probe", "answer_address_query",
    "ack_decision",
]

CMD_PROBE = 27
CMD_PROBE_OK = 28
CMD_PROBE_REFUSED = 29
CMD_ADDRESS_QUERY = 35
CMD_ADDRESS_REPLY = 36

#: The empty object list in both encodings; real supernodes answered the
#: probe with ``42 15`` (udp.md 8), ``41 00`` is equally valid.
EMPTY_LIST_42 = b"\x42\x15"
EMPTY_LIST_41 = b"\x41\x00"

#: Object id of the "address as seen" ADDR in cmd 36 (and cmd 31).
OBJ_ADDR_OBSERVED = 0x11

#: Most commands seen in one datagram: 2 (udp.md 5).  The limit only exists so
#: that a 170 kB reassembled message of 3-byte commands cannot produce 50 000
#: objects; legitimate payloads are nowhere near it.
MAX_PAYLOAD_COMMANDS = 256

#: GUESS: the requests a main supernode answers over UDP (udp.md 8 table,
#: supernode.md 8): probe 27, slot query 6, user search 14 and 18, address
#: query 35, node list 44, push 53.  A request outside this set is not
#: answered, so it is neither replied to nor acknowledged (the client
#: retransmits twice and gives up).  The handler layer passes its own set to
#: :func:`ack_decision` once it implements more.
SUPERNODE_UDP_REQUESTS = frozenset({6, 14, 18, 27, 35, 44, 53})

ACTION_REPLY = "reply"
ACTION_ACK = "ack"
ACTION_NOTHING = "nothing"

_ADDR_ITEM = struct.Struct(">BB4sH")


def encode_command(cmd, kind, request_id, body):
    """Bytes of one command (the TCP/UDP command codec)."""
    return Command(cmd, kind, request_id, body).encode()


def parse_payload(plaintext, max_commands=MAX_PAYLOAD_COMMANDS):
    """The commands of a datagram plaintext, in order.

    Raises :class:`ProtocolError` when the bytes are not a run of complete
    commands (an empty payload included: every real payload carries at least
    one command) and :class:`LimitExceeded` past ``max_commands``.
    """
    data = memoryview(bytes(plaintext))
    if not data:
        raise ProtocolError("empty payload")
    out = []
    pos = 0
    end = len(data)
    while pos < end:
        if len(out) >= max_commands:
            raise LimitExceeded("more than %d commands in one payload" % max_commands)
        command, pos = decode_command(data, pos)
        out.append(command)
    return out


def build_payload(commands):
    """Datagram plaintext for ``commands`` (:class:`Command` instances)."""
    return encode_commands(commands)


def addr_list(obj_id, ip, port):
    """A 0x41 object list holding one ADDR: ``{ADDR obj_id = ip:port}``.

    Only the single-item case the UDP replies need; general object lists are
    :mod:`blissnode.wire.objects`' business.  ``obj_id`` < 0x80 keeps its
    varint one byte long.
    """
    if not 0 <= obj_id < 0x80:
        raise ValueError("obj_id must be < 0x80: %r" % (obj_id,))
    if not 0 <= port <= 0xFFFF:
        raise ValueError("port out of range: %r" % (port,))
    return b"\x41\x01" + _ADDR_ITEM.pack(2, obj_id, ip_to_bytes(ip), port)


def probe_reply(request_id, body=EMPTY_LIST_42):
    """The plaintext answering probe ``request_id``: cmd 28 ("probe
    accepted, I am a supernode"), a reply with an empty object list."""
    return Command(CMD_PROBE_OK, KIND_REPLY, request_id, body).encode()


def address_reply(request_id, peer_ip, peer_port):
    """The plaintext answering address query ``request_id``: cmd 36
    ``{ADDR 0x11 = peer_ip:peer_port}``, the requester as we see it."""
    return Command(CMD_ADDRESS_REPLY, KIND_REPLY, request_id,
                   addr_list(OBJ_ADDR_OBSERVED, peer_ip, peer_port)).encode()


def _single_request(plaintext, cmd):
    commands = parse_payload(plaintext)
    for command in commands:
        if command.cmd == cmd and command.kind == KIND_REQUEST:
            return command
    raise ProtocolError("payload holds no cmd %d request" % cmd)


#: The first bytes of a lone probe: a one-byte length, then ``C = 27 << 3 |
#: 2`` as its canonical two-byte varint.
_PROBE_C = (0xDA, 0x01)


def probe_request_id(plaintext):
    """The request id when ``plaintext`` is exactly one cmd-27 request in the
    canonical encoding, else None (then :func:`parse_payload` decides).

    The supernode's probe fast path: it gives the same answer as parsing the
    payload and finding a single cmd-27 request whose body starts with an
    object-list marker, without building a :class:`Command` (tested against
    :func:`parse_payload` in tests/test_wire_udp_commands.py).
    """
    n = len(plaintext)
    if n < 6 or n > 0x82 or plaintext[1] != 0xDA or plaintext[2] != 0x01:
        return None
    if plaintext[0] != n - 3 or plaintext[5] not in BODY_MARKERS:
        return None
    return (plaintext[3] << 8) | plaintext[4]


def answer_probe(plaintext, body=EMPTY_LIST_42):
    """Reply plaintext for the first cmd-27 request in ``plaintext``."""
    return probe_reply(_single_request(plaintext, CMD_PROBE).request_id, body)


def answer_address_query(plaintext, peer_ip, peer_port):
    """Reply plaintext for the first cmd-35 request in ``plaintext``."""
    request = _single_request(plaintext, CMD_ADDRESS_QUERY)
    return address_reply(request.request_id, peer_ip, peer_port)


def _cmd_kind(command):
    if isinstance(command, Command):
        return command.cmd, command.kind
    if isinstance(command, dict):
        return command["cmd"], command["cmd_kind"]
    cmd, kind = command
    return cmd, kind


def ack_decision(commands, answers=SUPERNODE_UDP_REQUESTS):
    """What to send back for a datagram carrying ``commands`` (udp.md 6):

    * :data:`ACTION_REPLY` -- at least one request is answered; the reply
      datagram acknowledges the whole datagram (no kind 5 besides);
    * :data:`ACTION_ACK` -- nothing answered, but a notification (kind 1) is
      present: send a kind-5 ACK;
    * :data:`ACTION_NOTHING` -- only replies, or only requests we do not answer.

    ``commands``: :class:`Command` objects or ``(cmd, kind)`` pairs.
    ``answers``: the request numbers the server answers (a container), or a
    callable ``cmd -> bool``.
    """
    answered = answers if callable(answers) else answers.__contains__
    notified = False
    for command in commands:
        cmd, kind = _cmd_kind(command)
        if kind == KIND_REQUEST and answered(cmd):
            return ACTION_REPLY
        if kind == KIND_NOTIFICATION:
            notified = True
    return ACTION_ACK if notified else ACTION_NOTHING
