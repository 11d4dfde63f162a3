"""
One worker of ``twistd -n blissnode --workers N``: ``python -m
blissnode.worker OPTIONS``, started by the master
(:mod:`blissnode.cluster.master`), never by hand.

The master passes the blissnode options on the command line and, in the
environment variable :data:`~blissnode.cluster.master.WORKER_ENV`, the
worker's number, its process tag and the file descriptors of the listening
sockets it inherited.  The worker builds the same service ``twistd`` would
(:func:`blissnode.tap.makeService`) on those sockets and runs it until
SIGTERM.  Its log events go to stdout as JSON lines, which the master
re-emits in its own log; a fatal start-up error is one line and exit code 1.
"""

import json
import os
import sys

from twisted.application import service
from twisted.internet import defer
from twisted.logger import Logger, globalLogBeginner, jsonFileLogObserver
from twisted.python import usage

from blissnode.cluster.master import WORKER_ENV
from blissnode.tap import Options, makeService

log = Logger()

__all__ = ["main"]


def _spec():
    raw = os.environ.get(WORKER_ENV)
    if not raw:
        raise SystemExit("blissnode.worker: started without %s; workers are started by "
                         "twistd blissnode --workers N" % (WORKER_ENV,))
    spec = json.loads(raw)
    spec["fds"] = {str(k): int(v) for k, v in spec.get("fds", {}).items()}
    return spec


def main(argv=None, reactor=None):
    spec = _spec()
    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as e:
        raise SystemExit("blissnode.worker: %s" % (e,))
    globalLogBeginner.beginLoggingTo([jsonFileLogObserver(sys.stdout, recordSeparator="")],
                                     redirectStandardIO=False)
    if reactor is None:
        from twisted.internet import reactor
    exit_code = []

    def start():
        try:
            top = makeService(options, reactor=reactor, worker=spec)
            application = service.MultiService()
            top.setServiceParent(application)
            application.privilegedStartService()
            application.startService()
        except SystemExit as e:
            log.critical("worker {n}: {error}", n=spec["index"], error=e)
            exit_code.append(1)
            reactor.stop()
            return
        except Exception:
            log.failure("worker {n} could not start", n=spec["index"])
            exit_code.append(1)
            reactor.stop()
            return
        log.info("worker {n} running (tag {tag})", n=spec["index"], tag=spec["tag"])
        reactor.addSystemEventTrigger("before", "shutdown",
                                      lambda: defer.maybeDeferred(application.stopService))

    reactor.callWhenRunning(start)
    reactor.run()
    sys.stdout.flush()
    return exit_code[0] if exit_code else 0


if __name__ == "__main__":
    sys.exit(main())
