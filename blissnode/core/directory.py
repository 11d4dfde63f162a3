"""
The online directory as the core holds it: any
:class:`~blissnode.store.directory.IOnlineDirectory` (memory, Redis),
wrapped so that entries naming a user anchor that user's presence.

A supernode session publishes a record naming its user (the directory entry
gets ``user_name``); the session closing or the entry expiring removes it.
:class:`AnchoringDirectory` turns those changes into
:class:`~blissnode.core.presence.Presence` anchors, so a supernode sign-in
or sign-out is presence for every role without the supernode knowing.
"""

from zope.interface import implementer

from blissnode.core.presence import SUPERNODE_ANCHOR
from blissnode.store.directory import IOnlineDirectory, normalize_name

__all__ = ["AnchoringDirectory"]


@implementer(IOnlineDirectory)
class AnchoringDirectory(object):
    """An :class:`IOnlineDirectory` that forwards to ``inner`` and anchors
    :class:`Presence` on the entries that carry a user name."""

    def __init__(self, inner, presence):
        self.inner = inner
        self.presence = presence

    @staticmethod
    def _anchor(entry):
        return (SUPERNODE_ANCHOR, entry.session_id)

    def _diff(self, old, new):
        old_name = normalize_name(old.user_name) if old is not None and old.user_name else None
        new_name = normalize_name(new.user_name) if new is not None and new.user_name else None
        if old_name == new_name:
            return
        if old_name is not None:
            self.presence.release(old_name, self._anchor(old))
        if new_name is not None:
            self.presence.anchor(new_name, self._anchor(new))

    def _around(self, session_id, call):
        d = self.inner.get(session_id)

        def got(old):
            d2 = call()

            def done(new):
                self._diff(old, new)
                return new
            return d2.addCallback(done)
        return d.addCallback(got)

    def register(self, entry):
        return self._around(entry.session_id, lambda: self.inner.register(entry))

    def update(self, session_id, **changes):
        return self._around(session_id, lambda: self.inner.update(session_id, **changes))

    def touch(self, session_id, when):
        return self.inner.touch(session_id, when)

    def remove(self, session_id):
        d = self.inner.remove(session_id)

        def removed(old):
            self._diff(old, None)
            return old
        return d.addCallback(removed)

    def remove_stale(self, before, prefix=None):
        d = self.inner.remove_stale(before, prefix)

        def removed(stale):
            for entry in stale:
                self._diff(entry, None)
            return stale
        return d.addCallback(removed)

    def get(self, session_id):
        return self.inner.get(session_id)

    def lookup_name(self, name):
        return self.inner.lookup_name(name)

    def lookup_node_id(self, node_id):
        return self.inner.lookup_node_id(node_id)

    def lookup_address(self, ip, port=None):
        return self.inner.lookup_address(ip, port)

    def search(self, text, mode="prefix", limit=50, with_record=False):
        return self.inner.search(text, mode=mode, limit=limit, with_record=with_record)

    def count(self):
        return self.inner.count()

    def count_users(self):
        return self.inner.count_users()


