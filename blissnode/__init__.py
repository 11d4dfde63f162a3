"""
blissnode: servers for the old peer-to-peer Skype network.

The package is layered so that imports only point downwards:

* :mod:`blissnode.wire` -- pure, sans-IO codecs (no sockets, no reactor);
* role packages (supernode, login, event) -- Twisted protocols that buffer,
  decode with :mod:`blissnode.wire` and dispatch to per-version handlers;
* storage and services at the edge, assembled by :mod:`blissnode.tap`.
"""

__version__ = "0.1.0"
