/* _provider.i: OpenSSL 3 providers and library contexts (OSSL_PROVIDER, OSSL_LIB_CTX),
 * and loading keys and certificates by URI through OSSL_STORE. */
%{
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/ui.h>
%}
M2_OK_AREA(M2_PROVIDER)

M2_NONNULL(OSSL_PROVIDER *)
M2_NULLABLE_STR(path)  /* provider_set_default_search_path: NULL restores the default */
M2_AREA_INIT(provider_init_error, M2_PROVIDER)

M2_FREE(provider_context_free, OSSL_LIB_CTX_free, OSSL_LIB_CTX, ctx)

M2_RETURNS_NONNULL(OSSL_LIB_CTX_new)
%rename(provider_context_new) OSSL_LIB_CTX_new;
OSSL_LIB_CTX *OSSL_LIB_CTX_new(void);
%rename(provider_unload) OSSL_PROVIDER_unload;
m2_ok OSSL_PROVIDER_unload(OSSL_PROVIDER *prov);
%inline %{
/* Load a provider by name into libctx (None: the default context); raises if unavailable. */
static OSSL_PROVIDER *provider_load(OSSL_LIB_CTX *libctx, const char *name) {
    OSSL_PROVIDER *p;
    M2_ALLOW_USING(libctx)
    p = OSSL_PROVIDER_load(libctx, name);
    M2_DISALLOW_USING
    if (!p) m2_raise_msg(M2_PROVIDER, "cannot load the provider");
    return p;
}

static int provider_available(OSSL_LIB_CTX *libctx, const char *name) { return OSSL_PROVIDER_available(libctx, name); }
static const char *provider_get0_name(OSSL_PROVIDER *prov) { return OSSL_PROVIDER_get0_name(prov); }
static int provider_self_test(OSSL_PROVIDER *prov) { return OSSL_PROVIDER_self_test(prov); }
static int provider_set_default_search_path(OSSL_LIB_CTX *libctx, const char *path) {
    return OSSL_PROVIDER_set_default_search_path(libctx, path);
}

static int m2_collect_provider(OSSL_PROVIDER *prov, void *list) {
    PyObject *name = PyUnicode_FromString(OSSL_PROVIDER_get0_name(prov));
    if (!name) return 0;
    PyList_Append((PyObject *)list, name);
    Py_DECREF(name);
    return 1;
}

/* The names of the providers active in libctx. */
static PyObject *provider_names(OSSL_LIB_CTX *libctx) {
    PyObject *list = PyList_New(0);
    if (!list) return NULL;
    OSSL_PROVIDER_do_all(libctx, m2_collect_provider, list);
    if (PyErr_Occurred()) { Py_DECREF(list); return NULL; }
    return list;
}

/* The first object of the given OSSL_STORE_INFO type found at uri, or NULL with an exception. */
static void *m2_store_load(OSSL_LIB_CTX *libctx, const char *uri, int want) {
    OSSL_STORE_CTX *store;
    OSSL_STORE_INFO *info;
    void *obj = NULL;
    M2_ALLOW_USING(libctx)
    store = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL, NULL);
    M2_DISALLOW_USING
    if (!store) return m2_raise_msg(M2_PROVIDER, "cannot open the store URI");
    OSSL_STORE_expect(store, want);
    while (!obj && !OSSL_STORE_eof(store)) {
        M2_ALLOW_USING(libctx)
        info = OSSL_STORE_load(store);
        M2_DISALLOW_USING
        if (!info) {
            if (OSSL_STORE_error(store)) break;
            continue;
        }
        if (OSSL_STORE_INFO_get_type(info) == want) {
            if (want == OSSL_STORE_INFO_PKEY) obj = OSSL_STORE_INFO_get1_PKEY(info);
            else if (want == OSSL_STORE_INFO_PUBKEY) obj = OSSL_STORE_INFO_get1_PUBKEY(info);
            else if (want == OSSL_STORE_INFO_CERT) obj = OSSL_STORE_INFO_get1_CERT(info);
        }
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    if (!obj) m2_raise_msg(M2_PROVIDER, "nothing of the requested kind at the URI");
    return obj;
}

static EVP_PKEY *provider_load_key(OSSL_LIB_CTX *libctx, const char *uri) {
    ERR_set_mark();
    {
        EVP_PKEY *k = m2_store_load(libctx, uri, OSSL_STORE_INFO_PKEY);
        if (k) { ERR_pop_to_mark(); return k; }
    }
    PyErr_Clear();
    ERR_pop_to_mark();
    return m2_store_load(libctx, uri, OSSL_STORE_INFO_PUBKEY);
}

static X509 *provider_load_certificate(OSSL_LIB_CTX *libctx, const char *uri) {
    return m2_store_load(libctx, uri, OSSL_STORE_INFO_CERT);
}
%}

/* ---- M2Crypto 0.51 names: key generation in a provider's library context (issue 18) ---- */
%typemap(check) OSSL_PROVIDER *optional_provider "";
%inline %{
static EVP_PKEY *m2_provider_keygen(OSSL_LIB_CTX *libctx, OSSL_PROVIDER *prov, const char *alg, OSSL_PARAM *params) {
    const char *propq = NULL;
    EVP_PKEY_CTX *ctx;
    EVP_PKEY *pk = NULL;
    char pq[256];
    if (prov) { snprintf(pq, sizeof(pq), "provider=%s", OSSL_PROVIDER_get0_name(prov)); propq = pq; }
    ctx = EVP_PKEY_CTX_new_from_name(libctx, alg, propq);
    if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_params(ctx, params) <= 0) goto err;
    M2_ALLOW_USING(libctx, prov)
    if (EVP_PKEY_generate(ctx, &pk) <= 0) pk = NULL;
    M2_DISALLOW_USING
err:
    EVP_PKEY_CTX_free(ctx);
    if (!pk) m2_raise_msg(M2_PROVIDER, "key generation failed");
    return pk;
}
/* An RSA key pair made by the provider (or any provider of libctx when None). */
static EVP_PKEY *provider_generate_rsa_key_pair(int bits, unsigned long exponent, OSSL_LIB_CTX *libctx, OSSL_PROVIDER *optional_provider) {
    size_t b = (size_t)bits;
    OSSL_PARAM params[3];
    if (bits < 512) { PyErr_SetString(PyExc_ValueError, "RSA keys need at least 512 bits"); return NULL; }
    if (exponent < 3 || !(exponent & 1)) { PyErr_SetString(PyExc_ValueError, "the exponent must be odd and at least 3"); return NULL; }
    params[0] = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &b);
    params[1] = OSSL_PARAM_construct_ulong(OSSL_PKEY_PARAM_RSA_E, &exponent);
    params[2] = OSSL_PARAM_construct_end();
    return m2_provider_keygen(libctx, optional_provider, "RSA", params);
}
static EVP_PKEY *provider_generate_ec_key_pair(const char *curve_name, OSSL_LIB_CTX *libctx, OSSL_PROVIDER *optional_provider) {
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve_name, 0);
    params[1] = OSSL_PARAM_construct_end();
    return m2_provider_keygen(libctx, optional_provider, "EC", params);
}
/* Key destruction is specific to each provider (M2Crypto's raises NotImplementedError too). */
static int provider_destroy_key(const char *uri, PyObject *user_pin) {
    (void)uri; (void)user_pin;
    PyErr_SetString(PyExc_NotImplementedError, "destroying a key is specific to each provider");
    return 0;
}
/* The exception class provider functions raise. */
static PyObject *provider_exc(void) {
    PyObject *cls = m2_area_class(M2_PROVIDER);
    Py_INCREF(cls);
    return cls;
}
%}
