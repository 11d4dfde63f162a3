"""
Build hook for the optional C accelerator ``blissnode.wire._rc4accel``.

All metadata lives in setup.cfg / pyproject.toml.  This file only declares
the extension, generated from the shared program data by tools/gen_expand.py
and committed.  A missing compiler or a failed build is not an error: a
warning is printed and blissnode installs pure Python
(:mod:`blissnode.wire.rc4` then selects its Python implementation).
"""

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """build_ext that degrades to pure Python instead of failing."""

    def run(self):
        try:
            build_ext.run(self)
        except Exception as e:  # no compiler, no Python headers, ...
            self._warn(e)

    def build_extension(self, ext):
        try:
            build_ext.build_extension(self, ext)
        except Exception as e:
            self._warn(e, ext.name)

    def _warn(self, error, name="C extensions"):
        sys.stderr.write(
            "WARNING: building %s failed (%s); blissnode will use its pure-Python "
            "implementation.\n" % (name, error)
        )


setup(
    ext_modules=[
        Extension(
            "blissnode.wire._rc4accel",
            sources=["blissnode/wire/_rc4accel.c"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
