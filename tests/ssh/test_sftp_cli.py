"""``m2sec ssh server --sftp-root`` with OpenSSH's sftp and scp, ``m2sec sftp get|put`` and
``m2sec scp`` against it (progress bar when asked, quiet when piped), and the greeter that
never writes into a subsystem channel."""

import os
import subprocess
import sys

import pytest

from .server_helpers import SCP_BIN, SFTP_BIN, USER, ssh
from .server_helpers import file_sha256 as sha
from .test_server_cli import cli_server  # noqa: F401  (the fixture)

pytestmark = pytest.mark.timeout(90)

def _ssh_opts(port, kh, key):
    return ["-F", "/dev/null", "-P", str(port), "-o", "UserKnownHostsFile=" + kh,
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", "BatchMode=yes", "-i", key]


def m2sec(*args):
    return subprocess.run([sys.executable, "-m", "M2Sec", *args], capture_output=True, timeout=60)


def test_sftp_root_with_openssh_and_m2sec_commands(cli_server, tmp_path):  # noqa: F811
    start, d = cli_server
    root = tmp_path / "root"
    root.mkdir()
    port, kh = start("--sftp-root", str(root))
    key = str(d / "user")
    data = tmp_path / "data"
    data.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    batch = tmp_path / "batch"
    batch.write_text("put %s /a\nget /a %s\nls /\n" % (data, tmp_path / "a-back"))
    r = subprocess.run([SFTP_BIN, *_ssh_opts(port, kh, key), "-b", str(batch), "%s@127.0.0.1" % USER],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert sha(root / "a") == sha(data) == sha(tmp_path / "a-back")
    for flag in ("-s", "-O"):
        r = subprocess.run([SCP_BIN, *_ssh_opts(port, kh, key), flag, str(data), "%s@127.0.0.1:/b%s" % (USER, flag)],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr.decode()
        assert sha(root / ("b" + flag)) == sha(data)
    common = ["-P", str(port), "-i", key, "--known-hosts", kh]
    r = m2sec("sftp", "put", *common, str(data), "%s@127.0.0.1:/c" % USER)
    assert r.returncode == 0 and r.stderr == b"", r.stderr.decode()   # piped: quiet
    r = m2sec("sftp", "get", *common, "--progress", "%s@127.0.0.1:/c" % USER, str(tmp_path / "c-back"))
    assert r.returncode == 0, r.stderr.decode()
    assert b"100%" in r.stderr and b"/s" in r.stderr and b"c" in r.stderr
    r = m2sec("scp", *common, str(data), "%s@127.0.0.1:/d" % USER)
    assert r.returncode == 0 and r.stderr == b"", r.stderr.decode()
    r = m2sec("scp", *common, "-O", "--progress", "%s@127.0.0.1:/d" % USER, str(tmp_path / "d-back"))
    assert r.returncode == 0 and b"100%" in r.stderr, r.stderr.decode()
    for p in (root / "c", tmp_path / "c-back", root / "d", tmp_path / "d-back"):
        assert sha(p) == sha(data)
    r = m2sec("scp", *common, "%s@127.0.0.1:/missing" % USER, str(tmp_path / "x"))
    assert r.returncode == 1 and b"missing" in r.stderr
    assert not (tmp_path / "x").exists()


def test_greeter_refuses_subsystems_without_a_greeting(cli_server, tmp_path):  # noqa: F811
    start, d = cli_server
    port, kh = start()
    r = ssh(port, kh, "-s", "sftp", key=str(d / "user"))
    assert r.returncode != 0 and b"Hello" not in r.stdout
    batch = tmp_path / "batch"
    batch.write_text("ls\n")
    r = subprocess.run([SFTP_BIN, *_ssh_opts(port, kh, str(d / "user")), "-b", str(batch), "%s@127.0.0.1" % USER],
                       capture_output=True, timeout=60)
    assert r.returncode != 0 and b"too long" not in r.stderr


def test_progress_bar_on_a_terminal(cli_server, tmp_path):  # noqa: F811
    """stderr a terminal (a pty): the bar is drawn without being asked for."""
    import pty
    start, d = cli_server
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(os.urandom(3 * 1024 * 1024))
    port, kh = start("--sftp-root", str(root))
    master, slave = pty.openpty()
    try:
        p = subprocess.run([sys.executable, "-m", "M2Sec", "sftp", "get", "-P", str(port), "-i", str(d / "user"),
                            "--known-hosts", kh, "%s@127.0.0.1:/f" % USER, str(tmp_path / "f")],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, timeout=60)
        os.close(slave)
        slave = -1
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert p.returncode == 0
    assert b"100%" in out and b"MB/s" in out and b"\r" in out
    assert sha(tmp_path / "f") == sha(root / "f")
