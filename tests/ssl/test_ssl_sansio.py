"""SSL.SSLObject (TLS over memory, no I/O) and the one retry loop that drives it: in-memory
pairs first, then over a socket against openssl s_server and over asyncio streams."""

import asyncio
import os
import socket
import ssl

import pytest

from M2Sec import SSL, Err
from M2Sec.SSL.SSLObject import adrive, drive, run
from ssl_helpers import pki  # noqa: F401  (the fixture)
from ssl_helpers import m2server, memory_handshake, s_server

pytestmark = pytest.mark.timeout(60)


def pump(a, b):
    """Move bytes both ways until neither side has any; True if anything moved."""
    moved = False
    while True:
        x, y = a.data_to_send(), b.data_to_send()
        if not x and not y:
            return moved
        moved = True
        if x:
            b.receive_bytes(x)
        if y:
            a.receive_bytes(y)


def handshake(c, s):
    for _ in range(10):
        for side in (c, s):
            try:
                side.do_handshake()
            except SSL.SSLWantReadError:
                pass
        pump(c, s)
        if c.handshake_done and s.handshake_done:
            return
    raise AssertionError("no handshake")


def pair(pki, cctx=None, sctx=None, host="localhost"):
    c = SSL.SSLObject(cctx or pki.client_ctx(), server_hostname=host)
    s = SSL.SSLObject(sctx or pki.server_ctx(), server_side=True)
    return c, s


def test_memory_pair(pki):
    sctx = pki.server_ctx()
    sctx.set_alpn_protocols(["h2"])
    names = []
    sctx.set_servername_callback(lambda obj, name, ctx: names.append((type(obj).__name__, name)))
    cctx = pki.client_ctx()
    cctx.set_alpn_protocols(["h2"])
    c, s = pair(pki, cctx, sctx)
    assert c.version() is None and c.cipher() is None
    with pytest.raises(SSL.SSLWantReadError):
        c.do_handshake()
    assert c.bytes_to_send() > 0
    handshake(c, s)
    assert names == [("SSLObject", "localhost")]
    assert c.version() == s.version() == "TLSv1.3"
    assert c.cipher()[0].startswith("TLS_") and c.cipher()[2] >= 128
    assert c.selected_alpn_protocol() == "h2" and s.get_servername() == "localhost"
    assert c.get_peer_cert().get_subject().CN == "localhost"
    with pytest.raises(SSL.SSLWantReadError):
        s.read()
    assert c.write(b"x" * 100000) == 100000
    pump(c, s)
    got = b""
    while len(got) < 100000:
        got += s.read(65536)
    assert got == b"x" * 100000
    # close_notify, then b"" forever
    with pytest.raises(SSL.SSLWantReadError):
        c.unwrap()
    pump(c, s)
    assert s.read() == b""
    s.unwrap()
    pump(c, s)
    c.unwrap()
    c.close()
    s.close()
    s.close()
    with pytest.raises(Err.ClosedError):
        c.read()


def test_eof_without_close_notify(pki):
    c, s = pair(pki)
    handshake(c, s)
    c.write(b"partial")
    pump(c, s)
    assert s.read() == b"partial"
    s.receive_eof()
    with pytest.raises(SSL.SSLEOFError):
        s.read()
    with pytest.raises(SSL.SSLError):
        s.receive_bytes(b"more")


def test_truncated_handshake_and_garbage(pki):
    c, s = pair(pki)
    with pytest.raises(SSL.SSLWantReadError):
        c.do_handshake()
    s.receive_bytes(c.data_to_send()[:20])
    with pytest.raises(SSL.SSLWantReadError):
        s.do_handshake()
    s.receive_eof()
    with pytest.raises(SSL.SSLEOFError):
        s.do_handshake()
    c2, s2 = pair(pki)
    s2.receive_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(SSL.SSLError, match="wrong version|http request|record"):
        s2.do_handshake()


def test_verification_failures(pki):
    c, s = pair(pki, host="other.example")
    with pytest.raises(SSL.HostnameMismatchError):
        handshake(c, s)
    c, s = pair(pki, sctx=pki.server_ctx("expired"))
    with pytest.raises(SSL.CertificateExpiredError):
        handshake(c, s)
    with pytest.raises(ValueError):
        SSL.SSLObject(pki.client_ctx())  # a verifying context needs server_hostname


def test_session_resumption_in_memory(pki):
    cctx, sctx = pki.client_ctx(), pki.server_ctx()
    c, s = pair(pki, cctx, sctx)
    handshake(c, s)
    s.write(b"hi")
    pump(c, s)
    assert c.read() == b"hi"  # reads the tickets too
    sess = c.session
    c2 = SSL.SSLObject(cctx, server_hostname="localhost", session=sess)
    s2 = SSL.SSLObject(sctx, server_side=True)
    handshake(c2, s2)
    assert c2.session_reused() and s2.session_reused()


def test_run_generator_protocol(pki):
    c, s = pair(pki)
    gen = run(c, c.do_handshake)
    out, want = next(gen)
    assert want and out.startswith(b"\x16\x03")  # a ClientHello record
    s.receive_bytes(out)
    with pytest.raises(SSL.SSLWantReadError):
        s.do_handshake()
    out, want = gen.send(s.data_to_send())
    s.receive_bytes(out)
    s.do_handshake()
    with pytest.raises(StopIteration):
        gen.send(s.data_to_send())
    assert c.handshake_done


def test_drive_over_socket_against_s_server(pki):
    with s_server(pki, "-rev") as srv:
        sock = socket.create_connection(("127.0.0.1", srv.server_port), timeout=10)
        tls = SSL.SSLObject(pki.client_ctx(), server_hostname="localhost")
        drive(tls, sock, tls.do_handshake)
        assert tls.version() == "TLSv1.3"
        drive(tls, sock, tls.write, b"sans-io\n")
        data = b""
        while not data.endswith(b"\n"):
            data += drive(tls, sock, tls.read)
        assert data == b"oi-snas\n"
        sock.close()
        tls.close()


def test_adrive_over_asyncio_both_sides(pki):
    async def main(port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        tls = SSL.SSLObject(pki.client_ctx(), server_hostname="localhost")
        await adrive(tls, reader, writer, tls.do_handshake)
        await adrive(tls, reader, writer, tls.write, b"async")
        got = await adrive(tls, reader, writer, tls.read)
        writer.close()
        await writer.wait_closed()
        return got

    with m2server(pki.server_ctx()) as srv:
        assert asyncio.run(asyncio.wait_for(main(srv.port), 20)) == b"async"

    async def serve_and_connect():
        sctx = pki.server_ctx()

        async def handle(reader, writer):
            tls = SSL.SSLObject(sctx, server_side=True)
            await adrive(tls, reader, writer, tls.do_handshake)
            data = await adrive(tls, reader, writer, tls.read)
            await adrive(tls, reader, writer, tls.write, data.upper())
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pyctx = ssl.create_default_context(cafile=pki.path("root.pem"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=pyctx, server_hostname="localhost")
        writer.write(b"from python ssl")
        got = await reader.read(100)
        writer.close()
        server.close()
        await server.wait_closed()
        return got

    assert asyncio.run(asyncio.wait_for(serve_and_connect(), 20)) == b"FROM PYTHON SSL"


def _server_cert(pki, name, san):
    """name's certificate (made once) for subjectAltName san, with its chain file."""
    if not os.path.exists(pki.path(name + "-chain.pem")):
        pki.issue(name, "/CN=" + name, ext=["subjectAltName=" + san, "extendedKeyUsage=serverAuth"])
        with open(pki.path(name + "-chain.pem"), "wb") as f:
            f.write(pki.read(name + ".pem") + pki.read("inter.pem"))
    return name


def _names_seen(pki, cert, server_hostname):
    """Handshake in memory with a server holding cert: (the SNI the server saw, the error or None)."""
    seen = []
    sctx = pki.server_ctx(cert)
    sctx.set_servername_callback(lambda conn, name, ctx: seen.append(name))
    client = SSL.SSLObject(pki.client_ctx(), server_hostname=server_hostname)
    server = SSL.SSLObject(sctx, server_side=True)
    try:
        memory_handshake(client, server)
        return seen, None
    except SSL.SSLError as exc:
        return seen, exc


def test_internationalised_name_goes_out_as_its_a_label(pki):
    _server_cert(pki, "idn", "DNS:xn--bcher-kva.example")
    seen, err = _names_seen(pki, "idn", "bücher.example")
    assert err is None and seen == ["xn--bcher-kva.example"]
    seen, err = _names_seen(pki, "idn", "xn--bcher-kva.example")
    assert err is None and seen == ["xn--bcher-kva.example"]
    seen, err = _names_seen(pki, "idn", "bucher.example")
    assert isinstance(err, SSL.HostnameMismatchError) and seen == ["bucher.example"]


@pytest.mark.parametrize("host", ["::1", "[::1]", "::1%lo"])
def test_ip_addresses_are_checked_and_never_sent_as_sni(pki, host):
    _server_cert(pki, "ip6", "IP:::1")
    seen, err = _names_seen(pki, "ip6", host)
    assert err is None and seen == [None]
    seen, err = _names_seen(pki, "server", host)  # a certificate for 127.0.0.1 and localhost
    assert isinstance(err, SSL.HostnameMismatchError) and seen == [None]


def test_read_takes_every_whole_record_waiting_in_memory(pki):
    """A read into a large buffer takes all the whole records the memory BIO holds in one call
    (four 16 KiB records here), leaves a record cut short for later, and a tampered record
    still fails the read that meets it."""
    c, s = pair(pki)
    handshake(c, s)
    data = os.urandom(65536)
    c.write(data)
    wire = c.data_to_send()
    s.receive_bytes(wire)
    assert s.read(65536) == data
    buf = bytearray(65536)
    c.write(data)
    wire = c.data_to_send()
    s.receive_bytes(wire[:-10])           # the last record cut short
    assert s.read_into(buf) == 49152 and bytes(buf[:49152]) == data[:49152]
    with pytest.raises(SSL.SSLWantReadError):
        s.read_into(buf)
    s.receive_bytes(wire[-10:])
    assert s.read_into(buf) == 16384 and bytes(buf[:16384]) == data[49152:]
    c.write(data)
    wire = bytearray(c.data_to_send())
    wire[-40] ^= 1                        # the last record tampered with: the first three are returned
    s.receive_bytes(bytes(wire))
    assert s.read(65536) == data[:49152]
    with pytest.raises(SSL.SSLError):
        s.read(65536)


def test_send_and_receive_into_do_two_steps_in_one_call(pki):
    """send() is write() and data_to_send() in one call, receive_into() receive_bytes() and
    read_into(): the same bytes on the wire and in the buffer, wants where the separate calls
    raise them, close_notify as 0, and the memory BIOs only."""
    c, s = pair(pki)
    with pytest.raises(SSL.SSLWantReadError):
        c.send(b"too early")              # the handshake needs the server: nothing written
    assert c.bytes_to_send() > 0           # the ClientHello waits as after write()
    handshake(c, s)
    buf = bytearray(1 << 20)
    for size in (1, 100, 16384, 65536, 1 << 20):
        data = os.urandom(size)
        wire = c.send(data)
        assert c.bytes_to_send() == 0 and len(wire) > size
        n = s.receive_into(wire, buf)
        while n < size:                    # a read gives up to 16 KiB, then whole records
            n += s.receive_into(b"", memoryview(buf)[n:])
        assert bytes(buf[:size]) == data
    # a record cut short: a want, the bytes kept for the next call; nbytes bounds the read
    wire = c.send(b"hello world")
    with pytest.raises(SSL.SSLWantReadError):
        s.receive_into(wire[:7], buf)
    assert s.receive_into(wire[7:], buf, 5) == 5 and buf[:5] == b"hello"
    assert s.read_into(buf) == 6 and buf[:6] == b" world"
    # send() takes what was queued before with its own records
    s.write(b"queued")
    wire = s.send(b" and sent")
    assert s.bytes_to_send() == 0
    assert c.receive_into(wire, buf) == 6 and buf[:6] == b"queued"   # a short record: one a call
    assert c.read_into(buf) == 9 and buf[:9] == b" and sent"
    # a tampered record fails the call that meets it
    wire = bytearray(c.send(b"x" * 100))
    wire[-3] ^= 1
    with pytest.raises(SSL.SSLError):
        s.receive_into(bytes(wire), buf)
    # close_notify reads as 0
    c2, s2 = pair(pki)
    handshake(c2, s2)
    with pytest.raises(SSL.SSLWantReadError):
        c2.unwrap()
    assert s2.receive_into(c2.data_to_send(), buf) == 0
    # bad input and a closed object
    with pytest.raises(ValueError):
        s2.receive_into(b"", bytearray())
    with pytest.raises(TypeError):
        c2.send("text")
    with pytest.raises(BufferError):       # as read_into() and readinto() on a read-only buffer
        s2.receive_into(b"", b"read-only")
    s2.receive_eof()
    with pytest.raises(SSL.SSLError):
        s2.receive_into(b"more", buf)
    c2.close()
    with pytest.raises(Err.ClosedError):
        c2.send(b"x")
    with pytest.raises(Err.ClosedError):
        c2.receive_into(b"x", buf)


def test_send_and_receive_into_refuse_an_ssl_on_a_socket(pki):
    """The two-step calls feed and drain memory BIOs: an SSL on a socket gets ValueError and its
    socket is not touched."""
    from M2Sec import m2
    a, b = socket.socketpair()
    try:
        conn = SSL.Connection(pki.client_ctx(), a)
        conn.setup_ssl()
        with pytest.raises(ValueError, match="memory BIOs"):
            m2.ssl_write_take(conn.ssl, b"x")
        with pytest.raises(ValueError, match="memory BIOs"):
            m2.ssl_receive_into(conn.ssl, b"x", bytearray(10))
        b.setblocking(False)
        with pytest.raises(BlockingIOError):
            b.recv(10)
        conn.close()
    finally:
        a.close()
        b.close()
