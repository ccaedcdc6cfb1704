"""SSH client bench against a local OpenSSH sshd: M2Sec beside the OpenSSH client.

Connection rate (connect + authenticate + run ``true``) and bulk transfer up and down with
aes128-gcm@openssh.com and chacha20-poly1305@openssh.com.  The stable figures on a small
machine are the client's CPU seconds (user + system): M2Sec's are measured in this process
(time.process_time), the OpenSSH client's from its rusage.  ``rows()`` gives bench/run.py's
tuples; ``python bench/ssh_client.py`` prints them.
"""

import asyncio
import os
import statistics
import subprocess
import sys
import time
from typing import List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from _timing import print_table  # noqa: E402

from ssh.sshd_helpers import Sshd  # noqa: E402

import M2Sec.SSH as SSH  # noqa: E402

MIB = 1 << 20
BULK = 256 * MIB
CONNECTIONS = 20
RUNS = 3


def _ssh_cmd(sshd: Sshd, cipher: str, command: str) -> List[str]:
    return ["ssh", "-F", "/dev/null", "-p", str(sshd.port), "-i", sshd.user_keys["ed25519"],
            "-o", "UserKnownHostsFile=" + sshd.known_hosts(), "-o", "StrictHostKeyChecking=yes",
            "-o", "Ciphers=" + cipher, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "%s@127.0.0.1" % sshd.user, command]


def _openssh(sshd: Sshd, cipher: str, command: str, stdin: str = "/dev/null") -> Tuple[float, float]:
    """(wall seconds, client CPU seconds) of one ssh run."""
    with open(stdin, "rb") as fin, open(os.devnull, "wb") as fout:
        t = time.perf_counter()
        p = subprocess.Popen(_ssh_cmd(sshd, cipher, command), stdin=fin, stdout=fout)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
    if p.returncode:
        raise RuntimeError("ssh failed: %d" % p.returncode)
    return wall, ru.ru_utime + ru.ru_stime


def _kw(sshd: Sshd, cipher: str) -> dict:
    return dict(username=sshd.user, client_keys=[SSH.load_private_key(sshd.user_keys["ed25519"])],
                known_hosts=sshd.known_hosts(), encryption_algs=[cipher], config=None, agent_path=None)


async def _m2_jump_connections(sshd: Sshd, cipher: str, n: int) -> Tuple[float, float]:
    """connect through the same sshd as jump host (ProxyJump), authenticate, run true."""
    kw = _kw(sshd, cipher)
    t, c = time.perf_counter(), time.process_time()
    for _ in range(n):
        async with SSH.connect("127.0.0.1", sshd.port, **kw) as jump:
            async with SSH.connect("127.0.0.1", sshd.port, tunnel=jump, **kw) as conn:
                await conn.run("true")
    return (time.perf_counter() - t) / n, (time.process_time() - c) / n


def _openssh_jump(sshd: Sshd, cipher: str) -> Tuple[float, float]:
    """ssh -J through the same sshd: wall time and the CPU of both ssh processes."""
    argv = _ssh_cmd(sshd, cipher, "true")
    jump = "ProxyCommand=ssh -F /dev/null -p %d -i %s -o UserKnownHostsFile=%s -o BatchMode=yes -o Ciphers=%s " \
           "-W %%h:%%p %s@127.0.0.1" % (sshd.port, sshd.user_keys["ed25519"], sshd.known_hosts(), cipher, sshd.user)
    argv = argv[:-2] + ["-o", jump] + argv[-2:]
    t = time.perf_counter()
    before = os.times()
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True, timeout=60)
    after = os.times()
    return time.perf_counter() - t, (after.children_user - before.children_user) + \
        (after.children_system - before.children_system)


async def _m2_connections(sshd: Sshd, cipher: str, n: int) -> Tuple[float, float]:
    kw = _kw(sshd, cipher)
    t, c = time.perf_counter(), time.process_time()
    for _ in range(n):
        async with SSH.connect("127.0.0.1", sshd.port, **kw) as conn:
            await conn.run("true")
    return (time.perf_counter() - t) / n, (time.process_time() - c) / n


async def _count_to_eof(stream) -> int:
    """Read an asyncio-style stream (M2Sec's or asyncssh's) to its end: the byte count."""
    got = 0
    while True:
        chunk = await stream.read(1 << 20)
        if not chunk:
            return got
        got += len(chunk)


async def _m2_bulk(sshd: Sshd, cipher: str, up: bool) -> Tuple[float, float]:
    kw = _kw(sshd, cipher)
    async with SSH.connect("127.0.0.1", sshd.port, **kw) as conn:
        if up:
            data = bytes(BULK)
            t, c = time.perf_counter(), time.process_time()
            await conn.run("cat > /dev/null", input=data, check=True)
        else:
            t, c = time.perf_counter(), time.process_time()
            proc = await conn.create_process("head -c %d /dev/zero" % BULK)
            assert await _count_to_eof(proc.stdout) == BULK
            await proc.wait()
        return time.perf_counter() - t, time.process_time() - c


def _median(f, runs: int = RUNS) -> Tuple[float, float]:
    results = [f() for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


# ---- the peers installed for the bench only: asyncssh and paramiko ----------------------------

def _asyncssh_client():
    try:
        import asyncssh
    except ImportError:  # pragma: no cover - make bench installs it
        return None

    def kw(sshd, cipher):
        return dict(username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                    known_hosts=sshd.known_hosts(), encryption_algs=[cipher])

    async def conns(sshd, cipher, n):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            async with asyncssh.connect("127.0.0.1", sshd.port, **kw(sshd, cipher)) as conn:
                await conn.run("true")
        return (time.perf_counter() - t) / n, (time.process_time() - c) / n

    async def bulk(sshd, cipher, up):
        async with asyncssh.connect("127.0.0.1", sshd.port, **kw(sshd, cipher)) as conn:
            t, c = time.perf_counter(), time.process_time()
            if up:
                await conn.run("cat > /dev/null", input=bytes(BULK), encoding=None, check=True)
            else:
                proc = await conn.create_process("head -c %d /dev/zero" % BULK, encoding=None)
                assert await _count_to_eof(proc.stdout) == BULK
                await proc.wait()
            return time.perf_counter() - t, time.process_time() - c

    return (lambda sshd, cipher, n: asyncio.run(conns(sshd, cipher, n)),
            lambda sshd, cipher, up: asyncio.run(bulk(sshd, cipher, up)))


def _paramiko_client():
    try:
        import paramiko
    except ImportError:  # pragma: no cover - make bench installs it
        return None

    def connect(sshd, cipher):
        c = paramiko.SSHClient()
        c.load_host_keys(sshd.known_hosts())
        others = [x for x in paramiko.Transport._cipher_info if x != cipher]
        c.connect("127.0.0.1", sshd.port, username=sshd.user, key_filename=sshd.user_keys["ed25519"],
                  look_for_keys=False, allow_agent=False, disabled_algorithms={"ciphers": others})
        return c

    def conns(sshd, cipher, n):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            client = connect(sshd, cipher)
            _, out, _ = client.exec_command("true")
            out.channel.recv_exit_status()
            client.close()
        return (time.perf_counter() - t) / n, (time.process_time() - c) / n

    def bulk(sshd, cipher, up):
        client = connect(sshd, cipher)
        try:
            t, c = time.perf_counter(), time.process_time()
            if up:
                stdin, out, _ = client.exec_command("cat > /dev/null")  # closing stdin sends EOF
                chan, block = out.channel, bytes(1 << 20)
                for _ in range(BULK // len(block)):
                    chan.sendall(block)
                chan.shutdown_write()
            else:
                _, out, _ = client.exec_command("head -c %d /dev/zero" % BULK)
                chan, got = out.channel, 0
                while True:
                    chunk = chan.recv(1 << 20)
                    if not chunk:
                        break
                    got += len(chunk)
                assert got == BULK
            if chan.recv_exit_status():
                raise RuntimeError("paramiko: the command failed")
            return time.perf_counter() - t, time.process_time() - c
        finally:
            client.close()

    ciphers = set(paramiko.Transport._cipher_info)
    return conns, bulk, ciphers


def _fmt(wall: float, cpu: float, per: str) -> str:
    return "%.0f MB/s, %.2f s CPU" % (BULK / MIB / wall, cpu) if per == "bulk" else \
        "%.1f/s, %.1f ms CPU" % (1 / wall, cpu * 1e3)


def rows() -> List[tuple]:
    """One row per peer: connection rate, and bulk up and down with each AEAD.

    Against the OpenSSH client the target is client CPU (within 1.3x of its); against asyncssh,
    wall-clock throughput and connection rate (at least its).  paramiko is shown for reference.
    """
    out = []
    aio, pmk = _asyncssh_client(), _paramiko_client()
    sshd = Sshd().start()
    try:
        cipher = "aes128-gcm@openssh.com"
        m = _median(lambda: asyncio.run(_m2_connections(sshd, cipher, CONNECTIONS)))
        o = [_openssh(sshd, cipher, "true") for _ in range(CONNECTIONS)]
        peers = [("OpenSSH ssh", (statistics.median(x[0] for x in o), statistics.median(x[1] for x in o)))]
        if aio:
            peers.append(("asyncssh", _median(lambda: aio[0](sshd, cipher, CONNECTIONS))))
        if pmk:
            peers.append(("paramiko", _median(lambda: pmk[0](sshd, cipher, CONNECTIONS))))
        for name, p in peers:
            rate = p[0] / m[0]
            target, ok = (">= 1.0 (rate)", rate >= 1.0) if name == "asyncssh" else ("info", None)
            out.append(("SSH connect+auth+true", _fmt(*m, "conn"), name, _fmt(*p, "conn"), "%.2f" % rate,
                        target, "-" if ok is None else ("yes" if ok else "NO")))
        m = _median(lambda: asyncio.run(_m2_jump_connections(sshd, cipher, CONNECTIONS // 2)))
        o = [_openssh_jump(sshd, cipher) for _ in range(CONNECTIONS // 2)]
        p = (statistics.median(x[0] for x in o), statistics.median(x[1] for x in o))
        out.append(("SSH connect via ProxyJump", _fmt(*m, "conn"), "OpenSSH ssh -J", _fmt(*p, "conn"),
                    "%.2f" % (p[0] / m[0]), "info", "-"))
        for cipher in ("aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"):
            short = cipher.split("@")[0]
            for up in (True, False):
                m = _median(lambda: asyncio.run(_m2_bulk(sshd, cipher, up)))
                cmd, stdin = ("head -c %d > /dev/null" % BULK, "/dev/zero") if up else \
                    ("head -c %d /dev/zero" % BULK, "/dev/null")
                peers = [("OpenSSH ssh", _median(lambda: _openssh(sshd, cipher, cmd, stdin)))]
                if aio:
                    peers.append(("asyncssh", _median(lambda: aio[1](sshd, cipher, up))))
                if pmk and cipher in pmk[2]:
                    peers.append(("paramiko", _median(lambda: pmk[1](sshd, cipher, up))))
                for name, p in peers:
                    if name == "OpenSSH ssh":
                        ratio, target = m[1] / p[1], "CPU <= 1.3x"
                        ok = ratio <= 1.3
                    else:
                        ratio, target = p[0] / m[0], ">= 1.0 (MB/s)" if name == "asyncssh" else "info"
                        ok = ratio >= 1.0 if name == "asyncssh" else None
                    out.append(("SSH %s %s 256 MiB" % (short, "up" if up else "down"), _fmt(*m, "bulk"), name,
                                _fmt(*p, "bulk"), "%.2f" % ratio, target,
                                "-" if ok is None else ("yes" if ok else "NO")))
    finally:
        sshd.cleanup()
    return out


if __name__ == "__main__":
    print_table(rows())
