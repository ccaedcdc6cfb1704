"""The README's "SFTP and SCP" examples run as written (on a free port instead of 2222), and
do what they say."""

import grp
import os
import re
import subprocess
import sys

import pytest

from .server_helpers import free_port

pytestmark = pytest.mark.timeout(120)

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def test_readme_sftp_examples_run(tmp_path):
    text = open(README).read()
    section = text.split("## SFTP and SCP", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 3
    code = "\n".join(blocks).replace("2222", str(free_port()))
    code += ("\nimport hashlib\nh = lambda p: hashlib.sha256(open(p, 'rb').read()).hexdigest()\n"
             "assert h(os.path.join(src, 'local.bin')) == h(os.path.join(root, 'remote.bin')) "
             "== h(os.path.join(d, 'back.bin')) == h(os.path.join(root, 'scp.bin')) == h(os.path.join(root, 'p.bin'))\n"
             "assert h(os.path.join(src, 'other.bin')) == h(os.path.join(root, 'dir', 'sub', 'src', 'other.bin'))\n"
             "assert data == open(os.path.join(src, 'local.bin'), 'rb').read()\n"
             "print('README OK')\n")
    script = tmp_path / "readme_sftp.py"
    script.write_text(code)
    r = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=100, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert "refused: 2" in out and "README OK" in out
    assert "/ (['root'], ['%s'])" % grp.getgrgid(0).gr_name in out
