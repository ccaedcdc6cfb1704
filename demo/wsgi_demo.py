#!/usr/bin/env python3
"""Zope (or a WSGI app) served over HTTPS by M2Sec.wsgi, read by a verifying M2Sec client.

A throw-away CA and a certificate for localhost are minted with M2Sec's X509 API.  When Zope is
installed (``pip install 'Zope[wsgi]'``), the demo makes a Zope instance with mkwsgiinstance,
switches its zope.ini to ``use = egg:M2Sec#https`` and starts it with runwsgi; otherwise it runs
``python -m M2Sec https serve`` on a small WSGI app.  The client checks the chain and the host
name, reads the front page (and, for Zope, /manage_main with basic auth), then the server is
stopped by its PID with SIGTERM.
"""

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from M2Sec import SSL, httpslib
from https_demo import mint_localhost

APP = '''
def app(environ, start_response):
    keys = {k: v for k, v in environ.items() if k.startswith(("SSL_", "HTTPS"))}
    body = ("<h1>Hello from M2Sec.wsgi</h1><pre>%s</pre>" % "\\n".join(
        "%s=%s" % kv for kv in sorted(keys.items()))).encode()
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]
'''


def start(cmd: list, log: str, env: dict) -> "tuple[subprocess.Popen, int]":
    out = open(log, "wb")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(log, "rb") as f:
            m = re.search(rb"listening on https://[^:]+:(\d+)/", f.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    with open(log) as f:
        raise SystemExit("the server did not start:\n" + f.read())


def stop(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGTERM)
    try:
        print("server stopped by SIGTERM, exit status", proc.wait(30))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def get(port: int, ca: str, path: str, auth: "str | None" = None) -> "tuple[int, bytes]":
    conn = httpslib.HTTPSConnection("localhost", port, ssl_context=SSL.create_default_context(cafile=ca), timeout=30)
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    print("client: GET %s -> %d %s (%d bytes, %s, server certificate verified for localhost)" % (
        path, resp.status, resp.reason, len(body), conn.sock.get_version()))
    conn.close()
    return resp.status, body


def zope_demo(d: str, paths: dict, bindir: str) -> int:
    password = base64.urlsafe_b64encode(os.urandom(9)).decode()
    inst = os.path.join(d, "zope")
    subprocess.run([os.path.join(bindir, "mkwsgiinstance"), "-d", inst, "-u", "admin:" + password],
                   check=True, capture_output=True, timeout=120)
    ini = os.path.join(inst, "etc", "zope.ini")
    with open(ini) as f:
        text = f.read()
    server = ("[server:main]\nuse = egg:M2Sec#https\nhost = 127.0.0.1\nport = 0\n"
              "cert = %(cert)s\nkey = %(key)s\nthreads = 4\nhsts = 3600\n\n" % paths)
    text = re.sub(r"\[server:main\]\n(?:[^\[\n].*\n)+\n*", server, text, count=1)
    with open(ini, "w") as f:
        f.write(text)
    print("Zope instance in %s, zope.ini's server is now:\n  %s" % (inst, server.strip().replace("\n", "\n  ")))
    proc, port = start([os.path.join(bindir, "runwsgi"), ini], os.path.join(d, "zope.log"), dict(os.environ))
    print("Zope on M2Sec: https://localhost:%d/" % port)
    try:
        status, body = get(port, paths["ca"], "/")
        ok = status == 200 and b"Zope" in body
        status, body = get(port, paths["ca"], "/manage_main", "admin:" + password)
        ok = ok and status == 200 and b"<title>Zope</title>" in body
        status, _ = get(port, paths["ca"], "/manage_main")
        ok = ok and status == 401
        print("without credentials /manage_main is refused (401), as it should be")
    finally:
        stop(proc)
    return 0 if ok else 1


def wsgi_demo(d: str, paths: dict) -> int:
    with open(os.path.join(d, "demo_app.py"), "w") as f:
        f.write(APP)
    env = dict(os.environ, PYTHONPATH=d)
    cmd = [sys.executable, "-m", "M2Sec", "https", "serve", "demo_app:app", "--port", "0",
           "--cert", paths["cert"], "--key", paths["key"], "--workers", "2"]
    print("Zope is not installed: serving a WSGI app with", " ".join(cmd[1:5]))
    proc, port = start(cmd, os.path.join(d, "server.log"), env)
    try:
        status, body = get(port, paths["ca"], "/")
        print(body.decode())
    finally:
        stop(proc)
    return 0 if status == 200 else 1


def main() -> int:
    d = tempfile.mkdtemp(prefix="m2sec-wsgi-demo-")
    try:
        paths = mint_localhost(d)
        print("minted a demo CA and a certificate for localhost (EC P-256)")
        bindir = os.path.dirname(sys.executable)
        try:
            import Zope2  # noqa: F401
            have_zope = os.path.exists(os.path.join(bindir, "mkwsgiinstance"))
        except ImportError:
            have_zope = False
        code = zope_demo(d, paths, bindir) if have_zope else wsgi_demo(d, paths)
    finally:
        shutil.rmtree(d)
    print("wsgi demo finished: %s" % ("ok" if code == 0 else "FAILED"))
    return code


if __name__ == "__main__":
    sys.exit(main())
