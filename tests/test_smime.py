"""M2Sec.SMIME and PKCS#7, both ways with `openssl smime` and `openssl cms`, on a PKI that
M2Sec's own X509 API built (root -> intermediate -> e-mail certificates)."""

import gc

import pytest

from M2Sec import BIO, EVP, SMIME, X509, m2
from M2Sec.Err import ClosedError

from pki_helpers import openssl
from smime_helpers import M2SecCA, run

pytestmark = pytest.mark.timeout(120)

TEXT = b"Hello Bob,\nthe keys are under the mat.\n"
LEGACY = ("-provider", "default", "-provider", "legacy")  # for Blowfish, CAST5, DES, RC2, SEED


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    ca = M2SecCA(str(tmp_path_factory.mktemp("smime_ca")))
    ca.person("alice")
    ca.person("bob")
    ca.person("carol", alg="EC")  # ECDSA signer
    ca.person("mallory")
    ca.person("webserver", eku="serverAuth")
    ca.revoke("mallory")
    ca.crl()
    ca.chain_file()
    return ca


def signer(ca, name="alice", chain=True):
    s = SMIME.SMIME()
    s.load_key(ca.path(name + ".key"), ca.path(name + ".pem"))
    if chain:
        s.set_x509_stack(stack(ca.certs["inter"]))
    return s


def stack(*certs):
    sk = X509.X509_Stack()
    for c in certs:
        sk.push(c)
    return sk


def verifier(ca, *extra, store=None):
    s = SMIME.SMIME()
    s.set_x509_stack(stack(ca.certs["inter"], *extra))
    if store is None:
        store = X509.X509_Store()
        store.add_x509(ca.certs["root"])
    s.set_x509_store(store)
    return s


def decrypter(ca, name="bob"):
    s = SMIME.SMIME()
    s.load_key(ca.path(name + ".key"), ca.path(name + ".pem"))
    return s


def smime_bytes(s, p7, data=None, flags=SMIME.PKCS7_DETACHED):
    out = BIO.MemoryBuffer()
    assert s.write(out, p7, BIO.MemoryBuffer(data) if data is not None else None, flags) == 1
    return out.read()


def load_smime(raw):
    return SMIME.smime_load_pkcs7_bio(BIO.MemoryBuffer(raw))


# ---- the PKI M2Sec built --------------------------------------------------------------------

def test_m2sec_ca_chain_accepted_by_both_and_revocation_rejected(ca):
    """A chain of three made with M2Sec's X509 API: M2Sec and openssl verify accept it, and
    reject the revoked certificate once they have the CRL."""
    root, inter = ca.certs["root"], ca.certs["inter"]
    for name in ("alice", "bob", "carol"):
        chain = X509.verify_chain(ca.certs[name], [root], [inter], purpose=m2.X509_PURPOSE_SMIME_SIGN)
        assert [c.get_subject().CN for c in chain] == [name, "M2Sec Test Inter", "M2Sec Test Root"]
        r = run("verify", "-CAfile", ca.path("root.pem"), "-untrusted", ca.path("inter.pem"),
                "-purpose", "smimesign", ca.path(name + ".pem"))
        assert r.returncode == 0, r.stdout + r.stderr
    crl = X509.load_crl(ca.path("inter.crl"))
    assert crl.is_revoked(ca.certs["mallory"]) and not crl.is_revoked(ca.certs["alice"])
    # without the CRL mallory passes; with it, both refuse
    X509.verify_chain(ca.certs["mallory"], [root], [inter])
    with pytest.raises(X509.X509VerificationError) as e:
        X509.verify_chain(ca.certs["mallory"], [root], [inter], crls=[crl], flags=0)
    assert e.value.verify_code in (m2.X509_V_ERR_CERT_REVOKED, m2.X509_V_ERR_UNABLE_TO_GET_CRL)
    store = X509.X509_Store()
    store.add_x509(root)
    store.add_crl(crl)
    store.set_flags(X509.verify_crl_check)
    ctx = X509.X509_Store_Context()
    ctx.init(store, ca.certs["mallory"], stack(inter))
    assert ctx.verify_cert() == 0 and ctx.get_error() == m2.X509_V_ERR_CERT_REVOKED
    r = run("verify", "-CAfile", ca.path("root.pem"), "-untrusted", ca.path("inter.pem"), "-crl_check",
            "-CRLfile", ca.path("inter.crl"), ca.path("mallory.pem"))
    assert r.returncode != 0 and b"certificate revoked" in r.stdout + r.stderr
    r = run("verify", "-CAfile", ca.path("root.pem"), "-untrusted", ca.path("inter.pem"), "-crl_check",
            "-CRLfile", ca.path("inter.crl"), ca.path("alice.pem"))
    assert r.returncode == 0, r.stdout + r.stderr


# ---- signing ----------------------------------------------------------------------------------

@pytest.mark.parametrize("flags", [
    SMIME.PKCS7_DETACHED, 0, SMIME.PKCS7_DETACHED | SMIME.PKCS7_BINARY, SMIME.PKCS7_BINARY,
    SMIME.PKCS7_DETACHED | SMIME.PKCS7_TEXT, SMIME.PKCS7_NOCERTS | SMIME.PKCS7_DETACHED,
])
def test_sign_verify_round_trip(ca, flags):
    s = signer(ca)
    p7 = s.sign(BIO.MemoryBuffer(TEXT), flags)
    assert p7.type() == SMIME.PKCS7_SIGNED and p7.type(1) == "pkcs7-signedData"
    detached = flags & SMIME.PKCS7_DETACHED
    raw = smime_bytes(s, p7, TEXT if detached else None, flags)
    p7b, data = load_smime(raw)
    assert (data is not None) == bool(detached)
    v = verifier(ca, ca.certs["alice"]) if flags & SMIME.PKCS7_NOCERTS else verifier(ca)
    if detached and flags & SMIME.PKCS7_BINARY:
        # multipart/signed carries text: reading it back gives CRLF lines, not the binary signed
        data = BIO.MemoryBuffer(TEXT)
    out = v.verify(p7b, data, SMIME.PKCS7_TEXT if flags & SMIME.PKCS7_TEXT else 0)
    expected = TEXT if flags & (SMIME.PKCS7_BINARY | SMIME.PKCS7_TEXT) else TEXT.replace(b"\n", b"\r\n")
    assert out.replace(b"\r\n", b"\n") == TEXT and (flags & SMIME.PKCS7_TEXT or out == expected)
    signers = p7b.get0_signers(stack(ca.certs["alice"]))
    assert [c.get_subject().CN for c in signers] == ["alice"]
    carried = [c.get_subject().CN for c in p7b.get_certificates()]
    assert carried == ([] if flags & SMIME.PKCS7_NOCERTS else ["M2Sec Test Inter", "alice"])


@pytest.mark.parametrize("tool", ["smime", "cms"])
@pytest.mark.parametrize("detached", [True, False])
@pytest.mark.parametrize("name", ["alice", "carol"])
def test_m2sec_signed_verified_by_openssl(ca, tmp_path, tool, detached, name):
    s = signer(ca, name)
    flags = SMIME.PKCS7_DETACHED if detached else 0
    p7 = s.sign(TEXT, flags, "sha384")
    msg = tmp_path / "signed.eml"
    msg.write_bytes(smime_bytes(s, p7, TEXT if detached else None, flags))
    out = openssl(tool, "-verify", "-in", str(msg), "-CAfile", ca.path("root.pem"), "-purpose", "smimesign")
    assert out.replace(b"\r\n", b"\n") == TEXT
    # and the PEM and DER encodings
    for form, writer in (("PEM", p7.write), ("DER", p7.write_der)):
        bio = BIO.MemoryBuffer()
        assert writer(bio) == 1
        (tmp_path / "sig").write_bytes(bio.read())
        args = [tool, "-verify", "-inform", form, "-in", str(tmp_path / "sig"), "-CAfile", ca.path("root.pem")]
        if detached:  # what was signed: the text with CRLF line ends
            (tmp_path / "content").write_bytes(TEXT.replace(b"\n", b"\r\n"))
            args += ["-content", str(tmp_path / "content")]
        assert openssl(*args).replace(b"\r\n", b"\n") == TEXT


@pytest.mark.parametrize("tool", ["smime", "cms"])
@pytest.mark.parametrize("detached", [True, False])
def test_openssl_signed_verified_by_m2sec(ca, tmp_path, tool, detached):
    (tmp_path / "in").write_bytes(TEXT)
    args = [tool, "-sign", "-in", str(tmp_path / "in"), "-signer", ca.path("alice.pem"), "-inkey",
            ca.path("alice.key"), "-certfile", ca.path("inter.pem")]
    if not detached:
        args.append("-nodetach")
    raw = openssl(*args)
    assert (b"multipart/signed" in raw) == detached
    p7, data = load_smime(raw)
    assert (data is not None) == detached
    assert verifier(ca).verify(p7, data) == TEXT.replace(b"\n", b"\r\n")
    # the same signature as PEM and DER
    for form, loader in (("PEM", SMIME.load_pkcs7_bio), ("DER", SMIME.load_pkcs7_bio_der)):
        raw = openssl(*args, "-outform", form).replace(b"CMS-----", b"PKCS7-----")  # cms's PEM label
        p7 = loader(BIO.MemoryBuffer(raw))
        out = verifier(ca).verify(p7, TEXT.replace(b"\n", b"\r\n") if detached else None)
        assert out == TEXT.replace(b"\n", b"\r\n")


def test_load_files_and_degenerate(ca, tmp_path):
    s = signer(ca)
    p7 = s.sign(TEXT, 0)
    pem, der = tmp_path / "s.p7", tmp_path / "s.der"
    with BIO.openfile(str(pem), "wb") as f:
        assert p7.write(f) == 1
    with BIO.openfile(str(der), "wb") as f:
        assert p7.write_der(f) == 1
    assert SMIME.load_pkcs7(str(pem)).as_der() == SMIME.load_pkcs7_der(str(der)).as_der() == p7.as_der()
    assert SMIME.load_pkcs7(str(pem)).as_pem() == p7.as_pem()
    eml = tmp_path / "s.eml"
    eml.write_bytes(smime_bytes(s, p7))
    p7b, data = SMIME.smime_load_pkcs7(str(eml))
    assert data is None and verifier(ca).verify(p7b) == TEXT.replace(b"\n", b"\r\n")
    # certificates-only (.p7c): openssl reads what M2Sec writes, and back
    chain = stack(ca.certs["alice"], ca.certs["inter"], ca.certs["root"])
    p7c = tmp_path / "chain.p7c"
    assert SMIME.save_degenerate(chain, str(p7c)) == 1
    printed = openssl("pkcs7", "-inform", "DER", "-in", str(p7c), "-print_certs")
    assert printed.count(b"BEGIN CERTIFICATE") == 3
    assert [c.get_subject().CN for c in SMIME.load_certificates(str(p7c))] == \
        ["alice", "M2Sec Test Inter", "M2Sec Test Root"]
    openssl("crl2pkcs7", "-nocrl", "-certfile", ca.path("bob.pem"), "-outform", "DER", "-out", str(p7c))
    assert [c.get_subject().CN for c in SMIME.load_certificates(str(p7c))] == ["bob"]
    bio = BIO.MemoryBuffer()
    assert chain.create_degenerate(bio) == 1
    assert SMIME.load_pkcs7_bio_der(bio).get_certificates()[0] == ca.certs["alice"]
    with pytest.raises(SMIME.SMIME_Error):
        SMIME.create_degenerate(X509.X509_Stack(), bio)
    enc = tmp_path / "enc.der"
    e = SMIME.SMIME()
    e.set_x509_stack(stack(ca.certs["bob"]))
    e.set_cipher(SMIME.Cipher("aes_128_cbc"))
    with BIO.openfile(str(enc), "wb") as f:
        e.encrypt(TEXT).write_der(f)
    with pytest.raises(SMIME.SMIME_Error):
        SMIME.load_certificates(str(enc))


def test_sign_errors(ca):
    s = SMIME.SMIME()
    with pytest.raises(SMIME.SMIME_Error):
        s.sign(TEXT)
    s = signer(ca)
    with pytest.raises(SMIME.SMIME_Error):
        s.sign(TEXT, algo="no-such-digest")
    with pytest.raises(TypeError):
        s.sign("text, not bytes")
    with pytest.raises(TypeError):
        s.set_x509_stack([ca.certs["inter"]])
    with pytest.raises(TypeError):
        s.set_x509_store(ca.certs["root"])
    # PKCS#7 has no EdDSA: a clear error, not a crash
    ed = EVP.generate_key("ED25519")
    s.set_key(ed, ca.certs["alice"])
    with pytest.raises(SMIME.SMIME_Error):
        s.sign(TEXT)


# ---- verification failures --------------------------------------------------------------------

def test_signer_not_in_store_carries_the_verify_code(ca):
    p7, data = load_smime(smime_bytes(signer(ca), signer(ca).sign(TEXT), TEXT))
    other = X509.X509_Store()
    other.add_x509(ca.certs["bob"])
    with pytest.raises(SMIME.PKCS7VerificationError) as e:
        verifier(ca, store=other).verify(p7, data)
    err = e.value
    assert err.verify_code == m2.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    assert err.verify_message == "unable to get local issuer certificate"
    assert "unable to get local issuer certificate" in str(err)
    assert isinstance(err, SMIME.PKCS7_Error) and isinstance(err, X509.X509VerificationError)
    # the low-level call raises PKCS7_Error with the code attached
    empty = stack()  # held: a pointer taken from a temporary would be freed before the call
    with pytest.raises(SMIME.PKCS7_Error) as e:
        m2.pkcs7_verify1(p7._ptr(), empty._ptr(), other._ptr(), data._ptr(), 0)
    assert e.value.verify_code == m2.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    # PKCS7_NOVERIFY skips the chain, not the signature
    data.seek(0)
    assert verifier(ca, store=other).verify(p7, data, SMIME.PKCS7_NOVERIFY) == TEXT.replace(b"\n", b"\r\n")


def test_signer_without_its_certificate(ca):
    s = signer(ca)
    p7 = s.sign(TEXT, SMIME.PKCS7_NOCERTS)
    with pytest.raises(SMIME.PKCS7_Error) as e:
        verifier(ca).verify(p7)
    assert not isinstance(e.value, SMIME.PKCS7VerificationError)
    with pytest.raises(SMIME.PKCS7_Error):
        p7.get0_signers(X509.X509_Stack())


def test_revoked_and_wrong_purpose_signers(ca):
    store = X509.X509_Store()
    store.add_x509(ca.certs["root"])
    store.add_crl(X509.load_crl(ca.path("inter.crl")))
    store.set_flags(X509.verify_crl_check)
    p7 = signer(ca, "mallory").sign(TEXT, 0)
    with pytest.raises(SMIME.PKCS7VerificationError) as e:
        verifier(ca, store=store).verify(p7)
    assert e.value.verify_code == m2.X509_V_ERR_CERT_REVOKED and e.value.depth == 0
    assert verifier(ca, store=store).verify(signer(ca).sign(TEXT, 0)) == TEXT.replace(b"\n", b"\r\n")
    # a TLS server certificate does not sign mail
    with pytest.raises(SMIME.PKCS7VerificationError) as e:
        verifier(ca).verify(signer(ca, "webserver").sign(TEXT, 0))
    assert e.value.verify_code == m2.X509_V_ERR_INVALID_PURPOSE


def test_tampered_content_and_signature(ca):
    s = signer(ca)
    raw = smime_bytes(s, s.sign(TEXT), TEXT)
    p7, data = load_smime(raw.replace(b"under the mat", b"under the rug"))
    with pytest.raises(SMIME.PKCS7_Error) as e:
        verifier(ca).verify(p7, data)
    assert not isinstance(e.value, SMIME.PKCS7VerificationError)
    assert "digest failure" in str(e.value) or "signature failure" in str(e.value)
    # opaque: change one byte of the embedded content
    der = bytearray(s.sign(TEXT, 0).as_der())
    i = der.index(b"under the mat")
    der[i] ^= 0x20
    with pytest.raises(SMIME.PKCS7_Error):
        verifier(ca).verify(SMIME.load_pkcs7_bio_der(BIO.MemoryBuffer(bytes(der))))
    # verifying a detached signature without its content
    with pytest.raises(SMIME.PKCS7_Error):
        verifier(ca).verify(s.sign(TEXT))


def test_verify_callback(ca):
    p7 = signer(ca).sign(TEXT, 0)
    store = X509.X509_Store()
    store.add_x509(ca.certs["root"])
    seen = []

    def reject_alice(ok, ctx):
        seen.append(ctx.get_current_cert().get_subject().CN)
        return ok and ctx.get_current_cert().get_subject().CN != "alice"

    store.set_verify_cb(reject_alice)
    with pytest.raises(SMIME.PKCS7_Error):
        verifier(ca, store=store).verify(p7)
    assert "alice" in seen

    def boom(ok, ctx):
        raise RuntimeError("from the callback")

    store.set_verify_cb(boom)
    with pytest.raises(RuntimeError, match="from the callback"):
        verifier(ca, store=store).verify(p7)
    store.set_verify_cb()
    assert verifier(ca, store=store).verify(p7) == TEXT.replace(b"\n", b"\r\n")


def test_verify_needs_stack_and_store(ca):
    p7 = signer(ca).sign(TEXT, 0)
    s = SMIME.SMIME()
    with pytest.raises(SMIME.SMIME_Error):
        s.verify(p7)
    s.set_x509_stack(X509.X509_Stack())
    with pytest.raises(SMIME.SMIME_Error):
        s.verify(p7)
    with pytest.raises(SMIME.PKCS7_Error):  # not signedData
        verifier(ca).verify(SMIME.PKCS7())


# ---- encryption -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ciphers():
    EVP._load_legacy()  # so that the list has Blowfish, CAST5, DES, RC2, SEED too
    return SMIME.cipher_names()


def test_cipher_list_and_defaults(ciphers):
    assert {"AES-128-CBC", "AES-256-CBC", "DES-EDE3-CBC", "CAMELLIA-256-CBC", "ARIA-256-CTR"} <= set(ciphers)
    assert not {"AES-256-GCM", "AES-128-WRAP", "AES-128-XTS", "AES-128-CFB1", "ChaCha20-Poly1305"} & set(ciphers)
    assert SMIME.DEFAULT_CIPHER == "aes_256_cbc"
    with pytest.raises(ValueError):
        SMIME.Cipher("nosuchcipher")
    assert repr(SMIME.Cipher("des_ede3_cbc")) == "Cipher('des_ede3_cbc')"


def test_every_cipher_both_ways_with_openssl(ca, tmp_path, ciphers):
    """Every cipher envelopedData can use: M2Sec encrypts for two recipients, openssl smime and
    both recipients decrypt; openssl cms encrypts and M2Sec decrypts."""
    (tmp_path / "in").write_bytes(TEXT)
    msg = tmp_path / "enc.eml"
    e = SMIME.SMIME()
    e.set_x509_stack(stack(ca.certs["bob"], ca.certs["alice"]))
    failed = []
    for cipher in ciphers:
        e.set_cipher(SMIME.Cipher(cipher))
        p7 = e.encrypt(BIO.MemoryBuffer(TEXT))
        assert p7.type() == SMIME.PKCS7_ENVELOPED
        msg.write_bytes(smime_bytes(e, p7))
        r = run("smime", *LEGACY, "-decrypt", "-in", str(msg), "-recip", ca.path("bob.pem"),
                "-inkey", ca.path("bob.key"))
        ok = r.returncode == 0 and r.stdout == TEXT.replace(b"\n", b"\r\n")
        for name in ("alice", "bob"):
            ok = ok and decrypter(ca, name).decrypt(load_smime(msg.read_bytes())[0]) == TEXT.replace(b"\n", b"\r\n")
        raw = openssl("cms", *LEGACY, "-encrypt", "-in", str(tmp_path / "in"), "-binary", "-" + cipher.lower(),
                      ca.path("bob.pem"))
        ok = ok and decrypter(ca).decrypt(load_smime(raw)[0]) == TEXT
        if not ok:
            failed.append(cipher)
    assert failed == [] and len(ciphers) > 40


@pytest.mark.parametrize("tool", ["smime", "cms"])
def test_openssl_encrypted_decrypted_by_m2sec(ca, tmp_path, tool):
    (tmp_path / "in").write_bytes(TEXT)
    for form in ("SMIME", "PEM", "DER"):
        raw = openssl(tool, "-encrypt", "-aes256", "-in", str(tmp_path / "in"), "-outform", form, ca.path("bob.pem"))
        raw = raw.replace(b"CMS-----", b"PKCS7-----")  # cms's PEM label
        p7 = {"SMIME": lambda r: load_smime(r)[0], "PEM": lambda r: SMIME.load_pkcs7_bio(BIO.MemoryBuffer(r)),
              "DER": lambda r: SMIME.load_pkcs7_bio_der(BIO.MemoryBuffer(r))}[form](raw)
        assert decrypter(ca).decrypt(p7) == TEXT.replace(b"\n", b"\r\n")


def test_m2sec_sign_then_encrypt_read_by_openssl_cms(ca, tmp_path):
    s = signer(ca)
    signed = smime_bytes(s, s.sign(TEXT), TEXT)
    s.set_x509_stack(stack(ca.certs["bob"]))
    s.set_cipher(SMIME.Cipher("aes_256_cbc"))
    (tmp_path / "m.eml").write_bytes(smime_bytes(s, s.encrypt(signed)))
    inner = openssl("cms", "-decrypt", "-in", str(tmp_path / "m.eml"), "-recip", ca.path("bob.pem"),
                    "-inkey", ca.path("bob.key"))
    out = openssl("cms", "-verify", "-CAfile", ca.path("root.pem"), input=inner)
    assert out.replace(b"\r\n", b"\n") == TEXT


def test_encrypt_errors(ca):
    e = SMIME.SMIME()
    with pytest.raises(SMIME.SMIME_Error):  # M2Crypto's API names no default cipher
        e.encrypt(TEXT)
    e.set_cipher(SMIME.Cipher("aes_256_gcm"))
    with pytest.raises(SMIME.SMIME_Error):
        e.encrypt(TEXT)
    e.set_x509_stack(X509.X509_Stack())
    with pytest.raises(SMIME.SMIME_Error):
        e.encrypt(TEXT)
    e.set_x509_stack(stack(ca.certs["bob"]))
    with pytest.raises(SMIME.SMIME_Error, match="AEAD"):
        e.encrypt(TEXT)
    e.set_x509_stack(stack(ca.certs["carol"]))  # an EC recipient: PKCS#7 cannot encrypt to it
    e.set_cipher(SMIME.Cipher("aes_256_cbc"))
    with pytest.raises(SMIME.SMIME_Error):
        e.encrypt(TEXT)
    e.unset_cipher()
    with pytest.raises(SMIME.SMIME_Error):
        e.encrypt(TEXT)
    with pytest.raises(TypeError):
        e.set_cipher("aes_256_cbc")


def test_wrong_key_for_decryption(ca):
    e = SMIME.SMIME()
    e.set_x509_stack(stack(ca.certs["bob"]))
    e.set_cipher(SMIME.Cipher("aes_256_cbc"))
    p7 = e.encrypt(TEXT)
    with pytest.raises(SMIME.PKCS7_Error, match="no recipient matches"):
        decrypter(ca, "alice").decrypt(p7)
    d = SMIME.SMIME()
    d.load_key(ca.path("alice.key"), ca.path("bob.pem"))  # alice's key with bob's certificate
    with pytest.raises(SMIME.PKCS7_Error, match="mismatch"):
        d.decrypt(p7)
    with pytest.raises(SMIME.SMIME_Error):
        SMIME.SMIME().decrypt(p7)
    with pytest.raises(SMIME.PKCS7_Error):  # not envelopedData
        decrypter(ca).decrypt(signer(ca).sign(TEXT, 0))


# ---- malformed input ----------------------------------------------------------------------------

def test_truncated_and_corrupted_pkcs7(ca):
    s = signer(ca)
    p7 = s.sign(TEXT, 0)
    der, pem, mime = p7.as_der(), p7.as_pem(), smime_bytes(s, p7)
    for n in list(range(0, len(der), 97)) + [len(der) - 1]:
        with pytest.raises(SMIME.PKCS7_Error):
            SMIME.load_pkcs7_bio_der(BIO.MemoryBuffer(der[:n]))
    for n in list(range(0, len(pem), 131)) + [len(pem) - 30]:
        with pytest.raises(SMIME.PKCS7_Error):
            SMIME.load_pkcs7_bio(BIO.MemoryBuffer(pem[:n]))
    for n in range(0, len(mime) - 40, 151):
        with pytest.raises(SMIME.SMIME_Error):
            load_smime(mime[:n])
    # flipped bytes: an error or a structure that then fails to verify, never a crash
    for i in range(0, len(der), 23):
        bad = bytearray(der)
        bad[i] ^= 0xFF
        try:
            q = SMIME.load_pkcs7_bio_der(BIO.MemoryBuffer(bytes(bad)))
        except SMIME.PKCS7_Error:
            continue
        try:
            out = verifier(ca).verify(q)
        except (SMIME.PKCS7_Error, SMIME.SMIME_Error):
            continue
        assert out == TEXT.replace(b"\n", b"\r\n")  # a flip in an unsigned field
    with pytest.raises(SMIME.PKCS7_Error):
        SMIME.load_pkcs7_bio(BIO.MemoryBuffer(b"no pkcs7"))
    with pytest.raises(SMIME.SMIME_Error):
        load_smime(b"Content-Type: text/plain\r\n\r\nhello\r\n")
    with pytest.raises(SMIME.SMIME_Error):
        load_smime(mime.replace(b"application/x-pkcs7-mime", b"application/pdf"))


def test_load_errors(ca, tmp_path):
    with pytest.raises(BIO.BIOError):
        SMIME.load_pkcs7(str(tmp_path / "missing"))
    with pytest.raises(BIO.BIOError):
        SMIME.smime_load_pkcs7(str(tmp_path / "missing"))
    with pytest.raises(SMIME.PKCS7_Error):
        SMIME.load_pkcs7(ca.path("alice.pem"))
    with pytest.raises(SMIME.PKCS7_Error):
        SMIME.load_pkcs7_der(ca.path("alice.pem"))
    with pytest.raises(SMIME.SMIME_Error):
        SMIME.smime_load_pkcs7(ca.path("alice.pem"))
    with pytest.raises(EVP.EVPError):
        SMIME.SMIME().load_key(ca.path("alice.pem"))
    with pytest.raises(TypeError):
        SMIME.load_pkcs7_bio(b"not a BIO")


def test_closed_objects_and_ownership(ca):
    p7 = signer(ca).sign(TEXT, 0)
    signers = p7.get0_signers(X509.X509_Stack())
    cert = signers[0]
    p7.close()
    p7.close()
    del signers
    gc.collect()
    assert cert.get_subject().CN == "alice"  # the signer's certificate outlives the PKCS7
    with pytest.raises(ClosedError):
        p7.type()
    with pytest.raises(ValueError):
        m2.pkcs7_type_nid(None)
    with SMIME.PKCS7() as empty:
        assert empty.type() == 0
    with pytest.raises(ClosedError):
        empty.as_der()


def test_text_crlf():
    assert SMIME.text_crlf(b"foo\nbar\n") == b"Content-Type: text/plain\r\n\r\nfoo\r\nbar\r\n"
    assert SMIME.text_crlf_bio(BIO.MemoryBuffer(b"x")).read() == b"Content-Type: text/plain\r\n\r\nx"
    with pytest.raises(TypeError):
        SMIME.text_crlf_bio(b"x")


def test_no_leaks_on_success_and_error_paths(ca, rss):
    """Signing, verifying (and failing to), encrypting, decrypting (and failing to), reading
    truncated input: resident memory stays flat over 1,500 rounds."""
    alice, bob = signer(ca, chain=False), decrypter(ca)
    wrong = decrypter(ca, "alice")
    good, bad = verifier(ca), verifier(ca, store=X509.X509_Store())
    enc = SMIME.SMIME()
    enc.set_x509_stack(stack(ca.certs["bob"]))
    enc.set_cipher(SMIME.Cipher("aes_128_cbc"))

    def round_trip():
        p7 = alice.sign(TEXT, 0)
        good.verify(p7)
        with pytest.raises(SMIME.PKCS7VerificationError):
            bad.verify(p7)
        p7.get0_signers(X509.X509_Stack())
        raw = smime_bytes(alice, p7)
        load_smime(raw)
        with pytest.raises(SMIME.SMIME_Error):
            load_smime(raw[:300])
        with pytest.raises(SMIME.PKCS7_Error):
            SMIME.load_pkcs7_bio_der(BIO.MemoryBuffer(p7.as_der()[:200]))
        env = enc.encrypt(TEXT)
        bob.decrypt(env)
        with pytest.raises(SMIME.PKCS7_Error):
            wrong.decrypt(env)
        SMIME.create_degenerate(stack(ca.certs["alice"]), BIO.MemoryBuffer())

    for _ in range(200):
        round_trip()
    gc.collect()
    before = rss()
    for _ in range(1500):
        round_trip()
    gc.collect()
    assert rss() - before < 1024 * 1024
