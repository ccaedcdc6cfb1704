"""HTTPS for http.client over M2Sec's SSL (M2Crypto's httpslib).

``HTTPSConnection`` is an ``http.client.HTTPSConnection`` whose TLS is an :class:`SSL.Connection`;
everything else (requests, keep-alive, ``set_tunnel`` proxies, timeouts) is http.client's.
Without ``ssl_context`` it verifies the server's chain against the system CAs and its host
name (:func:`SSL.create_default_context`); M2Crypto's default context verified nothing.
"""

import base64
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple, Union, cast
import http.client
import warnings
import socket
if TYPE_CHECKING:  # http.client's names but HTTPSConnection, which this module defines
    from http.client import (HTTPResponse as HTTPResponse, HTTPConnection as HTTPConnection,
        HTTPException as HTTPException, NotConnected as NotConnected, UnknownProtocol as UnknownProtocol,
        UnknownTransferEncoding as UnknownTransferEncoding, UnimplementedFileMode as UnimplementedFileMode,
        IncompleteRead as IncompleteRead, InvalidURL as InvalidURL,
        ImproperConnectionState as ImproperConnectionState, CannotSendRequest as CannotSendRequest,
        CannotSendHeader as CannotSendHeader, ResponseNotReady as ResponseNotReady,
        BadStatusLine as BadStatusLine, LineTooLong as LineTooLong, RemoteDisconnected as RemoteDisconnected,
        error as error, responses as responses)
else:
    from http.client import *  # noqa: F401,F403  (M2Crypto's module re-exports http.client)
from http.client import HTTPS_PORT, HTTPConnection
from urllib.parse import urlsplit, urlunsplit

from M2Sec import SSL, _sslsock

__all__ = [name for name in http.client.__all__] + ["HTTPSConnection", "ProxyHTTPSConnection"]


class HTTPSConnection(http.client.HTTPSConnection):
    """One connection to an HTTPS server, TLS by M2Sec.

    :param host: the server (``"host"`` or ``"host:port"``)
    :param port: its port, 443 by default
    :param strict: ignored (M2Crypto's, from Python 2); a dict there is taken as the keyword
        options (``{"ssl_context": ctx}``), as M2Crypto's own tests pass them
    :param ssl_conn_cls: the :class:`SSL.Connection` class to use
    :param ssl_context: the :class:`SSL.Context`; ``SSL.create_default_context()`` if omitted
    :param key_file: a client key, loaded with cert_file into the context
    :param cert_file: a client certificate (PEM; may hold the key too)
    :param timeout: socket timeout in seconds, as for http.client
    :param source_address: local (host, port) to bind, as for http.client
    :raises ValueError: for an unknown keyword argument
    :raises TypeError: for an ssl_context that is not an SSL.Context
    """

    default_port = HTTPS_PORT
    # set at run time (by http.client or the sock property); declared for the type checker
    _live_sock: Any
    _closed_sock: Any
    _tunnel_host: Optional[str]
    _tunnel_port: Optional[int]

    def __init__(self, host: str, port: Optional[int] = None, strict: Any = None,
                 ssl_conn_cls: type = _sslsock.SocketConnection, *, timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                 source_address: Optional[Tuple[str, int]] = None, blocksize: int = 8192, **ssl: Any) -> None:
        if isinstance(strict, Mapping):
            ssl = {**strict, **ssl}
        unknown = set(ssl) - {"key_file", "cert_file", "ssl_context"}
        if unknown:
            raise ValueError("unknown keyword argument(s): %s" % ", ".join(sorted(unknown)))
        # http.client.HTTPSConnection.__init__ would build an ssl-module context: skip it.
        HTTPConnection.__init__(self, host, port, timeout, source_address, blocksize=blocksize)
        self.ssl_ctx = context_or_default(ssl.get("ssl_context"))
        self.key_file = ssl.get("key_file")
        self.cert_file = ssl.get("cert_file")
        if self.cert_file or self.key_file:
            self.ssl_ctx.load_cert(cast(str, self.cert_file or self.key_file), self.key_file)
        self._ssl_conn_cls = ssl_conn_cls
        self.session: Optional[Any] = None

    # http.client sets ``sock`` to None when a response ends the connection (``Connection:
    # close``, HTTP/1.0); M2Crypto's programs then still ask ``h.sock`` for the peer's
    # certificate, verify_ok() and get_cipher().  So ``sock`` gives the live connection or else
    # the last one, closed (its descriptor is, the SSL stays for such queries) until the next
    # connect() replaces it; http.client's reconnect decision looks at the live one (send()).
    @property
    def sock(self) -> Any:
        live = self.__dict__.get("_live_sock")
        return live if live is not None else self.__dict__.get("_closed_sock")

    @sock.setter
    def sock(self, value: Any) -> None:
        old = self.__dict__.get("_live_sock")
        if value is None and old is not None:
            self._closed_sock = old
        elif value is not None:
            self._closed_sock = None
        self._live_sock = value

    def send(self, data: Any) -> None:
        """http.client's send(), connecting first when the last connection was closed."""
        if self._live_sock is None:
            if not self.auto_open:
                raise http.client.NotConnected()
            self.connect()
        super().send(data)

    def connect(self) -> None:
        """Connect (through the proxy tunnel, if any), then run the TLS handshake and checks.

        Does nothing if already connected.

        :raises SSL.SSLError: the handshake or the certificate verification failed
        :raises SSL.Checker.SSLVerificationError: the post-connection check failed
        """
        if self._live_sock is not None:
            return
        HTTPConnection.connect(self)
        sock, self._live_sock = self._live_sock, None
        self.sock = _sslsock.client(self.ssl_ctx, cast(socket.socket, sock), self._tunnel_host or self.host,
                                    conn_cls=self._ssl_conn_cls, session=self.session)

    def get_session(self) -> Any:
        """The TLS session of the current connection (to resume it in another)."""
        return self.sock.get_session()

    def set_session(self, session: Any) -> None:
        """Resume session on the next connect()."""
        self.session = session


def context_or_default(ssl_context: Optional["SSL.Context"]) -> "SSL.Context":
    """ssl_context, or a new verifying ``SSL.create_default_context()`` if it is None.

    :raises TypeError: (an AssertionError too, as M2Crypto raised) for anything but a Context
    """
    if ssl_context is None:
        return SSL.create_default_context()
    if not isinstance(ssl_context, SSL.Context):
        raise NotAContext("ssl_context must be an SSL.Context, not %s" % type(ssl_context).__name__)
    return ssl_context


class UnverifiedHTTPSWarning(UserWarning):
    """An M2Crypto-compatible entry point was given no context: the server's chain goes unchecked."""


def context_or_unverified(ssl_context: Optional["SSL.Context"], what: str) -> "SSL.Context":
    """ssl_context, or (warning with :class:`UnverifiedHTTPSWarning`) M2Crypto's default
    ``SSL.Context()``, which checks the host name after the handshake but not the chain.

    :raises TypeError: for anything but a Context
    """
    if ssl_context is None:
        warnings.warn("%s without an SSL.Context does not verify the server's certificate chain "
                      "(M2Crypto's behaviour); pass SSL.create_default_context() to verify it" % what,
                      UnverifiedHTTPSWarning, stacklevel=3)
        return SSL.Context()
    return context_or_default(ssl_context)


class NotAContext(TypeError, AssertionError):
    """Something else was given where an SSL.Context belongs."""


class ProxyHTTPSConnection(HTTPSConnection):
    """An HTTPS connection through an HTTP proxy's CONNECT tunnel (M2Crypto's class).

    Made with the proxy's host and port; the target comes from the absolute URL given to
    ``putrequest()``/``request()`` (``https://host[:port]/path``).  ``Proxy-Authorization`` and
    ``User-Agent`` headers, and Basic credentials from username/password, go to the proxy.
    TLS runs end to end with the target, and is verified against the target's name.
    """

    _ports = {"http": 80, "https": 443}
    _AUTH_HEADER = "Proxy-Authorization"
    _UA_HEADER = "User-Agent"

    def __init__(self, host: str, port: Optional[int] = None, strict: Any = None,
                 username: Union[str, bytes, None] = None, password: Union[str, bytes, None] = None,
                 **ssl: Any) -> None:
        super().__init__(host, port, strict, **ssl)
        self._username = username.encode() if isinstance(username, str) else username
        self._password = password.encode() if isinstance(password, str) else password
        self._proxy_auth: Optional[str] = None
        self._proxy_UA: Optional[str] = None

    def putrequest(self, method: str, url: str, skip_host: bool = False,
                   skip_accept_encoding: bool = False) -> None:
        """Start a request for the absolute url; the tunnel goes to its host and port.

        :raises ValueError: for a URL without scheme, or an unknown scheme without a port
        """
        if isinstance(url, bytes):
            url = url.decode("latin-1")
        if isinstance(method, bytes):
            method = method.decode("ascii")
        parts = urlsplit(url)
        if not parts.scheme or not parts.hostname:
            raise ValueError("unknown URL type: %s" % url)
        port = parts.port or self._ports.get(parts.scheme)
        if port is None:
            raise ValueError("unknown protocol for: %s" % url)
        self._real_host, self._real_port = parts.hostname, port
        if self._live_sock is None:
            self.set_tunnel(parts.hostname, port)
        elif (self._tunnel_host, self._tunnel_port) != (parts.hostname, port):
            raise http.client.CannotSendRequest("connected through the proxy to another host")
        rest = urlunsplit(("", "", parts.path, parts.query, parts.fragment)) or "/"
        super().putrequest(method, rest, skip_host=skip_host, skip_accept_encoding=skip_accept_encoding)

    def putheader(self, header: Union[str, bytes], *values: Any) -> None:
        name = header.decode("latin-1") if isinstance(header, bytes) else header
        value = " ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values)
        if name.lower() == self._AUTH_HEADER.lower():
            self._proxy_auth = value
            return
        if name.lower() == self._UA_HEADER.lower():
            self._proxy_UA = value
        super().putheader(header, *values)

    def endheaders(self, message_body: Any = None, *, encode_chunked: bool = False) -> None:
        if self._live_sock is None:
            self._tunnel_headers = self._connect_headers()
        super().endheaders(message_body, encode_chunked=encode_chunked)

    def _connect_headers(self) -> Dict[str, str]:
        headers = {}
        if self._proxy_UA:
            headers[self._UA_HEADER] = self._proxy_UA
        auth = self._proxy_auth or self._encode_auth()
        if auth:
            headers[self._AUTH_HEADER] = auth
        return headers

    def _get_connect_msg(self) -> bytes:
        """The CONNECT request sent to the proxy."""
        lines = ["CONNECT %s:%d HTTP/1.1" % (self._real_host, self._real_port),
                 "Host: %s:%d" % (self._real_host, self._real_port)]
        lines += ["%s: %s" % kv for kv in self._connect_headers().items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _encode_auth(self) -> Optional[str]:
        """``Basic <base64(user:password)>`` from the credentials, or None without them."""
        if not (self._username and self._password):
            return None
        return "Basic " + base64.b64encode(self._username + b":" + self._password).decode("ascii")
