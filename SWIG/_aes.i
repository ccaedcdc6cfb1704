/* _aes.i: M2Crypto's low-level AES functions (m2.aes_new, m2.AES_set_key, m2.AES_crypt, ...),
 * built on EVP's AES-ECB: the AES_KEY API they once wrapped is deprecated in OpenSSL 3.
 * New code should use EVP.Cipher. */
%{
/* An AES key: the raw key and a context initialised for the direction last used. */
typedef struct {
    EVP_CIPHER_CTX *ctx;
    unsigned char key[32];
    int bits;                   /* 0 until a key is set */
    int dir;                    /* 0 encrypt, 1 decrypt, -1 not initialised */
} M2_AES_KEY;

static int m2_aes_prepare(M2_AES_KEY *k, int dir) {
    const char *name = k->bits == 128 ? "AES-128-ECB" : k->bits == 192 ? "AES-192-ECB" : "AES-256-ECB";
    const EVP_CIPHER *c;
    if (k->dir == dir) return 1;
    if (!(c = m2_cipher_by_name(name))) return 0;
    if (!EVP_CipherInit_ex2(k->ctx, c, k->key, NULL, dir == 0, NULL)) return 0;
    EVP_CIPHER_CTX_set_padding(k->ctx, 0);
    k->dir = dir;
    return 1;
}
%}

M2_NONNULL(M2_AES_KEY *)
%{
static void m2_aes_free_fn(void *p) {
    M2_AES_KEY *key = p;
    EVP_CIPHER_CTX_free(key->ctx);
    OPENSSL_cleanse(key, sizeof(*key));
    PyMem_Free(key);
}
%}
%constant int AES_BLOCK_SIZE = 16;

%inline %{
static M2_AES_KEY *aes_new(void) {
    M2_AES_KEY *k = PyMem_Calloc(1, sizeof(M2_AES_KEY));
    if (!k) { PyErr_NoMemory(); return NULL; }
    if (!(k->ctx = EVP_CIPHER_CTX_new())) {
        PyMem_Free(k);
        m2_raise_msg(M2_EVP, "EVP_CIPHER_CTX_new failed");
        return NULL;
    }
    k->dir = -1;
    return k;
}

/* Free the key: at once, or (m2_free_or_defer) when the last AES_crypt using it leaves. */
static void AES_free(M2_AES_KEY *key) {
    m2_free_or_defer(key, m2_aes_free_fn);
}

/* Set a 128-, 192- or 256-bit key (the first bits/8 bytes of value); op 0 prepares it for
 * encryption, any other value for decryption (AES_crypt can still do either). */
static PyObject *AES_set_key(M2_AES_KEY *key, const void *data, Py_ssize_t datalen, int bits, int op) {
    if (bits != 128 && bits != 192 && bits != 256) { PyErr_SetString(PyExc_ValueError, "bits must be 128, 192 or 256"); return NULL; }
    if (datalen < bits / 8) { PyErr_Format(PyExc_ValueError, "a %d-bit key needs %d bytes", bits, bits / 8); return NULL; }
    memcpy(key->key, data, (size_t)(bits / 8));
    key->bits = bits;
    key->dir = -1;
    if (!m2_aes_prepare(key, op ? 1 : 0)) return m2_raise_msg(M2_EVP, "cannot set the AES key");
    Py_RETURN_NONE;
}

/* Encrypt (op 0) or decrypt (otherwise) whole 16-byte blocks of data in ECB mode; returns
 * the first outlen bytes of the result. */
static PyObject *AES_crypt(M2_AES_KEY *key, const void *data, Py_ssize_t datalen, int outlen, int op) {
    PyObject *out;
    int n = 0, ok;
    if (!key->bits) { PyErr_SetString(PyExc_ValueError, "no AES key was set"); return NULL; }
    if (datalen % 16) { PyErr_SetString(PyExc_ValueError, "AES_crypt works on whole 16-byte blocks"); return NULL; }
    if (outlen < 0 || outlen > datalen) { PyErr_SetString(PyExc_ValueError, "outlen must be between 0 and len(data)"); return NULL; }
    if (!m2_aes_prepare(key, op ? 1 : 0)) return m2_raise_msg(M2_EVP, "cannot set the AES key");
    if (!(out = PyBytes_FromStringAndSize(NULL, datalen))) return NULL;
    if (datalen > M2_GIL_THRESHOLD) {
        M2_ALLOW_USING(key)
        ok = EVP_CipherUpdate(key->ctx, (unsigned char *)PyBytes_AS_STRING(out), &n, data, (int)datalen);
        M2_DISALLOW_USING
    } else {
        ok = EVP_CipherUpdate(key->ctx, (unsigned char *)PyBytes_AS_STRING(out), &n, data, (int)datalen);
    }
    if (!ok) { Py_DECREF(out); return m2_raise_msg(M2_EVP, "AES failed"); }
    if (outlen != datalen && _PyBytes_Resize(&out, outlen) < 0) return NULL;
    return out;
}

static int AES_type_check(M2_AES_KEY *key) { return key->ctx != NULL; }

/* Lower-case names for the same functions. */
static void aes_free(M2_AES_KEY *key) { AES_free(key); }
static PyObject *aes_set_key(M2_AES_KEY *key, const void *data, Py_ssize_t datalen, int bits, int op) {
    return AES_set_key(key, data, datalen, bits, op);
}
static PyObject *aes_init(M2_AES_KEY *key, const void *data, Py_ssize_t datalen, int bits, int op) {
    return AES_set_key(key, data, datalen, bits, op);
}
static PyObject *aes_crypt(M2_AES_KEY *key, const void *data, Py_ssize_t datalen, int outlen, int op) {
    return AES_crypt(key, data, datalen, outlen, op);
}
static int aes_type_check(M2_AES_KEY *key) { return AES_type_check(key); }
%}
