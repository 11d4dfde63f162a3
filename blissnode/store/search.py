"""
Directory search over the stored accounts: the client's "add contact" search.

The supernode's user search (docs/event-protocol-notes.rst §5: in the real
network a P2P/supernode function, not an event-server request) answers from
the online directory and from here, so that offline users can be found too.

Bounded: the query is at most :data:`MAX_QUERY_LENGTH` characters, a result
list at most :data:`MAX_SEARCH_RESULTS` entries, and the query's LIKE
wildcards (``%`` ``_``) and the escape character are escaped, so a user
searching for ``a_b`` finds ``a_b`` and not ``axb``.  Names are stored lower
case and ASCII (blissnode.store.names), so lower-casing the query makes the
match case-insensitive.  A result carries the name and the full name only:
never the e-mail address.
"""

import attr

from blissnode.store.errors import InvalidField

__all__ = ["AccountMatch", "MAX_QUERY_LENGTH", "MAX_SEARCH_RESULTS", "SEARCH_MODES",
           "search_accounts"]

SEARCH_MODES = ("exact", "prefix", "substring")

#: Longest query: a Skype name has at most 32 characters.
MAX_QUERY_LENGTH = 32

#: Most results one search returns, whatever ``limit`` asks.
MAX_SEARCH_RESULTS = 100


@attr.s(frozen=True, slots=True)
class AccountMatch:
    """One search result: what a stranger may learn about an account."""

    name = attr.ib()
    full_name = attr.ib(default=None)


def _escape_like(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_query(text, mode, limit):
    """The normalised ``(text, mode, limit)``; :class:`InvalidField` if unusable."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise InvalidField("a search for a Skype name must be ASCII")
    if not isinstance(text, str):
        raise InvalidField("a search must be text")
    text = text.strip().lower()
    if not text:
        raise InvalidField("a search must not be empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidField("a search may have at most %d characters" % (MAX_QUERY_LENGTH,))
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in text):
        raise InvalidField("a search must not contain control characters")
    if mode not in SEARCH_MODES:
        raise InvalidField("unknown search mode %r (one of %s)" % (mode, ", ".join(SEARCH_MODES)))
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidField("the search limit must be an integer")
    return text, mode, max(0, min(limit, MAX_SEARCH_RESULTS))


def search_accounts(database, text, mode="prefix", limit=20):
    """Search the accounts of ``database`` (a ``SQLiteDatabase``); see :class:`IAccountSearch`."""
    text, mode, limit = check_query(text, mode, limit)
    if not limit:
        return []
    if mode == "exact":
        where = "name = ?"
        params = (text,)
    elif mode == "prefix":
        # A range on the name index: every stored name is ASCII below 0x7f,
        # so the names starting with ``text`` are exactly [text, text + DEL).
        where, params = "name >= ? AND name < ?", (text, text + "\x7f")
    else:
        where, params = "name LIKE ? ESCAPE '\\'", ("%" + _escape_like(text) + "%",)
    rows = database.read("SELECT name, full_name FROM accounts WHERE %s ORDER BY name LIMIT ?"
                         % (where,), params + (limit,))
    return [AccountMatch(name=name, full_name=full_name) for name, full_name in rows]
