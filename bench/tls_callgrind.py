"""What one TLS 1.3 handshake makes the process execute, counted by callgrind: M2Sec beside
M2Crypto 0.51 and tls_loop.c's own handshake code called in a Python process (tls_loop.so).

bench/tls.py times CPU per handshake, which a shared machine moves by a tenth from run to run.
These counts do not move with the load: valgrind's callgrind, with its cache simulation, runs a
library's handshake loop twice, WARM + FEW and WARM + MANY handshakes, and the difference over
MANY - FEW is one handshake's instructions (Ir), first-level instruction and data cache misses
(I1mr, D1mr, of callgrind's simulated caches), and the part of them in the interpreter
(libpython).  The client's peer is ``openssl s_server``, the server's a client process on the
ssl module (bench/tls.py's own), both outside valgrind.

``make bench-callgrind`` runs it (a few minutes); ``python tls_callgrind.py RSA-2048`` counts
with an RSA certificate instead of P-256.
"""

import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict

import tls

WARM, FEW, MANY = 5, 20, 120
#: the libraries counted, by bench/tls.py's column names
KINDS = ("M2Sec", "M2Crypto 0.51", tls.IN_PROCESS)
EVENTS = ("Ir", "I1mr", "D1mr")


def _client(kind, port, cert, resume):
    if kind == "M2Sec":
        return tls.m2_client(port, cert, resume).one
    if kind == tls.IN_PROCESS:
        return tls.c_inproc_client(port, cert, resume).one
    return tls._m2api_client(tls.m2crypto(), tls.m2crypto_context(cert), port, resume).one


def _server(kind, cert, key):
    tls._Server.threaded = False  # served here, in the thread callgrind counts
    if kind == "M2Sec":
        return tls.M2Server(cert, key)
    if kind == tls.IN_PROCESS:
        return tls.CInProcessServer(cert, key)
    return tls.M2Server(cert, key, tls.m2crypto())


def child(role, kind, cert, key, resume, count, port):
    """Under valgrind: count handshakes of kind in role (after WARM not counted apart)."""
    resume = resume == "1"
    if role == "client":
        one = _client(kind, int(port), cert, resume)
        for _ in range(WARM + int(count)):
            one()
        return
    srv = _server(kind, cert, key)
    driver = subprocess.Popen([sys.executable, os.path.join(tls.HERE, "tls.py"), "--client", str(srv.port), cert,
                               "1" if resume else "0", "600"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(WARM + int(count)):
            s, _ = srv.sock.accept()
            srv.serve(s)
    finally:
        driver.kill()
        driver.wait()
        srv.close()


def _by_object(path):
    """{object file name: [Ir, I1mr, D1mr]} of a callgrind output file."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--show=" + ",".join(EVENTS), "--inclusive=no", path],
                         capture_output=True, text=True, check=True).stdout
    objs = defaultdict(lambda: [0] * len(EVENTS))
    figure = r"([\d,]+|\.)(?: \([^)]*\))?\s+"
    for line in out.splitlines():
        m = re.match(r"\s*" + figure * len(EVENTS) + r".*? \[(.*)\]$", line)
        if m:
            for i in range(len(EVENTS)):
                objs[os.path.basename(m.group(len(EVENTS) + 1))][i] += int(m.group(i + 1).replace(",", "").replace(".", "0"))
    return objs


def count(role, kind, cert, key, resume, port, d):
    """Per handshake: (Ir, I1mr, D1mr) of the process and of its libpython."""
    got = []
    for n in (FEW, MANY):
        out = os.path.join(d, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--cache-sim=yes", "--callgrind-out-file=" + out,
                        sys.executable, os.path.abspath(__file__), "--child", role, kind, cert, key,
                        "1" if resume else "0", str(n), str(port)], check=True, capture_output=True, timeout=900)
        got.append(_by_object(out))
    def per_handshake(part):  # part(objects): figures of a run
        return [(b - a) / (MANY - FEW) for a, b in zip(part(got[0]), part(got[1]))]

    def everything(objs):
        return [sum(v[i] for v in objs.values()) for i in range(len(EVENTS))]

    def python(objs):
        return everything({k: v for k, v in objs.items() if k.startswith("libpython")})

    return per_handshake(everything), per_handshake(python)


def rows(alg="P-256"):
    kinds = [k for k in KINDS if k != "M2Crypto 0.51" or tls.m2crypto() is not None]
    out = []
    with tempfile.TemporaryDirectory() as d:
        cert, key = tls.make_certs(d)[alg]
        srv, port = tls.s_server(cert, key)
        try:
            for role in ("client", "server"):
                for resume in (False, True):
                    name = "TLS 1.3 %s handshake, %s, %s" % ("resumed" if resume else "full", role, alg)
                    figures = {k: count(role, k, cert, key, resume, port, d) for k in kinds}
                    base = figures[tls.IN_PROCESS][0][0]
                    for k in kinds:
                        (ir, i1, d1), (pir, pi1, _) = figures[k]
                        out.append((name, k, "%.0f" % ir, "%.3f" % (ir / base), "%.0f" % i1, "%.0f" % d1,
                                    "%.0f / %.0f" % (pir, pi1)))
        finally:
            srv.kill()
            srv.wait()
    return out


def main(alg="P-256"):
    out = rows(alg)
    head = ("handshake", "library", "Ir", "Ir / C in process", "I1mr", "D1mr", "libpython Ir / I1mr")
    widths = [max(len(r[i]) for r in out + [head]) for i in range(len(head))]
    for r in [head] + out:
        print("  ".join("%-*s" % (w, v) for w, v in zip(widths, r)))
    print("\nper handshake: the difference of %d and %d handshakes (after %d), callgrind's simulated caches"
          % (MANY, FEW, WARM))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:9])
    else:
        main(*sys.argv[1:2])
