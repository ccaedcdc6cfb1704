"""M2Crypto's low-level m2.aes_* / m2.AES_* functions (on EVP AES-ECB)."""

import json
from binascii import unhexlify
from pathlib import Path

import pytest

from M2Sec import m2

VECTORS = json.loads((Path(__file__).parent / "vectors" / "aes_fips197_sp800_38a.json").read_text())["ecb"]


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: str(len(v["key"]) * 4))
def test_fips197_encrypt_and_decrypt(v):
    bits = len(v["key"]) * 4
    key = m2.aes_new()
    try:
        m2.AES_set_key(key, unhexlify(v["key"]), bits, 0)
        assert m2.AES_type_check(key) == 1
        ct = m2.AES_crypt(key, unhexlify(v["plaintext"]), 16, 0)
        assert ct.hex() == v["ciphertext"]
        # the same key object decrypts too
        assert m2.AES_crypt(key, ct, 16, 1).hex() == v["plaintext"]
    finally:
        m2.AES_free(key)


def test_lowercase_names_and_several_blocks():
    v = VECTORS[0]
    key = m2.aes_new()
    try:
        m2.aes_init(key, unhexlify(v["key"]), 128, 1)
        two = unhexlify(v["ciphertext"]) * 2
        assert m2.aes_crypt(key, two, 32, 1) == unhexlify(v["plaintext"]) * 2
        assert m2.aes_type_check(key) == 1
    finally:
        m2.aes_free(key)


def test_bad_input():
    key = m2.aes_new()
    try:
        with pytest.raises(ValueError):
            m2.AES_crypt(key, b"\0" * 16, 16, 0)  # no key yet
        with pytest.raises(ValueError):
            m2.AES_set_key(key, b"short", 128, 0)
        with pytest.raises(ValueError):
            m2.AES_set_key(key, b"k" * 16, 100, 0)
        with pytest.raises(TypeError):
            m2.AES_set_key(key, "k" * 16, 128, 0)
        m2.AES_set_key(key, b"k" * 16, 128, 0)
        with pytest.raises(ValueError):
            m2.AES_crypt(key, b"\0" * 15, 15, 0)  # not whole blocks
        with pytest.raises(ValueError):
            m2.AES_crypt(key, b"\0" * 16, 17, 0)
    finally:
        m2.AES_free(key)
    with pytest.raises(ValueError):
        m2.AES_crypt(None, b"\0" * 16, 16, 0)
