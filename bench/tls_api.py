"""The TLS Lite-style API: M2Sec.TLS beside tlslite-ng, the package whose API it copies.

rows() returns (benchmark, M2Sec, peer name, peer value, ratio, target, met) like bench/run.py:
full TLS 1.3 handshakes per second (P-256 certificate) and bulk transfer in MB/s, each between a
client and a server thread of the same package over a socketpair.  Figures are medians of RUNS
interleaved runs.  tlslite-ng is pure Python, so the targets only ask M2Sec not to be slower.
Run it alone with ``python bench/tls_api.py``.
"""

import os
import socket
import subprocess
import tempfile
import threading
import time

from _timing import calls_per_second, interleaved, print_table, row

RUNS = 3
SECONDS = 0.6
BULK = {"M2Sec": 8 << 20, "tlslite-ng": 256 << 10}   # tlslite-ng moves ~0.2 MB/s
CHUNK = 16384


def _package(name):
    if name == "M2Sec":
        import M2Sec.TLS as api
    else:
        import tlslite.api as api
    return api


def _credentials(api, cert, key):
    with open(cert) as f:
        chain = api.X509CertChain()
        chain.parsePemList(f.read())
    with open(key) as f:
        return chain, api.parsePEMKey(f.read(), private=True)


def _run_pair(api, creds, cafile, client_work, server_work):
    """One connected pair: a server thread handshakes and runs server_work, the client too."""
    a, b = socket.socketpair()
    chain, key = creds
    extra = {"cafile": cafile, "serverName": "localhost"} if api.__name__.startswith("M2Sec") else {}

    def serve():
        conn = api.TLSConnection(b)
        conn.handshakeServer(certChain=chain, privateKey=key)
        server_work(conn)
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    conn = api.TLSConnection(a)
    conn.handshakeClientCert(**extra)
    client_work(conn)
    conn.close()
    t.join(30)


def handshakes(api, creds, cafile):
    return calls_per_second(lambda: _run_pair(api, creds, cafile, lambda c: None, lambda c: None), SECONDS)


def bulk(api, creds, cafile):
    size = BULK["M2Sec" if api.__name__.startswith("M2Sec") else "tlslite-ng"]
    data = os.urandom(CHUNK)
    took = []

    def send(conn):
        start = time.perf_counter()
        for _ in range(size // CHUNK):
            conn.write(data)
        conn.read(1)
        took.append(time.perf_counter() - start)

    def receive(conn):
        left = size
        while left:
            left -= len(conn.read(left))
        conn.write(b"k")

    _run_pair(api, creds, cafile, send, receive)
    return size / took[0]


def rows():
    out = []
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True, timeout=60)
        apis = {name: _package(name) for name in ("M2Sec", "tlslite-ng")}
        creds = {name: _credentials(api, cert, key) for name, api in apis.items()}
        for label, fn, fmt in (("TLS 1.3 full handshake, TLSConnection pair, P-256", handshakes, "%.0f/s"),
                               ("bulk transfer, TLSConnection pair", bulk, None)):
            ours, peer = interleaved("M2Sec", "tlslite-ng", RUNS, lambda n: fn(apis[n], creds[n], cert))
            show = (lambda v: fmt % v) if fmt else (lambda v: "%.1f MB/s" % (v / 1e6))
            out.append(row(label, ours, "tlslite-ng", peer, show, 1.0))
    return out


if __name__ == "__main__":
    print_table(rows())
