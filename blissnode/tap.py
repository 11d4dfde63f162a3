"""
The twistd application: ``twistd -n blissnode``.

:class:`Options` is the command line of the plugin, :func:`makeService`
turns it into one :class:`~twisted.application.service.MultiService` holding
every listener of every role.  Tests build the same service with the same
function, so what runs under twistd is what is tested.
"""

from twisted.application import service
from twisted.logger import Logger
from twisted.python import usage

from blissnode.datadir import ensure_data_dir
from blissnode.listeners import (
    StreamListenerService,
    UDPListenerService,
    is_disabled,
    parse_udp_description,
)
from blissnode.placeholder import PendingRoleDatagrams, PendingRoleFactory

log = Logger()

#: (option, default, role, transport, help). Defaults are unprivileged ports so
#: that a fresh machine can run the server as an ordinary user; a deployment
#: for real clients maps them to what the clients expect (see docs/).
LISTENERS = [
    ("supernode-tcp", "tcp:33000", "supernode", "tcp",
     "Main supernode TCP listener (Twisted server endpoint string). "
     "Clients connect over TCP to the same port number that answered their "
     "UDP probe, so keep it equal to the --supernode-udp port."),
    ("supernode-udp", "udp:33000", "supernode", "udp",
     "Main supernode UDP listener: udp:PORT[:interface=ADDR]."),
    ("supernode-https", "tcp:4433", "supernode", "tcp",
     "Main supernode listener for the port-443 'HTTPS' prelude (real "
     "clients use port 443; map it there in a deployment)."),
    ("login-tcp", "tcp:33033", "login", "tcp",
     "Login server listener (the clients' compiled-in port is 33033)."),
    ("event-tcp", "tcp:12350", "event", "tcp",
     "Event (contact-list) server listener (the clients use port 12350)."),
]


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Run the blissnode servers (main supernode, login server, event "
        "server) for old peer-to-peer Skype clients.  Every listener takes a "
        "Twisted server endpoint string (UDP: udp:PORT[:interface=ADDR]); "
        "the word 'none' switches a listener off.")

    optParameters = [
        ["data-dir", "d", "blissnode-data",
         "Directory for keys and the embedded database; created on first run."],
    ] + [[name, None, default, helptext]
         for (name, default, _role, _transport, helptext) in LISTENERS]

    def postOptions(self):
        for name, _default, _role, transport, _help in LISTENERS:
            value = self[name]
            if transport == "udp" and not is_disabled(value):
                try:
                    parse_udp_description(value)
                except ValueError as e:
                    raise usage.UsageError("--%s: %s" % (name, e))


def makeService(options, reactor=None):
    """Build the MultiService for ``options`` (an :class:`Options` or dict)."""
    data_dir = ensure_data_dir(options["data-dir"])
    log.info("blissnode data directory: {path}", path=data_dir.path)
    top = service.MultiService()
    for name, _default, role, transport, _help in LISTENERS:
        description = options[name]
        if is_disabled(description):
            log.info("{name} disabled", name=name)
            continue
        if transport == "udp":
            listener = UDPListenerService(
                name, description, PendingRoleDatagrams(role), reactor=reactor)
        else:
            listener = StreamListenerService(
                name, description, PendingRoleFactory(role), reactor=reactor)
        listener.setServiceParent(top)
    return top
