"""SSH server bench: OpenSSH's ssh client against an M2Sec server, beside the same client
against OpenSSH's sshd and against an asyncssh server (asyncssh is installed by ``make bench``
only; without it those rows say so).

Connections served per second (connect + authenticate + run a command that does nothing) and
bulk MB/s up and down with aes128-gcm@openssh.com and chacha20-poly1305@openssh.com.  The
Python servers run in a child process each, so that their CPU seconds (from /proc) are the
server's alone.  ``rows()`` gives bench/run.py's tuples; ``python bench/ssh_server.py`` prints them.
"""

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from _timing import print_table  # noqa: E402

MIB = 1 << 20
BULK = 256 * MIB
CONNECTIONS = 20
RUNS = 3
CIPHERS = ("aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com")


# ---- the Python servers (run as `python bench/ssh_server.py serve KIND DIR`) ----

async def _session(process: Any) -> int:
    """sink (read stdin to EOF), source N (write N zero bytes), or nothing: the same code
    for both Python servers (their process objects have the same streams)."""
    words = (process.command or "").split()
    if words[:1] == ["sink"]:
        while await process.stdin.read(1 << 20):
            pass
    elif words[:1] == ["source"]:
        left = int(words[1])
        block = bytes(MIB)
        while left > 0:
            process.stdout.write(block[:left])
            left -= MIB
            await process.stdout.drain()
    return 0


async def _serve_m2sec(d: str) -> None:
    import M2Sec.SSH as SSH
    server = await SSH.listen("127.0.0.1", 0, server_host_keys=[os.path.join(d, "host")],
                              authorized_client_keys=os.path.join(d, "authorized_keys"),
                              process_factory=_session)
    print(server.get_port(), flush=True)
    await asyncio.Event().wait()


async def _serve_asyncssh(d: str) -> None:
    import asyncssh

    async def session(process: Any) -> None:
        process.exit(await _session(process))

    server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[os.path.join(d, "host")],
                                   authorized_client_keys=os.path.join(d, "authorized_keys"),
                                   process_factory=session, encoding=None)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


# ---- measuring ----

def _cpu_of(pid: int) -> float:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Target:
    """A server the ssh client talks to: its port, known_hosts, and commands."""

    def __init__(self, name: str, port: int, known_hosts: str, key: str, user: str, pid: Optional[int],
                 true: str, sink: str, source: str) -> None:
        self.name, self.port, self.known_hosts, self.key, self.user, self.pid = name, port, known_hosts, key, user, pid
        self.true, self.sink, self.source = true, sink, source

    def ssh(self, cipher: str, command: str, stdin_cmd: Optional[str] = None) -> float:
        argv = ["ssh", "-F", "/dev/null", "-p", str(self.port), "-i", self.key, "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + self.known_hosts,
                "-o", "StrictHostKeyChecking=yes", "-o", "Ciphers=" + cipher, "-l", self.user, "127.0.0.1", command]
        t = time.perf_counter()
        if stdin_cmd:
            feeder = subprocess.Popen(stdin_cmd, shell=True, stdout=subprocess.PIPE)
            p = subprocess.run(argv, stdin=feeder.stdout, stdout=subprocess.DEVNULL, timeout=300)
            feeder.wait()
        else:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=300)
        if p.returncode:
            raise RuntimeError("ssh to %s failed (%d)" % (self.name, p.returncode))
        return time.perf_counter() - t

    def cpu(self) -> float:
        return _cpu_of(self.pid) if self.pid else 0.0


def _measure(t: _Target, cipher: str) -> Dict[str, Tuple[float, float]]:
    """name -> (wall seconds, server CPU seconds), medians."""
    out: Dict[str, Tuple[float, float]] = {}

    def median(f: Any) -> Tuple[float, float]:
        res = []
        for _ in range(RUNS):
            c = t.cpu()
            w = f()
            res.append((w, t.cpu() - c))
        return statistics.median(r[0] for r in res), statistics.median(r[1] for r in res)

    out["conn"] = median(lambda: sum(t.ssh(cipher, t.true) for _ in range(CONNECTIONS)) / CONNECTIONS)
    out["up"] = median(lambda: t.ssh(cipher, t.sink, "head -c %d /dev/zero" % BULK))
    out["down"] = median(lambda: t.ssh(cipher, t.source))
    return out


def _start_python_server(kind: str, d: str) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", kind, d], stdout=subprocess.PIPE)
    return p


def rows() -> List[tuple]:
    from ssh.sshd_helpers import Sshd

    import M2Sec.SSH as SSH
    out: List[tuple] = []
    sshd = Sshd().start()
    children: List[subprocess.Popen] = []
    d = tempfile.mkdtemp(prefix="m2sec-sshbench-")
    try:
        SSH.generate_private_key("ssh-ed25519").save_private(os.path.join(d, "host"))
        user_key = sshd.user_keys["ed25519"]
        with open(user_key + ".pub") as f, open(os.path.join(d, "authorized_keys"), "w") as g:
            g.write(f.read())
        host_pub = SSH.load_private_key(os.path.join(d, "host")).public_key().public_line()
        targets = [_Target("OpenSSH sshd", sshd.port, sshd.known_hosts(), user_key, sshd.user, None, "true",
                           "cat > /dev/null", "head -c %d /dev/zero" % BULK)]
        kinds = ["m2sec"]
        try:
            import asyncssh  # noqa: F401
            kinds.append("asyncssh")
        except ImportError:
            out.append(("SSH server: asyncssh peer", "-", "asyncssh", "not installed", "-", "info", "-"))
        for kind in kinds:
            p = _start_python_server(kind, d)
            children.append(p)
            port = int(p.stdout.readline())
            kh = os.path.join(d, "known_hosts_" + kind)
            with open(kh, "w") as f:
                f.write("[127.0.0.1]:%d %s\n" % (port, host_pub))
            targets.append(_Target("asyncssh server" if kind == "asyncssh" else "M2Sec", port, kh, user_key,
                                   sshd.user, p.pid, "true", "sink", "source %d" % BULK))
        for cipher in CIPHERS:
            short = cipher.split("@")[0]
            results = {t.name: _measure(t, cipher) for t in targets}
            m = results["M2Sec"]
            for peer in (t.name for t in targets if t.name != "M2Sec"):
                r = results[peer]
                out.append(("SSH server %s connections/s (ssh client)" % short, "%.1f" % (1 / m["conn"][0]), peer,
                            "%.1f" % (1 / r["conn"][0]), "%.2f" % (r["conn"][0] / m["conn"][0]), "info", "-"))
                for way in ("up", "down"):
                    out.append(("SSH server %s %s MB/s (ssh client)" % (short, way), "%.0f" % (BULK / MIB / m[way][0]),
                                peer, "%.0f" % (BULK / MIB / r[way][0]), "%.2f" % (r[way][0] / m[way][0]), "info",
                                "-"))
            if "asyncssh server" in results:
                a = results["asyncssh server"]
                for key, label, scale in (("conn", "CPU ms per connection", 1e3 / CONNECTIONS),
                                          ("up", "CPU s per 256 MiB up", 1.0), ("down", "CPU s per 256 MiB down", 1.0)):
                    mv, av = m[key][1] * scale, a[key][1] * scale
                    out.append(("SSH server %s %s" % (short, label), "%.2f" % mv, "asyncssh server", "%.2f" % av,
                                "%.2f" % (mv / av if av else 0), "<= asyncssh",
                                "yes" if mv <= av else "NO"))
    finally:
        for p in children:
            p.kill()
            p.wait()
        sshd.cleanup()
        import shutil
        shutil.rmtree(d, ignore_errors=True)
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        kind, directory = sys.argv[2], sys.argv[3]
        asyncio.run(_serve_m2sec(directory) if kind == "m2sec" else _serve_asyncssh(directory))
        sys.exit(0)
    print_table(rows())
