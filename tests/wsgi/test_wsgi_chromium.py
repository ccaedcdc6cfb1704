"""A real browser: headless Chromium loads a page from M2Sec.wsgi with the test CA trusted
through an NSS database (certutil) and, with verify_client=required, presents a client
certificate imported with pk12util; the page it renders shows SSL_CLIENT_S_DN.  The
screenshot is kept in the test's temporary directory."""

import json
import os
import shutil
import subprocess

import pytest

from wsgi_helpers import ServerProcess, no_tracebacks, server_args, wpki  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(180)


def tool(name, package):
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is needed (apt-get install %s)" % (name, package))
    return path


def nss_home(tmp_path, wpki, client_cert=True):
    """A HOME whose NSS database trusts the test root and holds the client's key."""
    home = tmp_path / "home"
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    certutil = tool("certutil", "libnss3-tools")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, timeout=60)  # noqa: E731
    run(certutil, "-N", "-d", "sql:%s" % db, "--empty-password")
    run(certutil, "-A", "-d", "sql:%s" % db, "-n", "M2Sec test root", "-t", "C,,", "-i", wpki.root)
    if client_cert:
        p12 = tmp_path / "client.p12"
        run("openssl", "pkcs12", "-export", "-in", wpki.client_cert, "-inkey", wpki.client_key,
            "-certfile", wpki.pki.path("inter.pem"), "-out", str(p12), "-passout", "pass:m2sec")
        run(tool("pk12util", "libnss3-tools"), "-i", str(p12), "-d", "sql:%s" % db, "-W", "m2sec")
    return home


def chromium(tmp_path, home, url, port, *extra):
    """chromium --headless with a profile that picks the client certificate for this origin."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True, exist_ok=True)
    pick = {"https://localhost:%d,*" % port: {"last_modified": "13300000000000000",
                                              "setting": {"filters": [{"ISSUER": {"CN": "Test Intermediate CA"}}]}}}
    prefs = {"profile": {"content_settings": {"exceptions": {"auto_select_certificate": pick}}}}
    (profile / "Default" / "Preferences").write_text(json.dumps(prefs))
    env = dict(os.environ, HOME=str(home))
    cmd = [tool("chromium", "chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--user-data-dir=%s" % profile, *extra, url]
    return subprocess.run(cmd, capture_output=True, timeout=90, env=env, cwd=str(tmp_path))


def test_chromium_with_client_certificate(tmp_path, wpki):
    home = nss_home(tmp_path, wpki)
    args = server_args(wpki, "--ca", wpki.cas, "--verify-client", "required")
    with ServerProcess(str(tmp_path), "wsgi_apps:dn_page", args) as srv:
        url = "https://localhost:%d/" % srv.port
        p = chromium(tmp_path, home, url, srv.port, "--dump-dom")
        dom = p.stdout.decode()
        assert "SSL_CLIENT_S_DN=CN=test client" in dom, dom + p.stderr.decode()[-2000:]
        assert "SSL_CLIENT_VERIFY=SUCCESS" in dom
        shot = tmp_path / "m2sec-chromium.png"
        p = chromium(tmp_path, home, url, srv.port, "--screenshot=%s" % shot, "--window-size=800,400")
        assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p.stderr.decode()[-2000:]
        no_tracebacks(srv)


def test_chromium_refuses_an_untrusted_server(tmp_path, wpki):
    home = tmp_path / "empty-home"
    home.mkdir()
    with ServerProcess(str(tmp_path), "wsgi_apps:dn_page", server_args(wpki)) as srv:
        p = chromium(tmp_path, home, "https://localhost:%d/" % srv.port, srv.port, "--dump-dom")
        assert "SSL_CLIENT_S_DN" not in p.stdout.decode()
        # the same browser, once the root is trusted, shows the page (no client certificate asked)
        home = nss_home(tmp_path, wpki, client_cert=False)
        p = chromium(tmp_path, home, "https://localhost:%d/" % srv.port, srv.port, "--dump-dom")
        assert "SSL_CLIENT_S_DN=(none)" in p.stdout.decode()
        assert "SSL_CLIENT_VERIFY=NONE" in p.stdout.decode()
