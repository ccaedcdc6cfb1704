"""OCSP stapling on both TLS ends (RFC 6066 section 8, RFC 8446 4.4.2.1): in memory, on
sockets, and against openssl s_client -status / s_server -status_file, gnutls-cli --ocsp and
gnutls-serv --ocsp-response."""

import datetime
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ocsp_helpers import OCSPPKI, m2_responder  # noqa: E402
from ssl_helpers import free_port, m2server, memory_handshake, wait_port  # noqa: E402

from M2Sec import OCSP, SSL  # noqa: E402

GOOD, REVOKED, UNKNOWN = OCSP.CertStatus.GOOD, OCSP.CertStatus.REVOKED, OCSP.CertStatus.UNKNOWN
VERSIONS = [SSL.TLSv1_2, SSL.TLSv1_3]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return OCSPPKI(str(tmp_path_factory.mktemp("staplepki")))


def server_ctx(pki, staple=None, version=None):
    ctx = SSL.Context()
    ctx.load_cert_chain(pki.path("server-chain.pem"), pki.path("server.key"))
    if version:
        ctx.set_max_proto_version(version)
    if staple is not None:
        ctx.set_ocsp_staple(staple)
    return ctx


def client_ctx(pki, mode="require", **kw):
    ctx = SSL.create_default_context(cafile=pki.path("root.pem"))
    ctx.set_ocsp_stapling(mode, **kw)
    return ctx


def pair(pki, staple, mode="require", version=None, **kw):
    c = SSL.SSLObject(client_ctx(pki, mode, **kw), server_hostname="localhost")
    s = SSL.SSLObject(server_ctx(pki, staple, version), server_side=True)
    return c, s


def server_sees_alert(c, s) -> str:
    """Hand the client's alert to the server; the server's error text."""
    s.receive_bytes(c.data_to_send())
    with pytest.raises(SSL.SSLError) as e:
        for _ in range(3):
            try:
                s.do_handshake()
            except SSL.SSLWantReadError:
                pass
            s.read()
    return str(e.value)


def tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail("%s is needed (apt-get install %s)" % (name, "gnutls-bin" if "gnutls" in name else "openssl"))
    return path


# -- in memory -------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", VERSIONS)
def test_require_good_staple(pki, version):
    der = pki.response("server").to_der()
    c, s = pair(pki, der, version=version)
    memory_handshake(c, s)
    r = c.get_ocsp_result()
    assert r.good and r.serial_number == pki.certs["server"].get_serial_number()
    assert c.get_ocsp_response() == der
    assert c.version() == ("TLSv1.3" if version == SSL.TLSv1_3 else "TLSv1.2")


@pytest.mark.parametrize("version", VERSIONS)
def test_require_fails_without_staple(pki, version):
    c, s = pair(pki, None, version=version)
    with pytest.raises(SSL.OCSPStapleError, match="no OCSP staple") as e:
        memory_handshake(c, s)
    assert isinstance(e.value, SSL.SSLError) and isinstance(e.value, OCSP.OCSPError)
    assert "bad certificate status response" in server_sees_alert(c, s)


def test_prefer_and_off(pki):
    c, s = pair(pki, None, "prefer")
    memory_handshake(c, s)
    assert c.get_ocsp_result() is None and c.get_ocsp_response() is None
    # off: no status_request, so the server staples nothing even though it has a response
    c, s = pair(pki, pki.response("server"), "off")
    memory_handshake(c, s)
    assert c.get_ocsp_response() is None and c.get_ocsp_result() is None
    # a context that never asked: the same
    c = SSL.SSLObject(SSL.create_default_context(cafile=pki.path("root.pem")), server_hostname="localhost")
    s = SSL.SSLObject(server_ctx(pki, pki.response("server")), server_side=True)
    memory_handshake(c, s)
    assert c.get_ocsp_response() is None
    with pytest.raises(ValueError):
        client_ctx(pki, "sometimes")


@pytest.mark.parametrize("mode", ["require", "prefer"])
@pytest.mark.parametrize("version", VERSIONS)
def test_revoked_staple_fails_in_both_modes(pki, mode, version):
    c, s = pair(pki, pki.response("server", REVOKED), mode, version)
    with pytest.raises(SSL.StapleRevokedError, match="revoked") as e:
        memory_handshake(c, s)
    assert e.value.result.revoked and e.value.result.revocation_reason == "keyCompromise"
    assert "bad certificate status response" in server_sees_alert(c, s)


def test_unknown_staple(pki):
    c, s = pair(pki, pki.response("server", UNKNOWN), "require")
    with pytest.raises(SSL.OCSPStapleError, match="UNKNOWN"):
        memory_handshake(c, s)
    c, s = pair(pki, pki.response("server", UNKNOWN), "prefer")
    memory_handshake(c, s)
    assert c.get_ocsp_result().status == UNKNOWN


def test_delegated_responder_staple(pki):
    c, s = pair(pki, pki.response("server", signer="responder"))
    memory_handshake(c, s)
    assert c.get_ocsp_result().good


def test_leeway_and_max_age(pki):
    old = pki.response("server", this_update=datetime.timedelta(hours=-2))
    c, s = pair(pki, old, max_age=3600)
    with pytest.raises(SSL.OCSPStapleError, match="too old"):
        memory_handshake(c, s)
    c, s = pair(pki, old)
    memory_handshake(c, s)
    with pytest.raises(ValueError):
        client_ctx(pki, leeway=-5)


# -- bad staples ----------------------------------------------------------------------------------

def bad_staples(pki):
    return {
        "garbage": lambda: b"\x30\x82\xff\xff garbage",
        "truncated": lambda: pki.response("server").to_der()[:-20],
        "another certificate": lambda: pki.response("good").to_der(),
        "unauthorised signer": lambda: pki.response("server", signer="rogue").to_der(),
        "another CA's signer": lambda: pki.response("server", signer="ca2").to_der(),
        "expired": lambda: pki.response("server", this_update=-7200, next_update=datetime.timedelta(hours=-1)).to_der(),
        "error status": lambda: OCSP.error_response(OCSP.ResponseStatus.TRY_LATER).to_der(),
    }


@pytest.mark.parametrize("case,match", [
    ("garbage", "malformed"), ("truncated", "malformed"), ("another certificate", "not about this certificate"),
    ("unauthorised signer", "signer"), ("another CA's signer", "signer"), ("expired", "expired"),
    ("error status", "tryLater|TRY_LATER"),
])
@pytest.mark.parametrize("mode", ["require", "prefer"])
def test_bad_staple_fails_the_handshake(pki, case, match, mode):
    c, s = pair(pki, bad_staples(pki)[case], mode)
    with pytest.raises(SSL.OCSPStapleError, match=match) as e:
        memory_handshake(c, s)
    assert isinstance(e.value.__cause__, OCSP.OCSPError)
    assert "bad certificate status response" in server_sees_alert(c, s)


def test_set_staple_checks_its_input(pki, tmp):
    ctx = server_ctx(pki)
    with pytest.raises(OCSP.OCSPError, match="malformed"):
        ctx.set_ocsp_staple(b"not DER")
    with pytest.raises(ValueError):
        ctx.set_ocsp_staple(b"")
    with pytest.raises(TypeError):
        ctx.set_ocsp_staple(42)
    with pytest.raises(FileNotFoundError):
        ctx.set_ocsp_staple(str(tmp / "missing.der"))


def test_staple_callback_errors_fail_the_server_handshake(pki):
    def boom():
        raise RuntimeError("no staple today")

    c, s = pair(pki, boom)
    with pytest.raises(RuntimeError, match="no staple today"):
        memory_handshake(c, s)
    c, s = pair(pki, lambda: "text, not bytes")
    with pytest.raises(TypeError, match="DER bytes"):
        memory_handshake(c, s)
    # None from the callback: no staple, which "prefer" accepts
    c, s = pair(pki, lambda: None, "prefer")
    memory_handshake(c, s)
    assert c.get_ocsp_response() is None


# -- sources of the server's staple ------------------------------------------------------------------

def test_staple_from_file_is_reread(pki, tmp):
    path = tmp / "staple.der"
    path.write_bytes(pki.response("server").to_der())
    ctx = server_ctx(pki, str(path))
    cctx = client_ctx(pki, "prefer")
    for status in (GOOD, REVOKED):
        der = pki.response("server", status).to_der()
        path.write_bytes(der)
        os.utime(path, ns=(0, 10**9 * (1 + status)))  # a new mtime even within the clock's resolution
        c, s = SSL.SSLObject(cctx, server_hostname="localhost"), SSL.SSLObject(ctx, server_side=True)
        if status == GOOD:
            memory_handshake(c, s)
            assert c.get_ocsp_response() == der
        else:
            with pytest.raises(SSL.StapleRevokedError):
                memory_handshake(c, s)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.timezone.utc).timestamp()

    def __call__(self) -> float:
        return self.now


def test_refreshing_staple_fetches_before_next_update(pki):
    clock, fetched = Clock(), []

    def fetch():
        fetched.append(clock.now)
        return pki.response("server", this_update=int(clock.now), next_update=int(clock.now) + 3600)

    staple = SSL.RefreshingStaple(fetch, margin=600, clock=clock)
    first = staple()
    assert first and len(fetched) == 1
    clock.now += 1000
    assert staple() == first and len(fetched) == 1  # 50% of the hour is the refresh point
    clock.now += 900
    assert staple() != first and len(fetched) == 2
    # a failing fetch keeps the valid response, and is retried a minute later, not each handshake
    current = staple()

    def broken():
        raise OSError("responder down")

    staple.fetch = broken
    clock.now += 3000
    assert staple() == current and isinstance(staple.last_error, OSError)
    clock.now += 700  # past nextUpdate: nothing rather than an expired response
    assert staple() is None


def test_refreshing_staple_over_http(pki):
    """A server that fetches its staple from an OCSP responder, for the client to verify."""
    with m2_responder(pki) as srv:
        req = OCSP.build_request(pki.certs["server"], pki.certs["ca"], nonce=False)
        staple = SSL.RefreshingStaple(lambda: OCSP.send(req, srv.url, timeout=5))
        ctx = server_ctx(pki, staple)
        for _ in range(3):
            c, s = SSL.SSLObject(client_ctx(pki), server_hostname="localhost"), SSL.SSLObject(ctx, server_side=True)
            memory_handshake(c, s)
            assert c.get_ocsp_result().good
        assert len(srv.requests) == 1


# -- sockets and real peers ---------------------------------------------------------------------------

def test_connection_on_socket(pki):
    with m2server(server_ctx(pki, pki.response("server"))) as srv:
        conn = SSL.Connection(client_ctx(pki))
        conn.settimeout(10)
        try:
            conn.connect(("localhost", srv.port))
            assert conn.get_ocsp_result().good and conn.get_ocsp_response()
            conn.write(b"ping")
            assert conn.read(4) == b"ping"
        finally:
            conn.close()
    with m2server(server_ctx(pki)) as srv:
        conn = SSL.Connection(client_ctx(pki))
        conn.settimeout(10)
        with pytest.raises(SSL.OCSPStapleError):
            conn.connect(("localhost", srv.port))
        conn.close()


def test_openssl_s_client_status(pki):
    tool("openssl")
    with m2server(server_ctx(pki, pki.response("server"))) as srv:
        p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-status", "-CAfile",
                            pki.path("root.pem"), "-verify_return_error"], input=b"", capture_output=True, timeout=20)
    out = p.stdout.decode(errors="replace")
    assert "OCSP Response Status: successful" in out and "Cert Status: good" in out, out
    assert "Serial Number: %X" % pki.certs["server"].get_serial_number() in out
    with m2server(server_ctx(pki)) as srv:
        p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-status"],
                           input=b"", capture_output=True, timeout=20)
    assert "OCSP response: no response sent" in p.stdout.decode(errors="replace")


@contextmanager
def s_server(pki, *args):
    port = free_port()
    proc = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", pki.path("server.pem"),
                             "-key", pki.path("server.key"), "-cert_chain", pki.path("ca.pem"), "-naccept", "10", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        yield port
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def m2_connect(pki, port, mode="require", **kw):
    conn = SSL.Connection(client_ctx(pki, mode, **kw))
    conn.settimeout(10)
    try:
        conn.connect(("localhost", port))
        return conn.get_ocsp_result()
    finally:
        conn.close()


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_m2sec_client_against_openssl_s_server(pki, tmp, version):
    tool("openssl")
    for status in (GOOD, REVOKED):
        path = tmp / ("status%d.der" % status)
        path.write_bytes(pki.response("server", status).to_der())
        with s_server(pki, "-status_file", str(path), version) as port:
            if status == GOOD:
                assert m2_connect(pki, port).good
            else:
                with pytest.raises(SSL.StapleRevokedError):
                    m2_connect(pki, port, "prefer")
    with s_server(pki, version) as port:
        with pytest.raises(SSL.OCSPStapleError, match="no OCSP staple"):
            m2_connect(pki, port)
        assert m2_connect(pki, port, "prefer") is None


def test_gnutls_cli_ocsp(pki, tmp):
    cli = tool("gnutls-cli")
    der = pki.response("server").to_der()
    for status in (GOOD, REVOKED):
        with m2server(server_ctx(pki, pki.response("server", status) if status == REVOKED else der)) as srv:
            p = subprocess.run([cli, "--ocsp", "--x509cafile", pki.path("root.pem"), "--verify-hostname", "localhost",
                                "--save-ocsp", str(tmp / "saved.der"), "-p", str(srv.port), "127.0.0.1"],
                               input=b"", capture_output=True, timeout=30)
        out = (p.stdout + p.stderr).decode(errors="replace")
        if status == GOOD:
            assert p.returncode == 0 and "The certificate is trusted" in out, out
            assert (tmp / "saved.der").read_bytes() == der
        else:
            assert p.returncode != 0 and "revoked" in out, out


@pytest.mark.parametrize("status", [GOOD, REVOKED])
def test_m2sec_client_against_gnutls_serv(pki, tmp, status):
    serv = tool("gnutls-serv")
    path = tmp / "resp.der"
    path.write_bytes(pki.response("server", status).to_der())
    port = free_port()
    proc = subprocess.Popen([serv, "-p", str(port), "--echo", "-a", "--x509certfile", pki.path("server-chain.pem"),
                             "--x509keyfile", pki.path("server.key"), "--ocsp-response", str(path),
                             "--ignore-ocsp-response-errors"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        if status == GOOD:
            assert m2_connect(pki, port).good
        else:
            with pytest.raises(SSL.StapleRevokedError):
                m2_connect(pki, port, "prefer")
    finally:
        proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("version", VERSIONS)
def test_resumed_session_needs_no_new_staple(pki, version):
    """A resumed handshake has no certificate and no staple: "require" accepts it (the staple
    was checked when the session was made); get_ocsp_result() is None then."""
    sctx = server_ctx(pki, pki.response("server"), version)
    sctx.set_session_id_ctx(b"stapling")
    cctx = client_ctx(pki)
    c, s = SSL.SSLObject(cctx, server_hostname="localhost"), SSL.SSLObject(sctx, server_side=True)
    memory_handshake(c, s)
    session = c.session
    c2 = SSL.SSLObject(cctx, server_hostname="localhost", session=session)
    s2 = SSL.SSLObject(sctx, server_side=True)
    memory_handshake(c2, s2)
    assert c2.session_reused() and c2.get_ocsp_result() is None


def test_context_with_stapling_is_freed(pki):
    """The SSL_CTX keeps one module-level function, never the Context: a Context is freed by
    reference counting, and a staple callable that holds its Context is a cycle the garbage
    collector sees."""
    import gc
    import weakref

    gc.disable()
    try:
        for make in (lambda: server_ctx(pki, lambda: None), lambda: client_ctx(pki)):
            ctx = make()
            ref = weakref.ref(ctx)
            del ctx
            assert ref() is None
    finally:
        gc.enable()


def test_staple_callable_holding_its_context_is_collected(pki):
    import gc
    import weakref

    def make():
        ctx = server_ctx(pki)
        ctx.set_ocsp_staple(lambda: ctx and None)
        return weakref.ref(ctx)

    ref = make()
    gc.collect()
    assert ref() is None


def test_c_callback_contract(pki):
    """m2.ssl_ctx_set_ocsp_callback directly: a server answer that is not bytes is a
    TypeError; a client answer that is false fails the handshake with OpenSSL's error."""
    from M2Sec import m2

    s = server_ctx(pki)
    m2.ssl_ctx_set_ocsp_callback(s.ctx, lambda ssl, is_server, staple: "text")
    c = client_ctx(pki, "prefer")
    with pytest.raises(TypeError, match="non-empty bytes"):
        memory_handshake(SSL.SSLObject(c, server_hostname="localhost"), SSL.SSLObject(s, server_side=True))
    s = server_ctx(pki, pki.response("server"))
    m2.ssl_ctx_set_ocsp_callback(c.ctx, lambda ssl, is_server, staple: staple is None)
    with pytest.raises(SSL.SSLError, match="invalid status response"):
        memory_handshake(SSL.SSLObject(c, server_hostname="localhost"), SSL.SSLObject(s, server_side=True))
    with pytest.raises(TypeError):
        m2.ssl_ctx_set_ocsp_callback(c.ctx, "not callable")
