"""
Locate and load the shared test vectors.

The vectors live outside the repository, in ``../shared/vectors`` next to the
checkout (that is where CI puts them too).  ``BLISSNODE_VECTORS`` overrides the
location.  A missing vector directory is a test *failure*, never a skip: a
suite that silently stops checking the bytes would be worse than no suite.
"""

import json
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
_DEFAULT = os.path.normpath(os.path.join(_HERE, "..", "..", "shared", "vectors"))


def vectors_dir():
    return os.environ.get("BLISSNODE_VECTORS", _DEFAULT)


def load_vectors(name):
    """Return the parsed JSON document ``name`` (e.g. ``"objects41.json"``)."""
    path = os.path.join(vectors_dir(), name)
    if not os.path.exists(path):
        raise AssertionError(
            "shared test vectors not found at %r; set BLISSNODE_VECTORS" % (path,)
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
