"""Checker: TLS Lite's post-handshake test of the peer's identity."""

from typing import Any, Optional

from M2Sec.TLS.errors import (TLSAuthenticationTypeError, TLSFingerprintError, TLSNoAuthenticationError)
from M2Sec.TLS.x509 import X509CertChain


class Checker:
    """Called with the connection after a handshake; raises a TLSAuthenticationError subclass
    when the peer is not the expected one.

    :param x509Fingerprint: the SHA-1 fingerprint (hex, any case, colons allowed) the peer's
        end-entity certificate must have.
    :param checkResumedSession: check resumed sessions too (by default they passed when made).
    """

    def __init__(self, x509Fingerprint: Optional[str] = None, checkResumedSession: bool = False) -> None:
        self.x509Fingerprint = x509Fingerprint.replace(":", "").lower() if x509Fingerprint else None
        self.checkResumedSession = checkResumedSession

    def __call__(self, connection: Any) -> None:
        """Check connection's peer.

        :raises TLSNoAuthenticationError: a fingerprint is expected and the peer sent no certificate.
        :raises TLSAuthenticationTypeError: the peer authenticated with SRP instead.
        :raises TLSFingerprintError: the fingerprint differs.
        """
        if not self.checkResumedSession and connection.resumed:
            return
        if not self.x509Fingerprint:
            return
        session = connection.session
        chain = session.serverCertChain if connection._client else session.clientCertChain
        if not chain:
            if session.srpUsername:
                raise TLSAuthenticationTypeError("the peer authenticated with SRP, not a certificate")
            raise TLSNoAuthenticationError("the peer sent no certificate")
        if not isinstance(chain, X509CertChain):
            raise TLSAuthenticationTypeError("the peer's credential is not an X.509 chain")
        if chain.getFingerprint() != self.x509Fingerprint:
            raise TLSFingerprintError("the peer's certificate has fingerprint %s, expected %s"
                                      % (chain.getFingerprint(), self.x509Fingerprint))
