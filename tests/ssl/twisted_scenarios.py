"""Twisted scenarios for test_ssl_twisted, one per process (Twisted's reactor runs once):
``python twisted_scenarios.py SCENARIO PKI_DIR [PORT]`` prints one JSON line of results."""

import json
import socket
import ssl
import sys

from twisted.internet import protocol, reactor, threads

from M2Sec import SSL
from M2Sec.SSL import TwistedProtocolWrapper as wrapper

result = {}


def finish(**kw):
    result.update(kw)
    if reactor.running:
        reactor.stop()


class Client(protocol.Protocol):
    """Sends a line, collects what comes back until the server closes."""

    def connectionMade(self):
        self.received = b""
        self.transport.write(b"hello twisted\n")

    def dataReceived(self, data):
        self.received += data
        if b"\n" in self.received:
            result["cipher"] = self.transport.tls.cipher()[1]
            self.transport.loseConnection()

    def connectionLost(self, reason):
        err = reason.value
        finish(received=self.received.decode(), reason=type(err).__name__, error=str(err),
               verify_error=isinstance(err, SSL.SSLCertVerificationError),
               check_error=isinstance(err, SSL.SSLVerificationError))


class Upper(protocol.Protocol):
    """Answers each line in upper case and records the client's certificate."""

    def dataReceived(self, data):
        cert = self.transport.tls.get_peer_cert()
        result["client_cn"] = cert.get_subject().CN if cert is not None else None
        self.transport.write(data.upper())
        self.transport.loseConnection()


class ContextFactory:
    def __init__(self, ctx):
        self.ctx = ctx

    def getContext(self):
        return self.ctx


def client_ctx(d):
    ctx = SSL.Context()
    ctx.set_verify(SSL.verify_peer | SSL.verify_fail_if_no_peer_cert, 9)
    ctx.load_verify_locations(d + "/root.pem")
    return ctx


def client(d, port):
    """An M2Sec-wrapped Twisted client (verifying the server) against port."""
    wrapper.connectSSL("127.0.0.1", port, protocol.ClientFactory.forProtocol(Client), ContextFactory(client_ctx(d)))


def server(d, port):
    """An M2Sec-wrapped Twisted server requiring a client certificate, against Python's ssl."""
    ctx = SSL.Context()
    ctx.load_cert_chain(d + "/server-chain.pem", d + "/server.key")
    ctx.set_verify(SSL.verify_peer | SSL.verify_fail_if_no_peer_cert, 9)
    ctx.load_verify_locations(d + "/root.pem")
    listening = wrapper.listenSSL(0, protocol.Factory.forProtocol(Upper), ContextFactory(ctx), interface="127.0.0.1")

    def python_client(port):
        pctx = ssl.create_default_context(cafile=d + "/root.pem")
        pctx.load_cert_chain(d + "/client-chain.pem", d + "/client.key")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            with pctx.wrap_socket(sock, server_hostname="localhost") as tls:
                tls.sendall(b"hello twisted\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = tls.recv(100)
                    if not chunk:
                        break
                    data += chunk
                return data.decode(), tls.version()

    d_ = threads.deferToThread(python_client, listening.getHost().port)
    d_.addCallbacks(lambda r: finish(received=r[0], version=r[1]), lambda f: finish(error=str(f.value)))


def main():
    scenario, d = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    {"client": client, "server": server}[scenario](d, port)
    reactor.callLater(20, finish, timeout=True)
    reactor.run()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
