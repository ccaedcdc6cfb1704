/* _pkcs12.i: PKCS#12 files (RFC 7292), read with a bounded cost and written.
 *
 * Reading walks the file itself (PKCS12_unpack_authsafes and the bag API) instead of calling
 * PKCS12_parse, so that every key-derivation iteration count (the MAC's, each encrypted
 * SafeContents', each shrouded key's) and the number of bags are checked before OpenSSL spends
 * the time: a hostile file cannot ask for 2^31 iterations or 10,000 bags.
 */
%{
#include <stdint.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
%}

M2_AREA_INIT(pkcs12_init, M2_PKCS12)
M2_AREA_INIT(pkcs12_password_init, M2_PKCS12_PASSWORD)

%constant int NID_aes_256_cbc = NID_aes_256_cbc;
%constant int NID_pbe_WithSHA1And3_Key_TripleDES_CBC = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
%constant int NID_pbe_WithSHA1And40BitRC2_CBC = NID_pbe_WithSHA1And40BitRC2_CBC;

%typemap(check) X509 *optional_cert "";

%{
/* One walk over a PKCS#12 file: the limits, what was spent, and what was found. */
typedef struct {
    const char *pass;
    int passlen;
    long max_bags, bags;
    int mac_ok;
    int64_t max_iter, budget, spent;
    EVP_PKEY *key;
    PyObject *key_name;     /* bytes or None */
    PyObject *certs;        /* [(X509 pointer, friendly name, localKeyID)] */
} m2_p12_walk;

/* The iteration count (or scrypt cost) an encryption AlgorithmIdentifier asks for: PKCS#12
 * PBE, or PBES2 with PBKDF2 or scrypt; -1 when its parameters cannot be read. */
static int64_t m2_pbe_cost(const X509_ALGOR *alg) {
    int64_t n = -1;
    const ASN1_INTEGER *it = NULL;
    PBEPARAM *pbe = NULL;
    PBE2PARAM *pbe2 = NULL;
    PBKDF2PARAM *kdf = NULL;
    SCRYPT_PARAMS *sp = NULL;
    if (!alg || !alg->parameter) return -1;
    if (OBJ_obj2nid(alg->algorithm) != NID_pbes2) {
        if (!(pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter))) goto err;
        it = pbe->iter;
    } else {
        if (!(pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter))
            || !pbe2->keyfunc || !pbe2->keyfunc->parameter) goto err;
        if (OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2) {
            if (!(kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter))) goto err;
            it = kdf->iter;
        } else if (OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_scrypt) {
            if (!(sp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS), pbe2->keyfunc->parameter))) goto err;
            it = sp->costParameter;
        } else {
            goto err;
        }
    }
    if (!it)
        n = 1;
    else if (!ASN1_INTEGER_get_int64(&n, it) || n < 1)
        n = INT64_MAX;  /* beyond 63 bits, or nonsense: more than any limit */
err:
    PBEPARAM_free(pbe);
    PBE2PARAM_free(pbe2);
    PBKDF2PARAM_free(kdf);
    SCRYPT_PARAMS_free(sp);
    return n;
}

/* Charge one key derivation of n iterations to the walk; 0 with PKCS12Error past a limit. */
static int m2_p12_charge(m2_p12_walk *w, int64_t n, const char *what) {
    char msg[200];
    if (n < 0) {
        snprintf(msg, sizeof(msg), "unreadable key-derivation parameters in the %s", what);
        m2_raise_msg(M2_PKCS12, msg);
        return 0;
    }
    if (n > w->max_iter) {
        snprintf(msg, sizeof(msg), "the %s asks for %lld key-derivation iterations, more than the limit of %lld",
                 what, (long long)n, (long long)w->max_iter);
        m2_raise_msg(M2_PKCS12, msg);
        return 0;
    }
    w->spent += n;
    if (w->spent > w->budget) {
        snprintf(msg, sizeof(msg), "the file asks for more than %lld key-derivation iterations in all", (long long)w->budget);
        m2_raise_msg(M2_PKCS12, msg);
        return 0;
    }
    return 1;
}

static int m2_p12_count(m2_p12_walk *w, long n) {
    char msg[160];
    w->bags += n;
    if (w->bags > w->max_bags) {
        snprintf(msg, sizeof(msg), "the file holds more than %ld bags (the limit)", w->max_bags);
        m2_raise_msg(M2_PKCS12, msg);
        return 0;
    }
    return 1;
}

/* A bag attribute as bytes: the friendly name as UTF-8, the localKeyID as its octets; None if absent. */
static PyObject *m2_p12_name(const PKCS12_SAFEBAG *bag) {
    char *s = PKCS12_get_friendlyname((PKCS12_SAFEBAG *)bag);
    PyObject *v;
    if (!s) { ERR_clear_error(); Py_RETURN_NONE; }
    v = PyBytes_FromString(s);
    OPENSSL_free(s);
    return v;
}

static PyObject *m2_p12_keyid(const PKCS12_SAFEBAG *bag) {
    const ASN1_TYPE *t = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID);
    if (!t || t->type != V_ASN1_OCTET_STRING) Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)ASN1_STRING_get0_data(t->value.octet_string),
                                     ASN1_STRING_length(t->value.octet_string));
}

static int m2_p12_bags(m2_p12_walk *w, const STACK_OF(PKCS12_SAFEBAG) *bags, int depth);

static int m2_p12_bag(m2_p12_walk *w, const PKCS12_SAFEBAG *bag, int depth) {
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    PyObject *t = NULL;
    int ok = 0;
    switch (PKCS12_SAFEBAG_get_nid(bag)) {
    case NID_keyBag:
    case NID_pkcs8ShroudedKeyBag:
        if (w->key) return 1;  /* the first key is the file's key, as PKCS12_parse has it */
        if (PKCS12_SAFEBAG_get_nid(bag) == NID_keyBag) {
            key = EVP_PKCS82PKEY(PKCS12_SAFEBAG_get0_p8inf(bag));
        } else {
            const X509_ALGOR *alg = NULL;
            X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
            if (!m2_p12_charge(w, m2_pbe_cost(alg), "shrouded key")) return 0;
            M2_ALLOW
            p8 = PKCS12_decrypt_skey(bag, w->pass, w->passlen);
            M2_DISALLOW
            if (!p8 && !w->mac_ok && w->passlen == 0 && w->pass == NULL) {
                /* no MAC told which empty password: try "" too */
                if (!m2_p12_charge(w, m2_pbe_cost(alg), "shrouded key")) return 0;
                ERR_clear_error();
                w->pass = "";
                M2_ALLOW
                p8 = PKCS12_decrypt_skey(bag, w->pass, w->passlen);
                M2_DISALLOW
            }
            if (!p8) {
                m2_raise_msg(w->mac_ok ? M2_PKCS12 : M2_PKCS12_PASSWORD, w->mac_ok ? "cannot decrypt the private key (unsupported algorithm?)"
                                                                                : "cannot decrypt the private key: wrong password?");
                return 0;
            }
            key = EVP_PKCS82PKEY(p8);
            PKCS8_PRIV_KEY_INFO_free(p8);
        }
        if (!key) { m2_raise_msg(M2_PKCS12, "cannot read the private key"); return 0; }
        if (!(w->key_name = m2_p12_name(bag))) { EVP_PKEY_free(key); return 0; }
        w->key = key;
        return 1;
    case NID_certBag:
        if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate) return 1;  /* SDSI certificates */
        if (!(x = PKCS12_SAFEBAG_get1_cert(bag))) { m2_raise_msg(M2_PKCS12, "cannot read a certificate"); return 0; }
        if (!(t = Py_BuildValue("(NNN)", SWIG_NewPointerObj(x, SWIGTYPE_p_X509, 0), m2_p12_name(bag), m2_p12_keyid(bag))))
            goto err;
        x = NULL;  /* the list owns it now: Python wraps it */
        ok = PyList_Append(w->certs, t) == 0;
        break;
    case NID_safeContentsBag:
        if (depth >= 3) { m2_raise_msg(M2_PKCS12, "SafeContents nested too deep"); return 0; }
        return m2_p12_bags(w, PKCS12_SAFEBAG_get0_safes(bag), depth + 1);
    default:
        return 1;  /* CRL and secret bags are counted, not kept */
    }
err:
    X509_free(x);
    Py_XDECREF(t);
    return ok;
}

static int m2_p12_bags(m2_p12_walk *w, const STACK_OF(PKCS12_SAFEBAG) *bags, int depth) {
    int i;
    if (!bags) { m2_raise_msg(M2_PKCS12, "malformed SafeContents"); return 0; }
    if (!m2_p12_count(w, sk_PKCS12_SAFEBAG_num(bags))) return 0;
    for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++)
        if (!m2_p12_bag(w, sk_PKCS12_SAFEBAG_value(bags, i), depth)) return 0;
    return 1;
}

/* Verify the MAC with the password; with an empty one, as no password (NULL) or as "" (both
 * are found in the wild).  Sets w->pass to the one that verified.  1, 0 (computed and
 * different: a wrong password), -1 (raised: past a limit, or the MAC cannot be computed). */
static int m2_p12_verify_mac(m2_p12_walk *w, PKCS12 *p12) {
    const ASN1_INTEGER *iter = NULL;
    int64_t n = 1;
    int ok;
    PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
    if (iter && (!ASN1_INTEGER_get_int64(&n, iter) || n < 1)) n = INT64_MAX;
    if (!m2_p12_charge(w, n, "MAC")) return -1;
    if (w->passlen == 0) {
        M2_ALLOW
        ok = PKCS12_verify_mac(p12, NULL, 0);
        M2_DISALLOW
        if (ok) { w->pass = NULL; return 1; }
        if (ERR_peek_error()) goto err;
        if (!m2_p12_charge(w, n, "MAC")) return -1;
        w->pass = "";
    }
    M2_ALLOW
    ok = PKCS12_verify_mac(p12, w->pass, w->passlen);
    M2_DISALLOW
    if (ok) return 1;
    if (!ERR_peek_error()) return 0;  /* computed, and different: the password */
err:
    m2_raise_msg(M2_PKCS12, "cannot compute the MAC (unsupported algorithm?)");
    return -1;
}
%}

%apply (const void *buf, Py_ssize_t len) { (const void *pass, Py_ssize_t passlen) };
M2_NULLABLE_STR(mac_md)

%inline %{
/* Read a DER PKCS#12 file: (key pointer or None, the key's friendly name, [(X509 pointer,
 * friendly name, localKeyID)], index of the key's certificate or -1).  The caller owns every
 * pointer returned.  PKCS12PasswordError for a wrong password (a MAC that does not verify, or
 * an encrypted part that does not decrypt when there is no MAC); PKCS12Error for a malformed
 * file or one past max_bags bags or max_iter iterations in one derivation (4 * max_iter in all). */
static PyObject *pkcs12_load(const void *der, Py_ssize_t derlen, const void *pass, Py_ssize_t passlen,
                             long max_bags, long long max_iter) {
    const unsigned char *p = der;
    PKCS12 *p12 = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    PyObject *v = NULL, *keyobj = NULL;
    m2_p12_walk w;
    int i, mac_ok = 0, match = -1;
    if (passlen > INT_MAX / 2) { PyErr_SetString(PyExc_ValueError, "password too long"); return NULL; }
    memset(&w, 0, sizeof(w));
    w.pass = passlen ? (const char *)pass : NULL;
    w.passlen = (int)passlen;
    w.max_bags = max_bags;
    w.max_iter = max_iter;
    w.budget = max_iter > INT64_MAX / 4 ? INT64_MAX : 4 * max_iter;
    if (!(w.certs = PyList_New(0))) return NULL;
    if (!(p12 = d2i_PKCS12(NULL, &p, (long)derlen)) || p != (const unsigned char *)der + derlen) {
        m2_raise_msg(M2_PKCS12, p12 ? "trailing data after the PKCS#12 structure" : "not a DER PKCS#12 file (truncated or malformed?)");
        goto err;
    }
    if (PKCS12_mac_present(p12)) {
        int r = m2_p12_verify_mac(&w, p12);
        if (r < 0) goto err;
        if (!r) { m2_raise_msg(M2_PKCS12_PASSWORD, "wrong password, or the file was altered (the MAC does not verify)"); goto err; }
        mac_ok = w.mac_ok = 1;
    }
    if (!(safes = PKCS12_unpack_authsafes(p12))) { m2_raise_msg(M2_PKCS12, "cannot read the PKCS#12 contents"); goto err; }
    if (!m2_p12_count(&w, sk_PKCS7_num(safes))) goto err;
    for (i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        int nid = OBJ_obj2nid(p7->type);
        if (nid == NID_pkcs7_data) {
            bags = PKCS12_unpack_p7data(p7);
        } else if (nid == NID_pkcs7_encrypted) {
            if (!p7->d.encrypted || !p7->d.encrypted->enc_data) { m2_raise_msg(M2_PKCS12, "malformed encrypted contents"); goto err; }
            if (!m2_p12_charge(&w, m2_pbe_cost(p7->d.encrypted->enc_data->algorithm), "encrypted contents")) goto err;
            M2_ALLOW
            bags = PKCS12_unpack_p7encdata(p7, w.pass, w.passlen);
            M2_DISALLOW
            if (!bags && !mac_ok && w.passlen == 0 && w.pass == NULL) {
                /* no MAC told which empty password: try "" too */
                if (!m2_p12_charge(&w, m2_pbe_cost(p7->d.encrypted->enc_data->algorithm), "encrypted contents")) goto err;
                ERR_clear_error();
                w.pass = "";
                M2_ALLOW
                bags = PKCS12_unpack_p7encdata(p7, w.pass, w.passlen);
                M2_DISALLOW
            }
            if (!bags) {
                m2_raise_msg(mac_ok ? M2_PKCS12 : M2_PKCS12_PASSWORD,
                             mac_ok ? "cannot decrypt the certificates (unsupported algorithm?)"
                                    : "cannot decrypt the certificates: wrong password?");
                goto err;
            }
        } else {
            m2_raise_msg(M2_PKCS12, "unsupported PKCS#12 content type (public-key privacy mode?)");
            goto err;
        }
        if (!bags) { m2_raise_msg(M2_PKCS12, "cannot read the PKCS#12 bags"); goto err; }
        if (!m2_p12_bags(&w, bags, 0)) goto err;
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        bags = NULL;
    }
    /* the key's certificate: the first one whose public key matches */
    for (i = 0; w.key && i < PyList_GET_SIZE(w.certs); i++) {
        void *xp = NULL;
        int ok;
        SWIG_ConvertPtr(PyTuple_GET_ITEM(PyList_GET_ITEM(w.certs, i), 0), &xp, SWIGTYPE_p_X509, 0);
        ERR_set_mark();
        ok = X509_check_private_key((X509 *)xp, w.key);
        ERR_pop_to_mark();
        if (ok) { match = i; break; }
    }
    if (w.key) {
        if (!(keyobj = SWIG_NewPointerObj(w.key, SWIGTYPE_p_EVP_PKEY, 0))) goto err;
        w.key = NULL;
    } else {
        keyobj = Py_NewRef(Py_None);
    }
    v = Py_BuildValue("(NOOi)", keyobj, w.key_name ? w.key_name : Py_None, w.certs, match);
    if (!v) goto err;
    Py_CLEAR(w.certs);
err:
    if (w.certs) {  /* failure: free the certificates found so far */
        for (i = 0; i < PyList_GET_SIZE(w.certs); i++) {
            void *xp = NULL;
            if (SWIG_IsOK(SWIG_ConvertPtr(PyTuple_GET_ITEM(PyList_GET_ITEM(w.certs, i), 0), &xp, SWIGTYPE_p_X509, 0)))
                X509_free((X509 *)xp);
        }
        Py_DECREF(w.certs);
    }
    Py_XDECREF(w.key_name);
    EVP_PKEY_free(w.key);
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
    return v;
}

/* The certificate's bag (with its friendly name and, for the key's certificate, localKeyID). */
static int m2_p12_add_cert(STACK_OF(PKCS12_SAFEBAG) **bags, X509 *x, PyObject *name, const unsigned char *keyid, unsigned int keyidlen) {
    PKCS12_SAFEBAG *bag = PKCS12_add_cert(bags, x);
    if (!bag) return 0;
    if (name != Py_None && !PKCS12_add_friendlyname_utf8(bag, PyBytes_AS_STRING(name), (int)PyBytes_GET_SIZE(name))) return 0;
    if (keyid && !PKCS12_add_localkeyid(bag, (unsigned char *)keyid, (int)keyidlen)) return 0;
    return 1;
}

/* A DER PKCS#12 file holding key (may be None), cert (may be None) and cas, each certificate
 * with the friendly name given (name for key and cert, names[i] for cas[i]; bytes or None).
 * key_nid / cert_nid: the PBE (or cipher, for PBES2 with PBKDF2-HMAC-SHA256) encrypting the
 * key and the certificates, -1 for none; mac_md: the MAC's digest, or None for no MAC.
 * password: bytes, or None for no password (nothing may be encrypted then, and the MAC is
 * keyed with the empty password, as `openssl pkcs12 -passout pass:` does). */
static PyObject *pkcs12_create(PyObject *password, PyObject *name, EVP_PKEY *optional_pkey, X509 *optional_cert,
                               STACK_OF(X509) *cas, PyObject *names, int key_nid, int cert_nid, int iter,
                               int mac_iter, const char *mac_md) {
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL, *kbags = NULL;
    STACK_OF(PKCS7) *safes = NULL;
    PKCS12 *p12 = NULL;
    PKCS12_SAFEBAG *kbag;
    unsigned char keyid[EVP_MAX_MD_SIZE], *der = NULL;
    unsigned int keyidlen = 0;
    const char *pass = NULL;
    const EVP_MD *md = NULL;
    PyObject *v = NULL;
    int i, n, passlen = 0;
    if (password != Py_None) {
        if (!PyBytes_Check(password) || PyBytes_GET_SIZE(password) > INT_MAX / 2) { PyErr_SetString(PyExc_TypeError, "password must be bytes or None"); return NULL; }
        pass = PyBytes_AS_STRING(password);
        passlen = (int)PyBytes_GET_SIZE(password);
    }
    if ((name != Py_None && !PyBytes_Check(name)) || !PyList_Check(names) || PyList_GET_SIZE(names) != sk_X509_num(cas)) {
        PyErr_SetString(PyExc_TypeError, "names must be bytes or None, one for each certificate");
        return NULL;
    }
    for (i = 0; i < PyList_GET_SIZE(names); i++)
        if (PyList_GET_ITEM(names, i) != Py_None && !PyBytes_Check(PyList_GET_ITEM(names, i))) {
            PyErr_SetString(PyExc_TypeError, "friendly names must be bytes or None");
            return NULL;
        }
    if (mac_md && !(md = m2_get_md(mac_md, M2_PKCS12))) return NULL;
    if (optional_pkey && optional_cert) {
        if (!X509_check_private_key(optional_cert, optional_pkey)) { m2_raise_msg(M2_PKCS12, "the key does not match the certificate"); goto err; }
        if (!X509_digest(optional_cert, EVP_sha1(), keyid, &keyidlen)) { m2_raise(M2_PKCS12); goto err; }
    }
    if (optional_cert && !m2_p12_add_cert(&bags, optional_cert, name, keyidlen ? keyid : NULL, keyidlen)) goto fail;
    for (i = 0; i < sk_X509_num(cas); i++)
        if (!m2_p12_add_cert(&bags, sk_X509_value(cas, i), PyList_GET_ITEM(names, i), NULL, 0)) goto fail;
    M2_ALLOW
    n = !bags || PKCS12_add_safe(&safes, bags, cert_nid, iter, pass);
    M2_DISALLOW
    if (!n) goto fail;
    if (optional_pkey) {
        M2_ALLOW_USING(optional_pkey)
        kbag = PKCS12_add_key(&kbags, optional_pkey, 0, iter, key_nid, pass);
        M2_DISALLOW_USING
        if (!kbag) goto fail;
        if (name != Py_None && !PKCS12_add_friendlyname_utf8(kbag, PyBytes_AS_STRING(name), (int)PyBytes_GET_SIZE(name))) goto fail;
        if (keyidlen && !PKCS12_add_localkeyid(kbag, keyid, (int)keyidlen)) goto fail;
        if (!PKCS12_add_safe(&safes, kbags, -1, 0, NULL)) goto fail;
    }
    if (!safes) { PyErr_SetString(PyExc_ValueError, "nothing to put in the PKCS#12 file"); goto err; }
    if (!(p12 = PKCS12_add_safes(safes, 0))) goto fail;
    if (md) {
        M2_ALLOW
        n = PKCS12_set_mac(p12, pass ? pass : "", passlen, NULL, 0, mac_iter, md);  /* NSS wants a MAC even then */
        M2_DISALLOW
        if (!n) goto fail;
    }
    if ((n = i2d_PKCS12(p12, &der)) <= 0) goto fail;
    v = PyBytes_FromStringAndSize((const char *)der, n);
    goto err;
fail:
    m2_raise_msg(M2_PKCS12, "cannot make the PKCS#12 file");
err:
    OPENSSL_free(der);
    PKCS12_free(p12);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    sk_PKCS12_SAFEBAG_pop_free(kbags, PKCS12_SAFEBAG_free);
    return v;
}
%}
