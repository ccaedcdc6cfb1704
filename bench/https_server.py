"""HTTPS servers for WSGI apps: M2Sec.wsgi beside gunicorn (gthread and sync), cheroot with its
builtin ssl adapter, and hypercorn, each with 2 worker processes, the same EC P-256
certificate and the same application (bench/wsgi_bench_app.py).  The peers are installed by
``make bench`` only; a missing one leaves its rows out.

Load: wrk (50 connections, keep-alive) for requests/s, MB/s and p99 latency; for a TLS
handshake per request, ``openssl s_time`` with ``-new`` (every connection a full handshake)
and ``-reuse`` (every connection resumes the first session), two clients at once: wrk is not
used there because it keeps the TLS session across ``Connection: close`` reconnects (so its
"new connection" figure silently measures resumption) and busy-loops in SSL_connect.
Figures are medians of RUNS runs taken in turn over the servers (the machine is shared).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from _timing import row

RUNS = 3
SECONDS = 3
CONNECTIONS = 50
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


CHEROOT = """
import os, sys
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
import wsgi_bench_app
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if os.fork():
    pass
s = wsgi.Server(("127.0.0.1", port), wsgi_bench_app.app, numthreads=10, request_queue_size=1024, reuse_port=True)
s.keep_alive_conn_limit = 1000
s.ssl_adapter = BuiltinSSLAdapter(cert, key)
s.safe_start()
"""


def servers(cert, key):
    """name -> (argv with {port}, the module that must be importable)."""
    py = sys.executable
    bindir = os.path.dirname(py)
    return {
        "M2Sec.wsgi": ([py, "-m", "M2Sec", "https", "serve", "wsgi_bench_app:app", "--port", "{port}", "--cert", cert,
                        "--key", key, "--workers", "2", "--threads", "10"], "M2Sec.wsgi"),
        "gunicorn gthread": ([os.path.join(bindir, "gunicorn"), "-w", "2", "-k", "gthread", "--threads", "10",
                              "--backlog", "1024", "--certfile", cert, "--keyfile", key, "-b", "127.0.0.1:{port}",
                              "--log-level", "error", "wsgi_bench_app:app"], "gunicorn"),
        "gunicorn sync": ([os.path.join(bindir, "gunicorn"), "-w", "2", "--backlog", "1024", "--certfile", cert,
                           "--keyfile", key, "-b", "127.0.0.1:{port}", "--log-level", "error", "wsgi_bench_app:app"],
                          "gunicorn"),
        "cheroot builtin": ([py, "-c", CHEROOT, "{port}", cert, key], "cheroot"),
        "hypercorn": ([os.path.join(bindir, "hypercorn"), "--workers", "2", "--certfile", cert, "--keyfile", key,
                       "--bind", "127.0.0.1:{port}", "--backlog", "1024", "wsgi_bench_app:app"], "hypercorn"),
    }


def importable(module):
    return subprocess.run([sys.executable, "-c", "import " + module], capture_output=True).returncode == 0


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return cert, key


def _seconds(value, unit):
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk(port, path):
    """(requests/s, bytes/s, p99 seconds, errors) from wrk's report."""
    out = subprocess.run(["wrk", "-t2", "-c%d" % CONNECTIONS, "-d%ds" % SECONDS, "--latency",
                          "https://127.0.0.1:%d%s" % (port, path)], capture_output=True, text=True,
                         timeout=SECONDS + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    bps = float(m.group(1)) * {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}[m.group(2)]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s|m)", out)
    p99 = _seconds(*m.groups()) if m else float("nan")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m.group(1)) if m else 0
    return rps, bps, p99, errors


def s_time(port, mode):
    """Connections per second of two `openssl s_time -new|-reuse` clients fetching / at once."""
    cmd = ["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-www", "/", "-time", str(SECONDS), mode]
    t0 = time.monotonic()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    count = 0
    for p in procs:
        out, _ = p.communicate(timeout=SECONDS + 60)
        # "N connections in T real seconds" (the other line's time is the client's CPU time)
        m = re.search(r"(\d+) connections in \d+ real seconds", out)
        count += int(m.group(1)) if m else 0
    return count / (time.monotonic() - t0)


WORKLOADS = [
    ("HTTPS keep-alive hello, 50 conns", lambda port: wrk(port, "/")),
    ("HTTPS 64 KiB, 50 conns", lambda port: wrk(port, "/big")),
    ("HTTPS full handshake per request", lambda port: (s_time(port, "-new"), 0, 0, 0)),
    ("HTTPS resumed handshake per request", lambda port: (s_time(port, "-reuse"), 0, 0, 0)),
]


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def measure():
    """{workload: {server: (rps, bps, p99, errors)}} and the servers left out."""
    results, missing, procs = {}, [], {}
    d = tempfile.mkdtemp(prefix="m2sec-bench-wsgi-")
    env = dict(os.environ, PYTHONPATH=HERE)
    try:
        cert, key = make_cert(d)
        for name, (argv, module) in servers(cert, key).items():
            if not importable(module) or not os.path.exists(argv[0]):
                missing.append(name)
                continue
            port = free_port()
            p = subprocess.Popen([a.replace("{port}", str(port)) for a in argv], cwd=d, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            if not wait_port(port):
                missing.append(name)
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                continue
            procs[name] = (p, port)
        time.sleep(1)
        raw = {w: {s: [] for s in procs} for w, _ in WORKLOADS}
        for _ in range(RUNS):
            for wname, fn in WORKLOADS:
                for sname, (_, port) in procs.items():
                    try:
                        raw[wname][sname].append(fn(port))
                    except Exception:  # a server that fails a workload: no figure
                        raw[wname][sname].append(None)
        for wname, per in raw.items():
            results[wname] = {}
            for sname, runs in per.items():
                good = [r for r in runs if r is not None]
                if good:
                    results[wname][sname] = tuple(_median([r[i] for r in good]) for i in range(4))
    finally:
        for p, _ in procs.values():
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        shutil.rmtree(d, ignore_errors=True)
    return results, missing


def rows():
    if shutil.which("wrk") is None:
        return [("HTTPS servers", "-", "wrk missing", "-", "-", "-", "-")]
    results, missing = measure()
    out = []
    for wname, per in results.items():
        ours = per.get("M2Sec.wsgi")
        if ours is None:
            out.append((wname, "failed", "-", "-", "-", "-", "-"))
            continue
        for sname, theirs in per.items():
            if sname == "M2Sec.wsgi":
                continue
            if "64 KiB" in wname:
                fmt = lambda v: "%.0f MB/s" % (v / 1e6)  # noqa: E731
                a, b = ours[1], theirs[1]
            else:
                fmt = lambda v: "%.0f/s" % v  # noqa: E731
                a, b = ours[0], theirs[0]
            if b <= 0:
                out.append((wname, fmt(a), sname, "0 (failed)", "-", "-", "-"))
                continue
            r = list(row(wname, a, sname, b, fmt, 1.0))
            if "handshake" not in wname:
                r[1] += " p99 %.0f ms, %d err" % (ours[2] * 1e3, ours[3])
                r[3] += " p99 %.0f ms, %d err" % (theirs[2] * 1e3, theirs[3])
            out.append(tuple(r))
    for name in missing:
        out.append(("HTTPS servers", "-", name, "not installed or did not start", "-", "-", "-"))
    return out


if __name__ == "__main__":
    from _timing import print_table

    print_table(rows())
    print("\nmedians of %d runs of %d s, taken in turn over the servers; 2 workers each; shared, noisy machine"
          % (RUNS, SECONDS))
