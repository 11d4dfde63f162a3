"""
twistd plugin: makes ``twistd blissnode`` run :mod:`blissnode.tap`.

This directory must never get an ``__init__.py``: ``twisted.plugins`` is a
namespace that every installed project adds its plugin modules to.
"""

from twisted.application.service import ServiceMaker

blissnode = ServiceMaker(
    "blissnode",
    "blissnode.tap",
    "Servers for old peer-to-peer Skype clients (supernode, login, event)",
    "blissnode",
)
