/* _ssl.i: OpenSSL's SSL_CTX, SSL, SSL_SESSION and SSL_CIPHER (M2Crypto's m2.ssl_* names).
 *
 *  - One I/O loop, m2_ssl_run(), drives every handshake, read, write and shutdown: it
 *    releases the GIL around OpenSSL, and on want-read/want-write either returns at once
 *    (timeout 0: non-blocking sockets and memory BIOs), polls the socket until a deadline
 *    (timeout > 0), or, on a blocking socket whose SO_RCVTIMEO/SO_SNDTIMEO expired, raises
 *    the timeout error.
 *  - Failures become SSL.SSLError; a certificate that failed verification becomes the
 *    exception made by the Python factory registered with ssl_set_error_classes() (it
 *    carries OpenSSL's verify code), an unexpected EOF the registered EOF class, a timeout
 *    SSL.SSLTimeoutError.
 *  - Python callables used by OpenSSL's callbacks (verify, info, passphrase, SNI, ALPN,
 *    key log, DH) live in one dict per SSL_CTX, in the SSL_CTX's ex_data: they stay alive
 *    while OpenSSL can call them and are released when the SSL_CTX is freed.
 */
%{
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <time.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <openssl/dh.h>
#include <openssl/rsa.h>
%}
M2_OK_AREA(M2_SSL)

M2_NONNULL(SSL_CTX *)
M2_NONNULL(SSL *)
M2_NONNULL(const SSL *)
M2_NONNULL(SSL_SESSION *)
M2_NONNULL(const SSL_METHOD *)
M2_NONNULL(const SSL_CIPHER *)
M2_NONNULL(STACK_OF(SSL_CIPHER) *)

/* ---- constants ---- */
%constant int ssl_error_none = SSL_ERROR_NONE;
%constant int ssl_error_ssl = SSL_ERROR_SSL;
%constant int ssl_error_want_read = SSL_ERROR_WANT_READ;
%constant int ssl_error_want_write = SSL_ERROR_WANT_WRITE;
%constant int ssl_error_want_x509_lookup = SSL_ERROR_WANT_X509_LOOKUP;
%constant int ssl_error_syscall = SSL_ERROR_SYSCALL;
%constant int ssl_error_zero_return = SSL_ERROR_ZERO_RETURN;
%constant int ssl_error_want_connect = SSL_ERROR_WANT_CONNECT;

%constant int SSL_VERIFY_NONE = SSL_VERIFY_NONE;
%constant int SSL_VERIFY_PEER = SSL_VERIFY_PEER;
%constant int SSL_VERIFY_FAIL_IF_NO_PEER_CERT = SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
%constant int SSL_VERIFY_CLIENT_ONCE = SSL_VERIFY_CLIENT_ONCE;
%constant int SSL_VERIFY_POST_HANDSHAKE = SSL_VERIFY_POST_HANDSHAKE;

%constant int SSL_ST_CONNECT = SSL_ST_CONNECT;
%constant int SSL_ST_ACCEPT = SSL_ST_ACCEPT;
%constant int SSL_ST_MASK = SSL_ST_MASK;
%constant int SSL_ST_INIT = (SSL_ST_CONNECT | SSL_ST_ACCEPT);
%constant int SSL_ST_BEFORE = 0x4000;
%constant int SSL_ST_OK = 0x03;
%constant int SSL_ST_RENEGOTIATE = (0x04 | SSL_ST_CONNECT | SSL_ST_ACCEPT);
%constant int SSL_CB_LOOP = SSL_CB_LOOP;
%constant int SSL_CB_EXIT = SSL_CB_EXIT;
%constant int SSL_CB_READ = SSL_CB_READ;
%constant int SSL_CB_WRITE = SSL_CB_WRITE;
%constant int SSL_CB_ALERT = SSL_CB_ALERT;
%constant int SSL_CB_READ_ALERT = SSL_CB_READ_ALERT;
%constant int SSL_CB_WRITE_ALERT = SSL_CB_WRITE_ALERT;
%constant int SSL_CB_ACCEPT_LOOP = SSL_CB_ACCEPT_LOOP;
%constant int SSL_CB_ACCEPT_EXIT = SSL_CB_ACCEPT_EXIT;
%constant int SSL_CB_CONNECT_LOOP = SSL_CB_CONNECT_LOOP;
%constant int SSL_CB_CONNECT_EXIT = SSL_CB_CONNECT_EXIT;
%constant int SSL_CB_HANDSHAKE_START = SSL_CB_HANDSHAKE_START;
%constant int SSL_CB_HANDSHAKE_DONE = SSL_CB_HANDSHAKE_DONE;

%constant int SSL_SENT_SHUTDOWN = SSL_SENT_SHUTDOWN;
%constant int SSL_RECEIVED_SHUTDOWN = SSL_RECEIVED_SHUTDOWN;

%constant int SSL_SESS_CACHE_OFF = SSL_SESS_CACHE_OFF;
%constant int SSL_SESS_CACHE_CLIENT = SSL_SESS_CACHE_CLIENT;
%constant int SSL_SESS_CACHE_SERVER = SSL_SESS_CACHE_SERVER;
%constant int SSL_SESS_CACHE_BOTH = SSL_SESS_CACHE_BOTH;
%constant int SSL_SESS_CACHE_NO_AUTO_CLEAR = SSL_SESS_CACHE_NO_AUTO_CLEAR;
%constant int SSL_SESS_CACHE_NO_INTERNAL = SSL_SESS_CACHE_NO_INTERNAL;

/* SSL options are 64-bit in OpenSSL 3. */
%constant unsigned long long SSL_OP_ALL = SSL_OP_ALL;
/* SSLv2 is gone from OpenSSL 3 (its SSL_OP_NO_SSLv2 is 0); M2Crypto's value is kept so that
 * `options & SSL_OP_NO_SSLv2` reads as M2Crypto programs expect.  In OpenSSL 3 that bit is
 * SSL_OP_NO_ANTI_REPLAY, which only matters to a server that accepts early data (M2Sec never
 * enables early data). */
%constant unsigned long long SSL_OP_NO_SSLv2 = 0x01000000ULL;
%constant unsigned long long SSL_OP_NO_SSLv3 = SSL_OP_NO_SSLv3;
%constant unsigned long long SSL_OP_NO_TLSv1 = SSL_OP_NO_TLSv1;
%constant unsigned long long SSL_OP_NO_TLSv1_1 = SSL_OP_NO_TLSv1_1;
%constant unsigned long long SSL_OP_NO_TLSv1_2 = SSL_OP_NO_TLSv1_2;
%constant unsigned long long SSL_OP_NO_TLSv1_3 = SSL_OP_NO_TLSv1_3;
%constant unsigned long long SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS = SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS;
%constant unsigned long long SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;
%constant unsigned long long SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
%constant unsigned long long SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
%constant unsigned long long SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
%constant unsigned long long SSL_OP_IGNORE_UNEXPECTED_EOF = SSL_OP_IGNORE_UNEXPECTED_EOF;
%constant unsigned long long SSL_OP_ENABLE_MIDDLEBOX_COMPAT = SSL_OP_ENABLE_MIDDLEBOX_COMPAT;
%constant unsigned long long SSL_OP_PRIORITIZE_CHACHA = SSL_OP_PRIORITIZE_CHACHA;
%constant unsigned long long SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION = SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION;
%constant unsigned long long SSL_OP_SINGLE_DH_USE = SSL_OP_SINGLE_DH_USE;
%constant unsigned long long SSL_OP_SINGLE_ECDH_USE = SSL_OP_SINGLE_ECDH_USE;

%constant long SSL_MODE_ENABLE_PARTIAL_WRITE = SSL_MODE_ENABLE_PARTIAL_WRITE;
%constant long SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
%constant long SSL_MODE_AUTO_RETRY = SSL_MODE_AUTO_RETRY;
%constant long SSL_MODE_RELEASE_BUFFERS = SSL_MODE_RELEASE_BUFFERS;

%constant int TLS1_VERSION = TLS1_VERSION;
%constant int TLS1_1_VERSION = TLS1_1_VERSION;
%constant int TLS1_2_VERSION = TLS1_2_VERSION;
%constant int TLS1_3_VERSION = TLS1_3_VERSION;

%constant int SSL_NOTHING = SSL_NOTHING;
%constant int SSL_READING = SSL_READING;
%constant int SSL_WRITING = SSL_WRITING;
%constant int SSL_X509_LOOKUP = SSL_X509_LOOKUP;

%constant int SSL_TLSEXT_ERR_OK = SSL_TLSEXT_ERR_OK;
%constant int SSL_TLSEXT_ERR_ALERT_FATAL = SSL_TLSEXT_ERR_ALERT_FATAL;
%constant int SSL_TLSEXT_ERR_NOACK = SSL_TLSEXT_ERR_NOACK;
%constant int SSL_AD_INTERNAL_ERROR = SSL_AD_INTERNAL_ERROR;
%constant int SSL_AD_UNRECOGNIZED_NAME = SSL_AD_UNRECOGNIZED_NAME;
%constant int SSL_AD_HANDSHAKE_FAILURE = SSL_AD_HANDSHAKE_FAILURE;
%constant int SSL_AD_NO_APPLICATION_PROTOCOL = SSL_AD_NO_APPLICATION_PROTOCOL;
%constant int SSL_FILETYPE_PEM = SSL_FILETYPE_PEM;
%constant int SSL_FILETYPE_ASN1 = SSL_FILETYPE_ASN1;
/* options and a mode that M2Sec.TLS's HandshakeSettings map onto */
%constant unsigned long long SSL_OP_NO_ENCRYPT_THEN_MAC = SSL_OP_NO_ENCRYPT_THEN_MAC;
%constant unsigned long long SSL_OP_NO_EXTENDED_MASTER_SECRET = SSL_OP_NO_EXTENDED_MASTER_SECRET;
%constant unsigned long long SSL_OP_TLSEXT_PADDING = SSL_OP_TLSEXT_PADDING;
%constant unsigned long long SSL_OP_ALLOW_NO_DHE_KEX = SSL_OP_ALLOW_NO_DHE_KEX;
%constant long SSL_MODE_SEND_FALLBACK_SCSV = SSL_MODE_SEND_FALLBACK_SCSV;

/* ---- methods ---- */
%rename(tls_method) TLS_method;
const SSL_METHOD *TLS_method(void);
%rename(tls_client_method) TLS_client_method;
const SSL_METHOD *TLS_client_method(void);
%rename(tls_server_method) TLS_server_method;
const SSL_METHOD *TLS_server_method(void);

/* ---- plain wrappers ---- */
%rename(ssl_ctx_free) SSL_CTX_free;
void SSL_CTX_free(SSL_CTX *);
%rename(ssl_ctx_set_verify_depth) SSL_CTX_set_verify_depth;
void SSL_CTX_set_verify_depth(SSL_CTX *, int);
%rename(ssl_ctx_get_verify_depth) SSL_CTX_get_verify_depth;
int SSL_CTX_get_verify_depth(const SSL_CTX *);
%rename(ssl_ctx_get_verify_mode) SSL_CTX_get_verify_mode;
int SSL_CTX_get_verify_mode(const SSL_CTX *);
%rename(ssl_ctx_set_cipher_list) SSL_CTX_set_cipher_list;
int SSL_CTX_set_cipher_list(SSL_CTX *, const char *ciphers);
%rename(ssl_ctx_add_session) SSL_CTX_add_session;
int SSL_CTX_add_session(SSL_CTX *, SSL_SESSION *);
%rename(ssl_ctx_remove_session) SSL_CTX_remove_session;
int SSL_CTX_remove_session(SSL_CTX *, SSL_SESSION *);
%rename(ssl_ctx_set_session_timeout) SSL_CTX_set_timeout;
long SSL_CTX_set_timeout(SSL_CTX *, long);
%rename(ssl_ctx_get_session_timeout) SSL_CTX_get_timeout;
long SSL_CTX_get_timeout(const SSL_CTX *);
%rename(ssl_ctx_get_cert_store) SSL_CTX_get_cert_store;
X509_STORE *SSL_CTX_get_cert_store(const SSL_CTX *);
%rename(ssl_get_ex_data_x509_store_ctx_idx) SSL_get_ex_data_X509_STORE_CTX_idx;
int SSL_get_ex_data_X509_STORE_CTX_idx(void);
%rename(ssl_ctx_set_num_tickets) SSL_CTX_set_num_tickets;
int SSL_CTX_set_num_tickets(SSL_CTX *, size_t);
%rename(ssl_ctx_get_num_tickets) SSL_CTX_get_num_tickets;
size_t SSL_CTX_get_num_tickets(const SSL_CTX *);

%rename(ssl_free) SSL_free;
void SSL_free(SSL *);
%rename(ssl_set_accept_state) SSL_set_accept_state;
void SSL_set_accept_state(SSL *);
%rename(ssl_set_connect_state) SSL_set_connect_state;
void SSL_set_connect_state(SSL *);
%rename(ssl_get_shutdown) SSL_get_shutdown;
int SSL_get_shutdown(const SSL *);
%rename(ssl_set_shutdown) SSL_set_shutdown;
void SSL_set_shutdown(SSL *, int);
%rename(ssl_clear) SSL_clear;
int SSL_clear(SSL *);
%rename(ssl_pending) SSL_pending;
int SSL_pending(const SSL *);
%rename(ssl_has_pending) SSL_has_pending;
int SSL_has_pending(const SSL *);
%rename(ssl_want) SSL_want;
int SSL_want(const SSL *);
%rename(ssl_get_verify_mode) SSL_get_verify_mode;
int SSL_get_verify_mode(const SSL *);
%rename(ssl_get_verify_depth) SSL_get_verify_depth;
int SSL_get_verify_depth(const SSL *);
%rename(ssl_get_verify_result) SSL_get_verify_result;
long SSL_get_verify_result(const SSL *);
%rename(ssl_set_verify_result) SSL_set_verify_result;
void SSL_set_verify_result(SSL *, long);
%rename(ssl_get_ssl_ctx) SSL_get_SSL_CTX;
SSL_CTX *SSL_get_SSL_CTX(const SSL *);
%rename(ssl_get_default_session_timeout) SSL_get_default_timeout;
long SSL_get_default_timeout(const SSL *);
%rename(ssl_set_cipher_list) SSL_set_cipher_list;
int SSL_set_cipher_list(SSL *, const char *ciphers);
%rename(ssl_get_cipher_list) SSL_get_cipher_list;
const char *SSL_get_cipher_list(const SSL *, int);
%rename(ssl_get_current_cipher) SSL_get_current_cipher;
const SSL_CIPHER *SSL_get_current_cipher(const SSL *);
%rename(ssl_get_ciphers) SSL_get_ciphers;
STACK_OF(SSL_CIPHER) *SSL_get_ciphers(const SSL *);
%rename(ssl_get_version) SSL_get_version;
const char *SSL_get_version(const SSL *);
%rename(ssl_version) SSL_version;
int SSL_version(const SSL *);
%rename(ssl_get_error) SSL_get_error;
int SSL_get_error(const SSL *, int);
%rename(ssl_get_state) SSL_state_string;
const char *SSL_state_string(const SSL *);
%rename(ssl_get_state_v) SSL_state_string_long;
const char *SSL_state_string_long(const SSL *);
%rename(ssl_get_alert_type) SSL_alert_type_string;
const char *SSL_alert_type_string(int);
%rename(ssl_get_alert_type_v) SSL_alert_type_string_long;
const char *SSL_alert_type_string_long(int);
%rename(ssl_get_alert_desc) SSL_alert_desc_string;
const char *SSL_alert_desc_string(int);
%rename(ssl_get_alert_desc_v) SSL_alert_desc_string_long;
const char *SSL_alert_desc_string_long(int);
%rename(ssl_is_server) SSL_is_server;
int SSL_is_server(SSL *);
%rename(ssl_session_reused) SSL_session_reused;
int SSL_session_reused(const SSL *);
%rename(ssl_set_session) SSL_set_session;
int SSL_set_session(SSL *, SSL_SESSION *);
%rename(ssl_get_rfd) SSL_get_rfd;
int SSL_get_rfd(const SSL *);

%rename(ssl_cipher_get_name) SSL_CIPHER_get_name;
const char *SSL_CIPHER_get_name(const SSL_CIPHER *);
%rename(ssl_cipher_get_version) SSL_CIPHER_get_version;
const char *SSL_CIPHER_get_version(const SSL_CIPHER *);
%rename(ssl_cipher_standard_name) SSL_CIPHER_standard_name;
const char *SSL_CIPHER_standard_name(const SSL_CIPHER *);

%rename(ssl_session_free) SSL_SESSION_free;
void SSL_SESSION_free(SSL_SESSION *);
%rename(ssl_session_print) SSL_SESSION_print;
int SSL_SESSION_print(BIO *, const SSL_SESSION *);
%rename(ssl_session_set_timeout) SSL_SESSION_set_timeout;
long SSL_SESSION_set_timeout(SSL_SESSION *, long);
%rename(ssl_session_get_timeout) SSL_SESSION_get_timeout;
long SSL_SESSION_get_timeout(const SSL_SESSION *);
%rename(ssl_session_get_time) SSL_SESSION_get_time;
long SSL_SESSION_get_time(const SSL_SESSION *);
%rename(ssl_session_set_time) SSL_SESSION_set_time;
long SSL_SESSION_set_time(SSL_SESSION *, long);
%rename(ssl_session_is_resumable) SSL_SESSION_is_resumable;
int SSL_SESSION_is_resumable(const SSL_SESSION *);
%rename(ssl_session_up_ref) SSL_SESSION_up_ref;
int SSL_SESSION_up_ref(SSL_SESSION *);

%rename(bio_f_ssl) BIO_f_ssl;
const BIO_METHOD *BIO_f_ssl(void);

/* ======================================================================== */
/* The C core: error translation, waiting, the I/O loop, callbacks.          */
/* ======================================================================== */
%{
static PyObject *m2_ssl_eof_class = NULL;        /* SSL.SSLEOFError */
static PyObject *m2_ssl_verify_factory = NULL;   /* callable(code, message) -> exception */
static int m2_ssl_ctx_idx = -1;                  /* the SSL_CTX's dict of Python objects */

static void m2_ssl_ctx_dict_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    if (ptr) {
        PyGILState_STATE gil = PyGILState_Ensure();
        Py_DECREF((PyObject *)ptr);
        PyGILState_Release(gil);
    }
}

static int m2_ssl_ctx_index(void) {
    if (m2_ssl_ctx_idx < 0)
        m2_ssl_ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, m2_ssl_ctx_dict_free);
    return m2_ssl_ctx_idx;
}

/* The SSL_CTX's dict (borrowed), made on first use if create; NULL if none (or on error,
 * with an exception set, when create). */
static PyObject *m2_ssl_ctx_dict(const SSL_CTX *ctx, int create) {
    PyObject *d;
    int idx = m2_ssl_ctx_index();
    if (!ctx || idx < 0) return NULL;
    d = SSL_CTX_get_ex_data(ctx, idx);
    if (!d && create) {
        if (!(d = PyDict_New())) return NULL;
        if (!SSL_CTX_set_ex_data((SSL_CTX *)ctx, idx, d)) {
            Py_DECREF(d);
            return m2_raise_msg(M2_SSL, "cannot attach data to the SSL_CTX");
        }
    }
    return d;
}

/* A new reference to the SSL_CTX's object under key, or NULL.  Needs the GIL. */
static PyObject *m2_ssl_ctx_get(const SSL_CTX *ctx, const char *key) {
    PyObject *d = m2_ssl_ctx_dict(ctx, 0), *v;
    if (!d) return NULL;
    v = PyDict_GetItemString(d, key);
    Py_XINCREF(v);
    return v;
}

/* Store obj (None removes) under key; 0 on success, -1 with an exception. */
static int m2_ssl_ctx_put(SSL_CTX *ctx, const char *key, PyObject *obj) {
    PyObject *d = m2_ssl_ctx_dict(ctx, 1);
    if (!d) return -1;
    if (obj == NULL || obj == Py_None) {
        if (PyDict_GetItemString(d, key) && PyDict_DelItemString(d, key) < 0) return -1;
        return 0;
    }
    return PyDict_SetItemString(d, key, obj);
}

static double m2_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void m2_ssl_timeout_error(void) {
    PyErr_SetString(m2_area_class(M2_SSL_TIMEOUT), "timed out");
}

/* Raise the exception for a failed SSL call: err is SSL_get_error's answer, r the call's
 * return value and sys_errno the errno seen right after it.  Always returns -1. */
static int m2_ssl_fail(SSL *ssl, int err, int r, int sys_errno, int in_handshake) {
    unsigned long code;
    if (PyErr_Occurred()) {     /* a callback raised: that exception is the cause */
        ERR_clear_error();
        return -1;
    }
    code = ERR_peek_error();
    if (err == SSL_ERROR_SSL && code && ERR_GET_LIB(code) == ERR_LIB_SSL) {
        int reason = ERR_GET_REASON(code);
        long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
        if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && vr != X509_V_OK && m2_ssl_verify_factory) {
            char msg[512];
            PyObject *exc;
            snprintf(msg, sizeof(msg), "certificate verify failed: %s (%ld)", X509_verify_cert_error_string(vr), vr);
            ERR_clear_error();
            exc = PyObject_CallFunction(m2_ssl_verify_factory, "ls", vr, msg);
            if (exc) {
                PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
                Py_DECREF(exc);
            }
            return -1;
        }
        if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING && m2_ssl_eof_class) {
            ERR_clear_error();
            PyErr_SetString(m2_ssl_eof_class, in_handshake ? "the peer closed the connection during the handshake"
                                                           : "unexpected EOF: the peer closed the connection without close_notify");
            return -1;
        }
    }
    if (err == SSL_ERROR_SSL || (err == SSL_ERROR_SYSCALL && code)) {
        m2_raise_msg(M2_SSL, NULL);
        return -1;
    }
    ERR_clear_error();
    if (err == SSL_ERROR_SYSCALL) {
        (void)r;
        if (sys_errno == 0) {
            PyErr_SetString(m2_ssl_eof_class ? m2_ssl_eof_class : m2_area_class(M2_SSL),
                            in_handshake ? "the peer closed the connection during the handshake"
                                         : "unexpected EOF: the peer closed the connection");
        } else if (sys_errno == ECONNRESET || sys_errno == EPIPE) {
            PyErr_Format(m2_ssl_eof_class ? m2_ssl_eof_class : m2_area_class(M2_SSL),
                         "the peer closed the connection: %s", strerror(sys_errno));
        } else {
            errno = sys_errno;
            PyErr_SetFromErrno(m2_area_class(M2_SSL));
        }
        return -1;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
        PyErr_SetString(m2_ssl_eof_class ? m2_ssl_eof_class : m2_area_class(M2_SSL),
                        "the peer closed the connection (close_notify)");
        return -1;
    }
    if (err == SSL_ERROR_WANT_X509_LOOKUP) {
        PyErr_SetString(m2_area_class(M2_SSL), "the SSL operation waits for a certificate lookup callback");
        return -1;
    }
    PyErr_Format(m2_area_class(M2_SSL), "unexpected SSL error %d", err);
    return -1;
}

enum { M2_OP_CONNECT, M2_OP_ACCEPT, M2_OP_HANDSHAKE, M2_OP_READ, M2_OP_WRITE, M2_OP_SHUTDOWN, M2_OP_PEEK };

/* Wait (GIL released) until the SSL's socket is ready for what err wants, or deadline.
 * A write also wakes when the socket becomes writable, a read when it becomes readable:
 * with another thread using the same socket BIO, err may name the other thread's want.
 * 0: ready; 1: no descriptor to wait on (memory BIO); -1: exception set (timeout). */
static int m2_ssl_wait(SSL *ssl, int op, int err, double deadline) {
    struct pollfd pfd;
    int r, ms, saved;
    pfd.fd = err == SSL_ERROR_WANT_WRITE ? SSL_get_wfd(ssl) : SSL_get_rfd(ssl);
    pfd.events = err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
    if (op == M2_OP_WRITE) pfd.events |= POLLOUT;
    if (op == M2_OP_READ || op == M2_OP_PEEK) pfd.events |= POLLIN;
    if (pfd.fd < 0) return 1;
    for (;;) {
        double left = deadline - m2_monotonic();
        if (left <= 0) { m2_ssl_timeout_error(); return -1; }
        ms = left > 2e6 ? 2000000000 : (int)ceil(left * 1000.0);
        pfd.revents = 0;
        M2_ALLOW
        r = poll(&pfd, 1, ms);
        saved = errno;
        M2_DISALLOW
        if (r > 0) return 0;
        if (r == 0) { m2_ssl_timeout_error(); return -1; }
        if (saved != EINTR) { errno = saved; PyErr_SetFromErrno(m2_area_class(M2_SSL)); return -1; }
        if (PyErr_CheckSignals() < 0) return -1;
    }
}

#define M2_SSL_DONE 1
#define M2_SSL_EOF 0
#define M2_SSL_ERROR (-1)
#define M2_SSL_WANT (-2)

/* A reference to ssl held while OpenSSL works on it without the GIL, so that another thread
 * freeing the Python object (ssl_free) cannot free the SSL under OpenSSL's feet: the last
 * one out frees it.  m2_ssl_hold returns 0 with an exception set if it cannot. */
static int m2_ssl_hold(SSL *ssl) {
    if (SSL_up_ref(ssl)) return 1;
    m2_raise_msg(M2_SSL, "cannot take a reference to the SSL");
    return 0;
}
static void m2_ssl_release(SSL *ssl) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);    /* freeing may drop the SSL_CTX's Python objects */
    SSL_free(ssl);
    PyErr_Restore(type, value, tb);
}

/* One OpenSSL call at a time on an SSL whose descriptor does not block (a timeout, or none).
 * OpenSSL's SSL is not safe for concurrent calls: in TLS 1.3 a read that meets a post-handshake
 * message (NewSessionTicket, KeyUpdate, CertificateRequest) puts the SSL back "in init", and a
 * write in another thread at that moment enters the same handshake state machine; OpenSSL 3.5's
 * record layer catches it as ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED, 3.0 lets it pass by luck.  The
 * lock is held only inside OpenSSL, never while waiting for the socket (M2Sec polls outside it),
 * so that one thread reading and another writing still both make progress.  A blocking
 * descriptor waits inside OpenSSL: no lock there (the README says to set a timeout for that
 * use).  Kept on the SSL (ex_data), made on first use with the GIL held. */
static int m2_ssl_lock_idx = -1;

static void m2_ssl_lock_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    CRYPTO_THREAD_lock_free((CRYPTO_RWLOCK *)ptr);
}

static int m2_ssl_lock_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx, long argl, void *argp) {
    (void)to; (void)from; (void)idx; (void)argl; (void)argp;
    *from_d = NULL;   /* a duplicate makes its own */
    return 1;
}

/* ssl's lock, made if need be (GIL held); NULL with an exception set if it cannot be. */
static CRYPTO_RWLOCK *m2_ssl_lock_of(SSL *ssl) {
    CRYPTO_RWLOCK *lock;
    if (m2_ssl_lock_idx < 0
        && (m2_ssl_lock_idx = SSL_get_ex_new_index(0, NULL, NULL, m2_ssl_lock_dup, m2_ssl_lock_free)) < 0)
        return (CRYPTO_RWLOCK *)m2_raise_msg(M2_SSL, "cannot make the SSL's lock");
    if ((lock = SSL_get_ex_data(ssl, m2_ssl_lock_idx)) != NULL) return lock;
    if (!(lock = CRYPTO_THREAD_lock_new()) || !SSL_set_ex_data(ssl, m2_ssl_lock_idx, lock)) {
        CRYPTO_THREAD_lock_free(lock);
        return (CRYPTO_RWLOCK *)m2_raise_msg(M2_SSL, "cannot make the SSL's lock");
    }
    return lock;
}

/* After a read filled part of buf: more application data, as long as whole TLS records wait in
 * a socket BIO's stream (at least a record of the largest size, header included), so that one
 * call reads what one 16 KiB record per call would take several round trips through Python
 * for.  FIONREAD tells how many bytes wait, and the read BIO's count of bytes read how many of
 * them OpenSSL has taken since: the point up to which the socket surely holds bytes is kept
 * on the BIO (ex_data, freed with it) from one call to the next, and FIONREAD is asked again
 * only when fewer than a record's worth are known to be left (while the peer keeps ahead, once
 * per several 64 KiB calls).  Only this BIO takes bytes from the socket while it is the SSL's (a
 * shut-down or reset socket reads at once: a stale figure cannot make a read wait).  Never
 * blocks: a record that is not all there yet, a memory BIO, bytes OpenSSL already holds, or a
 * record that carries no data (a ticket, a KeyUpdate: AUTO_RETRY is off for the call, so
 * OpenSSL returns instead of waiting for the next one) end it.  An alert or an error ends it
 * too; the next read reports the connection's state.  Called with the GIL released. */
#define M2_TLS_RECORD_MAX (5 + 16384 + 2048)  /* the largest TLSCiphertext: 2^14 + 2048 (RFC 5246 section 6.2.3; TLS 1.3: + 256) */
static int m2_bio_known_idx = -1;     /* BIO ex_data: a uint64_t, the read count known to be in the socket */

static void m2_bio_known_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    OPENSSL_free(ptr);
}

static size_t m2_ssl_read_more(SSL *ssl, unsigned char *buf, size_t len) {
    size_t total = 0, n;
    int fd = -1, avail, ok = 1;
    BIO *rbio = SSL_get_rbio(ssl), *sock = rbio ? BIO_find_type(rbio, BIO_TYPE_SOCKET) : NULL;
    uint64_t local = 0, *known;
    long retry;
    if (rbio && BIO_method_type(rbio) == BIO_TYPE_MEM) {
        /* an SSLObject's memory BIO: the bytes waiting are known without a system call; a
         * record cut short ends the loop with a want, which leaves nothing in the error queue */
        retry = SSL_get_mode(ssl) & SSL_MODE_AUTO_RETRY;
        SSL_clear_mode(ssl, SSL_MODE_AUTO_RETRY);
        while (ok && total < len && (SSL_has_pending(ssl) || BIO_ctrl_pending(rbio) > 0))
            if ((ok = SSL_read_ex(ssl, buf + total, len - total, &n))) total += n;
        SSL_set_mode(ssl, retry);
        return total;
    }
    /* a socket BIO's stream: FIONREAD counts its bytes (of a datagram socket, one datagram's) */
    if (!sock || BIO_get_fd(sock, &fd) < 0 || fd < 0) return 0;
    known = m2_bio_known_idx < 0 ? NULL : BIO_get_ex_data(rbio, m2_bio_known_idx);
    if (!known && m2_bio_known_idx >= 0 && (known = OPENSSL_zalloc(sizeof(*known)))
        && !BIO_set_ex_data(rbio, m2_bio_known_idx, known)) {
        OPENSSL_free(known);
        known = NULL;
    }
    if (!known) known = &local;    /* no memory: ask FIONREAD afresh in this call */
    retry = SSL_get_mode(ssl) & SSL_MODE_AUTO_RETRY;
    SSL_clear_mode(ssl, SSL_MODE_AUTO_RETRY);
    while (ok && total < len && !SSL_has_pending(ssl)) {
        if (BIO_number_read(rbio) + M2_TLS_RECORD_MAX > *known) {
            if (ioctl(fd, FIONREAD, &avail) < 0 || avail < M2_TLS_RECORD_MAX) break;
            *known = BIO_number_read(rbio) + (uint64_t)avail;
        }
        if ((ok = SSL_read_ex(ssl, buf + total, len - total, &n))) total += n;
    }
    SSL_set_mode(ssl, retry);
    return total;   /* what OpenSSL queued (a failed BIO_set_ex_data, an alert): the wrapper's %exception drains it */
}

static int m2_ssl_loop(SSL *ssl, int op, void *buf, size_t len, double timeout, size_t *nout);

/* Empty this thread's error queue; when it is empty already (the rule after every call), at
 * the cost of a look: ERR_clear_error walks all its slots, a tenth of a 1-byte write's cost. */
static void m2_ssl_err_clear(void) {
    if (ERR_peek_error()) ERR_clear_error();
}

/* The one I/O loop.  timeout < 0: blocking descriptor (a want is a socket timeout, or, on a
 * memory BIO, returned); 0: return M2_SSL_WANT at once; > 0: poll up to timeout seconds.
 * Returns M2_SSL_DONE (with *nout for reads and writes; for a shutdown, *nout is 1 once the
 * peer's close_notify arrived), M2_SSL_EOF (clean close_notify on read), M2_SSL_WANT, or
 * M2_SSL_ERROR with an exception set. */
static int m2_ssl_run(SSL *ssl, int op, void *buf, size_t len, double timeout, size_t *nout) {
    int r;
    if (!m2_ssl_hold(ssl)) return M2_SSL_ERROR;
    r = m2_ssl_loop(ssl, op, buf, len, timeout, nout);
    m2_ssl_release(ssl);
    return r;
}

static int m2_ssl_loop(SSL *ssl, int op, void *buf, size_t len, double timeout, size_t *nout) {
    double deadline = timeout > 0 ? m2_monotonic() + timeout : 0;
    int in_handshake = op == M2_OP_CONNECT || op == M2_OP_ACCEPT || op == M2_OP_HANDSHAKE;
    size_t n;
    int r, err, sys_errno, w;
    CRYPTO_RWLOCK *lock = NULL;
    if (timeout >= 0 && !(lock = m2_ssl_lock_of(ssl))) return M2_SSL_ERROR;
    if (op == M2_OP_READ && m2_bio_known_idx < 0)   /* made once, with the GIL held; without it, FIONREAD per call */
        m2_bio_known_idx = BIO_get_ex_new_index(0, NULL, NULL, NULL, m2_bio_known_free);
    for (;;) {
        n = 0;
        m2_ssl_err_clear();
        M2_ALLOW
        if (lock) CRYPTO_THREAD_write_lock(lock);
        errno = 0;
        switch (op) {
        case M2_OP_CONNECT: r = SSL_connect(ssl); break;
        case M2_OP_ACCEPT: r = SSL_accept(ssl); break;
        case M2_OP_HANDSHAKE: r = SSL_do_handshake(ssl); break;
        case M2_OP_READ:
            r = SSL_read_ex(ssl, buf, len, &n);
            /* a full record read: the peer may be streaming, and more may wait (a shorter one,
             * as in a request or an answer, is not worth a FIONREAD) */
            if (r == 1 && n < len && n >= SSL3_RT_MAX_PLAIN_LENGTH)
                n += m2_ssl_read_more(ssl, (unsigned char *)buf + n, len - n);
            break;
        case M2_OP_PEEK: r = SSL_peek_ex(ssl, buf, len, &n); break;
        case M2_OP_WRITE: r = SSL_write_ex(ssl, buf, len, &n); break;
        default: r = SSL_shutdown(ssl); break;
        }
        sys_errno = errno;
        if (op == M2_OP_SHUTDOWN && r >= 0) {
            n = (size_t)r;
            err = SSL_ERROR_NONE;
        } else {
            err = SSL_get_error(ssl, r);
        }
        if (lock) CRYPTO_THREAD_unlock(lock);
        M2_DISALLOW
        if (PyErr_Occurred()) { ERR_clear_error(); return M2_SSL_ERROR; }
        if (err == SSL_ERROR_SYSCALL && (sys_errno == EAGAIN || sys_errno == EWOULDBLOCK) && !ERR_peek_error()) {
            /* the socket would block, but another thread's I/O on the same socket BIO reset
             * its retry flags before SSL_get_error read them: a want all the same */
            if (op == M2_OP_WRITE) err = SSL_ERROR_WANT_WRITE;
            else if (op == M2_OP_READ || op == M2_OP_PEEK) err = SSL_ERROR_WANT_READ;
            else err = SSL_want(ssl) == SSL_WRITING ? SSL_ERROR_WANT_WRITE : SSL_ERROR_WANT_READ;
        }
        switch (err) {
        case SSL_ERROR_NONE:   /* anything OpenSSL queued on success: the wrapper's %exception drains it */
            if (nout) *nout = n;
            return M2_SSL_DONE;
        case SSL_ERROR_ZERO_RETURN:
            if (op == M2_OP_READ || op == M2_OP_PEEK) { m2_ssl_err_clear(); return M2_SSL_EOF; }
            return m2_ssl_fail(ssl, err, r, sys_errno, in_handshake);
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            m2_ssl_err_clear();
            if (timeout == 0) return M2_SSL_WANT;
            if (timeout < 0) {
                /* a blocking socket only says "want" when SO_RCVTIMEO/SO_SNDTIMEO expired */
                if ((err == SSL_ERROR_WANT_WRITE ? SSL_get_wfd(ssl) : SSL_get_rfd(ssl)) < 0) return M2_SSL_WANT;
                m2_ssl_timeout_error();
                return M2_SSL_ERROR;
            }
            w = m2_ssl_wait(ssl, op, err, deadline);
            if (w < 0) return M2_SSL_ERROR;
            if (w > 0) return M2_SSL_WANT;
            continue;
        default:
            return m2_ssl_fail(ssl, err, r, sys_errno, in_handshake);
        }
    }
}

/* ---- callbacks from OpenSSL into Python ---- */

/* SSL_CTX_set_verify's callback: calls ctx["verify"](ok, X509_STORE_CTX). */
static int m2_ssl_verify_cb(int ok, X509_STORE_CTX *sctx) {
    SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *func = ssl ? m2_ssl_ctx_get(SSL_get_SSL_CTX(ssl), "verify") : NULL, *ret;
    int r = ok;
    if (func) {
        ret = m2_callback(func, Py_BuildValue("(iN)", ok, SWIG_NewPointerObj(sctx, SWIGTYPE_p_X509_STORE_CTX, 0)));
        if (!ret) {
            r = 0;
            X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
        } else {
            r = PyObject_IsTrue(ret);
            if (r < 0) r = 0;
            Py_DECREF(ret);
            if (!r && X509_STORE_CTX_get_error(sctx) == X509_V_OK)
                X509_STORE_CTX_set_error(sctx, X509_V_ERR_APPLICATION_VERIFICATION);
        }
        Py_DECREF(func);
    }
    PyGILState_Release(gil);
    return r;
}

static void m2_ssl_info_cb(const SSL *ssl, int where, int ret) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *func = m2_ssl_ctx_get(SSL_get_SSL_CTX(ssl), "info"), *r;
    if (func) {
        r = m2_callback(func, Py_BuildValue("(iiN)", where, ret, SWIG_NewPointerObj((void *)ssl, SWIGTYPE_p_SSL, 0)));
        Py_XDECREF(r);
        Py_DECREF(func);
    }
    PyGILState_Release(gil);
}

static void m2_ssl_keylog_cb(const SSL *ssl, const char *line) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *func = m2_ssl_ctx_get(SSL_get_SSL_CTX(ssl), "keylog"), *r;
    if (func) {
        r = m2_callback(func, Py_BuildValue("(s)", line));
        Py_XDECREF(r);
        Py_DECREF(func);
    }
    PyGILState_Release(gil);
}

/* Server name callback: ctx["servername"](SSL, name or None) returns 0 to go on, or a TLS
 * alert number to refuse; it may switch the SSL to another SSL_CTX (ssl_set_ssl_ctx). */
static int m2_ssl_servername_cb(SSL *ssl, int *al, void *arg) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *func = m2_ssl_ctx_get(SSL_get_SSL_CTX(ssl), "servername"), *ret;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    int r = SSL_TLSEXT_ERR_OK;
    (void)arg;
    if (func) {
        ret = m2_callback(func, Py_BuildValue("(Nz)", SWIG_NewPointerObj(ssl, SWIGTYPE_p_SSL, 0), name));
        if (!ret) {
            *al = SSL_AD_INTERNAL_ERROR;
            r = SSL_TLSEXT_ERR_ALERT_FATAL;
        } else {
            long v = ret == Py_None ? 0 : PyLong_AsLong(ret);
            if (v == -1 && PyErr_Occurred()) { *al = SSL_AD_INTERNAL_ERROR; r = SSL_TLSEXT_ERR_ALERT_FATAL; }
            else if (v != 0) { *al = (int)v; r = SSL_TLSEXT_ERR_ALERT_FATAL; }
            Py_DECREF(ret);
        }
        Py_DECREF(func);
    }
    PyGILState_Release(gil);
    return r;
}

/* ALPN on the server: pick the first of ctx["alpn"] (wire format) the client offers. */
static int m2_ssl_alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                 const unsigned char *in, unsigned int inlen, void *arg) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *protos = m2_ssl_ctx_get(SSL_get_SSL_CTX(ssl), "alpn");
    int r = SSL_TLSEXT_ERR_NOACK;
    (void)arg;
    if (protos && PyBytes_Check(protos)) {
        unsigned char *sel = NULL;
        PyObject *required;
        if (SSL_select_next_proto(&sel, outlen, (const unsigned char *)PyBytes_AS_STRING(protos),
                                  (unsigned int)PyBytes_GET_SIZE(protos), in, inlen) == OPENSSL_NPN_NEGOTIATED) {
            *out = sel;
            r = SSL_TLSEXT_ERR_OK;
        } else if ((required = m2_ssl_ctx_get(SSL_get_SSL_CTX(ssl), "alpn_required")) != NULL) {
            r = SSL_TLSEXT_ERR_ALERT_FATAL;     /* no_application_protocol (RFC 7301 section 3.2) */
            Py_DECREF(required);
        }
    }
    /* the bytes object stays in the SSL_CTX's dict: OpenSSL copies the selection at once */
    Py_XDECREF(protos);
    PyGILState_Release(gil);
    return r;
}

/* The deprecated ephemeral DH callback: ctx["tmp_dh"](SSL, is_export, keylength) -> DH. */
static DH *m2_ssl_tmp_dh_cb(SSL *ssl, int is_export, int keylength) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *func = m2_ssl_ctx_get(SSL_get_SSL_CTX(ssl), "tmp_dh"), *ret;
    DH *dh = NULL;
    if (func) {
        ret = m2_callback(func, Py_BuildValue("(Nii)", SWIG_NewPointerObj(ssl, SWIGTYPE_p_SSL, 0), is_export, keylength));
        if (ret && ret != Py_None) {
            if (SWIG_ConvertPtr(ret, (void **)&dh, SWIGTYPE_p_DH, 0) < 0) {
                dh = NULL;
                PyErr_SetString(PyExc_TypeError, "the tmp_dh callback must return a DH pointer");
            } else {
                /* keep the last answer alive: OpenSSL borrows it */
                PyObject *d = m2_ssl_ctx_dict(SSL_get_SSL_CTX(ssl), 1);
                if (d) PyDict_SetItemString(d, "tmp_dh_last", ret);
            }
        }
        Py_XDECREF(ret);
        Py_DECREF(func);
    }
    PyGILState_Release(gil);
    return dh;
}

static PyObject *m2_ssl_check_callable(PyObject *func, const char *what) {
    if (func != Py_None && !PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "the %s callback must be callable", what);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Bytes from an SSL read buffer; bounded like bio_read: at most 1 MiB or what is pending. */
static Py_ssize_t m2_ssl_read_cap(SSL *ssl, int num) {
    size_t cap = (size_t)SSL_pending(ssl);
    if (cap < (1u << 20)) cap = 1u << 20;
    return (size_t)num > cap ? (Py_ssize_t)cap : (Py_ssize_t)num;
}
%}

/* ======================================================================== */
/* Functions with default arguments (declared here, defined below).          */
/* ======================================================================== */
%feature("compactdefaultargs") ssl_accept;
%feature("compactdefaultargs") ssl_connect;
%feature("compactdefaultargs") ssl_read;
%feature("compactdefaultargs") ssl_write;
%feature("compactdefaultargs") ssl_handshake;
%feature("compactdefaultargs") ssl_read_into;
%feature("compactdefaultargs") ssl_shutdown_timeout;
PyObject *ssl_accept(SSL *ssl, double timeout = -1);
PyObject *ssl_connect(SSL *ssl, double timeout = -1);
PyObject *ssl_read(SSL *ssl, int num, double timeout = -1);
int ssl_write(SSL *ssl, const void *buf, Py_ssize_t len, double timeout = -1);
PyObject *ssl_handshake(SSL *ssl, double timeout = 0);
PyObject *ssl_read_into(SSL *ssl, PyObject *buffer, int nbytes = 0, double timeout = -1);
PyObject *ssl_readinto(SSL *ssl, PyObject *buffer, double timeout);
PyObject *ssl_shutdown_timeout(SSL *ssl, double timeout = 0);

%{
static PyObject *m2_ssl_handshake_op(SSL *ssl, int op, double timeout) {
    int r = m2_ssl_run(ssl, op, NULL, 0, timeout, NULL);
    if (r == M2_SSL_ERROR) return NULL;
    return PyLong_FromLong(r == M2_SSL_DONE ? 1 : 0);
}

/* SSL_accept / SSL_connect until done: 1; 0 when it would block (timeout 0). */
PyObject *ssl_accept(SSL *ssl, double timeout) { return m2_ssl_handshake_op(ssl, M2_OP_ACCEPT, timeout); }
PyObject *ssl_connect(SSL *ssl, double timeout) { return m2_ssl_handshake_op(ssl, M2_OP_CONNECT, timeout); }
/* SSL_do_handshake in the state set before: 1 when done, 0 when it would block. */
PyObject *ssl_handshake(SSL *ssl, double timeout) { return m2_ssl_handshake_op(ssl, M2_OP_HANDSHAKE, timeout); }

/* Up to num bytes; None when it would block, or at a clean close_notify (as M2Crypto). */
PyObject *ssl_read(SSL *ssl, int num, double timeout) {
    PyObject *out;
    size_t n = 0;
    Py_ssize_t size;
    int r;
    if (num <= 0) { PyErr_SetString(PyExc_ValueError, "read count must be positive"); return NULL; }
    size = m2_ssl_read_cap(ssl, num);
    if (!(out = PyBytes_FromStringAndSize(NULL, size))) return NULL;
    r = m2_ssl_run(ssl, M2_OP_READ, PyBytes_AS_STRING(out), (size_t)size, timeout, &n);
    if (r != M2_SSL_DONE) {
        Py_DECREF(out);
        if (r == M2_SSL_ERROR) return NULL;
        Py_RETURN_NONE;
    }
    if ((Py_ssize_t)n != size && _PyBytes_Resize(&out, (Py_ssize_t)n) < 0) return NULL;
    return out;
}

/* Read up to nbytes (0: all of it) into a writable buffer: the count read; 0 at a clean
 * close_notify; if it would block, want (a new reference), or -1 when want is NULL. */
static PyObject *m2_ssl_read_buffer(SSL *ssl, PyObject *buffer, int nbytes, double timeout, PyObject *want) {
    Py_buffer view;
    size_t n = 0;
    int r;
    if (PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE) < 0) return NULL;
    if (nbytes <= 0 || nbytes > view.len) nbytes = view.len > INT_MAX ? INT_MAX : (int)view.len;
    if (nbytes == 0) { PyBuffer_Release(&view); return PyLong_FromLong(0); }
    r = m2_ssl_run(ssl, M2_OP_READ, view.buf, (size_t)nbytes, timeout, &n);
    PyBuffer_Release(&view);
    if (r == M2_SSL_ERROR) return NULL;
    if (r == M2_SSL_WANT) {
        if (!want) return PyLong_FromLong(-1);
        Py_INCREF(want);
        return want;
    }
    return PyLong_FromSize_t(r == M2_SSL_DONE ? n : 0);
}

/* Read into a writable buffer: the count read; 0 at a clean close_notify; -1 if it would block. */
PyObject *ssl_read_into(SSL *ssl, PyObject *buffer, int nbytes, double timeout) {
    return m2_ssl_read_buffer(ssl, buffer, nbytes, timeout, NULL);
}

/* io.RawIOBase's readinto on a connection: the count read into all of buffer; 0 at a clean
 * close_notify; None if it would block. */
PyObject *ssl_readinto(SSL *ssl, PyObject *buffer, double timeout) {
    return m2_ssl_read_buffer(ssl, buffer, 0, timeout, Py_None);
}

/* The count written (all of it unless partial writes were enabled); -1 if it would block. */
int ssl_write(SSL *ssl, const void *buf, Py_ssize_t len, double timeout) {
    size_t n = 0;
    int r;
    if (len == 0) return 0;
    if (len > INT_MAX) len = INT_MAX;   /* the count must fit the int M2Crypto returns */
    r = m2_ssl_run(ssl, M2_OP_WRITE, (void *)buf, (size_t)len, timeout, &n);
    if (r == M2_SSL_ERROR) return -1;
    if (r == M2_SSL_WANT) return -1;
    return (int)n;
}

/* SSL_shutdown: 1 once both close_notify alerts were exchanged, 0 once ours was sent,
 * -1 if it would block. */
PyObject *ssl_shutdown_timeout(SSL *ssl, double timeout) {
    size_t n = 0;
    int r = m2_ssl_run(ssl, M2_OP_SHUTDOWN, NULL, 0, timeout, &n);
    if (r == M2_SSL_ERROR) return NULL;
    if (r == M2_SSL_WANT) return PyLong_FromLong(-1);
    return PyLong_FromLong((long)n);
}
%}

M2_NULLABLE_STR(cafile)
M2_NULLABLE_STR(capath)

%rename(ssl_ctx_set_min_proto_version) SSL_CTX_set_min_proto_version;
m2_ok SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
%rename(ssl_ctx_set_max_proto_version) SSL_CTX_set_max_proto_version;
m2_ok SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
/* TLS 1.3 cipher suites (TLS_AES_128_GCM_SHA256:...); raises on an unusable list. */
%rename(ssl_ctx_set_ciphersuites) SSL_CTX_set_ciphersuites;
m2_ok SSL_CTX_set_ciphersuites(SSL_CTX *ctx, const char *suites);
%rename(ssl_set_ciphersuites) SSL_set_ciphersuites;
m2_ok SSL_set_ciphersuites(SSL *ssl, const char *suites);
/* Key exchange groups, such as "X25519:P-256" (SSL_CTX_set1_groups_list). */
%rename(ssl_ctx_set1_groups_list) SSL_CTX_set1_groups_list;
m2_ok SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *groups);
%rename(ssl_set1_groups_list) SSL_set1_groups_list;
m2_ok SSL_set1_groups_list(SSL *ssl, const char *groups);
/* Signature algorithms, such as "ECDSA+SHA256:rsa_pss_rsae_sha256" (SSL_CTX_set1_sigalgs_list). */
%rename(ssl_ctx_set1_sigalgs_list) SSL_CTX_set1_sigalgs_list;
m2_ok SSL_CTX_set1_sigalgs_list(SSL_CTX *ctx, const char *sigalgs);
%rename(ssl_ctx_use_x509) SSL_CTX_use_certificate;
m2_ok SSL_CTX_use_certificate(SSL_CTX *ctx, X509 *x);
%inline %{
/* M2Crypto's m2.ssl_init(SSLError, SSLTimeoutError). */
static PyObject *ssl_init(PyObject *ssl_err, PyObject *ssl_timeout_err) {
    if (m2_set_area_class(M2_SSL, ssl_err) < 0 || m2_set_area_class(M2_SSL_TIMEOUT, ssl_timeout_err) < 0) return NULL;
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, NULL);
    if (m2_ssl_ctx_index() < 0) return m2_raise_msg(M2_SSL, "no ex_data index for SSL_CTX");
    Py_RETURN_NONE;
}

/* The exception for an unexpected EOF, and the factory(verify_code, message) that makes the
 * exception for a certificate that failed verification. */
static PyObject *ssl_set_error_classes(PyObject *eof_class, PyObject *verify_factory) {
    if (!PyCallable_Check(eof_class) || !PyCallable_Check(verify_factory)) {
        PyErr_SetString(PyExc_TypeError, "an exception class and a callable are required");
        return NULL;
    }
    Py_INCREF(eof_class);
    Py_XSETREF(m2_ssl_eof_class, eof_class);
    Py_INCREF(verify_factory);
    Py_XSETREF(m2_ssl_verify_factory, verify_factory);
    Py_RETURN_NONE;
}

static const SSL_METHOD *sslv23_method(void) { return TLS_method(); }
static void ssl_set_shutdown1(SSL *ssl, int mode) { SSL_set_shutdown(ssl, mode); }

/* TLS_method with TLS 1.0 as the only version (M2Crypto's Context('tlsv1')). */
static const SSL_METHOD *tlsv1_method(void) {
    PyErr_WarnEx(PyExc_DeprecationWarning, "TLS 1.0 is obsolete (RFC 8996)", 1);
    return TLS_method();
}

static int ssl_ctx_set_tls1(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION) && SSL_CTX_set_max_proto_version(ctx, TLS1_VERSION);
}

/* A new SSL_CTX; moving write buffers are allowed (Python may retry with another object). */
static SSL_CTX *ssl_ctx_new(const SSL_METHOD *method) {
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx) return (SSL_CTX *)m2_raise_msg(M2_SSL, "cannot make an SSL context");
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_AUTO_RETRY);
    return ctx;
}

static int ssl_ctx_up_ref(SSL_CTX *ctx) { return SSL_CTX_up_ref(ctx); }

static unsigned long long ssl_ctx_set_options(SSL_CTX *ctx, unsigned long long op) { return SSL_CTX_set_options(ctx, op); }
static unsigned long long ssl_ctx_get_options(SSL_CTX *ctx) { return SSL_CTX_get_options(ctx); }
static unsigned long long ssl_ctx_clear_options(SSL_CTX *ctx, unsigned long long op) { return SSL_CTX_clear_options(ctx, op); }
static long ssl_ctx_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static long ssl_ctx_get_mode(SSL_CTX *ctx) { return SSL_CTX_get_mode(ctx); }
static unsigned long long ssl_set_options(SSL *ssl, unsigned long long op) { return SSL_set_options(ssl, op); }
static unsigned long long ssl_get_options(SSL *ssl) { return SSL_get_options(ssl); }
static long ssl_set_mode(SSL *ssl, long mode) { return SSL_set_mode(ssl, mode); }
static long ssl_get_mode(SSL *ssl) { return SSL_get_mode(ssl); }

static int ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, int mode) { return (int)SSL_CTX_set_session_cache_mode(ctx, mode); }
static int ssl_ctx_get_session_cache_mode(SSL_CTX *ctx) { return (int)SSL_CTX_get_session_cache_mode(ctx); }
static long ssl_ctx_set_cache_size(SSL_CTX *ctx, long size) { return SSL_CTX_sess_set_cache_size(ctx, size); }
static long ssl_ctx_sess_number(SSL_CTX *ctx) { return SSL_CTX_sess_number(ctx); }
static long ssl_ctx_sess_hits(SSL_CTX *ctx) { return SSL_CTX_sess_hits(ctx); }
static void ssl_ctx_flush_sessions(SSL_CTX *ctx, long t) { SSL_CTX_flush_sessions(ctx, t); }

/* ---- protocol versions, cipher suites, groups ---- */
static int ssl_ctx_get_min_proto_version(SSL_CTX *ctx) { return (int)SSL_CTX_get_min_proto_version(ctx); }
static int ssl_ctx_get_max_proto_version(SSL_CTX *ctx) { return (int)SSL_CTX_get_max_proto_version(ctx); }

/* The TLS 1.2 cipher list, raising (ssl_ctx_set_cipher_list returns 0 as M2Crypto). */
static m2_ok ssl_ctx_set_cipher_list_strict(SSL_CTX *ctx, const char *ciphers) {
    return SSL_CTX_set_cipher_list(ctx, ciphers);
}

/* The negotiated group's name ("X25519", "secp256r1", "ffdhe2048"), or None. */
static PyObject *ssl_get_negotiated_group(SSL *ssl) {
    int nid;
    const char *name;
    if (!SSL_get_session(ssl)) Py_RETURN_NONE;   /* before any handshake OpenSSL 3.0 would read a NULL session */
    nid = SSL_get_negotiated_group(ssl);
    if (nid <= 0) Py_RETURN_NONE;
    name = SSL_group_to_name(ssl, nid);
    if (!name) name = OBJ_nid2sn(nid);
    if (!name) Py_RETURN_NONE;
    return PyUnicode_FromString(name);
}

/* ---- certificates and keys ---- */
static PyObject *ssl_ctx_passphrase_callback(SSL_CTX *ctx, PyObject *pyfunc) {
    if (m2_ssl_ctx_put(ctx, "passphrase", pyfunc) < 0) return NULL;
    SSL_CTX_set_default_passwd_cb(ctx, m2_passphrase_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, pyfunc == Py_None ? NULL : pyfunc);
    Py_RETURN_NONE;
}

static int ssl_ctx_use_cert(SSL_CTX *ctx, const char *file) {
    int r;
    M2_ALLOW
    r = SSL_CTX_use_certificate_file(ctx, file, SSL_FILETYPE_PEM);
    M2_DISALLOW
    if (r <= 0) { m2_raise_msg(M2_SSL, "cannot load the certificate"); return 0; }
    return 1;
}
static int ssl_ctx_use_cert_chain(SSL_CTX *ctx, const char *file) {
    int r;
    M2_ALLOW
    r = SSL_CTX_use_certificate_chain_file(ctx, file);
    M2_DISALLOW
    if (r <= 0) { m2_raise_msg(M2_SSL, "cannot load the certificate chain"); return 0; }
    return 1;
}
/* The private key of a PEM file; the passphrase callback (a Python call) may run. */
static int ssl_ctx_use_privkey(SSL_CTX *ctx, const char *file) {
    int r = SSL_CTX_use_PrivateKey_file(ctx, file, SSL_FILETYPE_PEM);
    if (PyErr_Occurred()) return 0;
    if (r <= 0) { m2_raise_msg(M2_SSL, "cannot load the private key"); return 0; }
    return 1;
}
%}
%{
M2_DEPRECATED_BEGIN /* M2Crypto's ssl_ctx_use_rsa_privkey takes an RSA */
%}
%rename(ssl_ctx_use_rsa_privkey) SSL_CTX_use_RSAPrivateKey;
m2_ok SSL_CTX_use_RSAPrivateKey(SSL_CTX *ctx, RSA *rsakey);
%{
M2_DEPRECATED_END
%}
%rename(ssl_ctx_use_pkey_privkey) SSL_CTX_use_PrivateKey;
m2_ok SSL_CTX_use_PrivateKey(SSL_CTX *ctx, EVP_PKEY *pkey);
%rename(ssl_ctx_add_extra_chain_cert) SSL_CTX_add1_chain_cert;
m2_ok SSL_CTX_add1_chain_cert(SSL_CTX *ctx, X509 *x);
%inline %{
/* 1 if the private key matches the certificate, 0 if not (never raises). */
static int ssl_ctx_check_privkey(SSL_CTX *ctx) { return SSL_CTX_check_private_key(ctx) == 1; }

static int ssl_ctx_load_verify_locations(SSL_CTX *ctx, const char *cafile, const char *capath) {
    int r;
    M2_ALLOW
    r = SSL_CTX_load_verify_locations(ctx, cafile, capath);
    M2_DISALLOW
    if (r != 1) { m2_raise_msg(M2_SSL, "cannot load the CA certificates"); return 0; }
    return 1;
}
static int ssl_ctx_set_default_verify_paths(SSL_CTX *ctx) {
    int r;
    M2_ALLOW
    r = SSL_CTX_set_default_verify_paths(ctx);
    M2_DISALLOW
    return r;
}
/* A new reference to the context's certificate store. */
static X509_STORE *ssl_ctx_get1_cert_store(SSL_CTX *ctx) {
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    if (!st || !X509_STORE_up_ref(st)) return (X509_STORE *)m2_raise_msg(M2_SSL, "the context has no certificate store");
    return st;
}

static int ssl_ctx_set_client_CA_list_from_file(SSL_CTX *ctx, const char *ca_file) {
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);
    if (!names) { m2_raise_msg(M2_SSL, "cannot load the client CA list"); return 0; }
    SSL_CTX_set_client_CA_list(ctx, names);
    return 1;
}

/* ---- verification ---- */
static void ssl_ctx_set_verify_default(SSL_CTX *ctx, int mode) {
    m2_ssl_ctx_put(ctx, "verify", NULL);
    SSL_CTX_set_verify(ctx, mode, NULL);
}
/* Verify with func(ok, X509_STORE_CTX) deciding each step. */
static PyObject *ssl_ctx_set_verify(SSL_CTX *ctx, int mode, PyObject *pyfunc) {
    if (!PyCallable_Check(pyfunc)) { PyErr_SetString(PyExc_TypeError, "the verify callback must be callable"); return NULL; }
    if (m2_ssl_ctx_put(ctx, "verify", pyfunc) < 0) return NULL;
    SSL_CTX_set_verify(ctx, mode, m2_ssl_verify_cb);
    Py_RETURN_NONE;
}
static void ssl_set_verify(SSL *ssl, int mode) { SSL_set_verify(ssl, mode, SSL_get_verify_callback(ssl)); }

/* Check the peer's host name (DNS name, or IP address literal) in the handshake
 * (X509_VERIFY_PARAM_set1_host / set1_ip_asc, RFC 6125, no partial wildcards). */
static int m2_param_set_host(X509_VERIFY_PARAM *param, const char *name) {
    unsigned char ip[16];
    if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1) {
        X509_VERIFY_PARAM_set1_host(param, NULL, 0);
        return X509_VERIFY_PARAM_set1_ip_asc(param, name);
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return X509_VERIFY_PARAM_set1_host(param, name, strlen(name));
}
static m2_ok ssl_set1_host(SSL *ssl, const char *name) {
    return m2_param_set_host(SSL_get0_param(ssl), name);
}
static m2_ok ssl_ctx_set1_host(SSL_CTX *ctx, const char *name) {
    return m2_param_set_host(SSL_CTX_get0_param(ctx), name);
}
static int ssl_ctx_set_verify_flags(SSL_CTX *ctx, unsigned long flags) {
    return X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), flags);
}
static int ssl_ctx_set_purpose(SSL_CTX *ctx, int purpose) { return SSL_CTX_set_purpose(ctx, purpose); }

/* M2Crypto's verify helpers: the SSL of a store context, used by old-style callbacks. */
static void *x509_store_ctx_get_ex_data(X509_STORE_CTX *ctx, int idx) { return X509_STORE_CTX_get_ex_data(ctx, idx); }
static SSL *x509_store_ctx_get_ssl(X509_STORE_CTX *ctx) {
    return (SSL *)X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
}

/* ---- callbacks ---- */
static PyObject *ssl_ctx_set_info_callback(SSL_CTX *ctx, PyObject *pyfunc) {
    if (!m2_ssl_check_callable(pyfunc, "info")) return NULL;
    if (m2_ssl_ctx_put(ctx, "info", pyfunc) < 0) return NULL;
    SSL_CTX_set_info_callback(ctx, pyfunc == Py_None ? NULL : m2_ssl_info_cb);
    Py_RETURN_NONE;
}

/* func(line) receives each key-log line (NSS key log format); None turns it off. */
static PyObject *ssl_ctx_set_keylog_callback(SSL_CTX *ctx, PyObject *pyfunc) {
    if (!m2_ssl_check_callable(pyfunc, "key log")) return NULL;
    if (m2_ssl_ctx_put(ctx, "keylog", pyfunc) < 0) return NULL;
    SSL_CTX_set_keylog_callback(ctx, pyfunc == Py_None ? NULL : m2_ssl_keylog_cb);
    Py_RETURN_NONE;
}

/* func(SSL, server_name or None) -> 0 or an alert number; None turns it off. */
static PyObject *ssl_ctx_set_servername_callback(SSL_CTX *ctx, PyObject *pyfunc) {
    if (!m2_ssl_check_callable(pyfunc, "server name")) return NULL;
    if (m2_ssl_ctx_put(ctx, "servername", pyfunc) < 0) return NULL;
    if (pyfunc == Py_None) SSL_CTX_set_tlsext_servername_callback(ctx, NULL);
    else SSL_CTX_set_tlsext_servername_callback(ctx, m2_ssl_servername_cb);
    Py_RETURN_NONE;
}

/* Switch a connection to another context (in a server name callback). */
static PyObject *ssl_set_ssl_ctx(SSL *ssl, SSL_CTX *ctx) {
    if (!SSL_set_SSL_CTX(ssl, ctx)) return m2_raise_msg(M2_SSL, "cannot switch the SSL context");
    Py_RETURN_NONE;
}

%}
%{
M2_DEPRECATED_BEGIN /* M2Crypto's set_tmp_dh_callback and set_tmp_dh take DH objects */
%}
%inline %{
static PyObject *ssl_ctx_set_tmp_dh_callback(SSL_CTX *ctx, PyObject *pyfunc) {
    if (!m2_ssl_check_callable(pyfunc, "tmp_dh")) return NULL;
    if (m2_ssl_ctx_put(ctx, "tmp_dh", pyfunc) < 0) return NULL;
    if (pyfunc == Py_None) SSL_CTX_set_tmp_dh_callback(ctx, NULL);
    else SSL_CTX_set_tmp_dh_callback(ctx, m2_ssl_tmp_dh_cb);
    Py_RETURN_NONE;
}

/* Ephemeral DH parameters (a copy of dh, as an EVP_PKEY). */
static long ssl_ctx_set_tmp_dh(SSL_CTX *ctx, DH *dh) {
    EVP_PKEY *pkey = EVP_PKEY_new();
    if (!pkey || !EVP_PKEY_set1_DH(pkey, dh)) { EVP_PKEY_free(pkey); m2_raise_msg(M2_SSL, "cannot use the DH parameters"); return 0; }
    if (!SSL_CTX_set0_tmp_dh_pkey(ctx, pkey)) { EVP_PKEY_free(pkey); m2_raise_msg(M2_SSL, "cannot use the DH parameters"); return 0; }
    return 1;
}
%}
%{
M2_DEPRECATED_END
%}
M2_RETURNS_NONNULL(ssl_session_read_pem)
M2_RETURNS_NONNULL(d2i_ssl_session)
M2_RETURNS_NONNULL(SSL_new)
M2_RETURNS_NONNULL(SSL_dup)
%rename(ssl_new) SSL_new;
SSL *SSL_new(SSL_CTX *ctx);
%rename(ssl_dup) SSL_dup;
SSL *SSL_dup(SSL *ssl);
%rename(ssl_set_tlsext_host_name) SSL_set_tlsext_host_name;
m2_ok SSL_set_tlsext_host_name(SSL *ssl, const char *name);
%inline %{
static long ssl_ctx_set_dh_auto(SSL_CTX *ctx, int onoff) { return SSL_CTX_set_dh_auto(ctx, onoff); }

/* Ephemeral RSA keys are gone from TLS: kept for M2Crypto's API, they do nothing. */
static long ssl_ctx_set_tmp_rsa(SSL_CTX *ctx, RSA *rsa) { (void)ctx; (void)rsa; return 1; }
static PyObject *ssl_ctx_set_tmp_rsa_callback(SSL_CTX *ctx, PyObject *pyfunc) { (void)ctx; (void)pyfunc; Py_RETURN_NONE; }

/* ---- ALPN (RFC 7301) ---- */
/* Client: offer protos (wire format: length-prefixed names). */
static int ssl_ctx_set_alpn_protos(SSL_CTX *ctx, const void *buf, Py_ssize_t len) {
    if (SSL_CTX_set_alpn_protos(ctx, buf, (unsigned int)len) != 0) { m2_raise_msg(M2_SSL, "cannot set the ALPN protocols"); return 0; }
    return 1;
}
static int ssl_set_alpn_protos(SSL *ssl, const void *buf, Py_ssize_t len) {
    if (SSL_set_alpn_protos(ssl, buf, (unsigned int)len) != 0) { m2_raise_msg(M2_SSL, "cannot set the ALPN protocols"); return 0; }
    return 1;
}
/* Server: choose from protos (wire format, in preference order); None turns it off. */
static PyObject *ssl_ctx_set_alpn_select(SSL_CTX *ctx, PyObject *protos) {
    if (protos != Py_None && !PyBytes_Check(protos)) { PyErr_SetString(PyExc_TypeError, "protos must be bytes or None"); return NULL; }
    if (protos != Py_None) {    /* the wire format: non-empty names, each after its length byte */
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(protos);
        Py_ssize_t i = 0, n = PyBytes_GET_SIZE(protos);
        while (i < n && p[i] != 0 && i + 1 + p[i] <= n) i += 1 + p[i];
        if (n == 0 || i != n) { PyErr_SetString(PyExc_ValueError, "protos is not in ALPN's wire format"); return NULL; }
    }
    if (m2_ssl_ctx_put(ctx, "alpn", protos) < 0) return NULL;
    SSL_CTX_set_alpn_select_cb(ctx, protos == Py_None ? NULL : m2_ssl_alpn_select_cb, NULL);
    Py_RETURN_NONE;
}
static PyObject *ssl_get_alpn_selected(SSL *ssl) {
    const unsigned char *data = NULL;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &data, &len);
    if (!data || !len) Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)data, len);
}
/* Server: whether a client offering ALPN but no protocol in common gets a fatal
 * no_application_protocol alert (1) or a handshake without ALPN (0, the default). */
static PyObject *ssl_ctx_set_alpn_required(SSL_CTX *ctx, int required) {
    if (m2_ssl_ctx_put(ctx, "alpn_required", required ? Py_True : NULL) < 0) return NULL;
    Py_RETURN_NONE;
}

/* ---- sessions ---- */
static int ssl_ctx_set_session_id_context(SSL_CTX *ctx, const void *buf, Py_ssize_t len) {
    if (len > SSL_MAX_SID_CTX_LENGTH || !SSL_CTX_set_session_id_context(ctx, buf, (unsigned int)len)) {
        m2_raise_msg(M2_SSL, "invalid session id context (at most 32 bytes)");
        return 0;
    }
    return 1;
}
static int ssl_set_session_id_context(SSL *ssl, const void *buf, Py_ssize_t len) {
    if (len > SSL_MAX_SID_CTX_LENGTH || !SSL_set_session_id_context(ssl, buf, (unsigned int)len)) {
        m2_raise_msg(M2_SSL, "invalid session id context (at most 32 bytes)");
        return 0;
    }
    return 1;
}
/* A new reference to the connection's session, or None. */
static SSL_SESSION *ssl_get_session(SSL *ssl) { return SSL_get1_session(ssl); }
static SSL_SESSION *ssl_get1_session(SSL *ssl) { return SSL_get1_session(ssl); }

static PyObject *i2d_ssl_session(BIO *bio, SSL_SESSION *sess) {
    if (!i2d_SSL_SESSION_bio(bio, sess)) return m2_raise_msg(M2_SSL, "cannot encode the session");
    Py_RETURN_NONE;
}
static SSL_SESSION *ssl_session_read_pem(BIO *bio) {
    return PEM_read_bio_SSL_SESSION(bio, NULL, m2_passphrase_cb, NULL);
}
static SSL_SESSION *d2i_ssl_session(BIO *bio) {
    return d2i_SSL_SESSION_bio(bio, NULL);
}
static m2_ok ssl_session_write_pem(SSL_SESSION *sess, BIO *bio) {
    return PEM_write_bio_SSL_SESSION(bio, sess);
}
static m2_ok ssl_session_write_bio(BIO *bio, SSL_SESSION *sess) { return ssl_session_write_pem(sess, bio); }
static PyObject *ssl_session_get_id(SSL_SESSION *sess) {
    unsigned int len = 0;
    const unsigned char *id = SSL_SESSION_get_id(sess, &len);
    return PyBytes_FromStringAndSize((const char *)id, len);
}
static int ssl_session_has_ticket(SSL_SESSION *sess) { return SSL_SESSION_has_ticket(sess); }
static PyObject *ssl_session_get_protocol_version(SSL_SESSION *sess) { return PyLong_FromLong(SSL_SESSION_get_protocol_version(sess)); }

/* ---- connections ---- */
/* The SSL takes ownership of both BIOs (one reference each; the same BIO may be both). */
static void ssl_set_bio(SSL *ssl, BIO *rbio, BIO *wbio) { SSL_set_bio(ssl, rbio, wbio); }
/* Like ssl_set_bio, but the SSL takes its own references: the caller keeps its BIOs. */
static void ssl_set_bio_shared(SSL *ssl, BIO *rbio, BIO *wbio) {
    BIO_up_ref(rbio);
    if (wbio != rbio) BIO_up_ref(wbio);
    SSL_set0_rbio(ssl, rbio);
    SSL_set0_wbio(ssl, wbio);
}
/* A socket BIO on fd (not closing it) for both directions. */
static int ssl_set_fd(SSL *ssl, int fd) {
    BIO *b = BIO_new_socket(fd, BIO_NOCLOSE);
    if (!b) { m2_raise_msg(M2_SSL, "cannot make a socket BIO"); return -1; }
    SSL_set_bio(ssl, b, b);
    return 1;
}

static PyObject *ssl_get_servername(SSL *ssl) {
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) Py_RETURN_NONE;
    return PyUnicode_FromString(name);
}

static void ssl_set_client_CA_list_from_file(SSL *ssl, const char *ca_file) {
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);
    if (!names) { m2_raise_msg(M2_SSL, "cannot load the client CA list"); return; }
    SSL_set_client_CA_list(ssl, names);
}
static void ssl_set_client_CA_list_from_context(SSL *ssl, SSL_CTX *ctx) {
    STACK_OF(X509_NAME) *names = SSL_dup_CA_list(SSL_CTX_get_client_CA_list(ctx));
    if (names) SSL_set_client_CA_list(ssl, names);
}

/* SSL_shutdown once (M2Crypto): 1 done, 0 our close_notify sent, < 0 failed or would block. */
static int ssl_shutdown(SSL *ssl) {
    int r;
    if (!m2_ssl_hold(ssl)) return -1;
    M2_ALLOW
    r = SSL_shutdown(ssl);
    M2_DISALLOW
    m2_ssl_release(ssl);
    return r;
}

/* The raw SSL_do_handshake / SSL_renegotiate (M2Crypto). */
static int ssl_do_handshake(SSL *ssl) {
    int r;
    if (!m2_ssl_hold(ssl)) return -1;
    M2_ALLOW
    r = SSL_do_handshake(ssl);
    M2_DISALLOW
    m2_ssl_release(ssl);
    return r;
}
static int ssl_renegotiate(SSL *ssl) { return SSL_renegotiate(ssl); }
static int ssl_is_init_finished(SSL *ssl) { return SSL_is_init_finished(ssl); }
static int ssl_in_init(SSL *ssl) { return SSL_in_init(ssl); }

/* M2Crypto's non-blocking reads and writes: bytes, b'' at close_notify, None if it would block. */
static PyObject *ssl_read_nbio(SSL *ssl, int num) {
    PyObject *out;
    size_t n = 0;
    Py_ssize_t size;
    int r;
    if (num < 0) { PyErr_SetString(PyExc_ValueError, "read count must be non-negative"); return NULL; }
    if (num == 0) return PyBytes_FromStringAndSize(NULL, 0);
    size = m2_ssl_read_cap(ssl, num);
    if (!(out = PyBytes_FromStringAndSize(NULL, size))) return NULL;
    r = m2_ssl_run(ssl, M2_OP_READ, PyBytes_AS_STRING(out), (size_t)size, 0, &n);
    if (r == M2_SSL_ERROR) { Py_DECREF(out); return NULL; }
    if (r == M2_SSL_WANT) { Py_DECREF(out); Py_RETURN_NONE; }
    if (r == M2_SSL_EOF) n = 0;
    if ((Py_ssize_t)n != size && _PyBytes_Resize(&out, (Py_ssize_t)n) < 0) return NULL;
    return out;
}
static int ssl_write_nbio(SSL *ssl, const void *buf, Py_ssize_t len) { return ssl_write(ssl, buf, len, 0); }

/* The peer's certificate (a new reference), or None. */
static X509 *ssl_get_peer_cert(SSL *ssl) { return SSL_get1_peer_certificate(ssl); }

/* A new stack holding its own references to the peer's chain, or None. */
static STACK_OF(X509) *ssl_get_peer_cert_chain(SSL *ssl) {
    STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);
    return sk ? X509_chain_up_ref(sk) : NULL;
}
/* The chain the handshake verified, leaf first (a new stack), or None. */
static STACK_OF(X509) *ssl_get_verified_chain(SSL *ssl) {
    STACK_OF(X509) *sk = SSL_get0_verified_chain(ssl);
    return sk ? X509_chain_up_ref(sk) : NULL;
}

static int ssl_cipher_get_bits(const SSL_CIPHER *c) { return SSL_CIPHER_get_bits(c, NULL); }
static int sk_ssl_cipher_num(STACK_OF(SSL_CIPHER) *stack) { return sk_SSL_CIPHER_num(stack); }
static const SSL_CIPHER *sk_ssl_cipher_value(STACK_OF(SSL_CIPHER) *stack, int idx) {
    if (idx < 0 || idx >= sk_SSL_CIPHER_num(stack)) { PyErr_SetString(PyExc_IndexError, "stack index out of range"); return NULL; }
    return sk_SSL_CIPHER_value(stack, idx);
}
/* The suite's IANA number (0x1301 for TLS_AES_128_GCM_SHA256). */
static int ssl_cipher_get_protocol_id(const SSL_CIPHER *c) { return (int)SSL_CIPHER_get_protocol_id(c); }

/* The master key's exporter (RFC 5705 / RFC 8446 section 7.5). */
static PyObject *ssl_export_keying_material(SSL *ssl, int length, const char *label, PyObject *context) {
    PyObject *out;
    Py_buffer v = {0};
    int r;
    if (length <= 0 || length > (1 << 16)) { PyErr_SetString(PyExc_ValueError, "bad length"); return NULL; }
    if (context != Py_None && m2_get_buffer(context, &v, INT_MAX) < 0) return NULL;
    if (!(out = PyBytes_FromStringAndSize(NULL, length))) goto done;
    r = SSL_export_keying_material(ssl, (unsigned char *)PyBytes_AS_STRING(out), length, label, strlen(label),
                                   v.obj ? v.buf : NULL, v.obj ? (size_t)v.len : 0, v.obj != NULL);
    if (r != 1) { Py_CLEAR(out); m2_raise_msg(M2_SSL, "cannot export keying material"); }
done:
    if (v.obj) PyBuffer_Release(&v);
    return out;
}

/* ---- the SSL BIO filter ---- */
static int bio_set_ssl(BIO *bio, SSL *ssl, int flag) { return (int)BIO_set_ssl(bio, ssl, flag); }
static int bio_do_handshake(BIO *bio) {
    int r;
    M2_ALLOW
    r = (int)BIO_do_handshake(bio);
    M2_DISALLOW
    return r;
}
%}

/* ---- M2Crypto 0.51 names (issue 18) ---- */
M2_RETURNS_NONNULL(BIO_new_ssl)
/* A BIO_f_ssl BIO with a new SSL from ctx, in client (1) or server (0) mode (BIO_new_ssl). */
%rename(bio_new_ssl) BIO_new_ssl;
BIO *BIO_new_ssl(SSL_CTX *ctx, int client);

/* ======================================================================== */
/* OCSP stapling (RFC 6066 section 8, RFC 8446 4.4.2.1).                     */
/* ======================================================================== */
/* One status callback per SSL_CTX serves both ends: ctx["ocsp"](SSL, is_server, staple).
 * On a server it is called when the client asked for a staple (staple is None) and returns
 * the DER response to staple, or None for none; on a client it is called during the
 * handshake with the staple received (bytes, or None) and returns true to go on, false (or
 * raises) to fail the handshake with a bad_certificate_status_response alert. */
%{
#include <openssl/ocsp.h>

#define M2_MAX_STAPLE (1 << 20)

static int m2_ssl_status_cb(SSL *ssl, void *arg) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *func = m2_ssl_ctx_get(SSL_get_SSL_CTX(ssl), "ocsp"), *ret = NULL;
    int server = SSL_is_server(ssl), r;
    (void)arg;
    if (!func) {
        r = server ? SSL_TLSEXT_ERR_NOACK : 1;
    } else if (server) {
        ret = m2_callback(func, Py_BuildValue("(NOO)", SWIG_NewPointerObj(ssl, SWIGTYPE_p_SSL, 0), Py_True, Py_None));
        if (!ret) {
            r = SSL_TLSEXT_ERR_ALERT_FATAL;
        } else if (ret == Py_None) {
            r = SSL_TLSEXT_ERR_NOACK;
        } else if (!PyBytes_Check(ret) || PyBytes_GET_SIZE(ret) == 0 || PyBytes_GET_SIZE(ret) > M2_MAX_STAPLE) {
            PyErr_SetString(PyExc_TypeError, "the OCSP staple callback must return non-empty bytes (at most 1 MiB) or None");
            r = SSL_TLSEXT_ERR_ALERT_FATAL;
        } else {
            unsigned char *copy = OPENSSL_memdup(PyBytes_AS_STRING(ret), PyBytes_GET_SIZE(ret));
            if (copy && SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)PyBytes_GET_SIZE(ret))) {
                r = SSL_TLSEXT_ERR_OK;
            } else {
                OPENSSL_free(copy);
                r = SSL_TLSEXT_ERR_ALERT_FATAL;
            }
        }
    } else {
        const unsigned char *resp = NULL;
        long len = SSL_get_tlsext_status_ocsp_resp(ssl, &resp);
        PyObject *staple = (resp && len > 0) ? PyBytes_FromStringAndSize((const char *)resp, len) : (Py_INCREF(Py_None), Py_None);
        if (staple)
            ret = m2_callback(func, Py_BuildValue("(NON)", SWIG_NewPointerObj(ssl, SWIGTYPE_p_SSL, 0), Py_False, staple));
        r = ret ? PyObject_IsTrue(ret) == 1 : 0;
        if (PyErr_Occurred()) r = 0;
    }
    Py_XDECREF(ret);
    Py_XDECREF(func);
    PyGILState_Release(gil);
    return r;
}
%}

%constant int TLSEXT_STATUSTYPE_ocsp = TLSEXT_STATUSTYPE_ocsp;
%constant int SSL_AD_BAD_CERTIFICATE_STATUS_RESPONSE = SSL_AD_BAD_CERTIFICATE_STATUS_RESPONSE;

%inline %{
/* func(SSL, is_server, staple) as above; None turns stapling off on both ends. */
static PyObject *ssl_ctx_set_ocsp_callback(SSL_CTX *ctx, PyObject *pyfunc) {
    if (!m2_ssl_check_callable(pyfunc, "OCSP status")) return NULL;
    if (m2_ssl_ctx_put(ctx, "ocsp", pyfunc) < 0) return NULL;
    if (!SSL_CTX_set_tlsext_status_cb(ctx, pyfunc == Py_None ? NULL : m2_ssl_status_cb))
        return m2_raise_msg(M2_SSL, "cannot set the OCSP status callback");
    Py_RETURN_NONE;
}
/* A client asks for a staple (status_request) when type is TLSEXT_STATUSTYPE_ocsp; -1: not. */
static PyObject *ssl_ctx_set_tlsext_status_type(SSL_CTX *ctx, int type) {
    if (!SSL_CTX_set_tlsext_status_type(ctx, type)) return m2_raise_msg(M2_SSL, "cannot set the status type");
    Py_RETURN_NONE;
}
static int ssl_ctx_get_tlsext_status_type(SSL_CTX *ctx) { return (int)SSL_CTX_get_tlsext_status_type(ctx); }
/* The staple the server sent (client side), or None. */
static PyObject *ssl_get_ocsp_response(SSL *ssl) {
    const unsigned char *resp = NULL;
    long len = SSL_get_tlsext_status_ocsp_resp(ssl, &resp);
    if (!resp || len <= 0) Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)resp, len);
}
%}

/* ======================================================================== */
/* TLS 1.3 post-handshake client authentication (RFC 8446 section 4.6.2),   */
/* KeyUpdate (section 4.6.3) and external PSKs (section 4.2.11, RFC 4279).  */
/* ======================================================================== */
%constant int SSL_KEY_UPDATE_NONE = SSL_KEY_UPDATE_NONE;
%constant int SSL_KEY_UPDATE_NOT_REQUESTED = SSL_KEY_UPDATE_NOT_REQUESTED;
%constant int SSL_KEY_UPDATE_REQUESTED = SSL_KEY_UPDATE_REQUESTED;
%constant int SSL_AD_UNKNOWN_PSK_IDENTITY = SSL_AD_UNKNOWN_PSK_IDENTITY;
%constant int SSL_AD_CERTIFICATE_REQUIRED = SSL_AD_CERTIFICATE_REQUIRED;
%{
#ifdef OPENSSL_NO_PSK               /* an OpenSSL built without PSKs: the setters raise */
# define M2_HAS_PSK 0
# define PSK_MAX_IDENTITY_LEN 256
# define PSK_MAX_PSK_LEN 512
#else
# define M2_HAS_PSK 1
#endif
%}
%constant int HAS_PSK = M2_HAS_PSK;
%constant int PSK_MAX_IDENTITY_LEN = PSK_MAX_IDENTITY_LEN;
%constant int PSK_MAX_PSK_LEN = PSK_MAX_PSK_LEN;

%{
/* 0 if a TLS 1.3 post-handshake message (what) can be sent on ssl now, else -1 with SSLError. */
static int m2_ssl_tls13_ready(SSL *ssl, const char *what) {
    if (!SSL_is_init_finished(ssl)) {
        PyErr_Format(m2_area_class(M2_SSL), "%s needs a completed handshake", what);
        return -1;
    }
    if (SSL_version(ssl) != TLS1_3_VERSION) {
        PyErr_Format(m2_area_class(M2_SSL), "%s needs TLS 1.3 (this connection uses %s)", what, SSL_get_version(ssl));
        return -1;
    }
    return 0;
}

/* What a TLS 1.2 PSK callback hands back to OpenSSL when it failed: more than its buffer can
 * hold, which makes OpenSSL abort the handshake with a fatal alert (handshake_failure from a
 * client, internal_error from a server).  The TLS 1.3 callbacks fail by returning 0
 * (internal_error).  Either way the Python exception is raised by the handshake call. */
#if !M2_HAS_PSK
static PyObject *m2_no_psk(void) {
    PyErr_SetString(m2_area_class(M2_SSL), "this OpenSSL was built without PSK support (m2.HAS_PSK is 0)");
    return NULL;
}
#else
#define M2_PSK_FAILED (PSK_MAX_PSK_LEN + 1)

static int m2_psk_id_idx = -1;      /* SSL ex_data: the identity a TLS 1.3 client offers */

static void m2_psk_id_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    OPENSSL_free(ptr);
}

/* A PSK callback's answer, checked. */
typedef struct {
    char identity[PSK_MAX_IDENTITY_LEN + 1];    /* the client's, NUL-terminated */
    unsigned char key[PSK_MAX_PSK_LEN];
    size_t key_len;                             /* 0: no PSK */
    const SSL_CIPHER *cipher;                   /* the TLS 1.3 suite whose hash the PSK uses */
} m2_psk;

/* The identity of a client's answer (str as UTF-8, bytes, or None for none) into out. */
static int m2_psk_identity(PyObject *id, m2_psk *out) {
    PyObject *b;
    Py_ssize_t len;
    if (PyUnicode_Check(id)) b = PyUnicode_AsUTF8String(id);
    else if (PyBytes_Check(id)) { Py_INCREF(id); b = id; }
    else if (id == Py_None) b = PyBytes_FromStringAndSize("", 0);
    else {
        PyErr_Format(PyExc_TypeError, "the PSK identity must be str, bytes or None, not %.100s", Py_TYPE(id)->tp_name);
        return -1;
    }
    if (!b) return -1;
    len = PyBytes_GET_SIZE(b);
    if (len > PSK_MAX_IDENTITY_LEN || (Py_ssize_t)strlen(PyBytes_AS_STRING(b)) != len) {
        Py_DECREF(b);
        PyErr_Format(PyExc_ValueError, "the PSK identity must be at most %d bytes, without NUL", PSK_MAX_IDENTITY_LEN);
        return -1;
    }
    memcpy(out->identity, PyBytes_AS_STRING(b), len + 1);
    Py_DECREF(b);
    return 0;
}

/* Call the context's PSK callback, the client's ("psk_client", with the hint) or the server's
 * ("psk_server", with the identity), and check its answer into out: a client answers
 * (identity, key) or (identity, key, hash), a server key or (key, hash); hash is "sha256" (the
 * default) or "sha384", the hash of the TLS 1.3 suites the PSK can be used with.  0 on success
 * (key_len 0: no PSK), -1 with an exception set.  Needs the GIL. */
static int m2_psk_ask(SSL *ssl, int client, const char *arg, size_t arg_len, m2_psk *out) {
    static const unsigned char sha256_suite[] = {0x13, 0x01}, sha384_suite[] = {0x13, 0x02};
    PyObject *func = m2_ssl_ctx_get(SSL_get_SSL_CTX(ssl), client ? "psk_client" : "psk_server");
    PyObject *ret = NULL, *argobj, *key = NULL, *hash = NULL;
    const char *who = client ? "client" : "server", *name = "sha256";
    Py_buffer view;
    int r = -1;
    out->key_len = 0;
    out->identity[0] = '\0';
    out->cipher = NULL;
    if (!func) return 0;
    if (arg) argobj = PyUnicode_DecodeUTF8(arg, (Py_ssize_t)arg_len, "surrogateescape");
    else { Py_INCREF(Py_None); argobj = Py_None; }
    ret = m2_callback(func, argobj ? Py_BuildValue("(N)", argobj) : NULL);
    if (!ret) goto done;
    if (client) {
        if (!PyTuple_Check(ret) || PyTuple_GET_SIZE(ret) < 2 || PyTuple_GET_SIZE(ret) > 3) {
            PyErr_Format(PyExc_TypeError, "the PSK client callback must return (identity, key[, hash]), not %.100s",
                         Py_TYPE(ret)->tp_name);
            goto done;
        }
        if (m2_psk_identity(PyTuple_GET_ITEM(ret, 0), out) < 0) goto done;
        key = PyTuple_GET_ITEM(ret, 1);
        hash = PyTuple_GET_SIZE(ret) == 3 ? PyTuple_GET_ITEM(ret, 2) : NULL;
    } else if (PyTuple_Check(ret)) {
        if (PyTuple_GET_SIZE(ret) != 2) {
            PyErr_SetString(PyExc_TypeError, "the PSK server callback must return key or (key, hash)");
            goto done;
        }
        key = PyTuple_GET_ITEM(ret, 0);
        hash = PyTuple_GET_ITEM(ret, 1);
    } else {
        key = ret;
    }
    if (PyUnicode_Check(key) || !PyObject_CheckBuffer(key)) {
        PyErr_Format(PyExc_TypeError, "the PSK %s callback must give the key as bytes, not %.100s", who, Py_TYPE(key)->tp_name);
        goto done;
    }
    if (m2_get_buffer(key, &view, PSK_MAX_PSK_LEN) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "the PSK %s callback gave a key longer than %d bytes", who, PSK_MAX_PSK_LEN);
        goto done;
    }
    memcpy(out->key, view.buf, (size_t)view.len);
    out->key_len = (size_t)view.len;
    PyBuffer_Release(&view);
    if (hash && hash != Py_None) {
        if (!PyUnicode_Check(hash)) {
            PyErr_Format(PyExc_TypeError, "the PSK hash must be a str, not %.100s", Py_TYPE(hash)->tp_name);
            goto done;
        }
        if (!(name = PyUnicode_AsUTF8(hash))) goto done;
    }
    if (!strcmp(name, "sha256")) out->cipher = SSL_CIPHER_find(ssl, sha256_suite);
    else if (!strcmp(name, "sha384")) out->cipher = SSL_CIPHER_find(ssl, sha384_suite);
    else {
        PyErr_Format(PyExc_ValueError, "the PSK hash must be 'sha256' or 'sha384', not %R", hash);
        goto done;
    }
    if (!out->cipher) { m2_raise_msg(M2_SSL, "no TLS 1.3 suite for the PSK's hash"); goto done; }
    r = 0;
done:
    if (r < 0 || PyErr_Occurred()) {
        OPENSSL_cleanse(out->key, sizeof(out->key));
        out->key_len = 0;
        r = -1;
    }
    Py_XDECREF(ret);
    Py_XDECREF(func);
    return r;
}

/* A TLS 1.3 PSK as OpenSSL takes it: a session holding the key and the suite of its hash. */
static SSL_SESSION *m2_psk_session(const m2_psk *p) {
    SSL_SESSION *sess = SSL_SESSION_new();
    if (!sess || !SSL_SESSION_set1_master_key(sess, p->key, p->key_len) || !SSL_SESSION_set_cipher(sess, p->cipher)
            || !SSL_SESSION_set_protocol_version(sess, TLS1_3_VERSION)) {
        SSL_SESSION_free(sess);
        m2_raise_msg(M2_SSL, "cannot make the PSK's session");
        return NULL;
    }
    return sess;
}

/* TLS 1.2 client (ClientKeyExchange of a PSK suite): ctx["psk_client"](hint or None). */
static unsigned int m2_psk_client_cb(SSL *ssl, const char *hint, char *identity, unsigned int max_identity_len,
                                     unsigned char *psk, unsigned int max_psk_len) {
    PyGILState_STATE gil;
    m2_psk p;
    unsigned int n = M2_PSK_FAILED;
    if (SSL_get_state(ssl) == TLS_ST_CW_CLNT_HELLO) return 0;   /* TLS 1.3: m2_psk_use_session_cb offers it */
    gil = PyGILState_Ensure();
    if (m2_psk_ask(ssl, 1, hint, hint ? strlen(hint) : 0, &p) == 0) {
        if (strlen(p.identity) > max_identity_len || p.key_len > max_psk_len) {
            PyErr_SetString(PyExc_ValueError, "the PSK identity or key is too long for OpenSSL");
        } else {
            memcpy(identity, p.identity, strlen(p.identity) + 1);
            memcpy(psk, p.key, p.key_len);
            n = (unsigned int)p.key_len;
        }
    }
    OPENSSL_cleanse(p.key, sizeof(p.key));
    PyGILState_Release(gil);
    return n;
}

/* TLS 1.3 client (ClientHello): ctx["psk_client"](None); after a HelloRetryRequest md is the
 * handshake's hash, and a PSK of another hash is not offered. */
static int m2_psk_use_session_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
                                 SSL_SESSION **sess) {
    PyGILState_STATE gil = PyGILState_Ensure();
    m2_psk p;
    char *kept, *old;
    int ok = 0;
    *sess = NULL;
    if (m2_psk_ask(ssl, 1, NULL, 0, &p) < 0) goto done;
    ok = 1;
    if (!p.key_len) goto done;
    if (md && EVP_MD_get_type(md) != EVP_MD_get_type(SSL_CIPHER_get_handshake_digest(p.cipher))) goto done;
    /* OpenSSL reads the identity until the handshake ends: the SSL keeps a copy */
    old = SSL_get_ex_data(ssl, m2_psk_id_idx);
    if (!(kept = OPENSSL_strdup(p.identity)) || !SSL_set_ex_data(ssl, m2_psk_id_idx, kept)) {
        OPENSSL_free(kept);
        m2_raise_msg(M2_SSL, "cannot keep the PSK identity");
        ok = 0;
        goto done;
    }
    OPENSSL_free(old);
    if (!(*sess = m2_psk_session(&p))) { ok = 0; goto done; }
    *id = (const unsigned char *)kept;
    *idlen = strlen(kept);
done:
    OPENSSL_cleanse(p.key, sizeof(p.key));
    PyGILState_Release(gil);
    return ok;
}

/* TLS 1.2 server (ClientKeyExchange): ctx["psk_server"](identity or None) -> key; b"" refuses
 * the identity with unknown_psk_identity. */
static unsigned int m2_psk_server_cb(SSL *ssl, const char *identity, unsigned char *psk, unsigned int max_psk_len) {
    PyGILState_STATE gil;
    m2_psk p;
    unsigned int n = M2_PSK_FAILED;
    if (SSL_version(ssl) == TLS1_3_VERSION) return 0;   /* m2_psk_find_session_cb answered already */
    gil = PyGILState_Ensure();
    if (m2_psk_ask(ssl, 0, identity, identity ? strlen(identity) : 0, &p) == 0) {
        if (p.key_len > max_psk_len) {
            PyErr_SetString(PyExc_ValueError, "the PSK key is too long for OpenSSL");
        } else {
            memcpy(psk, p.key, p.key_len);
            n = (unsigned int)p.key_len;
        }
    }
    OPENSSL_cleanse(p.key, sizeof(p.key));
    PyGILState_Release(gil);
    return n;
}

/* TLS 1.3 server (the client's pre_shared_key identities): ctx["psk_server"](identity); b""
 * ignores that identity, as RFC 8446 asks. */
static int m2_psk_find_session_cb(SSL *ssl, const unsigned char *identity, size_t identity_len, SSL_SESSION **sess) {
    PyGILState_STATE gil = PyGILState_Ensure();
    m2_psk p;
    int ok = 0;
    *sess = NULL;
    if (m2_psk_ask(ssl, 0, (const char *)identity, identity_len, &p) == 0) {
        ok = 1;
        if (p.key_len && !(*sess = m2_psk_session(&p))) ok = 0;
    }
    OPENSSL_cleanse(p.key, sizeof(p.key));
    PyGILState_Release(gil);
    return ok;
}
#endif /* M2_HAS_PSK */
%}

M2_NULLABLE_STR(identity_hint)

%inline %{
/* Client: offer post-handshake authentication (the post_handshake_auth extension). */
static void ssl_ctx_set_post_handshake_auth(SSL_CTX *ctx, int val) { SSL_CTX_set_post_handshake_auth(ctx, val); }
static void ssl_set_post_handshake_auth(SSL *ssl, int val) { SSL_set_post_handshake_auth(ssl, val); }

/* The verify mode alone (SSL_VERIFY_*), keeping the context's verify callback. */
static void ssl_ctx_set_verify_mode(SSL_CTX *ctx, int mode) { SSL_CTX_set_verify(ctx, mode, SSL_CTX_get_verify_callback(ctx)); }

/* Server: request the certificate of a TLS 1.3 client that offered post-handshake
 * authentication (SSL_verify_client_post_handshake); the CertificateRequest goes out with the
 * next handshake step, read or write, and the client's answer is processed by a later read. */
static PyObject *ssl_verify_client_post_handshake(SSL *ssl) {
    unsigned long code;
    if (m2_ssl_tls13_ready(ssl, "post-handshake authentication") < 0) return NULL;
    if (!SSL_is_server(ssl)) {
        PyErr_SetString(m2_area_class(M2_SSL), "only a server can request post-handshake authentication");
        return NULL;
    }
    if (!(SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER)) {
        PyErr_SetString(m2_area_class(M2_SSL), "post-handshake authentication needs verify_peer in the verify mode");
        return NULL;
    }
    if (SSL_verify_client_post_handshake(ssl) == 1) Py_RETURN_NONE;
    code = ERR_peek_error();
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_EXTENSION_NOT_RECEIVED)
        return m2_raise_msg(M2_SSL, "the client did not offer post-handshake authentication");
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && (ERR_GET_REASON(code) == SSL_R_REQUEST_PENDING || ERR_GET_REASON(code) == SSL_R_REQUEST_SENT))
        return m2_raise_msg(M2_SSL, "a post-handshake certificate request is already under way");
    return m2_raise_msg(M2_SSL, "cannot request post-handshake authentication");
}

/* Schedule a KeyUpdate (SSL_key_update): SSL_KEY_UPDATE_NOT_REQUESTED updates our sending
 * keys, SSL_KEY_UPDATE_REQUESTED also asks the peer to update its own.  It is sent with the
 * next handshake step, read or write. */
static PyObject *ssl_key_update(SSL *ssl, int updatetype) {
    if (updatetype != SSL_KEY_UPDATE_NOT_REQUESTED && updatetype != SSL_KEY_UPDATE_REQUESTED) {
        PyErr_SetString(PyExc_ValueError, "updatetype must be SSL_KEY_UPDATE_NOT_REQUESTED or SSL_KEY_UPDATE_REQUESTED");
        return NULL;
    }
    if (m2_ssl_tls13_ready(ssl, "KeyUpdate") < 0) return NULL;
    if (!SSL_key_update(ssl, updatetype)) return m2_raise_msg(M2_SSL, "cannot schedule a KeyUpdate");
    Py_RETURN_NONE;
}
/* The KeyUpdate waiting to be sent: SSL_KEY_UPDATE_NONE once it was. */
static int ssl_get_key_update_type(SSL *ssl) { return SSL_get_key_update_type(ssl); }

/* func(hint or None) -> (identity, key[, hash]) chooses the client's PSK (None turns it off);
 * ctx keeps func alive.  See m2_psk_ask. */
static PyObject *ssl_ctx_set_psk_client_callback(SSL_CTX *ctx, PyObject *func) {
#if !M2_HAS_PSK
    return m2_no_psk();
#else
    if (!m2_ssl_check_callable(func, "PSK client")) return NULL;
    if (m2_psk_id_idx < 0 && (m2_psk_id_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, m2_psk_id_free)) < 0)
        return m2_raise_msg(M2_SSL, "no ex_data index for the PSK identity");
    if (m2_ssl_ctx_put(ctx, "psk_client", func) < 0) return NULL;
    SSL_CTX_set_psk_client_callback(ctx, func == Py_None ? NULL : m2_psk_client_cb);
    SSL_CTX_set_psk_use_session_callback(ctx, func == Py_None ? NULL : m2_psk_use_session_cb);
    Py_RETURN_NONE;
#endif
}

/* func(identity or None) -> key or (key, hash) finds the server's PSKs (None turns it off); identity_hint
 * (TLS 1.2's ServerKeyExchange; None: none) is sent to clients. */
static PyObject *ssl_ctx_set_psk_server_callback(SSL_CTX *ctx, PyObject *func, const char *identity_hint) {
#if !M2_HAS_PSK
    return m2_no_psk();
#else
    if (!m2_ssl_check_callable(func, "PSK server")) return NULL;
    if (identity_hint && strlen(identity_hint) > PSK_MAX_IDENTITY_LEN) {
        PyErr_Format(PyExc_ValueError, "the PSK identity hint is longer than %d bytes", PSK_MAX_IDENTITY_LEN);
        return NULL;
    }
    if (!SSL_CTX_use_psk_identity_hint(ctx, func == Py_None ? NULL : identity_hint))
        return m2_raise_msg(M2_SSL, "cannot set the PSK identity hint");
    if (m2_ssl_ctx_put(ctx, "psk_server", func) < 0) return NULL;
    SSL_CTX_set_psk_server_callback(ctx, func == Py_None ? NULL : m2_psk_server_cb);
    SSL_CTX_set_psk_find_session_callback(ctx, func == Py_None ? NULL : m2_psk_find_session_cb);
    Py_RETURN_NONE;
#endif
}

/* The PSK identity the client used (server, TLS 1.2), or None. */
static PyObject *ssl_get_psk_identity(SSL *ssl) {
#if !M2_HAS_PSK
    const char *id = NULL;
    (void)ssl;
#else
    const char *id = SSL_get_psk_identity(ssl);
#endif
    if (!id) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(id, strlen(id), "surrogateescape");
}
%}
/* ---- feature flags of the OpenSSL built against ---- */
%{
/* OpenSSL 3.5's groups list marks each group to send a TLS 1.3 key share for with '*'
 * (SSL_CTX_set1_groups_list(3)); before 3.5 only the first group gets one. */
#if OPENSSL_VERSION_NUMBER >= 0x30500000L
#define M2_HAS_TLS_KEYSHARE_LIST 1
#else
#define M2_HAS_TLS_KEYSHARE_LIST 0
#endif
%}
%constant int HAS_TLS_KEYSHARE_LIST = M2_HAS_TLS_KEYSHARE_LIST;
/* ---- the Python object that owns an SSL (a Connection or an SSLObject) ---- */
/* A weak reference to it rides on the SSL itself (ex_data, as CPython's _ssl.c keeps its
 * SSLSocket), so that a callback finds it from the SSL pointer alone, with no map to keep in
 * step; it goes when the SSL is freed, and SSL_dup does not copy it. */
%{
static int m2_ssl_owner_idx = -1;

static void m2_ssl_owner_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    PyGILState_STATE gil;
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    if (!ptr) return;
    gil = PyGILState_Ensure();
    Py_DECREF((PyObject *)ptr);
    PyGILState_Release(gil);
}

static int m2_ssl_owner_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx, long argl, void *argp) {
    (void)to; (void)from; (void)idx; (void)argl; (void)argp;
    *from_d = NULL;   /* a duplicate has no owner until one claims it */
    return 1;
}
%}
%inline %{
/* Make owner (None: nobody) the object ssl_get_owner returns for ssl. */
static PyObject *ssl_set_owner(SSL *ssl, PyObject *owner) {
    PyObject *ref = NULL, *old;
    if (m2_ssl_owner_idx < 0
        && (m2_ssl_owner_idx = SSL_get_ex_new_index(0, NULL, NULL, m2_ssl_owner_dup, m2_ssl_owner_free)) < 0)
        return m2_raise_msg(M2_SSL, "cannot register the SSL's owner");
    if (owner != Py_None && !(ref = PyWeakref_NewRef(owner, NULL))) return NULL;
    old = SSL_get_ex_data(ssl, m2_ssl_owner_idx);
    if (!SSL_set_ex_data(ssl, m2_ssl_owner_idx, ref)) {
        Py_XDECREF(ref);
        return m2_raise_msg(M2_SSL, "cannot register the SSL's owner");
    }
    Py_XDECREF(old);
    Py_RETURN_NONE;
}

/* The live object that owns ssl, or None. */
static PyObject *ssl_get_owner(SSL *ssl) {
    PyObject *ref = m2_ssl_owner_idx < 0 ? NULL : (PyObject *)SSL_get_ex_data(ssl, m2_ssl_owner_idx), *owner;
    if (!ref) Py_RETURN_NONE;
    owner = PyWeakref_GetObject(ref);
    Py_INCREF(owner);
    return owner;
}
%}

/* ---- the handshake hot path: one SWIG call where a connection needed several ----
 * (bench/tls.py's handshake rows: every Python call between OpenSSL's costs more than the call
 * itself, the handshake having left the interpreter's code and data out of the caches) */
M2_RETURNS_NONNULL(ssl_new_owned)
M2_HOT(ssl_new_owned) M2_HOT(ssl_connect_fd) M2_HOT(ssl_accept_fd) M2_HOT(ssl_close_notify)
%inline %{
/* A new SSL on ctx whose owner (ssl_get_owner) is owner: ssl_new, then ssl_set_owner. */
static SSL *ssl_new_owned(SSL_CTX *ctx, PyObject *owner) {
    SSL *ssl = SSL_new(ctx);
    PyObject *r;
    if (!ssl) return (SSL *)m2_raise_msg(M2_SSL, "cannot make an SSL");
    if (!(r = ssl_set_owner(ssl, owner))) {
        SSL_free(ssl);
        return NULL;
    }
    Py_DECREF(r);
    return ssl;
}

/* A client handshake; names is (fd, sni, check_host): the socket BIO on fd (ssl_set_fd), the
 * connect state, the server's name sent as SNI (sni, unless one was set before; None: none),
 * the name its certificate must match (check_host, as ssl_set1_host; None: none), then
 * ssl_connect: 1 when done, 0 when it would block.  (One argument for the three, so that
 * Connection runs it as one guarded call, as it runs reads and writes.) */
static PyObject *ssl_connect_fd(SSL *ssl, PyObject *names, double timeout) {
    int fd;
    const char *sni, *check_host;
    if (!PyArg_ParseTuple(names, "izz:ssl_connect_fd", &fd, &sni, &check_host)) return NULL;
    if (ssl_set_fd(ssl, fd) < 0) return NULL;
    SSL_set_connect_state(ssl);
    if (sni && !SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) && !SSL_set_tlsext_host_name(ssl, sni))
        return m2_raise_msg(M2_SSL, "cannot set the server name (SNI)");
    if (check_host && m2_param_set_host(SSL_get0_param(ssl), check_host) <= 0)
        return m2_raise_msg(M2_SSL, "cannot set the host name to check");
    return ssl_connect(ssl, timeout);
}

/* A server handshake on an accepted socket: the socket BIO on fd (ssl_set_fd), the accept
 * state, then ssl_accept: 1 when done, 0 when it would block (Connection's server side in one
 * call, as ssl_connect_fd is the client's). */
static PyObject *ssl_accept_fd(SSL *ssl, int fd, double timeout) {
    if (ssl_set_fd(ssl, fd) < 0) return NULL;
    SSL_set_accept_state(ssl);
    return ssl_accept(ssl, timeout);
}

/* Send close_notify if the handshake completed and none was sent yet (Connection.close); the
 * peer being gone (an SSLError) is no error here.  None. */
static PyObject *ssl_close_notify(SSL *ssl, double timeout) {
    size_t n = 0;
    if (SSL_is_init_finished(ssl) && !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN)
        && m2_ssl_run(ssl, M2_OP_SHUTDOWN, NULL, 0, timeout, &n) == M2_SSL_ERROR) {
        if (!PyErr_ExceptionMatches(m2_area_class(M2_SSL))) return NULL;
        PyErr_Clear();
    }
    Py_RETURN_NONE;
}
%}
