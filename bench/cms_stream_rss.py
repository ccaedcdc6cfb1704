"""Peak RSS of CMS.decrypt_stream() for large messages, one child process per form.

    python bench/cms_stream_rss.py [MiB] [workdir]

Messages made by ``openssl cms -encrypt -stream`` (RSA recipient; AES-256-CBC for
EnvelopedData, AES-256-GCM for AuthEnvelopedData; DER, PEM, S/MIME) and by M2Sec's
``CMS.encrypt(stream=True)`` for an X25519 recipient (OpenSSL has no RFC 8418).  Each is read by
decrypt_stream() in a fresh child into a file; the child reports how much its peak resident
size (VmHWM) grew during the call, and the output is compared with the content.
"""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

CHILD = r"""
import sys, time
from M2Sec import BIO, CMS, EVP, X509
msg, key, cert, form, out, tmpdir = sys.argv[1:7]
k, c = EVP.load_key(key), X509.load_cert(cert)
def hwm():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before, t = hwm(), time.perf_counter()
with open(msg, "rb") as f, BIO.openfile(out, "wb") as o:
    CMS.decrypt_stream(f, k, c, out=o, form=form, tmpdir=tmpdir)
print(hwm() - before, time.perf_counter() - t)
"""


def _same(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def main() -> None:
    size = int(sys.argv[1] if len(sys.argv) > 1 else 256) << 20
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="cms_rss_")
    from smime_helpers import M2SecCA
    from M2Sec import BIO, CMS
    os.makedirs(os.path.join(work, "ca"), exist_ok=True)
    ca = M2SecCA(os.path.join(work, "ca"))
    ca.person("rsa")
    ca.person("x25519", alg="X25519")
    src = os.path.join(work, "content.bin")
    with open(src, "wb") as f:
        for _ in range(size >> 20):
            f.write(os.urandom(1 << 20))
    rows = []
    for name in ("rsa", "x25519"):
        for cipher in ("aes-256-cbc", "aes-256-gcm"):
            for form in ("DER", "PEM", "SMIME"):
                msg = os.path.join(work, "m.%s.%s.%s" % (name, cipher, form))
                if name == "rsa":
                    subprocess.run(["openssl", "cms", "-encrypt", "-stream", "-binary", "-" + cipher, "-in", src,
                                    "-outform", form, "-out", msg, ca.path("rsa.pem")], check=True)
                else:
                    with BIO.openfile(src) as data, BIO.openfile(msg, "wb") as o:
                        ci = CMS.encrypt(data, [ca.certs[name]], cipher=cipher, stream=True)
                        {"DER": ci.write_der, "PEM": ci.write_pem, "SMIME": ci.write_smime}[form](o)
                out = os.path.join(work, "out.bin")
                r = subprocess.run([sys.executable, "-c", CHILD, msg, ca.path(name + ".key"), ca.path(name + ".pem"),
                                    form, out, work], capture_output=True, text=True)
                if r.returncode:
                    rows.append((name, cipher, form, "failed: " + r.stderr.strip().splitlines()[-1], ""))
                else:
                    grown, secs = r.stdout.split()
                    ok = "ok" if _same(src, out) else "DIFFERENT OUTPUT"
                    rows.append((name, cipher, form, "%+.1f MiB" % (int(grown) / 2 ** 20), "%.1f s %s" % (float(secs), ok)))
                os.unlink(msg)
                if os.path.exists(out):
                    os.unlink(out)
    print("decrypt_stream of %d MiB: peak RSS growth during the call" % (size >> 20))
    for row in rows:
        print("  %-7s %-12s %-6s %-14s %s" % row)


if __name__ == "__main__":
    t = time.time()
    main()
    print("(%.0f s)" % (time.time() - t))
