"""
Modular arithmetic on big integers for the raw RSA and DH-384 operations:
gmpy2 (GMP) where it is installed, Python's integers otherwise.

Why a module of its own: both :mod:`blissnode.wire.rsa_raw` and
:mod:`blissnode.wire.dh384` exponentiate, and the choice of library is one
policy.  gmpy2's exponentiation is about ten times faster than Python's
``pow`` at these sizes, and the form used here
(``gmpy2.powmod_base_list``, documented to always release the GIL) lets the
reactor thread run while a login's private-key operation computes on
another thread.  Python's ``pow`` keeps the GIL for the whole computation.

``BLISSNODE_PURE_PYTHON=1`` (or no gmpy2) selects Python's integers.
:data:`BIGINT` names the implementation in use; :data:`IMPLEMENTATIONS`
holds both, so tests run the same vectors on each.
"""

import os

import attr

try:
    import gmpy2
except ImportError:  # the pure-Python fallback
    gmpy2 = None

__all__ = ["BigInt", "IMPLEMENTATIONS", "BIGINT", "CURRENT"]


@attr.s(frozen=True, slots=True)
class BigInt(object):
    """One implementation: ``powmod(base, exponent, modulus) -> int`` and
    ``invert(value, modulus) -> int`` (``ValueError`` when there is no
    inverse)."""

    name = attr.ib()
    powmod = attr.ib()
    invert = attr.ib()


def _python_invert(value, modulus):
    return pow(value, -1, modulus)


def _gmpy2_powmod(base, exponent, modulus):
    # The list form releases the GIL for the exponentiation.
    return int(gmpy2.powmod_base_list([base], exponent, modulus)[0])


def _gmpy2_invert(value, modulus):
    try:
        return int(gmpy2.invert(value, modulus))
    except ZeroDivisionError:
        raise ValueError("base is not invertible for the given modulus")


#: Every implementation available here, by name.
IMPLEMENTATIONS = {"python": BigInt("python", pow, _python_invert)}
if gmpy2 is not None:
    IMPLEMENTATIONS["gmpy2"] = BigInt("gmpy2", _gmpy2_powmod, _gmpy2_invert)

#: The name of the implementation the wire layer uses.
BIGINT = "gmpy2" if gmpy2 is not None and os.environ.get(
    "BLISSNODE_PURE_PYTHON", "") in ("", "0") else "python"

#: The implementation the wire layer uses.
CURRENT = IMPLEMENTATIONS[BIGINT]
