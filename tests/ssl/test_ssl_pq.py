"""X25519MLKEM768 (the post-quantum hybrid of draft-ietf-tls-ecdhe-mlkem) first in
create_default_context()'s groups where OpenSSL has ML-KEM (3.5), seen as the negotiated group
from both sides: M2Sec with M2Sec, and M2Sec's server with OpenSSL 3.5's s_client (OPENSSL35 names
that command; `make test-wheel` sets it, else `openssl` on PATH must be 3.5).  On OpenSSL 3.0 the
defaults are OpenSSL's own and no hybrid is offered."""

import os
import re
import shutil
import subprocess

import pytest

from M2Sec import SSL, m2
from M2Sec.SSL.Context import DEFAULT_GROUPS
from ssl_helpers import m2server, memory_handshake, pki  # noqa: F401

pytestmark = pytest.mark.timeout(60)
needs_pq = pytest.mark.skipif(not m2.HAS_ML_KEM, reason="OpenSSL %s has no ML-KEM (3.5 has: make test-wheel)"
                              % m2.OPENSSL_VERSION_TEXT.split()[1])


def openssl35() -> str:
    """The openssl command of OpenSSL 3.5 or newer, or AssertionError naming what was found."""
    cmd = os.environ.get("OPENSSL35") or shutil.which("openssl") or "openssl"
    out = subprocess.run([cmd, "version"], capture_output=True, text=True, timeout=20).stdout
    m = re.match(r"OpenSSL (\d+)\.(\d+)", out)
    assert m and (int(m.group(1)), int(m.group(2))) >= (3, 5), \
        "s_client of OpenSSL 3.5 needed: set OPENSSL35 to its openssl command (found %r)" % out.strip()
    return cmd


def server_ctx(pki) -> SSL.Context:  # noqa: F811
    ctx = SSL.create_default_context(SSL.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki.chain("server"), pki.path("server.key"))
    return ctx


def test_default_groups_follow_ml_kem():
    if m2.HAS_ML_KEM:
        assert DEFAULT_GROUPS.split(":")[:2] == ["*X25519MLKEM768", "*X25519"]
    else:
        assert DEFAULT_GROUPS == ""


@needs_pq
def test_m2sec_client_and_server_negotiate_the_hybrid(pki):  # noqa: F811
    cl = SSL.SSLObject(pki.client_ctx(), server_hostname="localhost")
    sv = SSL.SSLObject(server_ctx(pki), server_side=True)
    memory_handshake(cl, sv)
    assert cl.get_negotiated_group() == sv.get_negotiated_group() == "X25519MLKEM768"


@needs_pq
def test_classical_client_still_gets_x25519(pki):  # noqa: F811
    ctx = pki.client_ctx()
    ctx.set_groups(["X25519", "P-256"])
    cl = SSL.SSLObject(ctx, server_hostname="localhost")
    sv = SSL.SSLObject(server_ctx(pki), server_side=True)
    memory_handshake(cl, sv)
    assert sv.get_negotiated_group().upper() == "X25519"


@needs_pq
def test_openssl_s_client_negotiates_the_hybrid(pki):  # noqa: F811
    seen = []

    def handler(conn):
        seen.append(conn.get_negotiated_group())
        conn.write(b"pq\n")

    with m2server(server_ctx(pki), handler) as srv:
        p = subprocess.run([openssl35(), "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-CAfile",
                            pki.path("root.pem"), "-verify_return_error", "-servername", "localhost",
                            "-ign_eof"],  # until the server closes: an early stdin EOF may end the handshake
                           input=b"", capture_output=True, timeout=30)
        out = p.stdout.decode(errors="replace")
    assert re.search(r"Negotiated TLS1.3 group: X25519MLKEM768", out), out[-2000:]
    assert seen == ["X25519MLKEM768"], srv.errors
