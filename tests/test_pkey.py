"""EVP.PKey: M2Crypto's API, RSA-PSS/OAEP through EVP_PKEY_CTX, openssl round trips, bad input."""

import subprocess

import pytest

from M2Sec import BIO, EVP, RSA, m2
from M2Sec.Err import ClosedError


@pytest.fixture(scope="module")
def rsa_key():
    return EVP.generate_key("RSA", bits=1024)


def _pw(*args):
    return b"secret"


def test_sign_verify_final(rsa_key):
    rsa_key.reset_context("sha256")
    rsa_key.sign_init()
    rsa_key.sign_update(b"abc")
    sig = rsa_key.sign_final()
    pub = EVP.load_key_string_pubkey(rsa_key.public_pem())
    pub.reset_context("sha256")
    pub.verify_init()
    pub.verify_update(b"abc")
    assert pub.verify_final(sig) == 1
    pub.verify_init()
    pub.verify_update(b"abd")
    assert pub.verify_final(sig) == 0


def test_digest_sign_streaming(rsa_key):
    rsa_key.reset_context("sha384")
    rsa_key.digest_sign_init()
    rsa_key.digest_sign_update(b"part1")
    rsa_key.digest_sign_update(b"part2")
    sig = rsa_key.digest_sign_final()
    assert rsa_key.verify(sig, b"part1part2", digest="sha384")
    assert not rsa_key.verify(sig, b"part1part2", digest="sha256")


def test_pem_encrypted_roundtrip(rsa_key):
    pem = rsa_key.as_pem(cipher="aes_256_cbc", callback=_pw)
    assert b"ENCRYPTED" in pem
    assert EVP.load_key_string(pem, callback=_pw) == rsa_key
    with pytest.raises(EVP.EVPError):
        EVP.load_key_string(pem, callback=lambda *a: b"wrong")
    with pytest.raises(ValueError):
        rsa_key.as_pem(cipher="nosuchcipher", callback=_pw)


def test_save_load_file(rsa_key, tmp_path):
    path = str(tmp_path / "k.pem")
    assert rsa_key.save_key(path, cipher=None) == 1
    assert EVP.load_key(path) == rsa_key
    with open(path, "rb") as f:
        assert EVP.load_key_bio(BIO.MemoryBuffer(f.read())) == rsa_key


def test_modulus_size_der(rsa_key):
    rsa = rsa_key.get_rsa()
    assert int(rsa_key.get_modulus(), 16) == int.from_bytes(rsa.n[4:], "big")
    assert rsa_key.size() == 128
    assert EVP.load_pub_key_der(rsa_key.as_der()) == rsa_key
    with pytest.raises(ValueError):
        EVP.generate_key("ED25519").get_modulus()


def test_assign_rsa_shared_lifetime():
    rsa = RSA.gen_key(1024, 65537, callback=None)
    pkey = EVP.PKey()
    pkey.assign_rsa(rsa)
    del rsa  # the PKey keeps its own reference
    pkey.reset_context("sha256")
    pkey.sign_init()
    pkey.sign_update(b"x")
    assert len(pkey.sign_final()) == 128


@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha224", "sha3-256"])
def test_pss_any_hash(rsa_key, digest):
    sig = rsa_key.sign(b"msg", digest=digest, padding="pss")
    assert rsa_key.verify(sig, b"msg", digest=digest, padding="pss")
    assert not rsa_key.verify(sig, b"msg", digest=digest, padding="pkcs1")
    sig = rsa_key.sign(b"msg", digest=digest, padding="pss", salt_length=0, mgf1_digest="sha256")
    assert rsa_key.verify(sig, b"msg", digest=digest, padding="pss", salt_length=0, mgf1_digest="sha256")


@pytest.mark.parametrize("h", ["sha1", "sha256", "sha384"])
def test_oaep_any_hash_and_label(rsa_key, h):
    ct = rsa_key.encrypt(b"secret", hash=h, label=b"lbl")
    assert rsa_key.decrypt(ct, hash=h, label=b"lbl") == b"secret"
    with pytest.raises(EVP.EVPError):
        rsa_key.decrypt(ct, hash=h, label=b"other")


def test_bad_input(rsa_key):
    with pytest.raises(EVP.EVPError):
        rsa_key.encrypt(b"x" * 200)
    with pytest.raises(EVP.EVPError):
        rsa_key.sign(b"x", digest="nosuchhash")
    with pytest.raises(EVP.EVPError):
        EVP.load_key_string(rsa_key.as_pem(cipher=None)[:100])
    with pytest.raises(EVP.EVPError):
        EVP.load_key_der(rsa_key.private_der()[:-5])
    with pytest.raises(EVP.EVPError):
        EVP.PKey().get_rsa()
    with pytest.raises(EVP.EVPError):
        EVP.generate_key("EC", curve="P-256").encrypt(b"x")
    with pytest.raises(TypeError):
        rsa_key.sign("str is not bytes")
    with pytest.raises(ValueError):
        rsa_key.encrypt(b"x", padding="pss")
    k = EVP.generate_key("ED25519")
    k.close()
    k.close()
    with pytest.raises(ClosedError):
        k.sign(b"x")


def _run(*args):
    r = subprocess.run(["openssl", *args], capture_output=True, timeout=60)
    return r


def test_openssl_rsa_roundtrips(rsa_key, tmp_path):
    (tmp_path / "k.pem").write_bytes(rsa_key.as_pem(cipher="aes_128_cbc", callback=_pw))
    (tmp_path / "pub.pem").write_bytes(rsa_key.public_pem())
    (tmp_path / "msg").write_bytes(b"message")
    # openssl reads our encrypted key
    assert _run("pkey", "-in", str(tmp_path / "k.pem"), "-passin", "pass:secret", "-noout").returncode == 0
    # our signature -> openssl dgst -verify
    (tmp_path / "sig").write_bytes(rsa_key.sign(b"message", digest="sha256"))
    r = _run("dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature", str(tmp_path / "sig"), str(tmp_path / "msg"))
    assert r.returncode == 0, r.stderr
    # openssl PSS signature -> ours
    r = _run("dgst", "-sha256", "-sign", str(tmp_path / "k.pem"), "-passin", "pass:secret", "-sigopt", "rsa_padding_mode:pss",
             "-sigopt", "rsa_pss_saltlen:32", "-out", str(tmp_path / "psig"), str(tmp_path / "msg"))
    assert r.returncode == 0, r.stderr
    assert rsa_key.verify((tmp_path / "psig").read_bytes(), b"message", padding="pss", salt_length=32)
    # openssl OAEP(sha256) encryption -> our decryption
    r = _run("pkeyutl", "-encrypt", "-pubin", "-inkey", str(tmp_path / "pub.pem"), "-in", str(tmp_path / "msg"),
             "-out", str(tmp_path / "ct"), "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256")
    assert r.returncode == 0, r.stderr
    assert rsa_key.decrypt((tmp_path / "ct").read_bytes(), hash="sha256") == b"message"
    # our OAEP encryption -> openssl decryption
    (tmp_path / "ct2").write_bytes(rsa_key.encrypt(b"message", hash="sha256"))
    r = _run("pkeyutl", "-decrypt", "-inkey", str(tmp_path / "k.pem"), "-passin", "pass:secret", "-in", str(tmp_path / "ct2"),
             "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256")
    assert r.returncode == 0 and r.stdout == b"message", r.stderr


def test_openssl_genpkey_ec_key(tmp_path):
    r = _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(tmp_path / "ec.pem"))
    assert r.returncode == 0
    key = EVP.load_key(str(tmp_path / "ec.pem"))
    assert key.key_type == "EC"
    sig = key.sign(b"data")
    (tmp_path / "sig").write_bytes(sig)
    (tmp_path / "data").write_bytes(b"data")
    _run("pkey", "-in", str(tmp_path / "ec.pem"), "-pubout", "-out", str(tmp_path / "pub.pem"))
    r = _run("dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature", str(tmp_path / "sig"), str(tmp_path / "data"))
    assert r.returncode == 0, r.stderr


def test_pss_too_long_for_key(rsa_key):
    with pytest.raises(EVP.EVPError):
        rsa_key.sign(b"msg", digest="sha512", padding="pss")  # 64 + 64 + 2 > 128 bytes


# ---- keys that sign the message itself: the default digest does not apply -----------------
def _genpkey(tmp_path, alg):
    path = tmp_path / (alg + ".pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", alg, "-out", str(path)], check=True, timeout=60)
    return path


@pytest.mark.parametrize("alg", ["ED25519", "ED448", "ML-DSA-65", "SLH-DSA-SHA2-128f"])
def test_sign_with_the_default_digest_on_keys_without_one(tmp_path, alg):
    """ML-DSA and SLH-DSA (OpenSSL 3.5) sign like Ed25519: sign() with its default digest works,
    and openssl pkeyutl verifies; before 3.5 these algorithms do not exist."""
    pq = alg.startswith(("ML-", "SLH-"))
    if pq and m2.OPENSSL_VERSION_NUMBER < 0x30500000:
        proc = subprocess.run(["openssl", "genpkey", "-algorithm", alg], capture_output=True, timeout=60)
        assert proc.returncode != 0  # the CLI of the same OpenSSL does not know it either
        return
    path = _genpkey(tmp_path, alg)
    key = EVP.load_key(str(path))
    assert m2.pkey_sign_takes_no_digest(key._ptr()) == 1
    sig = key.sign(b"message")
    assert key.verify(sig, b"message") and not key.verify(sig, b"messagE")
    (tmp_path / "msg").write_bytes(b"message")
    (tmp_path / "sig").write_bytes(sig)
    out = subprocess.run(["openssl", "pkeyutl", "-verify", "-rawin", "-inkey", str(path), "-in", str(tmp_path / "msg"),
                          "-sigfile", str(tmp_path / "sig")], capture_output=True, timeout=60)
    assert out.returncode == 0 and b"Signature Verified Successfully" in out.stdout, out


def test_keys_with_a_digest_keep_it(rsa_key):
    assert m2.pkey_sign_takes_no_digest(rsa_key._ptr()) == 0
