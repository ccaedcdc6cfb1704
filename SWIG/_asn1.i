/* _asn1.i: ASN1_STRING, ASN1_INTEGER, ASN1_OBJECT and ASN1_TIME / ASN1_UTCTIME. */
%{
#include <openssl/asn1.h>
#include <openssl/bn.h>
%}
M2_OK_AREA(M2_ASN1)

/* For SWIG as in C, the string-like ASN.1 types are all ASN1_STRING. */
typedef struct asn1_string_st ASN1_STRING;
typedef ASN1_STRING ASN1_INTEGER;
typedef ASN1_STRING ASN1_TIME;
typedef ASN1_STRING ASN1_UTCTIME;
typedef ASN1_STRING ASN1_GENERALIZEDTIME;
typedef ASN1_STRING ASN1_BIT_STRING;
typedef ASN1_STRING ASN1_OCTET_STRING;
M2_NONNULL(ASN1_STRING *)
M2_NONNULL(ASN1_OBJECT *)
M2_AREA_INIT(asn1_init, M2_ASN1)

%constant unsigned long ASN1_STRFLGS_ESC_2253 = ASN1_STRFLGS_ESC_2253;
%constant unsigned long ASN1_STRFLGS_ESC_CTRL = ASN1_STRFLGS_ESC_CTRL;
%constant unsigned long ASN1_STRFLGS_ESC_MSB = ASN1_STRFLGS_ESC_MSB;
%constant unsigned long ASN1_STRFLGS_ESC_QUOTE = ASN1_STRFLGS_ESC_QUOTE;
%constant unsigned long ASN1_STRFLGS_UTF8_CONVERT = ASN1_STRFLGS_UTF8_CONVERT;
%constant unsigned long ASN1_STRFLGS_IGNORE_TYPE = ASN1_STRFLGS_IGNORE_TYPE;
%constant unsigned long ASN1_STRFLGS_SHOW_TYPE = ASN1_STRFLGS_SHOW_TYPE;
%constant unsigned long ASN1_STRFLGS_DUMP_ALL = ASN1_STRFLGS_DUMP_ALL;
%constant unsigned long ASN1_STRFLGS_DUMP_UNKNOWN = ASN1_STRFLGS_DUMP_UNKNOWN;
%constant unsigned long ASN1_STRFLGS_DUMP_DER = ASN1_STRFLGS_DUMP_DER;
%constant unsigned long ASN1_STRFLGS_RFC2253 = ASN1_STRFLGS_RFC2253;
%constant int MBSTRING_FLAG = MBSTRING_FLAG;
%constant int MBSTRING_UTF8 = MBSTRING_UTF8;
%constant int MBSTRING_ASC = MBSTRING_ASC;
%constant int MBSTRING_BMP = MBSTRING_BMP;
%constant int MBSTRING_UNIV = MBSTRING_UNIV;
%constant int V_ASN1_OCTET_STRING = V_ASN1_OCTET_STRING;
%constant int V_ASN1_UTF8STRING = V_ASN1_UTF8STRING;
%constant int V_ASN1_IA5STRING = V_ASN1_IA5STRING;
%constant int V_ASN1_PRINTABLESTRING = V_ASN1_PRINTABLESTRING;
%constant int V_ASN1_UTCTIME = V_ASN1_UTCTIME;
%constant int V_ASN1_GENERALIZEDTIME = V_ASN1_GENERALIZEDTIME;

%rename(asn1_object_new) ASN1_OBJECT_new;
ASN1_OBJECT *ASN1_OBJECT_new(void);
%rename(asn1_object_free) ASN1_OBJECT_free;
void ASN1_OBJECT_free(ASN1_OBJECT *a);
%rename(asn1_string_new) ASN1_STRING_new;
ASN1_STRING *ASN1_STRING_new(void);
%rename(asn1_string_free) ASN1_STRING_free;
void ASN1_STRING_free(ASN1_STRING *a);
%rename(asn1_string_type) ASN1_STRING_type;
int ASN1_STRING_type(const ASN1_STRING *x);
%rename(asn1_string_length) ASN1_STRING_length;
int ASN1_STRING_length(const ASN1_STRING *x);
%rename(asn1_string_print) ASN1_STRING_print;
int ASN1_STRING_print(BIO *bp, const ASN1_STRING *v);
%rename(asn1_string_print_ex) ASN1_STRING_print_ex;
int ASN1_STRING_print_ex(BIO *out, const ASN1_STRING *str, unsigned long flags);
%rename(asn1_integer_new) ASN1_INTEGER_new;
ASN1_INTEGER *ASN1_INTEGER_new(void);
%rename(asn1_integer_free) ASN1_INTEGER_free;
void ASN1_INTEGER_free(ASN1_INTEGER *a);
%rename(asn1_integer_cmp) ASN1_INTEGER_cmp;
int ASN1_INTEGER_cmp(const ASN1_INTEGER *x, const ASN1_INTEGER *y);
%rename(asn1_time_new) ASN1_TIME_new;
ASN1_TIME *ASN1_TIME_new(void);
%rename(asn1_time_free) ASN1_TIME_free;
void ASN1_TIME_free(ASN1_TIME *a);
%rename(asn1_time_check) ASN1_TIME_check;
int ASN1_TIME_check(const ASN1_TIME *t);
%rename(asn1_time_print) ASN1_TIME_print;
int ASN1_TIME_print(BIO *fp, const ASN1_TIME *a);
%rename(asn1_time_set) ASN1_TIME_set;
ASN1_TIME *ASN1_TIME_set(ASN1_TIME *s, time_t t);
%rename(asn1_utctime_new) ASN1_UTCTIME_new;
ASN1_UTCTIME *ASN1_UTCTIME_new(void);
%rename(asn1_utctime_free) ASN1_UTCTIME_free;
void ASN1_UTCTIME_free(ASN1_UTCTIME *a);
%rename(asn1_utctime_check) ASN1_UTCTIME_check;
int ASN1_UTCTIME_check(const ASN1_UTCTIME *a);
%rename(asn1_utctime_set) ASN1_UTCTIME_set;
ASN1_UTCTIME *ASN1_UTCTIME_set(ASN1_UTCTIME *s, time_t t);
%rename(asn1_utctime_print) ASN1_UTCTIME_print;
int ASN1_UTCTIME_print(BIO *fp, const ASN1_UTCTIME *a);


%apply (const void *buf, Py_ssize_t len) { (const void *data, Py_ssize_t datalen) };

%rename(asn1_time_set_string) ASN1_TIME_set_string;
m2_ok ASN1_TIME_set_string(ASN1_TIME *a, const char *s);
/* Like asn1_time_set_string, but RFC 5280's choice: UTCTime up to 2049, else GeneralizedTime. */
%rename(asn1_time_set_string_x509) ASN1_TIME_set_string_X509;
m2_ok ASN1_TIME_set_string_X509(ASN1_TIME *a, const char *s);
%rename(asn1_utctime_set_string) ASN1_UTCTIME_set_string;
m2_ok ASN1_UTCTIME_set_string(ASN1_UTCTIME *a, const char *s);
%inline %{
static m2_ok asn1_string_set(ASN1_STRING *s, const void *data, Py_ssize_t datalen) {
    return ASN1_STRING_set(s, data, (int)datalen);
}

/* The string's content bytes, as stored. */
static PyObject *asn1_string_as_bytes(const ASN1_STRING *s) {
    return PyBytes_FromStringAndSize((const char *)ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
}

/* The string as UTF-8 bytes (ASN1_STRING_to_UTF8), whatever its ASN.1 string type. */
static PyObject *asn1_string_to_utf8(const ASN1_STRING *s) {
    unsigned char *out = NULL;
    int n = ASN1_STRING_to_UTF8(&out, s);
    PyObject *v;
    if (n < 0) return m2_raise_msg(M2_ASN1, "cannot convert the string to UTF-8");
    v = PyBytes_FromStringAndSize((const char *)out, n);
    OPENSSL_free(out);
    return v;
}

static PyObject *asn1_integer_get(const ASN1_INTEGER *a) {
    BIGNUM *bn = ASN1_INTEGER_to_BN(a, NULL);
    PyObject *v;
    if (!bn) return m2_raise_msg(M2_ASN1, "invalid ASN1_INTEGER");
    v = m2_bn_to_pylong(bn);
    BN_free(bn);
    return v;
}

static int asn1_integer_set(ASN1_INTEGER *a, PyObject *value) {
    BIGNUM *bn = m2_pylong_to_bn(value);
    int ok;
    if (!bn) return 0;
    ok = BN_to_ASN1_INTEGER(bn, a) != NULL;
    BN_free(bn);
    if (!ok) m2_raise_msg(M2_ASN1, "BN_to_ASN1_INTEGER failed");
    return ok;
}




static int asn1_time_type_check(const ASN1_TIME *a) {
    int t = ASN1_STRING_type(a);
    return t == V_ASN1_UTCTIME || t == V_ASN1_GENERALIZEDTIME;
}

/* Seconds since the epoch (UTC) of a valid time, as a Python int. */
static PyObject *asn1_time_get_posix(const ASN1_TIME *a) {
    struct tm tm;
    int days, secs;
    ASN1_TIME *epoch;
    long long total;
    if (!ASN1_TIME_to_tm(a, &tm)) return m2_raise_msg(M2_ASN1, "invalid time value");
    epoch = ASN1_TIME_set(NULL, 0);
    if (!epoch) return m2_raise(M2_ASN1);
    if (!ASN1_TIME_diff(&days, &secs, epoch, a)) { ASN1_TIME_free(epoch); return m2_raise_msg(M2_ASN1, "invalid time value"); }
    ASN1_TIME_free(epoch);
    total = (long long)days * 86400 + secs;
    return PyLong_FromLongLong(total);
}

static int asn1_time_cmp(const ASN1_TIME *a, const ASN1_TIME *b) { return ASN1_TIME_compare(a, b); }
%}

/* ---- M2Crypto 0.51 names: ASN1_OBJECT encodings, ASN1_BIT_STRING (issue 18) ---- */
%rename(asn1_bit_string_new) ASN1_BIT_STRING_new;
ASN1_BIT_STRING *ASN1_BIT_STRING_new(void);
%apply (const void *buf, Py_ssize_t len) { (const void *der, Py_ssize_t derlen) };
M2_RETURNS_NONNULL(d2i_asn1_object)
%inline %{
/* An OBJECT IDENTIFIER from its DER content octets (ASN1_OBJECT_create); length is M2Crypto's
 * third argument, at most len(data). */
static ASN1_OBJECT *asn1_object_create(int nid, const void *data, Py_ssize_t datalen, int length,
                                       const char *sn, const char *ln) {
    ASN1_OBJECT *o;
    if (length < 0 || length > datalen) { PyErr_SetString(PyExc_ValueError, "length outside the data"); return NULL; }
    if (!(o = ASN1_OBJECT_create(nid, (unsigned char *)data, length, sn, ln)))
        m2_raise_msg(M2_ASN1, "ASN1_OBJECT_create failed");
    return o;
}
/* The object's DER encoding, tag and length included (i2d_ASN1_OBJECT). */
static PyObject *i2d_asn1_object(ASN1_OBJECT *a) {
    unsigned char *out = NULL;
    PyObject *v;
    int n = i2d_ASN1_OBJECT(a, &out);
    if (n <= 0) return m2_raise_msg(M2_ASN1, "cannot encode the object");
    v = PyBytes_FromStringAndSize((const char *)out, n);
    OPENSSL_free(out);
    return v;
}
/* An OBJECT IDENTIFIER from its DER encoding (d2i_ASN1_OBJECT); ASN1Error if it is not one. */
static ASN1_OBJECT *d2i_asn1_object(const void *der, Py_ssize_t derlen) {
    const unsigned char *p = der;
    return d2i_ASN1_OBJECT(NULL, &p, (long)derlen);
}
%}
