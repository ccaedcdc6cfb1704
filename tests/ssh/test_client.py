"""The SSH client against a real OpenSSH sshd: every algorithm on its own, every
authentication method, sessions, forwarding, bulk transfer, rekeying and host key checks."""

import asyncio
import hashlib
import os
import socket
import threading

import pytest

import M2Sec.SSH as SSH
from M2Sec.SSH import connection as core
from M2Sec.SSH.errors import (AuthenticationFailed, ChannelOpenError, HostKeyNotVerifiable, KeyExchangeFailed,
                              ProcessError)

from .server_helpers import openssh_kex, read_sha256
from .sshd_helpers import PASSWORD

pytestmark = pytest.mark.timeout(60)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 50))


def user_of(sshd):
    return sshd.user


async def _connect_run(sshd, command="echo hello; echo oops >&2; exit 3", **kw):
    kw.setdefault("client_keys", [sshd.user_keys["ed25519"]])
    kw.setdefault("known_hosts", sshd.known_hosts())
    async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, connect_timeout=20, **kw) as conn:
        result = await conn.run(command)
        return conn.negotiated, result


def _check(result):
    assert result.stdout == b"hello\n"
    assert result.stderr == b"oops\n"
    assert result.exit_status == 3
    assert result.returncode == 3


@pytest.mark.parametrize("alg", openssh_kex())
def test_kex(sshd, alg):
    negotiated, result = run(_connect_run(sshd, kex_algs=[alg]))
    assert negotiated["kex"] == alg
    _check(result)


@pytest.mark.parametrize("alg", core.SUPPORTED_CIPHERS)
def test_cipher(sshd, alg):
    negotiated, result = run(_connect_run(sshd, encryption_algs=[alg]))
    assert negotiated["cipher_out"] == negotiated["cipher_in"] == alg
    _check(result)


@pytest.mark.parametrize("cipher", [b"aes128-ctr", b"aes256-cbc"])
@pytest.mark.parametrize("alg", core.SUPPORTED_MACS)
def test_mac(sshd, alg, cipher):
    negotiated, result = run(_connect_run(sshd, mac_algs=[alg], encryption_algs=[cipher]))
    assert negotiated["mac_out"] == negotiated["mac_in"] == alg
    _check(result)


# host certificates are checked against the host CA (@cert-authority), plain keys against
# the known_hosts lines of the fixture
@pytest.mark.parametrize("alg", core.SUPPORTED_HOST_KEY_ALGS)
def test_host_key(sshd, alg):
    if alg.endswith(b"-cert-v01@openssh.com"):
        path = os.path.join(sshd.dir, "known_hosts_ca")
        with open(sshd.host_ca + ".pub") as f:
            with open(path, "w") as out:
                out.write("@cert-authority [127.0.0.1]:%d %s\n" % (sshd.port, " ".join(f.read().split()[:2])))
        known = path
    else:
        known = sshd.known_hosts()
    negotiated, result = run(_connect_run(sshd, server_host_key_algs=[alg], known_hosts=known))
    assert negotiated["host_key"] == alg
    _check(result)


@pytest.mark.parametrize("alg", [b"none", b"zlib@openssh.com"])
def test_compression(sshd, alg):
    negotiated, result = run(_connect_run(sshd, compression_algs=[alg], command="head -c 100000 /dev/zero; exit 3"))
    assert negotiated["comp_in"] == alg
    assert result.stdout == bytes(100000) and result.exit_status == 3


# ---- authentication ----

@pytest.mark.parametrize("keytype", ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"])
def test_publickey(sshd, keytype):
    negotiated, result = run(_connect_run(sshd, client_keys=[sshd.user_keys[keytype]]))
    _check(result)


def test_publickey_encrypted_file_and_objects(sshd, tmp_path):
    key = SSH.load_private_key(sshd.user_keys["ecdsa256"])
    path = str(tmp_path / "enc_key")
    key.save_private(path, passphrase="s3cret")
    _, result = run(_connect_run(sshd, client_keys=[path], passphrase="s3cret"))
    _check(result)
    _, result = run(_connect_run(sshd, client_keys=[key]))
    _check(result)


def test_publickey_rsa_sha2_from_server_sig_algs(sshd):
    async def go():
        async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["rsa"]],
                               known_hosts=sshd.known_hosts()) as conn:
            assert b"rsa-sha2-512" in conn._core.server_sig_algs
            return (await conn.run("true")).exit_status
    assert run(go()) == 0
    assert "rsa-sha2-512" not in sshd.log()  # no complaint logged


def test_user_certificate(sshd):
    # the key alone is not in authorized_keys: only its certificate (signed by the trusted CA) works
    _, result = run(_connect_run(sshd, client_keys=[sshd.cert_user_key]))
    _check(result)
    with pytest.raises(AuthenticationFailed):
        key = SSH.load_private_key(sshd.cert_user_key)
        run(_connect_run(sshd, client_keys=[key]))


def test_no_method_left(sshd, tmp_path):
    stranger = SSH.generate_private_key("ssh-ed25519")
    with pytest.raises(AuthenticationFailed) as e:
        run(_connect_run(sshd, client_keys=[stranger]))
    assert e.value.code == 14


def test_password(pam_sshd):
    _, result = run(_connect_run(pam_sshd, client_keys=[], password=PASSWORD))
    _check(result)
    with pytest.raises(AuthenticationFailed):
        run(_connect_run(pam_sshd, client_keys=[], password="wrong"))


def test_keyboard_interactive(pam_sshd):
    seen = []

    def answer(name, instruction, prompts):
        seen.append(prompts)
        return [PASSWORD for _ in prompts]

    _, result = run(_connect_run(pam_sshd, client_keys=[], kbdint_handler=answer))
    _check(result)
    assert seen and seen[0][0][1] is False  # a hidden prompt


# ---- host key checks ----

def test_unknown_host_key_fails(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyNotVerifiable, match="not in known_hosts"):
        run(_connect_run(sshd, known_hosts=str(empty)))


def test_changed_host_key_fails(sshd, tmp_path):
    other = SSH.generate_private_key("ssh-ed25519")
    path = tmp_path / "known_hosts"
    path.write_text("[127.0.0.1]:%d %s\n" % (sshd.port, other.public_line()))
    with pytest.raises(HostKeyNotVerifiable, match="CHANGED"):
        run(_connect_run(sshd, known_hosts=str(path), server_host_key_algs=["ssh-ed25519"]))


def test_revoked_host_key_fails(sshd, tmp_path):
    path = tmp_path / "known_hosts"
    with open(sshd.host_keys["ed25519"] + ".pub") as f:
        line = " ".join(f.read().split()[:2])
    path.write_text("[127.0.0.1]:%d %s\n@revoked * %s\n" % (sshd.port, line, line))
    with pytest.raises(HostKeyNotVerifiable, match="revoked"):
        run(_connect_run(sshd, known_hosts=str(path), server_host_key_algs=["ssh-ed25519"]))


def test_host_key_callback(sshd):
    seen = []
    _, result = run(_connect_run(sshd, known_hosts=lambda key: seen.append(key.fingerprint()) or True))
    _check(result)
    assert seen[0].startswith("SHA256:")
    with pytest.raises(HostKeyNotVerifiable):
        run(_connect_run(sshd, known_hosts=lambda key: False))


def test_no_common_algorithm(sshd):
    with pytest.raises(KeyExchangeFailed, match="no common"):
        run(_connect_run(sshd, compression_algs=["zlib"]))


# ---- sessions ----

def test_sessions(sshd):
    async def go():
        async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                               known_hosts=sshd.known_hosts()) as conn:
            # several sessions at once on one connection
            results = await asyncio.gather(*(conn.run("echo %d; sleep 0.2" % i) for i in range(8)))
            assert [r.stdout for r in results] == [b"%d\n" % i for i in range(8)]
            # input, text mode, check
            r = await conn.run("cat; echo done", input="héllo\n", encoding="utf-8")
            assert r.stdout == "héllo\ndone\n"
            with pytest.raises(ProcessError) as e:
                await conn.run("exit 7", check=True)
            assert e.value.result.exit_status == 7
            # env (AcceptEnv M2SEC_*), pty with terminal type and size, window change
            r = await conn.run("echo $M2SEC_X", env={"M2SEC_X": "42"})
            assert r.stdout == b"42\n"
            proc = await conn.create_process("echo $TERM; stty size; read x; stty size", term_type="vt100",
                                             term_size=(100, 30), encoding="ascii")
            assert (await proc.stdout.readline()).strip() == "vt100"
            assert (await proc.stdout.readline()).strip() == "30 100"
            proc.change_terminal_size(120, 40)
            await asyncio.sleep(0.1)
            proc.stdin.write("go\n")
            out = await proc.stdout.read()
            assert "40 120" in out
            await proc.wait()
            # exit-signal: the command kills itself
            r = await conn.run("kill -KILL $$")
            assert r.exit_signal is not None and r.exit_signal[0] == "KILL"
            assert r.exit_status is None and r.returncode == -9
            # a signal request reaches sshd (which only delivers it to privilege-separated
            # sessions, not to root's: then it says so in its log)
            proc = await conn.create_process("sleep 5")
            await asyncio.sleep(0.2)
            proc.send_signal("TERM")
            await asyncio.sleep(0.2)
            if "signalling requires privilege separation" not in sshd.log():
                r = await proc.wait()
                assert r.exit_signal is not None and r.exit_signal[0] == "TERM"
            proc.close()
            # subsystem
            proc = await conn.create_process(subsystem="sftp")
            proc.stdin.write(b"\x00\x00\x00\x05\x01\x00\x00\x00\x03")  # SSH_FXP_INIT version 3
            head = await proc.stdout.readexactly(5)
            assert head[4] == 2  # SSH_FXP_VERSION
            proc.close()
            # a shell
            r = await conn.run(None, input="echo from-shell; exit 4\n")
            assert b"from-shell" in r.stdout and r.exit_status == 4
    run(go())


def test_many_connections_one_loop(sshd):
    async def one(i):
        _, r = await _connect_run(sshd, command="echo %d" % i)
        return r.stdout

    async def go():
        return await asyncio.gather(*(one(i) for i in range(6)))
    assert run(go()) == [b"%d\n" % i for i in range(6)]


def test_blocking_client(sshd):
    with SSH.Client("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                    known_hosts=sshd.known_hosts()) as c:
        r = c.run("echo hello; echo oops >&2; exit 3")
        _check(r)
        with c.create_process("cat") as p:
            p.write(b"abc")
            p.write_eof()
            assert p.read() == b"abc"
            assert p.wait().exit_status == 0


# ---- forwarding ----

def _echo_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                while True:
                    data = c.recv(65536)
                    if not data:
                        break
                    c.sendall(data)
    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_forward_local_port(sshd):
    srv = _echo_server()
    port = srv.getsockname()[1]

    async def go():
        async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                               known_hosts=sshd.known_hosts()) as conn:
            listener = await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", port)
            for _ in range(2):
                reader, writer = await asyncio.open_connection("127.0.0.1", listener.get_port())
                payload = os.urandom(300000)
                writer.write(payload)
                await writer.drain()
                got = await reader.readexactly(len(payload))
                assert got == payload
                writer.close()
            # a direct channel without a listener; a refused destination
            r, w = await conn.open_connection("127.0.0.1", port)
            w.write(b"ping")
            assert await r.readexactly(4) == b"ping"
            w.write_eof()
            with pytest.raises(ChannelOpenError) as e:
                await conn.open_connection("127.0.0.1", 1)
            assert e.value.code == 2
            listener.close()
    try:
        run(go())
    finally:
        srv.close()


# ---- bulk and rekeying ----

MIB = 1024 * 1024


@pytest.mark.parametrize("cipher", [b"aes128-gcm@openssh.com", b"chacha20-poly1305@openssh.com"])
def test_bulk_64mib_each_way(sshd, cipher):
    size = 64 * MIB
    data = os.urandom(MIB) * 64

    # up: the data to sha256sum; down: random data with its checksum on stderr
    run(_bulk(sshd, cipher, data, size))


async def _bulk(sshd, cipher, data, size):
    async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                           known_hosts=sshd.known_hosts(), encryption_algs=[cipher]) as conn:
        up = await conn.run("sha256sum", input=data)
        assert up.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
        proc = await conn.create_process("head -c %d /dev/urandom > /tmp/.m2sec-bulk-$$; sha256sum < /tmp/.m2sec-bulk-$$ >&2; "
                                         "cat /tmp/.m2sec-bulk-$$; rm -f /tmp/.m2sec-bulk-$$" % size)
        got, digest = await read_sha256(proc.stdout)
        r = await proc.wait()
        assert got == size
        assert r.stderr.split()[0].decode() == digest


def test_rekey_during_transfer(sshd):
    size = 16 * MIB
    data = os.urandom(size)

    async def go():
        async with SSH.connect("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                               known_hosts=sshd.known_hosts(), rekey_bytes=4 * MIB) as conn:
            first = conn._core.session_id
            up = await conn.run("sha256sum", input=data)
            assert up.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
            count = conn._core._kex_count
            assert count >= 4, count
            # an explicit rekey in the middle of a download, and one the server starts
            proc = await conn.create_process("head -c %d /dev/zero" % size)
            got = await proc.stdout.read(1 << 20)
            conn.rekey()
            got += await proc.stdout.read()
            assert got == bytes(size)
            assert conn._core._kex_count > count
            assert conn._core.session_id == first
    run(go())
