"""
Listening services: one per server role and transport.

Stream listeners take ordinary Twisted server endpoint strings
(``tcp:33033``, ``tcp:4433:interface=127.0.0.1``, ``ssl:...``).  Twisted has
no UDP endpoints, so UDP listeners take a string of the same spirit,
``udp:PORT[:interface=ADDR]``, parsed by :func:`parse_udp_description`.

Every listener logs one line with the address it actually bound (so
``tcp:0`` shows the port the kernel chose), and the literal description
``none`` switches a listener off.

A worker of ``--workers N`` does not bind: it adopts the socket its master
opened (``adopt_fd``; :mod:`blissnode.cluster.sockets`).
"""

import os
import socket

import attr
from twisted.application import service
from twisted.application.internet import StreamServerEndpointService
from twisted.internet import defer
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.logger import Logger

DISABLED = "none"

log = Logger()


def is_disabled(description):
    return description.strip().lower() == DISABLED


def _describe(address):
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None:
        return str(address)
    if ":" in host:
        host = "[%s]" % (host,)
    return "%s:%s" % (host, port)


@attr.s(frozen=True, slots=True)
class UDPDescription:
    port = attr.ib()
    interface = attr.ib(default="")


def parse_udp_description(description):
    """Parse ``udp:PORT[:interface=ADDR]`` into a :class:`UDPDescription`.

    Raises :class:`ValueError` with a message fit for a command line user.
    """
    parts = description.split(":")
    if parts[0] != "udp" or len(parts) < 2:
        raise ValueError("UDP listener must look like udp:PORT[:interface=ADDR], not %r"
                         % (description,))
    try:
        port = int(parts[1])
    except ValueError:
        raise ValueError("UDP port must be a number in %r" % (description,))
    if not 0 <= port <= 65535:
        raise ValueError("UDP port out of range in %r" % (description,))
    interface = ""
    rest = ":".join(parts[2:])
    if rest:
        key, sep, value = rest.partition("=")
        if key != "interface" or not sep:
            raise ValueError("unknown UDP listener option %r in %r" % (rest, description))
        interface = value
    return UDPDescription(port, interface)


def cannot_listen(name, description, error):
    """The one-line fatal start-up error of a listener that cannot bind
    (port in use, no permission for a low port, unknown interface)."""
    reason = getattr(error, "socketError", None) or error
    if hasattr(reason, "strerror") and reason.strerror:
        reason = reason.strerror
    return SystemExit("blissnode: cannot listen on %s (--%s): %s" % (description, name, reason))


class _AdoptedStreamEndpoint(object):
    """A server endpoint listening on an inherited listening socket."""

    def __init__(self, reactor, fd):
        self.reactor = reactor
        self.fd = fd

    def listen(self, factory):
        try:
            port = self.reactor.adoptStreamPort(self.fd, socket.AF_INET, factory)
        except Exception:
            return defer.fail()
        os.close(self.fd)  # the reactor holds its own copy
        return defer.succeed(port)


class StreamListenerService(StreamServerEndpointService):
    """A stream endpoint service that says where it listens (on the
    inherited socket ``adopt_fd`` instead of binding, in a worker)."""

    def __init__(self, name, description, factory, reactor=None, adopt_fd=None):
        if reactor is None:
            from twisted.internet import reactor
        endpoint = (serverFromString(reactor, description) if adopt_fd is None
                    else _AdoptedStreamEndpoint(reactor, adopt_fd))
        StreamServerEndpointService.__init__(self, endpoint, factory)
        self.setName(name)
        self.description = description
        # Fail the whole startup if the port cannot be bound, rather than
        # running without one of the roles.
        self._raiseSynchronously = True
        #: The listening port once bound (for tests and for logging).
        self.port = None

    def privilegedStartService(self):
        try:
            StreamServerEndpointService.privilegedStartService(self)
        except CannotListenError as e:
            raise cannot_listen(self.name, self.description, e)
        self._waitingForPort.addCallback(self._listening)

    def _listening(self, port):
        self.port = port
        log.info("{name} listening on {address} ({description})",
                 name=self.name, address=_describe(port.getHost()),
                 description=self.description)
        return port


class UDPListenerService(service.Service):
    """Listen for datagrams with ``protocol`` while the service runs."""

    def __init__(self, name, description, protocol, reactor=None, adopt_fd=None):
        self.setName(name)
        self.description = description
        self.udp = parse_udp_description(description)
        self.protocol = protocol
        self._reactor = reactor
        self.adopt_fd = adopt_fd
        self.port = None

    def privilegedStartService(self):
        reactor = self._reactor
        if reactor is None:
            from twisted.internet import reactor
        if self.adopt_fd is not None:
            self.port = reactor.adoptDatagramPort(self.adopt_fd, socket.AF_INET, self.protocol)
            os.close(self.adopt_fd)
            self.adopt_fd = None
        else:
            try:
                self.port = reactor.listenUDP(self.udp.port, self.protocol,
                                              interface=self.udp.interface)
            except CannotListenError as e:
                raise cannot_listen(self.name, self.description, e)
        log.info("{name} listening on {address} ({description})",
                 name=self.name, address=_describe(self.port.getHost()),
                 description=self.description)
        service.Service.privilegedStartService(self)

    def stopService(self):
        service.Service.stopService(self)
        if self.port is not None:
            port, self.port = self.port, None
            return port.stopListening()
