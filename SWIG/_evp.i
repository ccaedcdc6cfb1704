/* _evp.i: EVP digests, ciphers and keys (EVP_MD, EVP_CIPHER, EVP_PKEY), MACs and KDFs. */
M2_DEPRECATED_FILE_BEGIN  /* M2Crypto names OpenSSL's deprecated API here (see _lib.i) */
%{
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/param_build.h>
#include <openssl/kdf.h>
%}
M2_OK_AREA(M2_EVP)

M2_HOT(digest_update) M2_HOT(digest_final) M2_HOT(hmac_update) M2_HOT(hmac_final)
M2_HOT(cipher_update) M2_HOT(cipher_final) M2_HOT(aead_seal) M2_HOT(aead_open) M2_HOT(aead_crypt)
M2_NONNULL(EVP_CIPHER *)
M2_NONNULL(const EVP_CIPHER *)
M2_NONNULL(EVP_PKEY *)
M2_AREA_INIT(evp_init, M2_EVP)
/* Arguments where None means "the default" (NULL to OpenSSL). */
M2_NULLABLE_STR(mdname)
M2_NULLABLE_STR(mgf1_md)
M2_NULLABLE_STR(oaep_md)
M2_NULLABLE_STR(group)

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

/* ---- algorithm look-up: fetched once by name, cached for the life of the process ---- */
M2_NONNULL(EVP_MD_CTX *)
M2_NONNULL(EVP_CIPHER_CTX *)

/* EVP.Cipher's and EVP.MessageDigest's bases, m2.CipherBase and m2.DigestBase (below), hold
 * their context themselves: an EVP_CIPHER_CTX * or EVP_MD_CTX * argument takes such an object as
 * well as a pointer from m2.cipher_ctx_new()/md_ctx_new(), so that `m2.cipher_update(c.ctx,
 * data)` works as in M2Crypto.  m2.cipher_ctx_free()/md_ctx_free() given one take the context
 * from it first, so that it is freed once.  Closing one (setting _p to None, or the object's
 * death) while a call runs on its context without the GIL leaves the free to that call
 * (m2_free_or_defer, _lib.i). */
%{
typedef struct {                /* what both objects start with */
    PyObject_HEAD
    void *ctx;                  /* NULL once closed (a call still using it frees it: m2_free_or_defer) */
} m2_ctx_obj;
typedef struct {
    PyObject_HEAD
    EVP_CIPHER_CTX *ctx;
    PyObject *hold;             /* AEAD decryption: the plaintext held until final() checks the tag */
    PyObject *ccm;              /* CCM: the AAD given before the one update() */
    PyObject *cipher, *op;      /* the attributes M2Crypto's class sets */
    int tag_len;                /* get_tag()'s default length */
} m2_cipher_obj;
typedef struct {
    PyObject_HEAD
    EVP_MD_CTX *ctx;
} m2_md_obj;
static PyTypeObject m2_cipher_type, m2_md_type;

static PyObject *m2_ctx_closed(void *self);
#define M2_CTX_CLOSED (-9999)

/* A context argument: from an object of type (take: detached from it, for the free function;
 * pin: else counted in use until the wrapper returns, m2_pin) or a SWIG pointer of ty.  SWIG's
 * result code, or M2_CTX_CLOSED with ClosedError raised for an object closed before (not for
 * the free function: closing twice is allowed), or MemoryError. */
static int m2_ctx_arg(PyObject *obj, PyTypeObject *type, swig_type_info *ty, void **out, int take, const void **pin) {
    if (PyObject_TypeCheck(obj, type)) {
        if (!take && !((m2_ctx_obj *)obj)->ctx) { m2_ctx_closed(obj); return M2_CTX_CLOSED; }
        *out = ((m2_ctx_obj *)obj)->ctx;
        if (take) ((m2_ctx_obj *)obj)->ctx = NULL;
        else if (!m2_pin(*out, pin)) return M2_CTX_CLOSED;
        return SWIG_OK;
    }
    *out = NULL;
    return SWIG_ConvertPtr(obj, out, ty, 0);
}
%}
%define M2_CTX_ARG(TYPE, PYTYPE)
%typemap(in) TYPE * (int res = 0, void *p = 0, const void *pin = 0) {
    res = m2_ctx_arg($input, &PYTYPE, $descriptor, &p, 0, &pin);
    if (res == M2_CTX_CLOSED) SWIG_fail;
    if (!SWIG_IsOK(res)) SWIG_exception_fail(SWIG_ArgError(res), "in method '$symname', argument $argnum of type '$type'");
    $1 = ($ltype)p;
}
%typemap(freearg) TYPE * "m2_unpin(pin$argnum);";
%typemap(in) TYPE *owned_ctx (int res = 0, void *p = 0) {
    res = m2_ctx_arg($input, &PYTYPE, $descriptor, &p, 1, NULL);
    if (!SWIG_IsOK(res)) SWIG_exception_fail(SWIG_ArgError(res), "in method '$symname', argument $argnum of type '$type'");
    $1 = ($ltype)p;
}
%typemap(freearg) TYPE *owned_ctx "";
%enddef
M2_CTX_ARG(EVP_CIPHER_CTX, m2_cipher_type)
M2_CTX_ARG(EVP_MD_CTX, m2_md_type)

%constant int EVP_MAX_MD_SIZE = EVP_MAX_MD_SIZE;
%constant int EVP_MAX_KEY_LENGTH = EVP_MAX_KEY_LENGTH;
%constant int EVP_MAX_IV_LENGTH = EVP_MAX_IV_LENGTH;
%constant int EVP_CTRL_AEAD_SET_IVLEN = EVP_CTRL_AEAD_SET_IVLEN;
%constant int EVP_CTRL_AEAD_GET_TAG = EVP_CTRL_AEAD_GET_TAG;
%constant int EVP_CTRL_AEAD_SET_TAG = EVP_CTRL_AEAD_SET_TAG;
%constant int EVP_CIPH_STREAM_CIPHER = EVP_CIPH_STREAM_CIPHER;
%constant int EVP_CIPH_ECB_MODE = EVP_CIPH_ECB_MODE;
%constant int EVP_CIPH_CBC_MODE = EVP_CIPH_CBC_MODE;
%constant int EVP_CIPH_CFB_MODE = EVP_CIPH_CFB_MODE;
%constant int EVP_CIPH_OFB_MODE = EVP_CIPH_OFB_MODE;
%constant int EVP_CIPH_CTR_MODE = EVP_CIPH_CTR_MODE;
%constant int EVP_CIPH_GCM_MODE = EVP_CIPH_GCM_MODE;
%constant int EVP_CIPH_CCM_MODE = EVP_CIPH_CCM_MODE;
%constant int EVP_CIPH_XTS_MODE = EVP_CIPH_XTS_MODE;
%constant int EVP_CIPH_WRAP_MODE = EVP_CIPH_WRAP_MODE;
%constant int EVP_CIPH_OCB_MODE = EVP_CIPH_OCB_MODE;

%{
/* One slot per name asked for.  A digest's slot also keeps the contexts the one-shot
 * helpers reuse under the GIL (no allocation per call). */
typedef struct {
    char name[48];
    void *alg;                  /* EVP_MD * or EVP_CIPHER *, one reference held */
    EVP_MD_CTX *ctx;            /* digest(): reused while the GIL is held */
    EVP_MAC_CTX *hmac;          /* hmac_digest(): HMAC with this digest set */
} m2_alg_slot;

#define M2_ALG_SLOTS 256
static m2_alg_slot m2_md_slots[M2_ALG_SLOTS];
static int m2_md_used;
static m2_alg_slot m2_cipher_slots[M2_ALG_SLOTS];
static int m2_cipher_used;
static EVP_MAC *m2_hmac_alg;

/* Fetch by name; "sha3_256" is also tried as "sha3-256". */
static void *m2_fetch(int cipher, const char *name) {
    char alt[48];
    void *alg;
    size_t i, n = strlen(name);
    ERR_set_mark();
    alg = cipher ? (void *)EVP_CIPHER_fetch(NULL, name, NULL) : (void *)EVP_MD_fetch(NULL, name, NULL);
    if (!alg && strchr(name, '_') && n < sizeof(alt)) {
        for (i = 0; i <= n; i++) alt[i] = name[i] == '_' ? '-' : name[i];
        alg = cipher ? (void *)EVP_CIPHER_fetch(NULL, alt, NULL) : (void *)EVP_MD_fetch(NULL, alt, NULL);
    }
    if (alg) ERR_pop_to_mark(); else ERR_clear_last_mark();
    return alg;
}

/* The slot of name (fetching it the first time), or NULL with the error queue set. */
static m2_alg_slot *m2_slot(int cipher, const char *name) {
    m2_alg_slot *slots = cipher ? m2_cipher_slots : m2_md_slots;
    int *used = cipher ? &m2_cipher_used : &m2_md_used;
    void *alg;
    int i;
    for (i = 0; i < *used; i++)
        if (strcmp(slots[i].name, name) == 0) return &slots[i];
    if (strlen(name) >= sizeof(slots[0].name) || *used >= M2_ALG_SLOTS) return NULL;
    alg = m2_fetch(cipher, name);
    if (!alg) return NULL;
    /* one slot per name: a second name of the same algorithm gets its own reference */
    slots[*used].alg = alg;
    strcpy(slots[*used].name, name);
    return &slots[(*used)++];
}

static const EVP_MD *m2_md_by_name(const char *name) {
    m2_alg_slot *s = m2_slot(0, name);
    return s ? (const EVP_MD *)s->alg : NULL;
}

/* A digest by name, for any area: NULL with the area's exception (a ValueError) if unknown. */
static const EVP_MD *m2_get_md(const char *name, int area) {
    const EVP_MD *md = m2_md_by_name(name);
    if (!md) {
        ERR_clear_error();
        PyErr_Format(m2_area_class(area), "unknown digest: %s", name);
    }
    return md;
}

static const EVP_CIPHER *m2_cipher_by_name(const char *name) {
    m2_alg_slot *s = m2_slot(1, name);
    return s ? (const EVP_CIPHER *)s->alg : NULL;
}

/* A str argument as UTF-8 without a copy (CPython caches it in the object). */
static const char *m2_name(PyObject *obj) {
    if (!PyUnicode_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "an algorithm name (str) is required");
        return NULL;
    }
    return PyUnicode_AsUTF8(obj);
}

/* None or a bytes-like object: view->obj stays NULL for None. */
static int m2_get_optional_buffer(PyObject *obj, Py_buffer *view) {
    view->obj = NULL;
    view->buf = NULL;
    view->len = 0;
    if (obj == Py_None) return 0;
    return m2_get_buffer(obj, view, INT_MAX);
}

static void m2_release(Py_buffer *view) {
    if (view->obj) PyBuffer_Release(view);
    view->obj = NULL;
}
%}

%apply (const void *buf, Py_ssize_t len) { (const void *data, Py_ssize_t datalen) };
%apply (const void *buf, Py_ssize_t len) { (const void *key, Py_ssize_t keylen) };
%apply (const void *buf, Py_ssize_t len) { (const void *salt, Py_ssize_t saltlen) };
%apply (const void *buf, Py_ssize_t len) { (const void *info, Py_ssize_t infolen) };
%apply (const void *buf, Py_ssize_t len) { (const void *password, Py_ssize_t passwordlen) };
%apply (const void *buf, Py_ssize_t len) { (const void *tag, Py_ssize_t taglen) };

/* ---- digests (EVP_MD) ---- */
%inline %{
/* The digest called name (OpenSSL's names; "sha3_256" works as well as "SHA3-256"). */
static const EVP_MD *get_digestbyname(const char *name) {
    const EVP_MD *md = m2_md_by_name(name);
    if (!md) m2_raise_msg(M2_EVP, "unknown message digest");
    return md;
}
%}

/* M2Crypto's digest getters, m2.sha256() and so on: fetched digests, not the legacy tables. */
%define M2_DIGEST(NAME, OSSL)
%inline %{
static const EVP_MD *NAME(void) { return get_digestbyname(OSSL); }
%}
%enddef
M2_DIGEST(md5, "MD5") M2_DIGEST(sha1, "SHA1") M2_DIGEST(ripemd160, "RIPEMD160")
M2_DIGEST(sha224, "SHA224") M2_DIGEST(sha256, "SHA256") M2_DIGEST(sha384, "SHA384") M2_DIGEST(sha512, "SHA512")
M2_DIGEST(sha512_224, "SHA512-224") M2_DIGEST(sha512_256, "SHA512-256")
M2_DIGEST(sha3_224, "SHA3-224") M2_DIGEST(sha3_256, "SHA3-256") M2_DIGEST(sha3_384, "SHA3-384") M2_DIGEST(sha3_512, "SHA3-512")
M2_DIGEST(shake128, "SHAKE128") M2_DIGEST(shake256, "SHAKE256")
M2_DIGEST(blake2b512, "BLAKE2B-512") M2_DIGEST(blake2s256, "BLAKE2S-256") M2_DIGEST(sm3, "SM3")

M2_FREE(md_ctx_free, EVP_MD_CTX_free, EVP_MD_CTX, owned_ctx)

%inline %{
static EVP_MD_CTX *md_ctx_new(void) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) m2_raise_msg(M2_EVP, "EVP_MD_CTX_new failed");
    return ctx;
}

static int m2_check_md(const EVP_MD *md) {
    if (md) return 1;
    PyErr_SetString(PyExc_ValueError, "a NULL EVP_MD was passed");
    return 0;
}

/* EVP_DigestInit_ex2: 1, or raises EVPError. */
static m2_ok digest_init(EVP_MD_CTX *ctx, const EVP_MD *md) {
    if (!m2_check_md(md)) return -1;
    return EVP_DigestInit_ex2(ctx, md, NULL);
}

/* md_ctx_new and digest_init in one call. */
static EVP_MD_CTX *md_ctx_new_init(const EVP_MD *md) {
    EVP_MD_CTX *ctx;
    if (!m2_check_md(md)) return NULL;
    if (!(ctx = md_ctx_new())) return NULL;
    if (!EVP_DigestInit_ex2(ctx, md, NULL)) {
        EVP_MD_CTX_free(ctx);
        m2_raise_msg(M2_EVP, "cannot initialise the digest");
        return NULL;
    }
    return ctx;
}

/* EVP_DigestUpdate, without the GIL past M2_GIL_THRESHOLD bytes: 1, or raises. */
static int digest_update(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    int ok;
    if (!EVP_MD_CTX_get0_md(ctx)) { PyErr_SetString(PyExc_ValueError, "the digest context is not initialised"); return -1; }
    if (datalen > M2_GIL_THRESHOLD) {
        M2_ALLOW_USING(ctx)
        ok = EVP_DigestUpdate(ctx, data, (size_t)datalen);
        M2_DISALLOW_USING
    } else {
        ok = EVP_DigestUpdate(ctx, data, (size_t)datalen);
    }
    if (!ok) { m2_raise_msg(M2_EVP, "digest update failed"); return -1; }
    return 1;
}

/* EVP_DigestFinal_ex: the digest (the context needs digest_init before further use). */
static PyObject *digest_final(EVP_MD_CTX *ctx) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_MD_CTX_get0_md(ctx)) { PyErr_SetString(PyExc_ValueError, "the digest context is not initialised"); return NULL; }
    if (!EVP_DigestFinal_ex(ctx, out, &n)) return m2_raise_msg(M2_EVP, "digest final failed");
    return PyBytes_FromStringAndSize((const char *)out, n);
}

/* EVP_DigestFinalXOF: length bytes of an extendable-output function (SHAKE). */
static PyObject *digest_final_xof(EVP_MD_CTX *ctx, long length) {
    PyObject *out;
    if (!EVP_MD_CTX_get0_md(ctx)) { PyErr_SetString(PyExc_ValueError, "the digest context is not initialised"); return NULL; }
    if (length < 0 || length > (1 << 24)) { PyErr_SetString(PyExc_ValueError, "length out of range"); return NULL; }
    if (!(out = PyBytes_FromStringAndSize(NULL, length))) return NULL;
    if (!EVP_DigestFinalXOF(ctx, (unsigned char *)PyBytes_AS_STRING(out), (size_t)length)) {
        Py_DECREF(out);
        return m2_raise_msg(M2_EVP, "digest final (XOF) failed");
    }
    return out;
}

/* EVP_MD_CTX_copy_ex: 1, or raises. */
static m2_ok md_ctx_copy(EVP_MD_CTX *out, const EVP_MD_CTX *in) {
    if (!in) { PyErr_SetString(PyExc_ValueError, "a NULL EVP_MD_CTX was passed"); return -1; }
    return EVP_MD_CTX_copy_ex(out, in);
}

static int digest_size(const EVP_MD *md) { return m2_check_md(md) ? EVP_MD_get_size(md) : -1; }
static int digest_block_size(const EVP_MD *md) { return m2_check_md(md) ? EVP_MD_get_block_size(md) : -1; }
static int digest_is_xof(const EVP_MD *md) { return m2_check_md(md) ? (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF) != 0 : -1; }
static const char *digest_name(const EVP_MD *md) { return m2_check_md(md) ? EVP_MD_get0_name(md) : NULL; }

/* The digest of one buffer (EVP_Digest); the name is cached with its fetched EVP_MD and,
 * below M2_GIL_THRESHOLD, a context reused under the GIL so that no call allocates. */
static PyObject *digest_oneshot(PyObject *name, const void *data, Py_ssize_t datalen) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok;
    const char *s = m2_name(name);
    m2_alg_slot *slot;
    if (!s) return NULL;
    if (!(slot = m2_slot(0, s))) return m2_raise_msg(M2_EVP, "unknown message digest");
    if (datalen > M2_GIL_THRESHOLD) {
        M2_ALLOW
        ok = EVP_Digest(data, (size_t)datalen, out, &n, (const EVP_MD *)slot->alg, NULL);
        M2_DISALLOW
    } else {
        if (!slot->ctx && !(slot->ctx = EVP_MD_CTX_new())) return m2_raise_msg(M2_EVP, "EVP_MD_CTX_new failed");
        ok = EVP_DigestInit_ex2(slot->ctx, (const EVP_MD *)slot->alg, NULL)
             && EVP_DigestUpdate(slot->ctx, data, (size_t)datalen)
             && EVP_DigestFinal_ex(slot->ctx, out, &n);
    }
    if (!ok) return m2_raise_msg(M2_EVP, "digest failed");
    return PyBytes_FromStringAndSize((const char *)out, n);
}

/* The names of the digests the loaded providers offer. */
static void m2_collect_md(EVP_MD *md, void *list) {
    PyObject *name;
    if (PyErr_Occurred()) return;
    name = PyUnicode_FromString(EVP_MD_get0_name(md));
    if (name) { PyList_Append((PyObject *)list, name); Py_DECREF(name); }
}
static void m2_collect_cipher(EVP_CIPHER *c, void *list) {
    PyObject *name;
    if (PyErr_Occurred()) return;
    name = PyUnicode_FromString(EVP_CIPHER_get0_name(c));
    if (name) { PyList_Append((PyObject *)list, name); Py_DECREF(name); }
}
static PyObject *digest_names(void) {
    PyObject *list = PyList_New(0);
    if (!list) return NULL;
    EVP_MD_do_all_provided(NULL, m2_collect_md, list);
    if (PyErr_Occurred()) { Py_DECREF(list); return NULL; }
    return list;
}
static PyObject *cipher_names(void) {
    PyObject *list = PyList_New(0);
    if (!list) return NULL;
    EVP_CIPHER_do_all_provided(NULL, m2_collect_cipher, list);
    if (PyErr_Occurred()) { Py_DECREF(list); return NULL; }
    return list;
}
%}

/* ---- HMAC: M2Crypto's hmac_* functions on HMAC_CTX (deprecated in OpenSSL 3 but named by
 * M2Crypto's API, and it takes the fetched EVP_MD directly: no fetch by name per init) ---- */
%{
#include <openssl/hmac.h>
%}
M2_NONNULL(HMAC_CTX *)
M2_FREE(hmac_ctx_free, HMAC_CTX_free, HMAC_CTX, ctx)

%inline %{
static EVP_MAC *m2_hmac(void) {
    if (!m2_hmac_alg) m2_hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    return m2_hmac_alg;
}

static HMAC_CTX *hmac_ctx_new(void) {
    HMAC_CTX *ctx = HMAC_CTX_new();
    if (!ctx) m2_raise_msg(M2_EVP, "cannot make an HMAC context");
    return ctx;
}

/* Key ctx with key and digest md (HMAC_Init_ex); None, or raises. */
static PyObject *hmac_init(HMAC_CTX *ctx, const void *key, Py_ssize_t keylen, const EVP_MD *md) {
    static const unsigned char empty[1] = {0};
    if (!m2_check_md(md)) return NULL;
    /* a zero-length key is a key: never pass NULL, which means "keep the previous key" */
    if (!HMAC_Init_ex(ctx, keylen ? key : empty, (int)keylen, md, NULL))
        return m2_raise_msg(M2_EVP, "cannot initialise HMAC");
    Py_RETURN_NONE;
}

/* A few contexts released by hmac_ctx_release wait here for hmac_ctx_new_init to take them
 * again: a reset context keeps its digest contexts allocated, which saves about a fifth of a
 * short HMAC's cost.  HMAC_CTX_reset cleanses the key state first.  Both functions run with
 * the GIL held, which guards the pool. */
#define M2_HMAC_POOL 8
static HMAC_CTX *m2_hmac_pool[M2_HMAC_POOL];
static int m2_hmac_pooled;
%}
%{
/* hmac_ctx_release's free: the context cleansed into the pool, or freed. */
static void m2_hmac_ctx_put(void *p) {
    HMAC_CTX *ctx = p;
    if (m2_hmac_pooled < M2_HMAC_POOL && HMAC_CTX_reset(ctx))
        m2_hmac_pool[m2_hmac_pooled++] = ctx;
    else
        HMAC_CTX_free(ctx);
}
%}
%inline %{
/* hmac_ctx_new and hmac_init in one call, on a pooled context when there is one. */
static HMAC_CTX *hmac_ctx_new_init(const void *key, Py_ssize_t keylen, const EVP_MD *md) {
    HMAC_CTX *ctx = m2_hmac_pooled ? m2_hmac_pool[--m2_hmac_pooled] : hmac_ctx_new();
    PyObject *r;
    if (!ctx) return NULL;
    if (!(r = hmac_init(ctx, key, keylen, md))) { HMAC_CTX_free(ctx); return NULL; }
    Py_DECREF(r);
    return ctx;
}

/* Free ctx: cleanse it and keep it for the next hmac_ctx_new_init, or free it; while a call
 * uses it without the GIL, that call does so when it leaves (m2_free_or_defer). */
static void hmac_ctx_release(HMAC_CTX *ctx) {
    m2_free_or_defer(ctx, m2_hmac_ctx_put);
}

static PyObject *hmac_update(HMAC_CTX *ctx, const void *data, Py_ssize_t datalen) {
    int ok;
    if (datalen > M2_GIL_THRESHOLD) {
        M2_ALLOW_USING(ctx)
        ok = HMAC_Update(ctx, data, (size_t)datalen);
        M2_DISALLOW_USING
    } else {
        ok = HMAC_Update(ctx, data, (size_t)datalen);
    }
    if (!ok) return m2_raise_msg(M2_EVP, "HMAC update failed");
    Py_RETURN_NONE;
}

static PyObject *hmac_final(HMAC_CTX *ctx) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC_Final(ctx, out, &n)) return m2_raise_msg(M2_EVP, "HMAC final failed");
    return PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)n);
}

static HMAC_CTX *hmac_ctx_copy(HMAC_CTX *ctx) {
    HMAC_CTX *c = HMAC_CTX_new();
    if (!c || !HMAC_CTX_copy(c, ctx)) {
        HMAC_CTX_free(c);
        m2_raise_msg(M2_EVP, "cannot copy the HMAC context");
        return NULL;
    }
    return c;
}

/* HMAC of data with a keyed context made and freed here (safe without the GIL). */
static int m2_hmac_fresh(const char *mdname, const void *key, size_t keylen, const void *data, size_t datalen,
                         unsigned char *out, size_t *n) {
    static const unsigned char empty[1] = {0};
    OSSL_PARAM params[2];
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(m2_hmac_alg);
    int ok = 0;
    if (!ctx) goto err;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)mdname, 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = EVP_MAC_init(ctx, keylen ? key : empty, keylen, params)
         && EVP_MAC_update(ctx, data, datalen)
         && EVP_MAC_final(ctx, out, n, EVP_MAX_MD_SIZE);
err:
    EVP_MAC_CTX_free(ctx);
    return ok;
}

/* M2Crypto's m2.hmac(key, data, md): the HMAC of one buffer. */
static PyObject *hmac(const void *key, Py_ssize_t keylen, const void *data, Py_ssize_t datalen, const EVP_MD *md) {
    unsigned char out[EVP_MAX_MD_SIZE];
    size_t n = 0;
    int ok;
    if (!m2_check_md(md)) return NULL;
    if (!m2_hmac()) return m2_raise_msg(M2_EVP, "HMAC is not available");
    M2_ALLOW
    ok = m2_hmac_fresh(EVP_MD_get0_name(md), key, (size_t)keylen, data, (size_t)datalen, out, &n);
    M2_DISALLOW
    if (!ok) return m2_raise_msg(M2_EVP, "HMAC failed");
    return PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)n);
}

/* The HMAC of one buffer with the digest called name; below M2_GIL_THRESHOLD a context
 * cached with the name is re-keyed under the GIL, so that no call allocates. */
static PyObject *hmac_oneshot(const void *key, Py_ssize_t keylen, const void *data, Py_ssize_t datalen, PyObject *name) {
    static const unsigned char empty[1] = {0};
    unsigned char out[EVP_MAX_MD_SIZE];
    size_t n = 0;
    int ok;
    const char *s = m2_name(name);
    m2_alg_slot *slot;
    if (!s) return NULL;
    if (!(slot = m2_slot(0, s))) return m2_raise_msg(M2_EVP, "unknown message digest");
    if (!m2_hmac()) return m2_raise_msg(M2_EVP, "HMAC is not available");
    if (datalen > M2_GIL_THRESHOLD) {
        const char *mdname = EVP_MD_get0_name((const EVP_MD *)slot->alg);
        M2_ALLOW
        ok = m2_hmac_fresh(mdname, key, (size_t)keylen, data, (size_t)datalen, out, &n);
        M2_DISALLOW
    } else {
        if (!slot->hmac) {
            OSSL_PARAM params[2];
            params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                         (char *)EVP_MD_get0_name((const EVP_MD *)slot->alg), 0);
            params[1] = OSSL_PARAM_construct_end();
            if (!(slot->hmac = EVP_MAC_CTX_new(m2_hmac_alg))) return m2_raise_msg(M2_EVP, "cannot make an HMAC context");
            if (!EVP_MAC_CTX_set_params(slot->hmac, params)) {
                EVP_MAC_CTX_free(slot->hmac);
                slot->hmac = NULL;
                return m2_raise_msg(M2_EVP, "HMAC cannot use this digest");
            }
        }
        ok = EVP_MAC_init(slot->hmac, keylen ? key : empty, (size_t)keylen, NULL)
             && EVP_MAC_update(slot->hmac, data, (size_t)datalen)
             && EVP_MAC_final(slot->hmac, out, &n, sizeof(out));
    }
    if (!ok) return m2_raise_msg(M2_EVP, "HMAC failed");
    return PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)n);
}
%}

/* ---- ciphers (EVP_CIPHER) ---- */
M2_FREE(cipher_ctx_free, EVP_CIPHER_CTX_free, EVP_CIPHER_CTX, owned_ctx)

M2_RETURNS_NONNULL(m2_cipher_by_name)
/* The cipher called name ("aes_128_cbc" works as well as "AES-128-CBC"). */
%rename(get_cipherbyname) m2_cipher_by_name;
const EVP_CIPHER *m2_cipher_by_name(const char *name);
%inline %{
static EVP_CIPHER_CTX *cipher_ctx_new(void) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx) m2_raise_msg(M2_EVP, "EVP_CIPHER_CTX_new failed");
    return ctx;
}

/* 1 if ctx has a cipher; else 0 with ValueError (OpenSSL would dereference NULL). */
static int m2_cctx_ready(EVP_CIPHER_CTX *ctx) {
    if (EVP_CIPHER_CTX_get0_cipher(ctx)) return 1;
    PyErr_SetString(PyExc_ValueError, "the cipher context is not initialised");
    return 0;
}

static int m2_check_cipher(const EVP_CIPHER *c) {
    if (c) return 1;
    PyErr_SetString(PyExc_ValueError, "a NULL EVP_CIPHER was passed");
    return 0;
}

/* EVP_CipherInit_ex2 with checks: the key must have the cipher's length (variable-length
 * ciphers take theirs), the IV the cipher's IV length (AEAD modes set theirs); taglen > 0
 * sets the tag length first (CCM, OCB).  key and iv may be None (kept from a previous
 * init).  None, or raises ValueError/EVPError. */
static PyObject *cipher_init_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, PyObject *key, PyObject *iv,
                                int op, int taglen) {
    Py_buffer kv, iview;
    PyObject *ret = NULL;
    int klen, ivlen, aead;
    kv.obj = iview.obj = NULL;
    if (!m2_check_cipher(cipher)) return NULL;
    if (m2_get_optional_buffer(key, &kv) < 0 || m2_get_optional_buffer(iv, &iview) < 0) goto err;
    op = op ? 1 : 0;
    klen = EVP_CIPHER_get_key_length(cipher);
    ivlen = EVP_CIPHER_get_iv_length(cipher);
    /* the usual case in one init: key and IV of the cipher's lengths, no tag length to set */
    if (kv.obj && kv.len == klen && taglen <= 0 && (ivlen == 0 || (iview.obj && iview.len == ivlen))) {
        if (!EVP_CipherInit_ex2(ctx, cipher, kv.buf, ivlen ? iview.buf : NULL, op, NULL)) {
            m2_raise_msg(M2_EVP, "cannot set the key and IV");
            goto err;
        }
        Py_INCREF(Py_None);
        ret = Py_None;
        goto err;
    }
    if (!EVP_CipherInit_ex2(ctx, cipher, NULL, NULL, op, NULL)) { m2_raise_msg(M2_EVP, "cannot initialise the cipher"); goto err; }
    aead = (EVP_CIPHER_get_flags(cipher) & EVP_CIPH_FLAG_AEAD_CIPHER) != 0;
    if (kv.obj && kv.len != klen) {
        if (!(EVP_CIPHER_get_flags(cipher) & EVP_CIPH_VARIABLE_LENGTH) || kv.len == 0
            || EVP_CIPHER_CTX_set_key_length(ctx, (int)kv.len) <= 0) {
            PyErr_Format(m2_area_class(M2_EVP), "%s needs a %d-byte key, got %zd bytes",
                         EVP_CIPHER_get0_name(cipher), klen, kv.len);
            goto err;
        }
    }
    if (iview.obj && ivlen > 0 && iview.len != ivlen) {
        if (!aead || iview.len == 0
            || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)iview.len, NULL) <= 0) {
            PyErr_Format(m2_area_class(M2_EVP), "%s needs a %d-byte IV, got %zd bytes",
                         EVP_CIPHER_get0_name(cipher), ivlen, iview.len);
            goto err;
        }
    }
    if (taglen > 0 && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, taglen, NULL) <= 0) {
        m2_raise_msg(M2_EVP, "cannot set the tag length");
        goto err;
    }
    if ((kv.obj || iview.obj) && !EVP_CipherInit_ex2(ctx, NULL, kv.buf, ivlen > 0 ? iview.buf : NULL, op, NULL)) {
        m2_raise_msg(M2_EVP, "cannot set the key and IV");
        goto err;
    }
    Py_INCREF(Py_None);
    ret = Py_None;
err:
    m2_release(&kv);
    m2_release(&iview);
    return ret;
}

/* cipher_ctx_new and cipher_init_ex in one call (EVP.Cipher, once per message). */
static EVP_CIPHER_CTX *cipher_ctx_new_init(const EVP_CIPHER *cipher, PyObject *key, PyObject *iv, int op, int taglen) {
    EVP_CIPHER_CTX *ctx = cipher_ctx_new();
    PyObject *r;
    if (!ctx) return NULL;
    if (!(r = cipher_init_ex(ctx, cipher, key, iv, op, taglen))) { EVP_CIPHER_CTX_free(ctx); return NULL; }
    Py_DECREF(r);
    return ctx;
}

/* M2Crypto's m2.cipher_init(ctx, cipher, key, iv, op). */
static PyObject *cipher_init(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, PyObject *key, PyObject *iv, int op) {
    return cipher_init_ex(ctx, cipher, key, iv, op, 0);
}

/* EVP_CipherUpdate: the output so far (without the GIL past M2_GIL_THRESHOLD bytes). */
static PyObject *cipher_update(EVP_CIPHER_CTX *ctx, const void *data, Py_ssize_t datalen) {
    PyObject *out;
    int n = 0, ok, bs;
    if (!m2_cctx_ready(ctx)) return NULL;
    bs = EVP_CIPHER_CTX_get_block_size(ctx);
    if (datalen > INT_MAX - 64) { PyErr_SetString(PyExc_OverflowError, "buffer too large"); return NULL; }
    if (!(out = PyBytes_FromStringAndSize(NULL, datalen + (bs > 1 ? bs : 0)))) return NULL;
    if (datalen > M2_GIL_THRESHOLD) {
        M2_ALLOW_USING(ctx)
        ok = EVP_CipherUpdate(ctx, (unsigned char *)PyBytes_AS_STRING(out), &n, data, (int)datalen);
        M2_DISALLOW_USING
    } else {
        ok = EVP_CipherUpdate(ctx, (unsigned char *)PyBytes_AS_STRING(out), &n, data, (int)datalen);
    }
    if (!ok) { Py_DECREF(out); return m2_raise_msg(M2_EVP, "cipher update failed"); }
    if (n != PyBytes_GET_SIZE(out) && _PyBytes_Resize(&out, n) < 0) return NULL;
    return out;
}

/* Additional authenticated data for AEAD modes (EVP_CipherUpdate with no output). */
static PyObject *cipher_update_aad(EVP_CIPHER_CTX *ctx, const void *data, Py_ssize_t datalen) {
    int n = 0;
    if (!m2_cctx_ready(ctx)) return NULL;
    if (!EVP_CipherUpdate(ctx, NULL, &n, data, (int)datalen)) return m2_raise_msg(M2_EVP, "cannot add the AAD");
    Py_RETURN_NONE;
}

/* CCM: the total length of the plaintext, given before the AAD. */
static PyObject *cipher_set_data_length(EVP_CIPHER_CTX *ctx, long length) {
    int n = 0;
    if (!m2_cctx_ready(ctx)) return NULL;
    if (length < 0 || length > INT_MAX) { PyErr_SetString(PyExc_ValueError, "length out of range"); return NULL; }
    if (!EVP_CipherUpdate(ctx, NULL, &n, NULL, (int)length)) return m2_raise_msg(M2_EVP, "cannot set the data length");
    Py_RETURN_NONE;
}

/* EVP_CipherFinal_ex: the last block; a bad padding or an AEAD tag mismatch raises EVPError. */
static PyObject *cipher_final(EVP_CIPHER_CTX *ctx) {
    unsigned char out[EVP_MAX_BLOCK_LENGTH];
    int n = 0;
    if (!m2_cctx_ready(ctx)) return NULL;
    if (!EVP_CipherFinal_ex(ctx, out, &n)) return m2_raise_msg(M2_EVP, "cipher final failed (bad decrypt, padding or tag)");
    return PyBytes_FromStringAndSize((const char *)out, n);
}

static int cipher_set_padding(EVP_CIPHER_CTX *ctx, int padding) {
    return EVP_CIPHER_CTX_set_padding(ctx, padding);
}

/* EVP_CIPHER_CTX_ctrl with an int argument, or with a bytes argument (its length and
 * pointer, as for EVP_CTRL_AEAD_SET_TAG).  Returns OpenSSL's result; raises on failure. */
static int cipher_ctrl_set(EVP_CIPHER_CTX *ctx, int cmd, PyObject *arg) {
    Py_buffer view;
    int r;
    if (!m2_cctx_ready(ctx)) return -1;
    if (PyLong_Check(arg)) {
        int v = (int)PyLong_AsLong(arg);
        if (v == -1 && PyErr_Occurred()) return -1;
        r = EVP_CIPHER_CTX_ctrl(ctx, cmd, v, NULL);
    } else {
        if (m2_get_buffer(arg, &view, INT_MAX) < 0) return -1;
        r = EVP_CIPHER_CTX_ctrl(ctx, cmd, (int)view.len, view.buf);
        PyBuffer_Release(&view);
    }
    if (r <= 0) { m2_raise_msg(M2_EVP, "cipher control failed"); return -1; }
    return r;
}

/* EVP_CIPHER_CTX_ctrl writing outlen bytes (EVP_CTRL_AEAD_GET_TAG). */
static PyObject *cipher_ctrl_get(EVP_CIPHER_CTX *ctx, int cmd, int outlen) {
    unsigned char buf[256];
    if (!m2_cctx_ready(ctx)) return NULL;
    if (outlen <= 0 || outlen > (int)sizeof(buf)) { PyErr_SetString(PyExc_ValueError, "length out of range"); return NULL; }
    if (EVP_CIPHER_CTX_ctrl(ctx, cmd, outlen, buf) <= 0) return m2_raise_msg(M2_EVP, "cipher control failed");
    return PyBytes_FromStringAndSize((const char *)buf, outlen);
}

static int cipher_key_length(const EVP_CIPHER *c) { return m2_check_cipher(c) ? EVP_CIPHER_get_key_length(c) : -1; }
static int cipher_iv_length(const EVP_CIPHER *c) { return m2_check_cipher(c) ? EVP_CIPHER_get_iv_length(c) : -1; }
static int cipher_block_size(const EVP_CIPHER *c) { return m2_check_cipher(c) ? EVP_CIPHER_get_block_size(c) : -1; }
static int cipher_mode(const EVP_CIPHER *c) { return m2_check_cipher(c) ? (int)EVP_CIPHER_get_mode(c) : -1; }
static int cipher_is_aead(const EVP_CIPHER *c) {
    return m2_check_cipher(c) ? (EVP_CIPHER_get_flags(c) & EVP_CIPH_FLAG_AEAD_CIPHER) != 0 : -1;
}
static const char *cipher_name(const EVP_CIPHER *c) { return m2_check_cipher(c) ? EVP_CIPHER_get0_name(c) : NULL; }

/* EVP_BytesToKey: the cipher's key derived from data (M2Crypto's iv argument is unused). */
static PyObject *bytes_to_key(const EVP_CIPHER *cipher, const EVP_MD *md, const void *data, Py_ssize_t datalen,
                              PyObject *salt, PyObject *iv, int iter) {
    unsigned char key[EVP_MAX_KEY_LENGTH];
    Py_buffer sv;
    int n;
    (void)iv;
    if (!m2_check_cipher(cipher) || !m2_check_md(md)) return NULL;
    if (m2_get_optional_buffer(salt, &sv) < 0) return NULL;
    if (sv.obj && sv.len != 0 && sv.len != PKCS5_SALT_LEN) {
        m2_release(&sv);
        PyErr_Format(PyExc_ValueError, "the salt must be %d bytes", PKCS5_SALT_LEN);
        return NULL;
    }
    n = EVP_BytesToKey(cipher, md, sv.len ? sv.buf : NULL, data, (int)datalen, iter, key, NULL);
    m2_release(&sv);
    if (n <= 0) return m2_raise_msg(M2_EVP, "EVP_BytesToKey failed");
    return PyBytes_FromStringAndSize((const char *)key, n);
}
%}

/* ---- m2.CipherBase: EVP.Cipher's context and its per-message calls in C ----
 * EVP.Cipher subclasses it: the object holds its EVP_CIPHER_CTX and frees it when it dies (no
 * Python finalizer), and update()/final()/get_tag() are C methods, so that a message through
 * M2Crypto's four calls costs little more than the same calls in C.  CCM, whose one update()
 * needs the AAD first, goes back to the Python class's _update_ccm(). */
%{
static PyObject *m2_str_update_ccm, *m2_str_ptr, *m2_str_init;
static PyObject *m2_cipher_info;   /* EVP's dict: name -> (EVP_CIPHER, is AEAD, is CCM) */

/* ClosedError, raised by the Python class's _ptr(). */
static PyObject *m2_ctx_closed(void *self) {
    PyObject *r = PyObject_CallMethodNoArgs((PyObject *)self, m2_str_ptr);
    if (r) { Py_DECREF(r); PyErr_SetString(PyExc_ValueError, "the object has been freed"); }
    return NULL;
}

/* _p: the object itself while it has a context (what m2's functions take), else None. */
static PyObject *m2_ctx_get_p(m2_ctx_obj *self, void *c) {
    (void)c;
    return Py_NewRef(self->ctx ? (PyObject *)self : Py_None);
}

static void m2_cipher_clear(m2_cipher_obj *self) {
    EVP_CIPHER_CTX *ctx = self->ctx;
    self->ctx = NULL;
    Py_CLEAR(self->hold);
    Py_CLEAR(self->ccm);
    m2_free_or_defer(ctx, m2_free_fn_cipher_ctx_free);
}

static void m2_cipher_dealloc(m2_cipher_obj *self) {
    m2_cipher_clear(self);
    Py_CLEAR(self->cipher);
    Py_CLEAR(self->op);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* _open(cipher, key, iv, op, taglen): a new context keyed in one call (cipher_init_ex's checks). */
static PyObject *m2_cipher_open(m2_cipher_obj *self, PyObject *const *args, Py_ssize_t nargs) {
    void *cipher = NULL;
    EVP_CIPHER_CTX *ctx;
    long op, taglen;
    if (nargs != 5) { PyErr_SetString(PyExc_TypeError, "_open() takes 5 arguments"); return NULL; }
    if (!SWIG_IsOK(SWIG_ConvertPtr(args[0], &cipher, SWIGTYPE_p_EVP_CIPHER, 0)) || !cipher) {
        PyErr_SetString(PyExc_TypeError, "_open() needs an EVP_CIPHER");
        return NULL;
    }
    if ((op = PyLong_AsLong(args[3])) == -1 && PyErr_Occurred()) return NULL;
    if ((taglen = PyLong_AsLong(args[4])) == -1 && PyErr_Occurred()) return NULL;
    ctx = cipher_ctx_new_init((const EVP_CIPHER *)cipher, args[1], args[2], (int)op, (int)taglen);
    if (ERR_peek_error()) ERR_clear_error();
    if (!ctx) return NULL;
    m2_free_or_defer(self->ctx, m2_free_fn_cipher_ctx_free);
    self->ctx = ctx;
    Py_RETURN_NONE;
}

static PyObject *m2_cipher_update(m2_cipher_obj *self, PyObject *data) {
    Py_buffer view;
    PyObject *out;
    if (self->ccm) return PyObject_CallMethodOneArg((PyObject *)self, m2_str_update_ccm, data);
    if (!self->ctx) return m2_ctx_closed(self);
    if (m2_get_buffer(data, &view, INT_MAX) < 0) return NULL;
    out = cipher_update(self->ctx, view.buf, view.len);
    PyBuffer_Release(&view);
    if (!out) { ERR_clear_error(); return NULL; }
    if (self->hold) {
        int r = PyList_Append(self->hold, out);
        Py_DECREF(out);
        return r < 0 ? NULL : PyBytes_FromStringAndSize(NULL, 0);
    }
    return out;
}

static PyObject *m2_cipher_final(m2_cipher_obj *self, PyObject *unused) {
    PyObject *hold, *out, *all;
    Py_ssize_t i, n = 0;
    char *p;
    (void)unused;
    if (self->ccm) {
        PyObject *r = PyObject_CallMethodOneArg((PyObject *)self, m2_str_update_ccm, Py_None);
        if (!r) return NULL;
        Py_DECREF(r);
    }
    if (!self->ctx) return m2_ctx_closed(self);
    hold = self->hold;
    self->hold = NULL;
    out = cipher_final(self->ctx);   /* a tag mismatch raises: the held plaintext is dropped */
    if (!out) ERR_clear_error();
    if (!hold || !out) { Py_XDECREF(hold); return out; }
    for (i = 0; i < PyList_GET_SIZE(hold); i++) n += PyBytes_GET_SIZE(PyList_GET_ITEM(hold, i));
    if ((all = PyBytes_FromStringAndSize(NULL, n + PyBytes_GET_SIZE(out)))) {
        p = PyBytes_AS_STRING(all);
        for (i = 0; i < PyList_GET_SIZE(hold); i++) {
            PyObject *b = PyList_GET_ITEM(hold, i);
            memcpy(p, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
            p += PyBytes_GET_SIZE(b);
        }
        memcpy(p, PyBytes_AS_STRING(out), PyBytes_GET_SIZE(out));
    }
    Py_DECREF(hold);
    Py_DECREF(out);
    return all;
}

/* get_tag(length=None): the AEAD tag after final(), of length or tag_len bytes. */
static PyObject *m2_cipher_get_tag(m2_cipher_obj *self, PyObject *const *args, Py_ssize_t nargs) {
    long n = self->tag_len;
    PyObject *out;
    if (nargs > 1) { PyErr_SetString(PyExc_TypeError, "get_tag() takes at most 1 argument"); return NULL; }
    if (nargs == 1 && args[0] != Py_None) {
        if ((n = PyLong_AsLong(args[0])) == -1 && PyErr_Occurred()) return NULL;
        if (n == 0) n = self->tag_len;
    }
    if (!self->ctx) return m2_ctx_closed(self);
    if (n < 0 || n > 256) { PyErr_SetString(PyExc_ValueError, "length out of range"); return NULL; }
    out = cipher_ctrl_get(self->ctx, EVP_CTRL_AEAD_GET_TAG, (int)n);
    if (!out) ERR_clear_error();
    return out;
}

/* Setting _p to None frees the context. */
static int m2_cipher_set_p(m2_cipher_obj *self, PyObject *v, void *c) {
    (void)c;
    if (v != NULL && v != Py_None) { PyErr_SetString(PyExc_ValueError, "_p can only be set to None"); return -1; }
    m2_cipher_clear(self);
    return 0;
}
/* _hold and _ccm: a list, or None. */
static PyObject *m2_cipher_get_list(m2_cipher_obj *self, void *c) {
    PyObject *v = c ? self->ccm : self->hold;
    return Py_NewRef(v ? v : Py_None);
}
static int m2_cipher_set_list(m2_cipher_obj *self, PyObject *v, void *c) {
    PyObject **slot = c ? &self->ccm : &self->hold;
    if (v != NULL && v != Py_None && !PyList_CheckExact(v)) { PyErr_SetString(PyExc_TypeError, "a list or None"); return -1; }
    Py_XSETREF(*slot, v == NULL || v == Py_None ? NULL : Py_NewRef(v));
    return 0;
}
static PyObject *m2_cipher_get_tag_len(m2_cipher_obj *self, void *c) { (void)c; return PyLong_FromLong(self->tag_len); }
static int m2_cipher_set_tag_len(m2_cipher_obj *self, PyObject *v, void *c) {
    long n;
    (void)c;
    if (!v || (n = PyLong_AsLong(v)) == -1 || n < 0 || n > 256) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "tag length out of range");
        return -1;
    }
    self->tag_len = (int)n;
    return 0;
}

/* Cipher(alg, key, iv, op): the usual call (a cipher EVP has looked up before, not CCM, no
 * optional argument) is served here; any other goes to the Python class's _init(). */
static int m2_cipher_init(m2_cipher_obj *self, PyObject *args, PyObject *kwds) {
    PyObject *alg, *info, *r;
    void *cipher = NULL;
    EVP_CIPHER_CTX *ctx;
    long op;
    if (m2_cipher_info && (!kwds || !PyDict_GET_SIZE(kwds)) && PyTuple_GET_SIZE(args) == 4
        && PyUnicode_CheckExact(alg = PyTuple_GET_ITEM(args, 0))
        && (info = PyDict_GetItemWithError(m2_cipher_info, alg)) && PyTuple_CheckExact(info)
        && PyTuple_GET_SIZE(info) == 3 && !PyObject_IsTrue(PyTuple_GET_ITEM(info, 2))
        && SWIG_IsOK(SWIG_ConvertPtr(PyTuple_GET_ITEM(info, 0), &cipher, SWIGTYPE_p_EVP_CIPHER, 0)) && cipher) {
        if ((op = PyLong_AsLong(PyTuple_GET_ITEM(args, 3))) == -1 && PyErr_Occurred()) return -1;
        ctx = cipher_ctx_new_init((const EVP_CIPHER *)cipher, PyTuple_GET_ITEM(args, 1), PyTuple_GET_ITEM(args, 2),
                                  (int)op, 0);
        if (ERR_peek_error()) ERR_clear_error();
        if (!ctx) return -1;
        m2_cipher_clear(self);
        self->ctx = ctx;
        self->tag_len = 16;
        Py_XSETREF(self->cipher, Py_NewRef(PyTuple_GET_ITEM(info, 0)));
        Py_XSETREF(self->op, Py_NewRef(PyTuple_GET_ITEM(args, 3)));
        if (!op && PyObject_IsTrue(PyTuple_GET_ITEM(info, 1)) && !(self->hold = PyList_New(0))) return -1;
        return 0;
    }
    if (PyErr_Occurred()) return -1;
    if (!(r = PyObject_GetAttr((PyObject *)self, m2_str_init))) return -1;
    Py_SETREF(r, PyObject_Call(r, args, kwds));
    if (!r) return -1;
    Py_DECREF(r);
    return 0;
}

/* cipher and op: plain attributes kept in C. */
static PyObject *m2_cipher_get_attr(m2_cipher_obj *self, void *c) {
    PyObject *v = c ? self->op : self->cipher;
    if (!v) { PyErr_SetString(PyExc_AttributeError, c ? "op" : "cipher"); return NULL; }
    return Py_NewRef(v);
}
static int m2_cipher_set_attr(m2_cipher_obj *self, PyObject *v, void *c) {
    Py_XSETREF(*(c ? &self->op : &self->cipher), v ? Py_NewRef(v) : NULL);
    return 0;
}

static PyObject *m2_cipher_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    m2_cipher_obj *self = (m2_cipher_obj *)type->tp_alloc(type, 0);
    (void)args; (void)kwds;
    if (self) self->tag_len = 16;
    return (PyObject *)self;
}

static PyMethodDef m2_cipher_methods[] = {
    {"_open", (PyCFunction)(void (*)(void))m2_cipher_open, METH_FASTCALL, "Make and key the context."},
    {"update", (PyCFunction)m2_cipher_update, METH_O,
     "Encrypt or decrypt data; returns the output available so far.  Releases the GIL for large buffers."},
    {"final", (PyCFunction)m2_cipher_final, METH_NOARGS,
     "The last output (and, when decrypting with an AEAD mode, the whole plaintext)."},
    {"get_tag", (PyCFunction)(void (*)(void))m2_cipher_get_tag, METH_FASTCALL,
     "The tag after final() when encrypting with an AEAD mode."},
    {NULL, NULL, 0, NULL}
};
static PyGetSetDef m2_cipher_getset[] = {
    {"_p", (getter)m2_ctx_get_p, (setter)m2_cipher_set_p, NULL, NULL},
    {"_hold", (getter)m2_cipher_get_list, (setter)m2_cipher_set_list, NULL, NULL},
    {"_ccm", (getter)m2_cipher_get_list, (setter)m2_cipher_set_list, NULL, (void *)1},
    {"_tag_len", (getter)m2_cipher_get_tag_len, (setter)m2_cipher_set_tag_len, NULL, NULL},
    {"cipher", (getter)m2_cipher_get_attr, (setter)m2_cipher_set_attr, "The EVP_CIPHER.", NULL},
    {"op", (getter)m2_cipher_get_attr, (setter)m2_cipher_set_attr, "1 to encrypt, 0 to decrypt.", (void *)1},
    {NULL, NULL, NULL, NULL, NULL}
};
static PyTypeObject m2_cipher_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "M2Sec._m2sec.CipherBase",
    .tp_basicsize = sizeof(m2_cipher_obj),
    .tp_dealloc = (destructor)m2_cipher_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "An EVP_CIPHER_CTX owned by its object (EVP.Cipher's base).",
    .tp_methods = m2_cipher_methods,
    .tp_getset = m2_cipher_getset,
    .tp_new = m2_cipher_new,
    .tp_init = (initproc)m2_cipher_init,
};

/* m2.DigestBase: EVP.MessageDigest's context; update() is its C method, so that streaming
 * costs one call into C per buffer. */
static void m2_md_dealloc(m2_md_obj *self) {
    m2_free_or_defer(self->ctx, m2_free_fn_md_ctx_free);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* _open(md): a new context for the EVP_MD md, or a copy of another DigestBase's context. */
static PyObject *m2_md_open(m2_md_obj *self, PyObject *arg) {
    EVP_MD_CTX *ctx;
    void *md = NULL;
    if (PyObject_TypeCheck(arg, &m2_md_type)) {
        EVP_MD_CTX *from = ((m2_md_obj *)arg)->ctx;
        if (!from) return m2_ctx_closed(arg);
        if (!(ctx = md_ctx_new())) return NULL;
        if (!EVP_MD_CTX_copy_ex(ctx, from)) {
            EVP_MD_CTX_free(ctx);
            return m2_raise_msg(M2_EVP, "cannot copy the digest context");
        }
    } else {
        if (!SWIG_IsOK(SWIG_ConvertPtr(arg, &md, SWIGTYPE_p_EVP_MD, 0)) || !md) {
            PyErr_SetString(PyExc_TypeError, "_open() needs an EVP_MD or a DigestBase");
            return NULL;
        }
        ctx = md_ctx_new_init((const EVP_MD *)md);
        if (ERR_peek_error()) ERR_clear_error();
        if (!ctx) return NULL;
    }
    m2_free_or_defer(self->ctx, m2_free_fn_md_ctx_free);
    self->ctx = ctx;
    Py_RETURN_NONE;
}

static PyObject *m2_md_update(m2_md_obj *self, PyObject *data) {
    Py_buffer view;
    int r;
    if (!self->ctx) return m2_ctx_closed(self);
    if (m2_get_buffer(data, &view, INT_MAX) < 0) return NULL;
    r = digest_update(self->ctx, view.buf, view.len);
    PyBuffer_Release(&view);
    if (r < 0) { ERR_clear_error(); return NULL; }
    return PyLong_FromLong(1);
}

static int m2_md_set_p(m2_md_obj *self, PyObject *v, void *c) {
    EVP_MD_CTX *ctx = self->ctx;
    (void)c;
    if (v != NULL && v != Py_None) { PyErr_SetString(PyExc_ValueError, "_p can only be set to None"); return -1; }
    self->ctx = NULL;
    m2_free_or_defer(ctx, m2_free_fn_md_ctx_free);
    return 0;
}

static PyMethodDef m2_md_methods[] = {
    {"_open", (PyCFunction)m2_md_open, METH_O, "Make the context for an EVP_MD, or copy another's."},
    {"update", (PyCFunction)m2_md_update, METH_O,
     "Add data; returns 1 (M2Crypto's value).  Releases the GIL for large buffers."},
    {NULL, NULL, 0, NULL}
};
static PyGetSetDef m2_md_getset[] = {
    {"_p", (getter)m2_ctx_get_p, (setter)m2_md_set_p, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}
};
static PyTypeObject m2_md_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "M2Sec._m2sec.DigestBase",
    .tp_basicsize = sizeof(m2_md_obj),
    .tp_dealloc = (destructor)m2_md_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "An EVP_MD_CTX owned by its object (EVP.MessageDigest's base).",
    .tp_methods = m2_md_methods,
    .tp_getset = m2_md_getset,
    .tp_new = PyType_GenericNew,
};
%}
%inline %{
/* m2.cipher_base_init(info): the dict EVP keeps its looked-up ciphers in. */
static PyObject *cipher_base_init(PyObject *info) {
    if (!PyDict_CheckExact(info)) { PyErr_SetString(PyExc_TypeError, "a dict is required"); return NULL; }
    Py_XSETREF(m2_cipher_info, Py_NewRef(info));
    Py_RETURN_NONE;
}
%}
%init %{
    m2_str_update_ccm = PyUnicode_InternFromString("_update_ccm");
    m2_str_ptr = PyUnicode_InternFromString("_ptr");
    m2_str_init = PyUnicode_InternFromString("_init");
    if (!m2_str_update_ccm || !m2_str_ptr || !m2_str_init || PyType_Ready(&m2_cipher_type) < 0
        || PyType_Ready(&m2_md_type) < 0
        || PyModule_AddObject(m, "CipherBase", Py_NewRef(&m2_cipher_type)) < 0
        || PyModule_AddObject(m, "DigestBase", Py_NewRef(&m2_md_type)) < 0)
        return -1;
%}

/* ---- key derivation ---- */
%inline %{
/* PKCS5_PBKDF2_HMAC (RFC 8018) with the digest md, without the GIL. */
static PyObject *pkcs5_pbkdf2_hmac(const void *password, Py_ssize_t passwordlen, const void *salt, Py_ssize_t saltlen,
                                   int iter, int keylen, const EVP_MD *md) {
    PyObject *out;
    int ok;
    if (!m2_check_md(md)) return NULL;
    if (iter < 1 || keylen < 1) { PyErr_SetString(PyExc_ValueError, "iterations and key length must be positive"); return NULL; }
    if (!(out = PyBytes_FromStringAndSize(NULL, keylen))) return NULL;
    M2_ALLOW
    ok = PKCS5_PBKDF2_HMAC(password, (int)passwordlen, salt, (int)saltlen, iter, md, keylen,
                           (unsigned char *)PyBytes_AS_STRING(out));
    M2_DISALLOW
    if (!ok) { Py_DECREF(out); return m2_raise_msg(M2_EVP, "PBKDF2 failed"); }
    return out;
}

/* M2Crypto's m2.pkcs5_pbkdf2_hmac_sha1(password, salt, iterations, key_len). */
static PyObject *pkcs5_pbkdf2_hmac_sha1(const void *password, Py_ssize_t passwordlen, const void *salt, Py_ssize_t saltlen,
                                        int iter, int keylen) {
    const EVP_MD *md = get_digestbyname("SHA1");
    if (!md) return NULL;
    return pkcs5_pbkdf2_hmac(password, passwordlen, salt, saltlen, iter, keylen, md);
}

/* EVP_KDF_derive on a KDF fetched by name with params; length bytes, without the GIL. */
static PyObject *m2_kdf(const char *kdfname, OSSL_PARAM *params, long length) {
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    PyObject *out = NULL;
    int ok;
    if (length < 1 || length > (1 << 30)) { PyErr_SetString(PyExc_ValueError, "length out of range"); return NULL; }
    if (!(kdf = EVP_KDF_fetch(NULL, kdfname, NULL)) || !(kctx = EVP_KDF_CTX_new(kdf))) {
        m2_raise_msg(M2_EVP, "the KDF is not available");
        goto err;
    }
    if (!(out = PyBytes_FromStringAndSize(NULL, length))) goto err;
    M2_ALLOW
    ok = EVP_KDF_derive(kctx, (unsigned char *)PyBytes_AS_STRING(out), (size_t)length, params);
    M2_DISALLOW
    if (!ok) {
        Py_CLEAR(out);
        m2_raise_msg(M2_EVP, "key derivation failed");
    }
err:
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return out;
}

/* HKDF (RFC 5869): mode 0 extract-and-expand, 1 extract only, 2 expand only. */
static PyObject *kdf_hkdf(const void *key, Py_ssize_t keylen, const void *salt, Py_ssize_t saltlen,
                          const void *info, Py_ssize_t infolen, const EVP_MD *md, long length, int mode) {
    OSSL_PARAM params[6], *p = params;
    if (!m2_check_md(md)) return NULL;
    if (mode < 0 || mode > 2) { PyErr_SetString(PyExc_ValueError, "unknown HKDF mode"); return NULL; }
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, (size_t)keylen);
    if (saltlen) *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, (size_t)saltlen);
    if (infolen) *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, (size_t)infolen);
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p = OSSL_PARAM_construct_end();
    return m2_kdf("HKDF", params, length);
}

/* scrypt (RFC 7914); maxmem 0 keeps OpenSSL's limit. */
static PyObject *kdf_scrypt(const void *password, Py_ssize_t passwordlen, const void *salt, Py_ssize_t saltlen,
                            unsigned long long cost, unsigned int r, unsigned int p, unsigned long long memlimit,
                            long length) {
    OSSL_PARAM params[7], *q = params;
    uint64_t n = cost, maxmem = memlimit;
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password, (size_t)passwordlen);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, (size_t)saltlen);
    *q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
    *q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
    *q++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
    if (maxmem) *q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
    *q = OSSL_PARAM_construct_end();
    return m2_kdf("SCRYPT", params, length);
}
%}

%rename(pkey_new) EVP_PKEY_new;
EVP_PKEY *EVP_PKEY_new(void);
M2_FREE(pkey_free, EVP_PKEY_free, EVP_PKEY, pkey)
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

/* Apply RSA padding options to a signing/encryption EVP_PKEY_CTX; 0 with an exception set. */
static int m2_pkey_ctx_rsa_opts(EVP_PKEY_CTX *pctx, int padding, const char *oaep_md,
                                const char *mgf1_md, int saltlen, const void *label, Py_ssize_t labellen) {
    if (padding > 0 && EVP_PKEY_CTX_set_rsa_padding(pctx, padding) <= 0) goto err;
    if (oaep_md && *oaep_md) {
        if (!m2_get_md(oaep_md, M2_EVP)) return 0;
        if (EVP_PKEY_CTX_set_rsa_oaep_md_name(pctx, oaep_md, NULL) <= 0) goto err;
    }
    if (mgf1_md && *mgf1_md) {
        if (!m2_get_md(mgf1_md, M2_EVP)) return 0;
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

M2_RETURNS_NONNULL(pkey_read_pem_pubkey)
M2_RETURNS_NONNULL(pkey_read_der)
M2_RETURNS_NONNULL(pkey_read_der_pubkey)
M2_RETURNS_NONNULL(EVP_PKEY_get1_RSA)
M2_RETURNS_NONNULL(EVP_PKEY_get1_EC_KEY)
%rename(pkey_get1_rsa) EVP_PKEY_get1_RSA;
RSA *EVP_PKEY_get1_RSA(EVP_PKEY *pkey);
%rename(pkey_get1_ec) EVP_PKEY_get1_EC_KEY;
EC_KEY *EVP_PKEY_get1_EC_KEY(EVP_PKEY *pkey);
%inline %{
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
    const EVP_MD *md = m2_get_md(mdname, M2_EVP);
    if (!md) return NULL;
    if (!EVP_DigestInit_ex(ctx, md, NULL)) return m2_raise_msg(M2_EVP, "EVP_DigestInit_ex failed");
    Py_RETURN_NONE;
}

static PyObject *pkey_digest_update(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    int ok;
    if (datalen > M2_GIL_THRESHOLD) { M2_ALLOW_USING(ctx) ok = EVP_DigestUpdate(ctx, data, datalen); M2_DISALLOW_USING }
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
    M2_ALLOW_USING(ctx, pkey)
    ok = EVP_SignFinal(ctx, (unsigned char *)PyBytes_AS_STRING(out), &len, pkey);
    M2_DISALLOW_USING
    if (!ok) { Py_DECREF(out); return m2_raise_msg(M2_EVP, "EVP_SignFinal failed"); }
    if (_PyBytes_Resize(&out, len) < 0) return NULL;
    return out;
}

/* EVP_VerifyFinal: 1 for a good signature, 0 for a bad one; raises if the key cannot verify. */
static int pkey_verify_final(EVP_MD_CTX *ctx, const void *sig, Py_ssize_t siglen, EVP_PKEY *pkey) {
    int ret;
    M2_ALLOW_USING(ctx, pkey)
    ret = EVP_VerifyFinal(ctx, sig, (unsigned int)siglen, pkey);
    M2_DISALLOW_USING
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
    if (mdname && *mdname && !m2_get_md(mdname, M2_EVP)) return NULL;
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
    M2_ALLOW_USING(ctx)
    ok = EVP_DigestSignFinal(ctx, (unsigned char *)PyBytes_AS_STRING(out), &len);
    M2_DISALLOW_USING
    if (ok != 1) { Py_DECREF(out); return m2_raise_msg(M2_EVP, "EVP_DigestSignFinal failed"); }
    if (_PyBytes_Resize(&out, len) < 0) return NULL;
    return out;
}

static int pkey_digest_verify_final(EVP_MD_CTX *ctx, const void *sig, Py_ssize_t siglen) {
    int ret;
    M2_ALLOW_USING(ctx)
    ret = EVP_DigestVerifyFinal(ctx, sig, siglen);
    M2_DISALLOW_USING
    return ret == 1 ? 1 : 0;
}

/* EVP_DigestSign: one shot (the only way for Ed25519/Ed448, RFC 8032). */
static PyObject *pkey_digest_sign(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    size_t len = 0;
    int ok;
    PyObject *out;
    if (EVP_DigestSign(ctx, NULL, &len, data, datalen) != 1) return m2_raise_msg(M2_EVP, "EVP_DigestSign failed");
    if (!(out = PyBytes_FromStringAndSize(NULL, len))) return NULL;
    M2_ALLOW_USING(ctx)
    ok = EVP_DigestSign(ctx, (unsigned char *)PyBytes_AS_STRING(out), &len, data, datalen);
    M2_DISALLOW_USING
    if (ok != 1) { Py_DECREF(out); return m2_raise_msg(M2_EVP, "EVP_DigestSign failed"); }
    if (_PyBytes_Resize(&out, len) < 0) return NULL;
    return out;
}

static int pkey_digest_verify(EVP_MD_CTX *ctx, const void *sig, Py_ssize_t siglen, const void *data, Py_ssize_t datalen) {
    int ret;
    M2_ALLOW_USING(ctx)
    ret = EVP_DigestVerify(ctx, sig, siglen, data, datalen);
    M2_DISALLOW_USING
    return ret == 1 ? 1 : 0;
}

/* PEM: PKCS#8 private keys (encrypted when cipher is given), SubjectPublicKeyInfo public keys. */
static int pkey_write_pem(EVP_PKEY *pkey, BIO *bio, const EVP_CIPHER *cipher, PyObject *pyfunc) {
    int ok;
    ok = PEM_write_bio_PKCS8PrivateKey(bio, pkey, cipher, NULL, 0, m2_passphrase_cb, pyfunc);
    if (!ok) { m2_raise_msg(M2_EVP, "cannot write the private key"); return -1; }
    return 1;
}
static m2_ok pkey_write_pem_no_cipher(EVP_PKEY *pkey, BIO *bio, PyObject *pyfunc) {
    return PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, m2_passphrase_cb, pyfunc);
}
static m2_ok pkey_write_pem_pubkey(EVP_PKEY *pkey, BIO *bio) {
    return PEM_write_bio_PUBKEY(bio, pkey);
}

static EVP_PKEY *pkey_read_pem(BIO *bio, PyObject *pyfunc) {
    EVP_PKEY *pk;
    pk = PEM_read_bio_PrivateKey(bio, NULL, m2_passphrase_cb, pyfunc);
    if (!pk) m2_raise_msg(M2_EVP, "cannot read the private key (bad data or wrong passphrase)");
    return pk;
}
static EVP_PKEY *pkey_read_pem_pubkey(BIO *bio, PyObject *pyfunc) {
    return PEM_read_bio_PUBKEY(bio, NULL, m2_passphrase_cb, pyfunc);
}

/* DER: any private key (PKCS#8 or a type's traditional form), SubjectPublicKeyInfo. */
static EVP_PKEY *pkey_read_der(const void *data, Py_ssize_t datalen) {
    const unsigned char *p = data;
    return d2i_AutoPrivateKey(NULL, &p, (long)datalen);
}
static EVP_PKEY *pkey_read_der_pubkey(const void *data, Py_ssize_t datalen) {
    const unsigned char *p = data;
    return d2i_PUBKEY(NULL, &p, (long)datalen);
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
static int pkey_set1_ec(EVP_PKEY *pkey, EC_KEY *ec) {
    if (!EVP_PKEY_set1_EC_KEY(pkey, ec)) { m2_raise_msg(M2_EVP, "EVP_PKEY_set1_EC_KEY failed"); return -1; }
    return 1;
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

/* EVP_PKEY_fromdata: a key of type keytype ("RSA", "EC", ...) from OSSL_PKEY_PARAM_* values
 * in a dict: int -> BIGNUM, bytes-like -> octet string, str -> UTF-8 string.  private selects
 * EVP_PKEY_KEYPAIR, else EVP_PKEY_PUBLIC_KEY. */
static EVP_PKEY *pkey_fromdata(const char *keytype, PyObject *params, int private) {
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *ps = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM **bns = NULL;
    Py_ssize_t pos = 0, nbn = 0, i;
    PyObject *key, *value;
    if (!PyDict_Check(params)) { PyErr_SetString(PyExc_TypeError, "params must be a dict"); return NULL; }
    if (!(bns = PyMem_Calloc(PyDict_Size(params) + 1, sizeof(BIGNUM *)))) return (EVP_PKEY *)PyErr_NoMemory();
    if (!(bld = OSSL_PARAM_BLD_new())) { m2_raise(M2_EVP); goto err; }
    while (PyDict_Next(params, &pos, &key, &value)) {
        const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        int ok;
        if (!name) { if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "parameter names must be str"); goto err; }
        if (PyLong_Check(value)) {
            if (!(bns[nbn] = m2_pylong_to_bn(value))) goto err;
            ok = OSSL_PARAM_BLD_push_BN(bld, name, bns[nbn++]);
        } else if (PyUnicode_Check(value)) {
            const char *s = PyUnicode_AsUTF8(value);
            if (!s) goto err;
            ok = OSSL_PARAM_BLD_push_utf8_string(bld, name, s, 0);
        } else {
            Py_buffer view;
            if (m2_get_buffer(value, &view, INT_MAX) < 0) goto err;
            ok = OSSL_PARAM_BLD_push_octet_string(bld, name, view.buf, view.len);
            PyBuffer_Release(&view);
        }
        if (!ok) { m2_raise_msg(M2_EVP, "OSSL_PARAM_BLD_push failed"); goto err; }
    }
    if (!(ps = OSSL_PARAM_BLD_to_param(bld))) { m2_raise(M2_EVP); goto err; }
    if (!(ctx = EVP_PKEY_CTX_new_from_name(NULL, keytype, NULL))) {
        ERR_clear_error();
        PyErr_Format(m2_area_class(M2_EVP), "unknown key algorithm: %s", keytype);
        goto err;
    }
    if (EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pk, private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, ps) <= 0) {
        m2_raise_msg(M2_EVP, "invalid key parameters");
        pk = NULL;
    }
err:
    for (i = 0; i < nbn; i++) BN_clear_free(bns[i]);
    PyMem_Free(bns);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(ps);
    OSSL_PARAM_BLD_free(bld);
    return pk;
}

/* EVP_PKEY_get_*_param: one OSSL_PKEY_PARAM_* value of a key; kind 'n' a BIGNUM (as an int),
 * 'o' an octet string (bytes), 's' a UTF-8 string (str).  EVPError if the key has none. */
static PyObject *pkey_get_param(EVP_PKEY *pkey, const char *name, char kind) {
    if (kind == 'n') {
        BIGNUM *bn = NULL;
        PyObject *v;
        if (!EVP_PKEY_get_bn_param(pkey, name, &bn)) return m2_raise_msg(M2_EVP, "the key has no such number");
        v = m2_bn_to_pylong(bn);
        BN_clear_free(bn);
        return v;
    } else if (kind == 'o') {
        size_t len = 0;
        PyObject *out;
        if (!EVP_PKEY_get_octet_string_param(pkey, name, NULL, 0, &len))
            return m2_raise_msg(M2_EVP, "the key has no such octet string");
        if (!(out = PyBytes_FromStringAndSize(NULL, len))) return NULL;
        if (!EVP_PKEY_get_octet_string_param(pkey, name, (unsigned char *)PyBytes_AS_STRING(out), len, &len)) {
            Py_DECREF(out);
            return m2_raise(M2_EVP);
        }
        return out;
    } else if (kind == 's') {
        char buf[256];
        size_t len = 0;
        if (!EVP_PKEY_get_utf8_string_param(pkey, name, buf, sizeof(buf), &len))
            return m2_raise_msg(M2_EVP, "the key has no such string");
        return PyUnicode_FromStringAndSize(buf, len);
    }
    PyErr_SetString(PyExc_ValueError, "kind must be 'n', 'o' or 's'");
    return NULL;
}

/* EVP_PKEY_eq: 1 if both keys have the same public components. */
static int pkey_eq(EVP_PKEY *a, EVP_PKEY *b) { return EVP_PKEY_eq(a, b) == 1; }

/* EVP_PKEY_up_ref, so that two owners can share one key. */
static EVP_PKEY *pkey_up_ref(EVP_PKEY *pkey) {
    if (!EVP_PKEY_up_ref(pkey)) { m2_raise(M2_EVP); return NULL; }
    return pkey;
}
%}

/* ---- one call per record: AEAD seal/open with a fresh IV, a cipher re-run under a new IV,
 * and EVP_MAC MACs by name (Poly1305).  Record protocols (SSH's packet layer) call these once
 * per packet on a context keyed once, so that a packet costs one crossing into C. ---- */
%apply (const void *buf, Py_ssize_t len) { (const void *iv, Py_ssize_t ivlen) };
%apply (const void *buf, Py_ssize_t len) { (const void *aad, Py_ssize_t aadlen) };
%apply (const void *buf, Py_ssize_t len) { (const void *record, Py_ssize_t recordlen) };
%apply (const void *buf, Py_ssize_t len) { (const void *mackey, Py_ssize_t mackeylen) };

%{
typedef struct {
    char name[32];
    EVP_MAC_CTX *ctx;           /* re-keyed per call under the GIL */
} m2_mac_slot;
static m2_mac_slot m2_mac_slots[8];
static int m2_mac_used;

static EVP_MAC_CTX *m2_mac_ctx(const char *name) {
    EVP_MAC *mac;
    int i;
    for (i = 0; i < m2_mac_used; i++)
        if (!strcmp(m2_mac_slots[i].name, name)) return m2_mac_slots[i].ctx;
    if (m2_mac_used == (int)(sizeof(m2_mac_slots) / sizeof(m2_mac_slots[0])) || strlen(name) >= 32) return NULL;
    if (!(mac = EVP_MAC_fetch(NULL, name, NULL))) return NULL;
    m2_mac_slots[m2_mac_used].ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    if (!m2_mac_slots[m2_mac_used].ctx) return NULL;
    strcpy(m2_mac_slots[m2_mac_used].name, name);
    return m2_mac_slots[m2_mac_used++].ctx;
}

/* Set a new IV on a keyed context (EVP_CipherInit_ex2 with no cipher and no key). */
static int m2_cctx_set_iv(EVP_CIPHER_CTX *ctx, const void *iv, Py_ssize_t ivlen) {
    if (!m2_cctx_ready(ctx)) return 0;
    if (ivlen != EVP_CIPHER_CTX_get_iv_length(ctx)) {
        PyErr_Format(PyExc_ValueError, "the IV must be %d bytes", EVP_CIPHER_CTX_get_iv_length(ctx));
        return 0;
    }
    if (!EVP_CipherInit_ex2(ctx, NULL, NULL, iv, -1, NULL)) { m2_raise_msg(M2_EVP, "cannot set the IV"); return 0; }
    return 1;
}
%}

%inline %{
/* The MAC called name ("POLY1305", "SIPHASH", ... any EVP_MAC without parameters) of data
 * under key; the context is fetched once per name and re-keyed per call. */
static PyObject *mac_oneshot(PyObject *name, const void *mackey, Py_ssize_t mackeylen,
                             const void *data, Py_ssize_t datalen) {
    unsigned char out[64];
    size_t n = 0;
    int ok;
    const char *s = m2_name(name);
    EVP_MAC_CTX *ctx;
    if (!s) return NULL;
    if (!(ctx = m2_mac_ctx(s))) return m2_raise_msg(M2_EVP, "unknown MAC");
    if (datalen > M2_GIL_THRESHOLD) {
        /* Without the GIL another thread may use the shared context: work on a fresh one. */
        EVP_MAC_CTX *own = EVP_MAC_CTX_new(EVP_MAC_CTX_get0_mac(ctx));
        if (!own) return m2_raise_msg(M2_EVP, "cannot make a MAC context");
        if (!EVP_MAC_init(own, mackey, (size_t)mackeylen, NULL)) {
            EVP_MAC_CTX_free(own);
            return m2_raise_msg(M2_EVP, "bad MAC key");
        }
        M2_ALLOW
        ok = EVP_MAC_update(own, data, (size_t)datalen) && EVP_MAC_final(own, out, &n, sizeof(out));
        M2_DISALLOW
        EVP_MAC_CTX_free(own);
    } else {
        if (!EVP_MAC_init(ctx, mackey, (size_t)mackeylen, NULL)) return m2_raise_msg(M2_EVP, "bad MAC key");
        ok = EVP_MAC_update(ctx, data, (size_t)datalen) && EVP_MAC_final(ctx, out, &n, sizeof(out));
    }
    if (!ok) return m2_raise_msg(M2_EVP, "MAC failed");
    return PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)n);
}

/* A new IV on the keyed ctx, then EVP_CipherUpdate of data: a stream cipher (ChaCha20)
 * or CTR run from a chosen counter in one call. */
static PyObject *cipher_update_iv(EVP_CIPHER_CTX *ctx, const void *iv, Py_ssize_t ivlen,
                                  const void *data, Py_ssize_t datalen) {
    if (!m2_cctx_set_iv(ctx, iv, ivlen)) return NULL;
    return cipher_update(ctx, data, datalen);
}

/* AEAD seal of one record on a keyed ctx (GCM, ChaCha20-Poly1305): a new IV, aad
 * authenticated, data encrypted.  Returns aad || ciphertext || tag (taglen bytes). */
static PyObject *cipher_aead_seal(EVP_CIPHER_CTX *ctx, const void *iv, Py_ssize_t ivlen,
                                  const void *aad, Py_ssize_t aadlen, const void *data, Py_ssize_t datalen,
                                  int taglen) {
    PyObject *out;
    unsigned char *p;
    int n = 0, m = 0, ok;
    if (taglen < 1 || taglen > 16) { PyErr_SetString(PyExc_ValueError, "tag length out of range"); return NULL; }
    if (datalen > INT_MAX - 64 || aadlen > INT_MAX - 64) { PyErr_SetString(PyExc_OverflowError, "buffer too large"); return NULL; }
    if (!m2_cctx_set_iv(ctx, iv, ivlen)) return NULL;
    if (!(out = PyBytes_FromStringAndSize(NULL, aadlen + datalen + taglen))) return NULL;
    p = (unsigned char *)PyBytes_AS_STRING(out);
    memcpy(p, aad, aadlen);
    M2_ALLOW_USING(ctx)
    ok = (!aadlen || EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen))
         && EVP_CipherUpdate(ctx, p + aadlen, &n, data, (int)datalen)
         && EVP_CipherFinal_ex(ctx, p + aadlen + n, &m)
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, taglen, p + aadlen + datalen) > 0;
    M2_DISALLOW_USING
    if (!ok || n + m != datalen) { Py_DECREF(out); return m2_raise_msg(M2_EVP, "AEAD seal failed"); }
    return out;
}

/* AEAD open of record = aad (aadlen bytes) || ciphertext || tag (taglen bytes) on a keyed
 * ctx with a new IV.  The plaintext, or None when the tag does not match. */
static PyObject *cipher_aead_open(EVP_CIPHER_CTX *ctx, const void *iv, Py_ssize_t ivlen,
                                  const void *record, Py_ssize_t recordlen, int aadlen, int taglen) {
    PyObject *out;
    const unsigned char *r = record;
    Py_ssize_t clen = recordlen - aadlen - taglen;
    int n = 0, m = 0, ok;
    if (taglen < 1 || taglen > 16 || aadlen < 0 || clen < 0 || recordlen > INT_MAX - 64) {
        PyErr_SetString(PyExc_ValueError, "record, AAD and tag lengths do not fit");
        return NULL;
    }
    if (!m2_cctx_set_iv(ctx, iv, ivlen)) return NULL;
    if (!(out = PyBytes_FromStringAndSize(NULL, clen + 16))) return NULL;
    M2_ALLOW_USING(ctx)
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, taglen, (void *)(r + recordlen - taglen)) > 0
         && (!aadlen || EVP_CipherUpdate(ctx, NULL, &n, r, (int)aadlen))
         && EVP_CipherUpdate(ctx, (unsigned char *)PyBytes_AS_STRING(out), &n, r + aadlen, (int)clen);
    ok = ok && EVP_CipherFinal_ex(ctx, (unsigned char *)PyBytes_AS_STRING(out) + n, &m);
    M2_DISALLOW_USING
    ERR_clear_error();
    if (!ok) { Py_DECREF(out); Py_RETURN_NONE; }
    if (_PyBytes_Resize(&out, n + m) < 0) return NULL;
    return out;
}
%}

/* ---- keyed AEAD objects (EVP.AESGCM, EVP.ChaCha20Poly1305, EVP.AESCCM, EVP.AESOCB3, EVP.AESSIV,
 * EVP.AESGCMSIV): the cipher fetched once per process (m2_slot), one keyed EVP_CIPHER_CTX per
 * direction kept for the life of the object, so that a message costs one IV set and one pass,
 * written once into an output of the exact size.  Thread safety without a lock: a context is
 * marked busy while a call runs on it without the GIL; a second thread arriving meanwhile takes
 * the direction's spare context (keyed on first use and kept, so that two threads sharing one
 * object each run at full speed), and a third keys a context of its own for its one call.  An object closed while a call runs is freed by that call
 * when it ends. ---- */
%{
#define M2_AEAD_GCM 0
#define M2_AEAD_CHACHA 1
#define M2_AEAD_CCM 2
#define M2_AEAD_OCB 3
#define M2_AEAD_SIV 4
#define M2_AEAD_GCMSIV 5
typedef struct m2_aead {
    const EVP_CIPHER *cipher;       /* borrowed from the process-wide slot */
    EVP_CIPHER_CTX *ctx[2];         /* [0] decrypt, [1] encrypt; keyed on first use */
    int busy[2], ivlen[2];          /* busy: a call runs on ctx[i] without the GIL */
    EVP_CIPHER_CTX *spare[2];       /* a second context per direction, for a second thread */
    int sbusy[2], sivlen[2];
    int kind, taglen, minnonce, maxnonce, dead;
    size_t keylen;
    unsigned char key[64];
} m2_aead;

static PyObject *m2_invalid_tag;     /* EVP.InvalidTag, registered by aead_init */

/* No call runs on any of the object's contexts without the GIL. */
#define M2_AEAD_IDLE(a) (!(a)->busy[0] && !(a)->busy[1] && !(a)->sbusy[0] && !(a)->sbusy[1])

/* Free the contexts and wipe the key (aead_free, or the capsule's end). */
static void m2_aead_clear(m2_aead *a) {
    EVP_CIPHER_CTX_free(a->ctx[0]);
    EVP_CIPHER_CTX_free(a->ctx[1]);
    EVP_CIPHER_CTX_free(a->spare[0]);
    EVP_CIPHER_CTX_free(a->spare[1]);
    a->ctx[0] = a->ctx[1] = a->spare[0] = a->spare[1] = NULL;
    OPENSSL_cleanse(a->key, sizeof(a->key));
}

/* The struct lives in a capsule, so that a bound encrypt kept past close() finds it (dead)
 * rather than freed memory; its contexts go at close() or with the capsule. */
static void m2_aead_capsule_free(PyObject *cap) {
    m2_aead *a = PyCapsule_GetPointer(cap, "m2_aead");
    if (a) { m2_aead_clear(a); PyMem_Free(a); }
}

static m2_aead *m2_aead_get(PyObject *cap) {
    m2_aead *a = PyCapsule_GetPointer(cap, "m2_aead");
    if (a && a->dead) { PyErr_SetString(PyExc_ValueError, "the AEAD object has been freed"); return NULL; }
    return a;
}

/* Key ctx for direction enc with a nonce of ivlen bytes (ivlen 0: SIV, no nonce).  1, or 0 with
 * OpenSSL's error queue set.  CCM bakes the nonce length into its key schedule, so a change of
 * nonce length re-keys every mode (a rare event: callers keep one length). */
static int m2_aead_key(m2_aead *a, EVP_CIPHER_CTX *ctx, int enc, int ivlen) {
    OSSL_PARAM p[3], *q = p;
    size_t iv = (size_t)ivlen, tag = (size_t)a->taglen;
    if (!EVP_CipherInit_ex2(ctx, a->cipher, NULL, NULL, enc, NULL)) return 0;
    if (ivlen) *q++ = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &iv);
    if (a->kind == M2_AEAD_CCM || a->kind == M2_AEAD_OCB)
        *q++ = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, NULL, tag);
    *q = OSSL_PARAM_construct_end();
    return EVP_CIPHER_CTX_set_params(ctx, p) && EVP_CipherInit_ex2(ctx, NULL, a->key, NULL, enc, NULL);
}

/* Borrow the buffer of obj (None: empty) into v; 0, or -1 with an exception. */
static int m2_aead_buf(PyObject *obj, Py_buffer *v, const char *what) {
    if (obj == Py_None) { v->obj = NULL; v->buf = (void *)""; v->len = 0; return 0; }
    if (m2_get_buffer(obj, v, INT_MAX) < 0) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_OverflowError, "%s too long. Max 2**31 - 1 bytes", what);
        }
        v->obj = NULL;
        return -1;
    }
    return 0;
}

/* One pass on a keyed ctx: aad (a buffer, or for SIV a list of buffers), then in -> out, then
 * the tag.  out holds len bytes; tag is where the tag goes (encrypt) or comes from (decrypt). */
static int m2_aead_pass(m2_aead *a, EVP_CIPHER_CTX *ctx, int enc, const unsigned char *nonce,
                        Py_buffer *aad, Py_ssize_t naad, const unsigned char *in, int len,
                        unsigned char *out, unsigned char *tag) {
    OSSL_PARAM p[2];
    int n = 0, m = 0, i;
    if (!EVP_CipherInit_ex2(ctx, NULL, a->kind == M2_AEAD_SIV ? a->key : NULL, nonce, enc, NULL)) return 0;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, a->taglen, tag) <= 0) return 0;
    if (a->kind == M2_AEAD_CCM && !EVP_CipherUpdate(ctx, NULL, &n, NULL, len)) return 0;
    for (i = 0; i < naad; i++)
        if ((aad[i].len || a->kind == M2_AEAD_SIV)
            && !EVP_CipherUpdate(ctx, NULL, &n, aad[i].buf, (int)aad[i].len)) return 0;
    n = 0;
    if ((len || a->kind == M2_AEAD_CCM || a->kind == M2_AEAD_SIV) && !EVP_CipherUpdate(ctx, out, &n, in, len)) return 0;
    if (!EVP_CipherFinal_ex(ctx, out + n, &m) || n + m != len) return 0;
    if (!enc) return 1;
    p[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, (size_t)a->taglen);
    p[1] = OSSL_PARAM_construct_end();
    return EVP_CIPHER_CTX_get_params(ctx, p);
}
%}

%constant int AEAD_GCM = M2_AEAD_GCM;
%constant int AEAD_CHACHA = M2_AEAD_CHACHA;
%constant int AEAD_CCM = M2_AEAD_CCM;
%constant int AEAD_OCB = M2_AEAD_OCB;
%constant int AEAD_SIV = M2_AEAD_SIV;
%constant int AEAD_GCMSIV = M2_AEAD_GCMSIV;
%constant int HAS_AES_GCM_SIV = OPENSSL_VERSION_NUMBER >= 0x30200000L;
%apply (const void *buf, Py_ssize_t len) { (const void *aeadkey, Py_ssize_t aeadkeylen) };

%inline %{
/* A keyed AEAD of kind (m2.AEAD_*) on the cipher called name; the key is checked by the caller
 * (EVP.py gives cryptography's messages).  Raises EVPError if OpenSSL refuses it. */
static PyObject *aead_new(PyObject *name, int kind, const void *aeadkey, Py_ssize_t aeadkeylen, int taglen) {
    static const int nonces[][2] = {{8, 128}, {12, 12}, {7, 13}, {12, 15}, {0, 0}, {12, 12}};
    const char *s = m2_name(name);
    m2_alg_slot *slot;
    m2_aead *a;
    PyObject *cap;
    if (!s) return NULL;
    if (kind < 0 || kind > M2_AEAD_GCMSIV || aeadkeylen > 64 || taglen < 4 || taglen > 16) {
        PyErr_SetString(PyExc_ValueError, "bad AEAD kind, key or tag length");
        return NULL;
    }
    if (!(slot = m2_slot(1, s))) { m2_raise_msg(M2_EVP, "this OpenSSL does not offer the cipher"); return NULL; }
    if (!(a = PyMem_Calloc(1, sizeof(*a)))) { PyErr_NoMemory(); return NULL; }
    a->cipher = (const EVP_CIPHER *)slot->alg;
    a->kind = kind;
    a->taglen = taglen;
    a->minnonce = nonces[kind][0];
    a->maxnonce = nonces[kind][1];
    a->keylen = (size_t)aeadkeylen;
    memcpy(a->key, aeadkey, (size_t)aeadkeylen);
    if (!(a->ctx[0] = EVP_CIPHER_CTX_new()) || !(a->ctx[1] = EVP_CIPHER_CTX_new())
        || !m2_aead_key(a, a->ctx[1], 1, a->maxnonce)) {
        m2_aead_clear(a);
        PyMem_Free(a);
        return m2_raise_msg(M2_EVP, "cannot key the AEAD");
    }
    a->ivlen[1] = a->maxnonce;
    if (!(cap = PyCapsule_New(a, "m2_aead", m2_aead_capsule_free))) { m2_aead_clear(a); PyMem_Free(a); }
    return cap;
}

/* Free the contexts and wipe the key; further calls raise ValueError.  If a call runs on the
 * object without the GIL, that call frees them when it ends. */
static PyObject *aead_free(PyObject *cap) {
    m2_aead *a = PyCapsule_GetPointer(cap, "m2_aead");
    if (!a) return NULL;
    a->dead = 1;
    if (M2_AEAD_IDLE(a)) m2_aead_clear(a);
    Py_RETURN_NONE;
}

static PyObject *aead_init(PyObject *invalid_tag) {
    Py_INCREF(invalid_tag);
    Py_XSETREF(m2_invalid_tag, invalid_tag);
    Py_RETURN_NONE;
}

/* Encrypt (enc=1) or decrypt data with nonce (None for SIV) and associated data (None, a
 * buffer, or for SIV a list of buffers).  Output: ciphertext || tag (SIV: tag || ciphertext),
 * or the plaintext; into out when out is not None (it must have exactly the output's size; the
 * byte count is returned), else as new bytes.  Decrypt returns None when the tag does not match
 * (out is then wiped).  The GIL is released past M2_GIL_THRESHOLD bytes. */
static PyObject *aead_crypt(PyObject *cap, int enc, PyObject *nonce, PyObject *data, PyObject *aad, PyObject *out) {
    m2_aead *a = m2_aead_get(cap);
    Py_buffer nv, dv, ov, av1, *av = &av1;
    Py_ssize_t naad = 0, i, outlen;
    PyObject *ret = NULL, *seq = NULL, *bytes = NULL;
    EVP_CIPHER_CTX *ctx, *own = NULL;
    int *busyp = NULL, *ivlenp = NULL;
    unsigned char *o, *tag;
    const unsigned char *in;
    int len, ok, ivlen = 0, siv;
    if (!a) return NULL;
    siv = a->kind == M2_AEAD_SIV;
    enc = enc ? 1 : 0;
    nv.obj = dv.obj = ov.obj = NULL;
    if (!siv) {
        if (m2_get_buffer(nonce, &nv, INT_MAX) < 0) return NULL;
        ivlen = (int)nv.len;
        if (ivlen < a->minnonce || ivlen > a->maxnonce) {
            if (a->minnonce == a->maxnonce) PyErr_Format(PyExc_ValueError, "Nonce must be %d bytes", a->minnonce);
            else PyErr_Format(PyExc_ValueError, "Nonce must be between %d and %d bytes", a->minnonce, a->maxnonce);
            goto err;
        }
    }
    if (m2_aead_buf(data, &dv, "Data") < 0) goto err;
    if (siv && aad != Py_None) {        /* RFC 5297: a vector of associated data */
        if (!(seq = PySequence_Fast(aad, "associated_data must be a list of bytes-like objects or None"))) goto err;
        naad = PySequence_Fast_GET_SIZE(seq);
        if (naad > 126) { PyErr_SetString(PyExc_ValueError, "at most 126 associated data items"); goto err; }
        if (!(av = PyMem_Calloc(naad ? naad : 1, sizeof(Py_buffer)))) { PyErr_NoMemory(); goto err; }
        for (i = 0; i < naad; i++)
            if (m2_aead_buf(PySequence_Fast_GET_ITEM(seq, i), &av[i], "Associated data") < 0) { naad = i; goto err; }
    } else if (!siv) {
        if (m2_aead_buf(aad, av, "Associated data") < 0) goto err;
        naad = 1;
    }
    if (enc) {
        if (dv.len > INT_MAX - a->taglen) { PyErr_SetString(PyExc_OverflowError, "Data too long. Max 2**31 - 1 bytes"); goto err; }
        outlen = dv.len + a->taglen;
    } else {
        if (dv.len < a->taglen) { PyErr_SetNone(m2_invalid_tag ? m2_invalid_tag : PyExc_ValueError); goto err; }
        outlen = dv.len - a->taglen;
    }
    len = (int)(enc ? dv.len : outlen);
    if (siv && enc && !len) {           /* OpenSSL 3.0's EVP layer never hands SIV an empty message */
        PyErr_SetString(PyExc_ValueError, "data must not be zero length");
        goto err;
    }
    if (a->kind == M2_AEAD_CCM && 15 - ivlen < 4 && (unsigned long)len >> (8 * (15 - ivlen))) {
        PyErr_SetString(PyExc_ValueError, "Data too long for nonce");
        goto err;
    }
    if (out != Py_None) {
        if (PyObject_GetBuffer(out, &ov, PyBUF_WRITABLE) < 0) { ov.obj = NULL; goto err; }
        if (ov.len != outlen) { PyErr_Format(PyExc_ValueError, "buffer must be %zd bytes", outlen); goto err; }
        o = ov.buf;
    } else {
        if (!(bytes = PyBytes_FromStringAndSize(NULL, outlen))) goto err;
        o = (unsigned char *)PyBytes_AS_STRING(bytes);
    }
    /* layout: ct || tag, SIV tag || ct */
    in = (const unsigned char *)dv.buf + (!enc && siv ? a->taglen : 0);
    tag = enc ? o + (siv ? 0 : len) : (unsigned char *)dv.buf + (siv ? 0 : len);
    if (enc && siv) o += a->taglen;
    if (!a->busy[enc]) {
        ctx = a->ctx[enc];
        busyp = &a->busy[enc];
        ivlenp = &a->ivlen[enc];
    } else if (!a->sbusy[enc]) {        /* another thread is on ctx without the GIL */
        if (!a->spare[enc] && !(a->spare[enc] = EVP_CIPHER_CTX_new())) {
            m2_raise_msg(M2_EVP, "cannot key the AEAD");
            goto err;
        }
        ctx = a->spare[enc];
        busyp = &a->sbusy[enc];
        ivlenp = &a->sivlen[enc];
    } else {                            /* and another on the spare */
        if (!(ctx = own = EVP_CIPHER_CTX_new()) || !m2_aead_key(a, own, enc, ivlen)) {
            m2_raise_msg(M2_EVP, "cannot key the AEAD");
            goto err;
        }
    }
    if (ivlenp && (*ivlenp != ivlen || !EVP_CIPHER_CTX_get0_cipher(ctx))) {
        *ivlenp = -1;
        if (!m2_aead_key(a, ctx, enc, ivlen)) { m2_raise_msg(M2_EVP, "cannot key the AEAD"); goto err; }
        *ivlenp = ivlen;
    }
    if (dv.len > M2_GIL_THRESHOLD) {
        if (busyp) *busyp = 1;
        M2_ALLOW
        ok = m2_aead_pass(a, ctx, enc, nv.buf, av, naad, in, len, o, tag);
        M2_DISALLOW
        if (busyp) *busyp = 0;
    } else {
        ok = m2_aead_pass(a, ctx, enc, nv.buf, av, naad, in, len, o, tag);
    }
    if (!ok && enc) { m2_raise_msg(M2_EVP, "AEAD encryption failed"); goto err; }
    if (!ok) {
        ERR_clear_error();
        OPENSSL_cleanse(o, (size_t)len);
        if (a->kind == M2_AEAD_SIV || a->kind == M2_AEAD_CCM) a->ivlen[0] = -1;   /* re-key after a failed open */
        PyErr_SetNone(m2_invalid_tag ? m2_invalid_tag : PyExc_ValueError);
    } else if (bytes) {
        ret = bytes;
        bytes = NULL;
    } else {
        ret = PyLong_FromSsize_t(outlen);
    }
err:
    if (a->dead && M2_AEAD_IDLE(a)) m2_aead_clear(a);
    EVP_CIPHER_CTX_free(own);
    Py_XDECREF(bytes);
    if (nv.obj) PyBuffer_Release(&nv);
    if (dv.obj) PyBuffer_Release(&dv);
    if (ov.obj) PyBuffer_Release(&ov);
    for (i = 0; i < naad; i++) if (av[i].obj) PyBuffer_Release(&av[i]);
    if (av != &av1) PyMem_Free(av);
    Py_XDECREF(seq);
    return ret;
}

/* encrypt and decrypt of the objects, bound to one capsule with functools.partial */
static PyObject *aead_seal(PyObject *cap, PyObject *nonce, PyObject *data, PyObject *aad) {
    return aead_crypt(cap, 1, nonce, data, aad, Py_None);
}
static PyObject *aead_open(PyObject *cap, PyObject *nonce, PyObject *data, PyObject *aad) {
    return aead_crypt(cap, 0, nonce, data, aad, Py_None);
}
%}

/* ---- M2Crypto 0.51 names: EVP_Sign, EVP_Verify, EVP_DigestSign, EVP_DigestVerify on
 * EVP_MD pointers, key assignment, DER public key (issue 18) ---- */
%{
#include <openssl/dsa.h>
#include <openssl/dh.h>
/* A SWIG pointer argument that may be None (NULL); 0 with TypeError set if it is another type. */
static int m2_opt_ptr(PyObject *obj, void **out, swig_type_info *ty) {
    *out = NULL;
    if (!obj || obj == Py_None) return 1;
    if (!SWIG_IsOK(SWIG_ConvertPtr(obj, out, ty, 0))) {
        PyErr_Format(PyExc_TypeError, "expected %s or None", ty->str);
        return 0;
    }
    return 1;
}
static int m2_digest_sv_init(EVP_MD_CTX *ctx, PyObject *a, PyObject *mdobj, PyObject *e, PyObject *pkeyobj, int verify) {
    void *md = NULL, *pkey = NULL;
    int r;
    if (mdobj == NULL && e == NULL && pkeyobj == NULL) {   /* (ctx, pkey) */
        if (!m2_opt_ptr(a, &pkey, SWIGTYPE_p_EVP_PKEY)) return -1;
    } else {                                                /* (ctx, pctx, md, engine, pkey) */
        if (!m2_opt_ptr(mdobj, &md, SWIGTYPE_p_EVP_MD) || !m2_opt_ptr(pkeyobj, &pkey, SWIGTYPE_p_EVP_PKEY)) return -1;
        if (a && a != Py_None) { PyErr_SetString(PyExc_ValueError, "an EVP_PKEY_CTX out-argument is not supported: pass None"); return -1; }
        if (e && e != Py_None) { PyErr_SetString(PyExc_ValueError, "pass None for the engine"); return -1; }
    }
    if (!pkey) { PyErr_SetString(PyExc_ValueError, "a key is required"); return -1; }
    r = verify ? EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) : EVP_DigestSignInit(ctx, NULL, md, NULL, pkey);
    if (r != 1) { m2_raise_msg(M2_EVP, verify ? "EVP_DigestVerifyInit failed" : "EVP_DigestSignInit failed"); return -1; }
    return 1;
}
static int digest_sign_init(EVP_MD_CTX *ctx, PyObject *a, PyObject *md, PyObject *e, PyObject *pkey) {
    return m2_digest_sv_init(ctx, a, md, e, pkey, 0);
}
static int digest_verify_init(EVP_MD_CTX *ctx, PyObject *a, PyObject *md, PyObject *e, PyObject *pkey) {
    return m2_digest_sv_init(ctx, a, md, e, pkey, 1);
}
%}
/* digest_sign_init(ctx, pkey), or OpenSSL's five arguments (ctx, None, md, None, pkey). */
int digest_sign_init(EVP_MD_CTX *ctx, PyObject *a, PyObject *md = NULL, PyObject *e = NULL, PyObject *pkey = NULL);
int digest_verify_init(EVP_MD_CTX *ctx, PyObject *a, PyObject *md = NULL, PyObject *e = NULL, PyObject *pkey = NULL);
%inline %{
static m2_ok sign_init(EVP_MD_CTX *ctx, const EVP_MD *md) {
    if (!md) { PyErr_SetString(PyExc_ValueError, "a NULL EVP_MD was passed"); return 0; }
    return EVP_DigestInit_ex(ctx, md, NULL);
}
static m2_ok verify_init(EVP_MD_CTX *ctx, const EVP_MD *md) { return sign_init(ctx, md); }
static PyObject *sign_update(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    return pkey_digest_update(ctx, data, datalen);
}
static PyObject *sign_final(EVP_MD_CTX *ctx, EVP_PKEY *pkey) { return pkey_sign_final(ctx, pkey); }
static int verify_update(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    PyObject *r = pkey_digest_update(ctx, data, datalen);
    if (!r) return -1;
    Py_DECREF(r);
    return 1;
}
/* 1 for a good signature, 0 for a bad one (EVP_VerifyFinal). */
static int verify_final(EVP_MD_CTX *ctx, const void *sig, Py_ssize_t siglen, EVP_PKEY *pkey) {
    return pkey_verify_final(ctx, sig, siglen, pkey);
}
static PyObject *digest_sign_update(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    return pkey_digest_sign_update(ctx, data, datalen);
}
static int digest_verify_update(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    PyObject *r = pkey_digest_verify_update(ctx, data, datalen);
    if (!r) return -1;
    Py_DECREF(r);
    return 1;
}
static PyObject *digest_sign_final(EVP_MD_CTX *ctx) { return pkey_digest_sign_final(ctx); }
static int digest_verify_final(EVP_MD_CTX *ctx, const void *sig, Py_ssize_t siglen) {
    return pkey_digest_verify_final(ctx, sig, siglen);
}
static PyObject *digest_sign(EVP_MD_CTX *ctx, const void *data, Py_ssize_t datalen) {
    return pkey_digest_sign(ctx, data, datalen);
}
static int digest_verify(EVP_MD_CTX *ctx, const void *sig, Py_ssize_t siglen, const void *data, Py_ssize_t datalen) {
    return pkey_digest_verify(ctx, sig, siglen, data, datalen);
}

/* The key's SubjectPublicKeyInfo in DER (i2d_PUBKEY). */
static PyObject *pkey_as_der(EVP_PKEY *pkey) { return pkey_get1_der_pub(pkey); }

/* M2Crypto's assign functions hand the legacy key to pkey.  Here the key is shared by reference
 * count instead (set1), so that the Python object that still holds it cannot free it twice. */
static int pkey_assign_rsa(EVP_PKEY *pkey, RSA *rsa) { return pkey_set1_rsa(pkey, rsa); }
static int pkey_assign_ec(EVP_PKEY *pkey, EC_KEY *ec) { return pkey_set1_ec(pkey, ec); }
/* pkey_assign(pkey, EVP_PKEY_RSA/DSA/DH/EC, key): the same for any of the four legacy types. */
static int pkey_assign(EVP_PKEY *pkey, int type, PyObject *key) {
    void *k = NULL;
    int ok;
    swig_type_info *ty = type == EVP_PKEY_RSA ? SWIGTYPE_p_RSA : type == EVP_PKEY_DSA ? SWIGTYPE_p_DSA
                       : type == EVP_PKEY_DH ? SWIGTYPE_p_DH : type == EVP_PKEY_EC ? SWIGTYPE_p_EC_KEY : NULL;
    if (!ty) { PyErr_SetString(PyExc_ValueError, "type must be EVP_PKEY_RSA, _DSA, _DH or _EC"); return 0; }
    if (!m2_opt_ptr(key, &k, ty)) return 0;
    if (!k) { PyErr_SetString(PyExc_ValueError, "a key is required"); return 0; }
    ok = type == EVP_PKEY_RSA ? EVP_PKEY_set1_RSA(pkey, k) : type == EVP_PKEY_DSA ? EVP_PKEY_set1_DSA(pkey, k)
       : type == EVP_PKEY_DH ? EVP_PKEY_set1_DH(pkey, k) : EVP_PKEY_set1_EC_KEY(pkey, k);
    if (!ok) { m2_raise_msg(M2_EVP, "cannot assign the key"); return 0; }
    return 1;
}
%}

/* ---- the cost an encrypted PKCS#8 key asks for, read before decrypting it (issue 18) ---- */
%inline %{
/* The PBKDF2 (PBES2) or PKCS#5/PKCS#12 PBE iteration count of a DER EncryptedPrivateKeyInfo;
 * 0 for another key derivation (scrypt is bounded by OpenSSL's own memory limit).
 * EVPError if der is not an EncryptedPrivateKeyInfo. */
static PyObject *pkcs8_kdf_iterations(const void *data, Py_ssize_t datalen) {
    const unsigned char *p = data;
    X509_SIG *sig = d2i_X509_SIG(NULL, &p, (long)datalen);
    const X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *oid = NULL;
    const void *pval = NULL;
    int ptype = 0, nid;
    PBE2PARAM *pbe2 = NULL;
    PBKDF2PARAM *kdf = NULL;
    PBEPARAM *pbe = NULL;
    const ASN1_INTEGER *iter = NULL;
    PyObject *ret = NULL;
    int64_t n = 0;
    if (!sig) return m2_raise_msg(M2_EVP, "not an encrypted PKCS#8 key");
    X509_SIG_get0(sig, &alg, NULL);
    X509_ALGOR_get0(&oid, &ptype, &pval, alg);
    nid = OBJ_obj2nid(oid);
    if (ptype != V_ASN1_SEQUENCE) {
        m2_raise_msg(M2_EVP, "encrypted PKCS#8 key without algorithm parameters");
        goto err;
    }
    if (nid == NID_pbes2) {
        if (!(pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), (const ASN1_TYPE *)alg->parameter))) {
            m2_raise_msg(M2_EVP, "bad PBES2 parameters");
            goto err;
        }
        if (OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2) {
            if (!(kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter))) {
                m2_raise_msg(M2_EVP, "bad PBKDF2 parameters");
                goto err;
            }
            iter = kdf->iter;
        }
    } else if (!(pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), (const ASN1_TYPE *)alg->parameter))) {
        m2_raise_msg(M2_EVP, "bad PBE parameters");
        goto err;
    } else {
        iter = pbe->iter;
    }
    if (iter && (!ASN1_INTEGER_get_int64(&n, iter) || n < 1)) n = INT64_MAX;  /* huge or negative */
    ret = PyLong_FromLongLong((long long)n);
err:
    PBKDF2PARAM_free(kdf);
    PBE2PARAM_free(pbe2);
    PBEPARAM_free(pbe);
    X509_SIG_free(sig);
    return ret;
}
%}

/* ---- keys that sign without a separate digest ---- */
%inline %{
/* 1 if pkey signs the message itself, with no digest allowed (EVP_PKEY_get_default_digest_name
 * answers "UNDEF" as mandatory: Ed25519, Ed448, and in OpenSSL 3.5 ML-DSA and SLH-DSA). */
static int pkey_sign_takes_no_digest(EVP_PKEY *pkey) {
    char name[64];
    int r = EVP_PKEY_get_default_digest_name(pkey, name, sizeof(name));
    ERR_clear_error();
    return r == 2 && strcmp(name, "UNDEF") == 0;
}
%}

/* ---- post-quantum keys (OpenSSL 3.5: FIPS 203 ML-KEM, FIPS 204 ML-DSA, FIPS 205 SLH-DSA) ---- */
%{
#if OPENSSL_VERSION_NUMBER >= 0x30500000L
#define M2_HAS_PQ 1
#else
#define M2_HAS_PQ 0
#endif
%}
%constant int HAS_ML_KEM = M2_HAS_PQ;
%constant int HAS_ML_DSA = M2_HAS_PQ;
%constant int HAS_SLH_DSA = M2_HAS_PQ;
%inline %{
/* EVP_PKEY_encapsulate with a public key: (ciphertext, shared secret) (ML-KEM, RSASVE). */
static PyObject *pkey_encapsulate(EVP_PKEY *pkey) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t ctlen = 0, sslen = 0;
    int ok;
    PyObject *ct = NULL, *ss = NULL, *out = NULL;
    if (!ctx) return m2_raise(M2_EVP);
    if (EVP_PKEY_encapsulate_init(ctx, NULL) <= 0) { m2_raise_msg(M2_EVP, "this key cannot encapsulate"); goto err; }
    if (EVP_PKEY_encapsulate(ctx, NULL, &ctlen, NULL, &sslen) <= 0) { m2_raise_msg(M2_EVP, "EVP_PKEY_encapsulate failed"); goto err; }
    if (!(ct = PyBytes_FromStringAndSize(NULL, ctlen)) || !(ss = PyBytes_FromStringAndSize(NULL, sslen))) goto err;
    M2_ALLOW
    ok = EVP_PKEY_encapsulate(ctx, (unsigned char *)PyBytes_AS_STRING(ct), &ctlen,
                              (unsigned char *)PyBytes_AS_STRING(ss), &sslen);
    M2_DISALLOW
    if (ok <= 0) { m2_raise_msg(M2_EVP, "EVP_PKEY_encapsulate failed"); goto err; }
    if (_PyBytes_Resize(&ct, ctlen) < 0 || _PyBytes_Resize(&ss, sslen) < 0) goto err;
    out = PyTuple_Pack(2, ct, ss);
err:
    Py_XDECREF(ct);
    Py_XDECREF(ss);
    EVP_PKEY_CTX_free(ctx);
    return out;
}
/* EVP_PKEY_decapsulate with a private key: the shared secret of a ciphertext. */
static PyObject *pkey_decapsulate(EVP_PKEY *pkey, const void *data, Py_ssize_t datalen) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t sslen = 0;
    int ok;
    PyObject *ss = NULL;
    if (!ctx) return m2_raise(M2_EVP);
    if (EVP_PKEY_decapsulate_init(ctx, NULL) <= 0) { m2_raise_msg(M2_EVP, "this key cannot decapsulate"); goto err; }
    if (EVP_PKEY_decapsulate(ctx, NULL, &sslen, data, datalen) <= 0) { m2_raise_msg(M2_EVP, "not a ciphertext for this key"); goto err; }
    if (!(ss = PyBytes_FromStringAndSize(NULL, sslen))) goto err;
    M2_ALLOW
    ok = EVP_PKEY_decapsulate(ctx, (unsigned char *)PyBytes_AS_STRING(ss), &sslen, data, datalen);
    M2_DISALLOW
    if (ok <= 0) { Py_CLEAR(ss); m2_raise_msg(M2_EVP, "not a ciphertext for this key"); goto err; }
    if (_PyBytes_Resize(&ss, sslen) < 0) ss = NULL;
err:
    EVP_PKEY_CTX_free(ctx);
    return ss;
}
%}

M2_DEPRECATED_FILE_END
