/* _cms.i: CMS (RFC 5652) on OpenSSL's CMS API: SignedData, EnvelopedData, AuthEnvelopedData
 * (RFC 5083/5084), CompressedData (RFC 3274), DigestedData, their DER, PEM and S/MIME
 * (RFC 8551) encodings, with streaming through BIOs (CMS_STREAM).
 *
 * Failures raise one of five classes, registered from M2Sec/CMS.py: CMSError (the area's),
 * and its subclasses for malformed input (FORMAT), a signature or content digest that does not
 * verify (SIGNATURE), a message that does not decrypt (DECRYPT) and an algorithm OpenSSL lacks
 * (UNSUPPORTED, chosen from OpenSSL's reason codes by m2_cms_raise). */
%{
#include <openssl/buffer.h>
#include <openssl/cms.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <openssl/x509v3.h>
%}

M2_NONNULL(CMS_ContentInfo *)
/* CMS.ContentInfo's base, m2.CMSBase (below), holds its CMS_ContentInfo itself, as EVP.Cipher's
 * m2.CipherBase holds its context: a CMS_ContentInfo * argument takes such an object as well as
 * a pointer, and m2.cms_free() given one takes the pointer from it first (freed once). */
%{
static PyTypeObject m2_cms_type;
%}
M2_CTX_ARG(CMS_ContentInfo, m2_cms_type)
M2_AREA_INIT(cms_init, M2_CMS)
M2_AREA_INIT(cms_format_init, M2_CMS_FORMAT)
M2_AREA_INIT(cms_signature_init, M2_CMS_SIGNATURE)
M2_AREA_INIT(cms_decrypt_init, M2_CMS_DECRYPT)
M2_AREA_INIT(cms_unsupported_init, M2_CMS_UNSUPPORTED)
/* Arguments where None means "none": detached content, an output, a digest, a key, a store. */
%typemap(check) BIO *optional_bio "";
%typemap(check) BIO *optional_out "";
%typemap(check) const EVP_MD *optional_md "";
%typemap(check) EVP_PKEY *optional_pkey "";
%typemap(check) X509 *optional_cert "";
%typemap(check) X509_STORE *optional_store "";
%apply (const void *buf, Py_ssize_t len) { (const void *key, Py_ssize_t keylen), (const void *id, Py_ssize_t idlen) };

%constant int CMS_TEXT = CMS_TEXT;
%constant int CMS_NOCERTS = CMS_NOCERTS;
%constant int CMS_NO_CONTENT_VERIFY = CMS_NO_CONTENT_VERIFY;
%constant int CMS_NO_ATTR_VERIFY = CMS_NO_ATTR_VERIFY;
%constant int CMS_NOSIGS = CMS_NOSIGS;
%constant int CMS_NOINTERN = CMS_NOINTERN;
%constant int CMS_NO_SIGNER_CERT_VERIFY = CMS_NO_SIGNER_CERT_VERIFY;
%constant int CMS_NOVERIFY = CMS_NOVERIFY;
%constant int CMS_DETACHED = CMS_DETACHED;
%constant int CMS_BINARY = CMS_BINARY;
%constant int CMS_NOATTR = CMS_NOATTR;
%constant int CMS_NOSMIMECAP = CMS_NOSMIMECAP;
%constant int CMS_NOOLDMIMETYPE = CMS_NOOLDMIMETYPE;
%constant int CMS_CRLFEOL = CMS_CRLFEOL;
%constant int CMS_STREAM = CMS_STREAM;
%constant int CMS_NOCRL = CMS_NOCRL;
%constant int CMS_PARTIAL = CMS_PARTIAL;
%constant int CMS_REUSE_DIGEST = CMS_REUSE_DIGEST;
%constant int CMS_USE_KEYID = CMS_USE_KEYID;
%constant int CMS_DEBUG_DECRYPT = CMS_DEBUG_DECRYPT;
%constant int CMS_KEY_PARAM = CMS_KEY_PARAM;
%constant int CMS_ASCIICRLF = CMS_ASCIICRLF;

/* content types (NIDs) */
%constant int CMS_DATA = NID_pkcs7_data;
%constant int CMS_SIGNED = NID_pkcs7_signed;
%constant int CMS_ENVELOPED = NID_pkcs7_enveloped;
%constant int CMS_DIGESTED = NID_pkcs7_digest;
%constant int CMS_ENCRYPTED = NID_pkcs7_encrypted;
%constant int CMS_AUTH_ENVELOPED = NID_id_smime_ct_authEnvelopedData;
%constant int CMS_COMPRESSED = NID_id_smime_ct_compressedData;

/* recipient kinds */
%constant int CMS_RECIPINFO_TRANS = CMS_RECIPINFO_TRANS;
%constant int CMS_RECIPINFO_AGREE = CMS_RECIPINFO_AGREE;
%constant int CMS_RECIPINFO_KEK = CMS_RECIPINFO_KEK;
%constant int CMS_RECIPINFO_PASS = CMS_RECIPINFO_PASS;
%constant int CMS_RECIPINFO_OTHER = CMS_RECIPINFO_OTHER;

M2_FREE(cms_free, CMS_ContentInfo_free, CMS_ContentInfo, owned_ctx)

/* ---- m2.CMSBase: the CMS_ContentInfo of CMS.ContentInfo, freed when the object dies ----
 * One is made per message: owning the pointer in C spares each message a Python __init__ and a
 * __del__ finalizer.  ContentInfo(ptr, _stream=None, _flags=0) takes the pointer a cms_*
 * function returned; _p is the object itself while it holds one (what m2's functions take),
 * None after close(), which frees it (setting _p to None). */
%{
static void m2_cms_dealloc(m2_ctx_obj *self) {
    CMS_ContentInfo *cms = self->ctx;
    self->ctx = NULL;
    m2_free_or_defer(cms, m2_free_fn_cms_free);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int m2_cms_init(m2_ctx_obj *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"ptr", "_stream", "_flags", NULL};
    PyObject *ptr, *stream = Py_None, *flags = NULL;
    void *cms = NULL;
    if (!kw && PyTuple_GET_SIZE(args) == 1)  /* ContentInfo(ptr), once per message: no argument parser */
        ptr = PyTuple_GET_ITEM(args, 0);
    else if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO:ContentInfo", names, &ptr, &stream, &flags))
        return -1;
    if (ptr == Py_None) {
        PyErr_Format(PyExc_ValueError, "%s needs an OpenSSL pointer, got None", Py_TYPE(self)->tp_name);
        return -1;
    }
    if (!SWIG_IsOK(SWIG_ConvertPtr(ptr, &cms, SWIGTYPE_p_CMS_ContentInfo, 0)) || !cms) {
        PyErr_SetString(PyExc_TypeError, "ContentInfo() needs a CMS_ContentInfo pointer");
        return -1;
    }
    m2_free_or_defer(self->ctx, m2_free_fn_cms_free);
    self->ctx = cms;
    if (stream != Py_None && PyObject_SetAttrString((PyObject *)self, "_stream", stream) < 0) return -1;
    if (flags && PyObject_IsTrue(flags) && PyObject_SetAttrString((PyObject *)self, "_flags", flags) < 0) return -1;
    return 0;
}

static int m2_cms_set_p(m2_ctx_obj *self, PyObject *v, void *c) {
    CMS_ContentInfo *cms = self->ctx;
    (void)c;
    if (v != NULL && v != Py_None) { PyErr_SetString(PyExc_ValueError, "_p can only be set to None"); return -1; }
    self->ctx = NULL;
    m2_free_or_defer(cms, m2_free_fn_cms_free);
    return 0;
}

static PyGetSetDef m2_cms_getset[] = {
    {"_p", (getter)m2_ctx_get_p, (setter)m2_cms_set_p, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}
};
static PyTypeObject m2_cms_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "M2Sec._m2sec.CMSBase",
    .tp_basicsize = sizeof(m2_ctx_obj),
    .tp_dealloc = (destructor)m2_cms_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A CMS_ContentInfo owned by its object (CMS.ContentInfo's base).",
    .tp_getset = m2_cms_getset,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)m2_cms_init,
};
%}
%init %{
    if (PyType_Ready(&m2_cms_type) < 0 || PyModule_AddObject(m, "CMSBase", Py_NewRef(&m2_cms_type)) < 0)
        return -1;
%}

%{
/* 1 if e says that an algorithm (cipher, digest, key type, recipient or content type) is one
 * this OpenSSL does not have or CMS cannot use. */
static int m2_cms_is_unsupported(unsigned long e) {
    int lib = ERR_GET_LIB(e), r = ERR_GET_REASON(e);
    if (!e) return 0;
    if (r == ERR_R_UNSUPPORTED) return 1;
    if (lib == ERR_LIB_CMS)
        switch (r) {
        case CMS_R_UNKNOWN_CIPHER: case CMS_R_UNKNOWN_DIGEST_ALGORITHM:
        case CMS_R_UNSUPPORTED_COMPRESSION_ALGORITHM: case CMS_R_UNSUPPORTED_CONTENT_TYPE:
        case CMS_R_UNSUPPORTED_KEK_ALGORITHM: case CMS_R_UNSUPPORTED_KEY_ENCRYPTION_ALGORITHM:
        case CMS_R_UNSUPPORTED_RECIPIENT_TYPE: case CMS_R_UNSUPPORTED_TYPE:
        case CMS_R_UNSUPPORTED_ENCRYPTION_TYPE: case CMS_R_NOT_SUPPORTED_FOR_THIS_KEY_TYPE:
        case CMS_R_NO_DEFAULT_DIGEST:
            return 1;
        }
    if (lib == ERR_LIB_EVP)
        switch (r) {
        case EVP_R_UNSUPPORTED_CIPHER: case EVP_R_UNSUPPORTED_ALGORITHM:
        case EVP_R_OPERATION_NOT_SUPPORTED_FOR_THIS_KEYTYPE: case EVP_R_UNSUPPORTED_KEY_SIZE:
            return 1;
        }
    return 0;
}

/* m2_raise_msg for CMS: area's class, or the UNSUPPORTED class if OpenSSL says so. */
static PyObject *m2_cms_raise(int area, const char *msg) {
    if (m2_cms_is_unsupported(ERR_peek_error()) || m2_cms_is_unsupported(ERR_peek_last_error()))
        area = M2_CMS_UNSUPPORTED;
    return m2_raise_msg(area, msg);
}

/* The SMIMECapabilities M2Sec's signers announce (RFC 8551 section 2.5.2): AES-GCM first
 * (AuthEnvelopedData, section 2.7), then AES-CBC; built once. */
static STACK_OF(X509_ALGOR) *m2_cms_smimecap_cache;

static STACK_OF(X509_ALGOR) *m2_cms_smimecap(void) {
    static const int caps[] = {NID_aes_256_gcm, NID_aes_128_gcm, NID_aes_256_cbc, NID_aes_192_cbc, NID_aes_128_cbc};
    STACK_OF(X509_ALGOR) *sk;
    size_t i;
    if (m2_cms_smimecap_cache) return m2_cms_smimecap_cache;
    if (!(sk = sk_X509_ALGOR_new_null())) return NULL;
    for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
        if (!PKCS7_simple_smimecap(sk, caps[i], -1)) {
            sk_X509_ALGOR_pop_free(sk, X509_ALGOR_free);
            return NULL;
        }
    return m2_cms_smimecap_cache = sk;
}

/* An X509.X509 object holding a new reference to x (None for NULL). */
static PyObject *m2_cms_x509_obj(X509 *x) {
    if (!x) return Py_NewRef(Py_None);
    if (!X509_up_ref(x)) return m2_raise(M2_CMS);
    return m2_x509_wrap(x);
}

/* Seconds since the epoch of an ASN1_TIME, or None. */
static PyObject *m2_cms_time_obj(const ASN1_TIME *t) {
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) { ERR_clear_error(); return Py_NewRef(Py_None); }
    return PyLong_FromLongLong((long long)timegm(&tm));
}

/* The signing-time attribute of si (RFC 5652 section 11.3) as seconds, or None. */
static PyObject *m2_cms_signing_time(CMS_SignerInfo *si) {
    int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    X509_ATTRIBUTE *attr;
    ASN1_TYPE *t;
    if (idx < 0 || !(attr = CMS_signed_get_attr(si, idx)) || !(t = X509_ATTRIBUTE_get0_type(attr, 0)))
        return Py_NewRef(Py_None);
    if (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME) return Py_NewRef(Py_None);
    return m2_cms_time_obj((const ASN1_TIME *)t->value.asn1_string);
}

/* The SMIMECapabilities attribute of si (RFC 8551 section 2.5.2) as [long name], in the
 * sender's order of preference; [] if absent or unreadable. */
static PyObject *m2_cms_capabilities(CMS_SignerInfo *si) {
    ASN1_STRING *seq = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_SMIMECapabilities), -3, V_ASN1_SEQUENCE);
    const unsigned char *p;
    STACK_OF(X509_ALGOR) *algs = NULL;
    PyObject *list = PyList_New(0);
    int i;
    if (!list || !seq) { ERR_clear_error(); return list; }
    p = ASN1_STRING_get0_data(seq);
    algs = (STACK_OF(X509_ALGOR) *)ASN1_item_d2i(NULL, &p, ASN1_STRING_length(seq), ASN1_ITEM_rptr(X509_ALGORS));
    for (i = 0; i < sk_X509_ALGOR_num(algs); i++) {
        const ASN1_OBJECT *obj = NULL;
        const char *ln;
        PyObject *name;
        X509_ALGOR_get0(&obj, NULL, NULL, sk_X509_ALGOR_value(algs, i));
        ln = obj ? OBJ_nid2ln(OBJ_obj2nid(obj)) : NULL;
        if (!ln) continue;
        if (!(name = PyUnicode_FromString(ln)) || PyList_Append(list, name) < 0) {
            Py_XDECREF(name);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(name);
    }
    sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
    ERR_clear_error();
    return list;
}

static const char *m2_cms_alg_sn(X509_ALGOR *alg) {
    const ASN1_OBJECT *obj = NULL;
    const char *sn;
    if (!alg) return "";
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    sn = obj ? OBJ_nid2sn(OBJ_obj2nid(obj)) : NULL;
    return sn ? sn : "UNDEF";
}

/* 1 if OpenSSL's CMS can use a key of type alg ("X25519", "X448": key agreement for a
 * recipient; "ED25519", "ED448": signing): tried once on a throw-away key and certificate.
 * EdDSA keys have no default digest (EVP_PKEY_get_default_digest_nid says none), so the probe
 * names SHA-512 (RFC 8419's for Ed25519): with NULL, CMS_sign fails on every OpenSSL. */
static int m2_cms_probe_key_type(const char *alg) {
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, alg);
    X509 *x = X509_new();
    BIO *in = BIO_new_mem_buf("probe", 5);
    CMS_ContentInfo *cms = NULL;
    STACK_OF(X509) *sk = sk_X509_new_null();
    int r = 0, sign = alg[0] == 'E' || alg[0] == 'e';
    if (!pk || !x || !in || !sk || !X509_set_pubkey(x, pk) || !sk_X509_push(sk, x)) goto err;
    if (sign) {
        if (!X509_set_issuer_name(x, X509_get_subject_name(x)) || !X509_sign(x, pk, NULL)) goto err;
        if (!(cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_BINARY | CMS_PARTIAL))
            || !CMS_add1_signer(cms, x, pk, EVP_sha512(), CMS_BINARY) || !CMS_final(cms, in, NULL, CMS_BINARY)) {
            CMS_ContentInfo_free(cms);
            cms = NULL;
        }
    } else {
        cms = CMS_encrypt(sk, in, EVP_aes_128_cbc(), CMS_BINARY);
    }
    r = cms != NULL;
err:
    CMS_ContentInfo_free(cms);
    sk_X509_free(sk);
    X509_free(x);
    EVP_PKEY_free(pk);
    BIO_free(in);
    ERR_clear_error();
    return r;
}

/* m2_cms_probe_key_type("ED25519"), asked once. */
static int m2_cms_eddsa_ok(void) {
    static int known = -1;
    if (known < 0) known = m2_cms_probe_key_type("ED25519");
    return known;
}

/* Empties the error queue (ERR_clear_error walks all its slots even when it is empty: a tenth
 * of a microsecond each time, on per-message paths). */
static void m2_cms_clear_errors(void) {
    if (ERR_peek_error()) ERR_clear_error();
}

/* The length of cms's content as it is held (signed, digested or compressed content; the
 * ciphertext of an (auth)envelopedData); 0 when detached or unknown. */
static size_t m2_cms_content_len(CMS_ContentInfo *cms) {
    ASN1_OCTET_STRING **pos;
    ERR_set_mark();
    pos = CMS_get0_content(cms);
    ERR_pop_to_mark();
    return pos && *pos ? (size_t)ASN1_STRING_length(*pos) : 0;
}

/* A memory BIO with room for reserve bytes, allocated as they are (BUF_MEM_grow would allocate
 * a third more and zero all of it, touching every page before it is written); it grows past
 * them as a memory BIO does.  NULL if out of memory. */
static BIO *m2_cms_mem_new(size_t reserve) {
    BIO *b = BIO_new(BIO_s_mem());
    BUF_MEM *bm;
    if (b && reserve > 0 && (bm = BUF_MEM_new()) != NULL) {
        if ((bm->data = OPENSSL_malloc(reserve)) != NULL) {
            bm->max = reserve;
            BIO_set_mem_buf(b, bm, BIO_CLOSE);
        } else {
            BUF_MEM_free(bm);  /* no room reserved: it grows as it is written */
        }
    }
    m2_cms_clear_errors();
    return b;
}

/* The output of a call that returns bytes: a write-only BIO that writes straight into the
 * bytes object returned, made beforehand (GIL held) with room for reserve bytes, the expected
 * size.  Writing needs no GIL (nothing else sees the object until it is returned) and copies
 * the output once: a memory BIO would take it, then a copy into bytes (a second copy, and a
 * fresh allocation to fault in: a tenth of a millisecond a MiB).  What outgrows reserve goes
 * on into a memory BIO, joined once at the end (m2_cms_take_bytes).  Freed with the GIL held. */
typedef struct {
    PyObject *bytes;  /* NULL when reserve was 0 */
    size_t cap, len;
    BIO *spill;       /* NULL until the output outgrows cap */
} m2_cms_sink;

static int m2_cms_sink_write(BIO *b, const char *in, int n) {
    m2_cms_sink *s = BIO_get_data(b);
    if (n <= 0) return 0;
    if (!s->spill && (size_t)n <= s->cap - s->len) {
        memcpy(PyBytes_AS_STRING(s->bytes) + s->len, in, (size_t)n);
        s->len += (size_t)n;
        return n;
    }
    if (!s->spill && !(s->spill = BIO_new(BIO_s_mem()))) return -1;
    return BIO_write(s->spill, in, n);
}

static long m2_cms_sink_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b; (void)num; (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int m2_cms_sink_destroy(BIO *b) {
    m2_cms_sink *s = BIO_get_data(b);
    if (s) {
        BIO_free(s->spill);
        Py_XDECREF(s->bytes);
        OPENSSL_free(s);
        BIO_set_data(b, NULL);
    }
    return 1;
}

static BIO_METHOD *m2_cms_sink_method;

/* The sink BIO for the output of a call (reserve: the expected size); NULL with an exception. */
static BIO *m2_cms_out_new(size_t reserve) {
    m2_cms_sink *s;
    BIO *b;
    if (!m2_cms_sink_method) {  /* made once, with the GIL held */
        BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "M2Sec bytes sink");
        if (!m || !BIO_meth_set_write(m, m2_cms_sink_write) || !BIO_meth_set_ctrl(m, m2_cms_sink_ctrl)
            || !BIO_meth_set_destroy(m, m2_cms_sink_destroy)) {
            BIO_meth_free(m);
            m2_cms_raise(M2_CMS, NULL);
            return NULL;
        }
        m2_cms_sink_method = m;
    }
    if (!(s = OPENSSL_zalloc(sizeof(*s)))) { m2_cms_raise(M2_CMS, NULL); return NULL; }
    if (reserve > 0 && (reserve > PY_SSIZE_T_MAX || !(s->bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)reserve)))) {
        PyErr_Clear();  /* too large to reserve: everything goes to the spill */
        reserve = 0;
    }
    s->cap = reserve;
    if (!(b = BIO_new(m2_cms_sink_method))) {
        Py_XDECREF(s->bytes);
        OPENSSL_free(s);
        m2_cms_raise(M2_CMS, NULL);
        return NULL;
    }
    BIO_set_data(b, s);
    BIO_set_init(b, 1);
    return b;
}

/* out's bytes (out freed, GIL held): the object written into, cut to its length, or joined
 * with what spilled past it. */
static PyObject *m2_cms_take_bytes(BIO *out) {
    m2_cms_sink *s = BIO_get_data(out);
    PyObject *r = NULL;
    char *p = NULL;
    long n = s->spill ? BIO_get_mem_data(s->spill, &p) : 0;
    if (n <= 0 && s->bytes && s->len > 0) {
        r = s->bytes;
        s->bytes = NULL;
        if (s->len < s->cap && _PyBytes_Resize(&r, (Py_ssize_t)s->len) < 0) r = NULL;  /* frees r on failure */
    } else if ((r = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)s->len + (n > 0 ? n : 0))) != NULL) {
        if (s->len) memcpy(PyBytes_AS_STRING(r), PyBytes_AS_STRING(s->bytes), s->len);
        if (n > 0) memcpy(PyBytes_AS_STRING(r) + s->len, p, (size_t)n);
    }
    BIO_free(out);
    return r;
}

/* Copies everything readable from in to out: 1, or 0 with the error queue set. */
static int m2_cms_copy(BIO *in, BIO *out) {
    char buf[16384];
    int n;
    while ((n = BIO_read(in, buf, sizeof(buf))) > 0)
        if (BIO_write(out, buf, n) != n) return 0;
    return 1;
}
/* CMS_final(cms, in): 1, or 0 with an exception.  Content held inside the structure (attached
 * signed content, the ciphertext of an envelopedData) is gathered in a memory BIO, which
 * CMS_dataFinal hands over to the structure: OpenSSL's own grows by a third at each step, with
 * a copy, a cleanse and a fresh allocation each time (four times the content allocated and
 * faulted in); given as dcont, one with room for size bytes (the input's size, and a cipher
 * block of padding) takes it in one allocation.  (CMS_dataInit writes the content to dcont in
 * place of its own memory BIO, and CMS_dataFinal takes the content from the first memory BIO
 * of the chain; OpenSSL 3.0 to 3.5 alike.) */
static int m2_cms_final(CMS_ContentInfo *cms, BIO *in, int flags, size_t size) {
    ASN1_OCTET_STRING **pos;
    BIO *dcont = NULL;
    int r;
    if (size > 0 && !(flags & CMS_STREAM)) {
        ERR_set_mark();
        pos = CMS_get0_content(cms);
        ERR_pop_to_mark();
        if (pos && *pos && ((*pos)->flags & ASN1_STRING_FLAG_CONT)
            && !(dcont = m2_cms_mem_new(size + EVP_MAX_BLOCK_LENGTH))) {
            m2_cms_raise(M2_CMS, NULL);
            return 0;
        }
    }
    M2_ALLOW_USING(cms, in)
    r = CMS_final(cms, in, dcont, flags);
    M2_DISALLOW_USING
    BIO_free(dcont);  /* a read-only view by now: the content belongs to cms */
    if (r != 1) { m2_cms_raise(M2_CMS, "cannot complete the CMS structure"); return 0; }
    return 1;
}

/* CMS_verify into out; without out, into bytes returned (room for reserve bytes), or (keep 0)
 * nowhere: None or the bytes. */
static PyObject *m2_cms_verify_into(CMS_ContentInfo *cms, STACK_OF(X509) *stack, X509_STORE *store, BIO *dcont,
                                    BIO *out, int flags, size_t reserve, int keep) {
    BIO *own = NULL;
    int r;
    if (!out && keep && !(out = own = m2_cms_out_new(reserve))) return NULL;
    M2_ALLOW_USING(cms, stack, store, dcont, out)
    r = CMS_verify(cms, stack, store, dcont, out, flags);
    M2_DISALLOW_USING
    if (PyErr_Occurred()) { ERR_clear_error(); BIO_free(own); return NULL; }  /* a verify callback raised */
    if (r != 1) {
        int area = M2_CMS_SIGNATURE;
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_CMS && (ERR_GET_REASON(e) == CMS_R_SIGNER_CERTIFICATE_NOT_FOUND
                                              || ERR_GET_REASON(e) == CMS_R_CONTENT_TYPE_NOT_SIGNED_DATA
                                              || ERR_GET_REASON(e) == CMS_R_NO_CONTENT))
            area = M2_CMS;
        BIO_free(own);
        return m2_cms_raise(area, "the signed data does not verify");
    }
    return own ? m2_cms_take_bytes(own) : Py_NewRef(Py_None);
}
%}

%inline %{
/* ---- SignedData ---- */

/* A new signedData to add signers to (CMS_sign with CMS_PARTIAL), with the certificates of
 * optional_stack; CMS_DETACHED, CMS_STREAM, CMS_NOCERTS ... as in CMS_sign(3). */
static CMS_ContentInfo *cms_sign_new(STACK_OF(X509) *optional_stack, int flags) {
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, optional_stack, NULL, flags | CMS_PARTIAL);
    if (!cms) m2_cms_raise(M2_CMS, "cannot create a signedData");
    return cms;
}

/* Adds a signer (CMS_add1_signer): digest optional_md (None: the key's default); pss chooses
 * RSA-PSS (RFC 4056: salt as long as the digest, MGF1 with the same digest).  Unless
 * CMS_NOATTR or CMS_NOSMIMECAP, the signer announces AES-GCM and AES-CBC. */
static int cms_add1_signer(CMS_ContentInfo *cms, X509 *x509, EVP_PKEY *pkey, const EVP_MD *optional_md, int flags, int pss) {
    CMS_SignerInfo *si;
    EVP_PKEY_CTX *pctx;
    STACK_OF(X509_ALGOR) *caps = NULL;
    if ((EVP_PKEY_is_a(pkey, "ED25519") || EVP_PKEY_is_a(pkey, "ED448")) && !m2_cms_eddsa_ok()) {
        PyErr_Format(m2_area_class(M2_CMS_UNSUPPORTED), "this OpenSSL's CMS cannot sign with %s (RFC 8419)",
                     EVP_PKEY_get0_type_name(pkey));
        return 0;
    }
    if (!(flags & (CMS_NOATTR | CMS_NOSMIMECAP)) && !(caps = m2_cms_smimecap())) {
        m2_cms_raise(M2_CMS, "cannot list the S/MIME capabilities");
        return 0;
    }
    si = CMS_add1_signer(cms, x509, pkey, optional_md, flags | CMS_NOSMIMECAP | (pss ? CMS_KEY_PARAM : 0));
    if (!si) { m2_cms_raise(M2_CMS, "cannot add the signer"); return 0; }
    if (pss && (!(pctx = CMS_SignerInfo_get0_pkey_ctx(si))
                || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0
                || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)) {
        m2_cms_raise(M2_CMS, "cannot sign with RSA-PSS (is this an RSA key?)");
        return 0;
    }
    if (caps && !CMS_add_smimecap(si, caps)) { m2_cms_raise(M2_CMS, "cannot add the S/MIME capabilities"); return 0; }
    return 1;
}

static int cms_add1_cert(CMS_ContentInfo *cms, X509 *x509) {
    if (!CMS_add1_cert(cms, x509)) { m2_cms_raise(M2_CMS, "cannot add the certificate"); return 0; }
    return 1;
}

static int cms_add1_crl(CMS_ContentInfo *cms, X509_CRL *crl) {
    if (!CMS_add1_crl(cms, crl)) { m2_cms_raise(M2_CMS, "cannot add the CRL"); return 0; }
    return 1;
}

/* Reads data to its end and completes cms (signs, encrypts, digests, compresses). */
static int cms_final(CMS_ContentInfo *cms, BIO *bio, int flags) {
    return m2_cms_final(cms, bio, flags, 0);
}

/* cms_final over the bytes of a buffer, read in place (a read-only memory BIO on the
 * caller's buffer, which the typemap holds for the call): no copy of the content. */
static int cms_final_buffer(CMS_ContentInfo *cms, const void *buf, Py_ssize_t len, int flags) {
    BIO *in = BIO_new_mem_buf(buf, (int)len);
    int r;
    if (!in) { m2_cms_raise(M2_CMS, NULL); return 0; }
    r = m2_cms_final(cms, in, flags, (size_t)len);
    BIO_free(in);
    return r;
}

/* The whole of sign for one signer in one call (the common case, per message): cms_sign_new
 * without extra certificates, cms_add1_signer and cms_final_buffer over buf. */
static CMS_ContentInfo *cms_sign_buffer(const void *buf, Py_ssize_t len, X509 *x509, EVP_PKEY *pkey,
                                        const EVP_MD *optional_md, int flags, int pss) {
    CMS_ContentInfo *cms = cms_sign_new(NULL, flags);
    if (!cms) return NULL;
    if (cms_add1_signer(cms, x509, pkey, optional_md, flags, pss) && cms_final_buffer(cms, buf, len, flags)) return cms;
    CMS_ContentInfo_free(cms);
    return NULL;
}

/* Verifies every signature (and, unless CMS_NO_SIGNER_CERT_VERIFY, every signer's chain
 * against optional_store) and writes the content to optional_out (None: returned as bytes).
 * The detached content is read from optional_bio.  Anything written to optional_out is only
 * trustworthy once this returns. */
static PyObject *cms_verify(CMS_ContentInfo *cms, STACK_OF(X509) *optional_stack, X509_STORE *optional_store,
                            BIO *optional_bio, BIO *optional_out, int flags) {
    return m2_cms_verify_into(cms, optional_stack, optional_store, optional_bio, optional_out, flags,
                              m2_cms_content_len(cms), 1);
}

/* cms_verify with the detached content in a buffer, read in place; with keep 0 and no
 * optional_out the content goes nowhere (the caller has it: bytes are immutable) and None is
 * returned. */
static PyObject *cms_verify_buffer(CMS_ContentInfo *cms, STACK_OF(X509) *optional_stack, const void *buf,
                                   Py_ssize_t len, BIO *optional_out, int flags, int keep) {
    BIO *in = BIO_new_mem_buf(buf, (int)len);
    PyObject *r;
    if (!in) return m2_cms_raise(M2_CMS, NULL);
    r = m2_cms_verify_into(cms, optional_stack, NULL, in, optional_out, flags, (size_t)len, keep);
    BIO_free(in);
    return r;
}

/* [(signer certificate, verify code, depth, chain)] for each signer found by cms_verify: its
 * chain checked against store for purpose (e.g. "smime_sign"), the message's certificates and
 * optional_stack as intermediates, the message's CRLs unless CMS_NOCRL, at at_time (seconds;
 * negative: now).  A code of 0 is a chain that verified; chain is the rest of it, after the
 * signer's certificate (which is its first), and empty when it did not verify. */
static PyObject *cms_check_signers(CMS_ContentInfo *cms, STACK_OF(X509) *optional_stack, X509_STORE *store,
                                   int flags, long long at_time, const char *purpose) {
    STACK_OF(X509) *signers = NULL, *untrusted = NULL, *inner = NULL, *chain;
    STACK_OF(X509_CRL) *crls = NULL;
    X509_STORE_CTX *ctx = NULL;
    PyObject *list = NULL, *item;
    int i, j, r;
    if (!(signers = CMS_get0_signers(cms))) { m2_cms_raise(M2_CMS, "no signer certificates (verify first)"); goto err; }
    if (!(untrusted = sk_X509_new_null()) || !(ctx = X509_STORE_CTX_new()) || !(list = PyList_New(0))) {
        if (!PyErr_Occurred()) m2_cms_raise(M2_CMS, NULL);
        goto err;
    }
    inner = CMS_get1_certs(cms);
    for (i = 0; i < sk_X509_num(inner); i++)
        if (!sk_X509_push(untrusted, sk_X509_value(inner, i))) { m2_cms_raise(M2_CMS, NULL); goto err; }
    for (i = 0; i < sk_X509_num(optional_stack); i++)
        if (!sk_X509_push(untrusted, sk_X509_value(optional_stack, i))) { m2_cms_raise(M2_CMS, NULL); goto err; }
    if (!(flags & CMS_NOCRL)) crls = CMS_get1_crls(cms);
    m2_cms_clear_errors();
    for (i = 0; i < sk_X509_num(signers); i++) {
        X509 *x = sk_X509_value(signers, i);
        PyObject *chain_list;
        int code, depth;
        if (!X509_STORE_CTX_init(ctx, store, x, untrusted) || !X509_STORE_CTX_set_default(ctx, purpose)) {
            m2_cms_raise(M2_CMS, "cannot set up the certificate check (unknown purpose?)");
            goto err;
        }
        if (crls) X509_STORE_CTX_set0_crls(ctx, crls);
        if (at_time >= 0) X509_STORE_CTX_set_time(ctx, 0, (time_t)at_time);
        M2_ALLOW_USING(cms, optional_stack, store)
        r = X509_verify_cert(ctx);
        M2_DISALLOW_USING
        if (PyErr_Occurred()) goto err;  /* the store's verify callback raised */
        code = r > 0 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
        if (r <= 0 && code == X509_V_OK) code = X509_V_ERR_UNSPECIFIED;
        depth = r > 0 ? 0 : X509_STORE_CTX_get_error_depth(ctx);
        m2_cms_clear_errors();
        if (!(chain_list = PyList_New(0))) goto err;
        chain = r > 0 ? X509_STORE_CTX_get0_chain(ctx) : NULL;
        for (j = 1; j < sk_X509_num(chain); j++) {
            PyObject *c = m2_cms_x509_obj(sk_X509_value(chain, j));
            if (!c || PyList_Append(chain_list, c) < 0) { Py_XDECREF(c); Py_DECREF(chain_list); goto err; }
            Py_DECREF(c);
        }
        item = Py_BuildValue("(NiiN)", m2_cms_x509_obj(x), code, depth, chain_list);
        if (!item || PyList_Append(list, item) < 0) { Py_XDECREF(item); goto err; }
        Py_DECREF(item);
        X509_STORE_CTX_cleanup(ctx);
    }
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    sk_X509_pop_free(inner, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    sk_X509_free(signers);
    return list;
err:
    Py_XDECREF(list);
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    sk_X509_pop_free(inner, X509_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    sk_X509_free(signers);
    ERR_clear_error();
    return NULL;
}

/* [(certificate or None, digest, signature algorithm, signing time or None, [capability])] for each
 * SignerInfo; the certificate is looked up among the message's and optional_stack's. */
static PyObject *cms_signer_infos(CMS_ContentInfo *cms, STACK_OF(X509) *optional_stack) {
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
    PyObject *list;
    int i;
    if (!sis) return m2_cms_raise(M2_CMS, "not a signedData");
    CMS_set1_signers_certs(cms, optional_stack, 0);
    ERR_clear_error();
    if (!(list = PyList_New(0))) return NULL;
    for (i = 0; i < sk_CMS_SignerInfo_num(sis); i++) {
        CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, i);
        EVP_PKEY *pk = NULL;
        X509 *signer = NULL;
        X509_ALGOR *dig = NULL, *sig = NULL;
        PyObject *item;
        CMS_SignerInfo_get0_algs(si, &pk, &signer, &dig, &sig);
        item = Py_BuildValue("(NssNN)", m2_cms_x509_obj(signer), m2_cms_alg_sn(dig), m2_cms_alg_sn(sig),
                             m2_cms_signing_time(si), m2_cms_capabilities(si));
        if (!item || PyList_Append(list, item) < 0) { Py_XDECREF(item); Py_DECREF(list); return NULL; }
        Py_DECREF(item);
    }
    return list;
}

/* A new stack holding a reference to each certificate cms carries; None if none. */
static STACK_OF(X509) *cms_get1_certs(CMS_ContentInfo *cms) {
    STACK_OF(X509) *sk = CMS_get1_certs(cms);
    ERR_clear_error();
    return sk;
}

/* A new stack holding a reference to each CRL cms carries; None if none. */
static STACK_OF(X509_CRL) *cms_get1_crls(CMS_ContentInfo *cms) {
    STACK_OF(X509_CRL) *sk = CMS_get1_crls(cms);
    ERR_clear_error();
    return sk;
}

/* ---- EnvelopedData and AuthEnvelopedData ---- */

/* A new envelopedData (authEnvelopedData for an AEAD cipher such as AES-GCM) to add
 * recipients to: CMS_encrypt with CMS_PARTIAL. */
static CMS_ContentInfo *cms_encrypt_new(const EVP_CIPHER *cipher, int flags) {
    CMS_ContentInfo *cms = CMS_encrypt(NULL, NULL, cipher, flags | CMS_PARTIAL);
    if (!cms) m2_cms_raise(M2_CMS, "cannot create an envelopedData for this cipher");
    return cms;
}

/* Adds the holder of x509 as a recipient: key transport for RSA (RFC 5652; with oaep,
 * RSAES-OAEP with optional_md for OAEP and MGF1, RFC 3560), key agreement for EC (RFC 5753;
 * optional_md is the X9.63 KDF's digest), X25519 and X448 (RFC 8418) where OpenSSL has it. */
static int cms_add1_recipient_cert(CMS_ContentInfo *cms, X509 *x509, const EVP_MD *optional_md, int flags, int oaep) {
    EVP_PKEY *pk = X509_get0_pubkey(x509);
    EVP_PKEY_CTX *pctx;
    CMS_RecipientInfo *ri;
    int rsa, ok = 1;
    if (!pk) { m2_cms_raise(M2_CMS, "the certificate has no usable public key"); return 0; }
    rsa = EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS");
    oaep = oaep && rsa;  /* the RSA padding means nothing to other keys */
    ri = CMS_add1_recipient_cert(cms, x509, flags | (oaep ? CMS_KEY_PARAM : 0));
    if (!ri) { m2_cms_raise(M2_CMS, "cannot add the recipient"); return 0; }
    if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS && !rsa) {
        /* OpenSSL 3.0 takes X25519/X448 for key transport keys: the message would not encrypt */
        PyErr_Format(m2_area_class(M2_CMS_UNSUPPORTED), "this OpenSSL's CMS cannot encrypt to %s keys (no key agreement for them; RFC 8418)",
                     EVP_PKEY_get0_type_name(pk));
        return 0;
    }
    if (optional_md && (oaep || EVP_PKEY_is_a(pk, "EC"))) {
        pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
        if (!pctx)
            ok = 0;
        else if (oaep)
            ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0
                 && EVP_PKEY_CTX_set_rsa_oaep_md(pctx, optional_md) > 0
                 && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, optional_md) > 0;
        else
            ok = EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, optional_md) > 0;
        if (!ok) { m2_cms_raise(M2_CMS, "cannot set the recipient's key parameters"); return 0; }
    }
    return 1;
}

/* The whole of encrypt for certificate recipients in one call (the common case, per message):
 * cms_encrypt_new, cms_add1_recipient_cert for each of certs (a list of X509.X509 objects; as
 * there, optional_md is the ECDH KDF's digest) and cms_final_buffer over buf.  None, without
 * an exception, when a recipient is not an X509.X509 (CertRecipient, KEKRecipient, ...) or a
 * certificate has an X25519/X448 key: M2Sec/CMS.py adds those itself (RFC 8418,
 * M2Sec/_cms_ecx.py). */
static CMS_ContentInfo *cms_encrypt_buffer(const void *buf, Py_ssize_t len, PyObject *certs, const EVP_CIPHER *cipher,
                                           const EVP_MD *optional_md, int flags) {
    CMS_ContentInfo *cms;
    Py_ssize_t i, n;
    if (!PyList_Check(certs)) { PyErr_SetString(PyExc_TypeError, "certs must be a list"); return NULL; }
    n = PyList_GET_SIZE(certs);
    for (i = 0; i < n; i++) {
        PyObject *c = PyList_GET_ITEM(certs, i);
        X509 *x;
        EVP_PKEY *pk;
        int id;
        if (!PyObject_TypeCheck(c, &m2_x509_type)) return NULL;  /* not a certificate: the caller's slow path */
        if (!(x = ((m2_x509_obj *)c)->x)) {  /* closed: its _ptr() raises ClosedError */
            void *unused;
            m2_x509_arg(c, &unused, 1, NULL);  /* (closed: raises before taking anything) */
            return NULL;
        }
        pk = X509_get0_pubkey(x);
        id = pk ? EVP_PKEY_get_base_id(pk) : NID_undef;
        if (id == EVP_PKEY_X25519 || id == EVP_PKEY_X448) { m2_cms_clear_errors(); return NULL; }
    }
    m2_cms_clear_errors();
    if (!(cms = cms_encrypt_new(cipher, flags))) return NULL;
    for (i = 0; i < n; i++)  /* (the list is the caller's own: it cannot change meanwhile) */
        if (!cms_add1_recipient_cert(cms, ((m2_x509_obj *)PyList_GET_ITEM(certs, i))->x, optional_md, flags, 0)) goto err;
    if (cms_final_buffer(cms, buf, len, flags)) return cms;
err:
    CMS_ContentInfo_free(cms);
    return NULL;
}

/* Adds a KEK recipient (RFC 5652 section 6.2.3): AES key wrap under key (16, 24 or 32
 * bytes), named by id. */
static int cms_add0_recipient_key(CMS_ContentInfo *cms, const void *key, Py_ssize_t keylen, const void *id, Py_ssize_t idlen) {
    unsigned char *k = NULL, *i = NULL;
    if (keylen != 16 && keylen != 24 && keylen != 32) {
        PyErr_SetString(PyExc_ValueError, "a KEK is 16, 24 or 32 bytes (AES key wrap)");
        return 0;
    }
    if (!(k = OPENSSL_memdup(key, keylen)) || !(i = OPENSSL_memdup(id, idlen ? idlen : 1))) goto err;
    if (!CMS_add0_recipient_key(cms, NID_undef, k, keylen, i, idlen, NULL, NULL, NULL)) goto err;
    return 1;
err:
    OPENSSL_clear_free(k, keylen);
    OPENSSL_free(i);
    m2_cms_raise(M2_CMS, "cannot add the KEK recipient");
    return 0;
}

/* Adds a password recipient (RFC 3211): PBKDF2 with HMAC-SHA256, iter rounds (<= 0: 2048),
 * the key wrapped with AES-256-CBC (RFC 3211 wraps with a CBC cipher; OpenSSL would take the
 * content cipher, which fails for AES-GCM). */
static int cms_add0_recipient_password(CMS_ContentInfo *cms, const void *key, Py_ssize_t keylen, int iter) {
    unsigned char *p;
    const EVP_CIPHER *kek = EVP_aes_256_cbc();
    if (keylen == 0) { PyErr_SetString(PyExc_ValueError, "the password is empty"); return 0; }
    if (!(p = OPENSSL_memdup(key, keylen))) { m2_cms_raise(M2_CMS, NULL); return 0; }
    /* on failure p may already belong to the recipient OpenSSL freed: not freed again here */
    if (!CMS_add0_recipient_password(cms, iter > 0 ? iter : -1, NID_undef, NID_hmacWithSHA256, p, keylen, kek)) {
        m2_cms_raise(M2_CMS, "cannot add the password recipient");
        return 0;
    }
    return 1;
}

/* [kind] of each recipient (CMS_RECIPINFO_*). */
static PyObject *cms_recipient_kinds(CMS_ContentInfo *cms) {
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
    PyObject *list;
    int i;
    if (!ris) return m2_cms_raise(M2_CMS, "not an envelopedData");
    if (!(list = PyList_New(0))) return NULL;
    for (i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
        PyObject *k = PyLong_FromLong(CMS_RecipientInfo_type(sk_CMS_RecipientInfo_value(ris, i)));
        if (!k || PyList_Append(list, k) < 0) { Py_XDECREF(k); Py_DECREF(list); return NULL; }
        Py_DECREF(k);
    }
    return list;
}

/* Decrypts cms with optional_pkey (optional_cert picks its recipient; without it every
 * recipient is tried), or with the KEK or password set before (cms_decrypt_set1_*), into
 * optional_out (then None), or into bytes returned.  For authEnvelopedData nothing reaches
 * optional_out unless the tag verifies (the plaintext is held back until then); bytes are only
 * returned from a message that decrypted. */
static PyObject *cms_decrypt(CMS_ContentInfo *cms, EVP_PKEY *optional_pkey, X509 *optional_cert, BIO *optional_bio,
                             BIO *optional_out, int flags) {
    const ASN1_OBJECT *type = CMS_get0_type(cms);
    int aead = optional_out && type && OBJ_obj2nid(type) == NID_id_smime_ct_authEnvelopedData, r;
    BIO *out = optional_out, *own = NULL, *tmp = NULL;
    if (!optional_out && !(out = own = m2_cms_out_new(m2_cms_content_len(cms)))) return NULL;
    if (aead && !(out = tmp = BIO_new(BIO_s_mem()))) return m2_cms_raise(M2_CMS, NULL);
    M2_ALLOW_USING(cms, optional_pkey, optional_cert, optional_bio, optional_out)
    r = CMS_decrypt(cms, optional_pkey, optional_cert, optional_bio, out, flags);
    if (r == 1 && tmp) r = m2_cms_copy(tmp, optional_out) ? 1 : -1;
    M2_DISALLOW_USING
    BIO_free(tmp);
    if (r != 1) {
        BIO_free(own);
        return r == -1 ? m2_cms_raise(M2_CMS, "cannot write the plaintext") : m2_cms_raise(M2_CMS_DECRYPT, "cannot decrypt");
    }
    return own ? m2_cms_take_bytes(own) : Py_NewRef(Py_None);
}

/* cms_decrypt with a key (CMS.decrypt's common case, one call): NotImplemented for an X25519/X448
 * key instead, whose key agreement OpenSSL's CMS lacks (M2Sec/CMS.py does RFC 8418's itself). */
static PyObject *cms_decrypt_key(CMS_ContentInfo *cms, EVP_PKEY *pkey, X509 *optional_cert, BIO *optional_out, int flags) {
    int id = EVP_PKEY_get_base_id(pkey);
    if (id == EVP_PKEY_X25519 || id == EVP_PKEY_X448) return Py_NewRef(Py_NotImplemented);
    return cms_decrypt(cms, pkey, optional_cert, NULL, optional_out, flags);
}

/* Sets the KEK that cms_decrypt(cms, None, None, ...) then uses (id may be empty: any). */
static int cms_decrypt_set1_key(CMS_ContentInfo *cms, const void *key, Py_ssize_t keylen, const void *id, Py_ssize_t idlen) {
    if (CMS_decrypt_set1_key(cms, (unsigned char *)key, keylen, idlen ? (const unsigned char *)id : NULL, idlen) != 1) {
        m2_cms_raise(M2_CMS_DECRYPT, "no KEK recipient for this key");
        return 0;
    }
    return 1;
}

/* Sets the password that cms_decrypt(cms, None, None, ...) then uses. */
static int cms_decrypt_set1_password(CMS_ContentInfo *cms, const void *key, Py_ssize_t keylen) {
    int r;
    M2_ALLOW_USING(cms)
    r = CMS_decrypt_set1_password(cms, (unsigned char *)key, keylen);
    M2_DISALLOW_USING
    if (r != 1) { m2_cms_raise(M2_CMS_DECRYPT, "no password recipient for this password"); return 0; }
    return 1;
}

/* ---- CompressedData and DigestedData ---- */

/* compressedData (zlib, RFC 3274) of in; CMSUnsupportedAlgorithm where OpenSSL was built
 * without zlib. */
static CMS_ContentInfo *cms_compress(BIO *in, int flags) {
    CMS_ContentInfo *cms;
    M2_ALLOW_USING(in)
    cms = CMS_compress(in, NID_zlib_compression, flags);
    M2_DISALLOW_USING
    if (!cms) m2_cms_raise(M2_CMS, "cannot compress");
    return cms;
}

/* The content of a compressedData into optional_out (then None), or as bytes; at most max_size
 * bytes of it (max_size < 0: no limit). As CMS_uncompress, but the inflated content is read in
 * 16 KiB pieces and counted, so that a small message inflating to gigabytes (a zip bomb) stops
 * with CMSFormatError past max_size instead of filling memory; an inflate error is an error here
 * (CMS_uncompress ends the content there quietly). Binary content only (no CMS_TEXT). */
static PyObject *cms_uncompress(CMS_ContentInfo *cms, BIO *optional_bio, BIO *optional_out, int flags,
                                long long max_size) {
    BIO *own = NULL, *cont = NULL, *next;
    char *buf = NULL;
    long long total = 0;
    int n, ok = 0, over = 0;
    char msg[128];
    if (flags & CMS_TEXT) { PyErr_SetString(PyExc_ValueError, "cms_uncompress reads binary content only"); return NULL; }
    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_id_smime_ct_compressedData)
        return m2_raise_msg(M2_CMS_FORMAT, "not a compressedData");
    if (!(buf = PyMem_Malloc(16384))) return PyErr_NoMemory();
    if (!optional_out && !(optional_out = own = m2_cms_out_new(m2_cms_content_len(cms)))) goto err;
    M2_ALLOW_USING(cms, optional_bio, optional_out)
    if ((cont = CMS_dataInit(cms, optional_bio))) {
        for (;;) {
            n = BIO_read(cont, buf, 16384);
            if (n <= 0) { ok = n == 0 && !ERR_peek_error(); break; }
            if (max_size >= 0 && (total += n) > max_size) { over = 1; break; }
            if (BIO_write(optional_out, buf, n) != n) break;
        }
        if (ok && BIO_flush(optional_out) <= 0) ok = 0;
    }
    /* The chain CMS_dataInit made ends at the caller's optional_bio, which stays the caller's. */
    while (cont && cont != optional_bio) { next = BIO_pop(cont); BIO_free(cont); cont = next; }
    M2_DISALLOW_USING
    PyMem_Free(buf);
    buf = NULL;
    if (over) {
        ERR_clear_error();
        snprintf(msg, sizeof(msg), "the compressed content inflates to more than %lld bytes (max_size)", max_size);
        m2_raise_msg(M2_CMS_FORMAT, msg);
        goto err;
    }
    if (!ok) { m2_cms_raise(M2_CMS_FORMAT, "cannot uncompress"); goto err; }
    return own ? m2_cms_take_bytes(own) : Py_NewRef(Py_None);
err:
    PyMem_Free(buf);
    BIO_free(own);
    return NULL;
}

/* 1 if this OpenSSL has CMS compression (it was built with zlib). */
static int cms_has_zlib(void) {
    BIO *in = BIO_new_mem_buf("", 0);
    CMS_ContentInfo *cms = in ? CMS_compress(in, NID_zlib_compression, CMS_BINARY | CMS_PARTIAL) : NULL;
    int r = cms != NULL;
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    ERR_clear_error();
    return r;
}

static int cms_probe_key_type(const char *alg) { return m2_cms_probe_key_type(alg); }

/* digestedData of in with md (RFC 5652 section 7). */
static CMS_ContentInfo *cms_digest_create(BIO *in, const EVP_MD *md, int flags) {
    CMS_ContentInfo *cms;
    M2_ALLOW_USING(in)
    cms = CMS_digest_create(in, md, flags);
    M2_DISALLOW_USING
    if (!cms) m2_cms_raise(M2_CMS, "cannot digest");
    return cms;
}

/* The content of a digestedData whose digest verifies, into optional_out (then None) or as bytes. */
static PyObject *cms_digest_verify(CMS_ContentInfo *cms, BIO *optional_bio, BIO *optional_out, int flags) {
    BIO *own = NULL;
    int r;
    if (!optional_out && !(optional_out = own = m2_cms_out_new(m2_cms_content_len(cms)))) return NULL;
    M2_ALLOW_USING(cms, optional_bio, optional_out)
    r = CMS_digest_verify(cms, optional_bio, optional_out, flags);
    M2_DISALLOW_USING
    if (r != 1) { BIO_free(own); return m2_cms_raise(M2_CMS_SIGNATURE, "the digest does not verify"); }
    return own ? m2_cms_take_bytes(own) : Py_NewRef(Py_None);
}

/* ---- encodings ---- */

static int cms_type_nid(CMS_ContentInfo *cms) {
    const ASN1_OBJECT *t = CMS_get0_type(cms);
    return t ? OBJ_obj2nid(t) : NID_undef;
}

static int cms_econtent_type_nid(CMS_ContentInfo *cms) {
    const ASN1_OBJECT *t = CMS_get0_eContentType(cms);
    ERR_clear_error();
    return t ? OBJ_obj2nid(t) : NID_undef;
}

static int cms_is_detached(CMS_ContentInfo *cms) {
    int r = CMS_is_detached(cms);
    ERR_clear_error();
    return r == 1;
}

static CMS_ContentInfo *cms_read_der(BIO *bio) {
    CMS_ContentInfo *cms;
    M2_ALLOW_USING(bio)
    cms = d2i_CMS_bio(bio, NULL);
    M2_DISALLOW_USING
    if (!cms) m2_cms_raise(M2_CMS_FORMAT, "cannot read a DER CMS structure");
    return cms;
}

/* A CMS structure from DER in a buffer (bytes, an mmap ...), parsed in place: no copy of the
 * encoding is made, only the parsed structure. */
static CMS_ContentInfo *cms_read_der_buffer(const void *buf, Py_ssize_t len) {
    const unsigned char *p = buf;
    CMS_ContentInfo *cms;
    M2_ALLOW
    cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    M2_DISALLOW
    if (!cms) m2_cms_raise(M2_CMS_FORMAT, "cannot read a DER CMS structure");
    return cms;
}

static CMS_ContentInfo *cms_read_pem(BIO *bio) {
    CMS_ContentInfo *cms;
    M2_ALLOW_USING(bio)
    cms = PEM_read_bio_CMS(bio, NULL, NULL, NULL);
    M2_DISALLOW_USING
    if (!cms) m2_cms_raise(M2_CMS_FORMAT, "cannot read a PEM CMS structure");
    return cms;
}

/* (CMS, content BIO or None) from an S/MIME message: the content BIO holds the first part
 * of a multipart/signed message, in a memory BIO the caller owns; with CMS_BINARY its line
 * ends are kept as they are, without it they become CRLF (the canonical form). */
static PyObject *cms_read_smime(BIO *bio, int flags) {
    BIO *bcont = NULL;
    CMS_ContentInfo *cms;
    PyObject *a, *b;
    if (BIO_method_type(bio) == BIO_TYPE_MEM)
        BIO_set_mem_eof_return(bio, 0);
    M2_ALLOW_USING(bio)
    cms = SMIME_read_CMS_ex(bio, flags, &bcont, NULL);
    M2_DISALLOW_USING
    if (!cms) { BIO_free(bcont); return m2_cms_raise(M2_CMS_FORMAT, "cannot read the S/MIME message"); }
    if (!(a = SWIG_NewPointerObj(cms, SWIGTYPE_p_CMS_ContentInfo, 0))) { CMS_ContentInfo_free(cms); BIO_free(bcont); return NULL; }
    b = bcont ? SWIG_NewPointerObj(bcont, SWIGTYPE_p_BIO, 0) : Py_NewRef(Py_None);
    if (!b) { Py_DECREF(a); CMS_ContentInfo_free(cms); BIO_free(bcont); return NULL; }
    return Py_BuildValue("(NN)", a, b);
}

/* The DER encoding of a complete (not streaming) cms as bytes, encoded straight into them
 * (i2d_CMS_ContentInfo): no BIO and no second copy. */
static PyObject *cms_to_der(CMS_ContentInfo *cms) {
    int n = i2d_CMS_ContentInfo(cms, NULL), m;
    unsigned char *p;
    PyObject *r;
    if (n <= 0) return m2_cms_raise(M2_CMS, "cannot write the CMS structure");
    if (!(r = PyBytes_FromStringAndSize(NULL, n))) return NULL;
    p = (unsigned char *)PyBytes_AS_STRING(r);
    if (n > M2_GIL_THRESHOLD) {
        M2_ALLOW_USING(cms)
        m = i2d_CMS_ContentInfo(cms, &p);
        M2_DISALLOW_USING
    } else {
        m = i2d_CMS_ContentInfo(cms, &p);
    }
    if (m != n) { Py_DECREF(r); return m2_cms_raise(M2_CMS, "cannot write the CMS structure"); }
    return r;
}

/* DER to bio.  With optional_bio (a CMS made with CMS_STREAM), the content is read from it
 * and the structure completed as it streams out (i2d_CMS_bio_stream). */
static int cms_write_der(CMS_ContentInfo *cms, BIO *bio, BIO *optional_bio, int flags) {
    int r;
    M2_ALLOW_USING(cms, bio, optional_bio)
    r = optional_bio ? i2d_CMS_bio_stream(bio, cms, optional_bio, flags) : i2d_CMS_bio(bio, cms);
    M2_DISALLOW_USING
    if (r != 1) { m2_cms_raise(M2_CMS, "cannot write the CMS structure"); return 0; }
    return 1;
}

static int cms_write_pem(CMS_ContentInfo *cms, BIO *bio, BIO *optional_bio, int flags) {
    int r;
    M2_ALLOW_USING(cms, bio, optional_bio)
    r = optional_bio ? PEM_write_bio_CMS_stream(bio, cms, optional_bio, flags) : PEM_write_bio_CMS(bio, cms);
    M2_DISALLOW_USING
    if (r != 1) { m2_cms_raise(M2_CMS, "cannot write the CMS structure"); return 0; }
    return 1;
}

/* cms as an S/MIME message (SMIME_write_CMS): multipart/signed around optional_bio's data
 * for a detached signedData, application/pkcs7-mime (with its smime-type) otherwise; the
 * content of a CMS_STREAM structure is read from optional_bio as it is written. */
static int cms_write_smime(CMS_ContentInfo *cms, BIO *bio, BIO *optional_bio, int flags) {
    int r;
    M2_ALLOW_USING(cms, bio, optional_bio)
    r = SMIME_write_CMS(bio, cms, optional_bio, flags);
    M2_DISALLOW_USING
    if (r != 1) { m2_cms_raise(M2_CMS, "cannot write the S/MIME message"); return 0; }
    return 1;
}
%}

/* ---- CMS.decrypt_stream: an AuthEnvelopedData's plaintext spooled until its tag verifies ----
 * CMS_decrypt writes the plaintext to its out BIO as it decrypts and checks the tag only at
 * the end (BIO_get_cipher_status after the last read), so OpenSSL's CMS releases plaintext
 * before it is authenticated; cms_decrypt holds it in memory, this writes it to spool first. */
%inline %{
/* Decrypts as cms_decrypt, the plaintext first written to spool (a file BIO of the caller's,
 * at the start of an empty file), then, once the tag has verified, copied from the spool's
 * start into optional_out (then None), or into bytes returned: nothing of a message that does
 * not decrypt reaches either.  Memory stays bounded whatever the size. */
static PyObject *cms_decrypt_spooled(CMS_ContentInfo *cms, EVP_PKEY *optional_pkey, X509 *optional_cert,
                                     BIO *optional_bio, BIO *spool, BIO *optional_out, int flags) {
    BIO *out = optional_out, *own = NULL;
    long size = -1;
    int r;
    M2_ALLOW_USING(cms, optional_pkey, optional_cert, optional_bio, spool, optional_out)
    r = CMS_decrypt(cms, optional_pkey, optional_cert, optional_bio, spool, flags);
    if (r == 1) {
        r = BIO_flush(spool) > 0 && (size = BIO_ctrl(spool, BIO_C_FILE_TELL, 0, NULL)) >= 0
            && BIO_ctrl(spool, BIO_C_FILE_SEEK, 0, NULL) == 0 ? 1 : -1;
    }
    M2_DISALLOW_USING
    if (r != 1)
        return r == -1 ? m2_cms_raise(M2_CMS, "cannot spool the plaintext") : m2_cms_raise(M2_CMS_DECRYPT, "cannot decrypt");
    if (!out && !(out = own = m2_cms_out_new((size_t)size))) return NULL;
    M2_ALLOW_USING(spool, optional_out)
    r = m2_cms_copy(spool, out) && BIO_flush(out) > 0;
    M2_DISALLOW_USING
    if (!r) { BIO_free(own); return m2_cms_raise(M2_CMS, "cannot write the plaintext"); }
    return own ? m2_cms_take_bytes(own) : Py_NewRef(Py_None);
}
%}
