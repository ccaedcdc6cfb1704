"""RSA module: keys, paddings, PSS, PEM with passphrases, openssl round trips, bad input."""

import hashlib
import subprocess

import pytest

from M2Sec import RSA
from M2Sec.Err import ClosedError


@pytest.fixture(scope="module")
def key():
    return RSA.gen_key(1024, 65537, callback=None)


def test_basics(key):
    assert len(key) == 1024 and key.check_key() == 1
    assert key.e == b"\x00\x00\x00\x03\x01\x00\x01"
    pub = RSA.new_pub_key(key.pub())
    assert pub.check_key() and pub.n == key.n


@pytest.mark.parametrize("padding", [RSA.pkcs1_padding, RSA.pkcs1_oaep_padding])
def test_encrypt_paddings(key, padding):
    ct = key.public_encrypt(b"hello", padding)
    assert key.private_decrypt(ct, padding) == b"hello"


def test_no_padding_and_private_encrypt(key):
    block = b"\x01" * 128
    assert key.private_decrypt(key.public_encrypt(block, RSA.no_padding), RSA.no_padding) == block
    assert key.public_decrypt(key.private_encrypt(b"x", RSA.pkcs1_padding), RSA.pkcs1_padding) == b"x"
    with pytest.raises(RSA.RSAError):
        key.public_encrypt(b"short", RSA.no_padding)
    with pytest.raises(RSA.RSAError):
        key.public_encrypt(b"x" * 200, RSA.pkcs1_padding)
    with pytest.raises(RSA.RSAError):
        key.private_decrypt(b"\x00" * 128, RSA.pkcs1_oaep_padding)


def test_sign_verify_and_pss(key):
    d = hashlib.sha256(b"m").digest()
    sig = key.sign(d, "sha256")
    assert key.verify(d, sig, "sha256") == 1
    with pytest.raises(RSA.RSAError):
        key.verify(hashlib.sha256(b"n").digest(), sig, "sha256")
    with pytest.raises(ValueError):
        key.sign(d, "nosuch")
    p = key.sign_rsassa_pss(d, "sha256", 20)
    assert key.verify_rsassa_pss(d, p, "sha256", 20) == 1
    assert key.verify_rsassa_pss(hashlib.sha256(b"n").digest(), p, "sha256", 20) == 0


def test_pem_passphrase(key, tmp_path):
    pem = key.as_pem(cipher="aes_128_cbc", callback=lambda *a: b"pw")
    assert RSA.load_key_string(pem, lambda *a: b"pw").n == key.n
    with pytest.raises(RSA.RSAError):
        RSA.load_key_string(pem, lambda *a: b"bad")
    path = str(tmp_path / "pub.pem")
    assert key.save_pub_key(path) == 1
    assert RSA.load_pub_key(path).n == key.n
    with pytest.raises(RSA.RSAError):
        RSA.load_pub_key(path).private_decrypt(b"x", RSA.pkcs1_padding)
    with pytest.raises(RSA.RSAError):
        RSA.load_key_string(pem[:60], lambda *a: b"pw")


def test_openssl_roundtrip(key, tmp_path):
    (tmp_path / "k.pem").write_bytes(key.as_pem(cipher=None))
    (tmp_path / "m").write_bytes(b"hi")
    r = subprocess.run(["openssl", "pkeyutl", "-encrypt", "-inkey", str(tmp_path / "k.pem"), "-in", str(tmp_path / "m")],
                       capture_output=True, timeout=30)
    assert r.returncode == 0
    assert key.private_decrypt(r.stdout, RSA.pkcs1_padding) == b"hi"
    r = subprocess.run(["openssl", "rsa", "-in", str(tmp_path / "k.pem"), "-check", "-noout"], capture_output=True, timeout=30)
    assert r.returncode == 0


def test_closed(key):
    k = RSA.gen_key(512, 65537, callback=None)
    k.close()
    with pytest.raises(ClosedError):
        len(k)
    with pytest.raises(ValueError):
        RSA.gen_key(100, 65537, callback=None)


# ---- issue 18: a cipher name is looked up among ciphers, never among m2's functions -----------
@pytest.mark.parametrize("name", ["zz_probe", "bn_new", "rand_bytes"])
def test_as_pem_cipher_name_never_calls_an_m2_function(monkeypatch, name):
    from M2Sec import m2
    called = []
    monkeypatch.setattr(m2, "zz_probe", lambda *a: called.append(a), raising=False)
    rsa = RSA.gen_key(1024, 65537, lambda *a: None)
    with pytest.raises(RSA.RSAError, match="no such cipher"):
        rsa.as_pem(cipher=name, callback=lambda *a: b"passphrase")
    assert called == []


def test_as_pem_takes_openssl_cipher_names_too():
    rsa = RSA.gen_key(1024, 65537, lambda *a: None)
    for name in ("aes_256_cbc", "AES-256-CBC", "des_ede3_cbc"):
        pem = rsa.as_pem(cipher=name, callback=lambda *a: b"passphrase")
        assert b"ENCRYPTED" in pem
        assert RSA.load_key_string(pem, lambda *a: b"passphrase").n == rsa.n
