/* _rand.i: OpenSSL's random number generator (RAND_*). */
%{
#include <openssl/rand.h>
%}

M2_AREA_INIT(rand_init, M2_RAND)

%rename(rand_status) RAND_status;
int RAND_status(void);
%rename(rand_poll) RAND_poll;
int RAND_poll(void);

%inline %{
static PyObject *m2_rand_fill(int num, int priv) {
    PyObject *out;
    int ok;
    if (num < 0) { PyErr_SetString(PyExc_MemoryError, "negative byte count"); return NULL; }
    out = PyBytes_FromStringAndSize(NULL, num);
    if (!out || num == 0) return out;
    if (num > M2_GIL_THRESHOLD) {
        M2_ALLOW
        ok = priv ? RAND_priv_bytes((unsigned char *)PyBytes_AS_STRING(out), num)
                  : RAND_bytes((unsigned char *)PyBytes_AS_STRING(out), num);
        M2_DISALLOW
    } else {
        ok = priv ? RAND_priv_bytes((unsigned char *)PyBytes_AS_STRING(out), num)
                  : RAND_bytes((unsigned char *)PyBytes_AS_STRING(out), num);
    }
    if (ok != 1) { Py_DECREF(out); return m2_raise_msg(M2_RAND, "RAND_bytes failed"); }
    return out;
}

/* num cryptographically strong random bytes (RAND_bytes). */
static PyObject *rand_bytes(int num) { return m2_rand_fill(num, 0); }
/* num random bytes from the private generator (RAND_priv_bytes), for key material. */
static PyObject *rand_priv_bytes(int num) { return m2_rand_fill(num, 1); }

/* M2Crypto's (bytes, 1): OpenSSL 3's RAND_pseudo_bytes is RAND_bytes. */
static PyObject *rand_pseudo_bytes(int num) {
    PyObject *b = m2_rand_fill(num, 0), *t;
    if (!b) return NULL;
    t = Py_BuildValue("(Ni)", b, 1);
    return t;
}

static void rand_seed(const void *buf, Py_ssize_t len) { RAND_seed(buf, (int)len); }
static void rand_add(const void *buf, Py_ssize_t len, double entropy) { RAND_add(buf, (int)len, entropy); }

static PyObject *rand_file_name(void) {
    char name[4096];
    if (!RAND_file_name(name, sizeof(name))) return m2_raise_msg(M2_RAND, "no random seed file name");
    return PyBytes_FromString(name);
}

static int rand_load_file(const char *filename, long max_bytes) {
    int r;
    M2_ALLOW
    r = RAND_load_file(filename, max_bytes);
    M2_DISALLOW
    return r;
}

static int rand_save_file(const char *filename) {
    int r;
    M2_ALLOW
    r = RAND_write_file(filename);
    M2_DISALLOW
    return r;
}
%}

/* ---- M2Crypto 0.51 names (issue 18) ---- */
%inline %{
/* RAND_cleanup: OpenSSL 1.1+ frees its generators at exit; kept for M2Crypto's API. */
static void rand_cleanup(void) {}
%}
