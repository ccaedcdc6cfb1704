"""M2Sec.X509 certificates and extensions, cross-checked against the openssl command line."""

import datetime
import gc
import subprocess

import pytest

from M2Sec import ASN1, BIO, EVP, X509, m2
from M2Sec.Err import ClosedError, M2SecError

from pki_helpers import CA_EXTS, PKI, build_cert, openssl

pytestmark = pytest.mark.timeout(120)

LEAF_EXT = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
    "subjectAltName=DNS:www.example.com,DNS:*.wild.example.com,IP:192.0.2.1,IP:2001:db8::1,"
    "email:admin@example.com,URI:https://www.example.com/",
    "subjectKeyIdentifier=hash",
    "authorityKeyIdentifier=keyid",
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = PKI(str(tmp_path_factory.mktemp("pki")))
    p.issue("leaf", "/CN=www.example.com/O=M2Sec/emailAddress=cn@example.com", ext=LEAF_EXT, serial=0x1234ABCD5678)
    return p


@pytest.fixture
def leaf(pki):
    return X509.load_cert(pki.path("leaf.pem"))


def test_load_pem_der_string_bio_agree(pki, leaf):
    der = openssl("x509", "-in", pki.path("leaf.pem"), "-outform", "DER")
    with open(pki.path("leaf.der"), "wb") as f:
        f.write(der)
    assert leaf.as_der() == der
    assert X509.load_cert(pki.path("leaf.der"), X509.FORMAT_DER).as_der() == der
    assert X509.load_cert_string(pki.read("leaf.pem")).as_der() == der
    assert X509.load_cert_string(pki.read("leaf.pem").decode()).as_der() == der
    assert X509.load_cert_der_string(der).as_der() == der
    assert X509.load_cert_string(der, X509.FORMAT_DER).as_der() == der
    with BIO.MemoryBuffer(der) as bio:
        assert X509.load_cert_bio(bio, X509.FORMAT_DER).as_der() == der
    assert leaf.as_pem() == openssl("x509", "-in", pki.path("leaf.pem"))


def test_fields_match_openssl(pki, leaf):
    serial = openssl("x509", "-in", pki.path("leaf.pem"), "-noout", "-serial").decode().strip()
    assert serial == "serial=%X" % leaf.get_serial_number()
    assert leaf.get_serial_number() == 0x1234ABCD5678
    assert leaf.get_version() == 2
    assert leaf.get_subject().CN == "www.example.com"
    assert leaf.get_issuer().CN == "Test Intermediate CA"
    subj = openssl("x509", "-in", pki.path("leaf.pem"), "-noout", "-subject", "-nameopt", "RFC2253").decode()
    assert subj.strip() == "subject=" + leaf.get_subject().as_text(flags=m2.XN_FLAG_RFC2253)
    for md in ("sha1", "sha256"):
        fp = openssl("x509", "-in", pki.path("leaf.pem"), "-noout", "-fingerprint", "-" + md).decode()
        assert fp.strip().split("=", 1)[1].replace(":", "") == leaf.get_fingerprint(md)
    dates = dict(line.split("=", 1) for line in openssl("x509", "-in", pki.path("leaf.pem"), "-noout", "-dates").decode().splitlines())
    fmt = "%b %d %H:%M:%S %Y GMT"
    nb = datetime.datetime.strptime(" ".join(dates["notBefore"].split()), fmt).replace(tzinfo=ASN1.UTC)
    na = datetime.datetime.strptime(" ".join(dates["notAfter"].split()), fmt).replace(tzinfo=ASN1.UTC)
    assert leaf.get_not_before().get_datetime() == nb
    assert leaf.get_not_after().get_datetime() == na
    text = leaf.as_text()
    cli = openssl("x509", "-in", pki.path("leaf.pem"), "-noout", "-text").decode()
    for marker in ("X509v3 Subject Alternative Name", "DNS:www.example.com", "TLS Web Server Authentication"):
        assert marker in text and marker in cli
    pub_der = openssl("pkey", "-in", pki.path("leaf.key"), "-pubout", "-outform", "DER")
    assert leaf.get_pubkey().get_der_pub() == pub_der


def test_extensions(leaf):
    assert leaf.get_ext_count() == 6
    names = [leaf.get_ext_at(i).get_name() for i in range(leaf.get_ext_count())]
    assert names == ["basicConstraints", "keyUsage", "extendedKeyUsage", "subjectAltName",
                     "subjectKeyIdentifier", "authorityKeyIdentifier"]
    bc = leaf.get_ext("basicConstraints")
    assert bc.get_critical() == 1 and bc.get_value() == "CA:FALSE"
    assert leaf.get_ext("extendedKeyUsage").get_critical() == 0
    assert "DNS:*.wild.example.com" in leaf.get_ext("subjectAltName").get_value()
    with pytest.raises(LookupError):
        leaf.get_ext("nameConstraints")
    with pytest.raises(IndexError):
        leaf.get_ext_at(6)
    with pytest.raises(IndexError):
        leaf.get_ext_at(-1)


def test_subject_alt_names_and_email(leaf):
    assert leaf.get_subject_alt_names() == [
        (m2.GEN_DNS, b"www.example.com"), (m2.GEN_DNS, b"*.wild.example.com"),
        (m2.GEN_IPADD, bytes([192, 0, 2, 1])),
        (m2.GEN_IPADD, bytes.fromhex("20010db8000000000000000000000001")),
        (m2.GEN_EMAIL, b"admin@example.com"), (m2.GEN_URI, b"https://www.example.com/")]
    assert sorted(leaf.get_email()) == ["admin@example.com", "cn@example.com"]


def test_verify_ca_purpose(pki, leaf):
    inter = X509.load_cert(pki.path("inter.pem"))
    root = X509.load_cert(pki.path("root.pem"))
    assert leaf.verify(inter.get_pubkey()) == 1
    assert leaf.verify(root.get_pubkey()) == 0
    assert inter.verify(root.get_pubkey()) == 1
    assert root.verify() == 1
    assert leaf.check_ca() == 0
    assert inter.check_ca() and root.check_ca()
    assert leaf.check_purpose(m2.X509_PURPOSE_SSL_SERVER, 0) == 1
    assert leaf.check_purpose(m2.X509_PURPOSE_SSL_CLIENT, 0) == 0
    assert X509.X509_PURPOSE_SSL_SERVER == m2.X509_PURPOSE_SSL_SERVER
    with pytest.raises(ValueError):
        leaf.check_purpose(12345, 0)


def test_borrowed_objects_keep_the_cert_alive(pki):
    subject = X509.load_cert(pki.path("leaf.pem")).get_subject()
    not_after = X509.load_cert(pki.path("leaf.pem")).get_not_after()
    ext = X509.load_cert(pki.path("leaf.pem")).get_ext("subjectAltName")
    gc.collect()
    assert subject.CN == "www.example.com"
    assert not_after.get_datetime().year >= 2024
    assert ext.get_name() == "subjectAltName"


def test_closed_cert_raises(pki):
    cert = X509.load_cert(pki.path("leaf.pem"))
    cert.close()
    cert.close()  # idempotent
    for call in (cert.as_der, cert.as_pem, cert.get_subject, cert.get_ext_count, cert.get_pubkey):
        with pytest.raises(ClosedError):
            call()


def test_bad_input(pki, tmp_path):
    pem = pki.read("leaf.pem")
    der = X509.load_cert_string(pem).as_der()
    for bad in (pem[: len(pem) // 2], b"", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", b"garbage"):
        with pytest.raises(X509.X509Error):
            X509.load_cert_string(bad)
    for bad in (der[:-1], der[:10], b"\x30\x82\xff\xff", der[:50] + b"\x00" * 50):
        with pytest.raises(X509.X509Error):
            X509.load_cert_der_string(bad)
    bad_file = tmp_path / "bad.pem"
    bad_file.write_bytes(pem[:100])
    with pytest.raises(X509.X509Error):
        X509.load_cert(str(bad_file))
    assert issubclass(X509.X509Error, M2SecError)
    with pytest.raises(TypeError):
        X509.load_cert_string(12345)
    with pytest.raises(TypeError):
        X509.load_cert_bio(b"not a bio")
    with pytest.raises(ValueError):
        X509.load_cert_string(pem, format=7)
    cert = X509.load_cert_string(pem)
    with pytest.raises(TypeError):
        cert.add_ext("basicConstraints=CA:FALSE")
    with pytest.raises(TypeError):
        cert.set_subject("CN=x")
    with pytest.raises(TypeError):
        cert.verify("key")
    with pytest.raises(TypeError):
        cert.set_serial_number("12")
    with pytest.raises(ValueError):
        cert.get_fingerprint("nosuchdigest")
    with pytest.raises(TypeError):
        cert.get_fingerprint(None)


def test_new_extension_errors():
    with pytest.raises(X509.X509Error):
        X509.new_extension("noSuchExtension", "x")
    with pytest.raises(X509.X509Error):
        X509.new_extension("basicConstraints", "CA:MAYBE")
    with pytest.raises(X509.X509Error):
        X509.new_extension("subjectKeyIdentifier", "hash")
    with pytest.raises(TypeError):
        X509.new_extension("basicConstraints", b"CA:TRUE")
    with pytest.raises(X509.X509Error):
        X509.X509_Extension().get_name()


def test_extension_stack():
    stack = X509.X509_Extension_Stack()
    ext = X509.new_extension("basicConstraints", "CA:FALSE", critical=1)
    assert stack.push(ext) == 1
    assert stack.push(X509.new_extension("keyUsage", "digitalSignature")) == 2
    del ext
    gc.collect()
    assert [e.get_name() for e in stack] == ["basicConstraints", "keyUsage"]
    assert stack[0].get_critical() == 1
    popped = stack.pop()
    assert popped.get_name() == "keyUsage" and len(stack) == 1
    stack.close()
    assert popped.get_value() == "Digital Signature"
    assert X509.X509_Extension_Stack().pop() is None
    with pytest.raises(TypeError):
        X509.X509_Extension_Stack().push("x")


@pytest.mark.parametrize("alg,md", [("EC", "sha256"), ("ED25519", None), ("ED448", None), ("RSA", "sha384")])
def test_build_chain_accepted_by_openssl(tmp_path, alg, md):
    """A CA built with M2Sec issues a chain of three that openssl verify accepts."""
    keys = {}
    for name in ("root", "inter", "leaf"):
        p = tmp_path / (name + ".key")
        if alg == "EC":
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(p))
        elif alg == "RSA":
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(p))
        else:
            openssl("genpkey", "-algorithm", alg, "-out", str(p))
        keys[name] = EVP.load_key(str(p))
    root = build_cert("Root", keys["root"], None, keys["root"], 1, CA_EXTS[:3], md)
    inter = build_cert("Inter", keys["inter"], root, keys["root"], 2, CA_EXTS, md)
    leaf = build_cert("leaf.example.com", keys["leaf"], inter, keys["inter"], 3,
                  [("basicConstraints", "CA:FALSE"), ("extendedKeyUsage", "serverAuth"),
                   ("subjectAltName", "DNS:leaf.example.com"), ("authorityKeyIdentifier", "keyid")], md)
    for name, cert in (("root", root), ("inter", inter), ("leaf", leaf)):
        assert cert.save(str(tmp_path / (name + ".pem"))) == 1
    assert leaf.verify(inter.get_pubkey()) == 1
    assert inter.get_ext("authorityKeyIdentifier").get_data() != b"\x30\x00"
    r = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "root.pem"), "-untrusted",
                        str(tmp_path / "inter.pem"), "-purpose", "sslserver", "-verify_hostname", "leaf.example.com",
                        str(tmp_path / "leaf.pem")], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    # and the chain verifies in M2Sec too
    chain = X509.verify_chain(leaf, [root], [inter], purpose=m2.X509_PURPOSE_SSL_SERVER)
    assert [c.get_subject().CN for c in chain] == ["leaf.example.com", "Inter", "Root"]
    # DER save round trip
    leaf.save(str(tmp_path / "leaf.der"), X509.FORMAT_DER)
    assert X509.load_cert(str(tmp_path / "leaf.der"), X509.FORMAT_DER) == leaf


def test_sign_errors(tmp_path):
    openssl("genpkey", "-algorithm", "ED25519", "-out", str(tmp_path / "k"))
    key = EVP.load_key(str(tmp_path / "k"))
    cert = X509.X509()
    with pytest.raises(ValueError):
        cert.sign(key, "nosuchdigest")
    with pytest.raises(TypeError):
        cert.sign("key", "sha256")
    with pytest.raises(TypeError):
        cert.sign(key, 256)


def test_authority_key_identifier_literal():
    ext = X509.new_extension("authorityKeyIdentifier", "keyid:01:02:03:0A")
    assert ext.get_name() == "authorityKeyIdentifier"
    assert "01:02:03:0A" in ext.get_value()
    with pytest.raises(X509.X509Error):
        X509.AuthorityKeyIdentifier("zz")
    with pytest.raises(X509.X509Error):
        X509.AuthorityKeyIdentifier(b"")


def test_every_truncation_is_an_error_not_a_crash(pki):
    der = X509.load_cert(pki.path("leaf.pem")).as_der()
    stack = X509.X509_Stack()
    stack.push(X509.load_cert_der_string(der))
    seq = stack.as_der()
    for n in range(len(der)):
        with pytest.raises(X509.X509Error):
            X509.load_cert_der_string(der[:n])
    for n in range(len(seq)):
        with pytest.raises(X509.X509Error):
            X509.new_stack_from_der(seq[:n])
    corrupted = bytearray(der)
    corrupted[4] ^= 0xFF  # break the TBSCertificate header
    with pytest.raises(X509.X509Error):
        X509.load_cert_der_string(bytes(corrupted))


# ---- X509 on its C base (m2.X509Base): M2Crypto's constructor, freed once, borrowed certificates ----

def test_x509_owns_its_pointer_once(pki):
    """X509 holds its X509 * in C: X509(ptr, _pyfree) as in M2Crypto, _ptr() the SWIG pointer,
    close()/free() idempotent, and m2.x509_free() given the object detaches it first."""
    der = X509.load_cert(pki.path("leaf.pem")).as_der()
    cert = X509.X509(m2.x509_from_der(der), 1)
    assert isinstance(cert, m2.X509Base) and cert._pyfree == 1 and not cert.closed
    ptr = cert._ptr()
    assert cert._ptr() is ptr and cert._p is ptr  # the SWIG pointer given, kept
    assert m2.i2d_x509(ptr) == m2.i2d_x509(cert) == der  # X509 * arguments take the object too
    cert.free()
    cert.close()
    assert cert.closed and cert._p is None
    with pytest.raises(ClosedError):
        cert._ptr()
    with pytest.raises(ClosedError):
        m2.i2d_x509(cert)  # a closed object as an argument: its _ptr()'s error
    cert = X509.X509(m2.x509_from_der(der), 1)
    m2.x509_free(cert)  # taken from the object: freed here, not again when it dies
    assert cert.closed
    with pytest.raises(ValueError):
        cert._p = object()
    with pytest.raises(TypeError):
        X509.X509(b"not a pointer")
    with pytest.raises(TypeError):
        m2.i2d_x509(b"not a pointer")
    fresh = X509.X509()  # a new, empty certificate, owned
    assert fresh._pyfree == 1 and fresh.get_version() == 0


def test_x509_borrowed_pointer_and_owner(pki):
    """_pyfree=0 borrows: the pointer is not freed by the object, and owner stays alive with it;
    _pyfree can be changed as in M2Crypto."""
    stack = X509.X509_Stack()
    stack.push(X509.load_cert(pki.path("leaf.pem")))
    ptr = m2.sk_x509_value(stack._ptr(), 0)
    borrowed = X509.X509(ptr, 0, owner=stack)
    assert borrowed._pyfree == 0 and borrowed._owner is stack
    del stack
    gc.collect()
    assert borrowed.get_subject().CN == "www.example.com"  # the stack (and its reference) alive
    borrowed.close()  # not freed: the stack's reference is dropped with the stack
    assert borrowed._owner is None
    owned = X509.load_cert(pki.path("leaf.pem"))
    m2.x509_up_ref(owned._ptr())
    extra = X509.X509(owned._ptr(), 1)  # a second reference, freed by the second object
    owned._pyfree = False
    assert owned._pyfree == 0
    m2.x509_free(owned._ptr())  # the caller freed the first reference itself
    del owned
    assert extra.get_subject().CN == "www.example.com"


def test_x509_subclass_and_many_cycles(pki):
    """A subclass keeps the C base's behaviour; 20,000 certificate objects over one certificate,
    each freeing the reference it was given (when it dies, or closed): the certificate is
    still whole after (an extra free would be caught by `make asan`)."""
    class Mine(X509.X509):
        pass

    cert = X509.load_cert(pki.path("leaf.pem"))
    mine = Mine(m2.x509_from_der(cert.as_der()), 1)
    assert mine.get_subject().CN == "www.example.com" and isinstance(mine, X509.X509)
    for i in range(20000):
        m2.x509_up_ref(cert._ptr())
        c = X509.X509(cert._ptr(), 1)
        if i % 2:
            c.close()
    del c
    gc.collect()
    assert cert.get_subject().CN == "www.example.com" and cert.as_der() == mine.as_der()
