"""M2Sec: OpenSSL 3 for Python through SWIG, with M2Crypto's API.

Primitives, PKI, S/MIME, SSL/TLS with the standard library's protocols, a TLS Lite-style API
and SSH2, on the same OpenSSL bindings.  ``M2Sec.m2`` holds the low-level functions.
"""

__version__ = "0.1.0"
version = __version__
version_info = tuple(int(p) for p in __version__.split(".")[:3])

from M2Sec import m2  # noqa: E402
from M2Sec import Err  # noqa: E402  (registers the exception classes first)
from M2Sec import ASN1, BIO, BN, Rand, util  # noqa: E402,F401

encrypt = 1
decrypt = 0

# The public names (`from M2Sec import *`, and what type checkers take as exported).
__all__ = [
    "__version__", "version", "version_info", "m2", "Err", "BIO", "ASN1", "BN", "Rand", "util",
    "encrypt", "decrypt",
]
