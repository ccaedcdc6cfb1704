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
    """A DisconnectError whose class fixes the code: raise ProtocolError("reason")."""

    def __init__(self, reason: str, *, local: bool = True) -> None:
        super().__init__(type(self).code, reason, local=local)


class ProtocolError(_Coded):
    """A side broke the protocol's rules."""

    code = PROTOCOL_ERROR


class KeyExchangeFailed(_Coded):
    """Key exchange failed."""

    code = KEY_EXCHANGE_FAILED


class MACError(_Coded):
    """A packet's MAC or AEAD tag did not verify."""

    code = MAC_ERROR


class CompressionError(_Coded):
    """Compression failed."""

    code = COMPRESSION_ERROR


class ServiceNotAvailable(_Coded):
    """The service is not offered."""

    code = SERVICE_NOT_AVAILABLE


class ProtocolVersionNotSupported(_Coded):
    """The peer does not speak SSH-2.0."""

    code = PROTOCOL_VERSION_NOT_SUPPORTED


class HostKeyNotVerifiable(_Coded):
    """The server's host key is unknown, changed, revoked or its signature is bad."""

    code = HOST_KEY_NOT_VERIFIABLE


class ConnectionLost(_Coded):
    """The connection closed or stalled."""

    code = CONNECTION_LOST


class ByApplication(_Coded):
    """The application closed the connection."""

    code = BY_APPLICATION


class AuthenticationFailed(_Coded):
    """No authentication method succeeded."""

    code = NO_MORE_AUTH_METHODS_AVAILABLE


class IllegalUserName(_Coded):
    """The user name was refused."""

    code = ILLEGAL_USER_NAME


# ---- the connection layer and the front ends ----


class ChannelOpenError(SSHError):
    """The server refused to open a channel (RFC 4254 section 5.1 reason code)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return "channel open refused (code %d): %s" % (self.code, self.reason)


class ChannelRequestError(SSHError):
    """The server refused a channel request (exec, subsystem, pty-req, ...)."""


class ProcessError(SSHError):
    """A remote command run with check=True exited with a non-zero status or a signal.

    :attr:`result` is the :class:`~M2Sec.SSH.SSHCompletedProcess`.
    """

    def __init__(self, result: object) -> None:
        super().__init__("the remote command %r failed: exit status %r, signal %r"
                         % (getattr(result, "command", None), getattr(result, "exit_status", None),
                            getattr(result, "exit_signal", None)))
        self.result = result


class ConnectTimeout(ConnectionLost):
    """The connection, key exchange or authentication did not finish in time."""
