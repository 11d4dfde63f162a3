"""
Skype object lists: the data model and the plain (0x41) and compressed (0x42)
codecs (spec/objects.md).

Almost every Skype command body is an *object list*: an ordered sequence of
typed items, each with a numeric ``id`` chosen by the command.  There are
seven item types (:class:`Int`, :class:`Int64`, :class:`Addr`,
:class:`String`, :class:`Blob`, :class:`NestedList`, :class:`IntArray`) and
two encodings of the same list:

* ``0x41`` -- plain: a type byte, a varint id and the value per item, in the
  sender's order (this module);
* ``0x42`` -- compressed: a range coder with adaptive models, items sorted by
  id, and the bytes of BLOB/INT64/ADDR values in a raw tail
  (:mod:`blissnode.wire.compress42`).

Decoders accept either encoding wherever a list is expected (a receiver cannot
know which one a given client version sends) and only ever raise
:class:`~blissnode.wire.errors.ProtocolError`; :class:`Limits` bounds the
nesting depth, the number of items and the decoded bytes so that a tiny
hostile packet can never make us allocate much.
"""

import attr

from blissnode.wire import compress42
from blissnode.wire.errors import LimitExceeded, ProtocolError
from blissnode.wire.ipv4 import format_dotted_quad, parse_dotted_quad
from blissnode.wire.varint import decode_varint, encode_varint

__all__ = [
    "MARKER_41",
    "MARKER_42",
    "NetAddr",
    "Item",
    "Int",
    "Int64",
    "Addr",
    "String",
    "Blob",
    "NestedList",
    "IntArray",
    "ITEM_CLASSES",
    "ObjectList",
    "Limits",
    "DEFAULT_LIMITS",
    "decode_objects",
    "decode_object_list_at",
    "decode_object_lists",
    "decode_42_parts",
    "encode_objects",
    "objects_to_json",
    "objects_from_json",
]

#: First byte of a plain object list.
MARKER_41 = 0x41
#: First byte of a compressed object list.
MARKER_42 = 0x42

_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF

#: Encoders refuse deeper lists instead of hitting Python's recursion limit;
#: no decoder (ours: Limits.max_depth, the reference tools: 8) accepts them.
MAX_ENCODE_DEPTH = 64

#: Ceiling on :attr:`Limits.max_depth`.  The decoders recurse once or twice
#: per level, so a caller-chosen depth in the thousands would turn a deeply
#: nested hostile list into a RecursionError instead of a LimitExceeded.
MAX_DECODE_DEPTH = 64


# ---------------------------------------------------------------------------
# Data model
# ---------------------------------------------------------------------------


@attr.s(frozen=True, slots=True)
class NetAddr:
    """An IPv4 address and port, the value of an :class:`Addr` item.

    ``ip`` is the dotted quad (``"78.36.112.176"``) so it can go straight to
    Twisted; ``port`` is 0..65535.
    """

    ip = attr.ib()
    port = attr.ib()

    def ip_bytes(self):
        """The address as 4 bytes, first octet first (network order)."""
        return parse_dotted_quad(self.ip)

    @classmethod
    def from_bytes(cls, ip4, port):
        """Build from 4 network-order bytes and an integer port."""
        return cls(format_dotted_quad(ip4), port)


class Item:
    """Common base of the seven item classes.

    ``TYPE`` is the wire type number (spec/objects.md 1); every item has an
    ``id`` (u32) and a ``value`` whose Python type depends on the class.
    Values are validated when encoding, not on construction, so that decoding
    (which only ever builds valid items) stays cheap.
    """

    __slots__ = ()
    TYPE = -1

    @property
    def type(self):
        return self.TYPE


@attr.s(frozen=True, slots=True)
class Int(Item):
    """Type 0: unsigned 32-bit integer."""

    TYPE = 0
    id = attr.ib()
    value = attr.ib()


@attr.s(frozen=True, slots=True)
class Int64(Item):
    """Type 1: unsigned 64-bit integer."""

    TYPE = 1
    id = attr.ib()
    value = attr.ib()


@attr.s(frozen=True, slots=True)
class Addr(Item):
    """Type 2: IPv4 address and port, value is a :class:`NetAddr`."""

    TYPE = 2
    id = attr.ib()
    value = attr.ib()


@attr.s(frozen=True, slots=True)
class String(Item):
    """Type 3: NUL-free byte string (UTF-8 in every capture)."""

    TYPE = 3
    id = attr.ib()
    value = attr.ib()

    @property
    def text(self):
        """The value decoded as UTF-8 (ProtocolError if it is not UTF-8)."""
        try:
            return self.value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError("STRING item %d is not UTF-8: %s" % (self.id, e))


@attr.s(frozen=True, slots=True)
class Blob(Item):
    """Type 4: arbitrary bytes."""

    TYPE = 4
    id = attr.ib()
    value = attr.ib()


def _to_object_list(value):
    return value if isinstance(value, ObjectList) else ObjectList(value)


@attr.s(frozen=True, slots=True)
class NestedList(Item):
    """Type 5: a nested object list (spec name LIST), value is an :class:`ObjectList`.

    Named ``NestedList`` rather than ``List`` so that it does not collide with
    :class:`typing.List` or read like the container itself.
    """

    TYPE = 5
    id = attr.ib()
    value = attr.ib(converter=_to_object_list)


@attr.s(frozen=True, slots=True)
class IntArray(Item):
    """Type 6: a sequence of unsigned 32-bit integers (a tuple)."""

    TYPE = 6
    id = attr.ib()
    value = attr.ib(converter=tuple)


#: Item class by wire type number.
ITEM_CLASSES = (Int, Int64, Addr, String, Blob, NestedList, IntArray)


def _type_number(type):
    if type is None or isinstance(type, int):
        return type
    return type.TYPE


@attr.s(frozen=True, slots=True, repr=False)
class ObjectList:
    """An ordered sequence of items (the thing both encodings carry).

    Behaves as a read-only sequence.  The same id may occur several times
    (e.g. a list of addresses all with id 3), and items of different types
    with the same id are distinct -- receivers look items up by the pair
    (type, id), hence the optional ``type`` argument (a number or an item
    class) of the lookup helpers.
    """

    items = attr.ib(converter=tuple, default=())

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __getitem__(self, index):
        return self.items[index]

    def __repr__(self):
        return "ObjectList(%r)" % (list(self.items),)

    def get_all(self, id, type=None):
        """All items with ``id`` (and ``type`` if given), in list order."""
        t = _type_number(type)
        return tuple(
            it for it in self.items if it.id == id and (t is None or it.TYPE == t)
        )

    def get(self, id, type=None, default=None):
        """The first item with ``id`` (and ``type`` if given), else ``default``.

        GUESS: "first" -- helpers in the references differ (first/last match,
        spec Q2); a handler that cares should use :meth:`get_all`.
        """
        t = _type_number(type)
        for it in self.items:
            if it.id == id and (t is None or it.TYPE == t):
                return it
        return default

    def value(self, id, type=None, default=None):
        """The value of :meth:`get`'s item, or ``default``."""
        it = self.get(id, type)
        return default if it is None else it.value


# ---------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------


@attr.s(frozen=True, slots=True)
class Limits:
    """Bounds a decoder enforces (exceeding one raises :class:`LimitExceeded`).

    * ``max_depth``: number of list levels including the top list.  The
      reference tools use 8 (top + 7 nested), but vectors/objects42.json
      holds valid lists of 10 levels, so the default is 16 (GUESS).  At most
      :data:`MAX_DECODE_DEPTH` (ValueError otherwise).
    * ``max_list_items``: items in any single list.
    * ``max_total_items``: items in the whole decoded structure (nested ones
      included).
    * ``max_value_bytes``: decoded STRING + BLOB bytes, plus 4 per INTARRAY
      element, over the whole structure.
    * ``max_input_size``: length of the buffer handed to a decoder.

    Independently of these, every length, count and repeat is checked against
    the input actually present before anything is allocated, so decoded size
    grows at most linearly with input size.

    GUESS: the real Skype limits are unknown (spec Q3); the reference tools'
    memory budget is 0x5000 (16 per item + bytes), our defaults are looser so
    that legitimate large lists pass, but still bounded.
    """

    max_depth = attr.ib(default=16)

    @max_depth.validator
    def _check_max_depth(self, attribute, value):
        if not (isinstance(value, int) and 1 <= value <= MAX_DECODE_DEPTH):
            raise ValueError("max_depth must be 1..%d, got %r" % (MAX_DECODE_DEPTH, value))

    max_list_items = attr.ib(default=4096)
    max_total_items = attr.ib(default=16384)
    max_value_bytes = attr.ib(default=1 << 20)
    max_input_size = attr.ib(default=1 << 20)


DEFAULT_LIMITS = Limits()


class _Budget:
    """Running totals of one decode call, checked against a :class:`Limits`."""

    __slots__ = ("limits", "items", "value_bytes")

    def __init__(self, limits):
        self.limits = limits
        self.items = 0
        self.value_bytes = 0

    def check_depth(self, depth):
        if depth >= self.limits.max_depth:
            raise LimitExceeded(
                "object lists nested deeper than %d levels" % (self.limits.max_depth,)
            )

    def check_list_items(self, n):
        if n > self.limits.max_list_items:
            raise LimitExceeded(
                "more than %d items in one list" % (self.limits.max_list_items,)
            )

    def charge_items(self, n):
        self.items += n
        if self.items > self.limits.max_total_items:
            raise LimitExceeded(
                "more than %d items in total" % (self.limits.max_total_items,)
            )

    def charge_bytes(self, n):
        self.value_bytes += n
        if self.value_bytes > self.limits.max_value_bytes:
            raise LimitExceeded(
                "more than %d decoded value bytes" % (self.limits.max_value_bytes,)
            )


# ---------------------------------------------------------------------------
# 0x41 decoding
# ---------------------------------------------------------------------------

#: Smallest possible 0x41 item (type byte, 1-byte id, 1-byte value); used to
#: reject absurd item counts before looping.
_MIN_ITEM_41 = 3


def _u32(data, pos, end):
    """One u32 varint; the one-byte case inline because it dominates."""
    if pos < end:
        b = data[pos]
        if b < 0x80:
            return b, pos + 1
    return decode_varint(data, pos)


def _decode_list(data, pos, end, budget, depth):
    """Decode the list starting at ``pos`` (either marker); return (ObjectList, end)."""
    if pos >= end:
        raise ProtocolError("object list expected, input ended")
    marker = data[pos]
    if marker == MARKER_41:
        return _decode41(data, pos + 1, end, budget, depth)
    if marker == MARKER_42:
        objlist, _, pos = compress42.decode_list42(data, pos, _DECODE_MODEL, budget, depth)
        return objlist, pos
    raise ProtocolError("not an object list: marker byte 0x%02x" % (marker,))


def _decode41(data, pos, end, budget, depth):
    budget.check_depth(depth)
    count, pos = _u32(data, pos, end)
    budget.check_list_items(count)
    if count * _MIN_ITEM_41 > end - pos:
        raise ProtocolError("0x41 list claims %d items, input too short" % (count,))
    budget.charge_items(count)
    out = []
    append = out.append
    for _ in range(count):
        if pos >= end:
            raise ProtocolError("0x41 list truncated before an item")
        t = data[pos]
        item_id, pos = _u32(data, pos + 1, end)
        if t == 0:
            v, pos = _u32(data, pos, end)
            append(Int(item_id, v))
        elif t == 3:
            nul = data.find(b"\x00", pos, end)
            if nul < 0:
                raise ProtocolError("0x41 STRING without NUL terminator")
            budget.charge_bytes(nul - pos)
            append(String(item_id, data[pos:nul]))
            pos = nul + 1
        elif t == 4:
            n, pos = _u32(data, pos, end)
            if n > end - pos:
                raise ProtocolError("0x41 BLOB of %d bytes beyond the input" % (n,))
            budget.charge_bytes(n)
            append(Blob(item_id, data[pos : pos + n]))
            pos += n
        elif t == 2:
            if end - pos < 6:
                raise ProtocolError("0x41 ADDR truncated")
            append(
                Addr(
                    item_id,
                    NetAddr.from_bytes(
                        data[pos : pos + 4], (data[pos + 4] << 8) | data[pos + 5]
                    ),
                )
            )
            pos += 6
        elif t == 5:
            child, pos = _decode_list(data, pos, end, budget, depth + 1)
            append(NestedList(item_id, child))
        elif t == 6:
            n, pos = _u32(data, pos, end)
            if n > end - pos:
                raise ProtocolError("0x41 INTARRAY of %d elements beyond the input" % (n,))
            budget.charge_bytes(4 * n)
            values = []
            for _ in range(n):
                v, pos = _u32(data, pos, end)
                values.append(v)
            append(IntArray(item_id, values))
        elif t == 1:
            if end - pos < 8:
                raise ProtocolError("0x41 INT64 truncated")
            append(Int64(item_id, int.from_bytes(data[pos : pos + 8], "big")))
            pos += 8
        else:
            raise ProtocolError("unknown object item type %d" % (t,))
    return ObjectList(out), pos


# ---------------------------------------------------------------------------
# 0x41 encoding
# ---------------------------------------------------------------------------


def _check_u32(what, v):
    if not (isinstance(v, int) and 0 <= v <= _U32):
        raise ValueError("%s must be a u32, got %r" % (what, v))


def _check_bytes(what, v):
    if not isinstance(v, (bytes, bytearray, memoryview)):
        raise TypeError("%s must be bytes, got %r" % (what, type(v).__name__))


def _addr_bytes(v):
    """(4 network-order IP bytes, port) of an ADDR value, validated."""
    if not isinstance(v, NetAddr):
        raise TypeError("ADDR value must be a NetAddr, got %r" % (v,))
    port = v.port
    if not (isinstance(port, int) and 0 <= port <= 0xFFFF):
        raise ValueError("ADDR port out of range: %r" % (port,))
    return v.ip_bytes(), port


def _check_item(it):
    """Validate one item for either encoder; return its type number."""
    t = getattr(it, "TYPE", None)
    if t not in (0, 1, 2, 3, 4, 5, 6):
        raise TypeError("not an object-list item: %r" % (it,))
    _check_u32("item id", it.id)
    v = it.value
    if t == 0:
        _check_u32("INT value", v)
    elif t == 1:
        if not (isinstance(v, int) and 0 <= v <= _U64):
            raise ValueError("INT64 value must be a u64, got %r" % (v,))
    elif t == 3:
        _check_bytes("STRING value", v)
        if b"\x00" in v:
            raise ValueError("STRING value cannot contain NUL bytes")
    elif t == 4:
        _check_bytes("BLOB value", v)
    elif t == 6:
        for x in v:
            _check_u32("INTARRAY element", x)
    return t


def _encode41(objlist, out, depth):
    if depth > MAX_ENCODE_DEPTH:
        raise ValueError("object list nested deeper than %d" % (MAX_ENCODE_DEPTH,))
    out.append(MARKER_41)
    out += encode_varint(len(objlist))
    for it in objlist:
        t = _check_item(it)
        out.append(t)
        out += encode_varint(it.id)
        v = it.value
        if t == 0:
            out += encode_varint(v)
        elif t == 3:
            out += v
            out.append(0)
        elif t == 4:
            out += encode_varint(len(v))
            out += v
        elif t == 2:
            ip4, port = _addr_bytes(v)
            out += ip4
            out.append(port >> 8)
            out.append(port & 0xFF)
        elif t == 5:
            _encode41(v, out, depth + 1)
        elif t == 6:
            out += encode_varint(len(v))
            for x in v:
                out += encode_varint(x)
        else:  # t == 1
            out += v.to_bytes(8, "big")


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------

#: What :mod:`compress42` needs to build and check items (it does not import
#: this module, so the dependency points one way only).
_DECODE_MODEL = compress42.DecodeModel(
    item_classes=ITEM_CLASSES,
    list_class=ObjectList,
    addr_from_bytes=NetAddr.from_bytes,
    nested_class=NestedList,
)
_ENCODE_MODEL = compress42.EncodeModel(check_item=_check_item, addr_bytes=_addr_bytes)


def _as_bytes(data, limits):
    if not isinstance(data, bytes):
        if not isinstance(data, (bytearray, memoryview)):
            raise TypeError("object lists decode from bytes, got %r" % (type(data).__name__,))
        data = bytes(data)
    if len(data) > limits.max_input_size:
        raise LimitExceeded(
            "object-list input of %d bytes exceeds %d" % (len(data), limits.max_input_size)
        )
    return data


def decode_object_list_at(data, offset=0, *, limits=DEFAULT_LIMITS):
    """Decode one list (0x41 or 0x42) starting at ``offset``.

    Returns ``(ObjectList, end_offset)``; the bytes after ``end_offset`` are
    not looked at except as the 0x42 range decoder's harmless look-ahead.
    """
    data = _as_bytes(data, limits)
    return _decode_list(data, offset, len(data), _Budget(limits), 0)


def decode_42_parts(data, offset=0, *, limits=DEFAULT_LIMITS):
    """Decode the 0x42 list at ``offset`` and say where its parts are.

    Returns ``(ObjectList, tail_offset, end_offset)``: the marker and the
    arithmetic part occupy ``data[offset:tail_offset]``, the raw tail
    (BLOB/INT64/ADDR bytes) ``data[tail_offset:end_offset]``.  For tools and
    tests; handlers use :func:`decode_objects`.
    """
    data = _as_bytes(data, limits)
    return compress42.decode_list42(data, offset, _DECODE_MODEL, _Budget(limits), 0)


def decode_objects(data, *, limits=DEFAULT_LIMITS):
    """Decode exactly one object list (0x41 or 0x42, auto-detected).

    Trailing bytes after the list are an error here; payloads carrying
    several lists use :func:`decode_object_lists`.
    """
    data = _as_bytes(data, limits)
    objlist, end = _decode_list(data, 0, len(data), _Budget(limits), 0)
    if end != len(data):
        raise ProtocolError(
            "%d trailing bytes after the object list" % (len(data) - end,)
        )
    return objlist


#: GUESS (spec 3.3 / Q5): a payload's lists follow each other directly, so
#: decoding continues while the next byte is a list marker; anything else
#: ends the lists and is returned as ``rest``.  A later byte that looks like a
#: marker but does not decode is an error, not ``rest``.
CONTINUATION_MARKERS = (MARKER_41, MARKER_42)


def decode_object_lists(data, *, limits=DEFAULT_LIMITS):
    """Decode the back-to-back lists at the start of a payload.

    Returns ``(lists, rest, format)``: the lists in order, the bytes after
    the last list (a 0x42 list's raw tail belongs to that list, not to
    ``rest``), and ``"41"`` or ``"42"`` -- the encoding of the first list.
    The limits apply to all lists together, and each top-level list counts
    as one item towards ``max_total_items`` (as a nested list does): without
    that, ``41 00`` repeated would build one ObjectList per two input bytes
    with no bound at all.
    """
    data = _as_bytes(data, limits)
    end = len(data)
    if end == 0:
        raise ProtocolError("object list expected, input is empty")
    first = data[0]
    if first not in (MARKER_41, MARKER_42):
        raise ProtocolError("not an object list: marker byte 0x%02x" % (first,))
    budget = _Budget(limits)
    lists = []
    pos = 0
    while pos < end and data[pos] in CONTINUATION_MARKERS:
        budget.charge_items(1)
        objlist, pos = _decode_list(data, pos, end, budget, 0)
        lists.append(objlist)
    return lists, data[pos:], "%02x" % (first,)


def encode_objects(objlist, compressed=False):
    """Encode an :class:`ObjectList` (or a sequence of items).

    ``compressed=False`` gives 0x41 (sender order kept, nested lists as 0x41
    too); ``compressed=True`` gives 0x42 exactly as the reference encoder and
    Skype produce it (items sorted by id).  Raises ``ValueError`` /
    ``TypeError`` for values the wire cannot represent.
    """
    objlist = _to_object_list(objlist)
    if compressed:
        return compress42.encode_list42(objlist, _ENCODE_MODEL, MAX_ENCODE_DEPTH)
    out = bytearray()
    _encode41(objlist, out, 0)
    return bytes(out)


# ---------------------------------------------------------------------------
# JSON shape (shared vectors and CLI)
# ---------------------------------------------------------------------------


def objects_to_json(objlist):
    """The list as JSON-able data, item shape of vectors/objects41.json::

        {"type": 0, "id": 3, "value": 9375}
        {"type": 1, "id": 9, "value": 12774284954233065936}
        {"type": 2, "id": 17, "value": {"ip": "78.36.112.176", "port": 1184}}
        {"type": 3, "id": 0, "value": "786f745f69616d"}     (hex, no NUL)
        {"type": 4, "id": 1, "value": "11b44ed5"}           (hex)
        {"type": 5, "id": 7, "value": [item, ...]}
        {"type": 6, "id": 33, "value": [0, 0]}
    """
    out = []
    for it in objlist:
        t = it.TYPE
        v = it.value
        if t in (0, 1):
            jv = v
        elif t == 2:
            jv = {"ip": v.ip, "port": v.port}
        elif t in (3, 4):
            jv = bytes(v).hex()
        elif t == 5:
            jv = objects_to_json(v)
        elif t == 6:
            jv = list(v)
        else:
            raise TypeError("not an object-list item: %r" % (it,))
        out.append({"type": t, "id": it.id, "value": jv})
    return out


def _json_int(what, v):
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError("%s must be an integer, got %r" % (what, v))
    return v


def objects_from_json(items, _depth=0):
    """Inverse of :func:`objects_to_json` (``ValueError`` on a bad shape)."""
    if _depth > MAX_ENCODE_DEPTH:
        raise ValueError("JSON object list nested too deeply")
    if not isinstance(items, list):
        raise ValueError("an object list is a JSON array, got %r" % (items,))
    out = []
    for d in items:
        if not isinstance(d, dict) or set(d) != {"type", "id", "value"}:
            raise ValueError("an item is {type, id, value}, got %r" % (d,))
        t = _json_int("type", d["type"])
        item_id = _json_int("id", d["id"])
        v = d["value"]
        if t in (0, 1):
            item = ITEM_CLASSES[t](item_id, _json_int("value", v))
        elif t == 2:
            if not isinstance(v, dict) or set(v) != {"ip", "port"}:
                raise ValueError("ADDR value is {ip, port}, got %r" % (v,))
            if not isinstance(v["ip"], str):
                raise ValueError("ADDR ip must be a string, got %r" % (v["ip"],))
            item = Addr(item_id, NetAddr(v["ip"], _json_int("port", v["port"])))
        elif t in (3, 4):
            if not isinstance(v, str):
                raise ValueError("STRING/BLOB value is a hex string, got %r" % (v,))
            item = ITEM_CLASSES[t](item_id, bytes.fromhex(v))
        elif t == 5:
            item = NestedList(item_id, objects_from_json(v, _depth + 1))
        elif t == 6:
            if not isinstance(v, list):
                raise ValueError("INTARRAY value is a JSON array, got %r" % (v,))
            item = IntArray(item_id, [_json_int("element", x) for x in v])
        else:
            raise ValueError("unknown item type %r" % (t,))
        out.append(item)
    return ObjectList(out)
