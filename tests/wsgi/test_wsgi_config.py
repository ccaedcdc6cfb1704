"""M2Sec.wsgi's configuration: ini and command-line options, server contexts, REMOTE_USER,
loading the application, and mod_ssl's variables from an in-memory handshake."""

import socket
import threading

import pytest

from M2Sec import SSL, X509
from M2Sec.wsgi import M2SecAdapter, options_from_strings, remote_user, server_context, ssl_environ
from M2Sec.wsgi.cli import load_app, main
from M2Sec.wsgi.environ import server_environ
from wsgi_helpers import wpki  # noqa: F401 (fixture)


def test_options_from_ini_strings():
    opts = options_from_strings({"listen": "127.0.0.1:8443", "certfile": "c.pem", "workers": "2",
                                 "header_timeout": "2.5", "verify_client": "optional", "hsts": "", "threads": " 4 "})
    assert opts == {"host": "127.0.0.1", "port": 8443, "cert": "c.pem", "workers": 2, "header_timeout": 2.5,
                    "verify_client": "optional", "threads": 4}
    assert options_from_strings({"listen": "[::1]:0"}) == {"host": "::1", "port": 0}
    with pytest.raises(ValueError, match="unknown option"):
        options_from_strings({"colour": "blue"})
    with pytest.raises(ValueError):
        options_from_strings({"workers": "many"})


def test_server_context_checks(wpki):
    with pytest.raises(ValueError, match="verify_client"):
        server_context(wpki.chain, wpki.key, verify_client="sometimes")
    with pytest.raises(ValueError, match="needs ca"):
        server_context(wpki.chain, wpki.key, verify_client="required")
    with pytest.raises((ValueError, SSL.SSLError), match="mismatch"):
        server_context(wpki.chain, wpki.other_key)  # the key of another certificate
    with pytest.raises(SSL.SSLError):
        server_context(wpki.pki.path("missing.pem"), wpki.key)
    with pytest.raises(ValueError, match="remote_user"):
        M2SecAdapter(wpki.chain, wpki.key, remote_user="uid")
    ctx = server_context(wpki.chain, wpki.key)
    assert ctx.get_min_proto_version() == SSL.TLSv1_2
    assert ctx.get_options() & SSL.m2.SSL_OP_NO_COMPRESSION and ctx.get_options() & SSL.m2.SSL_OP_NO_RENEGOTIATION


def test_remote_user_choices():
    env = {"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_S_DN_CN": "Alice", "SSL_CLIENT_S_DN": "CN=Alice",
           "SSL_CLIENT_SAN_Email_0": "alice@example.org"}
    assert remote_user(env, "cn") == "Alice"
    assert remote_user(env, "email") == "alice@example.org"
    assert remote_user(env, "dn") == "CN=Alice"
    assert remote_user(env, lambda e: e["SSL_CLIENT_S_DN_CN"].lower()) == "alice"
    assert remote_user(env, None) is None
    assert remote_user(dict(env, SSL_CLIENT_VERIFY="FAILED:certificate has expired"), "cn") is None
    with pytest.raises(ValueError):
        remote_user(env, "uid")


def test_load_app_and_cli_usage(capsys):
    assert load_app("wsgi_apps:hello").__name__ == "hello"
    with pytest.raises(ValueError):
        load_app("wsgi_apps")
    with pytest.raises(ValueError):
        load_app("wsgi_apps:nothing_here")
    assert main([]) == 2
    assert main(["serve", "wsgi_apps", "--cert", "x.pem"]) == 2
    assert "package.module:attribute" in capsys.readouterr().err


def test_environ_of_an_in_memory_handshake(wpki):
    """ssl_environ on a server Connection after a handshake with an M2Sec client."""
    sctx = server_context(wpki.chain, wpki.key, ca=wpki.cas, verify_client="required")
    cctx = SSL.create_default_context(cafile=wpki.root)
    cctx.load_cert_chain(wpki.alice_cert, wpki.alice_key)
    a, b = socket.socketpair()
    result = {}

    def server():
        conn = SSL.Connection(sctx, b)
        conn.settimeout(10)
        conn.setup_ssl()
        conn.set_accept_state()
        conn.accept_ssl()
        result["env"] = ssl_environ(conn, server_environ(X509.load_cert(wpki.chain)))
        conn.write(b"x")
        conn.close()

    t = threading.Thread(target=server)
    t.start()
    c = SSL.Connection(cctx, a)
    c.settimeout(10)
    c.set1_host("localhost")
    c.set_tlsext_host_name("localhost")
    c.setup_ssl()
    c.set_connect_state()
    c.connect_ssl()
    assert c.read(1) == b"x"
    c.close()
    t.join(10)
    env = result["env"]
    assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert env["SSL_CLIENT_S_DN"] == "O=M2Sec Users,CN=Alice Example"
    assert env["SSL_CLIENT_S_DN_O"] == "M2Sec Users"
    assert env["SSL_CLIENT_SAN_Email_0"] == "alice@example.org"
    assert env["SSL_SERVER_S_DN"] == "CN=localhost"
    assert env["SSL_TLS_SNI"] == "localhost" and env["SSL_PROTOCOL"] == "TLSv1.3"
