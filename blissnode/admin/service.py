"""
:func:`make_admin`: the admin listener of ``--admin`` (management API, web
pages, ``/metrics``) over the process's core, store and login factory.

Off unless ``--admin`` names an endpoint.  It sees and acts on the sessions
of its own process only (one process = every role; with ``--workers`` the
API is not offered, docs/operating.rst).
"""

from twisted.logger import Logger
from twisted.web import server

from blissnode.admin.accounts import AccountOperations, RegistrationSwitch
from blissnode.admin.api import ApiContext
from blissnode.admin.metrics import make_registry
from blissnode.admin.status import ServerStatus
from blissnode.admin.tokens import TokenFileError, load_or_create_token
from blissnode.admin.web import make_site_root
from blissnode.auth.passwords import DEFAULT_MIN_LENGTH, PasswordPolicy
from blissnode.keys import KeyFileError, describe_key, load_server_keys
from blissnode.listeners import StreamListenerService, is_disabled

__all__ = ["make_admin", "ADMIN_LISTENER"]

log = Logger()

#: The service name of the admin listener.
ADMIN_LISTENER = "admin"


def _port_of(description):
    parts = description.split(":")
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None


def setup_data(options, data_dir, listeners, signup_open):
    """A callable returning what ``/setup`` and ``/api/setup`` show: the
    public address, the client-facing ports and the public keys (read from
    the data directory on each call, so keys made after start-up appear)."""
    ports = {}
    for option, label in (("supernode-tcp", "supernode"), ("login-tcp", "login"),
                          ("event-tcp", "event"), ("supernode-https", "supernode-https")):
        description = options[option]
        if is_disabled(description):
            continue
        service = listeners.get(option)
        port = getattr(getattr(service, "port", None), "getHost", None)
        ports[label] = port().port if port is not None else _port_of(description)

    def setup():
        try:
            keys = load_server_keys(data_dir.path)
            described = {"login": describe_key(keys.login),
                         "credential": describe_key(keys.credential)}
            for info in described.values():
                info.pop("file", None)  # the data directory's layout is not public
        except KeyFileError:
            described = {}
        return {"public_ip": options["public-ip"], "ports": ports, "keys": described,
                "signup_open": signup_open}
    return setup


def make_admin(options, top, data_dir, store, login_factory=None, reactor=None, roles=()):
    """The admin :class:`StreamListenerService` (added to ``top``), or None
    when ``--admin`` is off.  A bad token file stops the start with one line."""
    description = options.get("admin", "none")
    if is_disabled(description):
        return None
    if reactor is None:
        from twisted.internet import reactor
    try:
        token = load_or_create_token(data_dir.path)
    except (TokenFileError, OSError) as e:
        raise SystemExit("blissnode: cannot start the admin listener: %s" % (e,))
    policy = PasswordPolicy(int(options.get("password-min-length", DEFAULT_MIN_LENGTH)))
    signup_open = options.get("admin-signup", "closed") == "open"
    registration = RegistrationSwitch(login_factory)
    status = ServerStatus(top.core, reactor, roles)
    context = ApiContext(
        token=token, accounts=AccountOperations(store, top.core, policy), status=status,
        registration=registration, setup=_LazySetup(options, data_dir, top, signup_open),
        metrics=make_registry(status, registration), clock=reactor, signup_open=signup_open)
    site = server.Site(make_site_root(context, policy.min_length))
    site.displayTracebacks = False
    site.noisy = False
    listener = StreamListenerService(ADMIN_LISTENER, description, site, reactor=reactor)
    listener.setServiceParent(top)
    top.admin = context
    log.info("admin: management API and web page on {description} (sign-up page {signup})",
             description=description, signup="enabled" if signup_open else "off")
    return listener


class _LazySetup(object):
    """setup_data, computed at call time (listeners bound by then)."""

    def __init__(self, options, data_dir, top, signup_open):
        self.options, self.data_dir, self.top = options, data_dir, top
        self.signup_open = signup_open

    def __call__(self):
        listeners = {child.name: child for child in self.top}
        return setup_data(self.options, self.data_dir, listeners, self.signup_open)()
