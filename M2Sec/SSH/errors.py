"""SSH exceptions: DisconnectError with RFC 4253 section 11.1's reason codes, and the format
error every SSH parser raises for malformed input."""

from M2Sec.Err import M2SecError

# RFC 4253 11.1: SSH_MSG_DISCONNECT reason codes.
HOST_NOT_ALLOWED_TO_CONNECT = 1
PROTOCOL_ERROR = 2
KEY_EXCHANGE_FAILED = 3
RESERVED = 4
MAC_ERROR = 5
COMPRESSION_ERROR = 6
SERVICE_NOT_AVAILABLE = 7
PROTOCOL_VERSION_NOT_SUPPORTED = 8
HOST_KEY_NOT_VERIFIABLE = 9
CONNECTION_LOST = 10
BY_APPLICATION = 11
TOO_MANY_CONNECTIONS = 12
AUTH_CANCELLED_BY_USER = 13
NO_MORE_AUTH_METHODS_AVAILABLE = 14
ILLEGAL_USER_NAME = 15


class SSHError(M2SecError):
    """The root of the SSH exceptions."""


class SSHFormatError(SSHError, ValueError):
    """Malformed SSH data: a truncated or oversized field, trailing bytes, an unknown type."""


class SSHKeyError(SSHError, ValueError):
    """A key or key file that cannot be used: unknown algorithm, wrong passphrase, bad key."""


class DisconnectError(SSHError):
    """The connection ended (or must end) with an RFC 4253 reason code.

    :param code: one of the module's reason-code constants.
    :param reason: a human-readable description.
    :param local: True if this side detected the fault, False if the peer reported it.
    """

    code: int = PROTOCOL_ERROR

    def __init__(self, code: int, reason: str, *, local: bool = True) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.local = local

    def __str__(self) -> str:
        side = "local" if self.local else "remote"
        return "%s (code %d, %s): %s" % (type(self).__name__, self.code, side, self.reason)


class _Coded(DisconnectError):
    """A DisconnectError whose class fixes the code: ``raise ProtocolError("reason")``."""

    def __init_subclass__(cls, code: int = PROTOCOL_ERROR, **kw: object) -> None:
        super().__init_subclass__(**kw)
        cls.code = code

    def __init__(self, reason: str, *, local: bool = True) -> None:
        super().__init__(type(self).code, reason, local=local)


class ProtocolError(_Coded, code=PROTOCOL_ERROR):
    """A side broke the protocol's rules."""


class KeyExchangeFailed(_Coded, code=KEY_EXCHANGE_FAILED):
    """Key exchange failed."""


class MACError(_Coded, code=MAC_ERROR):
    """A packet's MAC or AEAD tag did not verify."""


class CompressionError(_Coded, code=COMPRESSION_ERROR):
    """Compression failed."""


class ServiceNotAvailable(_Coded, code=SERVICE_NOT_AVAILABLE):
    """The service is not offered."""


class ProtocolVersionNotSupported(_Coded, code=PROTOCOL_VERSION_NOT_SUPPORTED):
    """The peer does not speak SSH-2.0."""


class HostKeyNotVerifiable(_Coded, code=HOST_KEY_NOT_VERIFIABLE):
    """The server's host key is unknown, changed, revoked or its signature is bad."""


class ConnectionLost(_Coded, code=CONNECTION_LOST):
    """The connection closed or stalled."""


class ByApplication(_Coded, code=BY_APPLICATION):
    """The application closed the connection."""


class AuthenticationFailed(_Coded, code=NO_MORE_AUTH_METHODS_AVAILABLE):
    """No authentication method succeeded."""


class IllegalUserName(_Coded, code=ILLEGAL_USER_NAME):
    """The user name was refused."""
