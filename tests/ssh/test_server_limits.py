"""The M2Sec SSH server under bad input and load: malformed packets, silent connections,
too many unauthenticated connections, the login grace time, failed-attempt delays and
limits, buffered data bounded by the window, and 200 concurrent clients with memory
returning to its starting level."""

import asyncio
import gc
import socket
import time

import pytest

import M2Sec.SSH as SSH
from M2Sec.SSH import _asyncio_server
from M2Sec.SSH.errors import AuthenticationFailed, DisconnectError

from .server_app import AppServer, app
from .server_helpers import USER, Keys, ServerThread

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return Keys(str(tmp_path_factory.mktemp("m2sec-sshlimits")))


@pytest.fixture
def make_server(keys):
    started = []

    def make(**kw):
        kw.setdefault("server_host_keys", [keys.host["ed25519"]])
        kw.setdefault("authorized_client_keys", keys.authorized)
        kw.setdefault("server_factory", AppServer)
        kw.setdefault("process_factory", app)
        s = ServerThread(**kw)
        s.known_hosts = keys.known_hosts(s.port)
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 80))


async def hello(server, keys, **kw):
    kw.setdefault("client_keys", [keys.user["ed25519"]])
    async with SSH.connect("127.0.0.1", server.port, username=USER, known_hosts=server.known_hosts,
                           connect_timeout=20, **kw) as conn:
        return (await conn.run("hello")).stdout


def raw(server, send=b"", timeout=5.0):
    """Connect, send bytes, and read until the server closes: (what came, seconds it took)."""
    t = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        if send:
            s.sendall(send)
        got = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    return got, time.monotonic() - t


@pytest.mark.parametrize("garbage", [
    b"SSH-2.0-x\r\n" + b"\xff" * 64,                          # a 4 GiB packet length
    b"SSH-2.0-x\r\n" + b"\x00\x00\x00\x0c\x0c" + bytes(11),   # padding longer than the packet
    b"SSH-1.5-x\r\n",
    b"\x00" * 100 + b"\n",
])
def test_malformed_input_ends_the_connection(make_server, keys, garbage):
    s = make_server()
    got, took = raw(s, garbage)
    assert got.startswith(b"SSH-2.0-M2Sec") and took < 4
    assert run(hello(s, keys)) == b"hello\n"   # the server goes on


def test_login_grace_time(make_server, keys):
    s = make_server(login_timeout=0.5)
    got, took = raw(s)
    assert got.startswith(b"SSH-2.0-") and 0.4 < took < 3
    assert run(hello(s, keys)) == b"hello\n"


def test_unauthenticated_connection_limit(make_server, keys):
    s = make_server(max_unauthenticated=5, login_timeout=1.0)
    silent = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(5)]
    try:
        for c in silent:
            c.settimeout(5)
            assert c.recv(7) == b"SSH-2.0"
        # a sixth is dropped at once, without even a version line
        got, took = raw(s)
        assert got == b"" and took < 2
        # the silent ones time out, then clients get in again
        time.sleep(1.3)
        assert run(hello(s, keys)) == b"hello\n"
    finally:
        for c in silent:
            c.close()
    assert s.call(lambda: s.acceptor.unauthenticated) == 0


def test_failure_delay_and_attempt_limit(make_server, keys):
    s = make_server(auth_failure_delay=0.3)
    t = time.monotonic()
    with pytest.raises(AuthenticationFailed) as e:  # password, then keyboard-interactive: both fail
        run(hello(s, keys, client_keys=[], password="wrong"))
    assert time.monotonic() - t >= 0.6
    s = make_server(auth_failure_delay=0.01, max_auth_tries=2)
    with pytest.raises(DisconnectError, match="too many authentication failures") as e:
        run(hello(s, keys, client_keys=[keys.stranger], password="wrong"))
    assert e.value.code == 14 and not e.value.local


def test_buffered_data_is_bounded_by_the_window(make_server, keys):
    s = make_server()

    async def main():
        async with SSH.connect("127.0.0.1", s.port, username=USER, known_hosts=s.known_hosts,
                               client_keys=[keys.user["ed25519"]]) as conn:
            proc = await conn.create_process("signal")   # never reads its stdin
            assert await proc.stdout.readline() == b"ready\n"
            proc.stdin.write(bytes(20 << 20))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(proc.stdin.drain(), 1.0)

            def buffered():
                return [c.app.stdout._size for conn_ in s.acceptor.connections
                        for c in conn_._core._channels.values()]
            sizes = s.call(buffered)
            assert sizes and max(sizes) <= _asyncio_server.SERVER_WINDOW
            proc.send_signal("TERM")
            assert (await proc.wait()).exit_signal[0] == "TERM"
    run(main())


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_200_concurrent_connections(make_server, keys):
    s = make_server(max_unauthenticated=300)
    key = SSH.load_private_key(keys.user["ecdsa256"])

    async def one(i):
        async with SSH.connect("127.0.0.1", s.port, username="user%d" % i, known_hosts=s.known_hosts,
                               client_keys=[key], connect_timeout=60) as conn:
            result = await conn.run("cat", input=b"answer %d" % i)
            return result.stdout, result.exit_status

    async def round_():
        results = await asyncio.gather(*(one(i) for i in range(200)))
        assert results == [(b"answer %d" % i, 0) for i in range(200)]

    def settle():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and s.call(lambda: len(s.acceptor.connections)):
            time.sleep(0.05)
        gc.collect()

    run(round_())
    settle()
    before = _rss()
    t = time.monotonic()
    run(round_())
    took = time.monotonic() - t
    run(round_())
    settle()
    after = _rss()
    assert s.call(lambda: (len(s.acceptor.connections), s.acceptor.unauthenticated)) == (0, 0)
    live = [o for o in gc.get_objects()
            if isinstance(o, (_asyncio_server.SSHServerConnection, SSH.SSHClientConnection))]
    assert live == []
    assert after - before < 16 << 20, "memory grew by %d MiB" % ((after - before) >> 20)
    print("200 connections: %.2f s, RSS %+.1f MiB" % (took, (after - before) / 2 ** 20))


def test_idle_timeout_and_keepalive(make_server, keys):
    """idle_timeout ends a connection the client leaves silent; with keepalives the client
    answers (OpenSSH's ClientAliveInterval), and a client that stops answering is dropped."""
    idle = make_server(idle_timeout=0.6)

    async def quiet():
        conn = await SSH.connect("127.0.0.1", idle.port, username=USER, known_hosts=idle.known_hosts,
                                 client_keys=[keys.user["ed25519"]], config=None, agent_path=None)
        t0 = time.monotonic()
        await asyncio.wait_for(conn.wait_closed(), 10)
        return conn.error, time.monotonic() - t0
    err, took = run(quiet())
    assert isinstance(err, DisconnectError) and "idle timeout" in str(err) and took < 5

    alive = make_server(keepalive_interval=0.2, keepalive_count_max=2)

    async def answered():
        async with SSH.connect("127.0.0.1", alive.port, username=USER, known_hosts=alive.known_hosts,
                               client_keys=[keys.user["ed25519"]], config=None, agent_path=None) as conn:
            await asyncio.sleep(1.2)  # several keepalives, each answered by the client core
            return conn.error, (await conn.run("hello")).stdout
    err, out = run(answered())
    assert err is None and out == b"hello\n"

    async def frozen():
        conn = await SSH.connect("127.0.0.1", alive.port, username=USER, known_hosts=alive.known_hosts,
                                 client_keys=[keys.user["ed25519"]], config=None, agent_path=None)
        conn._transport.pause_reading()  # the client stops reading: no answers go back
        t0 = time.monotonic()
        for _ in range(100):
            if not alive.acceptor.connections:
                break
            await asyncio.sleep(0.05)
        gone = time.monotonic() - t0
        conn.close()
        return gone, len(alive.acceptor.connections)
    gone, left = run(frozen())
    assert left == 0 and gone < 4
