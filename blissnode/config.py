"""
``--config blissnode.toml``: every server option in one file.

Keys are the long option names (``public-ip`` or ``public_ip``), values
strings, numbers, lists (joined with commas, e.g. ``event-addresses``) or
booleans (for flags such as ``log-json``).  The file sets the defaults; a
flag on the command line overrides it.  Unknown keys and malformed files are
one-line usage errors, so a typo never goes unnoticed.
"""

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

from twisted.python import usage

__all__ = ["CONFIG_PARAMETER", "config_path", "load_config", "apply_config"]

CONFIG_PARAMETER = ["config", None, None,
                    "A TOML file of options (long names as keys); flags given here "
                    "override it (docs/operating.rst)."]


def config_path(argv):
    """The value of ``--config`` in ``argv`` (a list of strings), or None."""
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


def load_config(path):
    """The TOML file at ``path`` as a dict; UsageError (one line) otherwise."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise usage.UsageError("--config %s: %s" % (path, e.strerror or e))
    except tomllib.TOMLDecodeError as e:
        raise usage.UsageError("--config %s: not valid TOML: %s" % (path, e))


def _text(key, value):
    if isinstance(value, bool):
        raise usage.UsageError("config key %r takes a string or number, not true/false"
                               % (key,))
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return ",".join(str(v) for v in value)
    raise usage.UsageError("config key %r: unsupported value %r" % (key, value))


def apply_config(options, values, path="the config file"):
    """Set the options' defaults from ``values`` (a dict from :func:`load_config`)."""
    flags = {name for name, *_rest in getattr(options, "optFlags", [])}
    for key, value in values.items():
        name = key.replace("_", "-")
        if name == "config":
            raise usage.UsageError("%s: 'config' cannot be set in a config file" % (path,))
        if name in flags:
            if not isinstance(value, bool):
                raise usage.UsageError("%s: %r must be true or false" % (path, key))
            options[name] = 1 if value else 0
        elif name in options.defaults:
            options[name] = _text(key, value)
        else:
            raise usage.UsageError("%s: unknown option %r" % (path, key))
