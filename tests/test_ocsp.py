"""M2Sec.OCSP: requests, responses, verification and signing, against ``openssl ocsp`` as
responder and as client, and an M2Sec responder over http.server (RFC 6960)."""

import datetime
import subprocess

import pytest

from M2Sec import OCSP, Err

from ocsp_helpers import OCSPPKI, m2_responder, openssl_responder

HOUR = datetime.timedelta(hours=1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return OCSPPKI(str(tmp_path_factory.mktemp("ocsppki")))


@pytest.fixture(scope="module")
def responder(pki):
    with m2_responder(pki) as srv:
        yield srv


@pytest.fixture(scope="module")
def openssl_url(pki):
    with openssl_responder(pki) as url:
        yield url


def ocsp_cli(*args: str, timeout: float = 30) -> str:
    p = subprocess.run(["openssl", "ocsp", *args], capture_output=True, timeout=timeout)
    return p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def verify(pki, resp, name="good", **kw):
    return resp.verify(pki.certs[name], pki.certs["ca"], [pki.certs["root"]], **kw)


# -- requests --------------------------------------------------------------------------------

def test_request_sha1_with_nonce_by_default(pki, tmp):
    req = OCSP.build_request(pki.certs["good"], pki.certs["ca"])
    (cid,) = req.cert_ids
    assert cid.hash_algorithm == "SHA1" and len(cid.issuer_name_hash) == len(cid.issuer_key_hash) == 20
    assert cid.serial_number == pki.certs["good"].get_serial_number()
    assert cid == OCSP.CertID.from_certs(pki.certs["good"], pki.certs["ca"])
    assert cid != OCSP.CertID.from_certs(pki.certs["revoked"], pki.certs["ca"])
    assert len(req.nonce) == 16 and not req.is_signed
    der = req.to_der()
    again = OCSP.load_request_der(der)
    assert again.to_der() == der and again.nonce == req.nonce and again.cert_ids == [cid]
    (tmp / "req.der").write_bytes(der)
    text = ocsp_cli("-reqin", str(tmp / "req.der"), "-req_text", "-noverify")
    assert "Hash Algorithm: sha1" in text and "%X" % cid.serial_number in text and "OCSP Nonce" in text


def test_request_digest_and_nonce_choices(pki):
    req = OCSP.build_request(pki.certs["good"], pki.certs["ca"], digest="sha256", nonce=False)
    assert req.cert_ids[0].hash_algorithm == "SHA256" and len(req.cert_ids[0].issuer_key_hash) == 32
    assert req.nonce is None
    assert OCSP.build_request(pki.certs["good"], pki.certs["ca"], nonce=b"my nonce").nonce == b"my nonce"
    with pytest.raises(ValueError, match="unknown digest"):
        OCSP.build_request(pki.certs["good"], pki.certs["ca"], digest="no-such-digest")
    with pytest.raises(TypeError):
        OCSP.build_request(pki.certs["good"], b"not a cert")
    with pytest.raises(ValueError):
        OCSP.Request().add_nonce(b"")


def test_signed_request(pki, tmp):
    req = OCSP.build_request(pki.certs["good"], pki.certs["ca"])
    req.sign(pki.certs["good"], pki.keys["good"])
    assert req.is_signed
    (tmp / "sreq.der").write_bytes(req.to_der())
    text = ocsp_cli("-reqin", str(tmp / "sreq.der"), "-req_text", "-noverify")
    assert "Requestor Name" in text and "ecdsa-with-SHA256" in text
    assert "Subject: CN=good, O=M2Sec" in text and "BEGIN CERTIFICATE" in text  # the signer's certificate travels along


def test_aia_urls(pki):
    assert OCSP.ocsp_urls(pki.certs["good"]) == [pki.url]
    assert OCSP.ocsp_urls(pki.certs["root"]) == []


# -- responses built and verified ----------------------------------------------------------------

def test_good_revoked_unknown(pki):
    r = verify(pki, pki.response("good"))
    assert r.good and r.status == OCSP.CertStatus.GOOD and r.revocation_time is None
    assert r.serial_number == pki.certs["good"].get_serial_number()
    assert r.next_update - r.this_update == HOUR
    r = verify(pki, pki.response("revoked", OCSP.CertStatus.REVOKED), "revoked")
    assert r.revoked and r.revocation_time == pki.revoked_at and r.revocation_reason == "keyCompromise"
    r = verify(pki, pki.response("unknown", OCSP.CertStatus.UNKNOWN), "unknown")
    assert r.status == OCSP.CertStatus.UNKNOWN


def test_response_fields(pki):
    req = OCSP.build_request(pki.certs["good"], pki.certs["ca"])
    resp = pki.response("good", request=req)
    assert resp.response_status == OCSP.ResponseStatus.SUCCESSFUL
    assert resp.nonce == req.nonce
    assert resp.responder_name == "/CN=ca/O=M2Sec" and resp.responder_key_hash is None
    assert [c.as_der() for c in resp.certificates] == [pki.certs["ca"].as_der()]
    assert abs(resp.produced_at - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(minutes=5)
    (cid, single), = resp.responses
    assert cid == req.cert_ids[0] and single.good
    assert verify(pki, resp, request=req).good
    again = OCSP.load_response_der(resp.to_der())
    assert again.to_der() == resp.to_der()


def test_delegated_responder_and_key_id(pki):
    b = OCSP.ResponseBuilder()
    b.add_response(pki.certs["good"], pki.certs["ca"], next_update=HOUR)
    resp = b.sign(pki.certs["responder"], pki.keys["responder"], responder_id="key")
    assert resp.responder_key_hash is not None and resp.responder_name is None
    assert verify(pki, resp).good


def test_issuer_signed_without_certs(pki):
    b = OCSP.ResponseBuilder()
    b.add_response(pki.certs["good"], pki.certs["ca"], next_update=HOUR, digest="sha256")
    resp = b.sign(pki.certs["ca"], pki.keys["ca"], include_certs=False)
    assert resp.certificates == []
    assert verify(pki, resp).good  # the issuer is the signer: found without the response's certificates


def test_no_next_update_and_leeway(pki):
    r = verify(pki, pki.response("good", next_update=None))
    assert r.next_update is None
    # nextUpdate 100 s ago is accepted within the default 300 s of clock skew, not with less
    stale = pki.response("good", this_update=-3600, next_update=datetime.timedelta(seconds=-100))
    assert verify(pki, stale).good
    with pytest.raises(OCSP.ResponseExpiredError):
        verify(pki, stale, leeway=10)


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("signer", ["rogue", "good", "ca2"])
def test_unauthorised_signer(pki, signer):
    """Signed by a key the CA did not delegate (no OCSPSigning), by an end entity, by another CA."""
    with pytest.raises(OCSP.OCSPVerificationError) as e:
        verify(pki, pki.response("good", signer=signer))
    assert type(e.value) is OCSP.OCSPVerificationError


def test_forged_signature(pki):
    b = OCSP.ResponseBuilder()
    b.add_response(pki.certs["good"], pki.certs["ca"], next_update=HOUR)
    der = bytearray(b.sign(pki.certs["ca"], pki.keys["ca"], include_certs=False).to_der())
    der[-5] ^= 0x55  # inside the signature's value (no certificates follow it)
    with pytest.raises(OCSP.OCSPVerificationError):
        verify(pki, OCSP.load_response_der(bytes(der)))


def test_untrusted_root(pki):
    with pytest.raises(OCSP.OCSPVerificationError, match="verify"):
        pki.response("good").verify(pki.certs["good"], pki.certs["ca"], [pki.certs["root2"]])


def test_response_for_another_certificate(pki):
    with pytest.raises(OCSP.CertificateMismatchError):
        verify(pki, pki.response("revoked", OCSP.CertStatus.REVOKED), "good")
    # another CA's certificate with the same issuer hashes nowhere near: the CA signed nothing about it
    with pytest.raises(OCSP.OCSPVerificationError):
        pki.response("other", signer="ca2", issuer="ca2").verify(pki.certs["other"], pki.certs["ca2"], [pki.certs["root"]])


def test_nonce_mismatch_and_missing(pki):
    req = OCSP.build_request(pki.certs["good"], pki.certs["ca"])
    other = OCSP.build_request(pki.certs["good"], pki.certs["ca"])
    with pytest.raises(OCSP.NonceMismatchError, match="not the request's"):
        verify(pki, pki.response("good", request=other), request=req)
    with pytest.raises(OCSP.NonceMismatchError, match="did not echo"):
        verify(pki, pki.response("good"), request=req)
    # no nonce asked for: none needed
    assert verify(pki, pki.response("good"), request=OCSP.build_request(pki.certs["good"], pki.certs["ca"], nonce=False)).good


def test_expired_future_and_too_old(pki):
    with pytest.raises(OCSP.ResponseExpiredError, match="expired"):
        verify(pki, pki.response("good", this_update=-7200, next_update=datetime.timedelta(seconds=-3600)))
    with pytest.raises(OCSP.ResponseExpiredError, match="not yet valid"):
        verify(pki, pki.response("good", this_update=datetime.timedelta(hours=2), next_update=datetime.timedelta(hours=3)))
    old = pki.response("good", this_update=datetime.timedelta(hours=-2))
    assert verify(pki, old).good
    with pytest.raises(OCSP.ResponseExpiredError, match="too old"):
        verify(pki, old, max_age=3600)
    with pytest.raises(ValueError):
        verify(pki, old, leeway=-1)


@pytest.mark.parametrize("cut", [0, 1, 10, -1])
def test_malformed_and_truncated(pki, cut):
    der = pki.response("good").to_der()
    with pytest.raises(OCSP.OCSPError, match="malformed"):
        OCSP.load_response_der(der[:cut] if cut else b"")
    with pytest.raises(OCSP.OCSPError, match="malformed"):
        OCSP.load_request_der(OCSP.build_request(pki.certs["good"], pki.certs["ca"]).to_der()[:cut] if cut else b"\x30")


def test_garbage_and_trailing_data(pki):
    der = pki.response("good").to_der()
    for bad in (b"\x00" * 64, der + b"\x00", OCSP.build_request(pki.certs["good"], pki.certs["ca"]).to_der()):
        with pytest.raises(OCSP.OCSPError):
            OCSP.load_response_der(bad)
    # well-formed but empty: "successful" without a body, and a status RFC 6960 does not define
    with pytest.raises(OCSP.OCSPError, match="no basic OCSP response"):
        verify(pki, OCSP.load_response_der(b"\x30\x03\x0a\x01\x00"))
    with pytest.raises(OCSP.OCSPError, match="unknown status 7"):
        verify(pki, OCSP.load_response_der(b"\x30\x03\x0a\x01\x07"))
    with pytest.raises(TypeError):
        OCSP.load_response_der("text")  # type: ignore[arg-type]
    assert Err.get_error() is None


def test_closed_objects(pki):
    resp = pki.response("good")
    resp.close()
    with pytest.raises(Err.ClosedError):
        resp.to_der()
    req = OCSP.build_request(pki.certs["good"], pki.certs["ca"])
    req.close()
    req.close()
    with pytest.raises(Err.ClosedError):
        req.nonce


@pytest.mark.parametrize("status,cls", [
    (OCSP.ResponseStatus.MALFORMED_REQUEST, OCSP.MalformedRequestError),
    (OCSP.ResponseStatus.INTERNAL_ERROR, OCSP.ResponderInternalError),
    (OCSP.ResponseStatus.TRY_LATER, OCSP.TryLaterError),
    (OCSP.ResponseStatus.SIG_REQUIRED, OCSP.SigRequiredError),
    (OCSP.ResponseStatus.UNAUTHORIZED, OCSP.UnauthorizedError),
])
def test_responder_error_statuses(pki, status, cls):
    resp = OCSP.load_response_der(OCSP.error_response(status).to_der())
    assert resp.response_status == status
    with pytest.raises(cls) as e:
        verify(pki, resp)
    assert e.value.status == status and isinstance(e.value, OCSP.OCSPResponderError)
    with pytest.raises(cls):
        resp.responses


def test_builder_refuses_nonsense(pki):
    b = OCSP.ResponseBuilder()
    with pytest.raises(ValueError):
        b.add_response(pki.certs["good"], pki.certs["ca"], OCSP.CertStatus.GOOD, revocation_reason="keyCompromise")
    with pytest.raises(ValueError):
        b.add_response(pki.certs["good"], pki.certs["ca"], 7)
    with pytest.raises(ValueError):
        b.add_response(pki.certs["good"], pki.certs["ca"], OCSP.CertStatus.REVOKED, revocation_reason="bored")
    with pytest.raises(TypeError):
        b.add_response(pki.certs["good"], pki.certs["ca"], next_update="tomorrow")
    with pytest.raises(ValueError):
        OCSP.error_response(OCSP.ResponseStatus.SUCCESSFUL)
    with pytest.raises(ValueError):
        OCSP.error_response(4)


# -- interop: openssl ocsp as client ------------------------------------------------------------

def test_openssl_client_verifies_m2sec_responses(pki, tmp):
    for name, status, want in (("good", OCSP.CertStatus.GOOD, ": good"), ("revoked", OCSP.CertStatus.REVOKED, ": revoked"),
                               ("unknown", OCSP.CertStatus.UNKNOWN, ": unknown")):
        (tmp / "r.der").write_bytes(pki.response(name, status, signer="responder").to_der())
        out = ocsp_cli("-respin", str(tmp / "r.der"), "-CAfile", pki.path("root.pem"), "-issuer", pki.path("ca.pem"),
                       "-cert", pki.path(name + ".pem"), "-no_nonce")
        assert "Response verify OK" in out and want in out, out
        if status == OCSP.CertStatus.REVOKED:
            assert "Reason: keyCompromise" in out
    (tmp / "r.der").write_bytes(pki.response("good", signer="rogue").to_der())
    out = ocsp_cli("-respin", str(tmp / "r.der"), "-CAfile", pki.path("root.pem"), "-issuer", pki.path("ca.pem"),
                   "-cert", pki.path("good.pem"), "-no_nonce")
    assert "Response Verify Failure" in out


def test_openssl_client_against_m2sec_responder(pki, responder):
    out = ocsp_cli("-issuer", pki.path("ca.pem"), "-cert", pki.path("good.pem"), "-cert", pki.path("revoked.pem"),
                   "-url", responder.url, "-CAfile", pki.path("root.pem"), "-timeout", "10")
    assert "Response verify OK" in out and "good.pem: good" in out and "revoked.pem: revoked" in out, out
    assert "WARNING" not in out  # the nonce came back


# -- interop: M2Sec client against openssl ocsp ---------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "GET"])
def test_m2sec_client_against_openssl_responder(pki, openssl_url, method):
    for name, want in (("good", OCSP.CertStatus.GOOD), ("revoked", OCSP.CertStatus.REVOKED),
                       ("unknown", OCSP.CertStatus.UNKNOWN)):
        r = OCSP.check(pki.certs[name], pki.certs["ca"], [pki.certs["root"]], url=openssl_url, method=method)
        assert r.status == want
        if want == OCSP.CertStatus.REVOKED:
            assert r.revocation_reason == "keyCompromise" and r.revocation_time == pki.revoked_at
        assert r.next_update - r.this_update == HOUR  # -nmin 60


def test_m2sec_client_against_openssl_delegated_responder(pki):
    with openssl_responder(pki, "responder") as url:
        req = OCSP.build_request(pki.certs["good"], pki.certs["ca"])
        resp = OCSP.send(req, url, timeout=10)
        assert resp.certificates[0].get_subject().CN == "responder"
        assert resp.verify(pki.certs["good"], pki.certs["ca"], [pki.certs["root"]], request=req).good


# -- HTTP transport against the M2Sec responder --------------------------------------------------

def test_post_get_and_aia(pki, responder):
    responder.requests.clear()
    req = OCSP.build_request(pki.certs["revoked"], pki.certs["ca"])
    for method in ("POST", "GET"):
        resp = OCSP.send(req, responder.url, method=method)
        assert resp.verify(pki.certs["revoked"], pki.certs["ca"], [pki.certs["root"]], request=req).revoked
    assert [m for m, _ in responder.requests] == ["POST", "GET"]
    assert all(der == req.to_der() for _, der in responder.requests)


def test_check_follows_aia(tmp):
    with m2_responder(None) as srv:
        pki = OCSPPKI(str(tmp), srv.url)
        srv.pki = pki
        assert OCSP.check(pki.certs["good"], pki.certs["ca"], [pki.certs["root"]]).good
        assert srv.requests[0][0] == "POST"
    with pytest.raises(OCSP.OCSPError, match="no OCSP responder"):
        OCSP.check(pki.certs["root"], pki.certs["root"], [pki.certs["root"]])


def test_responder_errors_over_http(pki, responder):
    req = OCSP.build_request(pki.certs["good"], pki.certs["ca"])
    try:
        responder.respond = lambda der: OCSP.error_response(OCSP.ResponseStatus.TRY_LATER).to_der()
        with pytest.raises(OCSP.TryLaterError):
            OCSP.send(req, responder.url).verify(pki.certs["good"], pki.certs["ca"], [pki.certs["root"]], request=req)
        responder.respond = lambda der: responder.answer(OCSP.build_request(pki.certs["good"], pki.certs["ca"]).to_der())
        with pytest.raises(OCSP.NonceMismatchError):
            OCSP.send(req, responder.url).verify(pki.certs["good"], pki.certs["ca"], [pki.certs["root"]], request=req)
        responder.respond = lambda der: responder.answer(der, signer="rogue")
        with pytest.raises(OCSP.OCSPVerificationError):
            OCSP.check(pki.certs["good"], pki.certs["ca"], [pki.certs["root"]], url=responder.url)
        responder.respond = lambda der: b"\x30\x82\x01"
        with pytest.raises(OCSP.OCSPError, match="malformed"):
            OCSP.send(req, responder.url)
        responder.respond = lambda der: 1 / 0
        with pytest.raises(OCSP.OCSPTransportError, match="HTTP 500"):
            OCSP.send(req, responder.url)
        responder.respond = responder.answer
        responder.content_type = "text/html"
        with pytest.raises(OCSP.OCSPTransportError, match="text/html"):
            OCSP.send(req, responder.url)
    finally:
        responder.respond, responder.content_type = responder.answer, None
    assert OCSP.send(req, responder.url).verify(pki.certs["good"], pki.certs["ca"], [pki.certs["root"]], request=req).good


def test_timeout_and_refused(pki, responder):
    req = OCSP.build_request(pki.certs["good"], pki.certs["ca"])
    responder.delay = 2.0
    try:
        with pytest.raises(OCSP.OCSPTimeoutError) as e:
            OCSP.send(req, responder.url, timeout=0.3)
        assert isinstance(e.value, TimeoutError)
    finally:
        responder.delay = 0.0
    from ocsp_helpers import free_port
    with pytest.raises(OCSP.OCSPTransportError):
        OCSP.send(req, "http://127.0.0.1:%d/" % free_port(), timeout=2)
    for url in ("https://127.0.0.1/", "ftp://x/", "127.0.0.1"):
        with pytest.raises(ValueError):
            OCSP.send(req, url)
    with pytest.raises(ValueError):
        OCSP.send(req, responder.url, method="PUT")


def test_response_size_bound(pki, responder):
    req = OCSP.build_request(pki.certs["good"], pki.certs["ca"])
    with pytest.raises(OCSP.OCSPTransportError, match="larger than"):
        OCSP.send(req, responder.url, max_size=100)



def test_ed25519_signed_response():
    """A CA with an Ed25519 key signs with no separate digest (digest=None)."""
    from M2Sec import EVP
    from pki_helpers import CA_EXTS, build_cert

    key = EVP.generate_key("Ed25519")
    ca = build_cert("ed-ca", key, None, key, 1, CA_EXTS[:3], md=None)
    leaf_key = EVP.generate_key("EC", curve="P-256")
    leaf = build_cert("ed-leaf", leaf_key, ca, key, 2, [("basicConstraints", "CA:FALSE")], md=None)
    b = OCSP.ResponseBuilder()
    b.add_response(leaf, ca, OCSP.CertStatus.REVOKED, revocation_reason=1, next_update=HOUR)
    resp = b.sign(ca, key, digest=None)
    r = resp.verify(leaf, ca, [ca])
    assert r.revoked and r.revocation_reason == "keyCompromise"


@pytest.mark.timeout(120)
def test_resident_memory_stays_flat(pki, rss):
    """Build, sign, parse and verify (and fail to) many times: no allocation is left behind."""
    import gc

    good, ca, root = pki.certs["good"], pki.certs["ca"], [pki.certs["root"]]
    der = pki.response("good").to_der()
    rogue = pki.response("good", signer="rogue").to_der()

    def cycle():
        req = OCSP.build_request(good, ca)
        OCSP.load_request_der(req.to_der()).cert_ids
        b = OCSP.ResponseBuilder()
        b.add_response(good, ca, OCSP.CertStatus.REVOKED, next_update=HOUR, revocation_reason="superseded")
        b.copy_nonce(req)
        resp = b.sign(ca, pki.keys["ca"])
        resp.verify(good, ca, root, request=req)
        OCSP.load_response_der(der).verify(good, ca, root)
        for bad in (rogue, der[:-9]):
            try:
                OCSP.load_response_der(bad).verify(good, ca, root)
            except OCSP.OCSPError:
                pass

    for _ in range(300):
        cycle()
    gc.collect()
    before = rss()
    for _ in range(2000):
        cycle()
    gc.collect()
    growth = rss() - before
    assert growth < 1024 * 1024, "grew by %d KiB over 2000 cycles" % (growth // 1024)


def test_locally_trusted_responder(pki, tmp):
    """A responder the CA did not delegate, trusted as it is (openssl ocsp -VAfile)."""
    resp = pki.response("good", signer="rogue")
    with pytest.raises(OCSP.OCSPVerificationError):
        verify(pki, resp)
    assert verify(pki, resp, trusted_responders=[pki.certs["rogue"]]).good
    with pytest.raises(OCSP.OCSPVerificationError):  # trusting another responder changes nothing
        verify(pki, resp, trusted_responders=[pki.certs["responder"]])
    with pytest.raises(OCSP.OCSPVerificationError):  # nor does it excuse a bad signature by it
        verify(pki, pki.response("good", signer="ca2", include=()), trusted_responders=[pki.certs["rogue"]])
    (tmp / "r.der").write_bytes(resp.to_der())
    out = ocsp_cli("-respin", str(tmp / "r.der"), "-CAfile", pki.path("root.pem"), "-issuer", pki.path("ca.pem"),
                   "-cert", pki.path("good.pem"), "-no_nonce", "-VAfile", pki.path("rogue.pem"))
    assert "Response verify OK" in out and ": good" in out, out
