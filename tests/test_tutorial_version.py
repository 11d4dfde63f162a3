"""
The example of docs/adding-a-version.rst, run for real.

The tutorial's package lives in ``tests/tutorial_example/`` (the docs
include those files with ``literalinclude``): ``skype621/handlers.py``
subclasses the event handlers that serve 6.16 and overrides one request,
``blissnode/plugins/skype621_version.py`` declares the version as a Twisted
plugin.  This test copies the tree into a temporary directory, puts it on
``sys.path`` (as ``pip install`` would), checks that the registry finds the
version, and talks to an event server with the reference client imitating
6.21.0.104.
"""

import os
import shutil
import sys

from twisted.internet import defer, reactor
from twisted.plugin import pluginPackagePaths
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyClass

import blissnode.plugins
from blissnode.client.profiles import profile_for
from blissnode.client.tcp import connect_supernode
from blissnode.client.transcript import Transcript
from blissnode.event.interfaces import IEventHandlers
from blissnode.supernode.node import SupernodeConfig, SupernodeNode
from blissnode.supernode.tcp import SupernodeTCPFactory
from blissnode.versions.v6_16_0_105 import EventHandlers as EventHandlers616
from blissnode.versions.registry import VersionRegistry
from tests.event_helpers import LABELS, EventServerMixin

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tutorial_example")


class TutorialPackageMixin(object):
    """Install the tutorial's package from a temporary copy of its files."""

    def install_example(self):
        base = os.path.abspath(self.mktemp())
        shutil.copytree(EXAMPLE, base, ignore=shutil.ignore_patterns("__pycache__",
                                                                     "dropin.cache"))
        sys.path.insert(0, base)
        added = [p for p in pluginPackagePaths(blissnode.plugins.__name__)
                 if p not in blissnode.plugins.__path__]
        blissnode.plugins.__path__.extend(added)

        def uninstall():
            sys.path.remove(base)
            for p in added:
                blissnode.plugins.__path__.remove(p)
            for name in list(sys.modules):
                if name == "skype621" or name.startswith("skype621.") \
                        or name == "blissnode.plugins.skype621_version":
                    del sys.modules[name]
        self.addCleanup(uninstall)
        return base


class TutorialTests(TutorialPackageMixin, EventServerMixin, TestCase):
    timeout = 60

    def setUp(self):
        self.install_example()
        self.registry = VersionRegistry.from_plugins()
        return EventServerMixin.setUp(self)

    def test_discovered_as_a_plugin(self):
        labels = [v.label for v in self.registry]
        self.assertEqual(labels, LABELS + ["6.21.0.104"])
        version = self.registry.get("6.21.0.104")
        cls = self.registry.handlers(version, "event")
        self.assertTrue(issubclass(cls, EventHandlers616))
        self.assertTrue(verifyClass(IEventHandlers, cls))
        # The role it does not define comes from the nearest older version.
        newest = self.registry.get("6.16.0.105")
        self.assertIs(self.registry.handlers(version, "login"),
                      self.registry.handlers(newest, "login"))

    @defer.inlineCallbacks
    def test_its_cmd31_reaches_the_wire(self):
        """The changed cmd 31 is sent before the client names its version:
        the version's ``recognise`` picks it from cmd 30's stack version,
        and the reference client imitating 6.21 (its declared profile)
        receives it over a real connection."""
        node = SupernodeNode(SupernodeConfig(public_ip="127.0.0.1", seed_pool_size=8),
                             registry=self.registry, reactor=reactor)
        port = reactor.listenTCP(0, SupernodeTCPFactory(node), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        node.config.tcp_port = port.getHost().port
        profile = profile_for("6.21.0.104")
        self.assertEqual(profile.stack_version, 53)
        for label, stack, extra in (("6.21.0.104", 53, 1), ("6.16.0.105", 52, None)):
            session = yield connect_supernode(reactor, "127.0.0.1", node.config.tcp_port,
                                              profile_for(label), transcript=Transcript())
            accepted = yield session.accept()
            self.assertEqual(accepted.reply.cmd, 31, label)
            self.assertEqual(accepted.stack_version, stack, label)
            self.assertEqual(accepted.objects.value(0x99), extra, label)
            yield session.close()
        for s in list(node.tcp_sessions.all()):
            s.transport.loseConnection()
        node.stop()

    @defer.inlineCallbacks
    def test_with_the_reference_client(self):
        self.service.registry = self.registry
        yield self.account("alice621")
        yield self.account("bobby621")
        new = yield self.connect("6.21.0.104", "alice621")
        old = yield self.connect("6.16.0.105", "bobby621")
        cursor, _ = yield new.pending_events()
        self.assertEqual(cursor, 10 ** 9)
        yield new.add_contact("bobby621")
        cursor, _ = yield new.pending_events()
        self.assertEqual(cursor, 10 ** 9 + 1)
        cursor, pending = yield old.pending_events()
        self.assertEqual((cursor, pending), (1, 1))
        # Everything else is 6.16's behaviour.
        entries = yield new.contacts()
        self.assertEqual([e.key for e in entries], ["u/bobby621"])
        self.assertEqual(self.factory.built[-2].handlers.__class__.__name__, "EventHandlers")
        self.assertEqual(self.factory.built[-2].handlers.version.label, "6.21.0.104")


class TutorialLeavesNoTraceTests(TestCase):
    def test_registry_has_the_eight(self):
        self.assertEqual([v.label for v in VersionRegistry.from_plugins()], LABELS)
