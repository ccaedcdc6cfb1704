"""M2Sec offers every public name of M2Crypto 0.51 (issue 18): each module's names, each class's
attributes and the low-level ``m2`` functions and constants, compared against M2Crypto 0.51 as
installed in the test environment (tests/requirements.txt).  The names M2Sec added for this get
their behavioural tests in test_m2_lowlevel_names.py and below."""

import json
import logging
import subprocess
import sys
import warnings

import pytest

# What the comparison leaves out, and why.
SWIG_LEAKAGE = ("OPENSSL_sk_", "ossl_check_")  # OpenSSL's stack macros as SWIG saw them
SWIG_MODULES = ("_m2crypto",)  # the C extension itself (private): its names are m2's
WINDOWS_ONLY = {(mod, name) for mod in ("m2", "m2crypto") for name in ("rand_screen", "rand_win32_event")}
# Local variables M2Crypto's module bodies leave behind (a loop variable, version parsing).
MODULE_CODE_LEFTOVERS = {("", "VersionCtor"), ("", "release"), ("", "release_tuple"), ("X509", "x")}

# Run in a child process per package, so that neither package's import affects the other.
COLLECT = r"""
import importlib, inspect, json, pkgutil, sys, types, typing, warnings
warnings.simplefilter("ignore")
pkg = sys.argv[1]
skip_modules = set(sys.argv[2].split(","))
root = importlib.import_module(pkg)
mods = {"": root}
failed = []
for info in pkgutil.walk_packages(root.__path__, pkg + "."):
    rel = info.name[len(pkg) + 1:]
    if rel.split(".")[-1] in skip_modules:
        continue
    try:
        mods[rel] = importlib.import_module(info.name)
    except Exception as exc:
        failed.append([rel, repr(exc)])
names = []
for rel, mod in sorted(mods.items()):
    if rel:
        names.append(["", rel])  # the module itself
    for name in dir(mod):
        if name.startswith("_"):
            continue
        value = getattr(mod, name)
        if isinstance(value, types.ModuleType):
            continue
        if getattr(typing, name, None) is value and name != "TYPE_CHECKING":
            continue  # typing's own helpers imported for annotations (Any, Optional, ...)
        names.append([rel, name])
        if inspect.isclass(value) and (getattr(value, "__module__", "") or "").startswith(pkg):
            names.extend([rel, name + "." + attr] for attr in dir(value) if not attr.startswith("_"))
print(json.dumps({"names": names, "failed": failed}))
"""


def _collect(package: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", COLLECT, package, ",".join(SWIG_MODULES)],
                          capture_output=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail("collecting %s's names failed: %s" % (package, proc.stderr.decode(errors="replace")[-2000:]))
    return json.loads(proc.stdout)


def _excluded(rel: str, name: str) -> bool:
    return ((rel, name) in WINDOWS_ONLY or (rel, name) in MODULE_CODE_LEFTOVERS or name.startswith(SWIG_LEAKAGE)
            or rel in SWIG_MODULES)


def test_m2crypto_module_is_m2():
    """M2Crypto's SWIG module name, M2Crypto.m2crypto, holds the low-level functions too."""
    from M2Sec import m2, m2crypto
    assert m2crypto.x509_sign is m2.x509_sign and m2crypto.OPENSSL_VERSION_NUMBER == m2.OPENSSL_VERSION_NUMBER


@pytest.fixture(scope="module")
def name_sets():
    probe = subprocess.run([sys.executable, "-c", "import M2Crypto; print(M2Crypto.__version__)"],
                           capture_output=True, timeout=60)
    if probe.returncode != 0:
        pytest.fail("M2Crypto 0.51.0 is needed to compare the APIs: `make install` installs it from "
                    "tests/requirements.txt (%s)" % probe.stderr.decode(errors="replace").strip()[-300:])
    assert probe.stdout.decode().strip() == "0.51.0", "the comparison is with M2Crypto 0.51.0"
    ours, theirs = _collect("M2Sec"), _collect("M2Crypto")
    return ours, theirs


def test_every_m2crypto_module_imports_in_m2sec(name_sets):
    ours, theirs = name_sets
    assert ours["failed"] == [], "M2Sec modules that do not import: %s" % ours["failed"]


def test_every_public_m2crypto_name_exists_in_m2sec(name_sets):
    ours, theirs = name_sets
    have = {tuple(n) for n in ours["names"]}
    missing = sorted({tuple(n) for n in theirs["names"]} - have)
    missing = [(rel, name) for rel, name in missing if not _excluded(rel, name)]
    listing = "\n".join("  M2Sec%s.%s" % ("." + rel if rel else "", name) for rel, name in missing)
    assert not missing, "%d M2Crypto 0.51 names are missing from M2Sec:\n%s" % (len(missing), listing)


def test_the_comparison_sees_the_low_level_functions(name_sets):
    """The comparison is not vacuous: m2 holds hundreds of M2Crypto's names on both sides."""
    ours, theirs = name_sets
    m2_theirs = {n for rel, n in theirs["names"] if rel == "m2"}
    assert len(m2_theirs) > 900 and "x509_sign" in m2_theirs and "bio_make_bio_pair" in m2_theirs
    assert {n for rel, n in ours["names"] if rel == "m2"} >= {n for n in m2_theirs if not _excluded("m2", n)}


# ---- the module-level names and class attributes M2Sec added, by behaviour ----------------------
def test_dh_generators_make_working_parameters():
    from M2Sec import DH, m2
    assert DH.DH_GENERATOR_2 == m2.DH_GENERATOR_2 == 2 and DH.DH_GENERATOR_5 == 5
    dh = DH.gen_params(512, DH.DH_GENERATOR_2, DH.genparam_callback)
    assert dh.g == b"\x00\x00\x00\x01\x02"


def test_ec_key_alias_and_types_module():
    from M2Sec import EC, types as C
    assert EC.EC_Key is bytes
    assert C.EVP_PKEY("x") == "x" and C.STACK_OF_X509.__origin__ is list


def test_free_functions_under_m2crypto_names_free_their_pointer():
    from M2Sec import ASN1, DH, DSA, EC, EVP, RC4, X509, m2
    from M2Sec.Engine import Engine
    from M2Sec.SSL.Session import Session
    ASN1.ASN1_Integer.m2_asn1_integer_free(m2.asn1_integer_new())
    ASN1.ASN1_String.m2_asn1_string_free(m2.asn1_string_new())
    ASN1.ASN1_Object.m2_asn1_object_free(m2.asn1_object_new())
    ASN1.ASN1_TIME.m2_asn1_time_free(m2.asn1_time_new())
    ASN1.ASN1_UTCTIME.m2_asn1_utctime_free(m2.asn1_utctime_new())
    DH.DH.m2_dh_free(m2.dh_new())
    DSA.DSA.m2_dsa_free(m2.dsa_new())
    EC.EC.m2_ec_key_free(m2.ec_key_new())
    EVP.MessageDigest.m2_md_ctx_free(m2.md_ctx_new())
    EVP.Cipher.m2_cipher_ctx_free(m2.cipher_ctx_new())
    EVP.HMAC.m2_hmac_ctx_free(m2.hmac_ctx_new())
    RC4.RC4.rc4_free(m2.rc4_new())
    X509.CRL_Stack.m2_sk_x509_crl_free(m2.sk_x509_crl_new_null())
    X509.X509_Store_Context.m2_x509_store_ctx_free(m2.x509_store_ctx_new())
    Engine.m2_engine_free(m2.engine_by_id("dynamic"))
    assert Session.m2_ssl_session_free is not None
    with pytest.raises(ValueError):  # NULL is refused, not crashed on
        DH.DH.m2_dh_free(None)


def test_module_loggers_log():
    import importlib
    from M2Sec import BIO, EVP, X509, util
    Connection = importlib.import_module("M2Sec.SSL.Connection")
    for mod in (BIO, EVP, X509, util, Connection):
        assert isinstance(mod.log, logging.Logger) and mod.log.name == mod.__name__
    assert BIO.TYPE_CHECKING is False and Connection.TYPE_CHECKING is False


def test_xmlrpc_type_aliases():
    from M2Sec import m2xmlrpclib
    assert m2xmlrpclib.SizedBufferType.__args__ == (bytes, bytearray)
    assert str in m2xmlrpclib.HostType.__args__


def test_checker_pattern_is_re_pattern():
    import re
    from M2Sec.SSL import Checker
    assert Checker.Pattern is re.Pattern


def test_callback_module_warns_and_gives_the_util_callbacks():
    sys.modules.pop("M2Sec.callback", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from M2Sec import callback
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    from M2Sec import util
    assert callback.genparam_callback is util.genparam_callback
    assert callback.passphrase_callback is util.passphrase_callback


def test_urllib_modules_reexport_the_standard_names():
    import urllib.parse
    import urllib.request
    import urllib.response
    from M2Sec import m2urllib, m2urllib2
    assert m2urllib.addinfourl is m2urllib2.addinfourl is urllib.response.addinfourl
    assert m2urllib2.AbstractHTTPHandler is urllib.request.AbstractHTTPHandler
    assert m2urllib2.url_parse("https://h:1/p?q")[1] == "h:1"
    assert m2urllib2.urldefrag("https://h/p#frag")[0] == "https://h/p"
    assert m2urllib.open_https is m2urllib.URLopener.open_https


def test_twisted_wrapper_clear_forgets_the_tls_state():
    from twisted.internet.interfaces import IProtocol
    from M2Sec import SSL
    from M2Sec.SSL import TwistedProtocolWrapper as T
    assert T.IProtocol is IProtocol and T.partial.__name__ == "partial"
    w = T.TLSProtocolWrapper.__new__(T.TLSProtocolWrapper)
    T.TLSProtocolWrapper.__init__(w, None, None, True, True, None, None)  # pass-through: no TLS yet
    assert w.ssl is None and w.ctx is None and w.sslBio is None and w.networkBio is None and w.internalBio is None
    ctx = SSL.Context()
    w.ctx = ctx
    w.tls = object()
    w.checked = True
    w._pending = [b"x"]
    w.clear()
    assert w.ssl is None and not w.checked and w._pending == [] and w.ctx is ctx
