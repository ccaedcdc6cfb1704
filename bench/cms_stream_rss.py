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

def main() -> None:
    size = int(sys.argv[1] if len(sys.argv) > 1 else 256) << 20
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="cms_rss_")
    from smime_helpers import DECRYPT_STREAM_CHILD, M2SecCA, same_file
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
                r = subprocess.run([sys.executable, "-c", DECRYPT_STREAM_CHILD, msg, ca.path(name + ".key"), ca.path(name + ".pem"),
                                    form, out, work], capture_output=True, text=True, cwd=work)  # not a source tree's M2Sec
                if r.returncode:
                    rows.append((name, cipher, form, "failed: " + r.stderr.strip().splitlines()[-1], ""))
                else:
                    grown, secs = r.stdout.split()
                    ok = "ok" if same_file(src, out) else "DIFFERENT OUTPUT"
                    rows.append((name, cipher, form, "%+.1f MiB" % (int(grown) / 2 ** 20), "%.1f s %s" % (float(secs), ok)))
                os.unlink(msg)
                if os.path.exists(out):
                    os.unlink(out)
    print("decrypt_stream of %d MiB (M2Sec in %s): peak RSS growth during the call"
          % (size >> 20, os.path.dirname(CMS.__file__)))
    for row in rows:
        print("  %-7s %-12s %-6s %-14s %s" % row)


if __name__ == "__main__":
    t = time.time()
    main()
    print("(%.0f s)" % (time.time() - t))
