"""Key derivation: pbkdf2 (RFC 6070), hkdf (RFC 5869), scrypt (RFC 7914), against openssl kdf."""

import json
import subprocess
from binascii import unhexlify
from pathlib import Path

import pytest

from M2Sec import EVP, m2

VECTORS = Path(__file__).parent / "vectors"
PBKDF2 = json.loads((VECTORS / "pbkdf2_rfc6070.json").read_text())["vectors"]
HKDF = json.loads((VECTORS / "hkdf_rfc5869.json").read_text())["vectors"]
SCRYPT = json.loads((VECTORS / "scrypt_rfc7914.json").read_text())["vectors"]


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, timeout=60, check=True).stdout


@pytest.mark.parametrize("v", PBKDF2, ids=lambda v: "c%d" % v["iterations"])
def test_pbkdf2_rfc6070(v):
    out = EVP.pbkdf2(v["password"].encode(), v["salt"].encode(), v["iterations"], v["dklen"])
    assert out.hex() == v["dk"]
    assert m2.pkcs5_pbkdf2_hmac_sha1(v["password"].encode(), v["salt"].encode(), v["iterations"], v["dklen"]) == out


def test_pbkdf2_sha256_against_openssl_kdf():
    out = openssl("kdf", "-keylen", "32", "-kdfopt", "digest:SHA256", "-kdfopt", "pass:secret",
                  "-kdfopt", "salt:NaCl-salt", "-kdfopt", "iter:1000", "PBKDF2")
    ours = EVP.pbkdf2(b"secret", b"NaCl-salt", 1000, 32, algo="sha256")
    assert ours.hex().upper() == out.decode().strip().replace(":", "")


@pytest.mark.parametrize("v", HKDF, ids=lambda v: "case%d" % v["case"])
def test_hkdf_rfc5869(v):
    ikm, salt, info = unhexlify(v["ikm"]), unhexlify(v["salt"]), unhexlify(v["info"])
    assert EVP.hkdf(ikm, v["length"], salt=salt, info=info).hex() == v["okm"]
    prk = EVP.hkdf_extract(ikm, salt=salt)
    assert prk.hex() == v["prk"]
    assert EVP.hkdf_expand(prk, v["length"], info=info).hex() == v["okm"]


def test_hkdf_against_openssl_kdf():
    out = openssl("kdf", "-keylen", "48", "-kdfopt", "digest:SHA384", "-kdfopt", "key:input key",
                  "-kdfopt", "salt:salty", "-kdfopt", "info:context", "HKDF")
    ours = EVP.hkdf(b"input key", 48, salt=b"salty", info=b"context", algo="sha384")
    assert ours.hex().upper() == out.decode().strip().replace(":", "")


def test_hkdf_too_long_raises():
    with pytest.raises(EVP.EVPError):
        EVP.hkdf(b"k", 255 * 32 + 1)


@pytest.mark.parametrize("v", SCRYPT, ids=lambda v: "N%d" % v["n"])
def test_scrypt_rfc7914(v):
    out = EVP.scrypt(v["password"].encode(), v["salt"].encode(), n=v["n"], r=v["r"], p=v["p"], length=v["dklen"])
    assert out.hex() == v["dk"]


def test_scrypt_bad_parameters():
    with pytest.raises(EVP.EVPError):
        EVP.scrypt(b"pw", b"salt", n=1000, r=8, p=1, length=32)  # n not a power of two
    with pytest.raises(EVP.EVPError):
        EVP.scrypt(b"pw", b"salt", n=2 ** 20, r=8, p=1, length=32, maxmem=1024 * 1024)


def test_bad_input():
    with pytest.raises(TypeError):
        EVP.pbkdf2("password", b"salt", 1, 20)
    with pytest.raises(TypeError):
        EVP.hkdf("key", 32)
    with pytest.raises(TypeError):
        EVP.scrypt(b"pw", "salt", n=16, r=1, p=1)
    with pytest.raises(ValueError):
        EVP.pbkdf2(b"password", b"salt", 0, 20)
    with pytest.raises(ValueError):
        EVP.hkdf(b"key", 0)
    with pytest.raises(ValueError):
        EVP.pbkdf2(b"password", b"salt", 1, 20, algo="nosuch")
