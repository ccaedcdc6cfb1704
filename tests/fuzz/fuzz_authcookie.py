"""AuthCookie strings (M2Sec.AuthCookie): unmix/unmix3 on the cookie's value and
AuthCookieJar.isGoodCookieString on a whole Cookie header, as a web server gets them
(documented to answer None/False for malformed text, never to raise)."""
from _harness import main

from M2Sec import AuthCookie

EXPECTED = ()  # documented: malformed text gives None or False, never an exception
JAR = AuthCookie.AuthCookieJar(key=b"0123456789abcdef0123456789abcdef")


def one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    AuthCookie.unmix(text)
    AuthCookie.unmix3(text)
    JAR.isGoodCookieString(text)


if __name__ == "__main__":
    main(one_input, EXPECTED)
