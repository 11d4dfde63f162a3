"""
Skype 5.9.66.114.

No source (login.md 9: "5.9 assumed as 5.5/6.16").  Served as 5.5.0.124.
"""

from zope.interface import implementer

from blissnode.supernode.interfaces import ISupernodeHandlers
from blissnode.versions.base import GUESSED, TESTED, UNKNOWN, ClientVersion  # noqa: F401
from blissnode.versions.v5_5_0_124 import Handlers as V55Handlers
from blissnode.versions.v5_5_0_124 import VERSION as _OLDER
# The roles this version does not change (the registry finds them too).
from blissnode.versions.v5_5_0_124 import EventHandlers, LoginHandlers  # noqa: F401

ROLE = "supernode"


@implementer(ISupernodeHandlers)
class Handlers(V55Handlers):
    """Same as 5.5.0.124 (no 5.9 source)."""


VERSION = ClientVersion(
    label="5.9.66.114",
    number=(5, 9, 66, 114),
    handlers={ROLE: Handlers},
    beta=False,
    facts=dict(_OLDER.facts, **{"dh384": GUESSED, "udp_probe": GUESSED, "tcp_seed_exchange": GUESSED, "greeting_final": GUESSED, "client_padding": GUESSED, "node_list_layout": GUESSED, "node_record": GUESSED, "push": GUESSED}),
    notes='No reference for 5.9; served as 5.5.0.124.',
)
