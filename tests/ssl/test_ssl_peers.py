"""M2Sec against real peers on loopback: openssl s_server and s_client (TLS 1.2 and 1.3, client
certificates, resumption, ALPN, SNI) and Python's ssl module, both ways."""

import os
import socket
import ssl

import pytest

from M2Sec import SSL
from ssl_helpers import pki  # noqa: F401  (the fixture)
from ssl_helpers import m2server, resumed, s_client, s_server, serve_once

pytestmark = pytest.mark.timeout(60)


def client(pki, port, ctx=None, host="localhost", **kw):
    c = SSL.Connection(ctx or pki.client_ctx())
    c.settimeout(10)
    for k, v in kw.items():
        getattr(c, k)(v)
    c.connect((host, port))
    return c


def read_line(c):
    data = b""
    while not data.endswith(b"\n"):
        chunk = c.read()
        if not chunk:
            break
        data += chunk
    return data


# -- M2Sec client, openssl s_server ----------------------------------------------------

@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_client_against_s_server(pki, version):
    with s_server(pki, "-rev", version) as srv:
        with client(pki, srv.server_port) as c:
            assert c.get_version() == {"-tls1_2": "TLSv1.2", "-tls1_3": "TLSv1.3"}[version]
            c.sendall(b"hello world\n")
            assert read_line(c) == b"dlrow olleh\n"


def test_client_certificate_to_s_server(pki):
    with s_server(pki, "-rev", "-Verify", "2", "-CAfile", pki.path("root.pem"), "-verify_return_error") as srv:
        ctx = pki.client_ctx()
        ctx.load_cert_chain(pki.chain("client"), pki.path("client.key"))
        with client(pki, srv.server_port, ctx) as c:
            c.sendall(b"abc\n")
            assert read_line(c) == b"cba\n"
        with pytest.raises(SSL.SSLError):
            c = client(pki, srv.server_port)
            c.sendall(b"abc\n")
            read_line(c)


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_resumption_with_s_server(pki, version):
    with s_server(pki, "-rev", version) as srv:
        ctx = pki.client_ctx()
        with client(pki, srv.server_port, ctx) as c:
            c.sendall(b"one\n")
            read_line(c)
            sess = c.get_session()
        assert resumed(ctx, sess, srv.server_port)


def test_alpn_and_sni_with_s_server(pki):
    with s_server(pki, "-rev", "-alpn", "h2,http/1.1", "-servername", "other.example",
                  "-cert2", pki.path("other.pem"), "-key2", pki.path("other.key")) as srv:
        ctx = pki.client_ctx()
        ctx.set_alpn_protocols(["http/1.1"])
        with client(pki, srv.server_port, ctx) as c:
            assert c.get_alpn_selected() == b"http/1.1"
            assert c.get_peer_cert().get_subject().CN == "localhost"
        ctx = SSL.create_default_context(cadata=pki.read("root.pem") + pki.read("inter.pem"))
        with client(pki, srv.server_port, ctx, host="127.0.0.1", set1_host="other.example",
                    set_tlsext_host_name="other.example") as c:
            assert c.get_peer_cert().get_subject().CN == "other.example"


# -- openssl s_client, M2Sec server ------------------------------------------------------

def echo_once(conn):
    conn.sendall(conn.read())


def server_ctx(pki, **settings):
    ctx = pki.server_ctx()
    ctx.set_session_id_ctx(b"peers")
    for k, v in settings.items():
        getattr(ctx, k)(v)
    return ctx


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_s_client_against_server(pki, version):
    with m2server(server_ctx(pki), echo_once) as srv:
        out = s_client(srv.port, "-CAfile", pki.path("root.pem"),
                       "-verify_return_error", "-servername", "localhost", version, "-ign_eof", input=b"ping\n")
    assert "Verify return code: 0 (ok)" in out
    assert ("Protocol  : TLSv1.3" if version == "-tls1_3" else "TLSv1.2") in out
    assert "ping" in out


def test_s_client_resumption_alpn_sni_and_client_cert(pki, tmp_path):
    ctx = server_ctx(pki)
    ctx.set_alpn_protocols(["h2"])
    ctx.load_verify_locations(pki.path("root.pem"))
    ctx.set_verify(SSL.verify_peer | SSL.verify_fail_if_no_peer_cert, 9)
    names = []
    ctx.set_servername_callback(lambda conn, name, c: names.append(name))
    sess = str(tmp_path / "sess.pem")
    common = ["-CAfile", pki.path("root.pem"), "-cert", pki.path("client.pem"), "-key", pki.path("client.key"),
              "-cert_chain", pki.path("inter.pem"), "-alpn", "h2", "-servername", "localhost"]
    with m2server(ctx, echo_once) as srv:
        out1 = s_client(srv.port, *common, "-sess_out", sess, "-ign_eof", input=b"x\n")
        out2 = s_client(srv.port, *common, "-sess_in", sess, "-ign_eof", input=b"x\n")
    assert "ALPN protocol: h2" in out1
    assert "New, TLSv1.3" in out1 and "Reused, TLSv1.3" in out2
    assert names[:2] == ["localhost", "localhost"]
    assert not srv.errors


# -- Python's ssl module, both ways ---------------------------------------------------------

def test_client_against_python_ssl_server(pki):
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(pki.chain("server"), pki.path("server.key"))
    sctx.set_alpn_protocols(["h2"])

    def serve(s):
        with sctx.wrap_socket(s, server_side=True) as t:
            t.sendall(t.recv(100)[::-1])

    ctx = pki.client_ctx()
    ctx.set_alpn_protocols(["h2"])
    with serve_once(serve) as addr:
        with client(pki, addr[1], ctx) as c:
            assert c.get_alpn_selected() == b"h2"
            c.sendall(b"abc")
            assert c.read() == b"cba"


@pytest.mark.parametrize("maxver", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_python_ssl_client_against_server(pki, maxver):
    with m2server(server_ctx(pki)) as srv:
        cctx = ssl.create_default_context(cafile=pki.path("root.pem"))
        cctx.maximum_version = maxver
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            with cctx.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(b"hello")
                assert t.recv(100) == b"hello"
                assert t.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[maxver]
    assert not srv.errors


def test_python_ssl_client_gets_m2sec_close_notify(pki):
    with m2server(server_ctx(pki), lambda conn: conn.write(b"bye")) as srv:
        cctx = ssl.create_default_context(cafile=pki.path("root.pem"))
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            with cctx.wrap_socket(s, server_hostname="localhost", suppress_ragged_eofs=False) as t:
                assert t.recv(100) == b"bye"
                assert t.recv(100) == b""  # a close_notify, not a ragged EOF
