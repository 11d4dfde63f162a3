"""
Per-build knowledge ``patch-client`` uses: known client builds (by SHA-256)
with the number of times each key occurs in each storage form, and extra
address patterns -- data that a version plugin extends.

Two ways to add knowledge, both read by :func:`collect`:

* a version plugin (docs/adding-a-version.rst) sets ``patch_knowledge`` on
  its :class:`~blissnode.versions.base.ClientVersion` to a
  :class:`PatchKnowledge`;
* any code calls :func:`register_build` / :func:`register_address` before
  patching (a site-specific script, a test).

A build whose SHA-256 is known is checked strictly: each key must occur in
exactly the expected forms and counts, or ``patch-client`` refuses (the file
is not the build it claims to be).  An unknown build is checked by the
default rule of :mod:`blissnode.patch.keyscan`.

No real build is listed yet: the project has seen no unpacked client whose
bytes it could hash.  An entry reads::

    KnownBuild(sha256="<64 hex digits>", version="5.5.0.124", platform="windows",
               name="Skype.exe",
               expected={"login": {"client-order": 1},
                         "credential": {"big-endian": 1, "client-order": 1}},
               notes="unpacked by ...")
"""

import attr

from blissnode.patch.forms import FORMS_BY_NAME
from blissnode.patch.known import SKYPE_MODULI, KnownAddress
from blissnode.versions.registry import VersionRegistry


def _expected(value):
    out = {}
    for role, forms in dict(value).items():
        if role not in SKYPE_MODULI:
            raise ValueError("unknown key %r (known: %s)" % (role, ", ".join(SKYPE_MODULI)))
        for form, count in dict(forms).items():
            if form not in FORMS_BY_NAME:
                raise ValueError("unknown storage form %r" % (form,))
            if not isinstance(count, int) or count < 0:
                raise ValueError("count of %s/%s must be an int >= 0" % (role, form))
        out[role] = {f: c for f, c in dict(forms).items() if c}
    return out


def _sha256(value):
    value = value.lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError("not a SHA-256 in hex: %r" % (value,))
    return value


@attr.s(frozen=True, slots=True)
class KnownBuild:
    """One client build, identified by the SHA-256 of the unpatched file.

    ``expected`` maps key role (``login``, ``credential``) to
    ``{storage form name: count}``; a role left out must not occur at all.
    """

    sha256 = attr.ib(converter=_sha256)
    version = attr.ib()
    platform = attr.ib(default="windows")
    name = attr.ib(default="")
    expected = attr.ib(factory=dict, converter=_expected)
    notes = attr.ib(default="")

    def expected_count(self, role, form):
        return self.expected.get(role, {}).get(form, 0)


@attr.s(frozen=True, slots=True)
class PatchKnowledge:
    """What one source (the built-in list, a plugin) knows: builds and
    extra addresses (:class:`~blissnode.patch.known.KnownAddress`)."""

    builds = attr.ib(default=(), converter=tuple)
    addresses = attr.ib(default=(), converter=tuple)

    def __attrs_post_init__(self):
        for b in self.builds:
            if not isinstance(b, KnownBuild):
                raise TypeError("%r is not a KnownBuild" % (b,))
        for a in self.addresses:
            if not isinstance(a, KnownAddress):
                raise TypeError("%r is not a KnownAddress" % (a,))

    def __add__(self, other):
        return PatchKnowledge(self.builds + other.builds, self.addresses + other.addresses)

    def build(self, sha256):
        """The :class:`KnownBuild` with this SHA-256, or None."""
        for b in self.builds:
            if b.sha256 == sha256:
                return b
        return None


#: What blissnode itself knows (no build yet, see the module docstring).
BUILTIN = PatchKnowledge()

_registered = {"builds": [], "addresses": []}


def register_build(build):
    """Add a :class:`KnownBuild` for every later :func:`collect`."""
    PatchKnowledge(builds=[build])
    _registered["builds"].append(build)


def register_address(address):
    """Add a :class:`~blissnode.patch.known.KnownAddress` to search for."""
    PatchKnowledge(addresses=[address])
    _registered["addresses"].append(address)


def unregister_all():
    """Forget what :func:`register_build` / :func:`register_address` added."""
    _registered["builds"].clear()
    _registered["addresses"].clear()


def collect(versions=None):
    """Everything known: :data:`BUILTIN`, the registered entries, and the
    ``patch_knowledge`` of every version in ``versions`` (default: every
    installed version plugin).  Two entries for one SHA-256 are an error."""
    if versions is None:
        versions = VersionRegistry.from_plugins()
    total = BUILTIN + PatchKnowledge(_registered["builds"], _registered["addresses"])
    for version in versions:
        extra = getattr(version, "patch_knowledge", None)
        if extra is not None:
            if not isinstance(extra, PatchKnowledge):
                raise TypeError("patch_knowledge of version %s is not a PatchKnowledge"
                                % (version.label,))
            total = total + extra
    seen = set()
    for b in total.builds:
        if b.sha256 in seen:
            raise ValueError("build %s is listed twice" % (b.sha256,))
        seen.add(b.sha256)
    return total
