"""Headless Chromium against M2Sec's TLS server: with OpenSSL 3.5's ML-KEM the browser and
create_default_context() agree on the post-quantum hybrid X25519MLKEM768, seen on the server."""

import os
import shutil
import subprocess
import tempfile

import pytest

from M2Sec import SSL, m2
from ssl_helpers import m2server, pki  # noqa: F401

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(not m2.HAS_ML_KEM, reason="OpenSSL %s has no ML-KEM (3.5 has: make test-wheel)"
                                 % m2.OPENSSL_VERSION_TEXT.split()[1])]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_chromium_negotiates_x25519mlkem768(pki):  # noqa: F811
    assert CHROMIUM, "chromium is not installed (tests/system-packages.txt lists it)"
    ctx = SSL.create_default_context(SSL.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki.chain("server"), pki.path("server.key"))
    groups = []

    def handler(conn):
        groups.append(conn.get_negotiated_group())
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.read(4096)
            if not data:
                return
            request += data
        body = b"<html><body><p id=g>%s</p></body></html>" % conn.get_negotiated_group().encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                     % len(body) + body)

    with m2server(ctx, handler, timeout=30) as srv, tempfile.TemporaryDirectory() as profile:
        p = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                            "--user-data-dir=" + profile, "--ignore-certificate-errors", "--timeout=30000",
                            "--dump-dom", "https://127.0.0.1:%d/" % srv.port],
                           capture_output=True, timeout=100, env=dict(os.environ, HOME=profile))
        out = p.stdout.decode(errors="replace")
    assert "X25519MLKEM768" in out, (out, p.stderr.decode(errors="replace")[-1500:], srv.errors)
    assert groups and set(groups) == {"X25519MLKEM768"}, (groups, srv.errors)
