"""
:class:`Request`: everything a handler method gets for one command.

The protocols build one Request per received command and pass it to the
handler method the command tables name; handlers build their replies with
:meth:`Request.reply`, which only encodes an object list with
:mod:`blissnode.wire` -- so no handler and no protocol writes packet bytes by
hand.
"""

import attr

from blissnode.wire.objects import ObjectList, encode_objects
from blissnode.wire.tcp_commands import KIND_NOTIFICATION, KIND_REPLY, KIND_REQUEST, Command

UDP = "udp"
TCP = "tcp"


def make_command(cmd, kind, objects=(), request_id=None, compressed=False):
    """A :class:`Command` whose body is ``objects`` (an ObjectList or a
    sequence of items) encoded as 0x41 (default) or 0x42."""
    if not isinstance(objects, ObjectList):
        objects = ObjectList(list(objects))
    return Command(cmd, kind, request_id, encode_objects(objects, compressed=compressed))


def notification(cmd, objects=(), compressed=False):
    return make_command(cmd, KIND_NOTIFICATION, objects, compressed=compressed)


def request(cmd, request_id, objects=(), compressed=False):
    return make_command(cmd, KIND_REQUEST, objects, request_id, compressed)


class UndecodedBody(object):
    """A command body to decode when a handler first reads
    :attr:`Request.objects`: ``decoder(command)`` gives the object list."""

    __slots__ = ("decoder", "command")

    def __init__(self, decoder, command):
        self.decoder = decoder
        self.command = command

    def decode(self):
        return self.decoder(self.command)


@attr.s(slots=True)
class Request:
    """One received command in its context.

    ``objects`` is the decoded body (an empty list if the body did not
    decode: the handler decides whether that matters); the constructor also
    takes an :class:`UndecodedBody`, decoded on first use of :attr:`objects`
    (the UDP path: most probes never read their body); ``peer`` is the
    ``(ip, port)`` the datagram or connection came from; ``node`` the
    :class:`~blissnode.supernode.node.SupernodeNode` (shared state and
    services); ``session`` the TCP client session (``None`` on UDP);
    ``packet_id`` the UDP packet id or TCP packet record id.
    """

    command = attr.ib()
    _objects = attr.ib()
    peer = attr.ib()
    node = attr.ib()
    transport = attr.ib()
    session = attr.ib(default=None)
    packet_id = attr.ib(default=None)

    @property
    def objects(self):
        """The decoded body (decoded now if it was handed over undecoded)."""
        objects = self._objects
        if isinstance(objects, UndecodedBody):
            objects = self._objects = objects.decode()
        return objects

    @property
    def cmd(self):
        return self.command.cmd

    @property
    def request_id(self):
        return self.command.request_id

    def reply(self, cmd, objects=(), compressed=False):
        """A reply command to this request (same request id)."""
        return make_command(cmd, KIND_REPLY, objects, self.command.request_id, compressed)
