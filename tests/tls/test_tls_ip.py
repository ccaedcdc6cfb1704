"""Clients reaching a server by IP address: the address is matched against the certificate's
iPAddress subjectAltNames (never a DNS name or the CN) and is not sent as SNI (RFC 6066
section 3), for IPv4 and IPv6, through TLSConnection and the integrations, against M2Sec's
own server, Python's ssl module and openssl s_server."""

import http.server
import socket
import ssl
import threading

import pytest

from conftest import TIMEOUT, free_port
from M2Sec import m2
from M2Sec.TLS import AlertDescription, HTTPTLSConnection, POP3_TLS, TLSConnection, TLSLocalAlert, TLSRemoteAlert

pytestmark = pytest.mark.timeout(60)

# name: (subjectAltName, subject): certificates for one address, for another, for a DNS name only
CERTS = {
    "ip4": ("IP:127.0.0.1", "/CN=ip4"),
    "ip4-other": ("IP:127.0.0.2,DNS:localhost", "/CN=127.0.0.1"),
    "ip4-dns": ("DNS:localhost", "/CN=127.0.0.1"),
    "ip6": ("IP:::1", "/CN=ip6"),
    "ip6-other": ("IP:::2,IP:127.0.0.1", "/CN=::1"),
    "ip6-dns": ("DNS:localhost", "/CN=::1"),
}
GOOD = [("ip4", "127.0.0.1"), ("ip6", "::1")]
BAD = [("ip4-other", "127.0.0.1"), ("ip4-dns", "127.0.0.1"), ("ip6-other", "::1"), ("ip6-dns", "::1")]


@pytest.fixture(scope="module")
def ipcreds(creds):
    for name, (san, subject) in CERTS.items():
        creds.issue(name, san, subject)
    return creds


def serve(creds, name):
    """A handler: M2Sec's TLS server with certificate name; returns the SNI it received ('' for none)."""
    def handler(sock):
        conn = TLSConnection(sock)
        conn.handshakeServer(certChain=creds.chain(name), privateKey=creds.key(name))
        conn.write(conn.read())
        conn.close()
        return conn.session.serverName
    return handler


def assert_ip_mismatch(exc):
    """The documented verification failure: TLSLocalAlert(bad_certificate) with the verify code."""
    assert exc.description == AlertDescription.bad_certificate
    assert exc.verify_code == m2.X509_V_ERR_IP_ADDRESS_MISMATCH


@pytest.mark.parametrize("name, host", GOOD)
def test_right_ip_san_passes_without_sni(ipcreds, server, name, host):
    srv = server(serve(ipcreds, name), host=host)
    conn = TLSConnection(srv.connect())
    conn.handshakeClientCert(serverName=host, cafile=ipcreds.cafile)
    assert conn.session.serverName == host
    conn.write(b"ping")
    assert conn.read() == b"ping"
    conn.close()
    srv.join()
    assert not srv.errors and srv.results == [""]      # no SNI reached the server


@pytest.mark.parametrize("name, host", BAD)
def test_wrong_ip_or_dns_only_fails(ipcreds, server, name, host):
    srv = server(serve(ipcreds, name), host=host)
    sock = srv.connect()
    with pytest.raises(TLSLocalAlert) as info:
        TLSConnection(sock).handshakeClientCert(serverName=host, cafile=ipcreds.cafile)
    assert_ip_mismatch(info.value)
    assert sock.fileno() == -1
    srv.join()
    assert isinstance(srv.errors[0], TLSRemoteAlert)


def python_https(creds, name, host, seen):
    """An HTTPS server on Python's ssl module at host with certificate name; the SNI of each
    client goes into seen.  Returns (httpd, thread)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(creds.path(name + "-chain.pem"), creds.path(name + ".key"))
    ctx.sni_callback = lambda sslobj, server_name, context: seen.append(server_name)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    class Server(http.server.HTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        def handle_error(self, request, client_address):
            pass                                     # the failed handshakes are expected

    httpd = Server((host, 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    return httpd, t


@pytest.mark.parametrize("good, bad, host", [("ip4", "ip4-other", "127.0.0.1"), ("ip6", "ip6-dns", "::1")])
def test_http_integration_to_ip_host(ipcreds, good, bad, host):
    for name, ok in ((good, True), (bad, False)):
        seen = []
        httpd, t = python_https(ipcreds, name, host, seen)
        try:
            h = HTTPTLSConnection(host, httpd.server_address[1], timeout=TIMEOUT, cafile=ipcreds.cafile)
            if ok:
                h.request("GET", "/")
                assert h.getresponse().read() == b"ok"
                assert h.tlsSession.serverName == host
            else:
                with pytest.raises(TLSLocalAlert) as info:
                    h.request("GET", "/")
                assert_ip_mismatch(info.value)
            h.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
            t.join(TIMEOUT)
        assert seen in ([None], []), seen             # the handshake sent no SNI


def test_pop3_integration_to_wrong_ip(ipcreds, server):
    srv = server(serve(ipcreds, "ip4-dns"))
    with pytest.raises(TLSLocalAlert) as info:
        POP3_TLS("127.0.0.1", srv.port, timeout=TIMEOUT, cafile=ipcreds.cafile)
    assert_ip_mismatch(info.value)
    srv.join()


@pytest.mark.parametrize("name, ok", [("ip4", True), ("ip4-other", False)])
def test_openssl_s_server_sees_no_sni(ipcreds, process, name, ok):
    port = free_port()
    peer = process(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", ipcreds.path(name + ".pem"),
                    "-key", ipcreds.path(name + ".key"), "-cert_chain", ipcreds.path("inter.pem"), "-tlsextdebug",
                    "-www", "-naccept", "2"], port=port)     # the port probe, then this client
    conn = TLSConnection(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT))
    if ok:
        conn.handshakeClientCert(serverName="127.0.0.1", cafile=ipcreds.cafile)
        conn.write(b"GET / HTTP/1.0\r\n\r\n")
        assert conn.read(min=15).startswith(b"HTTP/1.0 200 ok")
        conn.close()
    else:
        with pytest.raises(TLSLocalAlert) as info:
            conn.handshakeClientCert(serverName="127.0.0.1", cafile=ipcreds.cafile)
        assert_ip_mismatch(info.value)
    out = peer.communicate(timeout=TIMEOUT)[0].decode(errors="replace")     # it exits (and flushes)
    assert 'extension "supported versions"' in out      # -tlsextdebug listed the extensions...
    assert 'extension "server name"' not in out        # ...and SNI was not among them
