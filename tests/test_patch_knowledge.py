"""Per-build knowledge and its hooks: register_build, a version's patch_knowledge, plugins."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

from twisted.trial.unittest import TestCase

import blissnode
from blissnode.patch import builds
from blissnode.patch.builds import KnownBuild, PatchKnowledge, collect, register_build
from blissnode.patch.known import KnownAddress
from blissnode.patch.patcher import PatchOptions, PatchRefused, plan
from blissnode.patch.report import render_text
from blissnode.patch.targets import server_targets
from blissnode.versions.base import ClientVersion
from blissnode.versions.registry import VersionRegistry
from tests.patch_fixtures import client_pe, cstr, data_5x, form, rdata_5x, server_keys

TARGETS = server_targets("192.0.2.10")
SOS2_FORMS = {"login": {"client-order": 1},
              "credential": {"big-endian": 1, "client-order": 1}}


def sha(data):
    return hashlib.sha256(data).hexdigest()


class KnownBuildTests(TestCase):
    def setUp(self):
        self.addCleanup(builds.unregister_all)

    def test_validation(self):
        self.assertRaises(ValueError, KnownBuild, "abc", "5.5.0.124")
        self.assertRaises(ValueError, KnownBuild, "0" * 64, "5.5.0.124",
                          expected={"login": {"sideways": 1}})
        self.assertRaises(ValueError, KnownBuild, "0" * 64, "5.5.0.124",
                          expected={"other": {"big-endian": 1}})
        self.assertRaises(TypeError, PatchKnowledge, builds=["x"])
        b = KnownBuild("AB" * 32, "5.5.0.124", expected=SOS2_FORMS)
        self.assertEqual(b.sha256, "ab" * 32)
        self.assertEqual(b.expected_count("credential", "client-order"), 1)
        self.assertEqual(b.expected_count("login", "big-endian"), 0)

    def test_builtin_lists_no_build_yet(self):
        self.assertEqual(builds.BUILTIN.builds, ())
        self.assertEqual(collect(VersionRegistry.from_plugins()).builds, ())

    def test_registered_build_allows_its_expected_copies(self):
        f = client_pe(data=data_5x(extra=[("copy", form("login", "client-order"))]))
        self.assertRaises(PatchRefused, plan, f.data, server_keys(), TARGETS,
                          PatchOptions(), collect([]))
        expected = dict(SOS2_FORMS, login={"client-order": 2})
        register_build(KnownBuild(sha(f.data), "5.5.0.124", name="Skype.exe",
                                  expected=expected))
        report, out = plan(f.data, server_keys(), TARGETS, PatchOptions(), collect([]))
        self.assertEqual(report.known_build["version"], "5.5.0.124")
        self.assertIn("known build: 5.5.0.124 windows Skype.exe", render_text(report))
        self.assertNotIn(form("login", "client-order"), out)

    def test_known_build_with_other_counts_is_refused(self):
        f = client_pe()
        register_build(KnownBuild(sha(f.data), "5.5.0.124",
                                  expected={"login": {"big-endian": 1},
                                            "credential": SOS2_FORMS["credential"]}))
        e = self.assertRaises(PatchRefused, plan, f.data, server_keys(), TARGETS,
                              PatchOptions(), collect([]))
        self.assertIn("known build 5.5.0.124", str(e))
        self.assertIn("holds 1 client-order", str(e))

    def test_version_plugin_knowledge_is_used(self):
        extra = cstr("198.18.0.1:33033")
        f = client_pe(rdata=rdata_5x(extra=[("extra", extra)]))
        version = ClientVersion("9.9.0.1", (9, 9, 0, 1), {}, patch_knowledge=PatchKnowledge(
            builds=[KnownBuild(sha(f.data), "9.9.0.1", expected=SOS2_FORMS)],
            addresses=[KnownAddress("198.18.0.1", 33033, "login", "9.9", "test")]))
        knowledge = collect([version])
        report, out = plan(f.data, server_keys(), TARGETS, PatchOptions(), knowledge)
        self.assertEqual(report.known_build["version"], "9.9.0.1")
        at = f.offsets["extra"]
        self.assertEqual(out[at:at + 17], b"192.0.2.10:33033\0")
        report, out = plan(f.data, server_keys(), TARGETS, PatchOptions(), collect([]))
        self.assertEqual(out[at:at + 17], extra)

    def test_bad_plugin_knowledge(self):
        version = ClientVersion("9.9.0.1", (9, 9, 0, 1), {}, patch_knowledge={"builds": []})
        self.assertRaises(TypeError, collect, [version])
        b = KnownBuild("0" * 64, "1.0")
        twice = ClientVersion("9.9.0.2", (9, 9, 0, 2), {},
                              patch_knowledge=PatchKnowledge(builds=[b, b]))
        self.assertRaises(ValueError, collect, [twice])


class SeparatePluginTests(TestCase):
    """A version shipped in another distribution's blissnode/plugins/ adds
    a known build that patch-client then uses."""

    def test_discovered(self):
        base = os.path.abspath(self.mktemp())
        plugins = os.path.join(base, "blissnode", "plugins")
        os.makedirs(plugins)
        f = client_pe(data=data_5x(extra=[("copy", form("login", "client-order"))]))
        with open(os.path.join(base, "client.exe"), "wb") as out:
            out.write(f.data)
        with open(os.path.join(plugins, "extra_patch_version.py"), "w") as out:
            out.write(textwrap.dedent('''
                from blissnode.patch.builds import KnownBuild, PatchKnowledge
                from blissnode.versions.base import ClientVersion

                EXTRA = ClientVersion("7.0.0.2", (7, 0, 0, 2), {}, patch_knowledge=
                    PatchKnowledge(builds=[KnownBuild(%r, "7.0.0.2", name="client.exe",
                        expected={"login": {"client-order": 2},
                                  "credential": {"big-endian": 1, "client-order": 1}})]))
            ''' % (sha(f.data),)))
        from tests.patch_fixtures import server_keys_dir
        script = [sys.executable, "-m", "blissnode", "patch-client", "client.exe", "--dry-run",
                  "--json", "--server", "192.0.2.10", "--data-dir", server_keys_dir()]
        root = os.path.dirname(os.path.dirname(blissnode.__file__))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, base]))
        out = subprocess.run(script, env=env, cwd=base, capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        report = json.loads(out.stdout)
        self.assertEqual(report["known_build"]["version"], "7.0.0.2")
        self.assertEqual(sum(m["kind"] == "key" and m["role"] == "login"
                             for m in report["matches"]), 2)


class AddressTableTests(TestCase):
    """docs/clients.rst's table of compiled-in addresses is the tool's list."""

    def test_every_known_address_is_in_the_table(self):
        from blissnode.patch.known import SKYPE_ADDRESSES
        path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "docs", "clients.rst")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for known in SKYPE_ADDRESSES:
            if known.host.startswith("dir"):  # one row for dir1..dir8
                self.assertIn("dir1..dir8.sd.skype.net", text)
                continue
            self.assertIn("%s:%d" % (known.host, known.port), text, known)
