"""TLS 1.3 post-handshake client authentication, KeyUpdate and external PSKs (TLS 1.3 and 1.2).

In-memory M2Sec pairs first, then M2Sec against openssl s_server/s_client and gnutls-cli/serv
on loopback, then bad input: PSK callbacks that raise or answer nonsense, post-handshake
requests where TLS 1.3 or the client do not allow them.
"""

import gc
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from typing import Iterator, List, Optional

import pytest

from ssl_helpers import memory_handshake, pki, serve_once  # noqa: F401  (pki is a fixture)

from M2Sec import SSL, m2
from net_helpers import free_port  # noqa: E402,F401  (outside the ephemeral port range)

TIMEOUT = 10
PSK = bytes(range(1, 33))
PSK_HEX = PSK.hex()
IDENTITY = "m2sec-client"


# ---- helpers ------------------------------------------------------------------------------------
class Peer:
    """A peer process (openssl, gnutls) whose output (stdout and stderr) is collected by a
    thread; .send() writes to its stdin; .expect() waits for text in its output."""

    def __init__(self, cmd: List[str]) -> None:
        exe = shutil.which(cmd[0])
        if exe is None:
            pytest.fail("%s is needed for this test (see tests/system-packages.txt)" % cmd[0])
        self.proc = subprocess.Popen([exe, *cmd[1:]], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.output = b""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            with self._lock:
                self.output += chunk

    def send(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise AssertionError("the peer exited:\n%s" % self.output.decode(errors="replace")[-4000:]) from None

    def expect(self, text: bytes, timeout: float = TIMEOUT, after: int = 0) -> int:
        """Wait until text appears in the output past offset after; its end offset."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                i = self.output.find(text, after)
            if i >= 0:
                return i + len(text)
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError("%r not seen in the peer's output:\n%s" % (text, self.output.decode(errors="replace")[-4000:]))

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


@contextmanager
def peer(cmd: List[str]) -> Iterator[Peer]:
    p = Peer(cmd)
    try:
        yield p
    finally:
        p.stop()


@contextmanager
def s_server(*args: str) -> Iterator[Peer]:
    """openssl s_server on a free loopback port (one connection); p.port is its port."""
    port = free_port()
    with peer(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "1", *args]) as p:
        p.expect(b"ACCEPT")
        p.port = port  # type: ignore[attr-defined]
        yield p


def m2_client(ctx: SSL.Context, port: int) -> SSL.Connection:
    c = SSL.Connection(ctx)
    c.settimeout(TIMEOUT)
    c.connect(("127.0.0.1", port))
    return c


def m2_accept(ctx: SSL.Context, sock: socket.socket) -> SSL.Connection:
    conn = SSL.Connection(ctx, sock)
    conn.setup_ssl()
    conn.set_accept_state()
    conn.accept_ssl()
    return conn


def read_until(conn: SSL.Connection, text: bytes) -> bytes:
    data = b""
    while text not in data:
        chunk = conn.read(4096)
        if not chunk:
            break
        data += chunk
    assert text in data, data
    return data


def exchange(c: SSL.Connection, sent: bytes, expected: bytes, version: str) -> None:
    """Send sent, read until expected comes back, check the protocol version, close."""
    try:
        c.write(sent)
        read_until(c, expected)
        assert c.get_version() == version
    finally:
        c.close()


def transfer(a: SSL.SSLObject, b: SSL.SSLObject) -> None:
    b.receive_bytes(a.data_to_send())


def read_or_none(o: SSL.SSLObject) -> Optional[bytes]:
    try:
        return o.read()
    except SSL.SSLWantReadError:
        return None


def pha_contexts(pki, client_cert: bool = True, required: bool = True):
    """A server asking for client certificates only after the handshake, and a client offering
    post-handshake authentication."""
    sctx = pki.server_ctx()
    mode = SSL.verify_peer | (SSL.verify_fail_if_no_peer_cert if required else 0)
    sctx.set_verify(mode, 5)
    sctx.load_verify_locations(pki.path("root.pem"))
    sctx.post_handshake_auth = True
    cctx = pki.client_ctx()
    if client_cert:
        cctx.load_cert_chain(pki.chain("client"), pki.path("client.key"))
    cctx.set_post_handshake_auth(True)
    return sctx, cctx


def memory_pair(cctx: SSL.Context, sctx: SSL.Context, host: Optional[str] = "localhost"):
    c = SSL.SSLObject(cctx, server_hostname=host)
    s = SSL.SSLObject(sctx, server_side=True)
    memory_handshake(c, s)
    return c, s


# ---- post-handshake authentication ------------------------------------------------------------------
def test_pha_context_settings(pki):
    sctx, cctx = pha_contexts(pki)
    assert sctx.post_handshake_auth and cctx.post_handshake_auth
    assert sctx.get_verify_mode() & m2.SSL_VERIFY_POST_HANDSHAKE
    sctx.post_handshake_auth = False
    assert not sctx.get_verify_mode() & m2.SSL_VERIFY_POST_HANDSHAKE
    with pytest.raises(TypeError):
        cctx.set_post_handshake_auth(1)


def test_pha_memory_pair(pki):
    sctx, cctx = pha_contexts(pki)
    c, s = memory_pair(cctx, sctx)
    assert c.version() == "TLSv1.3"
    assert s.get_peer_cert() is None            # not asked for in the handshake
    c.write(b"before")
    transfer(c, s)
    assert s.read() == b"before"
    s.verify_client_post_handshake()
    s.write(b"who are you?")
    transfer(s, c)
    assert c.read() == b"who are you?"          # answers the CertificateRequest
    c.write(b"after")
    transfer(c, s)
    assert s.read() == b"after"
    cert = s.get_peer_cert()
    assert cert is not None and cert.get_subject().CN == "client"
    assert s.verify_ok()


def test_pha_m2crypto_style_verify_flag(pki):
    """M2Crypto's SSL.verify_post_handshake in set_verify() alone is enough on the server."""
    sctx = pki.server_ctx()
    sctx.set_verify(SSL.verify_peer | SSL.verify_post_handshake, 5)
    sctx.load_verify_locations(pki.path("root.pem"))
    _, cctx = pha_contexts(pki)
    c, s = memory_pair(cctx, sctx)
    assert s.get_peer_cert() is None
    s.verify_client_post_handshake()
    transfer(s, c)
    assert read_or_none(c) is None
    transfer(c, s)
    assert read_or_none(s) is None
    assert s.get_peer_cert().get_subject().CN == "client"


def test_pha_client_without_certificate_is_refused(pki):
    sctx, cctx = pha_contexts(pki, client_cert=False)
    c, s = memory_pair(cctx, sctx)
    s.verify_client_post_handshake()
    transfer(s, c)
    assert read_or_none(c) is None              # sends an empty Certificate
    transfer(c, s)
    with pytest.raises(SSL.SSLError, match="certificate"):
        s.read()
    transfer(s, c)
    with pytest.raises(SSL.SSLError, match="certificate required"):
        c.read()


def pha_client_cmd(peer_name: str, pki, host: str, port: int) -> List[str]:
    if peer_name == "openssl":
        return ["openssl", "s_client", "-connect", "%s:%d" % (host, port), "-enable_pha", "-tls1_3",
                "-cert", pki.path("client.pem"), "-key", pki.path("client.key"), "-cert_chain", pki.path("inter.pem"),
                "-CAfile", pki.path("root.pem")]
    return ["gnutls-cli", "-p", str(port), "--post-handshake-auth", "--x509cafile", pki.path("root.pem"),
            "--x509certfile", pki.chain("client"), "--x509keyfile", pki.path("client.key"), host]


@pytest.mark.parametrize("peer_name,ready", [("openssl", b"Verify return code: 0"),
                                             ("gnutls", b"Handshake was completed")])
def test_pha_socket_server_against_clients(pki, peer_name, ready):
    """An M2Sec Connection asks openssl s_client -enable_pha / gnutls-cli --post-handshake-auth
    for its certificate after the handshake."""
    sctx, _ = pha_contexts(pki)
    got = {}

    def serve(sock: socket.socket) -> None:
        conn = m2_accept(sctx, sock)
        got["before"] = conn.get_peer_cert()
        read_until(conn, b"hello")
        conn.verify_client_post_handshake()
        conn.write(b"send your certificate\n")
        read_until(conn, b"ping")
        got["after"] = conn.get_peer_cert()
        conn.write(b"thanks\n")
        conn.close()

    with serve_once(serve, TIMEOUT) as (host, port):
        with peer(pha_client_cmd(peer_name, pki, host, port)) as p:
            p.expect(ready)
            p.send(b"hello\n")
            p.expect(b"send your certificate")
            p.send(b"ping\n")
            p.expect(b"thanks")
    assert got["before"] is None
    assert got["after"].get_subject().CN == "client"


def test_pha_client_against_openssl_s_server(pki):
    """openssl s_server's `c` command asks the M2Sec client for its certificate."""
    _, cctx = pha_contexts(pki)
    with s_server("-cert", pki.path("server.pem"), "-key", pki.path("server.key"), "-cert_chain",
                  pki.path("inter.pem"), "-verifyCAfile", pki.path("root.pem"), "-msg") as p:
        c = m2_client(cctx, p.port)
        try:
            at = p.expect(b"CIPHER is")
            p.send(b"c\n")
            at = p.expect(b"CertificateRequest", after=at)
            p.send(b"request sent\n")
            assert read_until(c, b"request sent")  # the read answered the request
            at = p.expect(b"<<< TLS 1.3, Handshake", after=at)
            at = p.expect(b"Certificate", after=at)
            p.expect(b"CertificateVerify", after=at)
            c.write(b"still here\n")
            p.expect(b"still here")
        finally:
            c.close()


# ---- post-handshake authentication: bad use -----------------------------------------------------------
def test_pha_refused_on_tls12(pki):
    sctx, cctx = pha_contexts(pki)
    cctx.set_max_proto_version(SSL.TLSv1_2)
    c, s = memory_pair(cctx, sctx)
    with pytest.raises(SSL.SSLError, match="needs TLS 1.3 .*TLSv1.2"):
        s.verify_client_post_handshake()
    assert m2.err_peek_error() == 0


def test_pha_refused_when_client_did_not_offer_it(pki):
    sctx, cctx = pha_contexts(pki)
    cctx.post_handshake_auth = False
    c, s = memory_pair(cctx, sctx)
    with pytest.raises(SSL.SSLError, match="did not offer post-handshake authentication"):
        s.verify_client_post_handshake()
    assert m2.err_peek_error() == 0
    c.write(b"still fine")                      # the connection goes on
    transfer(c, s)
    assert s.read() == b"still fine"


def test_pha_refused_before_handshake_on_client_and_without_verify_peer(pki):
    sctx, cctx = pha_contexts(pki)
    s = SSL.SSLObject(sctx, server_side=True)
    with pytest.raises(SSL.SSLError, match="completed handshake"):
        s.verify_client_post_handshake()
    c, s = memory_pair(cctx, sctx)
    with pytest.raises(SSL.SSLError, match="only a server"):
        c.verify_client_post_handshake()
    plain = pki.server_ctx()
    c, s = memory_pair(cctx, plain)
    with pytest.raises(SSL.SSLError, match="verify_peer"):
        s.verify_client_post_handshake()
    assert m2.err_peek_error() == 0


# ---- KeyUpdate -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("request_peer", [False, True])
def test_key_update_memory_pair(pki, request_peer):
    c, s = memory_pair(pki.client_ctx(), pki.server_ctx())
    for i in range(3):
        c.write(b"before %d" % i)
        transfer(c, s)
        assert s.read() == b"before %d" % i
        c.key_update(request_peer=request_peer)
        assert m2.ssl_get_key_update_type(c.ssl) == m2.SSL_KEY_UPDATE_NONE  # sent at once
        c.write(b"after %d" % i)
        transfer(c, s)
        assert s.read() == b"after %d" % i
        s.write(b"answer %d" % i)                # with the server's own KeyUpdate if requested
        transfer(s, c)
        assert c.read() == b"answer %d" % i
        s.key_update(request_peer=not request_peer)
        s.write(b"server after %d" % i)
        transfer(s, c)
        assert c.read() == b"server after %d" % i
        c.write(b"ack")
        transfer(c, s)
        assert s.read() == b"ack"


def test_key_update_client_against_openssl_s_server(pki):
    with s_server("-cert", pki.path("server.pem"), "-key", pki.path("server.key"), "-cert_chain",
                  pki.path("inter.pem"), "-msg") as p:
        c = m2_client(pki.client_ctx(), p.port)
        try:
            c.write(b"one\n")
            at = p.expect(b"one")
            c.key_update(request_peer=True)
            at = p.expect(b"<<< TLS 1.3, Handshake [length 0005], KeyUpdate", after=at)
            c.write(b"two\n")
            at = p.expect(b"two", after=at)
            p.send(b"three\n")                  # s_server updates its keys, as asked, first
            at = p.expect(b">>> TLS 1.3, Handshake [length 0005], KeyUpdate", after=at)
            assert read_until(c, b"three")
            p.send(b"K\n")                      # s_server's own KeyUpdate, asking for ours
            at = p.expect(b"KeyUpdate", after=at)
            p.send(b"four\n")
            assert read_until(c, b"four")
            c.write(b"five\n")
            at = p.expect(b"<<< TLS 1.3, Handshake [length 0005], KeyUpdate", after=at)
            p.expect(b"five", after=at)
        finally:
            c.close()


def test_key_update_server_against_openssl_s_client(pki):
    got: List[bytes] = []

    def serve(sock: socket.socket) -> None:
        conn = m2_accept(pki.server_ctx(), sock)
        got.append(read_until(conn, b"one"))
        conn.key_update(request_peer=True)
        conn.write(b"two\n")
        got.append(read_until(conn, b"three"))
        conn.write(b"four\n")
        conn.close()

    with serve_once(serve, TIMEOUT) as (host, port):
        with peer(["openssl", "s_client", "-connect", "%s:%d" % (host, port), "-msg", "-tls1_3"]) as p:
            at = p.expect(b"CONNECTED")
            p.expect(b"Verify return code")
            p.send(b"one\n")
            at = p.expect(b"two", after=at)
            p.send(b"k\n")                      # s_client's KeyUpdate command
            at = p.expect(b"KEYUPDATE", after=at)
            p.send(b"three\n")
            at = p.expect(b"four", after=at)
            out = p.output
    assert b"<<< TLS 1.3, Handshake [length 0005], KeyUpdate" in out    # ours
    assert b">>> TLS 1.3, Handshake [length 0005], KeyUpdate" in out    # s_client's (answer and own, in one)
    assert len(got) == 2


def test_key_update_bad_use(pki):
    c = SSL.SSLObject(pki.client_ctx(), server_hostname="localhost")
    with pytest.raises(SSL.SSLError, match="KeyUpdate needs a completed handshake"):
        c.key_update()
    conn = SSL.Connection(pki.client_ctx())
    try:
        with pytest.raises(SSL.SSLError, match="KeyUpdate needs a completed handshake"):
            conn.key_update(request_peer=True)
    finally:
        conn.free()
    cctx = pki.client_ctx()
    cctx.set_max_proto_version(SSL.TLSv1_2)
    c, s = memory_pair(cctx, pki.server_ctx())
    with pytest.raises(SSL.SSLError, match="KeyUpdate needs TLS 1.3"):
        s.key_update()
    with pytest.raises(ValueError):
        m2.ssl_key_update(c.ssl, 7)
    assert m2.err_peek_error() == 0


# ---- external PSK ------------------------------------------------------------------------------------------
def psk_contexts(max_version: int, hint: Optional[str] = "m2sec hint"):
    """A client and a certificate-less server sharing PSK under IDENTITY; what the callbacks saw."""
    seen = {"hints": [], "identities": []}

    def client_cb(h):
        seen["hints"].append(h)
        return IDENTITY, PSK

    def server_cb(identity):
        seen["identities"].append(identity)
        return PSK if identity == IDENTITY else b""

    cctx = SSL.Context("tls_client")
    cctx.set_max_proto_version(max_version)
    cctx.set_psk_client_callback(client_cb)
    sctx = SSL.Context("tls_server")
    sctx.set_psk_server_callback(server_cb, hint)
    return cctx, sctx, seen


@pytest.mark.parametrize("version", [SSL.TLSv1_3, SSL.TLSv1_2])
def test_psk_memory_pair(version):
    cctx, sctx, seen = psk_contexts(version)
    c, s = memory_pair(cctx, sctx, host=None)
    assert c.get_protocol_version() == version
    c.write(b"over a PSK")
    transfer(c, s)
    assert s.read() == b"over a PSK"
    assert c.get_peer_cert() is None
    assert seen["identities"] == [IDENTITY]
    if version == SSL.TLSv1_3:
        assert seen["hints"] == [None]          # TLS 1.3 has no identity hint
        assert c.cipher()[0].endswith("SHA256")
    else:
        assert seen["hints"][-1] == "m2sec hint"
        assert "PSK" in c.cipher()[0]
        assert s.get_psk_identity() == IDENTITY


def test_psk_sha384():
    """A TLS 1.3 PSK for SHA-384 suites: the callbacks name the hash."""
    cctx, sctx, seen = psk_contexts(SSL.TLSv1_3)
    cctx.set_psk_client_callback(lambda hint: (IDENTITY, PSK, "sha384"))
    sctx.set_psk_server_callback(lambda identity: (PSK, "sha384") if identity == IDENTITY else b"")
    cctx.set_ciphersuites("TLS_AES_256_GCM_SHA384")   # a certificate-less server prefers SHA-256 suites
    c, s = memory_pair(cctx, sctx, host=None)
    assert c.cipher()[0] == "TLS_AES_256_GCM_SHA384"
    c.write(b"sha384")
    transfer(c, s)
    assert s.read() == b"sha384"
    sctx.set_psk_server_callback(lambda identity: PSK)   # the same key for SHA-256: not this PSK
    client_error, server_error = run_failing_pair(cctx, sctx)
    assert isinstance(server_error, SSL.SSLError) and isinstance(client_error, SSL.SSLError)
    assert m2.err_peek_error() == 0


def test_psk_callbacks_are_kept_alive():
    cctx, sctx, seen = psk_contexts(SSL.TLSv1_3)
    del seen
    gc.collect()
    c, s = memory_pair(cctx, sctx, host=None)
    assert c.version() == "TLSv1.3"


@pytest.mark.parametrize("flag", ["-tls1_3", "-tls1_2"])
def test_psk_client_against_openssl_s_server(flag):
    cctx, _, _ = psk_contexts(SSL.TLSv1_3 if flag == "-tls1_3" else SSL.TLSv1_2)
    with s_server("-nocert", "-psk", PSK_HEX, "-psk_identity", IDENTITY, flag, "-rev") as p:
        exchange(m2_client(cctx, p.port), b"olleh\n", b"hello", "TLSv1.3" if flag == "-tls1_3" else "TLSv1.2")


GNUTLS_PSK = {"tls1_3": "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+DHE-PSK:+PSK",
              "tls1_2": "NORMAL:-VERS-ALL:+VERS-TLS1.2:+ECDHE-PSK:+DHE-PSK:+PSK"}
PSK_CLIENTS = {
    "openssl-tls1_3": (["openssl", "s_client", "-tls1_3", "-psk", PSK_HEX, "-psk_identity", IDENTITY, "-connect"],
                       b"Cipher is", "TLSv1.3"),
    "openssl-tls1_2": (["openssl", "s_client", "-tls1_2", "-psk", PSK_HEX, "-psk_identity", IDENTITY, "-connect"],
                       b"Cipher is", "TLSv1.2"),
    # gnutls-cli 3.7.9 itself crashes (SIGSEGV) after a TLS 1.2 PSK handshake, even against
    # gnutls-serv: TLS 1.2 PSK is tested against gnutls-serv and openssl s_client instead.
    "gnutls-tls1_3": (["gnutls-cli", "--priority", GNUTLS_PSK["tls1_3"], "--pskusername", IDENTITY,
                       "--pskkey", PSK_HEX], b"Handshake was completed", "TLSv1.3"),
}


@pytest.mark.parametrize("client", sorted(PSK_CLIENTS))
def test_psk_server_against_clients(client):
    cmd, ready, version = PSK_CLIENTS[client]
    _, sctx, seen = psk_contexts(SSL.TLSv1_3)
    got = []

    def serve(sock: socket.socket) -> None:
        conn = m2_accept(sctx, sock)
        got.append((conn.get_version(), read_until(conn, b"ping")))
        conn.write(b"pong\n")
        conn.close()

    with serve_once(serve, TIMEOUT) as (host, port):
        where = ["%s:%d" % (host, port)] if cmd[0] == "openssl" else ["-p", str(port), host]
        with peer(cmd + where) as p:
            p.expect(ready)
            p.send(b"ping\n")
            p.expect(b"pong")
    assert got == [(version, b"ping\n")]
    assert IDENTITY in seen["identities"]


@pytest.mark.parametrize("version", ["tls1_3", "tls1_2"])
def test_psk_client_against_gnutls_serv(tmp_path, version):
    cctx, _, _ = psk_contexts(SSL.TLSv1_3 if version == "tls1_3" else SSL.TLSv1_2)
    passwd = tmp_path / "psk.passwd"
    passwd.write_text("%s:%s\n" % (IDENTITY, PSK_HEX))
    port = free_port()
    with peer(["gnutls-serv", "-p", str(port), "--echo", "--priority", GNUTLS_PSK[version],
               "--pskpasswd", str(passwd)]) as p:
        p.expect(b"listening")
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                c = m2_client(cctx, port)
                break
            except (OSError, SSL.SSLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        exchange(c, b"echo me\n", b"echo me", "TLSv1.3" if version == "tls1_3" else "TLSv1.2")


# ---- external PSK: bad callbacks ----------------------------------------------------------------------------
class Boom(Exception):
    pass


def _raise(*args):
    raise Boom("the application's PSK lookup failed")


def run_failing_pair(cctx: SSL.Context, sctx: SSL.Context):
    """A handshake that must fail: (client's exception, server's exception or None)."""
    c = SSL.SSLObject(cctx)
    s = SSL.SSLObject(sctx, server_side=True)
    errors = {}
    for _ in range(6):
        for name, a, b in (("client", c, s), ("server", s, c)):
            if name in errors:
                continue
            try:
                a.do_handshake()
            except SSL.SSLWantReadError:
                pass
            except Exception as exc:
                errors[name] = exc
            b.receive_bytes(a.data_to_send())
    assert not (c.handshake_done and s.handshake_done)
    return errors.get("client"), errors.get("server")


BAD_ANSWERS = [
    ("client", _raise, Boom),
    ("client", lambda hint: 42, TypeError),
    ("client", lambda hint: (IDENTITY,), TypeError),
    ("client", lambda hint: (IDENTITY, "not bytes"), TypeError),
    ("client", lambda hint: (42, PSK), TypeError),
    ("client", lambda hint: ("x" * 300, PSK), ValueError),
    ("client", lambda hint: ("a\0b", PSK), ValueError),
    ("client", lambda hint: (IDENTITY, b"k" * 600), ValueError),
    ("client", lambda hint: (IDENTITY, PSK, "md5"), ValueError),
    ("client", lambda hint: (IDENTITY, PSK, 384), TypeError),
    ("client", lambda hint: (IDENTITY, PSK, "sha256", "extra"), TypeError),
    ("server", _raise, Boom),
    ("server", lambda identity: 42, TypeError),
    ("server", lambda identity: "text", TypeError),
    ("server", lambda identity: b"k" * 600, ValueError),
    ("server", lambda identity: (PSK,), TypeError),
    ("server", lambda identity: (PSK, "sha512"), ValueError),
]
# what the peer of the side whose callback failed reports: the alert OpenSSL sent (in TLS 1.3 a
# client fails before its ClientHello: the server sees an internal_error alert in its place)
PEER_SEES = {("client", SSL.TLSv1_2): "handshake failure", ("client", SSL.TLSv1_3): "unexpected message",
             ("server", SSL.TLSv1_2): "internal error", ("server", SSL.TLSv1_3): "internal error"}


@pytest.mark.parametrize("version", [SSL.TLSv1_3, SSL.TLSv1_2])
@pytest.mark.parametrize("side,callback,exc", BAD_ANSWERS)
def test_psk_bad_callback(version, side, callback, exc):
    """The callback's exception reaches the handshake call of its side; the peer gets an alert."""
    cctx, sctx, _ = psk_contexts(version)
    if side == "client":
        cctx.set_psk_client_callback(callback)
    else:
        sctx.set_psk_server_callback(callback)
    errors = dict(zip(("client", "server"), run_failing_pair(cctx, sctx)))
    assert isinstance(errors[side], exc), errors[side]
    other = errors["server" if side == "client" else "client"]
    assert isinstance(other, SSL.SSLError) and PEER_SEES[side, version] in str(other), other
    assert m2.err_peek_error() == 0


def test_psk_failing_tls13_client_sends_internal_error():
    cctx, _, _ = psk_contexts(SSL.TLSv1_3)
    cctx.set_psk_client_callback(_raise)
    c = SSL.SSLObject(cctx)
    with pytest.raises(Boom):
        c.do_handshake()
    assert c.data_to_send() == bytes.fromhex("15030100020250")   # a fatal internal_error alert, nothing else


def test_psk_unknown_identity():
    cctx, sctx, _ = psk_contexts(SSL.TLSv1_2)
    cctx.set_psk_client_callback(lambda hint: ("stranger", PSK))
    client_error, server_error = run_failing_pair(cctx, sctx)
    assert "unknown psk identity" in str(client_error)
    cctx, sctx, _ = psk_contexts(SSL.TLSv1_3)  # TLS 1.3 ignores the PSK: no certificate, no handshake
    cctx.set_psk_client_callback(lambda hint: ("stranger", PSK))
    client_error, server_error = run_failing_pair(cctx, sctx)
    assert isinstance(server_error, SSL.SSLError)
    assert m2.err_peek_error() == 0


def test_psk_wrong_key_fails():
    cctx, sctx, _ = psk_contexts(SSL.TLSv1_3)
    cctx.set_psk_client_callback(lambda hint: (IDENTITY, b"another key"))
    client_error, server_error = run_failing_pair(cctx, sctx)
    assert isinstance(server_error, SSL.SSLError) and isinstance(client_error, SSL.SSLError)
    assert m2.err_peek_error() == 0


def test_psk_setters_check_their_arguments():
    with pytest.raises(TypeError):
        SSL.Context().set_psk_client_callback("not callable")
    with pytest.raises(TypeError):
        SSL.Context().set_psk_server_callback(42)
    with pytest.raises(ValueError):
        SSL.Context("tls_server").set_psk_client_callback(lambda h: (IDENTITY, PSK))
    with pytest.raises(ValueError):
        SSL.Context("tls_client").set_psk_server_callback(lambda i: PSK)
    with pytest.raises(ValueError):
        SSL.Context().set_psk_server_callback(lambda i: PSK, "h" * 300)
    with pytest.raises(TypeError):
        SSL.Context().set_psk_server_callback(lambda i: PSK, b"bytes hint")
    ctx = SSL.Context()
    ctx.set_psk_client_callback(None)            # turning off what was never on is fine
    ctx.set_psk_server_callback(None)


# ---- memory ----------------------------------------------------------------------------------------------
def test_psk_pha_and_key_update_keep_memory_flat(pki, rss):
    """Good and failing PSK handshakes (both hashes), post-handshake requests and KeyUpdates
    leave no memory behind (keys, sessions, kept identities, exceptions)."""
    psk = psk_contexts(SSL.TLSv1_3)[:2]
    psk384 = psk_contexts(SSL.TLSv1_3)[:2]
    psk384[0].set_psk_client_callback(lambda hint: (IDENTITY, PSK, "sha384"))
    psk384[0].set_ciphersuites("TLS_AES_256_GCM_SHA384")
    psk384[1].set_psk_server_callback(lambda identity: (PSK, "sha384"))
    failing = psk_contexts(SSL.TLSv1_2)[:2]
    failing[0].set_psk_client_callback(_raise)
    sctx, cctx = pha_contexts(pki)

    def rounds(n):
        for i in range(n):
            for cc, sc in (psk, psk384):
                c, s = memory_pair(cc, sc, host=None)
                c.key_update(request_peer=True)
                c.write(b"x")
                transfer(c, s)
                assert s.read() == b"x"
            run_failing_pair(*failing)
            if i % 10 == 0:
                c, s = memory_pair(cctx, sctx)
                s.verify_client_post_handshake()
                transfer(s, c)
                read_or_none(c)
                transfer(c, s)
                read_or_none(s)
                assert s.get_peer_cert() is not None

    rounds(100)
    gc.collect()
    mem0 = rss()
    rounds(500)
    gc.collect()
    grown = rss() - mem0
    assert grown < 4 << 20, "%d bytes more after 500 rounds" % grown
