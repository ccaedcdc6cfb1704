"""M2Sec.Engine: what OpenSSL 3 still offers of the ENGINE API."""

import pytest

from M2Sec import Engine, Err, m2

needs_engine = pytest.mark.skipif(not m2.HAS_ENGINE, reason="this OpenSSL is built without ENGINE support")


def test_flags_agree():
    assert m2.HAS_ENGINE in (0, 1)
    assert m2.is_engine_available == m2.HAS_ENGINE
    assert Engine.Engine.is_available() == bool(m2.HAS_ENGINE)
    assert issubclass(Engine.EngineError, Err.M2SecError)


@needs_engine
def test_openssl_engine_name_and_id():
    Engine.load_openssl()
    e = Engine.Engine("openssl")
    assert e.get_id() == "openssl"
    assert e.get_name() == "Software engine support"
    assert e.init() == 1
    assert e.is_initialized()
    assert e.finish() == 1
    assert not e.is_initialized()
    assert e.finish() == 0
    e.free()


@needs_engine
def test_engine_id_as_bytes_and_with_block():
    Engine.load_openssl()
    with Engine.Engine(b"openssl") as e:
        assert e.is_initialized()
        assert e.get_id() == "openssl"
    with pytest.raises(Engine.EngineError):
        e.get_id()


@needs_engine
@pytest.mark.parametrize("bad", ["no-such-engine", "openssl\n"])
def test_bad_id_is_value_error(bad):
    with pytest.raises(ValueError, match="no engine"):
        Engine.Engine(bad)


def test_missing_id():
    with pytest.raises(ValueError):
        Engine.Engine()
    with pytest.raises(ValueError):
        Engine.Engine("")


def test_none_id_to_m2_is_type_error():
    with pytest.raises(TypeError):
        m2.engine_by_id(None)


@needs_engine
def test_freed_engine():
    Engine.load_openssl()
    e = Engine.Engine("openssl")
    e.free()
    e.free()
    with pytest.raises(Engine.EngineError, match="freed"):
        e.get_name()
    with pytest.raises(Engine.EngineError):
        e.init()


@needs_engine
def test_bad_ctrl_command():
    Engine.load_dynamic()
    e = Engine.Engine("dynamic")
    with pytest.raises(Engine.EngineError):
        e.ctrl_cmd_string("NO_SUCH_COMMAND", "x")
    with pytest.raises(Engine.EngineError):
        e.ctrl_cmd_string("LOAD", None)  # no SO_PATH set
    e.free()


@needs_engine
def test_load_dynamic_engine_missing_library(tmp):
    with pytest.raises(Engine.EngineError):
        Engine.load_dynamic_engine("m2sec_nothing", str(tmp / "missing.so"))


@needs_engine
def test_load_key_unsupported():
    Engine.load_openssl()
    e = Engine.Engine("openssl")
    e.init()
    with pytest.raises(Engine.EngineError):
        e.load_certificate("slot")
    e.finish()
    e.free()


def test_null_engine_pointer():
    with pytest.raises(ValueError):
        m2.engine_get_id(None)


# ---- a real PKCS#11 token: SoftHSM 2 through libp11's engine (issue 18) ------------------------
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

ENGINE_SO = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so"   # libengine-pkcs11-openssl
SOFTHSM_SO = "/usr/lib/softhsm/libsofthsm2.so"                 # softhsm2
KEY_URI = "pkcs11:token=m2sec;object=tlskey;type=private"


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    """A SoftHSM token in a temporary directory (SOFTHSM2_CONF points at its config) holding an
    EC P-256 key (PIN 1234) and a self-signed certificate for it."""
    if os.environ.get("M2SEC_WHEEL_TEST") == "1":
        pytest.skip("the wheel's static OpenSSL 3.5 cannot use libp11's engine, built for the system's OpenSSL 3.0")
    for path, pkg in ((ENGINE_SO, "libengine-pkcs11-openssl"), (SOFTHSM_SO, "softhsm2")):
        if not os.path.exists(path):
            pytest.fail("%s is needed (apt-get install %s)" % (path, pkg))
    if shutil.which("softhsm2-util") is None:
        pytest.fail("softhsm2-util is needed (apt-get install softhsm2)")
    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n" % (d / "tokens"))
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))

    def run(*args):
        subprocess.run(args, env=env, check=True, capture_output=True, timeout=60)
    run("softhsm2-util", "--init-token", "--free", "--label", "m2sec", "--pin", "1234", "--so-pin", "5678")
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(d / "key.pem"))
    run("softhsm2-util", "--import", str(d / "key.pem"), "--token", "m2sec", "--label", "tlskey", "--id", "01",
        "--pin", "1234")
    run("openssl", "req", "-x509", "-new", "-key", str(d / "key.pem"), "-subj", "/CN=localhost", "-days", "2",
        "-addext", "subjectAltName=DNS:localhost", "-out", str(d / "cert.pem"))
    (d / "key.pem").unlink()  # from here on the key lives only in the token
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    yield d
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


def _pkcs11_engine():
    e = Engine.load_dynamic_engine("pkcs11", ENGINE_SO)
    e.ctrl_cmd_string("MODULE_PATH", SOFTHSM_SO)
    e.init()
    return e


WRONG_PIN = r"""
import sys
from M2Sec import Engine
e = Engine.load_dynamic_engine("pkcs11", sys.argv[1])
e.ctrl_cmd_string("MODULE_PATH", sys.argv[2])
e.init()
from M2Sec import EVP, m2
for pin in (None, "0000"):
    try:
        e.load_private_key(sys.argv[3], pin=pin)
        print("loaded")
    except Engine.EngineError as exc:
        print("EngineError" + (":incorrect" if "incorrect" in str(exc) else ""))
# M2Crypto's low-level form: the PIN in engine_pkcs11_data_new's callback data
cbd = m2.engine_pkcs11_data_new("1234")
key = EVP.PKey(m2.engine_load_private_key(e._ptr(), sys.argv[3], m2.ui_openssl(), cbd), 1)
m2.engine_pkcs11_data_free(cbd)
print("loaded", key.bits())
"""


@needs_engine
def test_pkcs11_key_needs_its_pin_and_never_prompts(token):
    """Without a PIN the engine's prompt fails (no terminal read); a wrong one is refused; the
    right one loads the key.  (In a child process: the engine keeps a login once made.)"""
    proc = subprocess.run([sys.executable, "-c", WRONG_PIN, ENGINE_SO, SOFTHSM_SO, KEY_URI], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60, start_new_session=True)
    assert proc.stdout.decode().split() == ["EngineError", "EngineError:incorrect", "loaded", "256"], proc.stderr.decode()
    assert b"Enter PKCS#11 token PIN" not in proc.stderr


@needs_engine
def test_pkcs11_key_signs_and_serves_tls(token):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "ssl"))
    from ssl_helpers import m2server
    from M2Sec import SSL, X509
    e = _pkcs11_engine()
    key = e.load_private_key(KEY_URI, pin="1234")
    assert key.bits() == 256
    # the token signs; openssl verifies with the certificate's public key
    key.reset_context("sha256")
    key.sign_init()
    key.sign_update(b"signed inside the token")
    (token / "sig").write_bytes(key.sign_final())
    (token / "data").write_bytes(b"signed inside the token")
    subprocess.run(["openssl", "x509", "-in", str(token / "cert.pem"), "-pubkey", "-noout", "-out", str(token / "pub.pem")],
                   check=True, timeout=30)
    out = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(token / "pub.pem"), "-signature",
                          str(token / "sig"), str(token / "data")], capture_output=True, timeout=30)
    assert b"Verified OK" in out.stdout, out.stderr
    # and serves TLS: openssl s_client verifies the server's certificate and gets its echo
    ctx = SSL.Context()
    ctx.use_certificate(X509.load_cert(str(token / "cert.pem")), key)
    def echo_once(conn):
        conn.sendall(conn.read(1024))
        conn.close()
    with m2server(ctx, echo_once) as srv:
        proc = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-CAfile",
                               str(token / "cert.pem"), "-verify_return_error", "-verify_hostname", "localhost",
                               "-ign_eof", "-quiet"], input=b"through the token\n", capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"through the token" in proc.stdout
    assert not srv.errors
    e.finish()
