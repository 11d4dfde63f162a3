"""
Plugin package of blissnode (Twisted's plugin system, ``twisted.plugin``).

Modules here export objects providing
:class:`blissnode.versions.interfaces.IClientVersion`.  Like
``twisted.plugins``, this package's path is extended with every
``blissnode/plugins`` directory on ``sys.path``, so a separate distribution
adds a client version by installing a module into ``blissnode/plugins/``
(without an ``__init__.py`` of its own).
"""

from twisted.plugin import pluginPackagePaths

__path__.extend(pluginPackagePaths(__name__))
__all__ = []
