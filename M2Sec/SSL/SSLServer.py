"""socketserver servers speaking TLS (M2Crypto's ``SSL.SSLServer`` and friends).

The TLS handshake runs in finish_request(), that is in the worker thread or process of
ThreadingSSLServer and ForkingSSLServer, so that a slow client does not stall the others.
"""

import os
import socket
from socketserver import BaseRequestHandler, BaseServer, TCPServer, ThreadingMixIn
from typing import Any, Optional, Type, cast

from M2Sec import util
from M2Sec.SSL.Connection import Connection
from M2Sec.SSL.Context import Context
from M2Sec.SSL.SSLError import SSLError

__all__ = ["SSLServer", "ThreadingSSLServer", "ForkingSSLServer"]


class SSLServer(TCPServer):
    """A TCPServer whose requests are SSL Connections made from ssl_context."""

    #: seconds a client has to finish the handshake (None: the socket's blocking default)
    handshake_timeout: Optional[float] = None

    def __init__(self, server_address: util.AddrType, RequestHandlerClass: Type[BaseRequestHandler],
                 ssl_context: Context, bind_and_activate: bool = True) -> None:
        BaseServer.__init__(self, server_address, RequestHandlerClass)
        self.ssl_ctx = ssl_context
        self.socket = Connection(self.ssl_ctx, family=self.address_family)  # type: ignore[assignment]
        if bind_and_activate:
            try:
                self.server_bind()
                self.server_activate()
            except BaseException:
                self.server_close()
                raise

    def get_request(self) -> Any:
        """Accept a client; its handshake runs later, in finish_request()."""
        sock, addr = self.socket.socket.accept()  # type: ignore[attr-defined]
        conn = Connection(self.ssl_ctx, sock)
        conn.addr = addr
        if self.handshake_timeout is not None:
            conn.settimeout(self.handshake_timeout)
        conn.setup_ssl()
        conn.set_accept_state()
        return conn, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.accept_ssl()
        if self.handshake_timeout is not None:
            request.settimeout(None)
        cast(Any, self.RequestHandlerClass)(request, client_address, self)  # typeshed: Self, not SSLServer

    def handle_request(self) -> None:
        try:
            super().handle_request()
        except SSLError:
            self.handle_error(None, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        print("-" * 40)
        import traceback

        traceback.print_exc()
        print("-" * 40)

    def shutdown_request(self, request: Any) -> None:
        """End TLS (close_notify) and close the connection."""
        self.close_request(request)

    def close_request(self, request: Any) -> None:
        request.free()


class ThreadingSSLServer(ThreadingMixIn, SSLServer):
    pass


if os.name != "nt":
    from socketserver import ForkingMixIn

    class ForkingSSLServer(ForkingMixIn, SSLServer):
        pass
