"""The m2sec command (M2Sec/__main__.py): --version names M2Sec's version and the OpenSSL it
runs on, with the post-quantum algorithms that OpenSSL has."""

import subprocess
import sys

import M2Sec
from M2Sec import m2
from M2Sec.__main__ import main


def test_version_from_python_m():
    for flag in ("--version", "-V"):
        out = subprocess.run([sys.executable, "-m", "M2Sec", flag], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("M2Sec %s on %s" % (M2Sec.__version__, m2.OPENSSL_VERSION_TEXT))
        assert ("post-quantum: ML-KEM, ML-DSA, SLH-DSA" in out.stdout) == bool(m2.HAS_ML_KEM)


def test_usage_names_version(capsys):
    assert main(["--nonsense"]) == 2
    assert "--version" in capsys.readouterr().err
