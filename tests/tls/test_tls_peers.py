"""The TLS API against independent peers: openssl s_server/s_client, Python's ssl module, and
tlslite-ng's tls.py/tlsdb.py for SRP in both directions."""

import socket
import ssl
import subprocess
import sys
import time

import pytest

from conftest import TIMEOUT, free_port, read_to_end, tlslite_script, wait_port
from M2Sec.TLS import (AlertDescription, HandshakeSettings, TLSConnection, TLSRemoteAlert, VerifierDB)

pytestmark = pytest.mark.timeout(60)


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_client_against_openssl_s_server(creds, process, version):
    port = free_port()
    process(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", creds.path("server.pem"),
             "-key", creds.path("server.key"), "-cert_chain", creds.path("inter.pem"), "-www", version], port=port)
    conn = TLSConnection(connect(port))
    conn.handshakeClientCert(serverName="localhost", cafile=creds.cafile)
    assert conn.version == ((3, 4) if version == "-tls1_3" else (3, 3))
    conn.write(b"GET / HTTP/1.0\r\n\r\n")
    page = read_to_end(conn)
    assert page.startswith(b"HTTP/1.0 200 ok") and b"Cipher" in page
    session = conn.session
    conn.close()
    again = TLSConnection(connect(port))
    again.handshakeClientCert(serverName="localhost", cafile=creds.cafile, session=session)
    assert again.resumed
    again.close()


def test_client_certificate_to_openssl_s_server(creds, process):
    port = free_port()
    process(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", creds.path("server.pem"),
             "-key", creds.path("server.key"), "-cert_chain", creds.path("inter.pem"), "-Verify", "2",
             "-CAfile", creds.cafile, "-verify_return_error", "-www"], port=port)
    conn = TLSConnection(connect(port))
    conn.handshakeClientCert(creds.chain("client"), creds.key("client"), serverName="localhost",
                             cafile=creds.cafile)
    conn.write(b"GET / HTTP/1.0\r\n\r\n")
    page = conn.read(min=200)
    while True:
        more = conn.read()
        if not more:
            break
        page += more
    assert b"alice client" in page          # s_server -www shows the client's certificate
    conn.close()


def test_server_against_openssl_s_client(creds, server):
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"), reqCert=True,
                             cafile=creds.cafile)
        line = conn.read()
        conn.write(b"echo:" + line)
        conn.close()
        return conn.session.clientCertChain.getFingerprint()
    srv = server(handler)
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-servername", "localhost",
                        "-CAfile", creds.cafile, "-verify_return_error", "-cert", creds.path("client.pem"),
                        "-key", creds.path("client.key"), "-cert_chain", creds.path("inter.pem"), "-quiet"],
                       input=b"hello\n", capture_output=True, timeout=TIMEOUT)
    srv.join()
    assert not srv.errors, srv.errors
    assert b"echo:hello" in p.stdout
    assert srv.results[0] == creds.chain("client").getFingerprint()


def test_python_ssl_client_and_server(creds, server):
    # M2Sec server, Python ssl client
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"), alpn=[b"x"])
        conn.write(conn.read())
        conn.close()
    srv = server(handler)
    ctx = ssl.create_default_context(cafile=creds.cafile)
    ctx.set_alpn_protocols(["x"])
    with ctx.wrap_socket(connect(srv.port), server_hostname="localhost") as s:
        s.sendall(b"py")
        assert s.recv(10) == b"py" and s.selected_alpn_protocol() == "x"
    srv.join()
    assert not srv.errors

    # Python ssl server, M2Sec client, TLS 1.2
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(creds.path("server-chain.pem"), creds.path("server.key"))

    def pyserver(sock):
        with sctx.wrap_socket(sock, server_side=True) as s:
            s.sendall(s.recv(10))
    srv = server(pyserver)
    settings = HandshakeSettings()
    settings.maxVersion = (3, 3)
    conn = TLSConnection(connect(srv.port))
    conn.handshakeClientCert(serverName="localhost", cafile=creds.cafile, settings=settings)
    conn.write(b"ssl")
    assert conn.read() == b"ssl" and conn.version == (3, 3)
    conn.close()
    srv.join()


def _client_keeping_socket(creds, port, version):
    """A client connection (closeSocket False) of version that has written b"tls"."""
    settings = HandshakeSettings()
    settings.maxVersion = version
    sock = connect(port)
    conn = TLSConnection(sock)
    conn.closeSocket = False
    conn.handshakeClientCert(serverName="localhost", cafile=creds.cafile, settings=settings)
    conn.write(b"tls")
    return sock, conn


@pytest.mark.parametrize("version", [(3, 4), (3, 3)])
def test_close_notify_exchange_leaves_the_socket_at_plaintext(creds, server, version):
    """closeSocket=False: close() waits for the peer's close_notify, reading no byte past it,
    so the socket goes on in plaintext (Python's ssl module unwrapping on the other side)."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(creds.path("server-chain.pem"), creds.path("server.key"))

    def pyserver(sock):
        s = sctx.wrap_socket(sock, server_side=True)
        s.sendall(s.recv(10))
        plain = s.unwrap()                     # sends close_notify, waits for the client's
        assert plain.recv(10) == b"GO"
        plain.sendall(b"PLAIN")
    srv = server(pyserver)
    sock, conn = _client_keeping_socket(creds, srv.port, version)
    assert conn.read() == b"tls"
    conn.close()
    assert conn.closed and sock.fileno() != -1
    sock.sendall(b"GO")
    assert sock.recv(10) == b"PLAIN"           # not the rest of a TLS record
    sock.close()
    srv.join()
    assert not srv.errors


@pytest.fixture
def tlslite_db(tmp_path):
    db = str(tmp_path / "tlslite-db")
    tlsdb = tlslite_script("tlsdb.py")
    subprocess.run(tlsdb + ["createsrp", db], check=True, timeout=TIMEOUT, capture_output=True)
    subprocess.run(tlsdb + ["add", db, "alice", "abra123cadabra", "2048"], check=True, timeout=TIMEOUT,
                   capture_output=True)
    return db


def test_srp_client_against_tlslite_server(tlslite_db, process, tmp_path):
    port = free_port()
    process(tlslite_script("tls.py") + ["server", "-v", tlslite_db, "localhost:%d" % port], port=port,
            cwd=str(tmp_path))
    conn = TLSConnection(connect(port))
    conn.handshakeClientSRP("alice", "abra123cadabra")
    assert conn.session.srpUsername == "alice" and conn.version == (3, 3)
    conn.write(b"GET / HTTP/1.0\r\n\r\n")
    assert conn.read(min=15).startswith(b"HTTP/1.0 200")
    conn.close()
    for user, password, alert in (("alice", "bad", AlertDescription.bad_record_mac),
                                  ("bob", "x", AlertDescription.unknown_psk_identity)):
        with pytest.raises(TLSRemoteAlert) as info:
            TLSConnection(connect(port)).handshakeClientSRP(user, password)
        assert info.value.description == alert


def test_tlslite_client_against_srp_server(server):
    db = VerifierDB()
    db.create()
    db["alice"] = VerifierDB.makeVerifier("alice", "abra123cadabra", 2048)

    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(verifierDB=db)
        conn.close()
        return conn.session.srpUsername
    srv = server(handler, n=3)
    tls = tlslite_script("tls.py")
    ok = subprocess.run(tls + ["client", "-u", "alice", "-p", "abra123cadabra", "localhost:%d" % srv.port],
                        capture_output=True, timeout=TIMEOUT)
    bad = subprocess.run(tls + ["client", "-u", "alice", "-p", "wrong", "localhost:%d" % srv.port],
                         capture_output=True, timeout=TIMEOUT)
    unknown = subprocess.run(tls + ["client", "-u", "bob", "-p", "x", "localhost:%d" % srv.port],
                             capture_output=True, timeout=TIMEOUT)
    srv.join()
    assert b"Handshake success" in ok.stdout and srv.results == ["alice"]
    assert b"Bad username or password" in bad.stdout
    assert b"Unknown username" in unknown.stdout
    assert [e.description for e in srv.errors] == [AlertDescription.bad_record_mac,
                                                  AlertDescription.unknown_psk_identity]


def test_verifier_databases_shared_with_tlsdb(tlslite_db, tmp_path, server):
    """tlslite's tlsdb.py and m2sec tlsdb read each other's databases; a server serves either."""
    m2sec = [sys.executable, "-m", "M2Sec", "tlsdb"]
    out = subprocess.run(m2sec + ["check", tlslite_db, "alice", "abra123cadabra"], capture_output=True,
                         timeout=TIMEOUT)
    assert out.returncode == 0 and b"Password is correct" in out.stdout
    ours = str(tmp_path / "ours")
    for args in (["createsrp", ours], ["add", ours, "bob", "swordfish", "1024"]):
        subprocess.run(m2sec + args, check=True, timeout=TIMEOUT, capture_output=True)
    # (tlslite's own tlsdb.py list/check fail on Python 3; its server reads the database)
    port = free_port()
    tls = subprocess.Popen(tlslite_script("tls.py") + ["server", "-v", ours, "localhost:%d" % port], cwd=str(tmp_path),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, tls)
        conn = TLSConnection(connect(port))
        conn.handshakeClientSRP("bob", "swordfish")
        assert conn.session.srpUsername == "bob"
        conn.close()
    finally:
        tls.kill()
        tls.wait(TIMEOUT)
    db = VerifierDB(tlslite_db)
    db.open()

    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(verifierDB=db)
        conn.close()
    srv = server(handler)
    conn = TLSConnection(connect(srv.port))
    conn.handshakeClientSRP("alice", "abra123cadabra")
    conn.close()
    srv.join()
    db.close()
    assert not srv.errors


def test_srp_server_with_a_certificate_chooses_srp_rsa(creds, server):
    """Given a certificate and a verifierDB, the server picks an SRP+RSA suite, as TLS Lite's
    does: it proves itself with its certificate as well as the password, and tls.py client
    prints the certificate's fingerprint."""
    import os
    if not os.path.exists(creds.path("server_rsa-chain.pem")):
        creds.pki.issue("server_rsa", "/CN=localhost", ext=["subjectAltName=DNS:localhost,IP:127.0.0.1"], alg="RSA")
        creds._write_chain("server_rsa")
    db = VerifierDB()
    db.create()
    db["alice"] = VerifierDB.makeVerifier("alice", "abra123cadabra", 2048)

    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(verifierDB=db, certChain=creds.chain("server_rsa"), privateKey=creds.key("server_rsa"))
        assert conn.session.srpUsername == "alice"
        name = conn.getCipherName()
        conn.close()
        return name
    srv = server(handler, n=2)
    out = subprocess.run(tlslite_script("tls.py") + ["client", "-u", "alice", "-p", "abra123cadabra",
                                                     "localhost:%d" % srv.port], capture_output=True, timeout=TIMEOUT)
    conn = TLSConnection(connect(srv.port))
    conn.handshakeClientSRP("alice", "abra123cadabra", cafile=creds.cafile, serverName="localhost")
    assert conn.session.srpUsername == "alice"
    assert conn.session.serverCertChain is not None
    assert conn.session.serverCertChain.getFingerprint() == creds.chain("server_rsa").getFingerprint()
    conn.close()
    srv.join()
    assert b"Handshake success" in out.stdout, out.stdout + out.stderr
    assert creds.chain("server_rsa").getFingerprint().encode() in out.stdout.lower()
    assert srv.results == ["aes256", "aes256"]


@pytest.mark.parametrize("version", [(3, 4), (3, 3)])
def test_read_stops_at_the_peers_close_notify(creds, server, version):
    """The peer sends data, close_notify and plaintext in one go (Python's ssl module over
    memory BIOs): read() gives the data, then b'' for close_notify, and the plaintext is still
    in the socket (issue 18: a normal read took it with the TLS records and it was lost)."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(creds.path("server-chain.pem"), creds.path("server.key"))

    def pyserver(sock):
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = sctx.wrap_bio(inc, out, server_side=True)
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(out.read())
                inc.write(sock.recv(65536))
        sock.sendall(out.read())
        while True:
            try:
                data = obj.read(10)
                break
            except ssl.SSLWantReadError:
                inc.write(sock.recv(65536))
        obj.write(data)
        try:
            obj.unwrap()                       # close_notify, without waiting for the client's
        except ssl.SSLWantReadError:
            pass
        sock.sendall(out.read() + b"PLAIN")    # one send: the client's recv sees all of it
        sock.recv(10)
    srv = server(pyserver)
    sock, conn = _client_keeping_socket(creds, srv.port, version)
    time.sleep(0.3)                            # let the data, close_notify and PLAIN arrive together
    assert conn.read() == b"tls"
    assert conn.read() == b""                  # close_notify
    sock.settimeout(5)
    assert sock.recv(10) == b"PLAIN"
    sock.close()
    srv.join()
    assert not srv.errors
