"""EC module: curves, ECDSA, ECDH, points, PEM/DER, openssl round trip, bad input."""

import hashlib
import subprocess

import pytest

from M2Sec import EC

DIGEST = hashlib.sha256(b"message").digest()


@pytest.fixture(scope="module")
def key():
    k = EC.gen_params(EC.NID_X9_62_prime256v1)
    k.gen_key()
    return k


def test_builtin_curves_all_sign():
    curves = EC.get_builtin_curves()
    assert any(c["sname"] == "secp384r1" for c in curves)
    for c in curves[:12]:
        k = EC.gen_params(c["NID"])
        k.gen_key()
        assert k.check_key()
        r, s = k.sign_dsa(DIGEST)
        assert k.verify_dsa(DIGEST, r, s) == 1


def test_ecdsa(key):
    r, s = key.sign_dsa(DIGEST)
    assert key.verify_dsa(DIGEST, r, s) == 1 and key.verify_dsa(DIGEST, s, r) == 0
    blob = key.sign_dsa_asn1(DIGEST)
    assert key.pub().verify_dsa_asn1(DIGEST, blob) == 1
    with pytest.raises(EC.ECError):
        key.verify_dsa_asn1(DIGEST, b"\x30\x01")


def test_points(key):
    full = key.get_key(compressed=False)
    short = key.get_key(compressed=True)
    assert full[0] == 4 and len(full) == 65 and short[0] in (2, 3) and len(short) == 33
    for pt in (full, short):
        pub = EC.pub_key_from_params(EC.NID_X9_62_prime256v1, pt)
        assert pub.check_key() and pub.verify_dsa_asn1(DIGEST, key.sign_dsa_asn1(DIGEST))
    with pytest.raises(EC.ECError):
        EC.pub_key_from_params(EC.NID_X9_62_prime256v1, b"\x04" + b"\x01" * 64)


def test_ecdh(key):
    other = EC.gen_params(EC.NID_X9_62_prime256v1)
    other.gen_key()
    assert key.compute_dh_key(other.pub()) == other.compute_dh_key(EC.pub_key_from_der(key.pub().get_der()))
    wrong = EC.gen_params(EC.NID_secp384r1)
    wrong.gen_key()
    with pytest.raises(EC.ECError):
        key.compute_dh_key(wrong.pub())


def test_pem_and_bad_input(key, tmp_path):
    pem = key.as_pem(cipher="aes_128_cbc", callback=lambda *a: b"pw")
    assert EC.load_key_string(pem, lambda *a: b"pw").get_key() == key.get_key()
    with pytest.raises(EC.ECError):
        EC.load_key_string(pem, lambda *a: b"wrong")
    with pytest.raises(EC.ECError):
        EC.load_key_string(pem[:50], lambda *a: b"pw")
    with pytest.raises(EC.ECError):
        EC.gen_params(999999)
    with pytest.raises(EC.ECError):
        EC.gen_params(EC.NID_secp384r1).sign_dsa(DIGEST)
    with pytest.raises(EC.ECError):
        EC.pub_key_from_der(b"\x30\x00")


def test_openssl_roundtrip(key, tmp_path):
    key.save_key(str(tmp_path / "k.pem"), cipher=None)
    key.save_pub_key(str(tmp_path / "pub.pem"))
    (tmp_path / "m").write_bytes(b"message")
    (tmp_path / "sig").write_bytes(key.sign_dsa_asn1(DIGEST))
    r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                        str(tmp_path / "sig"), str(tmp_path / "m")], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(tmp_path / "k.pem"), str(tmp_path / "m")],
                       capture_output=True, timeout=30)
    assert r.returncode == 0
    assert EC.load_pub_key(str(tmp_path / "pub.pem")).verify_dsa_asn1(DIGEST, r.stdout) == 1
