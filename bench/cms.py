"""CMS per-message rates: M2Sec.CMS beside the same OpenSSL calls in a C loop (bench/cms_loop.c,
built here against the OpenSSL M2Sec links), M2Sec's PKCS#7 path (M2Sec.SMIME) and the
cryptography package's PKCS#7 builders.

rows() gives bench/run.py's rows: sign (detached, RSA-2048, SHA-256), verify (with the chain
check), encrypt and decrypt (AES-256-GCM AuthEnvelopedData for one RSA-2048 recipient; PKCS#7
and cryptography use AES-256-CBC envelopedData, which is all they have) at 1 KiB and 1 MiB.
Figures are messages per CPU second, medians of interleaved runs; the target is 0.95 of the C loop.
Every row parses its input from DER per message (the CMS rows, the C loop and, since they must
compare alike, the PKCS#7 rows): on OpenSSL 3.0 parsing the signer's certificate carried in a
signedData (its public key, through the decoders) is most of a 1 KiB verify.

The rows run in a child process whose glibc malloc has its thresholds pinned (GLIBC_TUNABLES,
inherited by the C loop): left dynamic, glibc raises its mmap and trim thresholds when a large
block is freed, so a process that once freed one serves 1 MiB buffers from its heap while
another maps and faults in fresh pages for each (twice the time per message, measured on
either side by chance).  Pinned at the values the dynamic rule reaches at its maximum (32 MiB,
trim at twice that: a long-running process), both sides run under the same allocator.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from M2Sec import CMS, SMIME, X509

from _timing import calls_per_second, interleaved, print_table, row

RUNS = 5
SECONDS = 0.4
SIZES = ((1024, "1 KiB"), (1 << 20, "1 MiB"))
HERE = os.path.dirname(os.path.abspath(__file__))
MALLOC = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864"

try:
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs7
except ImportError:  # pragma: no cover - make bench installs it
    pkcs7 = None


def _build_loop(d):
    built = os.path.join(HERE, "cms_loop")  # make bench builds it
    if os.path.exists(built) and os.path.getmtime(built) >= os.path.getmtime(built + ".c"):
        return built
    exe = os.path.join(d, "cms_loop")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libcrypto"], capture_output=True, text=True,
                           check=True).stdout.split()
    subprocess.run([os.environ.get("CC", "cc"), "-O2", "-o", exe, os.path.join(HERE, "cms_loop.c"), *flags], check=True)
    return exe


def rows():
    if os.environ.get("GLIBC_TUNABLES") != MALLOC:  # run in a child with the allocator pinned
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--json"], capture_output=True,
                             text=True, check=True, timeout=1800, env=dict(os.environ, GLIBC_TUNABLES=MALLOC))
        return [tuple(r) for r in json.loads(out.stdout)]
    from smime import _self_signed  # the bench's self-signed RSA-2048 certificate
    from M2Sec import EVP
    d = tempfile.mkdtemp(prefix="m2sec-bench-cms-")
    try:
        exe = _build_loop(d)
        key = EVP.generate_key("RSA", bits=2048)
        cert = _self_signed(key)
        key.save_key(os.path.join(d, "k.pem"), cipher=None)
        cert.save(os.path.join(d, "c.pem"))
        out = []
        for size, label in SIZES:
            data = b"x" * size
            out.extend(_rows_for(exe, d, key, cert, data, size, label))
        return out
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _rows_for(exe, d, key, cert, data, size, label):
    signed = CMS.sign(data, key, cert, detached=True, include_signer_cert=True).to_der()
    enveloped = CMS.encrypt(data, [cert], cipher="aes-256-gcm").to_der()
    smime = SMIME.SMIME()
    smime.set_key(key, cert)
    stack = X509.X509_Stack()
    stack.push(cert)
    smime.set_x509_stack(stack)
    store = X509.X509_Store()
    store.add_x509(cert)
    smime.set_x509_store(store)
    smime.set_cipher(SMIME.Cipher("aes_256_cbc"))
    p7_signed = smime.sign(data, SMIME.PKCS7_DETACHED | SMIME.PKCS7_BINARY)
    p7_env = smime.encrypt(data, SMIME.PKCS7_BINARY)

    ours = {
        "sign": lambda: CMS.sign(data, key, cert, detached=True).to_der(),
        "verify": lambda: CMS.verify(CMS.load_der(signed), store, data=data),
        "encrypt": lambda: CMS.encrypt(data, [cert], cipher="aes-256-gcm").to_der(),
        "decrypt": lambda: CMS.decrypt(CMS.load_der(enveloped), key, cert),
    }
    p7_signed, p7_env = p7_signed.as_der(), p7_env.as_der()
    pkcs7_path = {  # parsed from DER per message, as the CMS rows
        "sign": lambda: smime.sign(data, SMIME.PKCS7_DETACHED | SMIME.PKCS7_BINARY).as_der(),
        "verify": lambda: smime.verify(SMIME.load_pkcs7_bio_der(SMIME.BIO.MemoryBuffer(p7_signed)), SMIME.BIO.MemoryBuffer(data),
                                       SMIME.PKCS7_BINARY),
        "encrypt": lambda: smime.encrypt(data, SMIME.PKCS7_BINARY).as_der(),
        "decrypt": lambda: smime.decrypt(SMIME.load_pkcs7_bio_der(SMIME.BIO.MemoryBuffer(p7_env))),
    }
    peers = {}
    if pkcs7 is not None:
        ckey = serialization.load_der_private_key(key.private_der(), None)
        ccert = cx509.load_der_x509_certificate(cert.as_der())
        opts = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
        cenv = pkcs7.PKCS7EnvelopeBuilder().set_data(data).add_recipient(ccert).encrypt(
            serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
        peers = {
            "sign": lambda: pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(ccert, ckey, hashes.SHA256())
            .sign(serialization.Encoding.DER, opts),
            "encrypt": lambda: pkcs7.PKCS7EnvelopeBuilder().set_data(data).add_recipient(ccert)
            .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]),
            "decrypt": lambda: pkcs7.pkcs7_decrypt_der(cenv, ccert, ckey, []),
        }

    def c_loop(op):
        return lambda: float(subprocess.run([exe, op, str(size), str(SECONDS), os.path.join(d, "k.pem"),
                                             os.path.join(d, "c.pem")], capture_output=True, text=True,
                                            check=True, timeout=120).stdout)

    def rate(fn):  # CPU time, as the C loop measures (the machine's other load inflates wall time), read every 8 calls as there
        return lambda: calls_per_second(fn, SECONDS, batch=8, clock=time.process_time)

    fmt = lambda v: "%.0f/s" % v  # noqa: E731
    rows = []
    for op in ("sign", "verify", "encrypt", "decrypt"):
        name = "CMS %s %s" % (op, label)
        ma, mc = interleaved(rate(ours[op]), c_loop(op), RUNS)
        rows.append(row(name, ma, "C loop (same calls)", mc, fmt, 0.95))
        ma, mp = interleaved(rate(ours[op]), rate(pkcs7_path[op]), 3)
        rows.append(row(name, ma, "M2Sec PKCS#7 (SMIME)", mp, fmt, None))
        if op in peers:
            ma, mb = interleaved(rate(ours[op]), rate(peers[op]), 3)
            rows.append(row(name, ma, "cryptography PKCS#7", mb, fmt, None))
    return rows


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    if sys.argv[1:] == ["--json"]:
        print(json.dumps(rows()))
    else:
        print_table(rows())
