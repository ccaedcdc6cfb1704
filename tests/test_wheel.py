"""The self-contained wheel (`make wheel`), installed by `make test-wheel` in a fresh venv and
run with no C compiler on PATH (M2SEC_WHEEL_TEST=1): OpenSSL 3.5 is inside M2Sec._m2sec, no
shared libssl/libcrypto is needed, the system's libcrypto (loaded by Python's ssl) lives beside
it, and the package metadata is the one in pyproject.toml.  Elsewhere these tests skip."""

import os
import shutil
import subprocess
import sys
from importlib import metadata

import pytest

import M2Sec
from M2Sec import _m2sec, m2

pytestmark = pytest.mark.skipif(os.environ.get("M2SEC_WHEEL_TEST") != "1",
                                reason="checks the installed wheel: run by make test-wheel")


def test_no_compiler_on_path():
    for cc in ("gcc", "cc", "clang", "ld"):
        assert shutil.which(cc) is None, "%s is on PATH" % cc


def test_installed_from_the_wheel_not_the_tree():
    tree = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "M2Sec")
    assert "site-packages" in _m2sec.__file__ and not _m2sec.__file__.startswith(tree)
    files = metadata.files("M2Sec") or []
    assert any(str(f).endswith(".so") for f in files)


def test_openssl_35_inside_and_no_shared_openssl():
    assert m2.OPENSSL_VERSION_TEXT.startswith("OpenSSL 3.5"), m2.OPENSSL_VERSION_TEXT
    assert m2.openssl_version_num() >> 20 == 0x305
    assert m2.HAS_ML_KEM and m2.HAS_ML_DSA and m2.HAS_SLH_DSA
    ldd = subprocess.run(["ldd", _m2sec.__file__], capture_output=True, text=True, timeout=30).stdout
    assert "libssl" not in ldd and "libcrypto" not in ldd, ldd


def test_beside_pythons_own_openssl():
    code = ("import ssl, hashlib, M2Sec.EVP as E, M2Sec.m2 as m\n"
            "print(ssl.OPENSSL_VERSION); print(m.OPENSSL_VERSION_TEXT)\n"
            "assert E.digest('sha256', b'x') == hashlib.sha256(b'x').digest()\n"
            "k = E.generate_key('ML-KEM-768'); ct, s = k.encapsulate(); assert k.decapsulate(ct) == s\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    py, ours = out.stdout.splitlines()
    assert ours.startswith("OpenSSL 3.5") and py != ours


def test_metadata():
    md = metadata.metadata("M2Sec")
    assert md["Version"] == M2Sec.__version__
    assert md["License-Expression"] == "BSD-2-Clause"
    assert "Programming Language :: Python :: 3.11" in md.get_all("Classifier")
    assert any(e.name == "m2sec" for e in metadata.entry_points(group="console_scripts"))
    out = subprocess.run(["m2sec", "--version"], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith("M2Sec %s on OpenSSL 3.5" % M2Sec.__version__), out


def test_zlib_for_cms_compressed_data():
    # The wheel's OpenSSL is built with zlib (CMS CompressedData, RFC 3274), linked to the system's
    # libz.so.1 (on the manylinux policies' list of libraries a wheel may expect), not bundled.
    from M2Sec import CMS
    assert CMS.HAS_ZLIB
    data = b"compressed " * 1000
    ci = CMS.compress(data)
    assert len(ci.to_der()) < len(data) // 10 and CMS.uncompress(ci) == data
    ldd = subprocess.run(["ldd", _m2sec.__file__], capture_output=True, text=True, timeout=30).stdout
    assert "libz.so.1 => /" in ldd, ldd
    assert not any(".libs" in line for line in ldd.splitlines() if "libz" in line), ldd
