"""The low-level OpenSSL functions: ``m2.bio_new``, ``m2.x509_name_new`` and so on.

OpenSSL's ``X509_get_version`` is ``m2.x509_get_version``: M2Crypto's names, all lower case.
Each function raises its area's exception on failure and leaves OpenSSL's error queue empty.
"""

from M2Sec._m2sec import *  # noqa: F401,F403
from M2Sec._m2sec import OPENSSL_VERSION_NUMBER as _BUILT
from M2Sec._m2sec import lib_init as _lib_init
from M2Sec._m2sec import openssl_version_num as _running


def _check_openssl(built: int, running: int) -> None:
    """Refuse to run on an OpenSSL whose major.minor differs from the headers M2Sec was built with.

    :raises ImportError: naming both versions (OPENSSL_VERSION_NUMBER against OpenSSL_version_num()).
    """
    if built >> 20 != running >> 20:  # 0xMNN00PP0L: major and minor are the top 12 bits
        def text(v: int) -> str:
            return "%d.%d.%d" % (v >> 28, (v >> 20) & 0xFF, (v >> 4) & 0xFF)

        raise ImportError(
            "M2Sec was built for OpenSSL %s but OpenSSL %s was loaded at run time (another "
            "libcrypto.so.3 was loaded first, e.g. by Python's ssl module: set LD_LIBRARY_PATH to "
            "the OpenSSL M2Sec was built with, or rebuild M2Sec against the one loaded)"
            % (text(built), text(running))
        )


_check_openssl(_BUILT, _running())
_lib_init()
del _lib_init
