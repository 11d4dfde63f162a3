"""
An indented tree for people (``--pretty``), from the same JSON-able values
the machine-readable output prints, so both always show the same facts.
"""


def _scalar(value):
    if isinstance(value, str):
        return value
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _lines(value, indent, out):
    pad = "  " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append("%s%s:" % (pad, key))
                _lines(item, indent + 1, out)
            else:
                out.append("%s%s: %s" % (pad, key, _scalar(item) if item != [] and item != {} else "(empty)"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, (dict, list)) and item:
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
