/* _rsa.i: RSA keys through the RSA* API M2Crypto's RSA module names (deprecated in OpenSSL 3,
 * kept here once), and the key-generation progress callback shared by _dsa.i and _dh.i. */
M2_DEPRECATED_FILE_BEGIN  /* M2Crypto names OpenSSL's deprecated API here (see _lib.i) */
%{
#include <openssl/rsa.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

/* BN_GENCB progress callback: calls the Python callable with (p, n).  A callback that
 * raises is not called again and its exception is dropped: progress reports never fail
 * a key generation (M2Crypto's behaviour). */
struct m2_gencb { PyObject *func; int broken; };

static int m2_gencb_call(int p, int n, BN_GENCB *cb) {
    struct m2_gencb *g = BN_GENCB_get_arg(cb);
    PyObject *ret;
    PyGILState_STATE gil;
    if (!g || !g->func || g->func == Py_None || g->broken) return 1;
    gil = PyGILState_Ensure();
    ret = PyObject_CallFunction(g->func, "ii", p, n);
    if (!ret) { g->broken = 1; PyErr_Clear(); }
    Py_XDECREF(ret);
    PyGILState_Release(gil);
    return 1;
}

/* An MPI (4-byte big-endian length, then the magnitude) as a new BIGNUM, or NULL with
 * the area's exception set. */
static BIGNUM *m2_mpi_to_bn(const void *buf, Py_ssize_t len, int area) {
    BIGNUM *bn = NULL;
    if (len >= 4 && len <= INT_MAX) {
        const unsigned char *p = buf;
        unsigned long n = ((unsigned long)p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
        if (n == (unsigned long)(len - 4)) bn = BN_mpi2bn(buf, (int)len, NULL);
    }
    if (!bn) m2_raise_msg(area, "not an MPI-encoded number");
    return bn;
}

static PyObject *m2_bn_to_mpi(const BIGNUM *bn) {
    int n;
    PyObject *out;
    if (!bn) return PyBytes_FromStringAndSize("\0\0\0\0", 4);
    n = BN_bn2mpi(bn, NULL);
    if (!(out = PyBytes_FromStringAndSize(NULL, n))) return NULL;
    BN_bn2mpi(bn, (unsigned char *)PyBytes_AS_STRING(out));
    return out;
}
%}
M2_OK_AREA(M2_RSA)

M2_NONNULL(RSA *)
M2_NONNULL(const EVP_MD *)
M2_AREA_INIT(rsa_init, M2_RSA)
%apply (const void *buf, Py_ssize_t len) { (const void *data, Py_ssize_t datalen) };
%apply (const void *buf, Py_ssize_t len) { (const void *sig, Py_ssize_t siglen) };
%apply (const void *buf, Py_ssize_t len) { (const void *e, Py_ssize_t elen) };
%apply (const void *buf, Py_ssize_t len) { (const void *n, Py_ssize_t nlen) };

%constant int no_padding = RSA_NO_PADDING;
%constant int pkcs1_padding = RSA_PKCS1_PADDING;
%constant int pkcs1_oaep_padding = RSA_PKCS1_OAEP_PADDING;
%constant int x931_padding = RSA_X931_PADDING;
%constant int pkcs1_pss_padding = RSA_PKCS1_PSS_PADDING;
%constant long RSA_3 = RSA_3;
%constant long RSA_F4 = RSA_F4;
%constant int NID_md5 = NID_md5;
%constant int NID_sha1 = NID_sha1;
%constant int NID_sha224 = NID_sha224;
%constant int NID_sha256 = NID_sha256;
%constant int NID_sha384 = NID_sha384;
%constant int NID_sha512 = NID_sha512;
%constant int NID_sha512_224 = NID_sha512_224;
%constant int NID_sha512_256 = NID_sha512_256;
%constant int NID_sha3_224 = NID_sha3_224;
%constant int NID_sha3_256 = NID_sha3_256;
%constant int NID_sha3_384 = NID_sha3_384;
%constant int NID_sha3_512 = NID_sha3_512;
%constant int NID_ripemd160 = NID_ripemd160;
%constant int NID_md5_sha1 = NID_md5_sha1;

%rename(rsa_size) RSA_size;
int RSA_size(const RSA *rsa);
M2_FREE(rsa_free, RSA_free, RSA, rsa)

M2_RETURNS_NONNULL(RSA_new)
M2_RETURNS_NONNULL(rsa_read_pub_key)
%rename(rsa_new) RSA_new;
RSA *RSA_new(void);
M2_RETURNS_NONNULL(rsa_read_key)
%inline %{
/* RSA_generate_key_ex with a progress callback(p, n) (or None). */
static RSA *rsa_generate_key(int bits, unsigned long e, PyObject *pyfunc) {
    RSA *rsa = NULL;
    BIGNUM *bn = NULL;
    BN_GENCB *cb = NULL;
    struct m2_gencb g = { pyfunc, 0 };
    int ok = 0;
    if (bits < 512 || bits > 16384) { PyErr_SetString(PyExc_ValueError, "RSA key size must be 512..16384 bits"); return NULL; }
    if (!(e & 1) || e < 3) { PyErr_SetString(PyExc_ValueError, "the public exponent must be odd and at least 3"); return NULL; }
    if (!(rsa = RSA_new()) || !(bn = BN_new()) || !(cb = BN_GENCB_new()) || !BN_set_word(bn, e)) { m2_raise(M2_RSA); goto err; }
    BN_GENCB_set(cb, m2_gencb_call, &g);
    M2_ALLOW
    ok = RSA_generate_key_ex(rsa, bits, bn, cb);
    M2_DISALLOW
    if (!ok) m2_raise_msg(M2_RSA, "RSA key generation failed");
err:
    BN_free(bn);
    BN_GENCB_free(cb);
    if (!ok) { RSA_free(rsa); rsa = NULL; }
    return rsa;
}

static PyObject *rsa_get_e(RSA *rsa) { return m2_bn_to_mpi(RSA_get0_e(rsa)); }
static PyObject *rsa_get_n(RSA *rsa) { return m2_bn_to_mpi(RSA_get0_n(rsa)); }

/* Set n and/or e from MPIs; a missing half becomes 0 so that the key stays settable. */
static PyObject *m2_rsa_set(RSA *rsa, const void *e, Py_ssize_t elen, const void *n, Py_ssize_t nlen) {
    BIGNUM *be = NULL, *bn = NULL;
    if (e && !(be = m2_mpi_to_bn(e, elen, M2_RSA))) goto err;
    if (n && !(bn = m2_mpi_to_bn(n, nlen, M2_RSA))) goto err;
    if (!be) be = RSA_get0_e(rsa) ? BN_dup(RSA_get0_e(rsa)) : BN_new();
    if (!bn) bn = RSA_get0_n(rsa) ? BN_dup(RSA_get0_n(rsa)) : BN_new();
    if (!be || !bn || !RSA_set0_key(rsa, bn, be, NULL)) { m2_raise_msg(M2_RSA, "RSA_set0_key failed"); goto err; }
    Py_RETURN_NONE;
err:
    BN_free(be);
    BN_free(bn);
    return NULL;
}
static PyObject *rsa_set_en(RSA *rsa, const void *e, Py_ssize_t elen, const void *n, Py_ssize_t nlen) {
    return m2_rsa_set(rsa, e, elen, n, nlen);
}
static PyObject *rsa_set_e(RSA *rsa, const void *e, Py_ssize_t elen) { return m2_rsa_set(rsa, e, elen, NULL, 0); }
static PyObject *rsa_set_n(RSA *rsa, const void *n, Py_ssize_t nlen) { return m2_rsa_set(rsa, NULL, 0, n, nlen); }

/* RSA_check_key for private keys; 1 good, 0 bad (never raises). */
static int rsa_check_key(RSA *rsa) {
    int r;
    if (!RSA_get0_d(rsa)) return 0;
    M2_ALLOW_USING(rsa)
    r = RSA_check_key(rsa);
    M2_DISALLOW_USING
    return r == 1;
}
/* A public key is usable when n and e are set and non-zero. */
static int rsa_check_pub_key(RSA *rsa) {
    const BIGNUM *n = RSA_get0_n(rsa), *e = RSA_get0_e(rsa);
    return n && e && !BN_is_zero(n) && !BN_is_zero(e);
}
static int rsa_has_private(RSA *rsa) { return RSA_get0_d(rsa) != NULL; }

/* PEM I/O: traditional RSAPrivateKey, optionally encrypted; SubjectPublicKeyInfo for public keys. */
static RSA *rsa_read_key(BIO *bio, PyObject *pyfunc) {
    return PEM_read_bio_RSAPrivateKey(bio, NULL, m2_passphrase_cb, pyfunc);
}
static RSA *rsa_read_pub_key(BIO *bio) {
    return PEM_read_bio_RSA_PUBKEY(bio, NULL, m2_passphrase_cb, NULL);
}
static m2_ok rsa_write_key(RSA *rsa, BIO *bio, const EVP_CIPHER *cipher, PyObject *pyfunc) {
    return PEM_write_bio_RSAPrivateKey(bio, rsa, cipher, NULL, 0, m2_passphrase_cb, pyfunc);
}
static m2_ok rsa_write_key_no_cipher(RSA *rsa, BIO *bio, PyObject *pyfunc) {
    return PEM_write_bio_RSAPrivateKey(bio, rsa, NULL, NULL, 0, NULL, NULL);
}
static m2_ok rsa_write_pub_key(RSA *rsa, BIO *bio) {
    return PEM_write_bio_RSA_PUBKEY(bio, rsa);
}
static m2_ok rsa_write_key_der(RSA *rsa, BIO *bio) {
    return i2d_RSAPrivateKey_bio(bio, rsa);
}

/* RSA_public_encrypt and friends, with any padding OpenSSL accepts for the operation. */
typedef int (*m2_rsa_op)(int, const unsigned char *, unsigned char *, RSA *, int);
static PyObject *m2_rsa_crypt(m2_rsa_op op, RSA *rsa, const void *data, Py_ssize_t datalen, int padding, int need_private) {
    int size = RSA_size(rsa), n;
    PyObject *out;
    if (size <= 0 || !RSA_get0_n(rsa) || BN_is_zero(RSA_get0_n(rsa))) return m2_raise_msg(M2_RSA, "the RSA key is not set");
    if (need_private && !RSA_get0_d(rsa)) return m2_raise_msg(M2_RSA, "the RSA key has no private half");
    if (datalen > size) return m2_raise_msg(M2_RSA, "data too large for the modulus");
    if (!(out = PyBytes_FromStringAndSize(NULL, size))) return NULL;
    M2_ALLOW_USING(rsa)
    n = op((int)datalen, data, (unsigned char *)PyBytes_AS_STRING(out), rsa, padding);
    M2_DISALLOW_USING
    if (n < 0) { Py_DECREF(out); return m2_raise(M2_RSA); }
    if (_PyBytes_Resize(&out, n) < 0) return NULL;
    return out;
}
static PyObject *rsa_public_encrypt(RSA *rsa, const void *data, Py_ssize_t datalen, int padding) {
    return m2_rsa_crypt(RSA_public_encrypt, rsa, data, datalen, padding, 0);
}
static PyObject *rsa_public_decrypt(RSA *rsa, const void *data, Py_ssize_t datalen, int padding) {
    return m2_rsa_crypt(RSA_public_decrypt, rsa, data, datalen, padding, 0);
}
static PyObject *rsa_private_encrypt(RSA *rsa, const void *data, Py_ssize_t datalen, int padding) {
    return m2_rsa_crypt(RSA_private_encrypt, rsa, data, datalen, padding, 1);
}
static PyObject *rsa_private_decrypt(RSA *rsa, const void *data, Py_ssize_t datalen, int padding) {
    return m2_rsa_crypt(RSA_private_decrypt, rsa, data, datalen, padding, 1);
}

/* RSA_sign (PKCS #1 v1.5 over a digest made with the NID's hash). */
static PyObject *rsa_sign(RSA *rsa, const void *data, Py_ssize_t datalen, int method_type) {
    unsigned int len = 0;
    int ok;
    PyObject *out;
    if (!RSA_get0_d(rsa)) return m2_raise_msg(M2_RSA, "the RSA key has no private half");
    if (!(out = PyBytes_FromStringAndSize(NULL, RSA_size(rsa)))) return NULL;
    M2_ALLOW_USING(rsa)
    ok = RSA_sign(method_type, data, (unsigned int)datalen, (unsigned char *)PyBytes_AS_STRING(out), &len, rsa);
    M2_DISALLOW_USING
    if (!ok) { Py_DECREF(out); return m2_raise_msg(M2_RSA, "RSA_sign failed"); }
    if (_PyBytes_Resize(&out, len) < 0) return NULL;
    return out;
}
/* RSA_verify: 1, or RSAError for a bad signature (M2Crypto's behaviour). */
static int rsa_verify(RSA *rsa, const void *data, Py_ssize_t datalen, const void *sig, Py_ssize_t siglen, int method_type) {
    int ok;
    M2_ALLOW_USING(rsa)
    ok = RSA_verify(method_type, data, (unsigned int)datalen, sig, (unsigned int)siglen, rsa);
    M2_DISALLOW_USING
    if (ok != 1) { m2_raise_msg(M2_RSA, "signature verification failed"); return -1; }
    return 1;
}

/* RSASSA-PSS encoding (RFC 8017 9.1) of a digest, to be raised with private_encrypt(no_padding). */
static PyObject *rsa_padding_add_pkcs1_pss(RSA *rsa, const void *data, Py_ssize_t datalen, const EVP_MD *hash, int salt_length) {
    PyObject *out;
    if (datalen != EVP_MD_get_size(hash)) return m2_raise_msg(M2_RSA, "the digest length does not match the hash");
    if (!(out = PyBytes_FromStringAndSize(NULL, RSA_size(rsa)))) return NULL;
    if (!RSA_padding_add_PKCS1_PSS(rsa, (unsigned char *)PyBytes_AS_STRING(out), data, hash, salt_length)) {
        Py_DECREF(out);
        return m2_raise_msg(M2_RSA, "RSA_padding_add_PKCS1_PSS failed");
    }
    return out;
}
static int rsa_verify_pkcs1_pss(RSA *rsa, const void *data, Py_ssize_t datalen, const void *sig, Py_ssize_t siglen,
                                const EVP_MD *hash, int salt_length) {
    if (siglen != RSA_size(rsa) || datalen != EVP_MD_get_size(hash)) return 0;
    return RSA_verify_PKCS1_PSS(rsa, data, hash, sig, salt_length) == 1;
}
%}

/* ---- M2Crypto 0.51 names (issue 18) ---- */
%apply (const void *buf, Py_ssize_t len) { (const void *e, Py_ssize_t elen) };
%apply (const void *buf, Py_ssize_t len) { (const void *n, Py_ssize_t nlen) };
M2_RETURNS_NONNULL(PyObject_Bin_AsBIGNUM)
%inline %{
static int rsa_type_check(RSA *rsa) { (void)rsa; return 1; }

/* A new BIGNUM from big-endian magnitude bytes (BN_bin2bn); the caller frees it (bn_free). */
static BIGNUM *PyObject_Bin_AsBIGNUM(const void *buf, Py_ssize_t len) {
    return BN_bin2bn(buf, (int)len, NULL);
}

/* Set the public key from big-endian e and n (M2Crypto's rsa_set_en takes MPIs). */
static PyObject *rsa_set_en_bin(RSA *rsa, const void *e, Py_ssize_t elen, const void *n, Py_ssize_t nlen) {
    BIGNUM *be = BN_bin2bn(e, (int)elen, NULL), *bn = BN_bin2bn(n, (int)nlen, NULL);
    if (!be || !bn || !RSA_set0_key(rsa, bn, be, NULL)) {
        BN_free(be);
        BN_free(bn);
        return m2_raise_msg(M2_RSA, "cannot set the RSA key's e and n");
    }
    Py_RETURN_NONE;
}

/* M2Crypto's integer ex_data slots.  The value is kept in the slot's pointer itself (shifted,
 * with the low bit set so that it is never NULL): nothing to allocate, nothing to leak. */
static m2_ok rsa_set_ex_data(RSA *rsa, int index, long data) {
    if (index < 0) { PyErr_SetString(PyExc_ValueError, "negative ex_data index"); return 0; }
    if (data > (LONG_MAX >> 1) || data < (LONG_MIN >> 1)) {
        PyErr_SetString(PyExc_OverflowError, "ex_data value too large");
        return 0;
    }
    return RSA_set_ex_data(rsa, index, (void *)(((uintptr_t)data << 1) | 1));
}
static PyObject *rsa_get_ex_data(RSA *rsa, int index) {
    uintptr_t v;
    if (index < 0) { PyErr_SetString(PyExc_ValueError, "negative ex_data index"); return NULL; }
    v = (uintptr_t)RSA_get_ex_data(rsa, index);
    if (!(v & 1)) return m2_raise_msg(M2_RSA, "no ex_data set at that index");
    return PyLong_FromLong((long)((intptr_t)v >> 1));
}
%}
M2_DEPRECATED_FILE_END
