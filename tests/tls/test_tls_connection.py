"""TLSConnection client/server pairs over loopback: each handshake function, resumption, SRP,
client certificates, checks, alerts, closing, and the select-style generators."""

import os
import select
import socket
import threading
import time

import pytest

from conftest import TIMEOUT, echo
from M2Sec import m2

from M2Sec.TLS import (AlertDescription, Checker, HandshakeSettings, SessionCache, TLSAbruptCloseError,
                       TLSClosedConnectionError, TLSConnection, TLSFingerprintError, TLSLocalAlert,
                       TLSNoAuthenticationError, TLSRemoteAlert, VerifierDB)

pytestmark = pytest.mark.timeout(30)


def serve_cert(creds, **kw):
    """A handler: handshakeServer with the server chain, then echo one read."""
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"), **kw)
        data = conn.read()
        conn.write(data)
        conn.close()
        return conn
    return handler


def client(srv, creds, **kw):
    conn = TLSConnection(srv.connect())
    kw.setdefault("serverName", "localhost")
    kw.setdefault("cafile", creds.cafile)
    conn.handshakeClientCert(**kw)
    return conn


def test_cert_handshake_and_data(creds, server):
    srv = server(serve_cert(creds))
    conn = client(srv, creds)
    assert conn.version == (3, 4) and conn.getVersionName() == "TLS 1.3"
    assert conn.getCipherName() in ("aes256gcm", "aes128gcm", "chacha20-poly1305")
    assert conn.session.serverCertChain.getFingerprint() == creds.chain("server").getFingerprint()
    assert conn.session.cipherSuite in (0x1301, 0x1302, 0x1303)
    assert echo(conn, b"x" * 1000) == b"x" * 1000
    assert conn.read() == b""            # close_notify
    conn.close()
    conn.close()
    srv.join()
    assert not srv.errors


def test_tls12_by_settings(creds, server):
    settings = HandshakeSettings()
    settings.maxVersion = (3, 3)
    settings.cipherNames = ["aes128gcm"]
    srv = server(serve_cert(creds))
    conn = client(srv, creds, settings=settings)
    assert conn.version == (3, 3) and conn.getCipherName() == "aes128gcm"
    assert conn.session.getMacName() == "aead"
    echo(conn)
    conn.close()
    srv.join()


@pytest.mark.parametrize("max_version", [(3, 4), (3, 3)])
def test_resumption(creds, server, max_version):
    cache = SessionCache()
    settings = HandshakeSettings()
    settings.maxVersion = max_version
    srv = server(serve_cert(creds, sessionCache=cache), n=2)
    first = client(srv, creds, settings=settings)
    echo(first)
    first.close()
    session = first.session
    assert session.valid() and not first.resumed
    second = client(srv, creds, settings=settings, session=session)
    echo(second)
    second.close()
    assert second.resumed and second.version == max_version
    assert second.session.serverCertChain is not None or max_version == (3, 4)
    srv.join()
    assert not srv.errors and all(c.resumed == (i == 1) for i, c in enumerate(srv.results[:2]))


def test_no_resumption_without_cache(creds, server):
    srv = server(serve_cert(creds), n=2)
    first = client(srv, creds)
    echo(first)
    first.close()
    second = client(srv, creds, session=first.session)
    echo(second)
    second.close()
    assert not second.resumed
    srv.join()


def test_client_certificate_and_checkers(creds, server):
    fp = creds.chain("client").getFingerprint()
    srv = server(serve_cert(creds, reqCert=True, checker=Checker(x509Fingerprint=fp)))
    conn = client(srv, creds, certChain=creds.chain("client"), privateKey=creds.key("client"))
    echo(conn)
    conn.close()
    srv.join()
    assert not srv.errors
    assert srv.results[0].session.clientCertChain.getFingerprint() == fp


def test_client_certificate_verified_by_ca(creds, server):
    srv = server(serve_cert(creds, reqCert=True, cafile=creds.cafile))
    conn = client(srv, creds, certChain=creds.chain("client"), privateKey=creds.key("client"))
    echo(conn)
    conn.close()
    srv.join()
    assert not srv.errors


def test_server_checker_refuses_missing_certificate(creds, server):
    srv = server(serve_cert(creds, reqCert=True, checker=Checker(x509Fingerprint="00" * 20)))
    conn = client(srv, creds)
    with pytest.raises((TLSAbruptCloseError, TLSRemoteAlert, OSError)):
        echo(conn)
    srv.join()
    assert isinstance(srv.errors[0], TLSNoAuthenticationError)


def test_client_fingerprint_pin(creds, server):
    srv = server(serve_cert(creds), n=2)
    good = creds.chain("server").getFingerprint()
    conn = client(srv, creds, checker=Checker(x509Fingerprint=good), cafile=None)   # the pin replaces the CA
    echo(conn)
    conn.close()
    sock = srv.connect()
    conn = TLSConnection(sock)
    with pytest.raises(TLSFingerprintError):
        conn.handshakeClientCert(checker=Checker(x509Fingerprint="ab" * 20))
    assert conn.closed and sock.fileno() == -1
    assert conn.session.serverCertChain is not None and not conn.session.valid()   # refused: not to be resumed
    srv.join()


@pytest.mark.parametrize("kw, alert", [
    ({"cafile": None}, AlertDescription.unknown_ca),                       # system store: not our CA
    ({"serverName": "www.example.com"}, AlertDescription.bad_certificate),   # host name mismatch
])
def test_verification_on_by_default(creds, server, kw, alert):
    srv = server(serve_cert(creds))
    with pytest.raises(TLSLocalAlert) as info:
        client(srv, creds, **kw)
    assert info.value.description == alert and info.value.verify_code != 0
    srv.join()
    assert isinstance(srv.errors[0], TLSRemoteAlert) and srv.errors[0].description == alert


def test_verify_false(creds, server):
    srv = server(serve_cert(creds))
    conn = client(srv, creds, cafile=None, serverName="www.example.com", verify=False)
    echo(conn)
    conn.close()
    srv.join()


def test_alpn_and_sni(creds, server):
    srv = server(serve_cert(creds, alpn=[b"h2", b"http/1.1"], sni="localhost"), n=2)
    conn = client(srv, creds, alpn=[b"http/1.1"])
    assert conn.next_proto == b"http/1.1"
    echo(conn)
    conn.close()
    with pytest.raises(TLSRemoteAlert) as info:
        client(srv, creds, alpn=[b"spdy/1"])
    srv.join()
    assert info.value.description == AlertDescription.no_application_protocol


def test_server_session_names_the_sni_received(creds, server):
    srv = server(serve_cert(creds), n=2)
    for name in ("localhost", None):
        conn = client(srv, creds, serverName=name)
        assert conn.session.serverName == (name or "")
        echo(conn)
        conn.close()
    srv.join()
    assert [c.session.serverName for c in srv.results] == ["localhost", ""]


def test_sni_mismatch(creds, server):
    srv = server(serve_cert(creds, sni="other.example"))
    with pytest.raises(TLSRemoteAlert) as info:
        client(srv, creds)
    assert info.value.description == AlertDescription.unrecognized_name
    srv.join()


def test_protocol_version_alert(creds, server):
    settings = HandshakeSettings()
    settings.minVersion = (3, 4)

    def handler(sock):
        TLSConnection(sock).handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"),
                                            settings=settings)
    srv = server(handler)
    old = HandshakeSettings()
    old.maxVersion = (3, 3)
    with pytest.raises(TLSRemoteAlert) as info:
        client(srv, creds, settings=old)
    assert info.value.description == AlertDescription.protocol_version
    srv.join()
    assert isinstance(srv.errors[0], TLSLocalAlert) and srv.errors[0].description == AlertDescription.protocol_version


@pytest.fixture
def users():
    db = VerifierDB()
    db.create()
    db["alice"] = VerifierDB.makeVerifier("alice", "abra123cadabra", 2048)
    return db


def serve_srp(db, **kw):
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(verifierDB=db, **kw)
        conn.write(conn.read())
        conn.close()
        return conn
    return handler


def test_srp(server, users):
    srv = server(serve_srp(users))
    conn = TLSConnection(srv.connect())
    conn.handshakeClientSRP("alice", "abra123cadabra")
    assert conn.version == (3, 3) and conn.session.srpUsername == "alice" and conn.session.serverCertChain is None
    assert echo(conn) == b"ping"
    conn.close()
    srv.join()
    assert srv.results[0].session.srpUsername == "alice" and srv.results[0].allegedSrpUsername == "alice"


def test_srp_with_certificate_and_resumption(creds, server, users):
    cache = SessionCache()
    srv = server(serve_srp(users, certChain=creds.chain("server"), privateKey=creds.key("server"),
                           sessionCache=cache), n=2)
    conn = TLSConnection(srv.connect())
    conn.handshakeClientSRP("alice", "abra123cadabra", serverName="localhost", cafile=creds.cafile)
    echo(conn)
    conn.close()
    again = TLSConnection(srv.connect())
    again.handshakeClientSRP("alice", "abra123cadabra", session=conn.session, serverName="localhost",
                             cafile=creds.cafile)
    echo(again)
    again.close()
    assert again.resumed
    srv.join()
    assert not srv.errors


@pytest.mark.parametrize("user, password, alert", [
    ("alice", "wrong", AlertDescription.bad_record_mac),
    ("mallory", "abra123cadabra", AlertDescription.unknown_psk_identity),
])
def test_srp_failures(server, users, user, password, alert):
    srv = server(serve_srp(users))
    conn = TLSConnection(srv.connect())
    with pytest.raises(TLSRemoteAlert) as info:
        conn.handshakeClientSRP(user, password)
    assert info.value.description == alert and conn.closed
    srv.join()
    assert isinstance(srv.errors[0], TLSLocalAlert) and srv.errors[0].description == alert


def test_srp_group_too_small(server):
    db = VerifierDB()
    db.create()
    db["alice"] = VerifierDB.makeVerifier("alice", "pw", 1024)
    srv = server(serve_srp(db))
    settings = HandshakeSettings()
    settings.minKeySize = 2048
    with pytest.raises(TLSLocalAlert) as info:
        TLSConnection(srv.connect()).handshakeClientSRP("alice", "pw", settings=settings)
    assert info.value.description == AlertDescription.insufficient_security
    srv.join()


def write_bye(creds):
    """A server handler that writes b"bye" and closes the socket without close_notify."""
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"))
        conn.write(b"bye")
        sock.close()
    return handler


def assert_over(conn, resumable=False):
    """conn failed or ended: closed with its socket, reads b'', refuses writes."""
    assert conn.closed and conn.sock.fileno() == -1
    assert conn.session.valid() == resumable
    assert conn.read() == b""
    with pytest.raises(TLSClosedConnectionError):
        conn.write(b"x")


def test_abrupt_close_and_closed_connection(creds, server):
    srv = server(write_bye(creds))
    conn = client(srv, creds)
    assert conn.read() == b"bye"
    with pytest.raises(TLSAbruptCloseError):
        conn.read()
    assert_over(conn)
    srv.join()


def test_ignore_abrupt_close(creds, server):
    srv = server(write_bye(creds))
    conn = client(srv, creds)
    conn.ignoreAbruptClose = True
    assert conn.read(min=10) == b"bye"
    assert conn.closed and conn.sock.fileno() == -1       # the connection is over (TLS Lite closes it)
    assert conn.read() == b""
    srv.join()


def test_peer_closes_during_handshake(creds, server):
    srv = server(lambda sock: sock.recv(65536))
    with pytest.raises(TLSAbruptCloseError):
        client(srv, creds)
    srv.join()


def test_garbage_from_peer(creds, server):
    srv = server(lambda sock: (sock.recv(1000), sock.sendall(b"HTTP/1.0 400 Bad\r\n\r\n" * 3)))
    with pytest.raises(TLSLocalAlert):
        client(srv, creds)
    srv.join()


def test_close_socket_flag(creds, server):
    srv = server(serve_cert(creds))
    sock = srv.connect()
    conn = TLSConnection(sock)
    conn.closeSocket = False
    conn.handshakeClientCert(serverName="localhost", cafile=creds.cafile)
    echo(conn)
    conn.close()
    assert sock.fileno() != -1
    sock.close()
    srv.join()


def test_timeout(creds, server):
    srv = server(lambda sock: sock.recv(10000) and __import__("time").sleep(1.5))
    sock = srv.connect()
    sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        TLSConnection(sock).handshakeClientCert(serverName="localhost", cafile=creds.cafile)
    assert sock.fileno() == -1                     # a failed handshake closes the socket
    srv.join()


def test_makefile_and_recv_into(creds, server):
    body = bytes(range(256)) * 2000

    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"))
        f = conn.makefile("rb")
        line = f.readline()
        conn.sendall(line + body)
        f.close()
        conn.close()
    srv = server(handler)
    conn = client(srv, creds)
    conn.sendall(b"hello\n")
    f = conn.makefile("rb")
    conn.close()                         # the file keeps the connection open
    assert f.readline() == b"hello\n"
    assert f.read() == body
    f.close()
    assert conn.closed
    srv.join()
    assert not srv.errors


def _run_select(gen, sock):
    """A select loop driving a TLS Lite generator (0: wait to read, 1: wait to write)."""
    result = None
    for result in gen:
        if result in (0, 1):
            r, w, _ = select.select([sock] if result == 0 else [], [sock] if result == 1 else [], [], 10)
            assert r or w
    return result


def test_select_style_generators(creds, server):
    srv = server(serve_cert(creds))
    sock = srv.connect()
    sock.setblocking(False)
    conn = TLSConnection(sock)
    _run_select(conn.handshakeClientCert(serverName="localhost", cafile=creds.cafile, async_=True), sock)
    _run_select(conn.writeAsync(b"async"), sock)
    data = _run_select(conn.readAsync(), sock)
    assert data == b"async"
    _run_select(conn.closeAsync(), sock)
    srv.join()


def test_server_async_generator(creds, server):
    def handler(sock):
        sock.setblocking(False)
        conn = TLSConnection(sock)
        _run_select(conn.handshakeServerAsync(certChain=creds.chain("server"), privateKey=creds.key("server")), sock)
        data = _run_select(conn.readAsync(), sock)
        _run_select(conn.writeAsync(data), sock)
        _run_select(conn.closeAsync(), sock)
    srv = server(handler)
    conn = client(srv, creds)
    assert echo(conn) == b"ping"
    srv.join()
    assert not srv.errors


def test_blocking_api_waits_for_a_non_blocking_descriptor(creds, server):
    """A socket whose descriptor is non-blocking but whose timeout is None (one made from a
    descriptor another library set up): the blocking calls wait for it."""
    def handler(sock):
        time.sleep(0.3)                                # the client's first read would block
        return serve_cert(creds)(sock)
    srv = server(handler)
    sock = srv.connect()
    sock.settimeout(None)
    os.set_blocking(sock.fileno(), False)
    conn = TLSConnection(sock)
    conn.handshakeClientCert(serverName="localhost", cafile=creds.cafile)
    assert echo(conn) == b"ping"
    conn.close()
    srv.join()
    assert not srv.errors


def test_blocking_api_on_a_non_blocking_socket_times_out(creds, server):
    """setblocking(False) is a timeout of 0: a blocking call that would wait raises
    socket.timeout at once, and the failed handshake closes the socket."""
    srv = server(lambda sock: sock.recv(10000) and time.sleep(0.5))
    sock = srv.connect()
    sock.setblocking(False)
    start = time.monotonic()
    with pytest.raises(socket.timeout):
        TLSConnection(sock).handshakeClientCert(serverName="localhost", cafile=creds.cafile)
    assert time.monotonic() - start < 0.4
    assert sock.fileno() == -1
    srv.join()


def test_bad_arguments(creds):
    a, b = socket.socketpair()
    with a, b:
        conn = TLSConnection(a)
        with pytest.raises(ValueError):
            conn.handshakeServer()
        with pytest.raises(ValueError):
            conn.handshakeClientCert(certChain=creds.chain("client"))
        with pytest.raises(TypeError):
            conn.handshakeClientSRP("", "x")
        assert conn.read() == b""                    # TLS Lite: nothing to read before a handshake
        with pytest.raises(TLSClosedConnectionError):
            conn.write(b"x")
        assert a.fileno() != -1                     # misuse does not close the socket
        bad = HandshakeSettings()
        bad.keyShares = ["ffdhe9999"]  # not among the groups offered
        with pytest.raises(ValueError):
            conn.handshakeClientCert(settings=bad)


def test_keying_material_matches(creds, server):
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"))
        conn.write(conn.keyingMaterialExporter(b"EXPORTER-test", 32))
        conn.close()
    srv = server(handler)
    conn = client(srv, creds)
    assert conn.read(min=32) == conn.keyingMaterialExporter(b"EXPORTER-test", 32)
    srv.join()


# ---- TLS Lite's rules for closed and failed connections, sessions and timeouts ----------------

def test_closed_connection_reads_empty_and_refuses_writes(creds, server):
    srv = server(serve_cert(creds))
    conn = client(srv, creds)
    assert conn.getVersionName() == "TLS 1.3"
    echo(conn)
    conn.close()
    assert conn.closed
    assert conn.read() == b"" and conn.read(10) == b"" and conn.recv(10) == b""
    with pytest.raises(TLSClosedConnectionError):
        conn.write(b"x")
    srv.join()
    with socket.socket() as sock:
        assert TLSConnection(sock).getVersionName() is None


def test_failed_read_closes_the_connection(creds, server):
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"),
                             sessionCache=SessionCache())
        conn.write(b"hi")
        sock.sendall(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)   # a record that fails to decrypt
        sock.recv(1000)
    srv = server(handler)
    conn = client(srv, creds)
    assert conn.read() == b"hi"
    with pytest.raises(TLSLocalAlert) as info:
        conn.read()
    assert info.value.description == AlertDescription.bad_record_mac
    assert_over(conn)                                        # and its session is not resumed
    srv.join()


def test_read_timeout_keeps_the_connection_write_timeout_closes_it(creds, server):
    late, done = threading.Event(), threading.Event()

    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("server"), privateKey=creds.key("server"))
        late.wait(TIMEOUT)
        conn.write(b"late")
        done.wait(TIMEOUT)                          # reads nothing: the client's writes back up
    srv = server(handler)
    conn = client(srv, creds)
    conn.settimeout(0.3)
    with pytest.raises(socket.timeout):
        conn.read()
    assert not conn.closed
    late.set()
    conn.settimeout(TIMEOUT)
    assert conn.read() == b"late"                  # the same connection, after a read timeout
    conn.settimeout(0.3)
    chunk = b"w" * (1 << 20)
    with pytest.raises(socket.timeout):
        for _ in range(256):
            conn.write(chunk)
    assert conn.closed and conn.sock.fileno() == -1   # a record may be half sent: the connection is over
    with pytest.raises(TLSClosedConnectionError):
        conn.write(b"x")
    done.set()
    srv.join()


def test_session_for_another_server_or_user_is_refused(creds, server):
    cache = SessionCache()
    srv = server(serve_cert(creds, sessionCache=cache), n=4)
    first = client(srv, creds)
    echo(first)
    first.close()
    assert first.session.valid() and first.session.serverName == "localhost"
    for kw in ({"serverName": "127.0.0.1"}, {"serverName": None}):
        conn = TLSConnection(srv.connect())
        with pytest.raises(ValueError):
            conn.handshakeClientCert(session=first.session, cafile=creds.cafile, **kw)
        with pytest.raises(ValueError):
            conn.handshakeClientSRP("alice", "password", session=first.session, serverName="localhost")
        conn.close()
    again = client(srv, creds, serverName="LOCALHOST", session=first.session)   # names are case-insensitive
    echo(again)
    again.close()
    assert again.resumed
    srv.join()


def test_alpn_in_session(creds, server):
    srv = server(serve_cert(creds, alpn=[b"h2", b"http/1.1"]), n=2)
    conn = client(srv, creds, alpn=[b"http/1.1"])
    assert conn.session.appProto == b"http/1.1"
    echo(conn)
    conn.close()
    plain = client(srv, creds)
    assert plain.session.appProto == b""
    echo(plain)
    plain.close()
    srv.join()
    assert srv.results[0].session.appProto == b"http/1.1"


def test_internationalised_server_name(creds, server):
    creds.issue("idn", "DNS:xn--bcher-kva.example")

    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain("idn"), privateKey=creds.key("idn"), sni="bücher.example")
        conn.write(conn.read())
        conn.close()
        return conn.session.serverName
    srv = server(handler)
    conn = TLSConnection(srv.connect())
    conn.handshakeClientCert(serverName="bücher.example", cafile=creds.cafile)   # the A-label is sent and checked
    assert conn.session.serverName == "xn--bcher-kva.example"
    echo(conn)
    conn.close()
    srv.join()
    assert srv.results == ["xn--bcher-kva.example"]
    srv = server(serve_cert(creds))                                              # a certificate for localhost
    with pytest.raises(TLSLocalAlert) as info:
        TLSConnection(srv.connect()).handshakeClientCert(serverName="bücher.example", cafile=creds.cafile)
    assert info.value.verify_code == m2.X509_V_ERR_HOSTNAME_MISMATCH
    srv.join()
    with socket.socket() as sock, pytest.raises(ValueError):
        TLSConnection(sock).handshakeClientCert(serverName="a..bé")              # not a valid IDN
