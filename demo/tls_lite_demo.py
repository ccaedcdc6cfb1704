"""The TLS Lite-style API, step by step, on loopback: a certificate handshake (verified against
a CA made here), session resumption, then SRP with a verifier database.

    python demo/tls_lite_demo.py
"""

import os
import socket
import subprocess
import tempfile
import threading

from M2Sec.TLS import (AlertDescription, SessionCache, TLSConnection, TLSRemoteAlert, VerifierDB,
                       X509CertChain, parsePEMKey)


def make_pki(d):
    """A CA and a certificate for localhost, with the openssl command line."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-subj", "/CN=Demo CA", "-days", "1")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "1", "-extfile", "ext")


def serve(listener, n, **handshake_args):
    """Accept n connections; handshake, echo one message, close."""
    for _ in range(n):
        sock, _ = listener.accept()
        sock.settimeout(10)
        conn = TLSConnection(sock)
        try:
            conn.handshakeServer(**handshake_args)
            conn.write(b"echo: " + conn.read())
            conn.close()
        except Exception as e:
            print("  server:", type(e).__name__, e)


def main():
    d = tempfile.mkdtemp()
    make_pki(d)
    with open(os.path.join(d, "server.pem")) as f:
        chain = X509CertChain().parsePemList(f.read())
    with open(os.path.join(d, "server.key")) as f:
        key = parsePEMKey(f.read(), private=True)

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    t = threading.Thread(target=serve, args=(listener, 2),
                         kwargs=dict(certChain=chain, privateKey=key, sessionCache=SessionCache()))
    t.start()
    session = None
    for i in range(2):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)     # 1. a connected socket
        conn = TLSConnection(sock)                                            # 2. a TLSConnection
        conn.handshakeClientCert(serverName="localhost", session=session,     # 3. a handshake
                                 cafile=os.path.join(d, "ca.pem"))
        print("certificate handshake: %s, %s, resumed=%s, server fingerprint %s" % (   # 4. the results
            conn.getVersionName(), conn.getCipherName(), conn.resumed,
            conn.session.serverCertChain.getFingerprint()))
        conn.write(b"hello")                                                  # 5. data
        print(" ", conn.read())
        conn.close()                                                          # 6. close
        session = conn.session
    t.join()

    db = VerifierDB()
    db.create()
    db["alice"] = VerifierDB.makeVerifier("alice", "abra123cadabra", 2048)
    t = threading.Thread(target=serve, args=(listener, 2), kwargs=dict(verifierDB=db))
    t.start()
    conn = TLSConnection(socket.create_connection(("127.0.0.1", port), timeout=10))
    conn.handshakeClientSRP("alice", "abra123cadabra")
    print("SRP handshake: %s, %s, user %s" % (conn.getVersionName(), conn.getCipherName(), conn.session.srpUsername))
    conn.write(b"hi")
    print(" ", conn.read())
    conn.close()
    try:
        TLSConnection(socket.create_connection(("127.0.0.1", port), timeout=10)).handshakeClientSRP("alice", "guess")
    except TLSRemoteAlert as alert:
        assert alert.description == AlertDescription.bad_record_mac
        print("wrong password: the server sent", alert)
    t.join()
    listener.close()


if __name__ == "__main__":
    main()
