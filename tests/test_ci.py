"""CI runs exactly the test command README.rst gives, and installs what the tests need."""

import os
import re

from twisted.trial.unittest import TestCase

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as f:
        return f.read()


class CITests(TestCase):
    def test_ci_runs_the_readme_test_command(self):
        blocks = re.findall(r"::\n\n    (.+)\n", _read("README.rst"))
        command = blocks[1]  # the second command at the top: the test suite
        self.assertIn("pytest", command)
        self.assertTrue(command.startswith(".ci/packages && "), command)
        lines = [l for l in _read(".ci", "run").splitlines()
                 if l and not l.startswith("#")]
        self.assertEqual(lines[-1], command)

    def test_packages_script_installs_the_servers(self):
        script = _read(".ci", "packages")
        self.assertIn("PACKAGES=(postgresql redis-server chromium chromium-driver)", script)
        self.assertIn("apt-get install -y", script)
        self.assertIn("DEBIAN_FRONTEND=noninteractive", script)
        self.assertTrue(os.access(os.path.join(ROOT, ".ci", "packages"), os.X_OK))

    def test_ci_requires_the_browser_test(self):
        self.assertIn("export BLISSNODE_REQUIRE_BROWSER=1", _read(".ci", "run"))

    def test_missing_servers_fail_naming_the_script(self):
        from tests import services
        self.patch(services.glob, "glob", lambda pattern: [])
        e = self.assertRaises(services.ServiceUnavailable, services._postgresql_bin)
        self.assertIn(".ci/packages", str(e))
        self.assertIn(services.POSTGRESQL_ENV, str(e))
        self.patch(services.shutil, "which", lambda name: None)
        self.patch(services.os.path, "exists", lambda path: False)
        e = self.assertRaises(services.ServiceUnavailable, services._start_redis)
        self.assertIn(".ci/packages", str(e))
