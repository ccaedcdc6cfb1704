"""The build and the package: the sdist's contents, the version and licence metadata, the
OpenSSL that setup.py links (rpath) and the check made at import that it is the one loaded."""
import os
import re
import runpy
import subprocess
import sys
import tarfile

import pytest
import setuptools

import M2Sec
from M2Sec import m2

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(name):
    with open(os.path.join(TOP, name)) as f:
        return f.read()


@pytest.mark.timeout(120)
def test_sdist_holds_what_builds_and_tests_m2sec(tmp_path):
    proc = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path)], cwd=TOP,
                          capture_output=True, timeout=110)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    [archive] = os.listdir(tmp_path)
    with tarfile.open(os.path.join(tmp_path, archive)) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for wanted in ("Makefile", "INSTALL", "LICENCE", "README.md", "setup.py", "SWIG/_m2sec.i", "SWIG/_lib.i",
                   "tests/conftest.py", "tests/ssl/ssl_helpers.py", "tests/tls/conftest.py",
                   "tests/ssh/conftest.py", "tests/vectors/aes_gcm.json", "tests/system-packages.txt",
                   "tests/fuzz/_harness.py", "demo/m2sec_demo.py", "M2Sec/py.typed", "M2Sec/m2.pyi",
                   "SWIG/gen_m2_pyi.py", "tests/typing/user_code.py"):
        assert wanted in names, wanted
    assert not [n for n in names if n.endswith((".so", "_wrap.c", ".pyc"))]


def test_version_is_kept_once():
    pyproject = _read("pyproject.toml")
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.M)
    assert not re.search(r'^version\s*=\s*"', pyproject, re.M)
    assert 'version = { attr = "M2Sec.__version__" }' in pyproject
    from importlib.metadata import version
    assert version("M2Sec") == M2Sec.__version__


def test_licence_is_an_spdx_expression():
    pyproject = _read("pyproject.toml")
    assert re.search(r'^license = "BSD-2-Clause"$', pyproject, re.M)
    assert "license = {" not in pyproject.replace(" ", "").replace("license={", "license = {")


def test_deprecated_api_warnings_are_silenced_only_where_needed():
    [args] = re.findall(r"extra_compile_args=(\[.*?\])", _read("setup.py"))
    assert "-Wno-deprecated-declarations" not in args
    whole = sorted(f for f in os.listdir(os.path.join(TOP, "SWIG"))
                   if "M2_DEPRECATED_FILE_BEGIN  " in _read(os.path.join("SWIG", f)))
    assert whole == ["_dh.i", "_dsa.i", "_ec.i", "_engine.i", "_evp.i", "_rsa.i", "_srp.i"]
    for f in whole:  # each region is closed, once
        text = _read(os.path.join("SWIG", f))
        assert text.count("\nM2_DEPRECATED_FILE_BEGIN") == text.count("\nM2_DEPRECATED_FILE_END") == 1
        assert text.index("\nM2_DEPRECATED_FILE_BEGIN") < text.index("\nM2_DEPRECATED_FILE_END")


def _setup_kwargs(monkeypatch, **env):
    captured = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: captured.update(kw))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(TOP)
    runpy.run_path(os.path.join(TOP, "setup.py"), run_name="setup")
    [ext] = captured["ext_modules"]
    return ext


def test_openssl_dir_is_linked_with_an_rpath(monkeypatch, tmp_path):
    (tmp_path / "include" / "openssl").mkdir(parents=True)
    (tmp_path / "lib").mkdir()
    ext = _setup_kwargs(monkeypatch, OPENSSL_DIR=str(tmp_path))
    assert ext.runtime_library_dirs == [str(tmp_path / "lib")]
    assert str(tmp_path / "include") in ext.include_dirs


def test_pkg_config_openssl_outside_the_system_gets_an_rpath(monkeypatch, tmp_path):
    pc = tmp_path / "pc"
    pc.mkdir()
    (pc / "openssl.pc").write_text("prefix=/opt/ossl\nName: OpenSSL\nDescription: x\nVersion: 3.5.0\n"
                                   "Libs: -L/opt/ossl/lib -lssl -lcrypto\nCflags: -I/opt/ossl/include\n")
    monkeypatch.delenv("OPENSSL_DIR", raising=False)
    ext = _setup_kwargs(monkeypatch, PKG_CONFIG_PATH=str(pc), PKG_CONFIG_LIBDIR=str(pc))
    assert ext.runtime_library_dirs == ["/opt/ossl/lib"]


def test_system_openssl_gets_no_rpath(monkeypatch):
    monkeypatch.delenv("OPENSSL_DIR", raising=False)
    monkeypatch.delenv("PKG_CONFIG_PATH", raising=False)
    ext = _setup_kwargs(monkeypatch)
    assert ext.runtime_library_dirs == []


def test_import_refuses_another_openssl_major_minor():
    from M2Sec.m2 import _check_openssl
    _check_openssl(0x30000130, 0x30000160)  # 3.0.19 built, 3.0.22 loaded: the same ABI
    with pytest.raises(ImportError, match=r"built for OpenSSL 3\.0\.19 but OpenSSL 3\.5\.7 was loaded"):
        _check_openssl(0x30000130, 0x30500070)
    with pytest.raises(ImportError, match="LD_LIBRARY_PATH"):
        _check_openssl(0x30500000, 0x30000000)
    assert m2.OPENSSL_VERSION_NUMBER >> 20 == m2.openssl_version_num() >> 20
