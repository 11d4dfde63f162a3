"""Makes Skype 6.21.0.104 known to blissnode: a Twisted plugin, found by
``VersionRegistry.from_plugins()`` because this file sits in a
``blissnode/plugins/`` directory on ``sys.path`` (no ``__init__.py`` here)."""

from blissnode.versions.base import GUESSED, ClientVersion
from blissnode.versions.v6_16_0_105 import VERSION as NEAREST
from skype621.handlers import EventHandlers

SKYPE_6_21 = ClientVersion(
    label="6.21.0.104",
    number=(6, 21, 0, 104),
    # Only the role that differs; "supernode" and "login" come from 6.16.
    handlers={"event": EventHandlers},
    facts=dict(NEAREST.facts, event_cursor=GUESSED),
    notes="Example version of docs/adding-a-version.rst: the 6016 cursor starts at 10**9.",
)
