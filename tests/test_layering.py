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


# -- the redesign's rules (issue 10) -------------------------------------------------

ROLES = ("supernode", "login", "event")

#: Package-level cycles that are the plugin mechanism itself: Twisted finds
#: the version plugins in the ``blissnode.plugins`` namespace (its modules
#: import ``blissnode.versions``), and the registry names that namespace to
#: ``twisted.plugin.getPlugins`` -- as ``twisted.plugins`` and Twisted do.
ALLOWED_CYCLES = {frozenset(("versions", "plugins"))}

#: Function-local imports of our own modules that are allowed, with the
#: reason (none today: every dependency is installed with blissnode).
ALLOWED_LOCAL_IMPORTS = {}


def top_package(name):
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def package_of(path):
    rel = os.path.relpath(path, ROOT).split(os.sep)
    return rel[0][:-3] if len(rel) == 1 else rel[0]


def package_graph():
    """Top-level package (or module) of blissnode -> the ones it imports."""
    graph = {}
    for dirpath, _dirs, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            me = package_of(path)
            for imported in ours(imports_of(path)):
                other = top_package(imported)
                if other and other != me:
                    graph.setdefault(me, set()).add(other)
    return graph


def cycles(graph):
    """Every pair of packages that reach each other (as frozensets)."""
    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen
    reachable = {p: reach(p) for p in graph}
    return {frozenset((a, b)) for a in graph for b in reachable[a]
            if a != b and a in reachable.get(b, ())}


def local_imports(path):
    """``(line, module)`` of our modules imported inside a function."""
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), path)
    out = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level or (
                        node.module or "").startswith("blissnode")):
                    out.append((node.lineno, node.module or "."))
                elif isinstance(node, ast.Import):
                    out.extend((node.lineno, a.name) for a in node.names
                               if a.name.startswith("blissnode"))
    return out


class RedesignRuleTests(TestCase):
    def test_roles_never_import_each_other(self):
        for role in ROLES:
            for path in package_files("blissnode." + role):
                for name in ours(imports_of(path)):
                    other = top_package(name)
                    self.assertFalse(other in ROLES and other != role,
                                     "%s imports %s" % (path, name))

    def test_roles_do_not_import_the_version_modules(self):
        # Version policy is injected (core.versioning is the roles' vocabulary).
        for role in ROLES:
            for path in package_files("blissnode." + role):
                for name in ours(imports_of(path)):
                    self.assertNotEqual(top_package(name), "versions",
                                        "%s imports %s" % (path, name))

    def test_no_package_cycles(self):
        found = cycles(package_graph()) - ALLOWED_CYCLES
        self.assertEqual(found, set(), sorted(tuple(sorted(c)) for c in found))

    def test_no_function_local_imports_of_our_modules(self):
        found = []
        for dirpath, _dirs, files in os.walk(ROOT):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    for line, module in local_imports(path):
                        if (os.path.relpath(path, ROOT), module) not in ALLOWED_LOCAL_IMPORTS:
                            found.append("%s:%d %s" % (path, line, module))
        self.assertEqual(found, [])

    def test_the_cycle_and_local_import_checks_can_fail(self):
        self.assertEqual(cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}),
                         {frozenset("ab"), frozenset("bc"), frozenset("ac")})
        path = self.mktemp() + ".py"
        with open(path, "w") as f:
            f.write("def f():\n    from blissnode.wire import rc4\n    import os\n")
        self.assertEqual(local_imports(path), [(2, "blissnode.wire")])
