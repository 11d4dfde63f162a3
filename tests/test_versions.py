"""The eight client version modules, their plugin discovery and the registry."""

import json
import os
import subprocess
import sys
import textwrap

from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import TestCase
from zope.interface import implementer
from zope.interface.verify import verifyClass, verifyObject

from blissnode.supernode.handlers import SupernodeHandlers
from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.supernode.request import UDP, Request
from blissnode.versions import v1_4_0_84
from blissnode.versions.base import GUESSED, TESTED, UNKNOWN, ClientVersion
from blissnode.versions.interfaces import IClientVersion
from blissnode.versions.registry import (
    OLDEST, REJECT, UnknownVersion, VersionRegistry, parse_version_string)
from blissnode.wire.objects import NetAddr
from blissnode.wire.tcp_commands import KIND_REQUEST, Command

LABELS = ["1.4.0.84", "2.5.0.151", "3.8.0.188", "4.1.0.130", "4.2.0.187",
          "5.5.0.124", "5.9.66.114", "6.16.0.105"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Node:
    """Just enough of SupernodeNode for the node-list handler."""

    def public_address(self):
        return NetAddr("127.0.0.1", 33000)


def _node_list_items(handlers):
    request = Request(Command(44, KIND_REQUEST, 7, b"\x41\x00"), None,
                      ("127.0.0.1", 5000), _Node(), UDP)
    (reply,) = handlers.udp_node_list(request)
    return [(item.TYPE, item.id) for item in reply.objects()]


class RegistryTests(TestCase):
    def setUp(self):
        self.registry = VersionRegistry.from_plugins()
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def test_exactly_the_eight(self):
        self.assertEqual([v.label for v in self.registry.versions()], LABELS)

    def test_only_41_is_beta(self):
        self.assertEqual([v.label for v in self.registry if v.beta], ["4.1.0.130"])

    def test_exact_versions_resolve_to_themselves(self):
        for label in LABELS:
            resolution = self.registry.resolve(label)
            self.assertTrue(resolution.exact, label)
            self.assertEqual(resolution.version.label, label)
        self.assertEqual([e for e in self.events if e.get("log_level") == LogLevel.warn], [])

    def test_nearest_older_with_warning(self):
        for asked, served in [("5.6.0.1", "5.5.0.124"), ("2.0.0.1", "1.4.0.84"),
                              ("4.1.0.131", "4.1.0.130"), ("7.0.0.1", "6.16.0.105"),
                              ("6.22.0.1", "6.16.0.105"), ("3.8.0.189", "3.8.0.188")]:
            del self.events[:]
            resolution = self.registry.resolve(asked)
            self.assertFalse(resolution.exact, asked)
            self.assertEqual(resolution.version.label, served, asked)
            warnings = [e for e in self.events if e.get("log_level") == LogLevel.warn]
            self.assertEqual(len(warnings), 1, asked)
            self.assertEqual(warnings[0]["requested"], asked)
            self.assertEqual(warnings[0]["served"], served)

    def test_older_than_every_version_is_refused(self):
        # The default (login and event servers): too old is refused.
        self.assertRaises(UnknownVersion, self.registry.resolve, "1.2.0.18")
        self.assertRaises(UnknownVersion, self.registry.resolve, "1.2.0.18", older=REJECT)
        self.assertEqual([e for e in self.events if e.get("log_level") == LogLevel.warn], [])

    def test_older_than_every_version_served_as_oldest(self):
        # The supernode's choice: the real 1.2.0.18 client keeps its session.
        resolution = self.registry.resolve((1, 2, 0, 18), older=OLDEST)
        self.assertFalse(resolution.exact)
        self.assertEqual(resolution.requested, (1, 2, 0, 18))
        self.assertEqual(resolution.version.label, "1.4.0.84")
        warnings = [e for e in self.events if e.get("log_level") == LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertEqual((warnings[0]["requested"], warnings[0]["served"]),
                         ("1.2.0.18", "1.4.0.84"))
        # Known and newer versions are unaffected by older=.
        self.assertTrue(self.registry.resolve("1.4.0.84", older=OLDEST).exact)
        self.assertEqual(self.registry.resolve("5.6.0.1", older=OLDEST).version.label,
                         "5.5.0.124")
        self.assertRaises(ValueError, self.registry.resolve, "1.2.0.18", older="newest")

    def test_older_than_every_version_under_reject_policy(self):
        strict = VersionRegistry.from_plugins(unknown_policy=REJECT)
        self.assertRaises(UnknownVersion, strict.resolve, "1.2.0.18", older=OLDEST)

    def test_reject_policy(self):
        strict = VersionRegistry.from_plugins(unknown_policy=REJECT)
        self.assertEqual(len(strict), 8)
        self.assertRaises(UnknownVersion, strict.resolve, "5.6.0.1")
        self.assertEqual(strict.resolve("5.5.0.124").version.label, "5.5.0.124")

    def test_version_strings_of_the_spec(self):
        for text, platform, number in [("0/6.16.0.10//", 0, (6, 16, 0, 10)),
                                       ("0/4.1.0.130//", 0, (4, 1, 0, 130)),
                                       ("2/1.2.0.18/", 2, (1, 2, 0, 18)),
                                       ("0/1.4.0.84", 0, (1, 4, 0, 84)),
                                       (b"0/6.16.0.105//", 0, (6, 16, 0, 105))]:
            self.assertEqual(parse_version_string(text), (platform, number), text)
        self.assertEqual(self.registry.resolve(parse_version_string("0/6.16.0.10//")[1])
                         .version.label, "6.16.0.105")
        self.assertEqual(self.registry.resolve(parse_version_string("0/1.4.0.84")[1])
                         .version.label, "1.4.0.84")
        for bad in ("", "0/", "0/abc//", "0/1.x.0.1/"):
            self.assertRaises(ValueError, parse_version_string, bad)


class HandlerClassTests(TestCase):
    def setUp(self):
        self.registry = VersionRegistry.from_plugins()

    def test_each_version_provides_the_interfaces(self):
        for version in self.registry:
            self.assertTrue(verifyObject(IClientVersion, version), version)
            cls = self.registry.handlers(version, "supernode")
            self.assertIs(cls, version.handlers["supernode"], version)
            self.assertTrue(verifyClass(ISupernodeHandlers, cls), version)
            self.assertTrue(ISupernodeHandlers.implementedBy(cls), version)
            self.assertTrue(ISupernodeHandlers.providedBy(cls(version)), version)
            self.assertTrue(issubclass(cls, SupernodeHandlers), version)

    def test_each_subclasses_the_nearest_older(self):
        versions = self.registry.versions()
        self.assertIs(versions[0].handlers["supernode"].__bases__[0], SupernodeHandlers)
        for older, newer in zip(versions, versions[1:]):
            self.assertIs(newer.handlers["supernode"].__bases__[0],
                          older.handlers["supernode"], newer)

    def test_facts_cover_every_feature(self):
        for version in self.registry:
            self.assertEqual(set(version.facts), set(v1_4_0_84.FEATURES), version)
            for feature, value in version.facts.items():
                self.assertIn(value, (TESTED, GUESSED, UNKNOWN), (version, feature))
            self.assertTrue(version.notes, version)

    def test_what_differs(self):
        for version in self.registry:
            cls = version.handlers["supernode"]
            new = version.number >= (5, 5)
            self.assertEqual(cls.STACK_VERSION, 52 if new else 44, version)
            items = _node_list_items(cls(version))
            if new:
                self.assertEqual(items, [(2, 0x11), (5, 0x1A)], version)
            else:
                self.assertEqual(items, [(2, 0x11), (5, 0x1A)], version)

    def test_node_list_layouts_with_several_nodes(self):
        class Many(object):
            def node_list(self, request):
                return [NetAddr("10.0.0.%d" % i, 1000 + i) for i in range(3)]
        registry = self.registry
        old = type("Old", (Many, registry.get("1.4.0.84").handlers["supernode"]), {})
        new = type("New", (Many, registry.get("6.16.0.105").handlers["supernode"]), {})
        self.assertEqual(_node_list_items(old(None)),
                         [(2, 0x11)] * 3 + [(5, 0x1A)] * 3)
        self.assertEqual(_node_list_items(new(None)),
                         [(2, 0x11), (5, 0x1A)] * 3)


class SeparatePackageTests(TestCase):
    """A version shipped by another distribution, in its own
    ``blissnode/plugins/`` directory on sys.path, is found as a plugin."""

    def test_discovered(self):
        base = self.mktemp()
        plugins = os.path.join(base, "blissnode", "plugins")
        os.makedirs(plugins)
        with open(os.path.join(plugins, "extra_version.py"), "w") as f:
            f.write(textwrap.dedent('''
                from zope.interface import implementer
                from blissnode.supernode.interfaces import ISupernodeHandlers
                from blissnode.versions.base import ClientVersion
                from blissnode.versions.v6_16_0_105 import Handlers as Older

                @implementer(ISupernodeHandlers)
                class Handlers(Older):
                    STACK_VERSION = 53

                EXTRA = ClientVersion("7.0.0.1", (7, 0, 0, 1), {"supernode": Handlers},
                                      notes="test")
            '''))
        script = textwrap.dedent('''
            import json
            from twisted.logger import globalLogPublisher
            events = []
            globalLogPublisher.addObserver(events.append)
            from blissnode.versions.registry import VersionRegistry
            r = VersionRegistry.from_plugins()
            v = r.resolve("7.0.0.1").version
            warned = [e.get("names") for e in events if e.get("label") == "7.0.0.1"]
            print(json.dumps({"labels": [x.label for x in r],
                              "stack": r.handlers(v, "supernode").STACK_VERSION,
                              "warned": warned}))
        ''')
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.abspath(base)]))
        out = subprocess.check_output([sys.executable, "-c", script], env=env, cwd=base)
        result = json.loads(out.decode().strip().splitlines()[-1])
        self.assertEqual(result["labels"], LABELS + ["7.0.0.1"])
        self.assertEqual(result["stack"], 53)
        # Its STACK_VERSION answers cmd 30, before cmd 37 names the version,
        # and it has no ``recognise``: the registry says it never reaches
        # the wire (the tutorial's version shows the way that does).
        self.assertEqual(len(result["warned"]), 1)
        self.assertIn("STACK_VERSION", result["warned"][0])


class ClientVersionTests(TestCase):
    def test_repr_and_number(self):
        v = ClientVersion("1.2.3.4", ["1", "2", "3", "4"])
        self.assertEqual(v.number, (1, 2, 3, 4))
        self.assertEqual(repr(v), "<ClientVersion 1.2.3.4>")


class RealVersionStringTests(TestCase):
    """ERRATA: the only 6.x version string seen on the wire is
    ``0/6.16.0.10//`` (a real 6.16 login, SOS2 log).  It was served as
    5.9.66.114 and refused under ``reject``; an unknown build of a known
    major.minor belongs to that version's module."""

    def setUp(self):
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def warnings(self):
        return [e for e in self.events if e.get("log_level") == LogLevel.warn]

    def test_real_616_string_is_616_under_both_policies(self):
        for policy in ("nearest", "reject"):
            registry = VersionRegistry.from_plugins(policy)
            resolution = registry.resolve_text("0/6.16.0.10//")
            self.assertEqual(resolution.version.label, "6.16.0.105", policy)
            self.assertTrue(resolution.exact, policy)  # a declared alias
        self.assertEqual(self.warnings(), [])

    def test_unknown_build_of_a_known_major_minor(self):
        registry = VersionRegistry.from_plugins("reject")
        resolution = registry.resolve_text("0/5.5.0.999//")
        self.assertEqual(resolution.version.label, "5.5.0.124")
        self.assertFalse(resolution.exact)
        resolution = registry.resolve((4, 1, 0, 7))
        self.assertEqual(resolution.version.label, "4.1.0.130")
        # A truly unknown version is still refused under reject.
        self.assertRaises(UnknownVersion, registry.resolve_text, "0/7.7.0.335//")

    def test_a_module_declares_strings_and_builds(self):
        base = ClientVersion("1.4.0.84", (1, 4, 0, 84), {"supernode": SupernodeHandlers})
        new = ClientVersion("6.30.0.1", (6, 30, 0, 1), {"supernode": SupernodeHandlers},
                            aliases=("3/6.30.0.1x//", (6, 29, 9, 9)))
        registry = VersionRegistry([base, new], "reject")
        self.assertIs(registry.resolve_text("3/6.30.0.1x//").version, new)
        self.assertIs(registry.resolve((6, 29, 9, 9)).version, new)
        other = ClientVersion("6.31.0.1", (6, 31, 0, 1), {}, aliases=((6, 29, 9, 9),))
        self.assertRaises(ValueError, registry.register, other)

    def test_unknown_version_warned_once_per_string(self):
        registry = VersionRegistry.from_plugins()
        for _ in range(8):
            self.assertEqual(registry.resolve_text("3/7.7.0.335").version.label, "6.16.0.105")
        self.assertEqual(len(self.warnings()), 1)
        registry.resolve_text("0/7.0.0.102//")
        self.assertEqual(len(self.warnings()), 2)

    def test_warned_strings_are_bounded(self):
        from blissnode.versions import registry as module

        registry = VersionRegistry.from_plugins()
        for i in range(module.MAX_WARNED + 50):
            registry.resolve_text("0/9.%d.0.1//" % (i,))
        self.assertEqual(len(self.warnings()), module.MAX_WARNED)
        self.assertEqual(registry.unwarned, 50)


class RegistrationRuleTests(TestCase):
    """Issue 10: a misspelt role, a class without the role interface, and
    an override that could never reach the wire are caught at registration."""

    def setUp(self):
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.base = ClientVersion("1.4.0.84", (1, 4, 0, 84), {"supernode": SupernodeHandlers})

    def warnings(self):
        return [e for e in self.events if e.get("log_level") == LogLevel.warn]

    def test_unknown_role_key(self):
        bad = ClientVersion("6.30.0.1", (6, 30, 0, 1), {"supernodes": SupernodeHandlers})
        with self.assertRaises(ValueError) as ctx:
            VersionRegistry([self.base, bad])
        self.assertIn("supernodes", str(ctx.exception))

    def test_handlers_without_the_interface(self):
        class NotHandlers(object):
            pass
        bad = ClientVersion("6.30.0.1", (6, 30, 0, 1), {"login": NotHandlers})
        self.assertRaises(TypeError, VersionRegistry, [self.base, bad])

    def test_pre_version_override_without_recognise_warns(self):
        @implementer(ISupernodeHandlers)
        class Handlers(SupernodeHandlers):
            STACK_VERSION = 53
        plain = ClientVersion("6.30.0.1", (6, 30, 0, 1), {"supernode": Handlers})
        VersionRegistry([self.base, plain])
        [line] = self.warnings()
        self.assertIn("STACK_VERSION", line["names"])
        del self.events[:]
        known = ClientVersion("6.30.0.1", (6, 30, 0, 1), {"supernode": Handlers},
                              recognise=lambda hints: hints.stack_version == 53)
        registry = VersionRegistry([self.base, known])
        self.assertEqual(self.warnings(), [])
        from blissnode.core.versioning import Hints
        self.assertIs(registry.provisional(Hints("supernode", stack_version=53)), known)
        self.assertIs(registry.provisional(Hints("supernode", stack_version=52)), self.base)

    def test_default_provisional_choices(self):
        from blissnode.core.versioning import Hints
        registry = VersionRegistry.from_plugins()
        pick = lambda **kw: registry.provisional(Hints(**kw)).label
        self.assertEqual(pick(role="supernode"), "1.4.0.84")
        self.assertEqual(pick(role="supernode", transport="dh384"), "5.5.0.124")
        self.assertEqual(pick(role="supernode", transport="https", stack_version=52),
                         "5.5.0.124")
        self.assertEqual(pick(role="login", request_code=5027), "5.5.0.124")
        self.assertEqual(pick(role="login", request_code=5017), "4.1.0.130")
        self.assertEqual(pick(role="event", transport="dh384"), "5.5.0.124")
        self.assertEqual(pick(role="event", transport="classic"), "1.4.0.84")


class ReplacedPolicyTests(TestCase):
    """``registry.provisional_policy = MyPolicy()`` decides every choice made
    before a client names its version (versions.policy), the supernode's UDP
    default included."""

    def test_a_replaced_policy_decides(self):
        from blissnode.core.versioning import Hints
        from blissnode.supernode.handlersets import HandlerSets
        from blissnode.versions.policy import ProvisionalPolicy

        registry = VersionRegistry.from_plugins()
        asked = []

        class Newest(ProvisionalPolicy):
            def choose(self, registry, hints):
                asked.append(hints)
                return registry.versions()[-1]

        default = registry.provisional(Hints("login", request_code=5018))
        self.assertEqual(default.label, "4.1.0.130")
        registry.provisional_policy = Newest()
        self.assertEqual(registry.provisional(Hints("login", request_code=5018)).label,
                         "6.16.0.105")
        sets = HandlerSets(registry)
        handlers = sets.for_udp_peer(None)
        self.assertEqual(asked[-1].transport, "udp")
        self.assertIs(handlers, sets.for_version(registry.versions()[-1]))
