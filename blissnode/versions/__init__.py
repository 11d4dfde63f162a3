"""
Client versions: one module per version, each overriding only what differs
from the nearest older one; :mod:`blissnode.versions.registry` maps a
client's version string to the version object that serves it.
"""
