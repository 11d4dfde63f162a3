"""
Commands as JSON, with what a researcher wants spelled out next to the raw
item lists: node records decoded, the event-server address of a cmd 7, the
address a node reports back in cmd 31 / cmd 36.

The same pass collects the public IPv4 addresses these commands reveal:
UDP datagrams are keyed with the sender's idea of its own public address,
which a capture taken behind NAT does not show, so the UDP decoder tries
every address learned here (:class:`LearnedAddress`).
"""

import attr

from blissnode.wire import objects
from blissnode.wire.errors import ProtocolError
from blissnode.wire.node_record import NODE_RECORD_LONG, NODE_RECORD_SHORT, decode_node_record

__all__ = ["LearnedAddress", "command_json", "commands_json", "node_record_json",
           "CMD_EVENT_RELAY", "SOURCE_CMD31", "SOURCE_CMD36", "SOURCE_NODE_RECORD"]

#: The cmd that asks a node to carry an event-server connection (ERRATA).
CMD_EVENT_RELAY = 7
CMD_ACCEPT_REPLY = 31
CMD_ADDRESS_REPLY = 36
ITEM_OBSERVED_ADDR = 0x11

SOURCE_CMD31 = "cmd 31 reply (the address a supernode saw)"
SOURCE_CMD36 = "cmd 36 reply (the address a node saw)"
SOURCE_NODE_RECORD = "node record (public address)"

#: (cmd, item id) of BLOBs that hold node records: cmd 7 BLOB 0x2A (ERRATA),
#: session request cmd 67 BLOB 1 (tcp.md 5.6), login request BLOB 0x13.
NODE_RECORD_ITEMS = {(CMD_EVENT_RELAY, 0x2A), (67, 1)}


@attr.s(frozen=True, slots=True)
class LearnedAddress(object):
    """A public IPv4 address seen in decoded content: ``ip``, where it was
    seen (``source``) and the capture address of the host it belongs to
    (``owner``, or None when unknown)."""

    ip = attr.ib()
    source = attr.ib()
    owner = attr.ib(default=None)


#: GUESS: the 7.7 client's cmd 7 BLOB 0x2A is 29 bytes: a 27-byte node
#: record (its LAN address is the capturing host's, its public address
#: keys the client's UDP datagrams) and 2 more bytes (``08 01`` in the one
#: sample, 2015), shown as ``trailing``.
NODE_RECORD_TRAILING_MAX = 2


def node_record_json(blob):
    """A node record's JSON (with its text form), or None if ``blob`` is not one."""
    blob = bytes(blob)
    trailing = b""
    if NODE_RECORD_LONG < len(blob) <= NODE_RECORD_LONG + NODE_RECORD_TRAILING_MAX:
        blob, trailing = blob[:NODE_RECORD_LONG], blob[NODE_RECORD_LONG:]
    if len(blob) not in (NODE_RECORD_SHORT, NODE_RECORD_LONG):
        return None
    try:
        record = decode_node_record(blob)
    except ProtocolError:
        return None
    out = record.to_json()
    out["text"] = record.text()
    if trailing:
        out["trailing"] = trailing.hex()
        out["trailing_note"] = "GUESS: 2 bytes after a 27-byte record (7.x cmd 7)"
    return out


def _first(objlist, item_id, cls):
    it = objlist.get(item_id, cls)
    return None if it is None else it.value


def command_json(command, sender=None, receiver=None, learned=None):
    """``command.to_json()`` plus ``objects`` (or ``objects_error``) and,
    for the commands we know, ``decoded`` facts.  Addresses revealed are
    appended to ``learned`` (a list) with ``sender``/``receiver`` (capture
    addresses) as owners."""
    out = command.to_json()
    try:
        objlist = command.objects()
    except ProtocolError as e:
        out["objects_error"] = str(e)
        return out
    out["objects"] = objects.objects_to_json(objlist)
    facts = {}
    for it in objlist:
        if it.TYPE == objects.Blob.TYPE and (command.cmd, it.id) in NODE_RECORD_ITEMS:
            record = node_record_json(bytes(it.value))
            if record is not None:
                facts["node_record"] = record
                if learned is not None and "public" in record:
                    learned.append(LearnedAddress(record["public"].rsplit(":", 1)[0],
                                                  SOURCE_NODE_RECORD, sender))
    if command.cmd == CMD_EVENT_RELAY and command.kind == 2:
        addr = _first(objlist, 0x11, objects.Addr)
        version = objlist.get(0x26, objects.String)
        if addr is not None:
            facts["event_server"] = "%s:%d" % (addr.ip, addr.port)
        if version is not None:
            facts["version"] = version.text
        facts["meaning"] = ("asks the node to carry an event-server connection; after the "
                            "reply both sides switch to clear with a type-4 record (ERRATA)")
    if command.kind == 3 and command.cmd in (CMD_ACCEPT_REPLY, CMD_ADDRESS_REPLY):
        addr = _first(objlist, ITEM_OBSERVED_ADDR, objects.Addr)
        if addr is not None:
            facts["your_address"] = "%s:%d" % (addr.ip, addr.port)
            if learned is not None:
                learned.append(LearnedAddress(
                    addr.ip, SOURCE_CMD31 if command.cmd == CMD_ACCEPT_REPLY else SOURCE_CMD36,
                    receiver))
    if facts:
        out["decoded"] = facts
    return out


def commands_json(commands, sender=None, receiver=None, learned=None):
    return [command_json(c, sender, receiver, learned) for c in commands]
