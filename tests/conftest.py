"""Shared fixtures: a temporary directory, the openssl command line, resident memory."""

import os
import shutil
import subprocess
from typing import Sequence, Union

import pytest

OPENSSL = shutil.which("openssl")


def run_openssl(args: Sequence[str], input: Union[bytes, None] = None, timeout: float = 30,
                check: bool = True) -> subprocess.CompletedProcess:
    """Run ``openssl *args`` with a timeout; fails the test if openssl is missing or fails."""
    if OPENSSL is None:
        pytest.fail("the openssl command line is needed (apt-get install openssl)")
    proc = subprocess.run([OPENSSL, *args], input=input, capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail("openssl %s failed (%d): %s" % (" ".join(args), proc.returncode,
                                                    proc.stderr.decode(errors="replace")))
    return proc


def rss_bytes() -> int:
    """The process's resident set size, from /proc/self/statm."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def tmp(tmp_path):
    """A fresh temporary directory (a pathlib.Path), removed by pytest."""
    return tmp_path


@pytest.fixture
def openssl():
    """The openssl command-line runner: openssl(["enc", ...], input=b"...")."""
    return run_openssl


@pytest.fixture
def rss():
    """The resident-memory reader: rss() -> bytes."""
    return rss_bytes


@pytest.fixture(autouse=True)
def _error_queue_stays_empty():
    """Every test leaves OpenSSL's error queue as it found it: empty."""
    from M2Sec import m2

    m2.err_clear_error()
    yield
    assert m2.err_peek_error() == 0, "OpenSSL's error queue was left non-empty"
