"""M2Sec.BN and the m2.bn_* conversions, checked against Python's own int conversions."""

import random
import struct

import pytest

from M2Sec import BN, m2

VALUES = [0, 1, 127, 128, 255, 256, 2 ** 31 - 1, 2 ** 32, 2 ** 64 + 1, 2 ** 521 - 1,
          int("deadbeef" * 40, 16), random.Random(7).getrandbits(4096)]
SIGNED = VALUES + [-v for v in VALUES if v]


def _bn(v):
    bn = m2.int_to_bn(v)
    assert bn is not None
    return bn


def _mpi(v):
    """OpenSSL's MPI encoding, written from its documentation (BN_bn2mpi(3))."""
    mag = abs(v)
    body = mag.to_bytes((mag.bit_length() + 7) // 8, "big") if mag else b""
    if body and body[0] & 0x80:
        body = b"\x00" + body
    if v < 0:
        body = bytes([body[0] | 0x80]) + body[1:]
    return struct.pack(">I", len(body)) + body


@pytest.mark.parametrize("v", SIGNED)
def test_int_round_trip(v):
    bn = _bn(v)
    try:
        assert m2.bn_to_int(bn) == v
    finally:
        m2.bn_free(bn)


@pytest.mark.parametrize("v", SIGNED)
def test_to_hex_and_dec_match_python(v):
    bn = _bn(v)
    try:
        expected_hex = ("-" if v < 0 else "") + ("%X" % abs(v))
        if abs(v) and len(expected_hex.lstrip("-")) % 2:  # OpenSSL prints whole bytes
            expected_hex = expected_hex.replace("%X" % abs(v), "0%X" % abs(v))
        assert m2.bn_to_hex(bn) == expected_hex.encode()
        assert m2.bn_to_dec(bn) == str(v).encode()
    finally:
        m2.bn_free(bn)


@pytest.mark.parametrize("v", SIGNED)
def test_hex_and_dec_parse_match_python(v):
    for text, parse in ((("%x" % v).encode(), m2.hex_to_bn), (("%X" % v).encode(), m2.hex_to_bn),
                        (str(v).encode(), m2.dec_to_bn)):
        bn = parse(text)
        assert m2.bn_to_int(bn) == v
        m2.bn_free(bn)


@pytest.mark.parametrize("v", VALUES)
def test_bin_round_trip(v):
    raw = v.to_bytes((v.bit_length() + 7) // 8, "big")
    bn = m2.bin_to_bn(raw)
    assert m2.bn_to_int(bn) == v
    assert m2.bn_to_bin(bn) == raw
    assert m2.bn_num_bytes(bn) == len(raw)
    assert m2.bn_num_bits(bn) == v.bit_length()
    m2.bn_free(bn)


def test_bin_leading_zeros_dropped():
    bn = m2.bin_to_bn(b"\x00\x00\x01\x02")
    assert m2.bn_to_bin(bn) == b"\x01\x02"
    m2.bn_free(bn)


def test_bin_of_negative_is_magnitude():
    bn = _bn(-0x1234)
    assert m2.bn_to_bin(bn) == b"\x12\x34"
    m2.bn_free(bn)


@pytest.mark.parametrize("v", SIGNED)
def test_mpi_round_trip(v):
    bn = _bn(v)
    try:
        assert m2.bn_to_mpi(bn) == _mpi(v)
    finally:
        m2.bn_free(bn)
    bn = m2.mpi_to_bn(_mpi(v))
    assert m2.bn_to_int(bn) == v
    m2.bn_free(bn)


@pytest.mark.parametrize("bad", [b"", b"\x00\x00\x00", b"\x00\x00\x00\x05\x01\x02", b"\xff\xff\xff\xff"])
def test_mpi_truncated(bad):
    with pytest.raises(BN.BNError):
        m2.mpi_to_bn(bad)


@pytest.mark.parametrize("bad", [b"", b"xyz", b"12g", b"0x10", b" 10", b"10 ", b"-", b"--5", b"+5", b"1-2"])
def test_malformed_hex_raises(bad):
    with pytest.raises(ValueError):
        m2.hex_to_bn(bad)


@pytest.mark.parametrize("bad", [b"", b"12a", b"ff", b"1.5", b" 1", b"1 ", b"-", b"--1", b"1e5"])
def test_malformed_dec_raises(bad):
    with pytest.raises(ValueError):
        m2.dec_to_bn(bad)


@pytest.mark.parametrize("parse", [m2.hex_to_bn, m2.dec_to_bn])
def test_nul_byte_raises(parse):
    with pytest.raises(ValueError, match="NUL"):
        parse(b"12\x0034")
    with pytest.raises(ValueError):
        parse(b"\x00")


@pytest.mark.parametrize("parse", [m2.hex_to_bn, m2.dec_to_bn])
def test_parse_rejects_str_and_none(parse):
    with pytest.raises(TypeError):
        parse("1234")
    with pytest.raises(TypeError):
        parse(None)


def test_parse_accepts_bytearray_and_memoryview():
    assert m2.bn_to_int(m2.hex_to_bn(bytearray(b"ff"))) == 255
    assert m2.bn_to_int(m2.dec_to_bn(memoryview(b"255"))) == 255


def test_negative_zero_is_zero():
    bn = m2.hex_to_bn(b"-0")
    assert m2.bn_to_int(bn) == 0
    assert m2.bn_to_dec(bn) == b"0"
    assert m2.bn_is_zero(bn)
    m2.bn_free(bn)


@pytest.mark.parametrize("bad", [1.0, "5", None, b"5"])
def test_int_to_bn_rejects_non_int(bad):
    with pytest.raises(TypeError):
        m2.int_to_bn(bad)


def test_bn_cmp_and_parity():
    a, b = _bn(-5), _bn(3)
    assert m2.bn_cmp(a, b) == -1 and m2.bn_cmp(b, a) == 1 and m2.bn_cmp(a, a) == 0
    assert m2.bn_is_odd(a) and m2.bn_is_odd(b)
    m2.bn_free(a)
    m2.bn_free(b)


def test_null_bignum():
    with pytest.raises(ValueError):
        m2.bn_to_hex(None)
    with pytest.raises(ValueError):
        m2.bn_free(None)


# ---- BN module ----

@pytest.mark.parametrize("bits", [1, 8, 100, 1024])
def test_rand_bits(bits):
    for _ in range(20):
        assert 0 <= BN.rand(bits) < 2 ** bits


def test_rand_top_and_bottom():
    for _ in range(50):
        v = BN.rand(64, 0, 0)
        assert v.bit_length() == 64
        v = BN.rand(64, 1, 1)
        assert v >> 62 == 3 and v & 1


def test_rand_zero_bits():
    assert BN.rand(0) == 0


@pytest.mark.parametrize("args", [(-1,), (8, 2, 0), (8, -2, 0), (8, 0, 2), (1, 1, 0), (0, 0, 0)])
def test_rand_bad_arguments(args):
    with pytest.raises(ValueError):
        BN.rand(*args)


@pytest.mark.parametrize("top", [1, 2, 7, 2 ** 70, 2 ** 4096 + 3])
def test_rand_range(top):
    values = {BN.rand_range(top) for _ in range(50)}
    assert all(0 <= v < top for v in values)
    if top >= 7:
        assert len(values) > 1


@pytest.mark.parametrize("bad", [0, -1, -(2 ** 80)])
def test_rand_range_must_be_positive(bad):
    with pytest.raises(ValueError):
        BN.rand_range(bad)


def test_rand_range_type():
    with pytest.raises(TypeError):
        BN.rand_range(10.0)


def test_randfname():
    with pytest.warns(DeprecationWarning):
        name = BN.randfname(12)
    assert len(name) == 12 and name.isalnum()
