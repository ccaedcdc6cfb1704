"""mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex, OpenSSH 10's default): offered
first where OpenSSL has ML-KEM (3.5) and never otherwise; negotiated with asyncssh (whose ML-KEM
comes from the cryptography package's OpenSSL) in both directions, each side restricted to the
hybrid so that nothing else can be chosen.  M2Sec with M2Sec runs in test_server_m2sec.py's
test_kex, which covers every registered method."""

import asyncio

import pytest

import M2Sec.SSH as SSH
from M2Sec import m2
from M2Sec.SSH import crypto, kex
from M2Sec.SSH.errors import KeyExchangeFailed

HYBRID = b"mlkem768x25519-sha256"
pytestmark = pytest.mark.timeout(60)
needs_pq = pytest.mark.skipif(not m2.HAS_ML_KEM, reason="OpenSSL %s has no ML-KEM (3.5 has: make test-wheel)"
                              % m2.OPENSSL_VERSION_TEXT.split()[1])


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 50))


def test_offered_exactly_when_openssl_has_ml_kem():
    assert (HYBRID in kex.SUPPORTED_KEX) == bool(m2.HAS_ML_KEM)
    if m2.HAS_ML_KEM:
        assert kex.DEFAULT_KEX[0] == HYBRID
    else:
        assert kex.DEFAULT_KEX[0] == b"curve25519-sha256"


@needs_pq
def test_hybrid_bad_input():
    with pytest.raises(KeyExchangeFailed, match="not 1216"):
        crypto.MLKEM768X25519.server_reply(b"\0" * 1215)
    with pytest.raises(KeyExchangeFailed, match="ML-KEM-768 key is invalid"):
        crypto.MLKEM768X25519.server_reply(b"\xff" * 1216)  # coefficients past q: FIPS 203's modulus check
    client = crypto.MLKEM768X25519()
    s_reply, secret = crypto.MLKEM768X25519.server_reply(client.public)
    assert client.shared(s_reply) == secret and len(secret) == 64
    with pytest.raises(KeyExchangeFailed, match="not 1120"):
        client.shared(s_reply[:-1])
    with pytest.raises(KeyExchangeFailed, match="X25519"):  # a low-order point: refused by OpenSSL or by M2Sec
        client.shared(s_reply[:1088] + b"\0" * 32)


def _asyncssh():
    asyncssh = pytest.importorskip("asyncssh", reason="asyncssh is in tests/requirements.txt")
    from asyncssh.crypto import mlkem_available
    assert mlkem_available, "asyncssh has no ML-KEM: its cryptography package lacks it"
    return asyncssh


@needs_pq
def test_m2sec_client_to_asyncssh_server():
    asyncssh = _asyncssh()

    class NoAuth(asyncssh.SSHServer):
        def begin_auth(self, username):
            return False

    async def main():
        def handler(process):
            process.stdout.write("hello %s\n" % process.command)
            process.exit(0)
        server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
                                       server_factory=NoAuth, process_factory=handler, kex_algs=[HYBRID.decode()])
        port = server.sockets[0].getsockname()[1]
        try:
            async with SSH.connect("127.0.0.1", port, username="u", known_hosts=None, connect_timeout=20) as conn:
                result = await conn.run("pq")
                return conn.negotiated["kex"], result.stdout
        finally:
            server.close()
            await server.wait_closed()

    kex_name, out = run(main())
    assert (kex_name, out) == (HYBRID, b"hello pq\n")


@needs_pq
def test_asyncssh_client_to_m2sec_server(tmp_path):
    asyncssh = _asyncssh()
    user_key = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "authorized_keys").write_bytes(user_key.export_public_key())
    host_key = SSH.generate_private_key("ssh-ed25519")
    host_key.save_private(str(tmp_path / "host"))
    seen = []

    async def main():
        def handler(process):
            seen.append(process.get_extra_info("connection").negotiated["kex"])
            process.stdout.write(b"hello\n")
            return 0
        server = await SSH.listen("127.0.0.1", 0, server_host_keys=[str(tmp_path / "host")],
                                  authorized_client_keys=str(tmp_path / "authorized_keys"), process_factory=handler)
        try:
            async with asyncssh.connect("127.0.0.1", server.get_port(), username="u", client_keys=[user_key],
                                        known_hosts=None, kex_algs=[HYBRID.decode()]) as conn:
                return (await conn.run("x", check=True)).stdout
        finally:
            server.close()
            await server.wait_closed()

    assert run(main()) == "hello\n"
    assert seen == [HYBRID]
