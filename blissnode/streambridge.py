"""
Running one server's protocol over another connection, in process.

A real 7.7 client asked a node to carry its event-server connection: on a
classic peer stream it sent cmd 7 naming the event server, both sides sent a
type-4 record, and from then on the same TCP connection carried the event
server's framing in clear (ERRATA, nDPI 2015).  blissnode serves that without
a second socket: the supernode session hands its connection to a protocol
built by the event server's factory, through :class:`BridgeTransport`.

The bridge is a plain :class:`~twisted.internet.interfaces.ITransport`: the
inner protocol writes to, pauses and closes the outer connection, and sees
the client's real address, so per-address limits and logs stay right.
"""

from zope.interface import implementer
from twisted.internet.interfaces import IPushProducer, ITransport

__all__ = ["BridgeTransport", "connect_bridged"]


@implementer(ITransport, IPushProducer)
class BridgeTransport(object):
    """The transport an inner protocol sees: the outer connection's.

    ``outer`` is the outer connection's transport; ``close(abort)`` is how
    the outer protocol ends it (so its own state follows)."""

    disconnecting = False

    def __init__(self, outer, close):
        self._outer = outer
        self._close = close

    def write(self, data):
        if not self.disconnecting:
            self._outer.write(data)

    def writeSequence(self, data):
        self.write(b"".join(data))

    def loseConnection(self):
        if not self.disconnecting:
            self.disconnecting = True
            self._close(False)

    def abortConnection(self):
        self.disconnecting = True
        self._close(True)

    def getPeer(self):
        return self._outer.getPeer()

    def getHost(self):
        return self._outer.getHost()

    def pauseProducing(self):
        self._outer.pauseProducing()

    def resumeProducing(self):
        self._outer.resumeProducing()

    def stopProducing(self):
        self.abortConnection()

    def setTcpNoDelay(self, enabled):
        """The outer connection already has it (every listener sets it)."""


def connect_bridged(factory, outer, close, addr=None):
    """Build ``factory``'s protocol for a bridged connection and start it.

    The protocol gets ``bridged = True`` before ``makeConnection`` so it can
    skip what the outer connection already did (the event server: no hello
    comes, the key exchange is the first record).  Returns the protocol;
    feed it with ``dataReceived`` and end it with ``connectionLost``."""
    proto = factory.buildProtocol(addr if addr is not None else outer.getPeer())
    if proto is None:
        return None
    proto.bridged = True
    proto.makeConnection(BridgeTransport(outer, close))
    return proto
