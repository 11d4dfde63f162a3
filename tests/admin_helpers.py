"""A whole server (what ``twistd -n blissnode --admin ...`` runs) on
loopback, and a small JSON client for its admin listener."""

import io
import json
import os

from twisted.internet import defer, reactor
from twisted.web.client import Agent, FileBodyProducer, readBody
from twisted.web.http_headers import Headers

from blissnode.admin.tokens import TOKEN_FILE
from blissnode.keys import load_server_keys
from tests.service_helpers import start_service

LOOPBACK = "127.0.0.1"


class AdminServerMixin(object):
    """``self.service`` (started), ``self.ports`` by listener name,
    ``self.token``, ``self.url``; :meth:`call` talks JSON to the API."""

    extra_options = ()

    @defer.inlineCallbacks
    def setUp(self):
        self.data_dir = os.path.abspath(os.path.join(self.mktemp(), "data"))
        self.service, self.ports = yield start_service(self, [
            "--data-dir", self.data_dir, "--public-ip", LOOPBACK,
            "--supernode-tcp", "tcp:0:interface=127.0.0.1",
            "--supernode-udp", "udp:0:interface=127.0.0.1",
            "--supernode-https", "none",
            "--login-tcp", "tcp:0:interface=127.0.0.1",
            "--event-tcp", "tcp:0:interface=127.0.0.1",
            "--admin", "tcp:0:interface=127.0.0.1"] + list(self.extra_options))
        with open(os.path.join(self.data_dir, TOKEN_FILE)) as f:
            self.token = f.read().strip()
        self.url = "http://127.0.0.1:%d" % (self.ports["admin"],)
        keys = load_server_keys(self.data_dir)
        self.login_n, self.cred_n = keys.login_modulus, keys.credential_modulus
        self.agent = Agent(reactor)

    @defer.inlineCallbacks
    def call(self, method, path, body=None, token=True, raw=None, content_type=None):
        """``(status, decoded JSON or text)``."""
        headers = Headers()
        if token:
            headers.addRawHeader(b"authorization",
                                 b"Bearer " + (self.token if token is True else token).encode())
        producer = None
        if body is not None or raw is not None:
            data = raw if raw is not None else json.dumps(body).encode()
            headers.addRawHeader(b"content-type",
                                 (content_type or "application/json").encode())
            producer = FileBodyProducer(io.BytesIO(data))
        response = yield self.agent.request(method.encode(), (self.url + path).encode(),
                                            headers, producer)
        text = yield readBody(response)
        ctype = response.headers.getRawHeaders(b"content-type", [b""])[0]
        if ctype.startswith(b"application/json"):
            return response.code, json.loads(text)
        return response.code, text.decode("utf-8")
