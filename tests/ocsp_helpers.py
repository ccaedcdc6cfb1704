"""Helpers of the OCSP and stapling tests: a PKI minted with M2Sec's X509 API (certificates
carry AIA OCSP URLs), the ``openssl ocsp`` responder on a free loopback port, and an M2Sec
responder served by http.server in a thread.  Every process and thread is stopped."""

import datetime
import http.server
import os
import select
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, Optional

from M2Sec import EVP, OCSP, X509

from pki_helpers import CA_EXTS, build_cert

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ssl"))
from ssl_helpers import free_port, wait_port  # noqa: E402,F401  (shared with the stapling tests)


class OCSPPKI:
    """root -> ca -> leaves (good, revoked, unknown to the responders, a TLS server for
    localhost), a delegated responder (id-kp-OCSPSigning, from ca), a rogue responder (from
    ca, no OCSPSigning), and a second root with its own ca ("other").  EC P-256 throughout.
    Certificates name ``url`` as their OCSP responder; files are written under d."""

    def __init__(self, d: str, url: str = "http://127.0.0.1:9/") -> None:
        self.d = d
        self.url = url
        self.keys: Dict[str, EVP.PKey] = {}
        self.certs: Dict[str, X509.X509] = {}
        self._serial = 0x1000
        aia = ("authorityInfoAccess", "OCSP;URI:" + url)
        self._make("root", None, CA_EXTS[:3])
        self._make("ca", "root", CA_EXTS + [aia])
        leaf = [("basicConstraints", "critical,CA:FALSE"), ("keyUsage", "critical,digitalSignature"),
                ("subjectKeyIdentifier", "hash"), ("authorityKeyIdentifier", "keyid"), aia]
        for name in ("good", "revoked", "unknown"):
            self._make(name, "ca", leaf)
        self._make("server", "ca", leaf + [("subjectAltName", "DNS:localhost,IP:127.0.0.1"),
                                           ("extendedKeyUsage", "serverAuth")])
        self._make("responder", "ca", leaf[:4] + [("extendedKeyUsage", "OCSPSigning")])
        self._make("rogue", "ca", leaf[:4])
        self._make("root2", None, CA_EXTS[:3])
        self._make("ca2", "root2", CA_EXTS)
        self._make("other", "ca2", leaf)
        self.revoked_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(hours=3)
        with open(self.path("server-chain.pem"), "wb") as f:
            f.write(self.certs["server"].as_pem() + self.certs["ca"].as_pem())
        self.write_index()

    def _make(self, name: str, issuer: Optional[str], exts: Any) -> None:
        key = EVP.generate_key("EC", curve="P-256")
        self._serial += 1
        cert = build_cert(name, key, self.certs[issuer] if issuer else None, self.keys[issuer] if issuer else key,
                          self._serial, exts, days=2)
        self.keys[name], self.certs[name] = key, cert
        with open(self.path(name + ".pem"), "wb") as f:
            f.write(cert.as_pem())
        key.save_key(self.path(name + ".key"), None)

    def path(self, name: str) -> str:
        return os.path.join(self.d, name)

    def write_index(self) -> None:
        """ca's database as ``openssl ca`` keeps it: good and server valid, revoked revoked
        (keyCompromise); the unknown leaf is left out."""
        def line(name: str, flag: str, revoked: str = "") -> str:
            c = self.certs[name]
            exp = c.get_not_after().get_datetime().strftime("%y%m%d%H%M%SZ")
            return "%s\t%s\t%s\t%X\tunknown\t/CN=%s/O=M2Sec\n" % (flag, exp, revoked, c.get_serial_number(), name)

        rev = self.revoked_at.strftime("%y%m%d%H%M%SZ") + ",keyCompromise"
        with open(self.path("index.txt"), "w") as f:
            f.write(line("good", "V") + line("server", "V") + line("revoked", "R", rev) + line("responder", "V"))
        with open(self.path("index.txt.attr"), "w") as f:
            f.write("unique_subject = no\n")

    def status_of(self, serial: int) -> Optional[OCSP.CertStatus]:
        for name, status in (("good", OCSP.CertStatus.GOOD), ("server", OCSP.CertStatus.GOOD),
                             ("revoked", OCSP.CertStatus.REVOKED)):
            if self.certs[name].get_serial_number() == serial:
                return status
        return None

    def response(self, name: str, status: OCSP.CertStatus = OCSP.CertStatus.GOOD, *, signer: str = "ca",
                 issuer: str = "ca", request: Optional[OCSP.Request] = None, include: Any = (), **kw: Any) -> OCSP.Response:
        """A response about name signed by signer (valid for an hour unless kw says otherwise)."""
        kw.setdefault("next_update", datetime.timedelta(hours=1))
        if status == OCSP.CertStatus.REVOKED:
            kw.setdefault("revocation_time", self.revoked_at)
            kw.setdefault("revocation_reason", "keyCompromise")
        b = OCSP.ResponseBuilder()
        b.add_response(self.certs[name], self.certs[issuer], status, **kw)
        if request is not None:
            b.copy_nonce(request)
        return b.sign(self.certs[signer], self.keys[signer], certs=[self.certs[c] for c in include])


@contextmanager
def openssl_responder(pki: OCSPPKI, signer: str = "ca", *extra: str) -> Iterator[str]:
    """``openssl ocsp`` answering for pki's ca from its index on a free port; yields its URL."""
    port = free_port()
    cmd = ["openssl", "ocsp", "-index", pki.path("index.txt"), "-port", str(port), "-rsigner", pki.path(signer + ".pem"),
           "-rkey", pki.path(signer + ".key"), "-CA", pki.path("ca.pem"), "-nmin", "60", "-ignore_err", *extra]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # not a probe connection: the responder serves one connection at a time, and one that
        # closes without a request leaves it waiting
        seen = b""
        deadline = time.monotonic() + 10
        while b"waiting for OCSP client connections" not in seen:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("openssl ocsp did not start: %s" % seen.decode(errors="replace"))
            if select.select([proc.stderr], [], [], 0.2)[0]:
                seen += os.read(proc.stderr.fileno(), 4096)
        yield "http://127.0.0.1:%d/" % port
    finally:
        proc.kill()
        proc.communicate(timeout=10)


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, der: bytes) -> None:
        srv: Any = self.server
        srv.requests.append((self.command, der))
        try:
            body, ctype, code = srv.respond(der), "application/ocsp-response", 200
        except Exception as exc:  # noqa: BLE001  (the test looks at it)
            srv.errors.append(exc)
            body, ctype, code = b"", "text/plain", 500
        if srv.delay:
            time.sleep(srv.delay)
        self.send_response(code)
        self.send_header("Content-Type", srv.content_type or ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(min(n, 65536)))

    def do_GET(self) -> None:
        import base64
        import urllib.parse
        self._answer(base64.b64decode(urllib.parse.unquote(self.path.lstrip("/"))))


class M2Responder(http.server.ThreadingHTTPServer):
    """An OCSP responder built on M2Sec: ``respond(request DER) -> response DER`` decides;
    the default answers from pki's statuses, signed by ca, echoing the nonce."""

    daemon_threads = True

    def __init__(self, pki: OCSPPKI) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pki = pki
        self.requests: list = []
        self.errors: list = []
        self.delay = 0.0
        self.content_type: Optional[str] = None
        self.respond: Callable[[bytes], bytes] = self.answer
        self.url = "http://127.0.0.1:%d/" % self.server_address[1]

    def answer(self, der: bytes, signer: str = "ca") -> bytes:
        pki = self.pki
        with OCSP.load_request_der(der) as req:
            b = OCSP.ResponseBuilder()
            for cid in req.cert_ids:
                status = pki.status_of(cid.serial_number)
                if status is None:
                    b.add_response_for_id(cid, OCSP.CertStatus.UNKNOWN, next_update=datetime.timedelta(hours=1))
                elif status == OCSP.CertStatus.REVOKED:
                    b.add_response_for_id(cid, status, next_update=datetime.timedelta(hours=1),
                                          revocation_time=pki.revoked_at, revocation_reason="keyCompromise")
                else:
                    b.add_response_for_id(cid, status, next_update=datetime.timedelta(hours=1))
            b.copy_nonce(req)
            return b.sign(pki.certs[signer], pki.keys[signer]).to_der()


@contextmanager
def m2_responder(pki: OCSPPKI) -> Iterator[M2Responder]:
    srv = M2Responder(pki)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(10)
