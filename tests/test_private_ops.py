"""
RSA private operations off the reactor thread (blissnode.privateops, issue
14): the sans-IO session hands the seed decryption out (``DecryptSeed``) and
holds what arrives meanwhile; the login server, given ``private_ops``, runs
the decryption and the credential signature on the pool's threads.  Every
login test runs again that way.
"""

import os
import threading

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

import tests.test_login_protocol as login_tests
from blissnode.privateops import PrivateOps
from blissnode.wire import objects
from blissnode.wire.errors import ProtocolError
from blissnode.wire.server_session import (
    MAX_HELD_RECORDS,
    DecryptSeed,
    KeyExchanged,
    Record,
    ServerSide,
)
from blissnode.wire.server_transport import (
    CLIENT_HELLO,
    key_exchange_record,
    login_session_key,
    seal_server_record,
    session_seed_from_random,
    X_CLIENT_TO_SERVER,
)
from blissnode.wire.rsa_raw import raw_public
from tests.event_helpers import KEYS


def key_exchange(X):
    return key_exchange_record(objects.encode_objects(
        [objects.Blob(8, raw_public(X, KEYS.login.private.n)), objects.Int(9, 0x2000),
         objects.Int(0xC, 1)]))


class DeferredSeedTests(TestCase):

    def setUp(self):
        self.X = session_seed_from_random(os.urandom(24))
        self.key = login_session_key(self.X)

    def test_seed_handed_out_and_records_held(self):
        server = ServerSide(None)
        first = seal_server_record(b"request", self.key, X_CLIENT_TO_SERVER, 0)
        events = server.receive(CLIENT_HELLO + key_exchange(self.X) + first)
        decrypt = [e for e in events if isinstance(e, DecryptSeed)]
        self.assertEqual(len(decrypt), 1)
        self.assertFalse([e for e in events if isinstance(e, (KeyExchanged, Record))])
        self.assertEqual(server.state, "seed")
        self.assertFalse(server.ready)
        X = KEYS.login.private.raw(decrypt[0].blob)
        kx, record = server.seed_decrypted(X)
        self.assertIsInstance(kx, KeyExchanged)
        self.assertTrue(kx.seed_ok)
        self.assertEqual(server.open(record.record), (0, b"request"))
        self.assertRaises(ValueError, server.seed_decrypted, X)

    def test_same_events_as_inline(self):
        data = CLIENT_HELLO + key_exchange(self.X)
        inline = ServerSide(KEYS.login.private.raw).receive(data)
        later = ServerSide(None)
        events = later.receive(data)
        events = events[:-1] + later.seed_decrypted(KEYS.login.private.raw(events[-1].blob))
        self.assertEqual([type(e) for e in events], [type(e) for e in inline])
        self.assertEqual(events[-1].seed_ok, inline[-1].seed_ok)

    def test_failed_decryption_carries_on_with_a_random_key(self):
        server = ServerSide(None, random_bytes=lambda n: b"\x07" * n)
        server.receive(CLIENT_HELLO + key_exchange(self.X))
        [kx] = server.seed_decrypted(None, RuntimeError("CRT fault"))
        self.assertFalse(kx.seed_ok)
        self.assertIsInstance(kx.error, RuntimeError)
        self.assertTrue(server.ready)
        bad = ServerSide(None)
        bad.receive(CLIENT_HELLO + key_exchange(self.X))
        [kx] = bad.seed_decrypted(bytes(24))
        self.assertFalse(kx.seed_ok)
        self.assertIsInstance(kx.error, ProtocolError)

    def test_held_records_bounded(self):
        server = ServerSide(None)
        server.receive(CLIENT_HELLO + key_exchange(self.X))
        record = seal_server_record(b"x", self.key, X_CLIENT_TO_SERVER, 0)
        for _ in range(MAX_HELD_RECORDS):
            self.assertEqual(server.receive(record), [])
        self.assertRaises(ProtocolError, server.receive, record)


class RecordingPrivateOps(PrivateOps):
    def __init__(self, reactor):
        PrivateOps.__init__(self, reactor, size=2)
        self.threads = []
        self.functions = []

    def run(self, function, *args, **kwargs):
        def recorded(*a, **kw):
            self.threads.append(threading.current_thread().name)
            return function(*a, **kw)
        self.functions.append(getattr(function, "__name__", repr(function)))
        return PrivateOps.run(self, recorded, *args, **kwargs)


class PrivateOpsLoginTests(login_tests.LoginTests):
    """The login tests with the RSA operations on the pool."""

    def make_factory(self, **kw):
        factory = login_tests.LoopbackMixin.make_factory(self, **kw)
        factory.private_ops = self.private_ops = RecordingPrivateOps(reactor)
        self.addCleanup(self.private_ops.stop)
        return factory

    @defer.inlineCallbacks
    def test_private_operations_ran_on_the_pool(self):
        name = "poolcheck1"
        yield self.store.create_account(name, login_tests.md5_credential(name, "pw"))
        result = yield self.login("6.16.0.105", name, "pw")
        self.assertTrue(result.ok)
        self.assertEqual(len(self.private_ops.threads), 2)  # seed decryption + signature
        for thread in self.private_ops.threads:
            self.assertIn("blissnode-rsa", thread)
        self.assertIn("build_credential", self.private_ops.functions)


def _priority_of_this_thread():
    """(scheduling policy, niceness) of the calling thread."""
    tid = threading.get_native_id()
    return os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)


class PriorityTests(TestCase):
    """The pool threads run below the reactor thread, as ``priority`` says
    (Linux: SCHED_IDLE for ``idle``, niceness +10 for ``low``)."""

    def _run_in(self, pool):
        self.addCleanup(pool.stop)
        return pool.run(_priority_of_this_thread)

    @defer.inlineCallbacks
    def test_default_is_idle(self):
        policy, _nice = yield self._run_in(PrivateOps(reactor, size=1))
        self.assertEqual(policy, os.SCHED_IDLE)

    @defer.inlineCallbacks
    def test_low_is_niceness_10(self):
        base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        policy, nice = yield self._run_in(PrivateOps(reactor, size=1, priority="low"))
        self.assertEqual(policy, os.SCHED_OTHER)
        self.assertEqual(nice, min(19, base + 10))

    @defer.inlineCallbacks
    def test_normal_is_the_reactors(self):
        here = _priority_of_this_thread()
        got = yield self._run_in(PrivateOps(reactor, size=1, priority="normal"))
        self.assertEqual(got, here)

    @defer.inlineCallbacks
    def test_hash_pool_is_idle_too(self):
        from blissnode.store.hashpool import HashPool
        pool = HashPool(reactor, size=1)
        pool.start()
        policy, _nice = yield self._run_in(pool)
        self.assertEqual(policy, os.SCHED_IDLE)

    def test_unknown_priority_is_refused(self):
        from blissnode.store.hashpool import lower_this_thread
        self.assertRaises(ValueError, lower_this_thread, "realtime")
