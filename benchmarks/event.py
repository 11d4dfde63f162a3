#!/usr/bin/env python3
"""
Broadcast fan-out and offline-message throughput of the event server, over
loopback, in one process (server and reference clients share the reactor and
one core).

    python benchmarks/event.py [--contacts 1000] [--messages 2000] [--rounds 5]

Printed figures (no assertions):

* **fan-out**: one user with ``--contacts`` mutually authorised contacts,
  each signed in with its own event connection (4.2 client, classic
  transport); the user changes status ``--rounds`` times.  For each change:
  the server's fan-out time (store query for the watchers, one AES-sealed
  push record per watcher written) and the time until the last client has
  decoded its push; messages per second = watchers / time; the reactor
  turns one fan-out took and the longest of them -- for the sliced fan-out
  and, side by side, the whole fan-out in one turn;
* **offline messages**: ``--messages`` messages sent by one client to an
  offline user, pipelined (all requests written, then all answers awaited):
  messages stored per second; then the recipient signs in and fetches and
  acknowledges them in batches: messages delivered per second; and the same
  two figures for the bare store (``SyncMessageStore`` on the store thread)
  for comparison.

SQLite lives in a temporary directory; scrypt runs with test parameters
(the figures are not about password hashing).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LOOPBACK = "127.0.0.1"
LABEL = "4.2.0.187"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    from twisted.internet import defer, task

    task.react(lambda reactor: defer.ensureDeferred(run(reactor, args)))


async def run(reactor, args):
    from twisted.internet import defer

    from blissnode.client.event import EventClientCore, connect_event
    from blissnode.event import codes as C
    from blissnode.event.protocol import EventServerFactory, EventService
    from blissnode.keys import generate_private_key, ServerKey, ServerKeys
    from blissnode.auth.limiter import FailedLoginLimiter, Limit
    from blissnode.store.contacts import ContactLimits
    from blissnode.store.hashing import ScryptParams
    from blissnode.store.messages import MessageLimits
    from blissnode.store.sqlite import StoreService, database_path
    from blissnode.versions.registry import VersionRegistry
    from blissnode.wire.credentials import md5_credential
    from blissnode.wire.rsa_raw import RsaPrivate

    n = args.contacts
    directory = tempfile.mkdtemp(prefix="blissnode-bench-")
    store = StoreService(database_path(directory), reactor=reactor,
                         params=ScryptParams(n=2 ** 4, r=8, p=1),
                         contact_limits=ContactLimits(max_contacts=max(1000, n + 10)),
                         message_limits=MessageLimits(max_count=10 ** 7, max_bytes=10 ** 10,
                                                      max_sender_count=10 ** 7,
                                                      max_sender_bytes=10 ** 10,
                                                      max_fetch=1000))
    store.startService()
    # A failed run must end too: the database thread stops with the reactor.
    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: store.stopService() if store.running else None)
    await store.ready

    def keys():
        def key(bits):
            return RsaPrivate.from_numbers(generate_private_key(bits).private_numbers())
        return ServerKeys(ServerKey("login", None, key(1536)),
                          ServerKey("credential", None, key(2048)))
    server_keys = keys()

    subject = "subject00"
    watchers = ["watcher%05d" % i for i in range(n)]

    def populate(opened):
        for name in [subject, "sender00", "recipient"] + watchers:
            opened.accounts.create_account(name, md5_credential(name, "pw"))
        for w in watchers:
            opened.contacts.request_authorization(w, subject)
            opened.contacts.accept_authorization(subject, w)

    started = time.perf_counter()
    await store.run(populate)
    print("setup: %d accounts, %d mutual authorisations in %.1f s"
          % (n + 3, n, time.perf_counter() - started))

    service = EventService.from_store(
        store, clock=reactor, registry=VersionRegistry.from_plugins(),
        limiter=FailedLoginLimiter(reactor, per_address=Limit(10 ** 6, 1.0)),
        broadcast={"delay": 0.0, "min_interval": 0.0, "max_fanout": 10 ** 6})
    # The clients all come from one address: lift the per-address admission
    # limits (issue 17) that a real server keeps.
    factory = EventServerFactory(server_keys, service, clock=reactor, max_connections=n + 100,
                                 max_per_address=n + 100, connect_rate=1e9,
                                 connect_burst=10 ** 9)
    port = reactor.listenTCP(0, factory, interface=LOOPBACK, backlog=1024)
    portnum = port.getHost().port
    login_n = server_keys.login.private.n

    async def connect(name):
        core = EventClientCore(LABEL, name, md5_credential(name, "pw"), login_n)
        session = await connect_event(reactor, LOOPBACK, portnum, core, timeout=120)
        await session.start()
        return session

    started = time.perf_counter()
    sessions = []
    for i in range(0, n, 50):
        batch = await defer.gatherResults(
            [defer.ensureDeferred(connect(w)) for w in watchers[i:i + 50]])
        sessions.extend(batch)
    print("setup: %d watchers signed in over loopback in %.1f s"
          % (n, time.perf_counter() - started))
    me = await connect(subject)
    await service.broadcaster.idle()

    # -- fan-out ---------------------------------------------------------------------
    # The sliced fan-out (the default) and, side by side, the whole fan-out
    # in one reactor turn (what the server did before slicing).
    broadcaster = service.broadcaster
    modes = [("sliced", broadcaster.slice_size, broadcaster.slice_seconds),
             ("one turn", 10 ** 9, float("inf"))]
    print("fan-out of one presence change to %d online contacts (%d rounds each, median):"
          % (n, args.rounds))
    rounds_done = 0
    for mode, size, seconds in modes:
        broadcaster.slice_size, broadcaster.slice_seconds = size, seconds
        broadcaster.stats.longest_slice = 0.0
        slices0 = broadcaster.stats.slices
        server_times, end_times = [], []
        for r in range(args.rounds):
            status = C.STATUS_AWAY if rounds_done % 2 == 0 else C.STATUS_ONLINE
            rounds_done += 1
            seen = [len(s.protocol.pushes) for s in sessions]
            t0 = time.perf_counter()
            await me.set_status(status)
            await broadcaster.idle()
            server_times.append(broadcaster.stats.last_seconds)
            while any(len(s.protocol.pushes) == k for s, k in zip(sessions, seen)):
                if time.perf_counter() - t0 > 120:
                    raise SystemExit("fan-out did not reach every watcher in 120 s")
                await task_sleep(reactor, 0.001)
            end_times.append(time.perf_counter() - t0)
            assert broadcaster.stats.last_fanout == n
        s_med, e_med = statistics.median(server_times), statistics.median(end_times)
        print("  %-8s server %.1f ms (watchers query + %d sealed push records) = %.0f msgs/s;"
              " end to end %.1f ms = %.0f msgs/s; %.1f reactor turns per fan-out, longest "
              "%.1f ms" % (mode, s_med * 1e3, n, n / s_med, e_med * 1e3, n / e_med,
                           (broadcaster.stats.slices - slices0) / args.rounds,
                           broadcaster.stats.longest_slice * 1e3))
    stats = broadcaster.stats
    print("  broadcaster: %d broadcasts, %d messages, %d coalesced, %d dropped"
          % (stats.broadcasts, stats.messages, stats.coalesced, stats.dropped))
    for s in sessions:
        await s.close()

    # -- offline messages --------------------------------------------------------------------
    m = args.messages
    sender = await connect("sender00")
    t0 = time.perf_counter()
    results = await defer.gatherResults(
        [sender.send("recipient", "message number %d" % i) for i in range(m)])
    stored = time.perf_counter() - t0
    assert [seq for seq, _ in results] == list(range(1, m + 1))
    print("offline messages: %d stored (pipelined requests, one client) in %.2f s = %.0f/s"
          % (m, stored, m / stored))
    recipient = await connect("recipient")
    t0 = time.perf_counter()
    got = await recipient.inbox()
    delivered = time.perf_counter() - t0
    assert [x.seq for x in got] == list(range(1, m + 1))
    assert await recipient.inbox() == []
    print("offline messages: %d delivered (fetch + ack, %d per fetch) in %.2f s = %.0f/s"
          % (m, 50, delivered, m / delivered))
    await sender.close()
    await recipient.close()
    await me.close()

    def bare(opened):
        t0 = time.perf_counter()
        for i in range(m):
            opened.messages.store_message("recipient", "sender00", "message",
                                          b"message number %d" % i)
        t1 = time.perf_counter()
        count = 0
        while True:
            batch = opened.messages.fetch("recipient", 50)
            if not batch:
                break
            opened.messages.ack("recipient", batch[-1].seq)
            count += len(batch)
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, count

    s_time, d_time, count = await store.run(bare)
    assert count == m
    print("bare store: %.0f stored/s, %.0f delivered/s (fetch 50 + ack)"
          % (m / s_time, m / d_time))
    await port.stopListening()
    await store.stopService()


def task_sleep(reactor, seconds):
    from twisted.internet import task
    return task.deferLater(reactor, seconds, lambda: None)


if __name__ == "__main__":
    main()
