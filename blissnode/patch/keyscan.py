"""
Find Skype's two moduli in a client binary and plan their replacement by
this server's moduli, in the same storage form (:mod:`blissnode.patch.forms`).

The rules, checked before anything is written:

* each key must be found, in some form, at least once -- or already be this
  server's key (a file patched before);
* a known build (:mod:`blissnode.patch.builds`) must hold exactly the
  expected number of copies in each form;
* otherwise, one copy per form: the same form twice means two places hold
  the key and we cannot tell which one the client uses or whether a copy is
  checked against the other, so the user decides (``--all-copies``).
  Several *forms* are expected (SOS2 holds the credential modulus both
  big-endian and reversed, ERRATA).

A 192- or 256-byte modulus cannot occur by chance, so every match is real.
"""

import attr

from blissnode.patch.forms import STORAGE_FORMS
from blissnode.patch.known import SKYPE_MODULI
from blissnode.patch.report import ALREADY, KEY, REPLACED, Edit, Match

_TITLES = {"login": "login modulus (RSA-1536)", "credential": "credential modulus (RSA-2048)"}


class KeyScanRefused(Exception):
    """The keys cannot be patched safely; the message says why and what to try."""


@attr.s(frozen=True, slots=True)
class KeyScan:
    """The planned edits and the report's matches for both keys."""

    edits = attr.ib()
    matches = attr.ib()


def find_all(data, needle):
    """Every offset of ``needle`` in ``data`` (overlaps included)."""
    out, at = [], data.find(needle)
    while at >= 0:
        out.append(at)
        at = data.find(needle, at + 1)
    return out


def _hexwords(modulus):
    return " ".join(modulus[i:i + 4].hex() for i in (0, 4))


def _form_names():
    return ", ".join(f.name for f in STORAGE_FORMS)


def _offsets(offsets):
    return ", ".join("0x%x" % o for o in offsets)


def scan_keys(data, server_moduli, build=None, all_copies=False):
    """Plan the key replacements in ``data``.

    ``server_moduli`` maps role to this server's big-endian modulus; ``build``
    is the file's :class:`~blissnode.patch.builds.KnownBuild` or None.
    Raises :class:`KeyScanRefused`.
    """
    edits, matches = [], []
    for role, skype in SKYPE_MODULI.items():
        ours = server_moduli[role]
        if len(ours) != len(skype):
            raise KeyScanRefused("the server's %s key is %d bytes; Skype's is %d"
                                 % (role, len(ours), len(skype)))
        found = {f: find_all(data, f.encode(skype)) for f in STORAGE_FORMS}
        already = {f: find_all(data, f.encode(ours)) for f in STORAGE_FORMS}
        what = "Skype's " + _TITLES[role]
        if build is not None:
            _check_build(build, role, what, found)
        elif not any(found.values()):
            if any(already.values()):
                pass
            else:
                raise KeyScanRefused(
                    "%s (begins %s, e = 65537) was not found in any storage form (%s); "
                    "the build is packed, obfuscated or stores it another way: try an "
                    "unpacked build (docs/patch-client.rst)"
                    % (what, _hexwords(skype), _form_names()))
        else:
            for form, offsets in found.items():
                if len(offsets) > 1 and not all_copies:
                    raise KeyScanRefused(
                        "%s occurs %d times in the %s form (offsets %s): ambiguous, since "
                        "no known build says how many copies to expect; check the offsets "
                        "and rerun with --all-copies to replace every copy"
                        % (what, len(offsets), form.name, _offsets(offsets)))
        for form, offsets in found.items():
            old, new = form.encode(skype), form.encode(ours)
            for at in offsets:
                edits.append(Edit(at, old, new))
                matches.append(Match(KEY, _TITLES[role], role, form.name, at, len(old),
                                     old.hex(), new.hex(), REPLACED))
        for form, offsets in already.items():
            for at in offsets:
                mine = form.encode(ours).hex()
                matches.append(Match(KEY, _TITLES[role], role, form.name, at, len(ours),
                                     mine, None, ALREADY,
                                     "the file already holds this server's key here"))
    return KeyScan(edits, matches)


def _check_build(build, role, what, found):
    expected = {f.name: build.expected_count(role, f.name) for f in STORAGE_FORMS}
    actual = {f.name: len(o) for f, o in found.items()}
    if expected != actual:
        def fmt(counts):
            return ", ".join("%d %s" % (c, n) for n, c in counts.items() if c) or "none"
        raise KeyScanRefused(
            "this file's SHA-256 names known build %s %s, which holds %s copies of %s "
            "(%s); this file holds %s: the knowledge entry or the file is wrong"
            % (build.version, build.platform or "", sum(expected.values()), what,
               fmt(expected), fmt(actual)))
