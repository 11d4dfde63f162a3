"""
Several blissnode processes serving one community.

Everything processes must agree on lives in shared servers (accounts in
PostgreSQL, the online directory in Redis, see docs/scaling.rst); what
stays in each process -- its TCP and UDP sessions, the presence of the
users those sessions anchor -- is made known to the others over the bus
(:mod:`blissnode.store.bus`):

* :mod:`~blissnode.cluster.codec` -- the messages between processes, as
  bytes;
* :mod:`~blissnode.cluster.link` -- :class:`ClusterLink`, one per process:
  presence replication, deliveries and pushes for sessions held elsewhere,
  heartbeats;
* :mod:`~blissnode.cluster.sockets` -- the listening sockets a master
  process makes once and hands to its workers;
* :mod:`~blissnode.cluster.master` -- ``--workers N``: start, watch and
  restart the worker processes.
"""
