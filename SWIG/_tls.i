/* _tls.i: what M2Sec.TLS needs of a connection beyond the SSL layer: the TLS alerts an SSL
 * object sent and received (TLS Lite reports them as TLSLocalAlert / TLSRemoteAlert).
 * Included after _ssl.i, whose SSL pointer type it uses.  The recording takes the SSL's own
 * info callback (SSL_set_info_callback) and passes every event on to the SSL_CTX's
 * (SSL.Context.set_info_callback), so that one keeps working. */
%{
#include <openssl/ssl.h>

static int m2_tls_alert_idx = -1;

/* Alerts are kept as (level << 8 | description) + 1, 0 meaning none; [0] sent, [1] received. */
static void m2_tls_alert_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    OPENSSL_free(ptr);
}

static void m2_tls_info_cb(const SSL *s, int where, int ret) {
    void (*ctx_cb)(const SSL *, int, int) = SSL_CTX_get_info_callback(SSL_get_SSL_CTX(s));
    int *seen = (where & SSL_CB_ALERT) ? SSL_get_ex_data(s, m2_tls_alert_idx) : NULL;
    /* keep the first fatal alert of each direction, else the latest */
    if (seen && (where & SSL_CB_WRITE)) {
        if (!seen[0] || ((seen[0] - 1) >> 8) != SSL3_AL_FATAL) seen[0] = ret + 1;
    } else if (seen) {
        if (!seen[1] || ((seen[1] - 1) >> 8) != SSL3_AL_FATAL) seen[1] = ret + 1;
    }
    if (ctx_cb) ctx_cb(s, where, ret);
}
%}

%inline %{
/* Record the alerts ssl sends and receives from now on (SSL_set_info_callback, chained to the
 * SSL_CTX's info callback). */
static PyObject *tls_track_alerts(SSL *ssl) {
    int *seen;
    if (m2_tls_alert_idx < 0) {
        m2_tls_alert_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, m2_tls_alert_free);
        if (m2_tls_alert_idx < 0) return m2_raise(M2_SSL);
    }
    if (!SSL_get_ex_data(ssl, m2_tls_alert_idx)) {
        seen = OPENSSL_zalloc(2 * sizeof(int));
        if (!seen || !SSL_set_ex_data(ssl, m2_tls_alert_idx, seen)) {
            OPENSSL_free(seen);
            return m2_raise(M2_SSL);
        }
    }
    SSL_set_info_callback(ssl, m2_tls_info_cb);
    Py_RETURN_NONE;
}

/* ((level, description) sent or None, (level, description) received or None). */
static PyObject *tls_alerts(SSL *ssl) {
    int *seen = m2_tls_alert_idx >= 0 ? SSL_get_ex_data(ssl, m2_tls_alert_idx) : NULL;
    PyObject *out[2];
    int i;
    for (i = 0; i < 2; i++) {
        if (seen && seen[i]) out[i] = Py_BuildValue("(ii)", (seen[i] - 1) >> 8, (seen[i] - 1) & 0xff);
        else { Py_INCREF(Py_None); out[i] = Py_None; }
    }
    return Py_BuildValue("(NN)", out[0], out[1]);
}
%}
