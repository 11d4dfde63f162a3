"""
``--log-level`` and ``--log-json``: the server's log observer.

twistd builds its log observer after the plugin's service, and uses an
``ILogObserver`` component of the application when there is one; the
plugin's top service sets that component (:func:`attach_observer`) only
when one of these options asks for something other than twistd's default,
writing where twistd would (``--logfile``, or stdout with ``-n``).
"""

import sys

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    jsonFileLogObserver,
    textFileLogObserver,
)
from twisted.python import logfile

__all__ = ["LOG_LEVELS", "make_observer", "observer_for_options", "attach_observer"]

#: The names ``--log-level`` accepts, most verbose first.
LOG_LEVELS = ("debug", "info", "warn", "error", "critical")

#: The default level (twistd's own default shows info and above).
DEFAULT_LEVEL = "info"


def make_observer(level, json_lines, out):
    """An observer writing events at ``level`` or above to ``out``, as text
    lines or as one JSON object per line (record separator free:
    :func:`twisted.logger.jsonFileLogObserver` with ``recordSeparator=""``)."""
    if json_lines:
        base = jsonFileLogObserver(out, recordSeparator="")
    else:
        base = textFileLogObserver(out)
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    return FilteringLogObserver(base, [predicate])


def _log_file(options):
    parent = getattr(options, "parent", None)
    if parent is None:
        return sys.stdout
    name = parent.get("logfile")
    if name == "-" or (not name and parent.get("nodaemon")):
        return sys.stdout
    return logfile.LogFile.fromFullPath(name or "twistd.log")


def observer_for_options(options, out=None):
    """The observer ``--log-level`` / ``--log-json`` ask for, or None (twistd's default)."""
    level = options.get("log-level", DEFAULT_LEVEL)
    json_lines = bool(options.get("log-json", 0))
    if level == DEFAULT_LEVEL and not json_lines:
        return None
    return make_observer(level, json_lines, out if out is not None else _log_file(options))


def attach_observer(application, observer):
    """Make ``observer`` twistd's log observer for ``application`` (a
    Componentized twistd application)."""
    if observer is not None and hasattr(application, "setComponent"):
        application.setComponent(ILogObserver, observer)
