"""M2Sec.SSH.packet: RFC 4251 section 5 wire types, with the RFC's mpint examples."""

import pytest

from M2Sec.SSH.errors import SSHFormatError
from M2Sec.SSH.packet import SSHReader, boolean, byte, mpint, namelist, string, uint32, uint64

# RFC 4251 section 5, "mpint" examples: value -> encoding (hex).
MPINTS = [
    (0, "00000000"),
    (0x9a378f9b2e332a7, "0000000809a378f9b2e332a7"),
    (0x80, "000000020080"),
    (-0x1234, "00000002edcc"),
    (-0xdeadbeef, "00000005ff21524111"),
]


@pytest.mark.parametrize("value,encoded", MPINTS)
def test_mpint_rfc4251(value, encoded):
    assert mpint(value).hex() == encoded
    r = SSHReader(bytes.fromhex(encoded))
    assert r.get_mpint() == value
    r.done()


def test_mpint_round_trip():
    for v in (1, 127, 128, 255, 256, -1, -128, -129, 2 ** 521 - 1, -(2 ** 1000)):
        r = SSHReader(mpint(v))
        assert r.get_mpint() == v and r.remaining() == 0
    assert SSHReader(bytes.fromhex("000000030000ff")).get_mpint() == 255  # leading zeros tolerated


def test_encoders():
    assert byte(20) == b"\x14" and boolean(True) == b"\x01" and boolean(False) == b"\x00"
    assert uint32(0xDEADBEEF) == bytes.fromhex("deadbeef")
    assert uint64(1) == bytes(7) + b"\x01"
    assert string(b"testing") == b"\x00\x00\x00\x07testing" and string("é") == b"\x00\x00\x00\x02\xc3\xa9"
    # RFC 4251 name-list examples
    assert namelist([]) == bytes(4)
    assert namelist(["zlib"]).hex() == "000000047a6c6962"
    assert namelist([b"zlib", "none"]).hex() == "000000097a6c69622c6e6f6e65"
    for bad in ([""], ["a,b"]):
        with pytest.raises(ValueError):
            namelist(bad)


def test_reader():
    data = (byte(7) + boolean(True) + uint32(5) + uint64(2 ** 40) + string(b"abc") + string("héllo")
            + namelist([b"a", b"bb"]) + string(b"") + b"rest")
    r = SSHReader(memoryview(data))
    assert r.get_byte() == 7 and r.get_boolean() is True
    assert r.get_uint32() == 5 and r.get_uint64() == 2 ** 40
    assert r.get_string() == b"abc" and r.get_text() == "héllo"
    assert r.get_namelist() == [b"a", b"bb"] and r.get_namelist() == []
    assert r.remaining() == 4
    with pytest.raises(SSHFormatError, match="trailing"):
        r.done()
    assert r.get_bytes(2) == b"re" and r.get_rest() == b"st"
    r.done()


def test_reader_truncated_and_malformed():
    whole = string(b"abcdef")
    for n in range(len(whole)):
        with pytest.raises(SSHFormatError, match="truncated"):
            SSHReader(whole[:n]).get_string()
    for getter in ("get_byte", "get_boolean", "get_uint32", "get_uint64", "get_mpint", "get_namelist"):
        with pytest.raises(SSHFormatError):
            getattr(SSHReader(b""), getter)()
    with pytest.raises(SSHFormatError, match="truncated"):
        SSHReader(b"\xff\xff\xff\xffabc").get_string()  # a 4 GiB length on 3 bytes
    with pytest.raises(SSHFormatError, match="UTF-8"):
        SSHReader(string(b"\xff")).get_text()
    with pytest.raises(SSHFormatError, match="empty name"):
        SSHReader(string(b"a,,b")).get_namelist()
    with pytest.raises(SSHFormatError, match="ASCII"):
        SSHReader(string("é".encode())).get_namelist()
    with pytest.raises(SSHFormatError):
        SSHReader(b"ab").get_bytes(3)
    assert issubclass(SSHFormatError, ValueError)
