/* _x509.i: X.509 names (certificates, requests, CRLs and stores join them here). */
%{
#include <openssl/x509.h>
#include <openssl/x509v3.h>
%}
M2_OK_AREA(M2_X509)

M2_NONNULL(X509_NAME *)
M2_NONNULL(X509_NAME_ENTRY *)
M2_AREA_INIT(x509_init, M2_X509)

%constant unsigned long XN_FLAG_COMPAT = XN_FLAG_COMPAT;
%constant unsigned long XN_FLAG_SEP_COMMA_PLUS = XN_FLAG_SEP_COMMA_PLUS;
%constant unsigned long XN_FLAG_SEP_CPLUS_SPC = XN_FLAG_SEP_CPLUS_SPC;
%constant unsigned long XN_FLAG_SEP_SPLUS_SPC = XN_FLAG_SEP_SPLUS_SPC;
%constant unsigned long XN_FLAG_SEP_MULTILINE = XN_FLAG_SEP_MULTILINE;
%constant unsigned long XN_FLAG_DN_REV = XN_FLAG_DN_REV;
%constant unsigned long XN_FLAG_FN_LN = XN_FLAG_FN_LN;
%constant unsigned long XN_FLAG_FN_SN = XN_FLAG_FN_SN;
%constant unsigned long XN_FLAG_FN_OID = XN_FLAG_FN_OID;
%constant unsigned long XN_FLAG_FN_NONE = XN_FLAG_FN_NONE;
%constant unsigned long XN_FLAG_SPC_EQ = XN_FLAG_SPC_EQ;
%constant unsigned long XN_FLAG_DUMP_UNKNOWN_FIELDS = XN_FLAG_DUMP_UNKNOWN_FIELDS;
%constant unsigned long XN_FLAG_FN_ALIGN = XN_FLAG_FN_ALIGN;
%constant unsigned long XN_FLAG_ONELINE = XN_FLAG_ONELINE;
%constant unsigned long XN_FLAG_MULTILINE = XN_FLAG_MULTILINE;
%constant unsigned long XN_FLAG_RFC2253 = XN_FLAG_RFC2253;

%rename(x509_name_new) X509_NAME_new;
X509_NAME *X509_NAME_new(void);
M2_FREE(x509_name_free, X509_NAME_free, X509_NAME, a)
%rename(x509_name_dup) X509_NAME_dup;
X509_NAME *X509_NAME_dup(const X509_NAME *a);
%rename(x509_name_entry_count) X509_NAME_entry_count;
int X509_NAME_entry_count(const X509_NAME *name);
%rename(x509_name_get_index_by_nid) X509_NAME_get_index_by_NID;
int X509_NAME_get_index_by_NID(const X509_NAME *name, int nid, int lastpos);
%rename(x509_name_cmp) X509_NAME_cmp;
int X509_NAME_cmp(const X509_NAME *a, const X509_NAME *b);
%rename(x509_name_entry_free) X509_NAME_ENTRY_free;
void X509_NAME_ENTRY_free(X509_NAME_ENTRY *a);
%rename(x509_name_entry_get_object) X509_NAME_ENTRY_get_object;
ASN1_OBJECT *X509_NAME_ENTRY_get_object(const X509_NAME_ENTRY *ne);
%rename(x509_name_entry_get_data) X509_NAME_ENTRY_get_data;
ASN1_STRING *X509_NAME_ENTRY_get_data(const X509_NAME_ENTRY *ne);
%rename(x509_name_entry_set_object) X509_NAME_ENTRY_set_object;
int X509_NAME_ENTRY_set_object(X509_NAME_ENTRY *ne, const ASN1_OBJECT *obj);
%rename(x509_name_print_ex) X509_NAME_print_ex;
int X509_NAME_print_ex(BIO *out, const X509_NAME *nm, int indent, unsigned long flags);

%apply (const void *buf, Py_ssize_t len) { (const void *bytes, Py_ssize_t blen) };
/* x509_name_entry_create_by_txt's first argument is always None, as in M2Crypto. */
%typemap(check) X509_NAME_ENTRY *none "";

%rename(x509_name_add_entry) X509_NAME_add_entry;
m2_ok X509_NAME_add_entry(X509_NAME *name, X509_NAME_ENTRY *ne, int loc, int set);
%inline %{
/* Borrowed from name: valid while name lives. */
static X509_NAME_ENTRY *x509_name_get_entry(X509_NAME *name, int loc) {
    X509_NAME_ENTRY *e;
    if (loc < 0 || loc >= X509_NAME_entry_count(name)) { PyErr_SetString(PyExc_IndexError, "name entry index out of range"); return NULL; }
    e = X509_NAME_get_entry(name, loc);
    return e;
}

static m2_ok x509_name_add_entry_by_txt(X509_NAME *name, const char *field, int type, const void *bytes, Py_ssize_t blen, int loc, int set) {
    return X509_NAME_add_entry_by_txt(name, field, type, bytes, (int)blen, loc, set);
}

static m2_ok x509_name_set_by_nid(X509_NAME *name, int nid, const void *bytes, Py_ssize_t blen) {
    return X509_NAME_add_entry_by_NID(name, nid, MBSTRING_ASC, (const unsigned char *)bytes, (int)blen, -1, 0);
}

/* A new entry, or None if the field name is unknown or the value invalid (as M2Crypto). */
static X509_NAME_ENTRY *x509_name_entry_create_by_txt(X509_NAME_ENTRY *none, const char *field, int type, const char *bytes, int len) {
    (void)none;
    if (len < 0 || (size_t)len > strlen(bytes)) len = (int)strlen(bytes);
    return X509_NAME_ENTRY_create_by_txt(NULL, field, type, (const unsigned char *)bytes, len);
}

static m2_ok x509_name_entry_set_data(X509_NAME_ENTRY *ne, int type, const void *bytes, Py_ssize_t blen) {
    return X509_NAME_ENTRY_set_data(ne, type, bytes, (int)blen);
}

/* The text of the first entry with nid, as bytes (UTF-8), or None. */
static PyObject *x509_name_by_nid(X509_NAME *name, int nid) {
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0) Py_RETURN_NONE;
    return asn1_string_to_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
}

static PyObject *x509_name_oneline(X509_NAME *name) {
    char *s = X509_NAME_oneline(name, NULL, 0);
    PyObject *v;
    if (!s) return m2_raise_msg(M2_X509, "X509_NAME_oneline failed");
    v = PyUnicode_DecodeUTF8(s, strlen(s), "replace");
    OPENSSL_free(s);
    return v;
}

static PyObject *x509_name_get_der(X509_NAME *name) {
    const unsigned char *der = NULL;
    size_t len = 0;
    if (!X509_NAME_get0_der(name, &der, &len)) return m2_raise_msg(M2_X509, "cannot encode the name");
    return PyBytes_FromStringAndSize((const char *)der, (Py_ssize_t)len);
}

static unsigned long x509_name_hash(X509_NAME *name) { return X509_NAME_hash_ex(name, NULL, NULL, NULL); }
static int x509_name_type_check(X509_NAME *name) { (void)name; return 1; }
%}

/* ---- m2.X509Base: X509.X509's base, holding its X509 * in C ----
 * Certificates are made per message (a verified message's signers and their chains): holding
 * the pointer in C spares each a Python __init__ and a __del__ finalizer, and lets C code make
 * X509.X509 objects (m2_x509_wrap) without calling Python.  X509(x509=None, _pyfree=0,
 * owner=None) keeps M2Crypto's signature; _p is the SWIG pointer object (the one given, or
 * one made when first asked for), None once closed; _pyfree says whether the object frees the
 * certificate when it dies; _owner (in the instance's dict) keeps a borrowed one's owner alive.
 * An X509 * argument takes such an object as well as a SWIG pointer (a closed one raises its
 * _ptr()'s ClosedError); m2.x509_free() given one takes the pointer from it (freed once). */
%{
typedef struct {
    PyObject_HEAD
    X509 *x;            /* NULL once closed */
    PyObject *p;        /* the SWIG pointer object _p gives, or NULL until asked for */
    int pyfree;
} m2_x509_obj;
static PyTypeObject m2_x509_type;
static PyTypeObject *m2_x509_class;  /* X509.X509 (m2.x509_set_class): what m2_x509_wrap makes */
static void m2_free_fn_x509_free(void *p);  /* X509_free, by M2_FREE(x509_free, ...) below */

/* An X509 * from an X509 object or a SWIG pointer (None: NULL); take: detached from the object,
 * pin: else counted in use until the wrapper returns (m2_pin).  SWIG's result code; a closed
 * object sets ClosedError (from its _ptr()). */
static int m2_x509_arg(PyObject *obj, void **out, int take, const void **pin) {
    *out = NULL;
    if (PyObject_TypeCheck(obj, &m2_x509_type)) {
        m2_x509_obj *o = (m2_x509_obj *)obj;
        if (!o->x) {
            PyObject *r = PyObject_CallMethod(obj, "_ptr", NULL);
            Py_XDECREF(r);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "the certificate has been freed");
            return SWIG_ERROR;
        }
        *out = o->x;
        if (take) { o->x = NULL; Py_CLEAR(o->p); }
        else if (!m2_pin(*out, pin)) return SWIG_ERROR;
        return SWIG_OK;
    }
    return SWIG_ConvertPtr(obj, out, SWIGTYPE_p_X509, 0);
}

/* A new X509.X509 object owning x (one reference, taken over; freed here on failure). */
static PyObject *m2_x509_wrap(X509 *x) {
    PyTypeObject *cls = m2_x509_class ? m2_x509_class : &m2_x509_type;
    m2_x509_obj *o = (m2_x509_obj *)cls->tp_alloc(cls, 0);
    if (!o) { X509_free(x); return NULL; }
    o->x = x;
    o->pyfree = 1;
    return (PyObject *)o;
}

static void m2_x509_dealloc(m2_x509_obj *self) {
    X509 *x = self->x;
    self->x = NULL;
    if (x && self->pyfree) {
        /* after the last reference to the pointer object _p gave (a call entering with it), or
         * after a call using it without the GIL */
        if (!self->p || Py_REFCNT(self->p) == 1 || Py_TYPE(self->p) != SwigPyObject_Type()
            || !m2_free_later(self->p, m2_free_fn_x509_free, NULL))
            m2_free_or_defer(x, m2_free_fn_x509_free);
    }
    Py_CLEAR(self->p);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int m2_x509_init(m2_x509_obj *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"x509", "_pyfree", "owner", NULL};
    PyObject *ptr = Py_None, *owner = Py_None, *pyfree = NULL;
    void *x = NULL;
    X509 *old = self->x;
    int free_old = self->pyfree, f = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOO:X509", names, &ptr, &pyfree, &owner)) return -1;
    if (pyfree && (f = PyObject_IsTrue(pyfree)) < 0) return -1;
    if (ptr == Py_None) {
        if (!(x = X509_new())) { m2_raise(M2_X509); return -1; }
        f = 1;
        ptr = NULL;
    } else if (!SWIG_IsOK(SWIG_ConvertPtr(ptr, &x, SWIGTYPE_p_X509, 0)) || !x) {
        PyErr_Format(PyExc_TypeError, "X509() needs an X509 pointer, not %s", Py_TYPE(ptr)->tp_name);
        return -1;
    }
    self->x = (X509 *)x;
    self->pyfree = f;
    Py_XSETREF(self->p, Py_XNewRef(ptr));
    if (old && free_old && old != x) m2_free_or_defer(old, m2_free_fn_x509_free);
    if (owner != Py_None && PyObject_SetAttrString((PyObject *)self, "_owner", owner) < 0) return -1;
    return 0;
}

static PyObject *m2_x509_get_p(m2_x509_obj *self, void *c) {
    (void)c;
    if (!self->x) Py_RETURN_NONE;
    if (!self->p && !(self->p = SWIG_NewPointerObj(self->x, SWIGTYPE_p_X509, 0))) return NULL;
    return Py_NewRef(self->p);
}

/* _p = None: the object lets go of its certificate without freeing it (Handle.close frees it
 * through the pointer it read first, when _pyfree says so). */
static int m2_x509_set_p(m2_x509_obj *self, PyObject *v, void *c) {
    (void)c;
    if (v != NULL && v != Py_None) { PyErr_SetString(PyExc_ValueError, "_p can only be set to None"); return -1; }
    self->x = NULL;
    Py_CLEAR(self->p);
    return 0;
}

static PyObject *m2_x509_get_pyfree(m2_x509_obj *self, void *c) {
    (void)c;
    return PyLong_FromLong(self->pyfree);
}

static int m2_x509_set_pyfree(m2_x509_obj *self, PyObject *v, void *c) {
    int f;
    (void)c;
    if (!v) { PyErr_SetString(PyExc_AttributeError, "_pyfree cannot be deleted"); return -1; }
    if ((f = PyObject_IsTrue(v)) < 0) return -1;
    self->pyfree = f;
    return 0;
}

static PyGetSetDef m2_x509_getset[] = {
    {"_p", (getter)m2_x509_get_p, (setter)m2_x509_set_p, NULL, NULL},
    {"_pyfree", (getter)m2_x509_get_pyfree, (setter)m2_x509_set_pyfree, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}
};
static PyTypeObject m2_x509_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "M2Sec._m2sec.X509Base",
    .tp_basicsize = sizeof(m2_x509_obj),
    .tp_dealloc = (destructor)m2_x509_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "An X509 certificate owned (or borrowed) by its object (X509.X509's base).",
    .tp_getset = m2_x509_getset,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)m2_x509_init,
};
%}
%init %{
    if (PyType_Ready(&m2_x509_type) < 0 || PyModule_AddObject(m, "X509Base", Py_NewRef(&m2_x509_type)) < 0)
        return -1;
%}
/* An X509 * argument (PARAM empty), or the one a free function takes over (owned_x509, TAKE 1). */
%define M2_X509_IN(PARAM, TAKE)
%typemap(in) X509 *PARAM (int res = 0, void *argp = 0, const void *pin = 0) {
    res = m2_x509_arg($input, &argp, TAKE, TAKE ? NULL : &pin);
    if (!SWIG_IsOK(res)) {
        if (PyErr_Occurred()) SWIG_fail;
        SWIG_exception_fail(SWIG_ArgError(res), "in method '$symname', argument $argnum of type '$type'");
    }
    $1 = ($ltype)argp;
}
%typemap(freearg) X509 *PARAM "m2_unpin(pin$argnum);";
%enddef
M2_X509_IN(, 0)
M2_X509_IN(owned_x509, 1)
%inline %{
/* Registers X509.X509 as the class of the certificates C code makes (m2_x509_wrap). */
static PyObject *x509_set_class(PyObject *cls) {
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &m2_x509_type)) {
        PyErr_SetString(PyExc_TypeError, "x509_set_class needs a subclass of m2.X509Base");
        return NULL;
    }
    Py_XSETREF(m2_x509_class, (PyTypeObject *)Py_NewRef(cls));
    Py_RETURN_NONE;
}
%}

M2_NONNULL(X509 *)
M2_FREE(x509_free, X509_free, X509, owned_x509)
%rename(x509_get_verify_error) X509_verify_cert_error_string;
const char *X509_verify_cert_error_string(long n);

/* ======================================================================== */
/* Certificates, extensions, requests, CRLs, stacks and stores.              */
/* ======================================================================== */
%{
#include <openssl/x509_vfy.h>
#include <openssl/evp.h>
%}

/* SWIG's view of OpenSSL's stacks: the same struct names as C's. */
#define STACK_OF(type) struct stack_st_ ## type

M2_NONNULL(X509_EXTENSION *)
M2_NONNULL(X509_REQ *)
M2_NONNULL(X509_CRL *)
M2_NONNULL(X509_STORE *)
M2_NONNULL(X509_STORE_CTX *)
M2_NONNULL(STACK_OF(X509) *)
M2_NONNULL(STACK_OF(X509_EXTENSION) *)

%constant int NID_commonName = NID_commonName;
%constant int NID_countryName = NID_countryName;
%constant int NID_localityName = NID_localityName;
%constant int NID_stateOrProvinceName = NID_stateOrProvinceName;
%constant int NID_organizationName = NID_organizationName;
%constant int NID_organizationalUnitName = NID_organizationalUnitName;
%constant int NID_serialNumber = NID_serialNumber;
%constant int NID_surname = NID_surname;
%constant int NID_givenName = NID_givenName;
%constant int NID_pkcs9_emailAddress = NID_pkcs9_emailAddress;

%constant int X509_V_OK = X509_V_OK;
%constant int X509_V_ERR_UNSPECIFIED = X509_V_ERR_UNSPECIFIED;
%constant int X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT;
%constant int X509_V_ERR_UNABLE_TO_GET_CRL = X509_V_ERR_UNABLE_TO_GET_CRL;
%constant int X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE = X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE;
%constant int X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE = X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE;
%constant int X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY = X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY;
%constant int X509_V_ERR_CERT_SIGNATURE_FAILURE = X509_V_ERR_CERT_SIGNATURE_FAILURE;
%constant int X509_V_ERR_CRL_SIGNATURE_FAILURE = X509_V_ERR_CRL_SIGNATURE_FAILURE;
%constant int X509_V_ERR_CERT_NOT_YET_VALID = X509_V_ERR_CERT_NOT_YET_VALID;
%constant int X509_V_ERR_CERT_HAS_EXPIRED = X509_V_ERR_CERT_HAS_EXPIRED;
%constant int X509_V_ERR_CRL_NOT_YET_VALID = X509_V_ERR_CRL_NOT_YET_VALID;
%constant int X509_V_ERR_CRL_HAS_EXPIRED = X509_V_ERR_CRL_HAS_EXPIRED;
%constant int X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD = X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD;
%constant int X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD = X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD;
%constant int X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD = X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD;
%constant int X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD = X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD;
%constant int X509_V_ERR_OUT_OF_MEM = X509_V_ERR_OUT_OF_MEM;
%constant int X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
%constant int X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
%constant int X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
%constant int X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE = X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
%constant int X509_V_ERR_CERT_CHAIN_TOO_LONG = X509_V_ERR_CERT_CHAIN_TOO_LONG;
%constant int X509_V_ERR_CERT_REVOKED = X509_V_ERR_CERT_REVOKED;
%constant int X509_V_ERR_INVALID_CA = X509_V_ERR_INVALID_CA;
%constant int X509_V_ERR_PATH_LENGTH_EXCEEDED = X509_V_ERR_PATH_LENGTH_EXCEEDED;
%constant int X509_V_ERR_INVALID_PURPOSE = X509_V_ERR_INVALID_PURPOSE;
%constant int X509_V_ERR_CERT_UNTRUSTED = X509_V_ERR_CERT_UNTRUSTED;
%constant int X509_V_ERR_CERT_REJECTED = X509_V_ERR_CERT_REJECTED;
%constant int X509_V_ERR_SUBJECT_ISSUER_MISMATCH = X509_V_ERR_SUBJECT_ISSUER_MISMATCH;
%constant int X509_V_ERR_AKID_SKID_MISMATCH = X509_V_ERR_AKID_SKID_MISMATCH;
%constant int X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH = X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH;
%constant int X509_V_ERR_KEYUSAGE_NO_CERTSIGN = X509_V_ERR_KEYUSAGE_NO_CERTSIGN;
%constant int X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER = X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER;
%constant int X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION = X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION;
%constant int X509_V_ERR_KEYUSAGE_NO_CRL_SIGN = X509_V_ERR_KEYUSAGE_NO_CRL_SIGN;
%constant int X509_V_ERR_HOSTNAME_MISMATCH = X509_V_ERR_HOSTNAME_MISMATCH;
%constant int X509_V_ERR_EMAIL_MISMATCH = X509_V_ERR_EMAIL_MISMATCH;
%constant int X509_V_ERR_IP_ADDRESS_MISMATCH = X509_V_ERR_IP_ADDRESS_MISMATCH;
%constant int X509_V_ERR_APPLICATION_VERIFICATION = X509_V_ERR_APPLICATION_VERIFICATION;

%constant unsigned long VERIFY_CB_ISSUER_CHECK = X509_V_FLAG_CB_ISSUER_CHECK;
%constant unsigned long VERIFY_USE_CHECK_TIME = X509_V_FLAG_USE_CHECK_TIME;
%constant unsigned long VERIFY_CRL_CHECK = X509_V_FLAG_CRL_CHECK;
%constant unsigned long VERIFY_CRL_CHECK_ALL = X509_V_FLAG_CRL_CHECK_ALL;
%constant unsigned long VERIFY_CRL_CHECK_LEAF = X509_V_FLAG_CRL_CHECK;
%constant unsigned long VERIFY_CRL_CHECK_CHAIN = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
%constant unsigned long VERIFY_IGNORE_CRITICAL = X509_V_FLAG_IGNORE_CRITICAL;
%constant unsigned long VERIFY_X509_STRICT = X509_V_FLAG_X509_STRICT;
%constant unsigned long VERIFY_ALLOW_PROXY_CERTS = X509_V_FLAG_ALLOW_PROXY_CERTS;
%constant unsigned long VERIFY_POLICY_CHECK = X509_V_FLAG_POLICY_CHECK;
%constant unsigned long VERIFY_EXPLICIT_POLICY = X509_V_FLAG_EXPLICIT_POLICY;
%constant unsigned long VERIFY_INHIBIT_ANY = X509_V_FLAG_INHIBIT_ANY;
%constant unsigned long VERIFY_INHIBIT_MAP = X509_V_FLAG_INHIBIT_MAP;
%constant unsigned long VERIFY_NOTIFY_POLICY = X509_V_FLAG_NOTIFY_POLICY;
%constant unsigned long VERIFY_EXTENDED_CRL_SUPPORT = X509_V_FLAG_EXTENDED_CRL_SUPPORT;
%constant unsigned long VERIFY_USE_DELTAS = X509_V_FLAG_USE_DELTAS;
%constant unsigned long VERIFY_CHECK_SS_SIGNATURE = X509_V_FLAG_CHECK_SS_SIGNATURE;
%constant unsigned long VERIFY_TRUSTED_FIRST = X509_V_FLAG_TRUSTED_FIRST;
%constant unsigned long VERIFY_PARTIAL_CHAIN = X509_V_FLAG_PARTIAL_CHAIN;
%constant unsigned long VERIFY_NO_ALT_CHAINS = X509_V_FLAG_NO_ALT_CHAINS;
%constant unsigned long VERIFY_NO_CHECK_TIME = X509_V_FLAG_NO_CHECK_TIME;

%constant unsigned long X509_V_FLAG_CB_ISSUER_CHECK = X509_V_FLAG_CB_ISSUER_CHECK;
%constant unsigned long X509_V_FLAG_USE_CHECK_TIME = X509_V_FLAG_USE_CHECK_TIME;
%constant unsigned long X509_V_FLAG_CRL_CHECK = X509_V_FLAG_CRL_CHECK;
%constant unsigned long X509_V_FLAG_CRL_CHECK_ALL = X509_V_FLAG_CRL_CHECK_ALL;
%constant unsigned long X509_V_FLAG_IGNORE_CRITICAL = X509_V_FLAG_IGNORE_CRITICAL;
%constant unsigned long X509_V_FLAG_X509_STRICT = X509_V_FLAG_X509_STRICT;
%constant unsigned long X509_V_FLAG_ALLOW_PROXY_CERTS = X509_V_FLAG_ALLOW_PROXY_CERTS;
%constant unsigned long X509_V_FLAG_POLICY_CHECK = X509_V_FLAG_POLICY_CHECK;
%constant unsigned long X509_V_FLAG_EXPLICIT_POLICY = X509_V_FLAG_EXPLICIT_POLICY;
%constant unsigned long X509_V_FLAG_INHIBIT_ANY = X509_V_FLAG_INHIBIT_ANY;
%constant unsigned long X509_V_FLAG_INHIBIT_MAP = X509_V_FLAG_INHIBIT_MAP;
%constant unsigned long X509_V_FLAG_NOTIFY_POLICY = X509_V_FLAG_NOTIFY_POLICY;
%constant unsigned long X509_V_FLAG_EXTENDED_CRL_SUPPORT = X509_V_FLAG_EXTENDED_CRL_SUPPORT;
%constant unsigned long X509_V_FLAG_USE_DELTAS = X509_V_FLAG_USE_DELTAS;
%constant unsigned long X509_V_FLAG_CHECK_SS_SIGNATURE = X509_V_FLAG_CHECK_SS_SIGNATURE;
%constant unsigned long X509_V_FLAG_TRUSTED_FIRST = X509_V_FLAG_TRUSTED_FIRST;
%constant unsigned long X509_V_FLAG_PARTIAL_CHAIN = X509_V_FLAG_PARTIAL_CHAIN;
%constant unsigned long X509_V_FLAG_NO_ALT_CHAINS = X509_V_FLAG_NO_ALT_CHAINS;
%constant unsigned long X509_V_FLAG_NO_CHECK_TIME = X509_V_FLAG_NO_CHECK_TIME;

%constant unsigned long X509V3_EXT_UNKNOWN_MASK = X509V3_EXT_UNKNOWN_MASK;
%constant unsigned long X509V3_EXT_DEFAULT = X509V3_EXT_DEFAULT;
%constant unsigned long X509V3_EXT_ERROR_UNKNOWN = X509V3_EXT_ERROR_UNKNOWN;
%constant unsigned long X509V3_EXT_PARSE_UNKNOWN = X509V3_EXT_PARSE_UNKNOWN;
%constant unsigned long X509V3_EXT_DUMP_UNKNOWN = X509V3_EXT_DUMP_UNKNOWN;

%constant int X509_PURPOSE_SSL_CLIENT = X509_PURPOSE_SSL_CLIENT;
%constant int X509_PURPOSE_SSL_SERVER = X509_PURPOSE_SSL_SERVER;
%constant int X509_PURPOSE_NS_SSL_SERVER = X509_PURPOSE_NS_SSL_SERVER;
%constant int X509_PURPOSE_SMIME_SIGN = X509_PURPOSE_SMIME_SIGN;
%constant int X509_PURPOSE_SMIME_ENCRYPT = X509_PURPOSE_SMIME_ENCRYPT;
%constant int X509_PURPOSE_CRL_SIGN = X509_PURPOSE_CRL_SIGN;
%constant int X509_PURPOSE_ANY = X509_PURPOSE_ANY;
%constant int X509_PURPOSE_OCSP_HELPER = X509_PURPOSE_OCSP_HELPER;
%constant int X509_PURPOSE_TIMESTAMP_SIGN = X509_PURPOSE_TIMESTAMP_SIGN;

%constant unsigned int X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT = X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT;
%constant unsigned int X509_CHECK_FLAG_NO_WILDCARDS = X509_CHECK_FLAG_NO_WILDCARDS;
%constant unsigned int X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;
%constant unsigned int X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS = X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS;
%constant unsigned int X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS = X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS;
%constant unsigned int X509_CHECK_FLAG_NEVER_CHECK_SUBJECT = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;

%constant int GEN_OTHERNAME = GEN_OTHERNAME;
%constant int GEN_EMAIL = GEN_EMAIL;
%constant int GEN_DNS = GEN_DNS;
%constant int GEN_X400 = GEN_X400;
%constant int GEN_DIRNAME = GEN_DIRNAME;
%constant int GEN_EDIPARTY = GEN_EDIPARTY;
%constant int GEN_URI = GEN_URI;
%constant int GEN_IPADD = GEN_IPADD;
%constant int GEN_RID = GEN_RID;

/* ---- certificates ---- */
%rename(x509_new) X509_new;
X509 *X509_new(void);
%rename(x509_dup) X509_dup;
X509 *X509_dup(X509 *x);
%rename(x509_get_version) X509_get_version;
long X509_get_version(const X509 *x);
%rename(x509_get_ext_count) X509_get_ext_count;
int X509_get_ext_count(const X509 *x);
%rename(x509_check_ca) X509_check_ca;
int X509_check_ca(X509 *x);
%rename(x509_write_pem) PEM_write_bio_X509;
int PEM_write_bio_X509(BIO *bp, X509 *x);
%rename(i2d_x509_bio) i2d_X509_bio;
int i2d_X509_bio(BIO *bp, X509 *x);
%rename(x509_print) X509_print;
int X509_print(BIO *bp, X509 *x);
%rename(x509_cmp) X509_cmp;
int X509_cmp(const X509 *a, const X509 *b);
/* Borrowed from the certificate: valid while it lives. */
%rename(x509_get_subject_name) X509_get_subject_name;
X509_NAME *X509_get_subject_name(const X509 *x);
%rename(x509_get_issuer_name) X509_get_issuer_name;
X509_NAME *X509_get_issuer_name(const X509 *x);
%rename(x509_get_serial_number) X509_get_serialNumber;
ASN1_INTEGER *X509_get_serialNumber(X509 *x);
%rename(x509_get_not_before) X509_getm_notBefore;
ASN1_TIME *X509_getm_notBefore(const X509 *x);
%rename(x509_get_not_after) X509_getm_notAfter;
ASN1_TIME *X509_getm_notAfter(const X509 *x);

/* ---- extensions ---- */
%rename(x509_extension_free) X509_EXTENSION_free;
void X509_EXTENSION_free(X509_EXTENSION *a);
%rename(x509_extension_dup) X509_EXTENSION_dup;
X509_EXTENSION *X509_EXTENSION_dup(const X509_EXTENSION *a);
%rename(x509_extension_get_critical) X509_EXTENSION_get_critical;
int X509_EXTENSION_get_critical(const X509_EXTENSION *ex);
%rename(x509_extension_set_critical) X509_EXTENSION_set_critical;
int X509_EXTENSION_set_critical(X509_EXTENSION *ex, int crit);
%rename(x509_ext_print) X509V3_EXT_print;
int X509V3_EXT_print(BIO *out, X509_EXTENSION *ext, unsigned long flag, int indent);

/* ---- requests ---- */
%rename(x509_req_new) X509_REQ_new;
X509_REQ *X509_REQ_new(void);
M2_FREE(x509_req_free, X509_REQ_free, X509_REQ, a)
%rename(x509_req_get_version) X509_REQ_get_version;
long X509_REQ_get_version(const X509_REQ *req);
%rename(x509_req_get_subject_name) X509_REQ_get_subject_name;
X509_NAME *X509_REQ_get_subject_name(const X509_REQ *req);
%rename(x509_req_write_pem) PEM_write_bio_X509_REQ;
int PEM_write_bio_X509_REQ(BIO *bp, X509_REQ *x);
%rename(i2d_x509_req_bio) i2d_X509_REQ_bio;
int i2d_X509_REQ_bio(BIO *bp, X509_REQ *req);
%rename(x509_req_print) X509_REQ_print;
int X509_REQ_print(BIO *bp, X509_REQ *req);

/* ---- CRLs ---- */
%rename(x509_crl_new) X509_CRL_new;
X509_CRL *X509_CRL_new(void);
M2_FREE(x509_crl_free, X509_CRL_free, X509_CRL, a)
%rename(x509_crl_print) X509_CRL_print;
int X509_CRL_print(BIO *bp, X509_CRL *x);
%rename(x509_crl_write_pem) PEM_write_bio_X509_CRL;
int PEM_write_bio_X509_CRL(BIO *bp, X509_CRL *x);
%rename(x509_crl_get_issuer) X509_CRL_get_issuer;
X509_NAME *X509_CRL_get_issuer(const X509_CRL *crl);
%rename(x509_CRL_get_lastUpdate) X509_CRL_get0_lastUpdate;
const ASN1_TIME *X509_CRL_get0_lastUpdate(const X509_CRL *crl);
%rename(x509_CRL_get_nextUpdate) X509_CRL_get0_nextUpdate;
const ASN1_TIME *X509_CRL_get0_nextUpdate(const X509_CRL *crl);

/* ---- stores ---- */
%rename(x509_store_new) X509_STORE_new;
X509_STORE *X509_STORE_new(void);
M2_FREE(x509_store_free, X509_STORE_free, X509_STORE, v)
%rename(x509_store_ctx_new) X509_STORE_CTX_new;
X509_STORE_CTX *X509_STORE_CTX_new(void);
M2_FREE(x509_store_ctx_free, X509_STORE_CTX_free, X509_STORE_CTX, ctx)
%rename(x509_store_ctx_get_error) X509_STORE_CTX_get_error;
int X509_STORE_CTX_get_error(const X509_STORE_CTX *ctx);
%rename(x509_store_ctx_set_error) X509_STORE_CTX_set_error;
void X509_STORE_CTX_set_error(X509_STORE_CTX *ctx, int s);
%rename(x509_store_ctx_get_error_depth) X509_STORE_CTX_get_error_depth;
int X509_STORE_CTX_get_error_depth(const X509_STORE_CTX *ctx);
/* Borrowed from the context: valid while it lives and is not reset. */
%rename(x509_store_ctx_get_current_cert) X509_STORE_CTX_get_current_cert;
X509 *X509_STORE_CTX_get_current_cert(const X509_STORE_CTX *ctx);
%rename(x509_store_ctx_set_purpose) X509_STORE_CTX_set_purpose;
int X509_STORE_CTX_set_purpose(X509_STORE_CTX *ctx, int purpose);
%rename(x509_store_ctx_set_flags) X509_STORE_CTX_set_flags;
void X509_STORE_CTX_set_flags(X509_STORE_CTX *ctx, unsigned long flags);
%rename(x509_store_ctx_set_depth) X509_STORE_CTX_set_depth;
void X509_STORE_CTX_set_depth(X509_STORE_CTX *ctx, int depth);

%apply (const void *buf, Py_ssize_t len) { (const void *der, Py_ssize_t derlen) };
%typemap(check) EVP_PKEY *optional_pkey "";
%typemap(check) X509 *optional_x509 "";
%typemap(check) STACK_OF(X509) *optional_stack "";
%typemap(check) X509 *subject "";

%{
/* The digest named, or NULL for None (Ed25519/Ed448 sign without one). */
static const EVP_MD *m2_x509_md(const char *name) {
    return name ? m2_get_md(name, M2_X509) : NULL;
}

static PyObject *m2_string_stack_to_list(STACK_OF(OPENSSL_STRING) *sk) {
    PyObject *list = PyList_New(0);
    int i;
    if (!list) return NULL;
    for (i = 0; i < sk_OPENSSL_STRING_num(sk); i++) {
        const char *s = sk_OPENSSL_STRING_value(sk, i);
        PyObject *v = PyUnicode_DecodeUTF8(s, strlen(s), "replace");
        if (!v || PyList_Append(list, v) < 0) { Py_XDECREF(v); Py_DECREF(list); return NULL; }
        Py_DECREF(v);
    }
    return list;
}

static int m2_store_cb_index = -1;

static void m2_store_cb_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    if (ptr) {
        PyGILState_STATE gil = PyGILState_Ensure();
        Py_DECREF((PyObject *)ptr);
        PyGILState_Release(gil);
    }
}

/* X509_STORE's verify callback: calls the Python callable kept in the store's ex_data with
 * (ok, X509_STORE_CTX); an exception in it fails the verification and is raised by the
 * outer call. */
static int m2_store_verify_cb(int ok, X509_STORE_CTX *ctx) {
    X509_STORE *store = X509_STORE_CTX_get0_store(ctx);
    PyObject *func = store ? X509_STORE_get_ex_data(store, m2_store_cb_index) : NULL, *ret;
    PyGILState_STATE gil;
    int r;
    if (!func) return ok;
    gil = PyGILState_Ensure();
    ret = m2_callback(func, Py_BuildValue("(iN)", ok, SWIG_NewPointerObj(ctx, SWIGTYPE_p_X509_STORE_CTX, 0)));
    if (!ret) { r = 0; X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION); }
    else {
        r = PyObject_IsTrue(ret);
        if (r < 0) r = 0;
        Py_DECREF(ret);
    }
    PyGILState_Release(gil);
    return r;
}

%}

M2_RETURNS_NONNULL(x509_from_der)
M2_RETURNS_NONNULL(X509_get_pubkey)
%rename(x509_set_version) X509_set_version;
m2_ok X509_set_version(X509 *x, long version);
%rename(x509_set_serial_number) X509_set_serialNumber;
m2_ok X509_set_serialNumber(X509 *x, ASN1_INTEGER *serial);
%rename(x509_set_subject_name) X509_set_subject_name;
m2_ok X509_set_subject_name(X509 *x, X509_NAME *name);
%rename(x509_set_issuer_name) X509_set_issuer_name;
m2_ok X509_set_issuer_name(X509 *x, X509_NAME *name);
%rename(x509_set_not_before) X509_set1_notBefore;
m2_ok X509_set1_notBefore(X509 *x, ASN1_TIME *tm);
%rename(x509_set_not_after) X509_set1_notAfter;
m2_ok X509_set1_notAfter(X509 *x, ASN1_TIME *tm);
/* A new reference to the certificate's public key. */
%rename(x509_get_pubkey) X509_get_pubkey;
EVP_PKEY *X509_get_pubkey(X509 *x);
%rename(x509_set_pubkey) X509_set_pubkey;
m2_ok X509_set_pubkey(X509 *x, EVP_PKEY *pkey);
/* Adds a copy of ext. */
%rename(x509_add_ext) X509_add_ext;
m2_ok X509_add_ext(X509 *x, X509_EXTENSION *ext, int loc);
%inline %{
/* ---- reading and writing ---- */
static X509 *x509_read_pem(BIO *bio) {
    X509 *x;
    M2_ALLOW_USING(bio)
    x = PEM_read_bio_X509(bio, NULL, m2_passphrase_cb, NULL);  /* never a prompt */
    M2_DISALLOW_USING
    if (!x) m2_raise_msg(M2_X509, "cannot read a PEM certificate");
    return x;
}

static X509 *d2i_x509(BIO *bio) {
    X509 *x;
    M2_ALLOW_USING(bio)
    x = d2i_X509_bio(bio, NULL);
    M2_DISALLOW_USING
    if (!x) m2_raise_msg(M2_X509, "cannot read a DER certificate");
    return x;
}

static X509 *x509_from_der(const void *der, Py_ssize_t derlen) {
    const unsigned char *p = der;
    return d2i_X509(NULL, &p, (long)derlen);
}

static PyObject *i2d_x509(X509 *x) {
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    PyObject *v;
    if (n < 0) return m2_raise_msg(M2_X509, "cannot encode the certificate");
    v = PyBytes_FromStringAndSize((const char *)der, n);
    OPENSSL_free(der);
    return v;
}

static int x509_up_ref(X509 *x) { return X509_up_ref(x); }
static int x509_type_check(X509 *x) { (void)x; return 1; }

/* ---- fields ---- */

/* Borrowed from the certificate. */
static X509_EXTENSION *x509_get_ext(X509 *x, int loc) {
    if (loc < 0 || loc >= X509_get_ext_count(x)) { PyErr_SetString(PyExc_IndexError, "extension index out of range"); return NULL; }
    return X509_get_ext(x, loc);
}

/* Sign with pkey and the digest named mdname (NULL for Ed25519 / Ed448). */
static int x509_sign_name(X509 *x, EVP_PKEY *pkey, const char *mdname) {
    const EVP_MD *md = m2_x509_md(mdname);
    int n;
    if (mdname && !md) return 0;
    M2_ALLOW_USING(x, pkey)
    n = X509_sign(x, pkey, md);
    M2_DISALLOW_USING
    if (n <= 0) { m2_raise_msg(M2_X509, "cannot sign the certificate"); return 0; }
    return n;
}

/* 1 if pkey verifies the signature, 0 if not (the error queue is emptied). */
static int x509_verify(X509 *x, EVP_PKEY *pkey) {
    int r = X509_verify(x, pkey);
    return r > 0 ? 1 : 0;  /* a wrong key type fails too: never a truthy -1 */
}

static int x509_check_purpose(X509 *x, int id, int ca) {
    if (X509_PURPOSE_get_by_id(id) < 0) { PyErr_SetString(PyExc_ValueError, "unknown purpose id"); return 0; }
    return X509_check_purpose(x, id, ca);
}

static PyObject *x509_digest(X509 *x, const char *mdname) {
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    const EVP_MD *md = m2_x509_md(mdname);
    if (!mdname) { PyErr_SetString(PyExc_TypeError, "a digest name is needed, not None"); return NULL; }
    if (!md) return NULL;
    if (!X509_digest(x, md, buf, &n)) return m2_raise_msg(M2_X509, "cannot digest the certificate");
    return PyBytes_FromStringAndSize((const char *)buf, n);
}

/* The e-mail addresses of the subject and of subjectAltName, as a list of str. */
static PyObject *x509_get1_email(X509 *x) {
    STACK_OF(OPENSSL_STRING) *sk = X509_get1_email(x);
    PyObject *list;
    if (!sk) return PyList_New(0);
    list = m2_string_stack_to_list(sk);
    X509_email_free(sk);
    return list;
}

/* subjectAltName as [(GEN_*, bytes)]: DNS, URI and e-mail as their string, IP addresses as
 * their 4 or 16 octets, other types as the GeneralName's DER. */
static PyObject *x509_get_subject_alt_names(X509 *x) {
    int crit = -1, i;
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    PyObject *list = NULL, *t = NULL;
    if (!gens) {
        if (crit == -1) return PyList_New(0);
        return m2_raise_msg(M2_X509, crit == -2 ? "duplicate subjectAltName" : "malformed subjectAltName");
    }
    if (!(list = PyList_New(0))) goto err;
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        int type = 0;
        void *val = GENERAL_NAME_get0_value(g, &type);
        if (type == GEN_DNS || type == GEN_URI || type == GEN_EMAIL || type == GEN_IPADD) {
            const ASN1_STRING *s = val;
            t = Py_BuildValue("(iy#)", type, ASN1_STRING_get0_data(s), (Py_ssize_t)ASN1_STRING_length(s));
        } else {
            unsigned char *der = NULL;
            int n = i2d_GENERAL_NAME(g, &der);
            if (n < 0) { m2_raise_msg(M2_X509, "cannot encode a GeneralName"); goto err; }
            t = Py_BuildValue("(iy#)", type, der, (Py_ssize_t)n);
            OPENSSL_free(der);
        }
        if (!t || PyList_Append(list, t) < 0) goto err;
        Py_CLEAR(t);
    }
    GENERAL_NAMES_free(gens);
    return list;
err:
    Py_XDECREF(t);
    Py_XDECREF(list);
    GENERAL_NAMES_free(gens);
    return NULL;
}

/* 1 if name matches (RFC 6125 via X509_check_host), 0 if not; raises on bad input. */
static int x509_check_host(X509 *x, const char *name, unsigned int flags) {
    int r = X509_check_host(x, name, strlen(name), flags, NULL);
    if (r < 0) { m2_raise_msg(M2_X509, "invalid host name"); return 0; }
    return r;
}

static int x509_check_ip_asc(X509 *x, const char *address, unsigned int flags) {
    int r = X509_check_ip_asc(x, address, flags);
    if (r < 0) { PyErr_SetString(PyExc_ValueError, "not an IP address"); return 0; }
    return r;
}

static int x509_check_email(X509 *x, const char *address, unsigned int flags) {
    int r = X509_check_email(x, address, strlen(address), flags);
    if (r < 0) { m2_raise_msg(M2_X509, "invalid e-mail address"); return 0; }
    return r;
}

/* ---- extensions ---- */
static PyObject *x509_extension_get_name(X509_EXTENSION *ext) {
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    const char *sn = nid == NID_undef ? NULL : OBJ_nid2sn(nid);
    char buf[128];
    if (!sn) {
        OBJ_obj2txt(buf, sizeof(buf), X509_EXTENSION_get_object(ext), 1);
        sn = buf;
    }
    return PyBytes_FromString(sn);
}

static PyObject *x509_extension_get_data(X509_EXTENSION *ext) {
    ASN1_OCTET_STRING *s = X509_EXTENSION_get_data(ext);
    return PyBytes_FromStringAndSize((const char *)ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
}

/* A new extension from OpenSSL's configuration syntax (X509V3_EXT_nconf): name=value.
 * issuer and subject (either may be None) fill the X509V3_CTX; pkey, when given without a
 * subject, stands in for the subject's key (subjectKeyIdentifier=hash) and, without an
 * issuer, for the issuer's key (authorityKeyIdentifier=keyid). */
static X509_EXTENSION *x509v3_ext_nconf(const char *name, const char *value, X509 *optional_x509, X509 *subject, EVP_PKEY *optional_pkey) {
    X509V3_CTX ctx;
    X509 *tmp = NULL, *issuer = optional_x509;
    X509_EXTENSION *ext = NULL;
    CONF *conf = NULL;
    if (!subject && optional_pkey) {
        if (!(tmp = X509_new()) || !X509_set_pubkey(tmp, optional_pkey)) { m2_raise_msg(M2_X509, "cannot use the key"); goto err; }
        subject = tmp;
    }
    if (!issuer && optional_pkey) {
        if (!tmp && (!(tmp = X509_new()) || !X509_set_pubkey(tmp, optional_pkey))) { m2_raise_msg(M2_X509, "cannot use the key"); goto err; }
        issuer = tmp;
    }
    X509V3_set_ctx(&ctx, issuer, subject, NULL, NULL, 0);
    if (optional_pkey && !X509V3_set_issuer_pkey(&ctx, optional_pkey)) { m2_raise_msg(M2_X509, "cannot use the key"); goto err; }
    /* an empty database: extensions parsed by r2i (proxyCertInfo, policies...) need one */
    if (!(conf = NCONF_new(NULL))) { m2_raise(M2_X509); goto err; }
    X509V3_set_nconf(&ctx, conf);
    ext = X509V3_EXT_nconf(conf, &ctx, name, value);
    if (!ext) m2_raise_msg(M2_X509, "cannot make the extension");
err:
    NCONF_free(conf);
    X509_free(tmp);
    return ext;
}
%}

M2_RETURNS_NONNULL(x509_req_read_pem)
M2_RETURNS_NONNULL(d2i_x509_req)
M2_RETURNS_NONNULL(X509_REQ_get_pubkey)
M2_RETURNS_NONNULL(x509_crl_read_pem)
M2_RETURNS_NONNULL(d2i_x509_crl)
%rename(x509_req_set_version) X509_REQ_set_version;
m2_ok X509_REQ_set_version(X509_REQ *req, long ver);
%rename(x509_req_set_subject_name) X509_REQ_set_subject_name;
m2_ok X509_REQ_set_subject_name(X509_REQ *req, X509_NAME *name);
%rename(x509_req_get_pubkey) X509_REQ_get_pubkey;
EVP_PKEY *X509_REQ_get_pubkey(X509_REQ *req);
%rename(x509_req_set_pubkey) X509_REQ_set_pubkey;
m2_ok X509_REQ_set_pubkey(X509_REQ *req, EVP_PKEY *pkey);
%rename(x509_store_load_path) X509_STORE_load_path;
m2_ok X509_STORE_load_path(X509_STORE *store, const char *capath);
%rename(x509_store_set_default_paths) X509_STORE_set_default_paths;
m2_ok X509_STORE_set_default_paths(X509_STORE *store);
/* Adds a reference to x (a certificate already there is not an error). */
%rename(x509_store_add_cert) X509_STORE_add_cert;
m2_ok X509_STORE_add_cert(X509_STORE *store, X509 *x);
%rename(x509_store_add_crl) X509_STORE_add_crl;
m2_ok X509_STORE_add_crl(X509_STORE *store, X509_CRL *crl);
%rename(x509_store_set_flags) X509_STORE_set_flags;
m2_ok X509_STORE_set_flags(X509_STORE *store, unsigned long flags);
%rename(x509_store_set_purpose) X509_STORE_set_purpose;
m2_ok X509_STORE_set_purpose(X509_STORE *store, int purpose);
%rename(x509_store_set_depth) X509_STORE_set_depth;
m2_ok X509_STORE_set_depth(X509_STORE *store, int depth);
%inline %{
/* authorityKeyIdentifier holding only keyIdentifier = keyid. */
static X509_EXTENSION *x509v3_authority_key_identifier(const void *der, Py_ssize_t derlen) {
    AUTHORITY_KEYID *akid = NULL;
    X509_EXTENSION *ext = NULL;
    if (derlen <= 0) { PyErr_SetString(PyExc_ValueError, "an empty key identifier"); return NULL; }
    if (!(akid = AUTHORITY_KEYID_new()) || !(akid->keyid = ASN1_OCTET_STRING_new())
        || !ASN1_OCTET_STRING_set(akid->keyid, der, (int)derlen)) { m2_raise(M2_X509); goto err; }
    if (!(ext = X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid))) m2_raise_msg(M2_X509, "cannot encode authorityKeyIdentifier");
err:
    AUTHORITY_KEYID_free(akid);
    return ext;
}

/* The RFC 5280 (method 1) key identifier of pkey: SHA-1 of its subjectPublicKey bits. */
static PyObject *pkey_key_identifier(EVP_PKEY *pkey) {
    X509_PUBKEY *xpk = NULL;
    const unsigned char *pk = NULL;
    int pklen = 0;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    PyObject *v = NULL;
    if (!X509_PUBKEY_set(&xpk, pkey) || !X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk)
        || !EVP_Digest(pk, (size_t)pklen, md, &n, EVP_sha1(), NULL)) {
        m2_raise_msg(M2_X509, "cannot compute the key identifier");
        goto err;
    }
    v = PyBytes_FromStringAndSize((const char *)md, n);
err:
    X509_PUBKEY_free(xpk);
    return v;
}

/* ---- extension stacks: the stack owns its elements ---- */
static STACK_OF(X509_EXTENSION) *sk_x509_extension_new_null(void) { return sk_X509_EXTENSION_new_null(); }
static void sk_x509_extension_free(STACK_OF(X509_EXTENSION) *sk) { sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free); }
static int sk_x509_extension_num(STACK_OF(X509_EXTENSION) *sk) { return sk_X509_EXTENSION_num(sk); }
/* Borrowed from the stack. */
static X509_EXTENSION *sk_x509_extension_value(STACK_OF(X509_EXTENSION) *sk, int i) {
    if (i < 0 || i >= sk_X509_EXTENSION_num(sk)) { PyErr_SetString(PyExc_IndexError, "stack index out of range"); return NULL; }
    return sk_X509_EXTENSION_value(sk, i);
}
/* Pushes a copy of ext; returns the new count. */
static int sk_x509_extension_push(STACK_OF(X509_EXTENSION) *sk, X509_EXTENSION *ext) {
    X509_EXTENSION *d = X509_EXTENSION_dup(ext);
    int n;
    if (!d) { m2_raise(M2_X509); return 0; }
    if ((n = sk_X509_EXTENSION_push(sk, d)) <= 0) { X509_EXTENSION_free(d); m2_raise(M2_X509); return 0; }
    return n;
}
/* The caller owns the popped extension; None if the stack is empty. */
static X509_EXTENSION *sk_x509_extension_pop(STACK_OF(X509_EXTENSION) *sk) { return sk_X509_EXTENSION_pop(sk); }

/* ---- certificate stacks: the stack holds one reference to each certificate ---- */
static STACK_OF(X509) *sk_x509_new_null(void) { return sk_X509_new_null(); }
%}
%{
static void m2_sk_x509_pop_free(void *sk) { sk_X509_pop_free(sk, X509_free); }
%}
%inline %{
static void sk_x509_free(STACK_OF(X509) *sk) { m2_free_or_defer(sk, m2_sk_x509_pop_free); }
static int sk_x509_num(STACK_OF(X509) *sk) { return sk_X509_num(sk); }
/* Borrowed from the stack. */
static X509 *sk_x509_value(STACK_OF(X509) *sk, int i) {
    if (i < 0 || i >= sk_X509_num(sk)) { PyErr_SetString(PyExc_IndexError, "stack index out of range"); return NULL; }
    return sk_X509_value(sk, i);
}
static int sk_x509_push(STACK_OF(X509) *sk, X509 *x) {
    int n;
    if (!X509_up_ref(x)) { m2_raise(M2_X509); return 0; }
    if ((n = sk_X509_push(sk, x)) <= 0) { X509_free(x); m2_raise(M2_X509); return 0; }
    return n;
}
/* The caller owns the popped reference; None if the stack is empty. */
static X509 *sk_x509_pop(STACK_OF(X509) *sk) { return sk_X509_pop(sk); }

/* The stack as DER: SEQUENCE OF Certificate. */
static PyObject *get_der_encoding_stack(STACK_OF(X509) *sk) {
    int i, body = 0, total, n;
    unsigned char *buf = NULL, *p;
    PyObject *v = NULL;
    for (i = 0; i < sk_X509_num(sk); i++) {
        if ((n = i2d_X509(sk_X509_value(sk, i), NULL)) < 0) return m2_raise_msg(M2_X509, "cannot encode a certificate");
        body += n;
    }
    total = ASN1_object_size(1, body, V_ASN1_SEQUENCE);
    if (total < 0 || !(buf = OPENSSL_malloc(total))) return m2_raise(M2_X509);
    p = buf;
    ASN1_put_object(&p, 1, body, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
    for (i = 0; i < sk_X509_num(sk); i++)
        if (i2d_X509(sk_X509_value(sk, i), &p) < 0) { m2_raise_msg(M2_X509, "cannot encode a certificate"); goto err; }
    v = PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)(p - buf));
err:
    OPENSSL_free(buf);
    return v;
}

/* A new stack from DER SEQUENCE OF Certificate. */
static STACK_OF(X509) *make_stack_from_der_sequence(const void *der, Py_ssize_t derlen) {
    const unsigned char *p = der, *end;
    long len = 0;
    int tag = 0, xclass = 0, r;
    STACK_OF(X509) *sk = NULL;
    r = ASN1_get_object(&p, &len, &tag, &xclass, (long)derlen);
    if ((r & 0x80) || tag != V_ASN1_SEQUENCE || !(r & V_ASN1_CONSTRUCTED) || r == 0x21) {
        m2_raise_msg(M2_X509, "not a DER SEQUENCE of certificates");
        goto err;
    }
    end = p + len;
    if (!(sk = sk_X509_new_null())) { m2_raise(M2_X509); goto err; }
    while (p < end) {
        X509 *x = d2i_X509(NULL, &p, (long)(end - p));
        if (!x) { m2_raise_msg(M2_X509, "cannot parse a certificate of the sequence"); goto err; }
        if (!sk_X509_push(sk, x)) { X509_free(x); m2_raise(M2_X509); goto err; }
    }
    return sk;
err:
    sk_X509_pop_free(sk, X509_free);
    return NULL;
}

/* ---- requests ---- */
static X509_REQ *x509_req_read_pem(BIO *bio) {
    return PEM_read_bio_X509_REQ(bio, NULL, m2_passphrase_cb, NULL);
}

static X509_REQ *d2i_x509_req(BIO *bio) {
    return d2i_X509_REQ_bio(bio, NULL);
}

static PyObject *i2d_x509_req(X509_REQ *req) {
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(req, &der);
    PyObject *v;
    if (n < 0) return m2_raise_msg(M2_X509, "cannot encode the request");
    v = PyBytes_FromStringAndSize((const char *)der, n);
    OPENSSL_free(der);
    return v;
}

static int x509_req_sign_name(X509_REQ *req, EVP_PKEY *pkey, const char *mdname) {
    const EVP_MD *md = m2_x509_md(mdname);
    int n;
    if (mdname && !md) return 0;
    M2_ALLOW_USING(req, pkey)
    n = X509_REQ_sign(req, pkey, md);
    M2_DISALLOW_USING
    if (n <= 0) { m2_raise_msg(M2_X509, "cannot sign the request"); return 0; }
    return n;
}

static int x509_req_verify(X509_REQ *req, EVP_PKEY *pkey) {
    int r = X509_REQ_verify(req, pkey);
    return r > 0 ? 1 : 0;  /* a wrong key type fails too: never a truthy -1 */
}

static int x509_req_add_extensions(X509_REQ *req, STACK_OF(X509_EXTENSION) *exts) {
    if (!X509_REQ_add_extensions(req, exts)) { m2_raise_msg(M2_X509, "cannot add the extensions"); return 0; }
    return 1;
}

/* A new stack (owning its extensions); empty when the request has none. */
static STACK_OF(X509_EXTENSION) *x509_req_get_extensions(X509_REQ *req) {
    STACK_OF(X509_EXTENSION) *sk = X509_REQ_get_extensions(req);
    if (!sk) sk = sk_X509_EXTENSION_new_null();
    if (!sk) m2_raise(M2_X509);
    return sk;
}

/* ---- CRLs ---- */
static X509_CRL *x509_crl_read_pem(BIO *bio) {
    return PEM_read_bio_X509_CRL(bio, NULL, m2_passphrase_cb, NULL);
}

static X509_CRL *d2i_x509_crl(BIO *bio) {
    return d2i_X509_CRL_bio(bio, NULL);
}

static PyObject *i2d_x509_crl(X509_CRL *crl) {
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    PyObject *v;
    if (n < 0) return m2_raise_msg(M2_X509, "cannot encode the CRL");
    v = PyBytes_FromStringAndSize((const char *)der, n);
    OPENSSL_free(der);
    return v;
}

static int x509_crl_verify(X509_CRL *crl, EVP_PKEY *pkey) {
    int r = X509_CRL_verify(crl, pkey);
    return r > 0 ? 1 : 0;
}

/* The revoked entries as [(serial, revocation time in seconds since the epoch, reason)];
 * reason is the CRLReason code, or None without a reason extension. */
static PyObject *x509_crl_get_revoked(X509_CRL *crl) {
    STACK_OF(X509_REVOKED) *sk = X509_CRL_get_REVOKED(crl);
    PyObject *list = PyList_New(0), *serial = NULL, *when = NULL, *reason = NULL, *t;
    int i;
    if (!list) return NULL;
    for (i = 0; i < sk_X509_REVOKED_num(sk); i++) {
        X509_REVOKED *rev = sk_X509_REVOKED_value(sk, i);
        ASN1_ENUMERATED *code;
        int crit = -1;
        if (!(serial = asn1_integer_get(X509_REVOKED_get0_serialNumber(rev)))) goto err;
        if (!(when = asn1_time_get_posix(X509_REVOKED_get0_revocationDate(rev)))) goto err;
        code = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
        if (code) {
            reason = PyLong_FromLong(ASN1_ENUMERATED_get(code));
            ASN1_ENUMERATED_free(code);
            if (!reason) goto err;
        } else {
            reason = Py_NewRef(Py_None);
        }
        t = PyTuple_Pack(3, serial, when, reason);
        Py_CLEAR(serial); Py_CLEAR(when); Py_CLEAR(reason);
        if (!t || PyList_Append(list, t) < 0) { Py_XDECREF(t); goto err; }
        Py_DECREF(t);
    }
    return list;
err:
    Py_XDECREF(serial); Py_XDECREF(when); Py_XDECREF(reason);
    Py_DECREF(list);
    return NULL;
}

/* ---- stores ---- */
static int x509_store_set_verify_cb(X509_STORE *store, PyObject *func) {
    PyObject *old;
    if (func != Py_None && !PyCallable_Check(func)) { PyErr_SetString(PyExc_TypeError, "the verify callback must be callable"); return 0; }
    if (m2_store_cb_index < 0) {
        m2_store_cb_index = X509_STORE_get_ex_new_index(0, NULL, NULL, NULL, m2_store_cb_free);
        if (m2_store_cb_index < 0) { m2_raise(M2_X509); return 0; }
    }
    old = X509_STORE_get_ex_data(store, m2_store_cb_index);
    if (func == Py_None) {
        X509_STORE_set_ex_data(store, m2_store_cb_index, NULL);
        X509_STORE_set_verify_cb(store, NULL);
    } else {
        Py_INCREF(func);
        if (!X509_STORE_set_ex_data(store, m2_store_cb_index, func)) { Py_DECREF(func); m2_raise(M2_X509); return 0; }
        X509_STORE_set_verify_cb(store, m2_store_verify_cb);
    }
    Py_XDECREF(old);
    return 1;
}

static m2_ok x509_store_load_locations(X509_STORE *store, const char *cafile) {
    int r;
    M2_ALLOW_USING(store)
    r = X509_STORE_load_file(store, cafile);
    M2_DISALLOW_USING
    return r;
}

/* Verify at time t (seconds since the epoch) instead of now. */
static void x509_store_set_time(X509_STORE *store, time_t t) {
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), t);
}

static int x509_store_ctx_init(X509_STORE_CTX *ctx, X509_STORE *store, X509 *x, STACK_OF(X509) *optional_stack) {
    if (X509_STORE_CTX_init(ctx, store, x, optional_stack) != 1) { m2_raise_msg(M2_X509, "cannot initialise the store context"); return 0; }
    return 1;
}

/* 1 if the chain verifies, 0 if not (X509_STORE_CTX_get_error says why). */
static int x509_verify_cert(X509_STORE_CTX *ctx) {
    int r;
    M2_ALLOW_USING(ctx, X509_STORE_CTX_get0_store(ctx), X509_STORE_CTX_get0_cert(ctx), X509_STORE_CTX_get0_untrusted(ctx))
    r = X509_verify_cert(ctx);
    M2_DISALLOW_USING
    if (r < 0 && !PyErr_Occurred()) { m2_raise_msg(M2_X509, "cannot verify the certificate"); return 0; }
    return r > 0 ? 1 : 0;
}

/* A new stack holding references to the verified chain's certificates. */
static STACK_OF(X509) *x509_store_ctx_get1_chain(X509_STORE_CTX *ctx) {
    STACK_OF(X509) *sk = X509_STORE_CTX_get1_chain(ctx);
    if (!sk) sk = sk_X509_new_null();
    if (!sk) m2_raise(M2_X509);
    return sk;
}

static void x509_store_ctx_set_time(X509_STORE_CTX *ctx, time_t t) { X509_STORE_CTX_set_time(ctx, 0, t); }
%}

M2_NONNULL(X509V3_CTX *)
M2_NONNULL(STACK_OF(X509_CRL) *)
%typemap(check) EVP_PKEY *ctx_pkey "";

M2_RETURNS_NONNULL(x509v3_ext_conf)
%inline %{
/* M2Crypto's low-level extension API: a heap X509V3_CTX with an empty CONF database. */
static X509V3_CTX *x509v3_set_nconf(void) {
    X509V3_CTX *ctx = OPENSSL_zalloc(sizeof(*ctx));
    CONF *conf = NCONF_new(NULL);
    if (!ctx || !conf) { OPENSSL_free(ctx); NCONF_free(conf); m2_raise(M2_X509); return NULL; }
    X509V3_set_ctx(ctx, NULL, NULL, NULL, NULL, 0);
    X509V3_set_nconf(ctx, conf);
    return ctx;
}

static void x509v3_ctx_free(X509V3_CTX *ctx) {
    NCONF_free((CONF *)ctx->db);
    OPENSSL_free(ctx);
}

static void X509V3_CTX_set_nconf_pkey(X509V3_CTX *ctx, EVP_PKEY *ctx_pkey) {
    X509V3_set_issuer_pkey(ctx, ctx_pkey);
}

/* conf is ignored (M2Crypto passes None): ctx carries the database. */
static X509_EXTENSION *x509v3_ext_conf(PyObject *conf, X509V3_CTX *ctx, const char *name, const char *value) {
    (void)conf;
    return X509V3_EXT_nconf((CONF *)ctx->db, ctx, name, value);
}

/* ---- CRL stacks: the stack holds one reference to each CRL ---- */
static STACK_OF(X509_CRL) *sk_x509_crl_new_null(void) { return sk_X509_CRL_new_null(); }
static void sk_x509_crl_free(STACK_OF(X509_CRL) *sk) { sk_X509_CRL_pop_free(sk, X509_CRL_free); }
static int sk_x509_crl_num(STACK_OF(X509_CRL) *sk) { return sk_X509_CRL_num(sk); }
static X509_CRL *sk_x509_crl_value(STACK_OF(X509_CRL) *sk, int i) {
    if (i < 0 || i >= sk_X509_CRL_num(sk)) { PyErr_SetString(PyExc_IndexError, "stack index out of range"); return NULL; }
    return sk_X509_CRL_value(sk, i);
}
static int sk_x509_crl_push(STACK_OF(X509_CRL) *sk, X509_CRL *crl) {
    int n;
    if (!X509_CRL_up_ref(crl)) { m2_raise(M2_X509); return 0; }
    if ((n = sk_X509_CRL_push(sk, crl)) <= 0) { X509_CRL_free(crl); m2_raise(M2_X509); return 0; }
    return n;
}
static X509_CRL *sk_x509_crl_pop(STACK_OF(X509_CRL) *sk) { return sk_X509_CRL_pop(sk); }
static int x509_crl_up_ref(X509_CRL *crl) { return X509_CRL_up_ref(crl); }

/* The context uses crls without taking them: the caller keeps the stack alive. */
static void x509_store_ctx_set0_crls(X509_STORE_CTX *ctx, STACK_OF(X509_CRL) *crls) { X509_STORE_CTX_set0_crls(ctx, crls); }
%}

/* ---- M2Crypto 0.51 names: signing with EVP_MD pointers, name entries by NID/OBJ, trust,
 * time helpers (issue 18) ---- */
%constant int X509_TRUST_DEFAULT = X509_TRUST_DEFAULT;
%constant int X509_TRUST_COMPAT = X509_TRUST_COMPAT;
%constant int X509_TRUST_SSL_CLIENT = X509_TRUST_SSL_CLIENT;
%constant int X509_TRUST_SSL_SERVER = X509_TRUST_SSL_SERVER;
%constant int X509_TRUST_EMAIL = X509_TRUST_EMAIL;
%constant int X509_TRUST_OBJECT_SIGN = X509_TRUST_OBJECT_SIGN;
%constant int X509_TRUST_OCSP_SIGN = X509_TRUST_OCSP_SIGN;
%constant int X509_TRUST_OCSP_REQUEST = X509_TRUST_OCSP_REQUEST;
%constant int X509_TRUST_DYNAMIC = X509_TRUST_DYNAMIC;
%constant int X509_TRUST_DYNAMIC_NAME = X509_TRUST_DYNAMIC_NAME;
%constant int X509_TRUST_TRUSTED = X509_TRUST_TRUSTED;
%constant int X509_TRUST_REJECTED = X509_TRUST_REJECTED;
%constant int X509_TRUST_UNTRUSTED = X509_TRUST_UNTRUSTED;
%constant unsigned long X509_VP_FLAG_DEFAULT = X509_VP_FLAG_DEFAULT;
%constant unsigned long X509_VP_FLAG_OVERWRITE = X509_VP_FLAG_OVERWRITE;
%constant unsigned long X509_VP_FLAG_RESET_FLAGS = X509_VP_FLAG_RESET_FLAGS;
%constant unsigned long X509_VP_FLAG_LOCKED = X509_VP_FLAG_LOCKED;
%constant unsigned long X509_VP_FLAG_ONCE = X509_VP_FLAG_ONCE;
%constant unsigned long X509_V_FLAG_POLICY_MASK = X509_V_FLAG_POLICY_MASK;
%constant unsigned long X509_V_FLAG_SUITEB_128_LOS_ONLY = X509_V_FLAG_SUITEB_128_LOS_ONLY;
%constant unsigned long X509_V_FLAG_SUITEB_192_LOS = X509_V_FLAG_SUITEB_192_LOS;
%constant unsigned long X509_V_FLAG_SUITEB_128_LOS = X509_V_FLAG_SUITEB_128_LOS;

%rename(x509_check_trust) X509_check_trust;
int X509_check_trust(X509 *x, int id, int flags);
%rename(x509_name_entry_new) X509_NAME_ENTRY_new;
X509_NAME_ENTRY *X509_NAME_ENTRY_new(void);
%rename(x509_name_hash_old) X509_NAME_hash_old;
unsigned long X509_NAME_hash_old(X509_NAME *x);
%typemap(check) const EVP_MD *optional_md "";
%rename(x509_crl_set_issuer) X509_CRL_set_issuer_name;
m2_ok X509_CRL_set_issuer_name(X509_CRL *crl, X509_NAME *name);
M2_RETURNS_NONNULL(X509_gmtime_adj)
M2_RETURNS_NONNULL(x509_name_entry_create_by_nid)
/* Set s to now + adj seconds (X509_gmtime_adj); returns s. */
%rename(x509_gmtime_adj) X509_gmtime_adj;
ASN1_TIME *X509_gmtime_adj(ASN1_TIME *s, long adj);
%inline %{
/* -1 if tm is before now, 1 if after, 0 on error (X509_cmp_current_time). */
static int x509_cmp_current_time(ASN1_TIME *tm) { return X509_cmp_current_time(tm); }
static int m2_x509_sign_md(int req, void *obj, EVP_PKEY *pkey, const EVP_MD *md) {
    int n;
    M2_ALLOW_USING(obj, pkey)
    n = req ? X509_REQ_sign(obj, pkey, md) : X509_sign(obj, pkey, md);
    M2_DISALLOW_USING
    if (n <= 0) { m2_raise_msg(M2_X509, req ? "cannot sign the request" : "cannot sign the certificate"); return 0; }
    return n;
}
/* Sign with pkey and md, an m2.sha256()-style EVP_MD (None for Ed25519/Ed448); returns the
 * signature's length (X509_sign). */
static int x509_sign(X509 *x, EVP_PKEY *pkey, const EVP_MD *optional_md) { return m2_x509_sign_md(0, x, pkey, optional_md); }
static int x509_req_sign(X509_REQ *req, EVP_PKEY *pkey, const EVP_MD *optional_md) { return m2_x509_sign_md(1, req, pkey, optional_md); }
static int x509_name_print(BIO *bio, X509_NAME *name, int obase) {
    int r;
    M2_ALLOW_USING(bio, name)
    r = X509_NAME_print(bio, name, obase);
    M2_DISALLOW_USING
    if (!r) m2_raise_msg(M2_X509, "X509_NAME_print failed");
    return r;
}
/* Remove the entry at loc and hand it to the caller (free it with x509_name_entry_free). */
static X509_NAME_ENTRY *x509_name_delete_entry(X509_NAME *name, int loc) {
    if (loc < 0 || loc >= X509_NAME_entry_count(name)) { PyErr_SetString(PyExc_IndexError, "entry index out of range"); return NULL; }
    return X509_NAME_delete_entry(name, loc);
}
/* len -1 (or past the data) means all of data. */
static int m2_entry_len(Py_ssize_t blen, int len) { return (len < 0 || len > blen) ? (int)blen : len; }
static m2_ok x509_name_add_entry_by_nid(X509_NAME *name, int nid, int type, const void *bytes, Py_ssize_t blen, int len, int loc, int set) {
    return X509_NAME_add_entry_by_NID(name, nid, type, bytes, m2_entry_len(blen, len), loc, set);
}
static m2_ok x509_name_add_entry_by_obj(X509_NAME *name, ASN1_OBJECT *obj, int type, const void *bytes, Py_ssize_t blen, int len, int loc, int set) {
    return X509_NAME_add_entry_by_OBJ(name, obj, type, bytes, m2_entry_len(blen, len), loc, set);
}
/* A new entry for nid (ne: None, or an entry to fill in and return). */
static X509_NAME_ENTRY *x509_name_entry_create_by_nid(X509_NAME_ENTRY *none, int nid, int type, const void *bytes, Py_ssize_t blen, int len) {
    X509_NAME_ENTRY *ne = none;
    return X509_NAME_ENTRY_create_by_NID(none ? &ne : NULL, nid, type, bytes, m2_entry_len(blen, len));
}
/* The verification's application data (X509_STORE_CTX_get_app_data), or None. */
static void *x509_store_ctx_get_app_data(X509_STORE_CTX *ctx) { return X509_STORE_CTX_get_app_data(ctx); }
/* Write x as PEM to a Python file object or descriptor (PEM_write_X509). */
static int x509_write_pem_file(PyObject *file, X509 *x) {
    PyObject *r;
    FILE *fp;
    int fd, ok;
    if (PyObject_HasAttrString(file, "flush")) {
        if (!(r = PyObject_CallMethod(file, "flush", NULL))) return 0;
        Py_DECREF(r);
    }
    if ((fd = PyObject_AsFileDescriptor(file)) < 0) return 0;
    if ((fd = dup(fd)) < 0 || !(fp = fdopen(fd, "w"))) {
        if (fd >= 0) close(fd);
        PyErr_SetFromErrno(PyExc_OSError);
        return 0;
    }
    ok = PEM_write_X509(fp, x);
    if (fclose(fp) != 0) ok = 0;
    if (!ok) m2_raise_msg(M2_X509, "cannot write the certificate");
    return ok;
}
/* M2Crypto's name for the RFC 5280 method-1 key identifier. */
static PyObject *pkey_get_raw_pub_key_sha1(EVP_PKEY *pkey) { return pkey_key_identifier(pkey); }
%}

/* ======================================================================== */
/* CRL building and typed certificate extensions (issue 16: CRLs, CA tools). */
/* ======================================================================== */
%rename(x509_crl_sort) X509_CRL_sort;
int X509_CRL_sort(X509_CRL *crl);
%rename(i2d_x509_crl_bio) i2d_X509_CRL_bio;
int i2d_X509_CRL_bio(BIO *bp, X509_CRL *crl);
%rename(x509_crl_get_ext_count) X509_CRL_get_ext_count;
int X509_CRL_get_ext_count(const X509_CRL *x);
%rename(x509_crl_get_version) X509_CRL_get_version;
long X509_CRL_get_version(const X509_CRL *crl);

M2_NONNULL(ASN1_TIME *)
M2_NONNULL(ASN1_INTEGER *)
%typemap(check) ASN1_TIME *optional_time "";

%constant int X509_V_ERR_PERMITTED_VIOLATION = X509_V_ERR_PERMITTED_VIOLATION;
%constant int X509_V_ERR_EXCLUDED_VIOLATION = X509_V_ERR_EXCLUDED_VIOLATION;
%constant int X509_V_ERR_UNSUPPORTED_NAME_SYNTAX = X509_V_ERR_UNSUPPORTED_NAME_SYNTAX;

%{
/* A GENERAL_NAME from (GEN_* type, bytes): DNS, URI and e-mail as IA5String text, an IP
 * address as its 4 or 16 octets (8 or 32, address then mask, in name constraints), a
 * directory name as the DER of a Name, a registered ID as an OID's dotted text. */
static GENERAL_NAME *m2_general_name(PyObject *item) {
    int type;
    const char *data;
    Py_ssize_t len;
    GENERAL_NAME *g = NULL;
    if (!PyArg_ParseTuple(item, "iy#", &type, &data, &len)) return NULL;
    if (len > INT_MAX) { PyErr_SetString(PyExc_OverflowError, "name too long"); return NULL; }
    if (!(g = GENERAL_NAME_new())) { m2_raise(M2_X509); return NULL; }
    switch (type) {
    case GEN_DNS: case GEN_URI: case GEN_EMAIL: {
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        if (!s || !ASN1_STRING_set(s, data, (int)len)) { ASN1_IA5STRING_free(s); goto err; }
        GENERAL_NAME_set0_value(g, type, s);
        return g;
    }
    case GEN_IPADD: {
        ASN1_OCTET_STRING *s;
        if (len != 4 && len != 16 && len != 8 && len != 32) { PyErr_SetString(PyExc_ValueError, "an IP address is 4 or 16 octets (8 or 32 with a mask)"); goto fail; }
        if (!(s = ASN1_OCTET_STRING_new()) || !ASN1_OCTET_STRING_set(s, (const unsigned char *)data, (int)len)) { ASN1_OCTET_STRING_free(s); goto err; }
        GENERAL_NAME_set0_value(g, type, s);
        return g;
    }
    case GEN_DIRNAME: {
        const unsigned char *p = (const unsigned char *)data;
        X509_NAME *nm = d2i_X509_NAME(NULL, &p, (long)len);
        if (!nm) { m2_raise_msg(M2_X509, "not a DER Name"); goto fail; }
        GENERAL_NAME_set0_value(g, type, nm);
        return g;
    }
    case GEN_RID: {
        ASN1_OBJECT *obj;
        if (strlen(data) != (size_t)len || !(obj = OBJ_txt2obj(data, 1))) { m2_raise_msg(M2_X509, "not an OID"); goto fail; }
        GENERAL_NAME_set0_value(g, type, obj);
        return g;
    }
    default:
        PyErr_SetString(PyExc_ValueError, "unsupported GeneralName type");
        goto fail;
    }
err:
    m2_raise(M2_X509);
fail:
    GENERAL_NAME_free(g);
    return NULL;
}

/* GENERAL_NAMES from a list of (type, bytes). */
static GENERAL_NAMES *m2_general_names(PyObject *list) {
    GENERAL_NAMES *gens;
    Py_ssize_t i;
    if (!PyList_Check(list)) { PyErr_SetString(PyExc_TypeError, "a list of (type, bytes) is required"); return NULL; }
    if (!(gens = GENERAL_NAMES_new())) { m2_raise(M2_X509); return NULL; }
    for (i = 0; i < PyList_GET_SIZE(list); i++) {
        GENERAL_NAME *g = m2_general_name(PyList_GET_ITEM(list, i));
        if (!g || !sk_GENERAL_NAME_push(gens, g)) {
            if (g) { GENERAL_NAME_free(g); m2_raise(M2_X509); }
            GENERAL_NAMES_free(gens);
            return NULL;
        }
    }
    return gens;
}

static X509_EXTENSION *m2_ext_i2d(int nid, int critical, void *value) {
    X509_EXTENSION *ext = X509V3_EXT_i2d(nid, critical, value);
    if (!ext) m2_raise_msg(M2_X509, "cannot encode the extension");
    return ext;
}

/* Append the name to list as str if it is a URI; 0 on failure. */
static int m2_append_uri(PyObject *list, const GENERAL_NAME *g) {
    int type = 0;
    const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
    PyObject *v;
    if (type != GEN_URI) return 1;
    v = PyUnicode_DecodeASCII((const char *)ASN1_STRING_get0_data(s), ASN1_STRING_length(s), "replace");
    if (!v || PyList_Append(list, v) < 0) { Py_XDECREF(v); return 0; }
    Py_DECREF(v);
    return 1;
}
%}

%rename(x509_crl_set_version) X509_CRL_set_version;
m2_ok X509_CRL_set_version(X509_CRL *crl, long version);
%rename(x509_crl_set_issuer_name) X509_CRL_set_issuer_name;
m2_ok X509_CRL_set_issuer_name(X509_CRL *crl, X509_NAME *name);
%rename(x509_crl_set_last_update) X509_CRL_set1_lastUpdate;
m2_ok X509_CRL_set1_lastUpdate(X509_CRL *crl, ASN1_TIME *tm);
%rename(x509_crl_set_next_update) X509_CRL_set1_nextUpdate;
m2_ok X509_CRL_set1_nextUpdate(X509_CRL *crl, ASN1_TIME *tm);
%inline %{
/* ---- CRL building ---- */

/* Add a revoked entry: serial, revocation date, CRLReason code (-1 for none) and an
 * invalidity date (None for none; encoded as GeneralizedTime, RFC 5280 5.3.2). */
static int x509_crl_add_revoked(X509_CRL *crl, ASN1_INTEGER *serial, ASN1_TIME *when, int reason, ASN1_TIME *optional_time) {
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_ENUMERATED *code = NULL;
    ASN1_GENERALIZEDTIME *gt = NULL;
    int ok = 0;
    if (!rev || !X509_REVOKED_set_serialNumber(rev, serial) || !X509_REVOKED_set_revocationDate(rev, when)) goto err;
    if (reason >= 0) {
        if (reason > 10 || reason == 7) { PyErr_SetString(PyExc_ValueError, "not a CRLReason code (0-6, 8-10)"); goto done; }
        if (!(code = ASN1_ENUMERATED_new()) || !ASN1_ENUMERATED_set(code, reason)
            || !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0)) goto err;
    }
    if (optional_time) {
        if (!(gt = ASN1_TIME_to_generalizedtime(optional_time, NULL))
            || !X509_REVOKED_add1_ext_i2d(rev, NID_invalidity_date, gt, 0, 0)) goto err;
    }
    if (!X509_CRL_add0_revoked(crl, rev)) goto err;
    rev = NULL;
    ok = 1;
    goto done;
err:
    m2_raise_msg(M2_X509, "cannot add the revoked entry");
done:
    X509_REVOKED_free(rev);
    ASN1_ENUMERATED_free(code);
    ASN1_GENERALIZEDTIME_free(gt);
    return ok;
}

/* Adds a copy of ext (replacing one of the same type). */
static m2_ok x509_crl_add_ext(X509_CRL *crl, X509_EXTENSION *ext) {
    int i = X509_CRL_get_ext_by_OBJ(crl, X509_EXTENSION_get_object(ext), -1);
    if (i >= 0) X509_EXTENSION_free(X509_CRL_delete_ext(crl, i));
    return X509_CRL_add_ext(crl, ext, -1);
}

static X509_EXTENSION *x509_crl_get_ext(X509_CRL *crl, int loc) {
    if (loc < 0 || loc >= X509_CRL_get_ext_count(crl)) { PyErr_SetString(PyExc_IndexError, "extension index out of range"); return NULL; }
    return X509_CRL_get_ext(crl, loc);
}

/* cRLNumber (RFC 5280 5.2.3), replacing any. */
static m2_ok x509_crl_set_number(X509_CRL *crl, ASN1_INTEGER *number) {
    return X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, X509V3_ADD_REPLACE);
}

/* cRLNumber as an int, or None. */
static PyObject *x509_crl_get_number(X509_CRL *crl) {
    int crit = -1;
    ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
    PyObject *v;
    if (!n) {
        if (crit == -1) Py_RETURN_NONE;
        return m2_raise_msg(M2_X509, "malformed cRLNumber");
    }
    v = asn1_integer_get(n);
    ASN1_INTEGER_free(n);
    return v;
}

/* Sort the entries by serial, then sign with pkey and the digest named (NULL: Ed25519/Ed448). */
static int x509_crl_sign_name(X509_CRL *crl, EVP_PKEY *pkey, const char *mdname) {
    const EVP_MD *md = m2_x509_md(mdname);
    int n;
    if (mdname && !md) return 0;
    if (!X509_CRL_sort(crl)) { m2_raise_msg(M2_X509, "cannot sort the CRL"); return 0; }
    M2_ALLOW_USING(crl, pkey)
    n = X509_CRL_sign(crl, pkey, md);
    M2_DISALLOW_USING
    if (n <= 0) { m2_raise_msg(M2_X509, "cannot sign the CRL"); return 0; }
    return n;
}

/* The invalidity dates of the revoked entries, as seconds since the epoch or None, in order. */
static PyObject *x509_crl_get_invalidity_dates(X509_CRL *crl) {
    STACK_OF(X509_REVOKED) *sk = X509_CRL_get_REVOKED(crl);
    PyObject *list = PyList_New(0), *v;
    int i;
    if (!list) return NULL;
    for (i = 0; i < sk_X509_REVOKED_num(sk); i++) {
        ASN1_GENERALIZEDTIME *gt = X509_REVOKED_get_ext_d2i(sk_X509_REVOKED_value(sk, i), NID_invalidity_date, NULL, NULL);
        v = gt ? asn1_time_get_posix(gt) : Py_NewRef(Py_None);
        ASN1_GENERALIZEDTIME_free(gt);
        if (!v || PyList_Append(list, v) < 0) { Py_XDECREF(v); Py_DECREF(list); return NULL; }
        Py_DECREF(v);
    }
    return list;
}

/* ---- typed extensions ---- */
/* subjectAltName, issuerAltName (nid) from [(GEN_*, bytes)]. */
static X509_EXTENSION *x509v3_general_names_ext(int nid, int critical, PyObject *names) {
    GENERAL_NAMES *gens = m2_general_names(names);
    X509_EXTENSION *ext;
    if (!gens) return NULL;
    ext = m2_ext_i2d(nid, critical, gens);
    GENERAL_NAMES_free(gens);
    return ext;
}

/* authorityInfoAccess from [(method OID text, (GEN_*, bytes))]. */
static X509_EXTENSION *x509v3_aia_ext(PyObject *items) {
    AUTHORITY_INFO_ACCESS *aia = AUTHORITY_INFO_ACCESS_new();
    X509_EXTENSION *ext = NULL;
    Py_ssize_t i;
    if (!aia) { m2_raise(M2_X509); return NULL; }
    if (!PyList_Check(items)) { PyErr_SetString(PyExc_TypeError, "a list is required"); goto err; }
    for (i = 0; i < PyList_GET_SIZE(items); i++) {
        const char *method;
        PyObject *name;
        ACCESS_DESCRIPTION *ad;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(items, i), "sO", &method, &name)) goto err;
        if (!(ad = ACCESS_DESCRIPTION_new())) { m2_raise(M2_X509); goto err; }
        if (!sk_ACCESS_DESCRIPTION_push(aia, ad)) { ACCESS_DESCRIPTION_free(ad); m2_raise(M2_X509); goto err; }
        ASN1_OBJECT_free(ad->method);
        if (!(ad->method = OBJ_txt2obj(method, 0))) { m2_raise_msg(M2_X509, "unknown access method"); goto err; }
        GENERAL_NAME_free(ad->location);
        if (!(ad->location = m2_general_name(name))) goto err;
    }
    ext = m2_ext_i2d(NID_info_access, 0, aia);
err:
    AUTHORITY_INFO_ACCESS_free(aia);
    return ext;
}

/* cRLDistributionPoints from a list of distribution points, each a list of (GEN_*, bytes)
 * (its fullName). */
static X509_EXTENSION *x509v3_crl_dp_ext(PyObject *points) {
    CRL_DIST_POINTS *dps = CRL_DIST_POINTS_new();
    X509_EXTENSION *ext = NULL;
    Py_ssize_t i;
    if (!dps) { m2_raise(M2_X509); return NULL; }
    if (!PyList_Check(points)) { PyErr_SetString(PyExc_TypeError, "a list is required"); goto err; }
    for (i = 0; i < PyList_GET_SIZE(points); i++) {
        DIST_POINT *dp = DIST_POINT_new();
        if (!dp || !sk_DIST_POINT_push(dps, dp)) { DIST_POINT_free(dp); m2_raise(M2_X509); goto err; }
        if (!(dp->distpoint = DIST_POINT_NAME_new())) { m2_raise(M2_X509); goto err; }
        dp->distpoint->type = 0;
        if (!(dp->distpoint->name.fullname = m2_general_names(PyList_GET_ITEM(points, i)))) goto err;
    }
    ext = m2_ext_i2d(NID_crl_distribution_points, 0, dps);
err:
    CRL_DIST_POINTS_free(dps);
    return ext;
}

/* nameConstraints (critical, RFC 5280 4.2.1.10) from permitted and excluded [(GEN_*, bytes)]. */
static X509_EXTENSION *x509v3_name_constraints_ext(PyObject *permitted, PyObject *excluded) {
    NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
    X509_EXTENSION *ext = NULL;
    PyObject *lists[2];
    STACK_OF(GENERAL_SUBTREE) **trees[2];
    int k;
    Py_ssize_t i;
    if (!nc) { m2_raise(M2_X509); return NULL; }
    lists[0] = permitted; lists[1] = excluded;
    trees[0] = &nc->permittedSubtrees; trees[1] = &nc->excludedSubtrees;
    for (k = 0; k < 2; k++) {
        if (!PyList_Check(lists[k])) { PyErr_SetString(PyExc_TypeError, "lists are required"); goto err; }
        if (PyList_GET_SIZE(lists[k]) == 0) continue;
        if (!(*trees[k] = sk_GENERAL_SUBTREE_new_null())) { m2_raise(M2_X509); goto err; }
        for (i = 0; i < PyList_GET_SIZE(lists[k]); i++) {
            GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();
            if (!st || !sk_GENERAL_SUBTREE_push(*trees[k], st)) { GENERAL_SUBTREE_free(st); m2_raise(M2_X509); goto err; }
            GENERAL_NAME_free(st->base);
            if (!(st->base = m2_general_name(PyList_GET_ITEM(lists[k], i)))) goto err;
        }
    }
    ext = m2_ext_i2d(NID_name_constraints, 1, nc);
err:
    NAME_CONSTRAINTS_free(nc);
    return ext;
}

/* ---- reading them back ---- */
/* The URIs of authorityInfoAccess for the access method named (OCSP, caIssuers), as [str]. */
static PyObject *x509_get_aia_uris(X509 *x, const char *method) {
    int crit = -1, i, nid = OBJ_txt2nid(method);
    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, &crit, NULL);
    PyObject *list = PyList_New(0);
    if (!list) goto err;
    if (!aia) {
        if (crit == -1) return list;
        Py_CLEAR(list);
        m2_raise_msg(M2_X509, "malformed authorityInfoAccess");
        goto err;
    }
    for (i = 0; i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
        ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
        if (OBJ_obj2nid(ad->method) == nid && !m2_append_uri(list, ad->location)) { Py_CLEAR(list); goto err; }
    }
err:
    AUTHORITY_INFO_ACCESS_free(aia);
    return list;
}

/* The fullName URIs of cRLDistributionPoints, as [str]. */
static PyObject *x509_get_crl_dp_uris(X509 *x) {
    int crit = -1, i;
    CRL_DIST_POINTS *dps = X509_get_ext_d2i(x, NID_crl_distribution_points, &crit, NULL);
    PyObject *list = PyList_New(0);
    if (!list) goto err;
    if (!dps) {
        if (crit == -1) return list;
        Py_CLEAR(list);
        m2_raise_msg(M2_X509, "malformed cRLDistributionPoints");
        goto err;
    }
    for (i = 0; i < sk_DIST_POINT_num(dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
        int j;
        if (!dp->distpoint || dp->distpoint->type != 0) continue;
        for (j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++)
            if (!m2_append_uri(list, sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j))) { Py_CLEAR(list); goto err; }
    }
err:
    CRL_DIST_POINTS_free(dps);
    return list;
}

/* subjectKeyIdentifier's octets, or None. */
static PyObject *x509_get_subject_key_id(X509 *x) {
    const ASN1_OCTET_STRING *s = X509_get0_subject_key_id(x);
    if (!s) { ERR_clear_error(); Py_RETURN_NONE; }
    return PyBytes_FromStringAndSize((const char *)ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
}

/* authorityKeyIdentifier's keyIdentifier octets, or None. */
static PyObject *x509_get_authority_key_id(X509 *x) {
    const ASN1_OCTET_STRING *s = X509_get0_authority_key_id(x);
    if (!s) { ERR_clear_error(); Py_RETURN_NONE; }
    return PyBytes_FromStringAndSize((const char *)ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
}
%}
