"""TLS over loopback: M2Sec's SSL beside Python's ssl module and M2Crypto 0.51 (when make bench built it).

rows() returns (benchmark, M2Sec, peer name, peer value, ratio, target, met) like bench/run.py:

- full and resumed TLS 1.3 handshakes per second with a P-256 and an RSA-2048 certificate,
  client side (against ``openssl s_server``) and server side (driven by a separate client
  process using the ssl module; ``openssl s_time`` cannot resume TLS 1.3 sessions).  The
  server's rate is bound by that client on a small machine, so the server thread's own CPU
  time per handshake is given too (lower is better);
- bulk transfer in MB/s, a client thread writing to a server thread over TCP loopback, with
  Nagle off on both sockets (BULK_RUNS runs: a bulk run takes a few hundredths of a second).

Every figure is the median of RUNS interleaved runs (M2Sec, then the ssl module), so each ratio
compares figures measured under the same load.  Run it alone with ``python bench/tls.py``.
"""

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from M2Sec import SSL

from _timing import calls_per_second, interleaved, print_table, row

RUNS = 3
BULK_RUNS = 7
SECONDS = 0.6
BULK = 32 << 20
CHUNK = 16384


def _openssl(*args, **kw):
    return subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=120, **kw)


def make_certs(d):
    """Self-signed localhost certificates: {"P-256": (cert, key), "RSA-2048": (cert, key)}."""
    out = {}
    for name, alg in (("P-256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                      ("RSA-2048", ["-newkey", "rsa:2048"])):
        cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
        _openssl("req", "-x509", "-nodes", *alg, "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost")
        out[name] = (cert, key)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port):
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("no server on port %d" % port)


def listener(backlog=128):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s


def rate(fn, seconds=SECONDS):
    """Calls of fn() per second."""
    return calls_per_second(fn, seconds)


def pair(a, b, runs=RUNS):
    return interleaved(a, b, runs)


# ---- client side: against openssl s_server --------------------------------------------

def _m2api_client(api, ctx, port, resume):
    """Handshakes per second through M2Crypto's API (M2Sec's, or M2Crypto's own as api)."""
    session = first = None
    if resume:
        first = api.Connection(ctx)
        first.connect(("localhost", port))
        first.write(b"x\n")
        first.read()  # the tickets arrive with the first data
        session = first.get_session()
        if api is not SSL:
            # M2Crypto 0.51's get_session() borrows the SSL_SESSION (SSL_get_session) and its
            # Session frees it all the same: a double free.  Keep the connection and the session.
            session._pyfree = 0
        first.close()

    def one():
        c = api.Connection(ctx)
        if session is not None:
            c.set_session(session)
        c.connect(("localhost", port))
        c.close()

    one.keep = first
    return lambda: rate(one)


def m2_client(port, cafile, resume):
    ctx = SSL.create_default_context(cafile=cafile)
    ctx.set_min_proto_version(SSL.TLSv1_3)
    return _m2api_client(SSL, ctx, port, resume)


def m2crypto():
    """M2Crypto's SSL package, if make bench could build it; else None."""
    try:
        from M2Crypto import SSL as M2C
    except ImportError:
        return None
    return M2C


def m2crypto_context(cafile):
    M2C = m2crypto()
    ctx = M2C.Context("tls")
    ctx.load_verify_locations(cafile)
    ctx.set_verify(M2C.verify_peer | M2C.verify_fail_if_no_peer_cert, 9)
    return ctx


def m2crypto_client(port, cafile, resume):
    return _m2api_client(m2crypto(), m2crypto_context(cafile), port, resume)


def py_client(port, cafile, resume):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    session = None
    if resume:
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost") as s:
            s.sendall(b"x\n")
            s.recv(100)
            session = s.session

    def one():
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost",
                             session=session):
            pass

    return lambda: rate(one)


# ---- server side: a client process (Python's ssl) drives each server the same way ---------

def client_process(port, cafile, resume):
    """Handshakes per second that a separate client process completes against port."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--client", str(port), cafile,
                          "1" if resume else "0", str(SECONDS)], capture_output=True, text=True, timeout=60)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return float(out.stdout)


def _client_main(port, cafile, resume, seconds):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    session = None
    if resume == "1":
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), server_hostname="localhost") as s:
            s.sendall(b"x")
            s.recv(100)
            session = s.session

    def one():
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), server_hostname="localhost",
                             session=session) as s:
            assert session is None or s.session_reused

    print(rate(one, float(seconds)))


class _Server:
    """A server thread on a loopback port; serve(sock) handles one client."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sock = listener()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.run, daemon=True).start()

    count = 0
    cpu = 0.0

    def run(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            t = time.thread_time()
            self.serve(s)
            self.cpu += time.thread_time() - t
            self.count += 1

    def served(self, cafile, resume):
        """(handshakes per second that a client process completes, this thread's CPU
        microseconds per handshake): the rate is bound by the client, the CPU is the server's own."""
        n, cpu = self.count, self.cpu
        hs = client_process(self.port, cafile, resume)
        return hs, (self.cpu - cpu) / (self.count - n) * 1e6

    def close(self):
        self.sock.close()


class M2Server(_Server):
    def __init__(self, cert, key):
        ctx = SSL.Context()
        ctx.load_cert(cert, key)
        ctx.set_session_id_ctx(b"bench")
        super().__init__(ctx)

    def serve(self, s):
        c = SSL.Connection(self.ctx, s)
        try:
            c.setup_ssl()
            c.set_accept_state()
            c.accept_ssl()
            if c.read():  # the first client sends a byte and waits for its tickets
                c.write(b"k")
        except SSL.SSLError:
            pass
        c.free()


class PyServer(_Server):
    def __init__(self, cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        super().__init__(ctx)

    def serve(self, s):
        try:
            t = self.ctx.wrap_socket(s, server_side=True)
            if t.recv(100):
                t.sendall(b"k")
            t.close()
        except (ssl.SSLError, OSError):
            s.close()


# ---- bulk --------------------------------------------------------------------------------

def _nodelay(sock):
    """Nagle off: with it on, the four records of a 64 KiB write meet the peer's delayed ACKs
    and a run falls at random to half speed, whichever library sends."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _bulk(serve, connect):
    """Bytes per second from a client to a server thread over TCP loopback: serve(sock) gives
    the server's (read into a buffer, send, close) on an accepted socket; connect(port) gives
    the client's (send, wait for the answer, close)."""
    lsock = listener(1)

    def accept():
        s, _ = lsock.accept()
        _nodelay(s)
        readinto, send, close = serve(s)
        buf, n = bytearray(65536), 0
        while n < BULK:
            n += readinto(buf)
        send(b"k")
        close()

    def run():
        t = threading.Thread(target=accept)
        t.start()
        send, wait, close = connect(lsock.getsockname()[1])
        data = os.urandom(CHUNK) * 4
        start = time.perf_counter()
        for _ in range(BULK // len(data)):
            send(data)
        wait()
        el = time.perf_counter() - start
        close()
        t.join()
        return BULK / el

    return run


def m2_bulk(cert, key, api=SSL):
    """Bulk from a client on M2Crypto's API (M2Sec's, or M2Crypto's own) to an M2Sec server."""
    sctx = SSL.Context()
    sctx.load_cert(cert, key)
    cctx = SSL.create_default_context(cafile=cert) if api is SSL else m2crypto_context(cert)

    def serve(s):
        c = SSL.Connection(sctx, s)
        c.setup_ssl()
        c.set_accept_state()
        c.accept_ssl()
        return c.readinto, c.write, c.free

    def connect(port):
        c = api.Connection(cctx)
        c.connect(("localhost", port))
        _nodelay(c.socket)
        return c.write, c.read, c.close

    return _bulk(serve, connect)


def py_bulk(cert, key):
    """Bulk from an ssl module client to an ssl module server."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    cctx = ssl.create_default_context(cafile=cert)

    def serve(s):
        t = sctx.wrap_socket(s, server_side=True)
        return t.recv_into, t.sendall, t.close

    def connect(port):
        s = socket.create_connection(("127.0.0.1", port))
        _nodelay(s)
        c = cctx.wrap_socket(s, server_hostname="localhost")
        return c.sendall, lambda: c.recv(1), c.close

    return _bulk(serve, connect)


# ---- the table -----------------------------------------------------------------------------

def rows():
    out = []
    hs = lambda v: "%.0f/s" % v  # noqa: E731
    mb = lambda v: "%.0f MB/s" % (v / 1e6)  # noqa: E731
    us = lambda v: "%.0f us" % v  # noqa: E731

    def add(name, ours, peer_name, peer, fmt, target=0.9):
        out.append(row(name, ours, peer_name, peer, fmt, target))

    with tempfile.TemporaryDirectory() as d:
        certs = make_certs(d)
        for alg, (cert, key) in certs.items():
            port = free_port()
            srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert, "-key", key,
                                    "-tls1_3", "-rev", "-quiet"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            try:
                wait_port(port)
                for resume in (False, True):
                    name = "TLS 1.3 %s handshake, client, %s" % ("resumed" if resume else "full", alg)
                    a, b = pair(m2_client(port, cert, resume), py_client(port, cert, resume))
                    add(name, a, "ssl module", b, hs)
                    if m2crypto() is not None:
                        a, b = pair(m2_client(port, cert, resume), m2crypto_client(port, cert, resume))
                        add(name, a, "M2Crypto 0.51", b, hs)
            finally:
                srv.kill()
                srv.wait()
            m2s, pys = M2Server(cert, key), PyServer(cert, key)
            try:
                for resume in (False, True):
                    name = "TLS 1.3 %s handshake, server, %s" % ("resumed" if resume else "full", alg)
                    a, b = interleaved(m2s, pys, RUNS, lambda srv: srv.served(cert, resume))
                    add(name, a[0], "ssl module", b[0], hs)
                    out.append(row(name + " (CPU)", a[1], "ssl module", b[1], us, 1.1, higher_is_better=False))
            finally:
                m2s.close()
                pys.close()
        cert, key = certs["P-256"]
        a, b = pair(m2_bulk(cert, key), py_bulk(cert, key), BULK_RUNS)
        add("TLS 1.3 bulk, 64 KiB writes", a, "ssl module", b, mb)
        if m2crypto() is not None:
            a, b = pair(m2_bulk(cert, key), m2_bulk(cert, key, m2crypto()), BULK_RUNS)
            add("TLS 1.3 bulk, 64 KiB writes", a, "M2Crypto 0.51", b, mb)
    return out


def main():
    print_table(rows())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        _client_main(*sys.argv[2:6])
    else:
        main()
