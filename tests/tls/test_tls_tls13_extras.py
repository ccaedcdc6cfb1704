"""The TLS API's external PSKs (HandshakeSettings.pskConfigs, tlslite-ng's format), KeyUpdate
(TLSConnection.send_keyupdate_request) and post-handshake authentication
(request_post_handshake_auth): pairs over loopback, then openssl s_server/s_client and
tlslite-ng's tls.py as peers, then bad settings and bad use."""

import os
import select
import socket
import subprocess
import time

import pytest

from conftest import TIMEOUT, echo, free_port, read_to_end, tlslite_script, wait_port

from M2Sec.TLS import (AlertDescription, HandshakeSettings, KeyUpdateMessageType, TLSClosedConnectionError,
                       TLSConnection, TLSIllegalParameterException, TLSLocalAlert, TLSRemoteAlert)

pytestmark = pytest.mark.timeout(60)

PSK = bytes(range(100, 132))
IDENTITY = b"tls-api-client"


def psk_settings(max_version=(3, 4), configs=None, **kw):
    s = HandshakeSettings()
    s.maxVersion = max_version
    s.pskConfigs = configs if configs is not None else [(IDENTITY, PSK)]
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def psk_server(settings, **kw):
    """A handler: a certificate-less PSK server echoing one read; returns the connection."""
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(settings=settings, **kw)
        data = conn.read()
        conn.write(data)
        conn.close()
        return conn
    return handler


# ---- pskConfigs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [(3, 4), (3, 3)])
def test_psk_pair(server, version):
    srv = server(psk_server(psk_settings(version, [(b"someone else", b"k" * 32), (IDENTITY, PSK, "sha256")])))
    conn = TLSConnection(srv.connect())
    conn.handshakeClientCert(settings=psk_settings(version))
    assert conn.version == version
    assert conn.session.serverCertChain is None       # authenticated by the PSK, no certificate
    assert echo(conn) == b"ping"
    conn.close()
    srv.join()
    assert not srv.errors and srv.results[0].version == version


def test_psk_with_certificate_server(creds, server):
    """A server with both a certificate and PSKs: the client offering its PSK is let in by it."""
    srv = server(psk_server(psk_settings(), certChain=creds.chain("server"), privateKey=creds.key("server")))
    conn = TLSConnection(srv.connect())
    conn.handshakeClientCert(settings=psk_settings(), serverName="localhost", cafile=creds.cafile)
    assert conn.session.serverCertChain is None
    assert echo(conn) == b"ping"
    conn.close()
    srv.join()
    assert not srv.errors


def test_psk_wrong_key_and_unknown_identity(server):
    srv = server(psk_server(psk_settings((3, 3))), n=2)
    conn = TLSConnection(srv.connect())
    with pytest.raises((TLSLocalAlert, TLSRemoteAlert)):
        conn.handshakeClientCert(settings=psk_settings((3, 3), [(IDENTITY, b"not the key")]))
    conn = TLSConnection(srv.connect())
    with pytest.raises(TLSRemoteAlert) as info:
        conn.handshakeClientCert(settings=psk_settings((3, 3), [(b"stranger", PSK)]))
    assert info.value.description == AlertDescription.unknown_psk_identity
    srv.join()
    assert len(srv.errors) == 2


@pytest.mark.parametrize("flag", ["-tls1_3", "-tls1_2"])
def test_psk_client_against_openssl_s_server(process, flag):
    port = free_port()
    process(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-nocert", "-psk", PSK.hex(),
             "-psk_identity", IDENTITY.decode(), "-rev", flag], port=port)
    conn = TLSConnection(connect(port))
    conn.handshakeClientCert(settings=psk_settings((3, 4) if flag == "-tls1_3" else (3, 3)))
    assert conn.version == ((3, 4) if flag == "-tls1_3" else (3, 3))
    conn.write(b"olleh\n")
    assert conn.read(min=6) == b"hello\n"
    conn.close()


@pytest.mark.parametrize("flag", ["-tls1_3", "-tls1_2"])
def test_psk_server_against_openssl_s_client(server, flag):
    srv = server(psk_server(psk_settings()))
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, flag, "-psk", PSK.hex(),
                        "-psk_identity", IDENTITY.decode(), "-ign_eof"], input=b"ping\n", capture_output=True, timeout=TIMEOUT)
    srv.join()
    assert not srv.errors, srv.errors
    assert srv.results[0].version == ((3, 4) if flag == "-tls1_3" else (3, 3))
    assert b"ping" in p.stdout


def test_psk_client_against_tlslite_ng(process):
    port = free_port()
    process(tlslite_script("tls.py") + ["server", "--psk", PSK.hex(), "--psk-ident", IDENTITY.decode(),
                                         "--echo", "127.0.0.1:%d" % port], port=port)
    conn = TLSConnection(connect(port))
    conn.handshakeClientCert(settings=psk_settings())
    assert conn.version == (3, 4) and conn.session.serverCertChain is None
    assert echo(conn) == b"ping"
    conn.close()


def test_psk_server_against_tlslite_ng(server):
    srv = server(psk_server(psk_settings()))
    p = subprocess.run(tlslite_script("tls.py") + ["client", "--psk", PSK.hex(), "--psk-ident", IDENTITY.decode(),
                                                    "localhost:%d" % srv.port], capture_output=True, timeout=TIMEOUT)
    srv.join()
    assert b"Handshake success" in p.stdout, p.stdout + p.stderr
    assert not srv.errors, srv.errors


BAD_CONFIGS = [
    ("not a list", TypeError), ([IDENTITY], TypeError), ([(IDENTITY,)], TypeError), ([(IDENTITY, "text")], TypeError),
    ([(42, PSK)], TypeError), ([(b"", PSK)], ValueError), ([(IDENTITY, b"")], ValueError),
    ([(b"x" * 300, PSK)], ValueError), ([(IDENTITY, PSK, "sha512")], ValueError), ([(IDENTITY, PSK, 384)], ValueError),
    ([(IDENTITY, PSK), (IDENTITY, PSK)], ValueError), ([(IDENTITY, b"k" * 600)], ValueError),
]


@pytest.mark.parametrize("configs,exc", BAD_CONFIGS)
def test_psk_configs_checked(configs, exc):
    s = HandshakeSettings()
    s.pskConfigs = configs
    with pytest.raises(exc):
        s.validate()


def test_psk_settings_details():
    s = psk_settings(cipherNames=["aes256gcm"], macNames=["aead"])
    with pytest.raises(ValueError, match="sha256 PSK needs"):
        s.validate()
    s = psk_settings(configs=[(IDENTITY, PSK, "sha384")], cipherNames=["aes128gcm"], macNames=["aead"])
    with pytest.raises(ValueError, match="sha384 PSK needs"):
        s.validate()
    s = psk_settings()
    assert PSK.hex() not in repr(s) and repr(PSK) not in repr(s) and "<secret>" in repr(s)
    config = s.validate()._config
    assert config.psk == [(IDENTITY, PSK, "sha256")]
    assert config.cipher_list.startswith("kECDHEPSK")
    assert "kPSK" not in config.cipher_list            # psk_ke is not allowed by default
    assert "kPSK" in psk_settings(psk_modes=["psk_dhe_ke", "psk_ke"]).validate()._config.cipher_list
    with pytest.raises(ValueError, match="pskConfigs"):
        TLSConnection(socket.socket()).handshakeServer()


@pytest.mark.parametrize("client_hash,server_configs", [
    ("sha384", [(IDENTITY, PSK, "sha384")]),
    ("sha384", [(b"other", PSK), (IDENTITY, PSK, "sha384")]),
    ("sha256", [(b"other", PSK, "sha384"), (IDENTITY, PSK, "sha256")]),
])
def test_psk_hashes(server, client_hash, server_configs):
    srv = server(psk_server(psk_settings(configs=server_configs)))
    conn = TLSConnection(srv.connect())
    conn.handshakeClientCert(settings=psk_settings(configs=[(IDENTITY, PSK, client_hash)]))
    assert conn.session.cipherSuite == (0x1302 if client_hash == "sha384" else 0x1303)
    assert echo(conn) == b"ping"
    conn.close()
    srv.join()
    assert not srv.errors, srv.errors


def test_psk_sha384_with_tlslite_ng(process, server):
    """tlslite-ng's tls.py with --psk-sha384, as server and as client."""
    configs = [(IDENTITY, PSK, "sha384")]
    port = free_port()
    process(tlslite_script("tls.py") + ["server", "--psk", PSK.hex(), "--psk-ident", IDENTITY.decode(), "--psk-sha384",
                                         "--echo", "127.0.0.1:%d" % port], port=port)
    conn = TLSConnection(connect(port))
    conn.handshakeClientCert(settings=psk_settings(configs=configs))
    assert conn.session.cipherSuite == 0x1302
    assert echo(conn) == b"ping"
    conn.close()
    srv = server(psk_server(psk_settings(configs=configs)))
    p = subprocess.run(tlslite_script("tls.py") + ["client", "--psk", PSK.hex(), "--psk-ident", IDENTITY.decode(),
                                                    "--psk-sha384", "localhost:%d" % srv.port],
                       capture_output=True, timeout=TIMEOUT)
    srv.join()
    assert b"Handshake success" in p.stdout, p.stdout + p.stderr
    assert not srv.errors, srv.errors


# ---- KeyUpdate ----------------------------------------------------------------------------------------------
def test_keyupdate_pair(creds, server):
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"))
        for _ in range(4):
            conn.write(conn.read())
        for _ in conn.send_keyupdate_request(KeyUpdateMessageType.update_requested):
            pass
        conn.write(b"server after its update")
        conn.write(conn.read())
        conn.close()

    srv = server(handler)
    conn = TLSConnection(srv.connect())
    conn.handshakeClientCert(serverName="localhost", cafile=creds.cafile)
    assert echo(conn, b"before") == b"before"
    for _ in conn.send_keyupdate_request(KeyUpdateMessageType.update_not_requested):
        pass
    assert echo(conn, b"after one") == b"after one"
    for _ in conn.send_keyupdate_request(KeyUpdateMessageType.update_requested):
        pass
    assert echo(conn, b"after two") == b"after two"
    conn.send_keyupdate_request(KeyUpdateMessageType.update_requested)   # not iterated: goes with the write
    assert echo(conn, b"after three") == b"after three"
    assert conn.read(min=len(b"server after its update")) == b"server after its update"
    assert echo(conn, b"last") == b"last"
    conn.close()
    srv.join()
    assert not srv.errors, srv.errors


def test_keyupdate_against_openssl_s_server(creds):
    port = free_port()
    p = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", creds.path("server.pem"),
                          "-key", creds.path("server.key"), "-cert_chain", creds.path("inter.pem"), "-msg", "-rev",
                          "-naccept", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_port(port, p)
        conn = TLSConnection(connect(port))
        conn.handshakeClientCert(serverName="localhost", cafile=creds.cafile)
        conn.write(b"eno\n")
        assert conn.read(min=4) == b"one\n"
        for _ in conn.send_keyupdate_request(KeyUpdateMessageType.update_requested):
            pass
        conn.write(b"owt\n")
        assert conn.read(min=4) == b"two\n"
        conn.close()
    finally:
        p.kill()
        out = p.communicate(timeout=TIMEOUT)[0]
    assert b"<<< TLS 1.3, Handshake [length 0005], KeyUpdate" in out
    assert b">>> TLS 1.3, Handshake [length 0005], KeyUpdate" in out   # s_server's answer


def test_keyupdate_bad_use(creds, server):
    def handler(sock):
        conn = TLSConnection(sock)
        s = HandshakeSettings()
        s.maxVersion = (3, 3)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"), settings=s)
        conn.read()
        conn.close()

    srv = server(handler)
    conn = TLSConnection(srv.connect())
    with pytest.raises(TLSClosedConnectionError):
        conn.send_keyupdate_request(KeyUpdateMessageType.update_requested)   # no handshake yet
    conn.handshakeClientCert(serverName="localhost", cafile=creds.cafile)
    with pytest.raises(TLSIllegalParameterException, match="TLS 1.3"):
        conn.send_keyupdate_request(KeyUpdateMessageType.update_requested)
    for bad in (2, -1, True, "update_requested", None):
        with pytest.raises(TLSIllegalParameterException):
            conn.send_keyupdate_request(bad)
    conn.write(b"still usable")
    conn.close()
    with pytest.raises(TLSClosedConnectionError):
        conn.send_keyupdate_request(KeyUpdateMessageType.update_not_requested)
    srv.join()
    assert not srv.errors, srv.errors



# ---- post-handshake authentication ------------------------------------------------------------------
def pha_server(creds, **kw):
    """A handler: handshake, read a line, request the client's certificate, answer, read again,
    and return the client's chain as the session has it."""
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"), **kw)
        before = conn.session.clientCertChain
        conn.read(min=5)
        for _ in conn.request_post_handshake_auth():
            pass
        conn.write(b"who are you?")
        conn.read(min=5)
        after = conn.session.clientCertChain
        conn.write(b"bye")
        conn.close()
        return before, after
    return handler


def test_pha_pair(creds, server):
    srv = server(pha_server(creds, cafile=creds.cafile))
    conn = TLSConnection(srv.connect())
    conn.handshakeClientCert(creds.chain("client"), creds.key("client"), serverName="localhost", cafile=creds.cafile)
    conn.write(b"hello")
    assert conn.read(min=12) == b"who are you?"          # the read answered the request
    conn.write(b"again")
    assert conn.read(min=3) == b"bye"
    conn.close()
    srv.join()
    assert not srv.errors, srv.errors
    before, after = srv.results[0]
    assert before is None
    assert after.getFingerprint() == creds.chain("client").getFingerprint()


def test_pha_refused(creds, server):
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"), settings=settings)
        try:
            with pytest.raises(ValueError, match=match):
                conn.request_post_handshake_auth()
            with pytest.raises(ValueError, match="settings"):
                conn.request_post_handshake_auth(HandshakeSettings())
        finally:
            conn.write(conn.read())
            conn.close()

    for settings, match in ((HandshakeSettings(), "did not offer"), (psk_settings((3, 3), []), "TLS 1.3")):
        srv = server(handler)
        conn = TLSConnection(srv.connect())
        conn.handshakeClientCert(serverName="localhost", cafile=creds.cafile)   # no certificate: no PHA offered
        with pytest.raises(ValueError, match="by a server|TLS 1.3"):
            conn.request_post_handshake_auth()
        assert echo(conn) == b"ping"
        conn.close()
        srv.join()
        assert not srv.errors, srv.errors


def test_pha_server_against_openssl_s_client(creds, server):
    srv = server(pha_server(creds, cafile=creds.cafile))
    p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-enable_pha",
                          "-cert", creds.path("client.pem"), "-key", creds.path("client.key"),
                          "-cert_chain", creds.path("inter.pem"), "-ign_eof"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        p.stdin.write(b"hello\n")
        p.stdin.flush()
        seen = b""
        deadline = time.monotonic() + TIMEOUT
        while b"who are you?" not in seen and time.monotonic() < deadline:   # s_client answered the request
            if select.select([p.stdout], [], [], 0.1)[0]:
                seen += os.read(p.stdout.fileno(), 65536)
        p.stdin.write(b"again\n")
        p.stdin.flush()
        out = seen + p.communicate(timeout=TIMEOUT)[0]
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=TIMEOUT)
    srv.join()
    assert not srv.errors, srv.errors
    assert b"who are you?" in out and b"bye" in out
    assert srv.results[0][1].getFingerprint() == creds.chain("client").getFingerprint()


def test_pha_client_against_tlslite_ng_server(creds, process, tmp_path):
    """tlslite-ng's tls.py server asks for the client's certificate when /secret is requested."""
    port = free_port()
    p = process(tlslite_script("tls.py") + ["server", "-c", creds.path("server-chain.pem"), "-k", creds.path("server.key"),
                                             "127.0.0.1:%d" % port], port=port, cwd=str(tmp_path))
    conn = TLSConnection(connect(port))
    conn.handshakeClientCert(creds.chain("client"), creds.key("client"), serverName="localhost", cafile=creds.cafile)
    conn.write(b"GET /secret HTTP/1.0\r\n\r\n")
    answer = read_to_end(conn)
    conn.close()
    assert answer.startswith(b"HTTP/1.0 404"), answer     # served (no such file), not refused (401)
    p.kill()
    out = p.communicate(timeout=TIMEOUT)[0]
    assert b"Got client certificate in post-handshake auth" in out, out
