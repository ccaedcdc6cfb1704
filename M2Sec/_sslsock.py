"""TLS on an existing socket, for the standard-library integrations (httpslib, ftpslib, ...).

``SocketConnection`` is an :class:`SSL.Connection` whose ``makefile()`` and ``close()`` behave as
a socket's do, which http.client, ftplib and socketserver rely on: files in any mode (text
too), and ``close()`` deferred until every file made by ``makefile()`` is closed.
``client()`` and ``server()`` run the handshake on a connected socket.
"""

import io
import socket
from typing import Any, Optional

from M2Sec import SSL
from M2Sec.SSL.Checker import SSLVerificationError


class _ConnectionReader(io.BufferedReader):
    """A buffered binary reader of a :class:`SocketConnection`, which it names as ``ssl``."""

    ssl: Any = None


class SocketConnection(SSL.Connection):
    """An SSL.Connection whose files keep it open, as a socket's files do.

    ``makefile(mode, buffering, encoding=..., errors=..., newline=...)`` takes the socket's
    arguments (M2Crypto's default mode ``"rb"``); ``close()`` shuts TLS down and closes the
    socket once the connection and all its files are closed.
    """

    _io_refs = 0
    _close_wanted = False

    def makefile(self, mode: str = "rb", buffering: Optional[int] = None, *, encoding: Optional[str] = None,
                 errors: Optional[str] = None, newline: Optional[str] = None) -> Any:
        if mode == "rb" and buffering != 0:
            # http.client's responses read through this one; it names its connection as
            # ``.ssl``, as M2Crypto's responses (``response.fp.ssl``) do
            raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
            self._io_refs += 1
            reader = _ConnectionReader(raw, buffering if buffering and buffering > 0 else io.DEFAULT_BUFFER_SIZE)
            reader.ssl = self
            return reader
        # socket.socket.makefile only needs _io_refs and what socket.SocketIO calls:
        # recv_into, send, fileno, _decref_socketios.
        return socket.socket.makefile(self, mode, buffering, encoding=encoding, errors=errors,  # type: ignore[call-overload]
                                      newline=newline)

    def recv_into(self, buff: Any, nbytes: int = 0) -> int:
        # Through read(): socket semantics (the count, 0 at EOF) rather than Connection.recv_into's
        # M2Crypto ones (a bytearray cut to the data read).
        data = self.read(nbytes or len(buff))
        buff[:len(data)] = data
        return len(data)

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._close_wanted:
            self.close()

    def close(self, *args: Any, **kwargs: Any) -> None:
        self._close_wanted = True
        if self._io_refs <= 0:
            super().close(*args, **kwargs)

    def __enter__(self) -> "SocketConnection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def client(ctx: "SSL.Context", sock: socket.socket, server_hostname: Optional[str], *,
           conn_cls: type = SocketConnection, session: Optional["SSL.Session.Session"] = None) -> Any:
    """A TLS client connection on the connected sock, handshake done and peer checked.

    server_hostname goes to ``set1_host()``: SNI (unless it is an IP address) and, with a
    context that checks host names (``SSL.create_default_context()``), OpenSSL's check in the
    handshake.  Then the connection's post-connection check (M2Crypto's ``Checker``, unless the
    handshake checked the name) runs, as ``Connection.connect()`` runs it.  On any failure
    the connection and sock are closed.

    :param session: a session to resume (FTP data connections reuse the control's)
    :raises SSL.SSLError: the handshake failed (``SSLCertVerificationError`` and subclasses for
        the certificate), or (``SSLVerificationError``) the post-connection check did
    """
    conn = conn_cls(ctx, sock)
    try:
        if server_hostname:
            conn.set1_host(server_hostname)
        if session is not None:
            conn.set_session(session)
        conn.handshake_on_existing_socket()
        check = getattr(conn, "postConnectionCheck", conn.clientPostConnectionCheck)
        if check is not None and not check(conn.get_peer_cert(), server_hostname):
            raise SSLVerificationError("post connection check failed")
    except BaseException:
        conn.free()
        raise
    return conn


def server(ctx: "SSL.Context", sock: socket.socket, *, conn_cls: type = SocketConnection) -> Any:
    """A TLS server connection on the accepted sock, handshake done; sock is closed on failure.

    :raises SSL.SSLError: the handshake failed
    """
    conn = conn_cls(ctx, sock)
    try:
        conn.handshake_on_existing_socket(server_side=True)
    except BaseException:
        conn.free()
        raise
    return conn
