"""
The core every server role shares, and the only way roles reach each other.

No role imports another role.  What crosses roles goes through one
:class:`~blissnode.core.hub.Core` that ``blissnode.tap`` builds and hands
to every role:

* :mod:`~blissnode.core.presence` -- who is online (anchored by a
  supernode session whose record names them, or an event connection), with
  status and mood, and the listeners told of every change;
* :mod:`~blissnode.core.directory` -- the online directory (any
  :class:`~blissnode.store.directory.IOnlineDirectory`: memory or Redis),
  wrapped so that its entries anchor presence;
* :mod:`~blissnode.core.delivery` -- the live sessions of every role as
  delivery targets, and the messages roles hand each other (a presence
  change, "your inbox changed");
* stream hand-off: a role offers a protocol factory under a name (the
  event server as ``"event"``), another role gives it a connection (the
  supernode, after cmd 7).

This is the seam the scale-out plugs into: a shared directory and
cross-process delivery replace the in-process parts without the roles
changing.
"""
