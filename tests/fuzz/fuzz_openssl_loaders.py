"""M2Sec's wrappers of OpenSSL's loaders (X509, CRL, request, PKCS#7, S/MIME, PKCS#12, CMS in
DER, PEM and S/MIME, OCSP requests and responses), and the accessors a caller uses next: the point is M2Sec's ownership and error paths around
OpenSSL's parsers (every object freed once, the error queue left empty, one exception class)."""
from _harness import main

from M2Sec import BIO, CMS, OCSP, PKCS12, SMIME, X509, m2
from M2Sec.Err import M2SecError

EXPECTED = (M2SecError, ValueError)  # OCSP's, CMS's and PKCS12's errors are M2SecErrors


def _cert(c: X509.X509) -> None:
    c.get_subject().as_text()
    c.get_issuer().as_der()
    c.get_serial_number()
    c.get_not_before()
    c.get_not_after()
    for i in range(min(c.get_ext_count(), 8)):
        ext = c.get_ext_at(i)
        ext.get_name()
        ext.get_value()
    c.as_der()
    c.as_text()
    c.get_fingerprint("sha256")


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, data = data[0] % 15, data[1:]
    if mode == 0:
        _cert(X509.load_cert_string(data))
    elif mode == 1:
        _cert(X509.load_cert_der_string(data))
    elif mode == 2:
        X509.load_crl_string(data).as_text()
    elif mode == 3:
        X509.load_crl_der_string(data).as_text()
    elif mode == 4:
        req = X509.load_request_string(data)
        req.get_subject().as_text()
        req.as_text()
    elif mode == 5:
        X509.load_request_der_string(data).as_der()
    elif mode == 6:
        p7 = SMIME.load_pkcs7_bio(BIO.MemoryBuffer(data))
        p7.type()
        p7.get0_signers(X509.X509_Stack())
    elif mode == 7:
        SMIME.load_pkcs7_bio_der(BIO.MemoryBuffer(data)).type()
    elif mode == 8:
        p7, content = SMIME.smime_load_pkcs7_bio(BIO.MemoryBuffer(data))
        p7.type()
        if content is not None:
            content.read()
        for c in X509.new_stack_from_der(data) if data[:1] == b"0" else []:
            _cert(c)
    elif mode == 9:  # the password: none, or the seeds' "pw" (so that the bags inside are read too)
        p12 = PKCS12.load_pkcs12(data[1:], b"pw" if data[:1] == b"p" else None, max_iterations=20000)
        if p12.key is not None:
            p12.key.size()
        for c in ([p12.cert] if p12.cert else []) + p12.additional_certs:
            c.friendly_name
            _cert(c.certificate)
    elif mode in (10, 11, 12):
        if mode == 10:
            ci = CMS.load_der(data)
        elif mode == 11:
            ci = CMS.load_pem(data)
        else:
            ci, content = CMS.load_smime(data)
            if content is not None:
                content.read()
        _cms(ci)
    elif mode == 13:
        _ocsp_response(OCSP.load_response_der(data))
    else:
        req = OCSP.load_request_der(data)
        req.nonce
        req.is_signed
        for cid in req.cert_ids:
            repr(cid)
        req.to_der()


def _cms(ci: CMS.ContentInfo) -> None:
    ci.type_name
    ci.detached
    for c in ci.certificates():
        _cert(c)
    for crl in ci.crls():
        crl.as_text()
    if ci.type == m2.CMS_SIGNED:
        ci.signer_infos()
    elif ci.type in (m2.CMS_ENVELOPED, m2.CMS_AUTH_ENVELOPED):
        ci.recipient_kinds()
    ci.to_der()


def _ocsp_response(resp: OCSP.Response) -> None:
    resp.response_status
    if resp.response_status != OCSP.ResponseStatus.SUCCESSFUL:
        return
    resp.produced_at
    resp.nonce
    resp.responder_key_hash
    resp.responder_name
    for c in resp.certificates:
        _cert(c)
    for cid, single in resp.responses:
        repr(cid)
        single.good
    resp.to_der()


if __name__ == "__main__":
    main(one_input, EXPECTED)
