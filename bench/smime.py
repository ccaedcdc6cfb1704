"""S/MIME per-message cost: M2Sec.SMIME beside the cryptography package's PKCS#7 builders.

rows() gives bench/run.py's rows: sign (detached, RSA-2048, SHA-256), encrypt (AES-256-CBC
for one RSA-2048 recipient) and decrypt, each on a 4 KiB message; figures are medians of
interleaved runs, in microseconds per message (lower is better; ratio = M2Sec / peer).
"""

import datetime
import os

from M2Sec import ASN1, EVP, SMIME, X509

from _timing import calls_per_second, interleaved, print_table, row

RUNS = 5
DATA = os.urandom(4096)

try:
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs7
except ImportError:  # pragma: no cover - make bench installs it
    pkcs7 = None


def _self_signed(key: EVP.PKey) -> X509.X509:
    cert, name, now = X509.X509(), X509.X509_Name(), datetime.datetime.now(ASN1.UTC)
    name.CN = "bench"
    cert.set_version(2)
    cert.set_serial_number(1)
    cert.set_subject(name)
    cert.set_issuer(name)
    for setter, when in ((cert.set_not_before, now), (cert.set_not_after, now + datetime.timedelta(days=1))):
        t = ASN1.ASN1_TIME()
        t.set_datetime(when)
        setter(t)
    cert.set_pubkey(key)
    cert.sign(key, "sha256")
    return cert


def per_message(fn) -> float:
    """Microseconds per call of fn()."""
    return 1e6 / calls_per_second(fn, 0.3)


def rows():
    if pkcs7 is None:
        return []
    key = EVP.generate_key("RSA", bits=2048)
    cert = _self_signed(key)
    signer = SMIME.SMIME()
    signer.set_key(key, cert)
    enc = SMIME.SMIME()
    stack = X509.X509_Stack()
    stack.push(cert)
    enc.set_x509_stack(stack)
    enc.set_cipher(SMIME.Cipher("aes_256_cbc"))
    envelope = enc.encrypt(DATA, SMIME.PKCS7_BINARY)
    envelope_der = envelope.as_der()

    ckey = serialization.load_der_private_key(key.private_der(), None)
    ccert = cx509.load_der_x509_certificate(cert.as_der())
    opts = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]

    workloads = (
        ("S/MIME sign 4 KiB", lambda: signer.sign(DATA, SMIME.PKCS7_DETACHED | SMIME.PKCS7_BINARY).as_der(),
         lambda: pkcs7.PKCS7SignatureBuilder().set_data(DATA).add_signer(ccert, ckey, hashes.SHA256())
         .sign(serialization.Encoding.DER, opts)),
        ("S/MIME encrypt 4 KiB", lambda: enc.encrypt(DATA, SMIME.PKCS7_BINARY).as_der(),
         lambda: pkcs7.PKCS7EnvelopeBuilder().set_data(DATA).add_recipient(ccert)
         .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])),
        ("S/MIME decrypt 4 KiB", lambda: signer.decrypt(envelope),
         lambda: pkcs7.pkcs7_decrypt_der(envelope_der, ccert, ckey, [])),
    )
    out = []
    for name, ours, theirs in workloads:
        ma, mb = interleaved(ours, theirs, RUNS, per_message)
        out.append(row(name, ma, "cryptography", mb, lambda v: "%.0f us" % v, 1.10, higher_is_better=False))
    return out


if __name__ == "__main__":
    print_table(rows())
