"""
What Skype compiled into its clients and ``patch-client`` replaces: the two
real RSA moduli and the real server addresses, as data in one place.

Sources (docs/bibliography.rst): the moduli are in login.md 3.1 and 7.4
(the same values as ``tests/vectors/login.json`` ``constants``); the
addresses in login.md 1, event.md 1 and the ERRATA (SOS2 skysearch3).  A
version plugin adds more through :mod:`blissnode.patch.builds`.
"""

import attr

#: Both real keys use e = 65537 (login.md 3.1, 7.4); ``patch-client`` keeps it.
SKYPE_EXPONENT = 65537

#: Skype's RSA-1536 login modulus ``N_login``, big-endian (login.md 3.1;
#: identical in SEAN and SOS2).  SOS2 stores it as 48 little-endian 32-bit
#: words, least significant first (ERRATA), our "client order".
SKYPE_LOGIN_MODULUS = bytes.fromhex(
    "a8f223612f4f5fc81ef1ca5e310b0b21532a72df6c1af0fbec87304aec983aab5d74a14cc72e53ef7752a248c0e5abe0"
    "9484b597692015e796350989c88b3cae140ca82ccd9914e540468cf0edb35dcba4c352890e7a9eafac550b3978627651"
    "ad0a804f385ef5f4093ac6ee66b23e1f8202c61c6c0375eeb713852397ced2e199492aa61a3eab163d4c2625c873e95c"
    "afd95b80dd2d8732c8e25638a2007acfa6c8f1ff31cc2bc4ca8f4446f51da404335a48c955aaa3a4b57250d7ba29700b")

#: Skype's RSA-2048 credential modulus ``N_cred``, big-endian (login.md
#: 7.4; it unsigns every real credential).  SOS2 stores it as 256
#: big-endian bytes and also holds a reversed copy (ERRATA).
SKYPE_CREDENTIAL_MODULUS = bytes.fromhex(
    "b8506aeed8ed30fe1c0e6774874b59206a77329042a49be2403da47d50052441067f87bcd57e6579b83df0bade2beff5"
    "b5cd8d87e8b3edac5f57fabccd49695974e2b5e5f0287d6c19ecc31b4504a9f8be25da78fa4ef345f91d339b73cc2d70"
    "b3904e11ca570ce9b5dc4b08b3c44b74dc463587ea637ef4456e61462b72042fc2f4ad5510a9850c06dc9a7374412fca"
    "dda955bd9800f9754cb3b8cc62d0e98d8282180971055b457c06f351e61164fc5a9de9d83d1d1378964001380b5b99ee"
    "4c5c7d50ac2462a4b7ea34fd32d90bd8d4b46410263673f900d1c60470165df9f3cb48016ab8ca45ce6875a71d977915"
    "ca8251b50258748dbc37fe332edc2855")

#: Role name -> Skype's modulus, in the order the report lists them.
SKYPE_MODULI = {
    "login": SKYPE_LOGIN_MODULUS,
    "credential": SKYPE_CREDENTIAL_MODULUS,
}

#: Server roles an address can belong to, and the port blissnode listens on
#: for each by default (blissnode/tap.py ``LISTENERS``).
LOGIN = "login"
EVENT = "event"
SUPERNODE = "supernode"
DEFAULT_PORTS = {LOGIN: 33033, EVENT: 12350, SUPERNODE: 33000}


@attr.s(frozen=True, slots=True)
class KnownAddress:
    """One server address a client may carry compiled in.

    ``host`` is a dotted IPv4 address or a host name; ``port`` the port the
    client uses with it; ``role`` which blissnode listener answers it;
    ``versions`` the clients it was seen with; ``source`` where we know it
    from; ``guess`` marks a role or port we inferred (GUESS).
    """

    host = attr.ib()
    port = attr.ib()
    role = attr.ib()
    versions = attr.ib()
    source = attr.ib()
    guess = attr.ib(default=False)

    @property
    def is_ipv4(self):
        return is_ipv4(self.host)

    def __str__(self):
        return "%s:%d" % (self.host, self.port)


def is_ipv4(text):
    """True for a dotted-quad IPv4 address such as ``91.190.218.40``."""
    parts = text.split(".")
    return (len(parts) == 4
            and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts))


def _many(hosts, port, role, versions, source, guess=False):
    return tuple(KnownAddress(h, port, role, versions, source, guess) for h in hosts)


def event_server_addresses():
    """``(ip, port)`` of every known original event server (for the
    supernode's cmd 7: a client asks a node to carry one of them)."""
    return tuple((a.host, a.port) for a in SKYPE_ADDRESSES if a.role == EVENT and a.is_ipv4)


#: Every address known to be compiled into some client (login.md 1,
#: event.md 1, ERRATA).
SKYPE_ADDRESSES = (
    # Login servers, TCP 33033.
    _many(["80.160.91.5", "212.72.49.141", "195.215.8.141"], 33033, LOGIN, "2.x",
          "Silver Needle slide 64 / Vanilla Skype part 2 slide 11: "
          "*Lib/Connection/LoginServers default; IRC06 (1.2) used the last two")
    + _many(["193.88.6.13"], 33033, LOGIN, "4.1", "SEAN")
    + _many(["91.190.218.40"], 33033, LOGIN, "5.5-6.16", "SOS2 skyauth3 (a real 6.16 login)")
    # GUESS: BASET names the server but not its port.
    + _many(["80.160.91.11"], 33033, LOGIN, "1.x", "BASET (port not recorded)", guess=True)
    # Host-cache seeds of 1.x-4.x builds.  GUESS: Silver Needle calls them
    # "login server and supernode"; we redirect them to the supernode.
    + _many(["80.160.91.12", "80.160.91.25", "64.246.48.23", "66.235.181.9",
             "212.72.49.143"], 33033, SUPERNODE, "1.x-4.x",
            "Silver Needle slide 64 (\"login server and supernode\")", guess=True)
    # Event (contact-list) servers, TCP 12350.
    + _many(["194.165.188.76"], 12350, EVENT, "1.4", "BATO")
    + _many(["212.72.49.142"], 12350, EVENT, "1.2", "IRC06")
    + _many(["91.190.216.125"], 12350, EVENT, "5.5-6.16", "SOS2 skycontact3")
    # Event servers the 2015 client (7.7) connected to or named in cmd 7.
    + _many(["91.190.218.125", "91.190.216.23", "157.56.53.47"], 12350, EVENT, "7.7",
            "nDPI 2015 (connections to 12350; 91.190.218.125 in a cmd 7)")
    # The 5.5+/6.x main supernode and its alternative (ERRATA).
    + (KnownAddress("157.55.235.147", 40030, SUPERNODE, "5.5-6.16", "SOS2 skysearch3 (main)"),
       KnownAddress("65.55.223.14", 40016, SUPERNODE, "5.5-6.16",
                    "SOS2 skysearch3 (alternative)"))
    # GUESS: KS prints these names first in a list it calls login servers;
    # whether they are login or directory servers is not stated.
    + tuple(KnownAddress("dir%d.sd.skype.net" % i, 9010, LOGIN, "unknown",
                         "KS (obfuscated server list)", guess=True) for i in range(1, 9))
)
