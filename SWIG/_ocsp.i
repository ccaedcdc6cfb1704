/* _ocsp.i: OCSP (RFC 6960) requests, responses, their verification and their signing.
 *
 * Thin wrappers of OpenSSL's OCSP_* functions for M2Sec/OCSP.py.  CertIDs handed to Python
 * are copies (OCSP_CERTID_dup) that Python frees; requests and responses take copies of the
 * CertIDs they are given.  DER input is parsed whole: trailing bytes are an error.
 */
%{
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

/* The digest named md (ValueError if unknown); NULL with an exception set. */
static const EVP_MD *m2_ocsp_md(const char *md) {
    const EVP_MD *d = EVP_get_digestbyname(md);
    if (!d) PyErr_Format(PyExc_ValueError, "unknown digest '%s'", md);
    return d;
}

/* An ASN1 INTEGER as a Python int. */
static PyObject *m2_ocsp_int(const ASN1_INTEGER *i) {
    BIGNUM *bn = ASN1_INTEGER_to_BN(i, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    PyObject *r = hex ? PyLong_FromString(hex, NULL, 16) : m2_raise_msg(M2_OCSP, "cannot read a serial number");
    OPENSSL_free(hex);
    BN_free(bn);
    return r;
}

/* A time as seconds since the epoch (int), or None. */
static PyObject *m2_ocsp_time(const ASN1_GENERALIZEDTIME *t) {
    if (!t) Py_RETURN_NONE;
    return asn1_time_get_posix(t);
}

/* The nonce extension's value in exts' owner (get_ext is the owner's lookup), or None:
 * the inner OCTET STRING's content when it is one (RFC 6960 4.4.1), else the raw value. */
static PyObject *m2_ocsp_nonce(X509_EXTENSION *ext) {
    const ASN1_OCTET_STRING *v;
    const unsigned char *p;
    ASN1_OCTET_STRING *inner;
    PyObject *r;
    if (!ext) Py_RETURN_NONE;
    v = X509_EXTENSION_get_data(ext);
    p = ASN1_STRING_get0_data(v);
    inner = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(v));
    if (inner && p == ASN1_STRING_get0_data(v) + ASN1_STRING_length(v))
        r = PyBytes_FromStringAndSize((const char *)ASN1_STRING_get0_data(inner), ASN1_STRING_length(inner));
    else
        r = PyBytes_FromStringAndSize((const char *)ASN1_STRING_get0_data(v), ASN1_STRING_length(v));
    ASN1_OCTET_STRING_free(inner);
    ERR_clear_error();
    return r;
}

/* (status, reason, revocation time, thisUpdate, nextUpdate) of one SingleResponse. */
static PyObject *m2_ocsp_single(OCSP_SINGLERESP *single) {
    int reason = -1, status;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    PyObject *r, *t1, *t2, *t3;
    status = OCSP_single_get0_status(single, &reason, &rev, &thisupd, &nextupd);
    if (status < 0) return m2_raise_msg(M2_OCSP, "cannot read a single response's status");
    t1 = m2_ocsp_time(rev);
    t2 = m2_ocsp_time(thisupd);
    t3 = m2_ocsp_time(nextupd);
    r = (t1 && t2 && t3) ? Py_BuildValue("(iiOOO)", status, reason, t1, t2, t3) : NULL;
    Py_XDECREF(t1);
    Py_XDECREF(t2);
    Py_XDECREF(t3);
    return r;
}

static ASN1_TIME *m2_ocsp_set_time(time_t t) {
    ASN1_TIME *a = ASN1_GENERALIZEDTIME_set(NULL, t);
    if (!a) m2_raise_msg(M2_OCSP, "cannot encode a time");
    return a;
}
%}
M2_OK_AREA(M2_OCSP)

M2_NONNULL(OCSP_REQUEST *)
M2_NONNULL(OCSP_RESPONSE *)
M2_NONNULL(OCSP_BASICRESP *)
M2_NONNULL(OCSP_CERTID *)
M2_AREA_INIT(ocsp_init, M2_OCSP)
/* Arguments named so may be None (NULL): the C function documents it. */
%typemap(check) OCSP_BASICRESP *bs_or_null "";
%typemap(check) STACK_OF(X509) *certs_or_null "";
M2_NULLABLE_STR(md_or_null)

/* ---- constants ---- */
%constant int OCSP_RESPONSE_STATUS_SUCCESSFUL = OCSP_RESPONSE_STATUS_SUCCESSFUL;
%constant int OCSP_RESPONSE_STATUS_MALFORMEDREQUEST = OCSP_RESPONSE_STATUS_MALFORMEDREQUEST;
%constant int OCSP_RESPONSE_STATUS_INTERNALERROR = OCSP_RESPONSE_STATUS_INTERNALERROR;
%constant int OCSP_RESPONSE_STATUS_TRYLATER = OCSP_RESPONSE_STATUS_TRYLATER;
%constant int OCSP_RESPONSE_STATUS_SIGREQUIRED = OCSP_RESPONSE_STATUS_SIGREQUIRED;
%constant int OCSP_RESPONSE_STATUS_UNAUTHORIZED = OCSP_RESPONSE_STATUS_UNAUTHORIZED;
%constant int V_OCSP_CERTSTATUS_GOOD = V_OCSP_CERTSTATUS_GOOD;
%constant int V_OCSP_CERTSTATUS_REVOKED = V_OCSP_CERTSTATUS_REVOKED;
%constant int V_OCSP_CERTSTATUS_UNKNOWN = V_OCSP_CERTSTATUS_UNKNOWN;
%constant int OCSP_REVOKED_STATUS_NOSTATUS = OCSP_REVOKED_STATUS_NOSTATUS;
%constant unsigned long OCSP_NOCERTS = OCSP_NOCERTS;
%constant unsigned long OCSP_NOINTERN = OCSP_NOINTERN;
%constant unsigned long OCSP_NOSIGS = OCSP_NOSIGS;
%constant unsigned long OCSP_NOCHAIN = OCSP_NOCHAIN;
%constant unsigned long OCSP_NOVERIFY = OCSP_NOVERIFY;
%constant unsigned long OCSP_NOEXPLICIT = OCSP_NOEXPLICIT;
%constant unsigned long OCSP_NOCHECKS = OCSP_NOCHECKS;
%constant unsigned long OCSP_TRUSTOTHER = OCSP_TRUSTOTHER;
%constant unsigned long OCSP_RESPID_KEY = OCSP_RESPID_KEY;
%constant unsigned long OCSP_NOTIME = OCSP_NOTIME;

/* ---- plain wrappers ---- */
%rename(ocsp_request_free) OCSP_REQUEST_free;
void OCSP_REQUEST_free(OCSP_REQUEST *);
%rename(ocsp_response_free) OCSP_RESPONSE_free;
void OCSP_RESPONSE_free(OCSP_RESPONSE *);
M2_FREE(ocsp_basicresp_free, OCSP_BASICRESP_free, OCSP_BASICRESP, bs)
%rename(ocsp_certid_free) OCSP_CERTID_free;
void OCSP_CERTID_free(OCSP_CERTID *);
%rename(ocsp_response_status) OCSP_response_status;
int OCSP_response_status(OCSP_RESPONSE *);
%rename(ocsp_request_onereq_count) OCSP_request_onereq_count;
int OCSP_request_onereq_count(OCSP_REQUEST *);
%rename(ocsp_resp_count) OCSP_resp_count;
int OCSP_resp_count(OCSP_BASICRESP *);
/* 1: both nonces present and equal; 2: neither; 3: only the response's; -1: only the
 * request's; 0: both present and different. */
%rename(ocsp_check_nonce) OCSP_check_nonce;
int OCSP_check_nonce(OCSP_REQUEST *, OCSP_BASICRESP *);

M2_RETURNS_NONNULL(OCSP_CERTID_dup)
M2_RETURNS_NONNULL(OCSP_REQUEST_new)
M2_RETURNS_NONNULL(OCSP_BASICRESP_new)
%rename(ocsp_certid_dup) OCSP_CERTID_dup;
OCSP_CERTID *OCSP_CERTID_dup(OCSP_CERTID *id);
%rename(ocsp_request_new) OCSP_REQUEST_new;
OCSP_REQUEST *OCSP_REQUEST_new(void);
%rename(ocsp_basicresp_new) OCSP_BASICRESP_new;
OCSP_BASICRESP *OCSP_BASICRESP_new(void);
/* Echo the request's nonce: 1 done, 2 the request had none. */
%rename(ocsp_basic_copy_nonce) OCSP_copy_nonce;
m2_ok OCSP_copy_nonce(OCSP_BASICRESP *bs, OCSP_REQUEST *req);
M2_RETURNS_NONNULL(ocsp_request_get1_id)
M2_RETURNS_NONNULL(ocsp_resp_get1_id)
M2_RETURNS_NONNULL(ocsp_cert_to_id)
%inline %{
/* ---- CertIDs ---- */
/* The CertID of subject issued by issuer, hashing with md (RFC 6960 4.1.1). */
static OCSP_CERTID *ocsp_cert_to_id(const char *md, X509 *subject, X509 *issuer) {
    const EVP_MD *d = m2_ocsp_md(md);
    if (!d) return NULL;
    return OCSP_cert_to_id(d, subject, issuer);
}
/* 1 if a and b name the same certificate (same hash algorithm, hashes and serial). */
static int ocsp_id_equal(OCSP_CERTID *a, OCSP_CERTID *b) { return OCSP_id_cmp(a, b) == 0; }
/* (hash algorithm name, issuerNameHash, issuerKeyHash, serial number) */
static PyObject *ocsp_certid_info(OCSP_CERTID *id) {
    ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
    ASN1_OBJECT *alg = NULL;
    ASN1_INTEGER *serial = NULL;
    PyObject *s, *r;
    if (!OCSP_id_get0_info(&name_hash, &alg, &key_hash, &serial, id))
        return m2_raise_msg(M2_OCSP, "cannot read the CertID");
    if (!(s = m2_ocsp_int(serial))) return NULL;
    r = Py_BuildValue("(sy#y#O)", OBJ_nid2sn(OBJ_obj2nid(alg)),
                      ASN1_STRING_get0_data(name_hash), (Py_ssize_t)ASN1_STRING_length(name_hash),
                      ASN1_STRING_get0_data(key_hash), (Py_ssize_t)ASN1_STRING_length(key_hash), s);
    Py_DECREF(s);
    return r;
}

/* ---- requests ---- */
/* Ask about (a copy of) id. */
static int ocsp_request_add1_id(OCSP_REQUEST *req, OCSP_CERTID *id) {
    OCSP_CERTID *d = OCSP_CERTID_dup(id);
    if (!d || !OCSP_request_add0_id(req, d)) {
        OCSP_CERTID_free(d);
        m2_raise_msg(M2_OCSP, "cannot add the CertID to the request");
        return 0;
    }
    return 1;
}
/* Add a nonce: the bytes given, or 16 random bytes when nonce is None. */
static int ocsp_request_add1_nonce(OCSP_REQUEST *req, PyObject *nonce) {
    Py_buffer v;
    int r;
    if (nonce == Py_None) {
        r = OCSP_request_add1_nonce(req, NULL, -1);
    } else {
        if (m2_get_buffer(nonce, &v, 512) < 0) return 0;
        r = v.len > 0 ? OCSP_request_add1_nonce(req, (unsigned char *)v.buf, (int)v.len) : 0;
        PyBuffer_Release(&v);
        if (!r && !ERR_peek_error()) { PyErr_SetString(PyExc_ValueError, "a nonce must not be empty"); return 0; }
    }
    if (!r) m2_raise_msg(M2_OCSP, "cannot add the nonce");
    return r;
}
static PyObject *ocsp_request_get_nonce(OCSP_REQUEST *req) {
    int i = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
    return m2_ocsp_nonce(i < 0 ? NULL : OCSP_REQUEST_get_ext(req, i));
}
/* A copy of the idx'th CertID asked about. */
static OCSP_CERTID *ocsp_request_get1_id(OCSP_REQUEST *req, int idx) {
    OCSP_ONEREQ *one;
    if (idx < 0 || idx >= OCSP_request_onereq_count(req)) { PyErr_SetString(PyExc_IndexError, "request index out of range"); return NULL; }
    one = OCSP_request_onereq_get0(req, idx);
    return OCSP_CERTID_dup(OCSP_onereq_get0_id(one));
}
/* Sign the request (RFC 6960 4.1.2's optionalSignature), for responders that want it. */
static int ocsp_request_sign(OCSP_REQUEST *req, X509 *signer, EVP_PKEY *key, const char *md_or_null,
                             STACK_OF(X509) *certs_or_null, unsigned long flags) {
    const EVP_MD *d = NULL;
    if (md_or_null && !(d = m2_ocsp_md(md_or_null))) return 0;
    if (!OCSP_request_sign(req, signer, key, d, certs_or_null, flags)) { m2_raise_msg(M2_OCSP, "cannot sign the request"); return 0; }
    return 1;
}
static int ocsp_request_is_signed(OCSP_REQUEST *req) { return OCSP_request_is_signed(req); }
static PyObject *i2d_ocsp_request(OCSP_REQUEST *req) {
    unsigned char *der = NULL;
    int n = i2d_OCSP_REQUEST(req, &der);
    PyObject *r;
    if (n <= 0) return m2_raise_msg(M2_OCSP, "cannot encode the request");
    r = PyBytes_FromStringAndSize((const char *)der, n);
    OPENSSL_free(der);
    return r;
}
static OCSP_REQUEST *d2i_ocsp_request(const void *buf, Py_ssize_t len) {
    const unsigned char *p = buf;
    OCSP_REQUEST *r = d2i_OCSP_REQUEST(NULL, &p, (long)len);
    if (!r) { m2_raise_msg(M2_OCSP, "malformed OCSP request"); return NULL; }
    if (p != (const unsigned char *)buf + len) {
        OCSP_REQUEST_free(r);
        m2_raise_msg(M2_OCSP, "malformed OCSP request: trailing data");
        return NULL;
    }
    return r;
}

/* ---- responses ---- */
static PyObject *i2d_ocsp_response(OCSP_RESPONSE *resp) {
    unsigned char *der = NULL;
    int n = i2d_OCSP_RESPONSE(resp, &der);
    PyObject *r;
    if (n <= 0) return m2_raise_msg(M2_OCSP, "cannot encode the response");
    r = PyBytes_FromStringAndSize((const char *)der, n);
    OPENSSL_free(der);
    return r;
}
static OCSP_RESPONSE *d2i_ocsp_response(const void *buf, Py_ssize_t len) {
    const unsigned char *p = buf;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    if (!r) { m2_raise_msg(M2_OCSP, "malformed OCSP response"); return NULL; }
    if (p != (const unsigned char *)buf + len) {
        OCSP_RESPONSE_free(r);
        m2_raise_msg(M2_OCSP, "malformed OCSP response: trailing data");
        return NULL;
    }
    return r;
}
/* The BasicOCSPResponse of a successful response (a new object). */
static OCSP_BASICRESP *ocsp_response_get1_basic(OCSP_RESPONSE *resp) {
    OCSP_BASICRESP *bs = OCSP_response_get1_basic(resp);
    if (!bs) m2_raise_msg(M2_OCSP, "the response holds no basic OCSP response");
    return bs;
}
/* A response with status (and bs, a successful one's body, copied in; None otherwise). */
static OCSP_RESPONSE *ocsp_response_create(int status, OCSP_BASICRESP *bs_or_null) {
    OCSP_RESPONSE *r;
    if (status < 0 || status > OCSP_RESPONSE_STATUS_UNAUTHORIZED || status == 4) {
        PyErr_SetString(PyExc_ValueError, "not an OCSP response status");
        return NULL;
    }
    if ((status == OCSP_RESPONSE_STATUS_SUCCESSFUL) != (bs_or_null != NULL)) {
        PyErr_SetString(PyExc_ValueError, "a successful response, and only it, has a basic response");
        return NULL;
    }
    if (!(r = OCSP_response_create(status, bs_or_null))) m2_raise_msg(M2_OCSP, "cannot make the response");
    return r;
}

/* ---- basic responses: reading ---- */
/* A copy of the CertID of the idx'th SingleResponse. */
static OCSP_CERTID *ocsp_resp_get1_id(OCSP_BASICRESP *bs, int idx) {
    OCSP_SINGLERESP *s = OCSP_resp_get0(bs, idx);
    if (!s) { PyErr_SetString(PyExc_IndexError, "response index out of range"); return NULL; }
    return OCSP_CERTID_dup((OCSP_CERTID *)OCSP_SINGLERESP_get0_id(s));
}
/* (status, reason, revocation time, thisUpdate, nextUpdate) of the idx'th SingleResponse;
 * times are seconds since the epoch or None, reason -1 when absent. */
static PyObject *ocsp_resp_get_status(OCSP_BASICRESP *bs, int idx) {
    OCSP_SINGLERESP *s = OCSP_resp_get0(bs, idx);
    if (!s) { PyErr_SetString(PyExc_IndexError, "response index out of range"); return NULL; }
    return m2_ocsp_single(s);
}
/* The index of the SingleResponse about id, or -1. */
static int ocsp_resp_find(OCSP_BASICRESP *bs, OCSP_CERTID *id) { return OCSP_resp_find(bs, id, -1); }
/* OCSP_check_validity on the idx'th SingleResponse: raises unless thisUpdate is not later
 * than now + leeway, nextUpdate (if any) not earlier than now - leeway, and, when
 * max_age >= 0, thisUpdate not older than max_age seconds. */
static int ocsp_resp_check_validity(OCSP_BASICRESP *bs, int idx, long leeway, long max_age) {
    int reason, status;
    ASN1_GENERALIZEDTIME *rev, *thisupd = NULL, *nextupd = NULL;
    OCSP_SINGLERESP *s = OCSP_resp_get0(bs, idx);
    if (!s) { PyErr_SetString(PyExc_IndexError, "response index out of range"); return 0; }
    status = OCSP_single_get0_status(s, &reason, &rev, &thisupd, &nextupd);
    if (status < 0 || !OCSP_check_validity(thisupd, nextupd, leeway, max_age)) {
        m2_raise_msg(M2_OCSP, "the response is not valid now");
        return 0;
    }
    return 1;
}
static PyObject *ocsp_resp_get_produced_at(OCSP_BASICRESP *bs) { return m2_ocsp_time(OCSP_resp_get0_produced_at(bs)); }
static PyObject *ocsp_resp_get_nonce(OCSP_BASICRESP *bs) {
    int i = OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1);
    return m2_ocsp_nonce(i < 0 ? NULL : OCSP_BASICRESP_get_ext(bs, i));
}
/* The responder's id: (SHA-1 key hash, None) or (None, one-line name). */
static PyObject *ocsp_resp_get_responder_id(OCSP_BASICRESP *bs) {
    const ASN1_OCTET_STRING *key = NULL;
    const X509_NAME *name = NULL;
    char buf[512];
    if (!OCSP_resp_get0_id(bs, &key, &name)) return m2_raise_msg(M2_OCSP, "cannot read the responder id");
    if (key) return Py_BuildValue("(y#O)", ASN1_STRING_get0_data(key), (Py_ssize_t)ASN1_STRING_length(key), Py_None);
    X509_NAME_oneline(name, buf, sizeof(buf));
    return Py_BuildValue("(Os)", Py_None, buf);
}
/* The certificates the response carries (a new stack of new references). */
static STACK_OF(X509) *ocsp_resp_get1_certs(OCSP_BASICRESP *bs) {
    const STACK_OF(X509) *sk = OCSP_resp_get0_certs(bs);
    STACK_OF(X509) *r = sk ? X509_chain_up_ref((STACK_OF(X509) *)sk) : sk_X509_new_null();
    if (!r) m2_raise_msg(M2_OCSP, "cannot copy the response's certificates");
    return r;
}
/* OCSP_basic_verify: the signature, the signer's chain to a trust anchor of st (the
 * response's certificates and certs as intermediates), and that the signer is the CA of the
 * CertIDs or a responder it delegated (id-kp-OCSPSigning).  1, or an exception. */
static int ocsp_basic_verify(OCSP_BASICRESP *bs, STACK_OF(X509) *certs_or_null, X509_STORE *st, unsigned long flags) {
    int r;
    M2_ALLOW_USING(bs, certs_or_null, st)
    r = OCSP_basic_verify(bs, certs_or_null, st, flags);
    M2_DISALLOW_USING
    if (r <= 0) { m2_raise_msg(M2_OCSP, "the response's signature or signer is not valid"); return 0; }
    return 1;
}

/* ---- basic responses: building ---- */
/* Add a SingleResponse about id: status, and for revoked, reason (-1: none) and the time
 * of revocation; times in seconds since the epoch, next_update 0 for none. */
static int ocsp_basic_add1_status(OCSP_BASICRESP *bs, OCSP_CERTID *id, int status, int reason,
                                  time_t revoked_at, time_t this_update, time_t next_update) {
    ASN1_TIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    int ok = 0;
    if (status < V_OCSP_CERTSTATUS_GOOD || status > V_OCSP_CERTSTATUS_UNKNOWN) {
        PyErr_SetString(PyExc_ValueError, "not a certificate status");
        return 0;
    }
    if (reason < -1 || reason > 10 || reason == 7) { PyErr_SetString(PyExc_ValueError, "not a revocation reason"); return 0; }
    if (status == V_OCSP_CERTSTATUS_REVOKED && !(rev = m2_ocsp_set_time(revoked_at))) goto err;
    if (!(thisupd = m2_ocsp_set_time(this_update))) goto err;
    if (next_update && !(nextupd = m2_ocsp_set_time(next_update))) goto err;
    if (!OCSP_basic_add1_status(bs, id, status, reason, rev, thisupd, nextupd)) {
        m2_raise_msg(M2_OCSP, "cannot add the status");
        goto err;
    }
    ok = 1;
err:
    ASN1_TIME_free(rev);
    ASN1_TIME_free(thisupd);
    ASN1_TIME_free(nextupd);
    return ok;
}
static m2_ok ocsp_basic_add1_nonce(OCSP_BASICRESP *bs, const void *buf, Py_ssize_t len) {
    if (len <= 0 || len > 512) { PyErr_SetString(PyExc_ValueError, "a nonce is 1 to 512 bytes"); return 0; }
    return OCSP_basic_add1_nonce(bs, (unsigned char *)buf, (int)len);
}
/* Sign as signer with key (md None for keys that choose their own, as Ed25519); certs are
 * added to the response unless flags has OCSP_NOCERTS; OCSP_RESPID_KEY names the responder
 * by key hash instead of by name. */
static int ocsp_basic_sign(OCSP_BASICRESP *bs, X509 *signer, EVP_PKEY *key, const char *md_or_null,
                           STACK_OF(X509) *certs_or_null, unsigned long flags) {
    const EVP_MD *d = NULL;
    if (md_or_null && !(d = m2_ocsp_md(md_or_null))) return 0;
    if (!OCSP_basic_sign(bs, signer, key, d, certs_or_null, flags)) { m2_raise_msg(M2_OCSP, "cannot sign the response"); return 0; }
    return 1;
}

/* ---- certificates ---- */
/* The OCSP responder URLs of cert's Authority Information Access extension. */
static PyObject *x509_get1_ocsp(X509 *cert) {
    STACK_OF(OPENSSL_STRING) *sk = X509_get1_ocsp(cert);
    PyObject *list = PyList_New(0);
    int i;
    for (i = 0; list && sk && i < sk_OPENSSL_STRING_num(sk); i++) {
        PyObject *s = PyUnicode_DecodeLatin1(sk_OPENSSL_STRING_value(sk, i), strlen(sk_OPENSSL_STRING_value(sk, i)), NULL);
        if (!s || PyList_Append(list, s) < 0) Py_CLEAR(list);
        Py_XDECREF(s);
    }
    X509_email_free(sk);
    return list;
}
%}
