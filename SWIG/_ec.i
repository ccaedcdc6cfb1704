/* _ec.i: elliptic-curve keys through the EC_KEY* API M2Crypto's EC module names (deprecated
 * in OpenSSL 3): ECDSA, ECDH, the built-in curves, compressed and uncompressed points. */
M2_DEPRECATED_FILE_BEGIN  /* M2Crypto names OpenSSL's deprecated API here (see _lib.i) */
%{
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/x509.h>

/* EC_KEY_check_key-free test that the key has a group and a public point. */
static int m2_ec_has_pub(EC_KEY *key) { return EC_KEY_get0_group(key) && EC_KEY_get0_public_key(key); }
#ifdef OPENSSL_NO_EC
#define M2_NO_EC 1
#else
#define M2_NO_EC 0
#endif
%}
M2_OK_AREA(M2_EC)

/* M2Crypto's flag (0: this OpenSSL has EC), and M2Sec's HAS_ form of it. */
%constant int OPENSSL_NO_EC = M2_NO_EC;
%constant int HAS_EC = !M2_NO_EC;

M2_NONNULL(EC_KEY *)
M2_AREA_INIT(ec_init, M2_EC)
%apply (const void *buf, Py_ssize_t len) { (const void *r, Py_ssize_t rlen) };
%apply (const void *buf, Py_ssize_t len) { (const void *s, Py_ssize_t slen) };

%constant int POINT_CONVERSION_COMPRESSED = POINT_CONVERSION_COMPRESSED;
%constant int POINT_CONVERSION_UNCOMPRESSED = POINT_CONVERSION_UNCOMPRESSED;
%constant int POINT_CONVERSION_HYBRID = POINT_CONVERSION_HYBRID;
%constant int NID_secp112r1 = NID_secp112r1;
%constant int NID_secp112r2 = NID_secp112r2;
%constant int NID_secp128r1 = NID_secp128r1;
%constant int NID_secp128r2 = NID_secp128r2;
%constant int NID_secp160k1 = NID_secp160k1;
%constant int NID_secp160r1 = NID_secp160r1;
%constant int NID_secp160r2 = NID_secp160r2;
%constant int NID_secp192k1 = NID_secp192k1;
%constant int NID_secp224k1 = NID_secp224k1;
%constant int NID_secp224r1 = NID_secp224r1;
%constant int NID_secp256k1 = NID_secp256k1;
%constant int NID_secp384r1 = NID_secp384r1;
%constant int NID_secp521r1 = NID_secp521r1;
%constant int NID_sect113r1 = NID_sect113r1;
%constant int NID_sect113r2 = NID_sect113r2;
%constant int NID_sect131r1 = NID_sect131r1;
%constant int NID_sect131r2 = NID_sect131r2;
%constant int NID_sect163k1 = NID_sect163k1;
%constant int NID_sect163r1 = NID_sect163r1;
%constant int NID_sect163r2 = NID_sect163r2;
%constant int NID_sect193r1 = NID_sect193r1;
%constant int NID_sect193r2 = NID_sect193r2;
%constant int NID_sect233k1 = NID_sect233k1;
%constant int NID_sect233r1 = NID_sect233r1;
%constant int NID_sect239k1 = NID_sect239k1;
%constant int NID_sect283k1 = NID_sect283k1;
%constant int NID_sect283r1 = NID_sect283r1;
%constant int NID_sect409k1 = NID_sect409k1;
%constant int NID_sect409r1 = NID_sect409r1;
%constant int NID_sect571k1 = NID_sect571k1;
%constant int NID_sect571r1 = NID_sect571r1;
%constant int NID_X9_62_prime192v1 = NID_X9_62_prime192v1;
%constant int NID_X9_62_prime192v2 = NID_X9_62_prime192v2;
%constant int NID_X9_62_prime192v3 = NID_X9_62_prime192v3;
%constant int NID_X9_62_prime239v1 = NID_X9_62_prime239v1;
%constant int NID_X9_62_prime239v2 = NID_X9_62_prime239v2;
%constant int NID_X9_62_prime239v3 = NID_X9_62_prime239v3;
%constant int NID_X9_62_prime256v1 = NID_X9_62_prime256v1;
%constant int NID_X9_62_c2pnb163v1 = NID_X9_62_c2pnb163v1;
%constant int NID_X9_62_c2pnb163v2 = NID_X9_62_c2pnb163v2;
%constant int NID_X9_62_c2pnb163v3 = NID_X9_62_c2pnb163v3;
%constant int NID_X9_62_c2pnb176v1 = NID_X9_62_c2pnb176v1;
%constant int NID_X9_62_c2tnb191v1 = NID_X9_62_c2tnb191v1;
%constant int NID_X9_62_c2tnb191v2 = NID_X9_62_c2tnb191v2;
%constant int NID_X9_62_c2tnb191v3 = NID_X9_62_c2tnb191v3;
%constant int NID_X9_62_c2pnb208w1 = NID_X9_62_c2pnb208w1;
%constant int NID_X9_62_c2tnb239v1 = NID_X9_62_c2tnb239v1;
%constant int NID_X9_62_c2tnb239v2 = NID_X9_62_c2tnb239v2;
%constant int NID_X9_62_c2tnb239v3 = NID_X9_62_c2tnb239v3;
%constant int NID_X9_62_c2pnb272w1 = NID_X9_62_c2pnb272w1;
%constant int NID_X9_62_c2pnb304w1 = NID_X9_62_c2pnb304w1;
%constant int NID_X9_62_c2tnb359v1 = NID_X9_62_c2tnb359v1;
%constant int NID_X9_62_c2pnb368w1 = NID_X9_62_c2pnb368w1;
%constant int NID_X9_62_c2tnb431r1 = NID_X9_62_c2tnb431r1;
%constant int NID_wap_wsg_idm_ecid_wtls1 = NID_wap_wsg_idm_ecid_wtls1;
%constant int NID_wap_wsg_idm_ecid_wtls3 = NID_wap_wsg_idm_ecid_wtls3;
%constant int NID_wap_wsg_idm_ecid_wtls4 = NID_wap_wsg_idm_ecid_wtls4;
%constant int NID_wap_wsg_idm_ecid_wtls5 = NID_wap_wsg_idm_ecid_wtls5;
%constant int NID_wap_wsg_idm_ecid_wtls6 = NID_wap_wsg_idm_ecid_wtls6;
%constant int NID_wap_wsg_idm_ecid_wtls7 = NID_wap_wsg_idm_ecid_wtls7;
%constant int NID_wap_wsg_idm_ecid_wtls8 = NID_wap_wsg_idm_ecid_wtls8;
%constant int NID_wap_wsg_idm_ecid_wtls9 = NID_wap_wsg_idm_ecid_wtls9;
%constant int NID_wap_wsg_idm_ecid_wtls10 = NID_wap_wsg_idm_ecid_wtls10;
%constant int NID_wap_wsg_idm_ecid_wtls11 = NID_wap_wsg_idm_ecid_wtls11;
%constant int NID_wap_wsg_idm_ecid_wtls12 = NID_wap_wsg_idm_ecid_wtls12;
%constant int NID_ipsec3 = NID_ipsec3;
%constant int NID_ipsec4 = NID_ipsec4;
%constant int NID_brainpoolP160r1 = NID_brainpoolP160r1;
%constant int NID_brainpoolP192r1 = NID_brainpoolP192r1;
%constant int NID_brainpoolP224r1 = NID_brainpoolP224r1;
%constant int NID_brainpoolP256r1 = NID_brainpoolP256r1;
%constant int NID_brainpoolP320r1 = NID_brainpoolP320r1;
%constant int NID_brainpoolP384r1 = NID_brainpoolP384r1;
%constant int NID_brainpoolP512r1 = NID_brainpoolP512r1;
%constant int NID_brainpoolP256t1 = NID_brainpoolP256t1;
%constant int NID_brainpoolP384t1 = NID_brainpoolP384t1;
%constant int NID_brainpoolP512t1 = NID_brainpoolP512t1;
%constant int NID_sm2 = NID_sm2;

M2_FREE(ec_key_free, EC_KEY_free, EC_KEY, key)

M2_RETURNS_NONNULL(EC_KEY_new)
M2_RETURNS_NONNULL(EC_KEY_new_by_curve_name)
M2_RETURNS_NONNULL(ec_key_from_pubkey_der)
M2_RETURNS_NONNULL(ec_key_read_bio)
M2_RETURNS_NONNULL(ec_key_read_pubkey)
%rename(ec_key_new) EC_KEY_new;
EC_KEY *EC_KEY_new(void);
%rename(ec_key_new_by_curve_name) EC_KEY_new_by_curve_name;
EC_KEY *EC_KEY_new_by_curve_name(int nid);
%inline %{
static int ec_key_type_check(EC_KEY *key) { return key != NULL; }
static int ec_key_has_private(EC_KEY *key) { return EC_KEY_get0_private_key(key) != NULL; }
static int ec_key_curve_nid(EC_KEY *key) {
    const EC_GROUP *g = EC_KEY_get0_group(key);
    return g ? EC_GROUP_get_curve_name(g) : 0;
}

/* The order's size in bits (what M2Crypto's len(ec) reports). */
static int ec_key_keylen(EC_KEY *key) {
    const EC_GROUP *g = EC_KEY_get0_group(key);
    if (!g) { m2_raise_msg(M2_EC, "the key has no curve"); return -1; }
    return EC_GROUP_order_bits(g);
}

static PyObject *ec_key_gen_key(EC_KEY *key) {
    int ok;
    if (!EC_KEY_get0_group(key)) return m2_raise_msg(M2_EC, "the key has no curve");
    M2_ALLOW_USING(key)
    ok = EC_KEY_generate_key(key);
    M2_DISALLOW_USING
    if (!ok) return m2_raise_msg(M2_EC, "EC key generation failed");
    Py_RETURN_NONE;
}

/* EC_KEY_check_key: 1 if the key is consistent, else 0 (never raises). */
static int ec_key_check_key(EC_KEY *key) {
    int r;
    if (!m2_ec_has_pub(key)) return 0;
    M2_ALLOW_USING(key)
    r = EC_KEY_check_key(key);
    M2_DISALLOW_USING
    return r == 1;
}

/* Point encoding of future DER/PEM and get_public_key output. */
static void ec_key_set_conv_form(EC_KEY *key, int form) { EC_KEY_set_conv_form(key, (point_conversion_form_t)form); }
static int ec_key_get_conv_form(EC_KEY *key) { return (int)EC_KEY_get_conv_form(key); }

/* The public point as an octet string (SEC 1 2.3.3) in the key's conversion form. */
static PyObject *ec_key_get_public_key(EC_KEY *key) {
    unsigned char *buf = NULL;
    size_t n;
    PyObject *v;
    if (!m2_ec_has_pub(key)) return m2_raise_msg(M2_EC, "the key has no public point");
    n = EC_KEY_key2buf(key, EC_KEY_get_conv_form(key), &buf, NULL);
    if (!n) return m2_raise_msg(M2_EC, "cannot encode the public point");
    v = PyBytes_FromStringAndSize((const char *)buf, n);
    OPENSSL_free(buf);
    return v;
}

/* The public key as DER SubjectPublicKeyInfo (i2d_EC_PUBKEY). */
static PyObject *ec_key_get_public_der(EC_KEY *key) {
    unsigned char *der = NULL;
    int n;
    PyObject *v;
    if (!m2_ec_has_pub(key)) return m2_raise_msg(M2_EC, "the key has no public point");
    n = i2d_EC_PUBKEY(key, &der);
    if (n < 0) return m2_raise_msg(M2_EC, "cannot encode the public key");
    v = PyBytes_FromStringAndSize((const char *)der, n);
    OPENSSL_free(der);
    return v;
}

static EC_KEY *ec_key_from_pubkey_der(const void *data, Py_ssize_t datalen) {
    const unsigned char *p = data;
    return d2i_EC_PUBKEY(NULL, &p, (long)datalen);
}

/* A public key from a curve NID and an encoded point (compressed or not). */
static EC_KEY *ec_key_from_pubkey_params(int nid, const void *data, Py_ssize_t datalen) {
    EC_KEY *k = EC_KEY_new_by_curve_name(nid);
    if (!k) { m2_raise_msg(M2_EC, "unknown or unsupported curve"); return NULL; }
    if (!EC_KEY_oct2key(k, data, (size_t)datalen, NULL)) {
        EC_KEY_free(k);
        m2_raise_msg(M2_EC, "not a point on this curve");
        return NULL;
    }
    return k;
}

static EC_KEY *ec_key_read_bio(BIO *bio, PyObject *pyfunc) {
    return PEM_read_bio_ECPrivateKey(bio, NULL, m2_passphrase_cb, pyfunc);
}
static EC_KEY *ec_key_read_pubkey(BIO *bio) {
    return PEM_read_bio_EC_PUBKEY(bio, NULL, m2_passphrase_cb, NULL);
}
static m2_ok ec_key_write_bio(EC_KEY *key, BIO *bio, const EVP_CIPHER *cipher, PyObject *pyfunc) {
    return PEM_write_bio_ECPrivateKey(bio, key, cipher, NULL, 0, m2_passphrase_cb, pyfunc);
}
static m2_ok ec_key_write_bio_no_cipher(EC_KEY *key, BIO *bio, PyObject *pyfunc) {
    return PEM_write_bio_ECPrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
}
static m2_ok ec_key_write_pubkey(EC_KEY *key, BIO *bio) {
    return PEM_write_bio_EC_PUBKEY(bio, key);
}

/* ECDSA_do_sign: (r, s) as MPIs. */
static PyObject *ecdsa_sign(EC_KEY *key, const void *data, Py_ssize_t datalen) {
    ECDSA_SIG *sig;
    const BIGNUM *r, *s;
    PyObject *pr = NULL, *ps = NULL, *t = NULL;
    if (!EC_KEY_get0_private_key(key)) return m2_raise_msg(M2_EC, "the EC key has no private half");
    M2_ALLOW_USING(key)
    sig = ECDSA_do_sign(data, (int)datalen, key);
    M2_DISALLOW_USING
    if (!sig) return m2_raise_msg(M2_EC, "ECDSA_do_sign failed");
    ECDSA_SIG_get0(sig, &r, &s);
    if ((pr = m2_bn_to_mpi(r)) && (ps = m2_bn_to_mpi(s))) t = PyTuple_Pack(2, pr, ps);
    Py_XDECREF(pr); Py_XDECREF(ps);
    ECDSA_SIG_free(sig);
    return t;
}
static int ecdsa_verify(EC_KEY *key, const void *data, Py_ssize_t datalen, const void *r, Py_ssize_t rlen,
                        const void *s, Py_ssize_t slen) {
    BIGNUM *br = NULL, *bs = NULL;
    ECDSA_SIG *sig = NULL;
    int ret = -1;
    if (!m2_ec_has_pub(key)) { m2_raise_msg(M2_EC, "the key has no public point"); return -1; }
    if (!(br = m2_mpi_to_bn(r, rlen, M2_EC)) || !(bs = m2_mpi_to_bn(s, slen, M2_EC))) goto err;
    if (!(sig = ECDSA_SIG_new()) || !ECDSA_SIG_set0(sig, br, bs)) { m2_raise(M2_EC); goto err; }
    br = bs = NULL;
    M2_ALLOW_USING(key)
    ret = ECDSA_do_verify(data, (int)datalen, sig, key);
    M2_DISALLOW_USING
    if (ret < 0) { m2_raise_msg(M2_EC, "ECDSA_do_verify failed"); ret = -1; }
err:
    BN_free(br); BN_free(bs);
    ECDSA_SIG_free(sig);
    return ret;
}
/* ECDSA_sign / ECDSA_verify: the signature as DER Ecdsa-Sig-Value. */
static PyObject *ecdsa_sign_asn1(EC_KEY *key, const void *data, Py_ssize_t datalen) {
    unsigned int len = 0;
    int ok;
    PyObject *out;
    if (!EC_KEY_get0_private_key(key)) return m2_raise_msg(M2_EC, "the EC key has no private half");
    if (!(out = PyBytes_FromStringAndSize(NULL, ECDSA_size(key)))) return NULL;
    M2_ALLOW_USING(key)
    ok = ECDSA_sign(0, data, (int)datalen, (unsigned char *)PyBytes_AS_STRING(out), &len, key);
    M2_DISALLOW_USING
    if (!ok) { Py_DECREF(out); return m2_raise_msg(M2_EC, "ECDSA_sign failed"); }
    if (_PyBytes_Resize(&out, len) < 0) return NULL;
    return out;
}
static int ecdsa_verify_asn1(EC_KEY *key, const void *data, Py_ssize_t datalen, const void *sig, Py_ssize_t siglen) {
    int ret;
    if (!m2_ec_has_pub(key)) { m2_raise_msg(M2_EC, "the key has no public point"); return -1; }
    M2_ALLOW_USING(key)
    ret = ECDSA_verify(0, data, (int)datalen, sig, (int)siglen, key);
    M2_DISALLOW_USING
    if (ret < 0) { m2_raise_msg(M2_EC, "not an ECDSA signature"); return -1; }
    return ret;
}

/* ECDH_compute_key: the x coordinate of the shared point (field-size bytes). */
static PyObject *ecdh_compute_key(EC_KEY *keypair, EC_KEY *peer) {
    const EC_GROUP *g = EC_KEY_get0_group(keypair);
    const EC_POINT *pt = EC_KEY_get0_public_key(peer);
    int len, n;
    PyObject *out;
    if (!g || !EC_KEY_get0_private_key(keypair)) return m2_raise_msg(M2_EC, "the key has no private half");
    if (!pt) return m2_raise_msg(M2_EC, "the peer key has no public point");
    len = (EC_GROUP_get_degree(g) + 7) / 8;
    if (!(out = PyBytes_FromStringAndSize(NULL, len))) return NULL;
    M2_ALLOW_USING(keypair, peer)
    n = ECDH_compute_key(PyBytes_AS_STRING(out), len, pt, keypair, NULL);
    M2_DISALLOW_USING
    if (n <= 0) { Py_DECREF(out); return m2_raise_msg(M2_EC, "ECDH_compute_key failed (different curves?)"); }
    if (_PyBytes_Resize(&out, n) < 0) return NULL;
    return out;
}

/* [{'NID': nid, 'sname': short name, 'comment': description}] for EC_get_builtin_curves. */
static PyObject *ec_get_builtin_curves(void) {
    size_t n = EC_get_builtin_curves(NULL, 0), i;
    EC_builtin_curve *c = PyMem_Malloc(sizeof(*c) * (n ? n : 1));
    PyObject *list = NULL;
    if (!c) return PyErr_NoMemory();
    EC_get_builtin_curves(c, n);
    if (!(list = PyList_New(0))) goto err;
    for (i = 0; i < n; i++) {
        const char *sn = OBJ_nid2sn(c[i].nid);
        PyObject *d = Py_BuildValue("{s:i,s:s,s:s}", "NID", c[i].nid, "sname", sn ? sn : "",
                                    "comment", c[i].comment ? c[i].comment : "");
        if (!d || PyList_Append(list, d) < 0) { Py_XDECREF(d); Py_CLEAR(list); goto err; }
        Py_DECREF(d);
    }
err:
    PyMem_Free(c);
    return list;
}
%}

/* ---- M2Crypto 0.51 names (issue 18) ---- */
M2_NONNULL(ECDSA_SIG *)
%rename(ec_key_size) ECDSA_size;
int ECDSA_size(EC_KEY *key);
%rename(ecdsa_sig_free) ECDSA_SIG_free;
void ECDSA_SIG_free(ECDSA_SIG *sig);
M2_RETURNS_NONNULL(ecdsa_sig_from_der)
%inline %{
/* An ECDSA_SIG from its DER encoding (d2i_ECDSA_SIG); free it with ecdsa_sig_free. */
static ECDSA_SIG *ecdsa_sig_from_der(const void *data, Py_ssize_t datalen) {
    const unsigned char *p = data;
    return d2i_ECDSA_SIG(NULL, &p, (long)datalen);
}
/* r and s as MPIs, like ecdsa_sign's pair. */
static PyObject *ecdsa_sig_get_r(ECDSA_SIG *sig) { return m2_bn_to_mpi(ECDSA_SIG_get0_r(sig)); }
static PyObject *ecdsa_sig_get_s(ECDSA_SIG *sig) { return m2_bn_to_mpi(ECDSA_SIG_get0_s(sig)); }
%}
M2_DEPRECATED_FILE_END
