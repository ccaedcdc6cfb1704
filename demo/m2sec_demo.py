#!/usr/bin/env python3
"""M2Sec's demo: what the toolkit does, end to end on this machine, with no outside network.

Each step prints what it did; where the `openssl` command line is installed, it checks M2Sec's
output with it (the same system library, a separate program).
"""

import datetime
import shutil
import subprocess
import sys

from M2Sec import ASN1, BIO, BN, Rand, X509, m2

OPENSSL = shutil.which("openssl")


def step(title: str) -> None:
    print("\n== " + title)


def openssl(*args: str, data: bytes = b"") -> bytes:
    return subprocess.run([OPENSSL, *args], input=data, capture_output=True, check=True, timeout=30).stdout


def main() -> int:
    print("M2Sec on %s" % m2.OPENSSL_VERSION_TEXT)

    step("randomness")
    print("32 random bytes:", Rand.rand_bytes(32).hex())
    print("a random 128-bit odd number:", hex(BN.rand(128, top=0, bottom=1)))

    step("a cipher stream through BIOs (AES-256-CBC)")
    key, iv = Rand.rand_bytes(32), Rand.rand_bytes(16)
    plain = b"attack at dawn, " * 4
    out = BIO.MemoryBuffer()
    enc = BIO.CipherStream(out)
    enc.set_cipher("aes_256_cbc", key, iv, 1)
    enc.write(plain)
    enc.flush()
    enc.close()
    ciphertext = out.read()
    print("encrypted %d bytes into %d" % (len(plain), len(ciphertext)))
    if OPENSSL:
        back = openssl("enc", "-d", "-aes-256-cbc", "-K", key.hex(), "-iv", iv.hex(), data=ciphertext)
        assert back == plain, "openssl enc disagrees"
        print("openssl enc -d decrypts it back: ok")

    step("ASN.1 times and X.509 names")
    t = ASN1.ASN1_TIME()
    t.set_datetime(datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=ASN1.UTC))
    print("ASN1_TIME:", t, "->", t.get_datetime().isoformat())
    name = X509.X509_Name()
    name.C, name.O, name.CN = "NZ", "M2Sec demo", "demo.example"
    print("X509_Name:", name.as_text(flags=m2.XN_FLAG_RFC2253))

    print("\ndemo finished: every step ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
