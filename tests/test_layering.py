"""
The architecture's import rules, checked on the source (docs/architecture.rst).

Arrows point down only: the wire layer imports nothing else of ours, storage
knows no protocol, and no server role imports the reference client or the
command line.
"""

import ast
import os

from twisted.trial.unittest import TestCase

import blissnode

ROOT = os.path.dirname(blissnode.__file__)


def _module_name(path):
    rel = os.path.relpath(path, os.path.dirname(ROOT))
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts), os.path.basename(path) == "__init__.py"


def imports_of(path):
    """Every module name a source file imports (at any depth), with
    relative imports resolved against the file's package."""
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                name, is_package = _module_name(path)
                base = name.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([module] if module else []))
            if module:
                names.add(module)
                names.update("%s.%s" % (module, alias.name) for alias in node.names)
    return names


def package_files(package):
    base = os.path.join(ROOT, *package.split(".")[1:])
    for dirpath, _dirs, files in os.walk(base):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(dirpath, name)


def ours(names):
    return {n for n in names if n == "blissnode" or n.startswith("blissnode.")}


class LayeringTests(TestCase):
    def assertOnlyImports(self, package, allowed):
        checked = 0
        for path in package_files(package):
            checked += 1
            for name in ours(imports_of(path)):
                self.assertTrue(
                    any(name == a or name.startswith(a + ".") for a in allowed),
                    "%s imports %s (allowed: %s)" % (path, name, ", ".join(allowed)))
        self.assertGreater(checked, 0, package)

    def test_wire_imports_nothing_else_of_ours(self):
        self.assertOnlyImports("blissnode.wire", ["blissnode.wire"])

    def test_capture_sits_on_the_wire_layer_only(self):
        # Keys come in as an object (ServerKeys or anything alike); no
        # server, client or command-line module is needed to decode.
        self.assertOnlyImports("blissnode.capture", ["blissnode.wire", "blissnode.capture"])

    def test_store_knows_no_protocol(self):
        self.assertOnlyImports("blissnode.store", ["blissnode.store"])

    def test_servers_do_not_import_client_or_cli(self):
        paths = [os.path.join(ROOT, "tap.py")]
        for role in ("blissnode.supernode", "blissnode.login", "blissnode.event",
                     "blissnode.versions", "blissnode.store", "blissnode.wire"):
            paths.extend(package_files(role))
        for path in paths:
            for name in ours(imports_of(path)):
                self.assertFalse(
                    name.startswith("blissnode.client") or name.startswith("blissnode.cli"),
                    "%s imports %s" % (path, name))

    def test_patch_uses_keys_and_versions_only(self):
        self.assertOnlyImports("blissnode.patch",
                               ["blissnode.patch", "blissnode.keys", "blissnode.versions"])

    def test_the_rule_catches_a_violation(self):
        # The checker itself must be able to fail.
        path = os.path.join(self.mktemp() + ".py")
        with open(path, "w") as f:
            f.write("from blissnode.client import x\nimport blissnode.wire.rc4\n")
        self.assertEqual(ours(imports_of(path)),
                         {"blissnode.client", "blissnode.client.x", "blissnode.wire.rc4"})

    def test_relative_imports_are_resolved(self):
        package = os.path.join(self.mktemp(), "blissnode", "wire")
        os.makedirs(package)
        path = os.path.join(package, "x.py")
        with open(path, "w") as f:
            f.write("from ..client import y\nfrom . import rc4\n")
        global ROOT
        saved, ROOT = ROOT, os.path.dirname(package)
        try:
            self.assertEqual(ours(imports_of(path)),
                             {"blissnode.client", "blissnode.client.y",
                              "blissnode.wire", "blissnode.wire.rc4"})
        finally:
            ROOT = saved
