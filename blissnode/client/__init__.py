"""
The reference client: the client side of every step a supernode serves.

It exists to test the servers (over loopback, for every supported client
version) and to poke at a running server from the command line
(``blissnode client probe`` / ``blissnode client connect``).  It speaks like
the old clients as far as the spec knows them; per-version behaviour is in
:mod:`blissnode.client.profiles`, everything a client does is written to a
:class:`~blissnode.client.transcript.Transcript`.

* :mod:`blissnode.client.udp` -- probe, NACK/resend, address query, slot
  query, publish, search, push (``UdpClient``, sans-IO ``UdpClientCore``);
* :mod:`blissnode.client.tcp` -- port-443 prelude, DH-384, seed exchange,
  client accept and the session commands (``connect_supernode``).

No server module imports this package.
"""
