"""M2Sec.ftpslib (FTP/TLS client) and M2Sec.ftpsserver, against each other, Python's ftplib and curl."""

import ftplib
import io
import os
import shutil
import subprocess

import pytest


from M2Sec import SSL, ftpslib
from M2Sec.ftpsserver import FTPSServer
from integ_helpers import certs, serve  # noqa: F401

pytestmark = pytest.mark.timeout(60)
USERS = {"alice": "secret"}
CONTENT = bytes(range(256)) * 1000
CURL = shutil.which("curl")


@pytest.fixture
def root(tmp_path):
    d = tmp_path / "ftproot"
    d.mkdir()
    (d / "data.bin").write_bytes(CONTENT)
    (d / "notes.txt").write_bytes(b"line one\nline two\n")
    (d / "sub").mkdir()
    (tmp_path / "secret.txt").write_bytes(b"outside the root")
    return d


@pytest.fixture
def make_server(certs, root):
    stops = []

    def make(chain=None, key=None, **kw):
        kw.setdefault("timeout", 10)
        server = FTPSServer(("127.0.0.1", 0), certs.server_ctx(chain, key), str(root), users=USERS, **kw)
        stops.append(serve(server))
        return server

    yield make
    for stop in stops:
        stop()


def m2_client(certs, server, host="localhost"):
    f = ftpslib.FTP_TLS(ssl_ctx=certs.client_ctx())
    f.connect(host, server.server_address[1], timeout=10)
    f.auth_tls()
    f.prot_p()
    f.login("alice", "secret")
    return f


@pytest.mark.parametrize("passive", [True, False])
def test_m2sec_client_with_session_reuse(certs, make_server, root, passive):
    server = make_server(require_session_reuse=True)
    f = m2_client(certs, server)
    try:
        assert f.secured and isinstance(f.sock, SSL.Connection)
        f.set_pasv(passive)
        lines = []
        f.retrlines("LIST", lines.append)
        assert any(line.endswith(" data.bin") and line.startswith("-") for line in lines)
        assert any(line.endswith(" sub") and line.startswith("d") for line in lines)
        assert sorted(f.nlst()) == ["data.bin", "notes.txt", "sub"]
        got = io.BytesIO()
        f.retrbinary("RETR data.bin", got.write)
        assert got.getvalue() == CONTENT
        assert f.size("data.bin") == len(CONTENT)
        text = []
        f.retrlines("RETR notes.txt", text.append)
        assert text == ["line one", "line two"]
        f.storbinary("STOR sub/up.bin", io.BytesIO(CONTENT[::-1]))
        assert (root / "sub" / "up.bin").read_bytes() == CONTENT[::-1]
        f.cwd("sub")
        assert f.pwd() == "/sub"
        f.delete("up.bin")
        assert not (root / "sub" / "up.bin").exists()
    finally:
        f.quit()


def test_login_secures_first(certs, make_server):
    server = make_server()
    f = ftpslib.FTP_TLS(ssl_ctx=certs.client_ctx())
    f.connect("localhost", server.server_address[1], timeout=10)
    assert not f.secured
    f.login("alice", "secret")  # AUTH TLS first, as ftplib.FTP_TLS does
    assert f.secured
    f.prot_p()
    assert "data.bin" in f.nlst()
    with pytest.raises(ValueError):
        f.auth_tls()
    f.quit()


def test_connect_and_login_in_constructor(certs, make_server):
    server = make_server()
    f = ftpslib.FTP_TLS("localhost", certs.client_ctx(), port=server.server_address[1], user="alice",
                        passwd="secret", timeout=10)
    assert f.secured
    f.prot_p()
    assert "notes.txt" in f.nlst()
    f.quit()


def test_default_context_rejects_untrusted_server(make_server):
    server = make_server()
    f = ftpslib.FTP_TLS()
    f.connect("localhost", server.server_address[1], timeout=10)
    with pytest.raises(SSL.SSLError):
        f.auth_tls()
    f.close()


def test_wrong_host_rejected(certs, make_server):
    server = make_server(certs.other_chain, certs.other_key)
    f = ftpslib.FTP_TLS(ssl_ctx=certs.client_ctx())
    f.connect("localhost", server.server_address[1], timeout=10)
    with pytest.raises((SSL.SSLError, SSL.Checker.SSLVerificationError)):
        f.auth_tls()
    f.close()


def test_server_policy(certs, make_server, root):
    (root / "link").symlink_to(root.parent / "secret.txt")
    server = make_server()
    port = server.server_address[1]
    plain = ftplib.FTP()
    plain.connect("127.0.0.1", port, timeout=10)
    with pytest.raises(ftplib.error_perm, match="530"):
        plain.login("alice", "secret")
    with pytest.raises(ftplib.error_perm, match="504"):
        plain.voidcmd("AUTH SSL")
    with pytest.raises(ftplib.error_perm, match="503"):
        plain.voidcmd("PBSZ 0")
    plain.close()

    f = ftpslib.FTP_TLS(ssl_ctx=certs.client_ctx())
    f.connect("localhost", port, timeout=10)
    with pytest.raises(ftplib.error_perm, match="530"):
        f.login("alice", "wrong")
    f.login("alice", "secret")
    with pytest.raises(ftplib.error_perm, match="521"):  # no PROT P yet
        f.nlst()
    f.prot_p()
    with pytest.raises(ftplib.error_perm, match="534"):
        f.prot_c()
    # ".." stops at the root, as in a chroot; a symbolic link out of the root is refused
    for bad in ("../secret.txt", "/../secret.txt", "sub/../../secret.txt", "link"):
        with pytest.raises(ftplib.error_perm, match="550"):
            f.retrbinary("RETR " + bad, lambda b: None)
    f.cwd("../..")
    assert f.pwd() == "/"
    with pytest.raises(ftplib.error_perm, match="550"):
        f.cwd("nowhere")
    f.quit()


def test_python_ftplib_client(certs, make_server, root):
    server = make_server()
    f = ftplib.FTP_TLS(context=certs.py_client_ctx(), timeout=10)
    f.connect("localhost", server.server_address[1])
    f.login("alice", "secret")
    f.prot_p()
    lines = []
    f.retrlines("LIST", lines.append)
    assert any(line.endswith(" data.bin") for line in lines)
    got = io.BytesIO()
    f.retrbinary("RETR data.bin", got.write)
    assert got.getvalue() == CONTENT
    f.storbinary("STOR py.bin", io.BytesIO(b"from ftplib" * 5000))
    assert (root / "py.bin").read_bytes() == b"from ftplib" * 5000
    f.set_pasv(False)
    assert "py.bin" in f.nlst()
    f.quit()


def test_python_ftplib_without_reuse_is_refused(certs, make_server):
    """ftplib.FTP_TLS does not resume the session on data connections: a vsftpd-like server says no."""
    server = make_server(require_session_reuse=True)
    f = ftplib.FTP_TLS(context=certs.py_client_ctx(), timeout=10)
    f.connect("localhost", server.server_address[1])
    f.login("alice", "secret")
    f.prot_p()
    with pytest.raises((ftplib.error_temp, ftplib.error_perm, OSError)):
        f.nlst()
    f.close()


def curl(*args, check=True):
    assert CURL, "curl is needed (apt-get install curl)"
    p = subprocess.run([CURL, "-sS", "--max-time", "20", *args], capture_output=True, timeout=30)
    if check:
        assert p.returncode == 0, p.stderr.decode()
    return p


def test_curl_explicit_tls(certs, make_server, root, tmp_path):
    server = make_server(require_session_reuse=True)
    base = "ftp://localhost:%d/" % server.server_address[1]
    common = ["--ssl-reqd", "--cacert", certs.root, "-u", "alice:secret"]
    listing = curl(*common, "--list-only", base).stdout.decode().split()
    assert sorted(listing) == ["data.bin", "notes.txt", "sub"]
    assert curl(*common, base + "data.bin").stdout == CONTENT
    up = tmp_path / "up.bin"
    up.write_bytes(CONTENT[:5000])
    curl(*common, "-T", str(up), base + "sub/curl.bin")
    assert (root / "sub" / "curl.bin").read_bytes() == CONTENT[:5000]
    # (active mode is tested with ftplib: curl 7.88's active FTPS is broken, "inet_ntop() failed")
    # curl verifies us too: without the root it refuses
    assert curl("--ssl-reqd", "-u", "alice:secret", base, check=False).returncode != 0


def test_curl_implicit_tls(certs, make_server):
    server = make_server(implicit=True, require_session_reuse=True)
    got = curl("--cacert", certs.root, "-u", "alice:secret", "ftps://localhost:%d/data.bin" % server.server_address[1])
    assert got.stdout == CONTENT


def test_no_descriptor_leak(certs, make_server):
    server = make_server(require_session_reuse=True)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(10):
        f = m2_client(certs, server)
        f.nlst()
        f.quit()
    assert len(os.listdir("/proc/self/fd")) <= before + 2
