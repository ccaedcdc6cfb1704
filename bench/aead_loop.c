/* aead_loop: the C limit of per-message encryption for `make bench`.  Mode "keyed": one keyed
 * EVP_CIPHER_CTX per run (as EVP.AESGCM keeps one), then per message a new IV, one pass and
 * the tag.  Mode "fresh": per message a new context keyed from scratch, one pass, the tag (AEAD
 * ciphers only) and its free (what EVP.Cipher does per message).
 * Usage: aead_loop keyed|fresh CIPHER SIZE SECONDS  ->  prints messages per CPU second. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <openssl/evp.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);   /* CPU time, as openssl speed counts */
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    unsigned char key[32] = {1}, iv[16] = {2}, tag[16];
    unsigned char *in, *out;
    EVP_CIPHER *c;
    EVP_CIPHER_CTX *ctx;
    long size, count = 0, i;
    double secs, start, el;
    int n, m, fresh, aead;
    if (argc != 5) { fprintf(stderr, "usage: aead_loop keyed|fresh CIPHER SIZE SECONDS\n"); return 2; }
    fresh = argv[1][0] == 'f';
    argv++;
    size = atol(argv[2]);
    secs = atof(argv[3]);
    in = calloc(1, size + 1);
    out = malloc(size + 16);
    c = EVP_CIPHER_fetch(NULL, argv[1], NULL);
    ctx = EVP_CIPHER_CTX_new();
    if (!in || !out || !c || !ctx || !EVP_CipherInit_ex2(ctx, c, key, NULL, 1, NULL)) {
        fprintf(stderr, "cannot set up %s\n", argv[1]);
        return 1;
    }
    aead = (EVP_CIPHER_get_flags(c) & EVP_CIPH_FLAG_AEAD_CIPHER) != 0;
    start = now();
    do {
        for (i = 0; i < 64; i++) {
            iv[0]++;
            if (fresh) {
                EVP_CIPHER_CTX_free(ctx);
                if (!(ctx = EVP_CIPHER_CTX_new()) || !EVP_CipherInit_ex2(ctx, c, key, iv, 1, NULL)) return 1;
            } else if (!EVP_CipherInit_ex2(ctx, NULL, NULL, iv, 1, NULL)) return 1;
            if (!EVP_CipherUpdate(ctx, out, &n, in, (int)size)
                || !EVP_CipherFinal_ex(ctx, out + n, &m)
                || (aead && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) <= 0)) return 1;
        }
        count += 64;
        el = now() - start;
    } while (el < secs);
    printf("%.0f\n", count / el);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    free(in);
    free(out);
    return 0;
}
