"""M2Sec.m2xmlrpclib.SSL_Transport with xmlrpc.client, against ssl-module and M2Sec XML-RPC servers."""

import base64
import xmlrpc.client
from xmlrpc.server import SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

import pytest


from M2Sec import SSL, m2xmlrpclib
from integ_helpers import certs, running  # noqa: F401

pytestmark = pytest.mark.timeout(60)


class RecordingHandler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/RPC2",)
    auth = []

    def log_message(self, *args):
        pass

    def decode_request_content(self, data):
        self.auth.append(self.headers.get("Authorization"))
        return super().decode_request_content(data)


def register(server):
    server.register_function(lambda a, b: a + b, "add")
    server.register_function(lambda data: data.data[::-1], "reverse")

    def fail():
        raise ValueError("as asked")

    server.register_function(fail, "fail")
    return server


class PyXMLRPCServer(SimpleXMLRPCServer):
    daemon_threads = True

    def __init__(self, ctx):
        super().__init__(("127.0.0.1", 0), RecordingHandler, logRequests=False, allow_none=True)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)


class M2SecXMLRPCServer(SSL.ThreadingSSLServer, SimpleXMLRPCDispatcher):
    """xmlrpc.server's dispatcher and handler over M2Sec's SSLServer."""

    daemon_threads = True
    allow_reuse_address = True
    logRequests = False

    def __init__(self, ctx):
        SimpleXMLRPCDispatcher.__init__(self, allow_none=True)
        SSL.ThreadingSSLServer.__init__(self, ("127.0.0.1", 0), RecordingHandler, ctx)

    def handle_error(self, request, client_address):
        pass


@pytest.fixture(params=["python-ssl", "m2sec"])
def server(request, certs):
    srv = register(PyXMLRPCServer(certs.py_server_ctx()) if request.param == "python-ssl"
                   else M2SecXMLRPCServer(certs.server_ctx()))
    with running(srv):
        yield srv


def rpc_url(server, host="localhost", path="/RPC2", userinfo=""):
    return "https://%s%s:%d%s" % (userinfo, host, server.server_address[1], path)


def test_calls(certs, server):
    proxy = xmlrpc.client.ServerProxy(rpc_url(server), transport=m2xmlrpclib.SSL_Transport(certs.client_ctx()))
    assert proxy.add(2, 3) == 5
    assert proxy.add("a", "b") == "ab"
    assert proxy.reverse(xmlrpc.client.Binary(b"\x00\x01\x02" * 1000)).data == b"\x02\x01\x00" * 1000
    with pytest.raises(xmlrpc.client.Fault, match="as asked"):
        proxy.fail()


def test_basic_auth_header(certs, server):
    RecordingHandler.auth.clear()
    proxy = m2xmlrpclib.ServerProxy(rpc_url(server, userinfo="alice:s%40cret@"),
                                    transport=m2xmlrpclib.SSL_Transport(certs.client_ctx()))
    assert proxy.add(1, 1) == 2
    assert RecordingHandler.auth[-1] == "Basic " + base64.b64encode(b"alice:s@cret").decode()


def test_wrong_path_is_protocol_error(certs, server):
    proxy = xmlrpc.client.ServerProxy(rpc_url(server, path="/nope"),
                                      transport=m2xmlrpclib.SSL_Transport(certs.client_ctx()))
    with pytest.raises(xmlrpc.client.ProtocolError) as e:
        proxy.add(1, 2)
    assert e.value.errcode == 404
    assert "alice" not in e.value.url


def test_default_transport_verifies(certs, server):
    t = m2xmlrpclib.SSL_Transport()
    assert isinstance(t.ssl_ctx, SSL.Context)
    with pytest.raises(SSL.SSLError):
        xmlrpc.client.ServerProxy(rpc_url(server), transport=t).add(1, 2)


def test_wrong_host_rejected(certs):
    # a certificate for www.example.com, reached as localhost
    with running(register(M2SecXMLRPCServer(certs.server_ctx(certs.other_chain, certs.other_key)))) as srv:
        with pytest.raises((SSL.SSLError, SSL.Checker.SSLVerificationError)):
            xmlrpc.client.ServerProxy(rpc_url(srv), transport=m2xmlrpclib.SSL_Transport(certs.client_ctx())).add(1, 2)


def test_python_client_against_m2sec_server(certs):
    with running(register(M2SecXMLRPCServer(certs.server_ctx()))) as srv:
        proxy = xmlrpc.client.ServerProxy(rpc_url(srv), context=certs.py_client_ctx())
        assert proxy.add(20, 22) == 42
        assert proxy.reverse(xmlrpc.client.Binary(b"abc")).data == b"cba"


def test_junk_context():
    with pytest.raises(TypeError):
        m2xmlrpclib.SSL_Transport(ssl_context=object())
    assert m2xmlrpclib.SSL_Transport.user_agent.startswith("M2Sec_XMLRPC/")
    assert m2xmlrpclib.SSL_Transport.splitport("[::1]:8443") == ("[::1]", "8443")
    assert m2xmlrpclib.SSL_Transport.splitport("example.org") == ("example.org", None)
    assert m2xmlrpclib.SSL_Transport.splituser("u:p@h:1") == ("u:p", "h:1")
