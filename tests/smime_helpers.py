"""Fixtures' machinery for the S/MIME tests: a CA built with M2Sec's own X509 API (root ->
intermediate -> e-mail certificates, with revocation through ``openssl ca``), and a tiny
SMTP server on loopback that keeps the messages it receives."""

import os
import socketserver
import subprocess
import threading
from typing import Dict, List, Optional, Tuple

from M2Sec import EVP, X509

from pki_helpers import CA_CNF, CA_EXTS, build_cert, openssl

class M2SecCA:
    """root -> inter -> e-mail certificates, every certificate made by M2Sec; PEM files
    (``name.pem``, ``name.key``) in d for the openssl command line."""

    def __init__(self, d: str) -> None:
        self.d = d
        self.keys: Dict[str, EVP.PKey] = {}
        self.certs: Dict[str, X509.X509] = {}
        self._serial = 1
        root_key = self._key("root", "EC")
        self._save("root", build_cert("M2Sec Test Root", root_key, None, root_key, self._next(), CA_EXTS[:3]))
        inter_key = self._key("inter", "EC")
        self._save("inter", build_cert("M2Sec Test Inter", inter_key, self.certs["root"], root_key, self._next(),
                                       [("basicConstraints", "critical,CA:TRUE,pathlen:0")] + CA_EXTS[1:]))
        os.makedirs(self.path("newcerts"))  # for CA_CNF: openssl ca revokes, and signs CRLs with the inter key
        open(self.path("index.txt"), "w").close()
        with open(self.path("crlnumber"), "w") as f:
            f.write("01\n")
        with open(self.path("ca.cnf"), "w") as f:
            f.write(CA_CNF.format(d=d))

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def path(self, name: str) -> str:
        return os.path.join(self.d, name)

    def _key(self, name: str, alg: str, curve: str = "P-256") -> EVP.PKey:
        key = EVP.generate_key(alg, curve=curve) if alg == "EC" else EVP.generate_key(alg)
        key.save_key(self.path(name + ".key"), cipher=None)
        self.keys[name] = key
        return key

    def _save(self, name: str, cert: X509.X509) -> X509.X509:
        cert.save(self.path(name + ".pem"))
        self.certs[name] = cert
        return cert

    def person(self, name: str, alg: str = "RSA", eku: str = "emailProtection",
               issuer: str = "inter", curve: str = "P-256") -> Tuple[EVP.PKey, X509.X509]:
        """A key and an e-mail certificate for name@example.org (alg: RSA, EC with curve,
        X25519 or X448)."""
        key = self._key(name, alg, curve)
        usage = {"RSA": "critical,digitalSignature,keyEncipherment", "EC": "critical,digitalSignature,keyAgreement",
                 "X25519": "critical,keyAgreement", "X448": "critical,keyAgreement"}.get(alg, "critical,digitalSignature")
        exts = [("basicConstraints", "critical,CA:FALSE"), ("keyUsage", usage), ("extendedKeyUsage", eku),
                ("subjectAltName", "email:%s@example.org" % name), ("subjectKeyIdentifier", "hash"),
                ("authorityKeyIdentifier", "keyid")]
        cert = build_cert(name, key, self.certs[issuer], self.keys[issuer], self._next(), exts)
        return key, self._save(name, cert)

    def revoke(self, name: str) -> None:
        openssl("ca", "-batch", "-config", self.path("ca.cnf"), "-revoke", self.path(name + ".pem"),
                "-crl_reason", "keyCompromise")

    def crl(self, name: str = "inter.crl") -> str:
        """A CRL of the intermediate (openssl ca signs it with the M2Sec-made key)."""
        openssl("ca", "-batch", "-config", self.path("ca.cnf"), "-gencrl", "-out", self.path(name))
        return self.path(name)

    def chain_file(self) -> str:
        """root and inter in one PEM file."""
        p = self.path("chain.pem")
        with open(p, "wb") as f:
            f.write(self.certs["root"].as_pem() + self.certs["inter"].as_pem())
        return p


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 for smtplib.send_message."""

    timeout = 10

    def _reply(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")

    def handle(self) -> None:
        self._reply(b"220 localhost M2Sec test SMTP")
        lines: Optional[List[bytes]] = None
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            if lines is not None:
                if line == b".\r\n":
                    self.server.messages.append(b"".join(lines))  # type: ignore[attr-defined]
                    lines = None
                    self._reply(b"250 queued")
                else:
                    lines.append(line[1:] if line.startswith(b".") else line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                self._reply(b"250-localhost")
                self._reply(b"250 8BITMIME")
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                self._reply(b"250 ok")
            elif verb == b"DATA":
                lines = []
                self._reply(b"354 go ahead")
            elif verb == b"QUIT":
                self._reply(b"221 bye")
                return
            else:
                self._reply(b"502 not implemented")


class SMTPServer(socketserver.ThreadingTCPServer):
    """An SMTP server on 127.0.0.1 (a free port) keeping what it receives in ``messages``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.messages: List[bytes] = []
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)


def run(*args: str, input: Optional[bytes] = None) -> subprocess.CompletedProcess:
    """openssl *args without failing on a non-zero exit (for the tests that expect one)."""
    return subprocess.run(["openssl", *args], input=input, capture_output=True, timeout=60)


# ---- CMS.decrypt_stream's memory, measured in a fresh process (tests and bench/cms_stream_rss.py) ----

#: ``python -c DECRYPT_STREAM_CHILD msg key cert form out tmpdir``: CMS.decrypt_stream of the
#: file msg into the file out; prints how much the peak resident size (VmHWM) grew during the
#: call, in bytes, and the seconds it took
DECRYPT_STREAM_CHILD = r"""
import sys, time
from M2Sec import BIO, CMS, EVP, X509
msg, key, cert, form, out, tmpdir = sys.argv[1:7]
k, c = EVP.load_key(key), X509.load_cert(cert)
def hwm():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak so far forgotten: VmHWM is the peak from here on
before, t = hwm(), time.perf_counter()
with open(msg, "rb") as f, BIO.openfile(out, "wb") as o:
    CMS.decrypt_stream(f, k, c, out=o, form=form, tmpdir=tmpdir)
print(hwm() - before, time.perf_counter() - t)
"""


def same_file(a: str, b: str) -> bool:
    """True if the files a and b hold the same bytes (read in pieces)."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True
