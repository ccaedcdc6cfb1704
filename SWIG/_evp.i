/* _evp.i: EVP digests, ciphers and keys (EVP_MD, EVP_CIPHER, EVP_PKEY). */
%{
#include <openssl/evp.h>
%}

M2_NONNULL(EVP_CIPHER *)
M2_NONNULL(const EVP_CIPHER *)
M2_NONNULL(EVP_PKEY *)
M2_AREA_INIT(evp_init, M2_EVP)

%constant int PKCS5_SALT_LEN = PKCS5_SALT_LEN;

/* M2Crypto's cipher getters: m2.aes_128_cbc() is EVP_aes_128_cbc(), ... */
%define M2_CIPHER(NAME)
%rename(NAME) EVP_ ## NAME;
const EVP_CIPHER *EVP_ ## NAME(void);
%enddef
M2_CIPHER(des_ecb) M2_CIPHER(des_cbc) M2_CIPHER(des_cfb) M2_CIPHER(des_ofb)
M2_CIPHER(des_ede_ecb) M2_CIPHER(des_ede_cbc) M2_CIPHER(des_ede_cfb) M2_CIPHER(des_ede_ofb)
M2_CIPHER(des_ede3_ecb) M2_CIPHER(des_ede3_cbc) M2_CIPHER(des_ede3_cfb) M2_CIPHER(des_ede3_ofb)
M2_CIPHER(bf_ecb) M2_CIPHER(bf_cbc) M2_CIPHER(bf_cfb) M2_CIPHER(bf_ofb)
M2_CIPHER(cast5_ecb) M2_CIPHER(cast5_cbc) M2_CIPHER(cast5_cfb) M2_CIPHER(cast5_ofb)
M2_CIPHER(rc4) M2_CIPHER(rc2_40_cbc)
M2_CIPHER(aes_128_ecb) M2_CIPHER(aes_128_cbc) M2_CIPHER(aes_128_cfb) M2_CIPHER(aes_128_ofb) M2_CIPHER(aes_128_ctr)
M2_CIPHER(aes_192_ecb) M2_CIPHER(aes_192_cbc) M2_CIPHER(aes_192_cfb) M2_CIPHER(aes_192_ofb) M2_CIPHER(aes_192_ctr)
M2_CIPHER(aes_256_ecb) M2_CIPHER(aes_256_cbc) M2_CIPHER(aes_256_cfb) M2_CIPHER(aes_256_ofb) M2_CIPHER(aes_256_ctr)
M2_CIPHER(aes_128_gcm) M2_CIPHER(aes_192_gcm) M2_CIPHER(aes_256_gcm)
M2_CIPHER(chacha20_poly1305)

%rename(pkey_new) EVP_PKEY_new;
EVP_PKEY *EVP_PKEY_new(void);
%rename(pkey_free) EVP_PKEY_free;
void EVP_PKEY_free(EVP_PKEY *pkey);
%rename(pkey_size) EVP_PKEY_get_size;
int EVP_PKEY_get_size(const EVP_PKEY *pkey);
%rename(pkey_bits) EVP_PKEY_get_bits;
int EVP_PKEY_get_bits(const EVP_PKEY *pkey);
%rename(pkey_get_id) EVP_PKEY_get_id;
int EVP_PKEY_get_id(const EVP_PKEY *pkey);
%rename(pkey_get_base_id) EVP_PKEY_get_base_id;
int EVP_PKEY_get_base_id(const EVP_PKEY *pkey);

%inline %{
/* The key's public half as DER SubjectPublicKeyInfo. */
static PyObject *pkey_get1_der_pub(EVP_PKEY *pkey) {
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pkey, &der);
    PyObject *v;
    if (n < 0) return m2_raise_msg(M2_EVP, "cannot encode the public key");
    v = PyBytes_FromStringAndSize((const char *)der, n);
    OPENSSL_free(der);
    return v;
}
%}
