"""SSH keys beside their peers: loading a bcrypt-encrypted OpenSSH key (against ssh-keygen
itself) and signing or verifying in SSH's formats (against the cryptography package's raw
operations, which do no SSH framing, and for Ed25519 against ``openssl speed``, the C limit of
the OpenSSL that M2Sec links).  ``rows()`` gives bench/run.py's row tuples.

The cryptography package brings its own OpenSSL, often a newer one than the system's: the
peer names say which, since its Ed25519 code alone can be faster than the system's.
"""

import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from M2Sec.SSH import keys  # noqa: E402
from _timing import calls_per_second, interleaved, print_table, row  # noqa: E402

RUNS = 5
DATA = os.urandom(64)

try:
    from cryptography.hazmat.backends.openssl import backend
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding
except ImportError:  # pragma: no cover - make bench installs it
    serialization = None


def _ms(fn):
    """Milliseconds per call of a slow fn()."""
    return 1e3 / calls_per_second(fn, 0.2)


def _us(fn, seconds=0.2):
    """CPU microseconds per call of fn(): process time, which the machine's other load does not
    inflate as it does wall time, and which openssl speed reports too."""
    return 1e6 / calls_per_second(fn, seconds, 100, time.process_time)


def _fmt(unit):
    return lambda v: "%.1f %s" % (v, unit)


def _openssl_ed25519():
    """(sign, verify) microseconds of ``openssl speed ed25519``."""
    out = subprocess.run(["openssl", "speed", "-seconds", "1", "ed25519"], capture_output=True, text=True,
                         timeout=60).stdout
    m = re.search(r"\(Ed25519\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
    if not m:
        raise RuntimeError("cannot parse openssl speed output:\n" + out)
    return 1e6 / float(m.group(1)), 1e6 / float(m.group(2))


def _short_version(text):
    """'OpenSSL 3.0.19' from an OpenSSL version text."""
    return " ".join(text.split()[:2])


def rows():
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "id")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-a", "16", "-N", "bench pass", "-f", path],
                       check=True, timeout=60)
        data = open(path, "rb").read()

        def ours():
            keys.load_private_key(data, "bench pass")

        def peer():
            subprocess.run(["ssh-keygen", "-y", "-P", "bench pass", "-f", path], capture_output=True, check=True)
        a, b = interleaved(ours, peer, RUNS, _ms)
        out.append(row("load ed25519 key, bcrypt -a 16", a, "ssh-keygen -y", b, _fmt("ms"), 1.2, False))

    ed = keys.generate_private_key("ssh-ed25519")
    ed_pub, ed_sig = ed.public_key(), ed.sign(DATA)

    def ours_ed():  # timed as long as openssl speed times each
        return _us(lambda: ed.sign(DATA), 1), _us(lambda: ed_pub.verify(DATA, ed_sig), 1)
    (sign, verify), (c_sign, c_verify) = interleaved(ours_ed, _openssl_ed25519, RUNS)
    cli = subprocess.run(["openssl", "version"], capture_output=True, text=True, timeout=60).stdout
    peer = "openssl speed (%s)" % _short_version(cli)
    out.append(row("Ed25519 sign", sign, peer, c_sign, _fmt("us"), 1.2, False))
    out.append(row("Ed25519 verify", verify, peer, c_verify, _fmt("us"), 1.2, False))

    if serialization is None:
        return out
    peer = "cryptography (raw, %s)" % _short_version(backend.openssl_version_text())
    for alg, bits, label, target in (("ssh-ed25519", None, "Ed25519", 1.2),
                                     ("ecdsa-sha2-nistp256", None, "ECDSA P-256", 1.5),
                                     ("ssh-rsa", 2048, "RSA-2048 rsa-sha2-256", 1.5)):
        key = keys.generate_private_key(alg, bits)
        pub = key.public_key()
        ckey = serialization.load_pem_private_key(key.private_bytes(format="pkcs8"), None)
        cpub = ckey.public_key()
        if alg == "ssh-rsa":
            opts = (padding.PKCS1v15(), hashes.SHA256())
        elif alg.startswith("ecdsa"):
            opts = (ec.ECDSA(hashes.SHA256()),)
        else:
            opts = ()
        sig_alg = b"rsa-sha2-256" if alg == "ssh-rsa" else None
        sig, csig = key.sign(DATA, sig_alg), ckey.sign(DATA, *opts)
        a, b = interleaved(lambda: key.sign(DATA, sig_alg), lambda: ckey.sign(DATA, *opts), RUNS, _us)
        out.append(row(label + " sign", a, peer, b, _fmt("us"), target, False))
        a, b = interleaved(lambda: pub.verify(DATA, sig), lambda: cpub.verify(csig, DATA, *opts), RUNS, _us)
        out.append(row(label + " verify", a, peer, b, _fmt("us"), target, False))
    return out


if __name__ == "__main__":
    print_table(rows())
