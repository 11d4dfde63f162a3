"""
``blissnode patch-client``: rewrite an old Skype client binary so that it
trusts this server's keys and talks to this server's addresses.

The package is layered like the rest of blissnode; each module holds one
concept:

* :mod:`~blissnode.patch.known` -- Skype's own moduli and server addresses
  (the bytes to look for), as data;
* :mod:`~blissnode.patch.forms` -- the byte layouts a modulus may be stored
  in;
* :mod:`~blissnode.patch.builds` -- per-build knowledge (known SHA-256,
  expected counts, extra addresses) and its registration hook;
* :mod:`~blissnode.patch.executable` -- the executable-format interface and
  format detection; :mod:`~blissnode.patch.pe` (``pefile``) and
  :mod:`~blissnode.patch.elf` (``pyelftools``) implement it;
* :mod:`~blissnode.patch.packing` -- "does this binary look packed?";
* :mod:`~blissnode.patch.keyscan` and :mod:`~blissnode.patch.addresses` --
  find what to replace and plan each edit;
* :mod:`~blissnode.patch.routing` -- the hosts-file / loopback / DNAT
  recipes printed where an address cannot be rewritten in place;
* :mod:`~blissnode.patch.report` -- what was found and done, as data;
* :mod:`~blissnode.patch.patcher` -- puts it together and writes the copy.

It imports :mod:`blissnode.keys` and :mod:`blissnode.versions` only (no
server role, no client, no command line); docs/patch-client.rst is the
user's guide.
"""
