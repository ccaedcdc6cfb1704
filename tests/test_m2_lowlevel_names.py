"""The low-level ``m2`` functions and constants M2Sec took over from M2Crypto 0.51's API
(issue 18), each checked by what it does: against the openssl command line, against
Python's own modules, or against the other half of a round trip."""

import binascii
import hashlib
import io
import os
import re
import time

import pytest

from M2Sec import ASN1, BIO, DH, EC, EVP, RSA, SSL, X509, Err, m2, util


def _pem_pub(pkey):
    bio = m2.bio_new(m2.bio_s_mem())
    m2.pkey_write_pem_pubkey(pkey._ptr(), bio)
    pem = m2.bio_read(bio, 100000)
    m2.bio_free(bio)
    return pem


@pytest.fixture(scope="module")
def rsa_pkey():
    rsa = RSA.gen_key(2048, 65537, lambda *a: None)
    pkey = EVP.PKey()
    pkey.assign_rsa(rsa)
    return pkey


@pytest.fixture(scope="module")
def ec_pkey():
    return EVP.PKey.from_ec(EC.gen_params(EC.NID_X9_62_prime256v1)) if hasattr(EVP.PKey, "from_ec") else _ec_pkey()


def _ec_pkey():
    ec = EC.gen_params(EC.NID_X9_62_prime256v1)
    ec.gen_key()
    pkey = EVP.PKey()
    pkey.assign_ec(ec)
    return pkey


# ---- version constants ----------------------------------------------------------------------
def test_openssl_version_parts_agree_with_the_number_and_the_text(openssl):
    major, minor, patch = m2.OPENSSL_VERSION_MAJOR, m2.OPENSSL_VERSION_MINOR, m2.OPENSSL_VERSION_PATCH
    assert m2.OPENSSL_VERSION_NUMBER >> 28 == major
    assert (m2.OPENSSL_VERSION_NUMBER >> 20) & 0xFF == minor
    assert m2.OPENSSL_VERSION_STR == "%d.%d.%d" % (major, minor, patch)
    assert m2.OPENSSL_FULL_VERSION_STR.startswith(m2.OPENSSL_VERSION_STR)
    assert m2.OPENSSL_VERSION_STR in m2.OPENSSL_VERSION_TEXT
    assert m2.OPENSSL_RELEASE_DATE in m2.OPENSSL_VERSION_TEXT
    assert m2.OPENSSL_SHLIB_VERSION == major
    assert m2.OPENSSL_API_LEVEL >= 30000 and m2.OPENSSL_CONFIGURED_API >= 30000
    assert isinstance(m2.OPENSSL_VERSION_PRE_RELEASE, str) and isinstance(m2.OPENSSL_VERSION_BUILD_METADATA, str)
    assert isinstance(m2.OPENSSL_FILE, str) and isinstance(m2.OPENSSL_LINE, int) and isinstance(m2.OPENSSL_FUNC, str)


# ---- util ---------------------------------------------------------------------------------------
def test_util_hex_round_trip_matches_binascii():
    m2.util_init(util.UtilError)
    data = os.urandom(33)
    text = m2.util_hex_to_string(data)
    assert text == b":".join(binascii.hexlify(bytes([c])).upper() for c in data)
    assert m2.util_string_to_hex(text) == data
    assert m2.util_string_to_hex(binascii.hexlify(data)) == data
    assert m2.util_string_to_hex("01ab") == b"\x01\xab"
    with pytest.raises(util.UtilError):
        m2.util_string_to_hex(b"zz")
    with pytest.raises(ValueError):
        m2.util_string_to_hex(b"01\x00ab")


def test_raise_ossl_error_raises_the_class_with_openssl_reason_and_empties_the_queue():
    with pytest.raises(EVP.EVPError):
        EVP.load_key_string(b"not a key")  # leaves nothing behind: the wrapper emptied it
    with pytest.raises(KeyError, match="my message"):
        m2.raise_ossl_error(KeyError, "my message")
    with pytest.raises(TypeError):
        m2.raise_ossl_error("not a class", "x")
    assert m2.err_peek_error() == 0


# ---- BIO ----------------------------------------------------------------------------------------
def test_bio_pair_carries_bytes_both_ways():
    a, b = m2.bio_new(m2.bio_s_bio()), m2.bio_new(m2.bio_s_bio())
    try:
        assert m2.bio_make_bio_pair(a, b) == 1
        assert m2.bio_write(a, b"ping") == 4
        assert m2.bio_read(b, 10) == b"ping"
        m2.bio_write(b, b"pong")
        assert m2.bio_read(a, 10) == b"pong"
    finally:
        m2.bio_free(a)
        m2.bio_free(b)


def test_bio_pair_of_a_memory_bio_is_an_error():
    a, b = m2.bio_new(m2.bio_s_mem()), m2.bio_new(m2.bio_s_bio())
    try:
        with pytest.raises(BIO.BIOError):
            m2.bio_make_bio_pair(a, b)
    finally:
        m2.bio_free(a)
        m2.bio_free(b)


def test_bio_dup_chain_copies_a_base64_filter_chain():
    b64 = m2.bio_new(m2.bio_f_base64())
    mem = m2.bio_new(m2.bio_s_mem())
    chain = m2.bio_push(b64, mem)
    dup = m2.bio_dup_chain(chain)
    try:
        m2.bio_write(dup, b"hello")
        m2.bio_flush(dup)
        out = m2.bio_pop(dup)  # the duplicated memory BIO holds base64 of what went through
        assert m2.bio_read(out, 100).strip() == b"aGVsbG8="
        assert m2.bio_ctrl_pending(mem) == 0  # the original chain saw nothing
        m2.bio_free(dup)
        m2.bio_free(out)
    finally:
        m2.bio_free_all(chain)


def test_bio_new_pyfile_writes_through_the_file(tmp):
    path = tmp / "out.bin"
    with open(path, "wb") as f:
        f.write(b"head:")
        bio = m2.bio_new_pyfile(f, m2.bio_noclose)
        m2.bio_write(bio, b"from openssl")
        m2.bio_free(bio)
    assert path.read_bytes() == b"head:from openssl"
    with open(path, "rb") as f:
        bio = m2.bio_new_pyfile(f, m2.bio_close)  # owns a duplicate: f stays usable
        assert m2.bio_read(bio, 100) == b"head:from openssl"
        m2.bio_free(bio)
        assert not f.closed
    with pytest.raises(io.UnsupportedOperation):
        m2.bio_new_pyfile(io.BytesIO(), 0)
    assert m2.BIO_FLAGS_MEM_RDONLY == 0x200


def test_pyfd_functions_act_on_a_bio():
    bio = m2.bio_new(m2.bio_s_mem())
    try:
        assert m2.pyfd_init() is None and m2.pyfd_new(bio) == 1
        assert m2.pyfd_write(bio, b"line one\nrest", -1) == 13
        assert m2.pyfd_ctrl(bio, 10, 0) == 13  # BIO_CTRL_PENDING
        assert m2.pyfd_gets(bio, None, 100) == b"line one\n"
        assert m2.pyfd_read(bio, None, 100) == b"rest"
        assert m2.pyfd_puts(bio, "x") == 1
        with pytest.raises(ValueError):
            m2.pyfd_ctrl(bio, 9999, 0)
        assert m2.pyfd_free(bio) == 1
    finally:
        m2.bio_free(bio)
    for cls in (m2.bignum_st, m2.BIO_PYFD_CTX):
        with pytest.raises(AttributeError):
            cls()


def _self_signed(tmp, openssl):
    key, cert = str(tmp / "srv.key"), str(tmp / "srv.pem")
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
             "-out", cert, "-subj", "/CN=localhost", "-days", "2", "-addext", "subjectAltName=DNS:localhost"])
    return key, cert


def test_bio_new_ssl_talks_https_to_openssl_s_server(tmp, openssl):
    import socket
    import subprocess
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "ssl"))
    from ssl_helpers import free_port, wait_port

    key, cert = _self_signed(tmp, openssl)
    port = free_port()
    proc = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert, "-key", key,
                             "-www"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        ctx = SSL.Context()
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.settimeout(None)  # OpenSSL's socket BIO wants a blocking descriptor
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, b"\x0a" + b"\x00" * 15)  # 10 s
        sbio = m2.bio_new_socket(sock.fileno(), m2.bio_noclose)
        ssl_bio = m2.bio_new_ssl(ctx.ctx, 1)
        chain = m2.bio_push(ssl_bio, sbio)
        try:
            req = b"GET / HTTP/1.0\r\n\r\n"
            assert m2.bio_write(chain, req) == len(req)  # the handshake runs on the first write
            reply = b""
            while True:
                part = m2.bio_read(chain, 4096)
                if not part:
                    break
                reply += part
            assert reply.startswith(b"HTTP/1.0 200")
        finally:
            m2.bio_free_all(chain)
            sock.close()
    finally:
        proc.kill()
        proc.communicate(timeout=10)


# ---- ASN.1 ----------------------------------------------------------------------------------------
def test_asn1_object_der_round_trip(openssl):
    oid_content = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1 (rsaEncryption)
    obj = m2.asn1_object_create(0, oid_content, len(oid_content), "mySN", "my long name")
    der = m2.i2d_asn1_object(obj)
    assert der == b"\x06\x09" + oid_content
    back = m2.d2i_asn1_object(der)
    assert m2.obj_obj2txt(back, 1) == b"1.2.840.113549.1.1.1"
    assert m2.obj_obj2nid(back) == m2.obj_txt2nid("rsaEncryption")
    # the command line decodes the same DER
    out = openssl(["asn1parse", "-inform", "DER"], input=der).stdout.decode()
    assert "rsaEncryption" in out
    m2.asn1_object_free(obj)
    m2.asn1_object_free(back)
    with pytest.raises(ASN1.ASN1Error):
        m2.d2i_asn1_object(b"\x04\x01x")  # an OCTET STRING
    with pytest.raises(ValueError):
        m2.asn1_object_create(0, oid_content, 99, "a", "b")


def test_asn1_bit_string_new_is_a_bit_string():
    bs = m2.asn1_bit_string_new()
    assert m2.asn1_string_type(bs) == 3  # V_ASN1_BIT_STRING
    m2.asn1_string_free(bs)


# ---- keys -----------------------------------------------------------------------------------------
def test_type_checks_and_sizes():
    rsa = RSA.gen_key(1024, 65537, lambda *a: None)
    assert m2.rsa_type_check(rsa.rsa) == 1
    dsa = m2.dsa_new()
    assert m2.dsa_type_check(dsa) == 1
    m2.dsa_free(dsa)
    dh = m2.dh_new()
    assert m2.dh_type_check(dh) == 1
    m2.dh_free(dh)
    ec = EC.gen_params(EC.NID_X9_62_prime256v1)
    ec.gen_key()
    # ECDSA_size: the longest DER signature for P-256
    assert m2.ec_key_size(ec.ec) == 72
    with pytest.raises(ValueError):
        m2.dsa_size(None)


def test_dsa_size_is_the_longest_signature():
    from M2Sec import DSA
    dsa = DSA.gen_params(1024, lambda *a: None)
    dsa.gen_key()
    size = m2.dsa_size(dsa.dsa)
    assert all(len(dsa.sign_asn1(hashlib.sha1(b"%d" % i).digest())) <= size for i in range(10))


def test_dh_check_names():
    assert m2.dh_check_ok == 0
    assert {m2.dh_check_p_not_prime, m2.dh_check_p_not_strong, m2.dh_check_g_failed, m2.dh_check_bad_g} == {1, 2, 4, 8}
    dh = DH.set_params(b"\x00\x00\x00\x01\x0f", b"\x00\x00\x00\x01\x02")  # p = 15: not prime
    assert dh.check_params() & m2.dh_check_p_not_prime


def test_ecdsa_sig_r_and_s_match_ecdsa_sign():
    ec = EC.gen_params(EC.NID_X9_62_prime256v1)
    ec.gen_key()
    digest = hashlib.sha256(b"msg").digest()
    der = ec.sign_dsa_asn1(digest)
    sig = m2.ecdsa_sig_from_der(der)
    r, s = m2.ecdsa_sig_get_r(sig), m2.ecdsa_sig_get_s(sig)
    m2.ecdsa_sig_free(sig)
    assert ec.verify_dsa(digest, r, s)
    with pytest.raises(EC.ECError):
        m2.ecdsa_sig_from_der(b"\x30\x00junk")


def test_rsa_set_en_bin_and_bin_as_bignum(openssl):
    ref = RSA.gen_key(1024, 65537, lambda *a: None)
    n = m2.bn_to_bin(m2.bn_from_mpi(ref.n)) if hasattr(m2, "bn_from_mpi") else int.from_bytes(ref.n[4:], "big").to_bytes(128, "big")
    rsa = m2.rsa_new()
    m2.rsa_set_en_bin(rsa, b"\x01\x00\x01", n)
    pub = RSA.RSA_pub(rsa, 1)
    assert pub.e == ref.e and pub.n == ref.n
    sig = ref.sign(hashlib.sha256(b"x").digest(), "sha256")
    assert pub.verify(hashlib.sha256(b"x").digest(), sig, "sha256")
    bn = m2.PyObject_Bin_AsBIGNUM(b"\x01\x00")
    assert m2.bn_to_hex(bn) in (b"0100", "0100")
    m2.bn_free(bn)


def test_rsa_ex_data_keeps_integers():
    rsa = RSA.gen_key(1024, 65537, lambda *a: None)
    with pytest.raises(RSA.RSAError):
        m2.rsa_get_ex_data(rsa.rsa, 0)
    assert m2.rsa_set_ex_data(rsa.rsa, 0, 42) == 1
    assert m2.rsa_set_ex_data(rsa.rsa, 1, -7) == 1
    assert m2.rsa_get_ex_data(rsa.rsa, 0) == 42 and m2.rsa_get_ex_data(rsa.rsa, 1) == -7
    with pytest.raises(OverflowError):
        m2.rsa_set_ex_data(rsa.rsa, 0, 2 ** 62)
    with pytest.raises(ValueError):
        m2.rsa_get_ex_data(rsa.rsa, -1)


def test_pkey_assign_shares_the_key_and_as_der_is_the_spki(openssl, rsa_pkey):
    rsa = RSA.gen_key(1024, 65537, lambda *a: None)
    pkey = m2.pkey_new()
    assert m2.pkey_assign_rsa(pkey, rsa.rsa) == 1
    der = m2.pkey_as_der(pkey)
    assert der == m2.pkey_get1_der_pub(pkey)
    text = openssl(["pkey", "-pubin", "-inform", "DER", "-noout", "-text"], input=der).stdout.decode()
    assert "1024 bit" in text
    rsa.close()  # shared by reference count: pkey still works
    assert m2.pkey_size(pkey) == 128
    m2.pkey_free(pkey)
    ec = EC.gen_params(EC.NID_X9_62_prime256v1)
    ec.gen_key()
    for assign in (lambda p: m2.pkey_assign_ec(p, ec.ec), lambda p: m2.pkey_assign(p, m2.EVP_PKEY_EC, ec.ec)):
        p = m2.pkey_new()
        assert assign(p) == 1
        assert m2.pkey_get_id(p) == m2.EVP_PKEY_EC
        m2.pkey_free(p)
    p = m2.pkey_new()
    with pytest.raises(TypeError):
        m2.pkey_assign(p, m2.EVP_PKEY_RSA, ec.ec)  # an EC key given as RSA
    with pytest.raises(ValueError):
        m2.pkey_assign(p, 12345, ec.ec)
    m2.pkey_free(p)


def test_pkey_get_raw_pub_key_sha1_is_the_subject_key_identifier(tmp, openssl):
    key, cert = _self_signed(tmp, openssl)
    x = X509.load_cert(cert)
    skid = x.get_ext("subjectKeyIdentifier").get_value()
    ident = m2.pkey_get_raw_pub_key_sha1(x.get_pubkey()._ptr())
    assert ident.hex(":").upper() == skid.strip()
    assert x.get_pubkey().get_key_identifier() == ident


# ---- EVP sign/verify on EVP_MD pointers -----------------------------------------------------------
def test_sign_and_verify_with_evp_md_pointers_agree_with_openssl_dgst(tmp, openssl, rsa_pkey):
    data = os.urandom(3000)
    ctx = m2.md_ctx_new()
    assert m2.sign_init(ctx, m2.sha256()) == 1
    assert m2.sign_update(ctx, data[:1000]) is None
    m2.sign_update(ctx, data[1000:])
    sig = m2.sign_final(ctx, rsa_pkey._ptr())
    (tmp / "pub.pem").write_bytes(_pem_pub(rsa_pkey))
    (tmp / "data").write_bytes(data)
    (tmp / "sig").write_bytes(sig)
    out = openssl(["dgst", "-sha256", "-verify", str(tmp / "pub.pem"), "-signature", str(tmp / "sig"), str(tmp / "data")])
    assert b"Verified OK" in out.stdout
    assert m2.verify_init(ctx, m2.sha256()) == 1
    assert m2.verify_update(ctx, data) == 1
    assert m2.verify_final(ctx, sig, rsa_pkey._ptr()) == 1
    m2.verify_init(ctx, m2.sha256())
    m2.verify_update(ctx, data + b"x")
    assert m2.verify_final(ctx, sig, rsa_pkey._ptr()) == 0
    with pytest.raises(ValueError):
        m2.sign_init(ctx, None)
    m2.md_ctx_free(ctx)


@pytest.mark.parametrize("form", ["two", "five"])
def test_digest_sign_and_verify(tmp, openssl, rsa_pkey, form):
    data = b"digest sign me" * 50
    ctx = m2.md_ctx_new()
    if form == "two":
        assert m2.digest_sign_init(ctx, rsa_pkey._ptr()) == 1  # the key's default digest
        m2.digest_sign_update(ctx, data)
        sig = m2.digest_sign_final(ctx)
        assert m2.digest_verify_init(ctx, rsa_pkey._ptr()) == 1
        assert m2.digest_verify_update(ctx, data) == 1
        assert m2.digest_verify_final(ctx, sig) == 1
        m2.digest_verify_init(ctx, rsa_pkey._ptr())
        assert m2.digest_verify_final(ctx, sig[:-1] + bytes([sig[-1] ^ 1])) == 0
    else:
        assert m2.digest_sign_init(ctx, None, m2.sha384(), None, rsa_pkey._ptr()) == 1
        sig = m2.digest_sign(ctx, data)
        assert m2.digest_verify_init(ctx, None, m2.sha384(), None, rsa_pkey._ptr()) == 1
        assert m2.digest_verify(ctx, sig, data) == 1
        m2.digest_verify_init(ctx, None, m2.sha384(), None, rsa_pkey._ptr())
        assert m2.digest_verify(ctx, sig, data + b"!") == 0
        (tmp / "pub.pem").write_bytes(_pem_pub(rsa_pkey))
        (tmp / "data").write_bytes(data)
        (tmp / "sig").write_bytes(sig)
        out = openssl(["dgst", "-sha384", "-verify", str(tmp / "pub.pem"), "-signature", str(tmp / "sig"),
                       str(tmp / "data")])
        assert b"Verified OK" in out.stdout
        with pytest.raises(ValueError):
            m2.digest_sign_init(ctx, None, m2.sha384(), "engine", rsa_pkey._ptr())
    with pytest.raises(TypeError):
        m2.digest_sign_init(ctx, "not a key")
    m2.md_ctx_free(ctx)


def test_pkey_final_is_sign_final(rsa_pkey):
    rsa_pkey.reset_context("sha256")
    rsa_pkey.sign_init()
    rsa_pkey.sign_update(b"abc")
    sig = rsa_pkey.final()
    rsa_pkey.verify_init()
    rsa_pkey.verify_update(b"abc")
    assert rsa_pkey.verify_final(sig) == 1


# ---- X.509 ----------------------------------------------------------------------------------------
def _name(cn):
    name = m2.x509_name_new()
    m2.x509_name_add_entry_by_nid(name, m2.NID_commonName, m2.MBSTRING_ASC, cn, -1, -1, 0)
    return name


def test_certificate_minted_with_m2_calls_verifies_with_openssl(tmp, openssl, ec_pkey):
    x = m2.x509_new()
    m2.x509_set_version(x, 2)
    serial = m2.asn1_integer_new()
    m2.asn1_integer_set(serial, 7)
    m2.x509_set_serial_number(x, serial)
    name = _name(b"m2 minted")
    org = m2.obj_txt2obj("O", 0)
    m2.x509_name_add_entry_by_obj(name, org, m2.MBSTRING_ASC, b"Org", -1, -1, 0)
    m2.x509_set_subject_name(x, name)
    m2.x509_set_issuer_name(x, name)
    m2.x509_gmtime_adj(m2.x509_get_not_before(x), -60)
    assert m2.x509_gmtime_adj(m2.x509_get_not_after(x), 3600) is not None
    m2.x509_set_pubkey(x, ec_pkey._ptr())
    assert m2.x509_sign(x, ec_pkey._ptr(), m2.sha256()) > 0
    assert m2.x509_cmp_current_time(m2.x509_get_not_before(x)) == -1
    assert m2.x509_cmp_current_time(m2.x509_get_not_after(x)) == 1
    path = tmp / "m2.pem"
    with open(path, "w") as f:
        assert m2.x509_write_pem_file(f, x) == 1
    out = openssl(["x509", "-in", str(path), "-noout", "-subject", "-serial"]).stdout.decode()
    assert re.search(r"CN ?= ?m2 minted", out) and re.search(r"O ?= ?Org", out) and "serial=07" in out, out
    openssl(["verify", "-CAfile", str(path), str(path)])
    # trust: a self-signed certificate without trust settings is trusted for compat checks
    assert m2.x509_check_trust(x, m2.X509_TRUST_COMPAT, 0) == m2.X509_TRUST_TRUSTED
    bio = m2.bio_new(m2.bio_s_mem())
    m2.x509_name_print(bio, name, 0)
    assert m2.bio_read(bio, 200) == b"CN=m2 minted, O=Org"
    m2.bio_free(bio)
    m2.asn1_integer_free(serial)
    m2.asn1_object_free(org)
    m2.x509_name_free(name)
    m2.x509_free(x)


def test_request_signed_with_x509_req_sign_verifies_with_openssl(tmp, openssl, rsa_pkey):
    req = m2.x509_req_new()
    name = _name(b"req cn")
    m2.x509_req_set_subject_name(req, name)
    m2.x509_req_set_pubkey(req, rsa_pkey._ptr())
    assert m2.x509_req_sign(req, rsa_pkey._ptr(), m2.sha256()) > 0
    bio = m2.bio_new(m2.bio_s_mem())
    m2.x509_req_write_pem(bio, req)
    pem = m2.bio_read(bio, 10000)
    m2.bio_free(bio)
    out = openssl(["req", "-verify", "-noout", "-subject"], input=pem)
    assert b"req cn" in out.stdout and b"verify OK" in (out.stdout + out.stderr)
    m2.x509_name_free(name)
    m2.x509_req_free(req)


def test_name_entries_by_nid_delete_and_hash_old(openssl):
    name = _name(b"first")
    m2.x509_name_add_entry_by_nid(name, m2.NID_organizationName, m2.MBSTRING_ASC, b"Org", -1, -1, 0)
    assert m2.x509_name_entry_count(name) == 2
    entry = m2.x509_name_delete_entry(name, 0)
    assert m2.x509_name_entry_count(name) == 1
    assert m2.asn1_string_as_bytes(m2.x509_name_entry_get_data(entry)) == b"first"
    m2.x509_name_entry_free(entry)
    with pytest.raises(IndexError):
        m2.x509_name_delete_entry(name, 5)
    ne = m2.x509_name_entry_create_by_nid(None, m2.NID_commonName, m2.MBSTRING_ASC, b"second", -1)
    m2.x509_name_add_entry(name, ne, -1, 0)
    m2.x509_name_entry_free(ne)
    fresh = m2.x509_name_entry_new()
    filled = m2.x509_name_entry_create_by_nid(fresh, m2.NID_localityName, m2.MBSTRING_ASC, b"Town", -1)
    assert m2.asn1_string_as_bytes(m2.x509_name_entry_get_data(filled)) == b"Town"
    m2.x509_name_entry_free(fresh)
    with pytest.raises(X509.X509Error):
        m2.x509_name_entry_create_by_nid(None, 999999, m2.MBSTRING_ASC, b"x", -1)
    # the old (MD5-based) hash is what `openssl x509 -subject_hash_old` prints
    x = m2.x509_new()
    m2.x509_set_subject_name(x, name)
    m2.x509_set_issuer_name(x, name)
    key = _ec_pkey()
    m2.x509_gmtime_adj(m2.x509_get_not_before(x), 0)
    m2.x509_gmtime_adj(m2.x509_get_not_after(x), 60)
    m2.x509_set_pubkey(x, key._ptr())
    m2.x509_sign(x, key._ptr(), m2.sha256())
    bio = m2.bio_new(m2.bio_s_mem())
    m2.x509_write_pem(bio, x)
    pem = m2.bio_read(bio, 10000)
    m2.bio_free(bio)
    out = openssl(["x509", "-noout", "-subject_hash_old"], input=pem).stdout.decode().strip()
    assert "%08x" % m2.x509_name_hash_old(name) == out
    m2.x509_free(x)
    m2.x509_name_free(name)


def test_crl_set_issuer(openssl, ec_pkey):
    crl = m2.x509_crl_new()
    name = _name(b"crl issuer")
    assert m2.x509_crl_set_issuer(crl, name) == 1
    assert m2.x509_name_oneline(m2.x509_crl_get_issuer(crl)) == "/CN=crl issuer"
    m2.x509_name_free(name)
    m2.x509_crl_free(crl)


def test_store_ctx_app_data_is_none_outside_ssl():
    store = m2.x509_store_new()
    ctx = m2.x509_store_ctx_new()
    x = m2.x509_new()
    m2.x509_store_ctx_init(ctx, store, x, None)
    assert m2.x509_store_ctx_get_app_data(ctx) is None
    m2.x509_store_ctx_free(ctx)
    m2.x509_store_free(store)
    m2.x509_free(x)


def test_x509_constants_have_openssl_values():
    assert (m2.X509_TRUST_TRUSTED, m2.X509_TRUST_REJECTED, m2.X509_TRUST_UNTRUSTED) == (1, 2, 3)
    assert m2.X509_TRUST_COMPAT == 1 and m2.X509_TRUST_SSL_SERVER == 3 and m2.X509_TRUST_DEFAULT == 0
    assert m2.X509_VP_FLAG_DEFAULT == 1 and m2.X509_VP_FLAG_ONCE == 0x10
    assert m2.X509_V_FLAG_POLICY_MASK == (m2.X509_V_FLAG_POLICY_CHECK | m2.X509_V_FLAG_EXPLICIT_POLICY
                                          | m2.X509_V_FLAG_INHIBIT_ANY | m2.X509_V_FLAG_INHIBIT_MAP)
    assert m2.X509_V_FLAG_SUITEB_128_LOS == m2.X509_V_FLAG_SUITEB_128_LOS_ONLY | m2.X509_V_FLAG_SUITEB_192_LOS


# ---- providers, engines, rand -------------------------------------------------------------------
def test_provider_generates_keys_in_its_context(openssl):
    from M2Sec import Provider
    with Provider.Provider("default") as prov:
        ec = prov.generate_ec_key_pair("secp384r1")
        assert ec.size() == 104  # the longest DER ECDSA-P384 signature
        rsa = prov.generate_rsa_key_pair(1024, 3)
        assert rsa.get_rsa().e == b"\x00\x00\x00\x01\x03"
        with pytest.raises(Provider.ProviderError):
            prov.generate_ec_key_pair("no-such-curve")
        with pytest.raises(Provider.ProviderError):
            prov.generate_rsa_key_pair(256)
        with pytest.raises(NotImplementedError):
            prov.destroy_key("pkcs11:object=x")
        with pytest.raises(Provider.ProviderError):
            prov.destroy_key(b"bytes")
    # the keys outlive the with block: they hold the provider, whose context stays until they go
    assert prov._ctx is not None
    with pytest.raises(Provider.ProviderError):
        prov.generate_ec_key_pair()
    rsa.reset_context("sha256")
    rsa.sign_init()
    rsa.sign_update(b"x")
    assert len(rsa.sign_final()) == 128
    del ec, rsa
    import gc
    gc.collect()
    assert prov._ctx is None
    assert m2.provider_exc() is Provider.ProviderError
    with pytest.raises(ValueError):
        m2.provider_generate_rsa_key_pair(2048, 4, None, None)


def test_engine_pin_data_and_ui():
    if not m2.HAS_ENGINE:
        pytest.fail("this OpenSSL has no ENGINE support")
    cbd = m2.engine_pkcs11_data_new("1234")
    m2.engine_pkcs11_data_free(cbd)
    m2.engine_pkcs11_data_free(m2.engine_pkcs11_data_new(None))
    assert m2.ui_openssl() is not None


def test_rand_cleanup_leaves_the_generator_working():
    m2.rand_cleanup()
    assert len(m2.rand_bytes(16)) == 16
