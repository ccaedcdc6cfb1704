"""M2Sec.RC4 through OpenSSL's legacy provider (RFC 6229 key stream, openssl enc round trip)."""

import json
import os
import subprocess
import warnings
from binascii import unhexlify
from pathlib import Path

import pytest

from M2Sec import EVP, RC4, m2
from M2Sec.Err import ClosedError

V = json.loads((Path(__file__).parent / "vectors" / "rc4_rfc6229.json").read_text())["vectors"][0]


def make(key=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return RC4.RC4(key)


def test_rfc6229_key_stream():
    rc4 = make(unhexlify(V["key"]))
    assert rc4.update(b"\0" * 32).hex() == V["keystream"]
    assert rc4.final() == ""
    rc4.set_key(unhexlify(V["key"]))  # a new key restarts the stream
    assert rc4.update(b"\0" * 16).hex() == V["keystream"][:32]


def test_round_trip_with_openssl_enc():
    key, data = os.urandom(16), os.urandom(10000)
    ours = make(key).update(data)
    out = subprocess.run(["openssl", "enc", "-rc4", "-K", key.hex(), "-provider", "legacy", "-provider", "default"],
                         input=data, capture_output=True, timeout=30, check=True).stdout
    assert ours == out
    assert make(key).update(ours) == data


def test_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="RC4"):
        RC4.RC4(b"key")


def test_bad_input():
    rc4 = make()
    with pytest.raises(ValueError):
        rc4.update(b"data")  # no key yet
    with pytest.raises(TypeError):
        rc4.set_key("key")
    with pytest.raises(ValueError):
        rc4.set_key(b"k" * 257)
    rc4.close()
    with pytest.raises(ClosedError):
        rc4.update(b"x")
    with pytest.raises(ValueError):
        m2.rc4_update(None, b"x")


def test_missing_legacy_provider_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(RC4, "_load_legacy", lambda: False)
    with pytest.raises(EVP.EVPError, match="legacy provider"):
        make(b"key")
