"""M2Sec.httpslib against Python's ssl-based http.server, M2Sec's SSLServer, curl and a CONNECT proxy."""

import http.client
import shutil
import socket
import ssl
import subprocess
import time

import pytest


from M2Sec import SSL, httpslib
from M2Sec.SSL.Checker import SSLVerificationError
from integ_helpers import (BODY, Handler, M2SecHTTPServer, SilentServer, auth_proxy, certs, m2_https,  # noqa: F401
                           open_fds, plain_http, proxy, py_https, running, silent, url)

pytestmark = pytest.mark.timeout(60)
REJECTED = (SSL.SSLError, SSLVerificationError)


def get(conn: httpslib.HTTPSConnection, path: str = "/") -> bytes:
    conn.request("GET", path)
    resp = conn.getresponse()
    assert resp.status == 200, resp.status
    return resp.read()


def test_get_from_python_ssl_server(certs, py_https):
    c = httpslib.HTTPSConnection("localhost", py_https.server_address[1], ssl_context=certs.client_ctx())
    try:
        assert get(c) == BODY
        assert isinstance(c.sock, SSL.Connection)
        assert c.sock.get_version() in ("TLSv1.2", "TLSv1.3")
        # keep-alive: the second request runs on the same TLS connection
        sock = c.sock
        assert len(get(c, "/big")) == 1024 * 1024
        assert c.sock is sock
        c.request("POST", "/echo", body=b"x" * 100000)
        assert c.getresponse().read() == b"x" * 100000
    finally:
        c.close()


def test_is_an_http_client_connection(certs):
    c = httpslib.HTTPSConnection("localhost:8443", ssl_context=certs.client_ctx())
    assert isinstance(c, http.client.HTTPSConnection)
    assert (c.host, c.port) == ("localhost", 8443)
    assert httpslib.HTTPSConnection("example.org", ssl_context=certs.client_ctx()).port == 443
    assert httpslib.HTTPResponse is http.client.HTTPResponse  # re-exports http.client


def test_get_from_m2sec_server_by_ip(certs, m2_https):
    c = httpslib.HTTPSConnection("127.0.0.1", m2_https.server_address[1], ssl_context=certs.client_ctx())
    try:
        assert get(c) == BODY
        assert get(c) == BODY
    finally:
        c.close()


def test_sni_is_sent(certs):
    names = []
    ctx = certs.py_server_ctx()
    ctx.sni_callback = lambda sock, name, _ctx: names.append(name)
    from integ_helpers import PySSLHTTPServer
    with running(PySSLHTTPServer(ctx)) as server:
        c = httpslib.HTTPSConnection("localhost", server.server_address[1], ssl_context=certs.client_ctx())
        assert get(c) == BODY
        c.close()
        c = httpslib.HTTPSConnection("127.0.0.1", server.server_address[1], ssl_context=certs.client_ctx())
        assert get(c) == BODY
        c.close()
    assert names == ["localhost", None]  # no SNI for an IP address (RFC 6066)


def test_default_context_rejects_untrusted_server(py_https):
    c = httpslib.HTTPSConnection("localhost", py_https.server_address[1])
    with pytest.raises(REJECTED):
        c.request("GET", "/")
    assert c.sock is None
    c.close()


def test_default_context_rejects_self_signed(certs):
    from integ_helpers import PySSLHTTPServer
    with running(PySSLHTTPServer(certs.py_server_ctx(certs.self_signed, certs.self_key))) as server:
        for ctx in (None, certs.client_ctx()):
            c = httpslib.HTTPSConnection("localhost", server.server_address[1], ssl_context=ctx)
            with pytest.raises(REJECTED):
                get(c)
            c.close()


def test_wrong_host_rejected(certs):
    """A certificate for www.example.com, trusted chain, reached as localhost."""
    from integ_helpers import PySSLHTTPServer
    with running(PySSLHTTPServer(certs.py_server_ctx(certs.other_chain, certs.other_key))) as server:
        c = httpslib.HTTPSConnection("localhost", server.server_address[1], ssl_context=certs.client_ctx())
        with pytest.raises(REJECTED):
            get(c)
        c.close()
        # M2Crypto's unverified Context() still checks the name after the handshake (Checker)
        c = httpslib.HTTPSConnection("localhost", server.server_address[1], ssl_context=SSL.Context())
        with pytest.raises(REJECTED):
            get(c)
        c.close()


def test_m2crypto_style_unverified_context(certs, py_https):
    """An explicit SSL.Context() does not verify the chain (M2Crypto's behaviour), only the name."""
    c = httpslib.HTTPSConnection("localhost", py_https.server_address[1], ssl_context=SSL.Context())
    assert get(c) == BODY
    c.close()
    # M2Crypto's tests pass the options as a dict in the third position
    c = httpslib.HTTPSConnection("localhost", py_https.server_address[1], {"ssl_context": SSL.Context()})
    assert get(c) == BODY
    c.close()


def test_bad_arguments():
    with pytest.raises(ValueError):
        httpslib.HTTPSConnection("example.org", badKeyword=True)
    with pytest.raises(TypeError):
        httpslib.HTTPSConnection("example.org", ssl_context=ssl.create_default_context())
    with pytest.raises(AssertionError):  # M2Crypto asserted
        httpslib.HTTPSConnection("example.org", ssl_context="tls")


def test_client_certificate(certs):
    from integ_helpers import PySSLHTTPServer
    sctx = certs.py_server_ctx()
    sctx.verify_mode = ssl.CERT_REQUIRED
    sctx.load_verify_locations(certs.root)
    sctx.load_verify_locations(certs.pki.path("inter.pem"))
    with running(PySSLHTTPServer(sctx)) as server:
        c = httpslib.HTTPSConnection("localhost", server.server_address[1], ssl_context=certs.client_ctx(),
                                     cert_file=certs.client_cert, key_file=certs.client_key)
        assert get(c) == BODY
        c.close()
        c = httpslib.HTTPSConnection("localhost", server.server_address[1], ssl_context=certs.client_ctx())
        with pytest.raises((SSL.SSLError, http.client.HTTPException, OSError)):
            get(c)
        c.close()


def test_session_resumption(certs, m2_https):
    ctx = certs.client_ctx()
    c = httpslib.HTTPSConnection("localhost", m2_https.server_address[1], ssl_context=ctx)
    assert get(c) == BODY
    session = c.get_session()
    c.close()
    c2 = httpslib.HTTPSConnection("localhost", m2_https.server_address[1], ssl_context=ctx)
    c2.set_session(session)
    assert get(c2) == BODY
    assert c2.sock.session_reused()
    c2.close()


def test_timeout_when_handshake_never_completes(certs, silent):
    c = httpslib.HTTPSConnection("127.0.0.1", silent.port, ssl_context=certs.client_ctx(), timeout=0.5)
    start = time.monotonic()
    with pytest.raises((socket.timeout, SSL.SSLError, OSError)):
        c.request("GET", "/")
    assert time.monotonic() - start < 5
    c.close()


def test_plain_http_server_is_an_ssl_error(certs, plain_http):
    c = httpslib.HTTPSConnection("127.0.0.1", plain_http.port, ssl_context=certs.client_ctx(), timeout=5)
    with pytest.raises(SSL.SSLError):
        c.request("GET", "/")
    c.close()


def test_no_descriptor_leak(certs, py_https, m2_https):
    ctx = certs.client_ctx()
    before = open_fds()
    for server in (py_https, m2_https) * 15:
        c = httpslib.HTTPSConnection("localhost", server.server_address[1], ssl_context=ctx)
        assert get(c) == BODY
        c.close()
    for _ in range(5):  # failures too
        c = httpslib.HTTPSConnection("localhost", py_https.server_address[1])
        with pytest.raises(REJECTED):
            get(c)
        c.close()
    assert open_fds() <= before + 2


@pytest.mark.parametrize("server", ["py_https", "m2_https"])
def test_response_outlives_connection_close(certs, server, request):
    """On "Connection: close" http.client closes the connection before the body is read."""
    port = request.getfixturevalue(server).server_address[1]
    c = httpslib.HTTPSConnection("localhost", port, ssl_context=certs.client_ctx())
    c.request("GET", "/big", headers={"Connection": "close"})
    resp = c.getresponse()
    assert resp.will_close
    tls = resp.fp.raw._sock
    assert c.sock is tls  # still reachable for queries (see test_connection_close_keeps_sock_for_queries)
    assert not tls.closed
    assert resp.read() == bytes(range(256)) * 4096
    assert tls.closed  # the last file closed the connection
    c.close()


@pytest.mark.parametrize("server", ["py_https", "m2_https"])
def test_connection_close_keeps_sock_for_queries(certs, server, request):
    """M2Crypto's programs inspect ``h.sock`` after a ``Connection: close`` response; the next
    request still opens a new connection, and the closed ones do not pile up."""
    port = request.getfixturevalue(server).server_address[1]
    c = httpslib.HTTPSConnection("localhost", port, ssl_context=certs.client_ctx())
    before = open_fds()
    seen = []
    for _ in range(3):
        c.request("GET", "/", headers={"Connection": "close"})
        resp = c.getresponse()
        assert resp.will_close and resp.read() == BODY
        sock = c.sock
        assert sock is not None and sock.closed  # the descriptor is closed ...
        assert sock.get_peer_cert().get_subject().CN == "localhost"  # ... the TLS state stays
        assert sock.verify_ok() and sock.get_verify_result() == 0
        assert sock.get_cipher().name() and sock.get_version() in ("TLSv1.2", "TLSv1.3")
        assert c.get_session() is not None
        seen.append(sock)
    assert len({id(s) for s in seen}) == 3  # each request had a new connection
    assert get(c) == BODY and c.sock is not seen[-1]  # keep-alive again on a fresh one
    c.close()
    assert c.sock.closed and c.sock.get_peer_cert() is not None
    del seen, sock, resp
    assert open_fds() <= before + 1
    c.auto_open = 0
    with pytest.raises(http.client.NotConnected):
        c.request("GET", "/")


# ---- through an HTTP CONNECT proxy ---------------------------------------------------------


def test_proxy_https_connection(certs, py_https, proxy):
    c = httpslib.ProxyHTTPSConnection("127.0.0.1", proxy.server_address[1], ssl_context=certs.client_ctx())
    try:
        c.request("GET", url(py_https), headers={"User-Agent": "m2sec-test"})
        resp = c.getresponse()
        assert resp.status == 200 and resp.read() == BODY
        # the same tunnel carries a second request
        c.request("GET", url(py_https, path="/big"))
        assert len(c.getresponse().read()) == 1024 * 1024
    finally:
        c.close()
    assert len(proxy.requests) == 1
    head = proxy.requests[0].decode()
    assert head.startswith("CONNECT localhost:%d HTTP/1." % py_https.server_address[1])
    assert "User-Agent: m2sec-test" in head
    # TLS ran end to end: the origin saw the request, its Host header, and the user agent
    assert Handler.seen[-2]["Host"] == "localhost:%d" % py_https.server_address[1]


def test_proxy_credentials(certs, py_https, auth_proxy):
    port = auth_proxy.server_address[1]
    c = httpslib.ProxyHTTPSConnection("127.0.0.1", port, username="proxyuser", password="proxypass",
                                      ssl_context=certs.client_ctx())
    c.request("GET", url(py_https))
    assert c.getresponse().read() == BODY
    c.close()
    assert b"Proxy-Authorization: Basic " in auth_proxy.requests[-1]
    c = httpslib.ProxyHTTPSConnection("127.0.0.1", port, username=b"proxyuser", password=b"wrong",
                                      ssl_context=certs.client_ctx())
    with pytest.raises(OSError, match="407"):
        c.request("GET", url(py_https))
    c.close()


def test_proxy_verifies_the_target(py_https, proxy):
    c = httpslib.ProxyHTTPSConnection("127.0.0.1", proxy.server_address[1])
    with pytest.raises(REJECTED):
        c.request("GET", url(py_https))
    c.close()


def test_proxy_rejects_relative_urls(certs):
    c = httpslib.ProxyHTTPSConnection("127.0.0.1", 3128, ssl_context=certs.client_ctx())
    with pytest.raises(ValueError):
        c.putrequest("GET", "/relative")
    with pytest.raises(ValueError):
        c.putrequest("GET", "gopher://example.org/")


def test_set_tunnel(certs, m2_https, proxy):
    c = httpslib.HTTPSConnection("127.0.0.1", proxy.server_address[1], ssl_context=certs.client_ctx())
    c.set_tunnel("localhost", m2_https.server_address[1])
    assert get(c) == BODY
    c.close()


# ---- real peers against M2Sec's server -------------------------------------------------------


def test_python_http_client_against_m2sec_server(certs, m2_https):
    c = http.client.HTTPSConnection("localhost", m2_https.server_address[1], context=certs.py_client_ctx())
    assert get(c) == BODY
    assert get(c, "/big") == bytes(range(256)) * 4096
    c.close()


def test_curl_against_m2sec_server(certs, m2_https, tmp_path):
    curl = shutil.which("curl")
    assert curl, "curl is needed (apt-get install curl)"
    out = subprocess.run([curl, "-sS", "--max-time", "20", "--cacert", certs.root, url(m2_https)],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == BODY
    # two requests on one connection
    big = subprocess.run([curl, "-sS", "--max-time", "20", "--cacert", certs.root, url(m2_https, path="/big"),
                          url(m2_https)], capture_output=True, timeout=30)
    assert big.returncode == 0, big.stderr
    assert big.stdout == bytes(range(256)) * 4096 + BODY
    post = subprocess.run([curl, "-sS", "--max-time", "20", "--cacert", certs.root, "--data-binary", "posted",
                           url(m2_https, path="/echo")], capture_output=True, timeout=30)
    assert post.stdout == b"posted"
    # and curl verifies: without the root it refuses (60: peer certificate cannot be authenticated)
    bad = subprocess.run([curl, "-sS", "--max-time", "20", url(m2_https)], capture_output=True, timeout=30)
    assert bad.returncode == 60, bad.stderr
