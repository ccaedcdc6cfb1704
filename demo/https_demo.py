#!/usr/bin/env python3
"""HTTPS on loopback: an M2Sec server and a verifying M2Sec client.

A throw-away CA and a certificate for localhost are made with M2Sec's X509 API; the server is
M2Sec's ThreadingSSLServer with http.server's handler; the client is httpslib with a context
that trusts the demo CA only, and checks the chain and the host name.  Then the same client
asks for 127.0.0.1, which the certificate (DNS:localhost only) does not name, and is refused.
"""

import http.server
import os
import shutil
import sys
import tempfile
import threading
import time

from M2Sec import ASN1, EVP, SSL, X509, httpslib


def make_cert(cn: str, key: EVP.PKey, issuer_key: EVP.PKey, issuer: "X509.X509 | None", ext: list) -> X509.X509:
    name = X509.X509_Name()
    name.CN, name.O = cn, "M2Sec demo"
    cert = X509.X509()
    cert.set_version(2)
    cert.set_serial_number(int.from_bytes(os.urandom(8), "big"))
    cert.set_subject_name(name)
    cert.set_issuer(issuer.get_subject() if issuer else name)
    cert.set_pubkey(key)
    for when, setter in ((time.time() - 60, cert.set_not_before), (time.time() + 3600, cert.set_not_after)):
        t = ASN1.ASN1_TIME()
        t.set_time(int(when))
        setter(t)
    for field, value in ext:
        cert.add_ext(X509.new_extension(field, value, critical=int(field == "basicConstraints")))
    cert.sign(issuer_key, "sha256")
    return cert


def mint_localhost(d: str) -> dict:
    """A demo CA and a certificate for localhost (EC P-256) in d: {"ca", "cert", "key"} -> PEM path."""
    ca_key, key = EVP.generate_key("EC", curve="P-256"), EVP.generate_key("EC", curve="P-256")
    ca = make_cert("M2Sec demo CA", ca_key, ca_key, None, [("basicConstraints", "CA:TRUE")])
    cert = make_cert("localhost", key, ca_key, ca, [("subjectAltName", "DNS:localhost")])
    paths = {n: os.path.join(d, n + ".pem") for n in ("ca", "cert", "key")}
    ca.save_pem(paths["ca"])
    cert.save_pem(paths["cert"])
    key.save_key(paths["key"], cipher=None)
    return paths


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello over %s\n" % self.request.get_version().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Server(SSL.ThreadingSSLServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        print("server: a client gave up the handshake (as the refused one should)")


def main() -> int:
    d = tempfile.mkdtemp(prefix="m2sec-https-demo-")
    paths = mint_localhost(d)
    print("minted a demo CA and a certificate for localhost (EC P-256)")

    server_ctx = SSL.Context()
    server_ctx.load_cert_chain(paths["cert"], paths["key"])
    server = Server(("127.0.0.1", 0), Hello, server_ctx)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("M2Sec HTTPS server on https://localhost:%d/" % port)

    # verifies the chain (up to the demo CA only) and the host name
    client_ctx = SSL.create_default_context(cafile=paths["ca"])
    try:
        conn = httpslib.HTTPSConnection("localhost", port, ssl_context=client_ctx)
        conn.connect()
        tls = conn.sock
        print("client: %s, %s, server certificate CN=%s verified" % (
            tls.get_version(), tls.get_cipher().name(), tls.get_peer_cert().get_subject().CN))
        conn.request("GET", "/")
        resp = conn.getresponse()
        print("client: %d %s, body %r" % (resp.status, resp.reason, resp.read()))
        conn.close()

        wrong = httpslib.HTTPSConnection("127.0.0.1", port, ssl_context=client_ctx, timeout=5)
        try:
            wrong.request("GET", "/")
            print("client: 127.0.0.1 was accepted, which it must not be")
            return 1
        except (SSL.SSLError, SSL.Checker.SSLVerificationError, OSError) as e:
            print("client: a name the certificate lacks (127.0.0.1) is refused:", e)
        finally:
            wrong.close()
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(d)
    print("https demo finished: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
