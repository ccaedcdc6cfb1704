"""M2Sec.m2: module constants and the conventions of SWIG/_lib.i."""

import ctypes
import time

import pytest

from M2Sec import BIO, BN, EVP, Err, m2


def test_openssl_version_number_is_3_or_newer(openssl):
    assert m2.OPENSSL_VERSION_NUMBER >= 0x30000000
    # the header the build used and the library loaded agree on the major version
    assert m2.openssl_version_num() >> 28 == m2.OPENSSL_VERSION_NUMBER >> 28
    # and the text names the library the command line reports
    text = m2.OPENSSL_VERSION_TEXT
    assert text.startswith("OpenSSL 3.")
    cli = openssl(["version"]).stdout.decode()
    assert cli.split()[0] == "OpenSSL"


def test_time_t_bits_matches_the_c_type():
    assert m2.time_t_bits() in (32, 64)
    if ctypes.sizeof(ctypes.c_void_p) == 8:  # every 64-bit Linux ABI has a 64-bit time_t
        assert m2.time_t_bits() == 64
    from M2Sec import util
    assert util.time_t_bits() == m2.time_t_bits()
    # time.time() fits in time_t
    assert int(time.time()) < 2 ** (m2.time_t_bits() - 1)


def test_encrypt_decrypt_constants():
    assert m2.encrypt == 1 and m2.decrypt == 0


@pytest.mark.parametrize("data", [b"abc", bytearray(b"abc"), memoryview(b"abc"),
                                  memoryview(b"xxabcxx")[2:5], __import__("array").array("B", b"abc")])
def test_buffer_typemap_accepts_buffers(data):
    bio = m2.bio_new(m2.bio_s_mem())
    try:
        assert m2.bio_write(bio, data) == 3
        assert m2.bio_read(bio, 10) == b"abc"
    finally:
        m2.bio_free(bio)


@pytest.mark.parametrize("bad", ["abc", 3, None, 1.5, ["a"]])
def test_buffer_typemap_rejects_non_buffers(bad):
    bio = m2.bio_new(m2.bio_s_mem())
    try:
        with pytest.raises(TypeError):
            m2.bio_write(bio, bad)
        assert m2.bio_ctrl_pending(bio) == 0
    finally:
        m2.bio_free(bio)


def test_buffer_typemap_str_message_says_bytes():
    with pytest.raises(TypeError, match="bytes-like"):
        m2.bin_to_bn("00ff")


def test_buffer_typemap_non_contiguous_rejected():
    data = memoryview(b"abcdef")[::2]
    with pytest.raises((TypeError, BufferError)):
        m2.bin_to_bn(data)


def test_buffer_typemap_releases_the_view():
    # a bytearray whose buffer is exported may not be resized while OpenSSL reads it;
    # after the call it must be released again (the typemap's freearg).
    ba = bytearray(b"\x01\x02")
    bn = m2.bin_to_bn(ba)
    try:
        ba.extend(b"\x03")  # BufferError if the view leaked
    finally:
        m2.bn_free(bn)


@pytest.mark.parametrize("fn, args", [
    (m2.bio_read, (None, 10)),
    (m2.bio_write, (None, b"x")),
    (m2.bio_ctrl_pending, (None,)),
    (m2.bn_to_hex, (None,)),
    (m2.bn_to_int, (None,)),
    (m2.asn1_string_length, (None,)),
    (m2.asn1_integer_get, (None,)),
    (m2.x509_name_entry_count, (None,)),
    (m2.obj_obj2txt, (None, 0)),
])
def test_null_pointer_gives_value_error(fn, args):
    with pytest.raises(ValueError, match="NULL"):
        fn(*args)


@pytest.mark.parametrize("call", [
    lambda: EVP.MessageDigest("sha256\0x"),
    lambda: m2.obj_txt2nid("CN\0x"),
    lambda: m2.bio_new_file("/etc/hostname\0x", "rb"),
    lambda: m2.x509_check_host(None, "good.example\0evil.example", 0),
])
def test_nul_inside_a_string_is_refused(call):
    """OpenSSL would read only up to the NUL: another digest, file or host name."""
    with pytest.raises(ValueError, match="NUL character"):
        call()


def test_wrong_pointer_type_gives_type_error():
    bn = m2.bn_new()
    try:
        with pytest.raises(TypeError):
            m2.bio_read(bn, 10)
    finally:
        m2.bn_free(bn)


def test_error_queue_empty_after_failing_calls():
    failures = [
        lambda: m2.hex_to_bn(b"zz"),
        lambda: m2.dec_to_bn(b"12a"),
        lambda: m2.obj_txt2obj("no-such-object-name", 0),
        lambda: m2.bio_new_file("/nonexistent/dir/file", "rb"),
        lambda: m2.mpi_to_bn(b"\x00\x00\x00\x09\x01"),
    ]
    for fail in failures:
        with pytest.raises(Exception):
            fail()
        assert m2.err_peek_error() == 0, fail


def test_error_queue_empty_after_successful_calls():
    bio = m2.bio_new(m2.bio_s_mem())
    # reading an empty memory BIO sets no error, and the queue stays empty
    assert m2.bio_read(bio, 5) is None
    m2.bio_free(bio)
    assert m2.err_peek_error() == 0


def test_failing_call_raises_the_area_class():
    with pytest.raises(BIO.BIOError):
        m2.bio_new_file("/nonexistent/dir/file", "rb")
    with pytest.raises(Err.M2SecError):
        m2.obj_txt2obj("no-such-object-name", 0)


def test_area_init_rejects_non_exception_classes():
    with pytest.raises(TypeError):
        m2.bn_init(int)
    with pytest.raises(TypeError):
        m2.bn_init("BNError")
    # the registered class is unchanged
    with pytest.raises(BN.BNError):
        m2.mpi_to_bn(b"\x00\x00\x00\x09\x01")  # length says 9, one byte follows


def test_lib_set_error_class_rejects_unknown_area():
    with pytest.raises(ValueError):
        m2.lib_set_error_class(10_000, Err.M2SecError)
    with pytest.raises(ValueError):
        m2.lib_set_error_class(-1, Err.M2SecError)


def test_threading_functions_exist_and_do_nothing():
    from M2Sec import threading as m2threading

    assert m2threading.init() is None
    assert m2threading.cleanup() is None


# ---- issue 18: the passphrase callback builds its arguments under the GIL ------------------------
PASSPHRASE_UNDER_GIL = r"""
import sys
from M2Sec import SSL, m2
calls = []
def cb(rwflag):
    calls.append(rwflag)
    return b"x"
ctx = SSL.Context()
m2.ssl_ctx_passphrase_callback(ctx.ctx, cb)
keep = [tuple([i]) for i in range(5000)]  # no free 1-tuples left: building one allocates
try:
    m2.ssl_ctx_use_cert_chain(ctx.ctx, sys.argv[1])  # runs without the GIL, calls cb
except SSL.SSLError:
    pass
print(calls)
"""


def test_passphrase_callback_arguments_are_built_holding_the_gil(tmp, openssl):
    """A PEM file loaded with the GIL released calls the passphrase callback; its argument
    tuple must be made after taking the GIL (under PYTHONMALLOC=debug an allocation without it
    aborts the process)."""
    import subprocess
    import sys
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             str(tmp / "k.pem"), "-out", str(tmp / "c.pem"), "-subj", "/CN=x", "-days", "2"])
    lines = (tmp / "c.pem").read_text().strip().split("\n")
    # a certificate PEM marked encrypted: reading it asks the context's passphrase callback
    (tmp / "enc.pem").write_text("\n".join([lines[0], "Proc-Type: 4,ENCRYPTED",
                                            "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF", ""]
                                           + lines[1:]) + "\n")
    env = dict(__import__("os").environ, PYTHONMALLOC="debug")
    proc = subprocess.run([sys.executable, "-c", PASSPHRASE_UNDER_GIL, str(tmp / "enc.pem")], env=env,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-1000:]
    assert proc.stdout.strip() == b"[0]"


def test_ok_results_raise_the_areas_error_with_openssls_reason():
    """A declaration returning m2_ok (an int, 1 on success) or named in M2_RETURNS_NONNULL (a
    pointer) raises the area's exception, with OpenSSL's reason and code, when OpenSSL fails;
    the error queue is empty afterwards (conftest checks it after each test)."""
    from M2Sec import ASN1
    with pytest.raises(ASN1.ASN1Error, match=r"^OBJ_create failed: \S") as e:
        m2.obj_create("not.an.oid", "xx", "yy")             # m2_ok OBJ_create(...)
    assert e.value.openssl_code and m2.err_peek_error() == 0
    with pytest.raises(ASN1.ASN1Error, match=r"^d2i_asn1_object failed: expecting an object") as e:
        m2.d2i_asn1_object(b"\x05\x00")                     # M2_RETURNS_NONNULL(d2i_asn1_object)
    assert e.value.openssl_code
    assert m2.obj_create("1.3.6.1.4.1.99999.20.4", "m2secTypes", "M2Sec types test") > 0   # the NID
    bio = m2.bio_new(m2.bio_s_mem())                        # NONNULL: a BIO, and no error left
    assert m2.bio_free(bio) == 1
