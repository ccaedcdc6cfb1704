"""Helpers of the SSL tests: a PKI minted for the session, M2Sec servers in threads, and the
openssl s_server / s_client peers on loopback (every process and thread is stopped)."""

import os
import select
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest
from typing import Callable, Iterator, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pki_helpers import PKI, openssl  # noqa: E402

from M2Sec import SSL  # noqa: E402
from net_helpers import free_port  # noqa: E402,F401  (outside the ephemeral port range)


class SSLPKI(PKI):
    """The session's certificates: server (localhost, 127.0.0.1), an RSA server, a client,
    and the bad ones (expired, self-signed, another host)."""

    def __init__(self, d: str) -> None:
        super().__init__(d)
        san = "subjectAltName=DNS:localhost,IP:127.0.0.1"
        server_ext = [san, "extendedKeyUsage=serverAuth", "basicConstraints=CA:FALSE"]
        self.issue("server", "/CN=localhost", ext=server_ext)
        self.issue("server_rsa", "/CN=localhost", ext=server_ext, alg="RSA")
        self.issue("other", "/CN=other.example", ext=["subjectAltName=DNS:other.example", "extendedKeyUsage=serverAuth"])
        self.issue("client", "/CN=client", ext=["extendedKeyUsage=clientAuth"])
        self.issue_dated("expired", "/CN=localhost", "20200101000000Z", "20200201000000Z", ext=[san])
        self.key("selfsigned")
        openssl("req", "-x509", "-new", "-key", self.path("selfsigned.key"), "-subj", "/CN=localhost", "-days", "30",
                "-addext", san, "-out", self.path("selfsigned.pem"))
        for name in ("server", "server_rsa", "other", "client", "expired"):
            with open(self.path(name + "-chain.pem"), "wb") as f:
                f.write(self.read(name + ".pem") + self.read("inter.pem"))

    def chain(self, name: str) -> str:
        return self.path(name + "-chain.pem") if os.path.exists(self.path(name + "-chain.pem")) else self.path(name + ".pem")

    def server_ctx(self, name: str = "server", **kw) -> SSL.Context:
        """An M2Crypto-style server context with name's certificate chain."""
        ctx = SSL.Context(**kw)
        ctx.load_cert_chain(self.chain(name), self.path(name + ".key"))
        return ctx

    def client_ctx(self) -> SSL.Context:
        """A verifying client context trusting the test root."""
        return SSL.create_default_context(cafile=self.path("root.pem"))


def listener(backlog: int = 64) -> socket.socket:
    """A TCP socket listening on a free loopback port."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s


@contextmanager
def serve_once(handler: Callable[[socket.socket], None], timeout: float = 10) -> Iterator[Tuple[str, int]]:
    """Run handler(sock) in a thread on the first connection to a loopback listener; yields
    the listener's address.  On leaving: waits for the handler, closes the sockets, and
    raises the handler's exception, if any."""
    lsock = listener()
    lsock.settimeout(timeout)  # a test that never connects does not leave the thread behind
    errors: List[BaseException] = []

    def run() -> None:
        try:
            s, _ = lsock.accept()
            with s:
                s.settimeout(timeout)
                handler(s)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield lsock.getsockname()
    finally:
        t.join(timeout + 5)
        lsock.close()
    assert not t.is_alive(), "the server thread did not finish"
    if errors:
        raise errors[0]


def resumed(ctx: SSL.Context, session: "SSL.Session.Session", port: int, host: str = "localhost") -> bool:
    """Connect to port offering session; whether the server resumed it."""
    c = SSL.Connection(ctx)
    c.settimeout(10)
    c.set_session(session)
    try:
        c.connect((host, port))
        return c.session_reused()
    finally:
        c.close()


def memory_handshake(client: SSL.SSLObject, server: SSL.SSLObject, rounds: int = 6) -> None:
    """Run the handshake between two sans-I/O objects, then let the client take in what
    the server sent after it (TLS 1.3 session tickets)."""
    for _ in range(rounds):
        for a, b in ((client, server), (server, client)):
            try:
                a.do_handshake()
            except SSL.SSLWantReadError:
                pass
            b.receive_bytes(a.data_to_send())
    assert client.handshake_done and server.handshake_done
    try:
        client.read()
    except SSL.SSLWantReadError:
        pass


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


def run_isolated(code: str, timeout: float = 30) -> str:
    """Run code in a fresh Python (for cases that could crash the interpreter); its stdout.

    Fails the test, with the child's stderr, if it crashed, raised or did not finish."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, os.path.dirname(here), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], capture_output=True, timeout=timeout, env=env)
    if p.returncode != 0:
        raise AssertionError("the isolated case failed (exit status %d):\n%s" % (p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode()


def wait_port(port: int, proc: Optional[subprocess.Popen] = None, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("the peer exited: %s" % proc.stderr.read().decode(errors="replace"))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("nothing listens on port %d" % port)


@contextmanager
def s_server(pki: SSLPKI, *args: str, cert: str = "server") -> Iterator[int]:
    """openssl s_server on a free loopback port with cert's chain; yields the port."""
    port = free_port()
    cmd = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", pki.path(cert + ".pem"),
           "-key", pki.path(cert + ".key"), "-cert_chain", pki.path("inter.pem"), "-naccept", "20", *args]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        proc.server_port = port  # type: ignore[attr-defined]
        yield proc  # type: ignore[misc]
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def s_client(port: int, *args: str, input: bytes = b"", timeout: float = 20) -> str:
    """Run openssl s_client against 127.0.0.1:port; its stdout and stderr as text."""
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, *args], input=input,
                       capture_output=True, timeout=timeout)
    return p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


class ThreadServer:
    """An M2Sec server in a thread: handler(conn) runs for each accepted connection."""

    def __init__(self, ctx: SSL.Context, handler: Callable[[SSL.Connection], None], timeout: float = 10) -> None:
        self.ctx = ctx
        self.handler = handler
        self.errors: List[BaseException] = []
        self.error_count = 0
        self.conns = 0
        self.sock = listener()
        self.port = self.sock.getsockname()[1]
        self.timeout = timeout
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if not r:
                continue
            try:
                s, addr = self.sock.accept()
            except OSError:
                return
            s.settimeout(self.timeout)
            conn = SSL.Connection(self.ctx, s)
            try:
                conn.setup_ssl()
                conn.set_accept_state()
                conn.accept_ssl()
                self.handler(conn)
            except BaseException as exc:  # recorded for the test to look at (the first few)
                self.error_count += 1
                if len(self.errors) < 10:
                    self.errors.append(exc)
            finally:
                self.conns += 1
                conn.free()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(10)
        self.sock.close()


def echo(conn: SSL.Connection) -> None:
    """Echo until the client closes."""
    while True:
        try:
            data = conn.read(65536)
        except SSL.SSLError:
            return
        if not data:
            return
        conn.sendall(data)


@contextmanager
def m2server(ctx: SSL.Context, handler: Callable[[SSL.Connection], None] = echo, timeout: float = 10) -> Iterator[ThreadServer]:
    srv = ThreadServer(ctx, handler, timeout)
    try:
        yield srv
    finally:
        srv.stop()


_PKI: List[SSLPKI] = []


@pytest.fixture
def pki(tmp_path_factory) -> SSLPKI:
    """The PKI shared by the SSL tests (made once per session): import it into a test module."""
    if not _PKI:
        _PKI.append(SSLPKI(str(tmp_path_factory.mktemp("sslpki"))))
    return _PKI[0]
