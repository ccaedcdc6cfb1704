/* _x509.i: X.509 names (certificates, requests, CRLs and stores join them here). */
%{
#include <openssl/x509.h>
#include <openssl/x509v3.h>
%}

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
%rename(x509_name_free) X509_NAME_free;
void X509_NAME_free(X509_NAME *a);
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

%inline %{
/* Borrowed from name: valid while name lives. */
static X509_NAME_ENTRY *x509_name_get_entry(X509_NAME *name, int loc) {
    X509_NAME_ENTRY *e;
    if (loc < 0 || loc >= X509_NAME_entry_count(name)) { PyErr_SetString(PyExc_IndexError, "name entry index out of range"); return NULL; }
    e = X509_NAME_get_entry(name, loc);
    return e;
}

static int x509_name_add_entry(X509_NAME *name, X509_NAME_ENTRY *ne, int loc, int set) {
    if (!X509_NAME_add_entry(name, ne, loc, set)) { m2_raise_msg(M2_X509, "cannot add the name entry"); return 0; }
    return 1;
}

static int x509_name_add_entry_by_txt(X509_NAME *name, const char *field, int type, const void *bytes, Py_ssize_t blen, int loc, int set) {
    if (!X509_NAME_add_entry_by_txt(name, field, type, bytes, (int)blen, loc, set)) {
        m2_raise_msg(M2_X509, "cannot add the name entry");
        return 0;
    }
    return 1;
}

static int x509_name_set_by_nid(X509_NAME *name, int nid, const void *bytes, Py_ssize_t blen) {
    if (!X509_NAME_add_entry_by_NID(name, nid, MBSTRING_ASC, (const unsigned char *)bytes, (int)blen, -1, 0)) {
        m2_raise_msg(M2_X509, "cannot set the name entry");
        return 0;
    }
    return 1;
}

/* A new entry, or None if the field name is unknown or the value invalid (as M2Crypto). */
static X509_NAME_ENTRY *x509_name_entry_create_by_txt(X509_NAME_ENTRY *none, const char *field, int type, const char *bytes, int len) {
    (void)none;
    if (len < 0 || (size_t)len > strlen(bytes)) len = (int)strlen(bytes);
    return X509_NAME_ENTRY_create_by_txt(NULL, field, type, (const unsigned char *)bytes, len);
}

static int x509_name_entry_set_data(X509_NAME_ENTRY *ne, int type, const void *bytes, Py_ssize_t blen) {
    if (!X509_NAME_ENTRY_set_data(ne, type, bytes, (int)blen)) { m2_raise_msg(M2_X509, "cannot set the entry's data"); return 0; }
    return 1;
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

M2_NONNULL(X509 *)
%rename(x509_free) X509_free;
void X509_free(X509 *a);
%rename(x509_get_verify_error) X509_verify_cert_error_string;
const char *X509_verify_cert_error_string(long n);
