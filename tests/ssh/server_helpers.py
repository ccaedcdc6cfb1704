"""An M2Sec SSH server on a free loopback port for the server tests, and OpenSSH's ``ssh``
client to talk to it.

:class:`ServerThread` runs :func:`M2Sec.SSH.listen` in an event loop of its own thread, so
that tests can run ``ssh`` (a subprocess) or the blocking client against it.  :class:`Keys`
makes host keys of every type with host certificates, user keys of every type, a user CA
with a user certificate, an authorized_keys file and a known_hosts file in a temporary
directory.  :func:`ssh` runs the OpenSSH client with a clean configuration (``-F
/dev/null``), that known_hosts and a key; :func:`askpass` makes the SSH_ASKPASS script that
answers password and keyboard-interactive prompts; :func:`read_sha256` hashes a stream.
"""

import asyncio
import getpass
import hashlib
import os
import shutil
import socket
import stat
import subprocess
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

import M2Sec.SSH as SSH
from M2Sec.SSH import keys as sshkeys
from net_helpers import free_port  # noqa: E402,F401  (outside the ephemeral port range)

SSH_BIN = shutil.which("ssh") or "/usr/bin/ssh"
SFTP_BIN = shutil.which("sftp") or "/usr/bin/sftp"
SCP_BIN = shutil.which("scp") or "/usr/bin/scp"
USER = getpass.getuser()
PASSWORD = "correct horse"
NEW_PASSWORD = "battery staple"

#: name -> (algorithm, bits) of the key types
KEY_TYPES = {
    "ed25519": ("ssh-ed25519", None),
    "ecdsa256": ("ecdsa-sha2-nistp256", None),
    "ecdsa384": ("ecdsa-sha2-nistp384", None),
    "ecdsa521": ("ecdsa-sha2-nistp521", None),
    "rsa": ("ssh-rsa", 2048),
}


class Keys:
    """Keys and files for one test module (see the module's docstring)."""

    def __init__(self, directory: str) -> None:
        self.dir = directory
        self.host_ca = SSH.generate_private_key("ssh-ed25519")
        self.user_ca = SSH.generate_private_key("ssh-ed25519")
        self.host: Dict[str, str] = {}
        self.user: Dict[str, str] = {}
        self.host_keys: List[Any] = []
        for name, (alg, bits) in KEY_TYPES.items():
            k = SSH.generate_private_key(alg, bits)
            path = self.path("host_" + name)
            k.save_private(path)
            cert = sshkeys.create_certificate(self.host_ca, k.public_key(), "host", ["127.0.0.1", "localhost"],
                                              cert_type=sshkeys.CERT_HOST)
            with open(path + "-cert.pub", "w") as f:
                f.write(cert.public_line() + "\n")
            self.host[name] = path
            u = SSH.generate_private_key(alg, bits)
            upath = self.path("user_" + name)
            u.save_private(upath)
            u.save_public(upath + ".pub")
            self.user[name] = upath
        # a user key certified by the user CA (for USER), and one with a key no file lists
        cu = SSH.generate_private_key("ssh-ed25519")
        self.cert_user = self.path("certuser")
        cu.save_private(self.cert_user)
        cert = sshkeys.create_certificate(self.user_ca, cu.public_key(), "certuser", [USER, "alice"])
        with open(self.cert_user + "-cert.pub", "w") as f:
            f.write(cert.public_line() + "\n")
        stranger = SSH.generate_private_key("ssh-ed25519")
        self.stranger = self.path("stranger")
        stranger.save_private(self.stranger)
        self.authorized = self.path("authorized_keys")
        with open(self.authorized, "w") as f:
            for p in self.user.values():
                with open(p + ".pub") as pub:
                    f.write(pub.read())
        self.user_ca_pub = self.path("user_ca.pub")
        self.user_ca.save_public(self.user_ca_pub)
        for p in os.listdir(directory):  # ssh refuses private keys others can read
            os.chmod(os.path.join(directory, p), 0o600)

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def public_line(self, name: str) -> str:
        with open(self.user[name] + ".pub") as f:
            return f.read().strip()

    def known_hosts(self, port: int, *, ca: bool = False) -> str:
        """A known_hosts file with every host key for [127.0.0.1]:port (or the host CA)."""
        path = self.path("known_hosts_%d%s" % (port, "_ca" if ca else ""))
        with open(path, "w") as f:
            if ca:
                f.write("@cert-authority [127.0.0.1]:%d %s\n" % (port, self.host_ca.public_line()))
            else:
                for p in self.host.values():
                    key = SSH.load_private_key(p)
                    f.write("[127.0.0.1]:%d %s\n" % (port, key.public_line()))
        return path


class ServerThread:
    """:func:`M2Sec.SSH.listen` on 127.0.0.1 in its own thread and event loop."""

    def __init__(self, **listen_kw: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self.acceptor: Any = None
        self._kw = listen_kw
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the server did not start")
        if self._error is not None:
            raise self._error
        self.port = self.acceptor.get_port()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            try:
                self.acceptor = await SSH.listen("127.0.0.1", 0, **self._kw)
            except BaseException as e:
                self._error = e
            self._ready.set()

        self.loop.run_until_complete(start())
        if self._error is None:
            self.loop.run_forever()

    def call(self, fn: Any, *args: Any) -> Any:
        """Run fn(*args) (a coroutine function or plain function) in the server's loop."""
        async def wrapper() -> Any:
            r = fn(*args)
            if asyncio.iscoroutine(r):
                r = await r
            return r
        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(30)

    def stop(self) -> None:
        if self.acceptor is not None:
            async def close() -> None:
                self.acceptor.close()
                await self.acceptor.wait_closed()
                await asyncio.sleep(0.05)
                others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for t in others:
                    t.cancel()
                await asyncio.gather(*others, return_exceptions=True)
            try:
                asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
            except Exception:
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def askpass(directory: str, answers: Dict[str, str], default: str = PASSWORD) -> str:
    """An SSH_ASKPASS script answering a prompt containing a key of answers with its value."""
    path = os.path.join(directory, "askpass-%d" % len(os.listdir(directory)))
    lines = ["#!/bin/sh", 'case "$1" in']
    for k, v in answers.items():
        lines.append('  *%s*) echo "%s" ;;' % (k, v))
    lines.append('  *) echo "%s" ;;' % default)
    lines.append("esac")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, stat.S_IRWXU)
    return path


def ssh(port: int, known_hosts: str, *args: str, key: Optional[str] = None, user: str = USER,
        options: Sequence[str] = (), input: Optional[bytes] = None, timeout: float = 40,
        askpass_script: Optional[str] = None, check: bool = False) -> subprocess.CompletedProcess:
    """Run OpenSSH's ssh against 127.0.0.1:port; args are the command (or extra options)."""
    argv = [SSH_BIN, "-F", "/dev/null", "-p", str(port), "-l", user,
            "-o", "UserKnownHostsFile=" + known_hosts, "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes",
            "-o", "IdentityAgent=none", "-o", "LogLevel=ERROR",
            "-o", "BatchMode=%s" % ("no" if askpass_script else "yes")]
    if key:
        argv += ["-i", key]
    else:
        argv += ["-o", "PubkeyAuthentication=no"]
    for o in options:
        argv += ["-o", o] if "=" in o and not o.startswith("-") else [o]
    env = dict(os.environ)
    env.pop("SSH_AUTH_SOCK", None)
    if askpass_script:
        env.update(SSH_ASKPASS=askpass_script, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    argv += ["127.0.0.1", *args]
    proc = subprocess.run(argv, input=input, capture_output=True, timeout=timeout, env=env,
                          stdin=None if input is not None else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError("ssh failed (%d): %s" % (proc.returncode, proc.stderr.decode(errors="replace")))
    return proc


class EchoServer:
    """A TCP server on loopback answering each connection with what it sends (in a thread)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c: socket.socket) -> None:
        with c:
            c.settimeout(30)
            try:
                while True:
                    data = c.recv(65536)
                    if not data:
                        break
                    c.sendall(data)
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        self._stop = True
        self.sock.close()


async def read_sha256(stream: Any, chunk: int = 1 << 20) -> Tuple[int, str]:
    """How many bytes an SSH stream gives until EOF, read chunk by chunk, and their SHA-256 (hex)."""
    h, n = hashlib.sha256(), 0
    while True:
        data = await stream.read(chunk)
        if not data:
            return n, h.hexdigest()
        h.update(data)
        n += len(data)


def pattern(n: int) -> bytes:
    """n bytes of a fixed, incompressible-enough pattern (a SHA-256 chain)."""
    block = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(2048))  # 64 KiB
    reps, rest = divmod(n, len(block))
    return block * reps + block[:rest]


def file_sha256(path: Any) -> str:
    """The SHA-256 (hex) of a file's contents."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def openssh_kex() -> List[bytes]:
    """M2Sec's key exchange methods that the installed OpenSSH knows (``ssh -Q kex``): before
    OpenSSH 9.9 that leaves out mlkem768x25519-sha256, which test_kex_pq.py tests against
    asyncssh instead."""
    from M2Sec.SSH import kex
    out = subprocess.run([SSH_BIN, "-Q", "kex"], capture_output=True, timeout=30).stdout.split()
    assert out, "ssh -Q kex listed nothing: is OpenSSH's client installed?"
    return [a for a in kex.SUPPORTED_KEX if a in out]
