"""SSH client bench against a local OpenSSH sshd: M2Sec beside the OpenSSH client.

Connection rate (connect + authenticate + run ``true``) and bulk transfer up and down with
aes128-gcm@openssh.com and chacha20-poly1305@openssh.com.  The stable figures on a small
machine are the client's CPU seconds (user + system): M2Sec's are measured in this process
(time.process_time), the OpenSSH client's from its rusage.  ``rows()`` gives bench/run.py's
tuples; ``python bench/ssh.py`` prints them.
"""

import asyncio
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

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
                known_hosts=sshd.known_hosts(), encryption_algs=[cipher])


async def _m2_connections(sshd: Sshd, cipher: str, n: int) -> Tuple[float, float]:
    kw = _kw(sshd, cipher)
    t, c = time.perf_counter(), time.process_time()
    for _ in range(n):
        async with SSH.connect("127.0.0.1", sshd.port, **kw) as conn:
            await conn.run("true")
    return (time.perf_counter() - t) / n, (time.process_time() - c) / n


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
            got = 0
            while True:
                chunk = await proc.stdout.read(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
            await proc.wait()
            assert got == BULK
        return time.perf_counter() - t, time.process_time() - c


def _median(f, runs: int = RUNS) -> Tuple[float, float]:
    results = [f() for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def rows() -> List[tuple]:
    out = []
    sshd = Sshd().start()
    try:
        cipher = "aes128-gcm@openssh.com"
        # connection rate
        m_wall, m_cpu = _median(lambda: asyncio.run(_m2_connections(sshd, cipher, CONNECTIONS)))
        o = [_openssh(sshd, cipher, "true") for _ in range(CONNECTIONS)]
        o_wall, o_cpu = statistics.median(x[0] for x in o), statistics.median(x[1] for x in o)
        out.append(("SSH connect+auth+run true /s", "%.1f" % (1 / m_wall), "OpenSSH ssh", "%.1f" % (1 / o_wall),
                    "%.2f" % (o_wall / m_wall), "info", "-"))
        out.append(("SSH client CPU ms per connection", "%.1f" % (m_cpu * 1e3), "OpenSSH ssh", "%.1f" % (o_cpu * 1e3),
                    "%.2f" % (m_cpu / o_cpu), "info", "-"))
        for cipher in ("aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"):
            short = cipher.split("@")[0]
            for up in (True, False):
                way = "up" if up else "down"
                m_wall, m_cpu = _median(lambda: asyncio.run(_m2_bulk(sshd, cipher, up)))
                if up:
                    cmd, stdin = "head -c %d > /dev/null" % BULK, "/dev/zero"
                else:
                    cmd, stdin = "head -c %d /dev/zero" % BULK, "/dev/null"
                o_wall, o_cpu = _median(lambda: _openssh(sshd, cipher, cmd, stdin))
                out.append(("SSH %s %s MB/s" % (short, way), "%.0f" % (BULK / MIB / m_wall), "OpenSSH ssh",
                            "%.0f" % (BULK / MIB / o_wall), "%.2f" % (o_wall / m_wall), "info", "-"))
                ratio = m_cpu / o_cpu
                out.append(("SSH %s %s client CPU s / 256 MiB" % (short, way), "%.2f" % m_cpu, "OpenSSH ssh",
                            "%.2f" % o_cpu, "%.2f" % ratio, "<= 1.3x", "yes" if ratio <= 1.3 else "NO"))
    finally:
        sshd.cleanup()
    return out


if __name__ == "__main__":
    head = ("benchmark", "M2Sec", "peer", "peer value", "ratio", "target", "met")
    table = [head] + rows()
    widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
    for r in table:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
