"""M2Sec.AuthCookie: HMAC'd expiring cookies, and every way of tampering with them."""

import time
from http.cookies import SimpleCookie

import pytest

from M2Sec import EVP, util
from M2Sec.AuthCookie import AuthCookie, AuthCookieJar, mix, unmix, unmix3

DATA = "user=alice;role=admin"


@pytest.fixture
def jar():
    return AuthCookieJar()


@pytest.fixture
def exp():
    return time.time() + 3600


def header_value(cookie: AuthCookie) -> str:
    """The cookie as a browser sends it back: ``_M2AUTH_="..."``."""
    return cookie.output(header="").strip()


def test_mix_unmix_round_trip(exp):
    dough = mix(exp, DATA)
    assert dough.startswith("exp=") and dough.endswith("&digest=")
    e, d = unmix(dough)
    assert d == DATA and e == pytest.approx(exp, abs=1e-5)
    assert unmix3(dough + "MAC") == (pytest.approx(exp, abs=1e-5), DATA, "MAC")


@pytest.mark.parametrize("junk", ["", "exp=1&data=x&digest=", "data=x", "exp=1.0&data=&digest=a", None, b"exp=1.0&data=x&digest="])
def test_unmix_rejects_other_forms(junk):
    assert unmix(junk) is None and unmix3(junk) is None


def test_make_cookie(jar, exp):
    c = jar.makeCookie(exp, DATA)
    assert isinstance(c, AuthCookie)
    assert c.expiry() == exp and c.data() == DATA
    mac = util.bin_to_hex(EVP.hmac(jar._key, mix(exp, DATA).encode(), "sha256"))
    assert c.mac() == mac and len(EVP.hmac(jar._key, b"", "sha256")) == 32
    assert c.value() == mix(exp, DATA) + mac == c.name() == c.headerValue()
    assert c.output().startswith('Set-Cookie: _M2AUTH_="exp=')
    back = SimpleCookie()
    back.load(c.output(header=""))
    assert back["_M2AUTH_"].value == c.value()
    assert not c.isExpired()
    assert jar.isGoodCookie(c)
    assert jar.isGoodCookieString(header_value(c))


def test_integer_expiry(jar):
    c = jar.makeCookie(int(time.time()) + 60, "x")
    assert jar.isGoodCookieString(header_value(c))


@pytest.mark.parametrize("bad", ["soon", None, float("inf"), float("nan"), True, [1]])
def test_make_cookie_rejects_bad_expiry(jar, bad):
    with pytest.raises(ValueError):
        jar.makeCookie(bad, DATA)


def test_expired(jar, exp):
    c = jar.makeCookie(exp - 7200, DATA)
    assert c.isExpired()
    assert not jar.isGoodCookie(c)
    assert not jar.isGoodCookieString(header_value(c))


def test_expires_when_time_passes(jar, monkeypatch):
    now = time.time()
    c = jar.makeCookie(now + 10, DATA)
    assert jar.isGoodCookie(c)
    monkeypatch.setattr(time, "time", lambda: now + 11)
    assert c.isExpired() and not jar.isGoodCookie(c)
    assert not jar.isGoodCookieString(header_value(c))


@pytest.mark.parametrize("attr,value", [("_expiry", 0), ("_expiry", 2 ** 40), ("_data", "user=mallory"),
                                        ("_mac", "this is bad"), ("_mac", ""), ("_mac", None)])
def test_tampered_object(jar, exp, attr, value):
    c = jar.makeCookie(exp, DATA)
    setattr(c, attr, value)
    assert not jar.isGoodCookie(c)


def test_tampered_output(jar, exp):
    c = jar.makeCookie(exp, DATA)
    c._cookie["_M2AUTH_"] = "something else"
    assert not jar.isGoodCookie(c)


def test_other_jar_rejects(jar, exp):
    c = jar.makeCookie(exp, DATA)
    other = AuthCookieJar()
    assert not other.isGoodCookie(c)
    assert not other.isGoodCookieString(header_value(c))


def test_shared_key(exp):
    key = b"k" * 32
    c = AuthCookieJar(key=key).makeCookie(exp, DATA)
    assert AuthCookieJar(key=bytearray(key)).isGoodCookieString(header_value(c))
    assert not AuthCookieJar(key=b"K" * 32).isGoodCookieString(header_value(c))


def test_short_key():
    with pytest.raises(ValueError):
        AuthCookieJar(key=b"short")


def test_keys_are_random():
    assert AuthCookieJar()._key != AuthCookieJar()._key


def test_forged_longer_expiry(jar, exp):
    """Moving the expiry later in the value breaks the MAC."""
    c = jar.makeCookie(exp, DATA)
    e, d, mac = unmix3(c.value())
    forged = SimpleCookie()
    forged["_M2AUTH_"] = mix(e + 86400, d) + mac
    assert not jar.isGoodCookieString(forged.output(header=""))


def test_every_character_matters(jar, exp):
    """Changing any single character of the value makes the cookie bad."""
    value = jar.makeCookie(exp, "abc").value()
    for i, ch in enumerate(value):
        repl = "A" if ch != "A" else "B"
        forged = SimpleCookie()
        forged["_M2AUTH_"] = value[:i] + repl + value[i + 1:]
        assert not jar.isGoodCookieString(forged.output(header="")), (i, ch)


def test_cookie_among_others(jar, exp):
    """A browser's Cookie header carrying several cookies."""
    c = jar.makeCookie(exp, DATA)
    assert jar.isGoodCookieString("session=1; %s; theme=dark" % header_value(c))


@pytest.mark.parametrize("text", ["", "session=1", "_M2AUTH_=garbage", '_M2AUTH_="exp=x&data=y&digest=z"',
                                  "_M2AUTH_=\x7f", '_M2AUTH_="a\x07b"', "\x00\x01\x02"])
def test_malformed_strings(jar, text):
    assert jar.isGoodCookieString(text) is False


def test_control_characters_in_real_cookie(jar, exp):
    cout = jar.makeCookie(exp, DATA).output(header="")
    for ch in "\x7f\x07\x00":
        assert jar.isGoodCookieString(cout[:40] + ch + cout[41:]) is False


def test_debug_flag_logs(jar, exp, caplog):
    c = jar.makeCookie(exp, DATA)
    with caplog.at_level("DEBUG", logger="M2Sec.AuthCookie"):
        assert jar.isGoodCookieString(header_value(c), _debug=True)
    assert "good=True" in caplog.text


@pytest.mark.parametrize("data", ["plain", 'quote"back\\slash', "semi;colon,comma space", "\u00e9t\u00e9"])
def test_awkward_data_round_trips(jar, exp, data):
    c = jar.makeCookie(exp, data)
    assert jar.isGoodCookie(c)
    assert jar.isGoodCookieString(header_value(c))
