"""SSH keys beside their peers: loading a bcrypt-encrypted OpenSSH key (against ssh-keygen
itself) and signing or verifying in SSH's formats (against the cryptography package's raw
operations, which do no SSH framing).  ``rows()`` gives bench/run.py's row tuples."""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from M2Sec.SSH import keys  # noqa: E402
from run import pair, per_call  # noqa: E402

DATA = os.urandom(64)

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding
except ImportError:  # pragma: no cover - make bench installs it
    serialization = None


def _ms(fn):
    """Milliseconds of one slow call (the mean of three)."""
    start = time.perf_counter()
    for _ in range(3):
        fn()
    return (time.perf_counter() - start) / 3 * 1000


def _us(fn):
    return per_call(fn) / 1000


def _row(name, ours, peer_name, peer, unit, target):
    ratio = ours / peer
    return (name, "%.1f %s" % (ours, unit), peer_name, "%.1f %s" % (peer, unit), "%.2f" % ratio,
            "<= %.1f" % target, "yes" if ratio <= target else "NO")


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
        a, b = pair(ours, peer, _ms)
        out.append(_row("load ed25519 key, bcrypt -a 16", a, "ssh-keygen -y", b, "ms", 1.2))
    if serialization is None:
        return out
    for alg, bits, label in (("ssh-ed25519", None, "Ed25519"), ("ecdsa-sha2-nistp256", None, "ECDSA P-256"),
                             ("ssh-rsa", 2048, "RSA-2048 rsa-sha2-256")):
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
        a, b = pair(lambda: key.sign(DATA, sig_alg), lambda: ckey.sign(DATA, *opts), _us)
        out.append(_row(label + " sign", a, "cryptography (raw)", b, "us", 1.5))
        a, b = pair(lambda: pub.verify(DATA, sig), lambda: cpub.verify(csig, DATA, *opts), _us)
        out.append(_row(label + " verify", a, "cryptography (raw)", b, "us", 1.5))
    return out


if __name__ == "__main__":
    for r in rows():
        print("  ".join(str(v) for v in r))
