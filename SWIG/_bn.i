/* _bn.i: big numbers (BIGNUM), converted to and from Python ints and strings. */
%{
#include <openssl/bn.h>
%}
M2_OK_AREA(M2_BN)

M2_NONNULL(BIGNUM *)
M2_NONNULL(const BIGNUM *)
M2_AREA_INIT(bn_init, M2_BN)

%rename(bn_new) BN_new;
BIGNUM *BN_new(void);
%rename(bn_free) BN_free;
void BN_free(BIGNUM *a);
%rename(bn_clear_free) BN_clear_free;
void BN_clear_free(BIGNUM *a);
%rename(bn_num_bits) BN_num_bits;
int BN_num_bits(const BIGNUM *a);
%rename(bn_num_bytes) BN_num_bytes;
int BN_num_bytes(const BIGNUM *a);
%rename(bn_cmp) BN_cmp;
int BN_cmp(const BIGNUM *a, const BIGNUM *b);
%rename(bn_is_zero) BN_is_zero;
int BN_is_zero(const BIGNUM *a);
%rename(bn_is_odd) BN_is_odd;
int BN_is_odd(const BIGNUM *a);

%{
/* A new BIGNUM from a Python int (non-negative or negative); NULL with an exception set. */
static BIGNUM *m2_pylong_to_bn(PyObject *v) {
    BIGNUM *bn = NULL;
    PyObject *hex = NULL;
    const char *s;
    if (!PyLong_Check(v)) { PyErr_SetString(PyExc_TypeError, "an int is required"); return NULL; }
    hex = PyNumber_ToBase(v, 16);        /* "0x..." or "-0x..." */
    if (!hex) return NULL;
    s = PyUnicode_AsUTF8(hex);
    if (!s) goto err;
    {
        int neg = (s[0] == '-');
        if (!BN_hex2bn(&bn, s + (neg ? 3 : 2))) { m2_raise_msg(M2_BN, "BN_hex2bn failed"); goto err; }
        if (neg) BN_set_negative(bn, 1);
    }
    Py_DECREF(hex);
    return bn;
err:
    Py_XDECREF(hex);
    BN_free(bn);
    return NULL;
}

/* A Python int from a BIGNUM. */
static PyObject *m2_bn_to_pylong(const BIGNUM *bn) {
    char *hex = BN_bn2hex(bn);
    PyObject *v;
    if (!hex) return m2_raise_msg(M2_BN, "BN_bn2hex failed");
    v = PyLong_FromString(hex, NULL, 16);
    OPENSSL_free(hex);
    return v;
}

/* A NUL-terminated copy of a buffer (BN_hex2bn and BN_dec2bn read up to the NUL). */
static char *m2_buffer_cstr(PyObject *obj) {
    Py_buffer view;
    char *s;
    if (m2_get_buffer(obj, &view, INT_MAX - 1) < 0) return NULL;
    s = PyMem_Malloc(view.len + 1);
    if (!s) { PyBuffer_Release(&view); PyErr_NoMemory(); return NULL; }
    memcpy(s, view.buf, view.len);
    s[view.len] = '\0';
    if (strlen(s) != (size_t)view.len) {
        PyMem_Free(s);
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "embedded NUL byte");
        return NULL;
    }
    PyBuffer_Release(&view);
    return s;
}

typedef int (*m2_bn_parse)(BIGNUM **, const char *);
static BIGNUM *m2_parse_bn(PyObject *obj, m2_bn_parse parse, const char *what) {
    BIGNUM *bn = NULL;
    char *s = m2_buffer_cstr(obj);
    int n;
    if (!s) return NULL;
    n = parse(&bn, s);
    if (n <= 0 || (size_t)n != strlen(s)) {
        BN_free(bn);
        bn = NULL;
        PyErr_Format(PyExc_ValueError, "not a %s number", what);
    }
    PyMem_Free(s);
    return bn;
}
%}

M2_RETURNS_NONNULL(bin_to_bn)
M2_RETURNS_NONNULL(mpi_to_bn)
%inline %{
static PyObject *bn_to_hex(const BIGNUM *bn) {
    char *hex = BN_bn2hex(bn);
    PyObject *v;
    if (!hex) return m2_raise_msg(M2_BN, "BN_bn2hex failed");
    v = PyBytes_FromString(hex);
    OPENSSL_free(hex);
    return v;
}

static PyObject *bn_to_dec(const BIGNUM *bn) {
    char *dec = BN_bn2dec(bn);
    PyObject *v;
    if (!dec) return m2_raise_msg(M2_BN, "BN_bn2dec failed");
    v = PyBytes_FromString(dec);
    OPENSSL_free(dec);
    return v;
}

static BIGNUM *hex_to_bn(PyObject *s) { return m2_parse_bn(s, BN_hex2bn, "hexadecimal"); }
static BIGNUM *dec_to_bn(PyObject *s) { return m2_parse_bn(s, BN_dec2bn, "decimal"); }

/* The magnitude of bn, big-endian. */
static PyObject *bn_to_bin(const BIGNUM *bn) {
    int n = BN_num_bytes(bn);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) return NULL;
    BN_bn2bin(bn, (unsigned char *)PyBytes_AS_STRING(out));
    return out;
}

static BIGNUM *bin_to_bn(const void *buf, Py_ssize_t len) {
    return BN_bin2bn(buf, (int)len, NULL);
}

/* OpenSSL's MPI format: a 4-byte big-endian length, then the number. */
static PyObject *bn_to_mpi(const BIGNUM *bn) {
    int n = BN_bn2mpi(bn, NULL);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) return NULL;
    BN_bn2mpi(bn, (unsigned char *)PyBytes_AS_STRING(out));
    return out;
}

static BIGNUM *mpi_to_bn(const void *buf, Py_ssize_t len) {
    return BN_mpi2bn(buf, (int)len, NULL);
}

static PyObject *bn_to_int(const BIGNUM *bn) { return m2_bn_to_pylong(bn); }
static BIGNUM *int_to_bn(PyObject *v) { return m2_pylong_to_bn(v); }

/* A random int of bits bits; top -1/0/1 and bottom 0/1 as BN_rand. */
static PyObject *bn_rand(int bits, int top, int bottom) {
    BIGNUM *bn;
    PyObject *v;
    if (bits < 0 || (bits == 0 && (top != -1 || bottom))) { PyErr_SetString(PyExc_ValueError, "invalid bit count"); return NULL; }
    if (top < -1 || top > 1 || bottom < 0 || bottom > 1) { PyErr_SetString(PyExc_ValueError, "top must be -1, 0 or 1; bottom 0 or 1"); return NULL; }
    if (bits == 1 && top > 0) { PyErr_SetString(PyExc_ValueError, "top=1 needs at least 2 bits"); return NULL; }
    bn = BN_new();
    if (!bn) return m2_raise(M2_BN);
    if (!BN_rand(bn, bits, top, bottom)) { BN_free(bn); return m2_raise_msg(M2_BN, "BN_rand failed"); }
    v = m2_bn_to_pylong(bn);
    BN_free(bn);
    return v;
}

/* A random int r with 0 <= r < range. */
static PyObject *bn_rand_range(PyObject *range) {
    BIGNUM *rng = m2_pylong_to_bn(range), *r = NULL;
    PyObject *v = NULL;
    if (!rng) return NULL;
    if (BN_is_negative(rng) || BN_is_zero(rng)) { PyErr_SetString(PyExc_ValueError, "range must be positive"); goto err; }
    if (!(r = BN_new())) { m2_raise(M2_BN); goto err; }
    if (!BN_rand_range(r, rng)) { m2_raise_msg(M2_BN, "BN_rand_range failed"); goto err; }
    v = m2_bn_to_pylong(r);
err:
    BN_free(rng);
    BN_free(r);
    return v;
}
%}
