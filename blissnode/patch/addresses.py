"""
Find the compiled-in server addresses (:mod:`blissnode.patch.known`) in a
client binary and plan rewriting them to this server's
(:mod:`blissnode.patch.targets`), in place or not at all.

Text (``a.b.c.d``, ``a.b.c.d:port``, host names), in ASCII and in UTF-16LE
(Windows wide strings).  The unit rewritten is the whole printable string
around a match -- so one string listing several servers
(``80.160.91.5:33033 212.72.49.141:33033``, the 2.x ``LoginServers``
default, login.md 1) is rewritten as one.  A new string fits when

* it has the same length: always;
* it is shorter and the old string ends in NUL (a C string, or a Delphi
  string constant, whose length field before it is then updated too): the
  rest is padded with NULs.  Bytes after the old NUL are never used, even
  when they are zero -- they may belong to the next variable;
* never when it is longer, or shorter while the old text runs straight into
  other bytes (no NUL after it).

A text field that held an IPv4 literal only gets an IPv4 literal (GUESS:
the client may parse it with ``inet_addr``, which takes no names).  Where a
text has no port, the port lives elsewhere and is kept; the match says so.

Binary IPv4: four given bytes occur by chance in a large file, so a binary
address is rewritten only where the known port stands right next to it --
``ip(BE) port(BE)`` (Skype's own address items and node records),
``ip(BE) port(LE)``, ``ip(LE) port(LE)`` (x86 integers), or a
``sockaddr_in`` (``02 00 port(BE) ip(BE)``).  A lone 4-byte match is
reported but rewritten only with ``--lone-binary-ipv4``.

Everything not rewritten comes with its routing alternative
(:mod:`blissnode.patch.routing`).
"""

import re
import socket
import struct

import attr

from blissnode.patch.keyscan import find_all
from blissnode.patch.report import ADDRESS, NOT_REPLACED, REPLACED, Edit, Match
from blissnode.patch.routing import port_alternatives, routing_alternatives

ASCII = "text"
UTF16 = "text-utf16le"

_ROLE_TITLES = {"login": "login server", "event": "event server", "supernode": "supernode"}


@attr.s(frozen=True, slots=True)
class AddressScan:
    edits = attr.ib()
    matches = attr.ib()


@attr.s(frozen=True, slots=True)
class AddressOptions:
    """``rewrite``: False keeps every address (``--keys-only``);
    ``lone_binary``: also rewrite lone binary IPv4 matches."""

    rewrite = attr.ib(default=True)
    lone_binary = attr.ib(default=False)


def _what(address):
    return "%s %s%s" % (_ROLE_TITLES[address.role], address, " (GUESS)" if address.guess else "")


# -- text -------------------------------------------------------------------------------

def _wide(pattern_bytes):
    """An ASCII-only literal as UTF-16LE regex bytes."""
    return re.escape(pattern_bytes.decode("ascii").encode("utf-16-le"))


def _text_pattern(address, wide):
    host = address.host.encode("ascii")
    if wide:
        lit, z = _wide(host), b"\x00"
    else:
        lit, z = re.escape(host), b""
    digit = b"[0-9]" + z
    if address.is_ipv4:
        before = b"(?<![0-9.]" + z + b")"
        after = b"(?!" + digit + b")(?!\\." + z + digit + b")"
    else:
        before = b"(?<![A-Za-z0-9.-]" + z + b")"
        after = b"(?![A-Za-z0-9-]" + z + b")(?!\\." + z + b"[A-Za-z0-9]" + z + b")"
    port = b"(?::" + z + b"((?:" + digit + b"){1,5}))?"
    flags = 0 if address.is_ipv4 else re.IGNORECASE
    return re.compile(before + lit + port + after, flags)


def _printable(b):
    return 0x20 <= b < 0x7f


def _unit(data, start, end, wide):
    """The printable string around ``data[start:end]``: (start, end)."""
    step = 2 if wide else 1
    while start >= step and _printable(data[start - step]) and (
            not wide or data[start - 1] == 0):
        start -= step
    while end + step <= len(data) and _printable(data[end]) and (
            not wide or data[end + 1] == 0):
        end += step
    return start, end


def _terminated(data, end, wide):
    nul = b"\0\0" if wide else b"\0"
    return data[end:end + len(nul)] == nul


def _delphi_length_at(data, start, chars):
    """Offset of a Delphi string constant's length field before ``start``
    (``ff ff ff ff`` reference count, then the length), or None.  GUESS:
    the Windows clients are reported to be Delphi programs; no source shows
    their address strings."""
    if start >= 8 and data[start - 8:start - 4] == b"\xff\xff\xff\xff" and \
            struct.unpack("<I", data[start - 4:start])[0] == chars:
        return start - 4
    return None


@attr.s(slots=True)
class _TextHit:
    address = attr.ib()
    start = attr.ib()
    end = attr.ib()
    text = attr.ib()
    port = attr.ib()


def _text_hits(data, addresses, wide):
    hits = []
    for address in addresses:
        for m in _text_pattern(address, wide).finditer(data):
            port = m.group(1)
            if port is not None:
                port = int(port.replace(b"\x00", b""))
            text = m.group(0).decode("utf-16-le" if wide else "ascii")
            hits.append(_TextHit(address, m.start(), m.end(), text, port))
    # One text, one address: where two entries share a host (a plugin's
    # extra port), keep the one whose port the text names, else the first.
    hits.sort(key=lambda h: (h.start, -(h.end - h.start), h.port != h.address.port))
    kept = []
    for hit in hits:
        if not kept or hit.start >= kept[-1].end:
            kept.append(hit)
    return kept


def _replacement(hit, target):
    """(new text or None, note): what this one address becomes."""
    if hit.address.is_ipv4 and not target.is_ipv4:
        return None, ("the field holds an IPv4 literal and %s is a host name (GUESS: the "
                      "client parses it as an address); give an IPv4 address" % (target.host,))
    if hit.port is not None:
        return "%s:%d" % (target.host, target.port), ""
    note = ""
    if target.port != hit.address.port:
        note = ("no port is stored next to this text: the client keeps using port %d, so "
                "run the %s listener on %d or redirect the port (route)"
                % (hit.address.port, hit.address.role, hit.address.port))
    return target.host, note


def _plan_text(data, hits, targets, options, wide, section_at):
    edits, matches = [], []
    units = {}
    for hit in hits:
        units.setdefault(_unit(data, hit.start, hit.end, wide), []).append(hit)
    codec = "utf-16-le" if wide else "ascii"
    for (start, end), unit_hits in sorted(units.items()):
        unit_hits.sort(key=lambda h: h.start)
        old_text = data[start:end].decode(codec)
        pieces, cursor, notes = [], start, {}
        for hit in unit_hits:
            new, note = _replacement(hit, targets[hit.address.role])
            pieces.append(data[cursor:hit.start].decode(codec))
            pieces.append(hit.text if new is None or not options.rewrite else new)
            cursor = hit.end
            notes[id(hit)] = (new, note)
        pieces.append(data[cursor:end].decode(codec))
        new_text = "".join(pieces)
        unfit = None
        length_at = None
        if not options.rewrite:
            unfit = "--keys-only: addresses are left as they are"
        elif len(new_text) > len(old_text):
            unfit = ("the new text %r is %d characters longer than the old %r; it would "
                     "overwrite the bytes after it" % (new_text, len(new_text) - len(old_text),
                                                       old_text))
        elif len(new_text) < len(old_text):
            if not _terminated(data, end, wide):
                unfit = ("the old text is not NUL-terminated (it runs into byte 0x%02x), so "
                         "a shorter text cannot be padded" % (data[end] if end < len(data)
                                                              else 0,))
            else:
                length_at = _delphi_length_at(data, start, len(old_text))
        new_bytes = None
        if unfit is None and new_text != old_text:
            new_bytes = new_text.encode(codec).ljust(end - start, b"\0")
            edits.append(Edit(start, data[start:end], new_bytes))
            if length_at is not None:
                edits.append(Edit(length_at, data[length_at:start],
                                  struct.pack("<I", len(new_text))))
        for hit in unit_hits:
            new, note = notes[id(hit)]
            target = targets[hit.address.role]
            form = (UTF16 if wide else ASCII) + (":port" if hit.port is not None else "")
            if length_at is not None:
                form += " (Delphi string)"
            rewritten = unfit is None and new is not None
            if rewritten:
                routing = []
                if note:
                    routing = port_alternatives(target, hit.address.port, hit.address.role)
            else:
                routing = routing_alternatives(hit.address, target, hit.port)
            matches.append(Match(
                ADDRESS, _what(hit.address), hit.address.role, form, hit.start,
                hit.end - hit.start, old_text, new_text if rewritten else None,
                REPLACED if rewritten else NOT_REPLACED, unfit or note, routing,
                section_at(hit.start)))
    return edits, matches


# -- binary -----------------------------------------------------------------------------

def _layouts(ip, port):
    """(name, bytes) of ``ip:port`` in each binary layout rewritten."""
    be = socket.inet_aton(ip)
    return (
        ("addr-be (ip BE, port BE)", be + struct.pack(">H", port)),
        ("ip BE, port LE", be + struct.pack("<H", port)),
        ("ip LE, port LE", be[::-1] + struct.pack("<H", port)),
        ("sockaddr_in", b"\x02\x00" + struct.pack(">H", port) + be),
    )


def _encode_layout(name, ip, port):
    return dict(_layouts(ip, port))[name]


def _plan_binary(data, addresses, targets, options, taken, section_at):
    edits, matches = [], []
    taken, paired = list(taken), []
    for address in addresses:
        if not address.is_ipv4:
            continue
        target = targets[address.role]
        for name, raw in _layouts(address.host, address.port):
            for at in find_all(data, raw):
                if _overlaps(at, at + len(raw), taken + paired):
                    continue
                paired.append((at, at + len(raw)))
                if not options.rewrite:
                    reason, new = "--keys-only: addresses are left as they are", None
                elif not target.is_ipv4:
                    reason, new = ("a binary address holds 4 bytes of IPv4; %s is a host "
                                   "name" % (target.host,)), None
                else:
                    reason, new = "", _encode_layout(name, target.host, target.port)
                if new is not None:
                    edits.append(Edit(at, raw, new))
                matches.append(Match(
                    ADDRESS, _what(address), address.role, "binary " + name, at, len(raw),
                    "%s = %s" % (raw.hex(), address), None if new is None else
                    "%s = %s" % (new.hex(), target),
                    REPLACED if new is not None else NOT_REPLACED, reason,
                    [] if new is not None else routing_alternatives(address, target),
                    section_at(at)))
    taken = list(taken) + paired
    for address in addresses:
        if not address.is_ipv4:
            continue
        target = targets[address.role]
        be = socket.inet_aton(address.host)
        for order, raw in (("BE", be), ("LE", be[::-1])):
            for at in find_all(data, raw):
                if _overlaps(at, at + 4, taken):
                    continue
                taken.append((at, at + 4))
                rewrite = options.rewrite and options.lone_binary and target.is_ipv4
                if rewrite:
                    new = socket.inet_aton(target.host)
                    new = new if order == "BE" else new[::-1]
                    edits.append(Edit(at, raw, new))
                    reason = ("rewritten by --lone-binary-ipv4; the port, if any, is "
                              "stored elsewhere and kept (%d)" % (address.port,))
                elif not options.rewrite:
                    reason = "--keys-only: addresses are left as they are"
                elif options.lone_binary:
                    reason = ("a binary address holds 4 bytes of IPv4; %s is a host name"
                              % (target.host,))
                else:
                    reason = ("a lone 4-byte match with no port next to it may be chance; "
                              "rewritten only with --lone-binary-ipv4")
                matches.append(Match(
                    ADDRESS, _what(address), address.role, "binary ip %s (lone)" % (order,),
                    at, 4, "%s = %s" % (raw.hex(), address.host),
                    "%s = %s" % (new.hex(), target.host) if rewrite else None,
                    REPLACED if rewrite else NOT_REPLACED, reason,
                    [] if rewrite else routing_alternatives(address, target),
                    section_at(at)))
    return edits, matches


def _overlaps(start, end, ranges):
    return any(start < e and s < end for s, e in ranges)


def scan_addresses(data, addresses, targets, options=AddressOptions(), taken=(),
                   section_at=lambda offset: None):
    """Plan the address rewrites in ``data``.

    ``addresses``: the :class:`~blissnode.patch.known.KnownAddress` list;
    ``targets``: {role: Endpoint}; ``taken``: (start, end) ranges already
    planned (the keys), which no address match may overlap.
    """
    edits, matches = [], []
    text_ranges = []
    for wide in (False, True):
        hits = [h for h in _text_hits(data, addresses, wide)
                if not _overlaps(h.start, h.end, taken)]
        e, m = _plan_text(data, hits, targets, options, wide, section_at)
        edits.extend(e)
        matches.extend(m)
        text_ranges.extend((h.start, h.end) for h in hits)
    e, m = _plan_binary(data, addresses, targets, options, list(taken) + text_ranges,
                        section_at)
    edits.extend(e)
    matches.extend(m)
    matches.sort(key=lambda x: x.offset)
    return AddressScan(edits, matches)
