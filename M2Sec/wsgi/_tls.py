"""cheroot's SSL adapter on M2Sec's TLS: contexts, connections with a deferred handshake.

cheroot calls ``adapter.wrap(sock)`` in its one accept thread.  The adapter does no I/O
there: it returns a :class:`TLSSocket` whose handshake runs on the first read, in a worker
thread, once the selector has seen the client's first bytes — so a client that connects and
sends nothing costs a file descriptor, never a thread.  The environ dict returned by wrap()
is filled in by that handshake, before cheroot builds the request's environ from it.
"""

import errno
import io
import socket
import threading
import time
from typing import Any, Dict, List, Optional, Tuple, Union

from cheroot import errors
from cheroot.ssl import Adapter

from M2Sec import SSL, X509, m2
from M2Sec.SSL.SSLError import SSLError, SSLEOFError, SSLTimeoutError
from M2Sec.wsgi.environ import VERIFY_MODES, RemoteUser, remote_user, server_environ, ssl_environ

__all__ = ["VERIFY_MODES", "server_context", "M2SecAdapter", "TLSSocket"]

# TLS 1.2 suites offered (TLS 1.3's are OpenSSL's defaults): forward secret AEADs only
DEFAULT_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"

# the first bytes of a request in clear text (answered with a 400 in clear, as nginx does)
_HTTP_METHODS = (b"GET ", b"HEAD", b"POST", b"PUT ", b"DELE", b"OPTI", b"PATC", b"CONN", b"TRAC")


def _accept_any(ok: int, store: Any) -> int:
    """verify_client=optional: go on whatever the chain; SSL_CLIENT_VERIFY says how it went."""
    return 1


def server_context(cert: str, key: Optional[str] = None, *, ca: Optional[str] = None,
                   capath: Optional[str] = None, crl: Optional[str] = None,
                   verify_client: str = "none", verify_depth: int = 10,
                   ciphers: Optional[str] = None, min_version: str = "TLSv1.2",
                   password: Optional[Union[str, bytes]] = None, ocsp_response: Optional[str] = None) -> SSL.Context:
    """A server Context with safe defaults for HTTPS.

    TLS 1.2 or newer, forward-secret AEAD suites, ALPN ``http/1.1``, no compression, no
    renegotiation, session tickets on.

    :param cert: PEM file with the certificate chain (leaf first), and the key if key is None.
    :param ca: PEM file (or capath a hashed directory) of the CAs that issue client certificates.
    :param crl: PEM file of CRLs checked against client certificates (the leaf's issuer).
    :param verify_client: "none", "optional" (ask; a missing or bad certificate is reported in
        SSL_CLIENT_VERIFY) or "required" (the handshake fails without a valid one).
    :param ocsp_response: a DER OCSP response file for the certificate, stapled for clients
        that ask (status_request) and read again when it changes (an OCSP client such as
        ``openssl ocsp -respout`` refreshes it).
    :raises ValueError: for a bad option or a key that does not match the certificate;
        SSLError if a file cannot be read.
    """
    if verify_client not in VERIFY_MODES:
        raise ValueError("verify_client must be one of %s, not %r" % ("|".join(VERIFY_MODES), verify_client))
    if verify_client != "none" and not (ca or capath):
        raise ValueError("verify_client=%s needs ca (or capath): the CAs of client certificates" % verify_client)
    ctx = SSL.create_default_context(SSL.Purpose.CLIENT_AUTH)
    ctx.set_min_proto_version(min_version)
    ctx.set_cipher_list(ciphers or DEFAULT_CIPHERS)
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.set_session_id_ctx(b"M2Sec.wsgi")
    _load_cert(ctx, cert, key, password)
    if ca or capath:
        ctx.load_verify_locations(ca, capath)
        if ca:
            ctx.set_client_CA_list_from_file(ca)
    if crl:
        store = ctx.get_cert_store()
        for item in _pem_crls(crl):
            store.add_crl(item)
        ctx.set_verify_flags(m2.VERIFY_CRL_CHECK_LEAF)
    if ocsp_response:
        ctx.set_ocsp_staple(ocsp_response)
    if verify_client == "required":
        ctx.set_verify(m2.SSL_VERIFY_PEER | m2.SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_depth)
    elif verify_client == "optional":
        ctx.set_verify(m2.SSL_VERIFY_PEER, verify_depth, _accept_any)
    return ctx


def _load_cert(ctx: SSL.Context, cert: str, key: Optional[str], password: Optional[Union[str, bytes]]) -> None:
    if password is None:
        ctx.load_cert_chain(cert, key)
        return
    secret = password.encode("utf-8") if isinstance(password, str) else bytes(password)
    ctx.load_cert_chain(cert, key, callback=lambda *a: secret)


def _pem_crls(path: str) -> List[Any]:
    marker = b"-----END X509 CRL-----"
    with open(path, "rb") as f:
        data = f.read()
    crls = [X509.load_crl_string(chunk + marker) for chunk in data.split(marker)[:-1]]
    if not crls:
        raise ValueError("no CRL in %s" % path)
    return crls


class TLSSocket:
    """One client's TCP socket and, after the first read, its TLS connection.

    Reads and writes raise what cheroot expects of a socket: ``socket.timeout("timed out")``,
    ``OSError`` with ECONNRESET/EPIPE for a vanished peer, ``errors.FatalSSLAlert`` for a
    failed handshake and ``errors.NoSSLError`` for a plain HTTP request.
    """

    def __init__(self, adapter: "M2SecAdapter", sock: socket.socket) -> None:
        self._adapter = adapter
        self._socket = sock  # cheroot answers a plain-HTTP request on it
        self.env: Dict[str, str] = {}
        self.conn: Optional[SSL.Connection] = None
        self.timeout: Optional[float] = adapter.handshake_timeout
        self.deadline: Optional[float] = None  # end of the request head (header timeout)
        self.queued = False  # the server has handed it to the selector once
        self._closed = False

    # -- what cheroot calls on a socket ----------------------------------------------------
    def fileno(self) -> int:
        return self._socket.fileno()

    def settimeout(self, timeout: Optional[float]) -> None:
        self.timeout = timeout

    def gettimeout(self) -> Optional[float]:
        return self.timeout

    def getsockname(self) -> Any:
        return self._socket.getsockname()

    def getpeername(self) -> Any:
        return self._socket.getpeername()

    def shutdown(self, how: int) -> None:
        try:
            self._socket.shutdown(how)
        except OSError:
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._adapter._closed_one()
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn._timeout = 0.0  # close_notify if it can go at once, never wait for the peer
                conn.free()
            except (SSLError, OSError):
                pass
        self._socket.close()

    def pending(self) -> int:
        conn = self.conn
        return conn.pending() if conn is not None and not self._closed else 0

    # -- handshake ---------------------------------------------------------------------------
    def _io_timeout(self) -> float:
        """Seconds the next read or write may wait: the socket timeout, cut at the deadline."""
        t = -1.0 if self.timeout is None else float(self.timeout)
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out")
            t = left if t < 0 else min(t, left)
        return t

    def _handshake(self) -> SSL.Connection:
        sock = self._socket
        if self._closed:
            raise OSError(errno.EBADF, "closed")
        self._refuse_plain_http()
        conn = self._adapter._new_connection(sock)
        self.conn = conn
        limit = self._adapter.handshake_timeout
        t = self._io_timeout()
        conn._timeout = limit if t < 0 else min(t, limit)
        try:
            conn.accept_ssl()
        except SSLTimeoutError:
            raise socket.timeout("timed out") from None
        except SSLError as exc:
            raise errors.FatalSSLAlert(str(exc)) from None
        self.env.update(self._adapter._environ(conn))
        return conn

    def _refuse_plain_http(self) -> None:
        sock = self._socket
        try:
            head = sock.recv(4, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if head[:4] in _HTTP_METHODS or head[:3] == b"GET":
            raise errors.NoSSLError("a plain HTTP request on the HTTPS port")

    # -- data --------------------------------------------------------------------------------
    def readinto(self, buf: Any) -> int:
        conn = self.conn or self._handshake()
        conn._timeout = self._io_timeout()
        try:
            got = conn.readinto(buf)
        except SSLTimeoutError:
            raise socket.timeout("timed out") from None
        except SSLEOFError:
            return 0
        except SSLError as exc:
            raise OSError(errno.ECONNRESET, str(exc)) from None
        return 0 if got is None else got

    def send(self, data: Any) -> int:
        conn = self.conn or self._handshake()
        t = self.timeout
        conn._timeout = -1.0 if t is None else float(t)
        try:
            n = conn.write(data)
        except SSLTimeoutError:
            raise socket.timeout("timed out") from None
        except SSLError as exc:
            raise OSError(errno.EPIPE, str(exc)) from None
        if n < 0:
            raise socket.timeout("timed out")
        return n

    def sendall(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        while len(view):
            n = self.send(view[:262144])
            view = view[n:]


class _RawTLS(io.RawIOBase):
    """The TLSSocket as a raw stream for io.BufferedReader."""

    def __init__(self, tls: TLSSocket) -> None:
        super().__init__()
        self.tls = tls
        self.delivered = 0  # bytes handed to the buffer

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = self.tls.readinto(buf)
        self.delivered += n
        return n


class TLSReader(io.BufferedReader):
    """cheroot's rfile: a buffered reader that also knows whether data is waiting."""

    def __init__(self, tls: TLSSocket, bufsize: int = io.DEFAULT_BUFFER_SIZE) -> None:
        self._raw = _RawTLS(tls)
        super().__init__(self._raw, max(bufsize, 16384))
        self.bytes_read = 0

    def read(self, size: Optional[int] = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readline(self, size: Optional[int] = -1) -> bytes:
        data = super().readline(size)
        self.bytes_read += len(data)
        return data

    def has_data(self) -> bool:
        """Whether a request's bytes are already here (buffered, or decrypted in OpenSSL)."""
        return self._raw.delivered > self.bytes_read or self._raw.tls.pending() > 0

    def close(self) -> None:
        pass  # the TLSSocket closes the connection


class TLSWriter:
    """cheroot's wfile: writes go straight to TLS records (cheroot never flushes)."""

    def __init__(self, tls: TLSSocket) -> None:
        self.tls = tls
        self.bytes_written = 0

    def write(self, data: Any) -> int:
        n = len(data)
        if n:
            self.tls.sendall(data)
            self.bytes_written += n
        return n

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class M2SecAdapter(Adapter):
    """cheroot's SSL adapter interface on an :class:`M2Sec.SSL.Context`.

    :param certificate: PEM chain file (leaf first); private_key: its key (None: in certificate).
    :param context: a ready Context instead (then certificate and key are only used by reload()).
    :param handshake_timeout: seconds a client has to complete its handshake.
    :param max_connections: TLS connections held at once by this process (more are closed).
    :param remote_user: REMOTE_USER from a verified client certificate ("cn", "email", "dn" or
        a callable(environ)).

    Other keywords go to :func:`server_context`.
    """

    def __init__(self, certificate: str, private_key: Optional[str] = None, certificate_chain: Optional[str] = None,
                 ciphers: Optional[str] = None, *, private_key_password: Optional[Union[str, bytes]] = None,
                 context: Optional[SSL.Context] = None, handshake_timeout: float = 10.0,
                 max_connections: int = 1000, remote_user: RemoteUser = None, **options: Any) -> None:
        self.certificate = certificate
        self.private_key = private_key
        self.certificate_chain = certificate_chain
        self.ciphers = ciphers
        self.private_key_password = private_key_password
        self.options = dict(options)
        self.handshake_timeout = handshake_timeout
        self.max_connections = max_connections
        self.remote_user = remote_user
        if remote_user is not None and not callable(remote_user) and remote_user not in ("cn", "email", "dn"):
            raise ValueError("remote_user must be 'cn', 'email', 'dn' or a callable, not %r" % (remote_user,))
        self._lock = threading.Lock()  # SSL_new against a certificate reload
        self._live = 0
        self.context = context if context is not None else self._make_context()
        self._server_env = self._server_vars()

    def _make_context(self) -> SSL.Context:
        return server_context(self.certificate, self.private_key, ciphers=self.ciphers,
                              password=self.private_key_password, **self.options)

    def _server_vars(self) -> Dict[str, str]:
        try:
            return server_environ(X509.load_cert(self.certificate))
        except Exception:  # a certificate the Context accepted but X509 cannot print
            return {}

    def reload(self) -> None:
        """Load the certificate and key files again (after renewal) into the live context.

        Connections open keep their certificate; new ones get the new one; TLS ticket keys
        stay, so sessions resume across the reload.  The files are checked first: on error
        the old certificate stays and the error is raised (ValueError, SSLError)."""
        server_context(self.certificate, self.private_key, password=self.private_key_password)  # check
        with self._lock:
            _load_cert(self.context, self.certificate, self.private_key, self.private_key_password)
            self._server_env = self._server_vars()

    # -- cheroot's interface ---------------------------------------------------------------------
    def bind(self, sock: socket.socket) -> socket.socket:
        """The listening socket as it is (TLS starts on each accepted connection)."""
        return sock

    def wrap(self, sock: socket.socket) -> Tuple[TLSSocket, Dict[str, str]]:
        """The socket to read requests from and its (later filled) environ; no I/O here."""
        with self._lock:
            if self._live >= self.max_connections:
                full = True
            else:
                full = False
                self._live += 1
        if full:
            sock.close()
            raise OSError(errno.ECONNABORTED, "connection limit reached")
        sock.settimeout(0)  # peeks never wait; the Connection sets its own timeouts
        tls = TLSSocket(self, sock)
        return tls, tls.env

    def get_environ(self) -> Dict[str, str]:
        return {"HTTPS": "on", "wsgi.url_scheme": "https"}

    def makefile(self, sock: Any, mode: str = "r", bufsize: int = -1) -> Any:
        if "r" in mode:
            return TLSReader(sock, bufsize if bufsize > 0 else io.DEFAULT_BUFFER_SIZE)
        return TLSWriter(sock)

    # -- for TLSSocket -----------------------------------------------------------------------------
    def _closed_one(self) -> None:
        with self._lock:
            self._live -= 1

    @property
    def live_connections(self) -> int:
        return self._live

    def _new_connection(self, sock: socket.socket) -> SSL.Connection:
        with self._lock:
            conn = SSL.Connection(self.context, sock)
        conn.settimeout(self.handshake_timeout)
        conn.setup_ssl()
        conn.set_accept_state()
        return conn

    def _environ(self, conn: SSL.Connection) -> Dict[str, str]:
        env = ssl_environ(conn, self._server_env)
        user = remote_user(env, self.remote_user)
        if user:
            env["REMOTE_USER"] = user
        return env

