"""EVP.Cipher: block and stream modes, AEAD modes, openssl enc round trips, bad input."""

import json
import os
import re
import subprocess
from binascii import unhexlify
from pathlib import Path

import pytest

from M2Sec import EVP, m2
from M2Sec.Err import ClosedError

VECTORS = Path(__file__).parent / "vectors"
GCM = json.loads((VECTORS / "aes_gcm.json").read_text())["vectors"]
CHACHA = json.loads((VECTORS / "chacha20poly1305_rfc8439.json").read_text())["vectors"]
AES = json.loads((VECTORS / "aes_fips197_sp800_38a.json").read_text())


def openssl(*args, data=b""):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=30, check=True).stdout


def run(c, data, chunk=7):
    out = b"".join(c.update(data[i:i + chunk]) for i in range(0, len(data), chunk))
    return out + c.final()


def test_cbc_sp800_38a():
    v = AES["cbc"][0]
    c = EVP.Cipher("aes_128_cbc", unhexlify(v["key"]), unhexlify(v["iv"]), 1, padding=0)
    assert run(c, unhexlify(v["plaintext"])).hex() == v["ciphertext"]
    d = EVP.Cipher("aes_128_cbc", unhexlify(v["key"]), unhexlify(v["iv"]), 0, padding=0)
    assert run(d, unhexlify(v["ciphertext"])).hex() == v["plaintext"]


@pytest.mark.parametrize("v", AES["ecb"], ids=lambda v: str(len(v["key"]) * 4))
def test_ecb_fips197(v):
    name = "aes_%d_ecb" % (len(v["key"]) * 4)
    c = EVP.Cipher(name, unhexlify(v["key"]), None, 1)
    c.set_padding(0)
    assert run(c, unhexlify(v["plaintext"])).hex() == v["ciphertext"]


# (M2Crypto name, openssl enc name, key length, iv length)
ENC = [("aes_128_cbc", "aes-128-cbc", 16, 16), ("aes_192_cbc", "aes-192-cbc", 24, 16),
       ("aes_256_cbc", "aes-256-cbc", 32, 16), ("aes_256_ecb", "aes-256-ecb", 32, 0),
       ("aes_128_ctr", "aes-128-ctr", 16, 16), ("aes_256_cfb", "aes-256-cfb", 32, 16),
       ("aes_256_ofb", "aes-256-ofb", 32, 16), ("des_ede3_cbc", "des-ede3-cbc", 24, 8),
       ("des_ede_ecb", "des-ede", 16, 0), ("chacha20", "chacha20", 32, 16),
       ("camellia_256_cbc", "camellia-256-cbc", 32, 16), ("aria_128_cbc", "aria-128-cbc", 16, 16),
       ("sm4_cbc", "sm4-cbc", 16, 16)]
LEGACY = [("bf_cbc", "bf-cbc", 16, 8), ("cast5_cbc", "cast5-cbc", 16, 8), ("des_cbc", "des-cbc", 8, 8),
          ("rc4", "rc4", 16, 0), ("rc2_40_cbc", "rc2-40-cbc", 5, 8)]


@pytest.mark.parametrize("name,cli,klen,ivlen", ENC + LEGACY, ids=lambda x: x if isinstance(x, str) else "")
def test_round_trip_with_openssl_enc(name, cli, klen, ivlen):
    key, iv = os.urandom(klen), os.urandom(ivlen)
    data = os.urandom(5000) + b"tail"
    args = ["enc", "-" + cli, "-K", key.hex()] + (["-iv", iv.hex()] if ivlen else [])
    if (name, cli, klen, ivlen) in LEGACY:
        args += ["-provider", "legacy", "-provider", "default"]
    ours = run(EVP.Cipher(name, key, iv or None, 1), data, chunk=999)
    assert ours == openssl(*args, data=data)
    theirs = openssl(*args, "-d", data=ours)
    assert theirs == data
    assert run(EVP.Cipher(name, key, iv or None, 0), ours, chunk=1000) == data


def test_key_as_bytes_matches_openssl_pbe():
    # EVP_BytesToKey with md5 and one iteration is openssl enc's -md md5 -S derivation
    salt, password = b"saltsalt", b"goethe"
    out = openssl("enc", "-aes-256-cbc", "-md", "md5", "-S", salt.hex(), "-pass", "pass:goethe", "-P").decode()
    fields = dict(re.findall(r"^(\w+)\s*=\s*(\w+)", out, re.M))
    key = m2.bytes_to_key(m2.get_cipherbyname("aes_256_cbc"), m2.md5(), password, salt, None, 1)
    assert key.hex().upper() == fields["key"]
    iv = unhexlify(fields["iv"])
    c = EVP.Cipher("aes_256_cbc", password, iv, 1, key_as_bytes=1, d="md5", salt=salt)
    ct = run(c, b"secret message")
    assert openssl("enc", "-d", "-aes-256-cbc", "-K", key.hex(), "-iv", iv.hex(), data=ct) == b"secret message"


@pytest.mark.parametrize("v", GCM, ids=lambda v: "case%d" % v["case"])
def test_gcm_vectors(v):
    key, iv, aad = unhexlify(v["key"]), unhexlify(v["iv"]), unhexlify(v["aad"])
    c = EVP.Cipher("aes_128_gcm", key, iv, 1)
    if aad:
        c.update_aad(aad)
    assert run(c, unhexlify(v["plaintext"])).hex() == v["ciphertext"]
    assert c.get_tag().hex() == v["tag"]
    d = EVP.Cipher("aes_128_gcm", key, iv, 0)
    d.set_tag(unhexlify(v["tag"]))
    if aad:
        d.update_aad(aad)
    assert run(d, unhexlify(v["ciphertext"])).hex() == v["plaintext"]


def test_chacha20_poly1305_rfc8439():
    v = CHACHA[0]
    key, nonce, aad = unhexlify(v["key"]), unhexlify(v["nonce"]), unhexlify(v["aad"])
    c = EVP.Cipher("chacha20_poly1305", key, nonce, 1)
    c.update_aad(aad)
    assert run(c, unhexlify(v["plaintext"])).hex() == v["ciphertext"]
    assert c.get_tag().hex() == v["tag"]
    d = EVP.Cipher("chacha20-poly1305", key, nonce, 0)
    d.update_aad(aad)
    d.set_tag(unhexlify(v["tag"]))
    assert run(d, unhexlify(v["ciphertext"])) == unhexlify(v["plaintext"])


@pytest.mark.parametrize("name,ivlen", [("aes_128_gcm", 12), ("aes_256_gcm", 16), ("aes_256_gcm", 8),
                                        ("aes_128_ccm", 7), ("aes_256_ccm", 12), ("aes_128_ocb", 12),
                                        ("aes_256_ocb", 15), ("chacha20_poly1305", 12)])
def test_aead_round_trip_and_tamper(name, ivlen):
    key = os.urandom(int(name.split("_")[1]) // 8 if name.startswith("aes") else 32)
    iv, aad, data = os.urandom(ivlen), b"header", os.urandom(1000)
    c = EVP.Cipher(name, key, iv, 1)
    c.update_aad(aad)
    ct = c.update(data) + c.final()
    tag = c.get_tag()
    assert len(tag) == 16 and ct != data

    d = EVP.Cipher(name, key, iv, 0)
    d.set_tag(tag)
    d.update_aad(aad)
    assert d.update(ct) + d.final() == data

    bad_tag = bytes([tag[0] ^ 1]) + tag[1:]
    for t, a, text in ((bad_tag, aad, ct), (tag, b"Header", ct), (tag, aad, ct[:-1] + bytes([ct[-1] ^ 1]))):
        d = EVP.Cipher(name, key, iv, 0)
        d.set_tag(t)
        d.update_aad(a)
        released = b""
        with pytest.raises(EVP.EVPError):
            released += d.update(text)
            released += d.final()
        assert released == b""  # no plaintext before the tag is verified


def test_gcm_against_cryptography_package():
    aead = pytest.importorskip("cryptography.hazmat.primitives.ciphers.aead")
    key, iv, data, aad = os.urandom(32), os.urandom(12), os.urandom(333), os.urandom(20)
    c = EVP.Cipher("aes_256_gcm", key, iv, 1)
    c.update_aad(aad)
    ct = c.update(data) + c.final()
    assert aead.AESGCM(key).decrypt(iv, ct + c.get_tag(), aad) == data


def test_bad_padding_raises():
    key, iv = os.urandom(16), os.urandom(16)
    ct = run(EVP.Cipher("aes_128_cbc", key, iv, 1), b"x" * 20)
    with pytest.raises(EVP.EVPError):
        run(EVP.Cipher("aes_128_cbc", os.urandom(16), iv, 0), ct)
    with pytest.raises(EVP.EVPError):
        run(EVP.Cipher("aes_128_cbc", key, iv, 0), ct[:-1])


@pytest.mark.parametrize("key,iv", [(b"k" * 15, b"i" * 16), (b"k" * 33, b"i" * 16), (b"", b"i" * 16),
                                    (b"k" * 32, b"i" * 15), (b"k" * 32, b"i" * 36), (b"k" * 32, b"")])
def test_wrong_key_or_iv_length(key, iv):
    with pytest.raises(EVP.EVPError):
        EVP.Cipher("aes_256_cbc", key, iv, 1)


@pytest.mark.parametrize("name", ["nosuchalgo4567", "aes_512_cbc", ""])
def test_unknown_cipher(name):
    with pytest.raises(ValueError):
        EVP.Cipher(name, b"k" * 16, b"i" * 16, 1)
    with pytest.raises(EVP.EVPError):
        m2.get_cipherbyname(name)


def test_str_is_a_type_error():
    with pytest.raises(TypeError):
        EVP.Cipher("aes_128_cbc", "k" * 16, b"i" * 16, 1)
    with pytest.raises(TypeError):
        EVP.Cipher("aes_128_cbc", b"k" * 16, "i" * 16, 1)
    c = EVP.Cipher("aes_128_cbc", b"k" * 16, b"i" * 16, 1)
    with pytest.raises(TypeError):
        c.update("text")
    with pytest.raises(TypeError):
        EVP.Cipher(b"aes_128_cbc", b"k" * 16, b"i" * 16, 1)


def test_use_after_close_and_low_level_none():
    c = EVP.Cipher("aes_128_gcm", b"k" * 16, b"i" * 12, 1)
    c.close()
    for call in (lambda: c.update(b"x"), c.final, c.get_tag, lambda: c.set_tag(b"t" * 16)):
        with pytest.raises(ClosedError):
            call()
    with pytest.raises(ValueError):
        m2.cipher_update(None, b"x")
    ctx = m2.cipher_ctx_new()
    try:
        with pytest.raises(ValueError):  # never initialised
            m2.cipher_update(ctx, b"x")
        with pytest.raises(ValueError):
            m2.cipher_init(ctx, None, b"k" * 16, None, 1)
    finally:
        m2.cipher_ctx_free(ctx)


def test_get_tag_before_final_or_when_decrypting_raises():
    d = EVP.Cipher("aes_128_gcm", b"k" * 16, b"i" * 12, 0)
    with pytest.raises(EVP.EVPError):
        d.get_tag()


def test_cipher_names():
    names = {n.upper() for n in EVP.cipher_names()}
    assert {"AES-256-GCM", "CHACHA20-POLY1305", "AES-128-OCB"} <= names


def test_ctx_is_the_object_and_low_level_free_closes_it_once():
    # Cipher(alg, key, iv, op) keys its context in one C call (m2.CipherBase); c.ctx is the
    # object, which every m2.cipher_* function takes; m2.cipher_ctx_free takes the context from it
    key, iv = b"k" * 16, b"i" * 16
    c = EVP.Cipher("aes_128_ctr", key, iv, 1)
    assert c.ctx is c and c.cipher is not None and c.op == 1
    out = m2.cipher_update(c.ctx, b"hello") + c.update(b" world") + c.final()
    ref = EVP.Cipher("aes_128_ctr", key, iv, 0)
    assert ref.update(out) + ref.final() == b"hello world"
    c.m2_cipher_ctx_free(c.ctx)
    assert c.closed
    for call in (lambda: c.update(b"x"), c.final, c.get_tag):
        with pytest.raises(ClosedError):
            call()
    with pytest.raises(ValueError):  # freed: no second free
        m2.cipher_ctx_free(c)
    c.close()


def test_fast_and_slow_construction_agree():
    # the first call of a name, keyword arguments and key_as_bytes go through the Python _init;
    # later plain calls through the C __init__: both give the same ciphertext and tag
    key, iv = os.urandom(32), os.urandom(12)
    outs = []
    for kw in ({"padding": 1}, {}, {}):
        c = EVP.Cipher("aes_256_gcm", key, iv, 1, **kw)
        c.update_aad(b"aad")
        outs.append((c.update(b"data" * 5) + c.final(), c.get_tag(), c.get_tag(12)))
    assert outs[0] == outs[1] == outs[2] and len(outs[0][2]) == 12

    class Mine(EVP.Cipher):
        def __init__(self, key, iv):
            super().__init__("aes_256_gcm", key, iv, 0)
            self.extra = 1

    d = Mine(key, iv)
    d.update_aad(b"aad")
    assert d.update(outs[0][0]) == b""  # AEAD decryption holds the plaintext until the tag checks
    d.set_tag(outs[0][1])
    assert d.final() == b"data" * 5 and d.extra == 1
    with pytest.raises(EVP.EVPError):  # a wrong key length, through the C __init__
        EVP.Cipher("aes_256_gcm", key[:16], iv, 1)
    with pytest.raises(TypeError):
        EVP.Cipher("aes_256_gcm", key, "iv", 1)
