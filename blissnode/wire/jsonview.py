"""
JSON views of decoded wire units, for ``blissnode decode`` and for logs.

Each function takes raw bytes plus the context a capture gives you (a seed,
two addresses) and returns plain JSON-able values: ints, strings, lists,
dicts, with byte strings as lower-case hex.  Object-list items use exactly
the shape of the shared vectors (``{"type": T, "id": I, "value": V}``, see
:func:`blissnode.wire.objects.objects_to_json`).

Nothing here raises anything but :class:`ProtocolError` for bad bytes; where
a unit decodes only partly, the view says so in an ``*_error`` field and
keeps what did decode, because half a decoded capture is what a person
debugging a client needs most.
"""

import attr

from blissnode.wire import udp
from blissnode.wire.errors import ProtocolError
from blissnode.wire.objects import decode_object_lists, objects_to_json
from blissnode.wire.tcp import decode_stream
from blissnode.wire.udp_commands import parse_payload


def object_payload_to_json(data):
    """``{"format": "41"|"42", "lists": [[item, ...], ...], "rest": hex}``."""
    lists, rest, fmt = decode_object_lists(data)
    return {
        "format": fmt,
        "lists": [objects_to_json(objlist) for objlist in lists],
        "rest": bytes(rest).hex(),
    }


def tcp_stream_to_json(data, seed=None, from_start=False, extra=b""):
    """One direction of a TCP stream.

    With ``from_start`` the data begins with the 4-byte seed and 10-byte
    greeting; otherwise ``seed`` keys the stream and the data starts right
    after the greeting (keystream position 0, tcp.md 2.2).  ``extra`` is the
    DH-384 secret of a 5.5+ connection.
    """
    if from_start:
        if len(data) < 14:
            raise ProtocolError("a stream from its start needs at least 14 bytes "
                                "(4-byte seed + 10-byte greeting), got %d" % len(data))
        decoded = decode_stream(data, extra=extra)
    else:
        if seed is None:
            raise ValueError("give the seed, or decode from the start of the stream")
        decoded = decode_stream(data, extra=extra, seed=seed)
    if decoded.exchange is None and from_start:
        raise ProtocolError(decoded.error)
    out = decoded.to_json(objects=True)
    if not from_start:
        del out["seed"], out["greeting"]
    else:
        out["seed"] = "%08x" % decoded.exchange.seed
        out["greeting"] = decoded.exchange.greeting.encode().hex()
    return out


#: Header fields that are 32-bit values people compare with hex dumps.
_HEX32 = frozenset(["iv", "crc", "nseed", "value"])


def _fields(datagram):
    out = {}
    for field in attr.fields(type(datagram)):
        value = getattr(datagram, field.name)
        if field.name == "ciphertext":
            continue
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).hex()
        elif field.name == "type_byte":
            value = "%02x" % value
        elif field.name in _HEX32 and isinstance(value, int):
            value = "%08x" % value
        out[field.name] = value
    return out


def commands_to_json(plaintext):
    """The commands of a UDP payload with their decoded object lists."""
    out = []
    for command in parse_payload(plaintext):
        js = command.to_json()
        try:
            js["objects"] = objects_to_json(command.objects())
        except ProtocolError as e:
            js["objects_error"] = str(e)
        out.append(js)
    return out


#: Kinds whose layout the UDP layer knows (udp.md 2); others are shown by
#: their header only.
_DECODED_KINDS = frozenset([udp.KIND_PAYLOAD, udp.KIND_RESEND, udp.KIND_ACK,
                            udp.KIND_NACK, udp.KIND_FRAGMENT])

_UNKNOWN_SRC = "0.0.0.0"


def udp_datagram_to_json(data, src, dst, challenge=None):
    """One UDP datagram sent from public address ``src`` to ``dst``.

    Obfuscated kinds (payload, resend, fragment) are decrypted: kinds 2 and F
    are keyed by the two addresses and the packet id, a resend (kind 3) by
    the challenge it carries; ``challenge`` (bytes or int), when given, must
    match that one -- it is the value of the NACK the resend answers.

    A client that does not know its public address yet keys with 0.0.0.0
    (udp.md 4.1), so when the CRC fails with ``src`` the view tries 0.0.0.0
    and says so in ``"keyed_src"``.  Kinds without a known layout (audio,
    0, 1, 4 ...) are shown by their header only.
    """
    header = udp.parse_header(data)
    kind = header.type_byte & 0x0F
    out = {
        "packet_id": header.packet_id,
        "type": udp.KIND_NAMES.get(kind, "unknown%x" % kind),
        "kind": kind,
        "type_byte": "%02x" % header.type_byte,
        "plaintext": None,
        "crc_ok": None,
    }
    if kind not in _DECODED_KINDS:
        out["header"] = {"bits_4_6": header.bits_4_6, "bit_7": header.bit_7}
        out["payload"] = bytes(data[3:]).hex()
        out["note"] = "kind %x has no known layout; header only" % kind
        return out
    datagram = udp.parse_datagram(data, reject_bit7=False)
    out["header"] = _fields(datagram)
    if isinstance(datagram, (udp.NackDatagram, udp.AckDatagram)):
        return out
    expected = None
    if challenge is not None:
        if isinstance(challenge, (bytes, bytearray)):
            if len(challenge) != 4:
                raise ValueError("the challenge is 4 bytes, got %d" % len(challenge))
            challenge = int.from_bytes(challenge, "big")
        expected = challenge
    opened = udp.decrypt_datagram(data, src, dst, expected_nseed=expected, reject_bit7=False)
    if (not opened.crc_ok and not isinstance(datagram, udp.ResendDatagram)
            and udp.ip_to_str(src) != _UNKNOWN_SRC):
        retry = udp.decrypt_datagram(data, _UNKNOWN_SRC, dst, reject_bit7=False)
        if retry.crc_ok:
            opened = retry
            out["keyed_src"] = _UNKNOWN_SRC
    out["plaintext"] = opened.plaintext.hex()
    out["crc_ok"] = bool(opened.crc_ok)
    if not opened.crc_ok:
        out["commands_error"] = ("CRC mismatch: wrong addresses or challenge "
                                 "(tried 0.0.0.0 as the sender's address too)")
    elif isinstance(datagram, udp.FragmentDatagram):
        out["commands_error"] = ("one fragment of a larger message "
                                 "(index %d%s): reassemble first"
                                 % (datagram.index, ", last" if datagram.last else ""))
    else:
        try:
            out["commands"] = commands_to_json(opened.plaintext)
        except ProtocolError as e:
            out["commands_error"] = str(e)
    return out
