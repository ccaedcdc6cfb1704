/* _dh.i: Diffie-Hellman through the DH* API M2Crypto's DH module names (deprecated in
 * OpenSSL 3), and the RFC 7919 ffdhe groups. */
M2_DEPRECATED_FILE_BEGIN  /* M2Crypto names OpenSSL's deprecated API here (see _lib.i) */
%{
#include <openssl/dh.h>
%}
M2_OK_AREA(M2_DH)

M2_NONNULL(DH *)
M2_AREA_INIT(dh_init, M2_DH)

%constant int DH_GENERATOR_2 = DH_GENERATOR_2;
%constant int DH_GENERATOR_5 = DH_GENERATOR_5;
%constant int DH_CHECK_P_NOT_PRIME = DH_CHECK_P_NOT_PRIME;
%constant int DH_CHECK_P_NOT_SAFE_PRIME = DH_CHECK_P_NOT_SAFE_PRIME;
%constant int DH_UNABLE_TO_CHECK_GENERATOR = DH_UNABLE_TO_CHECK_GENERATOR;
%constant int DH_NOT_SUITABLE_GENERATOR = DH_NOT_SUITABLE_GENERATOR;
%constant int NID_ffdhe2048 = NID_ffdhe2048;
%constant int NID_ffdhe3072 = NID_ffdhe3072;
%constant int NID_ffdhe4096 = NID_ffdhe4096;
%constant int NID_ffdhe6144 = NID_ffdhe6144;
%constant int NID_ffdhe8192 = NID_ffdhe8192;

M2_FREE(dh_free, DH_free, DH, dh)
%rename(dh_size) DH_size;
int DH_size(const DH *dh);

M2_RETURNS_NONNULL(DH_new)
M2_RETURNS_NONNULL(DH_new_by_nid)
M2_RETURNS_NONNULL(dh_read_parameters)
%rename(dh_new) DH_new;
DH *DH_new(void);
/* The RFC 7919 group with this NID (NID_ffdhe2048 ... NID_ffdhe8192). */
%rename(dh_new_by_nid) DH_new_by_nid;
DH *DH_new_by_nid(int nid);
%rename(dhparams_print) DHparams_print;
m2_ok DHparams_print(BIO *bio, DH *dh);
%inline %{
/* DH_generate_parameters_ex with a progress callback(p, n) (or None). */
static DH *dh_generate_parameters(int plen, int g, PyObject *pyfunc) {
    DH *dh = NULL;
    BN_GENCB *cb = NULL;
    struct m2_gencb gc = { pyfunc, 0 };
    int ok = 0;
    if (plen < 512 || plen > 10000) { PyErr_SetString(PyExc_ValueError, "DH prime size must be 512..10000 bits"); return NULL; }
    if (g < 2) { PyErr_SetString(PyExc_ValueError, "the generator must be at least 2"); return NULL; }
    if (!(dh = DH_new()) || !(cb = BN_GENCB_new())) { m2_raise(M2_DH); goto err; }
    BN_GENCB_set(cb, m2_gencb_call, &gc);
    M2_ALLOW
    ok = DH_generate_parameters_ex(dh, plen, g, cb);
    M2_DISALLOW
    if (!ok) m2_raise_msg(M2_DH, "DH parameter generation failed");
err:
    BN_GENCB_free(cb);
    if (!ok) { DH_free(dh); dh = NULL; }
    return dh;
}

/* DH_check: 0 when the parameters are good, else the DH_CHECK_* / DH_NOT_* flags. */
static int dh_check(DH *dh) {
    int codes = 0, ok;
    if (!DH_get0_p(dh)) return DH_CHECK_P_NOT_PRIME;
    M2_ALLOW_USING(dh)
    ok = DH_check(dh, &codes);
    M2_DISALLOW_USING
    ERR_clear_error();
    return ok ? codes : (codes ? codes : DH_CHECK_P_NOT_PRIME);
}

static PyObject *dh_generate_key(DH *dh) {
    int ok;
    if (!DH_get0_p(dh) || !DH_get0_g(dh)) return m2_raise_msg(M2_DH, "the DH parameters are not set");
    M2_ALLOW_USING(dh)
    ok = DH_generate_key(dh);
    M2_DISALLOW_USING
    if (!ok) return m2_raise_msg(M2_DH, "DH key generation failed");
    Py_RETURN_NONE;
}

/* DH_compute_key with the peer's public value (an MPI, as the pub attribute gives it). */
static PyObject *dh_compute_key(DH *dh, const void *data, Py_ssize_t datalen) {
    BIGNUM *pub = NULL;
    PyObject *out = NULL;
    int n;
    if (!DH_get0_priv_key(dh)) return m2_raise_msg(M2_DH, "no DH key was generated");
    if (!(pub = m2_mpi_to_bn(data, datalen, M2_DH))) return NULL;
    if (!(out = PyBytes_FromStringAndSize(NULL, DH_size(dh)))) goto err;
    M2_ALLOW_USING(dh)
    n = DH_compute_key((unsigned char *)PyBytes_AS_STRING(out), pub, dh);
    M2_DISALLOW_USING
    if (n < 0) { Py_CLEAR(out); m2_raise_msg(M2_DH, "DH_compute_key failed (bad peer key?)"); goto err; }
    if (_PyBytes_Resize(&out, n) < 0) out = NULL;
err:
    BN_free(pub);
    return out;
}

static DH *dh_read_parameters(BIO *bio) {
    return PEM_read_bio_DHparams(bio, NULL, m2_passphrase_cb, NULL);
}
static m2_ok dh_write_parameters(DH *dh, BIO *bio) {
    return PEM_write_bio_DHparams(bio, dh);
}

static PyObject *dh_get_p(DH *dh) { return m2_bn_to_mpi(DH_get0_p(dh)); }
static PyObject *dh_get_g(DH *dh) { return m2_bn_to_mpi(DH_get0_g(dh)); }
static PyObject *dh_get_pub(DH *dh) { return m2_bn_to_mpi(DH_get0_pub_key(dh)); }
static PyObject *dh_get_priv(DH *dh) { return m2_bn_to_mpi(DH_get0_priv_key(dh)); }
/* The public value as big-endian bytes (what compute_key takes). */
static PyObject *dh_get_pub_bin(DH *dh) {
    const BIGNUM *b = DH_get0_pub_key(dh);
    PyObject *out;
    if (!b) return m2_raise_msg(M2_DH, "no DH key was generated");
    if (!(out = PyBytes_FromStringAndSize(NULL, BN_num_bytes(b)))) return NULL;
    BN_bn2bin(b, (unsigned char *)PyBytes_AS_STRING(out));
    return out;
}

%}
%apply (const void *buf, Py_ssize_t len) { (const void *p, Py_ssize_t plen) };
%apply (const void *buf, Py_ssize_t len) { (const void *g, Py_ssize_t glen) };
%inline %{
static PyObject *dh_set_pg(DH *dh, const void *p, Py_ssize_t plen, const void *g, Py_ssize_t glen) {
    BIGNUM *bp = NULL, *bg = NULL;
    if (!(bp = m2_mpi_to_bn(p, plen, M2_DH)) || !(bg = m2_mpi_to_bn(g, glen, M2_DH))) goto err;
    if (!DH_set0_pqg(dh, bp, NULL, bg)) { m2_raise_msg(M2_DH, "DH_set0_pqg failed"); goto err; }
    Py_RETURN_NONE;
err:
    BN_free(bp); BN_free(bg);
    return NULL;
}
%}

/* ---- M2Crypto 0.51 names (issue 18): dh_check()'s bits under M2Crypto's names ---- */
%constant int dh_check_ok = 0;
%constant int dh_check_p_not_prime = DH_CHECK_P_NOT_PRIME;
%constant int dh_check_p_not_strong = DH_CHECK_P_NOT_SAFE_PRIME;
%constant int dh_check_g_failed = DH_UNABLE_TO_CHECK_GENERATOR;
%constant int dh_check_bad_g = DH_NOT_SUITABLE_GENERATOR;
%inline %{
static int dh_type_check(DH *dh) { (void)dh; return 1; }
%}
M2_DEPRECATED_FILE_END
