"""The vectors in the repository are the ones the project was given.

``tests/vectors/SHA256SUMS`` pins every file of the copy; where the shared
vector set sits next to the checkout (a developer machine, CI), the copy must
also be byte-identical to it, so an update of the shared set cannot pass
unnoticed.
"""

import hashlib
import os

from twisted.trial import unittest

from tests.vectors import REPO_VECTORS, SHARED_VECTORS


def _sums():
    out = {}
    with open(os.path.join(REPO_VECTORS, "SHA256SUMS")) as f:
        for line in f:
            digest, name = line.split()
            out[name] = digest
    return out


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class RepositoryCopyTests(unittest.TestCase):
    def test_every_file_is_pinned(self):
        present = sorted(n for n in os.listdir(REPO_VECTORS) if n.endswith(".json"))
        self.assertEqual(present, sorted(_sums()))
        self.assertGreaterEqual(len(present), 11)

    def test_files_match_their_pins(self):
        for name, digest in _sums().items():
            self.assertEqual(_digest(os.path.join(REPO_VECTORS, name)), digest, name)

    def test_copy_equals_the_shared_set_where_present(self):
        if not os.path.isdir(SHARED_VECTORS):
            # Nothing to compare with in a standalone clone; the pins above
            # still hold the copy fixed.
            self.assertTrue(os.path.isdir(REPO_VECTORS))
            return
        shared = sorted(n for n in os.listdir(SHARED_VECTORS) if n.endswith(".json"))
        self.assertEqual(shared, sorted(_sums()),
                         "the shared vector set changed: copy it into tests/vectors "
                         "and update SHA256SUMS")
        for name in shared:
            self.assertEqual(_digest(os.path.join(SHARED_VECTORS, name)),
                             _digest(os.path.join(REPO_VECTORS, name)), name)
