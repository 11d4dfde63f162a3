"""
:class:`ClusterLink`: one process's line to the other processes of its
community, over the bus (:mod:`blissnode.store.bus`).

What it carries, and why each is enough:

presence
    each process anchors the users of its own sessions
    (:class:`~blissnode.core.presence.Presence`); every change of a
    process's own view of a user is published, every process keeps the
    others' views (``set_remote``) and so answers "is bob online, how" for
    the whole community.  A new process says ``hello`` and every other one
    answers with a ``sync`` of its online users.
broadcasts
    every process hears of every change, so each one fans a change out to
    the watchers connected *to it* (``Core.deliver_here``); nothing is sent
    twice and no broadcast crosses the bus.
deliveries for one user
    ``Core.deliver`` (an inbox notification, a new authorisation) also goes
    out as ``deliver``; each receiver hands it to its own sessions of that
    user.
pushes for one session
    a UDP push (cmd 53) can reach any process; when the directory names a
    session of another process (session ids begin with their holder's tag),
    it goes to that process's own channel, which sends it to its client and
    answers the pusher from the same UDP port (the workers share it).
liveness
    ``alive`` every :data:`HEARTBEAT` seconds; a process not heard of for
    :data:`PEER_TIMEOUT` seconds, or that said ``bye`` (or whose master said
    it for it after it died), is forgotten: its users go offline unless
    held elsewhere.

The bus is at most once and the processes' views are eventually equal: a
message lost while Redis was away is repaired by the next change of that
user or by the ``sync`` a process asks for when it (re)discovers a peer.
Messages from one process arrive in order (the bus publishes from one
thread).
"""

import itertools

from twisted.application import service
from twisted.internet import defer, task
from twisted.logger import Logger

from blissnode.cluster import codec
from blissnode.store.loglimit import OncePer

log = Logger()

__all__ = ["ClusterLink", "CLUSTER_CHANNEL", "HEARTBEAT", "PEER_TIMEOUT", "LinkStats",
           "instance_channel"]

#: The channel every process listens to.
CLUSTER_CHANNEL = "cluster"

#: Seconds between two heartbeats.
HEARTBEAT = 5.0

#: Seconds of silence after which a process counts as gone.
PEER_TIMEOUT = 20.0

#: Most peers remembered (a community has a handful of processes).
MAX_PEERS = 1024

#: Bytes of users in one ``sync`` payload (below the bus's 64 KiB).
SYNC_BYTES = 48 * 1024


def instance_channel(tag):
    """The channel of one process (its pushes and sync answers)."""
    return "instance:" + tag


class LinkStats(object):
    """Counters of a :class:`ClusterLink` (tests, the benchmark, operators)."""

    def __init__(self):
        self.sent = 0
        self.received = 0
        self.bad = 0
        self.deliveries_out = 0
        self.deliveries_in = 0
        self.pushes_out = 0
        self.pushes_in = 0
        self.publish_failures = 0


class ClusterLink(service.Service):
    """Presence, deliveries and pushes between this process and the others
    sharing ``bus`` (module docstring).  Attaches itself to ``core`` while
    running (``core.cluster``); ``core.instance`` is this process's tag and
    must be set.

    :param heartbeat: seconds between heartbeats (and liveness checks).
    :param timeout: seconds of silence after which a peer is gone.
    """

    name = "cluster"

    def __init__(self, core, bus, clock=None, heartbeat=HEARTBEAT, timeout=PEER_TIMEOUT):
        if not core.instance:
            raise ValueError("a cluster link needs a process tag (core.instance)")
        self.core = core
        self.bus = bus
        self.clock = clock if clock is not None else core.clock
        self.tag = core.instance
        self.heartbeat = heartbeat
        self.timeout = timeout
        #: tag -> when we last heard of it.
        self.peers = {}
        self.stats = LinkStats()
        self._sequence = itertools.count(1)
        self._subscriptions = []
        self._loop = None
        self._throttle = OncePer(self.clock.seconds, 60.0)

    # -- life cycle -------------------------------------------------------------------

    def startService(self):
        service.Service.startService(self)
        self.core.cluster = self
        d = defer.gatherResults([
            self.bus.subscribe(CLUSTER_CHANNEL, self._received),
            self.bus.subscribe(instance_channel(self.tag), self._received)],
            consumeErrors=True)

        def subscribed(subscriptions):
            self._subscriptions = subscriptions
            log.info("cluster: process {tag} joined the bus", tag=self.tag)
            return self._publish(CLUSTER_CHANNEL, "hello")

        def failed(failure):
            log.error("cluster: cannot subscribe to the bus ({error}); this process "
                      "sees only its own sessions until it can",
                      error=failure.getErrorMessage()[:200])
        d.addCallbacks(subscribed, failed)
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = self.clock
        self._loop.start(self.heartbeat, now=False)
        self.started = d
        return d

    def stopService(self):
        service.Service.stopService(self)
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self.core.cluster is self:
            self.core.cluster = None
        d = self._publish(CLUSTER_CHANNEL, "bye")
        subscriptions, self._subscriptions = self._subscriptions, []
        d.addBoth(lambda _: defer.gatherResults(
            [s.cancel() for s in subscriptions], consumeErrors=True))
        d.addErrback(lambda f: None)
        return d

    # -- sending -----------------------------------------------------------------------

    def _publish(self, channel, kind, **fields):
        payload = codec.encode(self.tag, next(self._sequence), kind, **fields)
        self.stats.sent += 1
        d = self.bus.publish(channel, payload)

        def failed(failure):
            self.stats.publish_failures += 1
            if self._throttle.allow("publish"):
                log.warn("cluster: a {kind} message did not leave ({error}; "
                         "{n} failures so far)", kind=kind,
                         error=failure.getErrorMessage()[:200], n=self.stats.publish_failures)
        return d.addErrback(failed)

    def presence_changed_here(self, name):
        """This process's own view of ``name`` changed (called by the core)."""
        if not self.running:
            return
        presence = self.core.presence
        fields = codec.state_fields(presence.local_state(name))
        if fields["s"] is None:
            fields["l"] = presence.own_state(name).last_online
        self._publish(CLUSTER_CHANNEL, "presence", n=name, **fields)

    def deliver_elsewhere(self, name, message):
        """``Core.deliver``: the other processes deliver ``message`` to their
        sessions of ``name``."""
        if not self.running or not self.peers:
            return
        data = codec.encode_delivery(message)
        if data is None:
            return
        self.stats.deliveries_out += 1
        self._publish(CLUSTER_CHANNEL, "deliver", n=name, m=data)

    def reachable(self, session_id):
        """Whether ``session_id`` is a session of a live peer."""
        holder = self.core.holder_of(session_id)
        return holder is not None and holder != self.tag and holder in self.peers

    def send_to_session(self, session_id, message):
        """Send ``message`` to the process holding ``session_id``; False when
        that process is not known to be alive (or the message cannot travel)."""
        if not self.running or not self.reachable(session_id):
            return False
        data = codec.encode_delivery(message)
        if data is None:
            return False
        self.stats.pushes_out += 1
        self._publish(instance_channel(self.core.holder_of(session_id)), "session",
                      sid=str(session_id), m=data)
        return True

    def _send_sync(self, to):
        """Every user online here, to process ``to``, in payloads of at most
        :data:`SYNC_BYTES`."""
        presence = self.core.presence
        chunk, size = [], 0
        for name in presence.local_names():
            state = presence.local_state(name)
            if state is None:
                continue
            entry = [name, state.status, state.mood, state.changed_at]
            cost = len(name) + len(state.mood or "") + 40
            if chunk and size + cost > SYNC_BYTES:
                self._publish(instance_channel(to), "sync", u=chunk)
                chunk, size = [], 0
            chunk.append(entry)
            size += cost
        if chunk:
            self._publish(instance_channel(to), "sync", u=chunk)

    # -- receiving ---------------------------------------------------------------------

    def _received(self, channel, payload):
        try:
            sender, _sequence, kind, fields = codec.decode(payload)
        except codec.BadMessage as e:
            self._bad("unreadable message on {channel}: {error}", channel=channel, error=e)
            return
        if sender == self.tag:
            return
        self.stats.received += 1
        if kind == "bye":
            self.forget(sender, "said bye")
            return
        new = sender not in self.peers
        if new and len(self.peers) >= MAX_PEERS:
            self._bad("more than {n} processes on the bus; ignoring {tag}",
                      n=MAX_PEERS, tag=sender)
            return
        self.peers[sender] = self.clock.seconds()
        if new:
            log.info("cluster: process {tag} is on the bus", tag=sender)
            if kind != "hello":
                # A peer we had not heard of (it started while we were away
                # from the bus): ask for what it holds.
                self._publish(instance_channel(sender), "hello")
        try:
            self._dispatch(sender, kind, fields)
        except codec.BadMessage as e:
            self._bad("bad {kind} message from {tag}: {error}", kind=kind, tag=sender,
                      error=e)

    def _bad(self, fmt, **kw):
        self.stats.bad += 1
        if self._throttle.allow("bad"):
            kw = {k: str(v)[:200] for k, v in kw.items()}
            log.warn("cluster: " + fmt + " ({bad} so far)", bad=self.stats.bad, **kw)

    def _dispatch(self, sender, kind, fields):
        presence = self.core.presence
        if kind == "hello":
            self._send_sync(sender)
        elif kind == "presence":
            last = fields.get("l")
            presence.set_remote(sender, codec.name_of(fields), codec.remote_state(fields),
                                last if isinstance(last, (int, float)) else None)
        elif kind == "sync":
            users = fields.get("u")
            if not isinstance(users, list):
                raise codec.BadMessage("no user list")
            for entry in users:
                if not (isinstance(entry, list) and len(entry) == 4):
                    raise codec.BadMessage("bad user entry")
                name, status, mood, changed_at = entry
                presence.set_remote(sender, codec.name_of({"n": name}), codec.remote_state(
                    {"s": status, "m": mood, "c": changed_at}))
        elif kind == "deliver":
            message = codec.decode_delivery(fields.get("m"))
            self.stats.deliveries_in += 1
            d = self.core.deliver_here(codec.name_of(fields), message)
            d.addErrback(lambda f: log.failure("cluster: delivery failed", f))
        elif kind == "session":
            message = codec.decode_delivery(fields.get("m"))
            target = self.core.sessions.get(str(fields.get("sid")))
            self.stats.pushes_in += 1
            if target is not None:
                try:
                    target.deliver(message)
                except Exception:
                    log.failure("cluster: delivery to session {sid} failed",
                                sid=str(fields.get("sid"))[:80])

    # -- liveness ----------------------------------------------------------------------

    def _tick(self):
        self._publish(CLUSTER_CHANNEL, "alive")
        now = self.clock.seconds()
        for tag, seen in list(self.peers.items()):
            if now - seen > self.timeout:
                self.forget(tag, "silent for %d s" % (now - seen,))

    def forget(self, tag, why):
        """Process ``tag`` is gone: its users go offline unless held elsewhere."""
        known = self.peers.pop(tag, None) is not None
        changed = self.core.presence.forget_process(tag, last_online=self.clock.seconds())
        if known or changed:
            log.info("cluster: process {tag} {why}; {n} of its users went offline",
                     tag=tag, why=why, n=len(changed))
        return changed
