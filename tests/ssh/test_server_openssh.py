"""OpenSSH's ssh client against an M2Sec SSH server on loopback: every key exchange, cipher,
MAC, host key algorithm and compression on its own, host certificates, every authentication
method and authorized_keys option, commands, a shell over a pty, subsystems (sftp through the
local process runner), local and remote forwarding, and 64 MiB each way."""

import hashlib
import os
import socket
import subprocess
import tempfile
import time

import pytest

from M2Sec.SSH import connection as core
from M2Sec.SSH import kex
from M2Sec.SSH.authorized_keys import AuthorizedKeys
from M2Sec.SSH.process import LocalProcessRunner
from M2Sec.SSH.server import SUPPORTED_PUBLIC_KEY_ALGS

from .server_app import AppServer, app
from .server_helpers import (NEW_PASSWORD, PASSWORD, USER, EchoServer, Keys, ServerThread, askpass, free_port,
                             pattern, ssh)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def keys():
    d = tempfile.mkdtemp(prefix="m2sec-sshserver-")
    try:
        yield Keys(d)
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def echo():
    e = EchoServer()
    yield e
    e.close()


def _authorized(keys, echo_port):
    ed = keys.public_line("ed25519")
    ca = keys.user_ca.public_line()
    per_user = {
        "forced": 'command="forced" ' + ed,
        "nopty": "no-pty " + ed,
        "elsewhere": 'from="10.0.0.0/8,!127.0.0.1" ' + ed,
        "here": 'from="10.0.0.0/8,127.0.0.0/8" ' + ed,
        "expired": 'expiry-time="20200101" ' + ed,
        "notexpired": 'expiry-time="29990101" ' + ed,
        "restricted": "restrict " + ed,
        "fwdonly": 'restrict,port-forwarding,permitopen="127.0.0.1:%d" %s' % (echo_port, ed),
        "alice": 'cert-authority,principals="alice" ' + ca,
        "caonly": "cert-authority " + ca,
        "nofwd": "no-port-forwarding " + ed,
    }
    everyone = AuthorizedKeys(keys.authorized)

    def lookup(username):
        if username in per_user:
            return AuthorizedKeys(per_user[username] + "\n")
        return everyone
    return lookup


@pytest.fixture(scope="module")
def server(keys, echo):
    runner = LocalProcessRunner(subsystems={"sftp": "/usr/lib/openssh/sftp-server"})

    async def factory(process):
        if process.command is not None and process.command.startswith("run:"):
            process.command = process.command[4:]
            return await runner(process)
        if process.subsystem == "sftp" or (process.command is None and process.term_type):
            return await runner(process)
        return await app(process)
    factory.subsystems = ["echo", "sftp"]
    s = ServerThread(server_host_keys=list(keys.host.values()), authorized_client_keys=_authorized(keys, echo.port),
                     trusted_user_ca_keys=[keys.user_ca_pub], server_factory=AppServer, process_factory=factory,
                     kex_algs=kex.SUPPORTED_KEX, encryption_algs=core.SUPPORTED_CIPHERS,
                     mac_algs=core.SUPPORTED_MACS, server_host_key_algs=core.SUPPORTED_HOST_KEY_ALGS,
                     compression_algs=core.SUPPORTED_COMPRESSION, public_key_algs=SUPPORTED_PUBLIC_KEY_ALGS,
                     auth_failure_delay=0.01)
    s.known_hosts = keys.known_hosts(s.port)
    yield s
    s.stop()


def run(server, keys, *args, key="ed25519", **kw):
    return ssh(server.port, kw.pop("known_hosts", server.known_hosts), *args,
               key=keys.user[key] if key in keys.user else key, **kw)


def check_hello(proc):
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == b"hello\n"
    assert proc.stderr == b"oops\n"


# ---- algorithms, each on its own ----

def algs(server, keys, *options, **kw):
    p = run(server, keys, "algs", options=options, **kw)
    assert p.returncode == 0, p.stderr
    return dict(zip(("kex", "host_key", "cipher", "mac", "comp"), p.stdout.decode().split()))


@pytest.mark.parametrize("alg", [a.decode() for a in kex.SUPPORTED_KEX])
def test_kex(server, keys, alg):
    assert algs(server, keys, "KexAlgorithms=" + alg)["kex"] == alg
    if alg == "curve25519-sha256":
        check_hello(run(server, keys, "hello", options=["KexAlgorithms=" + alg]))


@pytest.mark.parametrize("alg", [a.decode() for a in core.SUPPORTED_CIPHERS])
def test_cipher(server, keys, alg):
    assert algs(server, keys, "Ciphers=" + alg)["cipher"] == alg


@pytest.mark.parametrize("alg", [a.decode() for a in core.SUPPORTED_MACS])
def test_mac(server, keys, alg):
    assert algs(server, keys, "Ciphers=aes128-ctr", "MACs=" + alg)["mac"] == alg


@pytest.mark.parametrize("alg", [a.decode() for a in core.SUPPORTED_HOST_KEY_ALGS
                                 if not a.endswith(b"cert-v01@openssh.com")])
def test_host_key(server, keys, alg):
    assert algs(server, keys, "HostKeyAlgorithms=" + alg)["host_key"] == alg


@pytest.mark.parametrize("alg", [a.decode() for a in core.SUPPORTED_HOST_KEY_ALGS
                                 if a.endswith(b"cert-v01@openssh.com")])
def test_host_certificate(server, keys, alg):
    kh = keys.known_hosts(server.port, ca=True)
    assert algs(server, keys, "HostKeyAlgorithms=" + alg, known_hosts=kh)["host_key"] == alg


def test_unknown_host_key_is_refused_by_ssh(server, keys, tmp_path):
    empty = tmp_path / "kh"
    empty.write_text("")
    p = run(server, keys, "hello", known_hosts=str(empty))
    assert p.returncode == 255 and b"verification failed" in p.stderr


@pytest.mark.parametrize("alg", [a.decode() for a in core.SUPPORTED_COMPRESSION])
def test_compression(keys, alg):
    # ssh -C offers zlib@openssh.com,zlib,none: a server offering only alg decides
    s = ServerThread(server_host_keys=[keys.host["ed25519"]], authorized_client_keys=keys.authorized,
                     process_factory=app, compression_algs=[alg])
    try:
        s.known_hosts = keys.known_hosts(s.port)
        assert algs(s, keys, "Compression=yes")["comp"] == alg
        p = run(s, keys, "gen 300000", options=["Compression=yes"])
        assert p.returncode == 0 and p.stdout == pattern(300000)
    finally:
        s.stop()


# ---- authentication ----

@pytest.mark.parametrize("name", ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"])
def test_publickey(server, keys, name):
    p = run(server, keys, "whoami", key=name)
    assert p.returncode == 0 and p.stdout == USER.encode() + b"\n", p.stderr


@pytest.mark.parametrize("alg", ["rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"])
def test_publickey_rsa_signature_algorithms(server, keys, alg):
    p = run(server, keys, "whoami", key="rsa", options=["PubkeyAcceptedAlgorithms=" + alg])
    assert p.returncode == 0, p.stderr


def test_publickey_unknown_key_refused(server, keys):
    p = run(server, keys, "whoami", key=keys.stranger)
    assert p.returncode == 255 and b"Permission denied" in p.stderr


def test_user_certificate_trusted_ca(server, keys):
    p = run(server, keys, "whoami", key=keys.cert_user)
    assert p.returncode == 0 and p.stdout == USER.encode() + b"\n", p.stderr


def test_user_certificate_cert_authority_line(server, keys):
    p = run(server, keys, "whoami", key=keys.cert_user, user="alice")
    assert p.returncode == 0 and p.stdout == b"alice\n", p.stderr
    # cert-authority without principals=: the user name must be a principal of the certificate
    p = run(server, keys, "whoami", key=keys.cert_user, user="caonly")
    assert p.returncode == 255


def test_password(server, keys, tmp_path):
    script = askpass(str(tmp_path), {})
    p = run(server, keys, "whoami", key=None, askpass_script=script,
            options=["PreferredAuthentications=password"])
    assert p.returncode == 0 and p.stdout == USER.encode() + b"\n", p.stderr
    bad = askpass(str(tmp_path), {}, default="wrong")
    p = run(server, keys, "whoami", key=None, askpass_script=bad,
            options=["PreferredAuthentications=password", "NumberOfPasswordPrompts=2"])
    assert p.returncode == 255 and b"Permission denied" in p.stderr


def test_password_change(server, keys, tmp_path):
    script = askpass(str(tmp_path), {"new": NEW_PASSWORD, "Retype": NEW_PASSWORD})
    p = run(server, keys, "whoami", key=None, user="changeme", askpass_script=script,
            options=["PreferredAuthentications=password"])
    assert p.returncode == 0 and p.stdout == b"changeme\n", p.stderr


def test_keyboard_interactive(server, keys, tmp_path):
    script = askpass(str(tmp_path), {"Password": PASSWORD, "colour": "blue"})
    p = run(server, keys, "whoami", key=None, askpass_script=script,
            options=["PreferredAuthentications=keyboard-interactive"])
    assert p.returncode == 0 and p.stdout == USER.encode() + b"\n", p.stderr
    wrong = askpass(str(tmp_path), {"Password": PASSWORD, "colour": "red"})
    p = run(server, keys, "whoami", key=None, askpass_script=wrong,
            options=["PreferredAuthentications=keyboard-interactive", "NumberOfPasswordPrompts=1"])
    assert p.returncode == 255


def test_authorized_keys_forced_command(server, keys):
    p = run(server, keys, "hello world", user="forced")
    assert p.returncode == 0 and p.stdout == b"forced (asked for hello world)\n"


@pytest.mark.parametrize("user,ok", [("elsewhere", False), ("here", True), ("expired", False),
                                     ("notexpired", True)])
def test_authorized_keys_from_and_expiry(server, keys, user, ok):
    p = run(server, keys, "whoami", user=user)
    assert (p.returncode == 0) == ok, p.stderr


@pytest.mark.parametrize("user,pty", [(USER, True), ("nopty", False), ("restricted", False)])
def test_authorized_keys_pty(server, keys, user, pty):
    p = run(server, keys, "-tt", "pty", user=user)
    if pty:  # ssh's own stdin is no terminal: it asks for a pty of size 0x0
        assert p.returncode == 0 and p.stdout.endswith(b" 0 0\n") and not p.stdout.startswith(b"None")
    else:  # ssh -tt gives up when the pty is refused
        assert p.returncode == 255 and b"PTY allocation request failed" in p.stderr


@pytest.mark.parametrize("user,ok", [(USER, True), ("restricted", False), ("nofwd", False), ("fwdonly", True)])
def test_authorized_keys_forwarding(server, keys, echo, user, ok):
    p = run(server, keys, "-W", "127.0.0.1:%d" % echo.port, user=user, input=b"through the tunnel")
    if ok:
        assert p.returncode == 0 and p.stdout == b"through the tunnel", p.stderr
    else:
        assert p.returncode == 255 and p.stdout == b"" and b"stdio forwarding failed" in p.stderr


def test_permitopen_limits_destinations(server, keys, echo):
    p = run(server, keys, "-W", "127.0.0.1:%d" % free_port(), user="fwdonly", input=b"x")
    assert p.stdout == b"" and p.returncode != 0


# ---- sessions ----

def test_exec_stdin_exit_status_env(server, keys):
    p = run(server, keys, "cat", input=b"some input\n")
    assert p.returncode == 0 and p.stdout == b"some input\n"
    p = run(server, keys, "env", "LC_M2SEC", options=["SendEnv=LC_M2SEC"])
    assert p.stdout == b"\n"  # not set in this environment: nothing sent
    env = dict(os.environ, LC_M2SEC="value from the client")
    argv = ["ssh", "-F", "/dev/null", "-p", str(server.port), "-o", "UserKnownHostsFile=" + server.known_hosts,
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "SendEnv=LC_M2SEC", "-i", keys.user["ed25519"],
            "-l", USER, "127.0.0.1", "env LC_M2SEC"]
    p = subprocess.run(argv, env=env, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.stdout == b"value from the client\n", p.stderr


def test_local_program_runner(server, keys):
    p = run(server, keys, "run:echo $((6 * 7)); echo to stderr >&2; exit 4")
    assert p.returncode == 4 and p.stdout == b"42\n" and p.stderr == b"to stderr\n"
    p = run(server, keys, "run:kill -TERM $$")
    assert p.returncode == 255  # ssh exits so when the remote command died of a signal


def test_shell_over_pty(server, keys):
    # a real shell (/bin/sh through the runner) on a pty, driven through ssh -tt
    p = run(server, keys, "-tt", input=b"echo $TERM; stty size; exit 5\n", options=["SetEnv=TERM=vt100"])
    assert p.returncode == 5, p.stderr
    text = p.stdout.replace(b"\r", b"")
    assert b"vt100\n" in text and b"24 80\n" in text


def test_app_shell_without_pty(server, keys):
    p = run(server, keys, "-T", input=b"hi there\nexit 6\n")
    assert p.returncode == 6 and b"you said hi there" in p.stdout


def test_subsystem(server, keys):
    p = run(server, keys, "-s", "echo", input=b"subsystem data")
    assert p.returncode == 0 and p.stdout == b"subsystem data"
    p = run(server, keys, "-s", "nonesuch", input=b"")
    assert p.returncode != 0


def test_sftp_subsystem_through_the_runner(server, keys, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(200000))
    dst = tmp_path / "dst.bin"
    batch = tmp_path / "batch"
    batch.write_text("put %s %s\nls -l %s\n" % (src, dst, dst))
    argv = ["sftp", "-F", "/dev/null", "-P", str(server.port), "-o", "UserKnownHostsFile=" + server.known_hosts,
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", keys.user["ed25519"], "-b", str(batch),
            "%s@127.0.0.1" % USER]
    p = subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert dst.read_bytes() == src.read_bytes()


# ---- forwarding ----

def test_stdio_forwarding(server, keys, echo):
    data = os.urandom(300000)
    p = run(server, keys, "-W", "127.0.0.1:%d" % echo.port, input=data)
    assert p.returncode == 0 and p.stdout == data


def _wait_port(port, proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("ssh exited: %s" % proc.stderr.read().decode(errors="replace"))
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            time.sleep(0.05)
    raise AssertionError("port %d never opened" % port)


def _background_ssh(server, keys, *opts):
    argv = ["ssh", "-F", "/dev/null", "-p", str(server.port), "-o", "UserKnownHostsFile=" + server.known_hosts,
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ExitOnForwardFailure=yes", "-N",
            "-i", keys.user["ed25519"], "-l", USER, *opts, "127.0.0.1"]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _echo_through(sock, data=b"hello through the forward"):
    with sock:
        sock.settimeout(10)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    return got


@pytest.mark.parametrize("flag", ["-L", "-R"])
def test_port_forwarding(server, keys, echo, flag):
    port = free_port()
    proc = _background_ssh(server, keys, flag, "%d:127.0.0.1:%d" % (port, echo.port))
    try:
        data = os.urandom(100000)
        assert _echo_through(_wait_port(port, proc), data) == data
        assert _echo_through(_wait_port(port, proc)) == b"hello through the forward"
    finally:
        proc.terminate()
        proc.wait(10)
    if flag == "-R":  # the server stops listening when the client goes
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                time.sleep(0.05)
            except OSError:
                break
        else:
            raise AssertionError("the remote forward outlived its connection")


# ---- bulk ----

SIZE = 64 * 1024 * 1024


@pytest.mark.parametrize("cipher", ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"])
def test_bulk_64mib_each_way(server, keys, cipher):
    data = pattern(SIZE)
    up = run(server, keys, "sha256", input=data, options=["Ciphers=" + cipher], timeout=80)
    assert up.stdout == b"%d %s\n" % (SIZE, hashlib.sha256(data).hexdigest().encode()), up.stderr
    down = run(server, keys, "gen %d" % SIZE, options=["Ciphers=" + cipher], timeout=80)
    assert down.returncode == 0 and len(down.stdout) == SIZE
    assert hashlib.sha256(down.stdout).digest() == hashlib.sha256(data).digest()


def test_rekey_during_transfer(server, keys):
    data = pattern(8 * 1024 * 1024)
    p = run(server, keys, "sha256", input=data, options=["RekeyLimit=1M"])
    assert p.stdout == b"%d %s\n" % (len(data), hashlib.sha256(data).hexdigest().encode()), p.stderr


def test_agent_forwarding_from_ssh_a(server, keys):
    """OpenSSH's ssh -A: the command on the M2Sec server reaches the client's agent through
    SSH_AUTH_SOCK (ssh-add -L there lists what the local agent holds); the socket is gone once
    the connection ends, and without -A there is none."""
    from .agent_helpers import SshAgent
    from .server_helpers import SSH_BIN
    agent = SshAgent()
    try:
        agent.add(keys.user["ed25519"])

        def ssh_a(*flags):
            argv = [SSH_BIN, "-F", "/dev/null", "-p", str(server.port), "-l", USER, "-o", "BatchMode=yes",
                    "-o", "UserKnownHostsFile=" + server.known_hosts, "-o", "LogLevel=ERROR",
                    "-i", keys.user["ed25519"], *flags, "127.0.0.1", "run:ssh-add -L; echo sock=$SSH_AUTH_SOCK"]
            return subprocess.run(argv, capture_output=True, timeout=40, stdin=subprocess.DEVNULL,
                                  env=dict(os.environ, SSH_AUTH_SOCK=agent.path))
        forwarded = ssh_a("-A")
        assert forwarded.returncode == 0, forwarded.stderr
        lines = forwarded.stdout.decode().splitlines()
        assert [" ".join(line.split()[:2]) for line in lines[:-1]] == agent.listed()
        sock = lines[-1].split("=", 1)[1]
        assert sock
        deadline = time.monotonic() + 10
        while os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(sock)
        plain = ssh_a("-a")
        assert plain.stdout.decode().splitlines()[-1] == "sock="
    finally:
        agent.stop()


def test_unix_socket_forwarding_from_ssh(server, keys, tmp_path):
    """ssh -L path:path and ssh -R path:path through the M2Sec server (OpenSSH's streamlocal);
    the server's policy refuses a path, and a socket it bound is removed when the forward ends."""
    from .test_forwarding import _ask, _UnixEcho
    from .server_helpers import SSH_BIN
    echo = _UnixEcho(str(tmp_path / "echo.sock"))

    def forward(flag, spec, wait_for):
        argv = [SSH_BIN, "-F", "/dev/null", "-p", str(server.port), "-l", USER, "-o", "BatchMode=yes",
                "-o", "UserKnownHostsFile=" + server.known_hosts, "-o", "LogLevel=ERROR", "-o", "IdentityAgent=none",
                "-o", "ExitOnForwardFailure=yes", "-i", keys.user["ed25519"], "-N", flag, spec, "127.0.0.1"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not os.path.exists(wait_for) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return proc

    def stop(proc):
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    try:
        local = str(tmp_path / "L.sock")
        p = forward("-L", "%s:%s" % (local, echo.path), local)
        try:
            assert _ask(local, b"via -L") == b"echo:via -L"
        finally:
            stop(p)
        remote = str(tmp_path / "R.sock")
        p = forward("-R", "%s:%s" % (remote, echo.path), remote)
        try:
            assert _ask(remote, b"via -R") == b"echo:via -R"
        finally:
            stop(p)
        deadline = time.monotonic() + 10
        while os.path.exists(remote) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(remote)
        refused = forward("-R", "%s:%s" % (tmp_path / "forbidden.sock", echo.path), str(tmp_path / "never"))
        assert refused.wait(20) != 0
    finally:
        echo.close()


def test_x11_forwarding_from_ssh_x(keys):
    """ssh -X to an M2Sec server that allows it: xdpyinfo run there reaches the client's Xvfb;
    the M2Sec client does the same (x11_forwarding=True); a server that does not allow it
    gives no DISPLAY."""
    import asyncio
    import M2Sec.SSH as SSH
    from .server_helpers import SSH_BIN
    from .x11_helpers import Xvfb
    x = Xvfb()
    allowing = ServerThread(server_host_keys=[keys.host["ed25519"]], authorized_client_keys=AuthorizedKeys(keys.authorized),
                            process_factory=LocalProcessRunner(), allow_x11_forwarding=True)
    refusing = ServerThread(server_host_keys=[keys.host["ed25519"]],
                            authorized_client_keys=AuthorizedKeys(keys.authorized), process_factory=LocalProcessRunner())
    command = "xdpyinfo | head -1; echo display=$DISPLAY"
    try:
        env = dict(os.environ, DISPLAY=x.display, XAUTHORITY=x.xauthority)

        def ssh_x(srv):
            argv = [SSH_BIN, "-F", "/dev/null", "-X", "-p", str(srv.port), "-l", USER, "-o", "BatchMode=yes",
                    "-o", "UserKnownHostsFile=" + keys.known_hosts(srv.port), "-o", "LogLevel=ERROR",
                    "-o", "IdentityAgent=none", "-i", keys.user["ed25519"], "127.0.0.1", command]
            return subprocess.run(argv, capture_output=True, timeout=40, stdin=subprocess.DEVNULL, env=env).stdout.decode()
        out = ssh_x(allowing)
        assert out.startswith("name of display:    localhost:") and "display=localhost:" in out, out
        assert ssh_x(refusing).strip() == "display="

        async def m2():
            async with SSH.connect("127.0.0.1", allowing.port, username=USER, known_hosts=keys.known_hosts(allowing.port),
                                   client_keys=[keys.user["ed25519"]], config=None, agent_path=None,
                                   x11_forwarding=True, x11_display=x.display) as conn:
                return (await conn.run(command)).stdout.decode()
        old = os.environ.get("XAUTHORITY")
        os.environ["XAUTHORITY"] = x.xauthority
        try:
            out = asyncio.run(asyncio.wait_for(m2(), 40))
        finally:
            if old is None:
                os.environ.pop("XAUTHORITY", None)
            else:
                os.environ["XAUTHORITY"] = old
        assert out.startswith("name of display:    localhost:"), out
    finally:
        allowing.stop()
        refusing.stop()
        x.stop()


def test_ssh_j_and_ssh_d_through_the_m2sec_server(server, keys, echo):
    """The M2Sec server as a jump host for OpenSSH's ssh -J (direct-tcpip to a second SSH
    server: itself) and as the far end of ssh -D (curl through the SOCKS port)."""
    import http.server
    import threading
    from .server_helpers import SSH_BIN
    base = [SSH_BIN, "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=" + server.known_hosts,
            "-o", "LogLevel=ERROR", "-o", "IdentityAgent=none", "-i", keys.user["ed25519"]]
    # ssh -J passes no options to the hop's ssh, so the hop is spelled as the ProxyCommand
    # that -J stands for (ssh -W through the M2Sec server), with this test's keys and known_hosts
    hop = "ProxyCommand=" + " ".join(base + ["-p", str(server.port), "-W", "%h:%p", USER + "@127.0.0.1"])
    check_hello(subprocess.run(base + ["-o", hop, "-p", str(server.port), "-l", USER, "127.0.0.1", "hello"],
                               capture_output=True, timeout=40, stdin=subprocess.DEVNULL))

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *a):
            pass
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    socks_port = free_port()
    proc = subprocess.Popen(base + ["-N", "-D", "127.0.0.1:%d" % socks_port, "-p", str(server.port), "-l", USER,
                                    "127.0.0.1"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", socks_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        out = subprocess.run(["curl", "-sS", "--max-time", "20", "--socks5-hostname", "127.0.0.1:%d" % socks_port,
                              "http://127.0.0.1:%d/" % web.server_address[1]], capture_output=True, timeout=30)
        assert out.stdout == b"hello", out.stderr
    finally:
        proc.terminate()
        proc.wait(10)
        web.shutdown()
        web.server_close()


def test_asyncssh_and_paramiko_clients(server, keys, tmp_path):
    """Other libraries' clients against the M2Sec server: asyncssh with agent forwarding and a
    local forward, paramiko with a command and a direct-tcpip channel."""
    import asyncio
    import asyncssh
    import paramiko
    from .agent_helpers import SshAgent
    agent = SshAgent()
    try:
        agent.add(keys.user["ed25519"])

        async def with_asyncssh():
            async with asyncssh.connect("127.0.0.1", server.port, username=USER, known_hosts=server.known_hosts,
                                        client_keys=[keys.user["ed25519"]], agent_path=agent.path,
                                        agent_forwarding=True) as conn:
                listed = await conn.run("run:ssh-add -L")
                fwd = await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", server.port)
                reader, writer = await asyncio.open_connection("127.0.0.1", fwd.get_port())
                banner = await reader.readline()
                writer.close()
                fwd.close()
                return listed.stdout, banner
        listed, banner = asyncio.run(asyncio.wait_for(with_asyncssh(), 40))
        assert [" ".join(line.split()[:2]) for line in listed.splitlines()] == agent.listed()
        assert banner.startswith(b"SSH-2.0-")
    finally:
        agent.stop()
    client = paramiko.SSHClient()
    client.load_host_keys(server.known_hosts)
    try:
        client.connect("127.0.0.1", server.port, username=USER, key_filename=keys.user["ed25519"],
                       look_for_keys=False, allow_agent=False, timeout=20)
        _, stdout, _ = client.exec_command("hello", timeout=20)
        assert stdout.read() == b"hello\n"
        chan = client.get_transport().open_channel("direct-tcpip", ("127.0.0.1", server.port), ("127.0.0.1", 0))
        chan.settimeout(10)
        assert chan.recv(8) == b"SSH-2.0-"
        chan.close()
    finally:
        client.close()
