"""The low-level OpenSSL functions: ``m2.bio_new``, ``m2.x509_name_new`` and so on.

OpenSSL's ``X509_get_version`` is ``m2.x509_get_version``: M2Crypto's names, all lower case.
Each function raises its area's exception on failure and leaves OpenSSL's error queue empty.
"""

from M2Sec._m2sec import *  # noqa: F401,F403
from M2Sec._m2sec import lib_init as _lib_init

_lib_init()
del _lib_init


# ---- M2Crypto 0.51 names that are not OpenSSL calls (issue 18) ----
# M2Crypto's SWIG layer shows the C callbacks of its Python-file BIO method and two struct
# proxies.  M2Sec's File BIO rests on the descriptor (bio_new_pyfile), so these act on any BIO.


class bignum_st:
    """M2Crypto's SWIG proxy of OpenSSL's BIGNUM struct: opaque, made only by the C layer."""

    def __init__(self, *args, **kwargs):
        raise AttributeError("No constructor defined")


class BIO_PYFD_CTX:
    """M2Crypto's SWIG proxy of its Python-file BIO context: opaque, made only by the C layer."""

    def __init__(self, *args, **kwargs):
        raise AttributeError("No constructor defined")


def pyfd_init():
    """Nothing to set up: M2Sec's file BIOs use OpenSSL's descriptor method."""
    return None


def pyfd_new(b):
    """1: a BIO needs no extra state here (BIO_meth_set_create's contract)."""
    return 1


def pyfd_free(b):
    """1: nothing to free beyond what bio_free frees."""
    return 1


def pyfd_write(b, data, length=-1):
    """Write data (its first length bytes) to the BIO; the count written."""
    data = bytes(data)
    return bio_write(b, data if length < 0 else data[:length])  # noqa: F405


def pyfd_puts(b, text):
    """Write a str or bytes line to the BIO; the count written."""
    return bio_write(b, text.encode() if isinstance(text, str) else bytes(text))  # noqa: F405


def pyfd_read(b, _buf, size):
    """Up to size bytes from the BIO (None at its end)."""
    return bio_read(b, size)  # noqa: F405


def pyfd_gets(b, _buf, size):
    """One line of at most size - 1 bytes from the BIO (None at its end)."""
    return bio_gets(b, size)  # noqa: F405


def pyfd_ctrl(b, cmd, num, _ptr=None):
    """BIO_ctrl for the commands that take no pointer: flush, pending, eof, reset, close flag."""
    ops = {11: bio_flush, 10: bio_ctrl_pending, 2: bio_eof, 1: bio_reset, 8: bio_get_close}  # noqa: F405
    if cmd == 9:  # BIO_CTRL_SET_CLOSE
        return bio_set_close(b, num)  # noqa: F405
    if cmd not in ops:
        raise ValueError("BIO_ctrl command %d is not supported here" % cmd)
    return ops[cmd](b)
