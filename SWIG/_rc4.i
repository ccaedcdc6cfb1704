/* _rc4.i: M2Crypto's RC4 functions (m2.rc4_new, rc4_set_key, rc4_update, rc4_free) on EVP's
 * RC4, which OpenSSL 3 keeps in its legacy provider: M2Sec.RC4 loads that provider first.
 * Without it, rc4_set_key raises EVPError. */
%constant int OPENSSL_NO_RC4 = 0;

%inline %{
static EVP_CIPHER_CTX *rc4_new(void) { return cipher_ctx_new(); }
static void rc4_free(EVP_CIPHER_CTX *ctx) { EVP_CIPHER_CTX_free(ctx); }

/* Key the stream with key (1 to 256 bytes); raises EVPError if RC4 is not available. */
static PyObject *rc4_set_key(EVP_CIPHER_CTX *ctx, const void *key, Py_ssize_t keylen) {
    const EVP_CIPHER *c;
    if (keylen < 1 || keylen > 256) { PyErr_SetString(PyExc_ValueError, "an RC4 key has 1 to 256 bytes"); return NULL; }
    if (!(c = m2_cipher_by_name("RC4")))
        return m2_raise_msg(M2_EVP, "RC4 is not available (it needs OpenSSL's legacy provider)");
    if (!EVP_CipherInit_ex2(ctx, c, NULL, NULL, 1, NULL) || EVP_CIPHER_CTX_set_key_length(ctx, (int)keylen) <= 0
        || !EVP_CipherInit_ex2(ctx, NULL, key, NULL, 1, NULL))
        return m2_raise_msg(M2_EVP, "cannot set the RC4 key");
    Py_RETURN_NONE;
}

static PyObject *rc4_update(EVP_CIPHER_CTX *ctx, const void *data, Py_ssize_t datalen) {
    if (!EVP_CIPHER_CTX_get0_cipher(ctx)) { PyErr_SetString(PyExc_ValueError, "no RC4 key was set"); return NULL; }
    return cipher_update(ctx, data, datalen);
}

static int rc4_type_check(EVP_CIPHER_CTX *ctx) { return EVP_CIPHER_CTX_get0_cipher(ctx) != NULL; }
%}
