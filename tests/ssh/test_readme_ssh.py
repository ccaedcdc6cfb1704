"""The README's "SSH client" examples run as written, against the test sshd: HOME points at a
prepared directory whose ~/.ssh/config names that sshd "myserver" (and "bastion"), with an
identity file, known_hosts and a private ssh-agent.  The examples' forwards to "localhost", 22
go to the test sshd's port instead (no sshd listens on port 22 here)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .agent_helpers import SshAgent

README = Path(__file__).resolve().parents[2] / "README.md"
pytestmark = pytest.mark.timeout(120)


def _blocks():
    text = README.read_text()
    section = text.split("\n## SSH client\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_has_the_examples():
    blocks = _blocks()
    assert len(blocks) >= 3
    assert any("tunnel=" in b for b in blocks) and any("Client(" in b for b in blocks)
    assert any("Agent()" in b for b in blocks)


@pytest.mark.parametrize("index", range(3))
def test_readme_example_runs(sshd, tmp_path, index):
    home = tmp_path / "home"
    ssh = home / ".ssh"
    ssh.mkdir(parents=True)
    shutil.copy(sshd.known_hosts(), ssh / "known_hosts")
    for suffix in ("", ".pub"):
        shutil.copy(sshd.user_keys["ed25519"] + suffix, ssh / ("id_ed25519" + suffix))
    os.chmod(ssh / "id_ed25519", 0o600)
    (ssh / "config").write_text("Host myserver bastion\n  HostName 127.0.0.1\n  Port %d\n  User %s\n"
                                % (sshd.port, sshd.user))
    agent = SshAgent()
    try:
        agent.add(sshd.user_keys["ecdsa256"])
        env = dict(os.environ, HOME=str(home), SSH_AUTH_SOCK=agent.path)
        code = _blocks()[index].replace('"localhost", 22', '"localhost", %d' % sshd.port)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=100,
                             cwd=str(tmp_path))
        assert out.returncode == 0, out.stderr
        if "ssh-add -l" in code:
            assert "ECDSA" in out.stdout  # the forwarded agent answered on the server
        if "Client(" in code:
            assert "SSH-2.0-OpenSSH" in out.stdout
    finally:
        agent.stop()
