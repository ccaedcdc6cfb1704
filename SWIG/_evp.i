/* _evp.i: EVP digests, ciphers and keys (EVP_MD, EVP_CIPHER, EVP_PKEY). */
%{
#include <openssl/evp.h>
%}

M2_NONNULL(EVP_CIPHER *)
M2_NONNULL(const EVP_CIPHER *)
M2_NONNULL(EVP_PKEY *)
M2_AREA_INIT(evp_init, M2_EVP)

%constant int PKCS5_SALT_LEN = PKCS5_SALT_LEN;

/* M2Crypto's cipher getters: m2.aes_128_cbc() is EVP_aes_128_cbc(), ... */
%define M2_CIPHER(NAME)
%rename(NAME) EVP_ ## NAME;
const EVP_CIPHER *EVP_ ## NAME(void);
%enddef
M2_CIPHER(des_ecb) M2_CIPHER(des_cbc) M2_CIPHER(des_cfb) M2_CIPHER(des_ofb)
M2_CIPHER(des_ede_ecb) M2_CIPHER(des_ede_cbc) M2_CIPHER(des_ede_cfb) M2_CIPHER(des_ede_ofb)
M2_CIPHER(des_ede3_ecb) M2_CIPHER(des_ede3_cbc) M2_CIPHER(des_ede3_cfb) M2_CIPHER(des_ede3_ofb)
M2_CIPHER(bf_ecb) M2_CIPHER(bf_cbc) M2_CIPHER(bf_cfb) M2_CIPHER(bf_ofb)
M2_CIPHER(cast5_ecb) M2_CIPHER(cast5_cbc) M2_CIPHER(cast5_cfb) M2_CIPHER(cast5_ofb)
M2_CIPHER(rc4) M2_CIPHER(rc2_40_cbc)
M2_CIPHER(aes_128_ecb) M2_CIPHER(aes_128_cbc) M2_CIPHER(aes_128_cfb) M2_CIPHER(aes_128_ofb) M2_CIPHER(aes_128_ctr)
M2_CIPHER(aes_192_ecb) M2_CIPHER(aes_192_cbc) M2_CIPHER(aes_192_cfb) M2_CIPHER(aes_192_ofb) M2_CIPHER(aes_192_ctr)
M2_CIPHER(aes_256_ecb) M2_CIPHER(aes_256_cbc) M2_CIPHER(aes_256_cfb) M2_CIPHER(aes_256_ofb) M2_CIPHER(aes_256_ctr)
M2_CIPHER(aes_128_gcm) M2_CIPHER(aes_192_gcm) M2_CIPHER(aes_256_gcm)
M2_CIPHER(chacha20_poly1305)

%rename(pkey_new) EVP_PKEY_new;
EVP_PKEY *EVP_PKEY_new(void);
%rename(pkey_free) EVP_PKEY_free;
void EVP_PKEY_free(EVP_PKEY *pkey);
%rename(pkey_size) EVP_PKEY_get_size;
int EVP_PKEY_get_size(const EVP_PKEY *pkey);
%rename(pkey_bits) EVP_PKEY_get_bits;
int EVP_PKEY_get_bits(const EVP_PKEY *pkey);
%rename(pkey_get_id) EVP_PKEY_get_id;
int EVP_PKEY_get_id(const EVP_PKEY *pkey);
%rename(pkey_get_base_id) EVP_PKEY_get_base_id;
int EVP_PKEY_get_base_id(const EVP_PKEY *pkey);

%inline %{
/* The key's public half as DER SubjectPublicKeyInfo. */
static PyObject *pkey_get1_der_pub(EVP_PKEY *pkey) {
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pkey, &der);
    PyObject *v;
    if (n < 0) return m2_raise_msg(M2_EVP, "cannot encode the public key");
    v = PyBytes_FromStringAndSize((const char *)der, n);
    OPENSSL_free(der);
    return v;
}
%}

/* ---- EVP_PKEY: signing contexts, PEM/DER, raw keys, EVP_PKEY_CTX operations ---- */
%{
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/x509.h>

/* A digest by name; NULL with EVPError (a ValueError) set when unknown. */
static const EVP_MD *m2_pkey_md(const char *name) {
    const EVP_MD *md = EVP_get_digestbyname(name);
    if (!md) {
        ERR_clear_error();
        PyErr_Format(m2_area_class(M2_EVP), "unknown digest: %s", name);
    }
    return md;
}

/* Apply RSA padding options to a signing/encryption EVP_PKEY_CTX; 0 with an exception set. */
static int m2_pkey_ctx_rsa_opts(EVP_PKEY_CTX *pctx, int padding, const char *oaep_md,
                                const char *mgf1_md, int saltlen, const void *label, Py_ssize_t labellen) {
    if (padding > 0 && EVP_PKEY_CTX_set_rsa_padding(pctx, padding) <= 0) goto err;
    if (oaep_md && *oaep_md) {
        if (!m2_pkey_md(oaep_md)) return 0;
        if (EVP_PKEY_CTX_set_rsa_oaep_md_name(pctx, oaep_md, NULL) <= 0) goto err;
    }
    if (mgf1_md && *mgf1_md) {
        if (!m2_pkey_md(mgf1_md)) return 0;
        if (EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, mgf1_md, NULL) <= 0) goto err;
    }
    if (padding == RSA_PKCS1_PSS_PADDING && saltlen != INT_MIN
        && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen) <= 0) goto err;
    if (label && labellen > 0) {
        unsigned char *copy = OPENSSL_memdup(label, labellen);
        if (!copy || EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, copy, (int)labellen) <= 0) {
            OPENSSL_free(copy);
            goto err;
        }
    }
    return 1;
err:
    m2_raise_msg(M2_EVP, "cannot set the padding options");
    return 0;
}
%}

M2_NONNULL(EVP_MD_CTX *)
M2_NONNULL(RSA *)
M2_NONNULL(EC_KEY *)
%apply (const void *buf, Py_ssize_t len) { (const void *data, Py_ssize_t datalen) };
%apply (const void *buf, Py_ssize_t len) { (const void *sig, Py_ssize_t siglen) };
%apply (const void *buf, Py_ssize_t len) { (const void *label, Py_ssize_t labellen) };

%constant int EVP_PKEY_RSA = EVP_PKEY_RSA;
%constant int EVP_PKEY_RSA_PSS = EVP_PKEY_RSA_PSS;
%constant int EVP_PKEY_DSA = EVP_PKEY_DSA;
%constant int EVP_PKEY_DH = EVP_PKEY_DH;
%constant int EVP_PKEY_EC = EVP_PKEY_EC;
%constant int EVP_PKEY_ED25519 = EVP_PKEY_ED25519;
%constant int EVP_PKEY_ED448 = EVP_PKEY_ED448;
%constant int EVP_PKEY_X25519 = EVP_PKEY_X25519;
%constant int EVP_PKEY_X448 = EVP_PKEY_X448;
%constant int RSA_PSS_SALTLEN_DIGEST = RSA_PSS_SALTLEN_DIGEST;
%constant int RSA_PSS_SALTLEN_AUTO = RSA_PSS_SALTLEN_AUTO;
%constant int RSA_PSS_SALTLEN_MAX = RSA_PSS_SALTLEN_MAX;
%constant int PKEY_SALTLEN_UNSET = INT_MIN;

%inline %{
/* A digest context for PKey's sign/verify calls (EVP_MD_CTX_new). */
static EVP_MD_CTX *pkey_md_ctx_new(void) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) m2_raise(M2_EVP);
    return ctx;
}
static void pkey_md_ctx_free(EVP_MD_CTX *ctx) { EVP_MD_CTX_free(ctx); }

static const char *pkey_type_name(EVP_PKEY *pkey) {
    const char *n = EVP_PKEY_get0_type_name(pkey);
    return n ? n : "";
}

static int pkey_is_private(EVP_PKEY *pkey) {
    BIGNUM *bn = NULL;
    unsigned char buf[1];
    size_t len = 0;
    int id = EVP_PKEY_get_base_id(pkey), ret = 0;
    if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS)
        ret = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &bn);
    else if (id == EVP_PKEY_EC || id == EVP_PKEY_DSA || id == EVP_PKEY_DH || id == EVP_PKEY_DHX)
        ret = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn);
    else
        ret = EVP_PKEY_get_raw_private_key(pkey, NULL, &len) == 1 && len > 0;
    (void)buf;
    BN_clear_free(bn);
    return ret ? 1 : 0;
}

/* M2Crypto's EVP_SignInit/EVP_VerifyInit pair: a digest by name into ctx. */
static PyObject *pkey_digest_init(EVP_MD_CTX *ctx, const char *mdname) {
    const EVP_MD *md = m2_pkey_md(mdname);
    if (!md) return NULL;
    if (!EVP_DigestInit_ex(ctx, md, NULL)) return m2_raise_msg(M2_EVP, "EVP_DigestInit_ex failed");
    Py_RETURN_NONE;
}

static PyObject *pkey_digest_update(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    int ok;
    if (datalen > M2_GIL_THRESHOLD) { M2_ALLOW ok = EVP_DigestUpdate(ctx, data, datalen); M2_DISALLOW }
    else ok = EVP_DigestUpdate(ctx, data, datalen);
    if (!ok) return m2_raise_msg(M2_EVP, "EVP_DigestUpdate failed (was the context initialised?)");
    Py_RETURN_NONE;
}

/* EVP_SignFinal: the signature over what was fed to ctx. */
static PyObject *pkey_sign_final(EVP_MD_CTX *ctx, EVP_PKEY *pkey) {
    unsigned int len = 0;
    int size = EVP_PKEY_get_size(pkey), ok;
    PyObject *out;
    if (size <= 0) return m2_raise_msg(M2_EVP, "the key is empty");
    if (!(out = PyBytes_FromStringAndSize(NULL, size))) return NULL;
    M2_ALLOW
    ok = EVP_SignFinal(ctx, (unsigned char *)PyBytes_AS_STRING(out), &len, pkey);
    M2_DISALLOW
    if (!ok) { Py_DECREF(out); return m2_raise_msg(M2_EVP, "EVP_SignFinal failed"); }
    if (_PyBytes_Resize(&out, len) < 0) return NULL;
    return out;
}

/* EVP_VerifyFinal: 1 for a good signature, 0 for a bad one; raises if the key cannot verify. */
static int pkey_verify_final(EVP_MD_CTX *ctx, const void *sig, Py_ssize_t siglen, EVP_PKEY *pkey) {
    int ret;
    M2_ALLOW
    ret = EVP_VerifyFinal(ctx, sig, (unsigned int)siglen, pkey);
    M2_DISALLOW
    if (ret == 1) return 1;
    if (ret == -2 || EVP_PKEY_get_size(pkey) <= 0) { m2_raise_msg(M2_EVP, "the key cannot verify"); return -1; }
    return 0;
}

/* EVP_DigestSignInit_ex / EVP_DigestVerifyInit_ex with an optional digest name (NULL for
 * Ed25519/Ed448) and RSA padding options (padding 0: the key's default). */
static PyObject *pkey_digest_sign_init_ex(EVP_MD_CTX *ctx, EVP_PKEY *pkey, const char *mdname, int verify,
                                          int padding, const char *mgf1_md, int saltlen) {
    EVP_PKEY_CTX *pctx = NULL;
    int ok;
    if (mdname && *mdname && !m2_pkey_md(mdname)) return NULL;
    if (!mdname || !*mdname) mdname = NULL;
    EVP_MD_CTX_reset(ctx);
    if (verify) ok = EVP_DigestVerifyInit_ex(ctx, &pctx, mdname, NULL, NULL, pkey, NULL);
    else ok = EVP_DigestSignInit_ex(ctx, &pctx, mdname, NULL, NULL, pkey, NULL);
    if (ok != 1) return m2_raise_msg(M2_EVP, verify ? "cannot verify with this key and digest" : "cannot sign with this key and digest");
    if ((padding || mgf1_md || saltlen != INT_MIN) && !m2_pkey_ctx_rsa_opts(pctx, padding, NULL, mgf1_md, saltlen, NULL, 0))
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *pkey_digest_sign_update(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    if (EVP_DigestSignUpdate(ctx, data, datalen) != 1) return m2_raise_msg(M2_EVP, "EVP_DigestSignUpdate failed");
    Py_RETURN_NONE;
}

static PyObject *pkey_digest_verify_update(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    if (EVP_DigestVerifyUpdate(ctx, data, datalen) != 1) return m2_raise_msg(M2_EVP, "EVP_DigestVerifyUpdate failed");
    Py_RETURN_NONE;
}

static PyObject *pkey_digest_sign_final(EVP_MD_CTX *ctx) {
    size_t len = 0;
    int ok;
    PyObject *out;
    if (EVP_DigestSignFinal(ctx, NULL, &len) != 1) return m2_raise_msg(M2_EVP, "EVP_DigestSignFinal failed");
    if (!(out = PyBytes_FromStringAndSize(NULL, len))) return NULL;
    M2_ALLOW
    ok = EVP_DigestSignFinal(ctx, (unsigned char *)PyBytes_AS_STRING(out), &len);
    M2_DISALLOW
    if (ok != 1) { Py_DECREF(out); return m2_raise_msg(M2_EVP, "EVP_DigestSignFinal failed"); }
    if (_PyBytes_Resize(&out, len) < 0) return NULL;
    return out;
}

static int pkey_digest_verify_final(EVP_MD_CTX *ctx, const void *sig, Py_ssize_t siglen) {
    int ret;
    M2_ALLOW
    ret = EVP_DigestVerifyFinal(ctx, sig, siglen);
    M2_DISALLOW
    return ret == 1 ? 1 : 0;
}

/* EVP_DigestSign: one shot (the only way for Ed25519/Ed448, RFC 8032). */
static PyObject *pkey_digest_sign(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    size_t len = 0;
    int ok;
    PyObject *out;
    if (EVP_DigestSign(ctx, NULL, &len, data, datalen) != 1) return m2_raise_msg(M2_EVP, "EVP_DigestSign failed");
    if (!(out = PyBytes_FromStringAndSize(NULL, len))) return NULL;
    M2_ALLOW
    ok = EVP_DigestSign(ctx, (unsigned char *)PyBytes_AS_STRING(out), &len, data, datalen);
    M2_DISALLOW
    if (ok != 1) { Py_DECREF(out); return m2_raise_msg(M2_EVP, "EVP_DigestSign failed"); }
    if (_PyBytes_Resize(&out, len) < 0) return NULL;
    return out;
}

static int pkey_digest_verify(EVP_MD_CTX *ctx, const void *sig, Py_ssize_t siglen, const void *data, Py_ssize_t datalen) {
    int ret;
    M2_ALLOW
    ret = EVP_DigestVerify(ctx, sig, siglen, data, datalen);
    M2_DISALLOW
    return ret == 1 ? 1 : 0;
}

/* PEM: PKCS#8 private keys (encrypted when cipher is given), SubjectPublicKeyInfo public keys. */
static int pkey_write_pem(EVP_PKEY *pkey, BIO *bio, const EVP_CIPHER *cipher, PyObject *pyfunc) {
    int ok;
    ok = PEM_write_bio_PKCS8PrivateKey(bio, pkey, cipher, NULL, 0, m2_passphrase_cb, pyfunc);
    if (!ok) { m2_raise_msg(M2_EVP, "cannot write the private key"); return -1; }
    return 1;
}
static int pkey_write_pem_no_cipher(EVP_PKEY *pkey, BIO *bio, PyObject *pyfunc) {
    int ok = PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, m2_passphrase_cb, pyfunc);
    if (!ok) { m2_raise_msg(M2_EVP, "cannot write the private key"); return -1; }
    return 1;
}
static int pkey_write_pem_pubkey(EVP_PKEY *pkey, BIO *bio) {
    if (!PEM_write_bio_PUBKEY(bio, pkey)) { m2_raise_msg(M2_EVP, "cannot write the public key"); return -1; }
    return 1;
}

static EVP_PKEY *pkey_read_pem(BIO *bio, PyObject *pyfunc) {
    EVP_PKEY *pk;
    pk = PEM_read_bio_PrivateKey(bio, NULL, m2_passphrase_cb, pyfunc);
    if (!pk) m2_raise_msg(M2_EVP, "cannot read the private key (bad data or wrong passphrase)");
    return pk;
}
static EVP_PKEY *pkey_read_pem_pubkey(BIO *bio, PyObject *pyfunc) {
    EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, m2_passphrase_cb, pyfunc);
    if (!pk) m2_raise_msg(M2_EVP, "cannot read the public key");
    return pk;
}

/* DER: any private key (PKCS#8 or a type's traditional form), SubjectPublicKeyInfo. */
static EVP_PKEY *pkey_read_der(const void *data, Py_ssize_t datalen) {
    const unsigned char *p = data;
    EVP_PKEY *pk = d2i_AutoPrivateKey(NULL, &p, (long)datalen);
    if (!pk) m2_raise_msg(M2_EVP, "cannot decode the DER private key");
    return pk;
}
static EVP_PKEY *pkey_read_der_pubkey(const void *data, Py_ssize_t datalen) {
    const unsigned char *p = data;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)datalen);
    if (!pk) m2_raise_msg(M2_EVP, "cannot decode the DER public key");
    return pk;
}
/* Unencrypted PKCS#8 DER (i2d_PKCS8PrivateKey_bio). */
static PyObject *pkey_write_der(EVP_PKEY *pkey) {
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n;
    PyObject *v = NULL;
    if (!b) return m2_raise(M2_EVP);
    if (!i2d_PKCS8PrivateKey_bio(b, pkey, NULL, NULL, 0, NULL, NULL)) { m2_raise_msg(M2_EVP, "cannot encode the private key"); goto err; }
    n = BIO_get_mem_data(b, &p);
    v = PyBytes_FromStringAndSize(p, n);
err:
    BIO_free(b);
    return v;
}

/* The RSA modulus in upper-case hex, as M2Crypto's pkey_get_modulus. */
static PyObject *pkey_get_modulus(EVP_PKEY *pkey) {
    BIGNUM *n = NULL;
    char *hex;
    PyObject *v;
    int id = EVP_PKEY_get_base_id(pkey);
    if ((id != EVP_PKEY_RSA && id != EVP_PKEY_RSA_PSS) || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n))
        return m2_raise_msg(M2_EVP, "the key has no RSA modulus");
    hex = BN_bn2hex(n);
    BN_free(n);
    if (!hex) return m2_raise(M2_EVP);
    v = PyBytes_FromString(hex);
    OPENSSL_free(hex);
    return v;
}

/* Legacy key objects M2Crypto's API hands over: shared by reference count (set1/get1). */
static int pkey_set1_rsa(EVP_PKEY *pkey, RSA *rsa) {
    if (!EVP_PKEY_set1_RSA(pkey, rsa)) { m2_raise_msg(M2_EVP, "EVP_PKEY_set1_RSA failed"); return -1; }
    return 1;
}
static RSA *pkey_get1_rsa(EVP_PKEY *pkey) {
    RSA *r = EVP_PKEY_get1_RSA(pkey);
    if (!r) m2_raise_msg(M2_EVP, "the key is not an RSA key");
    return r;
}
static int pkey_set1_ec(EVP_PKEY *pkey, EC_KEY *ec) {
    if (!EVP_PKEY_set1_EC_KEY(pkey, ec)) { m2_raise_msg(M2_EVP, "EVP_PKEY_set1_EC_KEY failed"); return -1; }
    return 1;
}
static EC_KEY *pkey_get1_ec(EVP_PKEY *pkey) {
    EC_KEY *e = EVP_PKEY_get1_EC_KEY(pkey);
    if (!e) m2_raise_msg(M2_EVP, "the key is not an EC key");
    return e;
}

/* EVP_PKEY_keygen for a named algorithm: "RSA" (bits), "EC" (group), "ED25519", "X448", ... */
static EVP_PKEY *pkey_keygen(const char *alg, int bits, const char *group) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
    EVP_PKEY *pk = NULL;
    int ok = 0;
    if (!ctx) { ERR_clear_error(); PyErr_Format(m2_area_class(M2_EVP), "unknown key algorithm: %s", alg); return NULL; }
    if (EVP_PKEY_keygen_init(ctx) <= 0) { m2_raise_msg(M2_EVP, "cannot generate keys of this type"); goto err; }
    if (bits > 0 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) <= 0) { m2_raise_msg(M2_EVP, "bad key size"); goto err; }
    if (group && *group && EVP_PKEY_CTX_set_group_name(ctx, group) <= 0) { m2_raise_msg(M2_EVP, "unknown group"); goto err; }
    M2_ALLOW
    ok = EVP_PKEY_keygen(ctx, &pk);
    M2_DISALLOW
    if (ok <= 0) { m2_raise_msg(M2_EVP, "key generation failed"); pk = NULL; }
err:
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

/* Raw keys (RFC 8032 / RFC 7748): EVP_PKEY_new_raw_{private,public}_key_ex. */
static EVP_PKEY *pkey_new_raw(const char *alg, const void *data, Py_ssize_t datalen, int private) {
    EVP_PKEY *pk = private ? EVP_PKEY_new_raw_private_key_ex(NULL, alg, NULL, data, datalen)
                           : EVP_PKEY_new_raw_public_key_ex(NULL, alg, NULL, data, datalen);
    if (!pk) m2_raise_msg(M2_EVP, "not a raw key of this type (wrong algorithm or length)");
    return pk;
}
static PyObject *pkey_get_raw(EVP_PKEY *pkey, int private) {
    size_t len = 0;
    PyObject *out;
    int ok = private ? EVP_PKEY_get_raw_private_key(pkey, NULL, &len) : EVP_PKEY_get_raw_public_key(pkey, NULL, &len);
    if (ok != 1) return m2_raise_msg(M2_EVP, private ? "the key has no raw private form" : "the key has no raw public form");
    if (!(out = PyBytes_FromStringAndSize(NULL, len))) return NULL;
    ok = private ? EVP_PKEY_get_raw_private_key(pkey, (unsigned char *)PyBytes_AS_STRING(out), &len)
                 : EVP_PKEY_get_raw_public_key(pkey, (unsigned char *)PyBytes_AS_STRING(out), &len);
    if (ok != 1) { Py_DECREF(out); return m2_raise(M2_EVP); }
    return out;
}

/* EVP_PKEY_derive: the shared secret of a key and a peer's public key (X25519, ECDH, DH). */
static PyObject *pkey_derive(EVP_PKEY *pkey, EVP_PKEY *peer) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t len = 0;
    int ok;
    PyObject *out = NULL;
    if (!ctx) return m2_raise(M2_EVP);
    if (EVP_PKEY_derive_init(ctx) <= 0) { m2_raise_msg(M2_EVP, "this key cannot derive"); goto err; }
    if (EVP_PKEY_derive_set_peer(ctx, peer) <= 0) { m2_raise_msg(M2_EVP, "the peer key does not match"); goto err; }
    if (EVP_PKEY_derive(ctx, NULL, &len) <= 0) { m2_raise_msg(M2_EVP, "EVP_PKEY_derive failed"); goto err; }
    if (!(out = PyBytes_FromStringAndSize(NULL, len))) goto err;
    M2_ALLOW
    ok = EVP_PKEY_derive(ctx, (unsigned char *)PyBytes_AS_STRING(out), &len);
    M2_DISALLOW
    if (ok <= 0) { Py_CLEAR(out); m2_raise_msg(M2_EVP, "EVP_PKEY_derive failed"); goto err; }
    if (_PyBytes_Resize(&out, len) < 0) out = NULL;
err:
    EVP_PKEY_CTX_free(ctx);
    return out;
}

/* EVP_PKEY_encrypt/decrypt with RSA padding options: OAEP with any hash, MGF1 hash and label. */
static PyObject *pkey_crypt(EVP_PKEY *pkey, const void *data, Py_ssize_t datalen, int decrypt, int padding,
                            const char *oaep_md, const char *mgf1_md, const void *label, Py_ssize_t labellen) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t len = 0;
    int ok;
    PyObject *out = NULL;
    if (!ctx) return m2_raise(M2_EVP);
    ok = decrypt ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_encrypt_init(ctx);
    if (ok <= 0) { m2_raise_msg(M2_EVP, decrypt ? "this key cannot decrypt" : "this key cannot encrypt"); goto err; }
    if (!m2_pkey_ctx_rsa_opts(ctx, padding, oaep_md, mgf1_md, INT_MIN, label, labellen)) goto err;
    ok = decrypt ? EVP_PKEY_decrypt(ctx, NULL, &len, data, datalen) : EVP_PKEY_encrypt(ctx, NULL, &len, data, datalen);
    if (ok <= 0) { m2_raise_msg(M2_EVP, decrypt ? "decryption failed" : "encryption failed"); goto err; }
    if (!(out = PyBytes_FromStringAndSize(NULL, len))) goto err;
    M2_ALLOW
    ok = decrypt ? EVP_PKEY_decrypt(ctx, (unsigned char *)PyBytes_AS_STRING(out), &len, data, datalen)
                 : EVP_PKEY_encrypt(ctx, (unsigned char *)PyBytes_AS_STRING(out), &len, data, datalen);
    M2_DISALLOW
    if (ok <= 0) { Py_CLEAR(out); m2_raise_msg(M2_EVP, decrypt ? "decryption failed" : "encryption failed"); goto err; }
    if (_PyBytes_Resize(&out, len) < 0) out = NULL;
err:
    EVP_PKEY_CTX_free(ctx);
    return out;
}

/* EVP_PKEY_eq: 1 if both keys have the same public components. */
static int pkey_eq(EVP_PKEY *a, EVP_PKEY *b) { return EVP_PKEY_eq(a, b) == 1; }

/* EVP_PKEY_up_ref, so that two owners can share one key. */
static EVP_PKEY *pkey_up_ref(EVP_PKEY *pkey) {
    if (!EVP_PKEY_up_ref(pkey)) { m2_raise(M2_EVP); return NULL; }
    return pkey;
}
%}
