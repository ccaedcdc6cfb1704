"""EVP's keyed AEAD objects (AESGCM, ChaCha20Poly1305, AESCCM, AESOCB3, AESSIV, AESGCMSIV):
published vectors, both directions against the cryptography package, bad input, threads."""

import json
import os
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import aead as crypto

from M2Sec import EVP, m2
from M2Sec.Err import ClosedError, M2SecError

VECTORS = Path(__file__).parent / "vectors"
GCM = json.loads((VECTORS / "aes_gcm.json").read_text())["vectors"]
CHACHA = json.loads((VECTORS / "chacha20poly1305_rfc8439.json").read_text())["vectors"]
RFC = json.loads((VECTORS / "aead_rfc.json").read_text())
h = bytes.fromhex

# class name, key sizes in bytes, nonce sizes to try, constructor options
NONCE_CLASSES = [
    ("AESGCM", (16, 24, 32), (8, 12, 16, 60, 128), {}),
    ("ChaCha20Poly1305", (32,), (12,), {}),
    ("AESCCM", (16, 24, 32), (7, 10, 13), {}),
    ("AESCCM", (16,), (7, 13), {"tag_length": 4}),
    ("AESCCM", (32,), (11,), {"tag_length": 10}),
    ("AESOCB3", (16, 24, 32), (12, 13, 15), {}),
]
LENGTHS = (0, 1, 15, 16, 17, 64, 4097, 70000)


def pair(name, key, **kw):
    return getattr(EVP, name)(key, **kw), getattr(crypto, name)(key, **kw)


# ---- published vectors --------------------------------------------------------------------

@pytest.mark.parametrize("v", GCM, ids=lambda v: "case%d" % v["case"])
def test_gcm_vectors(v):
    a = EVP.AESGCM(h(v["key"]))
    out = h(v["ciphertext"]) + h(v["tag"])
    aad = h(v["aad"]) or None
    assert a.encrypt(h(v["iv"]), h(v["plaintext"]), aad) == out
    assert a.decrypt(h(v["iv"]), out, aad) == h(v["plaintext"])


def test_chacha20poly1305_rfc8439():
    for v in CHACHA:
        a = EVP.ChaCha20Poly1305(h(v["key"]))
        out = h(v["ciphertext"]) + h(v["tag"])
        assert a.encrypt(h(v["nonce"]), h(v["plaintext"]), h(v["aad"])) == out
        assert a.decrypt(h(v["nonce"]), out, h(v["aad"])) == h(v["plaintext"])


def test_siv_rfc5297():
    for v in RFC["siv"]:
        a = EVP.AESSIV(h(v["key"]))
        ad = [h(x) for x in v["ad"]]
        assert a.encrypt(h(v["plaintext"]), ad) == h(v["output"])
        assert a.decrypt(h(v["output"]), ad) == h(v["plaintext"])


def test_ocb_rfc7253():
    for v in RFC["ocb"]:
        a = EVP.AESOCB3(h(v["key"]))
        assert a.encrypt(h(v["nonce"]), h(v["plaintext"]), h(v["aad"])) == h(v["output"])
        assert a.decrypt(h(v["nonce"]), h(v["output"]), h(v["aad"])) == h(v["plaintext"])


def test_ccm_rfc3610():
    for v in RFC["ccm"]:
        a = EVP.AESCCM(h(v["key"]), tag_length=v["tag_length"])
        assert a.encrypt(h(v["nonce"]), h(v["plaintext"]), h(v["aad"])) == h(v["output"])
        assert a.decrypt(h(v["nonce"]), h(v["output"]), h(v["aad"])) == h(v["plaintext"])


# ---- against the cryptography package, both ways ------------------------------------------

@pytest.mark.parametrize("name,keys,nonces,kw", NONCE_CLASSES, ids=lambda x: str(x))
def test_against_cryptography(name, keys, nonces, kw):
    for klen in keys:
        ours, theirs = pair(name, os.urandom(klen), **kw)
        for nlen in nonces:
            for length in LENGTHS:
                for aad in (None, b"", os.urandom(33)):
                    nonce, data = os.urandom(nlen), os.urandom(length)
                    if name == "AESCCM" and length >> (8 * (15 - nlen)):
                        for impl in (ours, theirs):
                            with pytest.raises(ValueError, match="Data too long for nonce"):
                                impl.encrypt(nonce, data, aad)
                        continue
                    ct = ours.encrypt(nonce, data, aad)
                    assert ct == theirs.encrypt(nonce, data, aad), (klen, nlen, length)
                    assert theirs.decrypt(nonce, ct, aad) == data
                    assert ours.decrypt(nonce, ct, aad) == data


@pytest.mark.parametrize("klen", (32, 48, 64))
def test_siv_against_cryptography(klen):
    ours, theirs = pair("AESSIV", os.urandom(klen))
    for length in (1, 16, 100, 5000):
        for ad in (None, [], [b""], [b"header", b"", os.urandom(12)]):
            data = os.urandom(length)
            out = ours.encrypt(data, ad)
            assert out == theirs.encrypt(data, ad)
            assert theirs.decrypt(out, ad) == data
            assert ours.decrypt(out, ad) == data


def test_buffers_and_memoryviews():
    ours, theirs = pair("AESGCM", os.urandom(16))
    nonce, data = bytearray(os.urandom(12)), memoryview(os.urandom(100))[10:90]
    ct = ours.encrypt(nonce, data, memoryview(b"aad"))
    assert ct == theirs.encrypt(bytes(nonce), bytes(data), b"aad")
    assert ours.decrypt(memoryview(nonce), bytearray(ct), b"aad") == bytes(data)


# ---- encrypt_into / decrypt_into ----------------------------------------------------------

def test_into():
    ours, theirs = pair("AESGCM", os.urandom(32))
    nonce, data = os.urandom(12), os.urandom(1000)
    buf = bytearray(1016)
    assert ours.encrypt_into(nonce, data, b"x", buf) == 1016
    assert bytes(buf) == theirs.encrypt(nonce, data, b"x")
    plain = bytearray(1000)
    assert ours.decrypt_into(nonce, buf, b"x", memoryview(plain)) == 1000
    assert plain == data
    with pytest.raises(ValueError, match="buffer must be 1016 bytes"):
        ours.encrypt_into(nonce, data, b"x", bytearray(1017))
    with pytest.raises(ValueError, match="buffer must be 1000 bytes"):
        ours.decrypt_into(nonce, buf, b"x", bytearray(999))
    with pytest.raises(BufferError):
        ours.encrypt_into(nonce, data, b"x", bytes(1016))  # read-only


def test_decrypt_into_wipes_on_bad_tag():
    a = EVP.AESGCM(os.urandom(16))
    nonce = os.urandom(12)
    ct = bytearray(a.encrypt(nonce, b"secret plaintext" * 4, None))
    ct[-1] ^= 1
    buf = bytearray(b"\xaa" * 64)
    with pytest.raises(EVP.InvalidTag):
        a.decrypt_into(nonce, ct, None, buf)
    assert buf == bytes(64)


def test_siv_into():
    ours, theirs = pair("AESSIV", os.urandom(32))
    buf = bytearray(26)
    assert ours.encrypt_into(b"0123456789", [b"ad"], buf) == 26
    assert bytes(buf) == theirs.encrypt(b"0123456789", [b"ad"])
    out = bytearray(10)
    assert ours.decrypt_into(buf, [b"ad"], out) == 10 and out == b"0123456789"


# ---- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,bad", [
    ("AESGCM", (0, 7, 129, 200)), ("ChaCha20Poly1305", (0, 8, 11, 13, 24)),
    ("AESCCM", (0, 6, 14, 16)), ("AESOCB3", (0, 11, 16, 32)),
])
def test_wrong_nonce_size(name, bad):
    a = getattr(EVP, name)(os.urandom(32))
    for n in bad:
        with pytest.raises(ValueError, match="Nonce must be"):
            a.encrypt(os.urandom(n), b"data", None)
        with pytest.raises(ValueError, match="Nonce must be"):
            a.decrypt(os.urandom(n), bytes(32), None)


@pytest.mark.parametrize("name,bad", [
    ("AESGCM", (0, 8, 15, 17, 31, 33, 64)), ("ChaCha20Poly1305", (0, 16, 31, 33)),
    ("AESCCM", (0, 15, 33)), ("AESOCB3", (1, 20, 48)), ("AESSIV", (0, 16, 32 - 1, 33, 65, 128)),
])
def test_wrong_key_size(name, bad):
    cls = getattr(EVP, name)
    for n in bad:
        with pytest.raises(ValueError, match="key must be"):
            cls(os.urandom(n))


def test_wrong_types():
    with pytest.raises(TypeError):
        EVP.AESGCM("0" * 16)
    a = EVP.AESGCM(os.urandom(16))
    with pytest.raises(TypeError):
        a.encrypt("nonce-as-str", b"data", None)
    with pytest.raises(TypeError):
        a.encrypt(os.urandom(12), "data", None)
    with pytest.raises(TypeError):
        a.encrypt(os.urandom(12), b"data", 5)
    with pytest.raises(TypeError):
        EVP.AESSIV(os.urandom(32)).encrypt(b"data", 5)
    with pytest.raises(TypeError):
        EVP.AESSIV(os.urandom(32)).encrypt(b"data", [b"ok", "not bytes"])


@pytest.mark.parametrize("name", ["AESGCM", "ChaCha20Poly1305", "AESCCM", "AESOCB3"])
def test_tampering_raises_invalid_tag(name):
    a = getattr(EVP, name)(os.urandom(32))
    nonce = os.urandom(12)
    ct = a.encrypt(nonce, b"attack at dawn", b"header")
    for i in (0, len(ct) - 1, len(ct) - 16):
        bad = bytearray(ct)
        bad[i] ^= 0x80
        with pytest.raises(EVP.InvalidTag):
            a.decrypt(nonce, bytes(bad), b"header")
    with pytest.raises(EVP.InvalidTag):
        a.decrypt(nonce, ct, b"Header")
    with pytest.raises(EVP.InvalidTag):
        a.decrypt(nonce, ct, None)
    with pytest.raises(EVP.InvalidTag):
        a.decrypt(os.urandom(12), ct, b"header")
    for short in (b"", ct[:15]):
        with pytest.raises(EVP.InvalidTag):
            a.decrypt(nonce, short, b"header")
    # the object still works after failures
    assert a.decrypt(nonce, ct, b"header") == b"attack at dawn"
    assert issubclass(EVP.InvalidTag, EVP.EVPError) and issubclass(EVP.InvalidTag, M2SecError)


def test_siv_tampering():
    a = EVP.AESSIV(os.urandom(64))
    out = a.encrypt(b"payload", [b"a", b"nonce"])
    for i in (0, 15, 16, len(out) - 1):
        bad = bytearray(out)
        bad[i] ^= 1
        with pytest.raises(EVP.InvalidTag):
            a.decrypt(bytes(bad), [b"a", b"nonce"])
    with pytest.raises(EVP.InvalidTag):
        a.decrypt(out, [b"a"])
    with pytest.raises(EVP.InvalidTag):
        a.decrypt(out[:15], None)
    assert a.decrypt(out, [b"a", b"nonce"]) == b"payload"
    with pytest.raises(ValueError, match="zero length"):
        a.encrypt(b"", None)


@pytest.mark.parametrize("tag", (0, 1, 2, 3, 5, 7, 17, 32, 255, -16, 10 ** 30))
def test_ccm_tag_lengths_refused(tag):
    with pytest.raises((ValueError, OverflowError)):
        EVP.AESCCM(os.urandom(16), tag_length=tag)
    with pytest.raises(TypeError):
        EVP.AESCCM(os.urandom(16), tag_length="16")


def test_ccm_tag_lengths_accepted():
    key = os.urandom(16)
    for tag in (4, 6, 8, 10, 12, 14, 16):
        ours, theirs = pair("AESCCM", key, tag_length=tag)
        ct = ours.encrypt(os.urandom(12) * 0 + b"n" * 12, b"m" * 40, None)
        assert len(ct) == 40 + tag and ct == theirs.encrypt(b"n" * 12, b"m" * 40, None)


def test_ccm_data_too_long_for_nonce():
    a = EVP.AESCCM(os.urandom(16))
    a.encrypt(os.urandom(13), bytes(65535), None)  # L = 2: up to 2**16 - 1 bytes
    with pytest.raises(ValueError, match="Data too long for nonce"):
        a.encrypt(os.urandom(13), bytes(65536), None)


def test_generate_key():
    for cls, sizes, bad in ((EVP.AESGCM, (128, 192, 256), (0, 64, 512)), (EVP.AESCCM, (128, 192, 256), (100,)),
                            (EVP.AESOCB3, (128, 192, 256), (1,)), (EVP.AESSIV, (256, 384, 512), (128,))):
        for bits in sizes:
            k = cls.generate_key(bits)
            assert len(k) == bits // 8 and k != cls.generate_key(bits)
            cls(k)
        for bits in bad:
            with pytest.raises(ValueError, match="bit_length must be"):
                cls.generate_key(bits)
        with pytest.raises(TypeError):
            cls.generate_key("128")
    assert len(EVP.ChaCha20Poly1305.generate_key()) == 32


def test_gcm_siv_flag():
    if m2.HAS_AES_GCM_SIV:
        ours, theirs = pair("AESGCMSIV", os.urandom(32))
        nonce = os.urandom(12)
        assert ours.encrypt(nonce, b"x" * 50, b"a") == theirs.encrypt(nonce, b"x" * 50, b"a")
    else:
        with pytest.raises(EVP.UnsupportedAlgorithm):
            EVP.AESGCMSIV(os.urandom(32))


def test_use_after_close():
    a = EVP.AESGCM(os.urandom(16))
    enc, dec = a.encrypt, a.decrypt
    nonce = os.urandom(12)
    ct = a.encrypt(nonce, b"data", None)
    a.close()
    a.close()  # idempotent
    for call in (lambda: a.encrypt(nonce, b"data", None), lambda: a.decrypt(nonce, ct, None),
                 lambda: a.encrypt_into(nonce, b"data", None, bytearray(20)),
                 lambda: a.decrypt_into(nonce, ct, None, bytearray(4))):
        with pytest.raises(ClosedError):
            call()
    # bound methods taken before close() hold the C state: they refuse, they do not crash
    with pytest.raises(ValueError, match="freed"):
        enc(nonce, b"data", None)
    with pytest.raises(ValueError, match="freed"):
        dec(nonce, ct, None)
    with EVP.ChaCha20Poly1305(os.urandom(32)) as c:
        c.encrypt(os.urandom(12), b"", None)
    with pytest.raises(ClosedError):
        c.encrypt(os.urandom(12), b"", None)


def test_many_objects_do_not_leak(rss):
    key = os.urandom(32)
    for _ in range(2000):
        EVP.AESGCM(key).encrypt(bytes(12), b"x", None)
    before = rss()
    for i in range(20000):
        a = EVP.AESSIV(key) if i % 2 else EVP.AESGCM(key)
        if i % 3:
            a.close()
    assert rss() - before < 8 << 20


# ---- threads ------------------------------------------------------------------------------

@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["AESGCM", "ChaCha20Poly1305", "AESOCB3", "AESCCM"])
def test_one_object_two_threads(name):
    """One object used by two threads at once, with messages past the size where the GIL is
    released: every result must equal cryptography's (no shared-context corruption)."""
    key = os.urandom(32)
    ours, theirs = pair(name, key)
    msgs = [(os.urandom(12), os.urandom(n), os.urandom(8)) for n in (5000, 20000, 65536, 100, 70000)]
    expected = [theirs.encrypt(*m) for m in msgs]
    errors = []

    def work(seed):
        try:
            for i in range(60):
                j = (i + seed) % len(msgs)
                ct = ours.encrypt(*msgs[j])
                if ct != expected[j]:
                    errors.append("encrypt %d" % j)
                if ours.decrypt(msgs[j][0], expected[j], msgs[j][2]) != msgs[j][1]:
                    errors.append("decrypt %d" % j)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=work, args=(s,)) for s in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(100)
    assert not any(t.is_alive() for t in ts)
    assert errors == []


@pytest.mark.timeout(60)
def test_close_while_another_thread_encrypts():
    a = EVP.AESGCM(os.urandom(32))
    big = os.urandom(1 << 20)
    outcome = []

    def work():
        try:
            while True:
                a.encrypt(os.urandom(12), big, None)
        except ValueError as e:  # ClosedError or "freed"
            outcome.append(e)

    t = threading.Thread(target=work)
    t.start()
    a.encrypt(os.urandom(12), big, None)
    a.close()
    t.join(30)
    assert not t.is_alive() and outcome
