"""
The management API: JSON over :mod:`twisted.web`, one route table that
both dispatches requests and describes them in ``/api/openapi.json``.

Every route but the OpenAPI document, the public setup data and the
(separately enabled) sign-up needs ``Authorization: Bearer <token>`` (the
token file of :mod:`blissnode.admin.tokens`).  Bodies are JSON
(``Content-Type: application/json``, at most :data:`MAX_BODY` bytes), which
also keeps a plain cross-site form from posting to it.  Store errors become
4xx answers with one ``error`` line; anything else is a logged 500.
"""

import json
import re

import attr
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import resource, server

from blissnode.admin.metrics import CONTENT_TYPE_LATEST, render_metrics
from blissnode.admin.tokens import token_matches
from blissnode.auth.passwords import WeakPassword
from blissnode.logthrottle import LogThrottle
from blissnode.ratelimit import TokenBuckets
from blissnode.store.errors import (
    AccountExists,
    InvalidField,
    InvalidName,
    NoSuchAccount,
    StoreError,
)

__all__ = ["ApiResource", "ApiContext", "ROUTES", "openapi_document", "MAX_BODY"]

log = Logger()

#: Largest request body read (bytes).
MAX_BODY = 64 * 1024

#: Sign-ups per source address: one per minute on average, bursts of 3.
SIGNUP_RATE = 1 / 60.0
SIGNUP_BURST = 3


class ApiError(Exception):
    def __init__(self, status, message):
        Exception.__init__(self, message)
        self.status = status
        self.message = message


@attr.s
class ApiContext(object):
    """What the routes work on.

    ``accounts`` an :class:`~blissnode.admin.accounts.AccountOperations`;
    ``status`` a :class:`~blissnode.admin.status.ServerStatus`;
    ``registration`` a :class:`~blissnode.admin.accounts.RegistrationSwitch`;
    ``setup`` a callable returning the public setup data (keys, addresses);
    ``metrics`` a prometheus registry; ``signup_open`` whether ``/api/signup``
    accepts new accounts; ``clock`` the reactor.
    """

    token = attr.ib(repr=False)
    accounts = attr.ib()
    status = attr.ib()
    registration = attr.ib()
    setup = attr.ib()
    metrics = attr.ib()
    clock = attr.ib()
    signup_open = attr.ib(default=False)
    signups = attr.ib(default=None)

    def __attrs_post_init__(self):
        if self.signups is None:
            self.signups = TokenBuckets(SIGNUP_RATE, SIGNUP_BURST, self.clock.seconds)


@attr.s(frozen=True)
class Route(object):
    method = attr.ib()
    path = attr.ib()          # "/api/accounts/{name}"
    handler = attr.ib()       # name of an ApiResource method
    summary = attr.ib()
    auth = attr.ib(default=True)
    body = attr.ib(default=None)   # {field: (type, required, description)}

    @property
    def pattern(self):
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


_PASSWORD = ("string", True, "the new password (the password policy applies)")

ROUTES = [
    Route("GET", "/api/openapi.json", "openapi", "This document.", auth=False),
    Route("GET", "/api/status", "get_status",
          "Uptime, live sessions per role and version, users online, start rates."),
    Route("GET", "/api/accounts", "list_accounts", "Every account (never a hash)."),
    Route("POST", "/api/accounts", "create_account", "Create an account.",
          body={"name": ("string", True, "the Skype name (6-32 characters)"),
                "password": _PASSWORD,
                "email": ("string", False, "e-mail address"),
                "full_name": ("string", False, "full name")}),
    Route("GET", "/api/accounts/{name}", "show_account", "One account."),
    Route("DELETE", "/api/accounts/{name}", "delete_account",
          "Delete an account and everything it owns; ends its live sessions."),
    Route("POST", "/api/accounts/{name}/password", "set_password",
          "Set a new password; ends the account's live sessions.", body={"password": _PASSWORD}),
    Route("POST", "/api/accounts/{name}/suspend", "suspend_account",
          "Refuse the account at sign-in (reversible); ends its live sessions.",
          body={"reason": ("string", False, "a note for operators (never sent to a client)")}),
    Route("POST", "/api/accounts/{name}/unsuspend", "unsuspend_account",
          "Let a suspended account sign in again."),
    Route("GET", "/api/sessions", "list_sessions",
          "Live sessions of this process: role, users, address, client version, since."),
    Route("DELETE", "/api/sessions/{session_id}", "kick_session", "End one live session."),
    Route("GET", "/api/keys", "get_keys",
          "The server's public keys: fingerprints, moduli big-endian and in client order."),
    Route("GET", "/api/registration", "get_registration",
          "Whether clients may sign up from their own screen."),
    Route("PUT", "/api/registration", "set_registration",
          "Open or close sign-up from the clients' screen (until restart).",
          body={"open": ("boolean", True, "true = open")}),
    Route("GET", "/api/queues", "get_queues",
          "Offline-message queues: messages and bytes waiting per recipient."),
    Route("GET", "/api/setup", "get_setup",
          "Public: what a client needs to use this server (addresses, public keys).",
          auth=False),
    Route("POST", "/api/signup", "signup",
          "Public, when the sign-up page is enabled: create an account.", auth=False,
          body={"name": ("string", True, "the Skype name"), "password": _PASSWORD}),
    Route("GET", "/metrics", "metrics", "Prometheus metrics (text exposition)."),
]

_JSON_TYPES = {"string": str, "boolean": bool}


def openapi_document(routes=ROUTES):
    """The OpenAPI 3.0 description of ``routes``."""
    paths = {}
    for route in routes:
        op = {"summary": route.summary, "operationId": route.handler,
              "responses": {"200": {"description": "OK"},
                            "400": {"description": "Bad request"},
                            "401": {"description": "Missing or wrong token"},
                            "404": {"description": "Not found"}}}
        params = re.findall(r"\{(\w+)\}", route.path)
        if params:
            op["parameters"] = [{"name": p, "in": "path", "required": True,
                                 "schema": {"type": "string"}} for p in params]
        if not route.auth:
            op["security"] = []
        if route.body:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"type": "object",
                           "required": [k for k, (_t, req, _d) in route.body.items() if req],
                           "properties": {k: {"type": t, "description": d}
                                          for k, (t, _req, d) in route.body.items()}}}}}
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "blissnode management API", "version": "1"},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": paths,
    }


def _account_json(account):
    return account.to_json()


class ApiResource(resource.Resource):
    """The JSON routes under ``/api`` and ``/metrics`` (mounted by the site)."""

    isLeaf = True

    def __init__(self, context, prefix=""):
        resource.Resource.__init__(self)
        self.context = context
        self.prefix = prefix
        self.throttle = LogThrottle(context.clock.seconds, logger=log)

    # -- dispatch ----------------------------------------------------------------------

    def render(self, request):
        path = self.prefix + "/" + "/".join(p.decode("utf-8", "replace")
                                            for p in request.postpath)
        path = path.rstrip("/") or "/"
        method = request.method.decode("ascii", "replace")
        d = defer.maybeDeferred(self._dispatch, request, method, path)
        d.addCallbacks(lambda answer: self._answer(request, *answer),
                       lambda failure: self._failed(request, failure))
        return server.NOT_DONE_YET

    def _dispatch(self, request, method, path):
        allowed = []
        for route in ROUTES:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            if route.auth and not self._authorised(request):
                raise ApiError(401, "missing or wrong token")
            body = self._body(request, route) if route.body is not None else {}
            return defer.maybeDeferred(getattr(self, route.handler), request,
                                       body, **match.groupdict()).addCallback(
                lambda value: (200, value) if not isinstance(value, tuple) else value)
        if allowed:
            raise ApiError(405, "use %s" % (", ".join(sorted(allowed)),))
        raise ApiError(404, "no such resource")

    def _authorised(self, request):
        header = request.getHeader("authorization") or ""
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and token_matches(self.context.token, token.strip())

    def _body(self, request, route):
        if request.method == b"PUT" or request.method == b"POST":
            ctype = (request.getHeader("content-type") or "").split(";")[0].strip().lower()
            raw = request.content.read(MAX_BODY + 1) if request.content is not None else b""
            if len(raw) > MAX_BODY:
                raise ApiError(413, "body larger than %d bytes" % (MAX_BODY,))
            if not raw:
                data = {}
            elif ctype != "application/json":
                raise ApiError(415, "send application/json")
            else:
                try:
                    data = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    raise ApiError(400, "the body is not JSON")
            if not isinstance(data, dict):
                raise ApiError(400, "the body must be a JSON object")
        else:
            data = {}
        for field, (kind, required, _d) in route.body.items():
            value = data.get(field)
            if value is None:
                if required:
                    raise ApiError(400, "missing field %r" % (field,))
                continue
            if not isinstance(value, _JSON_TYPES[kind]):
                raise ApiError(400, "field %r must be a %s" % (field, kind))
        return data

    def _answer(self, request, status, value):
        if request.finished or getattr(request, "_disconnected", False):
            return
        request.setResponseCode(status)
        request.setHeader("cache-control", "no-store")
        request.setHeader("x-content-type-options", "nosniff")
        if isinstance(value, bytes):  # /metrics
            request.setHeader("content-type", CONTENT_TYPE_LATEST)
            request.write(value)
        else:
            request.setHeader("content-type", "application/json")
            request.write(json.dumps(value, sort_keys=True).encode("utf-8"))
        request.finish()

    def _failed(self, request, failure):
        error = failure.value
        if isinstance(error, ApiError):
            status, message = error.status, error.message
        elif isinstance(error, NoSuchAccount):
            status, message = 404, "no such account"
        elif isinstance(error, AccountExists):
            status, message = 409, str(error)
        elif isinstance(error, (WeakPassword, InvalidName, InvalidField)):
            status, message = 400, str(error)
        elif isinstance(error, StoreError):
            status, message = 503, "the database failed: %s" % (error,)
            log.failure("admin: store error", failure)
        else:
            status, message = 500, "server error"
            self.throttle.failure("admin", "bug", "admin: request failed", failure)
        if status == 401:
            peer = getattr(request.getClientAddress(), "host", "?")
            self.throttle.info(peer, "token", "admin: {peer}: refused (no or wrong token)",
                               peer=peer)
        self._answer(request, status, {"error": message})

    # -- routes ------------------------------------------------------------------------

    def openapi(self, request, body):
        return openapi_document()

    def get_status(self, request, body):
        return self.context.status.to_json(self.context.registration.is_open)

    def list_accounts(self, request, body):
        return self.context.accounts.list().addCallback(
            lambda found: {"accounts": [_account_json(a) for a in found]})

    def create_account(self, request, body):
        d = self.context.accounts.create(body["name"], body["password"],
                                         email=body.get("email"),
                                         full_name=body.get("full_name"))
        return d.addCallback(lambda account: (201, _account_json(account)))

    @defer.inlineCallbacks
    def show_account(self, request, body, name):
        account = yield self.context.accounts.show(name)
        if account is None:
            raise ApiError(404, "no such account")
        return _account_json(account)

    def delete_account(self, request, body, name):
        return self.context.accounts.delete(name).addCallback(lambda _: {"deleted": name})

    def set_password(self, request, body, name):
        return self.context.accounts.passwd(name, body["password"]).addCallback(_account_json)

    def suspend_account(self, request, body, name):
        return self.context.accounts.suspend(name, body.get("reason")).addCallback(
            _account_json)

    def unsuspend_account(self, request, body, name):
        return self.context.accounts.unsuspend(name).addCallback(_account_json)

    def list_sessions(self, request, body):
        return {"sessions": [info.to_json() for info in self.context.status.sessions()]}

    def kick_session(self, request, body, session_id):
        if not self.context.accounts.core.end_session(session_id, "ended by an operator"):
            raise ApiError(404, "no such session")
        return {"ended": session_id}

    def get_keys(self, request, body):
        return self.context.setup()["keys"]

    def get_registration(self, request, body):
        return {"open": self.context.registration.is_open}

    def set_registration(self, request, body):
        return {"open": self.context.registration.set(body["open"])}

    def get_queues(self, request, body):
        return self.context.accounts.queue_sizes().addCallback(lambda rows: {"queues": [
            {"recipient": name, "messages": count, "bytes": size}
            for name, count, size in rows]})

    def get_setup(self, request, body):
        return self.context.setup()

    def signup(self, request, body):
        if not self.context.signup_open:
            raise ApiError(403, "sign-up is not enabled on this server")
        peer = getattr(request.getClientAddress(), "host", "?")
        if not self.context.signups.take(peer):
            raise ApiError(429, "too many sign-ups from your address; try later")
        d = self.context.accounts.create(body["name"], body["password"])

        def created(account):
            log.info("admin: {peer} signed up the account {name} on the web page",
                     peer=peer, name=account.name)
            return 201, {"name": account.name}
        return d.addCallback(created)

    def metrics(self, request, body):
        return render_metrics(self.context.metrics)
