"""
The eight client versions blissnode ships, as Twisted plugins.

``VersionRegistry.from_plugins()`` collects every module-level object that
provides :class:`~blissnode.versions.interfaces.IClientVersion` in the
``blissnode.plugins`` package (``twisted.plugin.getPlugins``).  A separate
package adds a version by installing its own module into a
``blissnode/plugins/`` directory on ``sys.path``.
"""

from blissnode.versions.v1_4_0_84 import VERSION as v1_4_0_84
from blissnode.versions.v2_5_0_151 import VERSION as v2_5_0_151
from blissnode.versions.v3_8_0_188 import VERSION as v3_8_0_188
from blissnode.versions.v4_1_0_130 import VERSION as v4_1_0_130
from blissnode.versions.v4_2_0_187 import VERSION as v4_2_0_187
from blissnode.versions.v5_5_0_124 import VERSION as v5_5_0_124
from blissnode.versions.v5_9_66_114 import VERSION as v5_9_66_114
from blissnode.versions.v6_16_0_105 import VERSION as v6_16_0_105

__all__ = [
    "v1_4_0_84", "v2_5_0_151", "v3_8_0_188", "v4_1_0_130", "v4_2_0_187",
    "v5_5_0_124", "v5_9_66_114", "v6_16_0_105",
]
