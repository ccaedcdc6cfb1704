"""HTTPS for urllib.request over M2Sec's SSL (M2Crypto's m2urllib2).

``HTTPSHandler`` is urllib.request's HTTPS handler with an :class:`SSL.Context` and
:class:`httpslib.HTTPSConnection`; proxies (``ProxyHandler``, CONNECT tunnels), redirects and
authentication stay urllib's.  Without a context it keeps M2Crypto's behaviour (the host name is
checked, the chain is not) and warns with :class:`httpslib.UnverifiedHTTPSWarning`: M2Crypto's
programs and tests rely on it.  Pass ``SSL.create_default_context()`` to verify.
The module re-exports urllib.request and urllib.error, as M2Crypto's does.
"""

import urllib.request
from typing import TYPE_CHECKING, Any, Optional
from urllib.error import *  # noqa: F401,F403
from urllib.error import URLError
if TYPE_CHECKING:  # urllib.request's names but the two this module defines (mypy reads no shadowing)
    from urllib.request import (AbstractBasicAuthHandler as AbstractBasicAuthHandler,
        AbstractDigestAuthHandler as AbstractDigestAuthHandler, BaseHandler as BaseHandler,
        CacheFTPHandler as CacheFTPHandler, DataHandler as DataHandler, FTPHandler as FTPHandler,
        FancyURLopener as FancyURLopener, FileHandler as FileHandler,
        HTTPBasicAuthHandler as HTTPBasicAuthHandler, HTTPCookieProcessor as HTTPCookieProcessor,
        HTTPDefaultErrorHandler as HTTPDefaultErrorHandler, HTTPDigestAuthHandler as HTTPDigestAuthHandler,
        HTTPErrorProcessor as HTTPErrorProcessor, HTTPHandler as HTTPHandler,
        HTTPPasswordMgr as HTTPPasswordMgr,
        HTTPPasswordMgrWithDefaultRealm as HTTPPasswordMgrWithDefaultRealm,
        HTTPPasswordMgrWithPriorAuth as HTTPPasswordMgrWithPriorAuth,
        HTTPRedirectHandler as HTTPRedirectHandler, OpenerDirector as OpenerDirector,
        ProxyBasicAuthHandler as ProxyBasicAuthHandler, ProxyDigestAuthHandler as ProxyDigestAuthHandler,
        ProxyHandler as ProxyHandler, Request as Request, URLopener as URLopener,
        UnknownHandler as UnknownHandler, getproxies as getproxies, install_opener as install_opener,
        pathname2url as pathname2url, url2pathname as url2pathname, urlcleanup as urlcleanup,
        urlopen as urlopen, urlretrieve as urlretrieve)
else:
    from urllib.request import *  # noqa: F401,F403
from urllib.parse import urldefrag, urlparse as url_parse  # noqa: F401  (M2Crypto's names)
from urllib.request import AbstractHTTPHandler, BaseHandler, OpenerDirector  # noqa: F401
from urllib.response import addinfourl  # noqa: F401

from M2Sec import SSL, _sslsock, httpslib
from M2Sec.SSL.Checker import SSLVerificationError

# M2Crypto's name for the connection class whose files keep it open.
RefCountingSSLConnection = _sslsock.SocketConnection


class HTTPSHandler(urllib.request.HTTPSHandler):
    """Opens ``https://`` URLs with M2Sec's TLS.

    :param ssl_context: the :class:`SSL.Context`; if omitted, M2Crypto's unverified default
        ``SSL.Context()`` with an :class:`httpslib.UnverifiedHTTPSWarning`
    :param ssl_conn_cls: the :class:`SSL.Connection` class to use
    :raises TypeError: for an ssl_context that is not an SSL.Context
    """

    def __init__(self, ssl_context: Optional["SSL.Context"] = None,
                 ssl_conn_cls: type = RefCountingSSLConnection, debuglevel: int = 0) -> None:
        super().__init__(debuglevel)
        self.ctx = httpslib.context_or_unverified(ssl_context, "m2urllib2.HTTPSHandler")
        self._ssl_conn_cls = ssl_conn_cls

    def https_open(self, req: urllib.request.Request) -> Any:
        """The response to req (an ``http.client.HTTPResponse``).

        :raises URLError: for connection, TLS and certificate failures
        """
        try:
            return self.do_open(httpslib.HTTPSConnection, req, ssl_context=self.ctx,
                                ssl_conn_cls=self._ssl_conn_cls)
        except (SSL.SSLError, SSLVerificationError) as err:
            raise URLError(err) from err

    https_request = urllib.request.AbstractHTTPHandler.do_request_


def _is_handler(obj: Any) -> bool:
    return isinstance(obj, BaseHandler) or (isinstance(obj, type) and issubclass(obj, BaseHandler))


def build_opener(ssl_context: Optional["SSL.Context"] = None, *handlers: Any) -> OpenerDirector:
    """urllib.request's ``build_opener(*handlers)`` with an :class:`HTTPSHandler` for ssl_context.

    Unless one of handlers is an HTTPS handler already, ``HTTPSHandler(ssl_context)`` replaces
    urllib's own.  (A handler given first, where the context goes, counts as a handler.)
    """
    if _is_handler(ssl_context):
        handlers, ssl_context = (ssl_context,) + handlers, None
    if not any(isinstance(h, urllib.request.HTTPSHandler) or
               (isinstance(h, type) and issubclass(h, urllib.request.HTTPSHandler)) for h in handlers):
        handlers = (HTTPSHandler(ssl_context),) + handlers
    return urllib.request.build_opener(*handlers)
