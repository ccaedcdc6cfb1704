"""OpenSSL's error queue, and M2Sec's exception root.

Every exception M2Sec raises for an OpenSSL failure derives from :class:`M2SecError`
(M2Crypto's name, ``M2CryptoError``, is the same class).  Functions of ``m2`` drain the queue
into the exception they raise, so the queue is normally empty; the functions below read it for
code that calls OpenSSL in other ways.
"""

from typing import Any, List, Optional, Tuple

from M2Sec import m2


class M2SecError(Exception):
    """The root of M2Sec's exceptions.  ``openssl_code``, when set, is OpenSSL's packed code."""

    openssl_code: int = 0


M2CryptoError = M2SecError


class ClosedError(M2SecError, ValueError):
    """An object whose OpenSSL pointer was freed was used."""


class SSLError(M2SecError):
    """An SSL/TLS failure, with OpenSSL's reason text: the one class behind both of M2Crypto's
    names, ``Err.SSLError`` and ``SSL.SSLError`` (the SSL layer's exceptions derive from it).

    M2Crypto's ``Err.SSLError(err, client_addr)`` form is kept: ``err`` is OpenSSL's packed
    code and ``client_addr`` the peer's address, both shown by ``str()``.
    """

    err: int = 0
    client_addr = None
    _coded = False

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if (type(self).__init__ is SSLError.__init__ and len(args) == 2 and isinstance(args[0], int)
                and not isinstance(args[0], bool)):
            self.err, self.client_addr = args
            self._coded = True

    def __str__(self) -> str:
        if self._coded:
            return "%s: %s: %s" % (get_error_func(self.err), self.client_addr, get_error_reason(self.err))
        return super().__str__()


m2.lib_set_error_class(m2.AREA_LIB, M2SecError)


def get_errors() -> List[Tuple[int, str, str, Optional[str]]]:
    """Drain the queue: [(code, library, reason, data)], oldest first."""
    return m2.err_get_errors()


def get_error() -> Optional[str]:
    """Drain the queue into one line per error, or None if it was empty."""
    errs = m2.err_get_errors()
    if not errs:
        return None
    return "\n".join("error:%08X:%s::%s%s" % (c, lib, reason, ":" + data if data else "") for c, lib, reason, data in errs)


def get_error_code() -> int:
    """Take the oldest error's code off the queue (0 if empty)."""
    return m2.err_get_error()


def peek_error_code() -> int:
    """The oldest error's code, left on the queue (0 if empty)."""
    return m2.err_peek_error()


def get_error_lib(err: Optional[int]) -> str:
    return (m2.err_lib_error_string(err) or "") if err else ""


def get_error_func(err: Optional[int]) -> str:
    return (m2.err_func_error_string(err) or "") if err else ""


def get_error_reason(err: Optional[int]) -> str:
    return (m2.err_reason_error_string(err) or "") if err else ""


def get_error_message() -> str:
    """The reason text of the oldest error, taken off the queue ('' if empty)."""
    return get_error_reason(get_error_code())


def get_x509_verify_error(err: Optional[int]) -> str:
    if err is None:
        return ""
    return m2.x509_get_verify_error(err)
