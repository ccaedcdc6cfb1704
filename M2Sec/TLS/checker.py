"""Checker: TLS Lite's post-handshake test of the peer's identity."""

import hmac
import string
from typing import Any, Optional, Union

from M2Sec.TLS.errors import (TLSAuthenticationTypeError, TLSFingerprintError, TLSNoAuthenticationError)
from M2Sec.TLS.x509 import X509CertChain

_SHA1_HEX_DIGITS = 40


def _fingerprint(value: Union[str, bytes, None]) -> Optional[str]:
    """value as X509CertChain.getFingerprint() writes it (lowercase hex, no colons), or None.

    :raises TypeError: for a value that is not str or bytes.
    :raises ValueError: unless value is the 40 hex digits of a SHA-1 fingerprint (colons,
        spaces and either case allowed).
    """
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("ascii", "replace")
    if not isinstance(value, str):
        raise TypeError("x509Fingerprint must be a hex str")
    digits = "".join(value.split()).replace(":", "").lower()
    if len(digits) != _SHA1_HEX_DIGITS or not all(c in string.hexdigits for c in digits):
        raise ValueError("x509Fingerprint must be the 40 hex digits of a SHA-1 fingerprint, not %r" % value)
    return digits


class Checker:
    """Called with the connection after a handshake; raises a TLSAuthenticationError subclass
    when the peer is not the expected one.

    :param x509Fingerprint: the SHA-1 fingerprint the peer's end-entity certificate must have,
        in hex as X509CertChain.getFingerprint() gives it (any case; colons and spaces allowed).
        Compared in constant time.
    :param checkResumedSession: check resumed sessions too (by default they passed when made).
    :raises ValueError: for a fingerprint that is not 40 hex digits.
    """

    def __init__(self, x509Fingerprint: Union[str, bytes, None] = None, checkResumedSession: bool = False) -> None:
        self.x509Fingerprint = x509Fingerprint
        self.checkResumedSession = checkResumedSession

    @property
    def x509Fingerprint(self) -> Optional[str]:
        """The expected fingerprint, lowercase hex without colons (None: no pin)."""
        return self._fingerprint

    @x509Fingerprint.setter
    def x509Fingerprint(self, value: Union[str, bytes, None]) -> None:
        self._fingerprint = _fingerprint(value)

    def __call__(self, connection: Any) -> None:
        """Check connection's peer.

        :raises TLSNoAuthenticationError: a fingerprint is expected and the peer sent no certificate.
        :raises TLSAuthenticationTypeError: the peer authenticated with SRP instead.
        :raises TLSFingerprintError: the fingerprint differs.
        """
        if not self.checkResumedSession and connection.resumed:
            return
        expected = self._fingerprint
        if not expected:
            return
        session = connection.session
        chain = session.serverCertChain if connection._client else session.clientCertChain
        if not chain:
            if session.srpUsername:
                raise TLSAuthenticationTypeError("the peer authenticated with SRP, not a certificate")
            raise TLSNoAuthenticationError("the peer sent no certificate")
        if not isinstance(chain, X509CertChain):
            raise TLSAuthenticationTypeError("the peer's credential is not an X.509 chain")
        observed = chain.getFingerprint()
        if not hmac.compare_digest(observed, expected):
            raise TLSFingerprintError("the peer's certificate has fingerprint %s, expected %s" % (observed, expected))
