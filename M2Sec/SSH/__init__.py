"""SSH2 on M2Sec's own OpenSSL bindings.

The client: ``async with M2Sec.SSH.connect(host, username=..., client_keys=[...]) as conn``
(asyncio) or ``with M2Sec.SSH.Client(host, ...) as c`` (blocking).  The server:
``await M2Sec.SSH.listen(host, port, server_host_keys=[...], server_factory=..., process_factory=...)``
(asyncio) or ``M2Sec.SSH.Server(...)`` (blocking), its core in server.py.  Underneath: wire encoding
and packet framing (packet), the transport's cryptography (crypto), key exchange (kex), keys
and known_hosts (keys, knownhosts), user authentication (auth), channels (channel) and the
protocol core without I/O (connection); errors in errors.  SFTP: the protocol core without
I/O (sftp), the asyncio client (sftp_client, ``conn.start_sftp_client()``), the blocking one
(sftp_blocking, ``Client.open_sftp()``), the server (sftp_server, ``listen(sftp_factory=...)``),
SCP (scp, :func:`scp`) and the commands (sftp_cli).
"""

from M2Sec.SSH._asyncio import (SSHClientConnection, SSHClientProcess, SSHCompletedProcess, SSHConnection,  # noqa: F401
                                SSHListener,
                                SSHReader as SSHStreamReader, SSHWriter as SSHStreamWriter, connect)
from M2Sec.SSH._asyncio_server import SSHAcceptor, SSHServerConnection, SSHServerProcess, listen  # noqa: F401
from M2Sec.SSH._blocking import Client, Process  # noqa: F401
from M2Sec.SSH._blocking_server import BlockingProcess, Server  # noqa: F401
from M2Sec.SSH.errors import *  # noqa: F401,F403
from M2Sec.SSH.keys import (SSHCertificate, SSHKey, generate_private_key, load_certificate,  # noqa: F401
                            load_private_key, load_public_key)
from M2Sec.SSH.knownhosts import KnownHosts  # noqa: F401
from M2Sec.SSH.authorized_keys import AuthorizedKeys, Permissions  # noqa: F401
from M2Sec.SSH.process import LocalProcessRunner, run_local  # noqa: F401
from M2Sec.SSH.server import SSHServer  # noqa: F401
from M2Sec.SSH.server_auth import PasswordChangeRequired  # noqa: F401
from M2Sec.SSH.sftp import (SFTPAttrs, SFTPAttributes, SFTPError, SFTPEOFError, SFTPFailure,  # noqa: F401,E402
                            SFTPNoSuchFile, SFTPOpUnsupported, SFTPPermissionDenied, SFTPProtocolError, SFTPName)
from M2Sec.SSH.sftp_client import SFTPClient, SFTPClientFile  # noqa: F401,E402
from M2Sec.SSH.sftp_server import SFTPServer  # noqa: F401,E402
from M2Sec.SSH.scp import SCPError, scp  # noqa: F401,E402

# The public names (`from M2Sec.SSH import *`, and what type checkers take as exported).
__all__ = [
    "SSHClientConnection", "SSHClientProcess", "SSHCompletedProcess", "SSHConnection", "SSHListener",
    "SSHStreamReader", "SSHStreamWriter", "connect", "SSHAcceptor", "SSHServerConnection",
    "SSHServerProcess", "listen", "Client", "Process", "BlockingProcess", "Server", "M2SecError",
    "HOST_NOT_ALLOWED_TO_CONNECT", "PROTOCOL_ERROR", "KEY_EXCHANGE_FAILED", "RESERVED", "MAC_ERROR",
    "COMPRESSION_ERROR", "SERVICE_NOT_AVAILABLE", "PROTOCOL_VERSION_NOT_SUPPORTED",
    "HOST_KEY_NOT_VERIFIABLE", "CONNECTION_LOST", "BY_APPLICATION", "TOO_MANY_CONNECTIONS",
    "AUTH_CANCELLED_BY_USER", "NO_MORE_AUTH_METHODS_AVAILABLE", "ILLEGAL_USER_NAME", "SSHError",
    "SSHFormatError", "SSHKeyError", "DisconnectError", "ProtocolError", "KeyExchangeFailed",
    "MACError", "CompressionError", "ServiceNotAvailable", "ProtocolVersionNotSupported",
    "HostKeyNotVerifiable", "ConnectionLost", "ByApplication", "AuthenticationFailed",
    "IllegalUserName", "ChannelOpenError", "ChannelRequestError", "ProcessError", "ConnectTimeout",
    "SSHCertificate", "SSHKey", "generate_private_key", "load_certificate", "load_private_key",
    "load_public_key", "KnownHosts", "AuthorizedKeys", "Permissions", "LocalProcessRunner", "run_local",
    "SSHServer", "PasswordChangeRequired", "SFTPAttrs", "SFTPAttributes", "SFTPError", "SFTPEOFError",
    "SFTPFailure", "SFTPNoSuchFile", "SFTPOpUnsupported", "SFTPPermissionDenied", "SFTPProtocolError",
    "SFTPName", "SFTPClient", "SFTPClientFile", "SFTPServer", "scp", "SCPError",
]
