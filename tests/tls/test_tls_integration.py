"""The standard-library integrations against real peers on loopback: http.client, poplib,
imaplib and smtplib against small servers on Python's ssl module, socketserver served to
Python's HTTPS client, asyncio both ways, and the command line."""

import asyncio
import http.client
import http.server
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time

import pytest

from conftest import TIMEOUT, free_port, wait_port
from M2Sec.TLS import (HTTPTLSConnection, IMAP4_TLS, POP3_TLS, SMTP_TLS, TLSConnection, TLSFingerprintError,
                       TLSLocalAlert, TLSSocketServerMixIn, VerifierDB, aio)

pytestmark = pytest.mark.timeout(60)


def py_server_ctx(creds):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(creds.path("server-chain.pem"), creds.path("server.key"))
    return ctx


def lines_server(server, creds, dialogue, starttls=False, n=1):
    """A line-based server: dialogue(rfile, wfile) runs on a TLS socket from Python's ssl module."""
    ctx = py_server_ctx(creds)

    def handler(sock):
        if starttls:
            sock = starttls(sock, ctx)
        else:
            sock = ctx.wrap_socket(sock, server_side=True)
        with sock:
            rfile, wfile = sock.makefile("rb"), sock.makefile("wb", buffering=0)
            dialogue(rfile, wfile)
    return server(handler, n)


def test_http(creds, server):
    body = b"z" * 300000
    ctx = py_server_ctx(creds)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        port = httpd.server_address[1]
        h = HTTPTLSConnection("localhost", port, timeout=TIMEOUT, cafile=creds.cafile)
        h.request("GET", "/")
        r = h.getresponse()
        assert r.status == 200 and r.read() == body
        h.close()
        fp = creds.chain("server").getFingerprint()
        h = HTTPTLSConnection("127.0.0.1", port, timeout=TIMEOUT, x509Fingerprint=fp)
        h.request("GET", "/")
        assert len(h.getresponse().read()) == len(body)
        h.close()
        with pytest.raises(TLSFingerprintError):
            HTTPTLSConnection("127.0.0.1", port, timeout=TIMEOUT, x509Fingerprint="00" * 20).request("GET", "/")
        with pytest.raises(TLSLocalAlert):    # verification on by default: our test CA is not trusted
            HTTPTLSConnection("localhost", port, timeout=TIMEOUT).request("GET", "/")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_pop3(creds, server):
    def dialogue(r, w):
        w.write(b"+OK ready\r\n")
        for line in iter(r.readline, b""):
            cmd = line.split()[0].upper()
            if cmd == b"USER":
                w.write(b"+OK\r\n")
            elif cmd == b"PASS":
                w.write(b"+OK logged in\r\n")
            elif cmd == b"STAT":
                w.write(b"+OK 2 320\r\n")
            elif cmd == b"QUIT":
                w.write(b"+OK bye\r\n")
                return
    srv = lines_server(server, creds, dialogue)
    p = POP3_TLS("localhost", srv.port, timeout=TIMEOUT, cafile=creds.cafile)
    assert p.getwelcome() == b"+OK ready"
    assert p.sock.session.serverCertChain.getFingerprint() == creds.chain("server").getFingerprint()
    p.user("alice")
    p.pass_("secret")
    assert p.stat() == (2, 320)
    p.quit()
    srv.join()
    assert not srv.errors


def test_imap(creds, server):
    def dialogue(r, w):
        w.write(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
        for line in iter(r.readline, b""):
            tag, cmd = line.split()[:2]
            if cmd.upper() == b"CAPABILITY":
                w.write(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")
            elif cmd.upper() == b"LOGIN":
                w.write(tag + b" OK LOGIN completed\r\n")
            elif cmd.upper() == b"NOOP":
                w.write(tag + b" OK NOOP completed\r\n")
            elif cmd.upper() == b"LOGOUT":
                w.write(b"* BYE\r\n" + tag + b" OK LOGOUT completed\r\n")
                return
            else:
                w.write(tag + b" BAD\r\n")
    srv = lines_server(server, creds, dialogue)
    i = IMAP4_TLS("localhost", srv.port, timeout=TIMEOUT, cafile=creds.cafile)
    assert i.login("alice", "secret")[0] == "OK"
    assert i.noop()[0] == "OK"
    i.logout()
    srv.join()
    assert not srv.errors


def test_smtp_starttls(creds, server):
    seen = []

    def starttls(sock, ctx):
        r = sock.makefile("rb")
        sock.sendall(b"220 localhost ESMTP\r\n")
        for line in iter(r.readline, b""):
            if line.upper().startswith(b"EHLO"):
                sock.sendall(b"250-localhost\r\n250 STARTTLS\r\n")
            elif line.upper().startswith(b"STARTTLS"):
                sock.sendall(b"220 go ahead\r\n")
                return ctx.wrap_socket(sock, server_side=True)

    def dialogue(r, w):
        for line in iter(r.readline, b""):
            seen.append(line)
            if line.upper().startswith(b"EHLO"):
                w.write(b"250-localhost\r\n250 AUTH PLAIN\r\n")
            elif line.upper().startswith(b"NOOP"):
                w.write(b"250 ok\r\n")
            elif line.upper().startswith(b"QUIT"):
                w.write(b"221 bye\r\n")
                return
    srv = lines_server(server, creds, dialogue, starttls=starttls)
    s = SMTP_TLS("localhost", srv.port, timeout=TIMEOUT)
    s.ehlo()
    code, _ = s.starttls(cafile=creds.cafile)
    assert code == 220 and isinstance(s.sock, TLSConnection)
    s.ehlo()
    assert s.has_extn("auth")
    assert s.noop()[0] == 250
    s.quit()
    srv.join()
    assert not srv.errors and seen[0].upper().startswith(b"EHLO")


def test_socketserver_mixin(creds):
    chain, key = creds.chain("server"), creds.key("server")

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(b"hello " + self.rfile.readline())

    class Server(TLSSocketServerMixIn, socketserver.ThreadingTCPServer):
        daemon_threads = True
        refused = 0

        def handshake(self, conn):
            try:
                conn.handshakeServer(certChain=chain, privateKey=key)
                return True
            except Exception:
                Server.refused += 1
                return False

    srv = Server(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        ctx = ssl.create_default_context(cafile=creds.cafile)
        with ctx.wrap_socket(socket.create_connection(srv.server_address, timeout=TIMEOUT),
                             server_hostname="localhost") as s:
            s.sendall(b"world\n")
            assert s.makefile("rb").readline() == b"hello world\n"
        with socket.create_connection(srv.server_address, timeout=TIMEOUT) as raw:   # not TLS: refused
            raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
            raw.recv(100)
        deadline = time.monotonic() + TIMEOUT     # the alert may arrive before handshake() returns
        while Server.refused != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert Server.refused == 1
    finally:
        srv.shutdown()
        srv.server_close()


def test_asyncio_pair_and_python_peers(creds):
    async def main():
        chain, key = creds.chain("server"), creds.key("server")
        db = VerifierDB()
        db.create()
        db["alice"] = VerifierDB.makeVerifier("alice", "pw", 1024)

        async def handle(stream):
            data = await stream.read()
            await stream.write(b"echo:" + data)

        server = await aio.start_server(handle, "127.0.0.1", 0, certChain=chain, privateKey=key, verifierDB=db)
        port = server.sockets[0].getsockname()[1]
        async with server:
            stream = await aio.open_connection("localhost", port, cafile=creds.cafile)
            await stream.write(b"hi")
            assert await stream.read() == b"echo:hi"
            assert stream.connection.version == (3, 4)
            await stream.close()
            stream = await aio.open_connection("127.0.0.1", port, username="alice", password="pw")
            await stream.write(b"srp")
            assert await stream.readexactly(8) == b"echo:srp"
            assert stream.connection.session.srpUsername == "alice"
            await stream.close()
            # Python's asyncio ssl client against our server
            ctx = ssl.create_default_context(cafile=creds.cafile)
            r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
            w.write(b"py")
            assert await r.read(100) == b"echo:py"
            w.close()
        # our client wrapping a stream to Python's asyncio ssl server
        sctx = py_server_ctx(creds)

        async def pyhandle(r, w):
            w.write(await r.read(100))
            await w.drain()
            w.close()

        pyserver = await asyncio.start_server(pyhandle, "127.0.0.1", 0, ssl=sctx)
        async with pyserver:
            r, w = await asyncio.open_connection("127.0.0.1", pyserver.sockets[0].getsockname()[1])
            stream = await aio.wrap_client(r, w, serverName="localhost", cafile=creds.cafile)
            await stream.write(b"wrapped")
            assert await stream.read() == b"wrapped"
            await stream.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_command_line(creds, tmp_path, process):
    m2sec = [sys.executable, "-m", "M2Sec"]
    db = str(tmp_path / "users")
    for args in (["createsrp", db], ["add", db, "alice", "abra123cadabra", "1024"]):
        subprocess.run(m2sec + ["tlsdb"] + args, check=True, timeout=TIMEOUT, capture_output=True)
    listed = subprocess.run(m2sec + ["tlsdb", "list", db], capture_output=True, timeout=TIMEOUT)
    assert b"alice 1024" in listed.stdout
    bad = subprocess.run(m2sec + ["tlsdb", "check", db, "alice", "nope"], capture_output=True, timeout=TIMEOUT)
    assert bad.returncode == 1 and b"wrong" in bad.stdout
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.txt").write_bytes(b"served file\n")
    port = free_port()
    process(m2sec + ["tls", "server", "-k", creds.path("server.key"), "-c", creds.path("server-chain.pem"),
                     "-v", db, "--dir", str(tmp_path / "www"), "127.0.0.1:%d" % port], port=port)
    out = subprocess.run(m2sec + ["tls", "client", "--cafile", creds.cafile, "--servername", "localhost",
                                  "--get", "/index.txt", "127.0.0.1:%d" % port], capture_output=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert b"Version: TLS 1.3" in out.stdout and b"Handshake time" in out.stdout and b"served file" in out.stdout
    fp = creds.chain("server").getFingerprint().upper()
    pin = ":".join(fp[i:i + 2] for i in range(0, len(fp), 2))
    for fingerprint, code in ((pin, 0), ("00" * 20, 1), ("00" * 19, 2)):       # right, wrong, malformed
        out = subprocess.run(m2sec + ["tls", "client", "--fingerprint", fingerprint, "127.0.0.1:%d" % port],
                             capture_output=True, timeout=TIMEOUT)
        assert out.returncode == code, out.stderr
    assert b"TLSFingerprintError" in subprocess.run(
        m2sec + ["tls", "client", "--fingerprint", "00" * 20, "127.0.0.1:%d" % port],
        capture_output=True, timeout=TIMEOUT).stderr
    out = subprocess.run(m2sec + ["tls", "client", "-u", "alice", "-p", "abra123cadabra", "127.0.0.1:%d" % port],
                         capture_output=True, timeout=TIMEOUT)
    assert out.returncode == 0 and b"SRP username: alice" in out.stdout
    out = subprocess.run(m2sec + ["tls", "client", "-u", "alice", "-p", "wrong", "127.0.0.1:%d" % port],
                         capture_output=True, timeout=TIMEOUT)
    assert out.returncode == 1 and b"bad_record_mac" in out.stderr


def test_demo_runs():
    demo = __import__("os").path.join(__import__("os").path.dirname(__file__), "..", "..", "demo", "tls_lite_demo.py")
    out = subprocess.run([sys.executable, demo], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert b"resumed=True" in out.stdout and b"user alice" in out.stdout and b"bad_record_mac" in out.stdout
