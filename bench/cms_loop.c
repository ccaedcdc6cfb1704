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

/* The output BIO of verify/decrypt as M2Sec makes it: room reserved for the content (the
 * detached content's size, or the ciphertext's). */
static BIO *out_bio(CMS_ContentInfo *cms, size_t detached) {
    BIO *b = BIO_new(BIO_s_mem());
    BUF_MEM *bm = BUF_MEM_new();
    ASN1_OCTET_STRING **pos = CMS_get0_content(cms);
    size_t n = detached ? detached : pos && *pos ? (size_t)ASN1_STRING_length(*pos) : 0;
    if (n && BUF_MEM_grow(bm, n)) {
        bm->length = 0;
        BIO_set_mem_buf(b, bm, BIO_CLOSE);
    } else {
        BUF_MEM_free(bm);
    }
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

static CMS_ContentInfo *do_encrypt(const unsigned char *data, size_t size, STACK_OF(X509) *rcpt, const EVP_CIPHER *c) {
    BIO *in = BIO_new_mem_buf(data, (int)size);
    CMS_ContentInfo *cms = CMS_encrypt(rcpt, in, c, CMS_BINARY);
    if (!cms) { ERR_print_errors_fp(stderr); exit(1); }
    BIO_free(in);
    return cms;
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
    STACK_OF(X509) *rcpt = sk_X509_new_null();
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
    sk_X509_push(rcpt, cert);
    X509_STORE_add_cert(store, cert);
    data = malloc(size);
    memset(data, 'x', size);
    if (!strcmp(op, "verify")) { CMS_ContentInfo *c = do_sign(data, size, cert, key, cp, md); der = der_of(c, &derlen); CMS_ContentInfo_free(c); }
    if (!strcmp(op, "decrypt")) { CMS_ContentInfo *c = do_encrypt(data, size, rcpt, cipher); der = der_of(c, &derlen); CMS_ContentInfo_free(c); }
    start = now();
    do {
        CMS_ContentInfo *cms;
        long len;
        if (!strcmp(op, "sign") || !strcmp(op, "encrypt")) {
            cms = !strcmp(op, "sign") ? do_sign(data, size, cert, key, cp, md) : do_encrypt(data, size, rcpt, cipher);
            free(der_of(cms, &len));
        } else {
            const unsigned char *p = der;
            BIO *out;
            int r;
            cms = d2i_CMS_ContentInfo(NULL, &p, derlen);
            out = out_bio(cms, !strcmp(op, "verify") ? size : 0);
            if (!strcmp(op, "verify")) {
                BIO *dcont = BIO_new_mem_buf(data, (int)size);
                r = CMS_verify(cms, NULL, store, dcont, out, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY);
                if (r == 1) {  /* the chain, as M2Sec checks it */
                    STACK_OF(X509) *signers = CMS_get0_signers(cms);
                    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
                    X509_STORE_CTX_init(ctx, store, sk_X509_value(signers, 0), NULL);
                    X509_STORE_CTX_set_default(ctx, "smime_sign");
                    X509_verify_cert(ctx);
                    X509_STORE_CTX_free(ctx);
                    sk_X509_free(signers);
                }
                BIO_free(dcont);
            } else {
                r = CMS_decrypt(cms, key, cert, NULL, out, CMS_BINARY);
            }
            if (r != 1) { ERR_print_errors_fp(stderr); return 1; }
            BIO_free(out);
        }
        CMS_ContentInfo_free(cms);
        n++;
    } while (now() - start < seconds);
    printf("%.3f\n", n / (now() - start));
    return 0;
}
