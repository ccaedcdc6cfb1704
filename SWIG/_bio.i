/* _bio.i: OpenSSL's BIO (memory, file, fd, socket, buffer and cipher filters). */
%{
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <unistd.h>
%}
M2_OK_AREA(M2_BIO)

M2_NONNULL(BIO_METHOD *)
M2_AREA_INIT(bio_init, M2_BIO)

%constant int bio_noclose = BIO_NOCLOSE;
%constant int bio_close = BIO_CLOSE;
%constant int BIO_FLAGS_READ = BIO_FLAGS_READ;
%constant int BIO_FLAGS_WRITE = BIO_FLAGS_WRITE;
%constant int BIO_FLAGS_IO_SPECIAL = BIO_FLAGS_IO_SPECIAL;
%constant int BIO_FLAGS_RWS = BIO_FLAGS_RWS;
%constant int BIO_FLAGS_SHOULD_RETRY = BIO_FLAGS_SHOULD_RETRY;
%constant int BIO_TYPE_MEM = BIO_TYPE_MEM;
%constant int BIO_TYPE_FILE = BIO_TYPE_FILE;
%constant int BIO_TYPE_FD = BIO_TYPE_FD;
%constant int BIO_TYPE_SOCKET = BIO_TYPE_SOCKET;
%constant int BIO_TYPE_CIPHER = BIO_TYPE_CIPHER;
%constant int BIO_TYPE_BUFFER = BIO_TYPE_BUFFER;

/* The method tables are static: never NULL. */
M2_RETURNS_NONNULL(BIO_s_mem) M2_RETURNS_NONNULL(BIO_s_socket) M2_RETURNS_NONNULL(BIO_s_fd)
M2_RETURNS_NONNULL(BIO_s_null) M2_RETURNS_NONNULL(BIO_f_buffer) M2_RETURNS_NONNULL(BIO_f_cipher)
M2_RETURNS_NONNULL(BIO_f_base64) M2_RETURNS_NONNULL(BIO_s_bio)
%rename(bio_s_mem) BIO_s_mem;
const BIO_METHOD *BIO_s_mem(void);
%rename(bio_s_socket) BIO_s_socket;
const BIO_METHOD *BIO_s_socket(void);
%rename(bio_s_fd) BIO_s_fd;
const BIO_METHOD *BIO_s_fd(void);
%rename(bio_s_null) BIO_s_null;
const BIO_METHOD *BIO_s_null(void);
%rename(bio_f_buffer) BIO_f_buffer;
const BIO_METHOD *BIO_f_buffer(void);
%rename(bio_f_cipher) BIO_f_cipher;
const BIO_METHOD *BIO_f_cipher(void);
%rename(bio_f_base64) BIO_f_base64;
const BIO_METHOD *BIO_f_base64(void);

M2_FREE(bio_free_all, BIO_free_all, BIO, a)
%rename(bio_push) BIO_push;
BIO *BIO_push(BIO *b, BIO *append);
%rename(bio_pop) BIO_pop;
BIO *BIO_pop(BIO *b);
%rename(bio_method_type) BIO_method_type;
int BIO_method_type(const BIO *b);
%rename(bio_set_flags) BIO_set_flags;
void BIO_set_flags(BIO *b, int flags);
%rename(bio_get_flags) BIO_get_flags;
int BIO_get_flags(const BIO *b);
%rename(bio_test_flags) BIO_test_flags;
int BIO_test_flags(const BIO *b, int flags);

%{
/* Calls on BIOs that may reach a file or socket release the GIL; memory BIOs keep it
 * unless the buffer is large. */
static int m2_bio_may_block(BIO *b, Py_ssize_t len) {
    return BIO_method_type(b) != BIO_TYPE_MEM || len > M2_GIL_THRESHOLD;
}
%}

M2_RETURNS_NONNULL(BIO_new)
M2_RETURNS_NONNULL(BIO_new_fd)
M2_RETURNS_NONNULL(BIO_new_socket)
%rename(bio_new) BIO_new;
BIO *BIO_new(const BIO_METHOD *method);
/* A BIO on an open file descriptor; with bio_noclose the caller keeps the descriptor. */
%rename(bio_new_fd) BIO_new_fd;
BIO *BIO_new_fd(int fd, int close_flag);
%rename(bio_new_socket) BIO_new_socket;
BIO *BIO_new_socket(int sock, int close_flag);
M2_RETURNS_NONNULL(bio_new_pyfd)
%{
static void m2_bio_free_fn(void *b) { BIO_free(b); }
%}
%inline %{
/* BIO_free, or (m2_free_or_defer) when the last call using b without the GIL leaves: 1. */
static int bio_free(BIO *b) { m2_free_or_defer(b, m2_bio_free_fn); return 1; }

static BIO *bio_new_file(const char *filename, const char *mode) {
    BIO *b;
    M2_ALLOW
    b = BIO_new_file(filename, mode);
    M2_DISALLOW
    if (!b) m2_raise_msg(M2_BIO, "cannot open file");
    return b;
}

static BIO *bio_new_pyfd(int fd, int close_flag) { return BIO_new_fd(fd, close_flag); }

/* A memory BIO holding a copy of data. */
static BIO *bio_new_mem_data(const void *buf, Py_ssize_t len) {
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) return (BIO *)m2_raise_msg(M2_BIO, "BIO_new failed");
    if (len > 0 && BIO_write(b, buf, (int)len) != (int)len) {
        BIO_free(b);
        return (BIO *)m2_raise_msg(M2_BIO, "BIO_write failed");
    }
    return b;
}

/* Up to size bytes; None when nothing could be read (end of data, or a retry is needed). */
static PyObject *bio_read(BIO *b, int size) {
    PyObject *out;
    int r;
    size_t cap;
    if (size < 0) { PyErr_SetString(PyExc_ValueError, "read count is negative"); return NULL; }
    if (size == 0) Py_RETURN_NONE;
    /* bound the allocation: no more than what is pending, or 1 MiB per call */
    cap = BIO_ctrl_pending(b);
    if (cap < (1u << 20)) cap = 1u << 20;
    if ((size_t)size > cap) size = (int)cap;
    out = PyBytes_FromStringAndSize(NULL, size);
    if (!out) return NULL;
    if (m2_bio_may_block(b, size)) {
        M2_ALLOW_USING(b)
        r = BIO_read(b, PyBytes_AS_STRING(out), size);
        M2_DISALLOW_USING
    } else {
        r = BIO_read(b, PyBytes_AS_STRING(out), size);
    }
    if (PyErr_Occurred()) { Py_DECREF(out); return NULL; }
    if (r <= 0) {
        Py_DECREF(out);
        if (r < 0 && !BIO_should_retry(b) && ERR_peek_error())
            return m2_raise(M2_BIO);
        Py_RETURN_NONE;
    }
    if (r < size && _PyBytes_Resize(&out, r) < 0) return NULL;
    return out;
}

/* One line of at most size - 1 bytes, with its newline; None at the end of data. */
static PyObject *bio_gets(BIO *b, int size) {
    PyObject *out;
    int r;
    if (size <= 1) { PyErr_SetString(PyExc_ValueError, "size must be at least 2"); return NULL; }
    if (size > (1 << 20)) size = 1 << 20;
    out = PyBytes_FromStringAndSize(NULL, size);
    if (!out) return NULL;
    if (m2_bio_may_block(b, 0)) {
        M2_ALLOW_USING(b)
        r = BIO_gets(b, PyBytes_AS_STRING(out), size);
        M2_DISALLOW_USING
    } else {
        r = BIO_gets(b, PyBytes_AS_STRING(out), size);
    }
    if (PyErr_Occurred()) { Py_DECREF(out); return NULL; }
    if (r <= 0) {
        Py_DECREF(out);
        if (r < -1) { PyErr_SetString(PyExc_NotImplementedError, "this BIO does not support gets"); return NULL; }
        Py_RETURN_NONE;
    }
    if (_PyBytes_Resize(&out, r) < 0) return NULL;
    return out;
}

/* Bytes written, or BIO_write's 0/-1 when nothing was (check bio_should_retry). */
static int bio_write(BIO *b, const void *buf, Py_ssize_t len) {
    int r;
    if (len == 0) return 0;
    if (m2_bio_may_block(b, len)) {
        M2_ALLOW_USING(b)
        r = BIO_write(b, buf, (int)len);
        M2_DISALLOW_USING
    } else {
        r = BIO_write(b, buf, (int)len);
    }
    if (r < 0 && !BIO_should_retry(b) && ERR_peek_error()) m2_raise(M2_BIO);
    return r;
}

static size_t bio_ctrl_pending(BIO *b) { return BIO_ctrl_pending(b); }
static size_t bio_ctrl_wpending(BIO *b) { return BIO_ctrl_wpending(b); }
static size_t bio_ctrl_get_write_guarantee(BIO *b) { return BIO_ctrl_get_write_guarantee(b); }
static int bio_reset(BIO *b) { return (int)BIO_reset(b); }
static int bio_flush(BIO *b) {
    int r;
    M2_ALLOW_USING(b)
    r = (int)BIO_flush(b);
    M2_DISALLOW_USING
    return r;
}
static int bio_seek(BIO *b, int offset) { return (int)BIO_seek(b, offset); }
static int bio_tell(BIO *b) { return (int)BIO_tell(b); }
static int bio_eof(BIO *b) { return (int)BIO_eof(b); }
static int bio_get_fd(BIO *b) { return (int)BIO_get_fd(b, NULL); }
static int bio_should_retry(BIO *b) { return BIO_should_retry(b); }
static int bio_should_read(BIO *b) { return BIO_should_read(b); }
static int bio_should_write(BIO *b) { return BIO_should_write(b); }
static int bio_should_io_special(BIO *b) { return BIO_should_io_special(b); }
static int bio_retry_type(BIO *b) { return BIO_retry_type(b); }
static int bio_set_mem_eof_return(BIO *b, int v) { return (int)BIO_set_mem_eof_return(b, v); }
static int bio_set_write_buf_size(BIO *b, long size) { return (int)BIO_set_write_buffer_size(b, size); }
static int bio_set_close(BIO *b, int flag) { return (int)BIO_set_close(b, flag); }
static int bio_get_close(BIO *b) { return (int)BIO_get_close(b); }

/* Set the cipher of a BIO_f_cipher; key and iv must be at least the cipher's lengths. */
static PyObject *bio_set_cipher(BIO *b, const EVP_CIPHER *cipher, PyObject *key, PyObject *iv, int op) {
    Py_buffer k = {0}, v = {0};
    PyObject *ret = NULL;
    if (!cipher) { PyErr_SetString(PyExc_ValueError, "no cipher"); return NULL; }
    if (m2_get_buffer(key, &k, INT_MAX) < 0) return NULL;
    if (m2_get_buffer(iv, &v, INT_MAX) < 0) goto err;
    if (k.len < EVP_CIPHER_get_key_length(cipher) || v.len < EVP_CIPHER_get_iv_length(cipher)) {
        PyErr_SetString(PyExc_ValueError, "key or IV shorter than the cipher needs");
        goto err;
    }
    if (!BIO_set_cipher(b, cipher, k.buf, v.buf, op)) {
        m2_raise_msg(M2_BIO, "cannot set the cipher");
        goto err;
    }
    Py_INCREF(Py_None);
    ret = Py_None;
err:
    if (k.obj) PyBuffer_Release(&k);
    if (v.obj) PyBuffer_Release(&v);
    return ret;
}
%}

/* ---- M2Crypto 0.51 names: BIO pairs, chains, Python files (issue 18) ---- */
%constant int BIO_FLAGS_MEM_RDONLY = BIO_FLAGS_MEM_RDONLY;
%rename(bio_s_bio) BIO_s_bio;
const BIO_METHOD *BIO_s_bio(void);
M2_RETURNS_NONNULL(BIO_dup_chain)
/* Join two BIO_s_bio BIOs into a pair: what one writes the other reads (BIO_make_bio_pair). */
%rename(bio_make_bio_pair) BIO_make_bio_pair;
m2_ok BIO_make_bio_pair(BIO *b1, BIO *b2);
/* A copy of the chain that starts at b (BIO_dup_chain); the caller frees it with bio_free_all. */
%rename(bio_dup_chain) BIO_dup_chain;
BIO *BIO_dup_chain(BIO *b);
%inline %{
/* A BIO on a Python file object's descriptor (flushed first).  With close_flag, the BIO owns a
 * duplicate of the descriptor and closes it when freed; otherwise the file stays the owner. */
static BIO *bio_new_pyfile(PyObject *pyfile, int close_flag) {
    PyObject *r;
    long fd;
    BIO *b;
    if (!(r = PyObject_CallMethod(pyfile, "flush", NULL))) return NULL;
    Py_DECREF(r);
    if (!(r = PyObject_CallMethod(pyfile, "fileno", NULL))) return NULL;
    fd = PyLong_AsLong(r);
    Py_DECREF(r);
    if (fd == -1 && PyErr_Occurred()) return NULL;
    if (close_flag && (fd = dup((int)fd)) < 0) return (BIO *)PyErr_SetFromErrno(PyExc_OSError);
    if (!(b = BIO_new_fd((int)fd, close_flag ? BIO_CLOSE : BIO_NOCLOSE))) {
        if (close_flag) close((int)fd);
        m2_raise_msg(M2_BIO, "BIO_new_fd failed");
    }
    return b;
}
%}
