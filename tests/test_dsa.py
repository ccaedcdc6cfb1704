"""DSA module: parameters, keys, (r, s) and DER signatures, PEM, openssl round trip."""

import hashlib
import subprocess

import pytest

from M2Sec import DSA


@pytest.fixture(scope="module")
def dsa():
    d = DSA.gen_params(1024, callback=None)
    d.gen_key()
    return d


def test_sign_verify(dsa):
    dg = hashlib.sha1(b"m").digest()
    r, s = dsa.sign(dg)
    assert dsa.verify(dg, r, s) == 1
    assert dsa.verify(dg, s, r) == 0
    blob = dsa.sign_asn1(dg)
    assert dsa.verify_asn1(dg, blob) == 1
    with pytest.raises(DSA.DSAError):
        dsa.verify_asn1(dg, b"junk")


def test_pub_and_params(dsa):
    pub = DSA.pub_key_from_params(dsa.p, dsa.q, dsa.g, dsa.pub)
    dg = hashlib.sha1(b"x").digest()
    assert pub.verify(dg, *dsa.sign(dg))
    with pytest.raises(DSA.DSAError):
        pub.sign(dg)
    d2 = DSA.set_params(dsa.p, dsa.q, dsa.g)
    assert not d2.check_key()
    with pytest.raises(DSA.DSAError):
        DSA.set_params(b"\x00\x00\x00\x09\x01", dsa.q, dsa.g)


def test_pem_and_openssl(dsa, tmp_path):
    path = tmp_path / "k.pem"
    dsa.save_key(str(path), cipher=None)
    assert DSA.load_key(str(path)).pub == dsa.pub
    r = subprocess.run(["openssl", "pkey", "-in", str(path), "-pubout"], capture_output=True, timeout=30)
    assert r.returncode == 0
    (tmp_path / "pub.pem").write_bytes(r.stdout)
    assert DSA.load_pub_key(str(tmp_path / "pub.pem")).pub == dsa.pub
    with pytest.raises(DSA.DSAError):
        DSA.load_params(str(tmp_path / "pub.pem"))
