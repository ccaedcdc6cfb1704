"""A private OpenSSH ssh-agent per test: ``ssh-agent -D -a SOCKET`` started on a socket in a
temporary directory, stopped by its PID; ``ssh-add`` runs against it."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from typing import Callable, List, Optional

SSH_AGENT = shutil.which("ssh-agent") or "/usr/bin/ssh-agent"
SSH_ADD = shutil.which("ssh-add") or "/usr/bin/ssh-add"


class SshAgent:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="m2sec-agent-")
        self.path = os.path.join(self.dir, "agent.sock")
        self.proc = subprocess.Popen([SSH_AGENT, "-D", "-a", self.path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self._answers():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("ssh-agent did not start")
            time.sleep(0.02)

    def _answers(self) -> bool:
        """The socket accepts connections (it exists a moment before the agent listens)."""
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(self.path)
            except OSError:
                return False
        return True

    def add(self, *args: str) -> subprocess.CompletedProcess:
        return self.run_add(*args, check=True)

    def run_add(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        env = dict(os.environ, SSH_AUTH_SOCK=self.path)
        return subprocess.run([SSH_ADD, *args], env=env, capture_output=True, text=True, timeout=20,
                              check=check, stdin=subprocess.DEVNULL)

    def listed(self) -> List[str]:
        """``ssh-add -L``: the public key lines the agent holds."""
        out = self.run_add("-L")
        return [" ".join(line.split()[:2]) for line in out.stdout.splitlines() if line.strip()
                and not line.startswith("The agent has no")]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class FakeAgent:
    """A UNIX socket server answering each request with what ``reply`` returns (raw bytes
    written as they are; None: close the connection), for broken-agent tests."""

    def __init__(self, reply: Callable[[bytes], Optional[bytes]]) -> None:
        self.dir = tempfile.mkdtemp(prefix="m2sec-fakeagent-")
        self.path = os.path.join(self.dir, "agent.sock")
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(8)
        self._server.settimeout(0.2)
        self._reply = reply
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    while True:
                        head = conn.recv(4)
                        if len(head) < 4:
                            break
                        n = int.from_bytes(head, "big")
                        body = b""
                        while len(body) < n:
                            chunk = conn.recv(n - len(body))
                            if not chunk:
                                break
                            body += chunk
                        out = self._reply(body)
                        if out is None:
                            break
                        conn.sendall(out)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()
        shutil.rmtree(self.dir, ignore_errors=True)
