"""EVP digests and HMAC: MessageDigest, digest(), HMAC, hmac(), hmac_digest()."""

import hashlib
import json
import subprocess
import threading
import time
from binascii import unhexlify
from pathlib import Path

import pytest

from M2Sec import EVP, m2
from M2Sec.Err import ClosedError

VECTORS = Path(__file__).parent / "vectors"
SHA = json.loads((VECTORS / "sha_fips180.json").read_text())["vectors"]
HMAC_VECTORS = json.loads((VECTORS / "hmac_rfc4231.json").read_text())["vectors"]
HMAC_CASES = [(v["case"], a, v) for v in HMAC_VECTORS for a in ("sha224", "sha256", "sha512") if a in v]


def openssl(*args, data=b""):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=30, check=True).stdout


@pytest.mark.parametrize("v", SHA, ids=lambda v: "%s-%d" % (v["algo"], len(v["msg"])))
def test_message_digest_vectors(v):
    md = EVP.MessageDigest(v["algo"])
    assert md.update(v["msg"].encode()) == 1
    assert md.final().hex() == v["md"]


@pytest.mark.parametrize("v", SHA, ids=lambda v: "%s-%d" % (v["algo"], len(v["msg"])))
def test_oneshot_digest_vectors(v):
    assert EVP.digest(v["algo"], v["msg"].encode()).hex() == v["md"]


def test_update_in_pieces_and_buffer_types():
    v = SHA[4]  # the 448-bit message
    msg = v["msg"].encode()
    md = EVP.MessageDigest(v["algo"])
    md.update(bytearray(msg[:5]))
    md.update(memoryview(msg)[5:20])
    md.update(msg[20:])
    assert md.digest().hex() == v["md"]


@pytest.mark.parametrize("algo", ["sha1", "sha224", "sha256", "sha384", "sha512", "sha512-224", "sha512_256",
                                  "sha3-224", "sha3_256", "sha3-384", "sha3-512", "blake2b512", "blake2s256",
                                  "md5", "ripemd160", "sm3"])
def test_digest_against_openssl_cli(algo, tmp_path):
    data = bytes(range(256)) * 40  # past the GIL threshold
    out = openssl("dgst", "-" + algo.replace("_", "-"), "-r", data=data).split()[0].decode()
    assert EVP.digest(algo, data).hex() == out
    md = EVP.MessageDigest(algo)
    md.update(data)
    assert md.final().hex() == out


@pytest.mark.parametrize("algo,length", [("shake128", 16), ("shake128", 100), ("shake256", 64)])
def test_shake_with_length(algo, length):
    data = b"The quick brown fox"
    out = openssl("dgst", "-" + algo, "-xoflen", str(length), "-r", data=data).split()[0].decode()
    md = EVP.MessageDigest(algo, length=length)
    md.update(data)
    assert md.final().hex() == out
    assert EVP.digest(algo, data, length=length).hex() == out


def test_copy_is_independent():
    md = EVP.MessageDigest("sha256")
    md.update(b"ab")
    other = md.copy()
    md.update(b"c")
    other.update(b"x")
    assert md.final().hex() == SHA[3]["md"]  # sha256("abc")
    assert other.final() != EVP.digest("sha256", b"abc")


def test_properties():
    md = EVP.MessageDigest("sha512")
    assert md.digest_size == 64 and md.block_size == 128
    assert md.name.upper().replace("-", "").startswith("SHA2512") or md.name.upper() == "SHA512"


def test_m2_low_level():
    ctx = m2.md_ctx_new()
    try:
        assert m2.digest_init(ctx, m2.sha256()) == 1
        m2.digest_update(ctx, b"abc")
        assert m2.digest_final(ctx).hex() == SHA[3]["md"]
    finally:
        m2.md_ctx_free(ctx)


@pytest.mark.parametrize("bad", ["sha513", "nosuch", "", "sha256x"])
def test_unknown_digest(bad):
    with pytest.raises(ValueError):
        EVP.MessageDigest(bad)
    with pytest.raises(EVP.EVPError):
        m2.get_digestbyname(bad)
    with pytest.raises(EVP.EVPError):
        EVP.digest(bad, b"x")
    with pytest.raises(ValueError):
        EVP.HMAC(b"k", bad)
    with pytest.raises(ValueError):
        EVP.hmac(b"k", b"d", bad)


def test_str_data_is_a_type_error():
    md = EVP.MessageDigest("sha256")
    with pytest.raises(TypeError):
        md.update("text")
    with pytest.raises(TypeError):
        EVP.digest("sha256", "text")
    with pytest.raises(TypeError):
        EVP.hmac("key", b"data")
    with pytest.raises(TypeError):
        EVP.HMAC(b"key").update("data")
    with pytest.raises(TypeError):
        EVP.digest(b"sha256", b"data")


def test_use_after_close():
    md = EVP.MessageDigest("sha256")
    md.close()
    md.close()
    with pytest.raises(ClosedError):
        md.update(b"x")
    with pytest.raises(ClosedError):
        md.final()
    h = EVP.HMAC(b"k")
    h.close()
    with pytest.raises(ClosedError):
        h.update(b"x")
    with pytest.raises(ValueError):
        m2.digest_update(None, b"x")
    with EVP.MessageDigest("sha1") as md2:
        md2.update(b"x")
    assert md2.closed


@pytest.mark.parametrize("case,algo,v", HMAC_CASES, ids=lambda x: str(x) if not isinstance(x, dict) else "")
def test_hmac_rfc4231(case, algo, v):
    key, data = unhexlify(v["key"]), unhexlify(v["data"])
    h = EVP.HMAC(key, algo)
    h.update(data)
    assert h.final().hex() == v[algo]
    assert EVP.hmac(key, data, algo).hex() == v[algo]
    assert EVP.hmac_digest(key, data, algo).hex() == v[algo]
    assert m2.hmac(key, data, EVP.get_digest(algo)).hex() == v[algo]


def test_hmac_reset_and_copy():
    v = HMAC_VECTORS[1]
    h = EVP.HMAC(b"other key", "sha256")
    h.update(b"junk")
    h.final()
    h.reset(unhexlify(v["key"]))
    data = unhexlify(v["data"])
    h.update(data[:3])
    c = h.copy()
    h.update(data[3:])
    c.update(data[3:])
    assert h.digest().hex() == c.final().hex() == v["sha256"]


def test_hmac_empty_key_and_large_data():
    data = b"\x5a" * 100000
    out = openssl("mac", "-digest", "SHA256", "-macopt", "hexkey:00", "HMAC", data=data)
    # HMAC pads the key with zeros: an empty key and a one-byte zero key give the same MAC
    assert EVP.hmac_digest(b"", data, "sha256").hex().upper() == out.strip().decode()
    assert EVP.hmac(b"\0", data, "sha256").hex().upper() == out.strip().decode()
    h = EVP.HMAC(b"")
    h.update(data)
    assert h.final().hex().upper() == out.strip().decode()


def test_hmac_against_openssl_cli():
    key, data = b"k" * 70, b"hello world" * 50
    out = openssl("mac", "-digest", "SHA3-256", "-macopt", "hexkey:" + key.hex(), "HMAC", data=data)
    assert EVP.hmac_digest(key, data, "sha3_256").hex().upper() == out.strip().decode()


def test_digest_names():
    names = {n.upper() for n in EVP.digest_names()}
    assert "SHA2-256" in names and "SHA3-256" in names


def test_low_level_free_of_the_object_context_closes_it_once():
    # the context lives in the object (m2.DigestBase); m2.md_ctx_free takes it from the object
    md = EVP.MessageDigest("sha256")
    md.update(b"abc")
    assert m2.digest_update(md.ctx, b"def") == 1  # m2's functions take the object as the context
    copy = md.copy()
    md.m2_md_ctx_free(md.ctx)
    assert md.closed
    with pytest.raises(ClosedError):
        md.update(b"x")
    with pytest.raises(ValueError):  # freed: no second free
        m2.md_ctx_free(md)
    md.close()
    assert copy.final() == hashlib.sha256(b"abcdef").digest()


def test_streaming_update_returns_one_and_takes_buffers():
    md = EVP.MessageDigest("sha256")
    assert [md.update(b) for b in (b"a", bytearray(b"b"), memoryview(b"xcx")[1:2])] == [1, 1, 1]
    assert md.final() == hashlib.sha256(b"abc").digest()
    with pytest.raises(TypeError):
        EVP.MessageDigest("sha256").update(12)


def test_close_during_another_threads_update_waits_for_it():
    # update() of a large buffer runs without the GIL: close() meanwhile returns at once and
    # leaves the free of the context to the update, which finishes (tests/test_free_concurrent.py
    # does the same for every kind of object, in a child process)
    big = bytes(64 << 20)
    for _ in range(5):
        md = EVP.MessageDigest("sha256")
        results, deferred = [], m2.lib_pointers_in_use()[1]
        started = threading.Event()

        def work():
            started.set()
            try:
                results.append(md.update(big))
            except ClosedError as e:  # closed before the update began: try again
                results.append(e)
        t = threading.Thread(target=work)
        t.start()
        started.wait(10)
        time.sleep(0.002)
        md.close()
        assert md.closed
        with pytest.raises(ClosedError):
            md.final()
        t.join(10)
        assert not t.is_alive()
        if results == [1] and m2.lib_pointers_in_use() == (0, deferred + 1):
            return
    pytest.fail("close() never ran during the update")
