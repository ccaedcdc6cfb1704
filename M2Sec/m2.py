"""The low-level OpenSSL functions: ``m2.bio_new``, ``m2.x509_name_new`` and so on.

OpenSSL's ``X509_get_version`` is ``m2.x509_get_version``: M2Crypto's names, all lower case.
Each function raises its area's exception on failure and leaves OpenSSL's error queue empty.
"""

from M2Sec._m2sec import *  # noqa: F401,F403
from M2Sec._m2sec import lib_init as _lib_init

_lib_init()
del _lib_init
