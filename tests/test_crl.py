"""CRLs: loading, text, revoked entries, signatures; bad input."""

import datetime
import gc

import pytest

from M2Sec import BIO, X509
from M2Sec.Err import ClosedError

from pki_helpers import PKI, openssl

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = PKI(str(tmp_path_factory.mktemp("pki")))
    for name in ("a", "b", "c"):
        p.issue_dated(name, "/CN=%s.example.com" % name, "20240101000000Z", "20991231000000Z")
    p.revoke("a", "keyCompromise")
    p.revoke("b", "superseded")
    p.gencrl()
    openssl("crl", "-in", p.path("inter.crl"), "-outform", "DER", "-out", p.path("inter.crl.der"))
    return p


@pytest.fixture
def crl(pki):
    return X509.load_crl(pki.path("inter.crl"))


def test_load_forms_agree(pki, crl):
    der = pki.read("inter.crl.der")
    assert crl.as_der() == der
    assert X509.load_crl(pki.path("inter.crl.der"), X509.FORMAT_DER).as_der() == der
    assert X509.load_crl_string(pki.read("inter.crl")).as_der() == der
    assert X509.load_crl_der_string(der).as_der() == der
    with BIO.MemoryBuffer(pki.read("inter.crl")) as bio:
        assert X509.load_crl_bio(bio).as_pem() == pki.read("inter.crl")


def test_text_matches_openssl(pki, crl):
    text = crl.as_text()
    cli = openssl("crl", "-in", pki.path("inter.crl"), "-noout", "-text").decode()
    assert "Certificate Revocation List (CRL):" in text
    # the same revoked serials and reasons, in the same order
    def serial_lines(t):
        return [l.strip() for l in t.splitlines() if "Serial Number:" in l or "Key Compromise" in l or "Superseded" in l]
    assert serial_lines(text) == serial_lines(cli) and len(serial_lines(text)) == 4


def test_revoked_entries(pki, crl):
    a = X509.load_cert(pki.path("a.pem"))
    b = X509.load_cert(pki.path("b.pem"))
    c = X509.load_cert(pki.path("c.pem"))
    revoked = crl.get_revoked()
    assert [r.serial for r in revoked] == [a.get_serial_number(), b.get_serial_number()]
    assert [r.reason for r in revoked] == [1, 4]  # RFC 5280 CRLReason: keyCompromise, superseded
    now = datetime.datetime.now(datetime.timezone.utc)
    assert all(abs((r.revocation_date - now).total_seconds()) < 3600 for r in revoked)
    assert len(crl) == 2
    assert crl.is_revoked(a) and crl.is_revoked(b.get_serial_number()) and not crl.is_revoked(c)


def test_issuer_dates_and_signature(pki, crl):
    inter = X509.load_cert(pki.path("inter.pem"))
    root = X509.load_cert(pki.path("root.pem"))
    assert crl.get_issuer().CN == "Test Intermediate CA"
    assert crl.verify(inter.get_pubkey()) == 1
    assert crl.verify(root.get_pubkey()) == 0
    last, nxt = crl.get_lastUpdate().get_datetime(), crl.get_nextUpdate().get_datetime()
    assert datetime.timedelta(days=29) < nxt - last <= datetime.timedelta(days=30, seconds=1)
    issuer = X509.load_crl(pki.path("inter.crl")).get_issuer()
    gc.collect()
    assert issuer.CN == "Test Intermediate CA"  # the borrowed name keeps the CRL alive


def test_bad_input(pki, tmp_path):
    pem = pki.read("inter.crl")
    der = pki.read("inter.crl.der")
    for bad in (pem[: len(pem) // 2], b"", b"not a crl", pki.read("a.pem")):
        with pytest.raises(X509.X509Error):
            X509.load_crl_string(bad)
    for bad in (der[:-3], der[:20], b"\x30\x00"):
        with pytest.raises(X509.X509Error):
            X509.load_crl_der_string(bad)
    p = tmp_path / "t.crl"
    p.write_bytes(pem[:80])
    with pytest.raises(X509.X509Error):
        X509.load_crl(str(p))
    with pytest.raises(TypeError):
        X509.load_crl_string(None)
    crl = X509.load_crl_string(pem)
    with pytest.raises(TypeError):
        crl.verify("key")
    crl.close()
    with pytest.raises(ClosedError):
        crl.as_text()
    with pytest.raises(ClosedError):
        crl.get_revoked()
