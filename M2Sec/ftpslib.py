"""FTP over TLS for ftplib over M2Sec's SSL (M2Crypto's ftpslib; RFC 4217).

``FTP_TLS`` is an ``ftplib.FTP`` whose control connection is secured by ``AUTH TLS`` and whose
data connections, after ``prot_p()`` (``PBSZ 0`` and ``PROT P``), each run TLS resuming the
control connection's session, as servers such as vsftpd (``require_ssl_reuse``) demand.
Without ``ssl_ctx`` it verifies the server (``SSL.create_default_context()``).  The module
re-exports ftplib.

    from M2Sec import ftpslib
    f = ftpslib.FTP_TLS()
    f.connect("ftp.example.com", 21)
    f.auth_tls()
    f.prot_p()
    f.login("user", "password")
    f.retrlines("LIST")
    f.quit()
"""

import ftplib
import socket
from typing import TYPE_CHECKING, Any, Optional, TextIO, Tuple, cast
if TYPE_CHECKING:  # ftplib's names but FTP_TLS, which this module defines
    from ftplib import (FTP as FTP, all_errors as all_errors, error_perm as error_perm, error_proto as error_proto,
                        error_reply as error_reply, error_temp as error_temp)
else:
    from ftplib import *  # noqa: F401,F403
from ftplib import FTP

from M2Sec import SSL, _sslsock, httpslib


class DataConnection(_sslsock.SocketConnection):
    """A protected data connection, closed as ``ftplib.FTP_TLS`` closes one (``unwrap()``).

    ``close()`` sends close_notify and waits (10 s at most) for the server's: in TLS 1.3 the
    server's session tickets may still be unread, and closing a socket with unread data
    resets the connection, which can cut off the end of an upload.
    """

    unwrap_timeout = 10.0

    def close(self, *args: Any, **kwargs: Any) -> None:
        if self._io_refs <= 0 and not self.closed:
            timeout = self.gettimeout()
            if timeout is None or timeout > self.unwrap_timeout:
                self.settimeout(self.unwrap_timeout)
            try:
                self.unwrap().close()
                return
            except (SSL.SSLError, OSError):
                pass  # the server closed first or broke TLS: just close
        super().close(*args, **kwargs)


class FTP_TLS(FTP):
    """An FTP client securing its control and data connections with TLS.

    :param host: connect to it at once (on port, 21 by default) if given
    :param ssl_ctx: the :class:`SSL.Context`; ``SSL.create_default_context()`` if omitted
    :param user: with passwd and acct, log in at once (after ``AUTH TLS``) if given
    :param timeout: socket timeout in seconds, as for ftplib
    :raises TypeError: for an ssl_ctx that is not an SSL.Context
    """

    def __init__(self, host: Optional[str] = None, ssl_ctx: Optional["SSL.Context"] = None, *,
                 port: int = 0, user: str = "", passwd: str = "", acct: str = "", timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                 source_address: Optional[Tuple[str, int]] = None, encoding: str = "utf-8") -> None:
        self.ssl_ctx = httpslib.context_or_default(ssl_ctx)
        self.prot = 0
        if port:
            self.port = port
        super().__init__(host or "", user, passwd, acct, timeout, source_address, encoding=encoding)

    @property
    def secured(self) -> bool:
        """True once the control connection runs TLS."""
        return isinstance(self.sock, SSL.Connection)

    def auth_tls(self) -> str:
        """Secure the control connection (``AUTH TLS``) and verify the server as the context says.

        :raises ValueError: if it is secured already
        :raises SSL.SSLError: the handshake or the certificate verification failed
        """
        if self.secured:
            raise ValueError("the control connection already uses TLS")
        resp = self.voidcmd("AUTH TLS")
        cast(TextIO, self.file).close()
        self.file = None
        sock, self.sock = self.sock, None
        self.sock = _sslsock.client(self.ssl_ctx, cast(socket.socket, sock), self.host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        return resp

    auth = auth_tls  # ftplib.FTP_TLS's name

    def auth_ssl(self) -> None:
        """``AUTH SSL`` (SSL 3's name, obsolete): not supported."""
        raise NotImplementedError("AUTH SSL is obsolete; use auth_tls()")

    def login(self, user: str = "", passwd: str = "", acct: str = "", secure: bool = True) -> str:
        """Log in, securing the control connection first (``AUTH TLS``) unless secure is False."""
        if secure and not self.secured:
            self.auth_tls()
        return super().login(user, passwd, acct)

    def prot_p(self) -> str:
        """Protect the data connections with TLS (``PBSZ 0``, ``PROT P``)."""
        self.voidcmd("PBSZ 0")
        resp = self.voidcmd("PROT P")
        self.prot = 1
        return resp

    def prot_c(self) -> str:
        """Send data connections in the clear (``PROT C``)."""
        resp = self.voidcmd("PROT C")
        self.prot = 0
        return resp

    def ntransfercmd(self, cmd: str, rest: Any = None) -> Tuple[Any, Optional[int]]:
        """Start a transfer; the data connection runs TLS, resuming the control session, if protected."""
        conn, size = super().ntransfercmd(cmd, rest)
        if self.prot:
            conn = _sslsock.client(self.ssl_ctx, conn, self.host, conn_cls=DataConnection,
                                   session=cast(SSL.Connection, self.sock).get_session())
        return conn, size

    abort = ftplib.FTP_TLS.abort  # ABOR without MSG_OOB, which TLS cannot carry
