"""
Where a patched client should go: this server's host and port for each role
(login, event, supernode), parsed from ``--server`` and the per-role
options of ``blissnode patch-client``.

``--server HOST[:LOGIN[:EVENT[:SUPERNODE]]]`` sets all three roles (ports
default to blissnode's listener defaults, :data:`~blissnode.patch.known.DEFAULT_PORTS`);
``--login``, ``--event``, ``--supernode HOST[:PORT]`` override one role.
Old clients speak IPv4 only, so a host is an IPv4 address or a host name.
"""

import re

import attr

from blissnode.patch.known import DEFAULT_PORTS, EVENT, LOGIN, SUPERNODE, is_ipv4

ROLES = (LOGIN, EVENT, SUPERNODE)

_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


class TargetError(ValueError):
    """A ``--server`` / per-role value that is not HOST[:PORT...]."""


@attr.s(frozen=True, slots=True)
class Endpoint:
    host = attr.ib()
    port = attr.ib()

    @property
    def is_ipv4(self):
        return is_ipv4(self.host)

    def __str__(self):
        return "%s:%d" % (self.host, self.port)


def _host(text, option):
    if is_ipv4(text) or (_NAME.match(text) and not text.replace(".", "").isdigit()):
        return text
    raise TargetError("%s: %r is not an IPv4 address or host name" % (option, text))


def _port(text, option):
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise TargetError("%s: port %r is not a number from 1 to 65535" % (option, text))
    return int(text)


def parse_server(value):
    """``HOST[:LOGIN[:EVENT[:SUPERNODE]]]`` -> {role: Endpoint}."""
    parts = value.split(":")
    if len(parts) > 4:
        raise TargetError("--server: %r has more than HOST:LOGIN:EVENT:SUPERNODE" % (value,))
    host = _host(parts[0], "--server")
    ports = [_port(p, "--server") for p in parts[1:]]
    return {role: Endpoint(host, ports[i] if i < len(ports) else DEFAULT_PORTS[role])
            for i, role in enumerate(ROLES)}


def parse_endpoint(value, role):
    """``HOST[:PORT]`` for one role (the port defaults to blissnode's)."""
    option = "--" + role
    host, sep, port = value.partition(":")
    return Endpoint(_host(host, option), _port(port, option) if sep else DEFAULT_PORTS[role])


def server_targets(server, login=None, event=None, supernode=None):
    """{role: Endpoint} from the option values (strings or None)."""
    targets = parse_server(server)
    for role, value in ((LOGIN, login), (EVENT, event), (SUPERNODE, supernode)):
        if value is not None:
            targets[role] = parse_endpoint(value, role)
    return targets
