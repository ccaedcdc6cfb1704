"""PKCS#10 requests: built and signed by M2Sec and checked by `openssl req -verify`, and
requests from openssl read by M2Sec."""

import gc
import subprocess

import pytest

from M2Sec import BIO, EVP, X509
from M2Sec.Err import ClosedError

from pki_helpers import openssl

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("req")
    paths = {}
    for alg, opts in (("EC", ["-pkeyopt", "ec_paramgen_curve:P-256"]), ("ED25519", []), ("RSA", ["-pkeyopt", "rsa_keygen_bits:2048"])):
        p = str(d / (alg + ".key"))
        openssl("genpkey", "-algorithm", alg, *opts, "-out", p)
        paths[alg] = p
    return d, paths


def build(key, md):
    req = X509.Request()
    name = X509.X509_Name()
    name.C = "DE"
    name.O = "M2Sec"
    name.CN = "req.example.com"
    req.set_subject_name(name)
    req.set_pubkey(key)
    exts = X509.X509_Extension_Stack()
    exts.push(X509.new_extension("subjectAltName", "DNS:req.example.com,IP:192.0.2.5"))
    exts.push(X509.new_extension("keyUsage", "digitalSignature", critical=1))
    req.add_extensions(exts)
    assert req.sign(key, md) > 0
    return req


@pytest.mark.parametrize("alg,md", [("EC", "sha256"), ("ED25519", None), ("RSA", "sha512")])
def test_m2sec_request_passes_openssl_req_verify(keys, alg, md):
    d, paths = keys
    key = EVP.load_key(paths[alg])
    req = build(key, md)
    assert req.get_version() == 0
    assert req.verify(key) == 1
    assert req.verify(req.get_pubkey()) == 1
    path = d / ("m2sec-%s.csr" % alg)
    assert req.save(str(path)) == 1
    r = subprocess.run(["openssl", "req", "-in", str(path), "-noout", "-verify", "-text"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"verify OK" in r.stdout + r.stderr
    assert b"DNS:req.example.com, IP Address:192.0.2.5" in r.stdout
    # (OpenSSL 3.0 prints "C = DE", 3.2 and later "C=DE")
    assert b"C=DE, O=M2Sec, CN=req.example.com" in r.stdout.replace(b" = ", b"=")
    # the DER form is the one openssl writes
    assert req.as_der() == openssl("req", "-in", str(path), "-outform", "DER")
    req.save(str(d / "r.der"), X509.FORMAT_DER)
    assert X509.load_request(str(d / "r.der"), X509.FORMAT_DER).as_pem() == req.as_pem()


def test_openssl_request_read_by_m2sec(keys):
    d, paths = keys
    path = str(d / "cli.csr")
    openssl("req", "-new", "-key", paths["EC"], "-subj", "/CN=cli.example.com/O=Peer", "-sha256",
            "-addext", "subjectAltName=DNS:cli.example.com,email:x@example.com",
            "-addext", "basicConstraints=critical,CA:FALSE", "-out", path)
    req = X509.load_request(path)
    assert req.get_subject().CN == "cli.example.com"
    assert req.get_subject().O == "Peer"
    assert req.verify(req.get_pubkey()) == 1
    exts = req.get_extensions()
    assert [e.get_name() for e in exts] == ["subjectAltName", "basicConstraints"]
    assert exts[0].get_value() == "DNS:cli.example.com, email:x@example.com"
    assert exts[1].get_critical() == 1
    with open(path, "rb") as f:
        pem = f.read()
    der = openssl("req", "-in", path, "-outform", "DER")
    assert X509.load_request_string(pem).as_der() == der
    assert X509.load_request_string(pem.decode()).as_der() == der
    assert X509.load_request_der_string(der).as_pem() == pem
    with BIO.MemoryBuffer(der) as bio:
        assert X509.load_request_bio(bio, X509.FORMAT_DER).as_der() == der
    assert "cli.example.com" in req.as_text()
    # a request without extensions has an empty stack
    openssl("req", "-new", "-key", paths["EC"], "-subj", "/CN=plain", "-out", str(d / "plain.csr"))
    assert len(X509.load_request(str(d / "plain.csr")).get_extensions()) == 0


def test_wrong_key_and_tampering(keys):
    d, paths = keys
    ec, ed = EVP.load_key(paths["EC"]), EVP.load_key(paths["ED25519"])
    req = build(ec, "sha256")
    assert req.verify(ed) == 0
    der = bytearray(req.as_der())
    der[-10] ^= 0x01  # flip a bit of the signature
    tampered = X509.load_request_der_string(bytes(der))
    assert tampered.verify(ec) == 0


def test_borrowed_subject_keeps_request_alive(keys):
    d, paths = keys
    subject = build(EVP.load_key(paths["EC"]), "sha256").get_subject()
    gc.collect()
    assert subject.CN == "req.example.com"


def test_bad_input(keys, tmp_path):
    d, paths = keys
    req = build(EVP.load_key(paths["EC"]), "sha256")
    pem, der = req.as_pem(), req.as_der()
    for bad in (pem[: len(pem) // 2], b"", b"garbage"):
        with pytest.raises(X509.X509Error):
            X509.load_request_string(bad)
    for bad in (der[:-1], der[:8], b"\x30\x00"):
        with pytest.raises(X509.X509Error):
            X509.load_request_der_string(bad)
    p = tmp_path / "bad.csr"
    p.write_bytes(pem[:60])
    with pytest.raises(X509.X509Error):
        X509.load_request(str(p))
    with pytest.raises(TypeError):
        X509.load_request_string(3.5)
    with pytest.raises(TypeError):
        req.set_pubkey("key")
    with pytest.raises(TypeError):
        req.add_extensions([X509.new_extension("keyUsage", "digitalSignature")])
    with pytest.raises(TypeError):
        req.sign(None, "sha256")
    with pytest.raises(ValueError):
        req.sign(EVP.load_key(paths["EC"]), "nosuchdigest")
    req.close()
    with pytest.raises(ClosedError):
        req.as_pem()
    with pytest.raises(ClosedError):
        req.verify(EVP.load_key(paths["EC"]))
