"""
An indented tree for people (``--pretty``), from the same JSON-able values
the machine-readable output prints, so both always show the same facts.

Object-list items (``{"type", "id", "value"}``, the vector shape) are shown
as ``STRING 0x26 = "3/7.7.0.335"``: strings as text when they are valid
UTF-8 (hex otherwise), addresses as ``ip:port``, blobs with their length.
Any other ``{"ip", "port"}`` value is shown as ``ip:port`` too.
"""

TYPE_NAMES = {0: "INT", 1: "INT64", 2: "ADDR", 3: "STRING", 4: "BLOB", 5: "LIST", 6: "INTARRAY"}


def _scalar(value):
    if isinstance(value, str):
        return value
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _is_item(value):
    return (isinstance(value, dict) and set(value) == {"type", "id", "value"}
            and value["type"] in TYPE_NAMES and isinstance(value["id"], int))


def _is_addr(value):
    return isinstance(value, dict) and set(value) == {"ip", "port"}


def _addr(value):
    ip = value["ip"]
    return ("[%s]:%s" if ":" in str(ip) else "%s:%s") % (ip, value["port"])


def string_text(hex_value):
    """A STRING item's hex value as quoted text (UTF-8), or the hex when it
    is not valid UTF-8 or has control characters other than newlines/tabs."""
    try:
        text = bytes.fromhex(hex_value).decode("utf-8")
    except (ValueError, TypeError):
        return str(hex_value)
    if any(ord(c) < 0x20 and c not in "\n\t" for c in text):
        return "%s (hex)" % hex_value
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _item_line(item):
    """``(text, children)`` of an object-list item."""
    t, name, v = item["type"], TYPE_NAMES[item["type"]], item["value"]
    head = "%s 0x%X" % (name, item["id"])
    if t == 5 and isinstance(v, list):
        return head + (":" if v else " = (empty)"), v
    if t == 2 and _is_addr(v):
        return "%s = %s" % (head, _addr(v)), None
    if t == 3 and isinstance(v, str):
        return "%s = %s" % (head, string_text(v)), None
    if t == 4 and isinstance(v, str):
        return "%s = %d bytes %s" % (head, len(v) // 2, v if v else ""), None
    if t == 1 and isinstance(v, int):
        return "%s = %d (0x%016x)" % (head, v, v), None
    return "%s = %s" % (head, v), None


def _lines(value, indent, out):
    pad = "  " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if _is_addr(item):
                out.append("%s%s: %s" % (pad, key, _addr(item)))
            elif _is_item(item):
                text, children = _item_line(item)
                out.append("%s%s: %s" % (pad, key, text))
                if children:
                    _lines(children, indent + 1, out)
            elif isinstance(item, (dict, list)) and item:
                out.append("%s%s:" % (pad, key))
                _lines(item, indent + 1, out)
            else:
                out.append("%s%s: %s" % (pad, key, _scalar(item) if item != [] and item != {} else "(empty)"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if _is_item(item):
                text, children = _item_line(item)
                out.append("%s%s" % (pad, text))
                if children:
                    _lines(children, indent + 1, out)
            elif _is_addr(item):
                out.append("%s[%d] %s" % (pad, index, _addr(item)))
            elif isinstance(item, (dict, list)) and item:
                out.append("%s[%d]" % (pad, index))
                _lines(item, indent + 1, out)
            else:
                out.append("%s[%d] %s" % (pad, index, _scalar(item)))
    else:
        out.append(pad + _scalar(value))


def render_tree(value):
    out = []
    _lines(value, 0, out)
    return "\n".join(out) + "\n"


_EVENT_HEAD = ("flow", "frame", "time", "direction", "src", "dst", "layer")


def render_event(event):
    """One capture event (its JSON): a heading line, then its fields."""
    time = event.get("time")
    head = "flow %s  frame %s  %s  %s %s -> %s  %s%s" % (
        event.get("flow"), event.get("frame"),
        "-" if time is None else "%.6f" % time, event.get("direction"),
        event.get("src"), event.get("dst"), event.get("layer"),
        "  (not decoded)" if event.get("decoded") is False else "")
    rest = {k: v for k, v in event.items() if k not in _EVENT_HEAD and k != "decoded"}
    out = [head]
    _lines(rest, 1, out)
    return "\n".join(out) + "\n"
