"""M2Sec.ASN1: ASN1_Integer, ASN1_String, ASN1_Object, ASN1_TIME and ASN1_UTCTIME."""

import datetime

import pytest

from M2Sec import ASN1, Err, m2

UTC = datetime.timezone.utc


# ---- ASN1_Integer ----

@pytest.mark.parametrize("v", [0, 1, -1, 127, 128, -128, -129, 2 ** 63, -(2 ** 63) - 1,
                               2 ** 2048 + 12345, -(2 ** 1000)])
def test_integer_round_trip(v):
    i = ASN1.ASN1_Integer(v)
    assert int(i) == v
    i.close()


def test_integer_equality():
    a, b, c = ASN1.ASN1_Integer(2 ** 100), ASN1.ASN1_Integer(2 ** 100), ASN1.ASN1_Integer(-(2 ** 100))
    assert a == b and not (a == c)
    assert (a == 2 ** 100) is False  # only ASN1_Integers compare equal
    with pytest.raises(TypeError):
        hash(a)


def test_integer_set_wrong_type():
    with pytest.raises(TypeError):
        m2.asn1_integer_set(m2.asn1_integer_new(), "5")


def test_integer_freed():
    i = ASN1.ASN1_Integer(5)
    i.close()
    i.close()
    assert i.closed
    with pytest.raises(Err.ClosedError):
        int(i)
    with pytest.raises(ValueError):
        int(i)


def test_integer_with_block():
    with ASN1.ASN1_Integer(7) as i:
        assert int(i) == 7
    assert i.closed


def test_owned_needs_pointer():
    with pytest.raises(ValueError):
        ASN1.ASN1_Integer(None)
    with pytest.raises(ValueError):
        ASN1.ASN1_String(None)


# ---- ASN1_String ----

@pytest.mark.parametrize("data", [b"hello", b"", b"\x00\x01\xff", bytearray(b"ba"), memoryview(b"mv")])
def test_string_bytes(data):
    s = ASN1.ASN1_String(data)
    assert bytes(s) == bytes(data)
    s.close()


def test_string_from_str_is_utf8():
    s = ASN1.ASN1_String("héllo")
    assert bytes(s) == "héllo".encode("utf-8")
    assert str(s) == "héllo"
    # ESC_MSB escapes each byte with the top bit set as \XX
    assert s.as_text(ASN1.ASN1_STRFLGS_ESC_MSB) == "h\\C3\\A9llo"
    s.close()


def test_string_dump_all():
    s = ASN1.ASN1_String(b"AB")
    assert s.as_text(ASN1.ASN1_STRFLGS_DUMP_ALL) == "#4142"
    s.close()


def test_string_to_utf8_and_type():
    s = ASN1.ASN1_String(b"plain")
    assert m2.asn1_string_type(s._ptr()) == m2.V_ASN1_OCTET_STRING
    assert m2.asn1_string_length(s._ptr()) == 5
    s.close()


def test_string_freed():
    s = ASN1.ASN1_String(b"x")
    s.free()
    with pytest.raises(Err.ClosedError):
        bytes(s)
    with pytest.raises(Err.ClosedError):
        str(s)


def test_string_set_wrong_type():
    p = m2.asn1_string_new()
    try:
        with pytest.raises(TypeError):
            m2.asn1_string_set(p, 5)
    finally:
        m2.asn1_string_free(p)


# ---- ASN1_Object ----

def test_object_text_and_nid():
    o = ASN1.ASN1_Object(m2.obj_txt2obj("2.5.4.3", 1), 1)
    assert o.as_text() == "commonName"
    assert o.as_text(1) == "2.5.4.3"
    assert o.nid() == 13  # NID_commonName
    o.close()


# ---- ASN1_TIME / ASN1_UTCTIME ----

def _dt(*args):
    return datetime.datetime(*args, tzinfo=UTC)


TIMES = [
    (_dt(1950, 1, 1), "Jan  1 00:00:00 1950 GMT"),
    (_dt(1949, 12, 31, 23, 59, 59), "Dec 31 23:59:59 1949 GMT"),
    (_dt(1970, 1, 1), "Jan  1 00:00:00 1970 GMT"),
    (_dt(2000, 2, 29, 12, 30, 45), "Feb 29 12:30:45 2000 GMT"),
    (_dt(2024, 2, 29, 23, 59, 59), "Feb 29 23:59:59 2024 GMT"),
    (_dt(2038, 1, 19, 3, 14, 8), "Jan 19 03:14:08 2038 GMT"),
    (_dt(2049, 12, 31, 23, 59, 59), "Dec 31 23:59:59 2049 GMT"),
    (_dt(2050, 1, 1), "Jan  1 00:00:00 2050 GMT"),
    (_dt(2100, 3, 1), "Mar  1 00:00:00 2100 GMT"),
    (_dt(1, 1, 1), "Jan  1 00:00:00 1 GMT"),
    (_dt(9999, 12, 31, 23, 59, 59), "Dec 31 23:59:59 9999 GMT"),
]


@pytest.mark.parametrize("dt, text", TIMES)
def test_time_datetime_round_trip(dt, text):
    t = ASN1.ASN1_TIME()
    t.set_datetime(dt)
    assert t.get_datetime() == dt
    assert str(t) == text
    t.close()


@pytest.mark.parametrize("dt, text", TIMES)
def test_time_set_time_matches_python_epoch(dt, text):
    t = ASN1.ASN1_TIME()
    t.set_time(int(dt.timestamp()))
    assert str(t) == text
    assert t.get_datetime() == dt
    t.close()


@pytest.mark.parametrize("dt, text", [x for x in TIMES if 1950 <= x[0].year <= 2049])
def test_utctime_round_trip(dt, text):
    t = ASN1.ASN1_UTCTIME()
    assert t.set_datetime(dt) is not None
    assert t.get_datetime() == dt
    assert str(t) == text
    t.close()


@pytest.mark.parametrize("dt", [_dt(1949, 12, 31, 23, 59, 59), _dt(2050, 1, 1), _dt(1900, 1, 1)])
def test_utctime_out_of_range_returns_none(dt):
    t = ASN1.ASN1_UTCTIME()
    t.set_datetime(_dt(2020, 1, 1))
    # M2Crypto's contract: set_time returns NULL (None) when the time cannot be set
    assert t.set_datetime(dt) is None
    assert t.get_datetime() == _dt(2020, 1, 1)
    t.close()


def test_time_uses_utctime_until_2049_then_generalized():
    t = ASN1.ASN1_TIME()
    t.set_datetime(_dt(2049, 12, 31, 23, 59, 59))
    assert m2.asn1_string_type(t._ptr()) == m2.V_ASN1_UTCTIME
    assert bytes(m2.asn1_string_as_bytes(t._ptr())) == b"491231235959Z"
    t.set_datetime(_dt(2050, 1, 1))
    assert m2.asn1_string_type(t._ptr()) == m2.V_ASN1_GENERALIZEDTIME
    assert m2.asn1_string_as_bytes(t._ptr()) == b"20500101000000Z"
    t.close()


@pytest.mark.parametrize("s, expected", [
    ("500101000000Z", _dt(1950, 1, 1)),        # UTCTime years 50-99 are 19xx
    ("491231235959Z", _dt(2049, 12, 31, 23, 59, 59)),  # 00-49 are 20xx
    ("20240229120000Z", _dt(2024, 2, 29, 12)),
    ("19500101000000Z", _dt(1950, 1, 1)),
    ("21000228235959Z", _dt(2100, 2, 28, 23, 59, 59)),
])
def test_time_set_string(s, expected):
    t = ASN1.ASN1_TIME()
    assert t.set_string(s) == 1
    assert t.get_datetime() == expected
    t.close()


def test_utctime_set_string():
    t = ASN1.ASN1_UTCTIME()
    assert t.set_string("000229000000Z") == 1  # 2000 was a leap year
    assert t.get_datetime() == _dt(2000, 2, 29)
    with pytest.raises(ASN1.ASN1Error):
        t.set_string("20500101000000Z")  # GeneralizedTime is not a UTCTime
    t.close()


@pytest.mark.parametrize("bad", ["", "garbage", "2024", "20230229120000Z", "21000229000000Z",
                                 "20241301000000Z", "20240132000000Z", "20240101250000Z",
                                 "991332000000Z", "2024010100000", "20240101000000Z trailing"])
def test_time_set_string_invalid(bad):
    t = ASN1.ASN1_TIME()
    with pytest.raises(ASN1.ASN1Error):
        t.set_string(bad)
    t.close()


@pytest.mark.parametrize("bad", [None, b"20240101000000Z", 20240101])
def test_time_set_string_wrong_type(bad):
    t = ASN1.ASN1_TIME()
    with pytest.raises(TypeError):
        t.set_string(bad)
    t.close()


def test_time_set_time_out_of_range():
    t = ASN1.ASN1_TIME()
    with pytest.raises(ValueError):
        t.set_time(2 ** 40)
    with pytest.raises(ValueError):
        t.set_time(-62135596801)
    with pytest.raises(TypeError):
        t.set_time(None)
    t.close()


def test_empty_time_is_invalid():
    t = ASN1.ASN1_TIME()
    assert str(t) == "Bad time value"
    with pytest.raises(ASN1.ASN1Error):
        t.get_datetime()
    t.close()


def test_naive_datetime_is_local_time(monkeypatch):
    naive = datetime.datetime(2020, 6, 15, 12, 0, 0)
    t = ASN1.ASN1_TIME()
    t.set_datetime(naive)
    assert t.get_datetime() == naive.astimezone(UTC)
    t.close()


def test_other_timezone_is_converted():
    tz = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    t = ASN1.ASN1_TIME()
    t.set_datetime(datetime.datetime(2020, 1, 1, 5, 30, tzinfo=tz))
    assert t.get_datetime() == _dt(2020, 1, 1)
    t.close()


def test_time_equality():
    a, b = ASN1.ASN1_TIME(), ASN1.ASN1_TIME()
    a.set_string("20200101000000Z")
    b.set_string("200101000000Z")  # same instant, other encoding
    assert a == b
    b.set_string("200101000001Z")
    assert not (a == b)
    a.close()
    b.close()


def test_time_freed():
    t = ASN1.ASN1_UTCTIME()
    t.close()
    with pytest.raises(Err.ClosedError):
        t.get_datetime()
    with pytest.raises(Err.ClosedError):
        t.set_time(0)
    with pytest.raises(Err.ClosedError):
        str(t)


def test_utc_and_local_timezone_objects():
    assert ASN1.UTC.utcoffset(None) == datetime.timedelta(0)
    assert ASN1.UTC.tzname(None) == "UTC"
    lt = ASN1.LocalTimezone()
    now = datetime.datetime(2020, 7, 1, 12)
    assert lt.utcoffset(now) == now.astimezone().utcoffset()


def test_null_pointers():
    with pytest.raises(ValueError):
        m2.asn1_time_get_posix(None)
    with pytest.raises(ValueError):
        m2.asn1_string_as_bytes(None)


@pytest.mark.parametrize("cls", [ASN1.ASN1_TIME, ASN1.ASN1_UTCTIME])
def test_set_string_with_a_nul_is_an_asn1_error(cls):
    """Found by fuzzing (issue 18): a NUL used to surface as a bare ValueError from the C layer."""
    t = cls()
    with pytest.raises(ASN1.ASN1Error, match="NUL"):
        t.set_string("491231235959Z\x00junk")
    with pytest.raises(ASN1.ASN1Error):
        t.set_string("not a time")
    assert t.set_string("491231235959Z") == 1
    assert str(t) == "Dec 31 23:59:59 2049 GMT"
