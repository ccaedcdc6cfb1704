"""Fixtures of the HTTPS server tests: a PKI, and servers started as processes and stopped by PID."""

import os
import re
import signal
import subprocess
import sys
import time
from typing import List, Optional

import pytest

from integ_helpers import Certs

HERE = os.path.dirname(os.path.abspath(__file__))
START_TIMEOUT = 30


class WsgiPKI(Certs):
    """Certs' root -> inter -> localhost chain and client, with the CAs in one file and a
    client certificate with an e-mail SAN."""

    def __init__(self, d: str) -> None:
        super().__init__(d)
        self.cas = self.pki.path("cas.pem")
        with open(self.cas, "wb") as f:
            f.write(self.pki.read("root.pem") + self.pki.read("inter.pem"))
        self.pki.issue("alice", "/CN=Alice Example/O=M2Sec Users",
                       ext=["extendedKeyUsage=clientAuth", "subjectAltName=email:alice@example.org,DNS:alice.example.org"])
        self.alice_cert = self.pki.path("alice.pem")
        self.alice_key = self.pki.path("alice.key")


@pytest.fixture(scope="session")
def wpki(tmp_path_factory) -> WsgiPKI:
    return WsgiPKI(str(tmp_path_factory.mktemp("wsgi-pki")))


class ServerProcess:
    """``python -m M2Sec https serve APP --port 0 ...`` with its stderr in a file."""

    def __init__(self, tmpdir: str, app: str, args: List[str], env: Optional[dict] = None,
                 argv: Optional[List[str]] = None, ready: str = r"listening on https://([^:/]+|\[[^\]]+\]):(\d+)/") -> None:
        self.log_path = os.path.join(tmpdir, "server-%d.log" % time.monotonic_ns())
        self._log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        env = dict(env or {})
        full_env["PYTHONPATH"] = os.pathsep.join([env.pop("PYTHONPATH", ""), HERE, full_env.get("PYTHONPATH", "")])
        full_env.update(env)
        cmd = argv or [sys.executable, "-m", "M2Sec", "https", "serve", app, "--port", "0", *args]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=full_env,
                                     start_new_session=True, cwd=tmpdir)
        self.pid = self.proc.pid
        deadline = time.monotonic() + START_TIMEOUT
        self.port = 0
        self.redirect_port = 0
        while time.monotonic() < deadline:
            text = self.log()
            m = re.search(ready, text)
            if m:
                self.port = int(m.group(2))
                r = re.search(r"redirecting http://[^:]+:(\d+)/", text)
                if r:
                    self.redirect_port = int(r.group(1))
                break
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail("the server exited (%s): %s" % (self.proc.returncode, text))
            time.sleep(0.05)
        else:
            self.stop()
            pytest.fail("the server did not start within %ds: %s" % (START_TIMEOUT, self.log()))

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, wait, then SIGKILL the process group: the exit status."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def rss_kib(self) -> int:
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def server_args(wpki: WsgiPKI, *extra: str) -> List[str]:
    return ["--cert", wpki.chain, "--key", wpki.key, *extra]


def no_tracebacks(server: ServerProcess) -> None:
    text = server.log()
    assert "Traceback" not in text, text
