"""
What ``patch-client`` found and did, as data: one :class:`Match` per
occurrence (a key or an address, in one storage form, at one file offset),
the byte :class:`Edit` s that carry them out, and the :class:`Report` that
``--json`` prints and the text output renders -- so a patched client can be
checked and the result shared.
"""

import attr

#: Match statuses.
REPLACED = "replaced"          # the new value is (or, with --dry-run, would be) written
NOT_REPLACED = "not-replaced"  # left as it is; ``reason`` says why, ``routing`` what to do
ALREADY = "already-patched"    # the file already holds this server's value

KEY = "key"
ADDRESS = "address"


@attr.s(frozen=True, slots=True)
class Edit:
    """Bytes to write: ``new`` over ``old`` at ``offset`` (same length)."""

    offset = attr.ib()
    old = attr.ib()
    new = attr.ib()

    def __attrs_post_init__(self):
        if len(self.old) != len(self.new):
            raise ValueError("an edit must keep the length (%d != %d bytes)"
                             % (len(self.old), len(self.new)))

    @property
    def end(self):
        return self.offset + len(self.old)


@attr.s(slots=True)
class Match:
    """One occurrence.  ``old``/``new`` are text (addresses) or hex (keys,
    binary addresses); ``new`` is None when nothing is written."""

    kind = attr.ib()
    what = attr.ib()
    role = attr.ib()
    form = attr.ib()
    offset = attr.ib()
    length = attr.ib()
    old = attr.ib()
    new = attr.ib()
    status = attr.ib()
    reason = attr.ib(default="")
    routing = attr.ib(factory=list)
    section = attr.ib(default=None)

    def as_json(self):
        return {
            "kind": self.kind, "what": self.what, "role": self.role, "form": self.form,
            "offset": self.offset, "offset_hex": "0x%x" % (self.offset,),
            "length": self.length, "section": self.section,
            "old": self.old, "new": self.new, "status": self.status,
            "reason": self.reason, "routing": list(self.routing),
        }


@attr.s(slots=True)
class Report:
    """The whole outcome; :meth:`as_json` is the ``--json`` document."""

    input = attr.ib()
    output = attr.ib()
    dry_run = attr.ib()
    format = attr.ib()
    machine = attr.ib()
    size = attr.ib()
    input_sha256 = attr.ib()
    known_build = attr.ib(default=None)
    targets = attr.ib(factory=dict)
    keys = attr.ib(factory=dict)
    matches = attr.ib(factory=list)
    fixups = attr.ib(factory=list)
    warnings = attr.ib(factory=list)
    written = attr.ib(default=False)
    output_sha256 = attr.ib(default=None)

    def replaced(self):
        return [m for m in self.matches if m.status == REPLACED]

    def as_json(self):
        return {
            "input": self.input, "output": self.output, "dry_run": self.dry_run,
            "written": self.written, "format": self.format, "machine": self.machine,
            "size": self.size, "input_sha256": self.input_sha256,
            "output_sha256": self.output_sha256,
            "known_build": self.known_build,
            "targets": {role: str(t) for role, t in self.targets.items()},
            "keys": self.keys,
            "matches": [m.as_json() for m in self.matches],
            "fixups": [{"what": f.what, "offset": f.offset, "old": f.old, "new": f.new,
                        "note": f.note} for f in self.fixups],
            "warnings": list(self.warnings),
            "summary": {
                "replaced": len(self.replaced()),
                "not_replaced": sum(m.status == NOT_REPLACED for m in self.matches),
                "already_patched": sum(m.status == ALREADY for m in self.matches),
            },
        }


def _short(value, width=40):
    value = "" if value is None else str(value)
    return value if len(value) <= width else value[:width - 3] + "..."


def render_text(report):
    """The human-readable report, as lines."""
    out = ["%s: %s (%s), %d bytes, SHA-256 %s" % (report.input, report.format.upper(),
                                                  report.machine, report.size,
                                                  report.input_sha256)]
    if report.known_build:
        b = report.known_build
        out.append("known build: %s %s %s" % (b["version"], b["platform"], b["name"]))
    out.append("targets: " + ", ".join("%s %s" % (r, t) for r, t in report.targets.items()))
    for m in report.matches:
        out.append("%s: %s, %s, at 0x%x%s" % (
            m.status, m.what, m.form, m.offset, " in " + m.section if m.section else ""))
        out.append("    old: %s" % (_short(m.old, 64),))
        if m.new is not None:
            out.append("    new: %s" % (_short(m.new, 64),))
        if m.reason:
            out.append("    why: %s" % (m.reason,))
        for line in m.routing:
            out.append("    route: %s" % (line,))
    for f in report.fixups:
        if f.new is None:
            out.append("%s: %s" % (f.what, f.note))
        else:
            out.append("%s: 0x%08x -> 0x%08x" % (f.what, f.old, f.new))
    for w in report.warnings:
        out.append("warning: %s" % (w,))
    n = len(report.replaced())
    if report.dry_run:
        out.append("dry run: %d replacement(s) planned; nothing written" % (n,))
    elif report.written:
        out.append("wrote %s: %d replacement(s), SHA-256 %s" % (report.output, n,
                                                               report.output_sha256))
    return out
