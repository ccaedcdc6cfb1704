"""Misuse of the SSL API: closed and freed objects, wrong types, None, NUL characters,
negative and huge sizes, files that are missing or do not match.  Each gets a clear
exception (TypeError or ValueError for a bad argument, SSLError for what OpenSSL refuses,
ClosedError for a closed object), never a crash, and leaves OpenSSL's error queue empty
(tests/conftest.py checks it after every test).  Cases that could crash the interpreter run
in a child interpreter."""

import json
import mmap
import socket

import pytest

from M2Sec import BIO, SSL, X509, Err, m2
from M2Sec.SSL.Checker import Checker, NoCertificate
from ssl_helpers import pki  # noqa: F401  (the fixture)
from ssl_helpers import memory_handshake, run_isolated

pytestmark = pytest.mark.timeout(60)

#: what a closed or freed object may answer: a ClosedError, or, for the socket methods of a
#: closed connection, the socket's own OSError (EBADF); an unconnected SSL refuses to export
SWEEP_OUTCOMES = ("ClosedError", "OSError")
SWEEP_IO = {"read", "recv", "write", "send", "sendall", "recv_into", "readinto", "connect_ssl", "accept_ssl",
            "unwrap"}


@pytest.mark.parametrize("kind", ["closed-connection", "freed-connection", "closed-context", "freed-session",
                                  "closed-sslobject"])
def test_every_method_of_a_closed_object(pki, kind):
    out = run_isolated("import misuse_sweep; misuse_sweep.main(%r, %r)" % (kind, pki.d))
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[-1]["call"] == "<end>"  # close()/free() again did nothing
    assert len(rows) > 10
    for row in rows:
        assert row["queue"] == 0, row
        assert row["outcome"] != "NO-ARGS", "add %s to misuse_sweep.ARGS" % row["call"]
        if row["call"] in SWEEP_IO:
            assert "SSLClosedError" in row["outcome"].split(), row
        elif row["outcome"] != "ok" and row["call"] != "export_keying_material":
            assert set(row["outcome"].split()) & set(SWEEP_OUTCOMES), row
        if kind in ("closed-context", "freed-session", "closed-sslobject", "freed-connection"):
            assert row["outcome"] == "ok" or "ClosedError" in row["outcome"] or "OSError" in row["outcome"], row


def test_negotiated_group_before_any_handshake():
    # SSL_get_negotiated_group read a NULL session in OpenSSL 3.0: a segfault
    out = run_isolated("from M2Sec import SSL\n"
                       "c = SSL.Connection(SSL.Context())\n"
                       "o = SSL.SSLObject(SSL.Context(), server_side=True)\n"
                       "print(c.get_negotiated_group(), o.get_negotiated_group())\n"
                       "c.clear()\n"
                       "print(c.get_negotiated_group())\n")
    assert out.split() == ["None", "None", "None"]


@pytest.mark.parametrize("call", [
    lambda c: c.set_tlsext_host_name("good.example\0evil.example"),
    lambda c: c.set1_host("good.example\0evil.example"),
    lambda c: c.set_cipher_list("ALL\0eNULL"),
    lambda c: c.set_ciphersuites("TLS_AES_128_GCM_SHA256\0x"),
    lambda c: c.set_groups("P-256\0x"),
    lambda c: c.ctx.load_cert("/etc/hostname\0.pem"),
    lambda c: c.ctx.load_verify_locations("/etc/hostname\0.pem"),
    lambda c: c.ctx.load_verify_locations(None, "/etc\0/ssl"),
    lambda c: c.ctx.set_client_CA_list_from_file("/etc/hostname\0.pem"),
    lambda c: c.ctx.set_sigalgs("ECDSA+SHA256\0x"),
    lambda c: m2.ssl_ctx_set1_host(c.ctx.ctx, "good.example\0evil.example"),
])
def test_nul_inside_a_string_is_refused(call):
    # OpenSSL reads up to the first NUL: the name checked or the file loaded would be another
    c = SSL.Connection(SSL.Context())
    with pytest.raises(ValueError, match="NUL"):
        call(c)
    c.free()


@pytest.mark.parametrize("call, exc", [
    (lambda c: c.read(-1), ValueError),
    (lambda c: c.read(0), ValueError),
    (lambda c: c.read("10"), TypeError),
    (lambda c: c.write(None), TypeError),
    (lambda c: c.write(5), TypeError),
    (lambda c: c.write("text"), TypeError),
    (lambda c: c.sendall(object()), TypeError),
    (lambda c: c.recv_into(b"read-only"), BufferError),
    (lambda c: c.readinto(b"read-only"), BufferError),
    (lambda c: c.recv_into(bytearray(0)), ValueError),
    (lambda c: c.recv_into(bytearray(4), -1), ValueError),
    (lambda c: c.recv_into(None), TypeError),
    (lambda c: c.set_session(None), TypeError),
    (lambda c: c.set_session(b"session"), TypeError),
    (lambda c: c.set_bio(None, None), TypeError),
    (lambda c: c.set_tlsext_host_name(None), TypeError),
    (lambda c: c.set_tlsext_host_name(5), TypeError),
    (lambda c: c.set_tlsext_host_name(b"\xff"), ValueError),
    (lambda c: c.set_tlsext_host_name("a" * 256), SSL.SSLError),
    (lambda c: c.set_tlsext_host_name(""), SSL.SSLError),
    (lambda c: c.set1_host(None), TypeError),
    (lambda c: c.set_alpn_protocols([""]), ValueError),
    (lambda c: c.set_alpn_protocols(["x" * 256]), ValueError),
    (lambda c: c.set_session_id_ctx(b"x" * 33), SSL.SSLError),
    (lambda c: c.set_session_id_ctx("text"), TypeError),
    (lambda c: c.set_ciphersuites("TLS_NO_SUCH_SUITE"), SSL.SSLError),
    (lambda c: c.set_socket_read_timeout(5), TypeError),
    (lambda c: c.set_ssl_close_flag(7), ValueError),
    (lambda c: c.export_keying_material("label", 0), ValueError),
    (lambda c: c.export_keying_material("label", 1 << 20), ValueError),
    (lambda c: c.export_keying_material("label", 16), SSL.SSLError),  # no handshake yet
    (lambda c: c.get_ciphers()[10 ** 9], IndexError),
    (lambda c: c.makefile("r"), ValueError),
    (lambda c: c.read(), SSL.SSLError),  # no handshake yet
    (lambda c: c.connect_ssl(), SSL.SSLError),  # no peer
    (lambda c: SSL.Connection(None), TypeError),
    (lambda c: SSL.Connection(c.ctx.ctx), TypeError),
])
def test_bad_connection_arguments(call, exc):
    c = SSL.Connection(SSL.Context())
    try:
        with pytest.raises(exc):
            call(c)
    finally:
        c.free()


def test_huge_sizes_are_bounded():
    c = SSL.Connection(SSL.Context())
    # sizes past a C int are capped, not refused: the read still fails for want of a handshake
    for size in (2 ** 31, 2 ** 63):
        with pytest.raises(SSL.SSLError, match="uninitialized"):
            c.read(size)
        with pytest.raises(SSL.SSLError, match="uninitialized"):
            c.recv_into(bytearray(16), size)
    # a buffer too large for OpenSSL's int counts is refused before anything is read from it
    with mmap.mmap(-1, 2 ** 31 + 1) as big:
        with pytest.raises(OverflowError):
            m2.ssl_write(c.ssl, big, 0)
    c.free()


def test_sendall_hands_openssl_bounded_slices(monkeypatch):
    c = SSL.Connection(SSL.Context())
    sizes = []

    def fake_write(self, data):
        sizes.append(len(data))
        return len(data)

    monkeypatch.setattr(SSL.Connection, "write", fake_write)
    with mmap.mmap(-1, (1 << 30) * 2 + 5) as big:  # never touched: the fake reads nothing
        assert c.sendall(big) == len(big)
    assert sizes == [1 << 30, 1 << 30, 5]
    monkeypatch.undo()
    c.free()


def test_sendall_hands_bytes_as_they_are_and_the_rest_of_a_partial_write_as_a_view(monkeypatch):
    c = SSL.Connection(SSL.Context())
    handed = []

    def fake_write(self, data):  # a partial write of three bytes at a time
        handed.append((type(data), bytes(data[:3])))
        return min(len(data), 3)

    monkeypatch.setattr(SSL.Connection, "write", fake_write)
    assert c.sendall(b"abcdefgh") == 8
    assert handed == [(bytes, b"abc"), (memoryview, b"def"), (memoryview, b"gh")]
    monkeypatch.undo()
    c.free()


@pytest.mark.parametrize("call, exc", [
    (lambda ctx, pki: ctx.load_cert(pki.path("nope.pem")), SSL.SSLError),
    (lambda ctx, pki: ctx.load_cert(pki.path("server.pem"), pki.path("client.key")), SSL.SSLError),
    (lambda ctx, pki: ctx.load_cert(pki.path("ca.cnf")), SSL.SSLError),
    (lambda ctx, pki: ctx.load_cert_chain(pki.path("nope.pem")), SSL.SSLError),
    (lambda ctx, pki: ctx.load_cert(None), TypeError),
    (lambda ctx, pki: ctx.load_verify_locations(pki.path("nope.pem")), SSL.SSLError),
    (lambda ctx, pki: ctx.load_verify_locations(pki.path("ca.cnf")), SSL.SSLError),
    (lambda ctx, pki: ctx.load_verify_locations(), ValueError),
    (lambda ctx, pki: ctx.set_client_CA_list_from_file(pki.path("nope.pem")), SSL.SSLError),
    (lambda ctx, pki: ctx.use_certificate(X509.load_cert(pki.path("server.pem")), "not a key"), TypeError),
    (lambda ctx, pki: ctx.use_certificate(None, None), TypeError),
    (lambda ctx, pki: ctx.set_verify(SSL.verify_peer, 1, 5), TypeError),
    (lambda ctx, pki: ctx.set_verify(SSL.verify_peer, 2 ** 40), OverflowError),
    (lambda ctx, pki: ctx.set_options(-1), OverflowError),
    (lambda ctx, pki: ctx.set_min_proto_version(999), SSL.SSLError),
    (lambda ctx, pki: ctx.set_min_proto_version("SSLv2"), ValueError),
    (lambda ctx, pki: ctx.set_groups(""), SSL.SSLError),
    (lambda ctx, pki: ctx.set_sigalgs(""), SSL.SSLError),
    (lambda ctx, pki: ctx.set_tmp_ecdh("no-such-curve"), SSL.SSLError),
    (lambda ctx, pki: ctx.set_tmp_ecdh(-1), ValueError),
    (lambda ctx, pki: ctx.set_tmp_ecdh(99999), ValueError),
    (lambda ctx, pki: ctx.set_tmp_dh(pki.path("ca.cnf")), Err.M2SecError),
    (lambda ctx, pki: ctx.set_info_callback(5), TypeError),
    (lambda ctx, pki: ctx.set_keylog_callback(5), TypeError),
    (lambda ctx, pki: ctx.set_servername_callback(5), TypeError),
    (lambda ctx, pki: ctx.set_alpn_protocols(None), TypeError),
    (lambda ctx, pki: ctx.set_session_id_ctx(b"x" * 33), SSL.SSLError),
    (lambda ctx, pki: ctx.set_session_tickets(True, -1), OverflowError),
    (lambda ctx, pki: ctx.add_session(None), TypeError),
    (lambda ctx, pki: ctx.remove_session("session"), TypeError),
    (lambda ctx, pki: m2.ssl_ctx_set_alpn_select(ctx.ctx, b"\x09h2"), ValueError),
    (lambda ctx, pki: m2.ssl_ctx_set_alpn_select(ctx.ctx, b"\x00"), ValueError),
    (lambda ctx, pki: m2.ssl_ctx_set_alpn_protos(ctx.ctx, b"\x05h2"), SSL.SSLError),
    (lambda ctx, pki: SSL.Context("no_such_protocol"), ValueError),
    (lambda ctx, pki: SSL.Context("ssl_ctx_free"), ValueError),
    (lambda ctx, pki: SSL.create_default_context("server"), ValueError),
    (lambda ctx, pki: SSL.create_default_context(cafile=pki.path("nope.pem")), SSL.SSLError),
    (lambda ctx, pki: SSL.create_default_context(cadata=b"no PEM here"), SSL.SSLError),
])
def test_bad_context_arguments(pki, call, exc):
    ctx = SSL.Context()
    with pytest.raises(exc):
        call(ctx, pki)
    ctx.close()


def test_empty_cipher_list_answers_zero_and_leaves_no_error():
    ctx = SSL.Context()
    assert ctx.set_cipher_list("") == 0  # M2Crypto's answer: nothing matched
    assert ctx.set_cipher_list("NO-SUCH-CIPHER") == 0
    assert m2.err_peek_error() == 0
    assert ctx.set_cipher_list("ECDHE+AESGCM") == 1
    c = SSL.Connection(ctx)
    assert c.set_cipher_list("") == 0
    c.free()


@pytest.mark.parametrize("data, exc", [
    (b"", SSL.SSLError),
    (b"garbage", SSL.SSLError),
    (b"\x30\x82\xff\xff" + b"\x00" * 64, SSL.SSLError),  # a DER length far past the data
    (None, TypeError),
    ("text", TypeError),
])
def test_load_session_der_of_garbage(data, exc):
    with pytest.raises(exc):
        SSL.Session.load_session_der(data)


def test_load_session_files(pki, tmp_path):
    with pytest.raises(Err.M2SecError):
        SSL.Session.load_session(str(tmp_path / "missing.pem"))
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN SSL SESSION PARAMETERS-----\nAAAA\n-----END SSL SESSION PARAMETERS-----\n")
    with pytest.raises(SSL.SSLError):
        SSL.Session.load_session(str(bad))
    with pytest.raises(SSL.SSLError):
        SSL.Session.load_session(pki.path("server.pem"))


def test_freed_session_is_refused(pki):
    cl, sv = SSL.SSLObject(SSL.Context()), SSL.SSLObject(pki.server_ctx(), server_side=True)
    memory_handshake(cl, sv)
    sess = cl.get_session()
    cl.close()
    sv.close()
    sess.free()
    sess.free()
    c = SSL.Connection(SSL.Context())
    with pytest.raises(Err.ClosedError):
        c.set_session(sess)
    with pytest.raises(Err.ClosedError):
        c.ctx.add_session(sess)
    with pytest.raises(Err.ClosedError):
        SSL.SSLObject(SSL.Context(), session=sess)
    c.free()


def test_sslobject_misuse(pki):
    obj = SSL.SSLObject(pki.server_ctx(), server_side=True)
    with pytest.raises(TypeError):
        obj.receive_bytes("text")
    with pytest.raises(ValueError):
        obj.read(0)
    with pytest.raises(BufferError):
        obj.read_into(b"read-only")
    obj.receive_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # not TLS
    with pytest.raises(SSL.SSLError, match="wrong version|http request"):
        obj.do_handshake()
    obj.receive_eof()
    with pytest.raises(SSL.SSLError):
        obj.receive_bytes(b"more")
    obj.close()
    obj.close()
    with pytest.raises(Err.ClosedError):
        obj.receive_bytes(b"x")
    with pytest.raises(ValueError):
        SSL.SSLObject(SSL.create_default_context(cafile=pki.path("root.pem")))  # no server_hostname


def test_checker_misuse(pki):
    cert = X509.load_cert(pki.path("server.pem"))
    with pytest.raises(NoCertificate):
        Checker()(None)
    with pytest.raises(TypeError):
        Checker()(cert, 5)
    with pytest.raises(TypeError):
        Checker()("not a certificate", "localhost")
    with pytest.raises(ValueError):
        Checker()(cert, b"\xff")
    with pytest.raises(SSL.SSLVerificationError):
        Checker()(cert, "localhost\0.evil.example")
    with pytest.raises(TypeError):
        Checker(peerCertHash="AB", peerCertDigest=None)(cert)
    with pytest.raises(ValueError):
        Checker(peerCertHash="AB", peerCertDigest="no-such-digest")(cert)
    with pytest.raises(SSL.SSLVerificationError, match="expected = 2\nobserved = 64"):
        Checker(peerCertHash="AB")(cert)
    assert Checker(peerCertHash=cert.get_fingerprint("sha256").lower())(cert, "localhost")


def test_set_bio_with_memory_buffers_then_free(pki):
    c = SSL.Connection(pki.server_ctx())
    rbio, wbio = BIO.MemoryBuffer(), BIO.MemoryBuffer()
    c.set_bio(rbio, wbio)
    c.set_accept_state()
    rbio.write(b"\x16\x03\x01\x00\x40\x01\x00")  # a ClientHello cut short: memory BIOs wait for more
    assert c.accept_ssl() == 0
    c.free()
    c.free()
    rbio.write(b"still usable")  # the BIOs were the caller's: they outlive the SSL
    assert rbio.read().endswith(b"still usable")
    with socket.socket() as s:  # a closed socket gives a clean error, not a crash
        s.close()
        c2 = SSL.Connection(SSL.Context(), s)
        c2.setup_ssl()
        c2.set_connect_state()
        with pytest.raises(SSL.SSLError):
            c2.connect_ssl()
        c2.free()
