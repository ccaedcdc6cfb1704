/* _lib.i: the conventions every other .i file relies on.
 *
 *  - Errors: m2_raise() drains OpenSSL's error queue into one Python exception of the
 *    area's class (registered from Python with the M2Crypto-named *_init functions), and the
 *    %exception block below empties the queue after every wrapped call, success or failure.
 *  - Buffers: (const void *buf, Py_ssize_t len) accepts bytes, bytearray, memoryview or any
 *    object with the buffer protocol, without copying; %apply gives the pattern other names.
 *    Output is built with PyBytes_* in the helpers, or None where M2Crypto returns None.
 *  - Pointers: M2_NONNULL(TYPE) makes a NULL (None or freed) pointer a ValueError instead of
 *    a crash.  A `const char *` argument refuses None with TypeError (OpenSSL's string
 *    functions call strlen on it); M2_NULLABLE_STR(name) lets None through as NULL for the
 *    arguments so named, where the C function documents NULL.
 *  - GIL: M2_ALLOW / M2_DISALLOW around calls that can block or run long; M2_GIL_THRESHOLD
 *    is the buffer size past which bulk operations release it.  M2_ALLOW_USING(p, ...) /
 *    M2_DISALLOW_USING where the call works on pointers a Python object owns: their frees
 *    (M2_FREE, m2_free_or_defer) wait for the call to leave.  A call being entered is covered
 *    too: an owner object given as the argument pins its pointer (m2_pin), and a close() that
 *    finds the SWIG pointer object still held leaves the free to its last reference
 *    (lib_release, m2_free_later).
 *  - Callbacks: m2_callback() calls Python from OpenSSL's callbacks with the GIL taken and
 *    leaves any exception in the thread's error indicator, where the wrapper of the outer
 *    call finds and raises it; while one is pending, no further Python code runs.
 */
%{
#include <limits.h>
#include <string.h>
#include <time.h>
#include <openssl/opensslv.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

/* -Wdeprecated-declarations stays on for the build; code that must call OpenSSL's deprecated
 * low-level API (because M2Crypto's API names it: RSA, DSA, DH, EC_KEY, HMAC_CTX, ENGINE, SRP)
 * sits between M2_DEPRECATED_BEGIN and M2_DEPRECATED_END: a whole .i file through the SWIG
 * macros M2_DEPRECATED_FILE_BEGIN/END (both the helper and the wrapper sections), or one helper. */
#define M2_DEPRECATED_BEGIN _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wdeprecated-declarations\"")
#define M2_DEPRECATED_END _Pragma("GCC diagnostic pop")

/* Python 3.9 (still supported) has no Py_NewRef/Py_XNewRef (3.10): the one shim for an older Python. */
#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *m2_py_newref(PyObject *o) { Py_INCREF(o); return o; }
static inline PyObject *m2_py_xnewref(PyObject *o) { Py_XINCREF(o); return o; }
#define Py_NewRef(o) m2_py_newref((PyObject *)(o))
#define Py_XNewRef(o) m2_py_xnewref((PyObject *)(o))
#endif

/* Areas whose exception classes Python registers (M2Crypto's m2.*_init(ErrorClass)). */
enum m2_area {
    M2_LIB = 0, M2_BIO, M2_RAND, M2_BN, M2_ASN1, M2_UTIL, M2_EVP, M2_RSA, M2_DSA, M2_DH,
    M2_EC, M2_X509, M2_PKCS7, M2_SMIME, M2_SSL, M2_SSL_TIMEOUT, M2_ENGINE, M2_PROVIDER,
    M2_OCSP,
    M2_PKCS12, M2_PKCS12_PASSWORD,
    M2_CMS, M2_CMS_FORMAT, M2_CMS_SIGNATURE, M2_CMS_DECRYPT, M2_CMS_UNSUPPORTED,
    M2_AREA_COUNT
};
static PyObject *m2_errclass[M2_AREA_COUNT];

#define M2_GIL_THRESHOLD 4096
#define M2_ALLOW Py_BEGIN_ALLOW_THREADS
#define M2_DISALLOW Py_END_ALLOW_THREADS

/* ---- pointers in use without the GIL: a free waits for the last call using them ----
 * A call that releases the GIL around OpenSSL work on pointers its caller owns (a CMS structure,
 * a digest context, a key, a BIO...) names them: M2_ALLOW_USING(cms, bio) ... M2_DISALLOW_USING
 * in place of M2_ALLOW ... M2_DISALLOW.  They are counted as in use until the call has the GIL
 * back; a free of a pointer in use (the m2 free functions declared with M2_FREE, and the C base
 * types' closing, through m2_free_or_defer) is not done then but left to the last call using
 * it, which does it when it leaves.  So close()/free() from another thread, or the finalizer
 * of an object whose last reference went, never frees memory under a running OpenSSL call: that
 * call finishes, and later calls find the object closed.  A free of a refcounted type (X509_free,
 * EVP_PKEY_free...) is one reference less: frees put off are counted and all done at the end.
 * The table is small (one entry per pointer in use, in any thread) and read and written only
 * with the GIL held; it costs nothing to a call that keeps the GIL. */
typedef void (*m2_free_fn)(void *);
typedef struct {
    const void *p;
    int uses;                   /* calls using p without the GIL */
    int frees;                  /* frees put off until the last one leaves */
    m2_free_fn free_fn;
} m2_in_use;
static m2_in_use *m2_uses;
static Py_ssize_t m2_uses_n, m2_uses_cap;
static unsigned long long m2_frees_deferred;    /* for the tests: frees done by a last user */

static m2_in_use *m2_use_find(const void *p) {
    Py_ssize_t i;
    for (i = 0; i < m2_uses_n; i++)
        if (m2_uses[i].p == p) return &m2_uses[i];
    return NULL;
}

/* Count the n pointers of ps (NULLs skipped) as in use.  0 if the table cannot grow (then the
 * caller keeps the GIL: nothing can free them meanwhile). */
static int m2_use_all(const void *const *ps, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        m2_in_use *e;
        if (!ps[i]) continue;
        if (!(e = m2_use_find(ps[i]))) {
            if (m2_uses_n == m2_uses_cap) {
                Py_ssize_t cap = m2_uses_cap ? 2 * m2_uses_cap : 16;
                m2_in_use *t = PyMem_Realloc(m2_uses, (size_t)cap * sizeof(*t));
                if (!t) {
                    while (i-- > 0) if (ps[i]) m2_use_find(ps[i])->uses--;   /* undo; entries at 0 are dropped below */
                    for (i = (size_t)m2_uses_n; i-- > 0;)
                        if (!m2_uses[i].uses) m2_uses[i] = m2_uses[--m2_uses_n];
                    return 0;
                }
                m2_uses = t;
                m2_uses_cap = cap;
            }
            e = &m2_uses[m2_uses_n++];
            e->p = ps[i];
            e->uses = e->frees = 0;
            e->free_fn = NULL;
        }
        e->uses++;
    }
    return 1;
}

/* The GIL is back: the pointers of ps are no longer in use by this call; a pointer no call uses
 * any more is freed now if a free was put off. */
static void m2_unuse_all(const void *const *ps, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        m2_in_use *e = ps[i] ? m2_use_find(ps[i]) : NULL;
        if (e && --e->uses == 0) {
            void *p = (void *)e->p;
            int frees = e->frees;
            m2_free_fn fn = e->free_fn;
            *e = m2_uses[--m2_uses_n];
            if (frees) m2_frees_deferred++;
            while (frees-- > 0) fn(p);
        }
    }
}

/* Free p with fn now, or, while a call uses it without the GIL, when the last such call leaves. */
static void m2_free_or_defer(void *p, m2_free_fn fn) {
    m2_in_use *e;
    if (!p) return;
    if (m2_uses_n && (e = m2_use_find(p))) {
        if (!e->frees) e->free_fn = fn;
        e->frees++;
        return;
    }
    fn(p);
}

/* An argument given as the object owning the pointer (an X509.X509, a CMS.ContentInfo, an
 * EVP.MessageDigest or EVP.Cipher: their C bases) has its pointer read and counted in use in
 * one step, under the GIL, by its conversion (m2_pin), until the wrapper returns (freearg:
 * m2_unpin): a close() meanwhile (a later argument's conversion may run Python code) leaves the
 * free to this call.  0 with MemoryError set. */
static int m2_pin(const void *p, const void **pin) {
    if (!m2_use_all(&p, 1)) { PyErr_NoMemory(); return 0; }
    *pin = p;
    return 1;
}
static void m2_unpin(const void *pin) { if (pin) m2_unuse_all(&pin, 1); }

/* ---- frees left to the last reference of a SWIG pointer object ----
 * A Python method fetches its owner's pointer object (`self._ptr()`) and then calls m2 with
 * it: a close() from another thread landing in between (a GIL switch in those few bytecodes)
 * must not free the pointer under the call being entered.  The owner's close() (Handle.close,
 * M2Sec/_base.py's release()) finds that pointer object still referenced elsewhere and, rather
 * than free, ties the free to it here: SWIG's pointer type's dealloc (wrapped at init) does it
 * when the last reference goes, that is when the last call holding it has returned.  The C
 * bases do the same for the pointer object they handed out (m2_x509_dealloc).  A table as small
 * as the in-use one, read and written with the GIL held; a dealloc with it empty pays a test. */
typedef struct {
    PyObject *obj;              /* the SWIG pointer object (not a reference: removed at its death) */
    m2_free_fn cfn;             /* the free: a C function of the pointer, */
    PyObject *pyfn;             /* or an m2 free function, called with a new pointer object */
} m2_free_later_entry;
static m2_free_later_entry *m2_laters;
static Py_ssize_t m2_laters_n, m2_laters_cap;
static destructor m2_swig_ptr_dealloc;

/* In a SWIG pointer object's `own` (SWIG's own flag is 1): a free waits for its death. */
#define M2_FREE_WAITS 0x4000

/* Free obj's pointer when obj dies (cfn or pyfn); 0 if the table cannot grow (no exception set). */
static int m2_free_later(PyObject *obj, m2_free_fn cfn, PyObject *pyfn) {
    m2_free_later_entry *e;
    if (m2_laters_n == m2_laters_cap) {
        Py_ssize_t cap = m2_laters_cap ? 2 * m2_laters_cap : 16;
        m2_free_later_entry *t = PyMem_Realloc(m2_laters, (size_t)cap * sizeof(*t));
        if (!t) return 0;
        m2_laters = t;
        m2_laters_cap = cap;
    }
    e = &m2_laters[m2_laters_n++];
    e->obj = obj;
    e->cfn = cfn;
    e->pyfn = Py_XNewRef(pyfn);
    ((SwigPyObject *)obj)->own |= M2_FREE_WAITS;
    return 1;
}

/* tp_dealloc of SWIG's pointer objects: the frees left to this one (one per reference of a
 * refcounted type) are done now, through m2_free_or_defer (a call of another thread using the
 * pointer without the GIL keeps it).  They are taken out of the table, a few at a time, before
 * they are done: a free function may run Python code that ends other pointer objects. */
static void m2_swig_ptr_dealloc_hook(PyObject *obj) {
    SwigPyObject *so = (SwigPyObject *)obj;
    if (so->own & M2_FREE_WAITS) {
        so->own &= ~M2_FREE_WAITS;
        for (;;) {
            m2_free_later_entry mine[8];
            Py_ssize_t i, k = 0;
            for (i = m2_laters_n; i-- > 0 && k < 8;)
                if (m2_laters[i].obj == obj) {
                    mine[k++] = m2_laters[i];
                    m2_laters[i] = m2_laters[--m2_laters_n];
                }
            if (!k) break;
            m2_frees_deferred += (unsigned long long)k;
            for (i = 0; i < k; i++) {
                if (mine[i].cfn) {
                    m2_free_or_defer(so->ptr, mine[i].cfn);
                } else {
                    PyObject *exc_type, *exc_value, *exc_tb, *tmp, *r = NULL;
                    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
                    if ((tmp = SWIG_NewPointerObj(so->ptr, so->ty, 0))) {
                        r = PyObject_CallOneArg(mine[i].pyfn, tmp);
                        Py_DECREF(tmp);
                    }
                    if (!r) PyErr_WriteUnraisable(mine[i].pyfn);
                    Py_XDECREF(r);
                    Py_DECREF(mine[i].pyfn);
                    PyErr_Restore(exc_type, exc_value, exc_tb);
                }
            }
        }
    }
    m2_swig_ptr_dealloc(obj);
}

/* M2_ALLOW_USING(p, ...) { work without the GIL on p, ... } M2_DISALLOW_USING */
#define M2_ALLOW_USING(...) { const void *const m2_used_[] = {__VA_ARGS__}; \
    const int m2_counted_ = m2_use_all(m2_used_, sizeof(m2_used_) / sizeof(m2_used_[0])); \
    PyThreadState *m2_save_ = m2_counted_ ? PyEval_SaveThread() : NULL;
#define M2_DISALLOW_USING if (m2_save_) PyEval_RestoreThread(m2_save_); \
    if (m2_counted_) m2_unuse_all(m2_used_, sizeof(m2_used_) / sizeof(m2_used_[0])); }

static PyObject *m2_area_class(int area) {
    PyObject *cls = (area >= 0 && area < M2_AREA_COUNT) ? m2_errclass[area] : NULL;
    if (!cls) cls = m2_errclass[M2_LIB];
    return cls ? cls : PyExc_RuntimeError;
}

/* Fill buf with OpenSSL's reason text for the oldest error in the queue (and its
 * additional data, if any), then empty the queue.  Returns the packed code, 0 if none. */
static unsigned long m2_drain_errors(char *buf, size_t size) {
    const char *data = NULL;
    int flags = 0;
    unsigned long code = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
    buf[0] = '\0';
    if (code) {
        const char *reason = ERR_SYSTEM_ERROR(code) ? strerror(ERR_GET_REASON(code))
                                                    : ERR_reason_error_string(code);
        if (reason)
            snprintf(buf, size, "%s", reason);
        else
            ERR_error_string_n(code, buf, size);
        if (data && *data && (flags & ERR_TXT_STRING)) {
            size_t n = strlen(buf);
            snprintf(buf + n, size - n, " (%s)", data);
        }
    }
    ERR_clear_error();
    return code;
}

/* Raise the area's exception with msg, followed by reason (OpenSSL's, taken from the queue by
 * m2_drain_errors) when there is one.  Always returns NULL. */
static PyObject *m2_raise_reason(int area, const char *msg, const char *reason, unsigned long code) {
    PyObject *exc, *value;
    if (PyErr_Occurred())     /* a callback's exception wins: it is the real cause */
        return NULL;
    if (msg && *reason)
        value = PyUnicode_FromFormat("%s: %s", msg, reason);
    else if (msg)
        value = PyUnicode_FromString(msg);
    else
        value = PyUnicode_FromString(*reason ? reason : "unknown OpenSSL error");
    if (!value) return NULL;
    exc = PyObject_CallOneArg(m2_area_class(area), value);
    Py_DECREF(value);
    if (!exc) return NULL;
    if (code) {
        PyObject *c = PyLong_FromUnsignedLong(code);
        if (c) { PyObject_SetAttrString(exc, "openssl_code", c); Py_DECREF(c); }
        PyErr_Clear();
    }
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

/* Raise the area's exception with msg, followed by OpenSSL's reason when the queue has one.
 * Always returns NULL, so that helpers can `return m2_raise_msg(...)`. */
static PyObject *m2_raise_msg(int area, const char *msg) {
    char reason[512];
    unsigned long code = m2_drain_errors(reason, sizeof(reason));
    return m2_raise_reason(area, msg, reason, code);
}

/* What the last wrapped call left in this thread's error queue (see %exception below), for
 * the "ok" result typemaps, which run after the queue was emptied.  Written after the call
 * returns and read by the same wrapper with the GIL held throughout, so another thread's call
 * cannot come between. */
static char m2_last_reason[512];
static unsigned long m2_last_code;

static PyObject *m2_raise(int area) { return m2_raise_msg(area, NULL); }

static int m2_set_area_class(int area, PyObject *cls) {
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, (PyTypeObject *)PyExc_BaseException)) {
        PyErr_SetString(PyExc_TypeError, "an exception class is required");
        return -1;
    }
    Py_INCREF(cls);
    Py_XSETREF(m2_errclass[area], cls);
    return 0;
}

/* Call a Python callable from an OpenSSL callback.  Takes the GIL; returns a new reference
 * or NULL.  On failure the exception stays in this thread's error indicator (the outer
 * wrapper raises it); if an exception is already pending, nothing is called. */
static PyObject *m2_callback(PyObject *func, PyObject *args) {
    PyObject *ret = NULL;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (!PyErr_Occurred() && args)
        ret = PyObject_CallObject(func, args);
    Py_XDECREF(args);
    PyGILState_Release(gil);
    return ret;
}

/* pem_password_cb: userdata is a Python callable (called with rwflag, returning bytes or
 * str) or a bytes passphrase; NULL gives an empty passphrase rather than a terminal prompt. */
static int m2_passphrase_cb(char *buf, int size, int rwflag, void *userdata) {
    PyObject *obj = (PyObject *)userdata, *ret = NULL;
    Py_buffer view;
    int len = -1;
    PyGILState_STATE gil;
    if (!obj || obj == Py_None) return 0;
    gil = PyGILState_Ensure();   /* everything below, the arguments too, under the GIL */
    if (PyCallable_Check(obj)) {
        PyObject *args = PyErr_Occurred() ? NULL : Py_BuildValue("(i)", rwflag);
        ret = args ? PyObject_CallObject(obj, args) : NULL;
        Py_XDECREF(args);
    } else {
        Py_INCREF(obj);
        ret = obj;
    }
    if (ret && PyUnicode_Check(ret)) {
        PyObject *b = PyUnicode_AsUTF8String(ret);
        Py_SETREF(ret, b);
    }
    if (ret && ret != Py_None && PyObject_GetBuffer(ret, &view, PyBUF_SIMPLE) == 0) {
        if (view.len <= size) {
            memcpy(buf, view.buf, view.len);
            len = (int)view.len;
        } else {
            PyErr_SetString(PyExc_ValueError, "passphrase longer than OpenSSL's buffer");
        }
        PyBuffer_Release(&view);
    } else if (ret == Py_None) {
        len = -1;
    }
    Py_XDECREF(ret);
    PyGILState_Release(gil);
    return len;
}

/* Borrow a read-only buffer; 0 on success, -1 with TypeError/OverflowError set. */
static int m2_get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t max) {
    if (PyUnicode_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "a bytes-like object is required, not 'str'");
        return -1;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) return -1;
    if (view->len > max) {
        PyBuffer_Release(view);
        view->obj = NULL;
        PyErr_SetString(PyExc_OverflowError, "buffer too large for OpenSSL");
        return -1;
    }
    return 0;
}

static int m2_time_t_bits(void) { return (int)(sizeof(time_t) * 8); }
%}

%define M2_DEPRECATED_FILE_BEGIN
%header %{
M2_DEPRECATED_BEGIN
%}
%wrapper %{
M2_DEPRECATED_BEGIN
%}
%enddef
%define M2_DEPRECATED_FILE_END
%header %{
M2_DEPRECATED_END
%}
%wrapper %{
M2_DEPRECATED_END
%}
%enddef

/* ---- constants ---- */
%constant long OPENSSL_VERSION_NUMBER = OPENSSL_VERSION_NUMBER;
%constant char *OPENSSL_VERSION_TEXT = OPENSSL_VERSION_TEXT;
%constant int encrypt = 1;
%constant int decrypt = 0;

%define M2_NONNULL(TYPE)
%typemap(check) TYPE {
    if ($1 == NULL) {
        PyErr_SetString(PyExc_ValueError, "a NULL " #TYPE " was passed (freed or never set?)");
        SWIG_fail;
    }
}
%enddef
M2_NONNULL(BIO *)

%typemap(check) const char * {
    if ($1 == NULL) {
        PyErr_SetString(PyExc_TypeError, "argument $argnum must be str, not None");
        SWIG_fail;
    }
}
%define M2_NULLABLE_STR(NAME)
%typemap(check) const char *NAME "";
%enddef

/* OpenSSL reads a string argument (a host, file, algorithm or cipher-list name, a label...) up
 * to its first NUL: one inside would silently cut it short (another host checked, another file
 * loaded, "sha256\0x" taken for sha256), so it is refused with ValueError, as Python's open()
 * does.  Text that may hold NULs travels as a buffer, (const void *buf, Py_ssize_t len). */
%typemap(in) const char * (char *buf = 0, size_t size = 0, int alloc = 0) {
    int res = SWIG_AsCharPtrAndSize($input, &buf, &size, &alloc);
    if (!SWIG_IsOK(res)) SWIG_exception_fail(SWIG_ArgError(res), "in method '$symname', argument $argnum of type '$type'");
    if (buf && size > 0 && strlen(buf) != size - 1) {
        PyErr_SetString(PyExc_ValueError, "argument $argnum contains a NUL character");
        SWIG_fail;
    }
    $1 = buf;
}
%typemap(freearg) const char * "if (alloc$argnum == SWIG_NEWOBJ) free(buf$argnum);";

/* ---- the error queue (declared before %exception: these must read it, not clear it) ---- */
%rename(err_clear_error) ERR_clear_error;
void ERR_clear_error(void);
%rename(err_get_error) ERR_get_error;
unsigned long ERR_get_error(void);
%rename(err_peek_error) ERR_peek_error;
unsigned long ERR_peek_error(void);
%rename(err_peek_last_error) ERR_peek_last_error;
unsigned long ERR_peek_last_error(void);
%rename(err_lib_error_string) ERR_lib_error_string;
const char *ERR_lib_error_string(unsigned long e);
%wrapper %{
M2_DEPRECATED_BEGIN /* M2Crypto's err_func_error_string: OpenSSL 3 keeps no function names */
%}
%rename(err_func_error_string) ERR_func_error_string;
const char *ERR_func_error_string(unsigned long e);
%wrapper %{
M2_DEPRECATED_END
%}
%rename(err_reason_error_string) ERR_reason_error_string;
const char *ERR_reason_error_string(unsigned long e);
%rename(err_print_errors) ERR_print_errors;
void ERR_print_errors(BIO *bp);

%inline %{
/* The error queue's entries as [(code, library, reason, data)], oldest first; empties it. */
static PyObject *err_get_errors(void) {
    PyObject *list = PyList_New(0);
    unsigned long code;
    const char *data = NULL;
    int flags = 0;
    if (!list) return NULL;
    while ((code = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        const char *lib = ERR_lib_error_string(code), *reason = ERR_reason_error_string(code);
        PyObject *t = Py_BuildValue("(kssz)", code, lib ? lib : "", reason ? reason : "",
                                    (flags & ERR_TXT_STRING) ? data : NULL);
        if (!t || PyList_Append(list, t) < 0) { Py_XDECREF(t); Py_DECREF(list); ERR_clear_error(); return NULL; }
        Py_DECREF(t);
    }
    return list;
}
%}

/* ---- every call below leaves the error queue empty and raises a pending Python error ----
 * (ERR_peek_error first: clearing an empty queue still walks all its slots, a tenth of a
 * short call's cost) */
%exception {
    $action
    m2_last_code = ERR_peek_error() ? m2_drain_errors(m2_last_reason, sizeof(m2_last_reason)) : 0;
    if (PyErr_Occurred()) SWIG_fail;
}

/* ---- "ok" results: a plain declaration whose failure raises ----
 * m2_ok is OpenSSL's int result that is 1 (positive) on success and 0 or negative on failure:
 *     %rename(x509_name_add_entry) X509_NAME_add_entry;
 *     m2_ok X509_NAME_add_entry(X509_NAME *name, const X509_NAME_ENTRY *ne, int loc, int set);
 * returns the int on success and raises the area's exception with OpenSSL's reason otherwise.
 * M2_RETURNS_NONNULL(C_NAME) does the same for a function returning a pointer: NULL raises, so
 * the Python result is never None.  The area is the file's: M2_OK_AREA(M2_X509) at the top of
 * each .i file (typemaps are scoped by position, so each file's declarations get its own).
 * SWIG/gen_m2_pyi.py reads both when it writes m2.pyi (int, and a pointer that is not Optional). */
%{
typedef int m2_ok;
%}
typedef int m2_ok;
%define M2_OK_AREA(AREA)
%typemap(out) m2_ok {
    if ($1 <= 0) { m2_raise_reason(AREA, "$name failed", m2_last_code ? m2_last_reason : "", m2_last_code); SWIG_fail; }
    $result = PyLong_FromLong((long)$1);
}
%typemap(out) SWIGTYPE *M2_NONNULL_RESULT {
    if (!$1) { m2_raise_reason(AREA, "$name failed", m2_last_code ? m2_last_reason : "", m2_last_code); SWIG_fail; }
    $result = SWIG_NewPointerObj(SWIG_as_voidptr($1), $1_descriptor, $owner);
}
%enddef
%define M2_RETURNS_NONNULL(C_NAME)
%apply SWIGTYPE *M2_NONNULL_RESULT { SWIGTYPE *C_NAME };
%enddef
M2_OK_AREA(M2_LIB)

/* Per-message hot paths whose helper leaves the queue empty on success and drains it (through
 * m2_raise_msg or ERR_clear_error) on failure: the wrapper skips the queue check on success,
 * which costs a thread-local look-up per call. */
%define M2_HOT(NAME)
%exception NAME {
    $action
    if (PyErr_Occurred()) { ERR_clear_error(); SWIG_fail; }
}
%enddef

/* An m2 free function that frees at once, or (see m2_free_or_defer) when the last call using
 * the pointer without the GIL leaves:
 *     M2_FREE(x509_free, X509_free, X509, a)   declares   m2.x509_free(a) -> None */
%define M2_FREE(NAME, CFREE, TYPE, PARAM)
%{
static void m2_free_fn_##NAME(void *p) { CFREE((TYPE *)p); }
static void m2_##NAME(TYPE *PARAM) { m2_free_or_defer((void *)PARAM, m2_free_fn_##NAME); }
%}
%rename(NAME) m2_##NAME;
void m2_##NAME(TYPE *PARAM);
%enddef

%init %{
    {   /* m2_free_later's hook on the death of SWIG's pointer objects */
        PyTypeObject *t = SwigPyObject_Type();
        if (!t) return -1;
        m2_swig_ptr_dealloc = t->tp_dealloc;
        t->tp_dealloc = m2_swig_ptr_dealloc_hook;
    }
%}
%{
/* Py_REFCNT of a pointer object that lib_release's caller alone holds, in a local: measured
 * at import (M2Sec/_base.py), as the interpreter's own references vary between versions. */
static Py_ssize_t m2_refs_alone;
%}
%inline %{
/* M2Sec/_base.py's release(ptr, free_fn): free_fn(ptr) now if the caller holds the only
 * reference to the pointer object ptr (in a local, having cleared its owner's), else when its
 * last reference goes (m2_free_later).  Another reference is a method of another thread that
 * fetched the pointer and is entering (or inside) a call with it.  free_fn None: calibration. */
static PyObject *lib_release(PyObject *ptr, PyObject *free_fn) {
    if (free_fn == Py_None) {
        m2_refs_alone = Py_REFCNT(ptr);
        Py_RETURN_NONE;
    }
    if (m2_refs_alone && Py_REFCNT(ptr) > m2_refs_alone && Py_TYPE(ptr) == SwigPyObject_Type()) {
        if (!m2_free_later(ptr, NULL, free_fn)) return PyErr_NoMemory();
        Py_RETURN_NONE;
    }
    return PyObject_CallOneArg(free_fn, ptr);
}
%}

%inline %{
/* (pointers in use without the GIL now, frees done by a last user so far): for the tests. */
static PyObject *lib_pointers_in_use(void) {
    return Py_BuildValue("(nK)", m2_uses_n, m2_frees_deferred);
}
/* Frees waiting for the last reference to their pointer object (m2_free_later): for the tests. */
static PyObject *lib_frees_waiting(void) { return PyLong_FromSsize_t(m2_laters_n); }
%}

/* ---- typemaps ---- */
%typemap(in) (const void *buf, Py_ssize_t len) (Py_buffer view) {
    view.obj = NULL;
    if (m2_get_buffer($input, &view, INT_MAX) < 0) SWIG_fail;
    $1 = view.buf;
    $2 = view.len;
}
%typemap(arginit) (const void *buf, Py_ssize_t len) "view$argnum.obj = NULL;";
%typemap(freearg) (const void *buf, Py_ssize_t len) {
    if (view$argnum.obj) PyBuffer_Release(&view$argnum);
}

/* time_t in: a Python int of seconds since the epoch. */
%typemap(in) time_t {
    long long v = PyLong_AsLongLong($input);
    if (v == -1 && PyErr_Occurred()) SWIG_fail;
    $1 = (time_t)v;
}

/* PyObject * out: helpers return a new reference or NULL with an exception set. */
%typemap(out) PyObject * {
    $result = $1;
}


/* ---- library setup ---- */
%inline %{
static void lib_init(void) {
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_ADD_ALL_CIPHERS |
                        OPENSSL_INIT_ADD_ALL_DIGESTS | OPENSSL_INIT_LOAD_CONFIG, NULL);
}
static int time_t_bits(void) { return m2_time_t_bits(); }
/* OpenSSL 1.1+ locks by itself: kept for M2Crypto's API, they have nothing to do. */
static void threading_init(void) {}
static void threading_cleanup(void) {}
static PyObject *lib_set_error_class(int area, PyObject *cls) {
    if (area < 0 || area >= M2_AREA_COUNT) { PyErr_SetString(PyExc_ValueError, "unknown area"); return NULL; }
    if (m2_set_area_class(area, cls) < 0) return NULL;
    Py_RETURN_NONE;
}
static const char *openssl_version_text(int type) { return OpenSSL_version(type); }
static unsigned long openssl_version_num(void) { return OpenSSL_version_num(); }
%}

%constant int AREA_LIB = M2_LIB;
%constant int OPENSSL_VERSION_ = OPENSSL_VERSION;
%constant int OPENSSL_DIR_ = OPENSSL_DIR;
%constant int OPENSSL_MODULES_DIR = OPENSSL_MODULES_DIR;

/* M2Crypto's per-area registration functions: m2.bio_init(BIOError) and friends. */
%define M2_AREA_INIT(NAME, AREA)
%inline %{
static PyObject *NAME(PyObject *cls) { return lib_set_error_class(AREA, cls); }
%}
%enddef

/* ---- M2Crypto 0.51 names: version constants, util_*, raise_ossl_error (issue 18) ---- */
%constant int OPENSSL_VERSION_MAJOR = OPENSSL_VERSION_MAJOR;
%constant int OPENSSL_VERSION_MINOR = OPENSSL_VERSION_MINOR;
%constant int OPENSSL_VERSION_PATCH = OPENSSL_VERSION_PATCH;
%constant char *OPENSSL_VERSION_PRE_RELEASE = OPENSSL_VERSION_PRE_RELEASE;
%constant char *OPENSSL_VERSION_BUILD_METADATA = OPENSSL_VERSION_BUILD_METADATA;
%constant char *OPENSSL_VERSION_STR = OPENSSL_VERSION_STR;
%constant char *OPENSSL_FULL_VERSION_STR = OPENSSL_FULL_VERSION_STR;
%constant char *OPENSSL_RELEASE_DATE = OPENSSL_RELEASE_DATE;
%constant int OPENSSL_SHLIB_VERSION = OPENSSL_SHLIB_VERSION;
%constant int OPENSSL_API_LEVEL = OPENSSL_API_LEVEL;
%constant int OPENSSL_CONFIGURED_API = OPENSSL_CONFIGURED_API;
/* OpenSSL's macros.h location macros, as M2Crypto's SWIG run saw them (no meaning at run time). */
%constant char *OPENSSL_FILE = "openssl/macros.h";
%constant int OPENSSL_LINE = 0;
%constant char *OPENSSL_FUNC = "(unknown function)";

M2_AREA_INIT(util_init, M2_UTIL)
%inline %{
/* b"01:AB" for b"\x01\xab" (OPENSSL_buf2hexstr). */
static PyObject *util_hex_to_string(const void *buf, Py_ssize_t len) {
    PyObject *ret;
    char *hex = OPENSSL_buf2hexstr((const unsigned char *)buf, (long)len);
    if (!hex) return m2_raise(M2_UTIL);
    ret = PyBytes_FromString(hex);
    OPENSSL_free(hex);
    return ret;
}
/* The bytes that hex text ("01AB" or "01:AB") stands for (OPENSSL_hexstr2buf); UtilError on a
 * bad digit. */
static PyObject *util_string_to_hex(PyObject *text) {
    PyObject *ret = NULL, *b = NULL;
    unsigned char *bin = NULL;
    char *s;
    Py_ssize_t n;
    long len = 0;
    b = PyUnicode_Check(text) ? PyUnicode_AsASCIIString(text) : PyBytes_FromObject(text);
    if (!b) return NULL;
    if (PyBytes_AsStringAndSize(b, &s, &n) < 0) goto err;
    if ((Py_ssize_t)strlen(s) != n) { PyErr_SetString(PyExc_ValueError, "hex text contains a NUL character"); goto err; }
    if (!(bin = OPENSSL_hexstr2buf(s, &len))) { m2_raise_msg(M2_UTIL, "not hex"); goto err; }
    ret = PyBytes_FromStringAndSize((char *)bin, len);
err:
    OPENSSL_free(bin);
    Py_DECREF(b);
    return ret;
}
/* Raise cls(msg: OpenSSL's reason), emptying the error queue (M2Crypto's raise_ossl_error). */
static PyObject *raise_ossl_error(PyObject *cls, const char *msg) {
    char reason[512];
    m2_drain_errors(reason, sizeof(reason));
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, (PyTypeObject *)PyExc_BaseException)) {
        PyErr_SetString(PyExc_TypeError, "an exception class is required");
        return NULL;
    }
    if (*reason) PyErr_Format(cls, "%s: %s", msg, reason);
    else PyErr_SetString(cls, msg);
    return NULL;
}
%}
