"""SFTP bench: M2Sec's SFTP client beside OpenSSH's ``sftp``, asyncssh and paramiko against a
local OpenSSH sshd (internal-sftp, aes128-gcm@openssh.com), and M2Sec's SFTP server beside
OpenSSH's with OpenSSH's ``sftp`` as the client.

Rows: 256 MiB ``put`` and ``get`` (MB/s and client CPU seconds), 1000 files of 4 KiB as a
directory up and down (files/s), and the server's CPU seconds per 256 MiB each way.  Every
client is timed from the connection's start to its end (OpenSSH's ``sftp`` is a process per
run, so the libraries pay for connecting too); the server rows have the cost of an empty
session (connect, authenticate, ``pwd``), measured alone, taken off.  Files
live in /dev/shm (tmpfs) on both ends.  Each figure is the median of RUNS runs, the peers'
runs interleaved with M2Sec's; the machine is shared, so compare the ratios, not the figures
of two runs.  ``python bench/sftp.py`` prints the table; ``rows()`` gives bench/run.py's.
"""

import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from _timing import print_table  # noqa: E402

from ssh.sshd_helpers import Sshd  # noqa: E402

import M2Sec.SSH as SSH  # noqa: E402

MIB = 1 << 20
BULK = int(os.environ.get("M2SEC_BENCH_SFTP_MIB", "256")) * MIB
FILES = 1000
FILE_SIZE = 4096
RUNS = int(os.environ.get("M2SEC_BENCH_RUNS", "3"))
CIPHER = "aes128-gcm@openssh.com"
SHM = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()

Result = Tuple[float, float]  # (wall seconds, client CPU seconds)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# ---- the clients: each does one operation and gives (wall, CPU) -------------------------------


def _openssh_sftp(port: int, user: str, key: str, known_hosts: str, batch: str, cwd: str) -> Result:
    path = os.path.join(cwd, "batch")
    with open(path, "w") as f:
        f.write(batch)
    argv = ["sftp", "-F", "/dev/null", "-P", str(port), "-i", key, "-o", "UserKnownHostsFile=" + known_hosts,
            "-o", "StrictHostKeyChecking=yes", "-o", "Ciphers=" + CIPHER, "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes", "-q", "-b", path, "%s@127.0.0.1" % user]
    c, t = _children_cpu(), time.perf_counter()
    subprocess.run(argv, check=True, cwd=cwd, stdout=subprocess.DEVNULL, timeout=600)
    return time.perf_counter() - t, _children_cpu() - c


async def _timed_async(connect: Any, port: int, user: str, key: str, known_hosts: str, op: str, src: str,
                       dst: str) -> Result:
    """One get or put with an asyncio client of asyncssh's shape (M2Sec's or asyncssh's)."""
    t, c = time.perf_counter(), time.process_time()
    async with connect("127.0.0.1", port, username=user, client_keys=[key], known_hosts=known_hosts,
                       encryption_algs=[CIPHER]) as conn:
        async with conn.start_sftp_client() as sftp:
            await getattr(sftp, op)(src, dst, recurse=True)
    return time.perf_counter() - t, time.process_time() - c


def _m2sec(*args: Any) -> Result:
    return asyncio.run(_timed_async(SSH.connect, *args))


def _asyncssh(*args: Any) -> Result:
    import asyncssh
    return asyncio.run(_timed_async(asyncssh.connect, *args))


def _paramiko(port: int, user: str, key: str, known_hosts: str, op: str, src: str, dst: str) -> Result:
    import paramiko
    t, c = time.perf_counter(), time.process_time()
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts)
    others = [x for x in paramiko.Transport._cipher_info if x != CIPHER]
    client.connect("127.0.0.1", port, username=user, key_filename=key, look_for_keys=False, allow_agent=False,
                   disabled_algorithms={"ciphers": others})
    try:
        sftp = client.open_sftp()
        if os.path.isdir(src) if op == "put" else _paramiko_isdir(sftp, src):
            if op == "put":
                sftp.mkdir(dst)
                for n in sorted(os.listdir(src)):
                    sftp.put(os.path.join(src, n), dst + "/" + n)
            else:
                os.mkdir(dst)
                for n in sorted(sftp.listdir(src)):
                    sftp.get(src + "/" + n, os.path.join(dst, n))
        else:
            getattr(sftp, op)(src, dst)
        sftp.close()
    finally:
        client.close()
    return time.perf_counter() - t, time.process_time() - c


def _paramiko_isdir(sftp: Any, path: str) -> bool:
    import stat
    return stat.S_ISDIR(sftp.stat(path).st_mode)


# ---- the M2Sec server in a process of its own, its CPU read from /proc --------------------------


def _proc_cpu(pid: int, children: bool = False) -> float:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the name: state is fields[0]; utime, stime, cutime, cstime are fields 11..14
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


class _M2Server:
    def __init__(self, root: str, authorized: str, host_key: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "M2Sec", "ssh", "server", "-p", "0", "-k", host_key,
                                      "-a", authorized, "--sftp-root", root], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()  # type: ignore[union-attr]
        if "listening on" not in line:
            raise RuntimeError("m2sec ssh server did not start: %r" % line)
        self.port = int(line.split()[-1])

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()  # type: ignore[union-attr]


# ---- the table ---------------------------------------------------------------------------------


def _sub(r: Result, base: Result) -> Result:
    return max(r[0] - base[0], 1e-3), max(r[1] - base[1], 0.0)


def _mbs(r: Result) -> str:
    return "%.0f MB/s, %.2f s CPU" % (BULK / 1e6 / r[0], r[1])


def _fps(r: Result) -> str:
    return "%.0f files/s, %.2f s CPU" % (FILES / r[0], r[1])


def _median(xs: List[Result]) -> Result:
    return statistics.median(x[0] for x in xs), statistics.median(x[1] for x in xs)


def _peers() -> Dict[str, Callable[..., Result]]:
    peers: Dict[str, Callable[..., Result]] = {}
    for name, fn, module in (("asyncssh", _asyncssh, "asyncssh"), ("paramiko", _paramiko, "paramiko")):
        try:
            __import__(module)
        except ImportError:  # make bench installs them
            continue
        peers[name] = fn
    return peers


def rows() -> List[tuple]:
    """The client rows (M2Sec beside each peer) and the server rows (see the module's docstring)."""
    out: List[tuple] = []
    work = tempfile.mkdtemp(prefix="m2sec-bench-sftp-", dir=SHM)
    sshd = Sshd().start()
    try:
        kh, key, user = sshd.known_hosts(), sshd.user_keys["ed25519"], sshd.user
        big = os.path.join(work, "big")
        with open(big, "wb") as f:
            for _ in range(BULK // MIB):
                f.write(os.urandom(MIB))
        small = os.path.join(work, "small")
        os.mkdir(small)
        for i in range(FILES):
            with open(os.path.join(small, "f%04d" % i), "wb") as f:
                f.write(os.urandom(FILE_SIZE))
        remote = os.path.join(work, "remote")
        local = os.path.join(work, "local")
        os.mkdir(remote)
        os.mkdir(local)

        def clean() -> None:
            for d in (remote, local):
                shutil.rmtree(d)
                os.mkdir(d)

        def ours(op: str, src: str, dst: str) -> Result:
            return _m2sec(sshd.port, user, key, kh, op, src, dst)

        def openssh(op: str, src: str, dst: str) -> Result:
            cmd = "put -r" if op == "put" else "get -r"
            return _openssh_sftp(sshd.port, user, key, kh, "%s %s %s\n" % (cmd, src, dst), work)

        peers: Dict[str, Callable[[str, str, str], Result]] = {"OpenSSH sftp": openssh}
        for name, fn in _peers().items():
            peers[name] = (lambda fn: lambda op, s, d: fn(sshd.port, user, key, kh, op, s, d))(fn)
        ours("put", small, os.path.join(remote, "warm-up"))  # imports, caches: not in the first row
        openssh("put", small, os.path.join(remote, "warm-up2"))
        mib = "%d MiB" % (BULK // MIB)
        cases = [("SFTP put " + mib, "put", big, os.path.join(remote, "big"), _mbs),
                 ("SFTP get " + mib, "get", os.path.join(remote, "big"), os.path.join(local, "big"), _mbs),
                 ("SFTP put 1000x4 KiB", "put", small, os.path.join(remote, "small"), _fps),
                 ("SFTP get 1000x4 KiB", "get", os.path.join(remote, "small"), os.path.join(local, "small"), _fps)]
        for label, op, src, dst, fmt in cases:
            for name, peer in peers.items():
                mine: List[Result] = []
                theirs: List[Result] = []
                for _ in range(RUNS):
                    for fn, acc in ((ours, mine), (peer, theirs)):
                        clean()
                        if op == "get":  # the remote side holds the source
                            if src.endswith("big"):
                                shutil.copyfile(big, src)
                            else:
                                shutil.copytree(small, src)
                        acc.append(fn(op, src, dst))
                m, p = _median(mine), _median(theirs)
                ratio = p[0] / m[0]
                target = ">= 1.0 (rate)" if name in ("OpenSSH sftp", "asyncssh") else "info"
                ok = "-" if target == "info" else ("yes" if ratio >= 1.0 else "NO")
                out.append((label, fmt(m), name, fmt(p), "%.2f" % ratio, target, ok))
        out.extend(_server_rows(sshd, work, big, clean, remote, local))
    finally:
        sshd.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    return out


def _server_rows(sshd: Sshd, work: str, big: str, clean: Callable[[], None], remote: str, local: str) -> List[tuple]:
    """Server CPU per 256 MiB: M2Sec's server (--sftp-root) and OpenSSH's sshd (internal-sftp),
    the client OpenSSH's sftp each time."""
    out = []
    server = _M2Server(remote, os.path.join(sshd.dir, "authorized_keys"), sshd.host_keys["ed25519"])
    try:
        kh_m2 = os.path.join(work, "kh_m2")
        with open(sshd.host_keys["ed25519"] + ".pub") as pub, open(kh_m2, "w") as f:
            f.write("[127.0.0.1]:%d %s\n" % (server.port, " ".join(pub.read().split()[:2])))
        key, user = sshd.user_keys["ed25519"], sshd.user
        mib = "%d MiB" % (BULK // MIB)

        def session_cost(port: int, kh: str, pid: int, children: bool) -> Result:
            before = _proc_cpu(pid, children)
            wall, _ = _openssh_sftp(port, user, key, kh, "pwd\n", work)
            time.sleep(0.3)
            return wall, _proc_cpu(pid, children) - before
        base_m2 = _median([session_cost(server.port, kh_m2, server.proc.pid, False) for _ in range(RUNS)])
        base_os = _median([session_cost(sshd.port, sshd.known_hosts(), sshd.proc.pid, True)  # type: ignore
                           for _ in range(RUNS)])
        for label, up in (("SFTP server put " + mib, True), ("SFTP server get " + mib, False)):
            mine: List[Result] = []
            theirs: List[Result] = []
            for _ in range(RUNS):
                for which, acc in (("m2", mine), ("openssh", theirs)):
                    clean()
                    if not up:
                        shutil.copyfile(big, os.path.join(remote, "big"))
                    if which == "m2":
                        path = "/big"
                        port, kh, pid, children = server.port, kh_m2, server.proc.pid, False
                    else:
                        path = os.path.join(remote, "big")
                        port, kh, pid, children = sshd.port, sshd.known_hosts(), sshd.proc.pid, True  # type: ignore
                    batch = ("put %s %s\n" % (big, path)) if up else \
                        ("get %s %s\n" % (path, os.path.join(local, "big")))
                    before = _proc_cpu(pid, children)
                    wall, _ = _openssh_sftp(port, user, key, kh, batch, work)
                    time.sleep(0.3)  # let sshd reap its session's processes
                    acc.append(_sub((wall, _proc_cpu(pid, children) - before), base_m2 if which == "m2" else base_os))
            m, p = _median(mine), _median(theirs)
            ratio = m[1] / p[1] if p[1] else float("inf")
            out.append((label + " (server CPU)", _mbs(m), "OpenSSH sftp-server", _mbs(p), "%.2f" % ratio,
                        "CPU <= 1.2x", "yes" if ratio <= 1.2 else "NO"))
    finally:
        server.stop()
    return out


if __name__ == "__main__":
    print_table(rows())
