"""Fixtures of the SSL tests (the helpers are in ssl_helpers.py)."""

import pytest

from ssl_helpers import SSLPKI


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> SSLPKI:
    """The session's PKI: root, intermediate and the servers' and client's certificates."""
    return SSLPKI(str(tmp_path_factory.mktemp("sslpki")))
