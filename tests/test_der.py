"""M2Sec/_der.py: the strict DER reader (attacker input) and writer."""

import pytest

from M2Sec import _der as der


def test_round_trips():
    for dotted in ("1.3.101.110", "1.2.840.113549.1.9.16.3.19", "2.16.840.1.101.3.4.1.45", "2.999.3", "0.0"):
        enc = der.oid(dotted)
        assert der.decode_oid(enc, der.read_all(enc, der.OID)) == dotted
    assert der.oid("1.2.840.113549.1.9.16.3.19").hex() == "060b2a864886f70d010910031" "3"
    for v in (0, 1, 127, 128, 255, 256, -1, -128, -129, 2 ** 159, -(2 ** 64)):
        enc = der.integer(v)
        assert der.decode_integer(enc, der.read_all(enc, der.INTEGER)) == v
    assert der.integer(128).hex() == "02020080" and der.integer(-128).hex() == "020180"
    big = der.octet_string(b"x" * 300)
    assert big[:4].hex() == "0482012c" and der.read_all(big).content(big) == b"x" * 300
    s = der.seq(der.integer(3), der.bit_string(b"\x01\x02"))
    t = der.read_all(s, der.SEQUENCE)
    i, b = der.children(s, t)
    assert der.decode_integer(s, i) == 3 and der.decode_bit_string(s, b) == b"\x01\x02"


@pytest.mark.parametrize("data,message", [
    (b"", "truncated"),
    (b"\x30", "no length"),
    (b"\x30\x05\x02\x01", "runs past"),                  # truncated content
    (b"\x30\x80\x00\x00", "indefinite"),                 # BER, not DER
    (b"\x04\x81\x05hello", "shortest form"),             # long form for a short length
    (b"\x04\x82\x00\x05hello", "shortest form"),         # a leading zero length octet
    (b"\x04\x85\x00\x00\x00\x00\x05hello", "octets"),    # a 5-octet length
    (b"\x04\x84\x7f\xff\xff\xff" + b"x" * 10, "runs past"),  # 2^31 bytes claimed
    (b"\x1f\x81\x00\x00", "high-number"),
    (b"\x04\x01ab", "after the DER element"),            # trailing bytes
])
def test_bad_input(data, message):
    with pytest.raises(der.DERError, match=message):
        der.read_all(data)


def test_bad_values():
    with pytest.raises(der.DERError, match="shortest"):
        der.decode_integer(b"\x02\x02\x00\x01", der.read_all(b"\x02\x02\x00\x01"))
    with pytest.raises(der.DERError, match="INTEGER"):
        der.decode_integer(b"\x02\x00", der.read_all(b"\x02\x00"))
    for bad in (b"\x06\x00", b"\x06\x01\x81", b"\x06\x02\x2b\x80\x01"[:3]):
        with pytest.raises(der.DERError):
            der.decode_oid(bad, der.read(bad, 0, len(bad)))
    with pytest.raises(der.DERError, match="whole octets"):
        der.decode_bit_string(b"\x03\x02\x01\x80", der.read_all(b"\x03\x02\x01\x80"))
    with pytest.raises(der.DERError, match="not constructed"):
        der.children(b"\x04\x00", der.read_all(b"\x04\x00"))
    nested = b"\x30\x04\x04\x05abc"  # a child longer than its parent
    with pytest.raises(der.DERError, match="runs past"):
        der.children(nested, der.read(nested, 0, len(nested)))
    with pytest.raises(der.DERError, match="expected"):
        der.expect([], 0, der.SET, "recipientInfos")
    with pytest.raises(ValueError):
        der.oid("3.1")
