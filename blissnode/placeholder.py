"""
Stand-ins for server roles that are not implemented yet.

The listeners exist from the first release so that deployment (ports,
firewall rules, endpoint strings) can be settled early; until a role's own
protocol lands, its listener accepts, logs and drops.  Each role issue
replaces its stand-in with the real factory in :mod:`blissnode.tap`.
"""

from twisted.internet.protocol import DatagramProtocol, Factory, Protocol
from twisted.logger import Logger


class _DropConnection(Protocol):
    log = Logger()

    def connectionMade(self):
        self.log.info("{role}: not implemented yet, closing connection from {peer}",
                      role=self.factory.role, peer=self.transport.getPeer())
        self.transport.loseConnection()


class PendingRoleFactory(Factory):
    """Accept, log and close: the role behind this listener is not built yet."""

    protocol = _DropConnection
    noisy = False

    def __init__(self, role):
        self.role = role


class PendingRoleDatagrams(DatagramProtocol):
    """Drop every datagram: the role behind this listener is not built yet."""

    log = Logger()

    def __init__(self, role):
        self.role = role

    def datagramReceived(self, data, addr):
        self.log.debug("{role}: not implemented yet, dropped {n} bytes from {addr}",
                       role=self.role, n=len(data), addr=addr)
