"""
``/metrics``: the Prometheus exposition of :class:`~blissnode.admin.status.ServerStatus`.

A collector of its own registry (not prometheus_client's global one, so
several servers in one test process do not clash) reads the live figures
at scrape time; nothing is updated on the hot paths.
"""

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["make_registry", "render_metrics", "CONTENT_TYPE_LATEST"]


class _StatusCollector(object):
    def __init__(self, status, registration):
        self.status = status
        self.registration = registration

    def collect(self):
        status = self.status
        yield GaugeMetricFamily("blissnode_uptime_seconds", "Seconds since start-up.",
                                value=status.uptime())
        per_role, per_version = status.counts()
        sessions = GaugeMetricFamily("blissnode_sessions", "Live sessions per role.",
                                     labels=["role"])
        for role, n in sorted(per_role.items()):
            sessions.add_metric([role], n)
        yield sessions
        versions = GaugeMetricFamily("blissnode_sessions_by_version",
                                     "Live sessions per role and client version.",
                                     labels=["role", "version"])
        for (role, version), n in sorted(per_version.items()):
            versions.add_metric([role, version], n)
        yield versions
        started = CounterMetricFamily("blissnode_sessions_started",
                                      "Sessions started since start-up, per role.",
                                      labels=["role"])
        for role in sorted(set(status.roles) | set(status.started)):
            started.add_metric([role], status.started.get(role, 0))
        yield started
        if self.registration is not None:
            yield GaugeMetricFamily("blissnode_registration_open",
                                    "1 when clients may sign up from their own screen.",
                                    value=1 if self.registration.is_open else 0)


def make_registry(status, registration=None):
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_StatusCollector(status, registration))
    return registry


def render_metrics(registry):
    """The text exposition (bytes)."""
    return generate_latest(registry)
