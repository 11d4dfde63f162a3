"""
Locate and load the protocol test vectors.

The vectors live in the repository, in ``tests/vectors/`` (copied from the
project's shared vector set, see ``tests/vectors/SHA256SUMS`` and
``docs/bibliography.rst``), so a clone runs the whole suite on its own.
``BLISSNODE_VECTORS`` points the suite at another copy (a newer shared set).
A missing vector file is a test *failure*, never a skip: a suite that
silently stops checking the bytes would be worse than no suite.
"""

import json
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
#: The copy in the repository.
REPO_VECTORS = os.path.join(_HERE, "vectors")
#: The shared set the copy came from, where a developer checkout has it.
SHARED_VECTORS = os.path.normpath(os.path.join(_HERE, "..", "..", "shared", "vectors"))


def vectors_dir():
    return os.environ.get("BLISSNODE_VECTORS", REPO_VECTORS)


def load_vectors(name):
    """Return the parsed JSON document ``name`` (e.g. ``"objects41.json"``)."""
    path = os.path.join(vectors_dir(), name)
    if not os.path.exists(path):
        raise AssertionError(
            "test vectors not found at %r; set BLISSNODE_VECTORS" % (path,)
        )
    with open(path, "rb") as f:
        return json.load(f)


def cases(name, kind=None):
    """The ``cases`` of vector file ``name``, optionally only those of ``kind``."""
    doc = load_vectors(name)
    out = doc["cases"]
    if kind is not None:
        out = [c for c in out if c.get("kind") == kind]
        if not out:
            raise AssertionError("no %r cases in %s" % (kind, name))
    return out
