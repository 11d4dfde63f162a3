"""
:class:`RelayTable`: the supernode as the relay between two clients that
cannot reach each other (supernode.md 5.3, tcp.md 7; facts from the
5.5-derived SOS2 client).

A relayed connection has two *legs*, each a TCP session to us::

    opener  cmd 73 {INT 3 = own sid}            -> table.open()  -> cmd 75 {INT 3 = conn id}
    (the opener tells the other client the conn id in its cmd 67 proposal)
    joiner  cmd 74 {INT 3 = own sid, INT 4 = conn id} -> table.join() -> cmd 75
    relay   cmd 84 {INT 3 = that leg's sid} to both legs, then every 30 s
    records from one leg go to the other: type-5 session records with CHK
            re-keyed for the receiving leg's session id, payload unchanged

Rules: a connection id is random, non-zero and used once; a join needs the
exact id of an open connection that has no joiner yet (anything else is
refused and the joiner closed); when either leg closes the other is closed
too; limits are per source IP and in total, the forwarded bytes of each
direction pass a token bucket (the sending leg is paused, not dropped, so
nothing is lost), connections idle for ``idle_timeout`` and openers nobody
joined within ``join_timeout`` are closed.

A leg is any object with ``session_id`` (our session id, for logs),
``peer`` (ip, port), ``relay_send_records(bytes)`` (write record bytes on
its stream), ``relay_send_status(commands)`` (one packet), ``close()`` and
``pause_reading(seconds)``.  The table never touches sockets itself.
"""

import attr
from twisted.internet import task

from blissnode.logthrottle import LogThrottle
from blissnode.ratelimit import TokenBuckets
from blissnode.supernode.request import notification
from blissnode.wire.relay_commands import (
    CMD_RELAY_STATUS,
    RELAY_STATUS_INTERVAL,
    RelayStatus,
    rekey_session_record,
)
from blissnode.wire.tcp_records import TYPE_SESSION, SessionRecord

__all__ = ["RelayLimits", "RelayRefused", "RelayConnection", "RelayTable",
           "FORWARDED_RECORD_TYPES", "CHK_KEY"]

#: GUESS: which records a relay passes on after the join.  Type-5 session
#: records (VERIFIED: SOS2 talks to the peer through a real relay only with
#: them) and typed records of unknown types; acks (1) and padding (3) belong
#: to the leg's own stream and packets carry commands to the relay itself.
FORWARDED_RECORD_TYPES = "session-and-unknown"

#: Which session id keys the CHK of a record *arriving* from a leg.  SOS2
#: keys what it sends through a relay with the connection id it got from the
#: relay (tcp.md 7.1); the relay re-keys for the receiving leg's own session
#: id (its INT 3 of 73/74, the one cmd 84 names).  GUESS for real clients.
CHK_KEY = "connection-id"


@attr.s(slots=True)
class RelayLimits(object):
    """What an operator bounds (``blissnode.tap`` fills it from
    ``--relay-*``).  Times in seconds, rates in bytes per second."""

    #: Relayed connections (open or joined) per source IP, counted per leg.
    per_client = attr.ib(default=8)
    #: Relayed connections in total.
    total = attr.ib(default=4096)
    #: Bytes per second each direction of a connection may forward
    #: (``burst`` bytes at once).
    rate = attr.ib(default=256 * 1024)
    burst = attr.ib(default=256 * 1024)
    #: Close a connection nothing crossed for this long.
    idle_timeout = attr.ib(default=120.0)
    #: Close an opener nobody joined within this long.
    join_timeout = attr.ib(default=60.0)
    #: Record bytes an opener may send before the join (held, then
    #: forwarded); more closes it.
    max_pending = attr.ib(default=65536)
    #: Seconds between two cmd 84 (SOS2: 30).
    status_interval = attr.ib(default=RELAY_STATUS_INTERVAL)


class RelayRefused(Exception):
    """A cmd 73 / 74 the relay does not serve (reason in the message)."""


@attr.s(slots=True, eq=False)
class RelayConnection(object):
    """One relayed connection and its accounting."""

    connection_id = attr.ib()
    opener = attr.ib()
    opener_sid = attr.ib()
    opened_at = attr.ib()
    joiner = attr.ib(default=None)
    joiner_sid = attr.ib(default=None)
    joined_at = attr.ib(default=None)
    last_activity = attr.ib(default=None)
    last_status = attr.ib(default=None)
    #: Bytes / records forwarded opener -> joiner and joiner -> opener.
    bytes_up = attr.ib(default=0)
    bytes_down = attr.ib(default=0)
    records_up = attr.ib(default=0)
    records_down = attr.ib(default=0)
    pending = attr.ib(factory=list)
    pending_bytes = attr.ib(default=0)
    closed = attr.ib(default=False)

    @property
    def joined(self):
        return self.joiner is not None

    def other(self, leg):
        return self.joiner if leg is self.opener else self.opener

    def own_sid(self, leg):
        return self.opener_sid if leg is self.opener else self.joiner_sid


class RelayTable(object):
    """Every relayed connection of one supernode (see the module docstring)."""

    def __init__(self, limits=None, clock=None, rng=None, throttle=None):
        if clock is None:
            from twisted.internet import reactor as clock
        if rng is None:
            import random
            rng = random.SystemRandom()
        self.limits = limits if limits is not None else RelayLimits()
        self.clock = clock
        #: Peer-caused lines go through the per-source throttle.
        self.throttle = throttle if throttle is not None else LogThrottle(clock.seconds)
        self.rng = rng
        self._by_id = {}
        self._by_leg = {}
        self._per_ip = {}
        self._buckets = TokenBuckets(self.limits.rate, self.limits.burst, clock.seconds,
                                     max_keys=max(2 * self.limits.total, 16))
        self._loop = None
        #: Totals since start (the benchmark and the operator read them).
        self.forwarded_bytes = 0
        self.forwarded_records = 0
        self.refused = 0

    def __len__(self):
        return len(self._by_id)

    def connection(self, connection_id):
        return self._by_id.get(connection_id)

    def connection_of(self, leg):
        return self._by_leg.get(id(leg))

    # -- opening and joining ------------------------------------------------------

    def _check_room(self, leg):
        ip = leg.peer[0]
        if id(leg) in self._by_leg:
            raise RelayRefused("session already relays a connection")
        if self._per_ip.get(ip, 0) >= self.limits.per_client:
            raise RelayRefused("%d relayed connections from %s" % (self._per_ip[ip], ip))

    def _count(self, leg, delta):
        ip = leg.peer[0]
        n = self._per_ip.get(ip, 0) + delta
        if n > 0:
            self._per_ip[ip] = n
        else:
            self._per_ip.pop(ip, None)

    def open(self, leg, session_id):
        """cmd 73: a new connection for ``leg``; returns its id (RelayRefused
        when a limit is reached)."""
        try:
            self._check_room(leg)
            if len(self._by_id) >= self.limits.total:
                raise RelayRefused("relay full (%d connections)" % (len(self._by_id),))
            if session_id is None:
                raise RelayRefused("cmd 73 without INT 3")
        except RelayRefused:
            self.refused += 1
            raise
        cid = self._new_id()
        now = self.clock.seconds()
        conn = RelayConnection(cid, leg, session_id & 0xFFFFFFFF, now, last_activity=now)
        self._by_id[cid] = conn
        self._by_leg[id(leg)] = conn
        self._count(leg, 1)
        self._attached(leg)
        self._ensure_loop()
        return cid

    @staticmethod
    def _attached(leg):
        attached = getattr(leg, "relay_attached", None)
        if attached is not None:
            attached()

    def join(self, leg, session_id, connection_id):
        """cmd 74: attach ``leg`` to connection ``connection_id``; returns
        the :class:`RelayConnection`.  The caller answers cmd 75 and then
        calls :meth:`started` (which sends both cmd 84)."""
        try:
            self._check_room(leg)
            if session_id is None or connection_id is None:
                raise RelayRefused("cmd 74 without INT 3 or INT 4")
            conn = self._by_id.get(connection_id)
            if conn is None or conn.closed:
                raise RelayRefused("no relayed connection %d" % (connection_id,))
            if conn.joined:
                raise RelayRefused("relayed connection %d already has two legs"
                                   % (connection_id,))
        except RelayRefused:
            self.refused += 1
            raise
        now = self.clock.seconds()
        conn.joiner, conn.joiner_sid, conn.joined_at = leg, session_id & 0xFFFFFFFF, now
        conn.last_activity = now
        self._by_leg[id(leg)] = conn
        self._count(leg, 1)
        self._attached(leg)
        self.throttle.info(leg.peer[0], "relay-join",
                           "relay {cid}: session {a} from {pa} joined by session {b} "
                           "from {source}", cid=conn.connection_id, a=conn.opener.session_id,
                           pa=conn.opener.peer, b=leg.session_id)
        return conn

    def started(self, conn):
        """After the joiner's cmd 75: cmd 84 to both legs, then what the
        opener sent before the join."""
        if conn.closed:
            return
        self._send_status(conn)
        pending, conn.pending, conn.pending_bytes = conn.pending, [], 0
        for record in pending:
            self._deliver(conn, conn.opener, record)

    def _new_id(self):
        while True:
            cid = self.rng.randrange(1, 0x80000000)
            if cid not in self._by_id:
                return cid

    # -- forwarding -----------------------------------------------------------------

    def forwards(self, record):
        """Whether a record a leg sent goes to the other leg
        (:data:`FORWARDED_RECORD_TYPES`)."""
        return getattr(record, "record_type", None) not in (None, 1, 3, 4)

    def forward(self, leg, record):
        """A record ``leg`` sent.  Returns False when ``leg`` is no relay leg
        or the record is not forwarded."""
        conn = self._by_leg.get(id(leg))
        if conn is None or conn.closed or not self.forwards(record):
            return False
        conn.last_activity = self.clock.seconds()
        if not conn.joined:
            size = len(record.encode())
            if conn.pending_bytes + size > self.limits.max_pending:
                self.throttle.warn(leg.peer[0], "relay-pending",
                                   "relay {cid}: {n} bytes from {source} before the join; "
                                   "closing", cid=conn.connection_id,
                                   n=conn.pending_bytes + size)
                self.close(conn, "too much before the join")
                return True
            conn.pending.append(record)
            conn.pending_bytes += size
            return True
        self._deliver(conn, leg, record)
        return True

    def _deliver(self, conn, leg, record):
        target = conn.other(leg)
        if record.record_type == TYPE_SESSION and isinstance(record, SessionRecord):
            record = rekey_session_record(record, self._chk_key(conn, leg),
                                          conn.own_sid(target))
        data = record.encode()
        size = len(data)
        if leg is conn.opener:
            conn.bytes_up += size
            conn.records_up += 1
        else:
            conn.bytes_down += size
            conn.records_down += 1
        self.forwarded_bytes += size
        self.forwarded_records += 1
        target.relay_send_records(data)
        key = (conn.connection_id, leg is conn.opener)
        self._buckets.charge(key, size)
        wait = self._buckets.retry_after(key, 1.0)
        if wait > 0:
            leg.pause_reading(wait)

    def _chk_key(self, conn, leg):
        """The session id the CHK of a record from ``leg`` is keyed with
        (:data:`CHK_KEY`)."""
        return conn.connection_id

    # -- status, timeouts, closing -------------------------------------------------

    def _send_status(self, conn):
        conn.last_status = self.clock.seconds()
        for leg in (conn.opener, conn.joiner):
            leg.relay_send_status([notification(
                CMD_RELAY_STATUS, RelayStatus(conn.own_sid(leg)).items())])

    def _ensure_loop(self):
        if self._loop is None:
            self._loop = task.LoopingCall(self.sweep)
            self._loop.clock = self.clock
            self._loop.start(min(5.0, self.limits.status_interval,
                                 self.limits.join_timeout, self.limits.idle_timeout),
                             now=False)

    def sweep(self):
        """Periodic: cmd 84 every ``status_interval``, idle and unjoined
        connections closed; stops itself when nothing is relayed."""
        now = self.clock.seconds()
        limits = self.limits
        for conn in list(self._by_id.values()):
            if not conn.joined and now - conn.opened_at >= limits.join_timeout:
                self.close(conn, "nobody joined")
            elif now - conn.last_activity >= limits.idle_timeout:
                self.close(conn, "idle")
            elif conn.joined and now - conn.last_status >= limits.status_interval:
                self._send_status(conn)
        if not self._by_id:
            self.stop()

    def leg_lost(self, leg):
        """``leg``'s TCP session ended: the other leg goes too."""
        conn = self._by_leg.get(id(leg))
        if conn is not None:
            self.close(conn, "session %s closed" % (leg.session_id,), lost=leg)

    def close(self, conn, why, lost=None):
        """Close both legs of ``conn`` (except ``lost``, already gone)."""
        if conn.closed:
            return
        conn.closed = True
        self._by_id.pop(conn.connection_id, None)
        for leg in (conn.opener, conn.joiner):
            if leg is None:
                continue
            self._by_leg.pop(id(leg), None)
            self._count(leg, -1)
        for key in ((conn.connection_id, True), (conn.connection_id, False)):
            self._buckets.forget(key)
        self.throttle.info(conn.opener.peer[0], "relay-closed",
                           "relay {cid} of {source} closed ({why}): {up} bytes up, "
                           "{down} down", cid=conn.connection_id, why=why, up=conn.bytes_up,
                           down=conn.bytes_down)
        for leg in (conn.opener, conn.joiner):
            if leg is not None and leg is not lost:
                leg.close()

    def stop(self):
        if self._loop is not None:
            loop, self._loop = self._loop, None
            if loop.running:
                loop.stop()

    def close_all(self):
        for conn in list(self._by_id.values()):
            self.close(conn, "relay stopped")
        self.stop()
