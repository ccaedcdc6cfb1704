"""Zope 6 on M2Sec: a WSGI instance made by mkwsgiinstance, its zope.ini switched to
``use = egg:M2Sec#https``, started with runwsgi, read over HTTPS by curl and by M2Sec's
verifying client (the root page, and /manage_main with basic auth)."""

import base64
import os
import re
import shutil
import subprocess
import sys

import pytest

from M2Sec import SSL, httpslib
from wsgi_helpers import ServerProcess, no_tracebacks, wpki  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(180)

BIN = os.path.dirname(sys.executable)


def zope_tool(name):
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        path = shutil.which(name)
    if not path:
        pytest.fail("%s is missing: pip install 'Zope[wsgi]' (tests/requirements.txt)" % name)
    return path


def make_instance(tmp_path, wpki, password):
    inst = tmp_path / "zope"
    subprocess.run([zope_tool("mkwsgiinstance"), "-d", str(inst), "-u", "admin:" + password],
                   check=True, capture_output=True, timeout=120)
    ini = inst / "etc" / "zope.ini"
    text = ini.read_text()
    server = ("[server:main]\nuse = egg:M2Sec#https\nhost = 127.0.0.1\nport = 0\ncert = %s\nkey = %s\n"
              "threads = 4\n\n" % (wpki.chain, wpki.key))
    text, n = re.subn(r"\[server:main\]\n(?:[^\[\n].*\n)+\n*", server, text, count=1)
    assert n == 1 and "egg:waitress" not in text
    ini.write_text(text)
    return ini


def test_zope_over_https(tmp_path, wpki):
    password = base64.urlsafe_b64encode(os.urandom(12)).decode()
    ini = make_instance(tmp_path, wpki, password)
    srv = ServerProcess(str(tmp_path), "", [], argv=[zope_tool("runwsgi"), str(ini)])
    try:
        url = "https://localhost:%d" % srv.port
        p = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", wpki.root, url + "/"],
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert b"Zope" in p.stdout and b"<html" in p.stdout.lower()
        # the management screen: 401 without credentials, 200 with them
        p = subprocess.run(["curl", "-sS", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code}",
                            "--cacert", wpki.root, url + "/manage_main"], capture_output=True, timeout=60)
        assert p.stdout == b"401"
        p = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", wpki.root, "-u", "admin:" + password,
                            "-w", "\n%{http_code}", url + "/manage_main"], capture_output=True, timeout=60)
        body, _, code = p.stdout.rpartition(b"\n")
        assert code == b"200" and (b"manage_main" in body or b"Control_Panel" in body), body[:300]
        # M2Sec's verifying client with basic auth
        ctx = SSL.create_default_context(cafile=wpki.root)
        c = httpslib.HTTPSConnection("localhost", srv.port, ssl_context=ctx, timeout=30)
        auth = base64.b64encode(("admin:" + password).encode()).decode()
        c.request("GET", "/manage_main", headers={"Authorization": "Basic " + auth})
        r = c.getresponse()
        page = r.read()
        assert r.status == 200 and b"<title>Zope</title>" in page
        c.request("GET", "/manage_main", headers={"Authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()})
        r = c.getresponse()
        r.read()
        assert r.status == 401
        c.close()
        no_tracebacks(srv)
    finally:
        assert srv.stop() == 0
