"""HTTPS for urllib's legacy ``URLopener`` over M2Sec's SSL (M2Crypto's m2urllib).

``URLopener().open("https://...")`` and ``open_https(url, data, ssl_context)`` go through
:class:`httpslib.HTTPSConnection`; without a context they verify
(``SSL.create_default_context()``).  urllib deprecates ``URLopener``: new code uses
:mod:`M2Sec.m2urllib2`.  The module re-exports urllib.request, urllib.parse and urllib.error.
"""

import urllib.request
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, Union
from urllib.error import *  # noqa: F401,F403
from urllib.parse import *  # noqa: F401,F403
if TYPE_CHECKING:  # urllib.request's names but the two openers this module defines
    from urllib.request import (AbstractBasicAuthHandler as AbstractBasicAuthHandler,
        AbstractDigestAuthHandler as AbstractDigestAuthHandler, BaseHandler as BaseHandler,
        CacheFTPHandler as CacheFTPHandler, DataHandler as DataHandler, FTPHandler as FTPHandler,
        FileHandler as FileHandler, HTTPBasicAuthHandler as HTTPBasicAuthHandler,
        HTTPCookieProcessor as HTTPCookieProcessor, HTTPDefaultErrorHandler as HTTPDefaultErrorHandler,
        HTTPDigestAuthHandler as HTTPDigestAuthHandler, HTTPErrorProcessor as HTTPErrorProcessor,
        HTTPHandler as HTTPHandler, HTTPPasswordMgr as HTTPPasswordMgr,
        HTTPPasswordMgrWithDefaultRealm as HTTPPasswordMgrWithDefaultRealm,
        HTTPPasswordMgrWithPriorAuth as HTTPPasswordMgrWithPriorAuth,
        HTTPRedirectHandler as HTTPRedirectHandler, HTTPSHandler as HTTPSHandler,
        OpenerDirector as OpenerDirector, ProxyBasicAuthHandler as ProxyBasicAuthHandler,
        ProxyDigestAuthHandler as ProxyDigestAuthHandler, ProxyHandler as ProxyHandler, Request as Request,
        UnknownHandler as UnknownHandler, build_opener as build_opener, getproxies as getproxies,
        install_opener as install_opener, pathname2url as pathname2url, url2pathname as url2pathname,
        urlcleanup as urlcleanup, urlopen as urlopen, urlretrieve as urlretrieve)
    from _typeshed import ReadableBuffer
else:
    from urllib.request import *  # noqa: F401,F403
from urllib.response import addinfourl  # noqa: F401  (M2Crypto's m2urllib exports it)

from M2Sec import SSL, httpslib

if hasattr(urllib.request, "URLopener"):

    class URLopener(urllib.request.URLopener):
        """urllib's URLopener with M2Sec's HTTPS.

        :param ssl_context: the :class:`SSL.Context` for https URLs (default: a verifying one)
        """

        # urllib's, set or defined at run time; declared for the type checker
        key_file: Optional[str]
        cert_file: Optional[str]
        _open_generic_http: Callable[..., Any]

        def __init__(self, proxies: Optional[Dict[str, str]] = None, *, ssl_context: Optional["SSL.Context"] = None,
                     **x509: Any) -> None:
            super().__init__(proxies, **x509)
            self.ctx = ssl_context

        def open_https(self, url: Union[str, bytes, Tuple[Any, ...]], data: Optional["ReadableBuffer"] = None,
                       ssl_context: Optional["SSL.Context"] = None) -> Any:
            """Open an https URL (``"https://host/path"``, or ``"//host/path"`` as open() passes it).

            :param data: the body of a POST request
            :param ssl_context: the context for this request (else the opener's, else a verifying one)
            :raises OSError: for a URL without host, or a connection failure
            :raises SSL.SSLError: the handshake or certificate verification failed
            """
            if isinstance(url, bytes):
                url = url.decode("latin-1")
            if isinstance(url, str) and url[:6].lower() == "https:":
                url = url[6:]
            ctx = httpslib.context_or_default(ssl_context if ssl_context is not None else self.ctx)
            self.ctx = ctx
            files: Dict[str, Any] = {k: v for k, v in (("key_file", self.key_file), ("cert_file", self.cert_file)) if v}

            def connection(host: str) -> httpslib.HTTPSConnection:
                return httpslib.HTTPSConnection(host, ssl_context=ctx, **files)

            return self._open_generic_http(connection, url, data)

    class FancyURLopener(URLopener, urllib.request.FancyURLopener):
        """urllib's FancyURLopener with M2Sec's HTTPS."""

else:  # pragma: no cover - Python without URLopener

    class URLopener:  # type: ignore[no-redef]
        """This Python has no URLopener: use M2Sec.m2urllib2."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("this Python has no urllib.request.URLopener; use M2Sec.m2urllib2")

        open_https = __init__


# M2Crypto's module-level function, installed as URLopener.open_https there.
open_https = URLopener.open_https
