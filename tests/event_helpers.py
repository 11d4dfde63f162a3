"""Shared pieces of the event-server tests: the vector test keys, a real
event server over a real SQLite store on loopback, and the reference client."""

import os

from twisted.internet import defer, reactor, task

from blissnode.client.event import EventClientCore, connect_event
from blissnode.event.protocol import EventServerFactory, EventService
from blissnode.keys import ServerKey, ServerKeys
from blissnode.auth.limiter import FailedLoginLimiter
from blissnode.store.hashing import ScryptParams
from blissnode.store.sqlite import StoreService, database_path
from blissnode.versions.registry import VersionRegistry
from blissnode.wire.credentials import md5_credential
from blissnode.wire.rsa_raw import RsaPrivate
from tests.vectors import load_vectors

FAST = ScryptParams(n=2 ** 4, r=8, p=1)
LABELS = ["1.4.0.84", "2.5.0.151", "3.8.0.188", "4.1.0.130", "4.2.0.187",
          "5.5.0.124", "5.9.66.114", "6.16.0.105"]
LOOPBACK = "127.0.0.1"


def _private(k):
    return RsaPrivate.from_primes(int(k["p"], 16), int(k["q"], 16))


def vector_keys():
    """The server keys of vectors/login.json (test_keys)."""
    tk = load_vectors("login.json")["test_keys"]
    return ServerKeys(ServerKey("login", None, _private(tk["server_login"])),
                      ServerKey("credential", None, _private(tk["cred"])))


KEYS = vector_keys()


def cred(name, password="pw"):
    return md5_credential(name, password)


def wait(seconds=0.02):
    return task.deferLater(reactor, seconds, lambda: None)


class RecordingEventFactory(EventServerFactory):
    """Keeps the protocols it builds."""

    def buildProtocol(self, addr):
        p = EventServerFactory.buildProtocol(self, addr)
        self.__dict__.setdefault("built", []).append(p)
        return p


class EventServerMixin(object):
    """A real event server on 127.0.0.1 over a real SQLite store."""

    broadcast = {"delay": 0.0, "min_interval": 0.0}
    factory_kw = {}
    store_kw = {}
    limiter = None

    @defer.inlineCallbacks
    def setUp(self):
        directory = self.mktemp()
        os.makedirs(directory)
        self.store = StoreService(database_path(directory), params=FAST, **self.store_kw)
        self.store.startService()
        self.addCleanup(self.store.stopService)
        yield self.store.ready
        self.service = EventService.from_store(
            self.store, registry=VersionRegistry.from_plugins(), broadcast=self.broadcast,
            limiter=self.limiter if self.limiter is not None else FailedLoginLimiter(reactor))
        self.factory = RecordingEventFactory(KEYS, self.service, **self.factory_kw)
        self.port = reactor.listenTCP(0, self.factory, interface=LOOPBACK)
        self.addCleanup(self.port.stopListening)
        self.portnum = self.port.getHost().port

    def account(self, name, password="pw", **kw):
        return self.store.accounts.create_account(name, cred(name, password), **kw)

    def core(self, label, name, password="pw", **kw):
        kw.setdefault("credential16", cred(name, password))
        credential16 = kw.pop("credential16")
        return EventClientCore(label, name, credential16, KEYS.login.private.n, **kw)

    @defer.inlineCallbacks
    def connect(self, label, name, password="pw", start=True, **kw):
        session = yield connect_event(reactor, LOOPBACK, self.portnum,
                                      self.core(label, name, password, **kw))
        self.addCleanup(session.close)
        if start:
            yield session.start()
        return session
