"""
``patch-client`` from start to end: read the input, refuse what cannot be
patched safely, plan every edit, apply them to a copy, let the executable
format update its fields, and write the copy atomically -- or, with a dry
run, only report.

Nothing is written unless every check passed: the file is a PE or ELF
executable that does not look packed, both keys are found unambiguously,
and no two planned edits overlap.  The input is only ever read.
"""

import hashlib
import os
import stat
import tempfile

import attr
from twisted.logger import Logger

from blissnode.patch.addresses import AddressOptions, scan_addresses
from blissnode.patch.builds import collect
from blissnode.patch.executable import UnsupportedFormat, open_executable
from blissnode.patch.keyscan import KeyScanRefused, scan_keys
from blissnode.patch.known import SKYPE_ADDRESSES, SUPERNODE
from blissnode.patch.packing import packing_signs
from blissnode.patch.report import ADDRESS, REPLACED, Report

log = Logger()


class PatchRefused(Exception):
    """Nothing was written; the message says what was looked for and what to try."""


@attr.s(frozen=True, slots=True)
class PatchOptions:
    """What the command line chose (see ``blissnode patch-client --help``)."""

    dry_run = attr.ib(default=False)
    all_copies = attr.ib(default=False)
    keys_only = attr.ib(default=False)
    lone_binary_ipv4 = attr.ib(default=False)
    allow_packed = attr.ib(default=False)


def _addresses(knowledge):
    seen, out = set(), []
    for a in tuple(SKYPE_ADDRESSES) + tuple(knowledge.addresses):
        key = (a.host.lower(), a.port, a.role)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def _check_disjoint(edits):
    edits = sorted(edits, key=lambda e: e.offset)
    for a, b in zip(edits, edits[1:]):
        if b.offset < a.end:
            raise PatchRefused("two planned edits overlap at offsets 0x%x and 0x%x; "
                               "nothing was written (please report this file)"
                               % (a.offset, b.offset))
    return edits


def plan(data, keys, targets, options=PatchOptions(), knowledge=None, name="input"):
    """The :class:`Report` and patched bytes for ``data`` (nothing is written).

    ``keys``: the server's :class:`~blissnode.keys.ServerKeys`; ``targets``:
    {role: Endpoint}.  Raises :class:`PatchRefused`.
    """
    try:
        image = open_executable(data)
    except UnsupportedFormat as e:
        raise PatchRefused("%s: %s" % (name, e))
    warnings = []
    signs = packing_signs(image, data)
    if signs and not options.allow_packed:
        raise PatchRefused(
            "%s looks packed or compressed (%s): its keys and addresses are not plain "
            "data there; use an unpacked build of the client (docs/patch-client.rst)"
            % (name, "; ".join(signs)))
    if signs:
        warnings.append("patched although the file looks packed (--allow-packed): "
                        + "; ".join(signs))
    knowledge = collect() if knowledge is None else knowledge
    digest = hashlib.sha256(data).hexdigest()
    build = knowledge.build(digest)
    try:
        keyscan = scan_keys(data, {"login": keys.login.modulus_bytes(),
                                   "credential": keys.credential.modulus_bytes()},
                            build, options.all_copies)
    except KeyScanRefused as e:
        raise PatchRefused(str(e))
    taken = [(e.offset, e.end) for e in keyscan.edits]
    taken += [(m.offset, m.offset + m.length) for m in keyscan.matches]
    addrscan = scan_addresses(data, _addresses(knowledge), targets,
                              AddressOptions(rewrite=not options.keys_only,
                                             lone_binary=options.lone_binary_ipv4),
                              taken, image.section_at)
    edits = _check_disjoint(keyscan.edits + addrscan.edits)
    for m in keyscan.matches:
        m.section = image.section_at(m.offset)
    patched = bytearray(data)
    for e in edits:
        assert patched[e.offset:e.end] == e.old
        patched[e.offset:e.end] = e.new
    patched, fixups = image.finish(data, bytes(patched))
    warnings.extend(image.warnings())
    address_matches = [m for m in addrscan.matches if m.kind == ADDRESS]
    if not address_matches:
        warnings.append("no compiled-in server address was found (it may be obfuscated, "
                        "login.md L1): redirect the client's traffic by routing "
                        "(docs/patch-client.rst)")
    if any(m.role == SUPERNODE and m.status == REPLACED for m in address_matches):
        warnings.append("clients now send to supernode %s: run the server with "
                        "--public-ip %s (UDP datagrams are keyed with that address)"
                        % (targets[SUPERNODE], targets[SUPERNODE].host))
    report = Report(
        input=name, output=None, dry_run=options.dry_run, format=image.format_name,
        machine=image.machine, size=len(data), input_sha256=digest,
        known_build=None if build is None else {
            "sha256": build.sha256, "version": build.version, "platform": build.platform,
            "name": build.name, "notes": build.notes},
        targets=dict(targets),
        keys={k.role: {"bits": k.bits, "fingerprint_sha256": k.fingerprint}
              for k in (keys.login, keys.credential)},
        matches=sorted(keyscan.matches + addrscan.matches, key=lambda m: m.offset),
        fixups=fixups, warnings=warnings)
    return report, patched


def write_atomically(path, data, mode):
    """Write ``data`` to ``path`` through a temporary file in the same
    directory and a rename, so ``path`` is never seen half written."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def patch_file(in_path, out_path, keys, targets, options=PatchOptions(), knowledge=None):
    """Patch ``in_path`` into ``out_path`` (keeping the input's mode);
    returns the :class:`Report`.  Raises :class:`PatchRefused` (nothing
    written) or ``OSError``."""
    if out_path is not None and os.path.exists(out_path) and \
            os.path.samefile(in_path, out_path):
        raise PatchRefused("OUT is the input file; the input is never modified, "
                           "give another output path")
    with open(in_path, "rb") as f:
        data = f.read()
    mode = stat.S_IMODE(os.stat(in_path).st_mode)
    report, patched = plan(data, keys, targets, options, knowledge, name=in_path)
    report.output = out_path
    if options.dry_run:
        return report
    write_atomically(out_path, patched, mode)
    report.written = True
    report.output_sha256 = hashlib.sha256(patched).hexdigest()
    log.info("patched {input} into {output}: {count} replacement(s)",
             input=in_path, output=out_path, count=len(report.replaced()))
    return report
