"""Authenticator cookies: HMAC'd, expiring, unforgeable without the jar's key (M2Crypto's AuthCookie).

A cookie's value is ``exp=<expiry>&data=<data>&digest=<mac>`` where ``mac`` is the base64 of
HMAC-SHA256 (RFC 2104) over ``exp=<expiry>&data=<data>&digest=`` keyed with the jar's secret.
A jar accepts a cookie only if the MAC matches (compared in constant time) and the expiry, a
Unix time, is still in the future.
"""

import hmac as _stdlib_hmac
import logging
import math
import re
import time
from http.cookies import CookieError, SimpleCookie
from typing import Any, Dict, Optional, Pattern, Tuple, Union

from M2Sec import EVP, Rand, util

__all__ = ["AuthCookie", "AuthCookieJar", "mix", "unmix", "unmix3"]

_MIX_FORMAT = "exp=%f&data=%s&digest="
_MIX_RE = re.compile(r"exp=(\d+\.\d+)&data=(.+)&digest=(\S*)")
_TOKEN = "_M2AUTH_"

log = logging.getLogger(__name__)


def mix(expiry: float, data: str, format: str = _MIX_FORMAT) -> str:
    """The signed part of a cookie: expiry and data put into ``format``."""
    return format % (expiry, data)


def _match(dough: str, regex: "Pattern[str]") -> Optional["re.Match[str]"]:
    return regex.match(dough) if isinstance(dough, str) else None


def unmix(dough: str, regex: "Pattern[str]" = _MIX_RE) -> Optional[Tuple[float, str]]:
    """``(expiry, data)`` parsed from a cookie value, or None if it has not the cookie's form."""
    mo = _match(dough, regex)
    return (float(mo.group(1)), mo.group(2)) if mo else None


def unmix3(dough: str, regex: "Pattern[str]" = _MIX_RE) -> Optional[Tuple[float, str, str]]:
    """``(expiry, data, mac)`` parsed from a cookie value, or None if it has not the cookie's form."""
    mo = _match(dough, regex)
    return (float(mo.group(1)), mo.group(2), mo.group(3)) if mo else None


class AuthCookie:
    """One authenticator cookie, as made by :meth:`AuthCookieJar.makeCookie`."""

    def __init__(self, expiry: float, data: str, dough: str, mac: str) -> None:
        """
        :param expiry: the Unix time after which the cookie is no longer good
        :param data: the payload
        :param dough: expiry and data as :func:`mix` puts them together
        :param mac: the base64 HMAC-SHA256 of dough under the jar's key
        """
        self._expiry = expiry
        self._data = data
        self._mac = mac
        self._name = dough + mac
        self._cookie: SimpleCookie = SimpleCookie()
        self._cookie[_TOKEN] = self._name

    def expiry(self) -> float:
        """The Unix time at which the cookie expires."""
        return self._expiry

    def data(self) -> str:
        """The payload."""
        return self._data

    def mac(self) -> str:
        """The MAC, base64."""
        return self._mac

    def output(self, header: str = "Set-Cookie:") -> str:
        """The cookie as an HTTP header line (``Set-Cookie: _M2AUTH_="..."``)."""
        return self._cookie.output(header=header)

    def value(self) -> str:
        """The cookie's value, without the header and name."""
        return self._cookie[_TOKEN].value

    def isExpired(self) -> bool:
        """True once the expiry time has passed."""
        return isinstance(self._expiry, (int, float)) and time.time() > self._expiry

    def name(self) -> str:
        """The value (M2Crypto's name for WebKit)."""
        return self._name

    def headerValue(self) -> str:
        """The value (M2Crypto's name for WebKit)."""
        return self.value()


class AuthCookieJar:
    """Makes and checks :class:`AuthCookie` s under one secret key.

    The key is random per jar unless given: cookies made by one jar are only good in a jar
    sharing its key (several processes, or after a restart, need the same ``key``).
    """

    _keylen: int = 32

    def __init__(self, *, key: Optional[bytes] = None) -> None:
        """
        :param key: the HMAC key (at least 16 bytes); a random one if None
        :raises ValueError: for a key shorter than 16 bytes
        """
        if key is None:
            key = Rand.rand_bytes(self._keylen)
        elif len(key) < 16:
            raise ValueError("an AuthCookieJar key needs at least 16 bytes")
        self._key = bytes(key)

    def _hmac(self, key: bytes, data: str) -> str:
        return util.bin_to_hex(EVP.hmac(key, data.encode(), "sha256"))

    def makeCookie(self, expiry: float, data: str) -> AuthCookie:
        """A cookie carrying data, good until the Unix time expiry.

        :raises ValueError: if expiry is not a finite number
        """
        if isinstance(expiry, bool) or not isinstance(expiry, (int, float)) or not math.isfinite(expiry):
            raise ValueError("the expiry time must be a finite number, not %r" % (expiry,))
        dough = mix(expiry, data)
        return AuthCookie(expiry, data, dough, self._hmac(self._key, dough))

    def _check(self, expiry: float, data: str, mac: str) -> Optional[AuthCookie]:
        """The cookie this jar makes for expiry and data if mac is its MAC and it has not expired."""
        try:
            expected = self.makeCookie(expiry, data)
        except (TypeError, ValueError):
            return None
        if not isinstance(mac, str) or not _stdlib_hmac.compare_digest(expected._mac.encode(), mac.encode()):
            return None
        return None if expected.isExpired() else expected

    def isGoodCookie(self, cookie: AuthCookie) -> bool:
        """True if cookie was made by this jar (or one with its key) and has not expired."""
        expected = self._check(cookie._expiry, cookie._data, cookie._mac)
        return expected is not None and expected.output() == cookie.output()

    def isGoodCookieString(self, cookie_str: Union[str, Dict[str, Any]], _debug: bool = False) -> bool:
        """True if the ``Cookie``/``Set-Cookie`` text holds a good, unexpired cookie of this jar.

        Malformed text (control characters, no cookie of ours) gives False, never an exception.
        """
        c: SimpleCookie = SimpleCookie()
        try:
            c.load(cookie_str)
        except CookieError:
            log.debug("cookie string rejected by http.cookies")
            return False
        if _TOKEN not in c:
            log.debug("no %s cookie", _TOKEN)
            return False
        parts = unmix3(c[_TOKEN].value)
        if parts is None:
            log.debug("the %s cookie has not the expected form", _TOKEN)
            return False
        good = self._check(*parts) is not None
        if _debug:
            log.debug("cookie %r: good=%s", cookie_str, good)
        return good
