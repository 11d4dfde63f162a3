"""
The operator's surface of a running server: account operations that also
end the sessions they affect (:mod:`~blissnode.admin.accounts`), the
management API and web page on their own listener (``--admin``), and the
Prometheus metrics.  Built by :func:`blissnode.admin.service.make_admin`
from :func:`blissnode.tap.makeService`; in-process only (one process's
sessions, see docs/operating.rst).
"""
