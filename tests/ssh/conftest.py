"""Fixtures of the SSH tests: real OpenSSH sshd servers on loopback, started once per session."""

import os
from typing import Iterator

import pytest

from .sshd_helpers import Sshd


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    """An sshd accepting every algorithm the client has and the fixture's user keys."""
    server = Sshd().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def pam_sshd() -> Iterator[Sshd]:
    """An sshd checking passwords (password and keyboard-interactive) through a PAM service of
    its own; that needs root (it writes /etc/pam.d/<name>)."""
    if os.geteuid() != 0:
        pytest.skip("password authentication against sshd needs root to install a PAM service")
    server = Sshd(pam_password=True, extra_config="PubkeyAuthentication no\n").start()
    try:
        yield server
    finally:
        server.cleanup()
