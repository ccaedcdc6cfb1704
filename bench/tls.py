"""TLS over loopback: M2Sec's SSL beside the C limit, Python's ssl module and M2Crypto 0.51.

The C limit is bench/tls_loop.c (built by make bench): the same work written in C on the
OpenSSL M2Sec uses.  Every figure is CPU time of the side under test, which the load of a
shared machine disturbs far less than wall time:

- client: CPU microseconds per full and resumed TLS 1.3 handshake with a P-256 and an RSA-2048
  certificate, against ``openssl s_server`` (this process's CPU; the server is another);
- server: CPU microseconds of the server thread per handshake, driven by a separate client
  process using the ssl module (``openssl s_time`` cannot resume TLS 1.3 sessions);
- bulk over TCP loopback, Nagle off: MB per CPU second of a client thread writing 64 KiB at
  a time to tls_loop's C reader, and of a server thread reading into a 64 KiB buffer what
  tls_loop's C writer sends (the other end in its own process, so that one end's CPU is
  measured alone, with no second Python thread taking the GIL in turn; on a machine of two
  CPUs or more, each end on a core of its own, the same two for every library).

The handshake rows have a second C column, "C loop in this process": tls_loop.c's same
handshake code built as a shared object (tls_loop.so, made here from tls_loop.c) and called
through ctypes in this process, in the same thread and timed the same way as M2Sec's row.  Its
ratio to the standalone C loop is what running in a Python process costs OpenSSL; M2Sec's ratio
to it is what M2Sec adds.  No environment is pinned for either: glibc malloc's tunables
(arena_max, tcache, mmap/trim thresholds) moved neither C figure beyond the noise.

Each row compares M2Sec with one peer (ratio = M2Sec / peer); the peers' own ratios to the C
limit are shown beside their values.  Figures are medians of RUNS (BULK_RUNS) runs, the
libraries taking turns, so that each ratio compares figures measured under the same load.
Run it alone with ``python bench/tls.py`` (``--bulk``: the bulk rows only; ``--threads``: the
two-thread rows only).
"""

import contextlib
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from M2Sec import SSL

from _timing import calls_per_second, print_table, row, two_threads_row

RUNS = 3
BULK_RUNS = 7  # a bulk figure swings by a tenth from run to run (the TCP peers' timing): 7 for a steady median
SECONDS = 0.6
BULK = 256 << 20
CHUNK = 16384
HERE = os.path.dirname(os.path.abspath(__file__))
#: the C limit (bench/tls_loop.c, built by make bench)
C_LOOP = os.path.join(HERE, "tls_loop")
#: the same C handshakes as a shared object called in this process (built from tls_loop.c here)
C_LIB = C_LOOP + ".so"
#: the handshake rows' second C column: tls_loop.c's handshake called through ctypes in this
#: process, where M2Sec's runs (the client's in the main thread, the server's per accepted
#: socket in a server thread, timed as M2Sec's are).  The standalone C loop stays the limit the
#: target is set against; beside it, this column's ratio to it ("(1.06 C)") is what a Python
#: process costs the same OpenSSL code (the interpreter's work between handshakes leaves
#: OpenSSL's code and data out of the caches, and the reverse), and M2Sec's ratio to this
#: column is what M2Sec adds (shown without a target).
IN_PROCESS = "C loop in this process"


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
    """Calls of fn() per second (wall time)."""
    return calls_per_second(fn, seconds)


def cpu_us(fn, seconds=SECONDS):
    """This process's CPU microseconds per call of fn()."""
    return 1e6 / calls_per_second(fn, seconds, clock=time.process_time)


def _measure(one):
    """A client row's measure: CPU microseconds per handshake of one(); one itself is kept as
    its .one, for bench/tls_callgrind.py's counts."""
    measure = lambda: cpu_us(one)  # noqa: E731
    measure.one = one
    return measure


def medians(measures, runs=RUNS):
    """{name: median of measure()} over runs rounds, the measures taking turns in each round
    (a measure may give a tuple of figures: then each place has its median)."""
    got = {k: [] for k in measures}
    for _ in range(runs):
        for k, f in measures.items():
            got[k].append(f())
    out = {}
    for k, xs in got.items():
        out[k] = tuple(map(statistics.median, zip(*xs))) if isinstance(xs[0], tuple) else statistics.median(xs)
    return out


def c_loop(*args):
    """The output of bench/tls_loop with args (its figures, split)."""
    out = subprocess.run([C_LOOP, *map(str, args)], capture_output=True, text=True, timeout=120)
    if out.returncode:
        raise RuntimeError("tls_loop %s: %s" % (" ".join(map(str, args)), out.stderr))
    return [float(x) for x in out.stdout.split()]


# ---- client side: against openssl s_server --------------------------------------------

def s_server(cert, key):
    """``openssl s_server`` (TLS 1.3) on a loopback port, ready: (its process, the port); the
    caller kills it."""
    port = free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert, "-key", key,
                            "-tls1_3", "-rev", "-quiet"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
    except BaseException:
        srv.kill()
        srv.wait()
        raise
    return srv, port


def _m2api_client(api, ctx, port, resume):
    """CPU microseconds per handshake through M2Crypto's API (M2Sec's, or M2Crypto's own as api)."""
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
    return _measure(one)


def m2_client(port, cafile, resume):
    ctx = SSL.create_default_context(cafile=cafile)
    ctx.set_min_proto_version(SSL.TLSv1_3)
    return _m2api_client(SSL, ctx, port, resume)


def c_client(port, cafile, resume):
    return lambda: c_loop("client", port, cafile, "resumed" if resume else "full", SECONDS)[0]


_lib = None


def c_lib():
    """bench/tls_loop.c's handshake functions as a shared object loaded in this process (built
    on first use, again when tls_loop.c changed), or None without a C compiler.  ctypes lets
    the GIL go during each call, as M2Sec's handshakes do."""
    global _lib
    if _lib is None:
        import ctypes
        src = C_LOOP + ".c"
        if not os.path.exists(C_LIB) or os.path.getmtime(C_LIB) < os.path.getmtime(src):
            flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libssl", "libcrypto"], capture_output=True,
                                   text=True).stdout.split() or ["-lssl", "-lcrypto"]
            tmp = C_LIB + ".%d" % os.getpid()
            cc = [os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC", "-DTLS_LOOP_LIB", "-o", tmp, src, *flags]
            try:
                built = not subprocess.run(cc).returncode
            except OSError:  # no compiler
                built = False
            if not built:
                print("bench/tls_loop.so could not be built: no C loop in this process", file=sys.stderr)
                return None
            os.replace(tmp, C_LIB)
        lib = ctypes.CDLL(C_LIB)
        for name, args in (("client_ctx", [ctypes.c_char_p]), ("server_ctx", [ctypes.c_char_p, ctypes.c_char_p]),
                           ("client_session", [ctypes.c_void_p, ctypes.c_int])):
            getattr(lib, name).restype = ctypes.c_void_p
            getattr(lib, name).argtypes = args
        lib.client_once.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.serve_one.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.client_once.restype = lib.serve_one.restype = None
        _lib = lib
    return _lib


def c_inproc_client(port, cafile, resume):
    """tls_loop's client handshakes called in this process (main thread, as M2Sec's client
    row): CPU microseconds per handshake measured as M2Sec's are."""
    lib = c_lib()
    ctx = lib.client_ctx(cafile.encode())
    session = lib.client_session(ctx, port) if resume else None

    def one():
        lib.client_once(ctx, port, session)
    return _measure(one)


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

    return _measure(one)


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

    #: whether a thread serves (run()); bench/tls_callgrind.py calls serve() itself
    threaded = True

    def __init__(self, ctx):
        self.ctx = ctx
        self.sock = listener()
        self.port = self.sock.getsockname()[1]
        if self.threaded:
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
        """This thread's CPU microseconds per handshake while a client process drives it."""
        n, cpu = self.count, self.cpu
        client_process(self.port, cafile, resume)
        return (self.cpu - cpu) / (self.count - n) * 1e6

    def close(self):
        self.sock.close()


class M2Server(_Server):
    """A server on M2Crypto's API: M2Sec's (api=SSL), or M2Crypto's own."""

    def __init__(self, cert, key, api=SSL):
        self.api = api
        ctx = api.Context() if api is SSL else api.Context("tls")
        ctx.load_cert(cert, key)
        ctx.set_session_id_ctx(b"bench")
        super().__init__(ctx)

    def serve(self, s):
        c = self.api.Connection(self.ctx, s)
        try:
            c.handshake_on_existing_socket(server_side=True)  # M2Crypto's setup_ssl, set_accept_state, accept_ssl
            if c.read():  # the first client sends a byte and waits for its tickets
                c.write(b"k")
        except self.api.SSLError:
            pass
        if self.api is SSL:
            c.free()
        else:
            c.close()  # and M2Crypto's __del__ frees the SSL


class CInProcessServer(_Server):
    """tls_loop's per-client C (serve_one) in a server thread of this process, as M2Sec's."""

    def __init__(self, cert, key):
        self.lib = c_lib()
        super().__init__(self.lib.server_ctx(cert.encode(), key.encode()))

    def serve(self, s):
        self.lib.serve_one(self.ctx, s.detach())  # the C closes the descriptor


class CServer:
    """bench/tls_loop's server, in its own process."""

    def __init__(self, cert, key):
        self.proc = subprocess.Popen([C_LOOP, "server", cert, key], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.port = int(self.proc.stdout.readline())

    def _counts(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        n, cpu = self.proc.stdout.readline().split()
        return int(n), float(cpu)

    def served(self, cafile, resume):
        n, cpu = self._counts()
        client_process(self.port, cafile, resume)
        n2, cpu2 = self._counts()
        return (cpu2 - cpu) / (n2 - n)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


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


#: the CPUs of the bulk rows' measured end and of its peer: each end on a core of its own, the
#: same two for every library, so that no run has both ends taking turns on one core (which
#: changes how often they wake each other and moved single figures by a tenth); () on one CPU
_ALL = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
_CPUS = tuple(_ALL[:2]) if len(_ALL) >= 2 else ()


def _pin(pid, end):
    """Keep pid (0: this thread) on the CPU of end (0: the measured end, 1: its peer; None: any)."""
    if _CPUS:
        os.sched_setaffinity(pid, _ALL if end is None else {_CPUS[end]})


@contextlib.contextmanager
def _measured_cpu():
    """This thread on the measured end's CPU for the duration."""
    _pin(0, 0)
    try:
        yield
    finally:
        _pin(0, None)


def _c_end(*args, end=1):
    """bench/tls_loop with args in its own process (on the CPU of end: see _pin), and the port
    it listens on (or None)."""
    proc = subprocess.Popen([C_LOOP, *map(str, args)], stdout=subprocess.PIPE, text=True)
    _pin(proc.pid, end)
    return proc, (int(proc.stdout.readline()) if args[0] == "sink" else None)


def _c_figure(proc):
    out = proc.communicate(timeout=120)[0]
    if proc.returncode:
        raise RuntimeError("tls_loop failed")
    return float(out.split()[-1])


def _bulk(cert, key, serve, connect):
    """(bytes per CPU second of a writing thread, of a reading thread): connect(port) gives a
    client's (write, wait for the answer, close) and is paired with tls_loop's sink; serve(sock)
    gives a server's (read into a buffer, send, close) on an accepted socket and is paired with
    tls_loop's source, so that each figure is one end's CPU, in a process of its own."""
    lsock = listener(1)

    def writer():
        proc, port = _c_end("sink", cert, key, BULK)
        try:
            write, wait, close = connect(port)
            data = os.urandom(CHUNK) * 4
            with _measured_cpu():
                start = time.thread_time()
                for _ in range(BULK // len(data)):
                    write(data)
                el = time.thread_time() - start
            wait()
            close()
        finally:
            _c_figure(proc)
        return BULK / el

    def reader():
        proc, _ = _c_end("source", lsock.getsockname()[1], cert, BULK)
        s, _ = lsock.accept()
        _nodelay(s)
        readinto, send, close = serve(s)
        buf, n = bytearray(65536), 0
        with _measured_cpu():
            start = time.thread_time()
            while n < BULK:
                n += readinto(buf)
            el = time.thread_time() - start
        send(b"k")
        close()
        _c_figure(proc)
        return BULK / el

    return lambda: (writer(), reader())


def m2_bulk(cert, key, api=SSL):
    """Bulk through M2Crypto's API (M2Sec's, or M2Crypto's own)."""
    if api is SSL:
        sctx = SSL.Context()
        cctx = SSL.create_default_context(cafile=cert)
    else:
        sctx = api.Context("tls")
        cctx = m2crypto_context(cert)
    sctx.load_cert(cert, key)

    def serve(s):
        c = api.Connection(sctx, s)
        c.setup_ssl()
        c.set_accept_state()
        c.accept_ssl()
        if api is SSL:
            return c.readinto, c.write, c.free

        def readinto(buf):  # M2Crypto's readinto cuts the bytearray to what it read
            return len(c.read(65536))
        return readinto, c.write, c.close

    def connect(port):
        c = api.Connection(cctx)
        c.connect(("localhost", port))
        _nodelay(c.socket)
        return c.write, c.read, c.close

    return _bulk(cert, key, serve, connect)


def py_bulk(cert, key):
    """Bulk through the ssl module."""
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

    return _bulk(cert, key, serve, connect)


def c_bulk(cert, key):
    """tls_loop's source writing to its sink: (the source's figure, the sink's)."""
    def one(measured):  # the figure of the measured end, "source" or "sink", on the measured end's CPU
        sink, port = _c_end("sink", cert, key, BULK, end=int(measured != "sink"))
        source, _ = _c_end("source", port, cert, BULK, end=int(measured != "source"))
        source_figure, sink_figure = _c_figure(source), _c_figure(sink)
        return source_figure if measured == "source" else sink_figure

    def run():
        return one("source"), one("sink")
    return run


# ---- the table -----------------------------------------------------------------------------

def _rows(out, name, figures, fmt, higher_is_better):
    """Rows of one figure: M2Sec beside each peer (ratio M2Sec / peer); the target is 0.95 of
    the C limit (1.05 of its CPU) and par with the other peers, whose values carry their own
    ratio to C."""
    ours, c = figures.pop("M2Sec"), figures.pop("C loop", None)
    if c is not None:
        out.append(row(name, ours, "C loop", c, fmt, 0.95 if higher_is_better else 1.05, higher_is_better))
    for peer, value in sorted(figures.items(), key=lambda kv: kv[0] != IN_PROCESS):
        r = row(name, ours, peer, value, fmt, None if peer == IN_PROCESS else 1.0, higher_is_better)
        if c is not None:
            r = r[:3] + ("%s (%.2f C)" % (r[3], value / c),) + r[4:]
        out.append(r)


def rows():
    out = []
    us = lambda v: "%.0f us" % v  # noqa: E731
    have_c = os.access(C_LOOP, os.X_OK)
    if not have_c:
        print("bench/tls_loop is missing (make bench builds it): no C limit", file=sys.stderr)
    M2C = m2crypto()
    have_lib = c_lib() is not None

    with tempfile.TemporaryDirectory() as d:
        certs = make_certs(d)
        for alg, (cert, key) in certs.items():
            srv, port = s_server(cert, key)
            try:
                for resume in (False, True):
                    name = "TLS 1.3 %s handshake, client, %s (CPU)" % ("resumed" if resume else "full", alg)
                    m = {"M2Sec": m2_client(port, cert, resume), "ssl module": py_client(port, cert, resume)}
                    if M2C is not None:
                        m["M2Crypto 0.51"] = _m2api_client(M2C, m2crypto_context(cert), port, resume)
                    if have_c:
                        m["C loop"] = c_client(port, cert, resume)
                    if have_lib:
                        m[IN_PROCESS] = c_inproc_client(port, cert, resume)
                    _rows(out, name, medians(m), us, False)
            finally:
                srv.kill()
                srv.wait()
            servers = {"M2Sec": M2Server(cert, key), "ssl module": PyServer(cert, key)}
            if M2C is not None:
                servers["M2Crypto 0.51"] = M2Server(cert, key, M2C)
            if have_c:
                servers["C loop"] = CServer(cert, key)
            if have_lib:
                servers[IN_PROCESS] = CInProcessServer(cert, key)
            try:
                for resume in (False, True):
                    name = "TLS 1.3 %s handshake, server, %s (CPU)" % ("resumed" if resume else "full", alg)
                    m = {k: (lambda s=s: s.served(cert, resume)) for k, s in servers.items()}
                    _rows(out, name, medians(m), us, False)
            finally:
                for s in servers.values():
                    s.close()
        out.extend(bulk_rows(*certs["P-256"]))
        thread_rows(out, *certs["P-256"])
    return out


def bulk_rows(cert=None, key=None):
    """The two bulk rows alone (``python tls.py --bulk``); certificates are made if not given."""
    if cert is None:
        with tempfile.TemporaryDirectory() as d:
            return bulk_rows(*make_certs(d)["P-256"])
    out = []
    mb = lambda v: "%.0f MB/s" % (v / 1e6)  # noqa: E731
    M2C = m2crypto()
    m = {"M2Sec": m2_bulk(cert, key), "ssl module": py_bulk(cert, key)}
    if M2C is not None:
        m["M2Crypto 0.51"] = m2_bulk(cert, key, M2C)
    if os.access(C_LOOP, os.X_OK):
        m["C loop"] = c_bulk(cert, key)
    got = medians(m, BULK_RUNS)
    _rows(out, "TLS 1.3 bulk, 64 KiB writes (writer CPU)", {k: v[0] for k, v in got.items()}, mb, True)
    _rows(out, "TLS 1.3 bulk, 64 KiB reads (reader CPU)", {k: v[1] for k, v in got.items()}, mb, True)
    return out


# ---- two threads ---------------------------------------------------------------------------

def _memory_pair(cert, key):
    """A client SSLObject and a server SSLObject after their TLS 1.3 handshake in memory."""
    sctx = SSL.Context()
    sctx.load_cert(cert, key)
    client = SSL.SSLObject(SSL.create_default_context(cafile=cert), server_hostname="localhost")
    server = SSL.SSLObject(sctx, server_side=True)
    while not (client.handshake_done and server.handshake_done):
        for a, b in ((client, server), (server, client)):
            try:
                a.do_handshake()
            except SSL.SSLWantReadError:
                pass
            b.receive_bytes(a.data_to_send())
    return client, server


def thread_rows(out, cert, key):
    """TLS data on two connections, one per thread, against one connection: each thread's
    client encrypts 64 KiB (and 1 MiB, as the EVP rows' messages), the bytes go across in
    memory and its server decrypts them (no socket, so that the two threads' work is all this
    process's, on two cores).  Each call releases the GIL: write, data_to_send, receive_bytes
    and read_into are four hand-overs a round trip, which weigh less on 1 MiB than on 64 KiB;
    send() and receive_into() do the same work in two calls."""
    for size, count, combined in ((65536, 4000, False), (1 << 20, 250, False), (65536, 4000, True)):
        data = os.urandom(size)

        def make(data=data, combined=combined):
            client, server = _memory_pair(cert, key)
            buf = bytearray(len(data))

            def one():
                client.write(data)
                server.receive_bytes(client.data_to_send())
                n = 0
                while n < len(data):
                    n += server.read_into(buf)

            def one_combined():
                n = server.receive_into(client.send(data), buf)
                while n < len(data):
                    n += server.read_into(buf)
            f = one_combined if combined else one
            f.keep = (client, server)
            return f
        name = "TLS 1.3 %s %s in memory, one connection per thread" % (
            "send + receive_into" if combined else "write + read",
            "%d KiB" % (size >> 10) if size < 1 << 20 else "%d MiB" % (size >> 20))
        out.append(two_threads_row(name, make, size, count, BULK_RUNS)[2])


def main():
    print_table(rows())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        _client_main(*sys.argv[2:6])
    elif sys.argv[1:2] == ["--bulk"]:
        print_table(bulk_rows())
    elif sys.argv[1:2] == ["--threads"]:
        with tempfile.TemporaryDirectory() as d:
            rows_ = []
            thread_rows(rows_, *make_certs(d)["P-256"])
        print_table(rows_)
    else:
        main()
