"""Per-message symmetric crypto (what users do) beside streaming, and two threads against one.

rows() returns rows in bench/run.py's table format; CHART collects, per figure, every
implementation's rate as a ratio to the C limit, THREADS the two-thread rows, for
bench/results/latest.png: every row of the table is in the chart.

- AEAD per message: EVP.AESGCM / EVP.ChaCha20Poly1305 (keyed once) beside cryptography's AEAD
  classes and, as the C limit, bench/aead_loop.c "keyed" (one keyed context, a new IV per message);
- EVP.Cipher per message (a new context keyed per message, as M2Crypto's API does it) beside
  M2Crypto's Cipher and cryptography's Cipher; C limit: aead_loop "fresh";
- MessageDigest and HMAC per message beside M2Crypto, cryptography and hashlib/hmac; C limit:
  ``openssl speed`` (EVP_Digest per buffer; HMAC re-initialised per buffer), which counts CPU time;
- digest() and hmac_digest() of 64 B beside hashlib and hmac.digest; C limit: ``openssl speed``;
- streaming (one running context): MessageDigest.update of 64 B and 16 KiB and Cipher.update
  (AES-256-GCM) of 16 KiB, beside cryptography, M2Crypto and hashlib; C limit: aead_loop
  "digest"/"stream" (EVP_DigestUpdate/EVP_CipherUpdate per buffer on one context);
- two threads against one, on two cores: AESGCM on 1 MiB and 16 KiB (a TLS record) messages,
  Cipher.update and MessageDigest.update on 1 MiB, digest() of 1 MiB.

All rates are per CPU second (time.process_time, as openssl speed and aead_loop count), each
figure the median of RUNS runs taken in turn with its peers; the ratio column gives the median
of the per-run ratios and their spread (min-max).  Run alone: ``python bench/evp_msg.py``.
"""

import hashlib
import hmac
import os
import re
import statistics
import subprocess
import sys
import time

from M2Sec import EVP

from _timing import calls_per_second, print_table, two_threads_row

RUNS = 5
SECONDS = 0.2
HERE = os.path.dirname(os.path.abspath(__file__))
LOOP = os.path.join(HERE, "aead_loop")
KEY, IV = os.urandom(32), os.urandom(12)
SIZES = (64, 16384)
CHART = []  # (figure, {implementation: ratio to the C limit}), medians of the per-run ratios
THREADS = []  # (figure, two threads / one thread, CPUs the process had)

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import hmac as chmac
    from cryptography.hazmat.primitives.ciphers import Cipher, aead, algorithms, modes
except ImportError:  # pragma: no cover - make bench installs it
    aead = None
try:
    from M2Crypto import EVP as M2C
except ImportError:  # make bench leaves its rows out if it did not build
    M2C = None


def cpu_rate(fn):
    return calls_per_second(fn, SECONDS, 20, time.process_time)


def c_loop(mode, cipher, size):
    """Messages per CPU second of bench/aead_loop (built by make bench)."""
    if not os.path.exists(LOOP) or os.path.getmtime(LOOP) < os.path.getmtime(LOOP + ".c"):
        subprocess.run(["cc", "-O2", "-o", LOOP, LOOP + ".c", "-lcrypto"], check=True, timeout=120)
    return float(subprocess.run([LOOP, mode, cipher, str(size), str(SECONDS)], capture_output=True,
                                text=True, timeout=60, check=True).stdout)


def openssl_speed(args, size):
    """Buffers per CPU second from openssl speed on buffers of size bytes."""
    out = subprocess.run(["openssl", "speed", *args, "-bytes", str(size), "-seconds", "1"],
                         capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"^\S.*?\s([\d.]+)k\s*$", out, re.M)
    if not m:
        raise RuntimeError("cannot parse openssl speed output:\n" + out)
    return float(m.group(1)) * 1000 / size


def measure(impls, c_limit=None):
    """Run each implementation (and the C limit) in turn RUNS times.  Returns {name: [rates]}."""
    runs = {name: [] for name in impls}
    if c_limit is not None:
        runs["C limit"] = []
    for _ in range(RUNS):
        for name, fn in impls.items():
            runs[name].append(cpu_rate(fn))
        if c_limit is not None:
            runs["C limit"].append(c_limit())
    return runs


def ratio_text(a, b):
    """Median of the per-run ratios a[i]/b[i], with their min-max spread."""
    rs = [x / y for x, y in zip(a, b)]
    return statistics.median(rs), "%.2f (%.2f-%.2f)" % (statistics.median(rs), min(rs), max(rs))


def rate_fmt(v, size):
    if size >= 4096:
        return "%.0f MB/s" % (v * size / 1e6)
    return "%.0f k/s" % (v / 1e3)


def emit(rows, figure, runs, size, targets):
    """Rows for figure: M2Sec against each peer and the C limit; targets: {peer: minimum ratio}."""
    ours = runs["M2Sec"]
    med = {k: statistics.median(v) for k, v in runs.items()}
    for peer in runs:
        if peer == "M2Sec":
            continue
        r, text = ratio_text(ours, runs[peer])
        target = targets.get(peer)
        rows.append((figure, rate_fmt(med["M2Sec"], size), peer, rate_fmt(med[peer], size), text,
                     "-" if target is None else ">= %.2f" % target,
                     "-" if target is None else ("yes" if r >= target else "NO")))
    if "C limit" in med:
        CHART.append((figure, {k: ratio_text(v, runs["C limit"])[0] for k, v in runs.items() if k != "C limit"}))


def aead_rows(rows):
    for cls, oname, m2name in (("AESGCM", "AES-256-GCM", "aes_256_gcm"),
                               ("ChaCha20Poly1305", "ChaCha20-Poly1305", "chacha20_poly1305")):
        ours, theirs = getattr(EVP, cls)(KEY), getattr(aead, cls)(KEY) if aead else None
        for size in SIZES:
            data = os.urandom(size)
            impls = {"M2Sec": lambda: ours.encrypt(IV, data, None)}
            if theirs is not None:
                impls["cryptography"] = lambda: theirs.encrypt(IV, data, None)
            runs = measure(impls, lambda: c_loop("keyed", oname, size))
            emit(rows, "%s object, one %s message" % (cls, _size(size)), runs, size,
                 {"cryptography": 1.0 if size == 64 else None, "C limit": 0.9 if size > 64 else None})


def cipher_rows(rows):
    for name, oname, klen, ivlen, tag in (("aes_256_gcm", "AES-256-GCM", 32, 12, True),
                                          ("aes_128_ctr", "AES-128-CTR", 16, 16, False)):
        key, iv = KEY[:klen], os.urandom(ivlen)
        for size in SIZES:
            data = os.urandom(size)

            def m2sec():
                c = EVP.Cipher(name, key, iv, 1)
                c.update(data)
                c.final()
                if tag:
                    c.get_tag()
            impls = {"M2Sec": m2sec}
            if M2C is not None:
                def m2crypto():
                    c = M2C.Cipher(name, key, iv, 1)
                    c.update(data)
                    c.final()
                    if tag:
                        c.get_tag()
                impls["M2Crypto"] = m2crypto
            if aead is not None:
                mode = (lambda: modes.GCM(iv)) if tag else (lambda: modes.CTR(iv))

                def crypto():
                    e = Cipher(algorithms.AES(key), mode()).encryptor()
                    e.update(data)
                    e.finalize()
                    if tag:
                        e.tag
                impls["cryptography"] = crypto
            runs = measure(impls, lambda: c_loop("fresh", oname, size))
            emit(rows, "Cipher %s, one %s message" % (oname, _size(size)), runs, size,
                 {"M2Crypto": 1.0 if size == 64 else None, "C limit": 0.85 if size > 64 else None})


def digest_rows(rows):
    for size in SIZES:
        data = os.urandom(size)

        def md():
            m = EVP.MessageDigest("sha256")
            m.update(data)
            m.final()

        def mac():
            m = EVP.HMAC(KEY, "sha256")
            m.update(data)
            m.final()
        d_impls = {"M2Sec": md, "hashlib": lambda: hashlib.sha256(data).digest()}
        h_impls = {"M2Sec": mac, "hmac": lambda: hmac.new(KEY, data, "sha256").digest()}
        if M2C is not None:
            def m2c_md():
                m = M2C.MessageDigest("sha256")
                m.update(data)
                m.final()

            def m2c_mac():
                m = M2C.HMAC(KEY, "sha256")
                m.update(data)
                m.final()
            d_impls["M2Crypto"], h_impls["M2Crypto"] = m2c_md, m2c_mac
        if aead is not None:
            def c_md():
                m = hashes.Hash(hashes.SHA256())
                m.update(data)
                m.finalize()

            def c_mac():
                m = chmac.HMAC(KEY, hashes.SHA256())
                m.update(data)
                m.finalize()
            d_impls["cryptography"], h_impls["cryptography"] = c_md, c_mac
        targets = {"M2Crypto": 1.0 if size == 64 else None, "cryptography": 1.0 if size == 64 else None,
                   "C limit": 0.85 if size > 64 else None}
        runs = measure(d_impls, lambda: openssl_speed(["-evp", "sha256"], size))
        emit(rows, "MessageDigest SHA-256, one %s message" % _size(size), runs, size, targets)
        runs = measure(h_impls, lambda: openssl_speed(["-hmac", "sha256"], size))
        emit(rows, "HMAC-SHA256, one %s message" % _size(size), runs, size, targets)
    # the one-shot functions, beside hashlib's and hmac's (within 1.2x of their time per call)
    data = os.urandom(64)
    runs = measure({"M2Sec": lambda: EVP.digest("sha256", data), "hashlib": lambda: hashlib.sha256(data).digest()},
                   lambda: openssl_speed(["-evp", "sha256"], 64))
    emit(rows, "digest() SHA-256, one 64 B message", runs, 64, {"hashlib": 1 / 1.2})
    runs = measure({"M2Sec": lambda: EVP.hmac_digest(KEY, data, "sha256"), "hmac": lambda: hmac.digest(KEY, data, "sha256")},
                   lambda: openssl_speed(["-hmac", "sha256"], 64))
    emit(rows, "hmac_digest() SHA-256, one 64 B message", runs, 64, {"hmac": 1 / 1.2})


def stream_rows(rows):
    """One running context fed buffer after buffer: digests of 64 B and 16 KiB, AES-256-GCM of 16 KiB."""
    for size in SIZES:
        data = os.urandom(size)
        md, h = EVP.MessageDigest("sha256"), hashlib.sha256()
        impls = {"M2Sec": lambda: md.update(data), "hashlib": lambda: h.update(data)}
        if aead is not None:
            ch = hashes.Hash(hashes.SHA256())
            impls["cryptography"] = lambda: ch.update(data)
        if M2C is not None:
            mm = M2C.MessageDigest("sha256")
            impls["M2Crypto"] = lambda: mm.update(data)
        emit(rows, "SHA-256 stream, update of %s" % _size(size), measure(impls, lambda: c_loop("digest", "SHA256", size)),
             size, {"cryptography": 1.0} if size == 64 else {"C limit": 0.95})
    data = os.urandom(16384)
    impls = {"M2Sec": EVP.Cipher("aes_256_gcm", KEY, IV, 1).update}
    if aead is not None:
        impls["cryptography"] = Cipher(algorithms.AES(KEY), modes.GCM(IV)).encryptor().update
    if M2C is not None:
        impls["M2Crypto"] = M2C.Cipher("aes_256_gcm", KEY, IV, 1).update
    impls = {k: (lambda f=f: f(data)) for k, f in impls.items()}
    emit(rows, "AES-256-GCM stream, update of 16 KiB", measure(impls, lambda: c_loop("stream", "AES-256-GCM", 16384)),
         16384, {"C limit": 0.95})


def thread_rows(rows):
    """Two threads against one, wall time: each long call releases the GIL, so two threads on
    two free cores do about twice the work.  Each row says how many CPUs the process had while
    two threads ran (CPU time / wall time): below 1.8 the machine was busy and the row says
    nothing about scaling."""
    big, record = os.urandom(1 << 20), os.urandom(16384)
    gcm = EVP.AESGCM(KEY)

    def ctr():
        c = EVP.Cipher("aes_128_ctr", KEY[:16], IV + bytes(4), 1)
        return lambda: c.update(big)

    def md():
        m = EVP.MessageDigest("sha256")
        return lambda: m.update(big)
    for name, make, size, count in (
            ("AESGCM.encrypt 1 MiB, one object shared", lambda: lambda: gcm.encrypt(IV, big, None), len(big), 200),
            ("AESGCM.encrypt 16 KiB (a TLS record), one object shared",
             lambda: lambda: gcm.encrypt(IV, record, None), len(record), 20000),
            ("Cipher.update AES-128-CTR 1 MiB, one per thread", ctr, len(big), 200),
            ("MessageDigest.update SHA-256 1 MiB, one per thread", md, len(big), 200),
            ("digest() SHA-256 1 MiB", lambda: lambda: EVP.digest("sha256", big), len(big), 200)):
        r, had, row_ = two_threads_row(name, make, size, count, RUNS)
        THREADS.append((name, r, had))
        rows.append(row_)


def _size(n):
    return "%d KiB" % (n // 1024) if n >= 1024 else "%d B" % n


def rows():
    out = []
    for part in (aead_rows, cipher_rows, digest_rows, stream_rows, thread_rows):
        part(out)
    return out


def write_chart(path, chart=None, threads=None):
    """One horizontal bar per implementation and figure, as a ratio to the C limit (1.0); below
    them, the two-thread rows as two threads' rate over one thread's (target 1.8)."""
    chart = CHART if chart is None else chart
    threads = THREADS if threads is None else threads
    if not chart:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chart = [(f, {("stdlib" if k in ("hashlib", "hmac") else k): v for k, v in rates.items()}) for f, rates in chart]
    colours = {"M2Sec": "#1f77b4", "cryptography": "#ff7f0e", "M2Crypto": "#2ca02c", "stdlib": "#9467bd"}
    heights = [0.75 * len(chart) + 1.0] + ([0.4 * len(threads) + 0.8] if threads else [])
    fig, axes = plt.subplots(len(heights), 1, figsize=(10, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    ax = axes[0][0]
    seen = set()
    for i, (figure, rates) in enumerate(reversed(chart)):
        present = [k for k in colours if k in rates] + [k for k in rates if k not in colours]
        height = 0.8 / len(present)
        for j, impl in enumerate(present):   # bars centred on the figure's label, M2Sec on top
            y = i + (len(present) / 2 - j - 0.5) * height
            ax.barh(y, rates[impl], height=height * 0.95, color=colours.get(impl, "#7f7f7f"),
                    label=None if impl in seen else impl)
            ax.text(rates[impl] + 0.01, y, "%.2f" % rates[impl], va="center", fontsize=7)
            seen.add(impl)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(chart)))
    ax.set_yticklabels([f for f, _ in reversed(chart)], fontsize=8)
    ax.set_xlabel("rate as a ratio to the C limit (1.0 = the same work in C on the system OpenSSL);\n"
                  "cryptography's wheel brings its own, newer OpenSSL")
    ax.set_title("M2Sec beside its peers, per CPU second (medians of %d interleaved runs)" % RUNS, fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    if threads:
        ax = axes[1][0]
        for i, (figure, r, had) in enumerate(reversed(threads)):
            ax.barh(i, r, height=0.6, color=colours["M2Sec"])
            ax.text(r + 0.01, i, "%.2f (had %.1f CPUs)" % (r, had), va="center", fontsize=7)
        ax.axvline(1.8, color="black", linewidth=1, linestyle="--")
        ax.set_yticks(range(len(threads)))
        ax.set_yticklabels([f for f, _, _ in reversed(threads)], fontsize=8)
        ax.set_xlim(0, 2.2)
        ax.set_xlabel("two threads' rate over one thread's (wall time; target 1.8 on two free cores)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print_table(rows())
    print("chart:", write_chart(os.path.join(HERE, "results", "latest.png")))
    print("\nmedians of %d interleaved runs, CPU time; %s; Python %s" % (RUNS, subprocess.run(
        ["openssl", "version"], capture_output=True, text=True).stdout.strip(), sys.version.split()[0]))
