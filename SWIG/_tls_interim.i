/* _tls_interim.i: INTERIM.  A minimal SSL_CTX/SSL over two memory BIOs for M2Sec.TLS, until
 * M2Sec.SSL (SWIG/_ssl.i) provides Context and its sans-I/O object; then this file goes and
 * M2Sec/TLS/_engine.py calls M2Sec.SSL instead.  Names carry a tls_ prefix to stay clear of
 * _ssl.i's. */
%{
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
%}

%constant int TLS_WANT_READ = SSL_ERROR_WANT_READ;
%constant int TLS_WANT_WRITE = SSL_ERROR_WANT_WRITE;
%constant int TLS_ZERO_RETURN = SSL_ERROR_ZERO_RETURN;
%constant int TLS_SYSCALL = SSL_ERROR_SYSCALL;
%constant long TLS_OP_NO_ENCRYPT_THEN_MAC = SSL_OP_NO_ENCRYPT_THEN_MAC;
%constant long TLS_OP_NO_EXTENDED_MASTER_SECRET = SSL_OP_NO_EXTENDED_MASTER_SECRET;
%constant long TLS_OP_TLSEXT_PADDING = SSL_OP_TLSEXT_PADDING;
%constant long TLS_OP_ALLOW_NO_DHE_KEX = SSL_OP_ALLOW_NO_DHE_KEX;
%constant long TLS_OP_NO_TICKET = SSL_OP_NO_TICKET;
%constant long TLS_MODE_SEND_FALLBACK_SCSV = SSL_MODE_SEND_FALLBACK_SCSV;
%constant int TLS_VERIFY_NONE = SSL_VERIFY_NONE;
%constant int TLS_VERIFY_PEER = SSL_VERIFY_PEER;
%constant int TLS_VERIFY_FAIL_IF_NO_PEER_CERT = SSL_VERIFY_FAIL_IF_NO_PEER_CERT;

%{
/* The server's ALPN choice: the first of its own protocols (arg: Python bytes in wire form,
 * kept alive by the Python context) that the client offers; no overlap is a fatal alert. */
static int m2_tls_alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
                              const unsigned char *in, unsigned int inlen, void *arg) {
    PyObject *prefs = (PyObject *)arg;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(prefs);
    Py_ssize_t n = PyBytes_GET_SIZE(prefs), i = 0;
    while (i < n) {
        unsigned int len = p[i], j = 0;
        while (j < inlen) {
            if (in[j] == len && j + 1 + len <= inlen && memcmp(in + j + 1, p + i + 1, len) == 0) {
                *out = in + j + 1;
                *outlen = (unsigned char)len;
                return SSL_TLSEXT_ERR_OK;
            }
            j += 1 + in[j];
        }
        i += 1 + len;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* The server's SNI check (arg: the expected name as Python bytes): a different name is fatal. */
static int m2_tls_sni_check(SSL *s, int *ad, void *arg) {
    const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    PyObject *want = (PyObject *)arg;
    if (!name || !want) return SSL_TLSEXT_ERR_NOACK;
    if (strlen(name) == (size_t)PyBytes_GET_SIZE(want) &&
        OPENSSL_strncasecmp(name, PyBytes_AS_STRING(want), strlen(name)) == 0)
        return SSL_TLSEXT_ERR_OK;
    *ad = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int m2_tls_accept_any(int ok, X509_STORE_CTX *store) { return 1; }

static PyObject *m2_tls_status(SSL *ssl, int ret) {
    int err = SSL_get_error(ssl, ret);
    if (err == SSL_ERROR_SSL) return m2_raise(M2_SSL);
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error()) return m2_raise(M2_SSL);
    return PyLong_FromLong(err);
}
%}

%inline %{
static SSL_CTX *tls_ctx_new(int server) {
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) m2_raise(M2_SSL);
    return ctx;
}
static void tls_ctx_free(SSL_CTX *ctx) { SSL_CTX_free(ctx); }

static PyObject *tls_ctx_configure(SSL_CTX *ctx, int min_version, int max_version, const char *ciphers,
                                   const char *suites, const char *groups, const char *sigalgs,
                                   long opts_set, long opts_clear, long modes) {
    if (!SSL_CTX_set_min_proto_version(ctx, min_version) || !SSL_CTX_set_max_proto_version(ctx, max_version))
        return m2_raise_msg(M2_SSL, "protocol versions");
    if (*ciphers && !SSL_CTX_set_cipher_list(ctx, ciphers)) return m2_raise_msg(M2_SSL, "cipher list");
    if (!SSL_CTX_set_ciphersuites(ctx, suites)) return m2_raise_msg(M2_SSL, "TLS 1.3 cipher suites");
    if (*groups && !SSL_CTX_set1_groups_list(ctx, groups)) return m2_raise_msg(M2_SSL, "groups");
    if (*sigalgs && !SSL_CTX_set1_sigalgs_list(ctx, sigalgs)) return m2_raise_msg(M2_SSL, "signature algorithms");
    SSL_CTX_clear_options(ctx, (uint64_t)opts_clear);
    SSL_CTX_set_options(ctx, (uint64_t)opts_set);
    SSL_CTX_set_mode(ctx, modes);
    Py_RETURN_NONE;
}

/* Sessions: a server cache of size entries kept timeout seconds with num_tickets tickets per
 * handshake, or (size 0) no session cache and no tickets. */
static PyObject *tls_ctx_sessions(SSL_CTX *ctx, long size, long timeout, int num_tickets, const void *buf, Py_ssize_t len) {
    if (size > 0) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, size);
        SSL_CTX_set_timeout(ctx, timeout);
        SSL_CTX_set_num_tickets(ctx, num_tickets);
        if (len && !SSL_CTX_set_session_id_context(ctx, buf, (unsigned int)len)) return m2_raise(M2_SSL);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, 0);
    }
    Py_RETURN_NONE;
}

static PyObject *tls_ctx_use_cert(SSL_CTX *ctx, X509 *cert, int chain) {
    if (!(chain ? SSL_CTX_add1_chain_cert(ctx, cert) : SSL_CTX_use_certificate(ctx, cert)))
        return m2_raise(M2_SSL);
    Py_RETURN_NONE;
}
static PyObject *tls_ctx_use_key(SSL_CTX *ctx, EVP_PKEY *key) {
    if (!SSL_CTX_use_PrivateKey(ctx, key) || !SSL_CTX_check_private_key(ctx)) return m2_raise(M2_SSL);
    Py_RETURN_NONE;
}
%}
M2_NULLABLE_STR(tls_cafile);
M2_NULLABLE_STR(tls_capath);
%inline %{
/* Verification: mode is SSL_VERIFY_*; trust cafile/capath, or the system store when both are None. */
static PyObject *tls_ctx_verify(SSL_CTX *ctx, int mode, const char *tls_cafile, const char *tls_capath,
                                int use_default, int accept_any) {
    SSL_CTX_set_verify(ctx, mode, accept_any ? m2_tls_accept_any : NULL);
    if ((tls_cafile || tls_capath) && !SSL_CTX_load_verify_locations(ctx, tls_cafile, tls_capath))
        return m2_raise_msg(M2_SSL, "cannot load the trusted certificates");
    if (use_default && !SSL_CTX_set_default_verify_paths(ctx)) return m2_raise(M2_SSL);
    Py_RETURN_NONE;
}
static PyObject *tls_ctx_alpn(SSL_CTX *ctx, int server, PyObject *wire) {
    if (!PyBytes_Check(wire)) { PyErr_SetString(PyExc_TypeError, "wire-format bytes needed"); return NULL; }
    if (server) SSL_CTX_set_alpn_select_cb(ctx, m2_tls_alpn_select, wire);
    else if (SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)PyBytes_AS_STRING(wire),
                                     (unsigned int)PyBytes_GET_SIZE(wire)) != 0)
        return m2_raise(M2_SSL);
    Py_RETURN_NONE;
}
static PyObject *tls_ctx_expect_sni(SSL_CTX *ctx, PyObject *name) {
    if (!PyBytes_Check(name)) { PyErr_SetString(PyExc_TypeError, "bytes needed"); return NULL; }
    SSL_CTX_set_tlsext_servername_callback(ctx, m2_tls_sni_check);
    SSL_CTX_set_tlsext_servername_arg(ctx, name);
    Py_RETURN_NONE;
}

/* A new SSL over two fresh memory BIOs. */
static SSL *tls_new(SSL_CTX *ctx, int server) {
    SSL *ssl = SSL_new(ctx);
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    if (!ssl || !rbio || !wbio) { SSL_free(ssl); BIO_free(rbio); BIO_free(wbio); m2_raise(M2_SSL); return NULL; }
    BIO_set_mem_eof_return(rbio, -1);
    SSL_set_bio(ssl, rbio, wbio);
    if (server) SSL_set_accept_state(ssl); else SSL_set_connect_state(ssl);
    return ssl;
}
static void tls_free(SSL *ssl) { SSL_free(ssl); }

M2_NULLABLE_STR(tls_host);
static PyObject *tls_set_host(SSL *ssl, const char *tls_host, int sni, int check) {
    if (sni && tls_host && !SSL_set_tlsext_host_name(ssl, tls_host)) return m2_raise(M2_SSL);
    if (check && tls_host && !SSL_set1_host(ssl, tls_host)) return m2_raise(M2_SSL);
    Py_RETURN_NONE;
}

static PyObject *tls_feed(SSL *ssl, const void *buf, Py_ssize_t len) {
    if (len && BIO_write(SSL_get_rbio(ssl), buf, (int)len) != (int)len) return m2_raise(M2_SSL);
    Py_RETURN_NONE;
}
static PyObject *tls_feed_eof(SSL *ssl) {
    BIO_set_mem_eof_return(SSL_get_rbio(ssl), 0);
    Py_RETURN_NONE;
}
/* Everything the SSL has written so far. */
static PyObject *tls_drain(SSL *ssl) {
    BIO *w = SSL_get_wbio(ssl);
    long n = BIO_ctrl_pending(w);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) return NULL;
    if (n && BIO_read(w, PyBytes_AS_STRING(out), (int)n) != n) { Py_DECREF(out); return m2_raise(M2_SSL); }
    return out;
}
static PyObject *tls_handshake(SSL *ssl) {
    int ret;
    M2_ALLOW
    ret = SSL_do_handshake(ssl);
    M2_DISALLOW
    if (ret == 1) return PyLong_FromLong(0);
    return m2_tls_status(ssl, ret);
}
/* bytes read (up to n), or an int status (TLS_WANT_READ, TLS_ZERO_RETURN, TLS_SYSCALL). */
static PyObject *tls_read(SSL *ssl, int n) {
    PyObject *out;
    size_t got = 0;
    int ok;
    if (n <= 0) { PyErr_SetString(PyExc_ValueError, "n must be positive"); return NULL; }
    out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) return NULL;
    M2_ALLOW
    ok = SSL_read_ex(ssl, PyBytes_AS_STRING(out), (size_t)n, &got);
    M2_DISALLOW
    if (!ok) { Py_DECREF(out); return m2_tls_status(ssl, 0); }
    if (got != (size_t)n) _PyBytes_Resize(&out, (Py_ssize_t)got);
    return out;
}
/* bytes written (all of buf), or a negative status. */
static PyObject *tls_write(SSL *ssl, const void *buf, Py_ssize_t len) {
    size_t done = 0;
    int ok;
    PyObject *st;
    M2_ALLOW
    ok = SSL_write_ex(ssl, buf, (size_t)len, &done);
    M2_DISALLOW
    if (ok) return PyLong_FromSize_t(done);
    st = m2_tls_status(ssl, 0);
    if (!st) return NULL;
    { long v = PyLong_AsLong(st); Py_DECREF(st); return PyLong_FromLong(-v); }
}
static PyObject *tls_shutdown(SSL *ssl) {
    int ret = SSL_shutdown(ssl);
    if (ret >= 0) return PyLong_FromLong(ret);
    return m2_tls_status(ssl, ret);
}
static int tls_pending(SSL *ssl) { return SSL_pending(ssl); }

/* What the handshake settled: (version, cipher name, resumed, verify result, alpn or None, suite id). */
static PyObject *tls_info(SSL *ssl) {
    const unsigned char *alpn = NULL;
    unsigned int alen = 0;
    const char *cipher = SSL_get_cipher_name(ssl);
    SSL_get0_alpn_selected(ssl, &alpn, &alen);
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    return Py_BuildValue("(isilNi)", SSL_version(ssl), cipher ? cipher : "", SSL_session_reused(ssl),
                         SSL_get_verify_result(ssl),
                         alen ? PyBytes_FromStringAndSize((const char *)alpn, alen) : (Py_INCREF(Py_None), Py_None),
                         c ? (int)SSL_CIPHER_get_protocol_id(c) : 0);
}
/* The peer's certificates as DER, end entity first ([] when it sent none). */
static PyObject *tls_peer_chain(SSL *ssl) {
    PyObject *list = PyList_New(0);
    X509 *leaf = SSL_get1_peer_certificate(ssl);
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    int i, n = chain ? sk_X509_num(chain) : 0;
    if (!list) { X509_free(leaf); return NULL; }
    for (i = -1; i < n; i++) {
        X509 *c = i < 0 ? leaf : sk_X509_value(chain, i);
        unsigned char *der = NULL;
        int len;
        PyObject *b;
        if (!c || (i >= 0 && leaf && X509_cmp(c, leaf) == 0)) continue;
        len = i2d_X509(c, &der);
        if (len < 0) continue;
        b = PyBytes_FromStringAndSize((const char *)der, len);
        OPENSSL_free(der);
        if (!b || PyList_Append(list, b) < 0) { Py_XDECREF(b); Py_DECREF(list); X509_free(leaf); return NULL; }
        Py_DECREF(b);
    }
    X509_free(leaf);
    return list;
}

static SSL_SESSION *tls_get1_session(SSL *ssl) { return SSL_get1_session(ssl); }
static void tls_session_free(SSL_SESSION *s) { SSL_SESSION_free(s); }
static PyObject *tls_set_session(SSL *ssl, SSL_SESSION *s) {
    if (!SSL_set_session(ssl, s)) return m2_raise(M2_SSL);
    Py_RETURN_NONE;
}
static int tls_session_resumable(SSL_SESSION *s) { return SSL_SESSION_is_resumable(s); }
static PyObject *tls_session_id(SSL_SESSION *s) {
    unsigned int n = 0;
    const unsigned char *id = SSL_SESSION_get_id(s, &n);
    return PyBytes_FromStringAndSize((const char *)id, n);
}
static PyObject *tls_export_keying_material(SSL *ssl, const void *buf, Py_ssize_t len, int n) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) return NULL;
    if (!SSL_export_keying_material(ssl, (unsigned char *)PyBytes_AS_STRING(out), n, buf, len, NULL, 0, 0)) {
        Py_DECREF(out);
        return m2_raise(M2_SSL);
    }
    return out;
}
%}
