"""Deprecated: M2Crypto's old home of the callbacks; use :mod:`M2Sec.util`."""

import warnings

from M2Sec.util import genparam_callback, passphrase_callback  # noqa: F401

warnings.warn("M2Sec.callback is deprecated: use M2Sec.util", DeprecationWarning, stacklevel=2)
