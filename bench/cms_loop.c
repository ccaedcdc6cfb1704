/* The C limit for bench/cms.py: the same CMS calls M2Sec.CMS makes, in a loop.
 *   cms_loop OP SIZE SECONDS KEY CERT      OP: sign | verify | encrypt | decrypt
 * prints the operations per CPU second.  Built by bench/cms.py with the OpenSSL M2Sec links. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/buffer.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define BATCH 8

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);  /* CPU time: the machine is shared */
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static STACK_OF(X509_ALGOR) *caps(void) {
    static const int nids[] = {NID_aes_256_gcm, NID_aes_128_gcm, NID_aes_256_cbc, NID_aes_192_cbc, NID_aes_128_cbc};
    STACK_OF(X509_ALGOR) *sk = sk_X509_ALGOR_new_null();
    size_t i;
    for (i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) PKCS7_simple_smimecap(sk, nids[i], -1);
    return sk;
}

/* The DER of cms as M2Sec's CMS.to_der makes it: encoded straight into a buffer of its size. */
static unsigned char *der_of(CMS_ContentInfo *cms, long *len) {
    unsigned char *out, *p;
    *len = i2d_CMS_ContentInfo(cms, NULL);
    p = out = malloc(*len);
    i2d_CMS_ContentInfo(cms, &p);
    return out;
}

/* The output of decrypt as M2Sec makes it: a write-only BIO copying into a buffer allocated
 * beforehand with the expected size (the ciphertext's), as M2Sec writes into the bytes object
 * it returns; past that size it fails here (M2Sec's spills into a memory BIO). */
struct sink { char *p; size_t cap, len; };

static int sink_write(BIO *b, const char *in, int n) {
    struct sink *s = BIO_get_data(b);
    if (n <= 0 || (size_t)n > s->cap - s->len) return -1;
    memcpy(s->p + s->len, in, (size_t)n);
    s->len += (size_t)n;
    return n;
}

static long sink_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b; (void)num; (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO_METHOD *sink_method(void) {
    static BIO_METHOD *m;
    if (!m) {
        m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sink");
        BIO_meth_set_write(m, sink_write);
        BIO_meth_set_ctrl(m, sink_ctrl);
    }
    return m;
}

/* A memory BIO with room for n bytes, allocated as they are (as M2Sec's m2_cms_mem_new). */
static BIO *mem_with_room(size_t n) {
    BIO *b = BIO_new(BIO_s_mem());
    BUF_MEM *bm = BUF_MEM_new();
    bm->data = malloc(n);
    bm->max = n;
    BIO_set_mem_buf(b, bm, BIO_CLOSE);
    return b;
}

static CMS_ContentInfo *do_sign(const unsigned char *data, size_t size, X509 *cert, EVP_PKEY *key,
                                STACK_OF(X509_ALGOR) *cp, const EVP_MD *md) {
    BIO *in = BIO_new_mem_buf(data, (int)size);
    int flags = CMS_BINARY | CMS_DETACHED;
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, flags | CMS_PARTIAL);
    CMS_SignerInfo *si = CMS_add1_signer(cms, cert, key, md, flags | CMS_NOSMIMECAP);
    CMS_add_smimecap(si, cp);
    if (CMS_final(cms, in, NULL, flags) != 1) { ERR_print_errors_fp(stderr); exit(1); }
    BIO_free(in);
    return cms;
}

/* Encrypt as M2Sec does: the ciphertext gathered in a memory BIO with room for it (given to
 * CMS_final as dcont: CMS_dataFinal hands its buffer to the structure), not in the one
 * OpenSSL would grow by a third at each step. */
static CMS_ContentInfo *do_encrypt(const unsigned char *data, size_t size, X509 *rcpt, const EVP_CIPHER *c) {
    BIO *in = BIO_new_mem_buf(data, (int)size), *dcont = mem_with_room(size + EVP_MAX_BLOCK_LENGTH);
    CMS_ContentInfo *cms = CMS_encrypt(NULL, NULL, c, CMS_BINARY | CMS_PARTIAL);
    if (!CMS_add1_recipient_cert(cms, rcpt, CMS_BINARY) || CMS_final(cms, in, dcont, CMS_BINARY) != 1) {
        ERR_print_errors_fp(stderr);
        exit(1);
    }
    BIO_free(dcont);
    BIO_free(in);
    return cms;
}

/* One operation, as M2Sec makes it. */
static void one(const char *op, const unsigned char *data, size_t size, X509 *cert, EVP_PKEY *key,
                STACK_OF(X509_ALGOR) *cp, const EVP_MD *md, const EVP_CIPHER *cipher, X509_STORE *store,
                const unsigned char *der, long derlen) {
    CMS_ContentInfo *cms;
    long len;
    if (!strcmp(op, "sign") || !strcmp(op, "encrypt")) {
        cms = !strcmp(op, "sign") ? do_sign(data, size, cert, key, cp, md) : do_encrypt(data, size, cert, cipher);
        free(der_of(cms, &len));
    } else {
        const unsigned char *p = der;
        int r;
        cms = d2i_CMS_ContentInfo(NULL, &p, derlen);
        if (!strcmp(op, "verify")) {
            /* the detached content is the caller's: read, not copied out (out NULL) */
            BIO *dcont = BIO_new_mem_buf(data, (int)size);
            r = CMS_verify(cms, NULL, NULL, dcont, NULL, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY);
            if (r == 1) {  /* the chain, as M2Sec checks it: the message's certificates and CRLs */
                STACK_OF(X509) *signers = CMS_get0_signers(cms), *untrusted = CMS_get1_certs(cms);
                STACK_OF(X509_CRL) *crls = CMS_get1_crls(cms);
                X509_STORE_CTX *ctx = X509_STORE_CTX_new();
                X509_STORE_CTX_init(ctx, store, sk_X509_value(signers, 0), untrusted);
                X509_STORE_CTX_set_default(ctx, "smime_sign");
                if (crls) X509_STORE_CTX_set0_crls(ctx, crls);
                r = X509_verify_cert(ctx);
                X509_STORE_CTX_free(ctx);
                sk_X509_pop_free(untrusted, X509_free);
                sk_X509_CRL_pop_free(crls, X509_CRL_free);
                sk_X509_free(signers);
            }
            BIO_free(dcont);
        } else {
            ASN1_OCTET_STRING **pos = CMS_get0_content(cms);
            struct sink s = {NULL, 0, 0};
            BIO *out = BIO_new(sink_method());
            s.cap = (size_t)ASN1_STRING_length(*pos);
            s.p = malloc(s.cap);
            BIO_set_data(out, &s);
            BIO_set_init(out, 1);
            r = CMS_decrypt(cms, key, cert, NULL, out, CMS_BINARY);
            BIO_free(out);
            free(s.p);
        }
        if (r != 1) { ERR_print_errors_fp(stderr); exit(1); }
    }
    CMS_ContentInfo_free(cms);
}

int main(int argc, char **argv) {
    const char *op;
    size_t size;
    double seconds, start;
    long n = 0, derlen = 0;
    unsigned char *data, *der = NULL;
    X509 *cert;
    EVP_PKEY *key;
    FILE *f;
    STACK_OF(X509_ALGOR) *cp = caps();
    X509_STORE *store = X509_STORE_new();
    const EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    const EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (argc != 6) { fprintf(stderr, "usage: cms_loop OP SIZE SECONDS KEY CERT\n"); return 2; }
    op = argv[1];
    size = strtoul(argv[2], NULL, 10);
    seconds = atof(argv[3]);
    f = fopen(argv[4], "r"); key = PEM_read_PrivateKey(f, NULL, NULL, NULL); fclose(f);
    f = fopen(argv[5], "r"); cert = PEM_read_X509(f, NULL, NULL, NULL); fclose(f);
    X509_STORE_add_cert(store, cert);
    data = malloc(size);
    memset(data, 'x', size);
    if (!strcmp(op, "verify")) { CMS_ContentInfo *c = do_sign(data, size, cert, key, cp, md); der = der_of(c, &derlen); CMS_ContentInfo_free(c); }
    if (!strcmp(op, "decrypt")) { CMS_ContentInfo *c = do_encrypt(data, size, cert, cipher); der = der_of(c, &derlen); CMS_ContentInfo_free(c); }
    /* warm-up, untimed: the allocator settles (glibc raises its mmap threshold once a large
     * block is freed), as it has in the long-running Python process measured beside this */
    start = now();
    do one(op, data, size, cert, key, cp, md, cipher, store, der, derlen);
    while (now() - start < seconds / 4);
    start = now();
    do {  /* the clock read every BATCH operations (a system call), as bench/cms.py reads it */
        int i;
        for (i = 0; i < BATCH; i++) one(op, data, size, cert, key, cp, md, cipher, store, der, derlen);
        n += BATCH;
    } while (now() - start < seconds);
    printf("%.3f\n", n / (now() - start));
    return 0;
}
