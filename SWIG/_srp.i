/* _srp.i: SRP (RFC 5054) through OpenSSL's SRP functions, for M2Sec.TLS's VerifierDB and SRP
 * handshakes.  OpenSSL 3 deprecates these functions but still ships them; they are wrapped
 * once, here.  Numbers cross as Python ints (N, g, verifier) and bytes (salt).  Included after
 * _ssl.i: SSL_CTX and SSL pointers are _ssl.i's (NULL is a ValueError), and the server's lookup
 * lives in the SSL_CTX's dict of Python objects. */
M2_DEPRECATED_FILE_BEGIN  /* M2Crypto names OpenSSL's deprecated API here (see _lib.i) */
%{
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/ssl.h>
#include <openssl/srp.h>
%}

%constant int SRP_HAS_SRP = 1;

%inline %{
/* (N, g) of RFC 5054's group of `bits` bits (1024, 1536, 2048, 3072, 4096, 6144, 8192). */
static PyObject *srp_group(int bits) {
    char id[16];
    SRP_gN *gN;
    PyObject *n = NULL, *g = NULL, *ret = NULL;
    snprintf(id, sizeof(id), "%d", bits);
    gN = SRP_get_default_gN(id);
    if (!gN || strcmp(gN->id, id) != 0) {
        PyErr_Format(PyExc_ValueError, "no RFC 5054 SRP group of %d bits", bits);
        return NULL;
    }
    n = m2_bn_to_pylong(gN->N);
    g = n ? m2_bn_to_pylong(gN->g) : NULL;
    if (g) ret = PyTuple_Pack(2, n, g);
    Py_XDECREF(n);
    Py_XDECREF(g);
    return ret;
}

/* The bits of (g, N) when they are one of RFC 5054's groups, else 0 (SRP_check_known_gN_param). */
static int srp_known_group(PyObject *N, PyObject *g) {
    BIGNUM *bn = NULL, *bg = NULL;
    char *id = NULL;
    int bits = 0;
    if (!(bn = m2_pylong_to_bn(N)) || !(bg = m2_pylong_to_bn(g))) goto err;
    id = SRP_check_known_gN_param(bg, bn);
    if (id) bits = atoi(id);
err:
    BN_free(bn);
    BN_free(bg);
    return PyErr_Occurred() ? -1 : bits;
}

/* (salt, verifier) for username and password in the group (N, g); a random 16-byte salt
 * unless salt is given (SRP_create_verifier_BN_ex: x = SHA1(salt | SHA1(user ":" password))). */
static PyObject *srp_create_verifier(const char *user, const char *password, PyObject *N, PyObject *g,
                                     PyObject *salt) {
    BIGNUM *bn = NULL, *bg = NULL, *bs = NULL, *bv = NULL;
    PyObject *ret = NULL, *pv = NULL, *ps = NULL;
    Py_buffer view;
    int ok;
    if (!(bn = m2_pylong_to_bn(N)) || !(bg = m2_pylong_to_bn(g))) goto err;
    if (salt != Py_None) {
        if (m2_get_buffer(salt, &view, 1024) < 0) goto err;
        bs = BN_bin2bn(view.buf, (int)view.len, NULL);
        PyBuffer_Release(&view);
        if (!bs) { m2_raise(M2_SSL); goto err; }
    }
    M2_ALLOW
    ok = SRP_create_verifier_BN_ex(user, password, &bs, &bv, bn, bg, NULL, NULL);
    M2_DISALLOW
    if (!ok) { m2_raise_msg(M2_SSL, "SRP_create_verifier failed"); goto err; }
    {
        int n = BN_num_bytes(bs);
        ps = PyBytes_FromStringAndSize(NULL, n);
        if (!ps) goto err;
        BN_bn2bin(bs, (unsigned char *)PyBytes_AS_STRING(ps));
    }
    if (!(pv = m2_bn_to_pylong(bv))) goto err;
    ret = PyTuple_Pack(2, ps, pv);
err:
    Py_XDECREF(ps);
    Py_XDECREF(pv);
    BN_free(bn);
    BN_free(bg);
    BN_free(bs);
    BN_clear_free(bv);
    return ret;
}

/* The server's username callback: arg is a Python callable taking the username (bytes) and
 * returning None for an unknown user, or (N, g, salt, verifier).  An unknown user ends the
 * handshake with unknown_psk_identity (RFC 5054 section 2.5.1.3); a failing callback with
 * internal_error, its exception raised by the handshake call. */
static int m2_srp_username_cb(SSL *s, int *ad, void *arg) {
    PyGILState_STATE gil = PyGILState_Ensure();
    const char *user = SSL_get_srp_username(s);
    PyObject *ret = NULL, *N, *g, *salt, *v;
    BIGNUM *bn = NULL, *bg = NULL, *bs = NULL, *bv = NULL;
    Py_buffer view;
    int al = SSL3_AL_FATAL;
    *ad = SSL_AD_INTERNAL_ERROR;
    if (!user || !arg) { *ad = SSL_AD_UNKNOWN_PSK_IDENTITY; goto done; }
    ret = m2_callback((PyObject *)arg, Py_BuildValue("(y)", user));
    if (!ret) goto done;
    if (ret == Py_None) { *ad = SSL_AD_UNKNOWN_PSK_IDENTITY; goto done; }
    if (!PyTuple_Check(ret) || PyTuple_GET_SIZE(ret) != 4) {
        PyErr_SetString(PyExc_TypeError, "the SRP lookup must return None or (N, g, salt, verifier)");
        goto done;
    }
    N = PyTuple_GET_ITEM(ret, 0); g = PyTuple_GET_ITEM(ret, 1);
    salt = PyTuple_GET_ITEM(ret, 2); v = PyTuple_GET_ITEM(ret, 3);
    if (!(bn = m2_pylong_to_bn(N)) || !(bg = m2_pylong_to_bn(g)) || !(bv = m2_pylong_to_bn(v))) goto done;
    if (m2_get_buffer(salt, &view, 1024) < 0) goto done;
    bs = BN_bin2bn(view.buf, (int)view.len, NULL);
    PyBuffer_Release(&view);
    if (bs && SSL_set_srp_server_param(s, bn, bg, bs, bv, NULL) == 1) al = SSL_ERROR_NONE;
done:
    Py_XDECREF(ret);
    BN_free(bn);
    BN_free(bg);
    BN_free(bs);
    BN_clear_free(bv);
    PyGILState_Release(gil);
    return al;
}

/* A client offering SRP suites (RFC 5054: 0xC01A..0xC022) to a server that has both a
 * certificate and SRP users gets TLS 1.2 at most, where SRP exists, as TLS Lite's server does. */
static int m2_srp_client_hello_cb(SSL *s, int *al, void *arg) {
    const unsigned char *suites = NULL;
    size_t i, n = SSL_client_hello_get0_ciphers(s, &suites);
    for (i = 0; i + 1 < n; i += 2) {
        unsigned int id = (suites[i] << 8) | suites[i + 1];
        if (id >= 0xC01A && id <= 0xC022) {
            SSL_set_max_proto_version(s, TLS1_2_VERSION);
            break;
        }
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}
%}

M2_NULLABLE_STR(srp_password);

%inline %{
/* Make ctx an SRP server whose users lookup(username) finds (see m2_srp_username_cb); ctx
 * keeps lookup alive. */
static PyObject *srp_ctx_set_server(SSL_CTX *ctx, PyObject *lookup) {
    if (!PyCallable_Check(lookup)) { PyErr_SetString(PyExc_TypeError, "lookup must be callable"); return NULL; }
    if (m2_ssl_ctx_put(ctx, "srp_lookup", lookup) < 0) return NULL;
    if (!SSL_CTX_set_srp_cb_arg(ctx, lookup) || !SSL_CTX_set_srp_username_callback(ctx, m2_srp_username_cb))
        return m2_raise_msg(M2_SSL, "cannot set the SRP callback");
    SSL_CTX_set_client_hello_cb(ctx, m2_srp_client_hello_cb, NULL);
    Py_RETURN_NONE;
}

/* Make ctx an SRP client for username and password, refusing groups below strength bits. */
static PyObject *srp_ctx_set_client(SSL_CTX *ctx, const char *user, const char *srp_password, int strength) {
    if (!SSL_CTX_set_srp_username(ctx, (char *)user) ||
        (srp_password && !SSL_CTX_set_srp_password(ctx, (char *)srp_password)) ||
        !SSL_CTX_set_srp_strength(ctx, strength))
        return m2_raise_msg(M2_SSL, "cannot set the SRP client parameters");
    Py_RETURN_NONE;
}

/* The SRP user name of a connection (the client's login, seen by the server), or None. */
static PyObject *srp_get_username(SSL *ssl) {
    const char *user = SSL_get_srp_username(ssl);
    if (!user) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(user, strlen(user), "surrogateescape");
}
%}

M2_DEPRECATED_FILE_END
