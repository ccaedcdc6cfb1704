"""Ed25519/Ed448 and X25519/X448 through EVP.PKey: RFC 8032 and RFC 7748 vectors, openssl peers."""

import json
import os
import subprocess

import pytest

from M2Sec import EVP

VEC = os.path.join(os.path.dirname(__file__), "vectors")


def _load(name):
    with open(os.path.join(VEC, name)) as f:
        return json.load(f)


@pytest.mark.parametrize("v", _load("rfc8032_ed25519.json")["vectors"])
def test_rfc8032_vectors(v):
    key = EVP.load_raw_private_key("ED25519", bytes.fromhex(v["secret"]))
    assert key.raw_public_bytes().hex() == v["public"]
    msg = bytes.fromhex(v["message"])
    assert key.sign(msg).hex() == v["signature"]
    pub = EVP.load_raw_public_key("ED25519", bytes.fromhex(v["public"]))
    assert pub.verify(bytes.fromhex(v["signature"]), msg)
    assert not pub.verify(bytes.fromhex(v["signature"]), msg + b"x")


def test_rfc7748_x25519():
    v = _load("rfc7748_x25519.json")
    a = EVP.load_raw_private_key("X25519", bytes.fromhex(v["alice_private"]))
    b = EVP.load_raw_private_key("X25519", bytes.fromhex(v["bob_private"]))
    assert a.raw_public_bytes().hex() == v["alice_public"]
    assert b.raw_public_bytes().hex() == v["bob_public"]
    bpub = EVP.load_raw_public_key("X25519", bytes.fromhex(v["bob_public"]))
    assert a.derive(bpub).hex() == v["shared"]
    assert b.derive(EVP.load_raw_public_key("X25519", a.raw_public_bytes())).hex() == v["shared"]


@pytest.mark.parametrize("alg", ["ED25519", "ED448"])
def test_generate_sign_pem_der_raw(alg):
    key = EVP.generate_key(alg)
    assert key.key_type == alg and key.is_private()
    sig = key.sign(b"hello")
    for other in (EVP.load_key_string(key.as_pem(cipher=None)),
                  EVP.load_key_der(key.private_der()),
                  EVP.load_raw_private_key(alg, key.raw_private_bytes())):
        assert other.sign(b"hello") == sig  # deterministic (RFC 8032)
    pub = EVP.load_key_string_pubkey(key.public_pem())
    assert not pub.is_private()
    assert pub.verify(sig, b"hello") and not pub.verify(sig, b"hellO")
    assert EVP.load_pub_key_der(key.as_der()) == pub


@pytest.mark.parametrize("alg", ["X25519", "X448"])
def test_x_derive(alg):
    a, b = EVP.generate_key(alg), EVP.generate_key(alg)
    assert a.derive(EVP.load_key_string_pubkey(b.public_pem())) == b.derive(a)
    with pytest.raises(EVP.EVPError):
        a.sign(b"x")


def test_bad_raw_input():
    with pytest.raises(EVP.EVPError):
        EVP.load_raw_private_key("ED25519", b"short")
    with pytest.raises(EVP.EVPError):
        EVP.generate_key("NOSUCHALG")
    with pytest.raises(EVP.EVPError):
        EVP.generate_key("ED25519").derive(EVP.generate_key("X25519"))


def _openssl(*args, **kw):
    return subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30, **kw)


def test_openssl_ed25519_roundtrip(tmp_path):
    key = EVP.generate_key("ED25519")
    (tmp_path / "k.pem").write_bytes(key.as_pem(cipher=None))
    (tmp_path / "pub.pem").write_bytes(key.public_pem())
    (tmp_path / "msg").write_bytes(b"to be signed")
    # ours -> openssl
    (tmp_path / "sig").write_bytes(key.sign(b"to be signed"))
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"),
                        "-rawin", "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig")],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    # openssl -> ours
    _openssl("genpkey", "-algorithm", "ED25519", "-out", str(tmp_path / "o.pem"))
    _openssl("pkeyutl", "-sign", "-inkey", str(tmp_path / "o.pem"), "-rawin", "-in", str(tmp_path / "msg"),
             "-out", str(tmp_path / "osig"))
    okey = EVP.load_key(str(tmp_path / "o.pem"))
    assert okey.verify((tmp_path / "osig").read_bytes(), b"to be signed")


def test_openssl_x25519_derive(tmp_path):
    _openssl("genpkey", "-algorithm", "X25519", "-out", str(tmp_path / "peer.pem"))
    _openssl("pkey", "-in", str(tmp_path / "peer.pem"), "-pubout", "-out", str(tmp_path / "peerpub.pem"))
    ours = EVP.generate_key("X25519")
    (tmp_path / "ourpub.pem").write_bytes(ours.public_pem())
    out = _openssl("pkeyutl", "-derive", "-inkey", str(tmp_path / "peer.pem"), "-peerkey", str(tmp_path / "ourpub.pem")).stdout
    assert ours.derive(EVP.load_key_pubkey(str(tmp_path / "peerpub.pem"))) == out
