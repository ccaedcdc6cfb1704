"""The M2Sec client against the M2Sec server over loopback: algorithms, authentication,
sessions with pty, env, window changes and signals, subsystems, local and remote forwarding
(also against OpenSSH's sshd), 64 MiB each way, rekeying, the blocking client and server."""

import asyncio
import hashlib
import os
import socket

import pytest

import M2Sec.SSH as SSH
from M2Sec.SSH import connection as core
from M2Sec.SSH import kex
from M2Sec.SSH.errors import AuthenticationFailed, ChannelOpenError, ChannelRequestError, HostKeyNotVerifiable

from .server_app import AppServer, app
from .server_helpers import PASSWORD, USER, EchoServer, Keys, ServerThread, pattern

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return Keys(str(tmp_path_factory.mktemp("m2sec-sshserver")))


@pytest.fixture(scope="module")
def echo():
    e = EchoServer()
    yield e
    e.close()


@pytest.fixture(scope="module")
def server(keys):
    runner = SSH.LocalProcessRunner()

    async def factory(process):
        if process.command is not None and process.command.startswith("run:"):
            process.command = process.command[4:]
            return await runner(process)
        return await app(process)
    factory.subsystems = ["echo"]
    s = ServerThread(server_host_keys=list(keys.host.values()), authorized_client_keys=keys.authorized,
                     trusted_user_ca_keys=[keys.user_ca_pub], server_factory=AppServer, process_factory=factory,
                     kex_algs=kex.SUPPORTED_KEX, encryption_algs=core.SUPPORTED_CIPHERS,
                     server_host_key_algs=core.SUPPORTED_HOST_KEY_ALGS, compression_algs=core.SUPPORTED_COMPRESSION,
                     auth_failure_delay=0.01)
    s.known_hosts = keys.known_hosts(s.port)
    yield s
    s.stop()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 80))


def connect(server, keys, **kw):
    kw.setdefault("client_keys", [keys.user["ed25519"]])
    kw.setdefault("known_hosts", server.known_hosts)
    kw.setdefault("username", USER)
    return SSH.connect("127.0.0.1", server.port, connect_timeout=20, **kw)


async def _hello(server, keys, **kw):
    async with connect(server, keys, **kw) as conn:
        result = await conn.run("hello")
        return conn.negotiated, result


def _check(result):
    assert (result.stdout, result.stderr, result.exit_status) == (b"hello\n", b"oops\n", 3)


@pytest.mark.parametrize("alg", kex.SUPPORTED_KEX)
def test_kex(server, keys, alg):
    negotiated, result = run(_hello(server, keys, kex_algs=[alg]))
    assert negotiated["kex"] == alg
    _check(result)


@pytest.mark.parametrize("alg", core.SUPPORTED_CIPHERS)
def test_cipher(server, keys, alg):
    negotiated, result = run(_hello(server, keys, encryption_algs=[alg]))
    assert negotiated["cipher_out"] == negotiated["cipher_in"] == alg


@pytest.mark.parametrize("alg", core.SUPPORTED_MACS)
def test_mac(server, keys, alg):
    negotiated, _ = run(_hello(server, keys, encryption_algs=["aes128-ctr"], mac_algs=[alg]))
    assert negotiated["mac_out"] == alg


@pytest.mark.parametrize("alg", core.SUPPORTED_HOST_KEY_ALGS)
def test_host_key(server, keys, alg):
    kh = keys.known_hosts(server.port, ca=alg.endswith(b"-cert-v01@openssh.com"))
    negotiated, result = run(_hello(server, keys, server_host_key_algs=[alg], known_hosts=kh))
    assert negotiated["host_key"] == alg
    _check(result)


@pytest.mark.parametrize("alg", core.SUPPORTED_COMPRESSION)
def test_compression(server, keys, alg):
    negotiated, result = run(_hello(server, keys, compression_algs=[alg]))
    assert negotiated["comp_out"] == alg
    _check(result)


def test_unknown_host_key_fails(server, keys, tmp_path):
    (tmp_path / "kh").write_text("")
    with pytest.raises(HostKeyNotVerifiable):
        run(_hello(server, keys, known_hosts=str(tmp_path / "kh")))


@pytest.mark.parametrize("name", ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"])
def test_publickey(server, keys, name):
    run(_hello(server, keys, client_keys=[keys.user[name]]))


def test_other_methods(server, keys):
    run(_hello(server, keys, client_keys=[keys.cert_user]))
    run(_hello(server, keys, client_keys=[], password=PASSWORD))
    answers = {"Password: ": PASSWORD, "Favourite colour: ": "blue"}
    run(_hello(server, keys, client_keys=[], kbdint_handler=lambda n, i, prompts: [answers[p] for p, _ in prompts]))
    with pytest.raises(AuthenticationFailed):
        run(_hello(server, keys, client_keys=[keys.stranger], password="wrong"))


def test_sessions(server, keys):
    async def main():
        async with connect(server, keys) as conn:
            # pty, env, window change and signal delivered to the handler
            proc = await conn.create_process("pty", term_type="vt220", term_size=(132, 43))
            assert (await proc.stdout.read()) == b"vt220 132 43\n"
            proc = await conn.create_process("env LC_X", env={"LC_X": "y"})
            assert (await proc.stdout.read()) == b"y\n"
            proc = await conn.create_process("winch")
            assert await proc.stdout.readline() == b"ready\n"
            proc.change_terminal_size(100, 50)
            assert (await proc.wait()).stdout == b"100 50\n"
            proc = await conn.create_process("signal")
            assert await proc.stdout.readline() == b"ready\n"
            proc.send_signal("USR1")
            result = await proc.wait()
            assert result.exit_signal[0] == "USR1" and result.exit_status is None
            # several sessions at once
            results = await asyncio.gather(*(conn.run("cat", input=b"%d" % i) for i in range(20)))
            assert [r.stdout for r in results] == [b"%d" % i for i in range(20)]
            # a subsystem, a refused one, a shell
            proc = await conn.create_process(subsystem="echo")
            out, _ = await proc.communicate(b"sub")
            assert out == b"sub"
            with pytest.raises(ChannelRequestError):
                await conn.create_process(subsystem="nonesuch")
            result = await conn.run(None, input=b"hi\nexit 4\n")
            assert result.exit_status == 4 and b"you said hi" in result.stdout
            # the local process runner: exit status, signals, a pty
            result = await conn.run("run:echo out; echo err >&2; exit 9")
            assert (result.stdout, result.stderr, result.exit_status) == (b"out\n", b"err\n", 9)
            result = await conn.run("run:kill -KILL $$")
            assert result.exit_signal[0] == "KILL"
            proc = await conn.create_process("run:sleep 30")
            await asyncio.sleep(0.2)
            proc.send_signal("TERM")
            assert (await proc.wait()).exit_signal[0] == "TERM"
            result = await conn.run("run:tty; stty size", term_type="xterm", term_size=(90, 33))
            assert result.stdout.replace(b"\r", b"").split(b"\n")[1] == b"33 90"
            proc = await conn.create_process("run:trap 'stty size; exit 0' WINCH; echo ready; "
                                             "while :; do sleep 0.05; done", term_type="xterm", term_size=(80, 24))
            assert await proc.stdout.readline() == b"ready\r\n"
            proc.change_terminal_size(100, 40)
            assert (await proc.wait()).stdout.replace(b"\r", b"") == b"40 100\n"
    run(main())


def test_forwarding(server, keys, echo):
    async def main():
        async with connect(server, keys) as conn:
            # local: direct-tcpip through the server
            reader, writer = await conn.open_connection("127.0.0.1", echo.port)
            writer.write(b"direct")
            writer.write_eof()
            assert await reader.read() == b"direct"
            listener = await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", echo.port)
            assert await echo_via(listener.get_port(), b"local forward") == b"local forward"
            listener.close()
            # remote: the server listens, the client connects to the destination
            remote = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", echo.port)
            port = remote.get_port()
            assert port
            for i in range(3):
                data = os.urandom(200000)
                assert await echo_via(port, data) == data
            remote.close()
            await asyncio.sleep(0.2)
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", port)
            with pytest.raises(ChannelOpenError):
                await conn.open_connection("127.0.0.1", _closed_port())
    run(main())


async def echo_via(port, data):
    """Send data to 127.0.0.1:port, then EOF; what came back."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(data)
    w.write_eof()
    try:
        return await r.read()
    finally:
        w.close()


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_forward_remote_port_against_sshd(sshd, echo):
    async def main():
        async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                               known_hosts=sshd.known_hosts(), connect_timeout=20) as conn:
            remote = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", echo.port)
            assert await echo_via(remote.get_port(), b"via sshd") == b"via sshd"
            remote.close()
    run(main())


SIZE = 64 * 1024 * 1024


@pytest.mark.parametrize("cipher", ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"])
def test_bulk_64mib_each_way(server, keys, cipher):
    data = pattern(SIZE)

    async def main():
        async with connect(server, keys, encryption_algs=[cipher]) as conn:
            up = await conn.run("sha256", input=data)
            down = await conn.run("gen %d" % SIZE)
            return up.stdout, down.stdout
    up, down = run(main())
    digest = hashlib.sha256(data).hexdigest().encode()
    assert up == b"%d %s\n" % (SIZE, digest)
    assert len(down) == SIZE and hashlib.sha256(down).hexdigest().encode() == digest


def test_rekey_during_transfer(server, keys):
    data = pattern(8 << 20)

    async def main():
        async with connect(server, keys, rekey_bytes=1 << 20) as conn:
            result = await conn.run("sha256", input=data)
            conn.rekey()
            again = await conn.run("cat", input=b"after")
            return result.stdout, again.stdout, conn._core._kex_count
    out, again, count = run(main())
    assert out == b"%d %s\n" % (len(data), hashlib.sha256(data).hexdigest().encode())
    assert again == b"after" and count >= 5


def test_blocking_client_and_server(keys):
    def handler(process):
        data = process.read()
        process.write(b"%s:%d:%s" % (process.command.encode(), len(data), process.username.encode()))
        process.write_stderr(b"e")
        return 5

    with SSH.Server("127.0.0.1", 0, server_host_keys=[keys.host["ed25519"]], authorized_client_keys=keys.authorized,
                    process_factory=handler) as s:
        s.start()
        kh = keys.known_hosts(s.port)
        with SSH.Client("127.0.0.1", s.port, username="bob", client_keys=[keys.user["rsa"]], known_hosts=kh) as c:
            result = c.run("count", input=b"x" * 100000)
            assert (result.stdout, result.stderr, result.exit_status) == (b"count:100000:bob", b"e", 5)
            results = [c.run("n%d" % i).stdout for i in range(3)]
            assert results == [b"n0:0:bob", b"n1:0:bob", b"n2:0:bob"]


class _SlowDirectory(SSH.SSHServer):
    """Decisions taken by coroutines (a directory lookup that takes its time)."""

    def password_auth_supported(self):
        return True

    def public_key_auth_supported(self):
        return True

    async def validate_password(self, username, password):
        await asyncio.sleep(0.8)
        if password == "expired":
            raise SSH.PasswordChangeRequired("your password expired")
        return password == PASSWORD

    async def change_password(self, username, old, new):
        await asyncio.sleep(0.05)
        return old == "expired" and new == "fresh"

    async def validate_public_key(self, username, key):
        await asyncio.sleep(0.05)
        return True


def test_coroutine_decisions_do_not_stall_other_connections(keys):
    s = ServerThread(server_host_keys=[keys.host["ed25519"]], server_factory=_SlowDirectory, process_factory=app,
                     auth_failure_delay=0.01)
    try:
        kh = keys.known_hosts(s.port)

        async def one(**kw):
            loop = asyncio.get_running_loop()
            t = loop.time()
            async with SSH.connect("127.0.0.1", s.port, username=USER, known_hosts=kh, config=None,
                                   agent_path=None, **kw) as conn:
                out = (await conn.run("hello")).stdout
            return out, loop.time() - t

        async def both():
            slow = asyncio.ensure_future(one(client_keys=[], password=PASSWORD))
            await asyncio.sleep(0.05)
            fast = await one(client_keys=[keys.user["ed25519"]])
            return fast, await slow
        (fast_out, fast_t), (slow_out, slow_t) = asyncio.run(asyncio.wait_for(both(), 60))
        assert fast_out == slow_out == b"hello\n"
        assert fast_t < slow_t and slow_t >= 0.8  # the key login did not wait for the password check
        # PasswordChangeRequired raised by a coroutine reaches the client's handler
        prompts = []
        out, _ = asyncio.run(asyncio.wait_for(one(client_keys=[], password="expired",
                                                  password_change_handler=lambda p: prompts.append(p) or "fresh"), 30))
        assert out == b"hello\n" and prompts == ["your password expired"]
        with pytest.raises(AuthenticationFailed):
            asyncio.run(asyncio.wait_for(one(client_keys=[], password="wrong"), 30))
    finally:
        s.stop()
