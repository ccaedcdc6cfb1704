"""M2Sec.Err: the exception root, OpenSSL's reason text, and the error-queue readers."""

import importlib

import pytest

from M2Sec import Err, m2

AREA_ERRORS = [
    ("M2Sec.BIO", "BIOError"),
    ("M2Sec.Rand", "RandError"),
    ("M2Sec.BN", "BNError"),
    ("M2Sec.ASN1", "ASN1Error"),
    ("M2Sec.EVP", "EVPError"),
    ("M2Sec.X509", "X509Error"),
    ("M2Sec.Provider", "ProviderError"),
    ("M2Sec.Engine", "EngineError"),
    ("M2Sec.util", "UtilError"),
    ("M2Sec.Err", "SSLError"),
    ("M2Sec.Err", "ClosedError"),
]


@pytest.mark.parametrize("module, name", AREA_ERRORS)
def test_every_area_error_derives_from_the_root(module, name):
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, Err.M2SecError)
    assert cls is not Err.M2SecError


def test_m2cryptoerror_is_the_root():
    assert Err.M2CryptoError is Err.M2SecError
    assert issubclass(Err.M2SecError, Exception)


def test_exception_carries_openssl_reason_text():
    # OBJ_txt2obj with an unknown name fails with OBJ_R_UNKNOWN_OBJECT_NAME
    with pytest.raises(Err.M2SecError) as info:
        m2.obj_txt2obj("surely.not.an.object", 0)
    assert "unknown object name" in str(info.value)
    code = info.value.openssl_code
    assert code != 0
    assert m2.err_reason_error_string(code) == "unknown object name"
    assert m2.err_lib_error_string(code) == "object identifier routines"


def test_system_error_reason_is_strerror():
    with pytest.raises(Err.M2SecError) as info:
        m2.bio_new_file("/nonexistent-dir/x", "rb")
    assert "No such file or directory" in str(info.value)


def _queue_two_errors():
    """Put two OBJ-library errors (reasons 101, 102) on this thread's queue.

    Every wrapped call empties the queue, so the errors are raised straight through
    libcrypto with ctypes (the same library M2Sec._m2sec is linked to).
    """
    import ctypes
    import ctypes.util

    lib = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
    lib.ERR_new.restype = None
    lib.ERR_set_debug.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    lib.ERR_set_error.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p]
    for reason in (101, 102):
        lib.ERR_new()
        lib.ERR_set_debug(b"test.c", 1, b"fn")
        lib.ERR_set_error(8, reason, None)  # ERR_LIB_OBJ
    return lib


def test_peek_and_get_error_code():
    _queue_two_errors()
    first = Err.peek_error_code()
    assert first != 0
    assert Err.peek_error_code() == first  # peek leaves it there
    assert Err.get_error_code() == first
    second = Err.get_error_code()
    assert second not in (0, first)
    assert Err.get_error_code() == 0
    assert Err.peek_error_code() == 0


def test_get_error_drains_into_lines():
    _queue_two_errors()
    text = Err.get_error()
    lines = text.split("\n")
    assert len(lines) == 2
    assert all(line.startswith("error:") for line in lines)
    assert "object identifier routines" in lines[0]
    assert m2.err_peek_error() == 0
    assert Err.get_error() is None


def test_get_errors_tuples_oldest_first():
    _queue_two_errors()
    errs = Err.get_errors()
    assert [e[0] & 0x7FFFFF for e in errs] == [101, 102]
    for code, lib, reason, data in errs:
        assert isinstance(code, int) and lib == "object identifier routines"
        assert isinstance(reason, str)
        assert data is None
    assert Err.get_errors() == []


def test_get_error_message_and_reason():
    _queue_two_errors()
    code = Err.peek_error_code()
    reason = Err.get_error_reason(code)
    assert reason == m2.err_reason_error_string(code)
    assert Err.get_error_message() == reason
    m2.err_clear_error()
    assert Err.get_error_message() == ""


def test_helpers_on_no_error():
    assert Err.get_error_reason(0) == ""
    assert Err.get_error_lib(None) == ""
    assert Err.get_error_func(0) == ""
    assert Err.get_error_code() == 0


def test_clear_error_empties_queue():
    _queue_two_errors()
    m2.err_clear_error()
    assert m2.err_peek_error() == 0


def test_ssl_error_keeps_err_and_address():
    e = Err.SSLError(0, ("127.0.0.1", 443))
    assert e.err == 0 and e.client_addr == ("127.0.0.1", 443)
    assert "127.0.0.1" in str(e)
    assert isinstance(e, Err.M2SecError)


def test_closed_error_is_value_error():
    assert issubclass(Err.ClosedError, ValueError)


def test_x509_verify_error_text():
    assert Err.get_x509_verify_error(None) == ""
    assert Err.get_x509_verify_error(10) == "certificate has expired"  # X509_V_ERR_CERT_HAS_EXPIRED


def test_one_ssl_error_class():
    """Err.SSLError and SSL.SSLError are one name (issue 18): an SSL failure is caught by either."""
    from M2Sec import SSL
    assert Err.SSLError is SSL.SSLError
    assert issubclass(SSL.SSLCertVerificationError, Err.SSLError)
    ctx = SSL.Context()
    with pytest.raises(Err.SSLError):
        ctx.load_cert_chain("/nonexistent/cert.pem")
    e = SSL.SSLError("handshake failure")
    assert str(e) == "handshake failure" and e.err == 0
