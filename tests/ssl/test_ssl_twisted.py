"""SSL.TwistedProtocolWrapper with a real Twisted reactor on 127.0.0.1; each scenario runs in
its own process (twisted_scenarios.py) since a Twisted reactor cannot be restarted."""

import json
import os
import subprocess
import sys

import pytest

from ssl_helpers import pki  # noqa: F401  (the fixture)
from ssl_helpers import s_server

pytestmark = pytest.mark.timeout(60)

SCRIPT = os.path.join(os.path.dirname(__file__), "twisted_scenarios.py")


def scenario(pki, name, *args):
    p = subprocess.run([sys.executable, SCRIPT, name, pki.path(""), *map(str, args)], capture_output=True,
                       timeout=40)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return json.loads(p.stdout.decode().splitlines()[-1])


def test_client_against_s_server(pki):
    with s_server(pki, "-rev") as srv:
        r = scenario(pki, "client", srv.server_port)
    assert "timeout" not in r
    assert r["received"].strip() == "detsiwt olleh"
    assert r["cipher"].startswith("TLSv1.")
    assert r["reason"] in ("ConnectionDone", "ConnectionLost"), r


def test_server_against_python_client(pki):
    r = scenario(pki, "server")
    assert r == {"received": "HELLO TWISTED\n", "version": "TLSv1.3", "client_cn": "client"}


def test_untrusted_server_certificate(pki):
    with s_server(pki, "-rev", cert="selfsigned") as srv:
        r = scenario(pki, "client", srv.server_port)
    assert "timeout" not in r
    assert r["received"] == ""
    assert r["verify_error"] and r["reason"] == "SelfSignedCertificateError", r
    assert "self-signed" in r["error"]


def test_post_connection_check_wrong_host(pki):
    # a chain the client trusts, but for other.example: the Checker rejects it for 127.0.0.1
    with s_server(pki, "-rev", cert="other") as srv:
        r = scenario(pki, "client", srv.server_port)
    assert r["received"] == ""
    assert r["check_error"] and r["reason"] == "WrongHost", r


def test_import_is_lazy():
    code = "import sys, M2Sec, M2Sec.SSL; print('twisted' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
