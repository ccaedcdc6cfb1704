"""M2Sec.wsgi against real clients: curl, Python's ssl (http.client), M2Sec's own verifying
client and wrk; client certificates and mod_ssl's environ; prefork workers sharing ticket keys;
SIGHUP reload and graceful SIGTERM; the redirect listener, HSTS and the access log; PasteDeploy."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

from M2Sec import SSL, httpslib
from wsgi_helpers import ServerProcess, no_tracebacks, server_args, wpki  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(120)

CURL = shutil.which("curl")


def curl(*args, timeout=30):
    if CURL is None:
        pytest.fail("curl is needed (apt-get install curl)")
    return subprocess.run([CURL, "-sS", "--max-time", "20", *args], capture_output=True, timeout=timeout)


def py_ctx(wpki, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=wpki.root)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def py_get(port, ctx, path="/", conn=None):
    c = conn or http.client.HTTPSConnection("localhost", port, context=ctx, timeout=15)
    c.request("GET", path)
    r = c.getresponse()
    return r.status, dict(r.getheaders()), r.read(), c


def test_curl_sees_https_and_environ(tmp_path, wpki):
    with ServerProcess(str(tmp_path), "wsgi_apps:env_app", server_args(wpki)) as srv:
        p = curl("--cacert", wpki.root, "-w", "\n%{http_version} %{ssl_verify_result}",
                 "https://localhost:%d/some/path?q=1" % srv.port)
        assert p.returncode == 0, p.stderr
        body, _, tail = p.stdout.decode().rpartition("\n")
        assert tail == "1.1 0"  # ALPN chose http/1.1; curl verified the chain
        env = json.loads(body)
        assert env["HTTPS"] == "on" and env["wsgi.url_scheme"] == "https"
        assert env["SSL_PROTOCOL"] == "TLSv1.3"
        assert env["SSL_CIPHER"].startswith("TLS_")
        assert env["SSL_TLS_SNI"] == "localhost"
        assert env["SSL_CLIENT_VERIFY"] == "NONE"
        assert env["SSL_SERVER_S_DN"] == "CN=localhost"
        assert env["PATH_INFO"] == "/some/path" and env["QUERY_STRING"] == "q=1"
        assert env["SERVER_PORT"] == str(srv.port)
        assert env["wsgi.file_wrapper"] is True
        assert "SSL_CLIENT_S_DN" not in env and "REMOTE_USER" not in env
        # TLS 1.2 with a modern suite; TLS 1.1 is refused
        p = curl("--cacert", wpki.root, "--tls-max", "1.2", "https://localhost:%d/" % srv.port)
        env = json.loads(p.stdout)
        assert env["SSL_PROTOCOL"] == "TLSv1.2" and "GCM" in env["SSL_CIPHER"] or "CHACHA" in env["SSL_CIPHER"]
        p = curl("--cacert", wpki.root, "--tlsv1.1", "--tls-max", "1.1", "https://localhost:%d/" % srv.port)
        assert p.returncode != 0
        no_tracebacks(srv)


def test_client_certificate_optional(tmp_path, wpki):
    args = server_args(wpki, "--ca", wpki.cas, "--verify-client", "optional", "--remote-user", "email")
    with ServerProcess(str(tmp_path), "wsgi_apps:env_app", args) as srv:
        url = "https://localhost:%d/" % srv.port
        p = curl("--cacert", wpki.root, "--cert", wpki.alice_cert, "--key", wpki.alice_key, url)
        env = json.loads(p.stdout)
        assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
        assert env["SSL_CLIENT_S_DN"] == "O=M2Sec Users,CN=Alice Example"
        assert env["SSL_CLIENT_S_DN_CN"] == "Alice Example"
        assert env["SSL_CLIENT_I_DN"] == "O=M2Sec,CN=Test Intermediate CA"
        assert env["SSL_CLIENT_SAN_Email_0"] == "alice@example.org"
        assert env["SSL_CLIENT_SAN_DNS_0"] == "alice.example.org"
        assert env["REMOTE_USER"] == "alice@example.org"
        assert re.fullmatch(r"[0-9A-F]+", env["SSL_CLIENT_M_SERIAL"])
        assert re.fullmatch(r"\w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT", env["SSL_CLIENT_V_END"])
        with open(wpki.alice_cert) as f:
            assert env["SSL_CLIENT_CERT"].strip() == f.read().strip()
        # serial as openssl prints it
        serial = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", wpki.alice_cert],
                                capture_output=True, timeout=30).stdout.decode().strip().split("=")[1]
        assert env["SSL_CLIENT_M_SERIAL"] == serial.lstrip("0")
        # no certificate: served, and said so
        env = json.loads(curl("--cacert", wpki.root, url).stdout)
        assert env["SSL_CLIENT_VERIFY"] == "NONE" and "REMOTE_USER" not in env
        # a certificate from an unknown CA: still served, FAILED with the reason
        env = json.loads(curl("--cacert", wpki.root, "--cert", wpki.self_signed, "--key", wpki.self_key, url).stdout)
        assert env["SSL_CLIENT_VERIFY"].startswith("FAILED:"), env["SSL_CLIENT_VERIFY"]
        assert "self-signed" in env["SSL_CLIENT_VERIFY"] or "self signed" in env["SSL_CLIENT_VERIFY"]
        assert "REMOTE_USER" not in env
        no_tracebacks(srv)


def test_client_certificate_required_python_and_m2sec_clients(tmp_path, wpki):
    args = server_args(wpki, "--ca", wpki.cas, "--verify-client", "required", "--remote-user", "cn")
    with ServerProcess(str(tmp_path), "wsgi_apps:env_app", args) as srv:
        # Python's ssl client with the certificate, three requests on one connection
        ctx = py_ctx(wpki, wpki.client_cert, wpki.client_key)
        conn = None
        for i in range(3):
            status, _, body, conn = py_get(srv.port, ctx, "/n%d" % i, conn)
            env = json.loads(body)
            assert status == 200 and env["PATH_INFO"] == "/n%d" % i
            assert env["SSL_CLIENT_S_DN"] == "CN=test client" and env["REMOTE_USER"] == "test client"
        assert conn.sock.version() == "TLSv1.3"
        conn.close()
        # ALPN: http/1.1 is chosen among what the client offers
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        status, _, body, conn = py_get(srv.port, ctx)
        assert conn.sock.selected_alpn_protocol() == "http/1.1"
        conn.close()
        # without a certificate the handshake (or the first read, in TLS 1.3) fails
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
            py_get(srv.port, py_ctx(wpki))
        p = curl("--cacert", wpki.root, "https://localhost:%d/" % srv.port)
        assert p.returncode != 0
        # M2Sec's verifying client with a client certificate
        m2ctx = SSL.create_default_context(cafile=wpki.root)
        m2ctx.load_cert_chain(wpki.alice_cert, wpki.alice_key)
        c = httpslib.HTTPSConnection("localhost", srv.port, ssl_context=m2ctx, timeout=15)
        c.request("GET", "/m2")
        r = c.getresponse()
        env = json.loads(r.read())
        c.close()
        assert env["SSL_CLIENT_VERIFY"] == "SUCCESS" and env["REMOTE_USER"] == "Alice Example"
        no_tracebacks(srv)


def test_m2sec_client_refuses_wrong_host(tmp_path, wpki):
    args = ["--cert", wpki.other_chain, "--key", wpki.other_key]
    with ServerProcess(str(tmp_path), "wsgi_apps:hello", args) as srv:
        c = httpslib.HTTPSConnection("localhost", srv.port, ssl_context=SSL.create_default_context(cafile=wpki.root),
                                     timeout=15)
        with pytest.raises(SSL.SSLError):
            c.request("GET", "/")
        c.close()
        no_tracebacks(srv)


def test_bodies_keepalive_pipelining_and_limits(tmp_path, wpki):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(65536))
    args = server_args(wpki, "--max-body-size", "100000")
    with ServerProcess(str(tmp_path), "wsgi_apps:echo_app", args) as srv:
        ctx = py_ctx(wpki)
        c = http.client.HTTPSConnection("localhost", srv.port, context=ctx, timeout=15)
        payload = os.urandom(50000)
        c.request("POST", "/", body=payload)
        r = c.getresponse()
        assert r.status == 200 and r.read() == payload
        # chunked upload on the same connection
        c.request("POST", "/", body=iter([b"abc", b"defg", b"h" * 1000]), encode_chunked=True,
                  headers={"Transfer-Encoding": "chunked"})
        r = c.getresponse()
        assert r.read() == b"abcdefg" + b"h" * 1000
        # over the limit: 413
        c.request("POST", "/", body=b"z" * 100001)
        r = c.getresponse()
        assert r.status == 413
        r.read()
        c.close()
        # two pipelined requests in one TLS write, two responses in order
        s = ssl.create_default_context(cafile=wpki.root).wrap_socket(
            socket.create_connection(("localhost", srv.port), timeout=15), server_hostname="localhost")
        s.sendall(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                  b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntwo")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        assert data.count(b"HTTP/1.1 200") == 2 and data.index(b"one") < data.index(b"two")
        no_tracebacks(srv)
    with ServerProcess(str(tmp_path), "wsgi_apps:big_app", server_args(wpki),
                       env={"WSGI_TEST_BIGFILE": str(big)}) as srv:
        p = curl("--cacert", wpki.root, "-o", str(tmp_path / "got.bin"), "https://localhost:%d/" % srv.port)
        assert p.returncode == 0 and (tmp_path / "got.bin").read_bytes() == big.read_bytes()


def test_workers_share_socket_and_ticket_keys(tmp_path, wpki):
    with ServerProcess(str(tmp_path), "wsgi_apps:env_app", server_args(wpki, "--workers", "2", "--threads", "4")) as srv:
        ctx = py_ctx(wpki)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # the session is there after the handshake
        status, _, body, c = py_get(srv.port, ctx)
        session = c.sock.session
        first = json.loads(body)
        assert first["wsgi.multiprocess"] is True and first["SSL_SESSION_RESUMED"] == "Initial"
        c.close()
        pids, resumed = set([first["pid"]]), 0
        deadline = time.monotonic() + 60
        tries = 0
        while (len(pids) < 2 or tries < 10) and time.monotonic() < deadline:
            tries += 1
            sock = ctx.wrap_socket(socket.create_connection(("localhost", srv.port), timeout=10),
                                   server_hostname="localhost", session=session)
            c = http.client.HTTPSConnection("localhost", srv.port, context=ctx, timeout=10)
            c.sock = sock
            status, _, body, _ = py_get(srv.port, ctx, conn=c)
            env = json.loads(body)
            assert sock.session_reused and env["SSL_SESSION_RESUMED"] == "Resumed", env
            resumed += 1
            pids.add(env["pid"])
            c.close()
        assert len(pids) == 2, "all connections went to one worker: %s" % pids
        assert resumed == tries
        no_tracebacks(srv)


def test_sighup_reloads_certificate_without_dropping(tmp_path, wpki):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(wpki.chain, cert)
    shutil.copy(wpki.key, key)
    args = ["--cert", str(cert), "--key", str(key), "--workers", "2"]
    with ServerProcess(str(tmp_path), "wsgi_apps:env_app", args) as srv:
        ctx = py_ctx(wpki)
        status, _, body, held = py_get(srv.port, ctx)
        old = json.loads(body)["SSL_SERVER_M_SERIAL"]
        # renewal: a new certificate for the same name
        wpki.pki.issue("renewed", "/CN=localhost", ext=["subjectAltName=DNS:localhost,IP:127.0.0.1"])
        with open(cert, "wb") as f:
            f.write(wpki.pki.read("renewed.pem") + wpki.pki.read("inter.pem"))
        shutil.copy(wpki.pki.path("renewed.key"), key)
        srv.signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        new = old
        while new == old and time.monotonic() < deadline:
            time.sleep(0.2)
            s = ctx.wrap_socket(socket.create_connection(("localhost", srv.port), timeout=10), server_hostname="localhost")
            new_serial = int(s.getpeercert()["serialNumber"], 16)
            s.close()
            new = "%X" % new_serial
        assert new != old
        # every new connection, to either worker, gets the new certificate
        for _ in range(6):
            s = ctx.wrap_socket(socket.create_connection(("localhost", srv.port), timeout=10), server_hostname="localhost")
            assert "%X" % int(s.getpeercert()["serialNumber"], 16) == new
            s.close()
        # the connection opened before the reload still serves requests
        status, _, body, held = py_get(srv.port, ctx, conn=held)
        assert status == 200 and json.loads(body)["SSL_SERVER_M_SERIAL"] in (old, new)
        held.close()
        # a broken file: the old certificate stays, the server goes on
        with open(cert, "w") as f:
            f.write("not a certificate")
        srv.signal(signal.SIGHUP)
        time.sleep(1)
        status, _, body, c = py_get(srv.port, ctx)
        assert status == 200
        c.close()
        assert "reload failed" in srv.log()
        no_tracebacks(srv)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_lets_requests_finish(tmp_path, wpki, workers):
    srv = ServerProcess(str(tmp_path), "wsgi_apps:slow_app", server_args(wpki, "--workers", workers))
    try:
        result = {}

        def request():
            try:
                result["r"] = py_get(srv.port, py_ctx(wpki), "/?2")[:3]
            except Exception as exc:  # recorded for the assertion below
                result["r"] = exc

        t = threading.Thread(target=request)
        t.start()
        time.sleep(0.7)
        srv.signal(signal.SIGTERM)
        t.join(30)
        assert srv.proc.wait(30) == 0
        status, _, body = result["r"]
        assert status == 200 and body == b"finished\n"
        # the listener is closed
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
        no_tracebacks(srv)
    finally:
        srv.stop()


def test_redirect_hsts_and_access_log(tmp_path, wpki):
    access = tmp_path / "access.log"
    args = server_args(wpki, "--redirect-port", "0", "--hsts", "31536000", "--access-log", str(access))
    with ServerProcess(str(tmp_path), "wsgi_apps:hello", args) as srv:
        assert srv.redirect_port
        p = curl("-i", "http://localhost:%d/a/b?c=d" % srv.redirect_port)
        head = p.stdout.decode()
        assert head.startswith("HTTP/1.1 301")
        assert "Location: https://localhost:%d/a/b?c=d" % srv.port in head
        # curl follows it and verifies
        p = curl("-L", "-i", "--cacert", wpki.root, "http://localhost:%d/x" % srv.redirect_port)
        text = p.stdout.decode()
        assert "Strict-Transport-Security: max-age=31536000; includeSubDomains" in text
        assert text.endswith("Hello, world!\n")
        line = access.read_text().strip().splitlines()[-1]
        assert re.fullmatch(r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /x HTTP/1\.1" 200 14',
                            line), line
        no_tracebacks(srv)


def test_plain_http_gets_400_in_clear(tmp_path, wpki):
    with ServerProcess(str(tmp_path), "wsgi_apps:hello", server_args(wpki)) as srv:
        p = curl("-i", "http://localhost:%d/" % srv.port)
        assert p.stdout.startswith(b"HTTP/1.1 400 Bad Request"), p
        no_tracebacks(srv)


def test_wrk_smoke(tmp_path, wpki):
    wrk = shutil.which("wrk")
    if wrk is None:
        pytest.fail("wrk is needed (apt-get install wrk)")
    with ServerProcess(str(tmp_path), "wsgi_apps:hello", server_args(wpki, "--workers", "2")) as srv:
        p = subprocess.run([wrk, "-t1", "-c20", "-d2s", "https://127.0.0.1:%d/" % srv.port],
                           capture_output=True, timeout=60)
        out = p.stdout.decode()
        assert p.returncode == 0, out + p.stderr.decode()
        m = re.search(r"(\d+) requests in", out)
        assert m and int(m.group(1)) > 50, out
        assert "Non-2xx" not in out and "Socket errors" not in out, out
        no_tracebacks(srv)


def test_paste_deploy_ini(tmp_path, wpki):
    ini = tmp_path / "site.ini"
    ini.write_text("""[app:main]
paste.app_factory = wsgi_apps_paste:factory

[server:main]
use = egg:M2Sec#https
listen = 127.0.0.1:0
cert = {chain}
key = {key}
ca = {cas}
verify_client = optional
threads = 4
remote_user = cn
""".format(chain=wpki.chain, key=wpki.key, cas=wpki.cas))
    (tmp_path / "wsgi_apps_paste.py").write_text(
        "from wsgi_apps import env_app\n\ndef factory(global_conf, **local):\n    return env_app\n")
    runner = ("import logging, sys; logging.basicConfig(format='%(message)s'); "
              "from paste.deploy import loadapp, loadserver; "
              "p = 'config:' + sys.argv[1]; loadserver(p)(loadapp(p))")
    argv = [sys.executable, "-c", runner, str(ini)]
    with ServerProcess(str(tmp_path), "", [], argv=argv, env={"PYTHONPATH": str(tmp_path)}) as srv:
        env = json.loads(curl("--cacert", wpki.root, "--cert", wpki.client_cert, "--key", wpki.client_key,
                              "https://localhost:%d/" % srv.port).stdout)
        assert env["SSL_CLIENT_VERIFY"] == "SUCCESS" and env["REMOTE_USER"] == "test client"
        no_tracebacks(srv)


def test_crl_marks_a_revoked_client(tmp_path, wpki):
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    fmt = "%Y%m%d%H%M%SZ"
    wpki.pki.issue_dated("bob", "/CN=Bob Revoked", (now - datetime.timedelta(hours=1)).strftime(fmt),
                         (now + datetime.timedelta(days=2)).strftime(fmt), ext=["extendedKeyUsage=clientAuth"])
    wpki.pki.revoke("bob")
    crl = wpki.pki.gencrl("wsgi-inter.crl")
    args = server_args(wpki, "--ca", wpki.cas, "--crl", crl, "--verify-client", "optional")
    with ServerProcess(str(tmp_path), "wsgi_apps:env_app", args) as srv:
        url = "https://localhost:%d/" % srv.port
        env = json.loads(curl("--cacert", wpki.root, "--cert", wpki.pki.path("bob.pem"), "--key",
                              wpki.pki.path("bob.key"), url).stdout)
        assert env["SSL_CLIENT_VERIFY"] == "FAILED:certificate revoked" and env["SSL_CLIENT_S_DN_CN"] == "Bob Revoked"
        env = json.loads(curl("--cacert", wpki.root, "--cert", wpki.client_cert, "--key", wpki.client_key, url).stdout)
        assert env["SSL_CLIENT_VERIFY"] == "SUCCESS"
    args = server_args(wpki, "--ca", wpki.cas, "--crl", crl, "--verify-client", "required")
    with ServerProcess(str(tmp_path), "wsgi_apps:env_app", args) as srv:
        p = curl("--cacert", wpki.root, "--cert", wpki.pki.path("bob.pem"), "--key", wpki.pki.path("bob.key"),
                 "https://localhost:%d/" % srv.port)
        assert p.returncode != 0
        no_tracebacks(srv)


def test_ocsp_stapling_from_a_response_file(tmp_path):
    """--ocsp-response staples the file's response: openssl s_client -status sees it, and a
    new file is picked up without a restart."""
    from ocsp_helpers import OCSPPKI
    from M2Sec import OCSP
    (tmp_path / "pki").mkdir()
    pki = OCSPPKI(str(tmp_path / "pki"))
    staple = tmp_path / "staple.der"
    staple.write_bytes(pki.response("server").to_der())

    def status(port):
        p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
                            "-status", "-CAfile", pki.path("root.pem"), "-verify_return_error"],
                           input=b"", capture_output=True, timeout=20)
        return p.stdout.decode(errors="replace")
    with ServerProcess(str(tmp_path), "wsgi_apps:env_app",
                       ["--cert", pki.path("server-chain.pem"), "--key", pki.path("server.key"),
                        "--ocsp-response", str(staple)]) as srv:
        out = status(srv.port)
        assert "OCSP Response Status: successful" in out and "Cert Status: good" in out, out
        staple.write_bytes(pki.response("server", OCSP.CertStatus.REVOKED).to_der())
        out = status(srv.port)
        assert "Cert Status: revoked" in out, out
