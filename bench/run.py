"""`make bench`: M2Sec's EVP beside openssl speed, hashlib/hmac and the cryptography package.

Prints one table.  Every figure is the median of RUNS runs; the runs of M2Sec and of its peer
are interleaved, so each ratio compares figures measured under the same machine load.
"""

import hashlib
import importlib
import hmac
import os
import re
import subprocess
import sys
import threading
import time

from M2Sec import EVP

from _timing import calls_per_second, interleaved, print_table, row

RUNS = 5
AREAS = ("evp_msg", "smime", "cms", "ssh_keys", "tls", "tls_api", "ssh_client", "ssh_server", "https_server", "sftp")  # bench/<area>.py modules with rows() in this table's format
BUF = os.urandom(16384)
SMALL = os.urandom(64)
KEY = os.urandom(32)
IV = os.urandom(12)

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
except ImportError:  # pragma: no cover - make bench installs it
    hashes = None


def throughput(fn, seconds=0.25):
    """Bytes per CPU second of fn(), each call processing len(BUF) bytes (CPU time, as openssl
    speed counts: wall time on a busy machine compared it with a quarter of a core)."""
    return calls_per_second(fn, seconds, 50, time.process_time) * len(BUF)


def per_call(fn, seconds=0.2):
    """CPU nanoseconds per call of fn()."""
    return 1e9 / calls_per_second(fn, seconds, 1000, time.process_time)


def openssl_speed(algo):
    """openssl speed -evp algo on 16 KiB buffers, in bytes per second."""
    out = subprocess.run(["openssl", "speed", "-evp", algo, "-bytes", "16384", "-seconds", "1"],
                         capture_output=True, text=True, timeout=60).stdout
    # the result line: "<algo>  <N>k" (1000s of bytes per second)
    m = re.search(r"^\S+\s+([\d.]+)k\s*$", out, re.M)
    if not m:
        raise RuntimeError("cannot parse openssl speed output:\n" + out)
    return float(m.group(1)) * 1000


def pair(a, b, measure):
    return interleaved(a, b, RUNS, measure)


# ---- the workloads ----------------------------------------------------------------------

def m2_sha256_16k():
    EVP.digest("sha256", BUF)


_gcm = EVP.Cipher("aes_256_gcm", KEY, IV, 1)


def m2_gcm_16k():
    _gcm.update(BUF)


def m2_digest_64():
    EVP.digest("sha256", SMALL)


def m2_hmac_digest_64():
    EVP.hmac_digest(KEY, SMALL, "sha256")


def hl_digest_64():
    hashlib.sha256(SMALL).digest()


def hl_hmac_64():
    hmac.digest(KEY, SMALL, "sha256")


def hl_sha256_16k():
    hashlib.sha256(BUF).digest()


if hashes is not None:
    _cgcm = Cipher(algorithms.AES(KEY), modes.GCM(IV)).encryptor()

    def cg_gcm_16k():
        _cgcm.update(BUF)


BIG = os.urandom(16 << 20)


def hash_big(threads):
    """Bytes per second hashing 16 MiB buffers, 4 per thread, in `threads` threads."""
    def work():
        for _ in range(4):
            EVP.digest("sha256", BIG)
    ts = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return threads * 4 * len(BIG) / (time.perf_counter() - start)


# ---- the table --------------------------------------------------------------------------

def main(only=()):
    """The table; `only` names the parts to run ("evp" for this file's rows, or bench/<area>.py
    modules such as "evp_msg", "tls"), all of them when empty."""
    rows = []
    mb = lambda v: "%.0f MB/s" % (v / 1e6)  # noqa: E731
    ns = lambda v: "%.0f ns" % v  # noqa: E731

    def add(name, ours, peer_name, peer, fmt, target, higher_is_better=True):
        rows.append(row(name, ours, peer_name, peer, fmt, target, higher_is_better))

    if only and "evp" not in only:
        return _areas(rows, only)
    # throughput on 16 KiB buffers: higher is better, ratio = M2Sec / peer
    a, b = pair(m2_sha256_16k, "sha256", lambda f: throughput(f) if callable(f) else openssl_speed(f))
    add("SHA-256 16 KiB", a, "openssl speed", b, mb, 0.95)
    a, c = pair(m2_sha256_16k, hl_sha256_16k, throughput)
    add("SHA-256 16 KiB", a, "hashlib", c, mb, None)
    a, b = pair(m2_gcm_16k, "aes-256-gcm", lambda f: throughput(f) if callable(f) else openssl_speed(f))
    add("AES-256-GCM 16 KiB", a, "openssl speed", b, mb, 0.95)
    if hashes is not None:
        a, c = pair(m2_gcm_16k, cg_gcm_16k, throughput)
        add("AES-256-GCM 16 KiB", a, "cryptography", c, mb, None)

    # per-call cost for 64-byte inputs: lower is better, ratio = M2Sec / peer
    # (MessageDigest, HMAC and Cipher per message: bench/evp_msg.py)
    a, b = pair(m2_digest_64, hl_digest_64, per_call)
    add("digest() 64 B", a, "hashlib", b, ns, 1.2, False)
    a, b = pair(m2_hmac_digest_64, hl_hmac_64, per_call)
    add("hmac_digest() 64 B", a, "hmac.digest", b, ns, 1.2, False)

    # two threads against one: higher is better, ratio = two / one
    one, two = pair(1, 2, hash_big)
    rows.append(("SHA-256 16 MiB, 2 threads", mb(two), "1 thread", mb(one), "%.2f" % (two / one),
                 ">= 1.8 (%d CPUs)" % os.cpu_count(), "yes" if two / one >= 1.8 else "NO"))

    _areas(rows, only)


def _areas(rows, only):
    # the protocol benches live beside this file, one module per area, each with rows()
    here = os.path.dirname(os.path.abspath(__file__))
    for area in AREAS:
        if (not only or area in only) and os.path.exists(os.path.join(here, area + ".py")):
            rows.extend(importlib.import_module(area).rows())

    print_table(rows)
    if not only or "evp_msg" in only:
        chart = importlib.import_module("evp_msg").write_chart(os.path.join(here, "results", "latest.png"))
        print("\nchart (ratios to the C limit): %s" % chart)
    print("\nmedians of %d interleaved runs; %s; Python %s" % (RUNS, subprocess.run(
        ["openssl", "version"], capture_output=True, text=True).stdout.strip(), sys.version.split()[0]))


if __name__ == "__main__":
    main(tuple(sys.argv[1:]))
