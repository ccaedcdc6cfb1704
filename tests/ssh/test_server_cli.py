"""``m2sec ssh server`` and ``m2sec ssh client`` (python -m M2Sec ssh ...), with OpenSSH's
ssh against the command's server too."""

import os
import subprocess
import sys

import pytest

import M2Sec.SSH as SSH
from M2Sec.SSH.cli import main

from .server_helpers import USER, EchoServer, ssh

pytestmark = pytest.mark.timeout(60)

ENV = dict(os.environ)


@pytest.fixture
def cli_server(tmp_path):
    host = SSH.generate_private_key("ecdsa-sha2-nistp256")
    host.save_private(str(tmp_path / "host"))
    user = SSH.generate_private_key("ssh-ed25519")
    user.save_private(str(tmp_path / "user"))
    os.chmod(tmp_path / "user", 0o600)
    (tmp_path / "authorized").write_text(user.public_key().public_line() + "\n")

    def start(*extra):
        proc = subprocess.Popen([sys.executable, "-m", "M2Sec", "ssh", "server", "-p", "0",
                                 "-k", str(tmp_path / "host"), "-a", str(tmp_path / "authorized"), *extra],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=ENV)
        line = proc.stdout.readline().decode()
        assert "listening on" in line, proc.stderr.read()
        port = int(line.split()[-1])
        kh = tmp_path / "known_hosts"
        kh.write_text("[127.0.0.1]:%d %s\n" % (port, host.public_key().public_line()))
        started.append(proc)
        return port, str(kh)

    started = []
    yield start, tmp_path
    for p in started:
        p.kill()
        p.wait(10)
        p.stdout.close()
        p.stderr.close()


def client(*args, input=b""):
    return subprocess.run([sys.executable, "-m", "M2Sec", "ssh", "client", *args], input=input, capture_output=True,
                          timeout=30, env=ENV)


def test_greeter_with_both_clients(cli_server):
    start, d = cli_server
    port, kh = start("--password", "%s:sesame" % USER)
    p = client("-p", str(port), "-l", USER, "-i", str(d / "user"), "--known-hosts", kh, "127.0.0.1", "date",
               input=b"echoed")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"Hello %s, this is an M2Sec SSH server; you asked for command 'date'.\necho" % USER.encode() \
        + b"ed"
    p = ssh(port, kh, "uptime", key=str(d / "user"), input=b"")
    assert p.returncode == 0 and b"you asked for command 'uptime'" in p.stdout
    env = dict(ENV, M2SEC_SSH_PASSWORD="sesame")
    p = subprocess.run([sys.executable, "-m", "M2Sec", "ssh", "client", "-p", str(port), "--password",
                        "--known-hosts", kh, "-v", "%s@127.0.0.1" % USER, "x"], env=env, capture_output=True,
                       timeout=30, input=b"")
    assert p.returncode == 0 and b"connected: " in p.stderr


def test_run_commands_and_errors(cli_server):
    start, d = cli_server
    port, kh = start("--run-commands")
    p = client("-p", str(port), "-i", str(d / "user"), "--known-hosts", kh, "127.0.0.1", "echo", "$((40+2)); exit 3")
    assert p.returncode == 3 and p.stdout == b"42\n"
    p = client("-p", str(port), "-i", str(d / "user"), "--known-hosts", str(d / "authorized"), "127.0.0.1", "true")
    assert p.returncode == 255 and b"not in known_hosts" in p.stderr
    assert main([]) == 2


def test_forwarding_flag(cli_server):
    start, d = cli_server
    echo = EchoServer()
    try:
        port, kh = start()
        p = ssh(port, kh, "-W", "127.0.0.1:%d" % echo.port, key=str(d / "user"), input=b"x")
        assert p.returncode == 255  # forwarding is off unless asked for
        port, kh = start("--allow-forwarding")
        p = ssh(port, kh, "-W", "127.0.0.1:%d" % echo.port, key=str(d / "user"), input=b"through")
        assert p.returncode == 0 and p.stdout == b"through"
    finally:
        echo.close()
