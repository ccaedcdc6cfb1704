/* _pkcs7.i: PKCS#7 (RFC 2315) signed and enveloped data, and their S/MIME encoding. */
%{
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
%}
M2_OK_AREA(M2_PKCS7)

M2_NONNULL(PKCS7 *)
M2_AREA_INIT(pkcs7_init, M2_PKCS7)
M2_AREA_INIT(smime_init, M2_SMIME)
/* Arguments where None means "none": the detached content, the digest (the key's default). */
%typemap(check) BIO *optional_data "";

%constant int PKCS7_TEXT = PKCS7_TEXT;
%constant int PKCS7_NOCERTS = PKCS7_NOCERTS;
%constant int PKCS7_NOSIGS = PKCS7_NOSIGS;
%constant int PKCS7_NOCHAIN = PKCS7_NOCHAIN;
%constant int PKCS7_NOINTERN = PKCS7_NOINTERN;
%constant int PKCS7_NOVERIFY = PKCS7_NOVERIFY;
%constant int PKCS7_DETACHED = PKCS7_DETACHED;
%constant int PKCS7_BINARY = PKCS7_BINARY;
%constant int PKCS7_NOATTR = PKCS7_NOATTR;
%constant int PKCS7_NOSMIMECAP = PKCS7_NOSMIMECAP;
%constant int PKCS7_NOOLDMIMETYPE = PKCS7_NOOLDMIMETYPE;
%constant int PKCS7_CRLFEOL = PKCS7_CRLFEOL;
%constant int PKCS7_NOCRL = PKCS7_NOCRL;
%constant int PKCS7_NO_DUAL_CONTENT = PKCS7_NO_DUAL_CONTENT;
%constant int SMIME_OLDMIME = SMIME_OLDMIME;

%constant int PKCS7_SIGNED = NID_pkcs7_signed;
%constant int PKCS7_ENVELOPED = NID_pkcs7_enveloped;
%constant int PKCS7_SIGNED_ENVELOPED = NID_pkcs7_signedAndEnveloped;
%constant int PKCS7_DATA = NID_pkcs7_data;

M2_FREE(pkcs7_free, PKCS7_free, PKCS7, p7)

%{
/* The whole content of a memory BIO as bytes. */
static PyObject *m2_mem_bio_bytes(BIO *b) {
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    return PyBytes_FromStringAndSize(n > 0 ? p : "", n > 0 ? n : 0);
}

/* Add verify_code and verify_depth to the exception being raised (a PKCS7_Error). */
static void m2_pkcs7_note_verify_error(int code, int depth) {
    PyObject *type, *value, *tb, *c, *d;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value) {
        c = PyLong_FromLong(code);
        d = PyLong_FromLong(depth);
        if (c && d) {
            PyObject_SetAttrString(value, "verify_code", c);
            PyObject_SetAttrString(value, "verify_depth", d);
        }
        Py_XDECREF(c);
        Py_XDECREF(d);
        PyErr_Clear();
    }
    PyErr_Restore(type, value, tb);
}

/* The SMIMECapabilities PKCS7_sign_add_signer adds (the ciphers of its list that this
 * OpenSSL has, strongest first), built once: OpenSSL looks every cipher up again for each
 * signature, which costs about a third of an RSA-2048 signature. */
static STACK_OF(X509_ALGOR) *m2_smimecap_cache;

static STACK_OF(X509_ALGOR) *m2_smimecap(void) {
    static const int caps[][2] = {
        {NID_aes_256_cbc, -1}, {NID_aes_192_cbc, -1}, {NID_aes_128_cbc, -1}, {NID_des_ede3_cbc, -1},
        {NID_rc2_cbc, 128}, {NID_rc2_cbc, 64}, {NID_des_cbc, -1}, {NID_rc2_cbc, 40},
    };
    STACK_OF(X509_ALGOR) *sk;
    size_t i;
    if (m2_smimecap_cache) return m2_smimecap_cache;
    if (!(sk = sk_X509_ALGOR_new_null())) return NULL;
    for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
        if (EVP_get_cipherbynid(caps[i][0]) && !PKCS7_simple_smimecap(sk, caps[i][0], caps[i][1])) {
            sk_X509_ALGOR_pop_free(sk, X509_ALGOR_free);
            return NULL;
        }
    return m2_smimecap_cache = sk;
}

/* PKCS7_verify's certificate check, done here so that the failure keeps OpenSSL's verify
 * code: each signer's chain (untrusted: the message's certificates and certs) must verify
 * against store for the smime_sign purpose, with the message's CRLs unless PKCS7_NOCRL.
 * 1, or 0 with PKCS7_Error (carrying verify_code and verify_depth) raised. */
static int m2_pkcs7_verify_signers(PKCS7 *p7, STACK_OF(X509) *certs, X509_STORE *store, int flags) {
    STACK_OF(X509) *signers = NULL, *untrusted = NULL;
    X509_STORE_CTX *ctx = NULL;
    int i, r, ok = 0;
    char msg[256];
    if (!PKCS7_type_is_signed(p7)) { m2_raise_msg(M2_PKCS7, "not a PKCS#7 signedData"); return 0; }
    if (!(signers = PKCS7_get0_signers(p7, certs, flags))) { m2_raise_msg(M2_PKCS7, "cannot find the signer's certificate"); goto err; }
    if (!(untrusted = sk_X509_new_null()) || !(ctx = X509_STORE_CTX_new())) { m2_raise(M2_PKCS7); goto err; }
    if (!(flags & PKCS7_NOCHAIN)) {
        STACK_OF(X509) *inner = p7->d.sign->cert;
        for (i = 0; i < sk_X509_num(inner); i++)
            if (!sk_X509_push(untrusted, sk_X509_value(inner, i))) { m2_raise(M2_PKCS7); goto err; }
        for (i = 0; i < sk_X509_num(certs); i++)
            if (!sk_X509_push(untrusted, sk_X509_value(certs, i))) { m2_raise(M2_PKCS7); goto err; }
    }
    for (i = 0; i < sk_X509_num(signers); i++) {
        if (!X509_STORE_CTX_init(ctx, store, sk_X509_value(signers, i), untrusted)
            || !X509_STORE_CTX_set_default(ctx, "smime_sign")) { m2_raise_msg(M2_PKCS7, "cannot set up the certificate check"); goto err; }
        if (!(flags & PKCS7_NOCRL))
            X509_STORE_CTX_set0_crls(ctx, p7->d.sign->crl);
        M2_ALLOW_USING(p7, certs, store)
        r = X509_verify_cert(ctx);
        M2_DISALLOW_USING
        if (r <= 0) {
            int code = X509_STORE_CTX_get_error(ctx), depth = X509_STORE_CTX_get_error_depth(ctx);
            if (PyErr_Occurred()) goto err;  /* the verify callback raised: that is the error */
            snprintf(msg, sizeof(msg), "certificate verify error at depth %d: %s (%d)", depth,
                     X509_verify_cert_error_string(code), code);
            m2_raise_msg(M2_PKCS7, msg);
            m2_pkcs7_note_verify_error(code, depth);
            goto err;
        }
        X509_STORE_CTX_cleanup(ctx);
    }
    ok = 1;
err:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    sk_X509_free(signers);
    return ok;
}
%}

M2_RETURNS_NONNULL(PKCS7_new)
%rename(pkcs7_new) PKCS7_new;
PKCS7 *PKCS7_new(void);
/* Adds a reference to x to a signedData's certificates. */
%rename(pkcs7_add_certificate) PKCS7_add_certificate;
m2_ok PKCS7_add_certificate(PKCS7 *p7, X509 *x);
%inline %{
/* ---- signing and verifying ---- */

/* signedData over data's content, signed by x509/pkey with hash (None: the key's default),
 * with the certificates of optional_stack added.  SMIME_Error on failure. */
static PKCS7 *pkcs7_sign1(X509 *x509, EVP_PKEY *pkey, STACK_OF(X509) *optional_stack, BIO *bio, const EVP_MD *hash, int flags) {
    PKCS7 *p7;
    PKCS7_SIGNER_INFO *si = NULL;
    STACK_OF(X509_ALGOR) *caps = NULL;
    int ok = 0;
    if (!(flags & (PKCS7_NOATTR | PKCS7_NOSMIMECAP)) && !(caps = m2_smimecap()))
        return (PKCS7 *)m2_raise_msg(M2_SMIME, "cannot list the S/MIME capabilities");
    M2_ALLOW_USING(x509, pkey, optional_stack, bio)
    p7 = PKCS7_sign(NULL, NULL, optional_stack, bio, flags | PKCS7_PARTIAL);
    if (p7)
        si = PKCS7_sign_add_signer(p7, x509, pkey, hash, flags | PKCS7_NOSMIMECAP);
    if (si && (!caps || PKCS7_add_attrib_smimecap(si, caps)) && PKCS7_final(p7, bio, flags) == 1)
        ok = 1;
    M2_DISALLOW_USING
    if (!ok) {
        PKCS7_free(p7);
        m2_raise_msg(M2_SMIME, "cannot sign");
        return NULL;
    }
    return p7;
}

static PKCS7 *pkcs7_sign0(X509 *x509, EVP_PKEY *pkey, BIO *bio, const EVP_MD *hash, int flags) {
    return pkcs7_sign1(x509, pkey, NULL, bio, hash, flags);
}

/* The signed content (bytes) once every signature and, unless PKCS7_NOVERIFY, every
 * signer's certificate chain verify.  optional_data is the detached content, if any.
 * PKCS7_Error otherwise; a chain failure carries verify_code and verify_depth. */
static PyObject *pkcs7_verify1(PKCS7 *p7, STACK_OF(X509) *optional_stack, X509_STORE *store, BIO *optional_data, int flags) {
    BIO *out;
    PyObject *v = NULL;
    int r;
    if (!(flags & PKCS7_NOVERIFY) && !m2_pkcs7_verify_signers(p7, optional_stack, store, flags)) return NULL;
    if (!(out = BIO_new(BIO_s_mem()))) return m2_raise(M2_PKCS7);
    M2_ALLOW_USING(p7, optional_stack, store, optional_data)
    r = PKCS7_verify(p7, optional_stack, store, optional_data, out, flags | PKCS7_NOVERIFY);
    M2_DISALLOW_USING
    if (r != 1)
        m2_raise_msg(M2_PKCS7, "the signature does not verify");
    else
        v = m2_mem_bio_bytes(out);
    BIO_free(out);
    return v;
}

static PyObject *pkcs7_verify0(PKCS7 *p7, STACK_OF(X509) *optional_stack, X509_STORE *store, int flags) {
    return pkcs7_verify1(p7, optional_stack, store, NULL, flags);
}

/* A new stack holding a reference to each signer's certificate (looked up in the message
 * and in optional_stack). */
static STACK_OF(X509) *pkcs7_get0_signers(PKCS7 *p7, STACK_OF(X509) *optional_stack, int flags) {
    STACK_OF(X509) *sk = PKCS7_get0_signers(p7, optional_stack, flags);
    int i;
    if (!sk) { m2_raise_msg(M2_PKCS7, "cannot find the signer's certificate"); return NULL; }
    for (i = 0; i < sk_X509_num(sk); i++) X509_up_ref(sk_X509_value(sk, i));
    return sk;
}

/* A new stack holding a reference to each certificate of a signedData; None if it has none. */
static STACK_OF(X509) *pkcs7_get_certs_sk(PKCS7 *p7) {
    STACK_OF(X509) *certs, *sk;
    int i;
    if (!PKCS7_type_is_signed(p7) || !p7->d.sign || !(certs = p7->d.sign->cert)) return NULL;
    if (!(sk = sk_X509_new_null())) { m2_raise(M2_PKCS7); return NULL; }
    for (i = 0; i < sk_X509_num(certs); i++) {
        X509 *x = sk_X509_value(certs, i);
        if (!X509_up_ref(x) || !sk_X509_push(sk, x)) { sk_X509_pop_free(sk, X509_free); m2_raise(M2_PKCS7); return NULL; }
    }
    return sk;
}

/* Writes a certificates-only signedData (RFC 8551 section 3.6.2) as DER to bio: 1. */
static int pkcs7_create_degenerate(STACK_OF(X509) *stack, BIO *bio) {
    PKCS7 *p7 = PKCS7_new();
    int i, r = 0;
    if (!p7 || !PKCS7_set_type(p7, NID_pkcs7_signed) || !PKCS7_content_new(p7, NID_pkcs7_data)) {
        m2_raise(M2_PKCS7);
        goto err;
    }
    for (i = 0; i < sk_X509_num(stack); i++)
        if (!PKCS7_add_certificate(p7, sk_X509_value(stack, i))) { m2_raise(M2_PKCS7); goto err; }
    M2_ALLOW_USING(stack, bio)
    r = i2d_PKCS7_bio(bio, p7);
    M2_DISALLOW_USING
    if (r != 1) { r = 0; m2_raise_msg(M2_PKCS7, "cannot write the PKCS#7"); }
err:
    PKCS7_free(p7);
    return r;
}

/* ---- encrypting and decrypting ---- */

/* 1 if cipher can encrypt an envelopedData that decrypts again: its identifier (the OID
 * written) names the cipher itself and exists (OpenSSL 3.0.22 gives DES-EDE3-CFB a type with
 * no OID, which PKCS7_encrypt takes and i2d then refuses: "illegal zero content"), and it is
 * neither AEAD nor a wrap or XTS mode. */
static int pkcs7_cipher_usable(const EVP_CIPHER *cipher) {
    int mode = EVP_CIPHER_get_mode(cipher), type = EVP_CIPHER_get_type(cipher);
    const ASN1_OBJECT *oid;
    if (type == NID_undef || type != EVP_CIPHER_get_nid(cipher)) return 0;
    oid = OBJ_nid2obj(type);
    if (oid == NULL || OBJ_length(oid) == 0) { ERR_clear_error(); return 0; }
    if (EVP_CIPHER_get_flags(cipher) & EVP_CIPH_FLAG_AEAD_CIPHER) return 0;
    return mode == EVP_CIPH_CBC_MODE || mode == EVP_CIPH_ECB_MODE || mode == EVP_CIPH_CFB_MODE
           || mode == EVP_CIPH_OFB_MODE || mode == EVP_CIPH_CTR_MODE;
}

/* envelopedData of bio's content for the certificates of stack, under cipher.  SMIME_Error
 * on failure. */
static PKCS7 *pkcs7_encrypt(STACK_OF(X509) *stack, BIO *bio, const EVP_CIPHER *cipher, int flags) {
    PKCS7 *p7;
    M2_ALLOW_USING(stack, bio)
    p7 = PKCS7_encrypt(stack, bio, cipher, flags);
    M2_DISALLOW_USING
    if (!p7) m2_raise_msg(M2_SMIME, "cannot encrypt");
    return p7;
}

/* The content of an envelopedData (bytes), decrypted with pkey; cert (which must match
 * pkey) picks the recipient.  PKCS7_Error on failure. */
static PyObject *pkcs7_decrypt(PKCS7 *p7, EVP_PKEY *pkey, X509 *optional_x509, int flags) {
    BIO *out;
    PyObject *v = NULL;
    int r;
    if (!(out = BIO_new(BIO_s_mem()))) return m2_raise(M2_PKCS7);
    M2_ALLOW_USING(p7, pkey, optional_x509)
    r = PKCS7_decrypt(p7, pkey, optional_x509, out, flags);
    M2_DISALLOW_USING
    if (r != 1)
        m2_raise_msg(M2_PKCS7, "cannot decrypt");
    else
        v = m2_mem_bio_bytes(out);
    BIO_free(out);
    return v;
}

/* ---- encodings ---- */
static PKCS7 *pkcs7_read_bio(BIO *bio) {
    PKCS7 *p7;
    M2_ALLOW_USING(bio)
    p7 = PEM_read_bio_PKCS7(bio, NULL, m2_passphrase_cb, NULL);  /* never a prompt */
    M2_DISALLOW_USING
    if (!p7) m2_raise_msg(M2_PKCS7, "cannot read a PEM PKCS#7");
    return p7;
}

static PKCS7 *pkcs7_read_bio_der(BIO *bio) {
    PKCS7 *p7;
    M2_ALLOW_USING(bio)
    p7 = d2i_PKCS7_bio(bio, NULL);
    M2_DISALLOW_USING
    if (!p7) m2_raise_msg(M2_PKCS7, "cannot read a DER PKCS#7");
    return p7;
}

static int pkcs7_write_bio(PKCS7 *p7, BIO *bio) {
    int r;
    M2_ALLOW_USING(p7, bio)
    r = PEM_write_bio_PKCS7(bio, p7);
    M2_DISALLOW_USING
    if (r != 1) { m2_raise_msg(M2_PKCS7, "cannot write the PKCS#7"); return 0; }
    return 1;
}

static int pkcs7_write_bio_der(PKCS7 *p7, BIO *bio) {
    int r;
    M2_ALLOW_USING(p7, bio)
    r = i2d_PKCS7_bio(bio, p7);
    M2_DISALLOW_USING
    if (r != 1) { m2_raise_msg(M2_PKCS7, "cannot write the PKCS#7"); return 0; }
    return 1;
}

static int pkcs7_type_nid(PKCS7 *p7) { return p7->type ? OBJ_obj2nid(p7->type) : NID_undef; }

static const char *pkcs7_type_sn(PKCS7 *p7) {
    const char *sn = OBJ_nid2sn(pkcs7_type_nid(p7));
    return sn ? sn : "UNDEF";
}

/* ---- S/MIME (RFC 8551) ---- */

/* p7 as an S/MIME message; with PKCS7_DETACHED, multipart/signed around data. */
static int smime_write_pkcs7_multi(BIO *bio, PKCS7 *p7, BIO *data, int flags) {
    int r;
    M2_ALLOW_USING(bio, p7, data)
    r = SMIME_write_PKCS7(bio, p7, data, flags | PKCS7_DETACHED);
    M2_DISALLOW_USING
    if (r != 1) { m2_raise_msg(M2_SMIME, "cannot write the S/MIME message"); return 0; }
    return 1;
}

static int smime_write_pkcs7(BIO *bio, PKCS7 *p7, int flags) {
    int r;
    M2_ALLOW_USING(bio, p7)
    r = SMIME_write_PKCS7(bio, p7, NULL, flags);
    M2_DISALLOW_USING
    if (r != 1) { m2_raise_msg(M2_SMIME, "cannot write the S/MIME message"); return 0; }
    return 1;
}

/* (PKCS7, content BIO or None): the content is the first part of a multipart/signed
 * message, in a new memory BIO the caller owns.  SMIME_Error on failure. */
static PyObject *smime_read_pkcs7(BIO *bio) {
    BIO *bcont = NULL;
    PKCS7 *p7;
    PyObject *a, *b;
    if (BIO_method_type(bio) == BIO_TYPE_MEM)
        BIO_set_mem_eof_return(bio, 0);  /* an empty memory BIO is the end, not "retry" */
    M2_ALLOW_USING(bio)
    p7 = SMIME_read_PKCS7(bio, &bcont);
    M2_DISALLOW_USING
    if (!p7) { BIO_free(bcont); return m2_raise_msg(M2_SMIME, "cannot read the S/MIME message"); }
    if (!(a = SWIG_NewPointerObj(p7, SWIGTYPE_p_PKCS7, 0))) { PKCS7_free(p7); BIO_free(bcont); return NULL; }
    if (bcont)
        b = SWIG_NewPointerObj(bcont, SWIGTYPE_p_BIO, 0);
    else
        b = Py_NewRef(Py_None);
    if (!b) { Py_DECREF(a); PKCS7_free(p7); BIO_free(bcont); return NULL; }
    return Py_BuildValue("(NN)", a, b);
}

/* Copies in to out as text/plain with CRLF line ends (SMIME_crlf_copy with PKCS7_TEXT). */
static int smime_crlf_copy(BIO *in, BIO *out) {
    int r;
    M2_ALLOW_USING(in, out)
    r = SMIME_crlf_copy(in, out, PKCS7_TEXT);
    M2_DISALLOW_USING
    if (r != 1) { m2_raise_msg(M2_SMIME, "cannot copy the text"); return 0; }
    return 1;
}
%}
