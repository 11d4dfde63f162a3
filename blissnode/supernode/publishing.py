"""
:class:`Publications`: the user records clients publish (UDP cmd 12, TCP
cmd 60; supernode.md 5.1) and what the node learns from them.

A record names its user when its credential opens with our credential key;
the directory entry then carries the name (and with it presence, through
the core).  A client with a TCP session publishes into its session's entry;
a UDP-only one into an entry keyed by its address that expires.

Forgery (issue 17.7).  Search hits carry other users' records verbatim, so
anybody can republish one.  With a credential key, a record is stored only
when both signatures check (:func:`~blissnode.wire.credentials.verify_user_record`:
ours over the credential, the user's over the block that names it), its
credential has not expired, and it is bound to its sender
(:meth:`Publications.sender_may_publish`): on a TCP session, the session's
first named record fixes the session's user and later ones must name the
same user; without a TCP session, only a user signed in in this process
from the sender's IP address (an event connection, a supernode session) may
publish over UDP.  Refused records are dropped silently (the datagram is
still acknowledged: nothing tells a forger why) with a throttled log line.
"""

from twisted.internet import defer

from blissnode.store.directory import OnlineEntry, normalize_name
from blissnode.wire.credentials import minutes_since_epoch, parse_credential, verify_user_record
from blissnode.wire.errors import ProtocolError

__all__ = ["Publications", "UDP_ENTRY_PREFIX"]

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

    def verified_name(self, record):
        """The user of a record whose signatures and credential time check;
        ProtocolError otherwise.  None when we hold no credential key (names
        then stay unknown and nothing is verified)."""
        key = self.node.credential_key
        if key is None:
            return None
        try:
            verified = verify_user_record(record, key)
        except (ValueError, TypeError) as e:
            raise ProtocolError("unreadable user record: %s" % (e,))
        credential = verified.credential
        if credential.expiry < minutes_since_epoch(self.node.now()):
            raise ProtocolError("the credential of %s has expired" % (credential.name,))
        return credential.name

    def sender_may_publish(self, name, peer, session):
        """GUESS (issue 17.7; nothing in the protocol says how a real
        supernode bound records): may ``peer`` publish ``name``'s record?
        A TCP session publishes for its own user only (the first named
        record fixes it); a UDP sender only while ``name`` is online from the
        sender's IP address -- signed in here, or (workers, several
        machines) in the shared directory.  True, False or a Deferred of
        either.  Override to change."""
        name = normalize_name(name)
        if session is not None:
            return session.user_name is None or normalize_name(session.user_name) == name
        for target in self.node.core.sessions.for_user(name):
            target_peer = getattr(target, "peer", None)
            ip = target_peer[0] if isinstance(target_peer, tuple) else target_peer
            if ip == peer[0]:
                return True
        # Held by another process (its UDP datagrams may reach this one).
        d = self.node.directory.lookup_name(name)
        d.addCallback(lambda entries: any(
            e.public_addr is not None and e.public_addr[0] == peer[0] for e in entries))
        return d

    def publish(self, peer, session, record):
        """Store a published user record.  With a TCP session it goes into
        that session's entry; without (a UDP-only client) into an entry keyed
        by the UDP address that expires after ``udp_publish_ttl``.  A forged,
        expired or foreign record is dropped (module docstring)."""
        try:
            name = self.verified_name(record)
        except ProtocolError as e:
            self.node.throttle.warn(peer[0], "publish-refused",
                                    "{source}: published user record refused: {error}",
                                    error=str(e)[:120])
            return defer.succeed(None)
        if name is None:
            return self._store(peer, session, record, name)
        if self.node.core.is_barred(name):
            # Suspended or deleted by an operator (Core.bar): not published.
            self.node.throttle.info(peer[0], "publish-barred",
                                    "{source}: refused the record of {name} (barred by an "
                                    "operator)", name=name)
            close = getattr(session, "close_session", None)
            if close is not None:
                close("account barred by an operator")
            return defer.succeed(None)
        d = defer.maybeDeferred(self.sender_may_publish, name, peer, session)

        def decided(allowed):
            if not allowed:
                self.node.throttle.warn(peer[0], "publish-foreign",
                                        "{source}: refused to publish {name}'s record: it "
                                        "is not signed in from there", name=name)
                return None
            return self._store(peer, session, record, name)
        return d.addCallback(decided)

    def _store(self, peer, session, record, name):
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
