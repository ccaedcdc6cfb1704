"""SSL.Connection between M2Sec peers on loopback: data, versions, client certificates, ALPN,
SNI, sessions, timeouts, non-blocking use, STARTTLS, and the failures a client must see."""

import socket
import threading
import time

import pytest

from M2Sec import SSL, Err, m2
from ssl_helpers import pki  # noqa: F401  (the fixture)
from ssl_helpers import listener, echo, m2server, resumed, serve_once

pytestmark = pytest.mark.timeout(60)


def connect(ctx, port, host="localhost", timeout=10, **kw):
    c = SSL.Connection(ctx)
    c.settimeout(timeout)
    for k, v in kw.items():
        getattr(c, k)(v)
    c.connect((host, port))
    return c


def test_echo_tls13_default_context(pki):
    with m2server(pki.server_ctx()) as srv:
        with connect(pki.client_ctx(), srv.port) as c:
            assert c.get_version() == "TLSv1.3"
            assert c.verify_ok()
            assert c.get_cipher().name().startswith("TLS_")
            c.sendall(b"hello" * 1000)
            got = b""
            while len(got) < 5000:
                got += c.read(65536)
            assert got == b"hello" * 1000
            assert c.get_peer_cert().get_subject().CN == "localhost"
            assert [x.get_subject().CN for x in c.get_peer_cert_chain()] == ["localhost", "Test Intermediate CA"]
            assert [x.get_subject().CN for x in c.get_verified_chain()][-1] == "Test Root CA"
    assert not srv.errors


def test_tls12_and_version_bounds(pki):
    sctx = pki.server_ctx()
    sctx.set_max_proto_version("TLSv1.2")
    with m2server(sctx) as srv:
        with connect(pki.client_ctx(), srv.port) as c:
            assert c.get_version() == "TLSv1.2"
            assert c.get_cipher().version() == "TLSv1.2"
            c.sendall(b"x")
            assert c.read() == b"x"
        cctx = pki.client_ctx()
        cctx.set_min_proto_version(SSL.TLSv1_3)
        with pytest.raises(SSL.SSLError, match="version|alert"):
            connect(cctx, srv.port).close()
    assert pki.client_ctx().get_min_proto_version() == SSL.TLSv1_2
    with pytest.raises(ValueError):
        pki.client_ctx().set_min_proto_version("SSLv2")


def test_ciphersuites_and_groups(pki):
    sctx = pki.server_ctx()
    sctx.set_ciphersuites(["TLS_CHACHA20_POLY1305_SHA256"])
    sctx.set_groups("P-384:X25519")
    with m2server(sctx) as srv:
        cctx = pki.client_ctx()
        cctx.set_groups(["P-384"])
        with connect(cctx, srv.port) as c:
            assert c.get_cipher().name() == "TLS_CHACHA20_POLY1305_SHA256"
            assert c.get_negotiated_group() == "secp384r1"
        cctx = pki.client_ctx()
        cctx.set_tmp_ecdh("X25519")
        with connect(cctx, srv.port) as c:
            assert c.get_negotiated_group() == "x25519"
    with pytest.raises(SSL.SSLError):
        sctx.set_ciphersuites("TLS_NO_SUCH_SUITE")
    with pytest.raises(SSL.SSLError):
        sctx.set_groups("P-999")
    assert m2.err_peek_error() == 0


def test_client_certificate(pki):
    sctx = pki.server_ctx()
    sctx.load_verify_locations(pki.path("root.pem"))
    sctx.set_verify(SSL.verify_peer | SSL.verify_fail_if_no_peer_cert, 9)
    seen = []

    def handler(conn):
        seen.append(conn.get_peer_cert().get_subject().CN)
        echo(conn)

    with m2server(sctx, handler) as srv:
        cctx = pki.client_ctx()
        cctx.load_cert_chain(pki.chain("client"), pki.path("client.key"))
        with connect(cctx, srv.port) as c:
            c.sendall(b"ping")
            assert c.read() == b"ping"
        assert seen == ["client"]
        # without a certificate, the server refuses (the client learns it in TLS 1.3's first read)
        with pytest.raises(SSL.SSLError, match="certificate required"):
            connect(pki.client_ctx(), srv.port).read()
    assert any("did not return a certificate" in str(e) or "certificate" in str(e) for e in srv.errors)


def test_alpn_both_sides(pki):
    sctx = pki.server_ctx()
    sctx.set_alpn_protocols(["h2", "http/1.1"])
    with m2server(sctx, lambda conn: conn.write(conn.get_alpn_selected() or b"none")) as srv:
        cctx = pki.client_ctx()
        cctx.set_alpn_protocols([b"http/1.1", b"h2"])
        with connect(cctx, srv.port) as c:
            assert c.selected_alpn_protocol() == "h2"  # the server's preference wins
            assert c.read() == b"h2"
        cctx = pki.client_ctx()
        cctx.set_alpn_protocols(["spdy/3"])
        with connect(cctx, srv.port) as c:
            assert c.get_alpn_selected() is None
        with connect(pki.client_ctx(), srv.port, set_alpn_protocols=["http/1.1"]) as c:
            assert c.get_alpn_selected() == b"http/1.1"
    with pytest.raises(ValueError):
        sctx.set_alpn_protocols(["x" * 300])


def test_sni_switches_context(pki):
    default = pki.server_ctx("server")
    other = pki.server_ctx("other")
    seen = []

    def pick(conn, name, ctx):
        seen.append((name, ctx is default, type(conn).__name__))
        if name == "other.example":
            return other
        if name == "refused.example":
            return m2.SSL_AD_UNRECOGNIZED_NAME
        return None

    default.set_servername_callback(pick)
    with m2server(default, lambda conn: conn.write((conn.get_servername() or "-").encode())) as srv:
        cctx = pki.client_ctx()
        with connect(cctx, srv.port, host="127.0.0.1", set1_host="other.example",
                     set_tlsext_host_name="other.example") as c:
            assert c.get_peer_cert().get_subject().CN == "other.example"
            assert c.read() == b"other.example"
        with connect(cctx, srv.port) as c:  # "localhost" as SNI, the default certificate
            assert c.get_peer_cert().get_subject().CN == "localhost"
        with pytest.raises(SSL.SSLError, match="unrecognized name"):
            connect(cctx, srv.port, set_tlsext_host_name="refused.example").read()
    assert seen[:2] == [("other.example", True, "Connection"), ("localhost", True, "Connection")]


def test_sni_callback_exception_fails_handshake(pki):
    sctx = pki.server_ctx()

    def boom(conn, name, ctx):
        raise RuntimeError("no")

    sctx.set_servername_callback(boom)
    with m2server(sctx) as srv:
        with pytest.raises(SSL.SSLError):
            connect(pki.client_ctx(), srv.port).read()
    assert any(isinstance(e, RuntimeError) for e in srv.errors)
    with pytest.raises(TypeError):
        sctx.set_servername_callback(3)


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_session_resumption(pki, version):
    sctx = pki.server_ctx()
    sctx.set_session_id_ctx(b"m2sec-test")
    sctx.set_max_proto_version(version)
    with m2server(sctx) as srv:
        cctx = pki.client_ctx()
        with connect(cctx, srv.port) as c:
            c.sendall(b"x")
            assert c.read() == b"x"  # TLS 1.3 tickets arrive after the handshake
            sess = c.get_session()
            assert not c.session_reused()
        assert sess.is_resumable()
        assert b"Session-ID" in sess.as_text() or b"TLSv1" in sess.as_text()
        again = SSL.Session.load_session_der(sess.as_der())
        assert resumed(cctx, again, srv.port)
        assert sess.get_timeout() > 0 and sess.get_time() > 0


def test_session_tickets_off(pki):
    sctx = pki.server_ctx()
    sctx.set_session_tickets(False)
    sctx.set_session_cache_mode(m2.SSL_SESS_CACHE_OFF)
    with m2server(sctx) as srv:
        with connect(pki.client_ctx(), srv.port) as c:
            c.sendall(b"x")
            c.read()
            sess = c.get_session()
        c = SSL.Connection(pki.client_ctx())
        c.settimeout(10)
        c.set_session(sess)
        c.connect(("localhost", srv.port))
        assert not c.session_reused()
        c.close()


def test_keylog_file(pki, tmp_path):
    sctx = pki.server_ctx()
    path = tmp_path / "keys.log"
    sctx.set_keylog_filename(str(path))
    with m2server(sctx) as srv:
        with connect(pki.client_ctx(), srv.port) as c:
            c.sendall(b"x")
            c.read()
    sctx.set_keylog_filename(None)
    lines = path.read_text().splitlines()
    labels = {line.split()[0] for line in lines if not line.startswith("#")}
    assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0", "CLIENT_TRAFFIC_SECRET_0"} <= labels


# -- failures a client must see ---------------------------------------------------------

def test_wrong_host(pki):
    with m2server(pki.server_ctx("other")) as srv:
        with pytest.raises(SSL.HostnameMismatchError) as ei:
            connect(pki.client_ctx(), srv.port)
        assert ei.value.verify_code == m2.X509_V_ERR_HOSTNAME_MISMATCH
        with pytest.raises(SSL.HostnameMismatchError):
            connect(pki.client_ctx(), srv.port, host="127.0.0.1")
        # M2Crypto's Context: no verification in the handshake, the Checker catches it
        with pytest.raises(SSL.Checker.WrongHost):
            connect(SSL.Context(), srv.port)


@pytest.mark.parametrize("cert, exc, code", [
    ("expired", SSL.CertificateExpiredError, m2.X509_V_ERR_CERT_HAS_EXPIRED),
    ("selfsigned", SSL.SelfSignedCertificateError, m2.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT),
])
def test_bad_chains(pki, cert, exc, code):
    with m2server(pki.server_ctx(cert)) as srv:
        with pytest.raises(exc) as ei:
            connect(pki.client_ctx(), srv.port)
        assert ei.value.verify_code == code
        assert isinstance(ei.value, SSL.SSLCertVerificationError)
        assert isinstance(ei.value, SSL.SSLError)


def test_untrusted_chain(pki):
    with m2server(pki.server_ctx()) as srv:
        cctx = SSL.create_default_context(cafile=pki.path("selfsigned.pem"))
        with pytest.raises(SSL.UntrustedCertificateError):
            connect(cctx, srv.port)
        cctx.unsafe_disable_verification()
        with connect(cctx, srv.port) as c:
            assert not c.verify_ok()


def test_handshake_timeout_fires():
    lsock = listener()  # accepts in the kernel, never answers
    t0 = time.monotonic()
    with pytest.raises(SSL.SSLTimeoutError):
        connect(SSL.Context(), lsock.getsockname()[1], timeout=0.3)
    assert 0.25 < time.monotonic() - t0 < 3
    lsock.close()


def test_server_timeout_on_silent_client(pki):
    srv = SSL.Connection(pki.server_ctx())
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(5)
    cl = socket.create_connection(srv.getsockname())
    sock, _ = srv.socket.accept()
    conn = SSL.Connection(srv.ctx, sock)
    conn.settimeout(0.2)
    conn.setup_ssl()
    conn.set_accept_state()
    with pytest.raises(SSL.SSLTimeoutError):
        conn.accept_ssl()
    conn.free()
    cl.close()
    srv.close()


def test_read_timeout_and_socket_timeouts(pki):
    with m2server(pki.server_ctx(), lambda conn: time.sleep(0.5)) as srv:
        c = connect(pki.client_ctx(), srv.port, timeout=0.2)
        with pytest.raises(SSL.SSLTimeoutError):
            c.read()
        c.close()
        c = SSL.Connection(pki.client_ctx())
        c.connect(("localhost", srv.port))  # blocking, but SO_RCVTIMEO bounds each read
        c.set_socket_read_timeout(SSL.timeout(0, 200000))
        assert c.get_socket_read_timeout().microsec >= 200000
        with pytest.raises(SSL.SSLTimeoutError):
            c.read()
        c.close()


def test_non_blocking(pki):
    with m2server(pki.server_ctx(), lambda conn: (time.sleep(0.3), echo(conn))) as srv:
        c = connect(pki.client_ctx(), srv.port)
        c.setblocking(0)
        assert c.read() == b""  # nothing yet: M2Crypto's non-blocking answer
        assert m2.ssl_read(c.ssl, 10, 0) is None
        c.write(b"abc")
        deadline = time.monotonic() + 5
        got = b""
        while not got and time.monotonic() < deadline:
            got = c.read()
            time.sleep(0.01)
        assert got == b"abc"
        c.close()


def test_gil_released_while_blocked(pki):
    with m2server(pki.server_ctx(), lambda conn: (time.sleep(0.5), conn.write(b"late"))) as srv:
        c = connect(pki.client_ctx(), srv.port)
        result = []
        t = threading.Thread(target=lambda: result.append(c.read()))
        t.start()
        spins = 0
        t0 = time.monotonic()
        while t.is_alive() and time.monotonic() - t0 < 5:
            spins += 1
        t.join()
        assert result == [b"late"]
        assert spins > 10000  # this thread ran while the other waited in SSL_read
        c.close()


def test_starttls_and_unwrap(pki):
    ctx = pki.server_ctx()

    def server(s):
        s.sendall(b"220 ready\r\n")
        assert s.recv(100) == b"STARTTLS\r\n"
        s.sendall(b"220 go ahead\r\n")  # the client's ClientHello cannot be read with its command
        conn = SSL.Connection(ctx, s)
        conn.handshake_on_existing_socket(server_side=True)
        conn.write(conn.read().upper())
        plain = conn.unwrap()
        plain.sendall(b"plain again")

    with serve_once(server) as addr:
        sock = socket.create_connection(addr, timeout=10)
        assert sock.recv(100) == b"220 ready\r\n"
        sock.sendall(b"STARTTLS\r\n")
        assert sock.recv(100) == b"220 go ahead\r\n"
        conn = SSL.Connection(pki.client_ctx(), sock)
        conn.set1_host("localhost")
        assert conn.handshake_on_existing_socket() == 1
        conn.write(b"secret")
        assert conn.read() == b"SECRET"
        s = conn.unwrap()
        assert s.recv(100) == b"plain again"
        s.close()
    with pytest.raises(ValueError):  # a verifying context needs the host name
        SSL.Connection(pki.client_ctx(), socket.socket()).handshake_on_existing_socket()


def test_makefile_and_recv_into(pki):
    with m2server(pki.server_ctx()) as srv:
        c = connect(pki.client_ctx(), srv.port)
        f = c.makefile("rwb")
        f.write(b"line one\nline two\n")
        f.flush()
        assert f.readline() == b"line one\n"
        assert f.readline() == b"line two\n"
        c.sendall(b"0123456789")
        buf = bytearray(100)
        n = c.recv_into(buf)
        assert bytes(buf) == b"0123456789"[:n] and n > 0
        f.close()
        assert c.closed


def test_read_after_close_fails_cleanly(pki):
    with m2server(pki.server_ctx()) as srv:
        c = connect(pki.client_ctx(), srv.port)
        c.close()
        c.close()
        with pytest.raises(SSL.SSLError):
            c.write(b"x")
        c.free()
        c.free()


def test_verify_callback_sees_the_chain(pki):
    seen = []

    def cb(ok, store):
        seen.append((ok, store.get_error_depth(), store.get_current_cert().get_subject().CN))
        return ok

    with m2server(pki.server_ctx()) as srv:
        cctx = pki.client_ctx()
        cctx.set_verify(SSL.verify_peer, 9, cb)
        with connect(cctx, srv.port):
            pass
        assert [s[2] for s in seen] == ["Test Root CA", "Test Intermediate CA", "localhost"]
        cctx.set_verify(SSL.verify_peer, 9, lambda ok, store: 0)
        with pytest.raises(SSL.SSLCertVerificationError) as ei:
            connect(cctx, srv.port)
        assert ei.value.verify_code == m2.X509_V_ERR_APPLICATION_VERIFICATION

        def raising(ok, store):
            raise KeyError("from the callback")

        cctx.set_verify(SSL.verify_peer, 9, raising)
        with pytest.raises(SSL.SSLError) as ei:
            connect(cctx, srv.port)
        assert isinstance(ei.value.__cause__, KeyError)


def test_export_keying_material(pki):
    got = []
    with m2server(pki.server_ctx(), lambda conn: got.append(conn.export_keying_material("EXPORTER-test", 32))) as srv:
        with connect(pki.client_ctx(), srv.port) as c:
            mine = c.export_keying_material("EXPORTER-test", 32)
            c.read()
    assert got == [mine] and len(mine) == 32


def test_ssl_servers(pki):
    import socketserver

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(self.rfile.readline().upper())

    kinds = [SSL.ThreadingSSLServer, SSL.ForkingSSLServer, SSL.SSLServer]
    for kind in kinds:
        server = kind(("127.0.0.1", 0), Handler, pki.server_ctx())
        server.handshake_timeout = 5
        t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        t.start()
        try:
            for _ in range(2):
                with connect(pki.client_ctx(), server.server_address[1]) as c:
                    c.sendall(b"hello\n")
                    assert c.read() == b"HELLO\n"
        finally:
            server.shutdown()
            t.join()
            server.server_close()


def test_context_closed_and_connection_keeps_it(pki):
    ctx = pki.server_ctx()
    conn = SSL.Connection(ctx)
    ctx.close()
    with pytest.raises(Err.ClosedError):
        ctx.set_options(0)
    assert conn.get_version()  # the SSL still holds its SSL_CTX
    conn.free()


# ---- bulk reads: the records waiting in the socket in one call, and no wait for more ----------

def test_read_takes_the_waiting_records_and_waits_for_no_more(pki):
    sent = bytes(range(256)) * (6 * 64)  # six full records
    gate = threading.Event()

    def handler(conn):
        conn.sendall(sent)
        if conn.read(10) == b"more":
            conn.sendall(b"end")
        gate.wait(10)

    with m2server(pki.server_ctx(), handler) as srv:
        c = SSL.Connection(pki.client_ctx())
        c.connect(("localhost", srv.port))  # blocking: the hot path, with no lock
        c.set_socket_read_timeout(SSL.timeout(10))  # a read waiting for a record that never comes fails
        time.sleep(0.3)  # the six records are in the socket
        buf = bytearray(65536)
        assert c.readinto(buf) == 65536 and bytes(buf) == sent[:65536]  # four records in one call
        got = b""
        while len(got) < len(sent) - 65536:
            n = c.readinto(buf)
            assert n > 0
            got += bytes(buf[:n])
        assert got == sent[65536:]
        c.write(b"more")  # what the socket held before cannot make this read wait for a second record
        assert c.read(100) == b"end"
        c.setblocking(0)
        assert c.readinto(buf) is None  # io.RawIOBase's answer when it would block
        assert m2.ssl_read_into(c.ssl, buf, 0, 0) == -1
        gate.set()
        c.close()
    assert not srv.errors


# ---- the handshake path's shortcuts (bench/tls.py) keep M2Crypto's behaviour ----

def _traced(calls, *steps):
    """A Connection subclass whose named steps append their name to calls, then run as the base's."""

    def step(name):
        def run(self):
            calls.append(name)
            return getattr(SSL.Connection, name)(self)
        return run
    return type("Traced", (SSL.Connection,), {name: step(name) for name in steps})


def test_subclass_steps_run_in_connect(pki):
    """connect() runs set-up and handshake in one C call only when no subclass changed a step."""
    calls = []
    Traced = _traced(calls, "connect_ssl", "setup_ssl")
    assert SSL.Connection._plain_client and not Traced._plain_client
    with m2server(pki.server_ctx()) as srv:
        c = Traced(pki.client_ctx())
        c.settimeout(10)
        assert c.connect(("localhost", srv.port)) == 1
        assert calls == ["setup_ssl", "connect_ssl"] and c.verify_ok()
        c.sendall(b"ping")
        assert c.read(4) == b"ping"
        c.close()
    assert not srv.errors


def test_subclass_steps_run_in_server_handshake(pki):
    """The server side likewise: one C call unless a subclass changed setup_ssl, set_accept_state
    or accept_ssl, which then run as steps (in handshake_on_existing_socket and accept)."""
    calls = []
    Traced = _traced(calls, "accept_ssl", "set_accept_state")
    assert SSL.Connection._plain_server and not Traced._plain_server and Traced._plain_client
    for cls, steps in ((SSL.Connection, []), (Traced, ["set_accept_state", "accept_ssl"])):
        del calls[:]

        def server(s):
            conn = cls(pki.server_ctx(), s)
            conn.settimeout(10)
            assert conn.handshake_on_existing_socket(server_side=True) == 1
            conn.write(conn.read().upper())
            conn.free()

        with serve_once(server) as addr:
            c = connect(pki.client_ctx(), addr[1])
            c.write(b"ping")
            assert c.read() == b"PING"
            c.close()
        assert calls == steps

    listener = Traced(pki.server_ctx())
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)
    del calls[:]
    t = threading.Thread(target=lambda: connect(pki.client_ctx(), listener.getsockname()[1]).close())
    t.start()
    conn, _ = listener.accept()  # a new Connection (the base class): the one call
    t.join(10)
    assert calls == [] and conn.get_peer_cert() is None
    conn.free()
    listener.close()


def test_server_handshake_failure_is_clean(pki):
    """A client that hangs up in the handshake: SSLEOFError from the one-call server handshake."""
    def server(s):
        conn = SSL.Connection(pki.server_ctx(), s)
        conn.settimeout(10)
        with pytest.raises(SSL.SSLEOFError):
            conn.handshake_on_existing_socket(server_side=True)
        conn.free()

    with serve_once(server) as addr:
        socket.create_connection(addr, timeout=10).close()


def test_client_checker_made_when_asked_for(pki):
    assert SSL.Connection(pki.client_ctx()).clientPostConnectionCheck is None  # checked in the handshake
    c = SSL.Connection(SSL.Context())
    check = c.clientPostConnectionCheck
    assert isinstance(check, SSL.Checker.Checker) and c.clientPostConnectionCheck is check
    with m2server(pki.server_ctx("other")) as srv:
        with pytest.raises(SSL.Checker.WrongHost):  # the Checker made on demand runs
            connect(SSL.Context(), srv.port)
        c = SSL.Connection(SSL.Context())
        c.clientPostConnectionCheck = None  # M2Crypto's way to turn it off
        c.settimeout(10)
        assert c.connect(("localhost", srv.port)) == 1
        c.free()


def test_close_and_free_when_the_peer_is_gone(pki):
    def reset(conn):
        conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST on close
        conn.socket.close()

    with m2server(pki.server_ctx(), reset) as srv:
        c = connect(pki.client_ctx(), srv.port)
        time.sleep(0.2)
        c.close()  # close_notify to a reset connection: no error, nothing left in OpenSSL's queue
        assert c.socket.fileno() == -1
        c.free()
        with pytest.raises(SSL.SSLClosedError):
            c.read()
        c = connect(pki.client_ctx(), srv.port)
        c.close(False)
        c.free()  # the SSL goes; the socket close(False) kept stays open, as before
        assert c.socket.fileno() != -1
        c.socket.close()
