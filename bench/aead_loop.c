/* aead_loop: the C limit of bench/evp_msg.py's rows, the same OpenSSL calls in C.
 *   keyed  CIPHER: one keyed EVP_CIPHER_CTX per run (as EVP.AESGCM keeps one), then per message
 *          a new IV, one pass and the tag;
 *   fresh  CIPHER: per message a new context keyed from scratch, one pass, the tag (AEAD
 *          ciphers only) and its free (what EVP.Cipher does per message);
 *   stream CIPHER: one context, one EVP_CipherUpdate per buffer (Cipher.update on a stream);
 *   digest DIGEST: one context, one EVP_DigestUpdate per buffer (MessageDigest.update).
 * Usage: aead_loop MODE NAME SIZE SECONDS  ->  prints messages (buffers) per CPU second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);   /* CPU time, as openssl speed counts */
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int digest_loop(const char *name, long size, double secs) {
    unsigned char *in = calloc(1, size + 1), out[EVP_MAX_MD_SIZE];
    EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    long count = 0, i;
    double start, el;
    if (!in || !md || !ctx || !EVP_DigestInit_ex2(ctx, md, NULL)) { fprintf(stderr, "cannot set up %s\n", name); return 1; }
    start = now();
    do {
        for (i = 0; i < 256; i++)
            if (!EVP_DigestUpdate(ctx, in, (size_t)size)) return 1;
        count += 256;
        el = now() - start;
    } while (el < secs);
    if (!EVP_DigestFinal_ex(ctx, out, NULL)) return 1;
    printf("%.0f\n", count / el);
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    free(in);
    return 0;
}

int main(int argc, char **argv) {
    unsigned char key[32] = {1}, iv[16] = {2}, tag[16];
    unsigned char *in, *out;
    EVP_CIPHER *c;
    EVP_CIPHER_CTX *ctx;
    long size, count = 0, i;
    double secs, start, el;
    int n, m, fresh, stream, aead;
    if (argc != 5) { fprintf(stderr, "usage: aead_loop keyed|fresh|stream|digest NAME SIZE SECONDS\n"); return 2; }
    size = atol(argv[3]);
    secs = atof(argv[4]);
    if (strcmp(argv[1], "digest") == 0) return digest_loop(argv[2], size, secs);
    fresh = strcmp(argv[1], "fresh") == 0;
    stream = strcmp(argv[1], "stream") == 0;
    argv++;
    in = calloc(1, size + 1);
    out = malloc(size + 16);
    c = EVP_CIPHER_fetch(NULL, argv[1], NULL);
    ctx = EVP_CIPHER_CTX_new();
    if (!in || !out || !c || !ctx || !EVP_CipherInit_ex2(ctx, c, key, iv, 1, NULL)) {
        fprintf(stderr, "cannot set up %s\n", argv[1]);
        return 1;
    }
    aead = (EVP_CIPHER_get_flags(c) & EVP_CIPH_FLAG_AEAD_CIPHER) != 0;
    start = now();
    do {
        for (i = 0; i < 64; i++) {
            if (stream) {
                if (!EVP_CipherUpdate(ctx, out, &n, in, (int)size)) return 1;
                continue;
            }
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
