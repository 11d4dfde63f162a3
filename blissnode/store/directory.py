"""
The online directory: who is online where.

The main supernode writes it (a client is accepted, publishes its user
record, changes version, disconnects); the supernode's user search reads it,
and the login and event servers will use the same lookups ("is this user
online, at which address, with which node record?").

Like :mod:`blissnode.store.interfaces`, it knows no protocol: an
:class:`OnlineEntry` holds plain values (strings, ints, ``(ip, port)``
tuples) and opaque bytes (the published user record, the node record).
Every method of :class:`IOnlineDirectory` returns a Deferred, so that a
shared backend (several supernode processes, one database) can replace the
in-memory default :class:`MemoryDirectory` without touching the callers.

Lookup API (all Deferreds):

``register(entry)``
    add or replace the entry of ``entry.session_id``;
``update(session_id, **changes)``
    change fields of one entry (fires with the new entry, or ``None`` if the
    session is unknown);
``touch(session_id, when)``
    set ``last_seen``;
``remove(session_id)``
    fires with the removed entry or ``None``;
``get(session_id)``;
``lookup_name(name)`` / ``lookup_node_id(node_id)`` / ``lookup_address(ip, port=None)``
    every entry of that user (one user may be online from several places),
    node id, or public address;
``search(text, mode="prefix", limit=50, with_record=False)``
    names matching ``text`` exactly, as a prefix or as a substring
    (case-insensitive), at most ``limit`` (and :data:`MAX_SEARCH_RESULTS`)
    entries, sorted by name;
``count()`` / ``count_users()``
    entries / distinct user names;
``remove_stale(before, prefix=None)``
    drop entries whose ``last_seen`` is older than ``before`` (and, given a
    ``prefix``, whose session id starts with it); fires with them.
"""

import bisect

import attr
from twisted.internet import defer
from zope.interface import Interface, implementer

__all__ = [
    "OnlineEntry",
    "IOnlineDirectory",
    "MemoryDirectory",
    "SEARCH_MODES",
    "MAX_SEARCH_RESULTS",
    "normalize_name",
]

#: Search modes understood by :meth:`IOnlineDirectory.search`.
SEARCH_MODES = ("exact", "prefix", "substring")

#: Hard upper bound on search results, whatever ``limit`` asks.
MAX_SEARCH_RESULTS = 1000

#: A substring search stops after looking at this many names (keeps one
#: search cheap on a large directory).
MAX_SUBSTRING_SCAN = 100000


def normalize_name(name):
    """The directory key of a user name: Skype names are case-insensitive."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return name.strip().lower()


def _addr(value):
    if value is None:
        return None
    ip, port = value
    return (str(ip), int(port))


@attr.s(frozen=True, slots=True)
class OnlineEntry:
    """One place a client is online: normally one TCP session to a supernode.

    ``session_id``: unique per session (a string chosen by the supernode);
    ``user_name``: the Skype name once known (``None`` before);
    ``node_id``: the client's 64-bit node id (int);
    ``public_addr`` / ``local_addr``: ``(ip, port)`` as seen by the server /
    as the client reports it; ``listen_port``: the client's own listening
    port; ``client_version``: the version label the client reported;
    ``user_record`` / ``node_record``: the published bytes, verbatim;
    ``supernode``: which supernode holds the session (``(ip, port)``);
    ``since`` / ``last_seen``: seconds (the supernode's clock).
    """

    session_id = attr.ib()
    user_name = attr.ib(default=None)
    node_id = attr.ib(default=None)
    public_addr = attr.ib(default=None, converter=_addr)
    local_addr = attr.ib(default=None, converter=_addr)
    listen_port = attr.ib(default=None)
    client_version = attr.ib(default=None)
    user_record = attr.ib(default=None, repr=False)
    node_record = attr.ib(default=None, repr=False)
    supernode = attr.ib(default=None, converter=_addr)
    since = attr.ib(default=0.0)
    last_seen = attr.ib(default=0.0)


class IOnlineDirectory(Interface):
    """Who is online where (see the module docstring for the whole API)."""

    def register(entry):
        """Add or replace ``entry`` (keyed by its session id); Deferred(entry)."""

    def update(session_id, **changes):
        """Deferred(new entry) or Deferred(None) for an unknown session."""

    def touch(session_id, when):
        """Set ``last_seen``; Deferred(new entry or None)."""

    def remove(session_id):
        """Deferred(removed entry or None)."""

    def get(session_id):
        """Deferred(entry or None)."""

    def lookup_name(name):
        """Deferred(list of entries of this user name, oldest first)."""

    def lookup_node_id(node_id):
        """Deferred(list of entries with this node id)."""

    def lookup_address(ip, port=None):
        """Deferred(list of entries whose public address has this ip
        (and port, if given))."""

    def search(text, mode="prefix", limit=50, with_record=False):
        """Deferred(list of entries whose user name matches ``text``)."""

    def count():
        """Deferred(number of entries)."""

    def count_users():
        """Deferred(number of distinct user names online)."""

    def remove_stale(before, prefix=None):
        """Deferred(list of entries removed because last_seen < before and,
        given ``prefix``, their session id starts with it)."""


def _index_add(index, key, session_id):
    if key is not None:
        index.setdefault(key, {})[session_id] = None


def _index_remove(index, key, session_id):
    if key is None:
        return
    ids = index.get(key)
    if ids is not None:
        ids.pop(session_id, None)
        if not ids:
            del index[key]


@implementer(IOnlineDirectory)
class MemoryDirectory(object):
    """The in-process directory: dictionaries and a sorted name list.

    Lookups are O(1) by session, name, node id and address; prefix search is
    a bisection over the sorted names; substring search scans at most
    :data:`MAX_SUBSTRING_SCAN` names.  Results are returned through
    already-fired Deferreds.
    """

    def __init__(self):
        self._entries = {}
        self._by_name = {}
        self._by_node = {}
        self._by_ip = {}
        self._names = []  # sorted normalized names with at least one entry

    # -- internal -------------------------------------------------------------

    def _add(self, entry):
        sid = entry.session_id
        self._entries[sid] = entry
        if entry.user_name is not None:
            key = normalize_name(entry.user_name)
            if key not in self._by_name:
                bisect.insort(self._names, key)
            _index_add(self._by_name, key, sid)
        _index_add(self._by_node, entry.node_id, sid)
        if entry.public_addr is not None:
            _index_add(self._by_ip, entry.public_addr[0], sid)

    def _drop(self, entry):
        sid = entry.session_id
        del self._entries[sid]
        if entry.user_name is not None:
            key = normalize_name(entry.user_name)
            _index_remove(self._by_name, key, sid)
            if key not in self._by_name:
                i = bisect.bisect_left(self._names, key)
                if i < len(self._names) and self._names[i] == key:
                    del self._names[i]
        _index_remove(self._by_node, entry.node_id, sid)
        if entry.public_addr is not None:
            _index_remove(self._by_ip, entry.public_addr[0], sid)

    def _entries_of(self, index, key):
        return [self._entries[sid] for sid in index.get(key, ())]

    # -- IOnlineDirectory -----------------------------------------------------

    def register(self, entry):
        old = self._entries.get(entry.session_id)
        if old is not None:
            self._drop(old)
        self._add(entry)
        return defer.succeed(entry)

    def update(self, session_id, **changes):
        old = self._entries.get(session_id)
        if old is None:
            return defer.succeed(None)
        new = attr.evolve(old, **changes)
        self._drop(old)
        self._add(new)
        return defer.succeed(new)

    def touch(self, session_id, when):
        return self.update(session_id, last_seen=when)

    def remove(self, session_id):
        old = self._entries.get(session_id)
        if old is not None:
            self._drop(old)
        return defer.succeed(old)

    def get(self, session_id):
        return defer.succeed(self._entries.get(session_id))

    def lookup_name(self, name):
        return defer.succeed(self._entries_of(self._by_name, normalize_name(name)))

    def lookup_node_id(self, node_id):
        return defer.succeed(self._entries_of(self._by_node, node_id))

    def lookup_address(self, ip, port=None):
        entries = self._entries_of(self._by_ip, str(ip))
        if port is not None:
            entries = [e for e in entries if e.public_addr[1] == port]
        return defer.succeed(entries)

    def search(self, text, mode="prefix", limit=50, with_record=False):
        if mode not in SEARCH_MODES:
            return defer.fail(ValueError("unknown search mode %r" % (mode,)))
        key = normalize_name(text)
        limit = max(0, min(int(limit), MAX_SEARCH_RESULTS))
        out = []

        def collect(name):
            for entry in self._entries_of(self._by_name, name):
                if with_record and not entry.user_record:
                    continue
                out.append(entry)
                if len(out) >= limit:
                    return True
            return False

        if limit and key:
            if mode == "exact":
                collect(key)
            elif mode == "prefix":
                i = bisect.bisect_left(self._names, key)
                while i < len(self._names) and self._names[i].startswith(key):
                    if collect(self._names[i]):
                        break
                    i += 1
            else:
                for name in self._names[:MAX_SUBSTRING_SCAN]:
                    if key in name and collect(name):
                        break
        return defer.succeed(out[:limit])

    def count(self):
        return defer.succeed(len(self._entries))

    def count_users(self):
        return defer.succeed(len(self._by_name))

    def remove_stale(self, before, prefix=None):
        stale = [e for e in self._entries.values() if e.last_seen < before
                 and (prefix is None or str(e.session_id).startswith(prefix))]
        for entry in stale:
            self._drop(entry)
        return defer.succeed(stale)
