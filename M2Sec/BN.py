"""Random big numbers (M2Crypto's BN module); m2.bn_* hold the BIGNUM conversions."""

import string
import warnings

from M2Sec import m2
from M2Sec.Err import M2SecError


class BNError(M2SecError, ValueError):
    """A big-number operation failed."""


m2.bn_init(BNError)


def rand(bits: int, top: int = -1, bottom: int = 0) -> int:
    """A random int of bits bits (BN_rand): top=0 sets the top bit, top=1 the two top bits,
    bottom=1 makes it odd."""
    return m2.bn_rand(bits, top, bottom)


def rand_range(range: int) -> int:  # noqa: A002 - M2Crypto's parameter name
    """A random int r with 0 <= r < range."""
    return m2.bn_rand_range(range)


_ALNUM = string.ascii_letters + string.digits


def randfname(length: int) -> str:
    """Deprecated: a random string of length letters and digits."""
    warnings.warn("randfname is deprecated, use the tempfile module", DeprecationWarning, stacklevel=2)
    return "".join(_ALNUM[rand_range(len(_ALNUM))] for _ in range(length))
