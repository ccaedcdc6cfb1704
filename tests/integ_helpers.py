"""Fixtures for the standard-library integration tests: a PKI, M2Sec and ssl-module servers, a proxy.

Every server listens on 127.0.0.1 on a free port, runs in a daemon thread and is stopped by
its fixture; certificates are minted per test session by tests/pki_helpers.PKI.
"""

import base64
import contextlib
import http.server
import os
import select
import socket
import socketserver
import ssl
import threading
from typing import Any, Callable, Iterator, List, Optional

import pytest

from M2Sec import SSL
from pki_helpers import PKI

SAN_LOCAL = "subjectAltName=DNS:localhost,IP:127.0.0.1"


BODY = b"hello from the test server\n"


class Certs:
    """root -> inter -> "localhost" leaf (chain file), a leaf for another host, a self-signed one."""

    def __init__(self, d: str) -> None:
        self.pki = PKI(d)
        leaf_ext = [SAN_LOCAL, "extendedKeyUsage=serverAuth,clientAuth"]
        self.pki.issue("server", "/CN=localhost", ext=leaf_ext)
        self.pki.issue("other", "/CN=www.example.com", ext=["subjectAltName=DNS:www.example.com"])
        self.pki.issue("client", "/CN=test client", ext=["extendedKeyUsage=clientAuth"])
        self.chain = self._chain("server")
        self.other_chain = self._chain("other")
        self.root = self.pki.path("root.pem")
        self.key = self.pki.path("server.key")
        self.other_key = self.pki.path("other.key")
        self.client_cert = self.pki.path("client.pem")
        self.client_key = self.pki.path("client.key")
        self.pki.key("self")
        from pki_helpers import openssl
        self.self_signed = self.pki.path("self.pem")
        openssl("req", "-x509", "-new", "-key", self.pki.path("self.key"), "-subj", "/CN=localhost", "-days", "2",
                "-addext", SAN_LOCAL, "-out", self.self_signed)
        self.self_key = self.pki.path("self.key")

    def _chain(self, name: str) -> str:
        path = self.pki.path(name + "-chain.pem")
        with open(path, "wb") as f:
            f.write(self.pki.read(name + ".pem") + self.pki.read("inter.pem"))
        return path

    def server_ctx(self, chain: Optional[str] = None, key: Optional[str] = None) -> "SSL.Context":
        """An M2Sec server context with the localhost chain (or the given one)."""
        ctx = SSL.Context()
        ctx.load_cert_chain(chain or self.chain, key or self.key)
        return ctx

    def client_ctx(self) -> "SSL.Context":
        """A verifying M2Sec client context that trusts the test root."""
        return SSL.create_default_context(cafile=self.root)

    def py_server_ctx(self, chain: Optional[str] = None, key: Optional[str] = None) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain or self.chain, key or self.key)
        return ctx

    def py_client_ctx(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.root)


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> Certs:
    return Certs(str(tmp_path_factory.mktemp("pki")))


@contextlib.contextmanager
def running(server: socketserver.BaseServer) -> Iterator[Any]:
    """server, serving in a daemon thread for the with block."""
    stop = serve(server)
    try:
        yield server
    finally:
        stop()


def serve(server: socketserver.BaseServer) -> Callable[[], None]:
    """Run server in a daemon thread; returns the function that stops it."""
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        t.join(10)

    return stop


class Handler(http.server.BaseHTTPRequestHandler):
    """GET / gives BODY, GET /big 1 MiB, POST /echo echoes, anything else 404; keep-alive."""

    protocol_version = "HTTP/1.1"
    seen: List[dict] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if self.headers.get("Connection", "").lower() == "close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        if self.path == "/":
            self._send(200, BODY)
        elif self.path == "/big":
            self._send(200, bytes(range(256)) * 4096)
        else:
            self._send(404, b"not here\n")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._send(200 if self.path == "/echo" else 404, body)


class PySSLHTTPServer(http.server.ThreadingHTTPServer):
    """http.server over Python's ssl module."""

    daemon_threads = True

    def __init__(self, ctx: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)


class M2SecHTTPServer(SSL.ThreadingSSLServer):
    """http.server's handler over M2Sec's SSLServer."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, ctx: "SSL.Context", handler: type = Handler) -> None:
        super().__init__(("127.0.0.1", 0), handler, ctx)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that fail verification hang up mid-handshake on purpose


def url(server: socketserver.BaseServer, host: str = "localhost", path: str = "/") -> str:
    return "https://%s:%d%s" % (host, server.server_address[1], path)


@pytest.fixture
def py_https(certs) -> Iterator[PySSLHTTPServer]:
    with running(PySSLHTTPServer(certs.py_server_ctx())) as server:
        yield server


@pytest.fixture
def m2_https(certs) -> Iterator[M2SecHTTPServer]:
    with running(M2SecHTTPServer(certs.server_ctx())) as server:
        yield server


class ConnectProxy(socketserver.ThreadingTCPServer):
    """An HTTP CONNECT proxy relaying bytes; with credentials it demands Basic auth (407)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, credentials: Optional[bytes] = None) -> None:
        self.credentials = credentials
        self.requests: List[bytes] = []
        super().__init__(("127.0.0.1", 0), ProxyHandler)


class ProxyHandler(socketserver.StreamRequestHandler):
    timeout = 10

    def handle(self) -> None:
        head = []
        while True:
            line = self.rfile.readline(8192)
            if line in (b"\r\n", b"\n", b""):
                break
            head.append(line)
        if not head:
            return
        self.server.requests.append(b"".join(head))
        method, target, _ = head[0].decode("latin-1").split(" ", 2)
        auth = [h for h in head if h.lower().startswith(b"proxy-authorization:")]
        want = self.server.credentials
        if want is not None and (not auth or auth[0].split(b":", 1)[1].strip() != b"Basic " + base64.b64encode(want)):
            self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            return
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        self._relay(self.connection, upstream)

    @staticmethod
    def _relay(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 10)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            pass
        finally:
            b.close()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with running(ConnectProxy()) as server:
        yield server


@pytest.fixture
def auth_proxy() -> Iterator[ConnectProxy]:
    with running(ConnectProxy(b"proxyuser:proxypass")) as server:
        yield server


class SilentServer:
    """Accepts TCP connections and never answers (a handshake that never completes)."""

    def __init__(self, reply: bytes = b"") -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.conns: List[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                c, _ = self.sock.accept()
                self.conns.append(c)
                if self.reply:
                    c.recv(65536)
                    c.sendall(self.reply)
        except OSError:
            pass

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone may not.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            c.close()
        self.thread.join(5)


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    s = SilentServer()
    yield s
    s.close()


@pytest.fixture
def plain_http() -> Iterator[SilentServer]:
    s = SilentServer(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    yield s
    s.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))
