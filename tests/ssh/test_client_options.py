"""The client's OpenSSH-like options against a real sshd: ~/.ssh/config, ProxyJump (through
the same sshd as jump host, in turn), tunnel=, ProxyCommand (OpenSSH's ``ssh -W``), host key
algorithms ordered by known_hosts, accept-new, keepalives against a peer that went silent, and
get_extra_info."""

import asyncio
import os
import shutil

import pytest

import M2Sec.SSH as SSH
from M2Sec.SSH.config import SSHConfigError
from M2Sec.SSH.errors import ConnectionLost, HostKeyNotVerifiable

pytestmark = pytest.mark.timeout(90)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 80))


@pytest.fixture(scope="module")
def jump_sshd():
    """A second sshd, the first hop of the ProxyJump chain."""
    from .sshd_helpers import Sshd
    s = Sshd().start()
    yield s
    s.cleanup()


@pytest.fixture
def home(tmp_path, monkeypatch, sshd, jump_sshd):
    """HOME with ~/.ssh/config naming the test sshd "direct", and "target" reached through
    "jump2" (the same sshd) after "jump" (a second sshd)."""
    h = tmp_path / "home"
    ssh = h / ".ssh"
    ssh.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with open(ssh / "known_hosts", "w") as out:
        for server in (sshd, jump_sshd):
            with open(server.known_hosts()) as f:
                out.write(f.read())
    key = sshd.user_keys["ed25519"]
    (ssh / "config").write_text(
        "Host jump\n  HostName 127.0.0.1\n  Port %d\n  IdentityFile %s\n"
        "Host jump2\n  HostName 127.0.0.1\n  Port %d\n  ProxyJump jump\n"
        "Host target\n  HostName 127.0.0.1\n  Port %d\n  ProxyJump jump2\n"
        "Host direct\n  HostName 127.0.0.1\n  Port %d\n  Ciphers aes256-ctr\n  MACs hmac-sha2-512\n"
        "Host loop1\n  ProxyJump loop2\nHost loop2\n  ProxyJump loop1\n"
        "Host *\n  User %s\n  IdentityFile %s\n  ServerAliveInterval 30\n"
        % (jump_sshd.port, jump_sshd.user_keys["ed25519"], sshd.port, sshd.port, sshd.port, sshd.user, key))
    return h


def test_config_applies(home, sshd):
    async def go():
        async with SSH.connect("direct") as conn:
            info = {k: conn.get_extra_info(k) for k in ("send_cipher", "recv_cipher", "send_mac", "kex_alg",
                                                        "server_host_key_alg", "client_version",
                                                        "server_version", "peername", "username")}
            return info, conn._keepalive, (await conn.run("echo $SSH_CONNECTION")).stdout
    info, keepalive, out = run(go())
    assert info["send_cipher"] == info["recv_cipher"] == "aes256-ctr"
    assert info["send_mac"] == "hmac-sha2-512"
    assert info["server_version"].startswith("SSH-2.0-OpenSSH")
    assert info["client_version"].startswith("SSH-2.0-M2Sec")
    assert info["peername"][:2] == ("127.0.0.1", sshd.port)
    assert info["username"] == sshd.user and info["kex_alg"] and info["server_host_key_alg"]
    assert keepalive == (30.0, 3)
    assert out.split()[2:4] == [b"127.0.0.1", str(sshd.port).encode()]


def test_proxy_jump_two_hops(home, sshd, jump_sshd):
    async def go():
        async with SSH.connect("target") as conn:
            hops = len(conn._owned)
            assert conn._owned[0]._owned[0].get_extra_info("port") == jump_sshd.port  # the first hop
            out = (await conn.run("echo through")).stdout
            data = os.urandom(300000)
            res = await conn.run("sha256sum", input=data)
            return hops, out, res.stdout.split()[0].decode(), data
    hops, out, digest, data = run(go())
    import hashlib
    assert hops == 1 and out == b"through\n"
    assert digest == hashlib.sha256(data).hexdigest()


def test_jump_loop_is_an_error(home):
    with pytest.raises(SSHConfigError, match="loop"):
        run(SSH.connect("loop1"))


def test_tunnel_argument(home, sshd):
    async def go():
        async with SSH.connect("direct") as first:
            async with SSH.connect("127.0.0.1", sshd.port, tunnel=first) as second:
                out = (await second.run("echo inner")).stdout
            # the tunnel survives the inner connection
            return out, (await first.run("echo outer")).stdout
    assert run(go()) == (b"inner\n", b"outer\n")
    async def by_string():
        async with SSH.connect("127.0.0.1", sshd.port, tunnel="%s@127.0.0.1:%d" % (sshd.user, sshd.port)) as c:
            return (await c.run("echo str")).stdout
    assert run(by_string()) == b"str\n"


def test_proxy_command_with_openssh(home, sshd):
    key = sshd.user_keys["ed25519"]
    cmd = ("ssh -F /dev/null -o LogLevel=ERROR -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
           "-i %s -p %d -W %%h:%%p %s@127.0.0.1" % (key, sshd.port, sshd.user))

    async def go(command):
        async with SSH.connect("127.0.0.1", sshd.port, proxy_command=command, connect_timeout=20) as conn:
            return (await conn.run("echo proxied")).stdout, conn._proxy_proc
    out, proc = run(go(cmd))
    assert out == b"proxied\n"
    assert proc is not None and proc.poll() is not None  # the command ended with the connection
    with pytest.raises(ConnectionLost):
        run(go("exit 0"))


def test_proxy_command_from_the_config_runs_as_written(home, sshd, tmp_path):
    # the configuration's ProxyCommand lost its quotes (shlex-split and joined) and was expanded
    # twice, so that %% became a token: "sh -c '...'" ran another command, %%s failed
    key = sshd.user_keys["ed25519"]
    mark = tmp_path / "ran"
    config = home / ".ssh" / "config"
    config.write_text(
        "Host viaproxy\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n"
        "  ProxyCommand sh -c 'printf \"%%%%s\" \"%%h:%%p\" > %s; exec ssh -F /dev/null -o LogLevel=ERROR "
        "-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i %s -p %d -W %%h:%%p "
        "%s@127.0.0.1'\n" % (sshd.port, sshd.user, key, mark, key, sshd.port, sshd.user)
        + config.read_text())

    async def go():
        async with SSH.connect("viaproxy", connect_timeout=20) as conn:
            return (await conn.run("echo proxied")).stdout, conn._proxy_proc
    out, proc = run(go())
    assert out == b"proxied\n" and proc is not None
    assert mark.read_text() == "127.0.0.1:%d" % sshd.port


def test_host_key_order_follows_known_hosts(home, sshd, tmp_path):
    # known_hosts lists only the ECDSA key: OpenSSH, asyncssh and paramiko connect, and so does M2Sec
    path = tmp_path / "kh_ecdsa"
    with open(sshd.host_keys["ecdsa256"] + ".pub") as f:
        path.write_text("[127.0.0.1]:%d %s\n" % (sshd.port, " ".join(f.read().split()[:2])))

    async def go(known):
        async with SSH.connect("direct", known_hosts=known) as conn:
            return conn.get_extra_info("server_host_key_alg")
    assert run(go(str(path))) == "ecdsa-sha2-nistp256"
    rsa = tmp_path / "kh_rsa"
    with open(sshd.host_keys["rsa"] + ".pub") as f:
        rsa.write_text("[127.0.0.1]:%d %s\n" % (sshd.port, " ".join(f.read().split()[:2])))
    assert run(go(str(rsa))) == "rsa-sha2-512"


def test_accept_new_records_and_then_checks(home, sshd, tmp_path):
    path = tmp_path / "sub" / "known_hosts"

    async def go(policy, **kw):
        async with SSH.connect("direct", known_hosts=str(path), strict_host_key_checking=policy, **kw) as conn:
            return conn.get_extra_info("server_host_key_alg")
    with pytest.raises(HostKeyNotVerifiable, match="not in known_hosts"):
        run(go("yes"))
    assert not path.exists()
    alg = run(go("accept-new", server_host_key_algs=["ssh-ed25519"]))
    assert alg == "ssh-ed25519"
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("[127.0.0.1]:%d ssh-ed25519 " % sshd.port)
    assert run(go("yes", server_host_key_algs=["ssh-ed25519"])) == "ssh-ed25519"
    # a changed key is refused under accept-new and accepted (not recorded) under no
    path.write_text(lines[0].replace(lines[0].split()[2], SSH.generate_private_key("ssh-ed25519")
                                     .public_line().split()[1]) + "\n")
    with pytest.raises(HostKeyNotVerifiable, match="CHANGED"):
        run(go("accept-new", server_host_key_algs=["ssh-ed25519"]))
    assert run(go("no", server_host_key_algs=["ssh-ed25519"])) == "ssh-ed25519"
    assert len(path.read_text().splitlines()) == 1


def test_keepalive_ends_a_silent_connection(home, sshd):
    async def go():
        frozen = asyncio.Event()

        async def relay(reader, writer):
            up_r, up_w = await asyncio.open_connection("127.0.0.1", sshd.port)

            async def copy(src, dst):
                while True:
                    data = await src.read(65536)
                    if not data or frozen.is_set():
                        await asyncio.sleep(3600) if frozen.is_set() else None
                        return
                    dst.write(data)
            await asyncio.gather(copy(reader, up_w), copy(up_r, writer))

        server = await asyncio.start_server(relay, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            conn = await SSH.connect("127.0.0.1", port, keepalive_interval=0.3, keepalive_count_max=2,
                                     known_hosts=None, client_keys=[sshd.user_keys["ed25519"]])
            assert (await conn.run("echo alive")).stdout == b"alive\n"
            await asyncio.sleep(1.0)  # keepalives answered: still up
            assert conn.error is None
            frozen.set()
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await asyncio.wait_for(conn.wait_closed(), 10)
            return conn.error, loop.time() - t0
        finally:
            server.close()
    err, took = run(go())
    assert isinstance(err, ConnectionLost) and "keepalive" in str(err)
    assert took < 5


def test_blocking_client_serves_in_the_background(sshd):
    """The blocking client keeps forwards and keepalives going between calls, from several
    threads, and inside a thread that runs an asyncio loop."""
    import socket
    import threading
    with SSH.Client("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                    known_hosts=sshd.known_hosts(), config=None, agent_path=None, keepalive_interval=0.2) as c:
        # a forward served while this thread only sleeps in the OS
        with c.forward_local_port("127.0.0.1", 0, "127.0.0.1", sshd.port) as listener:
            with socket.create_connection(("127.0.0.1", listener.get_port()), timeout=10) as s:
                assert s.recv(64).startswith(b"SSH-2.0-OpenSSH")
        # calls from several threads at once
        results = {}

        def work(i):
            results[i] = c.run("echo %d" % i).stdout
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert results == {i: b"%d\n" % i for i in range(4)}
        # from a coroutine of another loop (the blocking call does not touch that loop)
        async def inside():
            return c.run("echo nested").stdout
        assert asyncio.run(inside()) == b"nested\n"
        # a direct-tcpip channel as a socket-like object
        with c.open_connection("127.0.0.1", sshd.port) as chan:
            assert chan.recv(64).startswith(b"SSH-2.0-OpenSSH")
        import time
        time.sleep(0.8)  # keepalives answered in the background
        assert c.connection.error is None
        assert c.get_extra_info("server_version").startswith("SSH-2.0-OpenSSH")
    with pytest.raises(RuntimeError):
        c.run("true")


def test_upload_alone_rekeys_and_write_copies(sshd):
    """rekey_bytes counts what is sent (an upload alone rekeys), and write() copies a buffer
    that the caller reuses at once."""
    import hashlib

    async def go():
        async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                               known_hosts=sshd.known_hosts(), config=None, agent_path=None,
                               rekey_bytes=2 * 1024 * 1024) as conn:
            proc = await conn.create_process("sha256sum")
            buf = bytearray(256 * 1024)
            digest = hashlib.sha256()
            for i in range(48):  # 12 MiB: several rekeys on the sending side
                buf[:] = bytes([i]) * len(buf)
                digest.update(buf)
                proc.stdin.write(buf)
                buf[:] = b"\xff" * len(buf)  # reused before the data went out
                await proc.stdin.drain()
            proc.stdin.write_eof()
            out = await proc.stdout.read()
            await proc.wait()
            return out.split()[0].decode(), digest.hexdigest(), conn._core._kex_count
    remote, local, kexes = run(go())
    assert remote == local
    assert kexes >= 4


def test_update_host_keys_learns_the_servers_other_keys(home, sshd, tmp_path):
    """sshd announces all its host keys after authentication (hostkeys-00@openssh.com); with
    update_host_keys the client has it prove them and records them (hashed when asked)."""
    from M2Sec.SSH.knownhosts import KnownHosts
    path = tmp_path / "known_hosts"
    with open(sshd.host_keys["ed25519"] + ".pub") as f:
        path.write_text("[127.0.0.1]:%d %s\n" % (sshd.port, " ".join(f.read().split()[:2])))

    async def go(**kw):
        async with SSH.connect("direct", known_hosts=str(path), server_host_key_algs=["ssh-ed25519"], **kw) as conn:
            await conn.run("true")
            await asyncio.sleep(0.3)  # the proof's answer
    run(go())
    assert len(path.read_text().splitlines()) == 1  # not asked: nothing learned
    run(go(update_host_keys=True, hash_known_hosts=True))
    kh = KnownHosts(str(path))
    learned = {e.algorithm for e in kh.lookup("127.0.0.1", sshd.port)}
    assert learned == {"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"}
    assert all(line.startswith("|1|") for line in path.read_text().splitlines()[1:])
    for name in ("ecdsa256", "rsa"):
        key = SSH.load_public_key(sshd.host_keys[name] + ".pub")
        assert kh.match("127.0.0.1", sshd.port, key).ok


def test_host_key_and_prompt_callbacks_may_be_coroutines(sshd, pam_sshd):
    """The core asks the front end (HostKeyCheck, KbdIntPrompt events): a known_hosts callable
    and a keyboard-interactive handler may be coroutines; a refusal is HostKeyNotVerifiable."""
    from .sshd_helpers import PASSWORD
    seen = []

    async def trust(key):
        await asyncio.sleep(0.05)
        seen.append(key.fingerprint())
        return True

    async def refuse(key):
        await asyncio.sleep(0.05)
        return False

    async def answer(name, instruction, prompts):
        await asyncio.sleep(0.05)
        return [PASSWORD] * len(prompts)

    async def go(server, **kw):
        async with SSH.connect("127.0.0.1", server.port, username=server.user, config=None, agent_path=None,
                               **kw) as conn:
            return (await conn.run("echo ok")).stdout
    assert run(go(sshd, known_hosts=trust, client_keys=[sshd.user_keys["ed25519"]])) == b"ok\n" and seen
    with pytest.raises(HostKeyNotVerifiable):
        run(go(sshd, known_hosts=refuse, client_keys=[sshd.user_keys["ed25519"]]))
    assert run(go(pam_sshd, known_hosts=pam_sshd.known_hosts(), client_keys=[], kbdint_handler=answer,
                  preferred_auth="keyboard-interactive")) == b"ok\n"
