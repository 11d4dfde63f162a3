"""
A per-source log throttle, shared by every server role (supernode, login,
event).

A peer that sends garbage costs us a log line per bad packet or connection
unless something stops it: a flood of a few thousand junk connections a
second would fill the disk and bury every other message.  So bad input is
logged at most once per ``(source, kind)`` per interval, and what was held
back is still counted and reported:

* when the same source misbehaves again after its interval, the new line
  says how many similar lines were suppressed since the last one
  (``... (and 41 similar since the last such line)``);
* when a source goes quiet, its count is written as one summary line the
  next time the throttle is used (or on :meth:`LogThrottle.flush`).

A source's first line is never suppressed by another source's flood: keys
are per source.  At most ``max_sources`` keys are remembered (the oldest
windows go first, their counts written as summaries), so memory is bounded
whatever the flood.  Times come from a caller-supplied ``now()`` callable
(``reactor.seconds``), so tests drive them with
:class:`twisted.internet.task.Clock`.

Two more bounds (issue 17.9), because a flood from *many* sources defeats
a per-source key:

* a **global cap**: at most ``global_rate`` lines per second over every key
  (bursts of ``global_burst``); lines over it are counted and reported as
  one summary line (``N peer-caused lines suppressed by the global cap``)
  once the cap lets a line through again, or on :meth:`LogThrottle.flush`;
* **truncation**: every text value passed with a line (a version string, an
  error message quoting a request) is cut to ``max_field`` characters, so
  one line costs at most a few hundred bytes whatever the peer sent.

This module imports only :mod:`blissnode.ratelimit` of ours:
:mod:`blissnode.supernode.limits` re-exports :class:`LogThrottle`, and the
login and event servers use it directly, without depending on the supernode.
"""

import collections

from twisted.logger import Logger

from blissnode.ratelimit import TokenBuckets

log = Logger()

#: Format suffix of a line that follows suppressed ones of the same key.
SUPPRESSED_SUFFIX = " (and {suppressed} similar since the last such line)"
#: Summary line of a key whose window ended with suppressed lines.
SUMMARY_FORMAT = "{source}: {suppressed} more {kind} lines suppressed"
#: Summary line of the lines the global cap held back.
GLOBAL_SUMMARY_FORMAT = "{suppressed} peer-caused log lines suppressed by the global cap"
#: Longest text value logged with a peer-caused line.
MAX_FIELD = 200


def truncate(value, limit=MAX_FIELD):
    """``value`` cut for a log line: texts and bytes to ``limit`` characters,
    anything else by its ``str`` (exceptions quote what the peer sent)."""
    if value is None or isinstance(value, (int, float, bool)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value)
        return value if len(value) <= limit else value[:limit] + b"..."
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else "%s... (%d characters)" % (text[:limit], len(text))


class _Window(object):
    __slots__ = ("start", "suppressed", "level")

    def __init__(self, start, level):
        self.start = start
        self.suppressed = 0
        self.level = level


class LogThrottle(object):
    """At most one log line per (source, kind) per ``interval`` seconds,
    with a count of what was suppressed (module docstring).

    :param now: returns the current time in seconds (``reactor.seconds``).
    :param logger: where lines go (a :class:`twisted.logger.Logger`, or
        anything with the level methods used): each role passes its own so
        lines keep the role's log namespace.
    """

    def __init__(self, now, interval=60.0, max_sources=4096, logger=None, global_rate=20.0,
                 global_burst=200, max_field=MAX_FIELD):
        self.interval = interval
        self.max_sources = max_sources
        self.max_field = max_field
        self._global = TokenBuckets(global_rate, global_burst, now, max_keys=1) \
            if global_rate else None
        #: Lines the global cap held back since its last summary.
        self.capped = 0
        self._now = now
        self._windows = collections.OrderedDict()  # oldest window first
        self.log = logger if logger is not None else log

    def __len__(self):
        return len(self._windows)

    def admit(self, source, kind="error", level="warn"):
        """``None`` if a line for ``(source, kind)`` must be suppressed now
        (it is counted); otherwise the number of lines of that key
        suppressed since its previous line (0 for a first line)."""
        now = self._now()
        key = (source, kind)
        window = self._windows.get(key)
        if window is not None and now - window.start < self.interval:
            window.suppressed += 1
            return None
        before = window.suppressed if window is not None else 0
        if self._global is not None and not self._global.take(None):
            # Over the global cap: held back and counted, the key's window
            # is not started (its next line may pass once the cap allows).
            self.capped += 1
            return None
        self._report_capped()
        self._windows.pop(key, None)
        self._expire(now)
        self._windows[key] = _Window(now, level)
        while len(self._windows) > self.max_sources:
            old_key, old = self._windows.popitem(last=False)
            self._summarize(old_key, old)
        return before

    def _report_capped(self):
        if self.capped:
            capped, self.capped = self.capped, 0
            self.log.warn(GLOBAL_SUMMARY_FORMAT, suppressed=capped)

    def allow(self, source, kind="error"):
        """True if a line for ``(source, kind)`` may be written now;
        otherwise count one suppressed line and return False."""
        return self.admit(source, kind) is not None

    def suppressed(self, source, kind="error"):
        """Lines of ``(source, kind)`` suppressed in its current window."""
        window = self._windows.get((source, kind))
        return 0 if window is None else window.suppressed

    def emit(self, level, source, kind, format, **kw):
        """Log ``format`` at ``level`` ("debug", "info", "warn", "error")
        with ``source=source`` unless throttled; True if written."""
        before = self.admit(source, kind, level)
        if before is None:
            return False
        if before:
            format += SUPPRESSED_SUFFIX
            kw["suppressed"] = before
        kw = {k: truncate(v, self.max_field) for k, v in kw.items()}
        getattr(self.log, level)(format, source=truncate(source, self.max_field), **kw)
        return True

    def debug(self, source, kind, format, **kw):
        return self.emit("debug", source, kind, format, **kw)

    def info(self, source, kind, format, **kw):
        return self.emit("info", source, kind, format, **kw)

    def warn(self, source, kind, format, **kw):
        """Log ``format`` as a warning unless throttled."""
        return self.emit("warn", source, kind, format, **kw)

    def failure(self, source, kind, format, failure=None, **kw):
        """Log a failure (with traceback) unless throttled."""
        before = self.admit(source, kind, "error")
        if before is None:
            return False
        if before:
            format += SUPPRESSED_SUFFIX
            kw["suppressed"] = before
        kw = {k: truncate(v, self.max_field) for k, v in kw.items()}
        self.log.failure(format, failure, source=truncate(source, self.max_field), **kw)
        return True

    def flush(self):
        """Write the summaries of every window that has ended now (and of
        the lines the global cap held back)."""
        self._report_capped()
        self._expire(self._now())

    def _expire(self, now):
        windows = self._windows
        while windows:
            key, window = next(iter(windows.items()))
            if now - window.start < self.interval:
                break
            del windows[key]
            self._summarize(key, window)

    def _summarize(self, key, window):
        if window.suppressed and self._global is not None and not self._global.take(None):
            self.capped += window.suppressed  # summaries count against the cap too
            return
        if window.suppressed:
            source, kind = key
            getattr(self.log, window.level if window.level != "error" else "warn")(
                SUMMARY_FORMAT, source=source, kind=kind, suppressed=window.suppressed)
