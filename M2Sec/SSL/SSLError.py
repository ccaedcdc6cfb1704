"""The SSL layer's exceptions.

Every one derives from :class:`SSLError` (M2Crypto's ``SSL.SSLError``), itself an
``Err.M2SecError``.  Expected outcomes have their own names: a timeout
(:class:`SSLTimeoutError`, also a ``socket.timeout``), an unexpected end of the connection
(:class:`SSLEOFError`), a sans-I/O object waiting for bytes (:class:`SSLWantReadError`), and a
peer certificate that failed verification (:class:`SSLCertVerificationError`, carrying
OpenSSL's verify code, with one subclass per common cause).
"""

import socket
from typing import Dict, Type

from M2Sec import m2
from M2Sec.Err import ClosedError, SSLError

__all__ = [
    "SSLError", "SSLClosedError", "SSLTimeoutError", "SSLEOFError", "SSLWantReadError", "SSLWantWriteError",
    "SSLVerificationError", "SSLCertVerificationError", "CertificateExpiredError",
    "CertificateNotYetValidError", "UntrustedCertificateError", "SelfSignedCertificateError",
    "HostnameMismatchError", "CertificateRevokedError",
]


class SSLClosedError(SSLError, ClosedError):
    """The connection was closed (by this thread or another, even during the call) and can
    no longer be used; also an ``Err.ClosedError``."""


class SSLTimeoutError(SSLError, socket.timeout):
    """A handshake, read or write did not complete within the socket's timeout."""


class SSLEOFError(SSLError):
    """The peer closed the connection during the handshake, or without a close_notify alert."""

    # Exception's own: SSLError's reads M2Crypto's Err.SSLError(err, client_addr) form, which
    # M2Crypto has no EOF class for; raised whenever a peer hangs up, this runs no Python code.
    __init__ = Exception.__init__


class SSLWantReadError(SSLError):
    """The TLS object needs more bytes from the peer before it can go on (non-blocking use)."""


class SSLWantWriteError(SSLError):
    """The TLS object needs to send bytes before it can go on (non-blocking use)."""


class SSLVerificationError(SSLError):
    """The peer's identity could not be verified (M2Crypto's ``Checker.SSLVerificationError``)."""


class SSLCertVerificationError(SSLVerificationError):
    """The peer's certificate failed verification in the handshake.

    ``verify_code`` is OpenSSL's X509_V_ERR_* code and ``verify_message`` its text.
    """

    def __init__(self, verify_code: int, message: str = "") -> None:
        self.verify_code = verify_code
        self.verify_message = m2.x509_get_verify_error(verify_code)
        super().__init__(message or "certificate verify failed: %s (%d)" % (self.verify_message, verify_code))


class CertificateExpiredError(SSLCertVerificationError):
    """A certificate of the chain has expired (X509_V_ERR_CERT_HAS_EXPIRED)."""


class CertificateNotYetValidError(SSLCertVerificationError):
    """A certificate of the chain is not valid yet (X509_V_ERR_CERT_NOT_YET_VALID)."""


class UntrustedCertificateError(SSLCertVerificationError):
    """The chain does not lead to a trusted certificate (unknown issuer, untrusted root)."""


class SelfSignedCertificateError(UntrustedCertificateError):
    """The peer's certificate, or its chain's root, is self-signed and not trusted."""


class HostnameMismatchError(SSLCertVerificationError):
    """The certificate is not valid for the host name or IP address that was checked."""


class CertificateRevokedError(SSLCertVerificationError):
    """A certificate of the chain is revoked (X509_V_ERR_CERT_REVOKED)."""


_BY_CODE: Dict[int, Type[SSLCertVerificationError]] = {
    m2.X509_V_ERR_CERT_HAS_EXPIRED: CertificateExpiredError,
    m2.X509_V_ERR_CERT_NOT_YET_VALID: CertificateNotYetValidError,
    m2.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: SelfSignedCertificateError,
    m2.X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: SelfSignedCertificateError,
    m2.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: UntrustedCertificateError,
    m2.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UntrustedCertificateError,
    m2.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: UntrustedCertificateError,
    m2.X509_V_ERR_CERT_UNTRUSTED: UntrustedCertificateError,
    m2.X509_V_ERR_HOSTNAME_MISMATCH: HostnameMismatchError,
    m2.X509_V_ERR_IP_ADDRESS_MISMATCH: HostnameMismatchError,
    m2.X509_V_ERR_CERT_REVOKED: CertificateRevokedError,
}


def verify_error(verify_code: int, message: str = "") -> SSLCertVerificationError:
    """The exception for a certificate that failed with verify_code (the class fits the cause)."""
    return _BY_CODE.get(verify_code, SSLCertVerificationError)(verify_code, message)


m2.ssl_init(SSLError, SSLTimeoutError)
m2.ssl_set_error_classes(SSLEOFError, verify_error)
