"""Hostile clients against M2Sec.wsgi: garbage instead of a ClientHello, a handshake cut short,
plain HTTP on the TLS port, a 1 MB header line, a slowloris head, an endless chunked body,
1000 connections that never send a byte.  During each attack a normal request still
succeeds, the server's memory stays bounded, and its log holds no traceback."""

import http.client
import os
import resource
import socket
import ssl
import time

import pytest

from wsgi_helpers import ServerProcess, no_tracebacks, server_args, wpki  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(180)


def normal_request(wpki, port, timeout=10.0):
    """A well-behaved HTTPS request; returns the seconds it took."""
    t0 = time.monotonic()
    c = http.client.HTTPSConnection("localhost", port, context=ssl.create_default_context(cafile=wpki.root),
                                    timeout=timeout)
    c.request("GET", "/")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"Hello, world!\n"
    c.close()
    return time.monotonic() - t0


def closed_by_server(sock, timeout=15.0):
    """Read until the server closes; all bytes read (a reset counts as closed)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, ssl.SSLError):  # a reset under TLS, as OpenSSL 3.5 reports it
        return data


@pytest.fixture
def server(tmp_path, wpki):
    args = server_args(wpki, "--header-timeout", "2", "--max-body-size", "1000000", "--threads", "4",
                       "--max-connections", "2000")
    srv = ServerProcess(str(tmp_path), "wsgi_apps:echo_app_or_hello", args)
    yield srv
    srv.stop()


def tls_client(wpki, port):
    return ssl.create_default_context(cafile=wpki.root).wrap_socket(
        socket.create_connection(("localhost", port), timeout=15), server_hostname="localhost")


def test_garbage_and_cut_handshakes(server, wpki):
    # garbage instead of a ClientHello: closed
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(os.urandom(3000))
    closed_by_server(s)
    s.close()
    # a TLS record header announcing a ClientHello, then silence: dropped after the head timeout
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(40))
    assert normal_request(wpki, server.port) < 5
    t0 = time.monotonic()
    closed_by_server(s)
    assert time.monotonic() - t0 < 14
    s.close()
    # a real ClientHello cut in half, then the client goes away mid-handshake
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ssl.create_default_context(cafile=wpki.root).wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outgoing.read()
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(hello[:len(hello) // 2])
    time.sleep(0.2)
    s.close()
    # the whole ClientHello, then gone before the server's answer is read
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(hello)
    s.close()
    assert normal_request(wpki, server.port) < 5
    no_tracebacks(server)


def test_plain_http_to_tls_port(server, wpki):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    data = closed_by_server(s)
    s.close()
    assert data.startswith(b"HTTP/1.1 400 Bad Request") and len(data) < 1024
    assert normal_request(wpki, server.port) < 5
    no_tracebacks(server)


def test_one_megabyte_header_line(server, wpki):
    s = tls_client(wpki, server.port)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        pass  # the server stopped reading: fine
    data = closed_by_server(s)
    s.close()
    assert data == b"" or data.split(b" ")[1] in (b"413", b"414", b"431", b"400"), data[:100]
    assert normal_request(wpki, server.port) < 5
    no_tracebacks(server)


def test_slowloris_head_is_dropped(server, wpki):
    s = tls_client(wpki, server.port)
    s.sendall(b"GET / HTTP/1.1\r\n")
    t0 = time.monotonic()
    closed = False
    try:
        for _ in range(30):  # one header byte every 0.3 s, never finishing
            s.sendall(b"X")
            assert normal_request(wpki, server.port) < 5
            time.sleep(0.3)
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
        closed = True
    if not closed:
        closed_by_server(s, timeout=5)
    assert time.monotonic() - t0 < 8  # header_timeout is 2 s
    s.close()
    no_tracebacks(server)


def test_endless_chunked_body(server, wpki):
    s = tls_client(wpki, server.port)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"4000\r\n" + b"c" * 0x4000 + b"\r\n"
    sent = 0
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 30:
            s.sendall(chunk)
            sent += len(chunk)
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
        pass
    assert sent < 64 * 1000000, "the server kept reading an endless body"
    data = closed_by_server(s, timeout=5) if sent else b""
    assert data == b"" or b" 413 " in data.split(b"\r\n", 1)[0], data[:80]
    s.close()
    assert normal_request(wpki, server.port) < 5
    no_tracebacks(server)


def test_a_thousand_idle_connections(server, wpki):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    before = server.rss_kib()
    idle = []
    try:
        for _ in range(1000):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        times = [normal_request(wpki, server.port) for _ in range(5)]
        assert max(times) < 5, times
        grown = server.rss_kib() - before
        assert grown < 150 * 1024, "the server grew by %d KiB for 1000 idle connections" % grown
    finally:
        for s in idle:
            s.close()
    assert normal_request(wpki, server.port) < 5
    no_tracebacks(server)


def test_connection_limit(tmp_path, wpki):
    args = server_args(wpki, "--max-connections", "20")
    with ServerProcess(str(tmp_path), "wsgi_apps:hello", args) as srv:
        idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(20)]
        try:
            extra = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            assert closed_by_server(extra, timeout=10) == b""  # over the limit: closed at once
            extra.close()
        finally:
            for s in idle:
                s.close()
        deadline = time.monotonic() + 10
        while True:  # the server notices the closed ones as they arrive
            try:
                normal_request(wpki, srv.port)
                break
            except (OSError, ssl.SSLError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        no_tracebacks(srv)


def test_memory_after_many_handshakes(server, wpki):
    for _ in range(30):
        normal_request(wpki, server.port)
    before = server.rss_kib()
    for _ in range(300):
        normal_request(wpki, server.port)
    grown = server.rss_kib() - before
    assert grown < 20 * 1024, "grew %d KiB over 300 connections" % grown

