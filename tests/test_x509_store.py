"""Chain verification: X509_Store, X509_Store_Context, X509_Stack, verify_chain, each case
checked against `openssl verify` on the same files."""

import datetime
import gc
import time

import pytest

from M2Sec import ASN1, X509, m2
from M2Sec.Err import ClosedError

from pki_helpers import PKI, openssl

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = PKI(str(tmp_path_factory.mktemp("pki")))
    p.issue("server", "/CN=server.example.com", ext=["extendedKeyUsage=serverAuth", "subjectAltName=DNS:server.example.com"])
    p.issue("client", "/CN=client", ext=["extendedKeyUsage=clientAuth"])
    p.issue_dated("expired", "/CN=expired.example.com", "20200101000000Z", "20200201000000Z")
    p.issue_dated("revoked", "/CN=revoked.example.com", "20240101000000Z", "20991231000000Z")
    p.revoke("revoked")
    p.gencrl()
    p.root_crl()
    return p


def load(pki, name):
    return X509.load_cert(pki.path(name + ".pem"))


def store_with_root(pki):
    store = X509.X509_Store()
    assert store.load_info(pki.path("root.pem")) == 1
    return store


def ctx_verify(store, cert, untrusted=None, **kw):
    ctx = X509.X509_Store_Context()
    ctx.init(store, cert, untrusted)
    for k, v in kw.items():
        getattr(ctx, "set_" + k)(v)
    ok = ctx.verify_cert()
    return ok, ctx


def inter_stack(pki):
    stack = X509.X509_Stack()
    stack.push(load(pki, "inter"))
    return stack


def test_chain_with_intermediate(pki):
    assert pki.verify(pki.path("server.pem")).returncode == 0
    ok, ctx = ctx_verify(store_with_root(pki), load(pki, "server"), inter_stack(pki))
    assert ok == 1 and ctx.get_error() == X509.V_OK
    chain = ctx.get1_chain()
    del ctx
    gc.collect()
    assert [c.get_subject().CN for c in chain] == ["server.example.com", "Test Intermediate CA", "Test Root CA"]


def test_missing_intermediate(pki):
    r = pki.verify(pki.path("server.pem"), untrusted=False)
    assert r.returncode != 0 and b"unable to get local issuer certificate" in r.stdout + r.stderr
    ok, ctx = ctx_verify(store_with_root(pki), load(pki, "server"))
    assert ok == 0
    assert ctx.get_error() == m2.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    assert ctx.get_error_string() == "unable to get local issuer certificate"
    assert ctx.get_error_depth() == 0
    assert ctx.get_current_cert().get_subject().CN == "server.example.com"


def test_expired(pki):
    r = pki.verify(pki.path("expired.pem"))
    assert r.returncode != 0 and b"certificate has expired" in r.stdout + r.stderr
    ok, ctx = ctx_verify(store_with_root(pki), load(pki, "expired"), inter_stack(pki))
    assert ok == 0 and ctx.get_error() == m2.X509_V_ERR_CERT_HAS_EXPIRED
    with pytest.raises(X509.X509VerificationError) as e:
        X509.verify_chain(load(pki, "expired"), [load(pki, "root")], [load(pki, "inter")])
    assert e.value.verify_code == X509.X509_V_ERR_CERT_HAS_EXPIRED and e.value.depth == 0


def test_verification_time(pki):
    """-attime: the expired certificate was valid in January 2020 (if its CAs were)."""
    when = int(datetime.datetime(2020, 1, 15, tzinfo=ASN1.UTC).timestamp())
    r = pki.verify(pki.path("expired.pem"), "-attime", str(when))
    ok, ctx = ctx_verify(store_with_root(pki), load(pki, "expired"), inter_stack(pki), time=when)
    # the CAs were minted today, so at that time they were not yet valid: both agree on that
    assert r.returncode != 0 and b"not yet valid" in r.stdout + r.stderr
    assert ok == 0 and ctx.get_error() == m2.X509_V_ERR_CERT_NOT_YET_VALID
    # and 40 days from now, the 30-day server certificate has expired
    later = int(time.time()) + 40 * 86400
    r = pki.verify(pki.path("server.pem"), "-attime", str(later))
    assert r.returncode != 0 and b"expired" in r.stdout + r.stderr
    ok, ctx = ctx_verify(store_with_root(pki), load(pki, "server"), inter_stack(pki), time=later)
    assert ok == 0 and ctx.get_error() == m2.X509_V_ERR_CERT_HAS_EXPIRED
    store = store_with_root(pki)
    store.set_time(datetime.datetime.now(ASN1.UTC) + datetime.timedelta(days=40))
    assert ctx_verify(store, load(pki, "server"), inter_stack(pki))[0] == 0
    store.set_time(int(time.time()) + 86400)
    assert ctx_verify(store, load(pki, "server"), inter_stack(pki))[0] == 1


def test_purpose(pki):
    assert pki.verify(pki.path("client.pem"), "-purpose", "sslclient").returncode == 0
    r = pki.verify(pki.path("client.pem"), "-purpose", "sslserver")
    assert r.returncode != 0 and b"error %d at 0" % m2.X509_V_ERR_INVALID_PURPOSE in r.stdout + r.stderr
    ok, ctx = ctx_verify(store_with_root(pki), load(pki, "client"), inter_stack(pki), purpose=m2.X509_PURPOSE_SSL_SERVER)
    assert ok == 0 and ctx.get_error() == m2.X509_V_ERR_INVALID_PURPOSE
    assert ctx_verify(store_with_root(pki), load(pki, "client"), inter_stack(pki), purpose=m2.X509_PURPOSE_SSL_CLIENT)[0] == 1
    store = store_with_root(pki)
    store.set_purpose(m2.X509_PURPOSE_SSL_SERVER)
    assert ctx_verify(store, load(pki, "client"), inter_stack(pki))[0] == 0
    assert ctx_verify(store, load(pki, "server"), inter_stack(pki))[0] == 1
    with pytest.raises(X509.X509Error):
        store.set_purpose(9999)


def test_depth(pki):
    r = pki.verify(pki.path("server.pem"), "-verify_depth", "0")
    assert r.returncode != 0
    ok, ctx = ctx_verify(store_with_root(pki), load(pki, "server"), inter_stack(pki), depth=0)
    assert ok == 0 and ctx.get_error() == m2.X509_V_ERR_CERT_CHAIN_TOO_LONG
    assert ctx_verify(store_with_root(pki), load(pki, "server"), inter_stack(pki), depth=1)[0] == 1


def test_revoked_via_crl(pki):
    crls = pki.path("inter.crl") + ""
    both = pki.path("crls.pem")
    with open(both, "wb") as f:
        f.write(pki.read("inter.crl") + pki.read("root.crl"))
    r = pki.verify(pki.path("revoked.pem"), "-crl_check_all", "-CRLfile", both)
    assert r.returncode != 0 and b"certificate revoked" in r.stdout + r.stderr
    assert pki.verify(pki.path("server.pem"), "-crl_check_all", "-CRLfile", both).returncode == 0

    def store_with_crls(flags):
        store = store_with_root(pki)
        store.add_crl(X509.load_crl(crls))
        store.add_crl(X509.load_crl(pki.path("root.crl")))
        store.set_flags(flags)
        return store

    ok, ctx = ctx_verify(store_with_crls(X509.verify_crl_check_chain), load(pki, "revoked"), inter_stack(pki))
    assert ok == 0 and ctx.get_error() == m2.X509_V_ERR_CERT_REVOKED and ctx.get_error_depth() == 0
    assert ctx_verify(store_with_crls(X509.verify_crl_check_chain), load(pki, "server"), inter_stack(pki))[0] == 1
    # without CRL checks the revoked certificate passes
    assert ctx_verify(store_with_root(pki), load(pki, "revoked"), inter_stack(pki))[0] == 1
    # CRL checking with no CRL for the issuer fails closed
    store = store_with_root(pki)
    store.set_flags(X509.verify_crl_check)
    ok, ctx = ctx_verify(store, load(pki, "server"), inter_stack(pki))
    assert ok == 0 and ctx.get_error() == m2.X509_V_ERR_UNABLE_TO_GET_CRL
    with pytest.raises(X509.X509VerificationError) as e:
        X509.verify_chain(load(pki, "revoked"), [load(pki, "root")], [load(pki, "inter")],
                          crls=[X509.load_crl(crls), X509.load_crl(pki.path("root.crl"))])
    assert e.value.verify_code == m2.X509_V_ERR_CERT_REVOKED


def test_verify_callback(pki):
    seen = []

    def cb(ok, ctx):
        assert isinstance(ctx, X509.X509_Store_Context)
        seen.append((ok, ctx.get_error_depth(), ctx.get_current_cert().get_subject().CN, ctx.get_error()))
        return 1  # accept everything, even the expired certificate

    store = store_with_root(pki)
    store.set_verify_cb(cb)
    ok, ctx = ctx_verify(store, load(pki, "expired"), inter_stack(pki))
    assert ok == 1
    assert (0, 0, "expired.example.com", m2.X509_V_ERR_CERT_HAS_EXPIRED) in seen
    assert any(d == 2 and cn == "Test Root CA" for _, d, cn, _ in seen)

    kept = []
    store.set_verify_cb(lambda ok, ctx: kept.append(ctx) or ok)
    assert ctx_verify(store, load(pki, "server"), inter_stack(pki))[0] == 1
    with pytest.raises(ClosedError):  # the callback's context is not usable after the call
        kept[0].get_error()

    store.set_verify_cb(lambda ok, ctx: 0)  # reject everything
    assert ctx_verify(store, load(pki, "server"), inter_stack(pki))[0] == 0

    store.set_verify_cb(None)  # back to OpenSSL's own decision
    assert ctx_verify(store, load(pki, "expired"), inter_stack(pki))[0] == 0
    assert ctx_verify(store, load(pki, "server"), inter_stack(pki))[0] == 1
    with pytest.raises(X509.X509Error):
        store.set_verify_cb(42)


def test_verify_callback_exception_is_raised(pki):
    class Boom(Exception):
        pass

    def cb(ok, ctx):
        raise Boom("from the callback")

    store = store_with_root(pki)
    store.set_verify_cb(cb)
    ctx = X509.X509_Store_Context()
    ctx.init(store, load(pki, "server"), inter_stack(pki))
    with pytest.raises(Boom):
        ctx.verify_cert()
    # the store still works afterwards, and the callback lives as long as the store
    del cb
    gc.collect()
    with pytest.raises(Boom):
        ctx_verify(store, load(pki, "server"), inter_stack(pki))


def test_store_load_errors_and_types(pki, tmp_path):
    store = X509.X509_Store()
    with pytest.raises(X509.X509Error):
        store.load_info(str(tmp_path / "missing.pem"))
    with pytest.raises(TypeError):
        store.add_x509("cert")
    with pytest.raises(TypeError):
        store.add_crl(load(pki, "root"))
    assert store.add_cert(load(pki, "root")) == 1
    assert store.set_default_paths() == 1
    assert store.load_locations(capath=str(tmp_path)) == 1
    ctx = X509.X509_Store_Context()
    with pytest.raises(TypeError):
        ctx.init(store, "cert")
    with pytest.raises(TypeError):
        ctx.init(store, load(pki, "server"), [load(pki, "inter")])
    store.close()
    with pytest.raises(ClosedError):
        store.add_x509(load(pki, "root"))
    ctx.close()
    with pytest.raises(ClosedError):
        ctx.verify_cert()


def test_context_keeps_its_inputs_alive(pki):
    ctx = X509.X509_Store_Context()
    ctx.init(store_with_root(pki), load(pki, "server"), inter_stack(pki))
    gc.collect()
    assert ctx.verify_cert() == 1


def test_x509_stack(pki):
    certs = [load(pki, n) for n in ("server", "inter", "root")]
    stack = X509.X509_Stack()
    for i, c in enumerate(certs):
        assert stack.push(c) == i + 1
    assert len(stack) == 3
    assert [c.get_subject().CN for c in stack] == ["server.example.com", "Test Intermediate CA", "Test Root CA"]
    assert stack[-1] == certs[2]
    der = stack.as_der()
    # SEQUENCE OF Certificate: openssl asn1parse sees three certificates in one SEQUENCE
    parsed = openssl("asn1parse", "-inform", "DER", input=der).decode()
    assert parsed.splitlines()[0].split("cons:")[1].strip() == "SEQUENCE"
    assert der == b"".join([der[: len(der) - sum(len(c.as_der()) for c in certs)]] + [c.as_der() for c in certs])
    again = X509.new_stack_from_der(der)
    assert [c.as_der() for c in again] == [c.as_der() for c in certs]
    top = stack.pop()
    assert top == certs[2] and len(stack) == 2
    stack.close()
    del certs
    gc.collect()
    assert top.get_subject().CN == "Test Root CA"  # the popped reference is ours
    assert X509.X509_Stack().pop() is None
    assert X509.X509_Stack().as_der() == b"\x30\x00"
    with pytest.raises(TypeError):
        X509.X509_Stack().push("cert")
    with pytest.raises(IndexError):
        X509.X509_Stack()[0]
    for bad in (b"", b"\x30", b"\x30\x03\x02\x01\x01", der[:-5], b"\x04\x00"):
        with pytest.raises(X509.X509Error):
            X509.new_stack_from_der(bad)
    with pytest.raises(TypeError):
        X509.new_stack_from_der(12)


def test_certificate_from_stack_outlives_it(pki):
    stack = X509.X509_Stack()
    stack.push(load(pki, "server"))
    cert = stack[0]
    stack.close()
    gc.collect()
    assert cert.get_subject().CN == "server.example.com"
