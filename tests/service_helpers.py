"""
A whole blissnode service (``tap.makeService``) in the test's own reactor:
started, stopped at clean-up, with the bound port of every listener.
"""

from twisted.internet import defer, reactor

from blissnode import tap


@defer.inlineCallbacks
def start_service(testcase, argv):
    """Parse ``argv`` as ``twistd blissnode`` options, build and start the
    service (stopped at ``testcase``'s clean-up), wait for its store; fires
    with ``(service, {listener name: bound port})``."""
    options = tap.Options()
    options.parseOptions(list(argv))
    service = tap.makeService(options, reactor)
    service.privilegedStartService()
    service.startService()
    testcase.addCleanup(service.stopService)
    if service.store is not None:
        yield service.store.ready
    ports = {}
    for child in service:
        port = getattr(child, "port", None)
        if port is None and hasattr(child, "_waitingForPort"):
            port = yield child._waitingForPort
        if port is not None:
            ports[child.name] = port.getHost().port
    return service, ports
