/* _engine.i: the ENGINE API, deprecated in OpenSSL 3 but still built by most systems.
 * m2.HAS_ENGINE (and M2Crypto's m2.is_engine_available) says whether it is there; without
 * it every engine_* function raises EngineError. */
M2_DEPRECATED_FILE_BEGIN  /* M2Crypto names OpenSSL's deprecated API here (see _lib.i) */
%{
#include <openssl/opensslconf.h>
#ifndef OPENSSL_NO_ENGINE
#include <openssl/engine.h>
#define M2_HAS_ENGINE 1
#else
#define M2_HAS_ENGINE 0
typedef struct engine_st ENGINE;
#endif
#include <openssl/ui.h>
%}

M2_NONNULL(ENGINE *)
M2_NULLABLE_STR(arg)   /* engine_ctrl_cmd_string: commands without an argument */
M2_AREA_INIT(engine_init_error, M2_ENGINE)

%constant int HAS_ENGINE = M2_HAS_ENGINE;
%constant int is_engine_available = M2_HAS_ENGINE;
%constant int ENGINE_METHOD_RSA = 0x0001;
%constant int ENGINE_METHOD_DSA = 0x0002;
%constant int ENGINE_METHOD_DH = 0x0004;
%constant int ENGINE_METHOD_RAND = 0x0008;
%constant int ENGINE_METHOD_CIPHERS = 0x0040;
%constant int ENGINE_METHOD_DIGESTS = 0x0080;
%constant int ENGINE_METHOD_PKEY_METHS = 0x0200;
%constant int ENGINE_METHOD_PKEY_ASN1_METHS = 0x0400;
%constant int ENGINE_METHOD_EC = 0x0800;
%constant int ENGINE_METHOD_ECDH = 0x0800;
%constant int ENGINE_METHOD_ECDSA = 0x0800;
%constant int ENGINE_METHOD_STORE = 0;
%constant int ENGINE_METHOD_ALL = 0xFFFF;
%constant int ENGINE_METHOD_NONE = 0x0000;

%{
#if M2_HAS_ENGINE
static void engine_load_builtin_engines(void) { ENGINE_load_builtin_engines(); }
static void engine_load_dynamic(void) { OPENSSL_init_crypto(OPENSSL_INIT_ENGINE_DYNAMIC, NULL); }
static void engine_load_openssl(void) { OPENSSL_init_crypto(OPENSSL_INIT_ENGINE_OPENSSL, NULL); }
static void engine_cleanup(void) { /* OpenSSL 3 cleans up engines at exit */ }

static ENGINE *engine_new(void) { return ENGINE_new(); }

/* A structural reference to the engine called id, or raises ValueError. */
static ENGINE *engine_by_id(const char *id) {
    ENGINE *e;
    M2_ALLOW
    e = ENGINE_by_id(id);
    M2_DISALLOW
    if (!e) {
        ERR_clear_error();
        PyErr_Format(PyExc_ValueError, "no engine called '%s'", id);
    }
    return e;
}

static void m2_engine_free_fn(void *e) { ENGINE_free(e); }
/* ENGINE_free, or (m2_free_or_defer) when the last call using e without the GIL leaves: 1. */
static int engine_free(ENGINE *e) { m2_free_or_defer(e, m2_engine_free_fn); return 1; }

static m2_ok engine_init(ENGINE *e) {
    int r;
    M2_ALLOW_USING(e)
    r = ENGINE_init(e);
    M2_DISALLOW_USING
    return r;
}
static int engine_finish(ENGINE *e) { return ENGINE_finish(e); }
static const char *engine_get_id(ENGINE *e) { return ENGINE_get_id(e); }
static const char *engine_get_name(ENGINE *e) { return ENGINE_get_name(e); }

static m2_ok engine_set_default(ENGINE *e, int methods) { return ENGINE_set_default(e, (unsigned int)methods); }

static int engine_ctrl_cmd_string(ENGINE *e, const char *cmd, const char *arg, int optional) {
    int r;
    M2_ALLOW_USING(e)
    r = ENGINE_ctrl_cmd_string(e, cmd, arg, optional);
    M2_DISALLOW_USING
    if (!r) m2_raise_msg(M2_ENGINE, "engine command failed");
    return r;
}

/* engine_pkcs11's PW_CB_DATA layout: the callback data a key load hands to the engine's UI. */
struct m2_engine_pin { char *password; const char *prompt_info; };
static UI_METHOD *m2_pin_ui;

/* A UI reader that answers the engine's PIN prompt from the callback data and never reads
 * the terminal: without a PIN, the prompt fails. */
static int m2_pin_reader(UI *ui, UI_STRING *uis) {
    struct m2_engine_pin *d = UI_get0_user_data(ui);
    switch (UI_get_string_type(uis)) {
    case UIT_PROMPT:
    case UIT_VERIFY:
        return (d && d->password && UI_set_result(ui, uis, d->password) == 0) ? 1 : 0;
    default:
        return 1;
    }
}

static struct m2_engine_pin *m2_pin_new(PyObject *pin) {
    struct m2_engine_pin *d;
    PyObject *b = NULL;
    char *s;
    Py_ssize_t n;
    if (pin && pin != Py_None) {
        b = PyUnicode_Check(pin) ? PyUnicode_AsUTF8String(pin) : PyBytes_FromObject(pin);
        if (!b || PyBytes_AsStringAndSize(b, &s, &n) < 0) { Py_XDECREF(b); return NULL; }
    }
    if (!(d = OPENSSL_zalloc(sizeof(*d))) || (b && !(d->password = OPENSSL_strdup(s)))) {
        OPENSSL_free(d);
        Py_XDECREF(b);
        PyErr_NoMemory();
        return NULL;
    }
    Py_XDECREF(b);
    return d;
}
static void m2_pin_free(struct m2_engine_pin *d) {
    if (!d) return;
    if (d->password) OPENSSL_clear_free(d->password, strlen(d->password));
    OPENSSL_free(d);
}

/* engine_load_private_key(e, id, pin=None), or M2Crypto's (e, id, ui, cbd) with cbd from
 * engine_pkcs11_data_new(pin).  A PIN answers the engine's prompt; without one the prompt
 * fails, except in the four-argument form with a ui and no PIN (M2Crypto's ui_openssl()
 * prompts on the terminal: the caller asked for it). */
static EVP_PKEY *m2_engine_load_key(ENGINE *e, const char *key_id, PyObject *a, PyObject *b, int private) {
    struct m2_engine_pin *own = NULL, *cbd = NULL;
    UI_METHOD *ui = NULL;
    EVP_PKEY *k;
    if (b) {
        if (a && a != Py_None && !SWIG_IsOK(SWIG_ConvertPtr(a, (void **)&ui, SWIGTYPE_p_UI_METHOD, 0))) {
            PyErr_SetString(PyExc_TypeError, "argument 3 must be a UI_METHOD (m2.ui_openssl()) or None");
            return NULL;
        }
        if (b != Py_None && !SWIG_IsOK(SWIG_ConvertPtr(b, (void **)&cbd, SWIGTYPE_p_m2_engine_pin, 0))) {
            PyErr_SetString(PyExc_TypeError, "argument 4 must come from m2.engine_pkcs11_data_new() or be None");
            return NULL;
        }
    } else if (!(own = cbd = m2_pin_new(a))) {   /* the PIN, or none: never the terminal */
        return NULL;
    }
    if (own || (cbd && cbd->password)) {
        if (!m2_pin_ui && (!(m2_pin_ui = UI_create_method("M2Sec PIN")) || UI_method_set_reader(m2_pin_ui, m2_pin_reader) < 0)) {
            m2_pin_free(own);
            return (EVP_PKEY *)m2_raise_msg(M2_ENGINE, "cannot make the PIN UI");
        }
        ui = m2_pin_ui;
    }
    M2_ALLOW_USING(e)
    k = private ? ENGINE_load_private_key(e, key_id, ui, cbd) : ENGINE_load_public_key(e, key_id, ui, cbd);
    M2_DISALLOW_USING
    m2_pin_free(own);
    if (!k) m2_raise_msg(M2_ENGINE, private ? "cannot load the private key" : "cannot load the public key");
    return k;
}
static EVP_PKEY *engine_load_private_key(ENGINE *e, const char *key_id, PyObject *a, PyObject *b) {
    return m2_engine_load_key(e, key_id, a, b, 1);
}
static EVP_PKEY *engine_load_public_key(ENGINE *e, const char *key_id, PyObject *a, PyObject *b) {
    return m2_engine_load_key(e, key_id, a, b, 0);
}
static struct m2_engine_pin *engine_pkcs11_data_new(PyObject *pin) { return m2_pin_new(pin); }
static void engine_pkcs11_data_free(struct m2_engine_pin *d) { m2_pin_free(d); }
static UI_METHOD *ui_openssl(void) { return (UI_METHOD *)UI_OpenSSL(); }

/* Certificates through the LOAD_CERT_CTRL command (engine_pkcs11's). */
static X509 *engine_load_certificate(ENGINE *e, const char *slot) {
    struct { const char *id; X509 *cert; } params;
    params.id = slot;
    params.cert = NULL;
    if (!ENGINE_ctrl_cmd(e, "LOAD_CERT_CTRL", 0, &params, NULL, 0) || !params.cert) {
        m2_raise_msg(M2_ENGINE, "cannot load the certificate");
        return NULL;
    }
    return params.cert;
}
#else
static void *m2_no_engine(void) { PyErr_SetString(m2_area_class(M2_ENGINE), "this OpenSSL has no ENGINE support"); return NULL; }
static void engine_load_builtin_engines(void) {}
static void engine_load_dynamic(void) {}
static void engine_load_openssl(void) {}
static void engine_cleanup(void) {}
static ENGINE *engine_new(void) { return m2_no_engine(); }
static ENGINE *engine_by_id(const char *id) { (void)id; return m2_no_engine(); }
static int engine_free(ENGINE *e) { (void)e; m2_no_engine(); return 0; }
static m2_ok engine_init(ENGINE *e) { (void)e; m2_no_engine(); return 0; }
static int engine_finish(ENGINE *e) { (void)e; m2_no_engine(); return 0; }
static const char *engine_get_id(ENGINE *e) { (void)e; return m2_no_engine(); }
static const char *engine_get_name(ENGINE *e) { (void)e; return m2_no_engine(); }
static m2_ok engine_set_default(ENGINE *e, int methods) { (void)e; (void)methods; m2_no_engine(); return 0; }
static int engine_ctrl_cmd_string(ENGINE *e, const char *cmd, const char *arg, int optional) { (void)e; (void)cmd; (void)arg; (void)optional; m2_no_engine(); return 0; }
struct m2_engine_pin { char *password; };
static EVP_PKEY *engine_load_private_key(ENGINE *e, const char *key_id, PyObject *a, PyObject *b) { (void)e; (void)key_id; (void)a; (void)b; return m2_no_engine(); }
static EVP_PKEY *engine_load_public_key(ENGINE *e, const char *key_id, PyObject *a, PyObject *b) { (void)e; (void)key_id; (void)a; (void)b; return m2_no_engine(); }
static struct m2_engine_pin *engine_pkcs11_data_new(PyObject *pin) { (void)pin; return m2_no_engine(); }
static void engine_pkcs11_data_free(struct m2_engine_pin *d) { (void)d; }
static UI_METHOD *ui_openssl(void) { return (UI_METHOD *)UI_OpenSSL(); }
static X509 *engine_load_certificate(ENGINE *e, const char *slot) { (void)e; (void)slot; return m2_no_engine(); }
#endif
%}
M2_OK_AREA(M2_ENGINE)
M2_RETURNS_NONNULL(engine_new)

void engine_load_builtin_engines(void);
void engine_load_dynamic(void);
void engine_load_openssl(void);
void engine_cleanup(void);
ENGINE *engine_new(void);
ENGINE *engine_by_id(const char *id);
int engine_free(ENGINE *e);
m2_ok engine_init(ENGINE *e);
int engine_finish(ENGINE *e);
const char *engine_get_id(ENGINE *e);
const char *engine_get_name(ENGINE *e);
m2_ok engine_set_default(ENGINE *e, int methods);
int engine_ctrl_cmd_string(ENGINE *e, const char *cmd, const char *arg, int optional);
EVP_PKEY *engine_load_private_key(ENGINE *e, const char *key_id, PyObject *a = NULL, PyObject *b = NULL);
EVP_PKEY *engine_load_public_key(ENGINE *e, const char *key_id, PyObject *a = NULL, PyObject *b = NULL);
struct m2_engine_pin;
struct m2_engine_pin *engine_pkcs11_data_new(PyObject *pin = NULL);
void engine_pkcs11_data_free(struct m2_engine_pin *d);
UI_METHOD *ui_openssl(void);
X509 *engine_load_certificate(ENGINE *e, const char *slot);

M2_DEPRECATED_FILE_END
