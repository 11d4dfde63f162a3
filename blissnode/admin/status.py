"""
:class:`ServerStatus`: what the status page, ``/api/status`` and
``/metrics`` say about this process -- uptime, live sessions per role and
per client version, and how many sessions started recently (the rates).

Counts come from the core's session registry (:meth:`Core.live_sessions`);
starts are counted as the registry adds sessions, so no role needs to know
about operators.
"""

import collections

from twisted.logger import Logger

__all__ = ["ServerStatus", "RATE_WINDOW"]

log = Logger()

#: Seconds over which the start rates are averaged.
RATE_WINDOW = 300.0

#: Most start times remembered per role (bounds memory under a flood).
MAX_REMEMBERED_STARTS = 100000


class ServerStatus(object):
    """Live figures of one process.

    :param core: the process's :class:`~blissnode.core.hub.Core`.
    :param clock: ``IReactorTime``.
    :param roles: the roles this process runs (shown even with no session).
    """

    def __init__(self, core, clock, roles=()):
        self.core = core
        self.clock = clock
        self.roles = tuple(roles)
        self.started_at = clock.seconds()
        #: role -> sessions started since start-up.
        self.started = collections.Counter()
        self._recent = collections.defaultdict(
            lambda: collections.deque(maxlen=MAX_REMEMBERED_STARTS))
        core.sessions.watch(self._session_added)

    def _session_added(self, target):
        role = getattr(target, "role", "unknown")
        self.started[role] += 1
        self._recent[role].append(self.clock.seconds())

    def uptime(self):
        return self.clock.seconds() - self.started_at

    def sessions(self):
        """The :class:`~blissnode.core.delivery.SessionInfo` of every live session."""
        return self.core.live_sessions()

    def counts(self, sessions=None):
        """``(per role, per (role, version))`` counts of live sessions."""
        sessions = self.sessions() if sessions is None else sessions
        per_role = collections.Counter({role: 0 for role in self.roles})
        per_version = collections.Counter()
        for info in sessions:
            per_role[info.role] += 1
            per_version[(info.role, info.version or "unknown")] += 1
        return per_role, per_version

    def rates(self):
        """Sessions started per minute over the last :data:`RATE_WINDOW` seconds, per role."""
        now = self.clock.seconds()
        window = min(RATE_WINDOW, max(now - self.started_at, 1.0))
        out = {role: 0.0 for role in self.roles}
        for role, times in self._recent.items():
            while times and times[0] < now - RATE_WINDOW:
                times.popleft()
            out[role] = round(len(times) * 60.0 / window, 3)
        return out

    def to_json(self, registration_open=None):
        sessions = self.sessions()
        per_role, per_version = self.counts(sessions)
        users = set()
        for info in sessions:
            users.update(info.users)
        return {
            "uptime_seconds": round(self.uptime(), 3),
            "started_at": self.started_at,
            "sessions": dict(per_role),
            "sessions_per_version": [
                {"role": role, "version": version, "count": n}
                for (role, version), n in sorted(per_version.items())],
            "users_online": len(users),
            "sessions_started": dict(self.started),
            "sessions_started_per_minute": self.rates(),
            "registration_open": registration_open,
        }
