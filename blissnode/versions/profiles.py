"""
How each client version behaves *as a client* -- what it sends to the
supernode, the login server and the event server -- so that the reference
client can imitate it towards a server under test.

Every version module declares its own :class:`VersionProfile` (``profile=``
of its :class:`~blissnode.versions.base.ClientVersion`), so a version plugin
brings the client behaviour along with the server behaviour, and
:meth:`~blissnode.versions.registry.VersionRegistry.profile` finds the
nearest older one for an unlisted version.  What is known and what is a
guess, per field:

* DH-384 before the seed exchange: 5.5+ (tcp.md 3, SOS2); 1.4 does not
  (VERIFIED).  GUESS: 2.5 .. 4.2 do not either (tcp.md Q8: unknown).
* Greeting final byte: 01 (1.2), 03 (1.4, SOS2), 0F (some SOS2 builds)
  (udp.md 9.3).  GUESS: 03 for 1.4 .. 5.5, 0F for 5.9 and 6.16.
* Greeting bytes 0..1: ``00 01`` for 1.x (VERIFIED), random for SOS2.
* Padding record after the client's greeting: 1.4 sent none (VERIFIED),
  SOS2 sends one (SOURCE).  GUESS: none before 5.5.
* Object lists: 0x42 in everything 1.4 and the 5.x templates send (tcp.md
  5.2).  GUESS: 0x42 for every version.
* cmd 30 body (supernode.md 3.2): 1.x ``{INT 1 uptime, INT64 0xD node id,
  INT 0x10 port}``; 5.x adds ``INT 0xB = 52, INT 0x23 = 0, INT 0x2C = 1``.
  GUESS: 2.5 .. 4.2 send the 1.x body.
* Version string (cmd 37 STRING 0x5D): ``0/1.4.0.84`` (VERIFIED), 4.1
  ``0/4.1.0.130//`` (login.md 5.2), 6.16 ``0/6.16.0.10//`` seen.  GUESS:
  ``0/<version>`` up to 3.8, ``0/<version>//`` from 4.1 on.
* cmd 48 after accept: 1.2 and 5.x yes, 1.4 no (supernode.md 4.1).  GUESS:
  2.5 .. 4.2 like 1.4 (no), 5.9 and 6.16 like 5.5 (yes, channel 2).
* Node record: 21 bytes in 1.4, 27 in 5.x/6.x (supernode.md 7.1).  GUESS: 21
  up to 4.2.
* Public IP for UDP keying: 1.x keys with 0.0.0.0 until a NACK teaches it
  (VERIFIED); SOS2 (5.5) takes it from cmd 31 ADDR 0x11 (udp.md U11).
  GUESS: 2.5 .. 4.2 like 1.x.
* Login / event servers: see :class:`LoginClientProfile` and
  :class:`EventClientProfile`.
"""

import secrets

import attr

from blissnode.core.versioning import parse_version_number
from blissnode.event import codes as C
from blissnode.wire.login_messages import REQUEST_LOGIN_4X, REQUEST_LOGIN_6X, REQUEST_REGISTER
from blissnode.wire.objects import (
    Blob,
    Int,
    Int64,
    IntArray,
    NestedList,
    NetAddr,
    ObjectList,
    String,
    encode_objects,
)
from blissnode.wire.server_session import TRANSPORT_CLASSIC, TRANSPORT_DH384

__all__ = [
    "ClientProfile", "LoginClientProfile", "EventClientProfile", "VersionProfile",
    "FINAL_01", "FINAL_03", "FINAL_0F", "CHANNEL_5X", "CHANNEL_12", "KX_EXTRA_4X",
    "KX_EXTRA_6X", "old_login_profile", "event_profile_from_login",
]

FINAL_01 = 0x01
FINAL_03 = 0x03
FINAL_0F = 0x0F

#: Channel requested with cmd 48 by 5.x (SOS2 template) and 1.2 (IRC06).
CHANNEL_5X = 2
CHANNEL_12 = 256


@attr.s(frozen=True, slots=True)
class ClientProfile:
    """What one client version sends.  ``guesses`` names the fields that
    rest on a guess (for docs and the CLI's output)."""

    label = attr.ib()
    dh384 = attr.ib(default=False)
    greeting_final = attr.ib(default=FINAL_03)
    #: None: a random tag (SOS2); otherwise the fixed 16-bit value (1.x: 1).
    greeting_tag = attr.ib(default=0x0001)
    sends_padding = attr.ib(default=False)
    compressed = attr.ib(default=True)
    cmd30_extras = attr.ib(default=False)
    #: INT 0xB of cmd 30 when ``cmd30_extras`` (SOS2's 5.x: 52).
    stack_version = attr.ib(default=52)
    uptime = attr.ib(default=2)
    version_string = attr.ib(default=None)
    sends_cmd48 = attr.ib(default=False)
    channel = attr.ib(default=CHANNEL_5X)
    node_record_length = attr.ib(default=21)
    learns_ip_from_tcp = attr.ib(default=False)
    language = attr.ib(default="en")
    guesses = attr.ib(default=(), converter=tuple)

    @property
    def number(self):
        return parse_version_number(self.label)

    @property
    def major(self):
        return self.number[0]

    def greeting_tag_value(self):
        if self.greeting_tag is None:
            return secrets.randbits(16)
        return self.greeting_tag

    def version_text(self):
        return self.version_string or "0/%s" % self.label

    # -- bodies --------------------------------------------------------------

    def encode_body(self, objects):
        """A command body: ``objects`` (items or an ObjectList) in this
        version's object-list encoding; bytes are taken as they are."""
        if isinstance(objects, (bytes, bytearray)):
            return bytes(objects)
        if not isinstance(objects, ObjectList):
            objects = ObjectList(list(objects))
        return encode_objects(objects, compressed=self.compressed)

    def cmd30_objects(self, node_id, listen_port, uptime=None):
        """cmd 30 "client accept request" (supernode.md 3.2)."""
        items = [Int(0x01, self.uptime if uptime is None else uptime)]
        if self.cmd30_extras:
            items.append(Int(0x0B, self.stack_version))
        items += [Int64(0x0D, node_id), Int(0x10, listen_port)]
        if self.cmd30_extras:
            items += [Int(0x23, 0), Int(0x2C, 1)]
        return ObjectList(items)

    def cmd37_objects(self, timestamp=1203025759):
        """cmd 37 "client information" (supernode.md 4.3).  The 1.4 body
        with its two version strings and the language; GUESS: the counters
        INT 0 / INT 1 copied from the 1.4 capture."""
        version = self.version_text().encode("ascii")
        items = [Int(0x00, 28), Int(0x01, 895),
                 String(0x0E, version), Int(0x0F, timestamp),
                 String(0x5D, version), String(0x5E, self.language.encode("ascii"))]
        if self.major >= 5:
            # GUESS (supernode.md 4.3 "5.x adds OS, build, country"): values.
            items += [String(0x10, b"us"), String(0x22, b"Windows 7")]
        return ObjectList(items)

    def cmd38_objects(self):
        return ObjectList([])

    def cmd48_objects(self):
        return ObjectList([Int(0x00, self.channel)])

    def slot_query_objects(self, slot, count=5):
        return ObjectList([Int(0x00, slot), Int(0x05, count)])

    def refill_objects(self, slots=16, count=6):
        return ObjectList([Int(0x04, slots), Int(0x05, count)])

    def publish_objects(self, record):
        return ObjectList([Blob(0x0B, bytes(record))])

    def node_record(self, node_id, local, supernode, public=None):
        """This version's node record (supernode.md 7.1): 21 bytes up to
        4.x, 27 bytes (with the public address) in 5.x/6.x.  ``local``,
        ``supernode``, ``public``: ``(ip, port)``."""
        def addr(pair):
            return NetAddr(pair[0], pair[1]).ip_bytes() + pair[1].to_bytes(2, "big")
        out = node_id.to_bytes(8, "big") + b"\x01" + addr(local) + addr(supernode)
        if self.node_record_length == 27:
            out += addr(public or local)
        return out

    def search_objects(self, name, mode=0, field=16):
        """cmd 14 user lookup (supernode.md 5.1)."""
        return ObjectList([
            NestedList(0x00, [String(0x00, name.encode("utf-8")), Int(0x01, mode),
                              Int(0x02, field)]),
            IntArray(0x01, [16, 11])])

    def push_objects(self, target_record, inner_cmd, inner_objects, status=None):
        """cmd 53 push (supernode.md 5.3)."""
        items = [Int(0x00, 2), Blob(0x01, bytes(target_record)), Int(0x02, inner_cmd),
                 NestedList(0x03, inner_objects), Int(0x04, 28)]
        if self.major >= 5:
            items.append(Int(0x07, 1))
        if status is not None:
            items.append(Int(0x10, status))
        return ObjectList(items)


#: Extra BLOB items of the 0x42 key exchange (login.md 3): ids and sizes of
#: the 6.16 (SOS2) and 4.1 (SEAN) samples; contents random.
KX_EXTRA_6X = ((0x13EBBD8, 12), (0x1E1DD6B, 9))
KX_EXTRA_4X = ((0x1052992, 4), (0x1E9D80D, 11))

@attr.s(frozen=True, slots=True)
class LoginClientProfile:
    """What one client version sends to the login server.

    ``body`` is ``"4x"`` (SEAN's five items: 0x21, INT64 0x31, 0x33, 0x0D,
    0x0E) or ``"6x"`` (SOS2's seven: 0x21, INT64 0x3A, 0x36, 0x33, 0x0D, 0x0E,
    BLOB 0x13).  ``guesses`` names the fields that rest on a guess.
    """

    label = attr.ib()
    transport = attr.ib()
    kx_compressed = attr.ib()
    login_code = attr.ib()
    version_string = attr.ib()
    body = attr.ib()
    kx_extra = attr.ib(default=())
    register_code = attr.ib(default=REQUEST_REGISTER)
    language = attr.ib(default="en")
    guesses = attr.ib(default=(), converter=tuple)

    @property
    def number(self):
        return parse_version_number(self.label)


_OLD_GUESSES = ("transport", "key_exchange_encoding", "login_code", "register_code",
                "version_string", "body")


def old_login_profile(label):
    # GUESS (login.md 9): 1.4/2.5/3.8 use the classic transport and the 0x41
    # key exchange (1.4 towards the event server, VERIFIED; 1.2 towards the
    # login server, VERIFIED), and the 4.1 request (5017, SEAN's body).
    return LoginClientProfile(label, TRANSPORT_CLASSIC, False, REQUEST_LOGIN_4X,
                              "0/%s" % (label,), "4x", guesses=_OLD_GUESSES)


@attr.s(frozen=True, slots=True)
class EventClientProfile:
    """What one version sends to the event server.  ``guesses`` names the
    fields resting on a guess."""

    label = attr.ib()
    transport = attr.ib()
    kx_compressed = attr.ib()
    version_string = attr.ib()
    host_id_item = attr.ib()
    session_start_first = attr.ib()
    guesses = attr.ib(default=(), converter=tuple)

    @property
    def number(self):
        return parse_version_number(self.label)


def event_profile_from_login(login):
    number = login.number
    guesses = [g for g in login.guesses if g in ("transport", "version_string")]
    if number >= (5, 5):
        host, start = C.I_HOST_ID_6X, True       # SOS2 (6.16)
        if number < (6, 0):
            guesses.append("host_id_item")
    elif number >= (4, 0):
        host, start = C.I_HOST_ID_4X, True       # FAKE (4.2)
        if number < (4, 2):
            guesses.append("host_id_item")
    else:
        # 1.4: 6028 first (BATO).  GUESS: 2.5 / 3.8 like 1.4; host id 0x31.
        host, start = C.I_HOST_ID_4X, False
        guesses.append("host_id_item")
        if number > (1, 4, 0, 84):
            guesses.append("session_start_first")
    return EventClientProfile(login.label, login.transport, login.kx_compressed,
                              login.version_string, host, start, guesses)


@attr.s(frozen=True, slots=True)
class VersionProfile(object):
    """What one version sends to each server (the three profiles)."""

    supernode = attr.ib()
    login = attr.ib()
    event = attr.ib()

    @classmethod
    def of(cls, supernode, login, event=None):
        """A bundle; the event profile follows from the login one when not given."""
        return cls(supernode, login, event if event is not None
                   else event_profile_from_login(login))

    def for_label(self, label):
        """This profile imitating the unlisted version ``label`` (its own
        version strings; marked as a nearest-older guess)."""
        number = parse_version_number(label)
        suffix = "//" if number >= (4, 1) else ""
        supernode = attr.evolve(self.supernode, label=label,
                                version_string="0/%s%s" % (label, suffix))
        text = self.login.version_string.replace(self.login.label, label)
        login = attr.evolve(self.login, label=label, version_string=text,
                            guesses=self.login.guesses + ("nearest older profile",))
        event = attr.evolve(self.event, label=label, version_string=text)
        return VersionProfile(supernode, login, event)
