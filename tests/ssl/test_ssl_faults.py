"""Network faults and threads: a raw-socket peer on loopback that closes mid-handshake or
mid-record, sends garbage, an HTTP request, a TLS alert or an enormous record length, or
stalls; Python's ssl module as a peer that breaks its records after the handshake; one
Connection used by two threads, and closed or freed by another while it waits.  Each gets
a clear exception within its timeout, leaves OpenSSL's error queue empty and no descriptor
behind."""

import os
import socket
import ssl
import threading
import time

import pytest

from M2Sec import SSL, m2
from ssl_helpers import pki  # noqa: F401  (the fixture)
from ssl_helpers import echo, m2server, open_fds, resumed, run_isolated, serve_once

pytestmark = pytest.mark.timeout(60)

TLS_ALERT_HANDSHAKE_FAILURE = b"\x15\x03\x03\x00\x02\x02\x28"


def _hello(s):
    """Take the client's first flight."""
    return s.recv(65536)


@pytest.mark.parametrize("peer, exc", [
    (lambda s: None, SSL.SSLEOFError),  # closes at once
    (lambda s: _hello(s), SSL.SSLEOFError),  # closes after the ClientHello
    (lambda s: (_hello(s), s.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")), SSL.SSLError),
    (lambda s: (_hello(s), s.sendall(os.urandom(64))), SSL.SSLError),
    (lambda s: (_hello(s), s.sendall(b"\x16\x03")), SSL.SSLEOFError),  # half a record header
    (lambda s: (_hello(s), s.sendall(b"\x16\x03\x03\x40\x00" + b"\x02" * 10)), SSL.SSLEOFError),  # half a record
    (lambda s: (_hello(s), s.sendall(b"\x16\x03\x03\xff\xff" + bytes(64))), SSL.SSLError),  # far too long
    (lambda s: (_hello(s), s.sendall(TLS_ALERT_HANDSHAKE_FAILURE)), SSL.SSLError),
    (lambda s: (_hello(s), s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")), SSL.SSLEOFError),
], ids=["close", "close-after-hello", "http", "garbage", "half-header", "half-record", "huge-length", "alert",
        "reset"])
def test_client_handshake_against_a_broken_peer(peer, exc):
    fds = open_fds()
    with serve_once(peer) as addr:
        c = SSL.Connection(SSL.Context())
        c.settimeout(5)
        t0 = time.monotonic()
        with pytest.raises(exc):
            c.connect(addr)
        assert time.monotonic() - t0 < 2  # an answer, not the timeout
        c.close()
    assert m2.err_peek_error() == 0
    assert open_fds() <= fds  # more would be a leak (fewer: an earlier test's thread closed its socket)


@pytest.mark.parametrize("how", ["settimeout", "SO_RCVTIMEO"])
def test_handshake_and_read_stalls_end_in_timeouts(pki, how):
    gate = threading.Event()
    with serve_once(lambda s: gate.wait(5)) as addr:
        c = SSL.Connection(SSL.Context())
        if how == "settimeout":
            c.settimeout(0.3)
        else:
            c.set_socket_read_timeout(SSL.timeout(0, 300000))
        t0 = time.monotonic()
        with pytest.raises(SSL.SSLTimeoutError):
            c.connect(addr)
        assert 0.25 < time.monotonic() - t0 < 3
        c.close()
        gate.set()


@pytest.mark.parametrize("send, exc", [
    (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", SSL.SSLError),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", SSL.SSLEOFError),  # a ClientHello cut short
    (b"\x16\x03\x01\xff\xff" + bytes(32), SSL.SSLError),
    (b"", SSL.SSLEOFError),
])
def test_server_handshake_against_a_broken_client(pki, send, exc):
    fds = open_fds()
    srv = SSL.Connection(pki.server_ctx())
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(5)
    with socket.create_connection(srv.getsockname(), timeout=5) as cl:
        cl.sendall(send)
        cl.shutdown(socket.SHUT_WR)
        with pytest.raises(exc):
            srv.accept()  # the failed connection is freed before the error is raised
    srv.close()
    assert open_fds() <= fds  # more would be a leak (fewer: an earlier test's thread closed its socket)


def test_server_times_out_a_silent_client_and_frees_it(pki):
    fds = open_fds()
    srv = SSL.Connection(pki.server_ctx())
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.3)
    with socket.create_connection(srv.getsockname(), timeout=5):
        with pytest.raises(SSL.SSLTimeoutError):
            srv.accept()
    srv.close()
    assert open_fds() <= fds  # more would be a leak (fewer: an earlier test's thread closed its socket)


def _python_tls_peer(pki, behaviour, tls12=False):
    """A Python ssl server that completes the handshake, then behaviour(tls, raw) with raw
    a second handle on the socket to write bytes under the TLS layer."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(pki.chain("server"), pki.path("server.key"))
    if tls12:
        sctx.maximum_version = ssl.TLSVersion.TLSv1_2

    def serve(s):
        t = sctx.wrap_socket(s, server_side=True)
        with socket.socket(fileno=os.dup(t.fileno())) as raw:
            behaviour(t, raw)

    return serve_once(serve)


@pytest.mark.parametrize("tls12", [False, True], ids=["tls1.3", "tls1.2"])
@pytest.mark.parametrize("behaviour, exc", [
    (lambda t, r: None, SSL.SSLEOFError),  # closes without close_notify
    (lambda t, r: r.sendall(b"\x17\x03"), SSL.SSLEOFError),  # half a header, then closes
    (lambda t, r: r.sendall(b"\x17\x03\x03\x00\x40" + bytes(20)), SSL.SSLEOFError),  # half a record
    (lambda t, r: r.sendall(b"\x17\x03\x03\x00\x40" + bytes(64)), SSL.SSLError),  # a record that fails its MAC
    (lambda t, r: r.sendall(b"\x17\x03\x03\xff\xff" + bytes(64)), SSL.SSLError),  # far too long
    (lambda t, r: r.sendall(b"HTTP/1.1 200 OK\r\n\r\n"), SSL.SSLError),
], ids=["eof", "half-header", "half-record", "bad-mac", "huge-length", "http"])
def test_read_after_the_handshake_against_a_broken_peer(pki, tls12, behaviour, exc):
    fds = open_fds()
    with _python_tls_peer(pki, lambda t, r: (t.sendall(b"data"), behaviour(t, r)), tls12) as addr:
        c = SSL.Connection(pki.client_ctx())
        c.settimeout(5)
        c.connect(("localhost", addr[1]))
        got = b""
        with pytest.raises(exc):
            while True:
                got += c.read(100)
        assert got == b"data"  # what came before the fault is not lost
        c.close()
    assert m2.err_peek_error() == 0
    assert open_fds() <= fds  # more would be a leak (fewer: an earlier test's thread closed its socket)


def test_read_after_close_notify_gives_the_end_of_the_stream(pki):
    with _python_tls_peer(pki, lambda t, r: (t.sendall(b"data"), t.unwrap())) as addr:
        c = SSL.Connection(pki.client_ctx())
        c.settimeout(5)
        c.connect(("localhost", addr[1]))
        assert c.read(100) == b"data"
        assert c.read(100) == b""
        assert c.read(100) == b""
        c.close()


def test_huge_read_and_recv_into_sizes_on_a_live_connection(pki):
    with m2server(pki.server_ctx()) as srv:
        c = SSL.Connection(pki.client_ctx())
        c.settimeout(5)
        c.connect(("localhost", srv.port))
        c.sendall(b"abc")
        assert c.read(2 ** 31) == b"abc"  # capped, and the buffer is sized to the data
        c.sendall(b"defg")
        buf = bytearray(16)
        assert c.recv_into(buf, 2 ** 40) == 4 and buf == b"defg"
        c.close()


def test_non_blocking_wants_read_and_write(pki):
    gate = threading.Event()
    with m2server(pki.server_ctx(), lambda conn: (gate.wait(10), echo(conn))) as srv:
        c = SSL.Connection(pki.client_ctx())
        c.settimeout(5)
        c.connect(("localhost", srv.port))
        c.setblocking(0)
        assert c.read() == b""  # M2Crypto's "would block" for a read
        assert m2.ssl_read(c.ssl, 10, 0) is None
        chunk = bytes(65536)
        writes = 0
        while c.write(chunk) != -1:  # the server does not read: the socket fills up
            writes += 1
            assert writes < 10000
        assert m2.err_peek_error() == 0
        gate.set()  # now it echoes: the same write goes through
        deadline = time.monotonic() + 10
        while c.write(chunk) == -1:
            assert time.monotonic() < deadline
            c.read(65536)
        c.close()


def test_session_from_another_context_is_not_resumed(pki):
    with m2server(pki.server_ctx()) as a, m2server(pki.server_ctx()) as b:
        ctx = pki.client_ctx()
        c = SSL.Connection(ctx)
        c.settimeout(5)
        c.connect(("localhost", a.port))
        c.sendall(b"x")
        c.read()
        sess = c.get_session()
        c.close()
        assert resumed(ctx, sess, a.port)
        assert not resumed(ctx, sess, b.port)  # a full handshake instead, no error


@pytest.mark.parametrize("rounds", [1, 8])
@pytest.mark.parametrize("tls12", [False, True], ids=["tls1.3", "tls1.2"])
def test_one_thread_reads_while_another_writes(pki, tls12, rounds):
    # OpenSSL's SSL takes one call at a time: in TLS 1.3 the first read meets the server's
    # tickets and runs the handshake state machine, and a write racing with it could enter the
    # state machine too (OpenSSL 3.5 said ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED).  With a timeout,
    # M2Sec holds a per-SSL lock around each OpenSSL call, never while waiting for the socket.
    sctx = pki.server_ctx()
    if tls12:
        sctx.set_max_proto_version("TLSv1.2")
    total = 4 * 1024 * 1024
    for _ in range(rounds):
        with m2server(sctx) as srv:
            c = SSL.Connection(pki.client_ctx())
            c.settimeout(10)
            c.connect(("localhost", srv.port))
            got, errors = [], []

            def reader():
                n = 0
                try:
                    while n < total:
                        n += len(c.read(65536))
                except SSL.SSLError as exc:
                    errors.append(exc)
                got.append(n)

            t = threading.Thread(target=reader)
            t.start()
            block = os.urandom(32768)
            try:
                for _ in range(total // len(block)):
                    c.sendall(block)
            except SSL.SSLError as exc:
                errors.append(exc)
            t.join(30)
            assert not errors, (errors, srv.errors)
            assert got == [total]
            c.close()
        assert not srv.errors


CLOSE_WHILE_BLOCKED = """
import socket, ssl, sys, threading, time
from M2Sec import SSL, m2
certdir, what, mode = sys.argv[1:4]
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(certdir + "/server-chain.pem", certdir + "/server.key")
ls = socket.create_server(("127.0.0.1", 0))
done = threading.Event()
def serve():
    s, _ = ls.accept()
    t = sctx.wrap_socket(s, server_side=True)
    done.wait(10)  # never answers, never reads
    t.close()
threading.Thread(target=serve, daemon=True).start()
c = SSL.Connection(SSL.Context())
c.settimeout(5)
c.connect(ls.getsockname())
c.settimeout(None if mode == "blocking" else 30)
outcome = []
def io():
    try:
        if what.endswith("read"):
            c.read(100)
        else:
            while True:
                c.write(bytes(1 << 20))
    except Exception as exc:
        outcome.append(type(exc))
t = threading.Thread(target=io)
t.start()
time.sleep(0.3)
assert t.is_alive(), "the call did not block"
t0 = time.monotonic()
getattr(c, what.split("-")[0])()
t.join(5)
assert not t.is_alive(), "close() did not wake the blocked call"
assert time.monotonic() - t0 < 2
assert outcome == [SSL.SSLClosedError], outcome
assert m2.err_peek_error() == 0
c.free()
c.free()
done.set()
print("ok")
"""


@pytest.mark.parametrize("mode", ["blocking", "timeout"])
@pytest.mark.parametrize("what", ["close-read", "free-read", "close-write", "free-write"])
def test_close_or_free_from_another_thread_wakes_a_blocked_call(pki, what, mode):
    # a crash here (the SSL or its BIO freed under OpenSSL) must not take the suite down
    code = "import sys; sys.argv[1:] = %r\n%s" % ([pki.d, what, mode], CLOSE_WHILE_BLOCKED)
    assert run_isolated(code).strip() == "ok"


def test_close_from_another_thread_in_process(pki):
    gate = threading.Event()
    fds = open_fds()
    with m2server(pki.server_ctx(), lambda conn: gate.wait(10)) as srv:
        c = SSL.Connection(pki.client_ctx())
        c.connect(("localhost", srv.port))  # blocking, no timeout
        errors = []
        t = threading.Thread(target=lambda: errors.append(pytest.raises(SSL.SSLClosedError, c.read)))
        t.start()
        time.sleep(0.2)
        c.close()
        t.join(5)
        assert not t.is_alive() and len(errors) == 1
        with pytest.raises(SSL.SSLClosedError):
            c.read()
        c.free()
        gate.set()
    assert open_fds() <= fds + 1  # the server's listening socket closes with the helper


# ---- close() or free() racing the calls under way (no lock on the read/write path) -------------

CLOSE_RACES = r"""
import random, socket, ssl, sys, threading, time
from M2Sec import SSL, m2
certdir, mode = sys.argv[1:3]
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(certdir + "/server-chain.pem", certdir + "/server.key")
ls = socket.create_server(("127.0.0.1", 0))
def echo(s):
    try:
        t = sctx.wrap_socket(s, server_side=True)
        while True:
            d = t.recv(65536)
            if not d:
                break
            t.sendall(d)
    except OSError:
        pass
    finally:
        s.close()
def serve():
    while True:
        try:
            s, _ = ls.accept()
        except OSError:
            return
        threading.Thread(target=echo, args=(s,), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
for i in range(30):
    c = SSL.Connection(SSL.Context())
    c.settimeout(5)
    c.connect(ls.getsockname())
    if mode == "blocking":
        c.settimeout(None)  # else the 5 s timeout: the path with OpenSSL's calls under a lock
    outcome = []
    def io():
        buf = bytearray(4096)
        try:
            while True:
                c.write(b"x" * 1000)
                c.readinto(buf)
        except Exception as exc:
            outcome.append(type(exc))
    threads = [threading.Thread(target=io) for _ in range(1 if mode == "blocking" else 2)]
    for t in threads:
        t.start()
    time.sleep(random.uniform(0, 0.01))
    (c.close if i % 2 else c.free)()
    for t in threads:
        t.join(5)
    assert not any(t.is_alive() for t in threads), "close() did not wake a call"
    assert outcome == [SSL.SSLClosedError] * len(threads), outcome
    assert c.socket.fileno() == -1, "the socket was left open"  # the last call out closed it
    c.free()
assert m2.err_peek_error() == 0
print("ok")
"""


@pytest.mark.parametrize("mode", ["blocking", "timeout"])
def test_close_or_free_racing_reads_and_writes(pki, mode):
    code = "import sys; sys.argv[1:] = %r\n%s" % ([pki.d, mode], CLOSE_RACES)
    assert run_isolated(code, timeout=60).strip() == "ok"
