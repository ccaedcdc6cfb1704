"""CRLs: loading, text, revoked entries, signatures; bad input."""

import datetime
import gc
import subprocess

import pytest

from M2Sec import BIO, X509
from M2Sec.Err import ClosedError

from pki_helpers import PKI, Chain, new_key, openssl

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


# ---- building CRLs (issue 16) ----------------------------------------------------------------


UTC = datetime.timezone.utc


@pytest.fixture(scope="module", params=["RSA", "EC", "ED25519"])
def chain(request):
    c = Chain(request.param)
    c.alg = request.param
    c.good = c.issue("good.example", new_key("EC"), 500)
    c.bad = c.issue("bad.example", new_key("EC"), 501)
    return c


def _crl(chain, revoked=None, number=7):
    now = datetime.datetime.now(UTC).replace(microsecond=0)
    if revoked is None:
        revoked = [(chain.bad, now - datetime.timedelta(hours=1), "keyCompromise", datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
                   (0x1234567890ABCDEF1234, None, 4)]
    return X509.make_crl(chain.inter, chain.inter_key, revoked, crl_number=number,
                         last_update=now - datetime.timedelta(minutes=5), next_update=now + datetime.timedelta(days=1))


def _minutes_ago(n):
    """A lastUpdate safely in the past: a CRL issued "now" is not yet valid for a verifier whose
    clock reads a second earlier (the machine's clock may be stepped between the two)."""
    return datetime.datetime.now(UTC).replace(microsecond=0) - datetime.timedelta(minutes=n)


def _root_crl(chain):
    return X509.make_crl(chain.root, chain.root_key, last_update=_minutes_ago(5))


def _write(tmp_path, chain, crl):
    paths = {}
    for name, obj in (("root", chain.root), ("inter", chain.inter), ("good", chain.good), ("bad", chain.bad)):
        paths[name] = str(tmp_path / (name + ".pem"))
        obj.save(paths[name])
    paths["crl"] = str(tmp_path / "inter.crl")
    crl.save(paths["crl"])
    paths["crl.der"] = str(tmp_path / "inter.crl.der")
    crl.save(paths["crl.der"], X509.FORMAT_DER)
    paths["root.crl"] = str(tmp_path / "root.crl")
    _root_crl(chain).save(paths["root.crl"])
    with open(paths["root"]) as r, open(paths["inter"]) as i, open(str(tmp_path / "cas.pem"), "w") as both:
        both.write(r.read() + i.read())
    paths["cas"] = str(tmp_path / "cas.pem")
    return paths


def test_build_fields_read_back(chain):
    crl = _crl(chain)
    assert crl.get_version() == 1
    assert crl.get_issuer().CN == "Chain Inter"
    assert crl.get_crl_number() == 7
    assert crl.verify(chain.inter_key) == 1 and crl.verify(chain.root_key) == 0
    revoked = sorted(crl.get_revoked())
    assert [r.serial for r in revoked] == [chain.bad.get_serial_number(), 0x1234567890ABCDEF1234]
    assert [r.reason for r in revoked] == [1, 4]
    assert revoked[0].invalidity_date == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert revoked[1].invalidity_date is None
    assert crl.is_revoked(chain.bad) and not crl.is_revoked(chain.good)
    assert crl.get_nextUpdate().get_datetime() - crl.get_lastUpdate().get_datetime() == datetime.timedelta(days=1, minutes=5)
    aki = crl.get_ext("authorityKeyIdentifier")
    assert chain.inter.get_subject_key_id().hex().upper() in aki.get_value().replace(":", "")
    # PEM and DER agree and load back
    assert X509.load_crl_string(crl.as_pem()).as_der() == crl.as_der() == X509.load_crl_der_string(crl.as_der()).as_der()


def test_openssl_accepts_it(chain, tmp_path):
    p = _write(tmp_path, chain, _crl(chain))
    for args in (["-in", p["crl"]], ["-in", p["crl.der"], "-inform", "DER"]):
        out = openssl("crl", *args, "-CAfile", p["cas"], "-noout", "-verify", "-text").decode()
        text = out + openssl("crl", *args, "-noout", "-text").decode()
        assert "Key Compromise" in text and "Superseded" in text
        assert "Invalidity Date" in text and "Jan  2 03:04:05 2026 GMT" in text
        assert "X509v3 CRL Number" in text and "Authority Key Identifier" in text
    sig = {"RSA": "sha256WithRSAEncryption", "EC": "ecdsa-with-SHA256", "ED25519": "ED25519"}[chain.alg]
    assert "Signature Algorithm: " + sig in openssl("crl", "-in", p["crl"], "-noout", "-text").decode()
    # openssl verify -crl_check: the revoked leaf fails, the other passes
    base = ["-CAfile", p["root"], "-untrusted", p["inter"], "-CRLfile", p["crl"]]
    bad = subprocess.run(["openssl", "verify", "-crl_check", *base, p["bad"]], capture_output=True, timeout=60)
    assert bad.returncode != 0 and b"certificate revoked" in bad.stdout + bad.stderr
    openssl("verify", "-crl_check", *base, p["good"])
    openssl("verify", "-crl_check_all", *base, "-CRLfile", p["root.crl"], p["good"])


def test_m2sec_verify_rejects_the_revoked_leaf(chain):
    crl, root_crl = _crl(chain), _root_crl(chain)
    with pytest.raises(X509.X509VerificationError) as exc:
        X509.verify_chain(chain.bad, [chain.root], [chain.inter], crls=[crl, root_crl])
    assert exc.value.verify_code == X509.X509_V_ERR_CERT_REVOKED and exc.value.depth == 0
    assert len(X509.verify_chain(chain.good, [chain.root], [chain.inter], crls=[crl, root_crl])) == 3
    # the store path: the CRL in the store, leaf-only CRL checks
    store = X509.X509_Store()
    store.add_x509(chain.root)
    store.add_crl(crl)
    store.set_flags(X509.verify_crl_check)
    for cert, ok in ((chain.bad, 0), (chain.good, 1)):
        stack = X509.X509_Stack()
        stack.push(chain.inter)
        ctx = X509.X509_Store_Context()
        ctx.init(store, cert, stack)
        assert ctx.verify_cert() == ok
        if not ok:
            assert ctx.get_error() == X509.X509_V_ERR_CERT_REVOKED
        ctx.close()
    # a CRL whose signature is not the issuer's is no CRL at all
    forged = X509.make_crl(chain.inter, new_key("EC"), [chain.bad], last_update=_minutes_ago(5))
    with pytest.raises(X509.X509VerificationError) as exc:
        X509.verify_chain(chain.good, [chain.root], [chain.inter], crls=[forged, root_crl])
    assert exc.value.verify_code == X509.X509_V_ERR_CRL_SIGNATURE_FAILURE


def test_build_step_by_step(tmp_path):
    c = Chain("EC")
    crl = X509.CRL()
    assert crl.get_version() == 0
    crl.set_issuer(c.inter.get_subject())
    crl.set_last_update(int(datetime.datetime.now(UTC).timestamp()) - 60)
    crl.set_next_update(datetime.datetime.now(UTC) + datetime.timedelta(hours=1))
    crl.add_revoked(c.leaf, reason="cessationOfOperation")
    crl.add_revoked(99)
    crl.add_ext(X509.authority_key_identifier(c.inter))
    crl.set_crl_number(1)
    crl.set_crl_number(2)  # replaces
    assert crl.get_ext_count() == 2 and crl.get_crl_number() == 2
    assert crl.sign(c.inter_key, "sha384")
    assert crl.get_version() == 1  # v2: it has extensions
    assert [r.serial for r in crl.get_revoked()] == sorted([99, c.leaf.get_serial_number()])  # sorted when signed
    path = str(tmp_path / "x.crl")
    crl.save(path)
    assert "ecdsa-with-SHA384" in openssl("crl", "-in", path, "-noout", "-text").decode()
    assert X509.load_crl(path).get_crl_number() == 2


def test_build_bad_input():
    c = Chain("EC")
    crl = X509.CRL()
    for bad in ("keycompromise", 7, 11, -1, True, 1.0):
        with pytest.raises(ValueError):
            crl.add_revoked(1, reason=bad)
    for exc, bad in ((ValueError, lambda: crl.add_revoked(-5)), (TypeError, lambda: crl.add_revoked("12")),
                     (TypeError, lambda: crl.set_next_update("tomorrow")),
                     (TypeError, lambda: crl.add_revoked(1, invalidity_date="yesterday")),
                     (ValueError, lambda: crl.set_crl_number(-1)), (TypeError, lambda: crl.add_ext("authorityKeyIdentifier")),
                     (TypeError, lambda: crl.sign("key")), (ValueError, lambda: crl.sign(c.inter_key, "no-such-digest"))):
        with pytest.raises(exc):
            bad()
    assert crl.get_crl_number() is None and len(crl) == 0  # nothing half-added
    key = new_key("EC")
    key.close()
    with pytest.raises(ClosedError):
        crl.sign(key)
    with pytest.raises(TypeError):
        X509.make_crl(c.inter, c.inter_key, ["serial"])
