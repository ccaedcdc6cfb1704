"""DH module: parameters, key agreement, RFC 7919 groups checked against their defining formula."""

import json
import os
import subprocess

import pytest

from M2Sec import BIO, DH


def _e_times_2_pow(n):
    """floor(e * 2**n), by the series sum 1/k! with guard bits."""
    guard = 64
    one = 1 << (n + guard)
    total, term, k = 0, one, 0
    while term:
        total += term
        k += 1
        term //= k
    return total >> guard


def _mpi_int(mpi):
    return int.from_bytes(mpi[4:], "big")


with open(os.path.join(os.path.dirname(__file__), "vectors", "rfc7919_ffdhe.json")) as _f:
    GROUPS = json.load(_f)["groups"]


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_rfc7919_primes(name):
    b, x = GROUPS[name]["bits"], GROUPS[name]["X"]
    expected = 2 ** b - 2 ** (b - 64) + (_e_times_2_pow(b - 130) + x) * 2 ** 64 - 1
    dh = DH.ffdhe_group(name)
    assert _mpi_int(dh.p) == expected
    assert _mpi_int(dh.g) == 2


def test_agreement_ffdhe2048():
    a, b = DH.ffdhe_group("ffdhe2048"), DH.ffdhe_group("ffdhe2048")
    a.gen_key()
    b.gen_key()
    assert a.compute_key(b.pub) == b.compute_key(a.pub)
    with pytest.raises(ValueError):
        DH.ffdhe_group("ffdhe1024")


def test_set_params_print_check():
    a = DH.ffdhe_group("ffdhe2048")
    b = DH.set_params(a.p, a.g)
    b.gen_key()
    with BIO.MemoryBuffer() as bio:
        b.print_params(bio)
        assert b"prime" in bio.read().lower()
    with pytest.raises(DH.DHError):
        b.compute_key(b"\x00\x00")
    with pytest.raises(DH.DHError):
        b.p = b"x"
    with pytest.raises(TypeError):
        DH.DH("junk")


def test_openssl_params(tmp_path):
    path = tmp_path / "dh.pem"
    r = subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048",
                        "-out", str(path)], capture_output=True, timeout=30)
    assert r.returncode == 0
    r = subprocess.run(["openssl", "pkeyparam", "-in", str(path)], capture_output=True, timeout=30)
    dh = DH.load_params_bio(BIO.MemoryBuffer(r.stdout)) if b"DH PARAMETERS" in r.stdout else None
    if dh is None:
        r = subprocess.run(["openssl", "dhparam", "-in", str(path)], capture_output=True, timeout=30)
        dh = DH.load_params_bio(BIO.MemoryBuffer(r.stdout))
    assert dh.p == DH.ffdhe_group("ffdhe2048").p
    assert dh.check_params() == 0
