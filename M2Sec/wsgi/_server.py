"""The HTTPS server: cheroot's HTTP/1.1 engine on M2Sec's TLS, in one or several processes.

Theory of operation
-------------------
The parent process binds the listening socket(s) and builds the SSL context, then either
serves itself (``workers=1``) or forks ``workers`` processes that inherit both.  Inheriting
the context means every worker holds the same TLS session-ticket keys (OpenSSL makes them
when the context is created), so a client resumes its session against any worker.

In a worker, cheroot's accept thread hands each new connection to its selector, not to a
thread: a thread is taken only once the client has sent bytes, and then runs the TLS
handshake (see ``_tls``).  A request head must arrive within ``header_timeout`` seconds of its
first byte (a slowloris client is dropped), bodies are bounded by ``max_body_size``.

Signals: SIGTERM/SIGINT stop gracefully (the listener closes, requests under way finish,
``shutdown_timeout`` bounds the wait); SIGHUP reloads the certificate and key files into the
live context, dropping no connection.  The parent forwards both to its workers and starts a
new worker when one dies.
"""

import logging
import os
import signal
import socket
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple
from wsgiref.util import FileWrapper

from cheroot import errors as _errors
from cheroot import server as _cs
from cheroot import wsgi as _cw

from M2Sec.wsgi._tls import M2SecAdapter, TLSSocket

__all__ = ["WSGIServer", "serve", "listen_socket"]

log = logging.getLogger("M2Sec.wsgi")

StartResponse = Callable[..., Any]
App = Callable[[Dict[str, Any], StartResponse], Iterable[bytes]]


class _Request(_cs.HTTPRequest):
    """cheroot's request with a deadline on the request line and headers."""

    def parse_request(self) -> None:
        sock = self.conn.socket
        limit = getattr(self.server, "header_timeout", None)
        if limit and isinstance(sock, TLSSocket):
            sock.deadline = time.monotonic() + limit
            try:
                super().parse_request()
            finally:
                sock.deadline = None
        else:
            super().parse_request()


    #: what a refused body (413) may still be read and thrown away, so that its client, still
    #: sending, gets the answer rather than a reset (nginx's lingering close, in small)
    LINGER_BYTES = 1 << 20
    LINGER_SECONDS = 2.0

    def simple_response(self, status: Any, msg: str = "") -> None:
        if str(status).startswith("413"):
            self._discard_body()
        super().simple_response(status, msg)

    def _discard_body(self) -> None:
        try:
            left = min(int(self.inheaders.get(b"Content-Length", 0)), self.LINGER_BYTES)
        except (AttributeError, ValueError):
            return
        sock = self.conn.socket
        if isinstance(sock, TLSSocket):
            sock.deadline = time.monotonic() + self.LINGER_SECONDS
        try:
            while left > 0:
                chunk = self.conn.rfile.read(min(left, 65536))  # past the header-size guard
                if not chunk:
                    break
                left -= len(chunk)
        except Exception:  # a slow or vanished client: the answer goes out all the same
            pass
        finally:
            if isinstance(sock, TLSSocket):
                sock.deadline = None


class _Connection(_cs.HTTPConnection):
    RequestHandlerClass = _Request

    def _handle_no_ssl(self, req: Any) -> None:
        """A plain HTTP request on the TLS port: cheroot's 400 in clear text, then close
        (after reading what the client sent, so that the close does not reset the answer)."""
        super()._handle_no_ssl(req)  # type: ignore[misc]  # cheroot's server.pyi leaves out its private methods
        raw = getattr(self.socket, "_socket", None)
        if raw is None:
            return
        try:
            raw.shutdown(socket.SHUT_WR)
            raw.settimeout(0.5)
            for _ in range(16):
                if not raw.recv(65536):
                    break
        except OSError:
            pass
        self.linger = False


class _Gateway(_cw.Gateway_10):
    """WSGI 1.0 environ with wsgi.file_wrapper and the process model."""

    # cheroot's wsgi.pyi types Gateway.get_environ as returning None and Gateway_10's not at all
    def get_environ(self) -> Dict[str, Any]:  # type: ignore[override]
        env: Dict[str, Any] = super().get_environ()  # type: ignore[no-untyped-call]
        env["wsgi.file_wrapper"] = FileWrapper
        env["wsgi.multiprocess"] = bool(getattr(self.req.server, "multiprocess", False))
        return env

    def respond(self) -> None:
        """Run the application; a body past max_body_size (which cheroot's readers raise
        inside it) is answered 413 and the connection closed, not logged as a crash."""
        try:
            super().respond()
        except (_errors.MaxSizeExceeded, OSError) as exc:
            too_large = isinstance(exc, _errors.MaxSizeExceeded) or exc.args == ("Request Entity Too Large",)
            if not too_large:
                raise
            req = self.req
            req.close_connection = True
            if not req.sent_headers:
                req.simple_response("413 Request Entity Too Large", "The request body is too large.")
                req.sent_headers = True
            req.ready = False  # nothing more to send on this connection
            req.chunked_write = False


class WSGIServer(_cw.Server):
    """cheroot's WSGI server on an already bound listening socket.

    :param sock: the listening socket (shared with the other workers).
    :param adapter: the TLS adapter, or None for plain HTTP (the redirect listener).
    """

    ConnectionClass = _Connection

    def __init__(self, app: App, sock: socket.socket, adapter: Optional[M2SecAdapter], *, threads: int = 10,
                 timeout: float = 10.0, header_timeout: float = 10.0, shutdown_timeout: float = 10.0,
                 max_body_size: int = 100 * 1024 * 1024, max_header_size: int = 64 * 1024,
                 max_connections: int = 1000, backlog: int = 1024, multiprocess: bool = False,
                 server_name: Optional[str] = None) -> None:
        addr = sock.getsockname()[:2]
        super().__init__(addr, app, numthreads=threads, server_name=server_name or addr[0],
                         request_queue_size=backlog, accepted_queue_size=max(4 * threads, 64), accepted_queue_timeout=1,
                         # cheroot's server.pyi says int; cheroot takes any number of seconds
                         timeout=timeout, shutdown_timeout=shutdown_timeout)  # type: ignore[arg-type]
        self.gateway = _Gateway
        self._listen_sock = sock
        self.ssl_adapter = adapter
        self.header_timeout = header_timeout
        self.max_request_body_size = max_body_size
        self.max_request_header_size = max_header_size
        self.keep_alive_conn_limit = max_connections
        self.multiprocess = multiprocess
        self.software = "M2Sec"
        self.expiration_interval = 0.25

    def bind(self, family: int, type: int, proto: int = 0) -> None:  # noqa: A002 - cheroot's name
        self.socket = self._listen_sock

    def prepare(self) -> None:
        super().prepare()
        # several processes accept on it: one that loses the race must not wait in accept()
        self.socket.setblocking(False)

    def process_conn(self, conn: Any) -> None:
        sock = conn.socket
        if isinstance(sock, TLSSocket) and not sock.queued:
            sock.queued = True
            if not _has_bytes(sock._socket):
                # a thread only once the ClientHello is here (cheroot's server.pyi omits _connections)
                self._connections.put(conn)  # type: ignore[attr-defined]
                return
        super().process_conn(conn)

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        if traceback:
            log.log(max(level, logging.ERROR), "%s", msg, exc_info=True)
        elif level >= logging.WARNING:
            log.log(level, "%s", msg)
        else:
            log.debug("%s", msg)


def _has_bytes(sock: socket.socket) -> bool:
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:
        return False


# -- applications around the user's ------------------------------------------------------------
class _Wrapped:
    """The application with an HSTS header and a common-log-format access log."""

    def __init__(self, app: App, hsts: Optional[int], access_log: Any) -> None:
        self.app = app
        self.hsts = None if not hsts else ("Strict-Transport-Security", "max-age=%d; includeSubDomains" % int(hsts))
        self.access_log = access_log
        self._lock = threading.Lock()

    def __call__(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        state: Dict[str, Any] = {"status": "-", "sent": 0}
        hsts = self.hsts

        def start(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            state["status"] = status.split(" ", 1)[0]
            if hsts is not None:
                headers = list(headers) + [hsts]
            write = start_response(status, headers, exc_info)

            def counted_write(data: bytes) -> None:
                state["sent"] += len(data)
                write(data)
            return counted_write if self.access_log is not None else write

        body = self.app(environ, start)
        if self.access_log is None:
            return body
        return self._logged(environ, body, state)

    def _logged(self, environ: Dict[str, Any], body: Iterable[bytes], state: Dict[str, Any]) -> Iterable[bytes]:
        try:
            for chunk in body:
                state["sent"] += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            self._log(environ, state)

    def _log(self, environ: Dict[str, Any], state: Dict[str, Any]) -> None:
        uri = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
        line = '%s - %s [%s] "%s %s %s" %s %s\n' % (
            environ.get("REMOTE_ADDR", "-"), environ.get("REMOTE_USER") or "-",
            time.strftime("%d/%b/%Y:%H:%M:%S %z"), environ.get("REQUEST_METHOD", "-"), uri,
            environ.get("SERVER_PROTOCOL", "-"), state["status"], state["sent"] or "-")
        with self._lock:
            self.access_log.write(line)
            self.access_log.flush()


def redirect_app(https_port: int) -> App:
    """A WSGI app that answers every request with 301 to the same path over HTTPS."""

    def app(environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
        if host.startswith("["):
            host = host[:host.index("]") + 1]
        else:
            host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        port = "" if https_port == 443 else ":%d" % https_port
        target = "https://%s%s%s" % (host, port, environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/"))
        body = b"Moved to HTTPS\n"
        start_response("301 Moved Permanently", [("Location", target), ("Content-Type", "text/plain"),
                                                 ("Content-Length", str(len(body)))])
        return [body]
    return app


# -- processes ---------------------------------------------------------------------------------
def listen_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port), not inheritable by exec."""
    infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    err: Optional[OSError] = None
    for family, type_, proto, _, addr in infos:
        sock = socket.socket(family, type_, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # accepted sockets inherit it: a response's head and body records go out at once
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind(addr)
            sock.listen(backlog)
            return sock
        except OSError as exc:
            sock.close()
            err = exc
    raise err or OSError("cannot listen on %s:%s" % (host, port))


class _Worker:
    """One serving process: the HTTPS server, the optional redirect server, the signals."""

    def __init__(self, app: App, sock: socket.socket, adapter: M2SecAdapter, redirect_sock: Optional[socket.socket],
                 opts: Dict[str, Any]) -> None:
        self.server = WSGIServer(app, sock, adapter, **opts)
        self.adapter = adapter
        self.redirect: Optional[WSGIServer] = None
        if redirect_sock is not None:
            plain = {k: v for k, v in opts.items() if k in ("timeout", "shutdown_timeout", "backlog", "multiprocess")}
            self.redirect = WSGIServer(redirect_app(sock.getsockname()[1]), redirect_sock, None, threads=2, **plain)
        self._stopper: Optional[threading.Thread] = None

    def _stop(self, *_: Any) -> None:
        if self._stopper is None:
            self._stopper = threading.Thread(target=self._stop_all, name="M2Sec.wsgi stop")
            self._stopper.start()

    def _stop_all(self) -> None:
        if self.redirect is not None:
            self.redirect.stop()
        self.server.stop()

    def _reload(self, *_: Any) -> None:
        try:
            self.adapter.reload()
            log.warning("M2Sec.wsgi[%d]: certificate reloaded from %s", os.getpid(), self.adapter.certificate)
        except Exception as exc:  # keep serving with the old certificate
            log.error("M2Sec.wsgi[%d]: certificate reload failed, keeping the old one: %s", os.getpid(), exc)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._reload)
        if self.redirect is not None:
            self.redirect.prepare()
            threading.Thread(target=self.redirect.serve, name="M2Sec.wsgi redirect", daemon=True).start()
        self.server.prepare()
        self.server.serve()
        if self._stopper is not None:
            self._stopper.join()
        return 0


class _Master:
    """The parent of prefork workers: starts them, forwards signals, replaces the dead."""

    def __init__(self, n: int, worker: Callable[[], int], adapter: M2SecAdapter, grace: float) -> None:
        self.n = n
        self.worker = worker
        self.adapter = adapter
        self.grace = grace
        self.children: Dict[int, float] = {}
        self.stopping = False

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = self.worker()
            except BaseException:
                log.exception("M2Sec.wsgi worker failed")
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = time.monotonic()

    def _signal_all(self, sig: int) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _on_stop(self, *_: Any) -> None:
        self.stopping = True
        self._signal_all(signal.SIGTERM)

    def _on_hup(self, *_: Any) -> None:
        try:
            self.adapter.reload()  # for workers started later
        except Exception as exc:
            log.error("M2Sec.wsgi: certificate reload failed in the parent: %s", exc)
        self._signal_all(signal.SIGHUP)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        for _ in range(self.n):
            self._spawn()
        deadline: Optional[float] = None
        while self.children:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                started = self.children.pop(pid, 0.0)
                if not self.stopping:
                    if time.monotonic() - started < 1.0:
                        time.sleep(1.0)  # a worker that dies at once: do not spin
                    log.warning("M2Sec.wsgi: worker %d exited; starting another", pid)
                    self._spawn()
                continue
            if self.stopping:
                if deadline is None:
                    deadline = time.monotonic() + self.grace
                elif time.monotonic() > deadline:
                    self._signal_all(signal.SIGKILL)
            time.sleep(0.1)
        return 0


def serve(app: App, host: str = "127.0.0.1", port: int = 8443, *, cert: str, key: Optional[str] = None,
          ca: Optional[str] = None, capath: Optional[str] = None, crl: Optional[str] = None,
          verify_client: str = "none", ciphers: Optional[str] = None, password: Optional[str] = None,
          workers: int = 1, threads: int = 10, max_connections: int = 1000, backlog: int = 1024,
          timeout: float = 10.0, header_timeout: float = 10.0, handshake_timeout: float = 10.0,
          shutdown_timeout: float = 10.0, max_body_size: int = 100 * 1024 * 1024,
          max_header_size: int = 64 * 1024, redirect_port: Optional[int] = None, redirect_host: Optional[str] = None,
          hsts: Optional[int] = None, access_log: Any = None, remote_user: Any = None,
          sock: Optional[socket.socket] = None, on_ready: Optional[Callable[[Tuple[str, int]], None]] = None,
          ocsp_response: Optional[str] = None) -> int:
    """Serve a WSGI application over HTTPS until SIGTERM or SIGINT; returns the exit status.

    :param cert: PEM certificate chain (leaf first); key: its key (None: in cert).
    :param ca: CAs of client certificates (PEM file; capath a hashed directory), crl their CRLs.
    :param verify_client: "none", "optional" or "required".
    :param workers: processes sharing the listening socket (prefork); threads: threads in each.
    :param max_connections: TLS connections each process holds at once.
    :param header_timeout: seconds for a request head, from its first byte.
    :param redirect_port: also listen for plain HTTP there, answering 301 to HTTPS.
    :param hsts: add Strict-Transport-Security with this max-age (seconds).
    :param ocsp_response: a DER OCSP response file to staple (read again when it changes).
    :param access_log: a text stream (or a path; "-" for stderr) for the common log format.
    :param remote_user: REMOTE_USER from a verified client certificate: "cn", "email", "dn"
        or a callable(environ) -> str.
    :param on_ready: called with the bound (host, port) once listening (before workers start).
    :raises ValueError: for bad options; SSLError if the certificate or key cannot be read.
    """
    if workers < 1 or threads < 1:
        raise ValueError("workers and threads must be at least 1")
    max_connections = _fit_fd_limit(max_connections)
    adapter = M2SecAdapter(cert, key, private_key_password=password, ciphers=ciphers, ca=ca, capath=capath,
                           crl=crl, verify_client=verify_client, handshake_timeout=handshake_timeout,
                           max_connections=max_connections, remote_user=remote_user,
                           ocsp_response=ocsp_response)
    stream = _open_log(access_log)
    wrapped = _Wrapped(app, hsts, stream) if (hsts or stream is not None) else app
    listen = sock if sock is not None else listen_socket(host, port, backlog)
    redirect_sock = None
    if redirect_port is not None:
        redirect_sock = listen_socket(redirect_host or host, redirect_port, backlog)
    opts = dict(threads=threads, timeout=timeout, header_timeout=header_timeout, shutdown_timeout=shutdown_timeout,
                max_body_size=max_body_size, max_header_size=max_header_size, max_connections=max_connections,
                backlog=backlog, multiprocess=workers > 1)
    bound = listen.getsockname()[:2]
    log.warning("M2Sec.wsgi: listening on https://%s:%d/ (%d worker%s, %d threads each)%s", bound[0], bound[1],
                workers, "s" if workers > 1 else "", threads,
                "" if redirect_sock is None else ", redirecting http://%s:%d/" % redirect_sock.getsockname()[:2])
    if on_ready is not None:
        on_ready(bound)

    def work() -> int:
        return _Worker(wrapped, listen, adapter, redirect_sock, opts).run()

    try:
        if workers == 1:
            return work()
        return _Master(workers, work, adapter, shutdown_timeout + 5).run()
    finally:
        listen.close()
        if redirect_sock is not None:
            redirect_sock.close()


def _fit_fd_limit(max_connections: int) -> int:
    """Raise the soft descriptor limit toward the hard one so that max_connections fit; the
    connection count that fits (a server out of descriptors could accept nobody)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = max_connections + 256
        if soft != resource.RLIM_INFINITY and soft < want:
            new = want if hard == resource.RLIM_INFINITY else min(want, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
    except (ImportError, ValueError, OSError):
        return max_connections
    if soft == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, soft - 256))


def _open_log(access_log: Any) -> Any:
    if access_log is None or access_log == "":
        return None
    if access_log == "-":
        return sys.stderr
    if isinstance(access_log, (str, os.PathLike)):
        return open(access_log, "a", buffering=1, encoding="utf-8")
    return access_log
