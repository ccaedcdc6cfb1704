"""Fixtures of the TLS API tests: a PKI, loopback servers in threads, peers as processes."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Callable, List, Optional

import pytest

from pki_helpers import PKI

from M2Sec.TLS import X509CertChain, parsePEMKey
from net_helpers import free_port  # noqa: E402,F401  (outside the ephemeral port range)

TIMEOUT = 10


class Creds:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate."""

    def __init__(self, d: str) -> None:
        self.pki = PKI(d)
        self.pki.issue("server", "/CN=localhost", ext=["subjectAltName=DNS:localhost,IP:127.0.0.1"])
        self.pki.issue("client", "/CN=alice client")
        self.cafile = self.pki.path("root.pem")
        for name in ("server", "client"):
            self._write_chain(name)

    def _write_chain(self, name: str) -> None:
        """name-chain.pem: name.pem + inter.pem, the chain a server sends."""
        with open(self.pki.path(name + "-chain.pem"), "wb") as f:
            f.write(self.pki.read(name + ".pem") + self.pki.read("inter.pem"))

    def path(self, name: str) -> str:
        return self.pki.path(name)

    def issue(self, name: str, san: str, cn: str = "/CN=ip test") -> None:
        """A server certificate (and its -chain.pem) with subjectAltName san, unless made already."""
        if os.path.exists(self.pki.path(name + "-chain.pem")):
            return
        self.pki.issue(name, cn, ext=["subjectAltName=" + san])
        self._write_chain(name)

    def chain(self, name: str) -> X509CertChain:
        return X509CertChain().parsePemList(self.pki.read(name + "-chain.pem"))

    def key(self, name: str) -> Any:
        return parsePEMKey(self.pki.read(name + ".key"), private=True)


@pytest.fixture(scope="session")
def creds(tmp_path_factory) -> Creds:
    return Creds(str(tmp_path_factory.mktemp("tlspki")))


class Server:
    """Accepts n connections on 127.0.0.1 in a thread and runs handler(sock) on each; errors
    are kept in .errors and results in .results."""

    def __init__(self, handler: Callable[[socket.socket], Any], n: int = 1, host: str = "127.0.0.1") -> None:
        self.host = host
        self.listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.listener.bind((host, 0))
        self.listener.listen(n)
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.results: List[Any] = []
        self.errors: List[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(handler, n), daemon=True)
        self.thread.start()

    def _run(self, handler: Callable[[socket.socket], Any], n: int) -> None:
        for _ in range(n):
            try:
                sock, _ = self.listener.accept()
            except OSError as e:
                self.errors.append(e)
                return
            sock.settimeout(TIMEOUT)
            try:
                self.results.append(handler(sock))
            except BaseException as e:  # the test looks at it
                self.errors.append(e)
            finally:
                sock.close()

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=TIMEOUT)

    def join(self) -> None:
        self.thread.join(TIMEOUT)
        self.listener.close()
        assert not self.thread.is_alive(), "the server thread did not finish"


@pytest.fixture
def server():
    """server(handler, n=1, host="127.0.0.1") -> Server; joined at the end of the test."""
    made: List[Server] = []

    def start(handler: Callable[[socket.socket], Any], n: int = 1, host: str = "127.0.0.1") -> Server:
        s = Server(handler, n, host)
        made.append(s)
        return s

    yield start
    for s in made:
        s.listener.close()
        s.thread.join(TIMEOUT)


def echo(conn: Any, data: bytes = b"ping") -> bytes:
    """Write data on a TLSConnection and read until as many bytes came back."""
    conn.write(data)
    got = b""
    while len(got) < len(data):
        chunk = conn.read()
        assert chunk
        got += chunk
    return got


def read_to_end(conn: Any) -> bytes:
    """Everything a TLSConnection reads until the peer's close_notify."""
    out = b""
    while True:
        data = conn.read()
        if not data:
            return out
        out += data


def wait_port(port: int, proc: subprocess.Popen, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("the peer exited early: %s" % proc.stdout.read().decode(errors="replace"))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the peer did not listen on port %d" % port)


@pytest.fixture
def process():
    """process(args, port=None, cwd=None) -> Popen, killed at the end; waits for port to listen."""
    procs: List[subprocess.Popen] = []

    def start(args: List[str], port: Optional[int] = None, cwd: Optional[str] = None, **kw: Any) -> subprocess.Popen:
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             cwd=cwd, **kw)
        procs.append(p)
        if port is not None:
            wait_port(port, p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=TIMEOUT)


def tlslite_script(name: str) -> List[str]:
    """tlslite-ng's tls.py / tlsdb.py, run by this Python (installed for the tests by make)."""
    path = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if path is None:
        pytest.fail("tlslite-ng's %s is needed (make installs it in .venv)" % name)
    return [sys.executable, path]
