"""ASN.1 strings, integers, objects and times (M2Crypto's ASN1 module)."""

import datetime
import time
from typing import Any, Callable, Optional

from M2Sec import BIO, m2
from M2Sec._base import Owned
from M2Sec.Err import M2SecError

MBSTRING_FLAG = m2.MBSTRING_FLAG
MBSTRING_ASC = m2.MBSTRING_ASC
MBSTRING_BMP = m2.MBSTRING_BMP
MBSTRING_UTF8 = m2.MBSTRING_UTF8
MBSTRING_UNIV = m2.MBSTRING_UNIV

ASN1_STRFLGS_ESC_2253 = m2.ASN1_STRFLGS_ESC_2253
ASN1_STRFLGS_ESC_CTRL = m2.ASN1_STRFLGS_ESC_CTRL
ASN1_STRFLGS_ESC_MSB = m2.ASN1_STRFLGS_ESC_MSB
ASN1_STRFLGS_ESC_QUOTE = m2.ASN1_STRFLGS_ESC_QUOTE
ASN1_STRFLGS_UTF8_CONVERT = m2.ASN1_STRFLGS_UTF8_CONVERT
ASN1_STRFLGS_IGNORE_TYPE = m2.ASN1_STRFLGS_IGNORE_TYPE
ASN1_STRFLGS_SHOW_TYPE = m2.ASN1_STRFLGS_SHOW_TYPE
ASN1_STRFLGS_DUMP_ALL = m2.ASN1_STRFLGS_DUMP_ALL
ASN1_STRFLGS_DUMP_UNKNOWN = m2.ASN1_STRFLGS_DUMP_UNKNOWN
ASN1_STRFLGS_DUMP_DER = m2.ASN1_STRFLGS_DUMP_DER
ASN1_STRFLGS_RFC2253 = m2.ASN1_STRFLGS_RFC2253


class ASN1Error(M2SecError, ValueError):
    """An ASN.1 value could not be made or parsed."""


m2.asn1_init(ASN1Error)


def _print(printer: Callable[..., Any], ptr: Any, *args: Any) -> str:
    """What an OpenSSL *_print function writes for ptr, as text."""
    buf = BIO.MemoryBuffer()
    try:
        printer(buf._ptr(), ptr, *args)
        return (buf.read() or b"").decode("utf-8", "replace")
    finally:
        buf.free()


class ASN1_Integer(Owned):
    """An ASN1_INTEGER; ``int()`` gives its value."""

    _free_fn = m2.asn1_integer_free
    m2_asn1_integer_free = staticmethod(m2.asn1_integer_free)  # M2Crypto's name

    def __init__(self, asn1int: Any, _pyfree: int = 0) -> None:
        if isinstance(asn1int, int):
            ptr = m2.asn1_integer_new()
            m2.asn1_integer_set(ptr, asn1int)
            _pyfree = 1
        else:
            ptr = asn1int
        super().__init__(ptr, _pyfree)

    def __int__(self) -> int:
        return m2.asn1_integer_get(self._ptr())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ASN1_Integer):
            return NotImplemented
        return m2.asn1_integer_cmp(self._ptr(), other._ptr()) == 0

    __hash__ = None  # type: ignore[assignment]


class ASN1_String(Owned):
    """An ASN1_STRING: ``bytes()`` gives its content, ``str()`` its printed text."""

    _free_fn = m2.asn1_string_free
    m2_asn1_string_free = staticmethod(m2.asn1_string_free)  # M2Crypto's name

    def __init__(self, asn1str: Any, _pyfree: int = 0) -> None:
        if isinstance(asn1str, str):
            asn1str = asn1str.encode("utf-8")
        if isinstance(asn1str, (bytes, bytearray, memoryview)):
            ptr: Any = m2.asn1_string_new()
            m2.asn1_string_set(ptr, asn1str)
            _pyfree = 1
        else:
            ptr = asn1str
        super().__init__(ptr, _pyfree)

    def __bytes__(self) -> bytes:
        return m2.asn1_string_as_bytes(self._ptr())

    def __str__(self) -> str:
        return self.as_text()

    def as_text(self, flags: int = 0) -> str:
        """The string printed with ASN1_STRING_print_ex and flags (ASN1_STRFLGS_*)."""
        return _print(m2.asn1_string_print_ex, self._ptr(), flags)


class ASN1_Object(Owned):
    """An ASN1_OBJECT (an OID)."""

    _free_fn = m2.asn1_object_free
    m2_asn1_object_free = staticmethod(m2.asn1_object_free)  # M2Crypto's name

    def __init__(self, asn1obj: Any, _pyfree: int = 0) -> None:
        super().__init__(asn1obj, _pyfree)

    def as_text(self, no_name: int = 0) -> str:
        return m2.obj_obj2txt(self._ptr(), no_name).decode()

    def nid(self) -> int:
        return m2.obj_obj2nid(self._ptr())


class _UTC(datetime.tzinfo):
    def tzname(self, dt: Optional[datetime.datetime]) -> str:
        return "UTC"

    def dst(self, dt: Optional[datetime.datetime]) -> datetime.timedelta:
        return datetime.timedelta(0)

    def utcoffset(self, dt: Optional[datetime.datetime]) -> datetime.timedelta:
        return datetime.timedelta(0)

    def __repr__(self) -> str:
        return "<UTC>"


UTC = _UTC()


class LocalTimezone(datetime.tzinfo):
    """The system's local time zone, from the time module."""

    def __init__(self) -> None:
        self._std = datetime.timedelta(seconds=-time.timezone)
        self._dst = datetime.timedelta(seconds=-time.altzone) if time.daylight else self._std

    def _isdst(self, dt: Optional[datetime.datetime]) -> bool:
        if dt is None:
            return False
        tt = (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.weekday(), 0, -1)
        return time.localtime(time.mktime(tt)).tm_isdst > 0

    def utcoffset(self, dt: Optional[datetime.datetime]) -> datetime.timedelta:
        return self._dst if self._isdst(dt) else self._std

    def dst(self, dt: Optional[datetime.datetime]) -> datetime.timedelta:
        return self._dst - self._std if self._isdst(dt) else datetime.timedelta(0)

    def tzname(self, dt: Optional[datetime.datetime]) -> str:
        return time.tzname[self._isdst(dt)]


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
_MIN_TIME = -62135596800  # 0001-01-01T00:00:00Z
_MAX_TIME = 253402300799  # 9999-12-31T23:59:59Z


def _as_utc(date: datetime.datetime) -> datetime.datetime:
    """date in UTC; a naive date is taken as local time."""
    return date.astimezone(UTC)


def _time_text(string: str) -> str:
    """A time string for OpenSSL, which would read it only up to a NUL: refused with ASN1Error."""
    if not isinstance(string, str):
        raise TypeError("a time string is a str, not %s" % type(string).__name__)
    if "\0" in string:
        raise ASN1Error("invalid time string: it contains a NUL character")
    return string


class ASN1_TIME(Owned):
    """An ASN1_TIME (UTCTime or GeneralizedTime), convertible to and from datetime."""

    _free_fn = m2.asn1_time_free
    m2_asn1_time_free = staticmethod(m2.asn1_time_free)  # M2Crypto's name
    _new = staticmethod(m2.asn1_time_new)
    _set = staticmethod(m2.asn1_time_set)
    _printer = staticmethod(m2.asn1_time_print)

    def __init__(self, asn1_time: Any = None, _pyfree: int = 0, asn1_utctime: Any = None) -> None:
        ptr = asn1_time if asn1_time is not None else asn1_utctime
        if ptr is None:
            ptr, _pyfree = self._new(), 1
        super().__init__(ptr, _pyfree)

    def __str__(self) -> str:
        return _print(self._printer, self._ptr())

    def set_string(self, string: str) -> int:
        """Set from an ASN.1 time string such as '990807053011Z' or '20490807053011Z'.

        :raises ASN1Error: (a ValueError) for a string that is not an ASN.1 time
        """
        return m2.asn1_time_set_string(self._ptr(), _time_text(string))

    def set_time(self, time: int) -> Any:
        """Set to time, seconds since the epoch (years 1 to 9999; ValueError outside them)."""
        time = int(time)
        if not _MIN_TIME <= time <= _MAX_TIME:
            # OpenSSL 3.0's ASN1_TIME_set writes an invalid GeneralizedTime past 9999
            raise ValueError("time %d is outside the years 1 to 9999" % time)
        return self._set(self._ptr(), time)

    def get_datetime(self) -> datetime.datetime:
        """The time as an aware datetime in UTC; ValueError if it is not a valid time."""
        return _EPOCH + datetime.timedelta(seconds=m2.asn1_time_get_posix(self._ptr()))

    def set_datetime(self, date: datetime.datetime) -> Any:
        """Set from a datetime (a naive one is local time)."""
        return self.set_time(int((_as_utc(date) - _EPOCH).total_seconds()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ASN1_TIME):
            return NotImplemented
        return m2.asn1_time_cmp(self._ptr(), other._ptr()) == 0

    __hash__ = None  # type: ignore[assignment]


class ASN1_UTCTIME(ASN1_TIME):
    """An ASN1_UTCTIME (years 1950 to 2049)."""

    _free_fn = m2.asn1_utctime_free
    m2_asn1_utctime_free = staticmethod(m2.asn1_utctime_free)  # M2Crypto's name
    _new = staticmethod(m2.asn1_utctime_new)
    _set = staticmethod(m2.asn1_utctime_set)
    _printer = staticmethod(m2.asn1_utctime_print)

    def __init__(self, asn1_utctime: Any = None, _pyfree: int = 0) -> None:
        super().__init__(asn1_utctime, _pyfree)

    def set_string(self, string: str) -> int:
        return m2.asn1_utctime_set_string(self._ptr(), _time_text(string))
