"""
Pure codecs for the old Skype wire protocol.

Nothing in this package touches a socket, a reactor or the file system; each
module takes bytes and returns values (or the reverse), so every byte can be
checked against the shared test vectors.  Decoders raise only
:class:`ProtocolError` (and its subclasses) on bad input.

The modules, bottom up:

* :mod:`~blissnode.wire.crc` -- CRC32R and CRC-16/XMODEM;
  :mod:`~blissnode.wire.ipv4` -- dotted-quad addresses;
* :mod:`~blissnode.wire.rc4` -- the seed expansion and RC4 (C accelerated
  where built);
* :mod:`~blissnode.wire.varint`, :mod:`~blissnode.wire.objects`,
  :mod:`~blissnode.wire.compress42` -- object lists, 0x41 and 0x42;
* :mod:`~blissnode.wire.seed_exchange`, :mod:`~blissnode.wire.tcp_records`,
  :mod:`~blissnode.wire.tcp_commands`, :mod:`~blissnode.wire.tcp` -- the TCP
  session layer; :mod:`~blissnode.wire.aes_ctr` and
  :mod:`~blissnode.wire.dh384` -- its session records and 5.5+ handshake;
* :mod:`~blissnode.wire.server_transport` -- login/event server framing;
* :mod:`~blissnode.wire.udp`, :mod:`~blissnode.wire.udp_commands`,
  :mod:`~blissnode.wire.fragments` -- UDP datagrams;
  :mod:`~blissnode.wire.https_prelude` -- the port-443 prelude;
* :mod:`~blissnode.wire.credentials`, :mod:`~blissnode.wire.rsa_raw`,
  :mod:`~blissnode.wire.node_record`, :mod:`~blissnode.wire.login_messages`
  -- login requests, replies and signed credentials;
* :mod:`~blissnode.wire.jsonview` -- JSON views for tools and logs.

The most used names are re-exported here.
"""

from blissnode.wire.crc import crc16_xmodem, crc32r, crc32r_words
from blissnode.wire.errors import ChecksumError, LimitExceeded, ProtocolError
from blissnode.wire.objects import (
    Addr,
    Blob,
    Int,
    Int64,
    IntArray,
    Limits,
    NestedList,
    NetAddr,
    ObjectList,
    String,
    decode_object_lists,
    decode_objects,
    encode_objects,
    objects_from_json,
    objects_to_json,
)
from blissnode.wire.rc4 import RC4, expand_key, skype_rc4
from blissnode.wire.tcp_commands import Command, decode_commands, encode_commands

__all__ = [
    "ProtocolError", "LimitExceeded", "ChecksumError",
    "crc32r", "crc32r_words", "crc16_xmodem",
    "RC4", "expand_key", "skype_rc4",
    "ObjectList", "Int", "Int64", "Addr", "NetAddr", "String", "Blob",
    "NestedList", "IntArray", "Limits",
    "decode_objects", "decode_object_lists", "encode_objects",
    "objects_to_json", "objects_from_json",
    "Command", "decode_commands", "encode_commands",
]
