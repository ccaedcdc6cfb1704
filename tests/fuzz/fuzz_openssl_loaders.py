"""M2Sec's wrappers of OpenSSL's loaders (X509, CRL, request, PKCS#7, S/MIME), PEM and DER,
and the accessors a caller uses next: the point is M2Sec's ownership and error paths around
OpenSSL's parsers (every object freed once, the error queue left empty, one exception class)."""
from _harness import main

from M2Sec import BIO, SMIME, X509
from M2Sec.Err import M2SecError

EXPECTED = (M2SecError, ValueError)


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
    mode, data = data[0] % 9, data[1:]
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
    else:
        p7, content = SMIME.smime_load_pkcs7_bio(BIO.MemoryBuffer(data))
        p7.type()
        if content is not None:
            content.read()
        for c in X509.new_stack_from_der(data) if data[:1] == b"0" else []:
            _cert(c)


if __name__ == "__main__":
    main(one_input, EXPECTED)
