"""Each fuzz target of this directory run for a few seconds from its seed corpus (``make test``),
and on every input that ever failed (crashes/TARGET/): what a fuzzer found stays fixed.
``make fuzz`` runs them for minutes."""
import glob
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = sorted(os.path.basename(p)[5:-3] for p in glob.glob(os.path.join(HERE, "fuzz_*.py")))
SECONDS = int(os.environ.get("FUZZ_TEST_SECONDS", "2"))


def _atheris() -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        pytest.fail("atheris is needed for the fuzz targets (pip install -r tests/requirements.txt)")


def _run(target: str, args: list, timeout: float) -> str:
    proc = subprocess.run([sys.executable, "fuzz_%s.py" % target, *args], cwd=HERE, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        start = max(out.find("=== Uncaught"), out.find("ERROR: libFuzzer"), 0)
        pytest.fail("fuzz target %s failed (%d):\n%s" % (target, proc.returncode, out[start:start + 4000]))
    return out


def test_every_parser_has_a_target_and_a_corpus():
    assert len(TARGETS) >= 10
    for t in TARGETS:
        assert glob.glob(os.path.join(HERE, "corpus", t, "*")), "no seed corpus for " + t


@pytest.mark.timeout(120)
@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_briefly(target, tmp_path):
    _atheris()
    out = _run(target, ["-max_total_time=%d" % SECONDS, "-seed=1", "-timeout=20", "-rss_limit_mb=2048",
                        "-artifact_prefix=%s/" % tmp_path, str(tmp_path), os.path.join("corpus", target)], 110)
    runs = [line for line in out.splitlines() if line.startswith("Done ")]
    assert runs and int(runs[0].split()[1]) > 0, out[-2000:]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("target", [t for t in TARGETS if glob.glob(os.path.join(HERE, "crashes", t, "*"))])
def test_fuzz_findings_stay_fixed(target):
    _atheris()
    files = sorted(glob.glob(os.path.join(HERE, "crashes", target, "*")))
    _run(target, ["-runs=1", "-timeout=20", *files], 110)
