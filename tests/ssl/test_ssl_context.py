"""SSL.Context and create_default_context(): defaults, settings, bad input; the Checker's
fingerprint pinning and host checks; BIO.SSLBio."""

import re
import socket
import time

import pytest

from M2Sec import BIO, SSL, X509, Err, m2
from ssl_helpers import pki  # noqa: F401  (the fixture)
from ssl_helpers import m2server, serve_once

pytestmark = pytest.mark.timeout(60)


def test_m2crypto_defaults():
    ctx = SSL.Context()
    opts = ctx.get_options()
    for flag in (m2.SSL_OP_NO_SSLv3, m2.SSL_OP_NO_TLSv1, m2.SSL_OP_NO_TLSv1_1, m2.SSL_OP_NO_SSLv2):
        assert opts & flag
    assert ctx.get_verify_mode() == SSL.verify_none
    assert not ctx.check_hostname
    assert not SSL.Context(weak_crypto=1).get_options() & m2.SSL_OP_NO_TLSv1
    with pytest.raises(ValueError):
        SSL.Context("tlsv5")
    assert ctx.set_session_timeout(100) > 0 and ctx.get_session_timeout() == 100
    ctx.set_session_cache_mode(m2.SSL_SESS_CACHE_BOTH)
    assert ctx.get_session_cache_mode() == m2.SSL_SESS_CACHE_BOTH
    assert ctx.clear_options(m2.SSL_OP_NO_TLSv1) & m2.SSL_OP_NO_TLSv1 == 0


def test_default_context():
    ctx = SSL.create_default_context()
    assert ctx.check_hostname
    assert ctx.get_verify_mode() == SSL.verify_peer | SSL.verify_fail_if_no_peer_cert
    assert ctx.get_min_proto_version() == SSL.TLSv1_2
    assert ctx.get_options() & m2.SSL_OP_NO_COMPRESSION
    ctx.unsafe_skip_hostname_check()
    assert not ctx.check_hostname and ctx.get_verify_mode() != SSL.verify_none
    ctx.unsafe_disable_verification()
    assert ctx.get_verify_mode() == SSL.verify_none
    server = SSL.create_default_context(SSL.Purpose.CLIENT_AUTH)
    assert not server.check_hostname and server.get_verify_mode() == SSL.verify_none
    with pytest.raises(ValueError):
        SSL.create_default_context("nonsense")
    with pytest.raises(SSL.SSLError):
        SSL.create_default_context(cadata=b"no certificate here")


def test_keylog_from_environment(pki, tmp_path, monkeypatch):
    path = tmp_path / "sslkeys"
    monkeypatch.setenv("SSLKEYLOGFILE", str(path))
    ctx = SSL.create_default_context(cafile=pki.path("root.pem"))
    with m2server(pki.server_ctx()) as srv:
        c = SSL.Connection(ctx)
        c.settimeout(10)
        c.connect(("localhost", srv.port))
        c.close()
    ctx.close()
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in path.read_text()


def test_load_errors(pki, tmp_path):
    ctx = SSL.Context()
    with pytest.raises(SSL.SSLError):
        ctx.load_cert(str(tmp_path / "missing.pem"))
    with pytest.raises((ValueError, SSL.SSLError), match="mismatch"):
        ctx.load_cert(pki.path("server.pem"), pki.path("client.key"))
    with pytest.raises(ValueError):
        ctx.load_verify_locations(None, None)
    with pytest.raises(SSL.SSLError):
        ctx.load_verify_locations(str(tmp_path / "missing.pem"))
    with pytest.raises(SSL.SSLError):
        ctx.set_client_CA_list_from_file(str(tmp_path / "missing.pem"))
    with pytest.raises(TypeError):
        ctx.set_verify(SSL.verify_peer, 9, 1)
    with pytest.raises(SSL.SSLError):
        ctx.set_session_id_ctx(b"x" * 33)
    with pytest.raises(SSL.SSLError):
        SSL.Session.load_session(pki.path("server.pem"))
    assert ctx.set_cipher_list("NO-SUCH-CIPHER") == 0  # M2Crypto's answer, no exception
    assert m2.err_peek_error() == 0


def test_encrypted_key_and_in_memory_certificate(pki, tmp_path):
    enc = str(tmp_path / "enc.key")
    pki_key = pki.path("server.key")
    import subprocess

    subprocess.run(["openssl", "pkey", "-in", pki_key, "-aes256", "-passout", "pass:secret", "-out", enc], check=True)
    ctx = SSL.Context()
    ctx.load_cert(pki.path("server.pem"), enc, callback=lambda v: b"secret")
    ctx2 = SSL.Context()
    with pytest.raises(SSL.SSLError):
        ctx2.load_cert(pki.path("server.pem"), enc, callback=lambda v: b"wrong")
    from M2Sec import EVP

    ctx3 = SSL.Context()
    key = EVP.load_key(pki.path("server.key")) if hasattr(EVP, "load_key") else None
    if key is not None:
        ctx3.use_certificate(X509.load_cert(pki.path("server.pem")), key, [X509.load_cert(pki.path("inter.pem"))])
        with m2server(ctx3) as srv:
            c = SSL.Connection(pki.client_ctx())
            c.settimeout(10)
            c.connect(("localhost", srv.port))
            c.close()


def test_cert_store_and_ctxmap(pki):
    ctx = SSL.Context()
    ctx.load_verify_locations(pki.path("root.pem"))
    store = ctx.get_cert_store()
    assert isinstance(store, X509.X509_Store)
    ctx.close()
    store.add_x509(X509.load_cert(pki.path("inter.pem")))  # the store outlives the context
    assert SSL.Context.__name__ == "Context"
    from M2Sec.SSL.Context import ctxmap

    ctx = SSL.Context()
    assert ctxmap()[int(ctx.ctx)] is ctx
    ctx.close()
    with pytest.raises(Err.ClosedError):
        ctx.ctx


# -- Checker ---------------------------------------------------------------------------

def test_checker_fingerprint_pinning(pki):
    cert = X509.load_cert(pki.path("server.pem"))
    fp = cert.get_fingerprint("sha256")
    assert SSL.Checker.Checker(peerCertHash=fp)(cert, "localhost")
    colons = ":".join(fp[i:i + 2] for i in range(0, len(fp), 2)).lower()
    assert SSL.Checker.Checker(peerCertHash=colons.encode())(cert)
    with pytest.raises(SSL.Checker.WrongCertificate):
        SSL.Checker.Checker(peerCertHash="00" * 32)(cert)
    with pytest.raises(SSL.Checker.WrongCertificate):
        SSL.Checker.Checker(peerCertHash="00" * 20)(cert)
    assert SSL.Checker.Checker(peerCertHash=cert.get_fingerprint("sha1"), peerCertDigest="sha1")(cert)
    with pytest.raises(SSL.Checker.NoCertificate):
        SSL.Checker.Checker()(None)
    with pytest.raises(SSL.Checker.WrongHost):
        SSL.Checker.Checker()(cert, "127.0.0.2")
    assert SSL.Checker.Checker()(cert, "127.0.0.1")
    assert issubclass(SSL.Checker.WrongHost, SSL.SSLError)


def test_checker_as_post_connection_check(pki):
    cert = X509.load_cert(pki.path("server.pem"))
    with m2server(pki.server_ctx()) as srv:
        good = SSL.Context(post_connection_check=SSL.Checker.Checker(peerCertHash=cert.get_fingerprint("sha256")))
        c = SSL.Connection(good)
        c.settimeout(10)
        c.connect(("127.0.0.1", srv.port))
        c.close()
        bad = SSL.Context(post_connection_check=SSL.Checker.Checker(peerCertHash="AB" * 32))
        c = SSL.Connection(bad)
        c.settimeout(10)
        with pytest.raises(SSL.Checker.WrongCertificate):
            c.connect(("127.0.0.1", srv.port))
        c.close()


# -- BIO.SSLBio ------------------------------------------------------------------------

def test_sslbio_handshake_over_memory(pki):
    def server(s):
        conn = SSL.Connection(pki.server_ctx(), s)
        conn.settimeout(10)
        conn.handshake_on_existing_socket(server_side=True)
        conn.write(b"over sslbio")
        conn.close()

    with serve_once(server) as addr:
        sock = socket.create_connection(addr, timeout=10)
        conn = SSL.Connection(pki.client_ctx())
        rbio, wbio = BIO.MemoryBuffer(), BIO.MemoryBuffer()
        sslbio = BIO.SSLBio()
        sslbio.set_ssl(conn)
        conn.set_bio(rbio, wbio)
        conn.set_connect_state()
        conn.set1_host("localhost")
        while True:
            ret = sslbio.do_handshake()
            out = wbio.read()
            if out:
                sock.sendall(out)
            if ret > 0:
                break
            assert sslbio.should_retry()
            if not out and sslbio.should_read():
                rbio.write(sock.recv(4096))
        data = b""
        while not data:
            rbio.write(sock.recv(4096))
            data = sslbio.read(100)
        assert data == b"over sslbio"
        sock.close()
        sslbio.close()
        conn.free()


# ---- load_cert_chain with a PKCS#12 file (issue 16) ---------------------------------------

def _server_p12(pki, password):
    from M2Sec import EVP, PKCS12

    return PKCS12.serialize_key_and_certificates(
        b"server", EVP.load_key(pki.path("server.key")), X509.load_cert(pki.path("server.pem")),
        [X509.load_cert(pki.path("inter.pem"))], password)


@pytest.mark.parametrize("name", ["server.p12", "server.PFX", "server.bin"])
def test_load_cert_chain_pkcs12(pki, tmp_path, name):
    from ssl_helpers import s_client

    path = tmp_path / name
    path.write_bytes(_server_p12(pki, b"p12 pw"))
    ctx = SSL.Context()
    ctx.load_cert_chain(str(path), password="p12 pw")
    with m2server(ctx) as srv:
        out = s_client(srv.port, "-CAfile", pki.path("root.pem"), "-verify_return_error", "-servername", "localhost",
                       "-verify_hostname", "localhost", input=b"hello\n")
    assert "Verify return code: 0 (ok)" in out, out
    # the intermediate came from the PKCS#12 file (OpenSSL 3.0 prints "CN = x", 3.5 "CN=x")
    assert re.search(r"depth=1 CN ?= ?Test Intermediate CA", out), out
    assert not srv.errors or all(isinstance(e, SSL.SSLError) for e in srv.errors)


def test_load_cert_chain_pkcs12_errors(pki, tmp_path):
    from M2Sec import PKCS12

    path = tmp_path / "server.p12"
    path.write_bytes(_server_p12(pki, b"p12 pw"))
    ctx = SSL.Context()
    with pytest.raises(PKCS12.PKCS12PasswordError):
        ctx.load_cert_chain(str(path), password=b"wrong")
    with pytest.raises(PKCS12.PKCS12PasswordError):
        ctx.load_cert_chain(str(path))
    path.write_bytes(_server_p12(pki, b"p12 pw")[:100])
    with pytest.raises(PKCS12.PKCS12Error):
        ctx.load_cert_chain(str(path), password=b"p12 pw")
    only_cas = PKCS12.serialize_key_and_certificates(None, None, None, [X509.load_cert(pki.path("inter.pem"))], b"x")
    path.write_bytes(only_cas)
    with pytest.raises(PKCS12.PKCS12Error, match="no private key"):
        ctx.load_cert_chain(str(path), password=b"x")
    with pytest.raises(SSL.SSLError):
        ctx.load_cert_chain(str(tmp_path / "missing.p12"), password=b"x")


def test_load_cert_chain_pem_key_password(pki, tmp_path):
    from pki_helpers import openssl as run

    key = tmp_path / "enc.key"
    run("pkey", "-in", pki.path("server.key"), "-aes256", "-passout", "pass:pem pw", "-out", str(key))
    ctx = SSL.Context()
    ctx.load_cert_chain(pki.chain("server"), str(key), password="pem pw")
    with pytest.raises(SSL.SSLError):
        SSL.Context().load_cert_chain(pki.chain("server"), str(key), password=b"wrong")


def test_crl_built_by_m2sec_revokes_a_server(pki):
    """A CRL made with X509.make_crl, in a client context's store, fails the handshake with a
    revoked server certificate and lets the others through."""
    from M2Sec import EVP

    inter, inter_key = X509.load_cert(pki.path("inter.pem")), EVP.load_key(pki.path("inter.key"))
    server = X509.load_cert(pki.path("server.pem"))
    with m2server(pki.server_ctx()) as srv:
        for revoked, ok in (([server], False), ([server.get_serial_number() + 1], True)):
            ctx = pki.client_ctx()
            ctx.get_cert_store().add_crl(X509.make_crl(inter, inter_key, revoked, crl_number=1,
                                                      last_update=time.time() - 300))
            ctx.set_verify_flags(SSL.verify_crl_check_leaf)
            c = SSL.Connection(ctx)
            c.settimeout(10)
            try:
                if ok:
                    c.connect(("localhost", srv.port))
                else:
                    with pytest.raises(SSL.CertificateRevokedError) as exc:
                        c.connect(("localhost", srv.port))
                    assert exc.value.verify_code == X509.X509_V_ERR_CERT_REVOKED
            finally:
                c.close()
                ctx.close()
