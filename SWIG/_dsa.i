/* _dsa.i: DSA keys through the DSA* API M2Crypto's DSA module names (deprecated in OpenSSL 3). */
M2_DEPRECATED_FILE_BEGIN  /* M2Crypto names OpenSSL's deprecated API here (see _lib.i) */
%{
#include <openssl/dsa.h>
%}
M2_OK_AREA(M2_DSA)

M2_NONNULL(DSA *)
M2_AREA_INIT(dsa_init, M2_DSA)
%apply (const void *buf, Py_ssize_t len) { (const void *p, Py_ssize_t plen) };
%apply (const void *buf, Py_ssize_t len) { (const void *q, Py_ssize_t qlen) };
%apply (const void *buf, Py_ssize_t len) { (const void *g, Py_ssize_t glen) };
%apply (const void *buf, Py_ssize_t len) { (const void *pub, Py_ssize_t publen) };
%apply (const void *buf, Py_ssize_t len) { (const void *r, Py_ssize_t rlen) };
%apply (const void *buf, Py_ssize_t len) { (const void *s, Py_ssize_t slen) };

M2_FREE(dsa_free, DSA_free, DSA, dsa)
%rename(dsa_keylen) DSA_bits;
int DSA_bits(const DSA *dsa);

M2_RETURNS_NONNULL(DSA_new)
M2_RETURNS_NONNULL(dsa_read_params)
M2_RETURNS_NONNULL(dsa_read_key)
M2_RETURNS_NONNULL(dsa_read_pub_key)
%rename(dsa_new) DSA_new;
DSA *DSA_new(void);
%inline %{
/* DSA_generate_parameters_ex with a progress callback(p, n) (or None). */
static DSA *dsa_generate_parameters(int bits, PyObject *pyfunc) {
    DSA *dsa = NULL;
    BN_GENCB *cb = NULL;
    struct m2_gencb g = { pyfunc, 0 };
    int ok = 0;
    if (bits < 512 || bits > 10000) { PyErr_SetString(PyExc_ValueError, "DSA size must be 512..10000 bits"); return NULL; }
    if (!(dsa = DSA_new()) || !(cb = BN_GENCB_new())) { m2_raise(M2_DSA); goto err; }
    BN_GENCB_set(cb, m2_gencb_call, &g);
    M2_ALLOW
    ok = DSA_generate_parameters_ex(dsa, bits, NULL, 0, NULL, NULL, cb);
    M2_DISALLOW
    if (!ok) m2_raise_msg(M2_DSA, "DSA parameter generation failed");
err:
    BN_GENCB_free(cb);
    if (!ok) { DSA_free(dsa); dsa = NULL; }
    return dsa;
}

static PyObject *dsa_gen_key(DSA *dsa) {
    int ok;
    if (!DSA_get0_p(dsa)) return m2_raise_msg(M2_DSA, "the DSA parameters are not set");
    M2_ALLOW_USING(dsa)
    ok = DSA_generate_key(dsa);
    M2_DISALLOW_USING
    if (!ok) return m2_raise_msg(M2_DSA, "DSA key generation failed");
    Py_RETURN_NONE;
}
static PyObject *dsa_generate_key(DSA *dsa) { return dsa_gen_key(dsa); }

static PyObject *dsa_get_p(DSA *dsa) { return m2_bn_to_mpi(DSA_get0_p(dsa)); }
static PyObject *dsa_get_q(DSA *dsa) { return m2_bn_to_mpi(DSA_get0_q(dsa)); }
static PyObject *dsa_get_g(DSA *dsa) { return m2_bn_to_mpi(DSA_get0_g(dsa)); }
static PyObject *dsa_get_pub(DSA *dsa) { return m2_bn_to_mpi(DSA_get0_pub_key(dsa)); }
static PyObject *dsa_get_priv(DSA *dsa) { return m2_bn_to_mpi(DSA_get0_priv_key(dsa)); }

static PyObject *dsa_set_pqg(DSA *dsa, const void *p, Py_ssize_t plen, const void *q, Py_ssize_t qlen,
                             const void *g, Py_ssize_t glen) {
    BIGNUM *bp = NULL, *bq = NULL, *bg = NULL;
    if (!(bp = m2_mpi_to_bn(p, plen, M2_DSA)) || !(bq = m2_mpi_to_bn(q, qlen, M2_DSA))
        || !(bg = m2_mpi_to_bn(g, glen, M2_DSA))) goto err;
    if (!DSA_set0_pqg(dsa, bp, bq, bg)) { m2_raise_msg(M2_DSA, "DSA_set0_pqg failed"); goto err; }
    Py_RETURN_NONE;
err:
    BN_free(bp); BN_free(bq); BN_free(bg);
    return NULL;
}

static PyObject *dsa_set_pub(DSA *dsa, const void *pub, Py_ssize_t publen) {
    BIGNUM *b = m2_mpi_to_bn(pub, publen, M2_DSA);
    if (!b) return NULL;
    if (!DSA_set0_key(dsa, b, NULL)) { BN_free(b); return m2_raise_msg(M2_DSA, "DSA_set0_key failed"); }
    Py_RETURN_NONE;
}

static int dsa_check_key(DSA *dsa) { return DSA_get0_pub_key(dsa) && DSA_get0_priv_key(dsa); }
static int dsa_check_pub_key(DSA *dsa) { return DSA_get0_pub_key(dsa) != NULL; }

static DSA *dsa_read_params(BIO *bio, PyObject *pyfunc) {
    return PEM_read_bio_DSAparams(bio, NULL, m2_passphrase_cb, pyfunc);
}
static DSA *dsa_read_key(BIO *bio, PyObject *pyfunc) {
    return PEM_read_bio_DSAPrivateKey(bio, NULL, m2_passphrase_cb, pyfunc);
}
static DSA *dsa_read_pub_key(BIO *bio, PyObject *pyfunc) {
    return PEM_read_bio_DSA_PUBKEY(bio, NULL, m2_passphrase_cb, pyfunc);
}
static m2_ok dsa_write_params_bio(DSA *dsa, BIO *bio) {
    return PEM_write_bio_DSAparams(bio, dsa);
}
static m2_ok dsa_write_key_bio(DSA *dsa, BIO *bio, const EVP_CIPHER *cipher, PyObject *pyfunc) {
    return PEM_write_bio_DSAPrivateKey(bio, dsa, cipher, NULL, 0, m2_passphrase_cb, pyfunc);
}
static m2_ok dsa_write_key_bio_no_cipher(DSA *dsa, BIO *bio, PyObject *pyfunc) {
    return PEM_write_bio_DSAPrivateKey(bio, dsa, NULL, NULL, 0, NULL, NULL);
}
static m2_ok dsa_write_pub_key_bio(DSA *dsa, BIO *bio) {
    return PEM_write_bio_DSA_PUBKEY(bio, dsa);
}

/* DSA_do_sign: (r, s) as MPIs. */
static PyObject *dsa_sign(DSA *dsa, const void *data, Py_ssize_t datalen) {
    DSA_SIG *sig;
    const BIGNUM *r, *s;
    PyObject *pr = NULL, *ps = NULL, *t = NULL;
    if (!DSA_get0_priv_key(dsa)) return m2_raise_msg(M2_DSA, "the DSA key has no private half");
    M2_ALLOW_USING(dsa)
    sig = DSA_do_sign(data, (int)datalen, dsa);
    M2_DISALLOW_USING
    if (!sig) return m2_raise_msg(M2_DSA, "DSA_do_sign failed");
    DSA_SIG_get0(sig, &r, &s);
    if ((pr = m2_bn_to_mpi(r)) && (ps = m2_bn_to_mpi(s))) t = PyTuple_Pack(2, pr, ps);
    Py_XDECREF(pr); Py_XDECREF(ps);
    DSA_SIG_free(sig);
    return t;
}
static int dsa_verify(DSA *dsa, const void *data, Py_ssize_t datalen, const void *r, Py_ssize_t rlen,
                      const void *s, Py_ssize_t slen) {
    BIGNUM *br = NULL, *bs = NULL;
    DSA_SIG *sig = NULL;
    int ret = -1;
    if (!(br = m2_mpi_to_bn(r, rlen, M2_DSA)) || !(bs = m2_mpi_to_bn(s, slen, M2_DSA))) goto err;
    if (!(sig = DSA_SIG_new()) || !DSA_SIG_set0(sig, br, bs)) { m2_raise(M2_DSA); goto err; }
    br = bs = NULL;
    M2_ALLOW_USING(dsa)
    ret = DSA_do_verify(data, (int)datalen, sig, dsa);
    M2_DISALLOW_USING
    if (ret < 0) { m2_raise_msg(M2_DSA, "DSA_do_verify failed"); ret = -1; }
err:
    BN_free(br); BN_free(bs);
    DSA_SIG_free(sig);
    return ret;
}
/* DSA_sign / DSA_verify: the signature as DER Dss-Sig-Value. */
static PyObject *dsa_sign_asn1(DSA *dsa, const void *data, Py_ssize_t datalen) {
    unsigned int len = 0;
    int ok;
    PyObject *out;
    if (!DSA_get0_priv_key(dsa)) return m2_raise_msg(M2_DSA, "the DSA key has no private half");
    if (!(out = PyBytes_FromStringAndSize(NULL, DSA_size(dsa)))) return NULL;
    M2_ALLOW_USING(dsa)
    ok = DSA_sign(0, data, (int)datalen, (unsigned char *)PyBytes_AS_STRING(out), &len, dsa);
    M2_DISALLOW_USING
    if (!ok) { Py_DECREF(out); return m2_raise_msg(M2_DSA, "DSA_sign failed"); }
    if (_PyBytes_Resize(&out, len) < 0) return NULL;
    return out;
}
static int dsa_verify_asn1(DSA *dsa, const void *data, Py_ssize_t datalen, const void *sig, Py_ssize_t siglen) {
    int ret;
    M2_ALLOW_USING(dsa)
    ret = DSA_verify(0, data, (int)datalen, sig, (int)siglen, dsa);
    M2_DISALLOW_USING
    if (ret < 0) { m2_raise_msg(M2_DSA, "not a DSA signature"); return -1; }
    return ret;
}
%}

/* ---- M2Crypto 0.51 names (issue 18) ---- */
%rename(dsa_size) DSA_size;
int DSA_size(DSA *dsa);
%inline %{
static int dsa_type_check(DSA *dsa) { (void)dsa; return 1; }
%}
M2_DEPRECATED_FILE_END
