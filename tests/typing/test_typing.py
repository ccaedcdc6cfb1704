"""Types that hold (issue 20): the generated stub is current, and mypy --strict accepts user code.

mypy must be installed (tests/requirements.txt): without it these tests fail, saying so.
"""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TIMEOUT = 600


def _mypy(*args: str, cwd: str = ROOT) -> "subprocess.CompletedProcess[str]":
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.fail("mypy is not installed: pip install -r tests/requirements.txt")
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT)


@pytest.mark.skipif(os.environ.get("M2SEC_WHEEL_TEST") == "1",
                    reason="the stub is checked against the source tree's .i files (make typecheck), not a wheel")
def test_stub_is_generated_from_the_swig_declarations():
    swig = os.path.join(os.path.dirname(sys.executable), "swig")
    if not os.path.exists(swig):
        pytest.fail("swig is not installed next to %s (make install puts it there)" % sys.executable)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "SWIG", "gen_m2_pyi.py"), "--check", "--swig", swig],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr


def test_user_code_passes_mypy_strict():
    r = _mypy("--strict", os.path.join(HERE, "user_code.py"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_catches_a_wrong_call(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from M2Sec import SSL, m2\n"
        "ctx = SSL.Context()\n"
        "m2.x509_name_add_entry(ctx, 1, 2, 3)\n"      # an SSL context where an X509_NAME is wanted
        "n: int = m2.bio_new(m2.bio_s_mem())\n"       # a BIO pointer is not an int
        "SSL.Contxt()\n"                              # no such name
    )
    r = _mypy("--strict", str(bad))
    assert r.returncode == 1, r.stdout
    assert "bad.py:3: error" in r.stdout and "bad.py:4: error" in r.stdout and "bad.py:5: error" in r.stdout, r.stdout
