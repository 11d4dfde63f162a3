"""
The reference client's view of the client versions: what each one sends to
the supernode (:class:`~blissnode.versions.profiles.ClientProfile`).

The profiles are declared by the version modules themselves (``profile=``
of each :class:`~blissnode.versions.base.ClientVersion`, see
:mod:`blissnode.versions.profiles` for what is known and what is a guess),
so a version plugin makes the reference client imitate it too.
:func:`profile_for` asks the installed version plugins each time.
"""

from blissnode.core.versioning import parse_version_number
from blissnode.versions.profiles import (  # noqa: F401  (re-exported)
    CHANNEL_5X,
    CHANNEL_12,
    FINAL_0F,
    FINAL_01,
    FINAL_03,
    ClientProfile,
)
from blissnode.versions.registry import VersionRegistry

__all__ = ["ClientProfile", "PROFILES", "DEFAULT_LABEL", "labels", "profile_for",
           "installed_profiles"]


def installed_profiles():
    """``label -> VersionProfile`` of every installed version plugin."""
    return {v.label: v.profile for v in VersionRegistry.from_plugins()
            if getattr(v, "profile", None) is not None}


def profile_of(label):
    """The :class:`~blissnode.versions.profiles.VersionProfile` for ``label``
    (the nearest older one, relabelled, for an unlisted version); ValueError
    for a label older than every profile or not a version."""
    parse_version_number(label)
    return VersionRegistry.from_plugins().profile(label)


#: The supernode profiles of the built-in versions (a snapshot; plugins are
#: asked by :func:`profile_for`).
PROFILES = {label: p.supernode for label, p in installed_profiles().items()}

DEFAULT_LABEL = "1.4.0.84"


def labels():
    """The labels with a profile, oldest first."""
    return sorted(installed_profiles(), key=parse_version_number)


def profile_for(label):
    """The supernode profile for ``label``: exact, else the nearest older
    one (a copy carrying the requested label, so version strings say what
    was asked); ValueError for a label older than every profile or not a
    version."""
    return profile_of(label).supernode
