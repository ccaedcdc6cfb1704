"""Forwarding beyond TCP ports against OpenSSH's sshd: agent forwarding (ssh-add -L run on the
server lists the local agent's keys), UNIX socket forwards both ways, and a SOCKS 4a/5 proxy
used by curl; garbage sent to the SOCKS port is refused while the connection goes on."""

import asyncio
import http.server
import os
import socket
import subprocess
import threading

import pytest

import M2Sec.SSH as SSH

from .agent_helpers import SshAgent

pytestmark = pytest.mark.timeout(90)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 80))


def _connect(sshd, **kw):
    kw.setdefault("client_keys", [sshd.user_keys["ed25519"]])
    return SSH.connect("127.0.0.1", sshd.port, username=sshd.user, known_hosts=sshd.known_hosts(), config=None,
                       connect_timeout=20, **kw)


def test_agent_forwarding(sshd):
    agent = SshAgent()
    try:
        agent.add(sshd.user_keys["ecdsa384"])

        async def go(forward):
            async with _connect(sshd, agent_path=agent.path, agent_forwarding=forward) as conn:
                return await conn.run("ssh-add -L")
        on = run(go(True))
        assert on.exit_status == 0
        assert [" ".join(line.split()[:2]) for line in on.stdout.decode().splitlines()] == agent.listed()
        off = run(go(False))
        assert off.exit_status == 2  # "Could not open a connection to your authentication agent."
    finally:
        agent.stop()


class _UnixEcho:
    def __init__(self, path):
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        self.srv.listen(4)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with c:
                while True:
                    data = c.recv(65536)
                    if not data:
                        break
                    c.sendall(b"echo:" + data)

    def close(self):
        self.srv.close()


def _ask(path, data):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_unix_socket_forwards(sshd, tmp_path):
    echo = _UnixEcho(str(tmp_path / "echo.sock"))
    try:
        async def go():
            async with _connect(sshd) as conn:
                local = await conn.forward_local_path(str(tmp_path / "local.sock"), echo.path)
                a = await asyncio.get_running_loop().run_in_executor(None, _ask, str(tmp_path / "local.sock"), b"L")
                remote = await conn.forward_remote_path(str(tmp_path / "remote.sock"), echo.path)
                b = await asyncio.get_running_loop().run_in_executor(None, _ask, str(tmp_path / "remote.sock"), b"R")
                local.close()
                remote.close()
                return a, b
        assert run(go()) == (b"echo:L", b"echo:R")
    finally:
        echo.close()


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello via %s" % self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_socks_with_curl(sshd):
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        with SSH.Client("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                        known_hosts=sshd.known_hosts(), config=None) as c:
            with c.forward_socks("127.0.0.1", 0) as socks:
                port = socks.get_port()
                url = "http://localhost:%d/x" % web.server_address[1]
                for flag in ("--socks5-hostname", "--socks5", "--socks4a", "--socks4"):
                    out = subprocess.run(["curl", "-sS", "--max-time", "20", flag, "127.0.0.1:%d" % port, url],
                                         capture_output=True, timeout=30)
                    assert out.stdout == b"hello via /x", (flag, out.stderr)
                # garbage, a BIND request and a closed port: refused, and the proxy goes on
                for junk in (b"GET / HTTP/1.0\r\n\r\n", b"\x05\x01\x02", b"\x04\x02\x00\x50\x7f\x00\x00\x01\x00"):
                    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                        s.sendall(junk)
                        data = s.recv(64)
                        assert data in (b"", b"\x05\xff") or data[:2] in (b"\x00\x5b",)
                refused = subprocess.run(["curl", "-sS", "--max-time", "20", "--socks5", "127.0.0.1:%d" % port,
                                          "http://127.0.0.1:1/"], capture_output=True, timeout=30)
                assert refused.returncode != 0
                out = subprocess.run(["curl", "-sS", "--max-time", "20", "--socks5-hostname", "127.0.0.1:%d" % port,
                                      url], capture_output=True, timeout=30)
                assert out.stdout == b"hello via /x"
            assert c.run("echo still").stdout == b"still\n"
    finally:
        web.shutdown()
        web.server_close()


@pytest.fixture(scope="module")
def xvfb():
    from .x11_helpers import Xvfb
    x = Xvfb()
    yield x
    x.stop()


@pytest.fixture(scope="module")
def x11_sshd(tmp_path_factory):
    """An sshd forwarding X11; the fake cookies it records go to a file of the test's
    (SetEnv XAUTHORITY), not to the user's ~/.Xauthority."""
    from .sshd_helpers import Sshd
    remote_auth = str(tmp_path_factory.mktemp("x11") / "remote.auth")
    s = Sshd(extra_config="X11Forwarding yes\nX11UseLocalhost yes\nSetEnv XAUTHORITY=%s\n" % remote_auth).start()
    yield s
    s.cleanup()


def test_x11_forwarding_to_xvfb(x11_sshd, xvfb, monkeypatch):
    """x11_forwarding=True as ssh -X: xdpyinfo run by sshd reaches the local Xvfb; the real
    cookie stays here (the server's session only ever sees the fake one)."""
    monkeypatch.setenv("DISPLAY", xvfb.display)
    monkeypatch.setenv("XAUTHORITY", xvfb.xauthority)

    async def go(forward):
        async with _connect(x11_sshd, x11_forwarding=forward) as conn:
            info = await conn.run("xdpyinfo | head -3; echo display=$DISPLAY; xauth list")
            return info
    on = run(go(True))
    text = on.stdout.decode()
    assert "name of display:    localhost:1" in text and "display=localhost:" in text, (text, on.stderr.decode())
    assert xvfb.cookie not in text  # the server holds only the fake cookie
    off = run(go(False))
    assert "display=\n" in off.stdout.decode()
