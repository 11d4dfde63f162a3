"""
:class:`Publications`: the user records clients publish (UDP cmd 12, TCP
cmd 60; supernode.md 5.1) and what the node learns from them.

A record names its user when its credential opens with our credential key;
the directory entry then carries the name (and with it presence, through
the core).  A client with a TCP session publishes into its session's entry;
a UDP-only one into an entry keyed by its address that expires.
"""

from twisted.internet import defer
from twisted.logger import Logger

from blissnode.store.directory import OnlineEntry
from blissnode.wire.credentials import parse_credential
from blissnode.wire.errors import ProtocolError

__all__ = ["Publications", "UDP_ENTRY_PREFIX"]

log = Logger()

#: Session ids of the directory entries of UDP-only publishers.
UDP_ENTRY_PREFIX = "udp:"


class Publications(object):
    """Published user records of one :class:`~blissnode.supernode.node.SupernodeNode`."""

    def __init__(self, node):
        self.node = node

    def user_name_of(self, record):
        """The user name inside a published user record, or None.

        A record starts ``u32 credential length | u32 | credential | ...``
        (supernode.md 5.1); the credential opens with our credential key only
        if it was issued by our login server.  GUESS: records that do not
        open leave the name unknown (the login server may set it later)."""
        if self.node.credential_key is None:
            return None
        record = bytes(record)
        if len(record) < 8:
            return None
        length = int.from_bytes(record[:4], "big")
        # event.md 10: 00 00 01 04 || credential (key id + signature) || 128
        # bytes; the credential starts at offset 4.  Offset 8 is kept for
        # records that repeat the key id before the credential.
        for start in (4, 8):
            try:
                return parse_credential(record[start:start + length], self.node.credential_key).name
            except (ProtocolError, ValueError, TypeError):
                continue
        return None

    def publish(self, peer, session, record):
        """Store a published user record.  With a TCP session it goes into
        that session's entry; without (a UDP-only client) into an entry keyed
        by the UDP address that expires after ``udp_publish_ttl``."""
        name = self.user_name_of(record)
        if name is not None and self.node.core.is_barred(name):
            # Suspended or deleted by an operator (Core.bar): not published.
            log.info("supernode: {peer}: refused the record of {name} (barred by an operator)",
                     peer=peer, name=name)
            close = getattr(session, "close_session", None)
            if close is not None:
                close("account barred by an operator")
            return defer.succeed(None)
        now = self.node.now()
        changes = {"user_record": record, "last_seen": now}
        if name is not None:
            changes["user_name"] = name
        if session is not None:
            if name is not None:
                session.user_name = name
            d = self.node.directory.update(session.session_id, **changes)
        else:
            sid = "%s%s:%d" % (UDP_ENTRY_PREFIX, peer[0], peer[1])
            d = self.node.directory.get(sid)

            def store(old):
                if old is not None:
                    return self.node.directory.update(sid, **changes)
                return self.node.directory.register(OnlineEntry(
                    session_id=sid, user_name=name, public_addr=peer,
                    listen_port=peer[1], user_record=record,
                    supernode=(self.node.public_ip, self.node.udp_port), since=now, last_seen=now))
            d.addCallback(store)
        d.addCallback(self.node.directory_changed)
        return d

    def expire_udp_entries(self):
        """Drop UDP-only published entries (ids ``udp:...``) past their
        lifetime.  Only those: in a shared directory the entries of other
        processes' TCP sessions are theirs to remove."""
        before = self.node.now() - self.node.config.udp_publish_ttl
        d = self.node.directory.remove_stale(before, prefix=UDP_ENTRY_PREFIX)
        d.addCallback(self.node.directory_changed)
        return d
