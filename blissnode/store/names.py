"""
Skype names: which strings may name an account, and their stored spelling.

The spec (login.md §5.1, §6) gives no rule beyond "as typed, lower case in
all samples"; the rule here is the one Skype's sign-up screen showed: 6 to 32
characters, starting with a letter, then letters, digits and ``. , - _``.

Names are stored and compared in lower case.  The MD5 credential is a hash
over the name, so the server cannot re-hash for another spelling: the
credential is defined over the lower-cased name (login.md §6), and everything
that touches names goes through :func:`validate_skype_name` first.
"""

import re

from blissnode.store.errors import InvalidName

__all__ = ["MIN_LENGTH", "MAX_LENGTH", "InvalidName", "validate_skype_name"]

MIN_LENGTH = 6
MAX_LENGTH = 32

#: GUESS: "letters" means the ASCII letters.  The old sign-up screen only
#: accepted those as far as anybody recorded, and ASCII-only names keep the
#: case folding (str.lower vs. SQLite's lower()) unambiguous.
_LETTER = "A-Za-z"
_ALLOWED_RE = re.compile(r"[%s0-9.,\-_]*\Z" % (_LETTER,))
_FIRST_RE = re.compile(r"[%s]" % (_LETTER,))


def validate_skype_name(name):
    """Return ``name`` normalised (lower case) or raise :class:`InvalidName`.

    ``name`` may be ``str`` or ``bytes`` (as it comes off the wire); bytes
    must be ASCII.  The error message is meant for a person and names the
    rule that was broken.
    """
    if isinstance(name, (bytes, bytearray)):
        try:
            name = bytes(name).decode("ascii")
        except UnicodeDecodeError:
            raise InvalidName("a Skype name may only contain ASCII letters, digits and . , - _")
    if not isinstance(name, str):
        raise InvalidName("a Skype name must be text, not %s" % (type(name).__name__,))
    if not name:
        raise InvalidName("a Skype name must not be empty")
    if len(name) < MIN_LENGTH or len(name) > MAX_LENGTH:
        raise InvalidName("a Skype name must be %d to %d characters long, %r has %d"
                          % (MIN_LENGTH, MAX_LENGTH, _short(name), len(name)))
    if not _FIRST_RE.match(name):
        raise InvalidName("a Skype name must start with a letter: %r" % (_short(name),))
    if not _ALLOWED_RE.match(name):
        bad = next(c for c in name if not _ALLOWED_RE.match(c))
        raise InvalidName("a Skype name may only contain letters, digits and . , - _ "
                          "(not %r)" % (bad,))
    return name.lower()


def _short(name):
    """The name for an error message, cut so a huge input gives a short line."""
    return name if len(name) <= 40 else name[:37] + "..."
