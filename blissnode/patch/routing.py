"""
The routing alternative for an address ``patch-client`` could not rewrite
in place: how to send the client's traffic for that exact address and port
to this server without changing the binary.

* a host name: a hosts-file line (Windows
  ``C:\\Windows\\System32\\drivers\\etc\\hosts``, Linux/macOS ``/etc/hosts``);
* an IPv4 address, the client on another machine than the server: an
  iptables DNAT rule for that address:port, on the client's machine
  (``OUTPUT``) or on a Linux router in front of it (``PREROUTING``);
* an IPv4 address, client and server on one Linux machine (a test setup,
  e.g. the client under Wine): a loopback alias for the original address and
  a blissnode listener bound to it.

The supernode keys every UDP datagram with the address the client sent it
to (obfuscation.md 3.2), so a redirected supernode address also needs
``--public-ip`` set to the *original* address.
"""

from blissnode.patch.known import SUPERNODE

#: The twistd option of each role's listener(s) (blissnode/tap.py).
LISTENER_OPTIONS = {
    "login": ("login-tcp",),
    "event": ("event-tcp",),
    SUPERNODE: ("supernode-tcp", "supernode-udp"),
}


def _protocols(role):
    return ("tcp", "udp") if role == SUPERNODE else ("tcp",)


def _ip(endpoint):
    return endpoint.host if endpoint.is_ipv4 else "<IPv4 address of %s>" % (endpoint.host,)


def hosts_line(name, target):
    """The hosts-file line that sends ``name`` to ``target``'s host."""
    return "%s %s" % (_ip(target), name)


def dnat_rules(host, port, role, target):
    """iptables rules that send ``host:port`` to ``target`` (client machine)."""
    rules = []
    for proto in _protocols(role):
        match = "-p %s -d %s" % (proto, host)
        if port is not None:
            match += " --dport %d" % (port,)
        to = _ip(target) + (":%d" % target.port if port is not None else "")
        rules.append("iptables -t nat -A OUTPUT %s -j DNAT --to-destination %s" % (match, to))
    return rules


def loopback_recipe(host, port, role):
    """A loopback alias for ``host`` and the twistd options to listen there."""
    listen = " ".join("--%s %s:%d:interface=%s" % (opt, opt.rsplit("-", 1)[1], port, host)
                      for opt in LISTENER_OPTIONS[role])
    return ["ip addr add %s/32 dev lo" % (host,),
            "twistd -n blissnode %s" % (listen,)]


def routing_alternatives(address, target, port=None):
    """Lines telling how to route ``address`` (a KnownAddress) to ``target``
    (an :class:`~blissnode.patch.targets.Endpoint`); ``port`` is the port
    the client uses with it (default: the address's own)."""
    port = address.port if port is None else port
    if not address.is_ipv4:
        lines = ["hosts file: " + hosts_line(address.host, target)]
        if port != target.port:
            lines.append("and make the server listen on port %d (the client keeps it), "
                         "or DNAT %s:%d to port %d" % (port, _ip(target), port, target.port))
        return lines
    lines = ["DNAT: " + r for r in dnat_rules(address.host, port, address.role, target)]
    lines.append("(on a router in front of the client use -A PREROUTING instead of -A OUTPUT)")
    lines.extend("same machine: " + r for r in loopback_recipe(address.host, port, address.role))
    if address.role == SUPERNODE:
        lines.append("the supernode must then run with --public-ip %s (the client keys its "
                     "UDP datagrams with the address it sends to)" % (address.host,))
    return lines


def port_alternatives(target, port, role):
    """Lines for a client sent to ``target``'s host but on its own compiled-in
    ``port`` (an address rewritten without a port next to it)."""
    listen = " ".join("--%s %s:%d" % (opt, opt.rsplit("-", 1)[1], port)
                      for opt in LISTENER_OPTIONS[role])
    lines = ["listen on the client's port: twistd -n blissnode %s" % (listen,)]
    lines.extend("or DNAT: " + r for r in dnat_rules(_ip(target), port, role, target))
    return lines
