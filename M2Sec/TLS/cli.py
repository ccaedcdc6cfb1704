"""The command line of the TLS API: ``m2sec tls server|client`` and ``m2sec tlsdb``.

    m2sec tls server [-k KEY -c CERT] [-v VERIFIERDB] [--reqcert] [--dir DIR] HOST:PORT
    m2sec tls client [-k KEY -c CERT] [-u USER -p PASS] [--cafile F] [--insecure] HOST:PORT
    m2sec tlsdb createsrp DB | add DB USER PASS [BITS] | del DB USER | check DB USER [PASS] | list DB
"""

import argparse
import functools
import getpass
import http.server
import socket
import sys
import time
from typing import Any, List, Optional, Tuple

from M2Sec.TLS.checker import Checker
from M2Sec.TLS.errors import TLSError
from M2Sec.TLS.integration import TLSSocketServerMixIn
from M2Sec.TLS.keys import parsePEMKey
from M2Sec.TLS.sessioncache import SessionCache
from M2Sec.TLS.tlsconnection import TLSConnection
from M2Sec.TLS.verifierdb import VerifierDB
from M2Sec.TLS.x509 import X509CertChain


def _address(text: str) -> Tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("HOST:PORT expected, got %r" % text)
    return host.strip("[]") or "127.0.0.1", int(port)


def _pin(text: str) -> Checker:
    """A Checker pinning the SHA-1 fingerprint text."""
    try:
        return Checker(x509Fingerprint=text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _credentials(args: argparse.Namespace) -> Tuple[Optional[X509CertChain], object]:
    if bool(args.key) != bool(args.cert):
        raise SystemExit("-k KEY and -c CERT go together")
    if not args.key:
        return None, None
    with open(args.cert) as f:
        chain = X509CertChain().parsePemList(f.read())
    with open(args.key) as f:
        key = parsePEMKey(f.read(), private=True, passwordCallback=lambda: getpass.getpass("Key passphrase: "))
    return chain, key


def _describe(conn: TLSConnection, elapsed: Optional[float] = None) -> str:
    s = conn.session
    lines = ["  Version: %s" % conn.getVersionName(),
             "  Cipher: %s (%s)" % (conn.getCipherName(), s._cipher)]
    if elapsed is not None:
        lines.insert(0, "  Handshake time: %.3f seconds" % elapsed)
    if s.srpUsername:
        lines.append("  SRP username: %s" % s.srpUsername)
    chain = s.serverCertChain if conn._client else s.clientCertChain
    if chain:
        cert: Any = chain.x509List[0].x509  # an X509.X509 (None only in an empty TLS Lite X509)
        lines.append("  Peer certificate: %s" % cert.get_subject().as_text())
        lines.append("  Peer fingerprint (SHA-1): %s" % chain.getFingerprint())
    if conn.next_proto:
        lines.append("  ALPN: %s" % conn.next_proto.decode("ascii", "replace"))
    lines.append("  Resumed: %s" % conn.resumed)
    return "\n".join(lines)


def client(args: argparse.Namespace) -> int:
    host, port = args.address
    chain, key = _credentials(args)
    checker = args.fingerprint
    sock = socket.create_connection((host, port), timeout=args.timeout)
    conn = TLSConnection(sock)
    start = time.monotonic()
    try:
        if args.user:
            password = args.password if args.password is not None else getpass.getpass()
            conn.handshakeClientSRP(args.user, password, checker=checker, serverName=args.servername or host,
                                    cafile=args.cafile, verify=not args.insecure)
        else:
            conn.handshakeClientCert(chain, key, checker=checker, serverName=args.servername or host,
                                     cafile=args.cafile, verify=not args.insecure, alpn=args.alpn or None)
    except (TLSError, OSError) as e:
        print("Handshake failed: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    elapsed = time.monotonic() - start
    print("Handshake success\n" + _describe(conn, elapsed))
    if args.get:
        conn.write(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (args.get, host)).encode("ascii"))
        while True:
            data = conn.read()
            if not data:
                break
            sys.stdout.buffer.write(data)
        sys.stdout.flush()
    conn.close()
    return 0


def server(args: argparse.Namespace) -> int:
    host, port = args.address
    chain, key = _credentials(args)
    db = None
    if args.verifierdb:
        db = VerifierDB(args.verifierdb)
        db.open()
    if chain is None and db is None:
        raise SystemExit("a server needs -k KEY -c CERT, -v VERIFIERDB, or both")
    cache = SessionCache()

    class Server(TLSSocketServerMixIn, http.server.ThreadingHTTPServer):  # type: ignore[misc]  # finish_request(sock, ...)
        daemon_threads = True

        def handshake(self, conn: TLSConnection) -> bool:
            conn.sock.settimeout(args.timeout)
            try:
                start = time.monotonic()
                conn.handshakeServer(certChain=chain, privateKey=key, verifierDB=db, reqCert=args.reqcert,
                                     sessionCache=cache, cafile=args.cafile)
                print("Handshake success\n" + _describe(conn, time.monotonic() - start), flush=True)
                return True
            except (TLSError, OSError) as e:
                print("Handshake failed: %s: %s" % (type(e).__name__, e), flush=True)
                return False

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=args.dir)
    httpd = Server((host, port), handler)
    print("Serving %s over HTTPS on %s:%d" % (args.dir, host, httpd.server_address[1]), flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


def tls_main(argv: Optional[List[str]] = None) -> int:
    """``m2sec tls server|client ...``"""
    p = argparse.ArgumentParser(prog="m2sec tls", description="TLS test client and HTTPS server")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("server", "client"):
        q = sub.add_parser(name)
        q.add_argument("-k", "--key", help="private key (PEM)")
        q.add_argument("-c", "--cert", help="certificate chain (PEM)")
        q.add_argument("--cafile", help="trusted CAs (PEM); the system store by default")
        q.add_argument("--timeout", type=float, default=30.0, help="socket timeout in seconds")
        q.add_argument("address", type=_address, metavar="HOST:PORT")
    s = sub.choices["server"]
    s.add_argument("-v", "--verifierdb", help="SRP verifier database (m2sec tlsdb)")
    s.add_argument("--reqcert", action="store_true", help="ask clients for a certificate")
    s.add_argument("--dir", default=".", help="directory to serve (default: the current one)")
    c = sub.choices["client"]
    c.add_argument("-u", "--user", help="SRP username")
    c.add_argument("-p", "--password", help="SRP password (asked for when -u is given alone)")
    c.add_argument("--servername", help="name to send and check (default: HOST)")
    c.add_argument("--fingerprint", type=_pin, help="SHA-1 fingerprint the server's certificate must have")
    c.add_argument("--alpn", action="append", help="ALPN protocol to offer (repeatable)")
    c.add_argument("--insecure", action="store_true", help="do not verify the server's chain and name")
    c.add_argument("--get", metavar="PATH", help="send GET PATH and print the response")
    args = p.parse_args(argv)
    return server(args) if args.command == "server" else client(args)


def tlsdb_main(argv: Optional[List[str]] = None) -> int:
    """``m2sec tlsdb createsrp|add|del|check|list DB ...``"""
    p = argparse.ArgumentParser(prog="m2sec tlsdb", description="manage SRP verifier databases")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("createsrp").add_argument("db")
    a = sub.add_parser("add")
    a.add_argument("db")
    a.add_argument("username")
    a.add_argument("password")
    a.add_argument("bits", type=int, nargs="?", default=2048)
    d = sub.add_parser("del")
    d.add_argument("db")
    d.add_argument("username")
    k = sub.add_parser("check")
    k.add_argument("db")
    k.add_argument("username")
    k.add_argument("password", nargs="?")
    sub.add_parser("list").add_argument("db")
    args = p.parse_args(argv)
    db = VerifierDB(args.db)
    if args.command == "createsrp":
        db.create()
        db.close()
        return 0
    try:
        db.open()
    except (OSError, ValueError) as e:
        print("cannot open %s: %s" % (args.db, e), file=sys.stderr)
        return 1
    try:
        if args.command == "add":
            db[args.username] = VerifierDB.makeVerifier(args.username, args.password, args.bits)
        elif args.command == "del":
            del db[args.username]
        elif args.command == "check":
            if args.username not in db:
                print("Username does not exist")
                return 1
            if args.password is not None:
                ok = db.check(args.username, args.password)
                print("Password is correct" if ok else "Password is wrong")
                return 0 if ok else 1
            print("Username exists")
        else:
            print("Verifier Database")
            for name in db.keys():
                N, g, salt, v = db[name]
                print("%s %d" % (name, N.bit_length()))
    except KeyError as e:
        print("no such user: %s" % e, file=sys.stderr)
        return 1
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 1
    finally:
        db.close()
    return 0
