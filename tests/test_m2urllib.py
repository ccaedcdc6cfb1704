"""M2Sec.m2urllib2 (urllib.request's opener) and M2Sec.m2urllib (the legacy URLopener) over M2Sec's TLS."""

import urllib.parse
import urllib.request
import warnings

import pytest


from M2Sec import SSL, m2urllib, m2urllib2
from integ_helpers import BODY, certs, m2_https, proxy, py_https, url  # noqa: F401

pytestmark = pytest.mark.timeout(60)


def test_build_opener_with_context(certs, py_https, m2_https):
    opener = m2urllib2.build_opener(certs.client_ctx())
    for server in (py_https, m2_https):
        with opener.open(url(server)) as r:
            assert r.status == 200 and r.read() == BODY
            assert r.geturl() == url(server)
            assert r.info()["Content-Length"] == str(len(BODY))


def test_opener_has_one_https_handler(certs):
    opener = m2urllib2.build_opener(certs.client_ctx())
    https = [h for h in opener.handlers if isinstance(h, urllib.request.HTTPSHandler)]
    assert len(https) == 1 and isinstance(https[0], m2urllib2.HTTPSHandler)
    # a handler in the context's place is taken as a handler
    opener = m2urllib2.build_opener(urllib.request.HTTPBasicAuthHandler())
    assert any(isinstance(h, urllib.request.HTTPBasicAuthHandler) for h in opener.handlers)
    assert any(isinstance(h, m2urllib2.HTTPSHandler) for h in opener.handlers)
    # the caller's own HTTPS handler wins
    mine = m2urllib2.HTTPSHandler(certs.client_ctx())
    opener = m2urllib2.build_opener(None, mine)
    assert [h for h in opener.handlers if isinstance(h, urllib.request.HTTPSHandler)] == [mine]


def test_default_opener_is_m2cryptos_unverified_one(certs, py_https):
    from M2Sec import httpslib
    from integ_helpers import PySSLHTTPServer, running
    with pytest.warns(httpslib.UnverifiedHTTPSWarning):
        opener = m2urllib2.build_opener()
    with opener.open(url(py_https)) as r:  # an untrusted chain passes, as in M2Crypto
        assert r.read() == BODY
    # the host name is still checked after the handshake
    with running(PySSLHTTPServer(certs.py_server_ctx(certs.other_chain, certs.other_key))) as server:
        with pytest.raises(m2urllib2.URLError):
            opener.open(url(server))
    # the safe default context refuses the untrusted chain
    with pytest.raises(m2urllib2.URLError):
        m2urllib2.build_opener(SSL.create_default_context()).open(url(py_https))


def test_wrong_host_is_url_error(certs):
    from integ_helpers import PySSLHTTPServer, running
    # a certificate for www.example.com, reached as localhost
    with running(PySSLHTTPServer(certs.py_server_ctx(certs.other_chain, certs.other_key))) as server:
        with pytest.raises(m2urllib2.URLError):
            m2urllib2.build_opener(certs.client_ctx()).open(url(server))


def test_ip_address_url(certs, py_https):
    with m2urllib2.build_opener(certs.client_ctx()).open(url(py_https, host="127.0.0.1")) as r:
        assert r.read() == BODY  # the certificate names IP:127.0.0.1 too


def test_http_error_and_install_opener(certs, m2_https):
    opener = m2urllib2.build_opener(certs.client_ctx(), m2urllib2.HTTPBasicAuthHandler())
    with pytest.raises(m2urllib2.HTTPError) as e:
        opener.open(url(m2_https, path="/missing"))
    assert e.value.code == 404
    e.value.close()
    m2urllib2.install_opener(opener)
    try:
        with m2urllib2.urlopen(m2urllib2.Request(url(m2_https))) as r:
            assert r.read() == BODY
        with m2urllib2.urlopen(url(m2_https, path="/echo"), data=b"posted") as r:
            assert r.read() == b"posted"
    finally:
        m2urllib2.install_opener(None)


def test_through_proxy_handler(certs, py_https, proxy):
    proxies = m2urllib2.ProxyHandler({"https": "http://127.0.0.1:%d" % proxy.server_address[1]})
    opener = m2urllib2.build_opener(certs.client_ctx(), proxies)
    with opener.open(url(py_https)) as r:
        assert r.read() == BODY
    assert proxy.requests and proxy.requests[0].startswith(b"CONNECT localhost:")


def test_handler_rejects_junk_context():
    with pytest.raises(TypeError):
        m2urllib2.HTTPSHandler("junk")


def test_urlopener(certs, py_https):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        opener = m2urllib.URLopener(ssl_context=certs.client_ctx())
        with opener.open(url(py_https)) as r:
            assert r.read() == BODY
        # M2Crypto's call: open_https(url, data, ssl_context)
        with m2urllib.URLopener().open_https(url(py_https, path="/echo"), b"abc", certs.client_ctx()) as r:
            assert r.read() == b"abc"
        with pytest.raises(SSL.SSLError):
            m2urllib.URLopener().open_https(url(py_https))
        assert m2urllib.urlparse is urllib.parse.urlparse  # re-exports

