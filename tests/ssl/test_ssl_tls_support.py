"""What the SSL layer offers M2Sec.TLS beyond M2Crypto: signature algorithms, a required ALPN
match, cache size, suite numbers, protocol numbers, the peer's chain on both ends, the alert
recording of _tls.i (which must leave the context's info callback working), and SRP on _ssl.i's
pointers.  In-memory SSLObject pairs."""

import gc

import pytest

from M2Sec import SSL, X509, m2
from ssl_helpers import pki  # noqa: F401  (the fixture)
from test_ssl_sansio import handshake, pair, pump

pytestmark = pytest.mark.timeout(60)


def fail_handshake(c, s):
    """Run a handshake that must fail; the peers' bytes are passed on after the failure."""
    with pytest.raises(SSL.SSLError):
        handshake(c, s)
    pump(c, s)


def test_sigalgs(pki):
    sctx = pki.server_ctx()
    sctx.set_sigalgs(["ECDSA+SHA384", "rsa_pss_rsae_sha256"])
    c, s = pair(pki, sctx=sctx)
    handshake(c, s)
    with pytest.raises(SSL.SSLError):
        pki.server_ctx().set_sigalgs("NOPE+SHA1")


def test_alpn_required_refuses_no_overlap(pki):
    sctx = pki.server_ctx()
    sctx.set_alpn_protocols([b"h2"])
    cctx = pki.client_ctx()
    cctx.set_alpn_protocols([b"http/1.1"])
    c, s = pair(pki, cctx, sctx)
    handshake(c, s)                              # not required: no ALPN, no failure
    assert c.get_alpn_selected() is None
    sctx.set_alpn_required(True)
    c, s = pair(pki, cctx, sctx)
    m2.tls_track_alerts(s.ssl)
    assert m2.tls_alerts(s.ssl) == (None, None)
    fail_handshake(c, s)
    sent, received = m2.tls_alerts(s.ssl)
    assert sent == (2, 120) and received is None  # fatal no_application_protocol
    sctx.set_alpn_required(False)
    c, s = pair(pki, cctx, sctx)
    handshake(c, s)


def test_alert_recording_keeps_the_context_info_callback(pki):
    events = []
    sctx = pki.server_ctx()
    sctx.set_info_callback(lambda where, ret, ssl: events.append((where, ret)))
    sctx.set_sigalgs("ECDSA+SHA256")
    cctx = pki.client_ctx()
    cctx.set_sigalgs("rsa_pss_rsae_sha256")      # nothing in common with the server's key
    c, s = pair(pki, cctx, sctx)
    m2.tls_track_alerts(s.ssl)
    m2.tls_track_alerts(c.ssl)
    fail_handshake(c, s)
    assert any(w & m2.SSL_CB_HANDSHAKE_START for w, _ in events)
    alerts = [ret for w, ret in events if w & m2.SSL_CB_ALERT]
    assert alerts and m2.tls_alerts(s.ssl)[0] == divmod(alerts[0], 256)
    with pytest.raises(SSL.SSLError):
        c.do_handshake()                         # the client reads the server's alert
    assert m2.tls_alerts(c.ssl)[1] == m2.tls_alerts(s.ssl)[0]
    with pytest.raises(ValueError):
        m2.tls_alerts(None)


def test_cipher_numbers_version_and_peer_chains(pki):
    sctx = pki.server_ctx()
    sctx.load_verify_locations(pki.path("root.pem"))
    sctx.set_verify(SSL.verify_peer | SSL.verify_fail_if_no_peer_cert, 10)
    cctx = pki.client_ctx()
    cctx.load_cert_chain(pki.chain("client"), pki.path("client.key"))
    c, s = pair(pki, cctx, sctx)
    handshake(c, s)
    assert c.get_protocol_version() == s.get_protocol_version() == m2.TLS1_3_VERSION
    cipher = c.get_cipher()
    assert cipher.protocol_id() in (0x1301, 0x1302, 0x1303)
    assert cipher.protocol_id() == s.get_cipher().protocol_id()
    for side, leaf in ((c, "server"), (s, "client")):
        chain = side.get_peer_chain()
        want = [X509.load_cert(pki.path(name + ".pem")).as_der() for name in (leaf, "inter")]
        assert [x.as_der() for x in chain] == want


def test_session_cache_size(pki):
    ctx = SSL.Context()
    assert ctx.set_session_cache_size(10) == 128
    assert ctx.set_session_cache_size(0) == 10


def test_srp_on_ssl_contexts(pki):
    N, g = m2.srp_group(2048)
    salt, verifier = m2.srp_create_verifier("alice", "secret", N, g, None)
    sctx = SSL.Context("tls_server")
    sctx.set_max_proto_version(SSL.TLSv1_2)
    sctx.set_cipher_list("SRP")
    m2.srp_ctx_set_server(sctx.ctx, lambda user: (N, g, salt, verifier) if user == b"alice" else None)
    gc.collect()                                 # the context keeps the lookup alive
    cctx = SSL.Context("tls_client")
    cctx.set_cipher_list("SRP")
    m2.srp_ctx_set_client(cctx.ctx, "alice", "secret", 2048)
    c, s = SSL.SSLObject(cctx), SSL.SSLObject(sctx, server_side=True)
    handshake(c, s)
    assert m2.srp_get_username(s.ssl) == "alice"
    with pytest.raises(ValueError):
        m2.srp_ctx_set_server(None, lambda user: None)
    with pytest.raises(ValueError):
        m2.srp_get_username(None)
