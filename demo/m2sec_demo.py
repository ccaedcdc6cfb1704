#!/usr/bin/env python3
"""M2Sec's demo: what the toolkit does, end to end on this machine, with no outside network.

Each step prints what it did; where the `openssl` command line is installed, it checks M2Sec's
output with it (the same system library, a separate program).
"""

import datetime
import shutil
import subprocess
import sys

import os
import tempfile
from email.message import EmailMessage

from M2Sec import ASN1, BIO, BN, EVP, Rand, X509, m2, mail

OPENSSL = shutil.which("openssl")


def step(title: str) -> None:
    print("\n== " + title)


def openssl(*args: str, data: bytes = b"") -> bytes:
    return subprocess.run([OPENSSL, *args], input=data, capture_output=True, check=True, timeout=30).stdout


def issue(cn: str, key: EVP.PKey, issuer=None, issuer_key=None, email: str = "") -> X509.X509:
    """A certificate made with M2Sec's X509 API: a CA when there is no issuer."""
    cert, name, now = X509.X509(), X509.X509_Name(), datetime.datetime.now(ASN1.UTC)
    name.CN = cn
    cert.set_version(2)
    cert.set_serial_number(int.from_bytes(Rand.rand_bytes(8), "big"))
    cert.set_subject(name)
    cert.set_issuer(issuer.get_subject() if issuer else name)
    for setter, when in ((cert.set_not_before, now), (cert.set_not_after, now + datetime.timedelta(days=1))):
        t = ASN1.ASN1_TIME()
        t.set_datetime(when)
        setter(t)
    cert.set_pubkey(key)
    exts = [("basicConstraints", "critical,CA:TRUE"), ("keyUsage", "critical,keyCertSign")] if not issuer else \
        [("extendedKeyUsage", "emailProtection"), ("subjectAltName", "email:" + email)]
    for n, v in exts:
        cert.add_ext(X509.new_extension(n, v))
    cert.sign(issuer_key or key, "sha256")
    return cert


def smime_mail(tmp: str) -> None:
    ca_key = EVP.generate_key("EC", curve="prime256v1")
    ca = issue("Demo CA", ca_key)
    people = {}
    for who in ("alice", "bob"):
        key = EVP.generate_key("RSA", bits=2048)
        people[who] = (key, issue(who, key, ca, ca_key, who + "@example.org"))
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@example.org", "bob@example.org", "S/MIME from M2Sec"
    msg.set_content("Hello Bob, this is signed and encrypted.\n")
    out = mail.sign_and_encrypt(msg, *people["alice"], [people["bob"][1]])
    wire = out.as_bytes()
    print("alice -> bob: %s, %d bytes (AES-256-CBC, RSA)" % (out.get_content_type(), len(wire)))
    opened = mail.unwrap(wire, key=people["bob"][0], cert=people["bob"][1], trusted=[ca])
    print("bob reads: %r, signed by %s, From matches the signer: %s"
          % (opened.message.get_content().strip(), opened.signers[0].get_subject().CN, opened.sender_matches()))
    if OPENSSL:
        paths = {n: os.path.join(tmp, n) for n in ("mail.eml", "bob.pem", "bob.key", "ca.pem")}
        for n, data in (("mail.eml", wire), ("bob.pem", people["bob"][1].as_pem()),
                        ("bob.key", people["bob"][0].as_pem(cipher=None)), ("ca.pem", ca.as_pem())):
            with open(paths[n], "wb") as f:
                f.write(data)
        inner = openssl("cms", "-decrypt", "-in", paths["mail.eml"], "-recip", paths["bob.pem"],
                        "-inkey", paths["bob.key"])
        openssl("cms", "-verify", "-CAfile", paths["ca.pem"], data=inner)
        print("openssl cms -decrypt | openssl cms -verify (S/MIME 4.0, AES-256-GCM): ok")


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

    step("keys: sign with M2Sec, verify with openssl")
    message = b"M2Sec signs this"
    with tempfile.TemporaryDirectory() as tmp:
        for label, key, args in (
            ("RSA-3072, RSA-PSS/SHA-256", EVP.generate_key("RSA", bits=3072), {"padding": "pss"}),
            ("EC P-256, ECDSA/SHA-256", EVP.generate_key("EC", curve="prime256v1"), {}),
            ("Ed25519", EVP.generate_key("ED25519"), {"digest": None}),
        ):
            sig = key.sign(message, **args)
            assert key.verify(sig, message, **args)
            print("%-28s signature of %d bytes, verified by M2Sec" % (label, len(sig)))
            if OPENSSL:
                pub, sigf, msgf = (os.path.join(tmp, n) for n in ("pub.pem", "sig", "msg"))
                with open(pub, "wb") as f:
                    f.write(key.public_pem())
                with open(sigf, "wb") as f:
                    f.write(sig)
                with open(msgf, "wb") as f:
                    f.write(message)
                cmd = ["pkeyutl", "-verify", "-pubin", "-inkey", pub, "-sigfile", sigf, "-rawin", "-in", msgf]
                if args.get("digest", "sha256"):
                    cmd += ["-digest", "sha256"]
                if args.get("padding") == "pss":
                    cmd += ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:-2"]
                openssl(*cmd)
                print("%-28s openssl pkeyutl -verify: ok" % "")

    step("key agreement: X25519")
    alice, bob = EVP.generate_key("X25519"), EVP.generate_key("X25519")
    assert alice.derive(bob) == bob.derive(alice)
    print("both sides derive the same 32-byte secret:", alice.derive(bob).hex()[:32] + "...")

    step("ASN.1 times and X.509 names")
    t = ASN1.ASN1_TIME()
    t.set_datetime(datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=ASN1.UTC))
    print("ASN1_TIME:", t, "->", t.get_datetime().isoformat())
    name = X509.X509_Name()
    name.C, name.O, name.CN = "NZ", "M2Sec demo", "demo.example"
    print("X509_Name:", name.as_text(flags=m2.XN_FLAG_RFC2253))

    step("S/MIME mail: alice signs and encrypts for bob (a CA made by M2Sec)")
    with tempfile.TemporaryDirectory() as tmp:
        smime_mail(tmp)

    print("\ndemo finished: every step ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
