"""Post-quantum keys on EVP.PKey (OpenSSL 3.5): ML-KEM (FIPS 203) key generation and
encapsulation, ML-DSA (FIPS 204) and SLH-DSA (FIPS 205) signatures without a pre-hash digest and
certificates, each checked against the cryptography package (its own OpenSSL) as the peer.  On
an OpenSSL without them (Debian 12's 3.0) the flags are off and the algorithms are refused with
EVPError; the 3.5 tests then skip, saying so (`make test-wheel` runs them on the wheel's 3.5).
"""

import pytest

from M2Sec import EVP, X509, m2
from pki_helpers import build_cert

needs_pq = pytest.mark.skipif(not m2.HAS_ML_KEM, reason="OpenSSL %s has no ML-KEM/ML-DSA (3.5 has: make test-wheel)"
                              % m2.OPENSSL_VERSION_TEXT.split()[1])


def test_flags_follow_the_openssl_version():
    pq = m2.openssl_version_num() >= 0x30500000
    assert bool(m2.HAS_ML_KEM) == bool(m2.HAS_ML_DSA) == bool(m2.HAS_SLH_DSA) == pq


@pytest.mark.skipif(m2.HAS_ML_KEM, reason="this OpenSSL has ML-KEM")
@pytest.mark.parametrize("alg", ["ML-KEM-768", "ML-DSA-65", "SLH-DSA-SHA2-128f"])
def test_absent_algorithms_are_an_evp_error(alg):
    with pytest.raises(EVP.EVPError, match="unknown key algorithm"):
        EVP.generate_key(alg)


def test_a_key_that_is_no_kem_cannot_encapsulate():
    k = EVP.generate_key("ED25519")  # (X25519 and EC keys encapsulate on 3.5: DHKEM, RFC 9180)
    with pytest.raises(EVP.EVPError, match="cannot encapsulate"):
        k.encapsulate()
    with pytest.raises(EVP.EVPError, match="cannot decapsulate"):
        k.decapsulate(b"\0" * 32)


@needs_pq
@pytest.mark.parametrize("alg, pub_len, ct_len", [("ML-KEM-512", 800, 768), ("ML-KEM-768", 1184, 1088),
                                                  ("ML-KEM-1024", 1568, 1568)])
def test_mlkem_round_trip(alg, pub_len, ct_len):
    k = EVP.generate_key(alg)
    assert k.key_type == alg
    pub = k.raw_public_bytes()
    assert len(pub) == pub_len
    ct, secret = EVP.load_raw_public_key(alg, pub).encapsulate()
    assert (len(ct), len(secret)) == (ct_len, 32)
    assert k.decapsulate(ct) == secret
    # implicit rejection: a changed ciphertext gives another secret, no error
    bad = bytes([ct[0] ^ 1]) + ct[1:]
    assert k.decapsulate(bad) != secret


@needs_pq
def test_mlkem_bad_input():
    k = EVP.generate_key("ML-KEM-768")
    ct, _ = k.encapsulate()
    for wrong in (ct[:-1], ct + b"\0", b""):
        with pytest.raises(EVP.EVPError):
            k.decapsulate(wrong)
    with pytest.raises(EVP.EVPError, match="cannot decapsulate"):  # a public key only
        EVP.load_raw_public_key("ML-KEM-768", k.raw_public_bytes()).decapsulate(ct)
    with pytest.raises(EVP.EVPError):
        EVP.load_raw_public_key("ML-KEM-768", k.raw_public_bytes()[:-1])
    with pytest.raises(TypeError):
        k.decapsulate("text")


@needs_pq
def test_mlkem_with_cryptography():
    from cryptography.hazmat.primitives.asymmetric import mlkem

    # cryptography encapsulates to M2Sec's key ...
    k = EVP.generate_key("ML-KEM-768")
    theirs = mlkem.MLKEM768PublicKey.from_public_bytes(k.raw_public_bytes())
    out = theirs.encapsulate()
    secret, ct = (out[0], out[1]) if len(out[0]) == 32 else (out[1], out[0])
    assert k.decapsulate(ct) == secret
    # ... and M2Sec to cryptography's
    priv = mlkem.MLKEM768PrivateKey.generate()
    ct, secret = EVP.load_raw_public_key("ML-KEM-768", priv.public_key().public_bytes_raw()).encapsulate()
    assert priv.decapsulate(ct) == secret


@needs_pq
@pytest.mark.parametrize("alg, sig_len", [("ML-DSA-44", 2420), ("ML-DSA-65", 3309), ("ML-DSA-87", 4627),
                                          ("SLH-DSA-SHA2-128f", 17088), ("SLH-DSA-SHAKE-128f", 17088)])
def test_pq_signatures(alg, sig_len):
    k = EVP.generate_key(alg)
    assert m2.pkey_sign_takes_no_digest(k.pkey)
    sig = k.sign(b"message")  # the default digest is ignored: these keys sign the message itself
    assert len(sig) == sig_len
    assert k.verify(sig, b"message")
    assert not k.verify(sig, b"messagE")
    assert not k.verify(sig[:-1] + bytes([sig[-1] ^ 1]), b"message")
    pub = EVP.load_key_string_pubkey(k.public_pem())
    assert pub.verify(sig, b"message")
    again = EVP.load_key_string(k.as_pem(cipher=None))
    assert again.verify(again.sign(b"x"), b"x")


@needs_pq
def test_mldsa_with_cryptography():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import mldsa

    k = EVP.generate_key("ML-DSA-65")
    serialization.load_pem_public_key(k.public_pem()).verify(k.sign(b"data"), b"data")  # InvalidSignature if bad
    theirs = mldsa.MLDSA65PrivateKey.generate()
    pem = theirs.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert EVP.load_key_string_pubkey(pem).verify(theirs.sign(b"data"), b"data")


@needs_pq
@pytest.mark.parametrize("alg", ["ML-DSA-65", "SLH-DSA-SHA2-128f"])
def test_pq_certificates(alg):
    from cryptography import x509

    ca_key = EVP.generate_key(alg)
    ca = build_cert("PQ CA", ca_key, None, ca_key, 1, [("basicConstraints", "critical,CA:TRUE")])
    leaf_key = EVP.generate_key("ML-DSA-44")
    leaf = build_cert("leaf", leaf_key, ca, ca_key, 2, [("subjectAltName", "DNS:pq.example")])
    assert ca.verify(ca_key) == 1 and leaf.verify(ca_key) == 1
    assert leaf.verify(leaf_key) == 0
    store = X509.X509_Store()
    store.add_x509(ca)
    sctx = X509.X509_Store_Context()
    sctx.init(store, leaf)
    assert sctx.verify_cert() == 1
    theirs = x509.load_der_x509_certificate(leaf.as_der())
    assert theirs.signature_algorithm_oid.dotted_string.startswith("2.16.840.1.101.3.4.3.")  # NIST's ML-DSA/SLH-DSA arc
    if alg.startswith("ML-DSA"):  # the cryptography package verifies ML-DSA (not SLH-DSA) certificates
        theirs.verify_directly_issued_by(x509.load_der_x509_certificate(ca.as_der()))
