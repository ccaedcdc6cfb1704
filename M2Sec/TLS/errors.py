"""TLS Lite's exceptions: alerts, closed connections and authentication failures.

Every class derives from :class:`TLSError`, itself an :class:`M2Sec.Err.M2SecError`, so code
catching either name sees them.
"""

from typing import Optional

from M2Sec.Err import M2SecError
from M2Sec.TLS.constants import AlertDescription, AlertLevel


class BaseTLSException(M2SecError):
    """The root of the TLS API's exceptions (TLS Lite's name)."""


class TLSError(BaseTLSException):
    """A TLS connection failed."""

    def __str__(self) -> str:
        return repr(self) if not self.args else str(self.args[0]) if len(self.args) == 1 else str(self.args)


class TLSClosedConnectionError(TLSError, OSError):
    """The connection was used after it was closed (an OSError, as on a closed socket)."""


class TLSAbruptCloseError(TLSError):
    """The peer closed the socket without sending close_notify."""


class TLSAlert(TLSError):
    """A fatal TLS alert ended the connection; ``description`` is an AlertDescription value."""

    description: int
    level: int


class TLSLocalAlert(TLSAlert):
    """This side detected the failure and sent the alert ``description`` to the peer.

    ``message`` has OpenSSL's reason, when it gave one.
    """

    #: OpenSSL's X509_V_ERR_* value of the handshake (set by TLSConnection; an annotation only)
    verify_code: int

    def __init__(self, alert: int, message: Optional[str] = None, level: int = AlertLevel.fatal) -> None:
        super().__init__(alert, message)
        self.description = int(alert)
        self.level = level
        self.message = message

    def __str__(self) -> str:
        name = AlertDescription.toStr(self.description)
        return "%s: %s" % (name, self.message) if self.message else name


class TLSRemoteAlert(TLSAlert):
    """The peer sent the alert ``description`` and closed the connection."""

    def __init__(self, alert: int, level: int = AlertLevel.fatal) -> None:
        super().__init__(alert)
        self.description = int(alert)
        self.level = level
        self.message = None

    def __str__(self) -> str:
        return AlertDescription.toStr(self.description)


class TLSAuthenticationError(TLSError):
    """The handshake completed but the peer's authentication was not accepted (a Checker's verdict)."""


class TLSNoAuthenticationError(TLSAuthenticationError):
    """The Checker wanted a certificate chain and the peer presented none."""


class TLSAuthenticationTypeError(TLSAuthenticationError):
    """The peer authenticated with a different kind of credential than the Checker wanted."""


class TLSFingerprintError(TLSAuthenticationError):
    """The peer's end-entity certificate does not have the expected fingerprint."""


class TLSAuthorizationError(TLSAuthenticationError):
    """The peer is authenticated but not authorized (a Checker's own policy refused it)."""


class TLSValidationError(TLSAuthenticationError):
    """The peer's certificate chain or host name failed verification.

    ``verify_code`` is OpenSSL's X509_V_ERR_* value (0 for a host-name mismatch found after
    the handshake).
    """

    def __init__(self, msg: str, verify_code: int = 0) -> None:
        super().__init__(msg)
        self.verify_code = verify_code


class TLSFaultError(TLSError):
    """The peer behaved in a way the settings forbid (TLS Lite's fault-injection error)."""


class TLSUnsupportedError(TLSError):
    """A requested feature is not available in this build of OpenSSL or not valid here."""


class TLSProtocolException(TLSError):
    """A request that the TLS protocol does not allow here (tlslite-ng's name)."""


class TLSIllegalParameterException(TLSProtocolException):
    """A parameter that is not valid for this connection, such as a KeyUpdate on TLS 1.2
    (tlslite-ng's name)."""
