"""
The listening sockets of ``--workers N``, made once by the master process.

Every listener gets one socket per worker, all bound to the same address
with ``SO_REUSEPORT``: the kernel spreads new TCP connections over them,
and sends every datagram of one UDP source (ip, port) to the same socket
-- so a client's probes keep reaching the worker that holds its NACK
challenge and its UDP key (docs/scaling.rst).  The master keeps the
sockets open for its whole life and hands worker *i* socket *i*
(``reactor.adoptStreamPort`` / ``adoptDatagramPort``): a restarted worker
gets the same socket back, so the kernel's spreading does not change and
what arrived while it was down waits in the socket's queue.

Only ``tcp:PORT[:interface=ADDR][:backlog=N]`` and
``udp:PORT[:interface=ADDR]`` can be shared this way (``ssl:``, ``unix:``
and other endpoints are refused with a clear message).  Port 0 is chosen
once, by the first socket; the others bind the port it got.
"""

import socket

import attr

from blissnode.listeners import parse_udp_description

__all__ = ["SharedListener", "UnshareableListener", "parse_tcp_description",
           "open_shared_listeners", "open_worker_listeners", "reuseport_supported"]

#: ``listen()`` backlog when a description gives none (Twisted's default).
DEFAULT_BACKLOG = 50


class UnshareableListener(ValueError):
    """A listener description ``--workers`` cannot share between processes."""


def reuseport_supported():
    """Whether this system has ``SO_REUSEPORT`` with per-socket balancing
    (Linux 3.9 and later)."""
    return hasattr(socket, "SO_REUSEPORT")


@attr.s(frozen=True, slots=True)
class TCPDescription(object):
    port = attr.ib()
    interface = attr.ib(default="")
    backlog = attr.ib(default=DEFAULT_BACKLOG)


def parse_tcp_description(description):
    """``tcp:PORT[:interface=ADDR][:backlog=N]`` -> :class:`TCPDescription`."""
    parts = description.split(":")
    if parts[0] != "tcp" or len(parts) < 2 or not parts[1].isdigit():
        raise UnshareableListener(
            "--workers shares only tcp:PORT[:interface=ADDR][:backlog=N] and "
            "udp:PORT[:interface=ADDR] listeners, not %r" % (description,))
    port = int(parts[1])
    if port > 65535:
        raise UnshareableListener("TCP port out of range in %r" % (description,))
    interface, backlog = "", DEFAULT_BACKLOG
    for part in parts[2:]:
        key, sep, value = part.partition("=")
        if key == "interface" and sep:
            interface = value
        elif key == "backlog" and sep and value.isdigit():
            backlog = int(value)
        else:
            raise UnshareableListener("--workers cannot share the listener option %r of %r"
                                      % (part, description))
    return TCPDescription(port, interface, backlog)


@attr.s(slots=True)
class SharedListener(object):
    """One listener's sockets, one per worker."""

    name = attr.ib()
    transport = attr.ib()       # "tcp" or "udp"
    interface = attr.ib()
    port = attr.ib()
    sockets = attr.ib(factory=list, repr=False)

    def description(self):
        """The listener's description with the bound port (for the workers)."""
        text = "%s:%d" % (self.transport, self.port)
        if self.interface:
            text += ":interface=" + self.interface
        return text

    def fileno(self, index):
        return self.sockets[index].fileno()

    @property
    def ports(self):
        """The bound port of each socket (one per worker)."""
        return [sock.getsockname()[1] for sock in self.sockets]

    def close(self):
        for sock in self.sockets:
            sock.close()
        self.sockets = []


def _socket(transport, interface, port, backlog):
    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((interface or "0.0.0.0", port))
        if transport == "tcp":
            sock.listen(backlog)
        sock.setblocking(False)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def open_shared_listeners(listeners, count):
    """Open ``count`` sockets for each ``(name, description, transport)``;
    a list of :class:`SharedListener`.  Raises :class:`UnshareableListener`
    for a description that cannot be shared and :class:`OSError` when a port
    cannot be bound (everything opened so far is closed again)."""
    if not reuseport_supported():
        raise UnshareableListener("--workers needs SO_REUSEPORT (Linux 3.9 or later)")
    opened = []
    try:
        for name, description, transport in listeners:
            if transport == "udp":
                try:
                    parsed = parse_udp_description(description)
                except ValueError as e:
                    raise UnshareableListener(str(e))
                backlog = 0
            else:
                parsed = parse_tcp_description(description)
                backlog = parsed.backlog
            shared = SharedListener(name, transport, parsed.interface, parsed.port)
            opened.append(shared)
            for _ in range(count):
                try:
                    sock = _socket(transport, parsed.interface, shared.port, backlog)
                except OSError as e:
                    raise OSError(e.errno, "%s: cannot listen on %s:%d (%s)" % (
                        name, parsed.interface or "0.0.0.0", shared.port, e.strerror or e))
                shared.sockets.append(sock)
                shared.port = sock.getsockname()[1]
    except BaseException:
        for shared in opened:
            shared.close()
        raise
    return opened


def open_worker_listeners(name, description, count):
    """A TCP listener that is *not* shared: worker *i* (from 0) gets its own
    socket on ``PORT + i`` (``tcp:0``: a free port each), so a client that
    connects to a worker's port reaches that worker and no other (the relay:
    both legs of a relayed connection must meet in one process).  A
    :class:`SharedListener` whose ports are in :attr:`ports`."""
    parsed = parse_tcp_description(description)
    shared = SharedListener(name, "tcp", parsed.interface, parsed.port)
    try:
        for index in range(count):
            port = parsed.port + index if parsed.port else 0
            if port > 65535:
                raise UnshareableListener("%s: port %d + %d workers is past 65535"
                                          % (name, parsed.port, count))
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((parsed.interface or "0.0.0.0", port))
                sock.listen(parsed.backlog)
                sock.setblocking(False)
                sock.set_inheritable(True)
            except OSError as e:
                sock.close()
                raise OSError(e.errno, "%s: cannot listen on %s:%d (%s)" % (
                    name, parsed.interface or "0.0.0.0", port, e.strerror or e))
            shared.sockets.append(sock)
    except BaseException:
        shared.close()
        raise
    return shared
